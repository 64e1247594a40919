/*
 * addr.c - RFC 5322 address lists
 *
 * A small lexer cuts the input into addresses at top-level commas and
 * semicolons.  It reads quoted strings, comments and address literals
 * as whole tokens, so a comma inside "Müller, Hans" or "(a, b)" never
 * splits an address.  Each address is then checked on its own tokens.
 * Everything parsed goes into a temporary list first, so that a bad
 * address anywhere leaves the caller's list as it was.
 *
 * Comments are dropped, with one exception: a comment right after a
 * bare address, as in "a@x.test (Anna)", becomes the display name, as
 * mutt and Python's email.utils do.  Only the first such comment is
 * used, with its quoted-pairs resolved and nested parentheses kept.
 *
 * The mailbox is kept as typed, with two normalisations: a quoted local
 * part that needs no quotes loses them ("anna"@x -> anna@x), and one
 * that needs them is written back with the fewest backslashes.  The
 * domain keeps its case; only the duplicate check ignores it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <docmail/addr.h>
#include <docmail/i18n.h>
#include <docmail/limits.h>

/* Far above any real recipient list, low enough to bound the work. */
#define INPUT_MAX	(64 * 1024)
/* Bytes of bad input shown in a message, so it fits DM_ERR_MSG_MAX. */
#define QUOTE_MAX	160
#define REASON_MAX	128

#define HINT_FORM	_("write addresses as name@domain, separated by commas")
#define HINT_NAME	_("write a name with its address as \"Name <name@domain>\", and separate addresses with commas")
#define HINT_LOCAL	_("put a local part with spaces or special characters in double quotes, as in \"john doe\"@domain")
#define HINT_DOMAIN	_("a domain is letters, digits and hyphens in labels separated by dots, as in mail.example.com")
#define HINT_LIT	_("write an address literal as [192.0.2.1] or [IPv6:2001:db8::1]")
#define HINT_IDN	_("internationalised addresses are not supported; use the ASCII form of the address, with the domain in punycode (xn--...)")
#define HINT_CTRL	_("an address list is one line of text without control characters")
#define HINT_UTF8	_("save or paste the text as UTF-8")
#define HINT_QUOTE	_("close every '\"' with a second '\"'; write a quote inside a name as \\\"")
#define HINT_PAREN	_("close every '(' with a ')'; text in parentheses is a comment")
#define HINT_ANGLE	_("put the address in one pair of angle brackets, as in \"Name <name@domain>\"")
#define HINT_GROUP	_("list the members of the group one by one, separated by commas")
#define HINT_LONG	_("an address may have 64 characters before the '@', 255 after it and 254 in all")
#define HINT_INPUT	_("send to fewer recipients at once")
#define HINT_ONE	_("give exactly one address here, as name@domain or \"Name <name@domain>\"")
#define HINT_NONE	_("give at least one address, as name@domain")

enum toktype {
	T_ATOM,		/* atext, dots and UTF-8: a word or dot-atom */
	T_QUOTED,	/* "...", quotes included */
	T_DOMLIT,	/* [...], brackets included */
	T_LT,
	T_GT,
	T_AT,
	T_COLON
};

struct tok {
	enum toktype	 type;
	size_t		 s;		/* first byte, delimiters included */
	size_t		 e;		/* one past the last byte */
};

struct lexer {
	const char	*in;
	size_t		 len;
	size_t		 pos;		/* where the next address starts */
	int		 eof;		/* the last address has been read */
	size_t		 seg;		/* start of the current address */
	size_t		 end;		/* its end, separator excluded */
	struct tok	*t;		/* its tokens, without comments */
	size_t		 n;
	size_t		 cap;
	size_t		 cs;		/* first comment after the last token */
	size_t		 ce;		/* ... its end; cs == ce if none */
};

/*
 * Length of the UTF-8 character at s (n bytes left), 0 when the bytes
 * there are not valid UTF-8.
 */
static size_t
u8len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t k;

	if (c < 0x80)
		k = 1;
	else if (c < 0xc0)
		return 0;
	else if (c < 0xe0)
		k = 2;
	else if (c < 0xf0)
		k = 3;
	else
		k = 4;
	if (k > n || !dm_utf8_valid(s, k))
		return 0;
	return k;
}

/* in[s..e) without its surrounding blanks, quoted (dm_quote) into q. */
static void
quote(char *q, size_t qsize, const char *in, size_t s, size_t e)
{
	while (s < e && (in[s] == ' ' || in[s] == '\t'))
		s++;
	while (e > s && (in[e - 1] == ' ' || in[e - 1] == '\t'))
		e--;
	(void)dm_quote(q, qsize, in + s, e - s, QUOTE_MAX);
}

/*
 * "invalid address '<in[seg..e)>': <reason>" with a hint.  Returns -1.
 */
static int __attribute__((format(printf, 5, 6)))
bad(const struct lexer *lx, size_t e, const char *hint, struct dm_err *err,
    const char *fmt, ...)
{
	char q[QUOTE_MAX + 32], reason[REASON_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (n < 0)
		return dm_err_set(err, DM_EINTERNAL, _("bad format string"));
	quote(q, sizeof q, lx->in, lx->seg, e);
	dm_err_set(err, DM_EDATA, _("invalid address '%s': %s"), q, reason);
	return dm_err_hint(err, "%s", hint);
}

/*
 * "unbalanced <what> in '<rest of the input>'".  Returns -1.  The rest
 * of the input is quoted because an open quote or bracket may well have
 * swallowed the separators after it.
 */
static int
unbalanced(const struct lexer *lx, const char *what, const char *hint,
    struct dm_err *err)
{
	char q[QUOTE_MAX + 32];

	quote(q, sizeof q, lx->in, lx->seg, lx->len);
	dm_err_set(err, DM_EDATA, _("unbalanced %s in '%s'"), what, q);
	return dm_err_hint(err, "%s", hint);
}

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Bytes that make up a T_ATOM: atext, dots and anything non-ASCII. */
static int
is_atomc(unsigned char c)
{
	return c != '\0' && (is_atext(c) || c == '.' || c >= 0x80);
}

/*
 * Length of the character at in[i] (1 to 4), or -1 after setting err for
 * what may not appear anywhere in an address list: CR, LF, control
 * characters other than TAB, invalid UTF-8.
 */
static int
charlen(const struct lexer *lx, size_t i, struct dm_err *err)
{
	unsigned char c = (unsigned char)lx->in[i];
	size_t k;

	if (c == '\r' || c == '\n')
		return bad(lx, lx->len, HINT_CTRL, err, _("line break"));
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return bad(lx, lx->len, HINT_CTRL, err, _("control character"));
	if (c < 0x80)
		return 1;
	if ((k = u8len(lx->in + i, lx->len - i)) == 0)
		return bad(lx, lx->len, HINT_UTF8, err, _("invalid UTF-8"));
	/* C1 controls, U+0080..U+009F, can be terminal escapes too. */
	if (c == 0xc2 && (unsigned char)lx->in[i + 1] < 0xa0)
		return bad(lx, lx->len, HINT_CTRL, err, _("control character"));
	return (int)k;
}

static int
push(struct lexer *lx, enum toktype type, size_t s, size_t e,
    struct dm_err *err)
{
	struct tok *t;
	size_t ncap;

	if (lx->n == lx->cap) {
		ncap = lx->cap == 0 ? 16 : lx->cap * 2;
		if (ncap > SIZE_MAX / sizeof *t ||
		    (t = realloc(lx->t, ncap * sizeof *t)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		lx->t = t;
		lx->cap = ncap;
	}
	lx->t[lx->n].type = type;
	lx->t[lx->n].s = s;
	lx->t[lx->n].e = e;
	lx->n++;
	lx->cs = lx->ce = 0;
	return 0;
}

/*
 * Reads a quoted string (open '"') or comment (open '(', nested) that
 * starts at *ip and moves *ip past its end.
 */
static int
skip_delimited(const struct lexer *lx, size_t *ip, struct dm_err *err)
{
	const char *in = lx->in;
	size_t i = *ip + 1;
	int k, depth = 1, comment = in[*ip] == '(';

	for (;;) {
		if (i >= lx->len)
			break;
		if (comment && in[i] == '(')
			depth++;
		else if (comment && in[i] == ')') {
			if (--depth == 0) {
				*ip = i + 1;
				return 0;
			}
		} else if (!comment && in[i] == '"') {
			*ip = i + 1;
			return 0;
		} else if (in[i] == '\\' && ++i >= lx->len)
			break;
		if ((k = charlen(lx, i, err)) == -1)
			return -1;
		i += (size_t)k;
	}
	if (comment)
		return unbalanced(lx, _("parenthesis"), HINT_PAREN, err);
	return unbalanced(lx, _("quote"), HINT_QUOTE, err);
}

/*
 * Reads the tokens of the next address, up to a top-level ',' or ';' or
 * the end of the input.  Returns 1 when an address (maybe empty) was
 * read, 0 after the last one, -1 on error.
 */
static int
lex_next(struct lexer *lx, struct dm_err *err)
{
	const char *in = lx->in;
	size_t i = lx->pos, s;
	int k;

	if (lx->eof)
		return 0;
	lx->n = 0;
	lx->seg = i;
	lx->cs = lx->ce = 0;
	for (;;) {
		if (i >= lx->len) {
			lx->end = lx->len;
			lx->eof = 1;
			return 1;
		}
		s = i;
		switch (in[i]) {
		case ',':
		case ';':
			lx->end = i;
			lx->pos = i + 1;
			return 1;
		case ' ':
		case '\t':
			i++;
			break;
		case '(':
			if (skip_delimited(lx, &i, err) == -1)
				return -1;
			/* Remember the first comment after the last token. */
			if (lx->cs == lx->ce) {
				lx->cs = s;
				lx->ce = i;
			}
			break;
		case '"':
			if (skip_delimited(lx, &i, err) == -1 ||
			    push(lx, T_QUOTED, s, i, err) == -1)
				return -1;
			break;
		case '[':
			for (i++; i < lx->len && in[i] != ']'; i += (size_t)k) {
				if (in[i] == '[')
					return unbalanced(lx,
					    _("square bracket"), HINT_LIT, err);
				if ((k = charlen(lx, i, err)) == -1)
					return -1;
			}
			if (i >= lx->len)
				return unbalanced(lx, _("square bracket"),
				    HINT_LIT, err);
			if (push(lx, T_DOMLIT, s, ++i, err) == -1)
				return -1;
			break;
		case ')':
			return unbalanced(lx, _("parenthesis"), HINT_PAREN, err);
		case ']':
			return unbalanced(lx, _("square bracket"), HINT_LIT, err);
		case '<':
		case '>':
		case '@':
		case ':':
			if (push(lx, in[i] == '<' ? T_LT : in[i] == '>' ? T_GT :
			    in[i] == '@' ? T_AT : T_COLON, s, i + 1, err) == -1)
				return -1;
			i++;
			break;
		case '\\':
			return bad(lx, lx->len, HINT_LOCAL, err,
			    _("'\\' outside double quotes"));
		default:
			/* Reports control characters, else starts an atom. */
			if (charlen(lx, i, err) == -1)
				return -1;
			while (i < lx->len && is_atomc((unsigned char)in[i])) {
				if ((k = charlen(lx, i, err)) == -1)
					return -1;
				i += (size_t)k;
			}
			if (i == s)
				return dm_err_set(err, DM_EINTERNAL,
				    _("address lexer stuck at byte %zu"), s);
			if (push(lx, T_ATOM, s, i, err) == -1)
				return -1;
			break;
		}
	}
}

/*
 * Appends the text of a quoted string or comment, without its outer
 * delimiters and with quoted-pairs resolved.
 */
static int
unquote(struct dm_buf *b, const char *in, size_t s, size_t e,
    struct dm_err *err)
{
	size_t i;

	for (i = s + 1; i + 1 < e; i++) {
		if (in[i] == '\\')
			i++;
		if (dm_buf_addc(b, in[i], err) == -1)
			return -1;
	}
	return 0;
}

/* Sets *out to b's text without surrounding blanks, NULL if empty. */
static int
take_trimmed(const struct dm_buf *b, char **out, struct dm_err *err)
{
	const char *s = dm_buf_str(b);
	size_t n = b->len;
	char *p;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*out = NULL;
	if (n == 0)
		return 0;
	if ((p = malloc(n + 1)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	memcpy(p, s, n);
	p[n] = '\0';
	*out = p;
	return 0;
}

static int
is_dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' :
		    !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
has_8bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Appends the local part of t to mb, unquoted where it can be. */
static int
local_part(const struct lexer *lx, const struct tok *t, struct dm_buf *mb,
    struct dm_err *err)
{
	const char *in = lx->in, *s;
	struct dm_buf q;
	size_t i, n;
	int r = -1;

	dm_buf_init(&q, 0);
	if (t->type == T_ATOM) {
		s = in + t->s;
		n = t->e - t->s;
	} else {
		if (unquote(&q, in, t->s, t->e, err) == -1)
			goto out;
		s = dm_buf_str(&q);
		n = q.len;
	}
	if (has_8bit(s, n)) {
		bad(lx, lx->end, HINT_IDN, err,
		    _("non-ASCII characters in the address"));
		goto out;
	}
	if (n == 0) {
		bad(lx, lx->end, HINT_FORM, err, _("empty local part"));
		goto out;
	}
	if (is_dot_atom(s, n)) {
		if (dm_buf_add(mb, s, n, err) == -1)
			goto out;
	} else if (t->type == T_ATOM) {
		bad(lx, lx->end, HINT_LOCAL, err,
		    _("misplaced '.' in the local part"));
		goto out;
	} else {
		/* SMTP takes printable ASCII and space in quotes, no TAB. */
		if (dm_buf_addc(mb, '"', err) == -1)
			goto out;
		for (i = 0; i < n; i++) {
			if (s[i] < 0x20 || s[i] == 0x7f) {
				bad(lx, lx->end, HINT_CTRL, err,
				    _("control character in the local part"));
				goto out;
			}
			if ((s[i] == '"' || s[i] == '\\') &&
			    dm_buf_addc(mb, '\\', err) == -1)
				goto out;
			if (dm_buf_addc(mb, s[i], err) == -1)
				goto out;
		}
		if (dm_buf_addc(mb, '"', err) == -1)
			goto out;
	}
	r = 0;
out:
	dm_buf_release(&q);
	return r;
}

/* By hand: tolower() and strcasecmp() follow the locale (Turkish i). */
static int
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* Checks the domain of t: a host name or an address literal. */
static int
check_domain(const struct lexer *lx, const struct tok *t, struct dm_err *err)
{
	const char *s = lx->in + t->s;
	size_t n = t->e - t->s, i, label;
	unsigned char a[16];
	char lit[64];

	if (has_8bit(s, n))
		return bad(lx, lx->end, HINT_IDN, err,
		    _("non-ASCII characters in the address"));
	if (n > DM_DOMAIN_MAX)
		return bad(lx, lx->end, HINT_LONG, err,
		    _("domain longer than %d characters"), DM_DOMAIN_MAX);
	if (t->type == T_DOMLIT) {
		/* IPv4 and IPv6 only; other tags mean nothing to SMTP. */
		if (n - 2 >= sizeof lit)
			goto badlit;
		memcpy(lit, s + 1, n - 2);
		lit[n - 2] = '\0';
		if (lower(lit[0]) == 'i' && lower(lit[1]) == 'p' &&
		    lower(lit[2]) == 'v' && lit[3] == '6' && lit[4] == ':') {
			if (inet_pton(AF_INET6, lit + 5, a) != 1)
				goto badlit;
		} else if (inet_pton(AF_INET, lit, a) != 1)
			goto badlit;
		return 0;
	}
	for (i = 0, label = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0)
				return bad(lx, lx->end, HINT_DOMAIN, err,
				    _("empty label in the domain"));
			if (label > 63)
				return bad(lx, lx->end, HINT_DOMAIN, err,
				    _("domain label longer than 63 characters"));
			if (s[i - 1] == '-' || s[i - label] == '-')
				return bad(lx, lx->end, HINT_DOMAIN, err,
				    _("domain label starting or ending with '-'"));
			label = 0;
			continue;
		}
		if (!is_ldh((unsigned char)s[i]))
			return bad(lx, lx->end, HINT_DOMAIN, err,
			    _("invalid character '%c' in the domain"), s[i]);
		label++;
	}
	return 0;
badlit:
	return bad(lx, lx->end, HINT_LIT, err, _("invalid address literal"));
}

/*
 * Turns tokens t[a..b) into a mailbox.  bare says there were no angle
 * brackets, which changes what extra words most likely mean.
 */
static int
addr_spec(const struct lexer *lx, size_t a, size_t b, int bare,
    char **mailbox, struct dm_err *err)
{
	const struct tok *t = lx->t;
	struct dm_buf mb;
	size_t i, at = 0, nat = 0, local;
	int r = -1;

	dm_buf_init(&mb, 0);
	for (i = a; i < b; i++) {
		if (t[i].type == T_AT && nat++ == 0)
			at = i;
	}
	if (nat == 0)
		return bad(lx, lx->end, HINT_FORM, err, _("missing '@'"));
	if (nat > 1)
		return bad(lx, lx->end, HINT_FORM, err, _("more than one '@'"));
	if (at == a)
		return bad(lx, lx->end, HINT_FORM, err, _("empty local part"));
	if (at + 1 == b)
		return bad(lx, lx->end, HINT_FORM, err, _("empty domain"));
	if (at - a > 1) {
		if (bare)
			return bad(lx, lx->end, HINT_NAME, err,
			    _("display name without angle brackets"));
		return bad(lx, lx->end, HINT_LOCAL, err,
		    _("unquoted space in the local part"));
	}
	if (b - at > 2)
		return bad(lx, lx->end, HINT_NAME, err,
		    _("unexpected text after the domain"));
	if (t[at - 1].type != T_ATOM && t[at - 1].type != T_QUOTED)
		return bad(lx, lx->end, HINT_LOCAL, err, _("invalid local part"));
	if (t[at + 1].type == T_QUOTED)
		return bad(lx, lx->end, HINT_DOMAIN, err, _("quoted domain"));

	if (local_part(lx, &t[at - 1], &mb, err) == -1)
		goto out;
	if ((local = mb.len) > DM_LOCALPART_MAX) {
		bad(lx, lx->end, HINT_LONG, err,
		    _("local part longer than %d characters"), DM_LOCALPART_MAX);
		goto out;
	}
	if (check_domain(lx, &t[at + 1], err) == -1 ||
	    dm_buf_addc(&mb, '@', err) == -1 ||
	    dm_buf_add(&mb, lx->in + t[at + 1].s, t[at + 1].e - t[at + 1].s,
	    err) == -1)
		goto out;
	if (mb.len > DM_MAILBOX_MAX) {
		bad(lx, lx->end, HINT_LONG, err,
		    _("address longer than %d characters"), DM_MAILBOX_MAX);
		goto out;
	}
	if ((*mailbox = dm_buf_detach(&mb)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	r = 0;
out:
	dm_buf_release(&mb);
	return r;
}

/* Display name from the words t[a..b), joined by single spaces. */
static int
phrase(const struct lexer *lx, size_t a, size_t b, char **name,
    struct dm_err *err)
{
	const struct tok *t = lx->t;
	struct dm_buf nb;
	size_t i;
	int r = -1;

	dm_buf_init(&nb, 0);
	for (i = a; i < b; i++) {
		if (t[i].type == T_QUOTED && t[i].e - t[i].s == 2)
			continue;
		if (nb.len > 0 && dm_buf_addc(&nb, ' ', err) == -1)
			goto out;
		if (t[i].type == T_QUOTED) {
			if (unquote(&nb, lx->in, t[i].s, t[i].e, err) == -1)
				goto out;
		} else if (dm_buf_add(&nb, lx->in + t[i].s, t[i].e - t[i].s,
		    err) == -1)
			goto out;
	}
	r = take_trimmed(&nb, name, err);
out:
	dm_buf_release(&nb);
	return r;
}

static int
is_word(const struct tok *t)
{
	return t->type == T_ATOM || t->type == T_QUOTED;
}

/*
 * Makes one address of the tokens just read.  Returns 1 with *out
 * filled, 0 when there were no tokens, -1 on error.
 */
static int
parse_addr(const struct lexer *lx, struct dm_addr *out, struct dm_err *err)
{
	const struct tok *t = lx->t;
	struct dm_buf cb;
	char *name = NULL, *mailbox = NULL;
	size_t i, lt, gt, n = lx->n;
	int r = -1;

	dm_buf_init(&cb, 0);
	if (n == 0)
		return 0;
	for (i = 0; i < n && t[i].type != T_COLON; i++)
		;
	if (i < n) {
		for (lt = 0; lt < i && is_word(&t[lt]); lt++)
			;
		if (i > 0 && lt == i)
			return bad(lx, lx->end, HINT_GROUP, err,
			    _("groups are not supported"));
		return bad(lx, lx->end, HINT_FORM, err, _("unexpected ':'"));
	}
	for (lt = 0; lt < n && t[lt].type != T_LT; lt++)
		;
	for (gt = 0; gt < n && t[gt].type != T_GT; gt++)
		;
	if (lt == n && gt == n) {
		if (addr_spec(lx, 0, n, 1, &mailbox, err) == -1)
			goto out;
		if (lx->cs != lx->ce) {
			if (unquote(&cb, lx->in, lx->cs, lx->ce, err) == -1 ||
			    take_trimmed(&cb, &name, err) == -1)
				goto out;
		}
	} else {
		if (lt == n || gt < lt)
			return unbalanced(lx, _("angle bracket"), HINT_ANGLE, err);
		for (i = 0; i < lt; i++) {
			if (!is_word(&t[i]))
				return bad(lx, lx->end, HINT_NAME, err,
				    _("unexpected '%c' before '<'"),
				    lx->in[t[i].s]);
		}
		for (i = lt + 1; i < gt; i++) {
			if (t[i].type == T_LT)
				break;
		}
		if (gt == n || i < gt)
			return unbalanced(lx, _("angle bracket"), HINT_ANGLE, err);
		for (i = gt + 1; i < n; i++) {
			if (t[i].type == T_LT || t[i].type == T_GT)
				return unbalanced(lx, _("angle bracket"),
				    HINT_ANGLE, err);
			return bad(lx, lx->end, HINT_NAME, err,
			    _("unexpected text after '>'"));
		}
		if (gt == lt + 1)
			return bad(lx, lx->end, HINT_FORM, err,
			    _("no address between '<' and '>'"));
		if (addr_spec(lx, lt + 1, gt, 0, &mailbox, err) == -1 ||
		    phrase(lx, 0, lt, &name, err) == -1)
			goto out;
	}
	out->name = name;
	out->mailbox = mailbox;
	name = mailbox = NULL;
	r = 1;
out:
	free(name);
	free(mailbox);
	dm_buf_release(&cb);
	return r;
}

/* Same mailbox: local parts equal, domains equal ignoring ASCII case. */
static int
same_mailbox(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	if (da == NULL || db == NULL)
		return strcmp(a, b) == 0;
	if (da - a != db - b || memcmp(a, b, (size_t)(da - a)) != 0)
		return 0;
	for (da++, db++; lower(*da) == lower(*db); da++, db++) {
		if (*da == '\0')
			return 1;
	}
	return 0;
}

static int
reserve(struct dm_addrlist *list, size_t more, struct dm_err *err)
{
	struct dm_addr *v;
	size_t ncap;

	if (more <= list->cap - list->n)
		return 0;
	if (more > SIZE_MAX / sizeof *v / 2 - list->n)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	ncap = list->cap == 0 ? 8 : list->cap;
	while (ncap - list->n < more)
		ncap *= 2;
	if ((v = realloc(list->v, ncap * sizeof *v)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	list->v = v;
	list->cap = ncap;
	return 0;
}

/*
 * Parses input into tmp (which the caller releases, also on error).
 * With dedupe, an address already in old or tmp is dropped.
 */
static int
parse(const struct dm_addrlist *old, struct dm_addrlist *tmp,
    const char *input, int dedupe, struct dm_err *err)
{
	struct lexer lx;
	struct dm_addr a;
	int r = -1, k;

	memset(&lx, 0, sizeof lx);
	if (input == NULL)
		return 0;
	lx.in = input;
	if ((lx.len = strnlen(input, INPUT_MAX + 1)) > INPUT_MAX) {
		dm_err_set(err, DM_EDATA,
		    _("address list too long (more than %d bytes)"), INPUT_MAX);
		return dm_err_hint(err, "%s", HINT_INPUT);
	}
	for (;;) {
		if ((k = lex_next(&lx, err)) == -1)
			goto out;
		if (k == 0)
			break;
		if ((k = parse_addr(&lx, &a, err)) == -1)
			goto out;
		if (k == 0)
			continue;
		if (dedupe && (dm_addrlist_contains(old, a.mailbox) ||
		    dm_addrlist_contains(tmp, a.mailbox))) {
			dm_addr_release(&a);
			continue;
		}
		if (reserve(tmp, 1, err) == -1) {
			dm_addr_release(&a);
			goto out;
		}
		tmp->v[tmp->n++] = a;
	}
	r = 0;
out:
	free(lx.t);
	return r;
}

void
dm_addrlist_init(struct dm_addrlist *list)
{
	list->v = NULL;
	list->n = 0;
	list->cap = 0;
}

void
dm_addrlist_release(struct dm_addrlist *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		dm_addr_release(&list->v[i]);
	free(list->v);
	dm_addrlist_init(list);
}

int
dm_addr_parse_list(struct dm_addrlist *list, const char *input,
    struct dm_err *err)
{
	struct dm_addrlist tmp;
	int r = -1;

	dm_addrlist_init(&tmp);
	if (parse(list, &tmp, input, 1, err) == -1 ||
	    reserve(list, tmp.n, err) == -1)
		goto out;
	/* Cannot fail from here on: the caller's list changes or not. */
	if (tmp.n > 0)
		memcpy(list->v + list->n, tmp.v, tmp.n * sizeof *tmp.v);
	list->n += tmp.n;
	tmp.n = 0;
	r = 0;
out:
	dm_addrlist_release(&tmp);
	return r;
}

/*
 * On error *out is left as it was.  A list that names one mailbox twice
 * counts as two addresses: the field asks for one.
 */
int
dm_addr_parse_one(struct dm_addr *out, const char *input, struct dm_err *err)
{
	struct dm_addrlist tmp;
	char q[QUOTE_MAX + 32];
	size_t len;
	int r = -1;

	dm_addrlist_init(&tmp);
	if (parse(NULL, &tmp, input, 0, err) == -1)
		goto out;
	if (tmp.n != 1) {
		len = strlen(input == NULL ? "" : input);
		quote(q, sizeof q, input == NULL ? "" : input, 0, len);
		if (tmp.n > 1)
			dm_err_set(err, DM_EDATA,
			    _("more than one address in '%s'"), q);
		else if (q[0] == '\0')
			dm_err_set(err, DM_EDATA, _("no address given"));
		else
			dm_err_set(err, DM_EDATA, _("no address in '%s'"), q);
		dm_err_hint(err, "%s", HINT_ONE);
		goto out;
	}
	*out = tmp.v[0];
	tmp.n = 0;
	r = 0;
out:
	dm_addrlist_release(&tmp);
	return r;
}

void
dm_addr_release(struct dm_addr *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->mailbox);
	a->name = NULL;
	a->mailbox = NULL;
}

int
dm_addr_copy(struct dm_addr *dst, const struct dm_addr *src,
    struct dm_err *err)
{
	char *name = NULL, *mailbox = NULL;

	if (src->name != NULL && (name = dm_strdup(src->name, err)) == NULL)
		return -1;
	if (src->mailbox != NULL &&
	    (mailbox = dm_strdup(src->mailbox, err)) == NULL) {
		free(name);
		return -1;
	}
	dst->name = name;
	dst->mailbox = mailbox;
	return 0;
}

int
dm_addr_require_nonempty(const struct dm_addrlist *list, const char *what,
    struct dm_err *err)
{
	if (list != NULL && list->n > 0)
		return 0;
	if (what == NULL)
		dm_err_set(err, DM_EDATA, _("no address given"));
	else
		dm_err_set(err, DM_EDATA, _("no address in %s"), what);
	return dm_err_hint(err, "%s", HINT_NONE);
}

int
dm_addrlist_contains(const struct dm_addrlist *list, const char *mailbox)
{
	size_t i;

	if (list == NULL || mailbox == NULL)
		return 0;
	for (i = 0; i < list->n; i++) {
		if (list->v[i].mailbox != NULL &&
		    same_mailbox(list->v[i].mailbox, mailbox))
			return 1;
	}
	return 0;
}

/* No '@' gives the empty string at the end of mailbox, never NULL. */
const char *
dm_addr_domain(const char *mailbox)
{
	const char *at;

	if (mailbox == NULL)
		return "";
	if ((at = strrchr(mailbox, '@')) == NULL)
		return mailbox + strlen(mailbox);
	return at + 1;
}

/*
 * A name that would not read back as one name (a comma, a quote, ...)
 * is shown in double quotes, so the text can be pasted into a field.
 */
int
dm_addr_format_display(const struct dm_addr *a, struct dm_buf *b,
    struct dm_err *err)
{
	const char *mailbox = a->mailbox == NULL ? "" : a->mailbox;
	const char *s = a->name;
	size_t k;
	int q;

	if (s == NULL || *s == '\0')
		return dm_buf_add_printable(b, mailbox, strlen(mailbox), err);
	q = strpbrk(s, "\"\\,;:<>@()[]") != NULL;
	if (q && dm_buf_addc(b, '"', err) == -1)
		return -1;
	while (*s != '\0') {
		k = q ? strcspn(s, "\"\\") : strlen(s);
		if (dm_buf_add_printable(b, s, k, err) == -1)
			return -1;
		s += k;
		if (*s != '\0') {
			if (dm_buf_addc(b, '\\', err) == -1 ||
			    dm_buf_addc(b, *s, err) == -1)
				return -1;
			s++;
		}
	}
	if (q && dm_buf_addc(b, '"', err) == -1)
		return -1;
	if (dm_buf_addstr(b, " <", err) == -1 ||
	    dm_buf_add_printable(b, mailbox, strlen(mailbox), err) == -1 ||
	    dm_buf_addc(b, '>', err) == -1)
		return -1;
	return 0;
}
