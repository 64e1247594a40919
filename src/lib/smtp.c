/*
 * smtp.c - one SMTP session over libESMTP on docmail's own connection
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <auth-client.h>
#include <libesmtp.h>
#include <openssl/crypto.h>

#include <docmail/i18n.h>

#include "smtp-int.h"

/*
 * libESMTP insists on connecting by itself and has no way to be given
 * a socket.  It is pointed at 127.0.0.1 port 1, and this connect(),
 * which takes precedence over the C library's for the whole program,
 * hands it the relay's end of a socketpair instead: no listening
 * socket exists that another local user could reach.  Only the thread
 * that armed the hand-over is affected.
 */
static __thread int handover_fd = -1;

static int
is_handover_addr(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

	return sa != NULL && len >= sizeof *in && sa->sa_family == AF_INET &&
	    in->sin_port == htons(1) &&
	    in->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	int fl, fdfl;

	if (handover_fd >= 0 && is_handover_addr(sa, len)) {
		fl = fcntl(fd, F_GETFL);
		fdfl = fcntl(fd, F_GETFD);
		if (dup2(handover_fd, fd) == -1)
			return -1;
		if (fl != -1)
			(void)fcntl(fd, F_SETFL, fl);
		(void)fcntl(fd, F_SETFD, fdfl == -1 ? FD_CLOEXEC :
		    fdfl | FD_CLOEXEC);
		close(handover_fd);
		handover_fd = -1;
		return 0;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "connect");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, sa, len);
}

/* The message libESMTP is at, for events: 0 before the first MAIL. */
static size_t
sess_msg(const struct sess *s)
{
	return s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg;
}

void
smtpi_sess_step(struct sess *s, enum dm_smtp_step step, int ok,
    const char *text)
{
	struct dm_smtp_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = DM_EV_STEP;
	ev.step = step;
	ev.ok = ok;
	ev.ms = dm_clock_ms_since(&s->t_step);
	ev.text = text;
	ev.msg = sess_msg(s);
	dm_clock_now(&s->t_step);
	if (s->p->event != NULL)
		s->p->event(s->p->arg, &ev);
}

void
smtpi_sess_log(struct sess *s, const char *dir, const char *line, size_t n)
{
	struct dm_smtp_event ev;
	char buf[600], clean[512];

	if (s->p->event == NULL)
		return;
	smtpi_sanitize(clean, sizeof clean, line, n);
	(void)snprintf(buf, sizeof buf, "%s%s", dir, clean);
	memset(&ev, 0, sizeof ev);
	ev.kind = DM_EV_LOG;
	ev.text = buf;
	ev.msg = sess_msg(s);
	s->p->event(s->p->arg, &ev);
}

int
smtpi_sess_fail(struct sess *s, const struct dm_err *e)
{
	pthread_mutex_lock(&s->lock);
	if (!s->failed) {
		s->err = *e;
		s->failed = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return -1;
}

int
smtpi_sess_cancelled(const struct sess *s)
{
	return s->p->cancel != NULL && atomic_load(s->p->cancel) != 0;
}

const char *
dm_smtp_step_name(enum dm_smtp_step step)
{
	/*
	 * TRANSLATORS: the steps of a connection, as the screens show them
	 * ("Done: resolve, connect, TLS"); EHLO, TLS, AUTH and QUIT are
	 * protocol words.
	 */
	static const char *const names[DM_STEP_COUNT] = {
		N_("resolve"), N_("connect"), N_("greeting"), "EHLO", "TLS",
		N_("token"), "AUTH", N_("sender check"), N_("recipients"),
		N_("data"), "QUIT"
	};

	return (unsigned)step < DM_STEP_COUNT ? names[step] : "?";
}

const char *
dm_smtp_step_label(enum dm_smtp_step step)
{
	return _(dm_smtp_step_name(step));
}

const char *
dm_smtp_rcpt_status_name(enum dm_rcpt_status st)
{
	switch (st) {
	case DM_RCPT_OK:
		return "ok";
	case DM_RCPT_TEMP:
		return "later";
	case DM_RCPT_PERM:
		return "refused";
	default:
		return "not sent";
	}
}

static int
is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

int
dm_smtp_check_params(const struct dm_smtp_params *p, struct dm_err *err)
{
	if (p->host == NULL || p->host[0] == '\0')
		return dm_err_set(err, DM_ECONFIG, _("no SMTP host configured"));
	if (p->port < 1 || p->port > 65535)
		return dm_err_set(err, DM_ECONFIG, _("invalid port %d"), p->port);
	if (p->timeout < 1)
		return dm_err_set(err, DM_ECONFIG, _("invalid timeout %d"),
		    p->timeout);
	if (p->user != NULL && strlen(p->user) > DM_SMTP_CRED_MAX) {
		dm_err_set(err, DM_ECONFIG,
		    _("the user name is longer than %d bytes"), DM_SMTP_CRED_MAX);
		return dm_err_hint(err, _("use a shorter user name; SMTP logins longer than that are not supported"));
	}
	if (p->password != NULL && strlen(p->password) > DM_SMTP_CRED_MAX) {
		dm_err_set(err, DM_ECONFIG,
		    _("the password is longer than %d bytes"), DM_SMTP_CRED_MAX);
		return dm_err_hint(err, _("use a shorter password or app password"));
	}
	if (p->token != NULL && (p->user == NULL || *p->user == '\0')) {
		dm_err_set(err, DM_ECONFIG,
		    _("an OAuth2 login needs the user name the token is for"));
		return dm_err_hint(err, _("set user in the profile, e.g. 'user = anna@firma.example'"));
	}
	if (p->user != NULL && p->security == DM_SEC_NONE &&
	    !is_loopback(p->host)) {
		dm_err_set(err, DM_ECONFIG,
		    _("refusing to send the password unencrypted to '%s' (security = none)"),
		    p->host);
		return dm_err_hint(err, _("use security = starttls (port 587) or ssl (port 465); a login without TLS is allowed only to this machine"));
	}
	return 0;
}

/*
 * Before TLS the server speaks only when spoken to: bytes waiting before
 * docmail's next command are pipelining abuse or injected, and would be
 * read as the reply to that command.
 */
static int
out_of_turn(struct sess *s, const char *when, struct dm_err *err)
{
	if (!smtpi_net_pending(s))
		return 0;
	dm_err_set(err, DM_EPROTO,
	    _("%s port %d sent data nobody asked for %s"),
	    s->p->host, s->p->port, when);
	return dm_err_hint(err, "%s", HINT_BROKEN_SERVER);
}

/* Nothing at all came within ms: no greeting, not even part of one. */
static int
silent(const struct sess *s, const struct dm_buf *got,
    const struct dm_err *err)
{
	/*
	 * By class and state, not by the message's words: those are
	 * translated.  Nothing read and no partial reply leaves the
	 * timeout ("no reply ..."), unless the user cancelled.
	 */
	return got->len == 0 && err->code == DM_ETEMP &&
	    err->hint[0] == '\0' && !smtpi_sess_cancelled(s);
}

/*
 * The plain-text greeting.  An implicit-TLS port (465) waits silently
 * for a TLS ClientHello, so after 2 s of silence a second connection
 * asks whether TLS answers there: a second one, because a slow plain
 * server would take a ClientHello on this one for a command sent
 * before its greeting, and TLS would swallow the greeting.  A server
 * that answers neither is up but busy, not a wrong host or port.
 */
static int
greeting_wait(struct sess *s, struct dm_buf *greeting, int *code,
    const struct timespec *t0, struct dm_err *err)
{
	int total = s->p->timeout * 1000, first = total < 2000 ? total : 2000;
	int left;

	/*
	 * Only the start of the greeting is waited for briefly: once it
	 * begins, the rest of the timeout is its own (a greeting that began
	 * at 2 s failed as "only part of a reply" under valgrind).
	 */
	if (smtpi_net_wait_cancellable(s, s->fd, POLLIN, first) == 0 &&
	    smtpi_tls_probe(s, total - first)) {
		dm_err_set(err, DM_ECONFIG,
		    _("%s port %d expects TLS from the first byte, but security = starttls"),
		    s->p->host, s->p->port);
		return dm_err_hint(err, _("this port speaks TLS from the first byte: set security = ssl (port 465 uses security = ssl, 587 uses starttls)"));
	}
	/*
	 * A greeting that came while the probe ran is in time, and gets a
	 * second at least to be read (byte by byte, so slowly under
	 * valgrind).
	 */
	left = total - (int)dm_clock_ms_since(t0);
	if (smtpi_net_read_reply_ms(s, greeting, code,
	    left > 1000 ? left : 1000, err) == 0)
		return 0;
	if (silent(s, greeting, err)) {
		dm_err_set(err, DM_ETEMP,
		    _("the server at %s port %d did not answer within %d seconds: it may be busy"),
		    s->p->host, s->p->port, s->p->timeout);
		return dm_err_hint(err, _("try again later"));
	}
	if (err->code == DM_ETEMP && err->hint[0] == '\0' &&
	    !smtpi_sess_cancelled(s))
		dm_err_hint(err, _("check host and port; port 465 uses security = ssl, 587 uses starttls"));
	return -1;
}

/* Greeting, EHLO, STARTTLS in plain text, before the TLS handshake. */
static int
starttls(struct sess *s, struct dm_buf *greeting, struct dm_err *err)
{
	struct dm_buf r;
	struct timespec t0;
	char cmd[300], text[DM_SMTP_TEXT_MAX];
	int code, offered = 0, ret = -1;
	const char *l;

	dm_buf_init(&r, 0);
	dm_clock_now(&t0);
	if (greeting_wait(s, greeting, &code, &t0, err) == -1) {
		smtpi_sess_step(s, DM_STEP_GREETING, 0, err->msg);
		goto out;
	}
	smtpi_sess_log(s, "S: ", greeting->data, greeting->len);
	smtpi_sanitize(text, sizeof text, greeting->data + 4,
	    greeting->len > 4 ? greeting->len - 4 : 0);
	if (s->rep != NULL)
		dm_strlcpy(s->rep->greeting, text, sizeof s->rep->greeting);
	if (code != 220) {
		dm_err_set(err, code < 500 ? DM_ETEMP : DM_EREJECT,
		    _("the server is not accepting mail: server said: %d %s"),
		    code, text);
		err->smtp_code = code;
		dm_err_hint(err, _("try again later"));
		smtpi_sess_step(s, DM_STEP_GREETING, 0, err->msg);
		goto out;
	}
	smtpi_sess_step(s, DM_STEP_GREETING, 1, text);

	if (out_of_turn(s, _("before docmail's EHLO"), err) == -1) {
		smtpi_sess_step(s, DM_STEP_EHLO, 0, err->msg);
		goto out;
	}
	(void)snprintf(cmd, sizeof cmd, "EHLO %s\r\n",
	    s->p->helo != NULL ? s->p->helo : "localhost");
	smtpi_sess_log(s, "C: ", cmd, strlen(cmd));
	if (smtpi_net_write(s, cmd, strlen(cmd), err) == -1 ||
	    smtpi_net_read_reply(s, &r, &code, err) == -1) {
		smtpi_sess_step(s, DM_STEP_EHLO, 0, err->msg);
		goto out;
	}
	for (l = r.data; l != NULL && l < r.data + r.len; ) {
		const char *e = memchr(l, '\n', (size_t)(r.data + r.len - l));
		const char *end = r.data + r.len;
		const char *k = (size_t)(end - l) >= 4 ? l + 4 : end;

		smtpi_sess_log(s, "S: ", l,
		    e != NULL ? (size_t)(e - l) : strlen(l));
		/* Some servers put a blank after the dash: "250- STARTTLS". */
		while (k < end && (*k == ' ' || *k == '\t'))
			k++;
		if ((size_t)(end - k) >= 8 &&
		    strncasecmp(k, "STARTTLS", 8) == 0 &&
		    (k + 8 == end || k[8] == '\r' ||
		    k[8] == '\n' || k[8] == ' '))
			offered = 1;
		l = e != NULL ? e + 1 : NULL;
	}
	if (code != 250) {
		dm_err_set(err, DM_EPROTO, _("the server refused EHLO: %d"), code);
		smtpi_sess_step(s, DM_STEP_EHLO, 0, err->msg);
		goto out;
	}
	if (out_of_turn(s, _("after its reply to EHLO"), err) == -1) {
		smtpi_sess_step(s, DM_STEP_EHLO, 0, err->msg);
		goto out;
	}
	smtpi_sess_step(s, DM_STEP_EHLO, 1, NULL);
	if (!offered) {
		/* Never go on in clear: the password would follow. */
		dm_err_set(err, DM_ETLS,
		    _("%s port %d does not offer STARTTLS: nothing was sent"),
		    s->p->host, s->p->port);
		dm_err_hint(err, _("check host and port (587 is the usual STARTTLS port, 465 uses security = ssl); an attacker can also remove STARTTLS on the way"));
		smtpi_sess_step(s, DM_STEP_TLS, 0, err->msg);
		goto out;
	}
	smtpi_sess_log(s, "C: ", "STARTTLS", 8);
	if (smtpi_net_write(s, "STARTTLS\r\n", 10, err) == -1 ||
	    smtpi_net_read_reply(s, &r, &code, err) == -1) {
		smtpi_sess_step(s, DM_STEP_TLS, 0, err->msg);
		goto out;
	}
	smtpi_sess_log(s, "S: ", r.data, r.len);
	if (code != 220) {
		smtpi_sanitize(text, sizeof text, r.data + 4,
		    r.len > 4 ? r.len - 4 : 0);
		dm_err_set(err, code < 500 ? DM_ETEMP : DM_ETLS,
		    _("the server refused STARTTLS: server said: %d %s"), code,
		    text);
		err->smtp_code = code;
		dm_err_hint(err, _("nothing was sent in clear; try again later, or ask the provider"));
		smtpi_sess_step(s, DM_STEP_TLS, 0, err->msg);
		goto out;
	}
	/*
	 * The client speaks first in TLS: bytes here are plaintext that would
	 * be taken for part of the handshake, or worse, for the first reply
	 * inside TLS (CVE-2011-0411).  Never read them; stop.
	 */
	if (smtpi_net_pending(s)) {
		dm_err_set(err, DM_EPROTO,
		    _("%s port %d sent plain text after agreeing to STARTTLS, before the TLS handshake"),
		    s->p->host, s->p->port);
		dm_err_hint(err, _("nothing was sent: injected plain text is what an attacker on the way would send, or the server is broken; try another network, or ask the provider"));
		smtpi_sess_step(s, DM_STEP_TLS, 0, err->msg);
		goto out;
	}
	ret = 0;
out:
	dm_buf_release(&r);
	return ret;
}

/* libESMTP asks for user and password here, once. */
static int
interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct sess *s = arg;
	int i;

	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = (char *)s->p->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = (char *)s->p->password;
		else
			result[i] = (char *)"";
		if (result[i] == NULL)
			return 0;
	}
	return 1;
}

struct msgsrc {
	struct sess	*s;
	char		 buf[64 * 1024];
};

/* What libESMTP's message callback of one message is given. */
struct msgref {
	struct sess	*s;
	size_t		 i;
};

static const char *
message_cb(void **ctx, int *len, void *arg)
{
	struct msgref *ref = arg;
	struct sess *s = ref->s;
	struct dm_smtp_mail *mail = &s->mails[ref->i];
	struct msgsrc *m = *ctx;
	struct dm_err e;
	ssize_t n;

	if (m == NULL) {
		/* libESMTP frees this with free() when the message is done. */
		if ((m = calloc(1, sizeof *m)) == NULL)
			return NULL;
		m->s = s;
		*ctx = m;
	}
	if (len == NULL) {
		if (mail->rewind(mail->arg, &e) == -1)
			smtpi_sess_fail(s, &e);
		return NULL;
	}
	if (s->failed || smtpi_sess_cancelled(s)) {
		/* Abort without the final dot: nothing is delivered. */
		errno = ECANCELED;
		*len = 0;
		return NULL;
	}
	n = mail->read(mail->arg, m->buf, sizeof m->buf, &e);
	if (n < 0) {
		smtpi_sess_fail(s, &e);
		errno = ECANCELED;
		*len = 0;
		return NULL;
	}
	*len = (int)n;
	return n > 0 ? m->buf : NULL;
}

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void
auth_init(void)
{
	auth_client_init();
}

/* The empty message of a test: it never gets past RCPT. */
static int
empty_rewind(void *arg, struct dm_err *err)
{
	(void)arg;
	(void)err;
	return 0;
}

static ssize_t
empty_read(void *arg, char *buf, size_t n, struct dm_err *err)
{
	(void)arg;
	(void)buf;
	(void)n;
	(void)err;
	return 0;
}

static int
run(struct sess *s, const char *sender, struct dm_err *err)
{
	const struct dm_smtp_params *p = s->p;
	struct dm_smtp_mail test_mail;
	struct dm_buf greeting;
	smtp_session_t ss = NULL;
	smtp_message_t m;
	struct msgref *refs = NULL;
	auth_context_t actx = NULL;
	int sv[2] = { -1, -1 }, ret = -1, which;
	/* Milliseconds (libESMTP's documentation says seconds; it is not). */
	long tmo = ((long)p->timeout * 2 + 5) * 1000;
	size_t i, k;

	dm_buf_init(&greeting, 0);
	/*
	 * With OAuth2 the relay holds libESMTP's EHLO reply while it runs
	 * the token helper and up to two AUTH exchanges of its own: give
	 * libESMTP room for all of that; the relay still times each reply.
	 */
	if (p->token != NULL)
		tmo = ((long)p->timeout * 6 + 120) * 1000;
	/* Pacing holds a MAIL back in the relay; libESMTP waits meanwhile. */
	if (p->before_mail != NULL)
		tmo += 3600L * 1000;
	if (dm_smtp_check_params(p, err) == -1)
		return -1;
	dm_clock_now(&s->t_step);
	if (smtpi_net_connect(s, err) == -1)
		goto out;
	if (p->security == DM_SEC_STARTTLS &&
	    starttls(s, &greeting, err) == -1)
		goto out;
	if (p->security != DM_SEC_NONE && smtpi_tls_handshake(s, err) == -1)
		goto out;

	if (s->mails == NULL) {
		memset(&test_mail, 0, sizeof test_mail);
		test_mail.read = empty_read;
		test_mail.rewind = empty_rewind;
		test_mail.sender = sender;
		s->mails = &test_mail;
		s->nmails = 1;
		s->testing = 1;
	}
	s->mail = &s->mails[0];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		dm_err_set(err, DM_EINTERNAL, _("socketpair: %s"), strerror(errno));
		goto out;
	}
	s->app = sv[0];
	(void)fcntl(s->app, F_SETFL, fcntl(s->app, F_GETFL) | O_NONBLOCK);

	if ((ss = smtp_create_session()) == NULL ||
	    (refs = calloc(s->nmails, sizeof *refs)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("cannot create the SMTP session"));
		goto out;
	}
	smtp_set_server(ss, "127.0.0.1:1");
	smtp_set_hostname(ss, p->helo != NULL ? p->helo : "localhost");
	smtp_starttls_enable(ss, Starttls_DISABLED);
	/* The relay keeps the real timeouts; these only bound libESMTP. */
	for (which = Timeout_GREETING; which <= Timeout_DATA2; which++)
		smtp_set_timeout(ss, which | Timeout_OVERRIDE_RFC2822_MINIMUM,
		    tmo);
	if (p->user != NULL && p->token != NULL)
		s->need_auth = s->oauth = 1;	/* the relay logs in itself */
	else if (p->user != NULL && p->password != NULL) {
		s->need_auth = 1;
		pthread_once(&auth_once, auth_init);
		if ((actx = auth_create_context()) == NULL) {
			dm_err_set(err, DM_ENOMEM, _("cannot create the login context"));
			goto out;
		}
		/* PLAIN and LOGIN are safe here: TLS is ours, or loopback. */
		auth_set_mechanism_flags(actx, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(actx, interact, s);
		smtp_auth_set_context(ss, actx);
	}
	for (k = 0; k < s->nmails; k++) {
		struct dm_smtp_mail *mail = &s->mails[k];

		if ((m = smtp_add_message(ss)) == NULL) {
			dm_err_set(err, DM_ENOMEM, _("cannot create the SMTP session"));
			goto out;
		}
		refs[k].s = s;
		refs[k].i = k;
		smtp_set_reverse_path(m, mail->sender);
		smtp_set_header_option(m, "Bcc", Hdr_PROHIBIT, 1);
		smtp_set_messagecb(m, message_cb, &refs[k]);
		if (mail->size > 0)
			smtp_size_set_estimate(m, (unsigned long)mail->size);
		if (s->testing)
			smtp_add_recipient(m, sender);
		for (i = 0; !s->testing && i < mail->nrcpt; i++)
			if (smtp_add_recipient(m, mail->rcpt[i].mailbox) ==
			    NULL) {
				dm_err_set(err, DM_ENOMEM, _("out of memory"));
				goto out;
			}
	}
	s->rcpt_left = s->testing ? 1 : (int)s->mail->nrcpt;

	if (smtpi_pump_start(s, greeting.len > 0 ? greeting.data : NULL,
	    greeting.len, err) == -1)
		goto out;
	handover_fd = sv[1];
	sv[1] = -1;
	(void)smtp_start_session(ss);
	if (handover_fd != -1) {
		close(handover_fd);
		handover_fd = -1;
		smtpi_pump_join(s);
		dm_err_set(err, DM_EINTERNAL,
		    _("libESMTP did not take the connection docmail prepared"));
		goto out;
	}
	smtpi_pump_join(s);
	/* The message in flight when the session ended, if any. */
	smtpi_sess_done(s, s->begun, s->failed ? &s->err : NULL);
	if (s->failed) {
		*err = s->err;
		goto out;
	}
	if (s->testing) {
		if (s->state != RS_DONE) {
			dm_err_set(err, DM_EPROTO,
			    _("the test ended early: %s"), smtp_strerror(
			    smtp_errno(), (char[128]){ 0 }, 128));
			goto out;
		}
		ret = 0;
		goto out;
	}
	ret = 0;
out:
	if (s->testing)
		s->mail = s->mails = NULL;
	free(refs);
	if (ss != NULL)
		smtp_destroy_session(ss);
	if (actx != NULL)
		auth_destroy_context(actx);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	smtpi_tls_free(s);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	dm_buf_release(&greeting);
	return ret;
}

static void
sess_init(struct sess *s, const struct dm_smtp_params *p,
    struct dm_smtp_mail *mail, struct dm_smtp_report *rep)
{
	memset(s, 0, sizeof *s);
	s->p = p;
	s->mail = s->mails = mail;
	s->nmails = mail != NULL ? 1 : 0;
	s->cmd_msg = SIZE_MAX;
	s->rep = rep;
	s->fd = -1;
	s->app = -1;
	pthread_mutex_init(&s->lock, NULL);
	if (rep != NULL)
		memset(rep, 0, sizeof *rep);
}

int
dm_smtp_test(const struct dm_smtp_params *p, const char *sender,
    struct dm_smtp_report *rep, struct dm_err *err)
{
	struct sess s;
	int r;

	sess_init(&s, p, NULL, rep);
	r = run(&s, sender, err);
	pthread_mutex_destroy(&s.lock);
	return r;
}

int
smtpi_sender_refused(int code, const char *text)
{
	static const char *const owned[] = {
		"not owned", "SendAsDenied", "5.2.252", "send as",
		"sender rejected"
	};
	static const char *const denied[] = {
		"not allowed", "not permitted", "not authori", "denied"
	};
	size_t i;

	if (code < 500)
		return 0;
	for (i = 0; i < sizeof owned / sizeof owned[0]; i++)
		if (strcasestr(text, owned[i]) != NULL)
			return 1;
	if (strcasestr(text, "sender") == NULL)
		return 0;
	for (i = 0; i < sizeof denied / sizeof denied[0]; i++)
		if (strcasestr(text, denied[i]) != NULL)
			return 1;
	return 0;
}

int
smtpi_hint_sender(struct dm_err *err, const char *addr)
{
	return dm_err_hint(err,
	    _("this account may not send as %s: use your own address as email, or allow_from_override = no"),
	    addr);
}

static int
refused_sender(const struct dm_smtp_mail *mail, int code, const char *text,
    struct dm_err *err)
{
	dm_err_set(err, DM_EREJECT,
	    _("the server refused mail from '%s' for this login: server said: %d %s"),
	    mail->sender, code, text);
	err->smtp_code = code;
	return smtpi_hint_sender(err, mail->sender);
}

/* After a session that ran to its end: the message, then the recipients. */
static int
judge(struct dm_smtp_mail *mail, struct dm_err *err)
{
	const struct dm_smtp_rcpt *bad = NULL;
	size_t i, ok = 0, temp = 0;

	for (i = 0; i < mail->nrcpt; i++) {
		if (mail->rcpt[i].status == DM_RCPT_OK)
			ok++;
		else {
			if (mail->rcpt[i].status != DM_RCPT_PERM)
				temp++;
			if (bad == NULL)
				bad = &mail->rcpt[i];
		}
	}
	/*
	 * A login that may not use this sender: Postfix says so at every
	 * RCPT, Microsoft 365 after the data.  Either way the address, not
	 * the recipients, is what to fix.
	 */
	if (!mail->accepted && bad != NULL && smtpi_sender_refused(bad->code,
	    bad->text))
		return refused_sender(mail, bad->code, bad->text, err);
	if (!mail->accepted && smtpi_sender_refused(mail->code, mail->reply))
		return refused_sender(mail, mail->code, mail->reply, err);
	if (mail->accepted) {
		if (bad == NULL)
			return 0;
		dm_err_set(err, temp > 0 ? DM_ETEMP : DM_EREJECT,
		    _("not delivered to %zu of %zu recipients; '%s': server said: %d %s"),
		    mail->nrcpt - ok, mail->nrcpt, bad->mailbox, bad->code,
		    bad->text);
		err->smtp_code = bad->code;
		return dm_err_hint(err, _("the others received it; 'docmail outbox --retry' later sends only to those who did not"));
	}
	if (ok == 0 && bad != NULL) {
		dm_err_set(err, temp > 0 ? DM_ETEMP : DM_EREJECT,
		    _("every recipient was refused; '%s': server said: %d %s"),
		    bad->mailbox, bad->code, bad->text);
		err->smtp_code = bad->code;
		return dm_err_hint(err, _("check the addresses"));
	}
	/* No reply to the data at all: never show the user "said: 0". */
	if (mail->code == 0) {
		dm_err_set(err, DM_ETEMP,
		    _("the session ended before the server answered the message"));
		return dm_err_hint(err, "%s", mail->maybe_delivered ?
		    _("the server may have accepted it: ask a recipient before sending it again") :
		    _("nothing was delivered; the message stays in the outbox: 'docmail outbox --retry' later"));
	}
	dm_err_set(err, mail->code >= 500 ? DM_EREJECT : DM_ETEMP,
	    _("the server did not accept the message: server said: %d %s"),
	    mail->code, mail->reply);
	err->smtp_code = mail->code;
	if (mail->code == 552)
		return dm_err_hint(err, _("the message is too large for this server: send fewer or smaller documents"));
	if (mail->code >= 500)
		return dm_err_hint(err, _("the server refuses this message; its text above says why"));
	return dm_err_hint(err, _("a temporary problem; the message stays in the outbox: 'docmail outbox --retry' later"));
}

int
dm_smtp_send(const struct dm_smtp_params *p, struct dm_smtp_mail *mail,
    struct dm_smtp_report *rep, struct dm_err *err)
{
	struct sess s;
	size_t i;
	int r;

	for (i = 0; i < mail->nrcpt; i++) {
		mail->rcpt[i].status = DM_RCPT_PENDING;
		mail->rcpt[i].code = 0;
		mail->rcpt[i].text[0] = '\0';
	}
	mail->accepted = mail->maybe_delivered = mail->code = 0;
	mail->reply[0] = '\0';
	sess_init(&s, p, mail, rep);
	r = run(&s, mail->sender, err);
	pthread_mutex_destroy(&s.lock);
	if (r == -1)
		return -1;
	return judge(mail, err);
}

void
smtpi_sess_done(struct sess *s, size_t upto, const struct dm_err *failed)
{
	struct dm_err e;
	struct dm_smtp_mail *mail;

	if (s->p->done == NULL || s->testing)
		return;
	for (; s->ndone < upto && s->ndone < s->nmails; s->ndone++) {
		mail = &s->mails[s->ndone];
		if (failed != NULL && !mail->accepted)
			s->p->done(s->p->arg, s->ndone, failed);
		else
			s->p->done(s->p->arg, s->ndone,
			    judge(mail, &e) == 0 ? NULL : &e);
	}
}

int
dm_smtp_send_many(const struct dm_smtp_params *p, struct dm_smtp_mail *mails,
    size_t n, size_t *begun, struct dm_err *err)
{
	struct sess s;
	size_t i, k;
	int r;

	if (begun != NULL)
		*begun = 0;
	if (n == 0)
		return 0;
	for (k = 0; k < n; k++) {
		for (i = 0; i < mails[k].nrcpt; i++) {
			mails[k].rcpt[i].status = DM_RCPT_PENDING;
			mails[k].rcpt[i].code = 0;
			mails[k].rcpt[i].text[0] = '\0';
		}
		mails[k].accepted = mails[k].maybe_delivered = 0;
		mails[k].code = 0;
		mails[k].reply[0] = '\0';
	}
	sess_init(&s, p, mails, NULL);
	s.nmails = n;
	r = run(&s, mails[0].sender, err);
	pthread_mutex_destroy(&s.lock);
	if (begun != NULL)
		*begun = s.begun;
	return r;
}
