/*
 * oauth2.h - OAuth2 sign-in for SMTP: flows, token store, refresh
 *
 * A profile that signs in with OAuth2 has a refresh token (and the
 * current access token with its expiry) in the token store,
 * $XDG_DATA_HOME/docmail/oauth2/PROFILE (else ~/.local/share/...),
 * mode 0600 in directories 0700, written atomically through the file
 * module and never read or written through a symbolic link.
 *
 * Sign-in is the device flow (RFC 8628) where the provider offers it
 * (Microsoft), else the authorization-code flow with PKCE S256 and a
 * loopback redirect (RFC 7636, RFC 8252; Google).  Both end with the
 * token stored.  Before each AUTH the caller asks
 * dm_oauth2_access_token(), which refreshes under a lock when the
 * access token expires within DM_OAUTH2_MARGIN seconds.
 *
 * HTTPS only (libcurl on OpenSSL): certificate and host name verified
 * against the system store and, when ca_file is set, that file as well
 * (CURLOPT_CAINFO is the file, the system store stays reachable through
 * libcurl's CA directory, /etc/ssl/certs on Debian); no redirects
 * followed; DM_OAUTH2_TIMEOUT seconds per request unless conf says
 * otherwise; bodies above DM_OAUTH2_BODY_MAX bytes are refused.
 *
 * Tokens are secrets: held in malloc'd memory wiped before it is freed
 * (dm_oauth2_token_release(), dm_oauth2_secret_free()), never put in
 * an error message.  Error messages quote the identity provider's
 * "error" and "error_description" with control characters escaped and
 * cut to a bounded length.
 */
#ifndef DOCMAIL_OAUTH2_H
#define DOCMAIL_OAUTH2_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <docmail/err.h>

#define DM_OAUTH2_MARGIN	300		/* refresh this early, seconds */
#define DM_OAUTH2_TIMEOUT	30		/* per HTTP request, seconds */
#define DM_OAUTH2_BODY_MAX	(64 * 1024)	/* response body cap */
#define DM_OAUTH2_TOKEN_MAX	(16 * 1024)	/* one token's length cap */
#define DM_OAUTH2_VERIFIER_LEN	64		/* PKCE verifier, 43..128 */
#define DM_OAUTH2_STATE_LEN	32
#define DM_OAUTH2_PROFILE_MAX	64

enum dm_oauth2_provider {
	DM_OAUTH2_MICROSOFT = 0,
	DM_OAUTH2_GOOGLE,
	DM_OAUTH2_CUSTOM
};

enum dm_oauth2_flow {
	DM_OAUTH2_DEVICE = 0,	/* RFC 8628 */
	DM_OAUTH2_AUTHCODE	/* RFC 6749 4.1 with PKCE S256 */
};

/*
 * What a profile says about its sign-in.  All strings are borrowed
 * (the caller keeps them alive for the call) and may be NULL, which
 * means the provider's preset: microsoft sets the device and token
 * endpoints under login.microsoftonline.com/TENANT (tenant default
 * "organizations") and the scope "https://outlook.office.com/SMTP.Send
 * offline_access"; google sets accounts.google.com's authorization
 * endpoint, oauth2.googleapis.com's token endpoint and the scope
 * "https://mail.google.com/".  custom has no preset: it needs
 * token_url and either device_url (device flow) or auth_url.
 */
struct dm_oauth2_conf {
	enum dm_oauth2_provider	 provider;
	const char		*client_id;	/* required: no borrowed id */
	const char		*client_secret;	/* sent when set */
	const char		*tenant;	/* microsoft only */
	const char		*scope;
	const char		*device_url;
	const char		*auth_url;
	const char		*token_url;
	const char		*ca_file;	/* trusted besides the system's */
	const char		*store_dir;	/* NULL: the XDG location */
	int			 timeout;	/* seconds; 0: DM_OAUTH2_TIMEOUT */
};

/* The endpoints and flow a conf comes to, presets applied. */
struct dm_oauth2_ep {
	enum dm_oauth2_flow	 flow;
	char			*device_url;	/* NULL for the code flow */
	char			*auth_url;	/* NULL for the device flow */
	char			*token_url;
	char			*scope;
};

/* Tokens; access and refresh are secrets, wiped on release. */
struct dm_oauth2_token {
	char	*access;	/* NULL when none */
	char	*refresh;	/* NULL when the provider gave none */
	time_t	 expires;	/* when access stops working */
};

/*
 * What an OAuth2 error response said, for the device poll's loop;
 * DM_OAUTH2_E_NONE when the body was no OAuth2 error.
 */
enum dm_oauth2_oerr {
	DM_OAUTH2_E_NONE = 0,
	DM_OAUTH2_E_PENDING,		/* authorization_pending */
	DM_OAUTH2_E_SLOW_DOWN,		/* slow_down */
	DM_OAUTH2_E_DENIED,		/* access_denied */
	DM_OAUTH2_E_EXPIRED,		/* expired_token */
	DM_OAUTH2_E_INVALID_GRANT,	/* invalid_grant */
	DM_OAUTH2_E_OTHER
};

/* --- set-up (oauth2-http.c) ------------------------------------ */

/*
 * Initialises libcurl, and with it OpenSSL, once per process; every
 * request does it too.  A program that signs in from threads of its own
 * (the TUI) calls it first in its main thread: libcurl wants its global
 * set-up done before threads use it.
 * Errors: DM_EINTERNAL.
 */
int	dm_oauth2_init(struct dm_err *);

/*
 * The version of the libcurl that a sign-in would load ("7.88.1"), or
 * NULL when it cannot be loaded; for docmail --version.
 */
const char *dm_oauth2_curl_version(void);

/* --- configuration (oauth2.c) ---------------------------------- */

/*
 * "microsoft", "google" or "custom" to *out.
 * Errors: DM_ECONFIG naming the value and the choices.
 */
int	dm_oauth2_provider_parse(const char *, enum dm_oauth2_provider *out,
	    struct dm_err *);
const char *dm_oauth2_provider_name(enum dm_oauth2_provider);

/*
 * Applies the presets and checks conf: a client id is set, every URL
 * is https:// (with a host), custom has what it needs.  ep's strings
 * are malloc'd; dm_oauth2_ep_release() frees them.
 * Errors: DM_ECONFIG (a missing client id's hint says how a tenant
 *         admin registers one), DM_ENOMEM.
 */
int	dm_oauth2_resolve(const struct dm_oauth2_conf *, struct dm_oauth2_ep *,
	    struct dm_err *);
void	dm_oauth2_ep_release(struct dm_oauth2_ep *);

/* --- pure parsers, exported for the tests and fuzzing (oauth2.c) - */

/*
 * Parses a token endpoint's response body (len bytes, need not end in
 * NUL).  On success tok holds the access token, the refresh token if
 * one came, and expires = now + expires_in (3600 when absent); tok is
 * the caller's to release.  An OAuth2 error response sets *oerr (may
 * be NULL) and fails: invalid_grant, access_denied and expired_token
 * with DM_EAUTH, authorization_pending and slow_down with DM_ETEMP,
 * others with DM_EAUTH; each message quotes the provider's error and
 * description, made safe to show.
 * Errors: DM_EPROTO (longer than DM_OAUTH2_BODY_MAX, not a JSON
 *         object, no access_token, a token that is not 1 to
 *         DM_OAUTH2_TOKEN_MAX printable ASCII characters), DM_EAUTH,
 *         DM_ETEMP, DM_ENOMEM.  No message ever holds a token.
 */
int	dm_oauth2_parse_token(const char *body, size_t len, time_t now,
	    struct dm_oauth2_token *tok, enum dm_oauth2_oerr *oerr,
	    struct dm_err *);

/*
 * Extracts the authorization code from the address the browser ended
 * on, as pasted by the user ("http://127.0.0.1:PORT/?code=...&state=",
 * with or without the scheme and host, or just the "?query"), or from
 * the request target the loopback listener received.  state must
 * match.  *code is malloc'd (a secret: dm_oauth2_secret_free()).
 * Errors: DM_EDATA (no query, no code, state missing or not this
 *         sign-in's: the caller may ask again), DM_EAUTH (the provider
 *         put error=..., e.g. access_denied; quoted safely),
 *         DM_ENOMEM.
 */
int	dm_oauth2_parse_redirect(const char *text, size_t len,
	    const char *state, char **code, struct dm_err *);

/*
 * The PKCE S256 challenge of verifier: BASE64URL(SHA256(verifier))
 * without padding, 43 characters and a NUL, into out (RFC 7636 4.2).
 * Returns -1 when size < 44.
 */
int	dm_oauth2_pkce_challenge(const char *verifier, char *out, size_t size);

/*
 * n characters (n < size) of the RFC 7636 unreserved alphabet from
 * OpenSSL's CSPRNG, NUL-terminated, for verifiers and states.
 * Errors: DM_EINTERNAL (RAND_bytes failed, or size <= n).
 */
int	dm_oauth2_random(char *out, size_t size, size_t n, struct dm_err *);

/* Wipes and frees a token or code string; NULL is a no-op. */
void	dm_oauth2_secret_free(char *);
/* Wipes and frees the token's strings; the struct is zeroed. */
void	dm_oauth2_token_release(struct dm_oauth2_token *);

/* --- token store (oauth2-store.c) ------------------------------ */

/*
 * 1 when name is a valid profile name for the store: 1 to
 * DM_OAUTH2_PROFILE_MAX characters of [A-Za-z0-9._-], not starting
 * with '.', so it stays a plain name inside the store's directory.
 */
int	dm_oauth2_profile_valid(const char *name);

/*
 * The store file of profile: dir/PROFILE, dir being store_dir, else
 * $XDG_DATA_HOME/docmail/oauth2, else ~/.local/share/docmail/oauth2.
 * Malloc'd.  Errors: DM_ECONFIG (bad profile name, no HOME), DM_ENOMEM.
 */
char	*dm_oauth2_store_path(const char *store_dir, const char *profile,
	    struct dm_err *);

/*
 * Reads the profile's tokens into tok (the caller's to release).
 * Errors: DM_EAUTH "not signed in" (no file; hint: docmail login),
 *         DM_EIO (unreadable, a symbolic link, not a regular file, or
 *         damaged), DM_ECONFIG, DM_ENOMEM.
 */
int	dm_oauth2_store_load(const char *store_dir, const char *profile,
	    struct dm_oauth2_token *tok, struct dm_err *);

/*
 * Replaces the profile's tokens with tok, atomically and durably
 * (dm_file_publish), creating the directories 0700.  A symbolic link
 * at the file's place is refused and left as it is.
 * Errors: DM_EIO, DM_EDATA (a token that could not be read back),
 *         DM_ECONFIG, DM_ENOMEM.
 */
int	dm_oauth2_store_save(const char *store_dir, const char *profile,
	    const struct dm_oauth2_token *tok, struct dm_err *);

/*
 * Removes the profile's tokens (docmail logout); none is no error.
 * Errors: DM_EIO, DM_ECONFIG, DM_ENOMEM.
 */
int	dm_oauth2_store_remove(const char *store_dir, const char *profile,
	    struct dm_err *);

/*
 * Takes the profile's refresh lock: flock(LOCK_EX) on ".PROFILE.lock"
 * beside the store file, waiting for another holder.  *fd is for
 * dm_oauth2_store_unlock().  Errors: DM_EIO, DM_ECONFIG, DM_ENOMEM.
 */
int	dm_oauth2_store_lock(const char *store_dir, const char *profile,
	    int *fd, struct dm_err *);
void	dm_oauth2_store_unlock(int fd);

/* --- flows (oauth2-flow.c) ------------------------------------- */

/*
 * A usable access token for profile in *out (malloc'd, the caller's to
 * free with dm_oauth2_secret_free()).  One that stays valid for more
 * than DM_OAUTH2_MARGIN seconds comes from the store (*refreshed = 0).
 * Otherwise, under the profile's lock, the store is read again: when
 * another process refreshed meanwhile, its token is used without any
 * request (*refreshed = 0); else the refresh token is sent (with the
 * scope, which Microsoft wants again) and the answer stored at once,
 * including a rotated refresh token (*refreshed = 1).  refreshed may
 * be NULL.
 * Errors: DM_EAUTH (never signed in: "not signed in", hint docmail
 *         login; refresh refused with invalid_grant: "sign in again"),
 *         DM_ECONN / DM_ETEMP (no connection, timeout, HTTP 5xx),
 *         DM_ETLS, DM_EPROTO (an answer that is no token response),
 *         DM_ECONFIG, DM_EIO, DM_ENOMEM.
 */
int	dm_oauth2_access_token(const struct dm_oauth2_conf *,
	    const char *profile, char **out, int *refreshed, struct dm_err *);

/*
 * A new access token after the server refused the token refused (NULL:
 * whatever token was given): under the profile's lock the store is read
 * again, and a token another process stored meanwhile (differing from
 * refused, valid beyond the margin) is used without a request;
 * otherwise the refresh token is sent and the answer stored
 * (*refreshed = 1).  Errors: as dm_oauth2_access_token().
 */
int	dm_oauth2_refresh(const struct dm_oauth2_conf *, const char *profile,
	    const char *refused, char **out, int *refreshed, struct dm_err *);

/* A device sign-in in progress (RFC 8628). */
struct dm_oauth2_device {
	char	*device_code;		/* secret */
	char	*user_code;		/* to show */
	char	*verification_uri;	/* to show */
	char	*verification_uri_complete;	/* NULL when not given */
	int	 interval;		/* seconds between polls */
	time_t	 expires;		/* the codes' end */
	time_t	 next_poll;		/* not before this */
};

/*
 * Starts a device sign-in: posts client_id and scope to the device
 * endpoint.  dev is the caller's to release.
 * Errors: DM_ECONFIG (dm_oauth2_resolve(), or no device flow for this
 *         provider), DM_ECONN, DM_ETEMP, DM_ETLS, DM_EPROTO (no
 *         device_code, user_code or verification_uri), DM_EAUTH (an
 *         OAuth2 error, e.g. an unknown client), DM_ENOMEM.
 */
int	dm_oauth2_device_start(const struct dm_oauth2_conf *,
	    struct dm_oauth2_device *, struct dm_err *);

/*
 * One poll of the token endpoint, for a caller with its own loop (the
 * TUI's background job); call it at or after dev->next_poll.  Returns
 * 0 with *done = 1 when the user signed in and the token is stored for
 * profile, 0 with *done = 0 while the user has not yet (next_poll
 * moved on; slow_down adds 5 seconds to the interval).
 * Errors: DM_EAUTH (access_denied: "sign-in was denied"; expired_token
 *         or the codes' time is over: "the sign-in code expired"), and
 *         as dm_oauth2_access_token().
 */
int	dm_oauth2_device_poll(const struct dm_oauth2_conf *,
	    const char *profile, struct dm_oauth2_device *, int *done,
	    struct dm_err *);

/*
 * Polls until signed in, denied, expired or *cancel (may be NULL)
 * becomes non-zero, sleeping in steps of at most 100 ms.
 * Errors: as dm_oauth2_device_poll(); DM_ETEMP "sign-in cancelled".
 */
int	dm_oauth2_device_wait(const struct dm_oauth2_conf *,
	    const char *profile, struct dm_oauth2_device *, atomic_int *cancel,
	    struct dm_err *);
void	dm_oauth2_device_release(struct dm_oauth2_device *);

/* An authorization-code sign-in in progress. */
struct dm_oauth2_auth {
	char	 verifier[DM_OAUTH2_VERIFIER_LEN + 1];	/* secret */
	char	 state[DM_OAUTH2_STATE_LEN + 1];
	char	*redirect_uri;		/* http://127.0.0.1:PORT/ */
	char	*url;			/* for the browser */
	int	 fd;			/* the loopback listener, or -1 */
	int	 port;
};

/*
 * Starts an authorization-code sign-in: a listener on 127.0.0.1 on a
 * free port, a fresh verifier and state, and the address to open
 * (auth->url).  auth is the caller's to release.
 * Errors: DM_ECONFIG (as dm_oauth2_resolve(), or no authorization
 *         endpoint), DM_EIO (no listener), DM_EINTERNAL, DM_ENOMEM.
 */
int	dm_oauth2_auth_start(const struct dm_oauth2_conf *,
	    struct dm_oauth2_auth *, struct dm_err *);

/*
 * Waits up to timeout_ms (or until *cancel, may be NULL) for the
 * browser's redirect on the listener and answers it with a small page
 * saying the window can be closed.  Requests without code, state or
 * error (a favicon) are answered 404 and waited past; each request is
 * read with a deadline and at most 8 KB.  *code as from
 * dm_oauth2_parse_redirect().
 * Errors: as dm_oauth2_parse_redirect(); DM_ETEMP (time over,
 *         cancelled), DM_EIO.
 */
int	dm_oauth2_auth_wait(struct dm_oauth2_auth *, int timeout_ms,
	    atomic_int *cancel, char **code, struct dm_err *);

/*
 * Exchanges code (with the verifier and redirect_uri) at the token
 * endpoint and stores the tokens for profile.
 * Errors: as dm_oauth2_access_token().
 */
int	dm_oauth2_auth_finish(const struct dm_oauth2_conf *,
	    const char *profile, const struct dm_oauth2_auth *,
	    const char *code, struct dm_err *);
void	dm_oauth2_auth_release(struct dm_oauth2_auth *);

#endif /* DOCMAIL_OAUTH2_H */
