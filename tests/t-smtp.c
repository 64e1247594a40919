/*
 * t-smtp.c - the SMTP engine against a scripted server in this process
 *
 * The server thread answers plain SMTP (security = none on loopback),
 * which is enough to test what the relay decides: reply parsing, the
 * one AUTH mechanism offered to libESMTP, no MAIL without a 235, the
 * per-recipient results, the final dot and "may have been delivered".
 * TLS and the real faults are covered by tests/smtp.sh.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <docmail/smtp.h>

#include "../src/lib/smtp-int.h"
#include "tap.h"

/* One scripted session: reply to each command by its first letters. */
struct script {
	int		 lfd;
	const char	*greeting;
	const char	*ehlo;		/* full multi-line reply */
	const char	*auth;		/* reply to AUTH, or NULL */
	const char	*rcpt_bad;	/* this mailbox gets 550 */
	const char	*mail;		/* reply to MAIL, NULL: 250 */
	const char	*rcpt;		/* reply to every RCPT, NULL: 250/550 */
	const char	*dot;		/* reply to the final dot; NULL: hang up */
	char		 log[8192];	/* commands seen, one per line */
	char		 data[8192];	/* message as received */
};

static void
logcmd(struct script *sc, const char *l)
{
	size_t n = strlen(sc->log);

	(void)snprintf(sc->log + n, sizeof sc->log - n, "%s", l);
}

static void *
server(void *arg)
{
	struct script *sc = arg;
	char line[2048];
	FILE *in, *out;
	int fd, data = 0;

	if ((fd = accept(sc->lfd, NULL, NULL)) == -1)
		return NULL;
	in = fdopen(fd, "r");
	out = fdopen(dup(fd), "w");
	fputs(sc->greeting, out);
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL) {
		if (data) {
			if (strcmp(line, ".\r\n") == 0) {
				data = 0;
				if (sc->dot == NULL)
					break;
				fputs(sc->dot, out);
			} else if (strlen(sc->data) + strlen(line) <
			    sizeof sc->data)
				strcat(sc->data, line);
			fflush(out);
			continue;
		}
		logcmd(sc, line);
		/* RFC 3030 chunks, so that a client using them is seen to. */
		if (strncmp(line, "BDAT ", 5) == 0) {
			size_t k, len = strtoul(line + 5, NULL, 10);
			size_t have = strlen(sc->data);

			for (k = 0; k < len; k++) {
				int c = fgetc(in);

				if (c == EOF)
					break;
				if (have + 1 < sizeof sc->data)
					sc->data[have++] = (char)c;
			}
			if (strstr(line, "LAST") != NULL && sc->dot != NULL)
				fputs(sc->dot, out);
			else
				fputs("250 2.0.0 chunk ok\r\n", out);
		} else if (strncmp(line, "EHLO", 4) == 0)
			fputs(sc->ehlo, out);
		else if (strncmp(line, "AUTH", 4) == 0)
			fputs(sc->auth ? sc->auth : "503 no\r\n", out);
		else if (strncmp(line, "MAIL", 4) == 0)
			fputs(sc->mail ? sc->mail : "250 2.1.0 Ok\r\n", out);
		else if (strncmp(line, "RCPT", 4) == 0)
			fputs(sc->rcpt ? sc->rcpt :
			    sc->rcpt_bad != NULL && strstr(line, sc->rcpt_bad) ?
			    "550 5.1.1 unknown\r\n" : "250 2.1.5 Ok\r\n", out);
		else if (strncmp(line, "DATA", 4) == 0 && sc->rcpt != NULL &&
		    sc->rcpt[0] != '2')
			fputs("554 5.5.1 Error: no valid recipients\r\n", out);
		else if (strncmp(line, "DATA", 4) == 0) {
			fputs("354 go ahead\r\n", out);
			data = 1;
		} else if (strncmp(line, "RSET", 4) == 0)
			fputs("250 Ok\r\n", out);
		else if (strncmp(line, "QUIT", 4) == 0) {
			fputs("221 Bye\r\n", out);
			fflush(out);
			break;
		} else
			fputs("502 unknown\r\n", out);
		fflush(out);
	}
	fclose(in);
	fclose(out);
	return NULL;
}

static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

struct memsrc {
	const char	*s;
	size_t		 off;
};

static ssize_t
mem_read(void *arg, char *buf, size_t n, struct dm_err *err)
{
	struct memsrc *m = arg;
	size_t left = strlen(m->s) - m->off;

	(void)err;
	if (n > left)
		n = left;
	memcpy(buf, m->s + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int
mem_rewind(void *arg, struct dm_err *err)
{
	(void)err;
	((struct memsrc *)arg)->off = 0;
	return 0;
}

/*
 * "dual.test" resolves to ::1 then 127.0.0.1, as a host with both
 * kinds of address does; nothing listens on ::1, so a client that gives
 * up after the first address fails.  Defined here, it replaces the C
 * library's for this program.
 */
static int dual_port;

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **);
	struct addrinfo h, *six = NULL, *four = NULL;
	char port[16];

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (node == NULL || strcmp(node, "dual.test") != 0)
		return real(node, service, hints, res);
	(void)snprintf(port, sizeof port, "%d", dual_port);
	memset(&h, 0, sizeof h);
	h.ai_socktype = SOCK_STREAM;
	h.ai_flags = AI_NUMERICHOST;
	h.ai_family = AF_INET6;
	if (real("::1", port, &h, &six) != 0)
		return EAI_FAIL;
	h.ai_family = AF_INET;
	if (real("127.0.0.1", port, &h, &four) != 0)
		return EAI_FAIL;
	six->ai_next = four;
	*res = six;
	return 0;
}

static const char msg[] =
    "From: a@example.test\r\nTo: b@x.test\r\nSubject: t\r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n"
    "\r\nline\r\n.\r\n..dots\r\n";

static char transcript[8192];

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	size_t n = strlen(transcript);

	(void)arg;
	if (ev->kind == DM_EV_LOG)
		(void)snprintf(transcript + n, sizeof transcript - n, "%s\n",
		    ev->text);
}

/* Starts script sc's server thread and fills p to reach it. */
static int
script_start(struct script *sc, struct dm_smtp_params *p, pthread_t *t,
    const char *user, const char *pw)
{
	int port;

	memset(sc->log, 0, sizeof sc->log);
	memset(sc->data, 0, sizeof sc->data);
	transcript[0] = '\0';
	if ((sc->lfd = listen_any(&port)) == -1)
		return -1;
	pthread_create(t, NULL, server, sc);
	memset(p, 0, sizeof *p);
	p->host = "127.0.0.1";
	p->port = port;
	p->security = DM_SEC_NONE;
	p->timeout = 3;
	p->user = user;
	p->password = pw;
	p->event = on_event;
	return 0;
}

static void
script_stop(struct script *sc, pthread_t t)
{
	shutdown(sc->lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(sc->lfd);
}

/* Runs "docmail test" against script sc; returns dm_smtp_test's result. */
static int
test_session(struct script *sc, const char *user, const char *pw,
    struct dm_err *err)
{
	struct dm_smtp_params p;
	pthread_t t;
	int r;

	if (script_start(sc, &p, &t, user, pw) == -1)
		return -2;
	dm_err_clear(err);
	r = dm_smtp_test(&p, "a@example.test", NULL, err);
	script_stop(sc, t);
	return r;
}

/* Runs one send against script sc; returns dm_smtp_send's result. */
static int
session(struct script *sc, const char *user, const char *pw,
    struct dm_smtp_rcpt *rcpt, size_t nrcpt, struct dm_smtp_mail *mail,
    struct dm_err *err)
{
	struct dm_smtp_params p;
	struct memsrc src = { msg, 0 };
	pthread_t t;
	int r;

	if (script_start(sc, &p, &t, user, pw) == -1)
		return -2;
	memset(mail, 0, sizeof *mail);
	mail->sender = "a@example.test";
	mail->rcpt = rcpt;
	mail->nrcpt = nrcpt;
	mail->size = sizeof msg - 1;
	mail->read = mem_read;
	mail->rewind = mem_rewind;
	mail->arg = &src;
	dm_err_clear(err);
	r = dm_smtp_send(&p, mail, NULL, err);
	script_stop(sc, t);
	return r;
}

/*
 * Microsoft 365's EHLO after STARTTLS, Postfix's CHUNKING included:
 * libESMTP, told CHUNKING, sent BDAT, and the relay never saw the
 * server accept the data (every invoice reported failed, then resent).
 */
static const char ehlo_m365[] =
    "250-test Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n"
    "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n"
    "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

static void
test_real_ehlo(void)
{
	struct script sc;
	struct dm_smtp_mail mail;
	struct dm_smtp_rcpt rc[2];
	struct dm_err err;

	memset(&sc, 0, sizeof sc);
	sc.greeting = "220 test Microsoft ESMTP MAIL Service ready\r\n";
	sc.ehlo = ehlo_m365;
	sc.auth = "235 2.7.0 Authentication successful\r\n";
	sc.dot = "250 2.0.0 OK <1@example.test> [Hostname=X]\r\n";
	memset(rc, 0, sizeof rc);
	rc[0].mailbox = "b@x.test";
	rc[1].mailbox = "c@x.test";
	is_int(session(&sc, "anna", "secret", rc, 2, &mail, &err), 0,
	    "CHUNKING offered: the send succeeds: %s", err.msg);
	is_int(mail.accepted, 1, "the server's acceptance is seen");
	ok(strstr(sc.log, "\nDATA\r\n") != NULL && strstr(sc.log, "BDAT") == NULL,
	    "by DATA, never BDAT");
	ok(strstr(sc.log, "BODY=") == NULL && strstr(sc.log, "SMTPUTF8") == NULL &&
	    strstr(sc.log, "RET=") == NULL, "with no parameter of an unused extension");
	ok(strstr(sc.data, "\r\nline\r\n..\r\n...dots\r\n") != NULL,
	    "the data dot-stuffed, as DATA wants it");
	ok(strstr(transcript, "S: 250-CHUNKING") != NULL,
	    "the transcript still shows what the server offered");

	/* The test: MAIL, RCPT to the sender itself, RSET, QUIT; no data. */
	is_int(test_session(&sc, "anna", "secret", &err), 0,
	    "test against the same EHLO passes: %s", err.msg);
	ok(strstr(sc.log, "RCPT TO:<a@example.test>") != NULL &&
	    strstr(sc.log, "RSET") != NULL && strstr(sc.log, "QUIT") != NULL,
	    "it checks the sender with a RCPT to itself, then RSET");
	ok(strstr(sc.log, "DATA") == NULL && strstr(sc.log, "BDAT") == NULL &&
	    sc.data[0] == '\0', "and sends no message data");

	/* Postfix, smtpd_delay_reject = yes: the sender refused at RCPT. */
	sc.rcpt = "553 5.7.1 <a@example.test>: Sender address rejected: not owned by user anna\r\n";
	is_int(test_session(&sc, "anna", "secret", &err), -1,
	    "test: a sender refused at RCPT fails the sender check");
	is_int(err.code, DM_EREJECT, "as a refusal (exit 69), not a login problem");
	ok(strstr(err.hint, "may not send as a@example.test") != NULL,
	    "naming the address: %s", err.hint);
	is_int(session(&sc, "anna", "secret", rc, 2, &mail, &err), -1,
	    "send: the same refusal at every RCPT fails");
	ok(err.code == DM_EREJECT && strstr(err.hint, "may not send as") != NULL,
	    "as the sender, not the recipients: %s / %s", err.msg, err.hint);
	ok(strstr(sc.data, "line") == NULL, "nothing was delivered");
	sc.rcpt = NULL;

	/* OpenSMTPD: 530 after a successful login is about the sender. */
	sc.mail = "530 5.5.1 Sender rejected\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "530 'Sender rejected' at MAIL fails");
	ok(err.code == DM_EREJECT && strstr(err.hint, "may not send as") != NULL,
	    "as the sender after a good login, not as a login problem: %s",
	    err.hint);
	sc.mail = NULL;

	/* Microsoft 365 refuses a foreign From only after the data. */
	sc.dot = "554 5.2.252 SendAsDenied; anna@example.test not allowed to send as a@example.test\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "SendAsDenied after the data fails");
	ok(err.code == DM_EREJECT && strstr(err.hint, "may not send as") != NULL,
	    "with the sender hint: %s", err.hint);
	is_int(mail.maybe_delivered, 0, "and surely not delivered");

	/* A plain recipient refusal is still about the recipient. */
	sc.dot = "250 2.0.0 ok\r\n";
	sc.rcpt = "550 5.1.1 <b@x.test>: Recipient address rejected: User unknown\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "an unknown recipient fails");
	ok(strstr(err.hint, "may not send as") == NULL,
	    "without the sender hint: %s", err.hint);
	ok(strstr(transcript, "recipients ok") == NULL, "no 'recipients ok'");
}

/*
 * Feeds line to the relay as libESMTP would; returns smtpi_from_client's
 * result.
 */
static int
relay_line(const char *line, struct sess *s, struct dm_smtp_params *p)
{
	uint64_t dot = UINT64_MAX;

	memset(s, 0, sizeof *s);
	memset(p, 0, sizeof *p);
	p->host = "127.0.0.1";
	p->port = 25;
	p->timeout = 3;
	s->p = p;
	pthread_mutex_init(&s->lock, NULL);
	s->c2s.data = malloc(IOBUF_SIZE);
	dm_buf_init(&s->cline, 0);
	dm_buf_init(&s->after_dot, 0);
	return smtpi_from_client(s, line, strlen(line), &dot);
}

static void
relay_free(struct sess *s)
{
	size_t i;

	for (i = 0; i < s->nrcpt_q; i++)
		free(s->rcpt_q[i]);
	free(s->rcpt_q);
	free(s->pend);
	free(s->pend_msg);
	free(s->c2s.data);
	free(s->s2c.data);
	dm_buf_release(&s->cline);
	dm_buf_release(&s->sline);
	dm_buf_release(&s->after_dot);
	pthread_mutex_destroy(&s->lock);
}

/* What the relay reported through the done and before_mail hooks. */
struct many_log {
	int	 ndone;
	size_t	 done_msg[4];
	int	 done_code[4];		/* DM_EOK when err was NULL */
	int	 stop_at;		/* before_mail says stop here, -1 never */
	int	 asked;
	int	 marked;		/* before_dot calls */
	int	 mark_fails;		/* before_dot fails */
	size_t	 c2s_at_mark;		/* bytes queued for the server then */
	struct sess *s;
};

static void
many_done(void *arg, size_t i, const struct dm_err *err)
{
	struct many_log *l = arg;

	if (l->ndone < 4) {
		l->done_msg[l->ndone] = i;
		l->done_code[l->ndone] = err != NULL ? (int)err->code : DM_EOK;
	}
	l->ndone++;
}

static int
many_before_dot(void *arg)
{
	struct many_log *l = arg;

	l->marked++;
	l->c2s_at_mark = l->s->c2s.len - l->s->c2s.off;
	return l->mark_fails ? -1 : 0;
}

/* Whether the bytes queued for the server end with tail. */
static int
c2s_ends(const struct sess *s, const char *tail)
{
	size_t n = strlen(tail), have = s->c2s.len - s->c2s.off;

	return have >= n && memcmp(s->c2s.data + s->c2s.len - n, tail, n) == 0;
}

static int
many_before_mail(void *arg, size_t i)
{
	struct many_log *l = arg;

	l->asked++;
	return l->stop_at >= 0 && i == (size_t)l->stop_at;
}

/* A fresh relay in message 0's data; its mark fails when told. */
static void
many_data(struct sess *s, struct dm_smtp_params *p, struct many_log *l,
    struct dm_smtp_mail *mails, int mark_fails)
{
	uint64_t dot = UINT64_MAX;
	const char *c;

	memset(l, 0, sizeof *l);
	l->stop_at = -1;
	l->mark_fails = mark_fails;
	l->s = s;
	(void)relay_line("", s, p);
	s->s2c.data = malloc(IOBUF_SIZE);
	dm_buf_init(&s->sline, 0);
	p->done = many_done;
	p->before_mail = many_before_mail;
	p->before_dot = many_before_dot;
	p->arg = l;
	s->mails = mails;
	s->nmails = 1;
	s->cmd_msg = SIZE_MAX;
	c = "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n";
	(void)smtpi_from_client(s, c, strlen(c), &dot);
	c = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n";
	(void)smtpi_from_server(s, c, strlen(c));
}

/*
 * Two messages in one session, fed to the relay as libESMTP and the
 * server would: each reply lands on its message, each message is done
 * once, in order, as soon as its fate is known.
 */
static void
test_many(void)
{
	struct dm_smtp_params p;
	struct dm_smtp_mail mails[2];
	struct dm_smtp_rcpt r0[1], r1[2];
	struct many_log l;
	struct sess s;
	uint64_t tx = 0, dot = UINT64_MAX;
	const char *c;

	memset(&l, 0, sizeof l);
	l.stop_at = -1;
	memset(mails, 0, sizeof mails);
	memset(r0, 0, sizeof r0);
	memset(r1, 0, sizeof r1);
	r0[0].mailbox = "b@x.test";
	r1[0].mailbox = "c@x.test";
	r1[1].mailbox = "d@x.test";
	mails[0].sender = mails[1].sender = "a@example.test";
	mails[0].rcpt = r0;
	mails[0].nrcpt = 1;
	mails[1].rcpt = r1;
	mails[1].nrcpt = 2;
	(void)relay_line("", &s, &p);
	s.s2c.data = malloc(IOBUF_SIZE);
	dm_buf_init(&s.sline, 0);
	p.done = many_done;
	p.before_mail = many_before_mail;
	p.before_dot = many_before_dot;
	p.arg = &l;
	l.s = &s;
	s.mails = mails;
	s.nmails = 2;
	s.mail = &mails[0];
	s.cmd_msg = SIZE_MAX;

	c = "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n";
	ok(smtpi_from_client(&s, c, strlen(c), &dot) == 0 &&
	    l.asked == 1 && s.begun == 1, "the first MAIL begins message 0");
	c = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n";
	ok(smtpi_from_server(&s, c, strlen(c)) == 0 &&
	    r0[0].status == DM_RCPT_OK,
	    "its recipient's reply lands on it");
	c = "Subject: one\r\n\r\nbody\r\n.\r\n";
	ok(smtpi_from_client(&s, c, strlen(c), &dot) == 0 && s.dot_held &&
	    c2s_ends(&s, "body\r\n") && l.marked == 0 && dot == UINT64_MAX,
	    "the data goes ahead, its final dot waits for the mark");
	ok(smtpi_dot_release(&s, &tx, &dot) == 0 && l.marked == 1 &&
	    !s.dot_held && c2s_ends(&s, "body\r\n.\r\n") &&
	    dot == tx + (s.c2s.len - s.c2s.off),
	    "marked, then the dot follows the data");
	ok(l.c2s_at_mark == s.c2s.len - s.c2s.off - 3,
	    "the mark came before the dot was queued");
	is_int(l.ndone, 0, "not done while its dot is unanswered");
	c = "250 2.0.0 queued as ONE\r\n";
	ok(smtpi_from_server(&s, c, strlen(c)) == 0 && mails[0].accepted &&
	    strcmp(mails[0].reply, "2.0.0 queued as ONE") == 0,
	    "the dot's reply is message 0's");
	ok(l.ndone == 1 && l.done_msg[0] == 0 && l.done_code[0] == DM_EOK,
	    "message 0 is done, accepted, before libESMTP hears of it");

	/* Pipelined: MAIL, both RCPTs, DATA, then all their replies. */
	c = "MAIL FROM:<a@example.test>\r\nRCPT TO:<c@x.test>\r\n"
	    "RCPT TO:<d@x.test>\r\nDATA\r\n";
	ok(smtpi_from_client(&s, c, strlen(c), &dot) == 0 &&
	    s.begun == 2 && s.mail == &mails[1], "the second MAIL begins message 1");
	c = "250 2.1.0 ok\r\n550 5.1.1 no such user\r\n"
	    "550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n";
	ok(smtpi_from_server(&s, c, strlen(c)) == 0 &&
	    r1[0].status == DM_RCPT_PERM && r1[1].status == DM_RCPT_PERM &&
	    mails[1].code == 554 && r0[0].status == DM_RCPT_OK &&
	    mails[0].accepted, "its refusals land on it, not on message 0");
	smtpi_sess_done(&s, s.begun, NULL);
	ok(l.ndone == 2 && l.done_msg[1] == 1 &&
	    l.done_code[1] == DM_EREJECT,
	    "message 1 is done once, refused: %d", l.done_code[1]);
	smtpi_sess_done(&s, s.begun, NULL);
	is_int(l.ndone, 2, "and never twice");
	relay_free(&s);

	/* before_mail says stop: no MAIL leaves, the relay says QUIT. */
	memset(&l, 0, sizeof l);
	l.stop_at = 0;
	(void)relay_line("", &s, &p);
	p.done = many_done;
	p.before_mail = many_before_mail;
	p.arg = &l;
	s.mails = mails;
	s.nmails = 2;
	s.cmd_msg = SIZE_MAX;
	c = "MAIL FROM:<a@example.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n";
	ok(smtpi_from_client(&s, c, strlen(c), &dot) == 0 &&
	    s.state == RS_STOPPING &&
	    s.begun == 0, "a stop before a message begins nothing");
	ok(memmem(s.c2s.data, s.c2s.len, "MAIL", 4) == NULL &&
	    memmem(s.c2s.data, s.c2s.len, "RCPT", 4) == NULL &&
	    memmem(s.c2s.data, s.c2s.len, "QUIT\r\n", 6) != NULL,
	    "nothing of it leaves; QUIT does");
	relay_free(&s);

	/* What libESMTP sends after the dot waits behind it... */
	many_data(&s, &p, &l, mails, 0);
	c = "body\r\n.\r\nQUIT\r\n";
	ok(smtpi_from_client(&s, c, strlen(c), &dot) == 0 && s.dot_held &&
	    c2s_ends(&s, "body\r\n"), "a QUIT after the dot is held too");
	ok(smtpi_dot_release(&s, &tx, &dot) == 0 &&
	    c2s_ends(&s, "body\r\n.\r\nQUIT\r\n") &&
	    s.pend[s.npend - 2] == PEND_DOT && s.pend[s.npend - 1] == PEND_QUIT,
	    "and follows it once marked");
	relay_free(&s);

	/* ...and a mark that fails ends the session without the dot. */
	many_data(&s, &p, &l, mails, 1);
	c = "body\r\n.\r\n";
	(void)smtpi_from_client(&s, c, strlen(c), &dot);
	ok(smtpi_dot_release(&s, &tx, &dot) == -1 && l.marked == 1 &&
	    s.failed && s.err.code == DM_EIO && c2s_ends(&s, "body\r\n") &&
	    dot == UINT64_MAX, "a failed mark sends no dot: %s", s.err.msg);
	relay_free(&s);
}

/* A command the relay does not model never reaches the server. */
static void
test_unmodelled(void)
{
	struct dm_smtp_params p;
	struct sess s;
	int r;

	r = relay_line("MAIL FROM:<a@example.test>\r\nRCPT TO:<b@x.test>\r\n"
	    "BDAT 24 LAST\r\nSubject: secret invoice\r\n", &s, &p);
	is_int(r, -1, "BDAT from libESMTP ends the session");
	is_int(s.err.code, DM_EPROTO, "as a protocol error (exit 76)");
	ok(strstr(s.err.msg, "'BDAT'") != NULL &&
	    strstr(s.err.msg, "before any message data") != NULL,
	    "naming the command: %s", s.err.msg);
	ok(memmem(s.c2s.data, s.c2s.len, "BDAT", 4) == NULL &&
	    memmem(s.c2s.data, s.c2s.len, "invoice", 7) == NULL &&
	    memmem(s.c2s.data, s.c2s.len, "RCPT", 4) != NULL,
	    "what came before it is queued, it and its data are not");
	relay_free(&s);
	r = relay_line("ETRN example.test\r\n", &s, &p);
	ok(r == -1 && strstr(s.err.msg, "'ETRN'") != NULL, "so does ETRN");
	relay_free(&s);
	r = relay_line("MAILX FROM:<a@example.test>\r\n", &s, &p);
	ok(r == -1 && s.c2s.len == 0, "a verb is read whole: MAILX is not MAIL");
	relay_free(&s);
	r = relay_line("NOOP\r\n", &s, &p);
	ok(r == -1 && s.c2s.len == 0, "nor is NOOP, which docmail never sends");
	relay_free(&s);
}

int
main(void)
{
	struct dm_smtp_params p;
	struct dm_smtp_mail mail;
	struct dm_smtp_rcpt rc[3];
	struct script sc;
	struct dm_err err;
	char longpw[300];

	signal(SIGPIPE, SIG_IGN);
	plan(54 + 23 + 7 + 11 + 6);

	/* Reply lines. */
	is_int(smtpi_reply_code("250 ok\r\n", 8), 250,
	    "reply code of a final line");
	is_int(smtpi_reply_code("250-more\r\n", 10), 250,
	    "reply code of a continuation");
	is_int(smtpi_reply_code("250\r\n", 5), 250, "a bare code");
	is_int(smtpi_reply_code("HTTP/1.1 400", 12), 0, "not a reply line");
	is_int(smtpi_reply_code("2500 x", 6), 0, "four digits are not a code");
	is_int(smtpi_reply_code("199 x", 5), 0, "codes start at 2");

	/* Parameters checked before connecting. */
	memset(&p, 0, sizeof p);
	p.host = "mail.example.test";
	p.port = 587;
	p.timeout = 30;
	p.security = DM_SEC_NONE;
	p.user = "anna";
	p.password = "x";
	is_int(dm_smtp_check_params(&p, &err), -1,
	    "no login in clear to another host");
	ok(strstr(err.msg, "unencrypted") != NULL, "saying why: %s", err.msg);
	p.host = "127.0.0.1";
	is_int(dm_smtp_check_params(&p, &err), 0, "a login in clear to loopback");
	memset(longpw, 'x', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = '\0';
	p.password = longpw;
	is_int(dm_smtp_check_params(&p, &err), -1, "a 299-byte password is refused");
	ok(strstr(err.msg, longpw) == NULL, "without showing it");
	p.password = "x";
	p.user = longpw;
	is_int(dm_smtp_check_params(&p, &err), -1, "a 299-byte user is refused");

	/* A plain success: per-recipient results, the dot's reply. */
	memset(&sc, 0, sizeof sc);
	sc.greeting = "220 test ESMTP\r\n";
	sc.ehlo = "250-test\r\n250-PIPELINING\r\n250-AUTH LOGIN NTLM PLAIN XOAUTH2\r\n250 8BITMIME\r\n";
	sc.auth = "235 2.7.0 ok\r\n";
	sc.rcpt_bad = "bad@x.test";
	sc.dot = "250 2.0.0 queued as ABC123\r\n";
	memset(rc, 0, sizeof rc);
	rc[0].mailbox = "b@x.test";
	rc[1].mailbox = "bad@x.test";
	rc[2].mailbox = "c@x.test";
	is_int(session(&sc, "anna", "secret", rc, 3, &mail, &err), -1,
	    "one refused recipient is reported as an error");
	is_int(mail.accepted, 1, "but the message was accepted");
	is_int(err.code, DM_EREJECT, "a permanent refusal is DM_EREJECT");
	is_str(mail.reply, "2.0.0 queued as ABC123", "the receipt is kept");
	is_int(rc[0].status, DM_RCPT_OK, "first recipient ok");
	is_int(rc[1].status, DM_RCPT_PERM, "second recipient refused");
	is_int(rc[1].code, 550, "with the server's code");
	is_int(rc[2].status, DM_RCPT_OK, "third recipient ok");
	ok(strstr(sc.log, "AUTH PLAIN") != NULL,
	    "PLAIN is chosen from LOGIN NTLM PLAIN XOAUTH2 (the best offered)");
	ok(strstr(sc.data, "\r\n..\r\n") != NULL &&
	    strstr(sc.data, "\r\n...dots\r\n") != NULL,
	    "lines starting with a dot are dot-stuffed on the wire");
	ok(strstr(transcript, "C: AUTH PLAIN [redacted]") != NULL,
	    "the transcript shows AUTH redacted");
	ok(strstr(transcript, "c2VjcmV0") == NULL &&
	    strstr(transcript, "secret") == NULL,
	    "the transcript holds no credentials");
	ok(strstr(transcript, "S: 250 AUTH PLAIN") == NULL,
	    "the transcript shows the server's own EHLO lines");

	/* AUTH refused: no MAIL, DM_EAUTH with the 535 hint. */
	sc.auth = "535 5.7.8 Authentication credentials invalid\r\n";
	memset(rc, 0, sizeof rc);
	rc[0].mailbox = "b@x.test";
	is_int(session(&sc, "anna", "wrong", rc, 1, &mail, &err), -1,
	    "a failed login fails");
	is_int(err.code, DM_EAUTH, "as DM_EAUTH");
	is_int(err.smtp_code, 535, "with the server's code");
	ok(strstr(err.hint, "app password") != NULL, "and the hint: %s", err.hint);
	ok(strstr(err.hint, "check the user name (often the full e-mail address) and the password") != NULL,
	    "which names the user name first");
	ok(strstr(sc.log, "MAIL") == NULL, "no MAIL after the failed login");
	is_int(mail.accepted, 0, "nothing accepted");

	/* Credentials but no AUTH offered: refused before MAIL. */
	sc.ehlo = "250-test\r\n250 8BITMIME\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "credentials without AUTH offered fail");
	is_int(err.code, DM_EAUTH, "as DM_EAUTH");
	ok(strstr(sc.log, "MAIL") == NULL, "no MAIL without login");

	/* Only unsupported mechanisms: refused before MAIL. */
	sc.ehlo = "250-test\r\n250 AUTH XOAUTH2 GSSAPI\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "only unsupported mechanisms fail");
	ok(strstr(err.msg, "XOAUTH2") != NULL, "naming what the server offers");

	/*
	 * libESMTP skips blanks before an EHLO keyword and ends it at a
	 * tab: AUTH lines written so must not get past the relay either
	 * (found by fuzzing, tests/fuzz/regress/reply/ehlo-auth-blank).
	 */
	sc.ehlo = "250-test\r\n250- AUTH LOGIN\r\n250 AUTH\tLOGIN\r\n";
	sc.auth = "235 ok\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "AUTH after a blank or before a tab is not offered to libESMTP");
	is_int(err.code, DM_EAUTH, "as no login offered");
	ok(strstr(sc.log, "AUTH") == NULL, "and no AUTH was tried: %s", sc.log);

	/* A CR inside a line is replaced, not dropped: "AUTH" stays unseen. */
	sc.ehlo = "250-test\r\n250-AU\rTH LOGIN\r\n250 SIZE 1000\r\n";
	sc.auth = "235 ok\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "'AU<CR>TH' is no AUTH offer for libESMTP either");
	ok(strstr(sc.log, "AUTH") == NULL, "and no AUTH was tried: %s", sc.log);

	/*
	 * An EHLO reply just over 64 KiB in one go: refused as over-long,
	 * not a session that ends without a reason (found by fuzzing,
	 * tests/fuzz/corpus/reply/long-reply-end).
	 */
	{
		static char big[64 * 1024 + 64];
		size_t i;

		for (i = 0; i < 64; i++) {
			memcpy(big + i * 1024, "250-", 4);
			memset(big + i * 1024 + 4, 'C', 1018);
			memcpy(big + i * 1024 + 1022, "\r\n", 2);
		}
		memcpy(big + 64 * 1024, "250 end\r\n", 10);
		sc.ehlo = big;
		is_int(session(&sc, NULL, NULL, rc, 1, &mail, &err), -1,
		    "a 64 KiB EHLO reply fails");
		ok(err.code == DM_EPROTO && strstr(err.msg, "over-long") != NULL,
		    "as an over-long reply: %s", err.msg);
	}

	/* The connection ends after the dot: may have been delivered. */
	sc.ehlo = "250-test\r\n250 AUTH PLAIN\r\n";
	sc.auth = "235 ok\r\n";
	sc.dot = NULL;
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "no reply to the dot fails");
	is_int(mail.maybe_delivered, 1, "and is marked 'may have been delivered'");
	ok(err.code == DM_ECONN || err.code == DM_ETEMP,
	    "as a temporary failure (%s)", dm_err_name(err.code));

	/* A message the server rejects after the data. */
	sc.dot = "554 5.7.1 spam\r\n";
	is_int(session(&sc, "anna", "secret", rc, 1, &mail, &err), -1,
	    "554 after the data fails");
	is_int(err.code, DM_EREJECT, "as DM_EREJECT");
	is_int(mail.maybe_delivered, 0, "and surely not delivered");

	test_real_ehlo();
	test_unmodelled();
	test_many();

	/* Every address of the host is tried: ::1 refuses, 127.0.0.1 answers. */
	{
		struct script ds;
		pthread_t th;

		memset(&ds, 0, sizeof ds);
		ds.greeting = "220 test ESMTP\r\n";
		ds.ehlo = "250 test\r\n";
		if ((ds.lfd = listen_any(&dual_port)) != -1) {
			pthread_create(&th, NULL, server, &ds);
			memset(&p, 0, sizeof p);
			p.host = "dual.test";
			p.port = dual_port;
			p.security = DM_SEC_NONE;
			p.timeout = 3;
			is_int(dm_smtp_test(&p, "a@example.test", NULL, &err), 0,
			    "the second address is tried when the first refuses: %s",
			    err.msg);
			shutdown(ds.lfd, SHUT_RDWR);
			pthread_join(th, NULL);
			close(ds.lfd);
		} else
			ok(0, "cannot listen for the two-address test");
	}

	/*
	 * A listener whose backlog is full drops new connections silently,
	 * as a firewall would: the connect deadline must end the attempt.
	 */
	{
		struct sockaddr_in sa;
		struct timespec t0;
		int lfd, port, fill[4], i;

		lfd = listen_any(&port);
		(void)listen(lfd, 0);
		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_port = htons((unsigned short)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (i = 0; i < 4; i++) {
			fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			(void)connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
		}
		usleep(100000);
		memset(&p, 0, sizeof p);
		p.host = "127.0.0.1";
		p.port = port;
		p.security = DM_SEC_NONE;
		p.timeout = 1;
		dm_clock_now(&t0);
		is_int(dm_smtp_test(&p, "a@example.test", NULL, &err), -1,
		    "a connection that is never accepted fails");
		ok(err.code == DM_ECONN && strstr(err.msg, "no answer") != NULL,
		    "as a connect timeout: %s", err.msg);
		ok(dm_clock_ms_since(&t0) < 5000,
		    "after the timeout, not the kernel's (%ld ms)",
		    dm_clock_ms_since(&t0));
		for (i = 0; i < 4; i++)
			close(fill[i]);
		close(lfd);
	}
	return done_testing();
}
