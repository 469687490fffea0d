/* config.h: the activation configuration (activate.conf and module arguments). */
#ifndef ACTIVATE_CONFIG_H
#define ACTIVATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CONFIG_PATH_MAX 4096
#define CONFIG_TEXT_MAX 256
#define CONFIG_LINE_MAX 4096
#define CONFIG_ERROR_MAX 512
#define CONFIG_DN_MAX 1024

#ifndef ACTIVATE_CONF
#define ACTIVATE_CONF "/etc/security/activate.conf"
#endif

#define CONFIG_DEFAULT_SUPPORT "Contact the IT help desk if you need help."

enum config_on_success { CONFIG_ON_SUCCESS_DENY, CONFIG_ON_SUCCESS_LOGIN };
enum config_hash_cost { CONFIG_COST_MIN, CONFIG_COST_INTERACTIVE, CONFIG_COST_MODERATE };
enum config_messages { CONFIG_MESSAGES_EACH, CONFIG_MESSAGES_JOINED };
enum config_accounts { CONFIG_ACCOUNTS_FILES, CONFIG_ACCOUNTS_LDAP };

struct config {
	char trigger_user[CONFIG_TEXT_MAX];
	char language[CONFIG_TEXT_MAX];	/* empty: the caller's */
	char database[CONFIG_PATH_MAX];	/* a path, sqlite:PATH, or a postgresql:// URL */
	char database_password_file[CONFIG_PATH_MAX];
	char database_ca_file[CONFIG_PATH_MAX];
	unsigned database_timeout;
	char pepper_file[CONFIG_PATH_MAX];
	char sysroot[CONFIG_PATH_MAX];
	char run_dir[CONFIG_PATH_MAX];
	int on_success;
	unsigned max_tries;
	unsigned max_attempts;
	unsigned lock_time;
	unsigned lock_time_max;
	unsigned max_total_failures;
	unsigned throttle_failures;
	unsigned throttle_window;
	char throttle_networks[CONFIG_LINE_MAX];	/* NET/BITS=LIMIT|none, ...: lab and NAT networks */
	unsigned pin_length;
	unsigned pin_ttl_days;
	int pin_hash_cost;
	unsigned max_concurrent_hashes;
	unsigned reply_timeout;
	unsigned dialogue_timeout;
	unsigned id_number_max_length;
	unsigned student_number_max_length;
	char username_format[CONFIG_TEXT_MAX];
	unsigned username_max_length;
	char reserved_usernames[CONFIG_PATH_MAX];
	char terms_file[CONFIG_PATH_MAX];
	char pwquality_conf[CONFIG_PATH_MAX];
	char password_allowed_chars[CONFIG_TEXT_MAX];
	char email_format[CONFIG_TEXT_MAX];
	char home_base[CONFIG_PATH_MAX];
	unsigned home_mode;
	char skel[CONFIG_PATH_MAX];
	char shell[CONFIG_PATH_MAX];
	char groups[CONFIG_TEXT_MAX];
	char crypt_method[CONFIG_TEXT_MAX];
	unsigned suggestions;
	unsigned text_width;
	int messages;			/* each, or joined: one before each prompt */
	char support_contact[CONFIG_TEXT_MAX];
	char sendmail[CONFIG_PATH_MAX];		/* issue --mail: the MTA's sendmail interface */
	char mail_from[CONFIG_TEXT_MAX];	/* the letters' From:, empty: the MTA's default */
	char mail_language[CONFIG_TEXT_MAX];	/* a letter's language when the roster gives none */
	char pin_letter[CONFIG_PATH_MAX];	/* the letter template, %l the language */
	char hook[CONFIG_PATH_MAX];
	int accounts;			/* files, or ldap */
	char ldap_uri[CONFIG_DN_MAX];	/* ldap://, ldaps:// or ldapi://; several separated by spaces */
	char ldap_people_base[CONFIG_DN_MAX];
	char ldap_groups_base[CONFIG_DN_MAX];
	char ldap_id_allocator[CONFIG_DN_MAX];	/* empty: cn=pam_activate-next-id,ldap_people_base */
	char ldap_bind_dn[CONFIG_DN_MAX];	/* empty: bind as whoever the URI makes us (ldapi: EXTERNAL) */
	char ldap_bind_password_file[CONFIG_PATH_MAX];
	char ldap_ca_file[CONFIG_PATH_MAX];	/* empty: the system's CAs */
	bool ldap_starttls;		/* ldap://: StartTLS first (ldaps:// is TLS, ldapi:// a local socket) */
	unsigned ldap_timeout;		/* seconds: connect, and each operation */
	bool ldap_local_home;		/* the helper makes the home under sysroot, as with files */
	bool debug;
};

/* Fill *cfg with the compiled-in defaults. */
void config_defaults(struct config *cfg);

/*
 * Read a configuration file over *cfg. On error *cfg is unchanged and err
 * holds "FILE:LINE: message". A missing file is -ENOENT (callers decide
 * whether that is fatal: activatectl init runs before there is one).
 */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/*
 * Apply KEY=VALUE arguments (module arguments, or activatectl --set) over
 * *cfg; "debug" alone means debug=yes. All or nothing, like config_load_file.
 */
int config_apply_args(struct config *cfg, int argc, const char *const *argv,
		      char *err, size_t errlen);

/* Set one key from text; err names the key on failure. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/*
 * 0, or -EINVAL and why in err: on_success=login for a PAM service that
 * ignores a changed PAM_USER (the session would start as the trigger user).
 */
int config_check_service(const struct config *cfg, const char *service, char *err, size_t errlen);

/* Name of a hash cost or on_success value, for show/check output. */
const char *config_cost_name(int cost);
const char *config_on_success_name(int on_success);
const char *config_messages_name(int messages);
const char *config_accounts_name(int accounts);

#endif
