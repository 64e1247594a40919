/*
 * oauth2-flow.c - sign-in flows and the refresh before each AUTH
 *
 * The device flow (RFC 8628) and the authorization-code flow with PKCE
 * (RFC 7636) and a loopback redirect (RFC 8252), and
 * dm_oauth2_access_token(), which refreshes under the store's lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/err.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "oauth2-int.h"

#define REQUEST_MAX	8192	/* of the browser's redirect request */
#define REQUEST_MS	5000	/* to read one request */
#define FORM_MAX	(4 * DM_OAUTH2_TOKEN_MAX)

/* POSTs form to url and parses the token answer into tok. */
static int
token_request(const struct dm_oauth2_conf *conf, const char *url,
    const struct dm_buf *form, struct dm_oauth2_token *tok,
    enum dm_oauth2_oerr *oerr, struct dm_err *err)
{
	struct dm_buf body;
	long status;
	int r = -1;

	dm_buf_init(&body, DM_OAUTH2_BODY_MAX);
	if (oauth2_http_post(conf, url, form, &body, &status, err) == -1)
		goto out;
	r = dm_oauth2_parse_token(dm_buf_str(&body), body.len, time(NULL),
	    tok, oerr, err);
out:
	dm_buf_wipe(&body);
	return r;
}

/* client_id, and client_secret when set. */
static int
form_client(struct dm_buf *f, const struct dm_oauth2_conf *conf,
    struct dm_err *err)
{
	if (oauth2_form_add(f, "client_id", conf->client_id, err) == -1)
		return -1;
	if (conf->client_secret != NULL && conf->client_secret[0] != '\0' &&
	    oauth2_form_add(f, "client_secret", conf->client_secret, err) == -1)
		return -1;
	return 0;
}

/* 1 when tok has an access token usable for the margin. */
static int
fresh(const struct dm_oauth2_token *tok, time_t now)
{
	return tok->access != NULL && tok->expires > now + DM_OAUTH2_MARGIN;
}

/* Refreshes under the lock; tok is the store as read under it. */
static int
refresh_locked(const struct dm_oauth2_conf *conf, const char *profile,
    const struct dm_oauth2_ep *ep, struct dm_oauth2_token *tok,
    struct dm_err *err)
{
	struct dm_oauth2_token nt = { NULL, NULL, 0 };
	struct dm_buf f;
	int r = -1;

	if (tok->refresh == NULL) {
		dm_err_set(err, DM_EAUTH, _("the sign-in has expired and cannot be renewed"));
		return dm_err_hint(err, _("sign in again: docmail login"));
	}
	dm_buf_init(&f, FORM_MAX);
	if (oauth2_form_add(&f, "grant_type", "refresh_token", err) == -1 ||
	    oauth2_form_add(&f, "refresh_token", tok->refresh, err) == -1 ||
	    form_client(&f, conf, err) == -1 ||
	    (ep->scope[0] != '\0' &&
	    oauth2_form_add(&f, "scope", ep->scope, err) == -1))
		goto out;
	/* invalid_grant's own hint says to sign in again (oauth2.c). */
	if (token_request(conf, ep->token_url, &f, &nt, NULL, err) == -1)
		goto out;
	/* A provider that does not rotate keeps the old refresh token. */
	if (nt.refresh == NULL) {
		nt.refresh = tok->refresh;
		tok->refresh = NULL;
	}
	if (dm_oauth2_store_save(conf->store_dir, profile, &nt, err) == -1)
		goto out;
	dm_oauth2_token_release(tok);
	*tok = nt;
	memset(&nt, 0, sizeof nt);
	r = 0;
out:
	dm_oauth2_token_release(&nt);
	dm_buf_wipe(&f);
	return r;
}

/*
 * The token behind dm_oauth2_access_token() and dm_oauth2_refresh():
 * with force, the stored access token is not good enough unless it
 * differs from refused (another process refreshed meanwhile).
 */
static int
get_token(const struct dm_oauth2_conf *conf, const char *profile, int force,
    const char *refused, char **out, int *refreshed, struct dm_err *err)
{
	struct dm_oauth2_token tok = { NULL, NULL, 0 };
	struct dm_oauth2_ep ep;
	int fd = -1, r = -1, did = 0;

	*out = NULL;
	memset(&ep, 0, sizeof ep);
	if (dm_oauth2_resolve(conf, &ep, err) == -1)
		return -1;
	if (dm_oauth2_store_load(conf->store_dir, profile, &tok, err) == -1)
		goto out;
	if (force || !fresh(&tok, time(NULL))) {
		/*
		 * Another docmail may be refreshing right now; the refresh
		 * token it sends is then rotated away, so read the store
		 * again once the lock is ours and use its result.
		 */
		if (dm_oauth2_store_lock(conf->store_dir, profile, &fd,
		    err) == -1)
			goto out;
		dm_oauth2_token_release(&tok);
		if (dm_oauth2_store_load(conf->store_dir, profile, &tok,
		    err) == -1)
			goto out;
		if (!fresh(&tok, time(NULL)) || (force && (refused == NULL ||
		    strcmp(tok.access, refused) == 0))) {
			if (refresh_locked(conf, profile, &ep, &tok, err) == -1)
				goto out;
			did = 1;
		}
	}
	*out = tok.access;
	tok.access = NULL;
	if (refreshed != NULL)
		*refreshed = did;
	r = 0;
out:
	dm_oauth2_store_unlock(fd);
	dm_oauth2_token_release(&tok);
	dm_oauth2_ep_release(&ep);
	return r;
}

int
dm_oauth2_access_token(const struct dm_oauth2_conf *conf, const char *profile,
    char **out, int *refreshed, struct dm_err *err)
{
	return get_token(conf, profile, 0, NULL, out, refreshed, err);
}

int
dm_oauth2_refresh(const struct dm_oauth2_conf *conf, const char *profile,
    const char *refused, char **out, int *refreshed, struct dm_err *err)
{
	return get_token(conf, profile, 1, refused, out, refreshed, err);
}

/* --- device flow ------------------------------------------------ */

void
dm_oauth2_device_release(struct dm_oauth2_device *dev)
{
	dm_oauth2_secret_free(dev->device_code);
	free(dev->user_code);
	free(dev->verification_uri);
	free(dev->verification_uri_complete);
	memset(dev, 0, sizeof *dev);
}

/* A copy of a member that must be shown: printable, bounded. */
static int
shown_member(struct json_object *j, const char *name, int required,
    char **out, struct dm_err *err)
{
	const char *s;
	size_t n, i;

	*out = NULL;
	if ((s = oauth2_json_str(j, name, &n)) == NULL) {
		if (!required)
			return 0;
		return dm_err_set(err, DM_EPROTO, _("the identity provider's device answer has no %s"),
		    name);
	}
	if (n == 0 || n > 2048)
		return dm_err_set(err, DM_EPROTO, _("the identity provider's %s is empty or too long"),
		    name);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return dm_err_set(err, DM_EPROTO, _("the identity provider's %s holds characters that cannot be shown"),
			    name);
	if ((*out = strndup(s, n)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return 0;
}

int
dm_oauth2_device_start(const struct dm_oauth2_conf *conf,
    struct dm_oauth2_device *dev, struct dm_err *err)
{
	struct dm_oauth2_ep ep;
	struct json_object *j = NULL;
	struct dm_buf f, body;
	const char *dc;
	size_t dclen = 0;
	long long iv, ex;
	long status;
	time_t now;
	int r = -1;

	memset(dev, 0, sizeof *dev);
	dm_buf_init(&f, FORM_MAX);
	dm_buf_init(&body, DM_OAUTH2_BODY_MAX);
	if (dm_oauth2_resolve(conf, &ep, err) == -1)
		return -1;
	if (ep.flow != DM_OAUTH2_DEVICE) {
		dm_err_set(err, DM_ECONFIG, _("the provider '%s' has no device sign-in"),
		    dm_oauth2_provider_name(conf->provider));
		goto out;
	}
	if (form_client(&f, conf, err) == -1 ||
	    (ep.scope[0] != '\0' &&
	    oauth2_form_add(&f, "scope", ep.scope, err) == -1))
		goto out;
	if (oauth2_http_post(conf, ep.device_url, &f, &body, &status,
	    err) == -1)
		goto out;
	if (oauth2_json_parse(dm_buf_str(&body), body.len, &j, err) == -1)
		goto out;
	if (oauth2_json_str(j, "error", NULL) != NULL) {
		oauth2_error(j, NULL, err);
		goto out;
	}
	if ((dc = oauth2_json_str(j, "device_code", &dclen)) == NULL ||
	    dclen == 0 || dclen > DM_OAUTH2_TOKEN_MAX) {
		dm_err_set(err, DM_EPROTO, _("the identity provider's device answer has no device_code"));
		goto out;
	}
	if ((dev->device_code = strndup(dc, dclen)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	if (shown_member(j, "user_code", 1, &dev->user_code, err) == -1 ||
	    shown_member(j, "verification_uri", 1, &dev->verification_uri,
	    err) == -1 ||
	    shown_member(j, "verification_uri_complete", 0,
	    &dev->verification_uri_complete, err) == -1)
		goto out;
	iv = oauth2_json_int(j, "interval");
	ex = oauth2_json_int(j, "expires_in");
	/* RFC 8628 3.2: 5 seconds unless told; bounded either way. */
	dev->interval = iv < 1 ? 5 : iv > 60 ? 60 : (int)iv;
	now = time(NULL);
	dev->expires = now + (ex < 1 || ex > 86400 ? 900 : (time_t)ex);
	dev->next_poll = now + dev->interval;
	r = 0;
out:
	if (r == -1)
		dm_oauth2_device_release(dev);
	oauth2_json_free(j);
	dm_buf_wipe(&f);
	dm_buf_wipe(&body);
	dm_oauth2_ep_release(&ep);
	return r;
}

/*
 * Stores the token a sign-in was granted, under the store's lock: the
 * store is shared with refreshes in other processes.
 */
static int
store_granted(const struct dm_oauth2_conf *conf, const char *profile,
    const struct dm_oauth2_token *tok, struct dm_err *err)
{
	int fd = -1, r;

	r = dm_oauth2_store_lock(conf->store_dir, profile, &fd, err) == -1 ||
	    dm_oauth2_store_save(conf->store_dir, profile, tok, err) == -1 ?
	    -1 : 0;
	dm_oauth2_store_unlock(fd);
	return r;
}

/*
 * Redeems a grant: f holds the grant's own fields; the client's are
 * added, the token endpoint asked, and the tokens it gives stored for
 * profile.  *oerr (may be NULL) is the endpoint's OAuth2 error code.
 * The device flow and the browser flow differ only in the grant.
 */
static int
redeem(const struct dm_oauth2_conf *conf, const char *profile,
    const struct dm_oauth2_ep *ep, struct dm_buf *f,
    enum dm_oauth2_oerr *oerr, struct dm_err *err)
{
	struct dm_oauth2_token tok = { NULL, NULL, 0 };
	int r = -1;

	if (form_client(f, conf, err) == 0 &&
	    token_request(conf, ep->token_url, f, &tok, oerr, err) == 0 &&
	    store_granted(conf, profile, &tok, err) == 0)
		r = 0;
	dm_oauth2_token_release(&tok);
	return r;
}

int
dm_oauth2_device_poll(const struct dm_oauth2_conf *conf, const char *profile,
    struct dm_oauth2_device *dev, int *done, struct dm_err *err)
{
	enum dm_oauth2_oerr oerr = DM_OAUTH2_E_NONE;
	struct dm_oauth2_ep ep;
	struct dm_buf f;
	struct dm_err e2;
	int r = -1;

	*done = 0;
	dm_buf_init(&f, FORM_MAX);
	if (!dm_oauth2_profile_valid(profile)) {
		(void)dm_oauth2_store_path(NULL, profile, err);
		return -1;
	}
	if (time(NULL) >= dev->expires) {
		dm_err_set(err, DM_EAUTH, _("the sign-in code expired"));
		return dm_err_hint(err, _("sign in again, a little faster: docmail login"));
	}
	if (dm_oauth2_resolve(conf, &ep, err) == -1)
		return -1;
	if (oauth2_form_add(&f, "grant_type",
	    "urn:ietf:params:oauth:grant-type:device_code", err) == -1 ||
	    oauth2_form_add(&f, "device_code", dev->device_code, err) == -1)
		goto out;
	/* Pending is no error: err is left alone then. */
	dm_err_clear(&e2);
	if (redeem(conf, profile, &ep, &f, &oerr, &e2) == -1) {
		if (oerr == DM_OAUTH2_E_PENDING || oerr == DM_OAUTH2_E_SLOW_DOWN) {
			if (oerr == DM_OAUTH2_E_SLOW_DOWN && dev->interval < 60)
				dev->interval += 5;
			dev->next_poll = time(NULL) + dev->interval;
			r = 0;
			goto out;
		}
		*err = e2;
		goto out;
	}
	*done = 1;
	r = 0;
out:
	dm_buf_wipe(&f);
	dm_oauth2_ep_release(&ep);
	return r;
}

/* Sleeps up to ms in steps of 100; 1 when *cancel was set. */
static int
nap(long ms, atomic_int *cancel)
{
	struct timespec ts;
	long step;

	while (ms > 0) {
		if (cancel != NULL && atomic_load(cancel))
			return 1;
		step = ms < 100 ? ms : 100;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancel != NULL && atomic_load(cancel);
}

int
dm_oauth2_device_wait(const struct dm_oauth2_conf *conf, const char *profile,
    struct dm_oauth2_device *dev, atomic_int *cancel, struct dm_err *err)
{
	time_t now;
	int done = 0;

	for (;;) {
		now = time(NULL);
		if (dev->next_poll > now &&
		    nap((long)(dev->next_poll - now) * 1000, cancel))
			break;
		if (cancel != NULL && atomic_load(cancel))
			break;
		if (dm_oauth2_device_poll(conf, profile, dev, &done, err) == -1)
			return -1;
		if (done)
			return 0;
	}
	return dm_err_set(err, DM_ETEMP, _("sign-in cancelled"));
}

/* --- authorization code with PKCE -------------------------------- */

void
dm_oauth2_auth_release(struct dm_oauth2_auth *a)
{
	if (a->fd != -1)
		close(a->fd);
	free(a->redirect_uri);
	free(a->url);
	explicit_bzero(a->verifier, sizeof a->verifier);
	memset(a, 0, sizeof *a);
	a->fd = -1;
}

static int
listen_loopback(struct dm_oauth2_auth *a, struct dm_err *err)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	if ((a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return dm_err_set(err, DM_EIO, _("cannot open a socket for the browser's redirect: %s"),
		    strerror(errno));
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(a->fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(a->fd, 8) == -1 ||
	    getsockname(a->fd, (struct sockaddr *)&sin, &len) == -1)
		return dm_err_set(err, DM_EIO, _("cannot listen on 127.0.0.1 for the browser's redirect: %s"),
		    strerror(errno));
	a->port = ntohs(sin.sin_port);
	return 0;
}

int
dm_oauth2_auth_start(const struct dm_oauth2_conf *conf,
    struct dm_oauth2_auth *a, struct dm_err *err)
{
	struct dm_oauth2_ep ep;
	char chal[64];
	struct dm_buf q, u;
	int r = -1;

	memset(a, 0, sizeof *a);
	a->fd = -1;
	dm_buf_init(&q, FORM_MAX);
	dm_buf_init(&u, FORM_MAX);
	if (dm_oauth2_resolve(conf, &ep, err) == -1)
		return -1;
	if (ep.flow != DM_OAUTH2_AUTHCODE) {
		dm_err_set(err, DM_ECONFIG, _("the provider '%s' signs in with a device code, not a browser redirect"),
		    dm_oauth2_provider_name(conf->provider));
		goto out;
	}
	if (dm_oauth2_random(a->verifier, sizeof a->verifier,
	    DM_OAUTH2_VERIFIER_LEN, err) == -1 ||
	    dm_oauth2_random(a->state, sizeof a->state, DM_OAUTH2_STATE_LEN,
	    err) == -1)
		goto out;
	if (dm_oauth2_pkce_challenge(a->verifier, chal, sizeof chal) == -1) {
		dm_err_set(err, DM_EINTERNAL, _("cannot make the PKCE challenge"));
		goto out;
	}
	if (listen_loopback(a, err) == -1)
		goto out;
	if (dm_buf_addf(&u, err, "http://127.0.0.1:%d/", a->port) == -1 ||
	    (a->redirect_uri = dm_buf_detach(&u)) == NULL)
		goto nomem;
	if (oauth2_form_add(&q, "response_type", "code", err) == -1 ||
	    oauth2_form_add(&q, "client_id", conf->client_id, err) == -1 ||
	    oauth2_form_add(&q, "redirect_uri", a->redirect_uri, err) == -1 ||
	    (ep.scope[0] != '\0' &&
	    oauth2_form_add(&q, "scope", ep.scope, err) == -1) ||
	    oauth2_form_add(&q, "state", a->state, err) == -1 ||
	    oauth2_form_add(&q, "code_challenge", chal, err) == -1 ||
	    oauth2_form_add(&q, "code_challenge_method", "S256", err) == -1)
		goto out;
	if (dm_buf_addf(&u, err, "%s%c%s", ep.auth_url,
	    strchr(ep.auth_url, '?') != NULL ? '&' : '?', dm_buf_str(&q)) == -1)
		goto out;
	if ((a->url = dm_buf_detach(&u)) == NULL)
		goto nomem;
	r = 0;
	goto out;
nomem:
	dm_err_set(err, DM_ENOMEM, _("out of memory"));
out:
	if (r == -1)
		dm_oauth2_auth_release(a);
	dm_buf_release(&q);
	dm_buf_release(&u);
	dm_oauth2_ep_release(&ep);
	return r;
}

static void
answer(int fd, const char *status, const char *text)
{
	char page[1024];
	int n;

	n = snprintf(page, sizeof page,
	    "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
	    "<!DOCTYPE html><html><head><title>docmail</title></head>"
	    "<body><p>%s</p></body></html>\n", status, text);
	if (n > 0 && (size_t)n < sizeof page)
		(void)!send(fd, page, (size_t)n, MSG_NOSIGNAL);
}

/*
 * Reads one request's head (to the blank line, at most REQUEST_MAX
 * bytes, within REQUEST_MS) into req; returns its length, or -1.
 */
static ssize_t
read_request(int fd, char *req, size_t size)
{
	struct timespec t0;
	struct pollfd p;
	size_t n = 0;
	ssize_t got;
	long left;

	dm_clock_now(&t0);
	while (n + 1 < size) {
		if ((left = REQUEST_MS - dm_clock_ms_since(&t0)) <= 0)
			return -1;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if ((got = recv(fd, req + n, size - 1 - n, 0)) <= 0) {
			if (got == -1 && errno == EINTR)
				continue;
			break;
		}
		n += (size_t)got;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL ||
		    strstr(req, "\n\n") != NULL)
			return (ssize_t)n;
	}
	req[n] = '\0';
	return n > 0 ? (ssize_t)n : -1;
}

int
dm_oauth2_auth_wait(struct dm_oauth2_auth *a, int timeout_ms,
    atomic_int *cancel, char **code, struct dm_err *err)
{
	char req[REQUEST_MAX];
	struct timespec t0;
	struct pollfd p;
	const char *target, *sp;
	ssize_t n;
	long left;
	int c, r;

	*code = NULL;
	if (a->fd == -1)
		return dm_err_set(err, DM_EINTERNAL, _("no listener for the browser's redirect"));
	dm_clock_now(&t0);
	for (;;) {
		if (cancel != NULL && atomic_load(cancel))
			return dm_err_set(err, DM_ETEMP, _("sign-in cancelled"));
		if ((left = timeout_ms - dm_clock_ms_since(&t0)) <= 0) {
			dm_err_set(err, DM_ETEMP, _("no sign-in arrived from the browser in time"));
			return dm_err_hint(err, _("sign in again: docmail login; over SSH, paste the address the browser ends on"));
		}
		p.fd = a->fd;
		p.events = POLLIN;
		if (poll(&p, 1, left < 100 ? (int)left : 100) <= 0)
			continue;
		if ((c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		n = read_request(c, req, sizeof req);
		/* "GET /?code=...&state=... HTTP/1.1" */
		if (n <= 0 || strncmp(req, "GET ", 4) != 0) {
			answer(c, "400 Bad Request", "docmail did not understand this request.");
			close(c);
			continue;
		}
		target = req + 4;
		if ((sp = strpbrk(target, " \r\n")) == NULL)
			sp = target + strlen(target);
		if (memchr(target, '?', (size_t)(sp - target)) == NULL) {
			answer(c, "404 Not Found", "Nothing here.");
			close(c);
			continue;
		}
		r = dm_oauth2_parse_redirect(target, (size_t)(sp - target),
		    a->state, code, err);
		answer(c, r == 0 ? "200 OK" : "400 Bad Request", r == 0 ?
		    "docmail has the sign-in. You can close this window." :
		    "The sign-in did not work; docmail says why. You can close this window.");
		explicit_bzero(req, sizeof req);
		close(c);
		return r;
	}
}

int
dm_oauth2_auth_finish(const struct dm_oauth2_conf *conf, const char *profile,
    const struct dm_oauth2_auth *a, const char *code, struct dm_err *err)
{
	struct dm_oauth2_ep ep;
	struct dm_buf f;
	int r;

	dm_buf_init(&f, FORM_MAX);
	if (!dm_oauth2_profile_valid(profile)) {
		(void)dm_oauth2_store_path(NULL, profile, err);
		return -1;
	}
	if (dm_oauth2_resolve(conf, &ep, err) == -1)
		return -1;
	r = oauth2_form_add(&f, "grant_type", "authorization_code", err) == -1 ||
	    oauth2_form_add(&f, "code", code, err) == -1 ||
	    oauth2_form_add(&f, "redirect_uri", a->redirect_uri, err) == -1 ||
	    oauth2_form_add(&f, "code_verifier", a->verifier, err) == -1 ||
	    redeem(conf, profile, &ep, &f, NULL, err) == -1 ? -1 : 0;
	dm_buf_wipe(&f);
	dm_oauth2_ep_release(&ep);
	return r;
}
