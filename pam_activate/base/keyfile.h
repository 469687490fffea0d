/*
 * keyfile.h: a secret file (the pepper, the LDAP bind password) used only if it is
 * root's and no one else's: a regular file, not a symbolic link, owned by
 * root, without group or other access (0600 or 0400).
 */
#ifndef ACTIVATE_KEYFILE_H
#define ACTIVATE_KEYFILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Largest file read: a password, not a document. */
#define KEYFILE_MAX ((size_t)64 * 1024)

/* fd passes those checks (0, and *st filled), or -EPERM and why in err. */
int keyfile_check(int fd, const char *path, struct stat *st, char *err, size_t errlen);

/*
 * The file's contents without a final newline (or CRLF), in *text (len
 * bytes, NUL-terminated), to be given to keyfile_free. -EPERM: the owner
 * or mode is wrong; -EINVAL: empty, a NUL byte, or a second line; err says
 * which.
 */
int keyfile_read(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* Wipe and free what keyfile_read gave. */
void keyfile_free(char *text, size_t len);

#endif
