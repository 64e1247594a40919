/*
 * presets.c - provider presets (data/providers.ini): the server, port,
 * security and sign-in of a mail domain
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/file.h>
#include <docmail/i18n.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/tmpl.h>

#include "profile-int.h"
/* --- provider presets ------------------------------------------------ */

struct preset_ctx {
	const char		*domain;
	struct dm_preset	*out;
	int			 found;
};

static int
preset_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct preset_ctx *c = arg;
	struct dm_preset *p = c->out;
	long long v;

	if (strcasecmp(section, c->domain) != 0)
		return 1;
	c->found = 1;
	if (strcmp(name, "host") == 0)
		dm_strlcpy(p->host, value, sizeof p->host);
	else if (strcmp(name, "port") == 0 &&
	    dm_strtonum(value, 1, 65535, &v) == 0)
		p->port = (int)v;
	else if (strcmp(name, "security") == 0)
		(void)dm_security_parse(value, &p->security);
	else if (strcmp(name, "auth") == 0)
		(void)dm_auth_parse(value, &p->auth);
	else if (strcmp(name, "oauth2_provider") == 0)
		dm_strlcpy(p->oauth2_provider, value,
		    sizeof p->oauth2_provider);
	else if (strcmp(name, "note") == 0)
		dm_strlcpy(p->note, value, sizeof p->note);
	else if (strcmp(name, "max_per_minute") == 0 &&
	    dm_strtonum(value, 0, DM_MAX_PER_MINUTE_MAX, &v) == 0)
		p->max_per_minute = (int)v;
	return 1;
}

int
dm_preset_find(const char *path, const char *domain, struct dm_preset *out,
    struct dm_err *err)
{
	struct preset_ctx c = { domain, out, 0 };
	const char *dot;
	int r;

	if (domain == NULL || domain[0] == '\0')
		return 0;
	/*
	 * Parent domains too: Microsoft 365 tenants send from
	 * NAME.onmicrosoft.com, and one section covers them all.  A
	 * top-level name alone ("com") is never a provider.
	 */
	for (; domain != NULL && strchr(domain, '.') != NULL;
	    domain = (dot = strchr(domain, '.')) != NULL ? dot + 1 : NULL) {
		memset(out, 0, sizeof *out);
		out->security = DM_SEC_STARTTLS;
		c.domain = domain;
		c.found = 0;
		r = ini_parse(path, preset_handler, &c);
		if (r == -1)
			return dm_err_set(err, DM_ECONFIG,
			    _("cannot read the provider list '%s'"),
			    DM_ERR_PATH(path));
		if (r != 0)
			return dm_err_set(err, DM_ECONFIG,
			    _("%s:%d: syntax error"), DM_ERR_PATH(path), r);
		if (c.found && out->host[0] != '\0')
			return 1;
	}
	memset(out, 0, sizeof *out);
	out->security = DM_SEC_STARTTLS;
	return 0;
}
