/*
 * mime.c - the exact RFC 5322 / MIME message, produced as a stream
 *
 * A finished message is a list of segments: one block rendered in
 * memory with the top-level headers and the text part, then per
 * attachment its delimiter and part header (also in memory) followed by
 * the file's base64, read from disk one chunk at a time, then the
 * closing delimiter.  The size is computed from the file sizes, so the
 * caller knows it before a single attachment byte has been read.
 *
 * Choices made here (see mime.h for the contract):
 * - Leading and trailing white space of an unstructured header value
 *   (the subject) is dropped: it is invisible, and trailing white space
 *   would end a header line in white space.
 * - TAB is allowed in subjects and display names (it is white space);
 *   every other C0 control character, DEL and the C1 controls are
 *   refused (DM_EDATA) rather than encoded: no legitimate subject, name
 *   or file name holds one, and an encoded ESC would reach terminals.
 * - A file name is never given twice in one header: filename* and
 *   filename= together are a duplicate parameter (Python's email
 *   package says so) and some readers then pick the ASCII stand-in.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* tm_gmtoff, getrandom() */
#endif

#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/i18n.h>
#include <docmail/limits.h>
#include <docmail/mime.h>

/* Input per attachment read: whole 57-byte base64 lines, about 64 KiB. */
#define CHUNK_LINES	1149
#define CHUNK_IN	(57 * CHUNK_LINES)
#define CHUNK_OUT	(78 * CHUNK_LINES)

#define EW_OVERHEAD	12	/* "=?UTF-8?Q?" and "?=" */
/* An encoded word with room for the widest character. */
#define EW_MIN		(EW_OVERHEAD + 12)
/*
 * Attachment names: NAME_MAX is 255 bytes on ext4, but NTFS and exFAT
 * allow 255 UTF-16 units, up to 1020 bytes of UTF-8 (200 CJK characters
 * make 600).  RFC 2231 continuations keep any of them under 78 columns.
 */
#define NAME_BYTES_MAX	1020
#define MSGID_MAX	255
#define MAILBOX_MAX	(DM_LOCALPART_MAX + 2 + 1 + DM_DOMAIN_MAX)
#define LONG_ATOM	400	/* longer name atoms are encoded instead */
#define HEAD_MAX	(4 * DM_BUF_DEFAULT_MAX)

#define PREAMBLE	"This is a multi-part message in MIME format."

enum stage {
	ST_HEAD,
	ST_PARTHDR,
	ST_FILE,
	ST_TRAILER,
	ST_END,
	ST_FAILED
};

struct attachment {
	char		*path;
	char		*name;		/* display name, UTF-8 */
	const char	*type;		/* static string */
	uint64_t	 size;		/* at dm_mime_add_file() time */
	struct dm_buf	 hdr;		/* delimiter and part header */
};

struct dm_mime {
	struct dm_addr		 from;
	int			 has_from;
	struct dm_addrlist	 rcpt[3];	/* by enum dm_mime_hdr */
	char			*subject;
	char			*body;
	size_t			 bodylen;
	time_t			 date;
	int			 has_date;
	char			*msgid;
	struct attachment	*att;
	size_t			 natt;
	size_t			 attcap;

	int			 finished;
	char			 boundary[32];
	struct dm_buf		 head;
	char			 trailer[48];
	size_t			 trailerlen;
	uint64_t		 size;

	enum stage		 st;
	size_t			 cur;		/* attachment being sent */
	size_t			 off;		/* in the current block */
	int			 fd;
	uint64_t		 done;		/* read of the current file */
	unsigned char		*in;
	char			*out;
	size_t			 outlen;
	char			 pairs[4096][2];	/* 12 bits -> 2 chars */
};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexdig[] = "0123456789ABCDEF";

/* Header emitter: tracks the column so that folding stays under 78. */
struct hdr {
	struct dm_buf	*b;
	size_t		 col;
	size_t		 namelen;
	int		 first;		/* nothing after "Name:" yet */
};

/* Length of the UTF-8 sequence led by c; the text is already validated. */
static size_t
u8len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

enum {
	TXT_TAB = 1 << 0	/* TAB is white space here, not a control */
};

/* Refuses line breaks, NUL, control characters and invalid UTF-8. */
static int
check_text(const char *s, size_t n, const char *what, int flags,
    struct dm_err *err)
{
	const unsigned char *p = (const unsigned char *)s;
	char q[80];
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n') {
			(void)dm_quote(q, sizeof q, s, n, 60);
			dm_err_set(err, DM_EDATA,
			    _("header injection: %s '%s' contains a line break"),
			    what, q);
			return dm_err_hint(err, _("write %s on one line"), what);
		}
	if (memchr(s, '\0', n) != NULL) {
		(void)dm_quote(q, sizeof q, s, strlen(s), 60);
		dm_err_set(err, DM_EDATA,
		    _("header injection: %s '%s' contains a NUL byte"), what, q);
		return dm_err_hint(err, _("remove the NUL byte"));
	}
	if (!dm_utf8_valid(s, n)) {
		(void)dm_quote(q, sizeof q, s, n, 60);
		dm_err_set(err, DM_EDATA, _("%s '%s' is not valid UTF-8"), what,
		    q);
		return dm_err_hint(err, _("save the text as UTF-8"));
	}
	for (i = 0; i < n; i++)
		if ((p[i] < 0x20 && !(p[i] == '\t' && (flags & TXT_TAB))) ||
		    p[i] == 0x7f ||
		    (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)) {
			(void)dm_quote(q, sizeof q, s, n, 60);
			dm_err_set(err, DM_EDATA,
			    _("%s '%s' contains a control character"), what, q);
			return dm_err_hint(err, _("remove the control character"));
		}
	return 0;
}

static int
check_mailbox(const char *mb, struct dm_err *err)
{
	char q[80];
	size_t i, n;

	n = mb == NULL ? 0 : strlen(mb);
	for (i = 0; i < n; i++)
		if (mb[i] < 0x20 || mb[i] > 0x7e)
			break;
	if (n < 3 || n > MAILBOX_MAX || i < n || strchr(mb, '@') == NULL ||
	    mb[0] == '@' || mb[n - 1] == '@') {
		(void)dm_quote(q, sizeof q, mb == NULL ? "" : mb, n, 60);
		dm_err_set(err, DM_EDATA, _("invalid address '%s'"), q);
		return dm_err_hint(err, _("write it as name@example.com"));
	}
	return 0;
}

static int
check_addr(const struct dm_addr *a, struct dm_err *err)
{
	if (check_mailbox(a->mailbox, err) == -1)
		return -1;
	if (a->name != NULL && check_text(a->name, strlen(a->name),
	    _("the display name"), TXT_TAB, err) == -1)
		return -1;
	return 0;
}

static int
check_hdrname(const char *name, struct dm_err *err)
{
	size_t i, n;

	n = name == NULL ? 0 : strlen(name);
	for (i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == ':')
			break;
	if (n == 0 || n > 64 || i < n)
		return dm_err_set(err, DM_EINTERNAL, _("invalid header name"));
	return 0;
}

/* Undoes a half-written header so that a failed call writes nothing. */
static int
undo(struct dm_buf *b, size_t len)
{
	if (b->data != NULL) {
		b->len = len;
		b->data[len] = '\0';
	}
	return -1;
}

/*
 * Header emitter
 */

static int
hdr_start(struct hdr *h, struct dm_buf *b, const char *name,
    struct dm_err *err)
{
	h->b = b;
	h->namelen = strlen(name);
	h->col = h->namelen + 1;
	h->first = 1;
	if (dm_buf_add(b, name, h->namelen, err) == -1 ||
	    dm_buf_addc(b, ':', err) == -1)
		return -1;
	return 0;
}

static int
hdr_fold(struct hdr *h, struct dm_err *err)
{
	if (dm_buf_add(h->b, "\r\n", 2, err) == -1)
		return -1;
	h->col = 0;
	return 0;
}

/*
 * Appends white space ws and text s as one unit.  With mayfold, a unit
 * that would pass column 78 goes to a new line: the CRLF goes before its
 * white space, so unfolding restores the original.
 */
static int
hdr_unit(struct hdr *h, const char *ws, size_t wl, const char *s, size_t n,
    int mayfold, struct dm_err *err)
{
	if (mayfold && !h->first && wl > 0 &&
	    h->col + wl + n > DM_HEADER_FOLD && hdr_fold(h, err) == -1)
		return -1;
	if (dm_buf_add(h->b, ws, wl, err) == -1 ||
	    dm_buf_add(h->b, s, n, err) == -1)
		return -1;
	h->col += wl + n;
	h->first = 0;
	return 0;
}

static int
hdr_end(struct hdr *h, struct dm_err *err)
{
	return dm_buf_add(h->b, "\r\n", 2, err);
}

/* RFC 2047 5(3): the characters a Q-encoded word in a phrase may show. */
static int
q_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
	    c == '-' || c == '/';
}

static size_t
q_cost(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += (q_safe((unsigned char)s[i]) || s[i] == ' ') ? 1 : 3;
	return c;
}

static size_t
b64_small(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

/*
 * How far from i one encoded word of at most avail encoded characters
 * reaches: to the end of the last whole UTF-8 sequence that fits, so
 * that each word decodes on its own.
 */
static size_t
ew_fit(const char *t, size_t n, size_t i, size_t avail, int b64)
{
	const unsigned char *p = (const unsigned char *)t;
	size_t j, k, used, cost;

	for (j = i, used = 0; j < n; j += k, used = cost) {
		k = u8len(p[j]);
		cost = b64 ? 4 * ((j + k - i + 2) / 3) :
		    used + q_cost(t + j, k);
		if (cost > avail)
			break;
	}
	return j;
}

/* Writes bytes i..j of t as one encoded word into ew; returns its length. */
static size_t
ew_write(const char *t, size_t i, size_t j, int b64, char *ew)
{
	const unsigned char *p = (const unsigned char *)t;
	size_t k, o;

	memcpy(ew, b64 ? "=?UTF-8?B?" : "=?UTF-8?Q?", 10);
	o = 10;
	if (b64)
		o += b64_small(p + i, j - i, ew + o);
	else
		for (k = i; k < j; k++) {
			if (p[k] == ' ')
				ew[o++] = '_';
			else if (q_safe(p[k]))
				ew[o++] = (char)p[k];
			else {
				ew[o++] = '=';
				ew[o++] = hexdig[p[k] >> 4];
				ew[o++] = hexdig[p[k] & 15];
			}
		}
	ew[o++] = '?';
	ew[o++] = '=';
	return o;
}

/* B when base64 is shorter than Q for the whole text. */
static int
ew_b64(const char *t, size_t n)
{
	return 4 * ((n + 2) / 3) < q_cost(t, n);
}

/*
 * Appends text t as encoded words, the first after white space wsc.
 * Each word fills what is left of the line (at most 75 characters) and
 * ends on a whole UTF-8 sequence, so each decodes on its own.  The
 * space between two encoded words is not displayed, so t keeps its own
 * spaces inside the encoded text.  With whole (display names), text
 * that fits one encoded word goes out as one, on a new line if need
 * be: some parsers (Python's email package) wrongly show the space
 * between encoded words inside a phrase.
 */
static int
hdr_encoded(struct hdr *h, char wsc, const char *t, size_t n, int whole,
    struct dm_err *err)
{
	char ew[DM_ENCWORD_MAX + 1];
	size_t i = 0, j, k, avail, o, one;
	int b64;

	b64 = ew_b64(t, n);
	one = EW_OVERHEAD + (b64 ? 4 * ((n + 2) / 3) : q_cost(t, n));
	if (whole && one <= DM_ENCWORD_MAX &&
	    h->col + 1 + one > DM_HEADER_FOLD && hdr_fold(h, err) == -1)
		return -1;
	while (i < n) {
		if (h->col + 1 + EW_MIN > DM_HEADER_FOLD &&
		    hdr_fold(h, err) == -1)
			return -1;
		avail = DM_HEADER_FOLD - h->col - 1;
		if (avail > DM_ENCWORD_MAX)
			avail = DM_ENCWORD_MAX;
		avail -= EW_OVERHEAD;
		j = ew_fit(t, n, i, avail, b64);
		/*
		 * In a phrase, end the word before one of the text's own
		 * spaces where there is one: those parsers then show a
		 * doubled space rather than a word cut in two.
		 */
		if (whole && j < n) {
			for (k = j; k > i && t[k] != ' '; k--)
				;
			if (k > i)
				j = k;
		}
		o = ew_write(t, i, j, b64, ew);
		if (hdr_unit(h, &wsc, 1, ew, o, 0, err) == -1)
			return -1;
		wsc = ' ';
		i = j;
	}
	return 0;
}

/* A word that must not appear as itself in an unstructured header. */
static int
word_needs_ew(const char *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)w[i] >= 0x80 ||
		    (w[i] == '=' && i + 1 < n && w[i + 1] == '?'))
			return 1;
	return 0;
}

/*
 * The unstructured value v (validated) as units: each word with the
 * white space before it.  Runs of words that need encoding become one
 * encoded text, spaces included.  A word too long for a 998-octet line
 * is encoded too, with all but one character of its white space.
 */
static int
hdr_unstructured(struct hdr *h, const char *v, size_t n, struct dm_err *err)
{
	size_t s = 0, e = n, p, wsb, wse, wb, we, tstart, q, qb, qe;
	int first = 1;

	while (s < e && is_wsp(v[s]))
		s++;
	while (e > s && is_wsp(v[e - 1]))
		e--;
	p = wsb = wse = s;
	while (p < e) {
		wb = p;
		while (p < e && !is_wsp(v[p]))
			p++;
		we = p;
		if (!word_needs_ew(v + wb, we - wb) && (first ?
		    h->namelen + 2 + (we - wb) <= DM_LINE_MAX :
		    (wse - wsb) + (we - wb) <= DM_LINE_MAX)) {
			if (hdr_unit(h, first ? " " : v + wsb,
			    first ? 1 : wse - wsb, v + wb, we - wb, 1,
			    err) == -1)
				return -1;
		} else {
			tstart = first ? wb : wsb + 1;
			/* Take in the following words that need encoding. */
			for (q = p;;) {
				qb = q;
				while (qb < e && is_wsp(v[qb]))
					qb++;
				qe = qb;
				while (qe < e && !is_wsp(v[qe]))
					qe++;
				if (qb == e ||
				    (!word_needs_ew(v + qb, qe - qb) &&
				    (qe - q) <= DM_LINE_MAX))
					break;
				p = we = q = qe;
			}
			if (hdr_encoded(h, first ? ' ' : v[wsb], v + tstart,
			    we - tstart, 0, err) == -1)
				return -1;
		}
		first = 0;
		wsb = p;
		while (p < e && is_wsp(v[p]))
			p++;
		wse = p;
	}
	return 0;
}

int
dm_mime_encode_header(struct dm_buf *b, const char *name, const char *value,
    struct dm_err *err)
{
	struct hdr h;
	char what[80];
	size_t i, len0 = b->len;
	int c;

	if (check_hdrname(name, err) == -1)
		return -1;
	if (value == NULL)
		value = "";
	/* "the subject", for messages. */
	c = snprintf(what, sizeof what, "the %s", name);
	if (c < 0 || (size_t)c >= sizeof what)
		return dm_err_set(err, DM_EINTERNAL, _("invalid header name"));
	for (i = 4; what[i] != '\0'; i++)
		what[i] = lower(what[i]);
	if (check_text(value, strlen(value), what, TXT_TAB, err) == -1)
		return -1;
	if (hdr_start(&h, b, name, err) == -1)
		return undo(b, len0);
	if (hdr_unstructured(&h, value, strlen(value), err) == -1)
		return undo(b, len0);
	/* An empty value still gets its space: "Subject: ". */
	if (h.first && hdr_unit(&h, " ", 1, "", 0, 0, err) == -1)
		return undo(b, len0);
	if (hdr_end(&h, err) == -1)
		return undo(b, len0);
	return 0;
}

/* A display name that can go out as a sequence of atoms, unquoted. */
static int
plain_phrase(const char *s)
{
	size_t i;

	if (*s == '\0' || *s == ' ')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == ' ') {
			if (s[i + 1] == ' ' || s[i + 1] == '\0')
				return 0;
		} else if (!is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Splits s at runs of white space into foldable units. */
static int
hdr_words(struct hdr *h, const char *s, size_t n, struct dm_err *err)
{
	size_t p = 0, wsb, wb;

	while (p < n) {
		wsb = p;
		while (p < n && is_wsp(s[p]))
			p++;
		wb = p;
		while (p < n && !is_wsp(s[p]))
			p++;
		if (hdr_unit(h, wsb == 0 ? " " : s + wsb,
		    wsb == 0 ? 1 : wb - wsb, s + wb, p - wb, 1, err) == -1)
			return -1;
	}
	return 0;
}

/* A name with an atom too long to fit a line once quoted. */
static int
has_long_atom(const char *s)
{
	size_t p = 0, b, n = strlen(s);

	while (p < n) {
		b = p;
		while (p < n && is_wsp(s[p]))
			p++;
		while (p < n && !is_wsp(s[p]))
			p++;
		if (p - b > LONG_ATOM)
			return 1;
	}
	return 0;
}

static int
hdr_phrase(struct hdr *h, const char *name, struct dm_err *err)
{
	struct dm_buf q;
	size_t i;
	int r = -1;

	if (word_needs_ew(name, strlen(name)) || has_long_atom(name))
		return hdr_encoded(h, ' ', name, strlen(name), 1, err);
	if (plain_phrase(name))
		return hdr_words(h, name, strlen(name), err);
	dm_buf_init(&q, 0);
	if (dm_buf_addc(&q, '"', err) == -1)
		goto out;
	for (i = 0; name[i] != '\0'; i++)
		if (((name[i] == '"' || name[i] == '\\') &&
		    dm_buf_addc(&q, '\\', err) == -1) ||
		    dm_buf_addc(&q, name[i], err) == -1)
			goto out;
	if (dm_buf_addc(&q, '"', err) == -1)
		goto out;
	r = hdr_words(h, q.data, q.len, err);
out:
	dm_buf_release(&q);
	return r;
}

int
dm_mime_encode_addr_header(struct dm_buf *b, const char *name,
    const struct dm_addr *a, size_t n, struct dm_err *err)
{
	struct hdr h;
	char unit[MAILBOX_MAX + 4];
	size_t i, len0 = b->len;
	int c;

	if (check_hdrname(name, err) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (check_addr(&a[i], err) == -1)
			return -1;
	if (hdr_start(&h, b, name, err) == -1)
		return undo(b, len0);
	if (n == 0 && hdr_unit(&h, " ", 1, "undisclosed-recipients:;", 24, 0,
	    err) == -1)
		return undo(b, len0);
	for (i = 0; i < n; i++) {
		if (a[i].name != NULL && a[i].name[0] != '\0') {
			if (hdr_phrase(&h, a[i].name, err) == -1)
				return undo(b, len0);
			c = snprintf(unit, sizeof unit, "<%s>%s", a[i].mailbox,
			    i + 1 < n ? "," : "");
		} else
			c = snprintf(unit, sizeof unit, "%s%s", a[i].mailbox,
			    i + 1 < n ? "," : "");
		if (c < 0 || (size_t)c >= sizeof unit) {
			dm_err_set(err, DM_EINTERNAL, _("address too long"));
			return undo(b, len0);
		}
		if (hdr_unit(&h, " ", 1, unit, (size_t)c, 1, err) == -1)
			return undo(b, len0);
	}
	if (hdr_end(&h, err) == -1)
		return undo(b, len0);
	return 0;
}

/*
 * Lifecycle and setters
 */

struct dm_mime *
dm_mime_new(struct dm_err *err)
{
	struct dm_mime *m;
	size_t i;

	if ((m = calloc(1, sizeof *m)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		return NULL;
	}
	m->fd = -1;
	dm_buf_init(&m->head, HEAD_MAX);
	for (i = 0; i < 4096; i++) {
		m->pairs[i][0] = b64chars[i >> 6];
		m->pairs[i][1] = b64chars[i & 63];
	}
	return m;
}

static void
addr_free(struct dm_addr *a)
{
	free(a->name);
	free(a->mailbox);
	a->name = NULL;
	a->mailbox = NULL;
}

static int
addr_dup(struct dm_addr *dst, const struct dm_addr *src, struct dm_err *err)
{
	dst->name = NULL;
	if ((dst->mailbox = dm_strdup(src->mailbox, err)) == NULL)
		return -1;
	if (src->name != NULL &&
	    (dst->name = dm_strdup(src->name, err)) == NULL) {
		addr_free(dst);
		return -1;
	}
	return 0;
}

static void
stream_close(struct dm_mime *m)
{
	if (m->fd != -1)
		(void)close(m->fd);
	m->fd = -1;
	m->st = ST_HEAD;
	m->cur = 0;
	m->off = 0;
	m->done = 0;
	m->outlen = 0;
}

/* Any change after dm_mime_finish() needs another finish. */
static void
touched(struct dm_mime *m)
{
	m->finished = 0;
	stream_close(m);
}

void
dm_mime_free(struct dm_mime *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	stream_close(m);
	addr_free(&m->from);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < m->rcpt[i].n; j++)
			addr_free(&m->rcpt[i].v[j]);
		free(m->rcpt[i].v);
	}
	for (i = 0; i < m->natt; i++) {
		free(m->att[i].path);
		free(m->att[i].name);
		dm_buf_release(&m->att[i].hdr);
	}
	free(m->att);
	free(m->subject);
	free(m->body);
	free(m->msgid);
	dm_buf_release(&m->head);
	free(m->in);
	free(m->out);
	free(m);
}

int
dm_mime_set_from(struct dm_mime *m, const struct dm_addr *a,
    struct dm_err *err)
{
	struct dm_addr copy;

	if (check_addr(a, err) == -1 || addr_dup(&copy, a, err) == -1)
		return -1;
	addr_free(&m->from);
	m->from = copy;
	m->has_from = 1;
	touched(m);
	return 0;
}

int
dm_mime_add_addrs(struct dm_mime *m, enum dm_mime_hdr which,
    const struct dm_addrlist *list, struct dm_err *err)
{
	struct dm_addrlist *l;
	struct dm_addr *v;
	size_t i, ncap;

	if ((unsigned int)which > DM_HDR_REPLY_TO)
		return dm_err_set(err, DM_EINTERNAL, _("unknown address header"));
	l = &m->rcpt[which];
	for (i = 0; i < list->n; i++)
		if (check_addr(&list->v[i], err) == -1)
			return -1;
	if (l->n + list->n > l->cap) {
		ncap = l->n + list->n + 4;
		if ((v = reallocarray(l->v, ncap, sizeof *v)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		l->v = v;
		l->cap = ncap;
	}
	for (i = 0; i < list->n; i++)
		if (addr_dup(&l->v[l->n + i], &list->v[i], err) == -1) {
			/* Nothing appended on error. */
			while (i-- > 0)
				addr_free(&l->v[l->n + i]);
			return -1;
		}
	l->n += list->n;
	touched(m);
	return 0;
}

int
dm_mime_set_subject(struct dm_mime *m, const char *s, struct dm_err *err)
{
	char *p;

	if (s == NULL)
		s = "";
	if (check_text(s, strlen(s), _("the subject"), TXT_TAB, err) == -1 ||
	    (p = dm_strdup(s, err)) == NULL)
		return -1;
	free(m->subject);
	m->subject = p;
	touched(m);
	return 0;
}

int
dm_mime_set_body(struct dm_mime *m, const char *s, size_t n,
    struct dm_err *err)
{
	char *p;

	if (n > 0 && memchr(s, '\0', n) != NULL) {
		dm_err_set(err, DM_EDATA, _("the text contains a NUL byte"));
		return dm_err_hint(err, _("send binary data as an attachment"));
	}
	if (!dm_utf8_valid(s, n)) {
		dm_err_set(err, DM_EDATA, _("the text is not valid UTF-8"));
		return dm_err_hint(err, _("save the text as UTF-8"));
	}
	if ((p = malloc(n + 1)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	free(m->body);
	m->body = p;
	m->bodylen = n;
	touched(m);
	return 0;
}

void
dm_mime_set_date(struct dm_mime *m, time_t t)
{
	m->date = t;
	m->has_date = 1;
	touched(m);
}

/* dot-atom-text (RFC 5322 3.2.3) of exactly n bytes. */
static int
dot_atom(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '.' ? s[i + 1] == '.' :
		    !is_atext((unsigned char)s[i]))
			return 0;
	return 1;
}

int
dm_mime_set_message_id(struct dm_mime *m, const char *id,
    struct dm_err *err)
{
	const char *at;
	char q[80], *p;
	size_t n;

	n = id == NULL ? 0 : strlen(id);
	at = n == 0 ? NULL : strchr(id, '@');
	if (n > MSGID_MAX || at == NULL || !dot_atom(id, (size_t)(at - id)) ||
	    !dot_atom(at + 1, n - (size_t)(at - id) - 1)) {
		(void)dm_quote(q, sizeof q, id == NULL ? "" : id, n, 60);
		dm_err_set(err, DM_EDATA, _("invalid message-id '%s'"), q);
		return dm_err_hint(err,
		    _("write it as left@right without angle brackets or spaces"));
	}
	if ((p = dm_strdup(id, err)) == NULL)
		return -1;
	free(m->msgid);
	m->msgid = p;
	touched(m);
	return 0;
}

/* Case-insensitive ASCII comparison, immune to the locale. */
static int
ext_is(const char *ext, const char *want)
{
	for (; *ext != '\0' && *want != '\0'; ext++, want++)
		if (lower(*ext) != *want)
			return 0;
	return *ext == '\0' && *want == '\0';
}

static const char *
guess_type(const char *name, int pdf)
{
	static const struct {
		const char	*ext;
		const char	*type;
	} types[] = {
		{ "pdf", "application/pdf" },
		{ "txt", "text/plain" },
		{ "csv", "text/csv" },
		{ "html", "text/html" },
		{ "htm", "text/html" },
		{ "xml", "application/xml" },
		{ "json", "application/json" },
		{ "png", "image/png" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },
		{ "zip", "application/zip" },
		{ "odt", "application/vnd.oasis.opendocument.text" },
		{ "ods", "application/vnd.oasis.opendocument.spreadsheet" },
		{ "docx", "application/vnd.openxmlformats-officedocument."
		    "wordprocessingml.document" },
		{ "xlsx", "application/vnd.openxmlformats-officedocument."
		    "spreadsheetml.sheet" },
	};
	const char *dot;
	size_t i;

	if (pdf)
		return "application/pdf";
	if ((dot = strrchr(name, '.')) != NULL)
		for (i = 0; i < sizeof types / sizeof types[0]; i++)
			if (ext_is(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

int
dm_mime_add_file(struct dm_mime *m, const char *path, const char *name,
    struct dm_err *err)
{
	struct attachment *a, *v;
	struct stat st;
	char q[DM_ERR_PATH_MAX], magic[5];
	const char *slash;
	size_t got = 0, ncap;
	ssize_t r;
	int fd = -1, ret = -1;

	if (path == NULL || *path == '\0')
		return dm_err_set(err, DM_ENOINPUT,
		    _("cannot attach '': empty file name"));
	dm_err_path(path, q, sizeof q);
	if (name == NULL) {
		slash = strrchr(path, '/');
		name = slash == NULL ? path : slash + 1;
	}
	/* O_NONBLOCK: a FIFO must not hang us before we can refuse it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': %s"), q,
		    strerror(errno));
		if (errno == ENOENT || errno == ENOTDIR)
			dm_err_hint(err, _("check the path"));
		else if (errno == EACCES || errno == EPERM)
			dm_err_hint(err, _("check the file's permissions"));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': %s"), q,
		    strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		dm_err_set(err, DM_ENOINPUT,
		    _("cannot attach '%s': is a directory"), q);
		dm_err_hint(err, _("attach the files inside it one by one"));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		dm_err_set(err, DM_ENOINPUT,
		    _("cannot attach '%s': not a regular file"), q);
		goto out;
	}
	if (*name == '\0') {
		dm_err_set(err, DM_EDATA, _("cannot attach '%s': empty name"), q);
		dm_err_hint(err, _("give the attachment a name"));
		goto out;
	}
	if (check_text(name, strlen(name), _("the attachment name"), 0,
	    err) == -1)
		goto out;
	if (strlen(name) > NAME_BYTES_MAX) {
		(void)dm_quote(q, sizeof q, name, strlen(name), 60);
		dm_err_set(err, DM_EDATA,
		    _("the attachment name '%s' is too long"), q);
		dm_err_hint(err, _("use a name of at most %d bytes"),
		    NAME_BYTES_MAX);
		goto out;
	}
	while (got < sizeof magic) {
		r = read(fd, magic + got, sizeof magic - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': %s"),
			    q, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (m->natt == m->attcap) {
		ncap = m->attcap == 0 ? 4 : m->attcap * 2;
		if ((v = reallocarray(m->att, ncap, sizeof *v)) == NULL) {
			dm_err_set(err, DM_ENOMEM, _("out of memory"));
			goto out;
		}
		m->att = v;
		m->attcap = ncap;
	}
	a = &m->att[m->natt];
	memset(a, 0, sizeof *a);
	dm_buf_init(&a->hdr, 0);
	if ((a->path = dm_strdup(path, err)) == NULL ||
	    (a->name = dm_strdup(name, err)) == NULL) {
		free(a->path);
		goto out;
	}
	a->size = (uint64_t)st.st_size;
	a->type = guess_type(name, got == sizeof magic &&
	    memcmp(magic, "%PDF-", 5) == 0);
	m->natt++;
	touched(m);
	ret = 0;
out:
	if (fd != -1)
		(void)close(fd);
	return ret;
}

size_t
dm_mime_attachment_count(const struct dm_mime *m)
{
	return m->natt;
}

const char *
dm_mime_attachment_type(const struct dm_mime *m, size_t i)
{
	return i < m->natt ? m->att[i].type : NULL;
}

/*
 * Rendering
 */

/* The next line of s from *pos, whatever its line end. */
static int
next_line(const char *s, size_t n, size_t *pos, size_t *start, size_t *len)
{
	size_t e;

	if (*pos >= n)
		return 0;
	*start = e = *pos;
	while (e < n && s[e] != '\r' && s[e] != '\n')
		e++;
	*len = e - *start;
	if (e < n)
		e += (s[e] == '\r' && e + 1 < n && s[e + 1] == '\n') ? 2 : 1;
	*pos = e;
	return 1;
}

/* Whether the body can go out as it is, as 7bit. */
static int
body_is_7bit(const char *s, size_t n)
{
	const unsigned char *l;
	size_t pos = 0, st, len, i;

	while (next_line(s, n, &pos, &st, &len)) {
		l = (const unsigned char *)s + st;
		if (len > DM_HEADER_FOLD ||
		    (len >= 5 && memcmp(l, "From ", 5) == 0) ||
		    (len == 1 && l[0] == '.') ||
		    (len > 0 && is_wsp((char)l[len - 1])))
			return 0;
		for (i = 0; i < len; i++)
			if (l[i] >= 0x7f || (l[i] < 0x20 && l[i] != '\t'))
				return 0;
	}
	return 1;
}

/* One line as quoted-printable (RFC 2045 6.7), soft breaks at 76. */
static int
qp_line(struct dm_buf *b, const unsigned char *l, size_t n,
    struct dm_err *err)
{
	char out[80];
	size_t i, col = 0, w;
	int enc, last;

	for (i = 0; i < n; i++) {
		last = i + 1 == n;
		enc = !((l[i] >= 33 && l[i] <= 126 && l[i] != '=') ||
		    (is_wsp((char)l[i]) && !last));
		/* Keep mbox "From " lines and SMTP dots out of line starts. */
		if (col == 0 && (l[i] == '.' || (l[i] == 'F' && n - i >= 5 &&
		    memcmp(l + i, "From ", 5) == 0)))
			enc = 1;
		w = enc ? 3 : 1;
		if (col + w > (last ? 76u : 75u)) {
			out[col++] = '=';
			out[col++] = '\r';
			out[col++] = '\n';
			if (dm_buf_add(b, out, col, err) == -1)
				return -1;
			col = 0;
			i--;
			continue;
		}
		if (enc) {
			out[col++] = '=';
			out[col++] = hexdig[l[i] >> 4];
			out[col++] = hexdig[l[i] & 15];
		} else
			out[col++] = (char)l[i];
	}
	out[col++] = '\r';
	out[col++] = '\n';
	return dm_buf_add(b, out, col, err);
}

/* The body with CRLF line ends, 7bit or quoted-printable. */
static int
encode_body(const char *s, size_t n, struct dm_buf *b, int *qp,
    struct dm_err *err)
{
	size_t pos = 0, st, len;

	*qp = !body_is_7bit(s, n);
	while (next_line(s, n, &pos, &st, &len)) {
		if (*qp) {
			if (qp_line(b, (const unsigned char *)s + st, len,
			    err) == -1)
				return -1;
		} else if (dm_buf_add(b, s + st, len, err) == -1 ||
		    dm_buf_add(b, "\r\n", 2, err) == -1)
			return -1;
	}
	return 0;
}

static int
format_date(time_t t, char *out, size_t sz, struct dm_err *err)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;
	long off;
	int c;

	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 ||
	    tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return dm_err_set(err, DM_EDATA, _("cannot represent the date"));
	off = tm.tm_gmtoff / 60;
	c = snprintf(out, sz, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
	    (off < 0 ? -off : off) % 60);
	if (c < 0 || (size_t)c >= sz)
		return dm_err_set(err, DM_EDATA, _("cannot represent the date"));
	return 0;
}

int
dm_mime_format_date(time_t t, char *out, size_t sz, struct dm_err *err)
{
	return format_date(t, out, sz, err);
}

static int
random_bytes(unsigned char *p, size_t n, struct dm_err *err)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	while (got < n) {
		r = getrandom(p + got, n - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		got += (size_t)r;
	}
	if (got == n)
		return 0;
	/* Old kernels without getrandom(). */
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return dm_err_set(err, DM_EIO,
		    _("cannot read random bytes: %s"), strerror(errno));
	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			(void)close(fd);
			return dm_err_set(err, DM_EIO,
			    _("cannot read random bytes from /dev/urandom"));
		}
		got += (size_t)r;
	}
	(void)close(fd);
	return 0;
}

static int
make_message_id(struct dm_mime *m, time_t t, struct dm_err *err)
{
	unsigned char rnd[8];
	char id[MSGID_MAX + 1];
	const char *dom;
	struct tm tm;
	int c;

	dom = strrchr(m->from.mailbox, '@') + 1;
	/* An address literal or odd domain would make an invalid id. */
	if (strlen(dom) > DM_DOMAIN_MAX || !dot_atom(dom, strlen(dom)))
		dom = "docmail.invalid";
	if (gmtime_r(&t, &tm) == NULL)
		return dm_err_set(err, DM_EDATA, _("cannot represent the date"));
	if (random_bytes(rnd, sizeof rnd, err) == -1)
		return -1;
	c = snprintf(id, sizeof id,
	    "%04d%02d%02d%02d%02d%02d.%02x%02x%02x%02x%02x%02x%02x%02x@%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7], dom);
	if (c < 0 || (size_t)c >= sizeof id)
		return dm_err_set(err, DM_EINTERNAL, _("message-id too long"));
	return dm_mime_set_message_id(m, id, err);
}

/* FNV-1a with a final avalanche: deterministic, no crypto needed. */
static uint64_t
hash_id(const char *s, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= salt * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The inside of ' filename="..."' on a line of its own. */
#define QNAME_MAX	(DM_HEADER_FOLD - 12)
/* One encoded word of ' name="..."' on a line of its own. */
#define NAME_EW_MAX	(DM_HEADER_FOLD - 8)

/*
 * The name as the inside of a quoted string, '"' and '\' as quoted
 * pairs (RFC 2045 5.1, RFC 5322 3.2.4), into q of size sz.  Returns 0
 * when the name is not all printable ASCII, would not fit sz, or holds
 * "=?", which readers decoding encoded words in name= would misread:
 * such a name needs RFC 2231 instead.
 */
static int
quoted_name(const char *s, char *q, size_t sz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (strstr(s, "=?") != NULL)
		return 0;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || o + 3 > sz)
			return 0;
		if (*p == '"' || *p == '\\')
			q[o++] = '\\';
		q[o++] = (char)*p;
	}
	q[o] = '\0';
	return 1;
}

/* Appends ' key="q"', q already quoted by quoted_name(). */
static int
add_quoted(struct hdr *h, const char *key, const char *q, struct dm_err *err)
{
	char unit[QNAME_MAX + 16];
	int c;

	c = snprintf(unit, sizeof unit, "%s=\"%s\"", key, q);
	if (c < 0 || (size_t)c >= sizeof unit)
		return dm_err_set(err, DM_EINTERNAL, _("file name too long"));
	return hdr_unit(h, " ", 1, unit, (size_t)c, 1, err);
}

/*
 * ' name="=?UTF-8?B?...?= =?UTF-8?B?...?="', one word per line, for the
 * readers that know no RFC 2231 (Outlook up to 2007 among them): what
 * Thunderbird writes.  RFC 2047 does not allow encoded words inside a
 * quoted string, and Python's email package notes them as a defect of
 * Content-Type; the readers that know better take filename* from
 * Content-Disposition.  A second filename= there instead would be a
 * duplicate parameter, and some readers then show the stand-in.
 */
static int
add_name_encoded(struct hdr *h, const char *name, struct dm_err *err)
{
	char ew[DM_ENCWORD_MAX + 1], unit[DM_ENCWORD_MAX + 8];
	size_t n = strlen(name), i = 0, j, o;
	int b64 = ew_b64(name, n), c;

	while (i < n) {
		j = ew_fit(name, n, i, NAME_EW_MAX - EW_OVERHEAD, b64);
		o = ew_write(name, i, j, b64, ew);
		c = snprintf(unit, sizeof unit, "%s%.*s%s",
		    i == 0 ? "name=\"" : "", (int)o, ew, j == n ? "\"" : "");
		if (c < 0 || (size_t)c >= sizeof unit)
			return dm_err_set(err, DM_EINTERNAL,
			    _("file name too long"));
		if (hdr_unit(h, " ", 1, unit, (size_t)c, 1, err) == -1)
			return -1;
		i = j;
	}
	return 0;
}

/* RFC 2231 attribute-char: sent as itself in filename*. */
static int
attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$&+-.^_`{|}~", c) != NULL);
}

static size_t
pct_len(const unsigned char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += attr_char(s[i]) ? 1 : 3;
	return c;
}

static int
pct_add(struct dm_buf *b, const unsigned char *s, size_t n,
    struct dm_err *err)
{
	char e[3];
	size_t i;

	for (i = 0; i < n; i++) {
		if (attr_char(s[i])) {
			if (dm_buf_addc(b, (char)s[i], err) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hexdig[s[i] >> 4];
		e[2] = hexdig[s[i] & 15];
		if (dm_buf_add(b, e, 3, err) == -1)
			return -1;
	}
	return 0;
}

/*
 * filename*=UTF-8''...; or when that does not fit a line, one
 * filename*N*= continuation per line (RFC 2231 3 and 4); segments end
 * on whole UTF-8 sequences so that clients decoding them one by one
 * still cope.  It is the only file name parameter.
 */
static int
add_filename_star(struct hdr *h, const char *name, struct dm_err *err)
{
	const unsigned char *p = (const unsigned char *)name;
	struct dm_buf u;
	size_t n = strlen(name), i = 0, j, k, room, used;
	unsigned int seg = 0;
	int c, r = -1;
	char pre[32];

	dm_buf_init(&u, 0);
	if (1 + 17 + pct_len(p, n) <= DM_HEADER_FOLD) {
		if (dm_buf_addstr(&u, "filename*=UTF-8''", err) == -1 ||
		    pct_add(&u, p, n, err) == -1 ||
		    hdr_unit(h, " ", 1, u.data, u.len, 1, err) == -1)
			goto out;
		r = 0;
		goto out;
	}
	while (i < n) {
		c = snprintf(pre, sizeof pre, "filename*%u*=%s", seg,
		    seg == 0 ? "UTF-8''" : "");
		if (c < 0 || (size_t)c >= sizeof pre) {
			dm_err_set(err, DM_EINTERNAL, _("file name too long"));
			goto out;
		}
		/* A blank before, a ';' after. */
		room = DM_HEADER_FOLD - 1 - (size_t)c - 1;
		for (j = i, used = 0; j < n; j += k) {
			k = u8len(p[j]);
			if (used + pct_len(p + j, k) > room)
				break;
			used += pct_len(p + j, k);
		}
		dm_buf_reset(&u);
		if (dm_buf_add(&u, pre, (size_t)c, err) == -1 ||
		    pct_add(&u, p + i, j - i, err) == -1 ||
		    (j < n && dm_buf_addc(&u, ';', err) == -1) ||
		    hdr_fold(h, err) == -1 ||
		    hdr_unit(h, " ", 1, u.data, u.len, 0, err) == -1)
			goto out;
		i = j;
		seg++;
	}
	r = 0;
out:
	dm_buf_release(&u);
	return r;
}

/*
 * A name of printable ASCII that fits a line goes out quoted, the same
 * in name= and filename=.  Any other name is in filename* alone
 * (RFC 2231) and as encoded words in name= (see add_name_encoded()).
 */
static int
render_part(struct dm_mime *m, struct attachment *a, struct dm_err *err)
{
	struct hdr h;
	char q[QNAME_MAX + 1];
	int plain;

	dm_buf_reset(&a->hdr);
	plain = quoted_name(a->name, q, sizeof q);
	if (dm_buf_addf(&a->hdr, err, "\r\n--%s\r\n", m->boundary) == -1 ||
	    hdr_start(&h, &a->hdr, "Content-Type", err) == -1 ||
	    dm_buf_addf(&a->hdr, err, " %s;", a->type) == -1)
		return -1;
	h.first = 0;
	h.col += strlen(a->type) + 2;
	if ((plain ? add_quoted(&h, "name", q, err) :
	    add_name_encoded(&h, a->name, err)) == -1 ||
	    hdr_end(&h, err) == -1 ||
	    hdr_start(&h, &a->hdr, "Content-Disposition", err) == -1 ||
	    hdr_unit(&h, " ", 1, "attachment;", 11, 0, err) == -1 ||
	    (plain ? add_quoted(&h, "filename", q, err) :
	    add_filename_star(&h, a->name, err)) == -1 ||
	    hdr_end(&h, err) == -1 ||
	    dm_buf_addstr(&a->hdr,
	    "Content-Transfer-Encoding: base64\r\n\r\n", err) == -1)
		return -1;
	return 0;
}

/* Octets of n bytes as base64 in 76-column lines with CRLF. */
static uint64_t
b64_size(uint64_t n)
{
	uint64_t b = (n + 2) / 3 * 4;

	return b + (b + DM_B64_LINE - 1) / DM_B64_LINE * 2;
}

static int
render_headers(struct dm_mime *m, struct dm_buf *h, time_t when,
    struct dm_err *err)
{
	const struct dm_addrlist *to = &m->rcpt[DM_HDR_TO];
	const struct dm_addrlist *cc = &m->rcpt[DM_HDR_CC];
	const struct dm_addrlist *rt = &m->rcpt[DM_HDR_REPLY_TO];
	char date[64];

	if (format_date(when, date, sizeof date, err) == -1 ||
	    dm_buf_addf(h, err, "Date: %s\r\n", date) == -1 ||
	    dm_mime_encode_addr_header(h, "From", &m->from, 1, err) == -1 ||
	    (rt->n > 0 && dm_mime_encode_addr_header(h, "Reply-To", rt->v,
	    rt->n, err) == -1))
		return -1;
	/* No To and no Cc: an empty group, as RFC 5322 3.6.3 suggests. */
	if ((to->n > 0 || cc->n == 0) &&
	    dm_mime_encode_addr_header(h, "To", to->v, to->n, err) == -1)
		return -1;
	if ((cc->n > 0 && dm_mime_encode_addr_header(h, "Cc", cc->v, cc->n,
	    err) == -1) ||
	    dm_mime_encode_header(h, "Subject", m->subject, err) == -1 ||
	    dm_buf_addf(h, err, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n",
	    m->msgid) == -1)
		return -1;
	return 0;
}

int
dm_mime_finish(struct dm_mime *m, struct dm_err *err)
{
	struct dm_buf body, h;
	const char *cte;
	uint64_t salt = 0;
	time_t when;
	size_t i;
	int qp, r = -1, clash, c;

	dm_buf_init(&body, HEAD_MAX);
	dm_buf_init(&h, HEAD_MAX);
	m->finished = 0;
	stream_close(m);
	if (!m->has_from) {
		dm_err_set(err, DM_EDATA, _("no From address"));
		dm_err_hint(err, _("set email in the profile or give --from"));
		goto out;
	}
	when = m->has_date ? m->date : time(NULL);
	if ((m->msgid == NULL && make_message_id(m, when, err) == -1) ||
	    encode_body(m->body == NULL ? "" : m->body, m->bodylen, &body,
	    &qp, err) == -1 ||
	    render_headers(m, &h, when, err) == -1)
		goto out;
	cte = qp ? "quoted-printable" : "7bit";
	if (m->natt == 0) {
		if (dm_buf_addf(&h, err,
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: %s\r\n\r\n", cte) == -1 ||
		    dm_buf_add(&h, body.data, body.len, err) == -1)
			goto out;
		m->trailerlen = 0;
		m->size = h.len;
	} else {
		/*
		 * The boundary comes from the Message-ID so that the message
		 * is reproducible; it must not occur inside any part.
		 */
		do {
			c = snprintf(m->boundary, sizeof m->boundary,
			    "=_dm_%016llx",
			    (unsigned long long)hash_id(m->msgid, salt++));
			if (c < 0 || (size_t)c >= sizeof m->boundary) {
				dm_err_set(err, DM_EINTERNAL, _("boundary"));
				goto out;
			}
			clash = strstr(dm_buf_str(&body), m->boundary) != NULL;
			for (i = 0; i < m->natt && !clash; i++) {
				if (render_part(m, &m->att[i], err) == -1)
					goto out;
				clash = strstr(dm_buf_str(&m->att[i].hdr) + 4 +
				    strlen(m->boundary), m->boundary) != NULL;
			}
		} while (clash);
		if (dm_buf_addf(&h, err,
		    "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		    PREAMBLE "\r\n--%s\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: %s\r\n\r\n",
		    m->boundary, m->boundary, cte) == -1 ||
		    dm_buf_add(&h, body.data, body.len, err) == -1)
			goto out;
		c = snprintf(m->trailer, sizeof m->trailer, "\r\n--%s--\r\n",
		    m->boundary);
		if (c < 0 || (size_t)c >= sizeof m->trailer) {
			dm_err_set(err, DM_EINTERNAL, _("boundary"));
			goto out;
		}
		m->trailerlen = (size_t)c;
		m->size = h.len + m->trailerlen;
		for (i = 0; i < m->natt; i++)
			m->size += m->att[i].hdr.len + b64_size(m->att[i].size);
	}
	dm_buf_release(&m->head);
	m->head = h;
	dm_buf_init(&h, HEAD_MAX);
	m->finished = 1;
	r = 0;
out:
	dm_buf_release(&body);
	dm_buf_release(&h);
	return r;
}

uint64_t
dm_mime_size(const struct dm_mime *m)
{
	return m->finished ? m->size : 0;
}

const char *
dm_mime_message_id(const struct dm_mime *m)
{
	return m->msgid;
}

/*
 * Streaming
 */

/* Whole 57-byte groups become 76-column lines; the tail gets padding. */
static size_t
b64_lines(const char (*pairs)[2], const unsigned char *in, size_t n,
    char *out)
{
	char *o = out;
	uint32_t v;
	size_t i, tail;

	for (; n >= 57; n -= 57) {
		for (i = 0; i < 19; i++, in += 3, o += 4) {
			v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 |
			    in[2];
			memcpy(o, pairs[v >> 12], 2);
			memcpy(o + 2, pairs[v & 0xfff], 2);
		}
		*o++ = '\r';
		*o++ = '\n';
	}
	if (n > 0) {
		tail = n % 3;
		for (; n >= 3; n -= 3, in += 3, o += 4) {
			v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 |
			    in[2];
			memcpy(o, pairs[v >> 12], 2);
			memcpy(o + 2, pairs[v & 0xfff], 2);
		}
		if (tail > 0)
			o += b64_small(in, tail, o);
		*o++ = '\r';
		*o++ = '\n';
	}
	return (size_t)(o - out);
}

static int
changed(struct dm_mime *m, struct dm_err *err)
{
	char q[DM_ERR_PATH_MAX];

	dm_err_path(m->att[m->cur].path, q, sizeof q);
	dm_err_set(err, DM_EIO,
	    _("attachment '%s' changed while the message was being sent"), q);
	return dm_err_hint(err,
	    _("send the message again once the file is complete"));
}

static int
read_error(struct dm_mime *m, int e, struct dm_err *err)
{
	char q[DM_ERR_PATH_MAX];

	dm_err_path(m->att[m->cur].path, q, sizeof q);
	return dm_err_set(err, DM_EIO, _("cannot read attachment '%s': %s"), q,
	    strerror(e));
}

/* Reads up to n bytes, short only at end of file. */
static ssize_t
read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Refills the output with the next chunk of the current file.  Returns
 * 1 with data, 0 when the file is done (and closed), -1 on error.
 */
static int
fill(struct dm_mime *m, struct dm_err *err)
{
	struct attachment *a = &m->att[m->cur];
	struct stat st;
	unsigned char extra;
	char q[DM_ERR_PATH_MAX];
	size_t want;
	ssize_t r;

	if (m->in == NULL && (m->in = malloc(CHUNK_IN)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (m->out == NULL && (m->out = malloc(CHUNK_OUT)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (m->fd == -1) {
		m->fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (m->fd == -1) {
			dm_err_path(a->path, q, sizeof q);
			dm_err_set(err, DM_ENOINPUT,
			    _("cannot read attachment '%s': %s"), q,
			    strerror(errno));
			return dm_err_hint(err,
			    _("check that the file still exists"));
		}
		if (fstat(m->fd, &st) == -1)
			return read_error(m, errno, err);
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != a->size)
			return changed(m, err);
		m->done = 0;
	}
	if (m->done == a->size) {
		/* The file must end where fstat() said it did. */
		if ((r = read_full(m->fd, &extra, 1)) == -1)
			return read_error(m, errno, err);
		if (r != 0)
			return changed(m, err);
		(void)close(m->fd);
		m->fd = -1;
		return 0;
	}
	want = a->size - m->done > CHUNK_IN ? CHUNK_IN :
	    (size_t)(a->size - m->done);
	if ((r = read_full(m->fd, m->in, want)) == -1)
		return read_error(m, errno, err);
	if ((size_t)r != want)
		return changed(m, err);
	m->done += want;
	m->outlen = b64_lines((const char (*)[2])m->pairs, m->in, want,
	    m->out);
	m->off = 0;
	return 1;
}

/* Copies what it can of block p into the caller's buffer; 1 when done. */
static int
copy_block(struct dm_mime *m, const char *p, size_t n, char *buf, size_t len,
    size_t *got)
{
	size_t k = n - m->off;

	if (k > len - *got)
		k = len - *got;
	memcpy(buf + *got, p + m->off, k);
	*got += k;
	m->off += k;
	return m->off == n;
}

ssize_t
dm_mime_read(struct dm_mime *m, char *buf, size_t len, struct dm_err *err)
{
	struct attachment *a;
	size_t got = 0;
	int r;

	if (!m->finished) {
		dm_err_set(err, DM_EINTERNAL, _("the message is not finished"));
		return -1;
	}
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (got < len) {
		switch (m->st) {
		case ST_HEAD:
			if (copy_block(m, m->head.data, m->head.len, buf, len,
			    &got)) {
				m->st = m->natt > 0 ? ST_PARTHDR : ST_END;
				m->off = 0;
			}
			break;
		case ST_PARTHDR:
			a = &m->att[m->cur];
			if (copy_block(m, a->hdr.data, a->hdr.len, buf, len,
			    &got)) {
				m->st = ST_FILE;
				m->off = m->outlen = 0;
			}
			break;
		case ST_FILE:
			if (m->off == m->outlen) {
				if ((r = fill(m, err)) == -1) {
					stream_close(m);
					m->st = ST_FAILED;
					return -1;
				}
				if (r == 0) {
					m->off = m->outlen = 0;
					m->st = ++m->cur < m->natt ?
					    ST_PARTHDR : ST_TRAILER;
					break;
				}
			}
			(void)copy_block(m, m->out, m->outlen, buf, len, &got);
			break;
		case ST_TRAILER:
			if (copy_block(m, m->trailer, m->trailerlen, buf, len,
			    &got))
				m->st = ST_END;
			break;
		case ST_END:
			return (ssize_t)got;
		case ST_FAILED:
			dm_err_set(err, DM_EIO,
			    _("cannot go on with a message that failed to read"));
			dm_err_hint(err, _("start again from the beginning"));
			return -1;
		}
	}
	return (ssize_t)got;
}

int
dm_mime_rewind(struct dm_mime *m, struct dm_err *err)
{
	if (!m->finished)
		return dm_err_set(err, DM_EINTERNAL,
		    _("the message is not finished"));
	stream_close(m);
	return 0;
}
