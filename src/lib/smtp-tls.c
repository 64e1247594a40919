/*
 * smtp-tls.c - TLS on docmail's own connection: context, verification
 * of the certificate chain and the configured host name, SNI, the
 * optional fingerprint pin, and plain-words reasons for a rejection
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <docmail/i18n.h>

#include "smtp-int.h"

int
dm_smtp_init(struct dm_err *err)
{
	/*
	 * OpenSSL sets itself up on first use, in whichever thread that
	 * is; done at once in two threads (a TUI test and a sign-in), its
	 * error-string table is built twice and half of it lost.  The
	 * front end calls this before it starts any thread.
	 */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return dm_err_set(err, DM_EINTERNAL, _("cannot initialise OpenSSL"));
	return 0;
}

/* What the verify callback saw first; per session through ex_data. */
struct verify_note {
	int	 error;		/* X509_V_OK when none */
	int	 depth;
	X509	*leaf;		/* the server's certificate, referenced */
	int	 hello_request;	/* the server asked to renegotiate */
	char	*bundle;	/* SSL_CERT_FILE, not loaded yet; owned */
};

/*
 * Longest chain accepted, intermediates only: OpenSSL's default, stated
 * so the message can name it.  Real chains have one to three.
 */
#define TLS_CHAIN_MAX	100

static int note_index = -1;
static pthread_once_t note_once = PTHREAD_ONCE_INIT;

static void
note_index_init(void)
{
	note_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct verify_note *n = SSL_get_ex_data(ssl, note_index);
	STACK_OF(X509) *chain;
	X509 *leaf;

	if (n == NULL)
		return ok;
	if (n->leaf == NULL) {
		chain = X509_STORE_CTX_get0_chain(xs);
		leaf = chain != NULL && sk_X509_num(chain) > 0 ?
		    sk_X509_value(chain, 0) : X509_STORE_CTX_get0_cert(xs);
		if (leaf != NULL && X509_up_ref(leaf) == 1)
			n->leaf = leaf;
	}
	if (!ok && n->error == X509_V_OK) {
		n->error = X509_STORE_CTX_get_error(xs);
		n->depth = X509_STORE_CTX_get_error_depth(xs);
	}
	/* With a pin, the chain does not matter: the pin is checked after. */
	if (SSL_get_app_data(ssl) != NULL)
		return 1;
	return ok;
}

/* Notes a HelloRequest: the server asking for a renegotiation (TLS 1.2). */
static void
msg_cb(int write_p, int version, int type, const void *buf, size_t len,
    SSL *ssl, void *arg)
{
	struct verify_note *n = arg;

	(void)version;
	(void)ssl;
	if (!write_p && type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_HELLO_REQUEST)
		n->hello_request = 1;
}

int
smtpi_tls_renegotiation_asked(const struct sess *s)
{
	const struct verify_note *n;

	if (s->ssl == NULL)
		return 0;
	n = SSL_get_ex_data(s->ssl, note_index);
	return n != NULL && n->hello_request;
}

/* The session's note, from inside a verification. */
static struct verify_note *
note_of(X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());

	return ssl == NULL ? NULL : SSL_get_ex_data(ssl, note_index);
}

/* Whether the server's own chain holds an issuer of x. */
static int
sent_issuer(X509_STORE_CTX *xs, X509 *x)
{
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(xs);
	X509 *c;
	int i;

	for (i = 0; sent != NULL && i < sk_X509_num(sent); i++) {
		c = sk_X509_value(sent, i);
		if (c != x && X509_check_issued(c, x) == X509_V_OK)
			return 1;
	}
	return 0;
}

/*
 * The chain builder's issuer lookup in the trust store, with the
 * SSL_CERT_FILE bundle parsed on first need: when the store so far (the
 * hash directory, ca_file) has no issuer of x, or only one outside its
 * validity period that the bundle might replace.  A miss that the
 * server's own chain fills (the intermediate sent with the leaf) does
 * not count: the builder goes on through that certificate, and the
 * bundle is loaded at the top of the chain if the anchor is not found
 * there either.  Once loaded, the bundle is in the store as
 * SSL_CTX_load_verify_file() put it before.  Trust never widens: every
 * anchor still comes from the directory, ca_file or the bundle.  The
 * one verdict that changes is where the old order stumbled: a bundle CA
 * with the name but not the key of a directory CA hid the latter from
 * OpenSSL's lookup, whose cache answers by name.  Only this lookup is
 * hooked; the others serve partial chains, CRLs and DANE, which docmail
 * does not use.
 */
static int
lazy_get_issuer(X509 **issuer, X509_STORE_CTX *xs, X509 *x)
{
	struct verify_note *n = note_of(xs);
	int r;

	r = X509_STORE_CTX_get1_issuer(issuer, xs, x);
	if (r < 0 || n == NULL || n->bundle == NULL)
		return r;
	if (r > 0) {
		if (X509_cmp_current_time(X509_get0_notBefore(*issuer)) < 0 &&
		    X509_cmp_current_time(X509_get0_notAfter(*issuer)) > 0)
			return r;
		X509_free(*issuer);
		*issuer = NULL;
	} else if (sent_issuer(xs, x))
		return r;
	/* Its errors are not the handshake's: it failed before too. */
	ERR_set_mark();
	(void)X509_STORE_load_file(X509_STORE_CTX_get0_store(xs), n->bundle);
	ERR_pop_to_mark();
	free(n->bundle);
	n->bundle = NULL;
	return X509_STORE_CTX_get1_issuer(issuer, xs, x);
}

/*
 * The system's trust anchors, looked up by hash in the certificate
 * directory when needed: parsing the whole bundle file costs ~20 ms per
 * session, more than the rest of a Test connection.  SSL_CERT_FILE and
 * SSL_CERT_DIR are honoured as OpenSSL does, the file through
 * lazy_get_issuer(): *bundle is set to it (the caller's to free) and
 * the store to that lookup.  An unreadable SSL_CERT_FILE fails, as it
 * did when it was loaded at once (one that reads but does not parse is
 * only found out when needed, and the directory then stays trusted, as
 * with OpenSSL's own default paths); without a directory the defaults
 * are loaded the usual way.
 */
static int
system_store(SSL_CTX *ctx, char **bundle)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());
	const char *file = getenv(X509_get_default_cert_file_env());
	struct stat st;

	*bundle = NULL;
	if (dir == NULL || dir[0] == '\0')
		dir = X509_get_default_cert_dir();
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (file != NULL && file[0] != '\0' &&
		    SSL_CTX_load_verify_file(ctx, file) != 1)
			return -1;
		return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
	}
	if (file != NULL && file[0] != '\0') {
		if (access(file, R_OK) != 0)
			return -1;
		if ((*bundle = strdup(file)) == NULL)
			return -1;
		X509_STORE_set_get_issuer(SSL_CTX_get_cert_store(ctx),
		    lazy_get_issuer);
	}
	return SSL_CTX_load_verify_dir(ctx, dir) == 1 ? 0 : -1;
}

int
smtpi_tls_setup(struct sess *s, struct dm_err *err)
{
	const struct dm_smtp_params *p = s->p;
	struct verify_note *n;
	X509_VERIFY_PARAM *vp;
	char *bundle = NULL;

	(void)pthread_once(&note_once, note_index_init);
	if ((s->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("cannot create a TLS context"));
	(void)SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	/*
	 * No renegotiation: SMTP never needs one, and the certificate checks
	 * (the pin above all) are made once, after the first handshake; a
	 * renegotiation could bring another certificate.
	 */
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (system_store(s->ctx, &bundle) == -1) {
		ERR_clear_error();	/* no system store: ca_file may do */
		free(bundle);
		bundle = NULL;
		X509_STORE_set_get_issuer(SSL_CTX_get_cert_store(s->ctx),
		    NULL);
	}
	if (p->ca_file != NULL && p->ca_file[0] != '\0' &&
	    SSL_CTX_load_verify_locations(s->ctx, p->ca_file, NULL) != 1) {
		ERR_clear_error();
		free(bundle);
		dm_err_set(err, DM_ECONFIG,
		    _("cannot load the certificates in ca_file '%s'"),
		    DM_ERR_PATH(p->ca_file));
		return dm_err_hint(err, _("ca_file must name a readable file of PEM certificates"));
	}
	if ((s->ssl = SSL_new(s->ctx)) == NULL ||
	    (n = calloc(1, sizeof *n)) == NULL) {
		free(bundle);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	n->error = X509_V_OK;
	n->bundle = bundle;
	SSL_set_ex_data(s->ssl, note_index, n);
	SSL_set_msg_callback(s->ssl, msg_cb);
	SSL_set_msg_callback_arg(s->ssl, n);
	/* app_data marks "pinned": chain errors are decided by the pin. */
	if (p->fingerprint != NULL && p->fingerprint[0] != '\0')
		SSL_set_app_data(s->ssl, (void *)p->fingerprint);
	SSL_set_verify(s->ssl, SSL_VERIFY_PEER, verify_cb);
	vp = SSL_get0_param(s->ssl);
	X509_VERIFY_PARAM_set_depth(vp, TLS_CHAIN_MAX);
	if (is_ip_literal(p->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, p->host) != 1)
			return dm_err_set(err, DM_EINTERNAL,
			    _("cannot set the address to verify"));
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, p->host, 0) != 1 ||
		    SSL_set_tlsext_host_name(s->ssl, p->host) != 1)
			return dm_err_set(err, DM_ECONFIG,
			    _("invalid host name '%s'"), p->host);
	}
	if (SSL_set_fd(s->ssl, s->fd) != 1)
		return dm_err_set(err, DM_EINTERNAL, _("SSL_set_fd failed"));
	return 0;
}

void
smtpi_tls_free(struct sess *s)
{
	struct verify_note *n;

	if (s->ssl != NULL) {
		n = SSL_get_ex_data(s->ssl, note_index);
		if (n != NULL) {
			X509_free(n->leaf);
			free(n->bundle);
			free(n);
		}
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* "DNS:a.test, IP:127.0.0.1" from the certificate's SANs (or its CN). */
static void
cert_names(X509 *x, char *out, size_t size)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	char ip[INET6_ADDRSTRLEN], one[300];
	int i, len;

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		one[0] = '\0';
		if (g->type == GEN_DNS) {
			len = ASN1_STRING_length(g->d.dNSName);
			(void)snprintf(one, sizeof one, "DNS:%.*s",
			    len > 255 ? 255 : len,
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			len = ASN1_STRING_length(g->d.iPAddress);
			if (inet_ntop(len == 4 ? AF_INET : AF_INET6,
			    ASN1_STRING_get0_data(g->d.iPAddress), ip,
			    sizeof ip) != NULL)
				(void)snprintf(one, sizeof one, "IP:%s", ip);
		}
		if (one[0] == '\0')
			continue;
		if (out[0] != '\0')
			dm_strlcpy(out + strlen(out), ", ", size - strlen(out));
		dm_strlcpy(out + strlen(out), one, size - strlen(out));
	}
	GENERAL_NAMES_free(gens);
	if (out[0] == '\0')
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, out, (int)size);
	smtpi_sanitize(out, size, out, strlen(out));
}

/* What an OpenSSL printer wrote into b, sanitised into out; frees b. */
static void
bio_text(BIO *b, char *out, size_t size)
{
	char *p;
	long n;

	n = BIO_get_mem_data(b, &p);
	smtpi_sanitize(out, size, p, n > 0 ? (size_t)n : 0);
	BIO_free(b);
}

static void
name_text(X509_NAME *name, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());

	out[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	bio_text(b, out, size);
}

static void
time_text(const ASN1_TIME *t, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());

	out[0] = '\0';
	if (b == NULL)
		return;
	ASN1_TIME_print(b, t);
	bio_text(b, out, size);
}

/* "sha256:AB:CD:..." of the certificate. */
static void
fingerprint(X509 *x, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	size_t o;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || size < 8 + n * 3)
		return;
	o = (size_t)snprintf(out, size, "sha256:");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, size - o, i ? ":%02X" : "%02X",
		    md[i]);
}

/* A rejected certificate in plain words, with the way out. */
static int
explain_verify(struct sess *s, const struct verify_note *n,
    struct dm_err *err)
{
	char names[400] = "", issuer[DM_SMTP_TEXT_MAX] = "",
	    expiry[64] = "", fp[120] = "";
	const char *host = s->p->host;

	if (n->leaf != NULL) {
		cert_names(n->leaf, names, sizeof names);
		name_text(X509_get_issuer_name(n->leaf), issuer,
		    sizeof issuer);
		time_text(X509_get0_notAfter(n->leaf), expiry, sizeof expiry);
		fingerprint(n->leaf, fp, sizeof fp);
	}
	switch (n->error) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s is for other names: %s"),
		    host, names[0] ? names : "(none)");
		return dm_err_hint(err, _("set host to a name the certificate holds; a wrong name can mean the connection is intercepted"));
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		dm_err_set(err, DM_ETLS,
		    _("%s uses a self-signed certificate (issuer: %s)"), host,
		    issuer);
		return dm_err_hint(err, _("if you trust this server, put its certificate in ca_file, or pin it with tls_fingerprint = %s"),
		    fp);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s is issued by an unknown authority: %s"),
		    host, issuer);
		return dm_err_hint(err, _("for a server with its own CA, set ca_file to that CA's certificate"));
	case X509_V_ERR_CERT_HAS_EXPIRED:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s expired on %s"), host, expiry);
		return dm_err_hint(err, _("the server's administrator must renew it; check also this machine's clock"));
	case X509_V_ERR_CERT_NOT_YET_VALID:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s is not valid yet"), host);
		return dm_err_hint(err, _("check this machine's date and time"));
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s comes with a chain of more than %d intermediate certificates"),
		    host, TLS_CHAIN_MAX);
		return dm_err_hint(err, _("no real server needs that many: its administrator must fix the chain (issuer of the certificate: %s)"),
		    issuer);
	default:
		dm_err_set(err, DM_ETLS,
		    _("the certificate of %s was rejected: %s"), host,
		    X509_verify_cert_error_string(n->error));
		return dm_err_hint(err, _("issuer: %s; names: %s"), issuer, names);
	}
}

static int
check_pin(struct sess *s, struct dm_err *err)
{
	X509 *x = SSL_get0_peer_certificate(s->ssl);
	char fp[120];

	if (x == NULL)
		return dm_err_set(err, DM_ETLS,
		    _("%s sent no certificate"), s->p->host);
	fingerprint(x, fp, sizeof fp);
	if (strcasecmp(fp, s->p->fingerprint) == 0)
		return 0;
	dm_err_set(err, DM_ETLS,
	    _("the certificate of %s does not match tls_fingerprint: it is %s"),
	    s->p->host, fp);
	return dm_err_hint(err, _("if the server's certificate was renewed on purpose, update tls_fingerprint; otherwise the connection may be intercepted"));
}

static void
fill_report(struct sess *s)
{
	struct dm_smtp_report *r = s->rep;
	X509 *x;

	if (r == NULL)
		return;
	dm_strlcpy(r->tls_version, SSL_get_version(s->ssl),
	    sizeof r->tls_version);
	dm_strlcpy(r->tls_cipher, SSL_get_cipher_name(s->ssl),
	    sizeof r->tls_cipher);
	if ((x = SSL_get0_peer_certificate(s->ssl)) != NULL) {
		name_text(X509_get_subject_name(x), r->cert_subject,
		    sizeof r->cert_subject);
		name_text(X509_get_issuer_name(x), r->cert_issuer,
		    sizeof r->cert_issuer);
		time_text(X509_get0_notAfter(x), r->cert_expiry,
		    sizeof r->cert_expiry);
	}
}

/* Drives a non-blocking handshake to its end or the deadline. */
static int
handshake_io(SSL *ssl, int fd, int ms, const struct sess *s)
{
	struct timespec t0;
	int r, e, left;

	dm_clock_now(&t0);
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(ssl)) == 1)
			return 1;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return -1;
		if (s != NULL && smtpi_sess_cancelled(s))
			return -2;
		if ((left = ms - (int)dm_clock_ms_since(&t0)) <= 0)
			return 0;
		if (smtpi_net_wait(fd,
		    e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		    left < 200 ? left : 200) == -1)
			return -1;
	}
}

int
smtpi_tls_handshake(struct sess *s, struct dm_err *err)
{
	struct verify_note *n;
	unsigned long e;
	int r;

	if (smtpi_tls_setup(s, err) == -1)
		return -1;
	r = handshake_io(s->ssl, s->fd, s->p->timeout * 1000, s);
	n = SSL_get_ex_data(s->ssl, note_index);
	if (r == 1) {
		if (s->p->fingerprint != NULL && s->p->fingerprint[0] != '\0' &&
		    check_pin(s, err) == -1)
			goto fail;
		fill_report(s);
		smtpi_sess_step(s, DM_STEP_TLS, 1, SSL_get_version(s->ssl));
		return 0;
	}
	if (r == 0) {
		dm_err_set(err, DM_ETEMP,
		    _("TLS handshake with %s port %d: no answer within %d seconds"),
		    s->p->host, s->p->port, s->p->timeout);
		dm_err_hint(err, _("port 465 uses security = ssl, 587 uses starttls; check that the port matches"));
		goto fail;
	}
	if (r == -2) {
		dm_err_set(err, DM_ETEMP, _("cancelled during the TLS handshake"));
		goto fail;
	}
	if (n != NULL && n->error != X509_V_OK && SSL_get_app_data(s->ssl) == NULL) {
		explain_verify(s, n, err);
		goto fail;
	}
	e = ERR_peek_error();
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
	    ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG) &&
	    s->p->security == DM_SEC_STARTTLS) {
		/* After its 220 to STARTTLS: no port mix-up, plain text. */
		dm_err_set(err, DM_EPROTO,
		    _("%s port %d sent plain text after agreeing to STARTTLS, instead of the TLS handshake"),
		    s->p->host, s->p->port);
		dm_err_hint(err, _("nothing was sent: injected plain text is what an attacker on the way would send, or the server is broken; try another network, or ask the provider"));
		ERR_clear_error();
		goto fail;
	}
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
	    ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG)) {
		dm_err_set(err, DM_ECONFIG,
		    _("%s port %d does not speak TLS from the first byte: it answered in plain text"),
		    s->p->host, s->p->port);
		dm_err_hint(err, _("port 465 uses security = ssl, 587 uses starttls: set security = starttls for this port"));
		ERR_clear_error();
		goto fail;
	}
	dm_err_set(err, DM_ETLS, _("TLS handshake with %s failed: %s"),
	    s->p->host, e != 0 ? ERR_reason_error_string(e) :
	    _("connection closed"));
	dm_err_hint(err, _("the server may require a newer TLS version, or the port may not be an SMTP port"));
	ERR_clear_error();
fail:
	smtpi_sess_step(s, DM_STEP_TLS, 0, err->msg);
	return -1;
}

/*
 * Is there an implicit-TLS server at host:port?  Asked when a plain
 * connection got no greeting: a TLS server waits silently for us.  A
 * TLS server answers within milliseconds, so the probe takes at most
 * ms (a second at least).
 */
int
smtpi_tls_probe(struct sess *s, int ms)
{
	struct sess probe;
	struct dm_smtp_params p = *s->p;
	struct dm_err err;
	SSL_CTX *ctx;
	SSL *ssl;
	int r = 0;

	p.event = NULL;
	ms = ms < 1000 ? 1000 : ms < 5000 ? ms : 5000;
	p.timeout = ms / 1000;
	memset(&probe, 0, sizeof probe);
	probe.p = &p;
	probe.fd = -1;
	if (smtpi_net_connect(&probe, &err) == -1)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out;
	if ((ssl = SSL_new(ctx)) != NULL) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		if (!is_ip_literal(p.host))
			(void)SSL_set_tlsext_host_name(ssl, p.host);
		if (SSL_set_fd(ssl, probe.fd) == 1 &&
		    handshake_io(ssl, probe.fd, ms, NULL) == 1)
			r = 1;
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	ERR_clear_error();
out:
	close(probe.fd);
	return r;
}
