/*
 * profile.c - a profile in memory: copy, release, its port, security
 * and authentication, its password, and the checks a save relies on
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
/*
 * Profiles in memory.
 */

void
dm_profile_init(struct dm_profile *p)
{
	memset(p, 0, sizeof *p);
	p->port = 0;
	p->security = DM_SEC_STARTTLS;
	dm_secret_init(&p->password);
	p->timeout = DM_TIMEOUT_DEFAULT;
	p->allow_from_override = 1;
}

int
dm_profile_copy(struct dm_profile *dst, const struct dm_profile *src,
    struct dm_err *err)
{
	char **const fields[] = {
		&dst->id, &dst->name, &dst->email, &dst->host, &dst->user,
		&dst->password_command, &dst->ca_file, &dst->tls_fingerprint,
		&dst->sent_maildir, &dst->documents_dir, &dst->oauth2_provider,
		&dst->oauth2_client_id, &dst->oauth2_client_secret,
		&dst->oauth2_tenant, &dst->oauth2_scope,
		&dst->oauth2_device_url, &dst->oauth2_auth_url,
		&dst->oauth2_token_url, &dst->oauth2_token_command,
	};
	size_t i;
	int fail = 0;

	*dst = *src;
	dm_secret_init(&dst->password);
	/* dst's pointers are src's for now: replace each by a copy. */
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (*fields[i] != NULL &&
		    (*fields[i] = strdup(*fields[i])) == NULL)
			fail = 1;
	if (!fail && dm_secret_isset(&src->password) &&
	    dm_secret_set(&dst->password, src->password.s, src->password.len,
	    err) == -1)
		fail = 1;
	if (fail) {
		/* Every field is a copy or NULL: the loop went on to the end. */
		dm_profile_release(dst);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	return 0;
}

void
dm_profile_release(struct dm_profile *p)
{
	free(p->id);
	free(p->name);
	free(p->email);
	free(p->host);
	free(p->user);
	dm_secret_release(&p->password);
	free(p->password_command);
	free(p->ca_file);
	free(p->tls_fingerprint);
	free(p->sent_maildir);
	free(p->documents_dir);
	free(p->oauth2_provider);
	free(p->oauth2_client_id);
	if (p->oauth2_client_secret != NULL)
		explicit_bzero(p->oauth2_client_secret,
		    strlen(p->oauth2_client_secret));
	free(p->oauth2_client_secret);
	free(p->oauth2_tenant);
	free(p->oauth2_scope);
	free(p->oauth2_device_url);
	free(p->oauth2_auth_url);
	free(p->oauth2_token_url);
	free(p->oauth2_token_command);
	dm_profile_init(p);
}

int
dm_profile_port(const struct dm_profile *p)
{
	if (p->port != 0)
		return p->port;
	switch (p->security) {
	case DM_SEC_SSL:
		return 465;
	case DM_SEC_NONE:
		return 25;
	case DM_SEC_STARTTLS:
		break;
	}
	return 587;
}

const char *
dm_security_name(enum dm_security sec)
{
	switch (sec) {
	case DM_SEC_SSL:
		return "ssl";
	case DM_SEC_NONE:
		return "none";
	case DM_SEC_STARTTLS:
		break;
	}
	return "starttls";
}

int
dm_security_parse(const char *s, enum dm_security *out)
{
	if (strcasecmp(s, "ssl") == 0)
		*out = DM_SEC_SSL;
	else if (strcasecmp(s, "starttls") == 0)
		*out = DM_SEC_STARTTLS;
	else if (strcasecmp(s, "none") == 0)
		*out = DM_SEC_NONE;
	else
		return -1;
	return 0;
}

enum dm_auth
dm_profile_auth(const struct dm_profile *p)
{
	if (p->auth != DM_AUTH_DEFAULT)
		return p->auth;
	return p->user != NULL && *p->user != '\0' ? DM_AUTH_PASSWORD :
	    DM_AUTH_NONE;
}

const char *
dm_auth_name(enum dm_auth a)
{
	switch (a) {
	case DM_AUTH_OAUTH2:
		return "oauth2";
	case DM_AUTH_NONE:
		return "none";
	default:
		break;
	}
	return "password";
}

int
dm_auth_parse(const char *s, enum dm_auth *out)
{
	if (strcasecmp(s, "password") == 0)
		*out = DM_AUTH_PASSWORD;
	else if (strcasecmp(s, "oauth2") == 0)
		*out = DM_AUTH_OAUTH2;
	else if (strcasecmp(s, "none") == 0)
		*out = DM_AUTH_NONE;
	else
		return -1;
	return 0;
}

int
dm_profile_password(const struct dm_profile *p, struct dm_secret *out,
    int *need_prompt, struct dm_err *err)
{
	*need_prompt = 0;
	/* Only an explicit "none": without user the callers never ask. */
	switch (p->auth) {
	case DM_AUTH_NONE:
		return 0;
	case DM_AUTH_OAUTH2:
		return 0;	/* a token, at AUTH: see dm_deliver_token() */
	default:
		break;
	}
	if (dm_secret_isset(&p->password))
		return dm_secret_set(out, p->password.s, p->password.len, err);
	if (p->password_command != NULL && p->password_command[0] != '\0')
		return dm_secret_from_command(out, p->password_command, err);
	*need_prompt = 1;
	return 0;
}

/*
 * Why inih would not read v back as "key = v", or NULL when it would.
 * *fix is what to do about it.
 */
const char *
pf_unstorable(const char *key, const char *v, size_t len, const char **fix,
    char *tmp, size_t tmpsize)
{
	size_t i;

	*fix = NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		/* A tab inside reads back (the loader takes it too). */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*fix = _("remove the line breaks and other control characters");
			return _("it holds a control character (such as a line break)");
		}
	}
	if (pf_is_ws((unsigned char)v[0])) {
		*fix = _("remove the space at the start");
		return _("it begins with a space");
	}
	if (pf_is_ws((unsigned char)v[len - 1])) {
		*fix = _("remove the space at the end");
		return _("it ends with a space");
	}
	/*
	 * "key = ;x" is an inline comment; "key = #x" is not ('#' starts a
	 * comment at the start of a line only) and the loader takes it.
	 */
	if (v[0] == ';') {
		*fix = _("the file would read it as a comment");
		return _("it begins with ';'");
	}
	for (i = 1; i < len; i++)
		if (v[i] == ';' && pf_is_ws((unsigned char)v[i - 1])) {
			*fix = _("the file would read the rest as a comment; remove the space before ';'");
			return _("it holds ' ;', which starts a comment");
		}
	if (strlen(key) + 3 + len > LINE_MAX_CHARS) {
		(void)snprintf(tmp, tmpsize, _("it is longer than %zu characters"),
		    LINE_MAX_CHARS - strlen(key) - 3);
		*fix = _("shorten it");
		return tmp;
	}
	return NULL;
}

static int
check_storable(const struct dm_profile *p, int k, const char *v,
    struct dm_err *err)
{
	const char *why, *fix;
	char tmp[80];
	size_t len;

	if (v == NULL || *v == '\0')
		return 0;
	len = k == K_PASSWORD ? p->password.len : strlen(v);
	if (k == K_PASSWORD && strlen(v) != len) {
		why = _("it holds a NUL byte");
		fix = NULL;
	} else if ((why = pf_unstorable(pkeys[k], v, len, &fix, tmp,
	    sizeof tmp)) == NULL)
		return 0;
	if (k == K_PASSWORD) {
		/* Never the value: this message may end up on a screen. */
		dm_err_set(err, DM_ECONFIG, _("cannot save the password of profile '%s': %s"),
		    p->id, why);
		return dm_err_hint(err, _("use password_command (e.g. 'pass show mail/anna') for such passwords"));
	}
	dm_err_set(err, DM_ECONFIG, _("cannot save '%s' of profile '%s': %s"),
	    pkeys[k], p->id, why);
	if (fix != NULL)
		dm_err_hint(err, "%s", fix);
	return -1;
}

int
dm_profile_validate(const struct dm_profile *p, struct dm_err *err)
{
	char fpr[FPR_LEN + 1];
	const char *v[NPKEYS];
	int k;

	if (p->id == NULL || !pf_id_valid(p->id, strlen(p->id))) {
		dm_err_set(err, DM_ECONFIG, _("invalid profile name '%s'"),
		    p->id != NULL ? p->id : "");
		return dm_err_hint(err, _("a name is up to %d letters, digits, '_', '-' and '.'"), ID_MAX);
	}
	if (p->host == NULL || *p->host == '\0') {
		dm_err_set(err, DM_ECONFIG, _("profile '%s' has no 'host'"), p->id);
		return dm_err_hint(err, _("enter the SMTP server's name, e.g. smtp.example.com"));
	}
	if (p->email == NULL || *p->email == '\0') {
		dm_err_set(err, DM_ECONFIG, _("profile '%s' has no 'email'"), p->id);
		return dm_err_hint(err, _("enter your email address, e.g. you@example.com"));
	}

	memset(v, 0, sizeof v);
	v[K_NAME] = p->name;
	v[K_EMAIL] = p->email;
	v[K_HOST] = p->host;
	v[K_USER] = p->user;
	v[K_PASSWORD] = p->password.s;
	v[K_PASSWORD_COMMAND] = p->password_command;
	v[K_CA_FILE] = p->ca_file;
	v[K_TLS_FINGERPRINT] = p->tls_fingerprint;
	v[K_SENT_MAILDIR] = p->sent_maildir;
	v[K_DOCUMENTS_DIR] = p->documents_dir;
	v[K_OAUTH2_PROVIDER] = p->oauth2_provider;
	v[K_OAUTH2_CLIENT_ID] = p->oauth2_client_id;
	v[K_OAUTH2_CLIENT_SECRET] = p->oauth2_client_secret;
	v[K_OAUTH2_TENANT] = p->oauth2_tenant;
	v[K_OAUTH2_SCOPE] = p->oauth2_scope;
	v[K_OAUTH2_DEVICE_URL] = p->oauth2_device_url;
	v[K_OAUTH2_AUTH_URL] = p->oauth2_auth_url;
	v[K_OAUTH2_TOKEN_URL] = p->oauth2_token_url;
	v[K_OAUTH2_TOKEN_COMMAND] = p->oauth2_token_command;
	for (k = 0; k < NPKEYS; k++)
		if (check_storable(p, k, v[k], err) == -1)
			return -1;

	if (!pf_email_ok(p->email)) {
		dm_err_set(err, DM_ECONFIG, _("invalid email '%s' in profile '%s'"),
		    p->email, p->id);
		return dm_err_hint(err, _("enter the bare address, e.g. anna@example.com; the display name goes into 'name'"));
	}
	if (!pf_host_ok(p->host)) {
		dm_err_set(err, DM_ECONFIG, _("invalid host '%s' in profile '%s'"),
		    p->host, p->id);
		return dm_err_hint(err, _("enter the server's name alone, e.g. smtp.example.com"));
	}
	if (p->port < 0 || p->port > 65535) {
		dm_err_set(err, DM_ECONFIG, _("invalid port %d in profile '%s'"),
		    p->port, p->id);
		return dm_err_hint(err, _("port is a number from 1 to 65535, usually 465 for ssl and 587 for starttls"));
	}
	if (p->timeout < 1 || p->timeout > 3600) {
		dm_err_set(err, DM_ECONFIG, _("invalid timeout %d in profile '%s'"),
		    p->timeout, p->id);
		return dm_err_hint(err, _("timeout is a number of seconds from 1 to 3600"));
	}
	if (p->max_per_minute < 0 ||
	    p->max_per_minute > DM_MAX_PER_MINUTE_MAX) {
		dm_err_set(err, DM_ECONFIG,
		    _("invalid max_per_minute %d in profile '%s'"),
		    p->max_per_minute, p->id);
		return dm_err_hint(err, _("max_per_minute is a number of messages a minute from 1 to %d, or 0 for no pacing"),
		    DM_MAX_PER_MINUTE_MAX);
	}
	if (p->security != DM_SEC_STARTTLS && p->security != DM_SEC_SSL &&
	    p->security != DM_SEC_NONE) {
		return dm_err_set(err, DM_EINTERNAL,
		    _("invalid security %d in profile '%s'"), (int)p->security,
		    p->id);
	}
	if (p->tls_fingerprint != NULL && *p->tls_fingerprint != '\0' &&
	    pf_fingerprint_norm(p->tls_fingerprint, fpr) == -1) {
		dm_err_set(err, DM_ECONFIG, _("invalid tls_fingerprint '%s' in profile '%s'"),
		    p->tls_fingerprint, p->id);
		return dm_err_hint(err, _("write 'sha256:' and 32 hex byte pairs separated by ':'"));
	}
	if (p->oauth2_provider != NULL && *p->oauth2_provider != '\0' &&
	    !pf_oauth2_provider_ok(p->oauth2_provider)) {
		dm_err_set(err, DM_ECONFIG, _("invalid oauth2_provider '%s' in profile '%s'"),
		    p->oauth2_provider, p->id);
		return dm_err_hint(err, _("microsoft, google or custom"));
	}
	for (k = K_OAUTH2_DEVICE_URL; k <= K_OAUTH2_TOKEN_URL; k++)
		if (v[k] != NULL && *v[k] != '\0' && !pf_oauth2_url_ok(v[k])) {
			dm_err_set(err, DM_ECONFIG, _("invalid %s '%s' in profile '%s'"),
			    pkeys[k], v[k], p->id);
			return dm_err_hint(err, _("write the identity provider's https:// address (http:// only to this machine)"));
		}
	return pf_auth_conflict(p, err);
}
