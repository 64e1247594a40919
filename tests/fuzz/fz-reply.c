/*
 * fz-reply.c - fuzz target for the SMTP reply parsers
 *
 * Input: a flags byte, the number of replies the relay waits for and
 * what each answers (EHLO, AUTH, RCPT, ...), a chunk size, a repeat
 * count and length, then the server's bytes.  The first 16 * length
 * bytes (all if 0) are sent count times, then the rest once, so that
 * the size limits are in reach of short inputs.  The bytes go either
 * through the relay's smtpi_from_server(), in chunks as the network would
 * hand them over, or through a socketpair into smtpi_net_read_reply(), which
 * reads the plain dialogue before TLS.
 *
 * Beyond not crashing: the relay never ends a session without
 * recording why, passes on to libESMTP only whole reply lines, and an
 * EHLO reply that offers no STARTTLS and no AUTH mechanism but the one
 * it chose (none when it logs in with OAuth2 itself); all server text
 * kept for the user is printable, and no line docmail sends to the
 * transcript holds the access token or the start of its base64 payload.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <auth-client.h>

#include "smtp-int.h"
#include "fuzz.h"

enum {
	F_NET		= 1 << 0,	/* smtpi_net_read_reply(), no relay */
	F_USER		= 1 << 1,	/* credentials given */
	F_REPORT	= 1 << 2,
	F_MAIL		= 1 << 3,
	F_TESTING	= 1 << 4,
	F_EVENTS	= 1 << 5,
	F_OAUTH		= 1 << 6	/* the relay logs in with a token */
};

#define TOKEN		"fz.token-123"
/* base64 of "user=anna" and "n,a=anna,", how the payloads begin. */
#define B64_XOAUTH2	"dXNlcj1hbm5h"
#define B64_BEARER	"bixhPWFubmEs"

#define NRCPT		3
#define REPEAT_MAX	64
/* Replies the relay may wait for at the start: more than one pipeline. */
#define PEND_START_MAX	64
/* Past the relay's 64 KiB reply limit and its 64 KiB buffers. */
#define STREAM_MAX	(256 * 1024)
/* Through the socketpair, read byte by byte: past 64 KiB, no more. */
#define NET_MAX		(72 * 1024)

static const char *const mailboxes[NRCPT] = {
	"a@x.test", "b@x.test", "c@x.test"
};

static void
check_text(const char *s, size_t size)
{
	size_t i;

	FZ_CHECK(memchr(s, '\0', size) != NULL);
	for (i = 0; s[i] != '\0'; i++)
		FZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	(void)arg;
	if (ev->text == NULL)
		return;
	check_text(ev->text, strlen(ev->text) + 1);
	/* The server's lines may say anything; docmail's must not. */
	if (strncmp(ev->text, "C: ", 3) != 0)
		return;
	FZ_CHECK(strstr(ev->text, TOKEN) == NULL);
	FZ_CHECK(strstr(ev->text, B64_XOAUTH2) == NULL);
	FZ_CHECK(strstr(ev->text, B64_BEARER) == NULL);
}

/* The token source: a token, or (every third call) a failure. */
static int
token(void *arg, int refresh, struct dm_secret *out, char *how,
    size_t howsize, struct dm_err *err)
{
	int *calls = arg;

	(void)refresh;
	FZ_CHECK(!dm_secret_isset(out));
	if (++*calls % 3 == 0)
		return dm_err_set(err, DM_EAUTH, "no token this time");
	dm_strlcpy(how, "fuzz", howsize);
	return dm_secret_set(out, TOKEN, strlen(TOKEN), err);
}

/*
 * The keyword of EHLO line l as libESMTP reads it: blanks after the
 * code skipped, then RFC 5322 atom characters ('=' among them).
 */
static void
keyword(const char *l, size_t n, char *kw, size_t size)
{
	size_t i = 4, o = 0;

	while (i < n && strchr(" \t\r\n\v", l[i]) != NULL && l[i] != '\0')
		i++;
	for (; i < n && l[i] > ' ' && l[i] < 0x7f &&
	    strchr("\"()<>[]@,;:\\.", l[i]) == NULL; i++)
		if (o + 1 < size)
			kw[o++] = l[i];
	kw[o] = '\0';
}

static int
is(const char *l, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(l, want, n) == 0;
}

/*
 * One reply as passed on to libESMTP.  As the answer to EHLO it must
 * not offer STARTTLS (docmail did TLS itself) nor any AUTH mechanism
 * but the one the relay chose, and only when it has credentials.
 */
static void
check_reply(const struct sess *s, enum pend what, const char *r, size_t n)
{
	const char *l, *nl;
	char kw[64];
	size_t ll;
	int first = 1, auth = 0;

	if (what != PEND_EHLO || smtpi_reply_code(r, n) / 100 != 2)
		return;
	for (l = r; l < r + n; l = nl + 1, first = 0) {
		nl = memchr(l, '\n', (size_t)(r + n - l));
		ll = (size_t)(nl - l + 1);
		if (first)
			continue;
		keyword(l, ll, kw, sizeof kw);
		FZ_CHECK(strcasecmp(kw, "STARTTLS") != 0);
		if (strcasecmp(kw, "AUTH") != 0 &&
		    strncasecmp(kw, "AUTH=", 5) != 0)
			continue;
		FZ_CHECK(s->need_auth && !s->oauth && !auth++);
		FZ_CHECK(nl + 1 == r + n);
		FZ_CHECK(is(l, ll, "250 AUTH PLAIN\r\n") ||
		    is(l, ll, "250 AUTH LOGIN\r\n") ||
		    is(l, ll, "250 AUTH CRAM-MD5\r\n"));
	}
}

/*
 * What the relay passed on: whole lines, each a reply line.  The
 * replies answer, in order, what was pending before the call.
 */
static void
check_s2c(struct sess *s, const enum pend *before, size_t nbefore)
{
	const char *p = s->s2c.data + s->s2c.off;
	const char *end = s->s2c.data + s->s2c.len, *r = p, *l, *nl;
	size_t n, j = 0;

	while (p < end) {
		l = p;
		nl = memchr(l, '\n', (size_t)(end - l));
		FZ_CHECK(nl != NULL);
		n = (size_t)(nl - l + 1);
		FZ_CHECK(smtpi_reply_code(l, n) != 0);
		p = nl + 1;
		if (n > 4 && l[3] == '-')
			continue;
		/* Replies past those pending answer what the relay sent. */
		check_reply(s, j < nbefore ? before[j] : PEND_OTHER, r,
		    (size_t)(p - r));
		j++;
		r = p;
	}
	s->s2c.off = s->s2c.len = 0;
	s->c2s.off = s->c2s.len = 0;
}

static void
relay(struct sess *s, const char *data, size_t n, size_t chunk)
{
	enum pend *before;
	const char *p;
	size_t left, k, nbefore;
	int r = 0;

	for (p = data, left = n; left > 0 && r == 0; left -= k, p += k) {
		k = left < chunk ? left : chunk;
		nbefore = s->npend;
		before = fz_malloc((nbefore + 1) * sizeof before[0]);
		memcpy(before, s->pend, nbefore * sizeof before[0]);
		r = smtpi_from_server(s, p, k);
		check_s2c(s, before, nbefore);
		free(before);
	}
	/* The relay never ends a session without saying why. */
	if (r == -1)
		FZ_CHECK(s->failed);
	if (s->failed) {
		FZ_CHECK(s->err.code != DM_EOK && s->err.msg[0] != '\0');
		check_text(s->err.msg, sizeof s->err.msg);
	}
	FZ_CHECK(s->npend <= s->pend_cap && s->nrcpt_q <= s->rcpt_cap);
}

static void
net(struct sess *s, const char *data, size_t n)
{
	struct dm_buf out;
	struct dm_err err;
	size_t i, last;
	int sv[2], code, r;
	ssize_t w;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	if (n > NET_MAX)
		n = NET_MAX;
	for (i = 0; i < n; i += (size_t)w)
		if ((w = write(sv[1], data + i, n - i)) == -1) {
			if (errno != EINTR)
				abort();
			w = 0;
		}
	close(sv[1]);
	s->fd = sv[0];
	dm_buf_init(&out, 0);
	for (;;) {
		dm_err_clear(&err);
		r = smtpi_net_read_reply(s, &out, &code, &err);
		if (r == -1) {
			FZ_CHECK(err.code == DM_ECONN ||
			    err.code == DM_EPROTO || err.code == DM_ENOMEM ||
			    err.code == DM_EDATA);
			break;
		}
		/* One reply: whole lines, each a reply line, the last final. */
		FZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
		FZ_CHECK(out.len <= 64 * 1024 + 4097);
		FZ_CHECK(code >= 200 && code <= 599);
		for (i = 0, last = 0; i < out.len; i++)
			if (out.data[i] == '\n') {
				FZ_CHECK(smtpi_reply_code(out.data + last,
				    i + 1 - last) != 0);
				if (i + 1 < out.len)
					FZ_CHECK(out.data[last + 3] == '-');
				last = i + 1;
			}
	}
	dm_buf_release(&out);
	close(sv[0]);
	s->fd = -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int auth_ready;
	struct fz_in in = { data, size };
	struct dm_smtp_params p;
	struct dm_smtp_report rep;
	struct dm_smtp_rcpt rcpt[NRCPT];
	struct dm_smtp_mail mail;
	struct sess s;
	unsigned int flags, npend, repeat, i, k, nr = 0;
	int calls = 0;
	size_t chunk, rlen, n;
	struct dm_buf stream;
	struct dm_err err;
	const char *mb;
	char *bytes;

	if (!auth_ready) {
		auth_client_init();
		auth_ready = 1;
	}
	flags = fz_byte(&in);
	memset(&p, 0, sizeof p);
	p.host = "mail.example.test";
	p.port = 587;
	p.timeout = 5;
	p.user = flags & F_USER ? "anna" : NULL;
	p.password = flags & F_USER ? "secret" : NULL;
	p.event = flags & F_EVENTS ? on_event : NULL;
	if (flags & F_OAUTH) {
		p.user = "anna";
		p.password = NULL;
		p.token = token;
		p.token_arg = &calls;
	}

	memset(&s, 0, sizeof s);
	pthread_mutex_init(&s.lock, NULL);
	s.p = &p;
	s.fd = s.app = -1;
	memset(&rep, 0, sizeof rep);
	s.rep = flags & F_REPORT ? &rep : NULL;
	memset(&mail, 0, sizeof mail);
	memset(rcpt, 0, sizeof rcpt);
	for (i = 0; i < NRCPT; i++)
		rcpt[i].mailbox = mailboxes[i];
	mail.sender = "anna@x.test";
	mail.rcpt = rcpt;
	mail.nrcpt = NRCPT;
	s.mail = flags & F_MAIL ? &mail : NULL;
	/* As run() does: a test always has its (empty) message. */
	s.testing = (flags & F_TESTING) != 0 && s.mail != NULL;
	s.need_auth = p.user != NULL;
	s.oauth = (flags & F_OAUTH) != 0;

	/* What the relay waits for, as on_command() would have queued it. */
	npend = fz_byte(&in) % (PEND_START_MAX + 1);
	/* Room as the relay's reserve() would have made it. */
	s.pend_cap = s.rcpt_cap = PEND_START_MAX + 2;
	s.pend = fz_malloc(s.pend_cap * sizeof s.pend[0]);
	s.rcpt_q = fz_malloc(s.rcpt_cap * sizeof s.rcpt_q[0]);
	for (i = 0; i < npend; i++) {
		k = fz_byte(&in) % (PEND_OAUTH + 1);
		/* With OAuth2 libESMTP has no login to send: the relay's. */
		if (s.oauth && k == PEND_AUTH)
			k = PEND_OAUTH;
		s.pend[s.npend++] = (enum pend)k;
		if (k == PEND_RCPT) {
			mb = mailboxes[nr++ % NRCPT];
			s.rcpt_q[s.nrcpt_q++] = fz_strndup(mb, strlen(mb));
		}
	}
	s.rcpt_left = (int)nr;
	chunk = fz_byte(&in);
	if (chunk == 0)
		chunk = 16384;
	repeat = fz_byte(&in) % REPEAT_MAX + 1;
	rlen = fz_byte(&in) * 16;
	bytes = fz_rest(&in, &n);
	if (rlen == 0 || rlen > n)
		rlen = n;
	dm_buf_init(&stream, 0);
	while (repeat-- > 0 && stream.len + rlen <= STREAM_MAX)
		FZ_CHECK(dm_buf_add(&stream, bytes, rlen, &err) == 0);
	FZ_CHECK(dm_buf_add(&stream, bytes + rlen, n - rlen, &err) == 0);

	s.c2s.data = fz_malloc(IOBUF_SIZE);
	s.s2c.data = fz_malloc(IOBUF_SIZE);
	dm_buf_init(&s.cline, 0);
	dm_buf_init(&s.sline, 0);
	dm_buf_init(&s.held, 0);
	dm_clock_now(&s.t_step);
	dm_clock_now(&s.t_io);

	if (stream.len > 0) {
		if (flags & F_NET)
			net(&s, stream.data, stream.len);
		else
			relay(&s, stream.data, stream.len, chunk);
	}
	check_text(rep.greeting, sizeof rep.greeting);
	check_text(rep.extensions, sizeof rep.extensions);
	check_text(rep.auth_mech, sizeof rep.auth_mech);
	check_text(rep.sender_reply, sizeof rep.sender_reply);
	check_text(mail.reply, sizeof mail.reply);
	for (i = 0; i < NRCPT; i++)
		check_text(rcpt[i].text, sizeof rcpt[i].text);
	check_text(s.auth_offer, sizeof s.auth_offer);
	check_text(s.auth_reply, sizeof s.auth_reply);
	if (rep.auth_mech[0] != '\0')
		FZ_CHECK(s.oauth ? strcmp(rep.auth_mech, "XOAUTH2") == 0 ||
		    strcmp(rep.auth_mech, "OAUTHBEARER") == 0 :
		    strcmp(rep.auth_mech, "PLAIN") == 0 ||
		    strcmp(rep.auth_mech, "LOGIN") == 0 ||
		    strcmp(rep.auth_mech, "CRAM-MD5") == 0);
	/* No MAIL without a login: authed only after the relay's 235. */
	if (s.oauth && s.authed)
		FZ_CHECK(s.state != RS_OAUTH_334 &&
		    s.state != RS_OAUTH_RESULT && s.state != RS_OAUTH_FINAL);
	FZ_CHECK(strcmp(smtpi_state_name(s.state), "?") != 0);

	/* Frees the queues and buffers; no thread was started. */
	smtpi_pump_join(&s);
	pthread_mutex_destroy(&s.lock);
	dm_buf_release(&stream);
	free(bytes);
	return 0;
}
