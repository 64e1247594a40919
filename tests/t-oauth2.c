/*
 * t-oauth2.c - the OAuth2 module without a network: presets, PKCE,
 * the token-response and redirect parsers, the token store
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/oauth2.h>

#include "tap.h"

#define SECRET	"SeCrEtToKeN"

static char dir[256];

static int
clean(const struct dm_err *err)
{
	return strstr(err->msg, SECRET) == NULL &&
	    strstr(err->hint, SECRET) == NULL;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
tok(const char *body, struct dm_oauth2_token *t, enum dm_oauth2_oerr *oe,
    struct dm_err *err)
{
	dm_err_clear(err);
	return dm_oauth2_parse_token(body, strlen(body), 1000, t, oe, err);
}

static int
redir(const char *text, char **code, struct dm_err *err)
{
	dm_err_clear(err);
	return dm_oauth2_parse_redirect(text, strlen(text), "st4te", code, err);
}

static void
test_conf(void)
{
	struct dm_oauth2_conf c;
	struct dm_oauth2_ep ep;
	struct dm_err err;
	enum dm_oauth2_provider p;

	dm_err_clear(&err);
	ok(dm_oauth2_provider_parse("google", &p, &err) == 0 &&
	    p == DM_OAUTH2_GOOGLE, "provider: google parses");
	ok(dm_oauth2_provider_parse("yahoo", &p, &err) == -1 &&
	    err.code == DM_ECONFIG, "provider: an unknown one is a config error");

	memset(&c, 0, sizeof c);
	c.provider = DM_OAUTH2_MICROSOFT;
	dm_err_clear(&err);
	ok(dm_oauth2_resolve(&c, &ep, &err) == -1 && err.code == DM_ECONFIG,
	    "resolve: no client id is a config error");
	ok(strstr(err.hint, "Allow public client flows") != NULL &&
	    strstr(err.hint, "SMTP.Send") != NULL &&
	    strstr(err.hint, "Office 365 Exchange Online") != NULL,
	    "resolve: the hint says how to register an app in Entra");
	c.provider = DM_OAUTH2_GOOGLE;
	dm_err_clear(&err);
	ok(dm_oauth2_resolve(&c, &ep, &err) == -1 &&
	    strstr(err.hint, "Desktop app") != NULL,
	    "resolve: for google, the hint names a Desktop app client");

	c.provider = DM_OAUTH2_MICROSOFT;
	c.client_id = "cid";
	ok(dm_oauth2_resolve(&c, &ep, &err) == 0, "resolve: microsoft preset");
	is_str(ep.device_url, "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode",
	    "resolve: microsoft device endpoint, tenant organizations");
	is_str(ep.token_url, "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
	    "resolve: microsoft token endpoint");
	is_str(ep.scope, "https://outlook.office.com/SMTP.Send offline_access",
	    "resolve: microsoft scope");
	ok(ep.flow == DM_OAUTH2_DEVICE, "resolve: microsoft uses the device flow");
	dm_oauth2_ep_release(&ep);
	c.tenant = "contoso.example";
	ok(dm_oauth2_resolve(&c, &ep, &err) == 0 &&
	    strstr(ep.token_url, "/contoso.example/oauth2/") != NULL,
	    "resolve: the tenant goes into the endpoints");
	dm_oauth2_ep_release(&ep);
	c.tenant = "../evil?x";
	dm_err_clear(&err);
	ok(dm_oauth2_resolve(&c, &ep, &err) == -1 && err.code == DM_ECONFIG,
	    "resolve: a tenant that is no id or domain is refused");
	c.tenant = NULL;

	c.provider = DM_OAUTH2_GOOGLE;
	ok(dm_oauth2_resolve(&c, &ep, &err) == 0 &&
	    ep.flow == DM_OAUTH2_AUTHCODE && ep.device_url == NULL,
	    "resolve: google uses the code flow");
	is_str(ep.auth_url, "https://accounts.google.com/o/oauth2/v2/auth",
	    "resolve: google authorization endpoint");
	is_str(ep.token_url, "https://oauth2.googleapis.com/token",
	    "resolve: google token endpoint");
	is_str(ep.scope, "https://mail.google.com/", "resolve: google scope");
	dm_oauth2_ep_release(&ep);

	c.provider = DM_OAUTH2_CUSTOM;
	dm_err_clear(&err);
	ok(dm_oauth2_resolve(&c, &ep, &err) == -1 && err.code == DM_ECONFIG,
	    "resolve: custom without URLs is a config error");
	c.token_url = "https://127.0.0.1:1/token";
	c.device_url = "https://127.0.0.1:1/device";
	ok(dm_oauth2_resolve(&c, &ep, &err) == 0 &&
	    ep.flow == DM_OAUTH2_DEVICE, "resolve: custom with a device URL");
	dm_oauth2_ep_release(&ep);
	c.device_url = NULL;
	c.auth_url = "https://127.0.0.1:1/authorize";
	ok(dm_oauth2_resolve(&c, &ep, &err) == 0 &&
	    ep.flow == DM_OAUTH2_AUTHCODE,
	    "resolve: custom with an authorization URL");
	dm_oauth2_ep_release(&ep);
	c.token_url = "http://127.0.0.1:1/token";
	dm_err_clear(&err);
	ok(dm_oauth2_resolve(&c, &ep, &err) == -1 && err.code == DM_ECONFIG,
	    "resolve: an http:// endpoint is refused");
}

static void
test_pkce(void)
{
	char out[64], a[70], b[70];
	struct dm_err err;
	size_t i;
	int good = 1;

	/* RFC 7636 appendix B. */
	ok(dm_oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
	    out, sizeof out) == 0, "pkce: challenge made");
	is_str(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
	    "pkce: the RFC 7636 appendix B vector");
	ok(dm_oauth2_pkce_challenge("x", out, 43) == -1,
	    "pkce: a short buffer is refused");
	dm_err_clear(&err);
	ok(dm_oauth2_random(a, sizeof a, 64, &err) == 0 &&
	    dm_oauth2_random(b, sizeof b, 64, &err) == 0, "random: made");
	is_int(strlen(a), 64, "random: the length asked for");
	for (i = 0; a[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
		    a[i]) == NULL)
			good = 0;
	ok(good, "random: only unreserved characters");
	ok(strcmp(a, b) != 0, "random: two differ");
	ok(dm_oauth2_random(a, 10, 10, &err) == -1, "random: no room for the NUL");
}

static void
test_parse_token(void)
{
	struct dm_oauth2_token t;
	enum dm_oauth2_oerr oe;
	struct dm_err err;
	char *big, *body;
	size_t n;

	ok(tok("{\"access_token\":\"A" SECRET "\",\"refresh_token\":\"R1\","
	    "\"expires_in\":3599,\"token_type\":\"Bearer\"}", &t, &oe, &err) == 0,
	    "token: a good answer parses");
	is_str(t.access, "A" SECRET, "token: access token");
	is_str(t.refresh, "R1", "token: refresh token");
	is_int(t.expires, 1000 + 3599, "token: expiry from expires_in");
	dm_oauth2_token_release(&t);
	ok(t.access == NULL && t.refresh == NULL, "token: release clears");

	ok(tok("{\"access_token\":\"A\",\"expires_in\":\"60\"}", &t, NULL,
	    &err) == 0 && t.refresh == NULL && t.expires == 1060,
	    "token: no refresh token, expires_in as a string");
	dm_oauth2_token_release(&t);

	/* A 3000-character token, as Microsoft's run to. */
	big = malloc(3001);
	memset(big, 'x', 3000);
	big[2999] = 'Z';
	big[3000] = '\0';
	n = strlen(big) + 64;
	body = malloc(n);
	snprintf(body, n, "{\"access_token\":\"%s\"}", big);
	ok(tok(body, &t, NULL, &err) == 0 && t.access != NULL &&
	    strcmp(t.access, big) == 0, "token: 3000 characters intact");
	dm_oauth2_token_release(&t);
	free(body);
	free(big);

	ok(tok("garbage", &t, &oe, &err) == -1 && err.code == DM_EPROTO &&
	    oe == DM_OAUTH2_E_NONE, "token: garbage is a protocol error");
	ok(tok("<html><body>Sign in</body></html>", &t, NULL, &err) == -1 &&
	    err.code == DM_EPROTO && strstr(err.msg, "HTML") != NULL,
	    "token: HTML is a protocol error that says HTML");
	ok(tok("{}", &t, NULL, &err) == -1 && err.code == DM_EPROTO &&
	    strstr(err.msg, "no access_token") != NULL,
	    "token: JSON without access_token names it");
	ok(tok("{\"access_token\":42}", &t, NULL, &err) == -1 &&
	    err.code == DM_EPROTO, "token: a number is no token");
	ok(tok("{\"access_token\":\"a b\"}", &t, NULL, &err) == -1 &&
	    err.code == DM_EPROTO, "token: a token with a space is refused");
	ok(tok("[\"access_token\"]", &t, NULL, &err) == -1 &&
	    err.code == DM_EPROTO, "token: an array is no answer");
	ok(tok("{\"access_token\":\"" SECRET "\"} trailing", &t, NULL,
	    &err) == -1 && err.code == DM_EPROTO && clean(&err),
	    "token: data after the JSON is refused, token not shown");
	ok(tok("{\"access_token\":\"" SECRET "\",\"token_type\":\"mac\"}", &t,
	    NULL, &err) == -1 && err.code == DM_EPROTO && clean(&err),
	    "token: a non-bearer token is refused");
	ok(tok("", &t, NULL, &err) == -1 && err.code == DM_EPROTO,
	    "token: an empty body is a protocol error");

	n = DM_OAUTH2_BODY_MAX + 100;
	body = malloc(n + 1);
	memset(body, ' ', n);
	memcpy(body, "{\"access_token\":\"", 17);
	memset(body + 17, 'a', n - 40);
	memcpy(body + n - 23, "\"}", 2);
	body[n] = '\0';
	ok(tok(body, &t, NULL, &err) == -1 && err.code == DM_EPROTO &&
	    strstr(err.msg, "too large") != NULL, "token: a huge body is refused");
	free(body);

	ok(tok("{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"AADSTS700082: expired\"}", &t, &oe, &err) == -1 &&
	    err.code == DM_EAUTH && oe == DM_OAUTH2_E_INVALID_GRANT,
	    "token: invalid_grant is an authentication error");
	ok(strstr(err.hint, "docmail login") != NULL &&
	    strstr(err.msg, "AADSTS700082") != NULL,
	    "token: invalid_grant quotes the provider and says to sign in");
	ok(tok("{\"error\":\"authorization_pending\"}", &t, &oe, &err) == -1 &&
	    err.code == DM_ETEMP && oe == DM_OAUTH2_E_PENDING,
	    "token: authorization_pending");
	ok(tok("{\"error\":\"slow_down\"}", &t, &oe, &err) == -1 &&
	    oe == DM_OAUTH2_E_SLOW_DOWN, "token: slow_down");
	ok(tok("{\"error\":\"access_denied\"}", &t, &oe, &err) == -1 &&
	    err.code == DM_EAUTH && oe == DM_OAUTH2_E_DENIED,
	    "token: access_denied");
	ok(tok("{\"error\":\"expired_token\"}", &t, &oe, &err) == -1 &&
	    err.code == DM_EAUTH && oe == DM_OAUTH2_E_EXPIRED,
	    "token: expired_token");
	ok(tok("{\"error\":\"x\\u001b[2Jy\",\"error_description\":\"\\u0007bell\\r\\nline\"}",
	    &t, &oe, &err) == -1 && oe == DM_OAUTH2_E_OTHER &&
	    printable(err.msg) && printable(err.hint),
	    "token: control characters in an error are not shown raw");
	big = malloc(5001);
	memset(big, 'd', 5000);
	big[5000] = '\0';
	body = malloc(5100);
	snprintf(body, 5100, "{\"error\":\"e\",\"error_description\":\"%s\"}",
	    big);
	ok(tok(body, &t, NULL, &err) == -1 && strlen(err.msg) < 400,
	    "token: a long error description is cut");
	free(body);
	free(big);
}

static void
test_redirect(void)
{
	struct dm_err err;
	char *code = NULL;

	ok(redir("http://127.0.0.1:4711/?code=c%2Fd+e&state=st4te", &code,
	    &err) == 0, "redirect: a pasted address parses");
	is_str(code, "c/d e", "redirect: the code is percent-decoded");
	dm_oauth2_secret_free(code);
	ok(redir("  /?state=st4te&code=abc#frag\r\n", &code, &err) == 0 &&
	    strcmp(code, "abc") == 0,
	    "redirect: a request target, spaces and fragment around it");
	dm_oauth2_secret_free(code);
	ok(redir("http://127.0.0.1:4711/?code=abc&state=other", &code,
	    &err) == -1 && err.code == DM_EDATA && code == NULL &&
	    strstr(err.msg, "state") != NULL,
	    "redirect: a wrong state is a data error");
	ok(redir("http://127.0.0.1:4711/?code=abc", &code, &err) == -1 &&
	    err.code == DM_EDATA, "redirect: no state is a data error");
	ok(redir("http://127.0.0.1:4711/?state=st4te", &code, &err) == -1 &&
	    err.code == DM_EDATA && strstr(err.msg, "code") != NULL,
	    "redirect: no code is a data error");
	ok(redir("http://127.0.0.1:4711/?error=access_denied&error_description=User+said+no&state=st4te",
	    &code, &err) == -1 && err.code == DM_EAUTH &&
	    strstr(err.msg, "denied") != NULL &&
	    strstr(err.msg, "User said no") != NULL,
	    "redirect: error=access_denied is an authentication error");
	ok(redir("hello there", &code, &err) == -1 && err.code == DM_EDATA,
	    "redirect: junk is a data error");
	ok(redir("", &code, &err) == -1 && err.code == DM_EDATA,
	    "redirect: nothing is a data error");
	ok(redir("/?code=a&code=b&state=st4te", &code, &err) == -1 &&
	    err.code == DM_EDATA, "redirect: code twice is refused");
	ok(redir("/?code=a%00b&state=st4te", &code, &err) == -1 &&
	    err.code == DM_EDATA, "redirect: a NUL in the code is refused");
	ok(redir("/?error=%1b%5b2J&state=st4te", &code, &err) == -1 &&
	    printable(err.msg), "redirect: an error's control characters are escaped");
	{
		char in[2048];
		size_t i, o = 0;

		o += (size_t)snprintf(in, sizeof in, "/?state=st4te&error=");
		for (i = 0; i < 100; i++)
			o += (size_t)snprintf(in + o, sizeof in - o, "%%01");
		for (i = 0; i < 34; i++)
			o += (size_t)snprintf(in + o, sizeof in - o,
			    "%%e2%%82%%ac");
		/* Found by fuzzing: escapes cut mid-character by dm_err. */
		ok(redir(in, &code, &err) == -1 && printable(err.msg) &&
		    dm_utf8_valid(err.msg, strlen(err.msg)),
		    "redirect: a long escaped error stays valid UTF-8");
	}
}

static int
mode_of(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == -1 ? -1 : (int)(sb.st_mode & 07777);
}

static void
test_store(void)
{
	struct dm_oauth2_token t = { NULL, NULL, 0 }, back;
	struct dm_oauth2_conf c;
	struct dm_err err;
	char path[512], target[512], buf[64], *p, *big, *tokp;
	int fd, refreshed = -1;
	ssize_t n;
	static const char *const bad[] = { "", "../x", "a/b", ".hidden", "..",
	    "a b", "x\n", NULL };
	size_t i;

	snprintf(path, sizeof path, "%s/store", dir);
	dm_err_clear(&err);
	ok(dm_oauth2_store_load(path, "work", &back, &err) == -1 &&
	    err.code == DM_EAUTH && strstr(err.msg, "not signed in") != NULL &&
	    strstr(err.msg, "docmail login") != NULL,
	    "store: never signed in says so");

	big = malloc(3001);
	memset(big, 'q', 3000);
	big[3000] = '\0';
	t.access = big;
	t.refresh = "R-" SECRET;
	t.expires = 1234567890;
	ok(dm_oauth2_store_save(path, "work", &t, &err) == 0, "store: saved");
	ok(dm_oauth2_store_load(path, "work", &back, &err) == 0,
	    "store: loaded");
	ok(back.access != NULL && strcmp(back.access, big) == 0,
	    "store: the 3000-character access token round-trips");
	is_str(back.refresh, "R-" SECRET, "store: the refresh token round-trips");
	is_int(back.expires, 1234567890, "store: the expiry round-trips");
	dm_oauth2_token_release(&back);
	free(big);

	p = dm_oauth2_store_path(path, "work", &err);
	is_int(mode_of(p), 0600, "store: the file is 0600");
	is_int(mode_of(path), 0700, "store: the directory is 0700");

	/* A fresh token is handed out without any request. */
	t.access = "A-fresh";
	t.expires = time(NULL) + 3600;
	ok(dm_oauth2_store_save(path, "work", &t, &err) == 0,
	    "store: saved a fresh token");
	memset(&c, 0, sizeof c);
	c.provider = DM_OAUTH2_CUSTOM;
	c.client_id = "cid";
	c.token_url = "https://127.0.0.1:1/token";
	c.device_url = "https://127.0.0.1:1/device";
	c.store_dir = path;
	c.timeout = 2;
	ok(dm_oauth2_access_token(&c, "work", &tokp, &refreshed, &err) == 0 &&
	    strcmp(tokp, "A-fresh") == 0 && refreshed == 0,
	    "access token: a fresh one comes from the store");
	dm_oauth2_secret_free(tokp);
	/* Expiring within the margin, no refresh token: sign in again. */
	t.refresh = NULL;
	t.expires = time(NULL) + DM_OAUTH2_MARGIN - 10;
	ok(dm_oauth2_store_save(path, "work", &t, &err) == 0, "store: saved");
	dm_err_clear(&err);
	ok(dm_oauth2_access_token(&c, "work", &tokp, &refreshed, &err) == -1 &&
	    err.code == DM_EAUTH && strstr(err.hint, "docmail login") != NULL,
	    "access token: about to expire without a refresh token: sign in again");

	/* A symbolic link at the file's place: refused, target untouched. */
	ok(dm_oauth2_store_remove(path, "work", &err) == 0 &&
	    access(p, F_OK) == -1, "store: removed");
	ok(dm_oauth2_store_remove(path, "work", &err) == 0,
	    "store: removing twice is fine");
	snprintf(target, sizeof target, "%s/target", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	n = write(fd, "untouched\n", 10);
	close(fd);
	ok(n == 10 && symlink(target, p) == 0, "store: a link planted");
	dm_err_clear(&err);
	ok(dm_oauth2_store_load(path, "work", &back, &err) == -1 &&
	    err.code == DM_EIO && strstr(err.msg, "symbolic link") != NULL,
	    "store: loading through a link is refused");
	dm_err_clear(&err);
	t.refresh = "R2";
	ok(dm_oauth2_store_save(path, "work", &t, &err) == -1 &&
	    err.code == DM_EIO && strstr(err.msg, "symbolic link") != NULL,
	    "store: saving over a link is refused");
	fd = open(target, O_RDONLY);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "untouched\n", "store: the link's target is untouched");
	unlink(p);
	free(p);

	/* A damaged file is reported, not half read. */
	p = dm_oauth2_store_path(path, "dmg", &err);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	n = write(fd, "docmail-oauth2 1\naccess abc", 27);
	close(fd);
	dm_err_clear(&err);
	ok(dm_oauth2_store_load(path, "dmg", &back, &err) == -1 &&
	    err.code == DM_EIO && strstr(err.msg, "damaged") != NULL,
	    "store: a cut file is damaged");
	free(p);

	for (i = 0; bad[i] != NULL; i++) {
		dm_err_clear(&err);
		ok(!dm_oauth2_profile_valid(bad[i]) &&
		    dm_oauth2_store_save(path, bad[i], &t, &err) == -1 &&
		    err.code == DM_ECONFIG && printable(err.msg),
		    "store: bad profile name %zu is refused", i);
	}
	memset(target, 'a', 65);
	target[65] = '\0';
	ok(!dm_oauth2_profile_valid(target), "store: a 65-character name is refused");
	ok(dm_oauth2_profile_valid("work-2.old_x"), "store: a plain name is fine");
}

int
main(void)
{
	char *t = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/t-oauth2.XXXXXX", t != NULL ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	plan(94);
	test_conf();
	test_pkce();
	test_parse_token();
	test_redirect();
	test_store();
	{
		char cmd[600];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return done_testing();
}
