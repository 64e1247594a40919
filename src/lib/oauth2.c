/*
 * oauth2.c - OAuth2 configuration, presets and the pure parsers
 *
 * Everything here works on memory only: presets, the token response
 * (json-c), the redirect address, PKCE.  The network is oauth2-http.c,
 * the store oauth2-store.c, the flows oauth2-flow.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "oauth2-int.h"

#define MS_BASE		"https://login.microsoftonline.com/"
#define MS_SCOPE	"https://outlook.office.com/SMTP.Send offline_access"
#define MS_TENANT	"organizations"
#define GOOGLE_AUTH	"https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_TOKEN	"https://oauth2.googleapis.com/token"
#define GOOGLE_SCOPE	"https://mail.google.com/"
#define URL_MAX		2048
#define JSON_DEPTH	8

static const char *const provider_names[] = {
	[DM_OAUTH2_MICROSOFT] = "microsoft",
	[DM_OAUTH2_GOOGLE] = "google",
	[DM_OAUTH2_CUSTOM] = "custom"
};

int
dm_oauth2_provider_parse(const char *s, enum dm_oauth2_provider *out,
    struct dm_err *err)
{
	size_t i;

	for (i = 0; i < sizeof provider_names / sizeof provider_names[0]; i++)
		if (s != NULL && strcmp(s, provider_names[i]) == 0) {
			*out = (enum dm_oauth2_provider)i;
			return 0;
		}
	dm_err_set(err, DM_ECONFIG, _("unknown OAuth2 provider '%.64s'"),
	    s != NULL ? s : "");
	return dm_err_hint(err, _("oauth2_provider is microsoft, google or custom"));
}

const char *
dm_oauth2_provider_name(enum dm_oauth2_provider p)
{
	if ((size_t)p < sizeof provider_names / sizeof provider_names[0])
		return provider_names[p];
	return "unknown";
}

void
dm_oauth2_ep_release(struct dm_oauth2_ep *ep)
{
	free(ep->device_url);
	free(ep->auth_url);
	free(ep->token_url);
	free(ep->scope);
	memset(ep, 0, sizeof *ep);
}

/* 1 when url is https://HOST... with a non-empty host and no spaces. */
static int
https_url(const char *url)
{
	const char *h;
	size_t i;

	if (strncasecmp(url, "https://", 8) != 0)
		return 0;
	h = url + 8;
	if (*h == '\0' || *h == '/' || *h == ':' || *h == '?')
		return 0;
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return 0;
	return i <= URL_MAX;
}

/* *slot = (value != NULL ? value : preset), checked as a URL. */
static int
set_url(char **slot, const char *value, const char *preset,
    const char *key, struct dm_err *err)
{
	const char *v = value != NULL && *value != '\0' ? value : preset;

	if (v == NULL)
		return 0;
	if (!https_url(v)) {
		dm_err_set(err, DM_ECONFIG, _("%s must be an https:// address"), key);
		return dm_err_hint(err, _("the identity provider is only ever spoken to over HTTPS"));
	}
	if ((*slot = strdup(v)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return 0;
}

static int
no_client_id(const struct dm_oauth2_conf *conf, struct dm_err *err)
{
	dm_err_set(err, DM_ECONFIG, _("oauth2_client_id is not set"));
	switch (conf->provider) {
	case DM_OAUTH2_MICROSOFT:
		return dm_err_hint(err, _("a Microsoft Entra admin registers docmail once: Entra admin center > App registrations > New registration (any name, no redirect URI); Authentication > \"Allow public client flows\" = Yes; API permissions > Add > APIs my organization uses > Office 365 Exchange Online > Delegated > SMTP.Send (grant admin consent); put its Application (client) ID in oauth2_client_id"));
	case DM_OAUTH2_GOOGLE:
		return dm_err_hint(err, _("in Google Cloud console: APIs & Services > OAuth consent screen (set it up once), then Credentials > Create credentials > OAuth client ID > Application type \"Desktop app\"; put its client ID in oauth2_client_id and its secret in oauth2_client_secret"));
	case DM_OAUTH2_CUSTOM:
		break;
	}
	return dm_err_hint(err, _("register docmail as a public client with your identity provider and put its client id in oauth2_client_id; docmail ships no client id of its own"));
}

int
dm_oauth2_resolve(const struct dm_oauth2_conf *conf, struct dm_oauth2_ep *ep,
    struct dm_err *err)
{
	const char *tenant, *scope = NULL;
	char ms_dev[URL_MAX], ms_tok[URL_MAX];
	const char *pdev = NULL, *pauth = NULL, *ptok = NULL;
	size_t i;
	int n;

	memset(ep, 0, sizeof *ep);
	if (conf->client_id == NULL || conf->client_id[0] == '\0')
		return no_client_id(conf, err);
	switch (conf->provider) {
	case DM_OAUTH2_MICROSOFT:
		tenant = conf->tenant != NULL && conf->tenant[0] != '\0' ?
		    conf->tenant : MS_TENANT;
		/* The tenant goes into a path: an id, a domain, or a keyword. */
		for (i = 0; tenant[i] != '\0'; i++)
			if (!(tenant[i] >= 'a' && tenant[i] <= 'z') &&
			    !(tenant[i] >= 'A' && tenant[i] <= 'Z') &&
			    !(tenant[i] >= '0' && tenant[i] <= '9') &&
			    tenant[i] != '-' && tenant[i] != '.') {
				dm_err_set(err, DM_ECONFIG, _("oauth2_tenant is not a tenant id or domain"));
				return dm_err_hint(err, _("use the tenant's id (a GUID), its domain, or organizations"));
			}
		n = snprintf(ms_dev, sizeof ms_dev,
		    MS_BASE "%s/oauth2/v2.0/devicecode", tenant);
		if (n < 0 || (size_t)n >= sizeof ms_dev)
			return dm_err_set(err, DM_ECONFIG, _("oauth2_tenant is too long"));
		n = snprintf(ms_tok, sizeof ms_tok,
		    MS_BASE "%s/oauth2/v2.0/token", tenant);
		if (n < 0 || (size_t)n >= sizeof ms_tok)
			return dm_err_set(err, DM_ECONFIG, _("oauth2_tenant is too long"));
		pdev = ms_dev;
		ptok = ms_tok;
		scope = MS_SCOPE;
		break;
	case DM_OAUTH2_GOOGLE:
		pauth = GOOGLE_AUTH;
		ptok = GOOGLE_TOKEN;
		scope = GOOGLE_SCOPE;
		break;
	case DM_OAUTH2_CUSTOM:
		break;
	default:
		return dm_err_set(err, DM_ECONFIG, _("unknown OAuth2 provider"));
	}
	if (set_url(&ep->token_url, conf->token_url, ptok, "oauth2_token_url",
	    err) == -1)
		goto fail;
	if (ep->token_url == NULL) {
		dm_err_set(err, DM_ECONFIG, _("oauth2_token_url is not set"));
		dm_err_hint(err, _("oauth2_provider = custom needs oauth2_token_url and oauth2_device_url or oauth2_auth_url"));
		goto fail;
	}
	/* A device URL chooses the device flow; the preset decides else. */
	if (conf->device_url != NULL && conf->device_url[0] != '\0')
		pauth = NULL;
	else if (conf->auth_url != NULL && conf->auth_url[0] != '\0')
		pdev = NULL;
	if (set_url(&ep->device_url, conf->device_url, pdev,
	    "oauth2_device_url", err) == -1)
		goto fail;
	if (ep->device_url == NULL && set_url(&ep->auth_url, conf->auth_url,
	    pauth, "oauth2_auth_url", err) == -1)
		goto fail;
	if (ep->device_url == NULL && ep->auth_url == NULL) {
		dm_err_set(err, DM_ECONFIG, _("neither oauth2_device_url nor oauth2_auth_url is set"));
		dm_err_hint(err, _("oauth2_provider = custom needs oauth2_device_url (device flow) or oauth2_auth_url (browser sign-in)"));
		goto fail;
	}
	ep->flow = ep->device_url != NULL ? DM_OAUTH2_DEVICE :
	    DM_OAUTH2_AUTHCODE;
	if (conf->scope != NULL && conf->scope[0] != '\0')
		scope = conf->scope;
	if ((ep->scope = strdup(scope != NULL ? scope : "")) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto fail;
	}
	return 0;
fail:
	dm_oauth2_ep_release(ep);
	return -1;
}

/* --- secrets ---------------------------------------------------- */

void
dm_oauth2_secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
dm_oauth2_token_release(struct dm_oauth2_token *tok)
{
	dm_oauth2_secret_free(tok->access);
	dm_oauth2_secret_free(tok->refresh);
	memset(tok, 0, sizeof *tok);
}

/* --- JSON ------------------------------------------------------- */

int
oauth2_show(struct dm_buf *b, const char *s, size_t n, struct dm_err *err)
{
	struct dm_buf t;
	size_t k;
	int r = -1;

	/*
	 * Escapes make the text up to four times longer: cut the escaped
	 * text, at a character boundary, so that the message that quotes
	 * it stays within struct dm_err and valid UTF-8.
	 */
	dm_buf_init(&t, 0);
	if (dm_buf_add_printable(&t, s, n < OAUTH2_SHOW_MAX ? n :
	    OAUTH2_SHOW_MAX, err) == -1)
		goto out;
	k = t.len;
	if (k > OAUTH2_SHOW_MAX) {
		k = OAUTH2_SHOW_MAX;
		while (k > 0 && ((unsigned char)t.data[k] & 0xc0) == 0x80)
			k--;
	}
	if (dm_buf_add(b, dm_buf_str(&t), k, err) == -1 ||
	    (k < t.len || n > OAUTH2_SHOW_MAX ?
	    dm_buf_addstr(b, "...", err) : 0) == -1)
		goto out;
	r = 0;
out:
	dm_buf_release(&t);
	return r;
}

/* Wipes every string member of j: they may be tokens. */
static void
wipe_strings(struct json_object *j)
{
	struct json_object_iterator it, end;
	struct json_object *v;

	if (j == NULL || !json_object_is_type(j, json_type_object))
		return;
	it = json_object_iter_begin(j);
	end = json_object_iter_end(j);
	while (!json_object_iter_equal(&it, &end)) {
		v = json_object_iter_peek_value(&it);
		if (json_object_is_type(v, json_type_string))
			OPENSSL_cleanse((char *)json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
		json_object_iter_next(&it);
	}
}

void
oauth2_json_free(struct json_object *j)
{
	wipe_strings(j);
	json_object_put(j);
}

int
oauth2_json_parse(const char *body, size_t len, struct json_object **jp,
    struct dm_err *err)
{
	struct json_tokener *tok;
	struct json_object *j = NULL;
	enum json_tokener_error e;
	size_t end;

	*jp = NULL;
	if (len > DM_OAUTH2_BODY_MAX)
		return dm_err_set(err, DM_EPROTO, _("the identity provider's answer is too large (over %d bytes)"),
		    DM_OAUTH2_BODY_MAX);
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	j = json_tokener_parse_ex(tok, body, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* The tokener's own buffer held the last string: maybe a token. */
	if (tok->pb != NULL && tok->pb->buf != NULL)
		OPENSSL_cleanse(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
	if (j != NULL && e == json_tokener_success)
		while (end < len && (body[end] == ' ' || body[end] == '\t' ||
		    body[end] == '\r' || body[end] == '\n'))
			end++;
	if (j == NULL || e != json_tokener_success || end != len) {
		oauth2_json_free(j);
		if (len > 0 && body[0] == '<')
			return dm_err_set(err, DM_EPROTO, _("the identity provider answered with HTML, not JSON"));
		return dm_err_set(err, DM_EPROTO, _("the identity provider's answer is not JSON (%s)"),
		    e != json_tokener_success ?
		    json_tokener_error_desc(e) : _("data after the end"));
	}
	if (!json_object_is_type(j, json_type_object)) {
		oauth2_json_free(j);
		return dm_err_set(err, DM_EPROTO, _("the identity provider's answer is not a JSON object"));
	}
	*jp = j;
	return 0;
}

const char *
oauth2_json_str(struct json_object *j, const char *name, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

long long
oauth2_json_int(struct json_object *j, const char *name)
{
	struct json_object *v;
	long long n;
	const char *s;

	if (!json_object_object_get_ex(j, name, &v))
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		n = (long long)json_object_get_int64(v);
		return n < 0 ? -1 : n;
	}
	/* Some providers send numbers as strings. */
	if (json_object_is_type(v, json_type_string) &&
	    (s = json_object_get_string(v)) != NULL &&
	    dm_strtonum(s, 0, 100LL * 365 * 86400, &n) == 0)
		return n;
	return -1;
}

static const struct {
	const char		*name;
	enum dm_oauth2_oerr	 oerr;
	enum dm_errcode		 code;
	const char		*msg;
	const char		*hint;
} oerrs[] = {
	{ "authorization_pending", DM_OAUTH2_E_PENDING, DM_ETEMP,
	    N_("sign-in not finished yet"), "" },
	{ "slow_down", DM_OAUTH2_E_SLOW_DOWN, DM_ETEMP,
	    N_("the identity provider asks to poll more slowly"), "" },
	{ "access_denied", DM_OAUTH2_E_DENIED, DM_EAUTH,
	    N_("sign-in was denied"), N_("sign in again and accept: docmail login") },
	{ "expired_token", DM_OAUTH2_E_EXPIRED, DM_EAUTH,
	    N_("the sign-in code expired"), N_("sign in again, a little faster: docmail login") },
	{ "invalid_grant", DM_OAUTH2_E_INVALID_GRANT, DM_EAUTH,
	    N_("the sign-in is no longer valid"), N_("sign in again: docmail login (the sign-in was revoked, unused too long, or the password changed)") },
};

int
oauth2_error(struct json_object *j, enum dm_oauth2_oerr *oerr,
    struct dm_err *err)
{
	const char *e, *d;
	size_t elen = 0, dlen = 0, i;
	struct dm_buf b;
	struct dm_err tmp;
	enum dm_errcode code = DM_EAUTH;
	const char *msg = _("the identity provider refused"), *hint =
	    _("check oauth2_client_id, oauth2_tenant and oauth2_scope, then sign in again: docmail login");

	e = oauth2_json_str(j, "error", &elen);
	d = oauth2_json_str(j, "error_description", &dlen);
	if (oerr != NULL)
		*oerr = DM_OAUTH2_E_OTHER;
	for (i = 0; e != NULL && i < sizeof oerrs / sizeof oerrs[0]; i++)
		if (strcmp(e, oerrs[i].name) == 0) {
			if (oerr != NULL)
				*oerr = oerrs[i].oerr;
			code = oerrs[i].code;
			msg = _(oerrs[i].msg);
			/* Not _(""): that is the catalogue's header. */
			hint = oerrs[i].hint[0] != '\0' ? _(oerrs[i].hint) :
			    "";
			break;
		}
	dm_buf_init(&b, 4 * OAUTH2_SHOW_MAX);
	dm_err_clear(&tmp);
	if (oauth2_show(&b, e != NULL ? e : "", elen, &tmp) == -1 ||
	    (d != NULL && (dm_buf_addstr(&b, ": ", &tmp) == -1 ||
	    oauth2_show(&b, d, dlen, &tmp) == -1))) {
		dm_buf_release(&b);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	dm_err_set(err, code, _("%s: server said: %s"), msg, dm_buf_str(&b));
	dm_buf_release(&b);
	if (hint[0] != '\0')
		dm_err_hint(err, "%s", hint);
	return -1;
}

/* 1 when s (n bytes) can be a token: printable ASCII, no spaces. */
static int
token_chars(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DM_OAUTH2_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int
dm_oauth2_parse_token(const char *body, size_t len, time_t now,
    struct dm_oauth2_token *tok, enum dm_oauth2_oerr *oerr,
    struct dm_err *err)
{
	struct json_object *j = NULL;
	const char *a, *r, *tt;
	size_t alen = 0, rlen = 0;
	long long exp;
	int rc = -1;

	memset(tok, 0, sizeof *tok);
	if (oerr != NULL)
		*oerr = DM_OAUTH2_E_NONE;
	if (oauth2_json_parse(body, len, &j, err) == -1)
		return -1;
	if (oauth2_json_str(j, "error", NULL) != NULL) {
		oauth2_error(j, oerr, err);
		goto out;
	}
	if ((a = oauth2_json_str(j, "access_token", &alen)) == NULL) {
		dm_err_set(err, DM_EPROTO, _("the identity provider's answer has no access_token"));
		goto out;
	}
	if (!token_chars(a, alen)) {
		dm_err_set(err, DM_EPROTO, _("the identity provider's access_token is not a token (%zu characters, at most %d printable ones expected)"),
		    alen, DM_OAUTH2_TOKEN_MAX);
		goto out;
	}
	r = oauth2_json_str(j, "refresh_token", &rlen);
	if (r != NULL && !token_chars(r, rlen)) {
		dm_err_set(err, DM_EPROTO, _("the identity provider's refresh_token is not a token (%zu characters)"),
		    rlen);
		goto out;
	}
	tt = oauth2_json_str(j, "token_type", NULL);
	if (tt != NULL && strcasecmp(tt, "bearer") != 0) {
		dm_err_set(err, DM_EPROTO, _("the identity provider's token is not a bearer token"));
		goto out;
	}
	exp = oauth2_json_int(j, "expires_in");
	if (exp < 0 || exp > 100LL * 365 * 86400)
		exp = 3600;
	if ((tok->access = strndup(a, alen)) == NULL ||
	    (r != NULL && (tok->refresh = strndup(r, rlen)) == NULL)) {
		dm_oauth2_token_release(tok);
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	tok->expires = now + (time_t)exp;
	rc = 0;
out:
	oauth2_json_free(j);
	return rc;
}

/* --- the redirect address --------------------------------------- */

/*
 * Percent-decodes s[0..n) ('+' is a space) into a malloc'd string;
 * NULL when it decodes to a NUL byte or memory is out.
 */
static char *
pct_decode(const char *s, size_t n)
{
	char *out;
	size_t i, o = 0;
	int h, l;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (h = dm_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = dm_hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (s[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = s[i];
		if (o > 0 && out[o - 1] == '\0') {
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	return out;
}

int
dm_oauth2_parse_redirect(const char *text, size_t len, const char *state,
    char **code, struct dm_err *err)
{
	const char *q, *end, *p, *amp, *eq;
	char *vals[4] = { NULL, NULL, NULL, NULL };
	static const char *const keys[4] = { "code", "state", "error",
	    "error_description" };
	struct dm_buf b;
	struct dm_err tmp;
	size_t i, klen;
	int r = -1;

	*code = NULL;
	/* Surrounding spaces and a line end come with a paste. */
	while (len > 0 && (text[0] == ' ' || text[0] == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
	    text[len - 1] == '\r' || text[len - 1] == '\n'))
		len--;
	if (len > 8192) {
		dm_err_set(err, DM_EDATA, _("that address is too long to be the sign-in's"));
		return dm_err_hint(err, _("paste the whole address from the browser's address bar, starting with http://127.0.0.1"));
	}
	if ((q = memchr(text, '?', len)) == NULL) {
		dm_err_set(err, DM_EDATA, _("that address has no sign-in result in it (no '?')"));
		return dm_err_hint(err, _("paste the whole address from the browser's address bar, starting with http://127.0.0.1"));
	}
	q++;
	end = text + len;
	if ((p = memchr(q, '#', (size_t)(end - q))) != NULL)
		end = p;
	for (p = q; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		klen = (size_t)(eq - p);
		for (i = 0; i < 4; i++)
			if (strlen(keys[i]) == klen &&
			    memcmp(p, keys[i], klen) == 0)
				break;
		if (i < 4) {
			if (vals[i] != NULL) {
				dm_err_set(err, DM_EDATA, _("that address has '%s' twice"),
				    keys[i]);
				goto out;
			}
			vals[i] = pct_decode(eq < amp ? eq + 1 : eq,
			    eq < amp ? (size_t)(amp - eq - 1) : 0);
			if (vals[i] == NULL) {
				dm_err_set(err, DM_EDATA, _("that address has a '%s' that cannot be read"),
				    keys[i]);
				goto out;
			}
		}
		if (amp == end)
			break;
	}
	if (vals[2] != NULL) {
		dm_buf_init(&b, 4 * OAUTH2_SHOW_MAX);
		dm_err_clear(&tmp);
		if (oauth2_show(&b, vals[2], strlen(vals[2]), &tmp) == -1 ||
		    (vals[3] != NULL && (dm_buf_addstr(&b, ": ", &tmp) == -1 ||
		    oauth2_show(&b, vals[3], strlen(vals[3]), &tmp) == -1)))
			dm_err_set(err, DM_ENOMEM, _("out of memory"));
		else if (strcmp(vals[2], "access_denied") == 0) {
			dm_err_set(err, DM_EAUTH, _("sign-in was denied: server said: %s"),
			    dm_buf_str(&b));
			dm_err_hint(err, _("sign in again and accept: docmail login"));
		} else {
			dm_err_set(err, DM_EAUTH, _("sign-in failed: server said: %s"),
			    dm_buf_str(&b));
			dm_err_hint(err, _("check oauth2_client_id and oauth2_scope, then sign in again: docmail login"));
		}
		dm_buf_release(&b);
		goto out;
	}
	if (vals[1] == NULL || state == NULL || strcmp(vals[1], state) != 0) {
		dm_err_set(err, DM_EDATA, vals[1] == NULL ?
		    _("that address has no state: it is not from this sign-in") :
		    _("that address is from another sign-in (its state does not match)"));
		dm_err_hint(err, _("paste the address the browser shows after this sign-in, not an older one"));
		goto out;
	}
	if (vals[0] == NULL || vals[0][0] == '\0') {
		dm_err_set(err, DM_EDATA, _("that address has no authorization code"));
		dm_err_hint(err, _("paste the whole address from the browser's address bar after signing in"));
		goto out;
	}
	*code = vals[0];
	vals[0] = NULL;
	r = 0;
out:
	for (i = 0; i < 4; i++)
		dm_oauth2_secret_free(vals[i]);
	return r;
}

/* --- PKCE ------------------------------------------------------- */

int
dm_oauth2_pkce_challenge(const char *verifier, char *out, size_t size)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char h[SHA256_DIGEST_LENGTH];
	size_t i, o = 0;
	unsigned int v;

	if (size < 44)
		return -1;
	SHA256((const unsigned char *)verifier, strlen(verifier), h);
	for (i = 0; i + 3 <= sizeof h; i += 3) {
		v = (unsigned int)h[i] << 16 | (unsigned int)h[i + 1] << 8 |
		    h[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	/* 32 = 30 + 2: the last two bytes make three characters. */
	v = (unsigned int)h[30] << 16 | (unsigned int)h[31] << 8;
	out[o++] = b64[v >> 18 & 63];
	out[o++] = b64[v >> 12 & 63];
	out[o++] = b64[v >> 6 & 63];
	out[o] = '\0';
	OPENSSL_cleanse(h, sizeof h);
	return 0;
}

int
dm_oauth2_random(char *out, size_t size, size_t n, struct dm_err *err)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
	unsigned char r[256];
	size_t i;

	if (n >= size || n > sizeof r)
		return dm_err_set(err, DM_EINTERNAL, _("random string too long"));
	if (RAND_bytes(r, (int)n) != 1)
		return dm_err_set(err, DM_EINTERNAL, _("cannot get random bytes from OpenSSL"));
	/* r & 63 picks among the first 64 of them: no modulo bias. */
	for (i = 0; i < n; i++)
		out[i] = alpha[r[i] & 63];
	out[n] = '\0';
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}
