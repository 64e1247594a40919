/*
 * smtp-pump.c - the relay between libESMTP and the server
 *
 * libESMTP talks plaintext SMTP over one end of a socketpair; this
 * thread moves the bytes to and from the real connection (through TLS
 * when there is TLS) and, since every byte passes here, is also where
 * docmail watches the dialogue: per-step timeouts that libESMTP cannot
 * keep, the transcript with AUTH redacted, no MAIL without a 235 when
 * credentials were given, only the one AUTH mechanism docmail chose,
 * the SIZE limit, and whether the final dot left for the server.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <auth-client.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <docmail/i18n.h>

#include "smtp-int.h"

/* Longest reply line accepted; RFC 5321 allows 512. */
#define REPLY_LINE_MAX	4096
/* Longest whole (multi-line) reply accepted. */
#define REPLY_MAX	(16 * REPLY_LINE_MAX)
#define CMD_LINE_MAX	4096

static void	fail(struct sess *, enum dm_errcode, int, const char *,
	    const char *);

/*
 * The names of enum relay_state.  The OAuth2 states keep the
 * transcript's "(oauth2: wait-334)" form, which predates this table.
 */
static const char *const state_names[] = {
	[RS_DIALOGUE]		= "dialogue",
	[RS_AUTH]		= "auth",
	[RS_OAUTH_334]		= "oauth2: wait-334",
	[RS_OAUTH_RESULT]	= "oauth2: wait-result",
	[RS_OAUTH_FINAL]	= "oauth2: wait-final",
	[RS_DATA]		= "data",
	[RS_DOT_QUEUED]		= "dot-queued",
	[RS_DOT_SENT]		= "dot-sent",
	[RS_QUIT]		= "quit",
	[RS_STOPPING]		= "stopping",
	[RS_DONE]		= "done",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == RS_LAST,
    "every relay state has a name");

const char *
smtpi_state_name(enum relay_state st)
{
	if ((unsigned)st >= sizeof state_names / sizeof state_names[0] ||
	    state_names[st] == NULL)
		return "?";
	return state_names[st];
}

static int
in_oauth(const struct sess *s)
{
	return s->state == RS_OAUTH_334 || s->state == RS_OAUTH_RESULT ||
	    s->state == RS_OAUTH_FINAL;
}

/* Internal errors name the state: they are docmail's bugs to report. */
static void
fail_internal(struct sess *s, int smtp_code, const char *what)
{
	char msg[DM_ERR_MSG_MAX];

	(void)snprintf(msg, sizeof msg, "%s (%s)", what,
	    smtpi_state_name(s->state));
	fail(s, DM_EINTERNAL, smtp_code, msg, NULL);
}

int
smtpi_reply_code(const char *l, size_t n)
{
	if (n < 3 || l[0] < '2' || l[0] > '5' || !isdigit((unsigned char)l[1]) ||
	    !isdigit((unsigned char)l[2]))
		return 0;
	if (n > 3 && l[3] != ' ' && l[3] != '-' && l[3] != '\r' && l[3] != '\n')
		return 0;
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

void
smtpi_sanitize(char *dst, size_t dsize, const char *src, size_t n)
{
	size_t i, o = 0;
	unsigned char c;

	if (dsize == 0)
		return;
	/* src may be dst: we only ever write at or behind the read point. */
	for (i = 0; i < n && o + 1 < dsize; i++) {
		c = (unsigned char)src[i];
		if (c == '\r' || c == '\n')
			continue;
		dst[o++] = (c < 0x20 || c == 0x7f || c >= 0x80) ? '?' : (char)c;
	}
	dst[o] = '\0';
}

/* Message number i of the session; the only one when there is no list. */
static struct dm_smtp_mail *
msg_at(struct sess *s, size_t i)
{
	if (s->mails == NULL || s->nmails == 0)
		return s->mail;
	return &s->mails[i < s->nmails ? i : s->nmails - 1];
}

static void
push(struct sess *s, enum pend what)
{
	if (s->npend == 0)
		dm_clock_now(&s->t_io);	/* the reply clock starts */
	if (s->npend >= s->pend_cap)	/* reserve() made room */
		return;
	if (s->pend_msg != NULL)
		s->pend_msg[s->npend] = s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg;
	s->pend[s->npend++] = what;
}

/* Room for two more pending replies and one more RCPT; -1 out of memory. */
static int
reserve(struct sess *s)
{
	size_t n;
	void *p;

	if (s->npend + 2 > s->pend_cap) {
		n = s->pend_cap * 2 + 16;
		if ((p = realloc(s->pend, n * sizeof s->pend[0])) == NULL)
			return -1;
		s->pend = p;
		if ((p = realloc(s->pend_msg, n * sizeof s->pend_msg[0])) ==
		    NULL)
			return -1;
		/* Entries queued without it (the fuzz target) were message 0. */
		if (s->pend_msg == NULL)
			memset(p, 0, s->npend * sizeof s->pend_msg[0]);
		s->pend_msg = p;
		s->pend_cap = n;
	}
	if (s->nrcpt_q + 1 > s->rcpt_cap) {
		n = s->rcpt_cap * 2 + 16;
		if ((p = realloc(s->rcpt_q, n * sizeof s->rcpt_q[0])) == NULL)
			return -1;
		s->rcpt_q = p;
		s->rcpt_cap = n;
	}
	return 0;
}

static enum pend
pop(struct sess *s, size_t *msg)
{
	enum pend p;

	*msg = s->npend > 0 && s->pend_msg != NULL ? s->pend_msg[0] : 0;
	if (s->npend == 0)
		return PEND_OTHER;
	p = s->pend[0];
	memmove(s->pend, s->pend + 1, --s->npend * sizeof s->pend[0]);
	if (s->pend_msg != NULL)
		memmove(s->pend_msg, s->pend_msg + 1,
		    s->npend * sizeof s->pend_msg[0]);
	dm_clock_now(&s->t_io);	/* the next reply's clock starts now */
	return p;
}

static int
iob_add(struct iobuf *b, const char *p, size_t n)
{
	if (b->off > 0 && b->len + n > IOBUF_SIZE) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > IOBUF_SIZE)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static size_t
iob_room(const struct iobuf *b)
{
	return IOBUF_SIZE - (b->len - b->off);
}

/* Server text for messages: the last line's text after "NNN ". */
static void
reply_text(const char *reply, size_t n, char *out, size_t size)
{
	const char *last = reply, *p;

	for (p = reply; p < reply + n; p++)
		if (*p == '\n' && p + 1 < reply + n)
			last = p + 1;
	n -= (size_t)(last - reply);
	if (n >= 4) {
		last += 4;
		n -= 4;
	} else
		n = 0;
	smtpi_sanitize(out, size, last, n);
}

/*
 * What libESMTP is given of a reply: each line as code, separator and
 * text with control and 8-bit bytes replaced, ending in CRLF, no longer
 * than RFC 5321's 512 bytes.  It needs no more, and a NUL, a bare CR or
 * LF, or a line longer than its buffer made it misread the dialogue.
 */
static int
clean_reply(const char *r, size_t n, struct dm_buf *out, struct dm_err *e)
{
	const char *l, *end, *t;
	char text[512 - 6];
	size_t ll, tl, i;
	unsigned char c;

	for (l = r; l < r + n; l = end + 1) {
		end = memchr(l, '\n', (size_t)(r + n - l));
		if (end == NULL)
			end = r + n - 1;
		ll = (size_t)(end - l + 1);
		t = l + (ll > 4 ? 4 : ll);
		tl = ll > 4 ? ll - 4 : 0;
		while (tl > 0 && (t[tl - 1] == '\n' || t[tl - 1] == '\r'))
			tl--;
		/*
		 * A CR inside the text is replaced, not dropped as
		 * smtpi_sanitize() does: "AU<CR>TH" must not become the "AUTH"
		 * the EHLO filter did not see (found by fuzzing).
		 */
		for (i = 0; i < tl && i + 1 < sizeof text; i++) {
			c = (unsigned char)t[i];
			text[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
		text[i] = '\0';
		if (dm_buf_addf(out, e, "%.3s%c%s\r\n", l,
		    ll > 3 && l[3] == '-' ? '-' : ' ', text) == -1)
			return -1;
	}
	return 0;
}

/*
 * What to do after the session broke off.  Once the final dot left,
 * "the message stays in the outbox, try again" would invite the double
 * send docmail exists to prevent.
 */
static const char *
hint_retry(const struct sess *s)
{
	if (s->state == RS_DOT_SENT)
		return _("the server may have accepted the message before the connection ended: ask a recipient before sending it again");
	if (s->testing)
		return _("try again later");
	return _("try again later; the message stays in the outbox");
}

static void
fail(struct sess *s, enum dm_errcode code, int smtp_code, const char *msg,
    const char *hint)
{
	struct dm_err e;

	dm_err_set(&e, code, "%s", msg);
	if (hint != NULL)
		dm_err_hint(&e, "%s", hint);
	e.smtp_code = smtp_code;
	smtpi_sess_fail(s, &e);
}

/*
 * Can libESMTP load this mechanism?  Not a given: Debian's libESMTP
 * 1.1.0 looks for "sasl-cram-md5.so" but ships "sasl-crammd5.so".
 */
static int
mech_usable(const char *name)
{
	auth_context_t ctx = auth_create_context();
	int r;

	if (ctx == NULL)
		return 0;
	auth_set_mechanism_flags(ctx, AUTH_PLUGIN_PLAIN, 0);
	r = auth_set_mechanism(ctx, name);
	auth_destroy_context(ctx);
	return r;
}

/* The one AUTH mechanism offered to libESMTP, best first. */
static const char *
choose_mech(const struct sess *s, const char *offer)
{
	/* Without TLS only CRAM-MD5 keeps the password off the wire. */
	static const char *const tls[] = { "PLAIN", "LOGIN", "CRAM-MD5" };
	static const char *const plain[] = { "CRAM-MD5", "PLAIN", "LOGIN" };
	const char *const *pref = s->ssl != NULL ? tls : plain;
	char buf[128], *tok, *save;
	size_t i;

	for (i = 0; i < 3; i++) {
		dm_strlcpy(buf, offer, sizeof buf);
		for (tok = strtok_r(buf, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save))
			if (strcasecmp(tok, pref[i]) == 0 &&
			    mech_usable(pref[i]))
				return pref[i];
	}
	return NULL;
}

/*
 * Whether EHLO reply line l (n bytes, raw) has keyword word as libESMTP
 * reads it: blanks after the code skipped, the keyword ending at a
 * blank, a control character, a special or '=' ("AUTH=LOGIN").  Any
 * looser reading would let "250- AUTH LOGIN" or "250-AUTH<TAB>LOGIN"
 * past the filter to libESMTP.
 */
static int
ehlo_keyword(const char *l, size_t n, const char *word)
{
	size_t i = 4, k = strlen(word);
	unsigned char c;

	while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\v' ||
	    l[i] == '\r' || l[i] == '\n'))
		i++;
	if (n < i + k || strncasecmp(l + i, word, k) != 0)
		return 0;
	c = i + k < n ? (unsigned char)l[i + k] : '\0';
	return c == '=' || c <= ' ' || c >= 0x7f ||
	    strchr("\"()<>[]@,;:\\.", c) != NULL;
}

/*
 * The EHLO keywords libESMTP may see: those whose commands and
 * parameters the relay models, and no others.  An allow-list, because
 * whatever libESMTP is told it uses: told CHUNKING, it sent the message
 * as BDAT chunks, which the relay read as commands, so it never saw the
 * end of the data nor the server's acceptance, and every delivered
 * invoice was reported failed and resent by the next retry.  DATA does
 * everything docmail needs (every server offers it; docmail sends
 * 7-bit MIME, so BINARYMIME gains nothing), hence CHUNKING and
 * BINARYMIME stay hidden rather than modelled.  AUTH is rewritten to
 * the one mechanism docmail chose, STARTTLS is dropped since docmail
 * does TLS itself; 8BITMIME, DSN, SMTPUTF8, ETRN and the rest would
 * only add parameters docmail never asks libESMTP for.
 */
static int
ehlo_modelled(const char *l, size_t n)
{
	static const char *const ok[] = {
		"PIPELINING",		/* replies matched in order */
		"SIZE",			/* MAIL's SIZE=, checked above */
		"ENHANCEDSTATUSCODES",	/* only changes reply text */
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (ehlo_keyword(l, n, ok[i]))
			return 1;
	return 0;
}

/* Rewrites the EHLO reply for libESMTP and notes what the server offers. */
static void
ehlo_reply(struct sess *s, const char *r, size_t n, struct dm_buf *out)
{
	struct dm_err e;
	const char *l, *end, *kw, *mech;
	char line[512];
	size_t ll, nl = 0;
	const char *lines[128];
	size_t lens[128], i;
	long long v;

	for (l = r; l < r + n && nl < 128; l = end + 1) {
		end = memchr(l, '\n', (size_t)(r + n - l));
		if (end == NULL)
			end = r + n - 1;
		ll = (size_t)(end - l + 1);
		smtpi_sanitize(line, sizeof line, l, ll);
		kw = strlen(line) > 4 ? line + 4 : "";
		/* The first line is the server's name, not a keyword. */
		if (nl > 0 && ehlo_keyword(l, ll, "AUTH")) {
			if (strncasecmp(kw, "AUTH ", 5) == 0) {
				s->auth_offered = 1;
				dm_strlcpy(s->auth_offer, kw + 5,
				    sizeof s->auth_offer);
			}
			continue;	/* replaced below */
		}
		if (nl > 0 && ehlo_keyword(l, ll, "SIZE") &&
		    strncasecmp(kw, "SIZE ", 5) == 0 &&
		    dm_strtonum(kw + 5, 0, (1LL << 62), &v) == 0)
			s->size_limit = (uint64_t)v;
		if (nl > 0 && s->rep != NULL) {
			size_t el = strlen(s->rep->extensions);

			if (el + strlen(kw) + 2 < sizeof s->rep->extensions) {
				if (el > 0)
					dm_strlcpy(s->rep->extensions + el, " ",
					    sizeof s->rep->extensions - el);
				dm_strlcpy(s->rep->extensions + strlen(
				    s->rep->extensions), kw,
				    sizeof s->rep->extensions -
				    strlen(s->rep->extensions));
			}
		}
		/* libESMTP sees only what the relay models (see above). */
		if (nl > 0 && !ehlo_modelled(l, ll))
			continue;
		lines[nl] = l;
		lens[nl] = ll;
		nl++;
	}
	/* With OAuth2 the relay logs in itself: libESMTP sees no AUTH. */
	mech = s->auth_offered && s->need_auth && !s->oauth ?
	    choose_mech(s, s->auth_offer) : NULL;
	/* Rebuild with correct continuation marks: "250-" ... "250 ". */
	for (i = 0; i < nl; i++) {
		int last = i + 1 == nl && mech == NULL;
		const char *txt = lines[i] + (lens[i] > 4 ? 4 : lens[i]);
		size_t tl = lens[i] > 4 ? lens[i] - 4 : 0;

		while (tl > 0 && (txt[tl - 1] == '\n' || txt[tl - 1] == '\r'))
			tl--;
		(void)dm_buf_addf(out, &e, "%.3s%c%.*s\r\n", lines[i],
		    last ? ' ' : '-', (int)tl, txt);
	}
	if (mech != NULL) {
		(void)dm_buf_addf(out, &e, "250 AUTH %s\r\n", mech);
		if (s->rep != NULL)
			dm_strlcpy(s->rep->auth_mech, mech,
			    sizeof s->rep->auth_mech);
	}
}

/*
 * Whether a refusal of an OAuth2 AUTH says the token itself was not
 * good (expired, revoked, wrong scope or user), which a fresh token may
 * cure: 535 (Microsoft's 5.7.3, Gmail's 5.7.8 after its 334), Exchange's
 * "501 5.5.127 ... Token will expire soon".  Not a tenant or mailbox
 * that has SMTP AUTH off (5.7.139), nor a temporary failure.
 */
static int
token_refused(const struct sess *s, int code, const char *text)
{
	if (strstr(text, "5.7.139") != NULL ||
	    strcasestr(text, "SmtpClientAuthentication") != NULL ||
	    strstr(text, "5.7.30") != NULL)
		return 0;
	return code == 535 || (s->oa_challenged && code >= 500) ||
	    (code == 501 && strstr(text, "5.5.127") != NULL);
}

static void
auth_failed(struct sess *s, int code, const char *text)
{
	char msg[2 * DM_ERR_MSG_MAX];
	const char *hint;
	enum dm_errcode ec = code >= 500 ? DM_EAUTH : DM_ETEMP;

	(void)snprintf(msg, sizeof msg,
	    _("login as '%s' failed: server said: %d %s"), s->p->user, code,
	    text);
	if (strstr(text, "5.7.139") != NULL ||
	    strcasestr(text, "SmtpClientAuthentication") != NULL)
		hint = _("SMTP AUTH is switched off for this mailbox or tenant at the provider: an administrator must enable authenticated SMTP for it (Microsoft 365: Set-CASMailbox -SmtpClientAuthenticationDisabled $false, or the tenant's setting)");
	else if (strstr(text, "5.7.30") != NULL ||
	    strcasestr(text, "Basic authentication is not supported") != NULL)
		hint = s->oauth ?
		    _("the server refuses this kind of login for the mailbox: check host, port and user") :
		    _("this tenant no longer takes passwords: set auth = oauth2 and run docmail login");
	else if (s->oauth && token_refused(s, code, text)) {
		(void)snprintf(msg, sizeof msg,
		    _("the server refused the access token for '%s': server said: %d %s"),
		    s->p->user, code, text);
		hint = s->p->token_hint != NULL ? s->p->token_hint :
		    _("sign in again: docmail login");
	} else if (code == 534 || strstr(text, "5.7.9") != NULL)
		hint = _("the provider wants an application-specific password: create an app password in the account's security settings and use it as the password");
	else if (code == 530 || code == 538)
		hint = _("the server wants encryption first: use security = starttls (port 587) or ssl (port 465)");
	else if (code >= 400 && code < 500)
		hint = _("a temporary problem at the server: try again later");
	else if (s->oauth)
		hint = s->p->token_hint != NULL ? s->p->token_hint :
		    _("sign in again: docmail login");
	else if (code == 535)
		hint = _("check the user name (often the full e-mail address) and the password, or use an app password if two-factor authentication is on");
	else
		hint = _("check the user name and password");
	fail(s, ec, code, msg, hint);
	smtpi_sess_step(s, DM_STEP_AUTH, 0, msg);
}

/*
 * OAuth2: the relay runs AUTH XOAUTH2 or OAUTHBEARER itself, because
 * libESMTP cannot: it has no such mechanism, its AUTH buffer holds
 * about 1.5 KB (Microsoft's tokens run to several KB), it always puts
 * the initial response on the AUTH line, and after a refusal it goes on
 * to MAIL without a login.  The relay holds libESMTP's EHLO reply (with
 * AUTH removed) until the server said 235, so libESMTP waits, sends
 * nothing and never sees the replies to commands it did not send.
 */

static void
oauth_wipe_payload(struct sess *s)
{
	if (s->oa_payload != NULL) {
		explicit_bzero(s->oa_payload, s->oa_payload_len);
		free(s->oa_payload);
	}
	s->oa_payload = NULL;
	s->oa_payload_len = 0;
}

/* A transcript line naming the state the login moves to. */
static void
oauth_log(struct sess *s, const char *line)
{
	char buf[128];

	(void)snprintf(buf, sizeof buf, "%s    (%s)", line,
	    smtpi_state_name(s->state));
	smtpi_sess_log(s, "C: ", buf, strlen(buf));
}

/*
 * The base64 initial response for token tok: XOAUTH2 (Google's and
 * Microsoft's format) or OAUTHBEARER (RFC 7628, GS2 header with the
 * user, ',' and '=' escaped as =2C and =3D).
 */
static int
oauth_payload(struct sess *s, const struct dm_secret *tok, struct dm_err *e)
{
	const char *u = s->p->user;
	size_t cap, n = 0, i;
	unsigned char *raw;
	char port[16];
	int r = -1, len;

#define PUT(str, l) do { memcpy(raw + n, (str), (l)); n += (l); } while (0)
	(void)snprintf(port, sizeof port, "%d", s->p->port);
	cap = 3 * strlen(u) + strlen(s->p->host) + tok->len + 64;
	if ((raw = malloc(cap)) == NULL)
		return dm_err_set(e, DM_ENOMEM, _("out of memory"));
	if (strcmp(s->oa_mech, "XOAUTH2") == 0) {
		PUT("user=", 5);
		PUT(u, strlen(u));
		PUT("\001auth=Bearer ", 13);
	} else {
		PUT("n,a=", 4);
		for (i = 0; u[i] != '\0'; i++) {
			if (u[i] == ',')
				PUT("=2C", 3);
			else if (u[i] == '=')
				PUT("=3D", 3);
			else
				raw[n++] = (unsigned char)u[i];
		}
		PUT(",\001host=", 7);
		PUT(s->p->host, strlen(s->p->host));
		PUT("\001port=", 6);
		PUT(port, strlen(port));
		PUT("\001auth=Bearer ", 13);
	}
	PUT(tok->s, tok->len);
	PUT("\001\001", 2);
#undef PUT
	oauth_wipe_payload(s);
	if ((s->oa_payload = malloc(4 * ((n + 2) / 3) + 1)) == NULL) {
		dm_err_set(e, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	len = EVP_EncodeBlock((unsigned char *)s->oa_payload, raw, (int)n);
	s->oa_payload_len = (size_t)len;
	r = 0;
out:
	explicit_bzero(raw, cap);
	free(raw);
	return r;
}

/*
 * Asks for a token (again, with refresh) and sends AUTH.  The initial
 * response goes on the AUTH line only while the line stays within RFC
 * 5321's 512 octets (RFC 4954 section 4); else after the 334.
 */
static int
oauth_begin(struct sess *s, int refresh)
{
	struct dm_secret tok;
	struct dm_err e;
	char how[32] = "", line[64];
	size_t i, ll;
	int r;

	dm_secret_init(&tok);
	dm_err_clear(&e);
	if (s->p->token == NULL) {
		fail(s, DM_EINTERNAL, 0, _("no access token source"), NULL);
		return -1;
	}
	r = s->p->token(s->p->token_arg, refresh, &tok, how, sizeof how, &e);
	if (r == 0 && (!dm_secret_isset(&tok) || tok.len == 0)) {
		dm_err_set(&e, DM_EAUTH, _("no access token was given"));
		dm_err_hint(&e, "%s", s->p->token_hint != NULL ?
		    s->p->token_hint : _("sign in again: docmail login"));
		r = -1;
	}
	/* A token is base64url and a few signs: nothing that ends a field. */
	for (i = 0; r == 0 && i < tok.len; i++)
		if ((unsigned char)tok.s[i] <= ' ' ||
		    (unsigned char)tok.s[i] >= 0x7f) {
			dm_err_set(&e, DM_EAUTH,
			    _("the access token holds a blank or a control character"));
			dm_err_hint(&e, "%s", s->p->token_hint != NULL ?
			    s->p->token_hint : _("sign in again: docmail login"));
			r = -1;
		}
	if (r == 0 && oauth_payload(s, &tok, &e) == -1)
		r = -1;
	dm_secret_release(&tok);
	if (r == -1) {
		if (e.code == DM_EOK)
			dm_err_set(&e, DM_EAUTH, _("no access token was given"));
		smtpi_sess_fail(s, &e);
		smtpi_sess_step(s, DM_STEP_TOKEN, 0, e.msg);
		return -1;
	}
	smtpi_sess_step(s, DM_STEP_TOKEN, 1, how[0] != '\0' ? how : NULL);
	s->oa_tries++;
	s->oa_challenged = 0;
	ll = 5 + strlen(s->oa_mech) + 1 + s->oa_payload_len + 2;
	(void)snprintf(line, sizeof line, "AUTH %s", s->oa_mech);
	if (ll <= 512) {
		if (iob_add(&s->c2s, line, strlen(line)) == -1 ||
		    iob_add(&s->c2s, " ", 1) == -1 ||
		    iob_add(&s->c2s, s->oa_payload, s->oa_payload_len) == -1 ||
		    iob_add(&s->c2s, "\r\n", 2) == -1)
			goto full;
		oauth_wipe_payload(s);
		s->state = RS_OAUTH_RESULT;
		dm_strlcpy(line + strlen(line), " [redacted]",
		    sizeof line - strlen(line));
	} else {
		if (iob_add(&s->c2s, line, strlen(line)) == -1 ||
		    iob_add(&s->c2s, "\r\n", 2) == -1)
			goto full;
		s->state = RS_OAUTH_334;
	}
	oauth_log(s, line);
	push(s, PEND_OAUTH);
	return 0;
full:
	oauth_wipe_payload(s);
	fail(s, DM_EINTERNAL, 0, _("the SMTP relay could not queue the login"),
	    NULL);
	return -1;
}

/* The server's EHLO reply (rewritten in out) on the final channel. */
static int
oauth_start(struct sess *s, struct dm_buf *out)
{
	char msg[DM_ERR_MSG_MAX], buf[sizeof s->auth_offer], *tok, *save;
	struct dm_err e;
	int x = 0, b = 0;

	dm_strlcpy(buf, s->auth_offer, sizeof buf);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		x |= strcasecmp(tok, "XOAUTH2") == 0;
		b |= strcasecmp(tok, "OAUTHBEARER") == 0;
	}
	if (!x && !b) {
		/* Never a token through PLAIN or LOGIN: it is not a password. */
		(void)snprintf(msg, sizeof msg,
		    _("the server offers no OAuth2 login (it offers: %s)"),
		    s->auth_offer);
		fail(s, DM_EAUTH, 0, msg,
		    _("docmail sends an access token only with XOAUTH2 or OAUTHBEARER: check host and port, or use auth = password where the provider still takes passwords"));
		smtpi_sess_step(s, DM_STEP_AUTH, 0, msg);
		return -1;
	}
	s->oa_mech = x ? "XOAUTH2" : "OAUTHBEARER";
	if (s->rep != NULL)
		dm_strlcpy(s->rep->auth_mech, s->oa_mech,
		    sizeof s->rep->auth_mech);
	dm_buf_reset(&s->held);
	if (dm_buf_add(&s->held, out->data != NULL ? out->data : "", out->len,
	    &e) == -1)
		return smtpi_sess_fail(s, &e);
	dm_buf_reset(out);
	return oauth_begin(s, 0) == -1 ? -1 : 1;
}

/* A reply to the relay's own AUTH: consumed here, never libESMTP's. */
static int
oauth_reply(struct sess *s, int code, const char *text, struct dm_buf *out)
{
	struct dm_err e;

	switch (s->state) {
	case RS_OAUTH_334:
		if (code != 334)
			break;
		if (iob_add(&s->c2s, s->oa_payload, s->oa_payload_len) == -1 ||
		    iob_add(&s->c2s, "\r\n", 2) == -1) {
			oauth_wipe_payload(s);
			fail(s, DM_EINTERNAL, 0,
			    _("the SMTP relay could not queue the login"), NULL);
			return -1;
		}
		oauth_wipe_payload(s);
		s->state = RS_OAUTH_RESULT;
		oauth_log(s, "[redacted]");
		push(s, PEND_OAUTH);
		return 1;
	case RS_OAUTH_RESULT:
		if (code == 235) {
			s->state = RS_DIALOGUE;
			s->authed = 1;
			smtpi_sess_step(s, DM_STEP_AUTH, 1, s->oa_mech);
			/* Now libESMTP may go on, to MAIL. */
			if (dm_buf_add(out, s->held.data != NULL ?
			    s->held.data : "", s->held.len, &e) == -1)
				return smtpi_sess_fail(s, &e);
			dm_buf_release(&s->held);
			return 1;
		}
		if (code != 334)
			break;
		/*
		 * An error challenge (Gmail: base64 JSON with the status):
		 * the client must answer, with an empty response for XOAUTH2
		 * and %x01 for OAUTHBEARER (RFC 7628 3.2.3), to get the 535.
		 */
		s->oa_challenged = 1;
		s->state = RS_OAUTH_FINAL;
		if (strcmp(s->oa_mech, "XOAUTH2") == 0) {
			(void)iob_add(&s->c2s, "\r\n", 2);
			oauth_log(s, "");
		} else {
			(void)iob_add(&s->c2s, "AQ==\r\n", 6);
			oauth_log(s, "AQ==");
		}
		push(s, PEND_OAUTH);
		return 1;
	case RS_OAUTH_FINAL:
		if (code != 334)
			break;
		oauth_wipe_payload(s);
		fail(s, DM_EPROTO, code,
		    _("the server sent another challenge after its refusal of the access token"),
		    HINT_BROKEN_SERVER);
		smtpi_sess_step(s, DM_STEP_AUTH, 0, NULL);
		return -1;
	default:
		/* Only oauth_begin() and the 334 above queue PEND_OAUTH. */
		fail_internal(s, code,
		    _("a reply to a login the relay did not start"));
		return -1;
	}
	oauth_wipe_payload(s);
	dm_strlcpy(s->auth_reply, text, sizeof s->auth_reply);
	/* One more token, one more AUTH, in this session (RFC 4954 4). */
	if (code != 334 && s->oa_tries < 2 && token_refused(s, code, text)) {
		s->state = RS_DIALOGUE;
		return oauth_begin(s, 1) == -1 ? -1 : 1;
	}
	s->state = RS_DIALOGUE;
	auth_failed(s, code, text);
	return -1;
}

static void
rcpt_reply(struct sess *s, int code, const char *text)
{
	char *mb = s->nrcpt_q > 0 ? s->rcpt_q[0] : NULL;
	struct dm_smtp_rcpt *r;
	size_t i;

	if (s->nrcpt_q > 0)
		memmove(s->rcpt_q, s->rcpt_q + 1,
		    --s->nrcpt_q * sizeof s->rcpt_q[0]);
	if (s->mail != NULL && mb != NULL) {
		for (i = 0; i < s->mail->nrcpt; i++) {
			r = &s->mail->rcpt[i];
			if (strcasecmp(r->mailbox, mb) != 0 ||
			    r->code != 0)
				continue;
			r->code = code;
			r->status = code < 300 ? DM_RCPT_OK :
			    code < 500 ? DM_RCPT_TEMP : DM_RCPT_PERM;
			dm_strlcpy(r->text, text, sizeof r->text);
			break;
		}
	}
	free(mb);
	if (code / 100 != 2)
		s->rcpt_refused++;
	/* "recipients ok" only when every one of them was. */
	if (--s->rcpt_left == 0)
		smtpi_sess_step(s, DM_STEP_RCPT, s->rcpt_refused == 0, NULL);
}

static void
refuse_sender(struct sess *s, int code, const char *msg)
{
	struct dm_err e;
	const char *addr = s->mail != NULL ? s->mail->sender : "";

	dm_err_set(&e, DM_EREJECT, "%s", msg);
	e.smtp_code = code;
	smtpi_hint_sender(&e, addr);
	smtpi_sess_fail(s, &e);
}

static void
inject(struct sess *s, const char *cmd, enum pend what)
{
	smtpi_sess_log(s, "C: ", cmd, strlen(cmd) - 2);
	if (iob_add(&s->c2s, cmd, strlen(cmd)) == 0) {
		push(s, what);
		/* Stopping says more: the relay's own QUIT. */
		if (what == PEND_QUIT && s->state != RS_STOPPING)
			s->state = RS_QUIT;
	}
}

/*
 * The test's RCPT TO:<its own sender>: Postfix, under its default
 * smtpd_delay_reject, refuses a sender the login does not own only
 * here, so a check that stopped at MAIL passed and the real send
 * failed.  Forwarded to libESMTP; the relay then sends RSET and QUIT.
 */
static int
test_rcpt_reply(struct sess *s, int code, const char *text)
{
	char msg[2 * DM_ERR_MSG_MAX];
	const char *addr = s->mail->sender;
	struct dm_err e;

	if (s->nrcpt_q > 0) {
		free(s->rcpt_q[0]);
		memmove(s->rcpt_q, s->rcpt_q + 1,
		    --s->nrcpt_q * sizeof s->rcpt_q[0]);
	}
	if (code / 100 == 2) {
		smtpi_sess_step(s, DM_STEP_SENDER, 1, text);
		inject(s, "RSET\r\n", PEND_RSET);
		return 0;
	}
	if (smtpi_sender_refused(code, text)) {
		(void)snprintf(msg, sizeof msg,
		    _("the server refused mail from '%s' for this login: server said: %d %s"),
		    addr, code, text);
		refuse_sender(s, code, msg);
	} else {
		(void)snprintf(msg, sizeof msg,
		    _("the server refused a test message from '%s' to itself: server said: %d %s"),
		    addr, code, text);
		dm_err_set(&e, code < 500 ? DM_ETEMP : DM_EREJECT, "%s", msg);
		e.smtp_code = code;
		dm_err_hint(&e, "%s", code < 500 ?
		    _("a temporary problem at the server: try again later") :
		    _("mail from this address will likely be refused too: check email in the settings and what the account may send"));
		smtpi_sess_fail(s, &e);
	}
	smtpi_sess_step(s, DM_STEP_SENDER, 0, msg);
	return -1;
}

/* A whole reply from the server: act on it; returns 0 to forward it. */
static int
on_reply(struct sess *s, const char *r, size_t n, struct dm_buf *out)
{
	char text[DM_SMTP_TEXT_MAX], msg[2 * DM_ERR_MSG_MAX];
	int code = smtpi_reply_code(r, n);
	size_t mi;
	enum pend what = pop(s, &mi);
	struct dm_err e;

	reply_text(r, n, text, sizeof text);
	s->mail = msg_at(s, mi);
	/* A reply for a later message: the earlier ones are over. */
	smtpi_sess_done(s, mi, NULL);
	switch (what) {
	case PEND_GREETING:
		if (s->rep != NULL)
			dm_strlcpy(s->rep->greeting, text,
			    sizeof s->rep->greeting);
		if (code == 220) {
			smtpi_sess_step(s, DM_STEP_GREETING, 1, text);
			break;
		}
		(void)snprintf(msg, sizeof msg,
		    _("the server is not accepting mail: server said: %d %s"),
		    code, text);
		fail(s, code < 500 ? DM_ETEMP : DM_EREJECT, code, msg,
		    code < 500 ? hint_retry(s) :
		    _("check host and port: this server does not take mail from you"));
		smtpi_sess_step(s, DM_STEP_GREETING, 0, msg);
		return -1;
	case PEND_EHLO:
		s->ehlo_count++;
		if (code / 100 == 2) {
			ehlo_reply(s, r, n, out);
			/* With starttls it was reported before TLS. */
			if (s->ehlo_count != 1 || s->ssl == NULL ||
			    s->p->security != DM_SEC_STARTTLS)
				smtpi_sess_step(s, DM_STEP_EHLO, 1, NULL);
			/* No AUTH at all: the MAIL rule below says so. */
			if (s->oauth && !in_oauth(s) && s->auth_offered &&
			    !s->authed) {
				/*
				 * libESMTP waits for this reply before its
				 * next command: nothing else is pending, so
				 * the login's replies are the next ones.
				 */
				if (s->npend > 0) {
					fail_internal(s, code,
					    _("commands were pending behind EHLO at the login"));
					return -1;
				}
				return oauth_start(s, out);
			}
			return 1;
		}
		break;
	case PEND_OAUTH:
		if (!s->oauth || s->oa_mech == NULL) {
			/* Only oauth_begin() queues it. */
			fail_internal(s, code,
			    _("a reply to a login the relay did not start"));
			return -1;
		}
		return oauth_reply(s, code, text, out);
	case PEND_AUTH:
		if (code == 334)
			break;
		/* Not over a later state: only the exchange ends here. */
		if (s->state == RS_AUTH)
			s->state = RS_DIALOGUE;
		if (code == 235) {
			s->authed = 1;
			smtpi_sess_step(s, DM_STEP_AUTH, 1,
			    s->rep != NULL ? s->rep->auth_mech : NULL);
			break;
		}
		dm_strlcpy(s->auth_reply, text, sizeof s->auth_reply);
		auth_failed(s, code, text);
		return -1;
	case PEND_MAIL:
		if (s->rep != NULL) {
			char *sr = s->rep->sender_reply;

			(void)snprintf(sr, sizeof s->rep->sender_reply, "%d ",
			    code);
			dm_strlcpy(sr + strlen(sr), text,
			    sizeof s->rep->sender_reply - strlen(sr));
		}
		/* The test's sender check ends at its RCPT (see below). */
		if (code / 100 == 2) {
			if (!s->testing)
				smtpi_sess_step(s, DM_STEP_SENDER, 1, text);
			break;
		}
		(void)snprintf(msg, sizeof msg,
		    _("the server refused the sender '%s': server said: %d %s"),
		    s->mail != NULL ? s->mail->sender : s->p->user ? s->p->user : "",
		    code, text);
		if (code == 530 && strcasestr(text, "STARTTLS") != NULL)
			fail(s, DM_EAUTH, code, msg, _("the server wants encryption first: use security = starttls (port 587) or ssl (port 465)"));
		/* OpenSMTPD: "530 Sender rejected" after a good login. */
		else if (smtpi_sender_refused(code, text) && (code != 530 ||
		    s->authed))
			refuse_sender(s, code, msg);
		else if (code == 530)
			fail(s, DM_EAUTH, code, msg, _("the server requires a login: set user and password in the settings"));
		else if (code >= 500)
			fail(s, DM_EREJECT, code, msg, _("check email in the settings: the server does not take mail from this address"));
		else
			fail(s, DM_ETEMP, code, msg, _("a temporary problem at the server: try again later"));
		smtpi_sess_step(s, DM_STEP_SENDER, 0, msg);
		return -1;
	case PEND_RCPT:
		if (s->testing)
			return test_rcpt_reply(s, code, text);
		rcpt_reply(s, code, text);
		break;
	case PEND_DATA:
		if (code == 354) {
			s->state = RS_DATA;
			s->dot_match = 2;	/* data starts on a new line */
		} else if (s->mail != NULL) {
			s->mail->code = code;
			dm_strlcpy(s->mail->reply, text, sizeof s->mail->reply);
		}
		break;
	case PEND_DOT:
		if (s->mail != NULL) {
			s->mail->code = code;
			dm_strlcpy(s->mail->reply, text, sizeof s->mail->reply);
			s->mail->accepted = code / 100 == 2;
		}
		/* Answered: a break from here on is no longer "maybe". */
		if (s->state == RS_DOT_QUEUED || s->state == RS_DOT_SENT)
			s->state = RS_DIALOGUE;
		smtpi_sess_step(s, DM_STEP_DATA, code / 100 == 2, text);
		/* Settled before libESMTP moves on to the next message. */
		smtpi_sess_done(s, mi + 1, NULL);
		break;
	case PEND_RSET:
		if (s->testing) {
			/* The relay's own RSET: libESMTP never asked. */
			inject(s, "QUIT\r\n", PEND_QUIT);
			return 1;
		}
		break;
	case PEND_QUIT:
		smtpi_sess_step(s, DM_STEP_QUIT, 1, NULL);
		/* The relay's own QUIT (test, stop): libESMTP's is over too. */
		if (s->testing || s->state == RS_STOPPING) {
			s->state = RS_DONE;
			return 1;
		}
		break;
	case PEND_OTHER:
		break;
	}
	/*
	 * A 421 to any command: the server is closing the channel (RFC 5321
	 * 3.8).  Said as such, not as the lost connection that follows.
	 */
	if (code == 421 && what != PEND_QUIT) {
		(void)snprintf(msg, sizeof msg,
		    _("the server ended the session: server said: 421 %s"), text);
		fail(s, DM_ETEMP, 421, msg, hint_retry(s));
		return -1;
	}
	(void)dm_buf_add(out, r, n, &e);
	return 0;
}

/* A reply that breaks the protocol ends the session: see smtpi_bad_reply(). */
static void
broken(struct sess *s, const char *what, const char *l, size_t n)
{
	struct dm_err e;

	(void)smtpi_bad_reply(&e, what, l, n);
	smtpi_sess_fail(s, &e);
}

/* Bytes from the server: whole replies are handled, then forwarded. */
int
smtpi_from_server(struct sess *s, const char *p, size_t n)
{
	struct dm_buf out, clean;
	struct dm_err e;
	char what[80], said[DM_SMTP_TEXT_MAX], m421[2 * DM_ERR_MSG_MAX];
	const char *nl;
	size_t start, ll;
	int code, r;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		ll = nl != NULL ? (size_t)(nl - p + 1) : n;
		if (dm_buf_add(&s->sline, p, ll, &e) == -1)
			return smtpi_sess_fail(s, &e);
		p += ll;
		n -= ll;
		/* The line (so far) starts after the previous '\n'. */
		start = s->sline.len - ll;
		while (start > 0 && s->sline.data[start - 1] != '\n')
			start--;
		/* Checked before the line ends: a 1 MB line stops at 4 KB. */
		if (s->sline.len - start > REPLY_LINE_MAX) {
			(void)snprintf(what, sizeof what,
			    _("sent an over-long reply line (more than %d bytes)"),
			    REPLY_LINE_MAX);
			broken(s, what, s->sline.data + start, 40);
			return -1;
		}
		if (nl == NULL)
			break;
		code = smtpi_reply_code(s->sline.data + start,
		    s->sline.len - start);
		smtpi_sess_log(s, "S: ", s->sline.data + start,
		    s->sline.len - start);
		if (code == 0) {
			char msg[DM_ERR_MSG_MAX], txt[80];

			smtpi_sanitize(txt, sizeof txt, s->sline.data + start,
			    s->sline.len - start);
			(void)snprintf(msg, sizeof msg,
			    _("the server at %s port %d does not speak SMTP: it sent '%s'"),
			    s->p->host, s->p->port, txt);
			fail(s, DM_EPROTO, 0, msg,
			    _("check host and port: this is not a mail server's SMTP port"));
			return -1;
		}
		/* Every line of one reply has the same code (RFC 5321 4.2.1). */
		if (start > 0 && code != smtpi_reply_code(s->sline.data,
		    s->sline.len)) {
			broken(s, _("sent mixed reply codes in one reply"),
			    s->sline.data + start, s->sline.len - start);
			return -1;
		}
		if (s->sline.len > REPLY_MAX) {
			(void)snprintf(what, sizeof what,
			    _("sent an over-long reply (more than %d bytes)"),
			    REPLY_MAX);
			broken(s, what, s->sline.data, 40);
			return -1;
		}
		if (s->sline.len - start > 4 &&
		    s->sline.data[start + 3] == '-')
			continue;	/* more lines of this reply */
		/*
		 * A reply to no command: pipelining abuse, or injected.  Taken
		 * for the next command's reply it would shift every later one.
		 * Only a 421 may come unasked (RFC 5321 3.8).
		 */
		if (s->npend == 0 && code == 421) {
			reply_text(s->sline.data, s->sline.len, said,
			    sizeof said);
			(void)snprintf(m421, sizeof m421,
			    _("the server ended the session: server said: 421 %s"),
			    said);
			fail(s, DM_ETEMP, 421, m421, hint_retry(s));
			return -1;
		}
		if (s->npend == 0) {
			broken(s, _("sent a reply before docmail's command"),
			    s->sline.data, s->sline.len);
			return -1;
		}
		if (reserve(s) == -1) {
			fail(s, DM_ENOMEM, 0, _("out of memory"), NULL);
			return -1;
		}
		dm_buf_init(&out, 0);
		dm_buf_init(&clean, 0);
		r = on_reply(s, s->sline.data, s->sline.len, &out);
		if (r != -1 && clean_reply(out.data != NULL ? out.data : "",
		    out.len, &clean, &e) == -1)
			r = smtpi_sess_fail(s, &e);
		/*
		 * The reply's length is checked as it comes, and a rewritten
		 * EHLO reply grows: one near the limit can outgrow s2c.  Never
		 * end the session without saying why.
		 */
		if (r != -1 && iob_add(&s->s2c, clean.data != NULL ?
		    clean.data : "", clean.len) == -1) {
			fail(s, DM_EPROTO, 0,
			    _("the server sent an over-long reply"),
			    _("this is not a well-behaved SMTP server; check host and port"));
			r = -1;
		}
		dm_buf_release(&out);
		dm_buf_release(&clean);
		if (r == -1)
			return -1;
		dm_buf_reset(&s->sline);
	}
	return 0;
}

/*
 * The commands the relay follows reply by reply.  Anything else from
 * libESMTP (BDAT, ETRN, ...) would shift every later reply onto the
 * wrong command, or carry message data the relay cannot see the end
 * of: it ends the session before any of it leaves.
 */
static int
command_modelled(const char *verb)
{
	static const char *const ok[] = {
		"EHLO", "HELO", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "QUIT"
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(verb, ok[i]) == 0)
			return 1;
	return 0;
}

static void
unmodelled(struct sess *s, const char *verb)
{
	char msg[DM_ERR_MSG_MAX], v[sizeof "BDAT-AND-MORE"];

	/* Only the verb: what follows may be message data. */
	smtpi_sanitize(v, sizeof v, verb, strlen(verb));
	smtpi_sess_log(s, "C: ", v, strlen(v));
	(void)snprintf(msg, sizeof msg,
	    _("docmail's SMTP engine tried a command its relay does not follow, '%s'; the session was ended before any message data was sent"),
	    v);
	fail(s, DM_EPROTO, 0, msg,
	    _("nothing was sent; this is a bug in docmail: please report it with the output of 'docmail test --verbose'"));
}

/*
 * libESMTP's MAIL begins its next message: the relay follows it there,
 * and asks the caller whether to go on (pacing, a stop request).  To
 * stop, the MAIL is kept back and the relay says QUIT itself.  Returns
 * as on_command().
 */
static int
begin_message(struct sess *s)
{
	size_t next = s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg + 1;

	if (next >= s->nmails) {
		fail(s, DM_EINTERNAL, 0,
		    _("docmail's SMTP engine began more messages than it was given"),
		    _("nothing more was sent; this is a bug in docmail: please report it"));
		return -1;
	}
	if (s->p->before_mail != NULL &&
	    s->p->before_mail(s->p->arg, next) != 0) {
		s->state = RS_STOPPING;
		s->dropped++;
		inject(s, "QUIT\r\n", PEND_QUIT);
		return 1;
	}
	s->cmd_msg = next;
	s->begun = next + 1;
	s->mail = &s->mails[next];
	s->rcpt_left = (int)s->mail->nrcpt;
	s->rcpt_refused = 0;
	s->data_sent = 0;
	return 0;
}

/* A command line from libESMTP; returns 0 to forward, 1 to drop, -1 stop. */
static int
on_command(struct sess *s, const char *l, size_t n)
{
	char verb[16] = "", mb[DM_SMTP_TEXT_MAX], msg[DM_ERR_MSG_MAX];
	const char *a, *b;
	size_t i;
	int r;

	/* The whole first word: "MAILX" is not MAIL. */
	for (i = 0; i < n && i + 1 < sizeof verb && l[i] != ' ' &&
	    l[i] != '\r' && l[i] != '\n'; i++)
		verb[i] = (char)toupper((unsigned char)l[i]);
	verb[i] = '\0';
	if (s->state == RS_AUTH) {
		smtpi_sess_log(s, "C: ", "[redacted]", 10);
		push(s, PEND_AUTH);
		return 0;
	}
	/* With OAuth2 the relay logs in; libESMTP was offered no AUTH. */
	if (strcmp(verb, "AUTH") == 0 && s->oauth) {
		unmodelled(s, verb);
		return -1;
	}
	if (strcmp(verb, "AUTH") == 0) {
		/* Keep the mechanism, never what follows it. */
		for (i = 5; i < n && l[i] != ' ' && l[i] != '\r'; i++)
			;
		(void)snprintf(msg, sizeof msg, "%.*s [redacted]",
		    (int)(i < 64 ? i : 64), l);
		smtpi_sess_log(s, "C: ", msg, strlen(msg));
		s->state = RS_AUTH;
		push(s, PEND_AUTH);
		return 0;
	}
	if (!command_modelled(verb)) {
		unmodelled(s, verb);
		return -1;
	}
	/*
	 * The relay ended the session (before_mail): nothing more leaves,
	 * also once its QUIT was answered (a test never stops so).
	 */
	if (s->state == RS_STOPPING ||
	    (s->state == RS_DONE && !s->testing)) {
		s->dropped++;	/* libESMTP waits for its reply */
		return 1;
	}
	if (strcmp(verb, "MAIL") == 0 && s->mails != NULL && !s->testing) {
		r = begin_message(s);
		if (r != 0)
			return r;
	}
	/*
	 * The test ends after MAIL and one RCPT to the sender's own address:
	 * no DATA, and the relay itself sends RSET and QUIT.
	 */
	if (s->testing && (strcmp(verb, "DATA") == 0 ||
	    strcmp(verb, "QUIT") == 0 || strcmp(verb, "RSET") == 0)) {
		s->dropped++;	/* libESMTP waits for its reply */
		return 1;
	}
	if (strcmp(verb, "MAIL") != 0)
		smtpi_sess_log(s, "C: ", l, n);
	if (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0)
		push(s, PEND_EHLO);
	else if (strcmp(verb, "MAIL") == 0) {
		if (s->need_auth && !s->authed) {
			if (!s->auth_offered)
				fail(s, DM_EAUTH, 0,
				    _("the server offers no login (AUTH), but a user name is configured"),
				    s->ssl == NULL ?
				    _("many servers offer AUTH only after STARTTLS: use security = starttls (587) or ssl (465)") :
				    _("check host and port: this may be a relay port (25) rather than the submission port (587 or 465)"));
			else {
				(void)snprintf(msg, sizeof msg,
				    _("the server offers no login method docmail supports (it offers: %s)"),
				    s->auth_offer);
				fail(s, DM_EAUTH, 0, msg,
				    _("docmail logs in with PLAIN, LOGIN or CRAM-MD5; ask the provider for SMTP AUTH with one of them"));
			}
			smtpi_sess_step(s, DM_STEP_AUTH, 0, NULL);
			return -1;
		}
		if (s->mail != NULL && s->size_limit > 0 &&
		    s->mail->size > s->size_limit) {
			(void)snprintf(msg, sizeof msg,
			    _("the message is %llu bytes, the server accepts at most %llu"),
			    (unsigned long long)s->mail->size,
			    (unsigned long long)s->size_limit);
			fail(s, DM_EREJECT, 552, msg,
			    _("send fewer or smaller documents, e.g. one message per document"));
			smtpi_sess_step(s, DM_STEP_SENDER, 0, msg);
			return -1;
		}
		smtpi_sess_log(s, "C: ", l, n);
		push(s, PEND_MAIL);
	} else if (strcmp(verb, "RCPT") == 0) {
		a = memchr(l, '<', n);
		b = a != NULL ? memchr(a, '>', (size_t)(l + n - a)) : NULL;
		mb[0] = '\0';
		if (a != NULL && b != NULL)
			smtpi_sanitize(mb, sizeof mb, a + 1,
			    (size_t)(b - a - 1));
		if (s->nrcpt_q < s->rcpt_cap)
			s->rcpt_q[s->nrcpt_q++] = strdup(mb);
		push(s, PEND_RCPT);
	} else if (strcmp(verb, "DATA") == 0) {
		push(s, PEND_DATA);
	} else if (strcmp(verb, "QUIT") == 0) {
		s->state = RS_QUIT;
		push(s, PEND_QUIT);
	} else if (strcmp(verb, "RSET") == 0) {
		push(s, PEND_RSET);
	} else
		push(s, PEND_OTHER);
	return 0;
}

/* Message data: forwarded as it is up to the final dot. Returns bytes used. */
static size_t
data_bytes(struct sess *s, const char *p, size_t n)
{
	struct dm_smtp_event ev;
	struct dm_smtp_mail *m;
	size_t i;
	uint64_t before = s->data_sent;

	/* CRLF "." CRLF ends the data; dot_match counts its bytes. */
	for (i = 0; i < n; i++) {
		char c;

		/*
		 * Inside a line only a CR can begin the end: skip to it
		 * (the byte-by-byte scan was a tenth of a batch's time).
		 */
		if (s->dot_match == 0) {
			const char *cr = memchr(p + i, '\r', n - i);

			if (cr == NULL) {
				i = n;
				break;
			}
			i = (size_t)(cr - p);
		}
		c = p[i];
		switch (s->dot_match) {
		case 0:
			s->dot_match = c == '\r' ? 1 : 0;
			break;
		case 1:
			s->dot_match = c == '\n' ? 2 : c == '\r' ? 1 : 0;
			break;
		case 2:
			s->dot_match = c == '.' ? 3 : c == '\r' ? 1 : 0;
			break;
		case 3:
			s->dot_match = c == '\r' ? 4 : 0;
			break;
		case 4:
			s->dot_match = c == '\n' ? 5 : c == '\r' ? 1 : 0;
			break;
		}
		if (s->dot_match == 5) {
			i++;
			s->dot_match = 0;
			s->state = RS_DOT_QUEUED;
			break;
		}
	}
	s->data_sent += i;
	m = msg_at(s, s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg);
	if (s->p->event != NULL && m != NULL &&
	    (s->data_sent / 65536 != before / 65536 ||
	    s->state == RS_DOT_QUEUED)) {
		memset(&ev, 0, sizeof ev);
		ev.kind = DM_EV_PROGRESS;
		ev.step = DM_STEP_DATA;
		ev.done = s->data_sent;
		ev.total = m->size;
		ev.msg = s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg;
		s->p->event(s->p->arg, &ev);
	}
	return i;
}

/* Bytes from libESMTP: commands line by line, message data as it is. */
int
smtpi_from_client(struct sess *s, const char *p, size_t n, uint64_t *dot_at)
{
	struct dm_err e;
	const char *nl;
	size_t used, ll, hold;
	int r;

	while (n > 0) {
		/* Kept in order behind a held dot, for smtpi_dot_release(). */
		if (s->dot_held)
			return dm_buf_add(&s->after_dot, p, n, &e);
		if (s->state == RS_DATA) {
			used = data_bytes(s, p, n);
			hold = 0;
			if (s->state == RS_DOT_QUEUED) {
				hold = used < sizeof s->dot_tail ? used :
				    sizeof s->dot_tail;
				memcpy(s->dot_tail, p + used - hold, hold);
				s->dot_tail_len = hold;
				s->dot_held = 1;
				/* Not the last message's: this one's is unknown yet. */
				*dot_at = UINT64_MAX;
			}
			if (iob_add(&s->c2s, p, used - hold) == -1)
				return -1;
			p += used;
			n -= used;
			continue;
		}
		nl = memchr(p, '\n', n);
		ll = nl != NULL ? (size_t)(nl - p + 1) : n;
		if (dm_buf_add(&s->cline, p, ll, &e) == -1 ||
		    s->cline.len > CMD_LINE_MAX)
			return -1;
		p += ll;
		n -= ll;
		if (nl == NULL)
			break;
		if (reserve(s) == -1) {
			fail(s, DM_ENOMEM, 0, _("out of memory"), NULL);
			return -1;
		}
		r = on_command(s, s->cline.data, s->cline.len);
		if (r == -1)
			return -1;
		if (r == 0 && iob_add(&s->c2s, s->cline.data,
		    s->cline.len) == -1)
			return -1;
		dm_buf_reset(&s->cline);
	}
	return 0;
}

int
smtpi_dot_release(struct sess *s, uint64_t *tx_total, uint64_t *dot_at)
{
	struct dm_buf rest;
	int r = 0;

	/* The dot is about to leave: from now on, maybe delivered. */
	if (s->p->before_dot != NULL && s->p->before_dot(s->p->arg) == -1) {
		fail(s, DM_EIO, 0,
		    _("could not record in the outbox that the message is being sent; it was not finished"),
		    _("check the disk (space, permissions); the message is still in the outbox"));
		return -1;
	}
	if (iob_add(&s->c2s, s->dot_tail, s->dot_tail_len) == -1)
		return -1;
	s->dot_held = 0;
	s->dot_tail_len = 0;
	smtpi_sess_log(s, "C: ", "[message data]", 14);
	smtpi_sess_log(s, "C: ", ".", 1);
	*dot_at = *tx_total + (s->c2s.len - s->c2s.off);
	s->dot_msg = s->cmd_msg == SIZE_MAX ? 0 : s->cmd_msg;
	push(s, PEND_DOT);
	if (s->after_dot.len > 0) {
		rest = s->after_dot;
		dm_buf_init(&s->after_dot, rest.max);
		r = smtpi_from_client(s, rest.data, rest.len, dot_at);
		dm_buf_release(&rest);
	}
	return r;
}

/* Reads from the server into buf; >0 bytes, 0 nothing now, -1 closed/error. */
static ssize_t
net_in(struct sess *s, char *buf, size_t n, int *want_write)
{
	ssize_t r;
	int e;

	*want_write = 0;
	if (s->ssl == NULL) {
		r = recv(s->fd, buf, n, 0);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return r == 0 ? -1 : r;
	}
	ERR_clear_error();
	r = SSL_read(s->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		*want_write = 1;
		return 0;
	}
	return -1;
}

/*
 * Writes to the server: >0 bytes, 0 not now, -1 closed/error.  An
 * SSL_write that wants to read first (a TLS 1.3 key update) needs
 * nothing more: the pump always polls the server for reading.
 */
static ssize_t
net_out(struct sess *s, const char *buf, size_t n)
{
	ssize_t r;
	int e;

	/* Whole 16 KiB records: one per line would cost a packet each. */
	if (n > 16384)
		n = 16384;
	if (s->ssl == NULL) {
		r = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return r;
	}
	ERR_clear_error();
	r = SSL_write(s->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
		return 0;
	return -1;
}

static const char *
pend_step_name(const struct sess *s)
{
	if (s->npend == 0)
		return _("sending");
	switch (s->pend[0]) {
	case PEND_GREETING:
		return _("the greeting");
	case PEND_EHLO:
		return _("EHLO");
	case PEND_AUTH:
	case PEND_OAUTH:
		return _("the login (AUTH)");
	case PEND_MAIL:
		return _("MAIL FROM");
	case PEND_RCPT:
		return _("RCPT TO");
	case PEND_DATA:
		return _("DATA");
	case PEND_DOT:
		return _("the end of the message");
	default:
		return _("a command");
	}
}

static void
timed_out(struct sess *s, const char *what)
{
	char msg[DM_ERR_MSG_MAX], hint[DM_ERR_MSG_MAX];

	(void)snprintf(msg, sizeof msg,
	    _("timeout: no progress from %s port %d for %d seconds while waiting for %s"),
	    s->p->host, s->p->port, s->p->timeout, what);
	(void)snprintf(hint, sizeof hint, _("check the network; %s"),
	    hint_retry(s));
	/*
	 * No greeting: without TLS the port may expect TLS from the first
	 * byte; after a TLS handshake that worked it is a busy server.
	 */
	if (s->npend > 0 && s->pend[0] == PEND_GREETING) {
		if (s->ssl != NULL) {
			(void)snprintf(msg, sizeof msg,
			    _("the server did not answer within %d seconds: it may be busy"),
			    s->p->timeout);
			dm_strlcpy(hint, hint_retry(s), sizeof hint);
		} else
			dm_strlcpy(hint, _("a server that sends no greeting may expect TLS from the first byte: port 465 uses security = ssl, 587 uses starttls"), sizeof hint);
	}
	/* A trickle is progress of a kind: say what the clock measures. */
	if (s->npend > 0 && s->sline.len > 0) {
		(void)snprintf(msg, sizeof msg,
		    _("timeout: %s port %d sent only part of its reply to %s within %d seconds"),
		    s->p->host, s->p->port, what, s->p->timeout);
		(void)snprintf(hint, sizeof hint,
		    _("the server answers far too slowly (or raise timeout in the settings); %s"),
		    hint_retry(s));
	}
	fail(s, DM_ETEMP, 0, msg, hint);
}

/*
 * After the relay stopped, before libESMTP sees the end of the stream:
 * it must not while it waits for more than one reply, since with
 * PIPELINING it then calls the reply handler of its state -1, a NULL
 * pointer (libESMTP 1.1.0: a server that failed or stalled during RCPT
 * with two recipients crashed docmail).  So it gets what was already
 * relayed, a 421 for every reply it still waits for (one too many does
 * no harm), and one for each command it sends on (221 for its QUIT),
 * until it hangs up; one second at most.
 */
static void
wind_down(struct sess *s)
{
	static const char r421[] = "421 4.4.0 docmail ended the session\r\n";
	static const char r221[] = "221 2.0.0 docmail ended the session\r\n";
	struct timespec t0;
	char buf[4096], head[4];
	size_t i, hl = 0;
	ssize_t r;

	/* Best effort: the socket is non-blocking and libESMTP reads. */
	if (s->s2c.len > s->s2c.off)
		(void)send(s->app, s->s2c.data + s->s2c.off,
		    s->s2c.len - s->s2c.off, MSG_NOSIGNAL);
	/*
	 * One for each command the test kept from the server, whose reply
	 * libESMTP still waits for (else it waits out the second below),
	 * and one more for a reply that stopped the relay: taken, not
	 * relayed.
	 */
	for (i = 0; i < s->npend + s->dropped + 1; i++)
		(void)send(s->app, r421, sizeof r421 - 1, MSG_NOSIGNAL);
	dm_clock_now(&t0);
	while (dm_clock_ms_since(&t0) < 1000) {
		if (smtpi_net_wait(s->app, POLLIN, 100) <= 0)
			continue;
		r = recv(s->app, buf, sizeof buf, 0);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;		/* libESMTP hung up */
		for (i = 0; i < (size_t)r; i++) {
			if (hl < sizeof head)
				head[hl++] = buf[i];
			if (buf[i] != '\n')
				continue;
			if (hl == sizeof head &&
			    strncasecmp(head, "QUIT", 4) == 0)
				(void)send(s->app, r221, sizeof r221 - 1,
				    MSG_NOSIGNAL);
			else
				(void)send(s->app, r421, sizeof r421 - 1,
				    MSG_NOSIGNAL);
			hl = 0;
		}
	}
}

/* The connection died after docmail refused a renegotiation: say so. */
static int
renegotiation_refused(struct sess *s)
{
	char msg[DM_ERR_MSG_MAX];

	if (s->ssl == NULL || !smtpi_tls_renegotiation_asked(s))
		return 0;
	(void)snprintf(msg, sizeof msg,
	    _("%s port %d asked to renegotiate TLS in the middle of the session; docmail refuses that, and the server then ended the connection"),
	    s->p->host, s->p->port);
	fail(s, DM_ETLS, 0, msg,
	    _("SMTP never needs a renegotiation, and one could swap the checked certificate for another; ask the provider, and try again later (the message stays in the outbox)"));
	return 1;
}

static void *
pump_main(void *arg)
{
	struct sess *s = arg;
	struct pollfd pfd[2];
	char buf[16384];
	uint64_t tx_total = 0, dot_at = UINT64_MAX;
	struct timespec t_write;
	ssize_t r;
	int want_w = 0, app_eof = 0, moved;
	size_t pending;

	dm_clock_now(&t_write);
	for (;;) {
		moved = 0;
		if (smtpi_sess_cancelled(s)) {
			fail(s, DM_ETEMP, 0, _("cancelled by the user"), NULL);
			break;
		}
		/* Server -> s2c (through the reply parser). */
		while (iob_room(&s->s2c) > sizeof buf * 2) {
			r = net_in(s, buf, sizeof buf, &want_w);
			if (r == 0)
				break;
			if (r < 0) {
				if (s->state == RS_QUIT ||
				    s->state == RS_STOPPING ||
				    s->state == RS_DONE)
					goto done;
				if (renegotiation_refused(s))
					goto done;
				fail(s, DM_ECONN, 0,
				    s->state == RS_DOT_SENT ? _("the connection was closed after the end of the message, before the server's reply") :
				    _("the server closed the connection"),
				    hint_retry(s));
				goto done;
			}
			moved = 1;
			if (smtpi_from_server(s, buf, (size_t)r) == -1)
				goto done;
		}
		if (s->state == RS_DONE && s->c2s.len == s->c2s.off)
			goto done;
		/* c2s -> server. */
		while (s->c2s.len > s->c2s.off) {
			r = net_out(s, s->c2s.data + s->c2s.off,
			    s->c2s.len - s->c2s.off);
			if (r == 0)
				break;
			if (r < 0) {
				if (renegotiation_refused(s))
					goto done;
				fail(s, DM_ECONN, 0,
				    _("the connection to the server was lost"),
				    hint_retry(s));
				goto done;
			}
			s->c2s.off += (size_t)r;
			tx_total += (uint64_t)r;
			dm_clock_now(&t_write);
			moved = 1;
			if (s->state == RS_DOT_QUEUED && tx_total >= dot_at)
				s->state = RS_DOT_SENT;
		}
		if (s->c2s.off == s->c2s.len)
			s->c2s.off = s->c2s.len = 0;
		/*
		 * The data before a held dot has left (or the socket is
		 * full): the server reads it while the mark is flushed.
		 */
		if (s->dot_held) {
			if (smtpi_dot_release(s, &tx_total, &dot_at) == -1) {
				if (!s->failed)
					fail(s, DM_EINTERNAL, 0,
					    _("the SMTP relay could not take a command"),
					    NULL);
				goto done;
			}
			continue;
		}
		/* s2c -> libESMTP. */
		while (s->s2c.len > s->s2c.off) {
			r = send(s->app, s->s2c.data + s->s2c.off,
			    s->s2c.len - s->s2c.off, MSG_NOSIGNAL);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r == -1) {
				app_eof = 1;
				s->s2c.off = s->s2c.len;
				break;
			}
			s->s2c.off += (size_t)r;
			moved = 1;
		}
		if (s->s2c.off == s->s2c.len)
			s->s2c.off = s->s2c.len = 0;
		/* libESMTP -> c2s (through the command parser). */
		while (!app_eof && !s->dot_held &&
		    iob_room(&s->c2s) > sizeof buf * 2) {
			r = recv(s->app, buf, sizeof buf, 0);
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r <= 0) {
				app_eof = 1;
				break;
			}
			moved = 1;
			if (smtpi_from_client(s, buf, (size_t)r,
			    &dot_at) == -1) {
				if (!s->failed)
					fail(s, DM_EINTERNAL, 0,
					    _("the SMTP relay could not take a command"),
					    NULL);
				goto done;
			}
		}
		pending = s->c2s.len - s->c2s.off;
		if (app_eof && pending == 0 && (s->npend == 0 ||
		    (s->state != RS_QUIT && s->state != RS_STOPPING &&
		    s->state != RS_DONE)))
			goto done;
		if (moved)
			continue;
		/* Nothing moved: check the clocks, then wait. */
		if (s->npend > 0 && dm_clock_ms_since(&s->t_io) >
		    (long)s->p->timeout * 1000) {
			timed_out(s, pend_step_name(s));
			goto done;
		}
		if (pending > 0 && dm_clock_ms_since(&t_write) >
		    (long)s->p->timeout * 1000) {
			timed_out(s, _("the server to read what docmail sent"));
			goto done;
		}
		if (s->ssl != NULL && SSL_pending(s->ssl) > 0 &&
		    iob_room(&s->s2c) > sizeof buf * 2)
			continue;
		pfd[0].fd = s->fd;
		pfd[0].events = POLLIN;
		if (pending > 0 || want_w)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = app_eof ? -1 : s->app;
		pfd[1].events = (short)((iob_room(&s->c2s) > sizeof buf * 2 ?
		    POLLIN : 0) | (s->s2c.len > s->s2c.off ? POLLOUT : 0));
		r = poll(pfd, 2, 200);
		if (r == -1 && errno != EINTR) {
			fail(s, DM_EINTERNAL, 0, _("poll failed"), NULL);
			goto done;
		}
	}
done:
	if (s->state == RS_DOT_SENT && msg_at(s, s->dot_msg) != NULL &&
	    msg_at(s, s->dot_msg)->code == 0)
		msg_at(s, s->dot_msg)->maybe_delivered = 1;
	if (s->ssl != NULL && !s->failed)
		(void)SSL_shutdown(s->ssl);
	shutdown(s->fd, SHUT_RDWR);
	if (!app_eof)
		wind_down(s);
	/* libESMTP sees the end of the stream and returns at once. */
	shutdown(s->app, SHUT_RDWR);
	/* It carried libESMTP's AUTH line too. */
	explicit_bzero(buf, sizeof buf);
	return NULL;
}

int
smtpi_pump_start(struct sess *s, const char *greeting, size_t greeting_len,
    struct dm_err *err)
{
	if ((s->c2s.data = malloc(IOBUF_SIZE)) == NULL ||
	    (s->s2c.data = malloc(IOBUF_SIZE)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	dm_buf_init(&s->cline, 0);
	dm_buf_init(&s->sline, 0);
	dm_buf_init(&s->held, 0);
	dm_buf_init(&s->after_dot, 0);
	if (reserve(s) == -1)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (greeting != NULL) {
		struct dm_buf clean;

		/* Read before TLS, given to libESMTP as any other reply. */
		dm_buf_init(&clean, 0);
		if (clean_reply(greeting, greeting_len, &clean, err) == -1 ||
		    iob_add(&s->s2c, clean.data, clean.len) == -1) {
			dm_buf_release(&clean);
			return dm_err_set(err, DM_EPROTO,
			    _("the server's greeting is too long"));
		}
		dm_buf_release(&clean);
	} else
		push(s, PEND_GREETING);
	if (pthread_create(&s->thread, NULL, pump_main, s) != 0)
		return dm_err_set(err, DM_EINTERNAL,
		    _("cannot start the SMTP relay thread"));
	s->thread_running = 1;
	return 0;
}

void
smtpi_pump_join(struct sess *s)
{
	size_t i;

	if (s->thread_running) {
		pthread_join(s->thread, NULL);
		s->thread_running = 0;
	}
	for (i = 0; i < s->nrcpt_q; i++)
		free(s->rcpt_q[i]);
	s->nrcpt_q = s->rcpt_cap = s->npend = s->pend_cap = 0;
	free(s->rcpt_q);
	free(s->pend);
	free(s->pend_msg);
	s->rcpt_q = NULL;
	s->pend = NULL;
	s->pend_msg = NULL;
	/* c2s carried the login, a token perhaps: wipe it. */
	if (s->c2s.data != NULL)
		explicit_bzero(s->c2s.data, IOBUF_SIZE);
	free(s->c2s.data);
	free(s->s2c.data);
	s->c2s.data = s->s2c.data = NULL;
	oauth_wipe_payload(s);
	dm_buf_release(&s->held);
	/* A client line may have been libESMTP's AUTH. */
	dm_buf_wipe(&s->cline);
	dm_buf_release(&s->sline);
	dm_buf_release(&s->after_dot);
	s->dot_held = 0;
}
