/* i18n.h: gettext for the words a person sees. */
#ifndef ACTIVATE_I18N_H
#define ACTIVATE_I18N_H

#include <libintl.h>

#define ACTIVATE_TEXTDOMAIN "pam_activate"
#define _(s) dgettext(ACTIVATE_TEXTDOMAIN, s)
#define N_(s) (s)

#endif
