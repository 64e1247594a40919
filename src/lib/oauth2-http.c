/*
 * oauth2-http.c - the one HTTPS POST of the OAuth2 module (libcurl)
 *
 * libcurl is touched here only.  Bounds: https only (the protocol list
 * is "https", so neither a configured http:// address nor a redirect
 * can reach plain HTTP), certificate and host verified, no redirects
 * followed, a connect and a total timeout, the body capped at
 * DM_OAUTH2_BODY_MAX (the write callback refuses more, so memory stays
 * bounded whatever the server sends), verbose off: the form and the
 * answer hold secrets.
 *
 * The trust store: with a ca_file, CURLOPT_CAINFO is that file and
 * CURLOPT_CAPATH stays libcurl's built-in CA directory (Debian:
 * /etc/ssl/certs), so the system store is trusted as well; OpenSSL
 * looks in both.  Without one, libcurl's defaults (the system bundle)
 * apply.
 *
 * The token response passes through libcurl's buffers and OpenSSL's:
 * libcurl allocates through functions of ours that wipe each block
 * before freeing it (curl_global_init_mem), and OpenSSL is told to
 * cleanse the plaintext it decrypted (SSL_OP_CLEANSE_PLAINTEXT), so no
 * token is left behind in freed memory.
 *
 * libcurl is loaded (dlopen) when an exchange first needs it, not
 * linked: linked, it and what it pulls in (LDAP, Kerberos, SSH, HTTP/2,
 * IDN ...) cost every docmail process 6.5 MB of memory and their start,
 * while only a sign-in or a token renewal speaks HTTPS.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "oauth2-int.h"

#define CONNECT_TIMEOUT	10
#define CURL_SONAME	"libcurl.so.4"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static char curl_load_error[256];	/* why it could not be loaded */

/* The libcurl functions used, from the loaded library. */
static struct {
	CURLcode	(*global_init_mem)(long, curl_malloc_callback,
			    curl_free_callback, curl_realloc_callback,
			    curl_strdup_callback, curl_calloc_callback);
	CURL		*(*easy_init)(void);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_perform)(CURL *);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	void		(*easy_cleanup)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
} cu;

/* libcurl's allocator: every block is wiped whole before it is freed. */
static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void *
wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		wipe_free(p);
		return NULL;
	}
	/* Never realloc(): it may free the old block unwiped. */
	if ((q = malloc(n)) == NULL)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

static void *
plain_malloc(size_t n)
{
	return malloc(n);
}

static void *
plain_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

static char *
plain_strdup(const char *s)
{
	return strdup(s);
}

/* dlsym into a function pointer, without a cast ISO C frowns upon. */
static int
sym(void *h, const char *name, void *fp, size_t size)
{
	void *p = dlsym(h, name);

	if (p == NULL || size != sizeof p) {
		(void)snprintf(curl_load_error, sizeof curl_load_error,
		    "%s lacks %s", CURL_SONAME, name);
		return -1;
	}
	memcpy(fp, &p, sizeof p);
	return 0;
}

static int
curl_load(void)
{
	const char *e;
	void *h;

	if ((h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		(void)snprintf(curl_load_error, sizeof curl_load_error, "%s",
		    e != NULL ? e : CURL_SONAME);
		return -1;
	}
#define SYM(f, name)	sym(h, name, &cu.f, sizeof cu.f)
	if (SYM(global_init_mem, "curl_global_init_mem") == -1 ||
	    SYM(easy_init, "curl_easy_init") == -1 ||
	    SYM(easy_setopt, "curl_easy_setopt") == -1 ||
	    SYM(easy_perform, "curl_easy_perform") == -1 ||
	    SYM(easy_getinfo, "curl_easy_getinfo") == -1 ||
	    SYM(easy_cleanup, "curl_easy_cleanup") == -1 ||
	    SYM(easy_strerror, "curl_easy_strerror") == -1 ||
	    SYM(slist_append, "curl_slist_append") == -1 ||
	    SYM(slist_free_all, "curl_slist_free_all") == -1)
		return -1;
#undef SYM
	/* Never closed: libcurl keeps global state until exit. */
	return 0;
}

static void
curl_init(void)
{
	if (curl_load() == -1) {
		curl_init_rc = CURLE_FAILED_INIT;
		return;
	}
	curl_init_rc = cu.global_init_mem(CURL_GLOBAL_DEFAULT, plain_malloc,
	    wipe_free, wipe_realloc, plain_strdup, plain_calloc);
}

/* OpenSSL cleanses what it decrypted once it is handed over. */
static CURLcode
cleanse_plaintext(CURL *c, void *ctx, void *arg)
{
	(void)c;
	(void)arg;
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return CURLE_OK;
}

int
dm_oauth2_init(struct dm_err *err)
{
	pthread_once(&curl_once, curl_init);
	if (curl_load_error[0] != '\0') {
		dm_err_set(err, DM_ECONFIG,
		    _("OAuth2 sign-in needs libcurl, which cannot be loaded: %s"),
		    curl_load_error);
		return dm_err_hint(err, _("install it (Debian: apt-get install libcurl4), or use a password or oauth2_token_command"));
	}
	if (curl_init_rc != CURLE_OK)
		return dm_err_set(err, DM_EINTERNAL, _("cannot initialise libcurl"));
	return 0;
}

const char *
dm_oauth2_curl_version(void)
{
	curl_version_info_data *(*info)(CURLversion);
	curl_version_info_data *d;
	void *h;

	/* Loaded, not set up: a version asks nothing of its state. */
	if ((h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    sym(h, "curl_version_info", &info, sizeof info) == -1)
		return NULL;
	d = info(CURLVERSION_NOW);
	return d != NULL ? d->version : NULL;
}

struct sink {
	struct dm_buf	*body;
	int		 too_large;
	int		 nomem;
};

static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	struct dm_err err;

	n *= size;
	if (s->body->len + n > DM_OAUTH2_BODY_MAX) {
		s->too_large = 1;
		return 0;
	}
	if (dm_buf_add(s->body, p, n, &err) == -1) {
		s->nomem = 1;
		return 0;
	}
	return n;
}

int
oauth2_form_add(struct dm_buf *b, const char *name, const char *value,
    struct dm_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v;

	if (b->len > 0 && dm_buf_addc(b, '&', err) == -1)
		return -1;
	if (dm_buf_addstr(b, name, err) == -1 || dm_buf_addc(b, '=', err) == -1)
		return -1;
	for (v = (const unsigned char *)value; *v != '\0'; v++) {
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		    (*v >= '0' && *v <= '9') || *v == '-' || *v == '.' ||
		    *v == '_' || *v == '~') {
			if (dm_buf_addc(b, (char)*v, err) == -1)
				return -1;
		} else if (dm_buf_addc(b, '%', err) == -1 ||
		    dm_buf_addc(b, hex[*v >> 4], err) == -1 ||
		    dm_buf_addc(b, hex[*v & 15], err) == -1)
			return -1;
	}
	return 0;
}

/* The host part of an https:// URL, for messages. */
static void
url_host(const char *url, char *out, size_t size)
{
	const char *h = url + (strncmp(url, "https://", 8) == 0 ? 8 : 0);
	size_t n = strcspn(h, "/?#");

	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), h);
}

static int
curl_failed(CURLcode c, const struct sink *s, const char *host,
    const char *ebuf, struct dm_err *err)
{
	const char *why = ebuf[0] != '\0' ? ebuf : cu.easy_strerror(c);

	if (s->too_large)
		return dm_err_set(err, DM_EPROTO, _("the identity provider '%s' sent an answer that is too large (over %d bytes)"),
		    host, DM_OAUTH2_BODY_MAX);
	if (s->nomem)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		dm_err_set(err, DM_ETEMP, _("the identity provider '%s' did not answer in time"),
		    host);
		return dm_err_hint(err, _("try again later; check the network and oauth2_token_url"));
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		dm_err_set(err, DM_ECONN, _("cannot connect to the identity provider '%s': %.200s"),
		    host, why);
		return dm_err_hint(err, _("check the network, then try again"));
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		dm_err_set(err, DM_ETLS, _("the identity provider '%s' has a certificate docmail cannot trust: %.200s"),
		    host, why);
		return dm_err_hint(err, _("check the date and time of this machine; behind a TLS-inspecting proxy, put its CA certificate in ca_file"));
	case CURLE_UNSUPPORTED_PROTOCOL:
		dm_err_set(err, DM_ECONFIG, _("the identity provider's address must be https://"));
		return -1;
	case CURLE_SSL_CONNECT_ERROR:
		dm_err_set(err, DM_ETLS, _("TLS with the identity provider '%s' failed: %.200s"),
		    host, why);
		return -1;
	default:
		break;
	}
	return dm_err_set(err, DM_ECONN, _("the connection to the identity provider '%s' failed: %.200s"),
	    host, why);
}

int
oauth2_http_post(const struct dm_oauth2_conf *conf, const char *url,
    const struct dm_buf *form, struct dm_buf *body, long *status,
    struct dm_err *err)
{
	char ebuf[CURL_ERROR_SIZE], host[256];
	struct curl_slist *hdr = NULL;
	struct sink s = { body, 0, 0 };
	CURL *c = NULL;
	CURLcode cc;
	long code = 0, tmo;
	int r = -1;

	*status = 0;
	ebuf[0] = '\0';
	url_host(url, host, sizeof host);
	if (strncmp(url, "https://", 8) != 0)
		return dm_err_set(err, DM_ECONFIG, _("the identity provider's address must be https://"));
	if (dm_oauth2_init(err) == -1)
		return -1;
	if ((c = cu.easy_init()) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	tmo = conf->timeout > 0 ? conf->timeout : DM_OAUTH2_TIMEOUT;
	hdr = cu.slist_append(NULL, "Accept: application/json");
	if (hdr == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	if (cu.easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") !=
	    CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_VERBOSE, 0L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_NOPROGRESS, 1L) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT <
	    tmo ? (long)CONNECT_TIMEOUT : tmo) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_TIMEOUT, tmo) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_MAXFILESIZE, (long)DM_OAUTH2_BODY_MAX)
	    != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_USERAGENT, "docmail/" PACKAGE_VERSION)
	    != CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_POSTFIELDS, dm_buf_str(form)) !=
	    CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form->len) !=
	    CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) !=
	    CURLE_OK ||
	    cu.easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK) {
		dm_err_set(err, DM_EINTERNAL, _("cannot set up libcurl"));
		goto out;
	}
	/* libcurl4-openssl-dev: the context is OpenSSL's (configure.ac). */
	if (cu.easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, cleanse_plaintext)
	    != CURLE_OK) {
		dm_err_set(err, DM_EINTERNAL, _("cannot set up libcurl: it is not built with OpenSSL"));
		goto out;
	}
	if (conf->ca_file != NULL && conf->ca_file[0] != '\0' &&
	    cu.easy_setopt(c, CURLOPT_CAINFO, conf->ca_file) != CURLE_OK) {
		dm_err_set(err, DM_EINTERNAL, _("cannot set up libcurl"));
		goto out;
	}
	if ((cc = cu.easy_perform(c)) != CURLE_OK) {
		if (cc == CURLE_FILESIZE_EXCEEDED)
			s.too_large = 1;
		curl_failed(cc, &s, host, ebuf, err);
		goto out;
	}
	(void)cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (code >= 500 || code == 429) {
		dm_err_set(err, DM_ETEMP, _("the identity provider '%s' is unavailable (HTTP %ld)"),
		    host, code);
		dm_err_hint(err, _("try again in a few minutes"));
		goto out;
	}
	if (code >= 300 && code < 400) {
		dm_err_set(err, DM_EPROTO, _("the identity provider '%s' answered with a redirect (HTTP %ld), which docmail does not follow"),
		    host, code);
		dm_err_hint(err, _("check oauth2_token_url and oauth2_device_url"));
		goto out;
	}
	if (code != 200 && (code < 400 || code >= 500)) {
		dm_err_set(err, DM_EPROTO, _("the identity provider '%s' answered HTTP %ld"),
		    host, code);
		goto out;
	}
	r = 0;
out:
	cu.slist_free_all(hdr);
	if (c != NULL)
		cu.easy_cleanup(c);
	return r;
}
