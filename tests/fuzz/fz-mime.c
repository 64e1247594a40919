/*
 * fz-mime.c - fuzz target for the message composer
 *
 * Input: a flags byte, four bytes of date, then NUL-separated fields:
 * From, To, Cc, Reply-To, Bcc, display names (one per line), Subject,
 * body, Message-ID, and pairs of attachment name and bytes (the last
 * bytes run to the end and may hold NULs).  The message is built either
 * through dm_compose_build() as the command line does, or through the
 * dm_mime_*() calls directly with display names straight from the input.
 *
 * Whatever the input, the message must be valid: CRLF only, no line
 * over 998 octets, ASCII headers, only the header fields the composer
 * writes, each once.  And it must say what was asked: From, To, Cc,
 * Reply-To and Subject decode to the values given (so no Bcc address
 * and nothing from the input can hide in the header), the text and
 * every attachment decode to their bytes, and file names read back
 * exactly.  The decoders here are small and separate from mime.c on
 * purpose.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/compose.h>
#include <docmail/err.h>
#include <docmail/limits.h>
#include <docmail/mime.h>
#include <docmail/profile.h>

#include "fuzz.h"

enum {
	F_COMPOSE	= 1 << 0,
	F_MSGID		= 1 << 1,
	F_NAMES		= 1 << 2,	/* display names from the names field */
	F_CHUNK		= 3 << 3,	/* read size */
	F_OVERRIDE	= 1 << 5,	/* allow_from_override */
	F_PNAME		= 1 << 6	/* the profile has a display name */
};

#define ATT_MAX		4
/* A profile name that needs quoting and encoding. */
#define PNAME		"Anna M\xc3\xbcller, Buchhaltung"
#define FIELDS_MAX	64

struct att {
	char		*name;
	char		*data;
	size_t		 len;
	const char	*type;
	int		 fd;
	char		 path[64];
};

struct expect {
	const struct dm_addr	*from;
	const struct dm_addrlist *to, *cc, *rt;
	const char		*subject;
	const char		*body;
	size_t			 bodylen;
	const char		*msgid;		/* NULL: made up */
	struct att		*att[ATT_MAX];
	size_t			 natt;
};

struct field {
	char	 name[80];
	char	*value;		/* unfolded, without the ':' */
};

static const char *const top_fields[] = {
	"Date", "From", "Reply-To", "To", "Cc", "Subject", "Message-ID",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", NULL
};
static const char *const part_fields[] = {
	"Content-Type", "Content-Disposition", "Content-Transfer-Encoding",
	NULL
};

static struct dm_buf
buf_new(void)
{
	struct dm_buf b;

	dm_buf_init(&b, 0);
	return b;
}

static void
add(struct dm_buf *b, const void *p, size_t n)
{
	struct dm_err err;

	FZ_CHECK(dm_buf_add(b, p, n, &err) == 0);
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 of n characters (a multiple of 4) into out. */
static void
b64_decode(const char *s, size_t n, struct dm_buf *out)
{
	unsigned char o[3];
	size_t i;
	int v[4], k, pad;

	FZ_CHECK(n % 4 == 0);
	for (i = 0; i < n; i += 4) {
		for (k = 0, pad = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			FZ_CHECK(pad == 0);
			FZ_CHECK((v[k] = b64val(s[i + k])) >= 0);
		}
		o[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		o[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		o[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		/* No stray bits under the padding. */
		FZ_CHECK(pad == 0 || (pad == 1 && (v[2] & 3) == 0) ||
		    (pad == 2 && (v[1] & 15) == 0));
		add(out, o, (size_t)(3 - pad));
	}
}

/*
 * Decodes w (n bytes) when it is an RFC 2047 encoded word; returns 0
 * when it is not one.  One that is must be well made: at most 75
 * characters, UTF-8, only the characters a phrase allows in Q, and
 * whole UTF-8 characters on its own.
 */
static int
ew_decode(const char *w, size_t n, struct dm_buf *out)
{
	struct dm_buf d = buf_new();
	const char *t;
	size_t tn, i;
	int h, l;
	char c;

	if (n < 12 || memcmp(w, "=?", 2) != 0 ||
	    memcmp(w + n - 2, "?=", 2) != 0)
		return 0;
	FZ_CHECK(n <= DM_ENCWORD_MAX);
	FZ_CHECK(strncmp(w, "=?UTF-8?Q?", 10) == 0 ||
	    strncmp(w, "=?UTF-8?B?", 10) == 0);
	t = w + 10;
	tn = n - 12;
	if (w[8] == 'B')
		b64_decode(t, tn, &d);
	else
		for (i = 0; i < tn; i++) {
			if (t[i] == '_')
				add(&d, " ", 1);
			else if (t[i] == '=') {
				FZ_CHECK(i + 2 < tn);
				FZ_CHECK((h = hexval(t[i + 1])) >= 0 &&
				    (l = hexval(t[i + 2])) >= 0);
				c = (char)(h << 4 | l);
				add(&d, &c, 1);
				i += 2;
			} else {
				FZ_CHECK((t[i] >= 'a' && t[i] <= 'z') ||
				    (t[i] >= 'A' && t[i] <= 'Z') ||
				    (t[i] >= '0' && t[i] <= '9') ||
				    strchr("!*+-/", t[i]) != NULL);
				add(&d, t + i, 1);
			}
		}
	FZ_CHECK(d.len > 0 && dm_utf8_valid(dm_buf_str(&d), d.len));
	add(out, dm_buf_str(&d), d.len);
	dm_buf_release(&d);
	return 1;
}

/* A word that would be read as an encoded word must be a good one. */
static int
word(const char *w, size_t n, struct dm_buf *out)
{
	if (ew_decode(w, n, out))
		return 1;
	FZ_CHECK(memmem(w, n, "=?", 2) == NULL);
	add(out, w, n);
	return 0;
}

/*
 * An unstructured value (after the one space behind the colon):
 * white space between two encoded words goes, all else stays.
 */
static void
unstructured(const char *v, struct dm_buf *out)
{
	struct dm_buf w1;
	const char *p = v, *ws, *w;
	size_t wsn;
	int prev_ew = 0, ew;

	while (*p != '\0') {
		ws = p;
		while (is_wsp(*p))
			p++;
		wsn = (size_t)(p - ws);
		w = p;
		while (*p != '\0' && !is_wsp(*p))
			p++;
		if (p == w) {
			/* Trailing white space: the value was trimmed. */
			FZ_CHECK(wsn == 0);
			break;
		}
		w1 = buf_new();
		ew = word(w, (size_t)(p - w), &w1);
		if (!(prev_ew && ew))
			add(out, ws, wsn);
		add(out, dm_buf_str(&w1), w1.len);
		dm_buf_release(&w1);
		prev_ew = ew;
	}
}

/*
 * Splits a header block (without its empty line) into fields, each
 * name one of allowed and each at most once.  Returns the number.
 */
static size_t
parse_fields(const char *b, size_t n, const char *const *allowed,
    struct field *f, size_t max)
{
	const char *p = b, *end = b + n, *e, *colon;
	struct dm_buf v;
	size_t nf = 0, i, j;

	for (i = 0; i < n; i++)
		FZ_CHECK((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\t' ||
		    b[i] == '\r' || b[i] == '\n');
	while (p < end) {
		e = memmem(p, (size_t)(end - p), "\r\n", 2);
		FZ_CHECK(e != NULL);
		FZ_CHECK(!is_wsp(*p));
		colon = memchr(p, ':', (size_t)(e - p));
		FZ_CHECK(colon != NULL && colon > p &&
		    (size_t)(colon - p) < sizeof f[nf].name);
		FZ_CHECK(nf < max);
		memcpy(f[nf].name, p, (size_t)(colon - p));
		f[nf].name[colon - p] = '\0';
		for (j = 0; allowed[j] != NULL; j++)
			if (strcmp(allowed[j], f[nf].name) == 0)
				break;
		if (allowed[j] == NULL)
			fz_fail(__FILE__, __LINE__, f[nf].name);
		for (j = 0; j < nf; j++)
			FZ_CHECK(strcmp(f[j].name, f[nf].name) != 0);
		v = buf_new();
		add(&v, colon + 1, (size_t)(e - colon - 1));
		p = e + 2;
		/* Folded lines: white space first, and something after it. */
		while (p < end && is_wsp(*p)) {
			e = memmem(p, (size_t)(end - p), "\r\n", 2);
			FZ_CHECK(e != NULL);
			for (i = 0; p + i < e && is_wsp(p[i]); i++)
				;
			FZ_CHECK(p + i < e);
			add(&v, p, (size_t)(e - p));
			p = e + 2;
		}
		add(&v, "", 0);
		f[nf++].value = dm_buf_detach(&v);
	}
	return nf;
}

static const char *
get(const struct field *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return f[i].value;
	return NULL;
}

static void
free_fields(struct field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(f[i].value);
}

/* A display name at *pp, up to the " <" of its address. */
static void
phrase(const char **pp, struct dm_buf *out)
{
	const char *p = *pp, *w;
	int ew;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			FZ_CHECK(*p != '\0');
			if (*p == '\\') {
				p++;
				FZ_CHECK(*p == '"' || *p == '\\');
			}
			add(out, p, 1);
		}
		*pp = p + 1;
		return;
	}
	if (strncmp(p, "=?", 2) == 0) {
		/* Encoded words; the white space between them is not text. */
		for (;;) {
			w = p;
			while (*p != '\0' && !is_wsp(*p))
				p++;
			ew = ew_decode(w, (size_t)(p - w), out);
			FZ_CHECK(ew);
			while (is_wsp(*p))
				p++;
			if (*p == '<')
				break;
		}
		*pp = p - 1;
		FZ_CHECK(**pp == ' ');
		return;
	}
	/* Atoms with single spaces. */
	for (w = p; *p != '<'; p++)
		FZ_CHECK(*p != '\0' && *p != '"' && *p != '(' && *p != ',');
	FZ_CHECK(p - w >= 2 && p[-1] == ' ' && !is_wsp(p[-2]));
	FZ_CHECK(memmem(w, (size_t)(p - w), "=?", 2) == NULL);
	add(out, w, (size_t)(p - w - 1));
	*pp = p - 1;
}

/* An address field's value reads back as the n addresses a. */
static void
addresses(const char *v, const struct dm_addr *a, size_t n)
{
	struct dm_buf name;
	const char *p = v;
	size_t i, ml;

	if (n == 0) {
		FZ_CHECK(strcmp(v, " undisclosed-recipients:;") == 0);
		return;
	}
	for (i = 0; i < n; i++) {
		FZ_CHECK(is_wsp(*p));
		while (is_wsp(*p))
			p++;
		ml = strlen(a[i].mailbox);
		if (a[i].name != NULL && a[i].name[0] != '\0') {
			name = buf_new();
			phrase(&p, &name);
			if (strcmp(dm_buf_str(&name), a[i].name) != 0) {
				fprintf(stderr, "name '%s', want '%s'\n",
				    dm_buf_str(&name), a[i].name);
				FZ_CHECK(0);
			}
			dm_buf_release(&name);
			FZ_CHECK(is_wsp(*p));
			while (is_wsp(*p))
				p++;
			FZ_CHECK(*p == '<');
			FZ_CHECK(strncmp(p + 1, a[i].mailbox, ml) == 0);
			FZ_CHECK(p[ml + 1] == '>');
			p += ml + 2;
		} else {
			FZ_CHECK(strncmp(p, a[i].mailbox, ml) == 0);
			p += ml;
		}
		if (i + 1 < n)
			FZ_CHECK(*p++ == ',');
	}
	FZ_CHECK(*p == '\0');
}

/* Body text with every line end made CRLF, as mime.h promises. */
static void
crlf_body(const char *s, size_t n, struct dm_buf *out)
{
	size_t i = 0, st;

	while (i < n) {
		st = i;
		while (i < n && s[i] != '\r' && s[i] != '\n')
			i++;
		add(out, s + st, i - st);
		add(out, "\r\n", 2);
		if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			i += 2;
		else if (i < n)
			i++;
	}
}

/* The text part's content (c, n bytes) under cte. */
static void
text(const char *cte, const char *c, size_t n, const struct expect *e)
{
	struct dm_buf want = buf_new(), got = buf_new();
	const char *l = c, *nl;
	size_t ll, i;
	int h, lo;
	char ch;

	crlf_body(e->body != NULL ? e->body : "", e->bodylen, &want);
	for (; l < c + n; l = nl + 2) {
		nl = memmem(l, (size_t)(c + n - l), "\r\n", 2);
		FZ_CHECK(nl != NULL);
		ll = (size_t)(nl - l);
		/* Nothing an MTA or mbox reader would change. */
		FZ_CHECK(!(ll == 1 && l[0] == '.'));
		FZ_CHECK(!(ll >= 5 && memcmp(l, "From ", 5) == 0));
		FZ_CHECK(ll == 0 || !is_wsp(l[ll - 1]) ||
		    strcmp(cte, "7bit") != 0);
		if (strcmp(cte, "7bit") == 0) {
			FZ_CHECK(ll <= DM_HEADER_FOLD);
			for (i = 0; i < ll; i++)
				FZ_CHECK((l[i] >= 0x20 && l[i] < 0x7f) ||
				    l[i] == '\t');
			add(&got, l, ll + 2);
			continue;
		}
		FZ_CHECK(strcmp(cte, "quoted-printable") == 0);
		FZ_CHECK(ll <= 76 && (ll == 0 || l[0] != '.'));
		for (i = 0; i < ll; i++) {
			if (l[i] == '=' && i + 1 == ll)
				break;		/* soft line break */
			if (l[i] == '=') {
				FZ_CHECK(i + 2 < ll &&
				    (h = hexval(l[i + 1])) >= 0 &&
				    (lo = hexval(l[i + 2])) >= 0);
				ch = (char)(h << 4 | lo);
				add(&got, &ch, 1);
				i += 2;
				continue;
			}
			FZ_CHECK((l[i] > 0x20 && l[i] < 0x7f) ||
			    (is_wsp(l[i]) && i + 1 < ll));
			add(&got, l + i, 1);
		}
		if (i == ll)
			add(&got, "\r\n", 2);
	}
	FZ_CHECK(got.len == want.len &&
	    memcmp(dm_buf_str(&got), dm_buf_str(&want), got.len) == 0);
	dm_buf_release(&want);
	dm_buf_release(&got);
}

/*
 * The inside of the quoted string at p (just after its '"'), quoted
 * pairs undone, into out; returns its closing '"'.
 */
static const char *
unquote(const char *p, struct dm_buf *out)
{
	for (; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			FZ_CHECK(*p == '"' || *p == '\\');
		}
		FZ_CHECK(*p >= 0x20 && *p < 0x7f);
		add(out, p, 1);
	}
	FZ_CHECK(*p == '"');
	return p;
}

/* name="=?...?= =?...?=": encoded words only, one space apart. */
static void
name_words(const char *s, size_t n, struct dm_buf *out)
{
	const char *e;

	while (n > 0) {
		e = memchr(s, ' ', n);
		if (e == NULL)
			e = s + n;
		FZ_CHECK(ew_decode(s, (size_t)(e - s), out));
		n -= (size_t)(e - s);
		s = e;
		if (n > 0) {
			s++;
			n--;
			FZ_CHECK(n > 0);
		}
	}
}

static int
pct_decode(const char *s, size_t n, struct dm_buf *out)
{
	size_t i;
	int h, l;
	char c;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 ||
			    (l = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(h << 4 | l);
			add(out, &c, 1);
			i += 2;
		} else
			add(out, s + i, 1);
	}
	return 0;
}

/*
 * One attachment part: its header fields and its base64.  A short name
 * of printable ASCII is quoted in name= and filename=; any other is in
 * filename* alone and in encoded words inside name=.
 */
static void
attachment(const struct field *f, size_t nf, const char *c, size_t n,
    const struct att *a)
{
	struct dm_buf star = buf_new(), got = buf_new(), nm = buf_new(),
	    dec = buf_new();
	const char *v, *p, *q, *attr;
	size_t alen, ll, seg = 0;
	int has_star = 0, has_plain = 0, plain;
	char want[32];

	v = get(f, nf, "Content-Transfer-Encoding");
	FZ_CHECK(v != NULL && strcmp(v, " base64") == 0);
	v = get(f, nf, "Content-Type");
	FZ_CHECK(v != NULL && v[0] == ' ');
	FZ_CHECK(strncmp(v + 1, a->type, strlen(a->type)) == 0);
	p = v + 1 + strlen(a->type);
	FZ_CHECK(strncmp(p, ";", 1) == 0 && is_wsp(p[1]));
	for (p++; is_wsp(*p); p++)
		;
	FZ_CHECK(strncmp(p, "name=\"", 6) == 0);
	q = unquote(p + 6, &nm);
	FZ_CHECK(q[1] == '\0');
	/* A plain name never looks like an encoded word. */
	plain = memmem(nm.data != NULL ? nm.data : "", nm.len, "=?", 2) ==
	    NULL;
	if (plain)
		FZ_CHECK(nm.len > 0 && nm.len <= 66 &&
		    strcmp(dm_buf_str(&nm), a->name) == 0);
	else {
		name_words(nm.data, nm.len, &dec);
		FZ_CHECK(strcmp(dm_buf_str(&dec), a->name) == 0);
	}

	v = get(f, nf, "Content-Disposition");
	FZ_CHECK(v != NULL && strncmp(v, " attachment;", 12) == 0);
	for (p = v + 12; *p != '\0';) {
		FZ_CHECK(is_wsp(*p));
		while (is_wsp(*p))
			p++;
		attr = p;
		while (*p != '=' && *p != '\0')
			p++;
		FZ_CHECK(*p == '=');
		alen = (size_t)(p - attr);
		p++;
		if (alen == 8 && memcmp(attr, "filename", 8) == 0) {
			/* The one parameter, the same as name=. */
			FZ_CHECK(plain && !has_plain && !has_star && *p == '"');
			dm_buf_reset(&dec);
			q = unquote(p + 1, &dec);
			FZ_CHECK(q[1] == '\0' &&
			    strcmp(dm_buf_str(&dec), a->name) == 0);
			has_plain = 1;
			p = q + 1;
			continue;
		}
		/*
		 * filename*=UTF-8''... or filename*N*=..., N in order, each
		 * but the last ending in ';'.
		 */
		FZ_CHECK(!plain);
		if ((q = strchr(p, ';')) == NULL)
			q = p + strlen(p);
		else
			FZ_CHECK(q[1] != '\0');
		if (alen == 9 && memcmp(attr, "filename*", 9) == 0) {
			FZ_CHECK(seg == 0 && !has_star && *q == '\0');
			FZ_CHECK(strncmp(p, "UTF-8''", 7) == 0);
			p += 7;
		} else {
			ll = (size_t)snprintf(want, sizeof want,
			    "filename*%zu*", seg);
			FZ_CHECK(alen == ll && memcmp(attr, want, ll) == 0);
			if (seg == 0) {
				FZ_CHECK(strncmp(p, "UTF-8''", 7) == 0);
				p += 7;
			}
			seg++;
		}
		has_star = 1;
		FZ_CHECK(pct_decode(p, (size_t)(q - p), &star) == 0);
		p = *q == '\0' ? q : q + 1;
	}
	FZ_CHECK(plain ? has_plain : has_star);
	if (has_star)
		FZ_CHECK(strcmp(dm_buf_str(&star), a->name) == 0);

	/* 76-column base64 lines. */
	for (p = c; p < c + n; p = q + 2) {
		q = memmem(p, (size_t)(c + n - p), "\r\n", 2);
		FZ_CHECK(q != NULL);
		ll = (size_t)(q - p);
		FZ_CHECK(ll > 0 && ll <= DM_B64_LINE);
		FZ_CHECK(q + 2 == c + n || ll == DM_B64_LINE);
		b64_decode(p, ll, &got);
	}
	FZ_CHECK(got.len == a->len &&
	    (a->len == 0 || memcmp(got.data, a->data, a->len) == 0));
	dm_buf_release(&star);
	dm_buf_release(&got);
	dm_buf_release(&nm);
	dm_buf_release(&dec);
}

static void
text_part_type(const struct field *f, size_t nf, const char **cte)
{
	const char *v = get(f, nf, "Content-Type");

	FZ_CHECK(v != NULL && strcmp(v, " text/plain; charset=utf-8") == 0);
	v = get(f, nf, "Content-Transfer-Encoding");
	FZ_CHECK(v != NULL && (strcmp(v, " 7bit") == 0 ||
	    strcmp(v, " quoted-printable") == 0));
	*cte = v + 1;
}

/* The multipart body: preamble, text, attachments, closing line. */
static void
multipart(const char *b, size_t n, const char *boundary,
    const struct expect *e)
{
	struct field pf[FIELDS_MAX];
	char delim[64];
	const char *p, *part, *next, *hend, *cte, *end = b + n;
	size_t dl, i, nf;

	dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
	/* The boundary is nowhere else at a line start. */
	for (p = b; (p = memmem(p, (size_t)(end - p), delim, dl)) != NULL;
	    p += dl)
		FZ_CHECK(strncmp(p + dl, "\r\n", 2) == 0 ||
		    strncmp(p + dl, "--\r\n", 4) == 0);
	FZ_CHECK(strncmp(b, "This is a multi-part message in MIME format.",
	    44) == 0);
	p = memmem(b, n, delim, dl);
	FZ_CHECK(p != NULL && strncmp(p + dl, "\r\n", 2) == 0);
	for (i = 0; i <= e->natt; i++) {
		part = p + dl + 2;
		next = memmem(part, (size_t)(end - part), delim, dl);
		FZ_CHECK(next != NULL);
		FZ_CHECK(strncmp(next + dl, i == e->natt ? "--\r\n" : "\r\n",
		    i == e->natt ? 4 : 2) == 0);
		hend = memmem(part, (size_t)(next + 2 - part), "\r\n\r\n", 4);
		FZ_CHECK(hend != NULL && hend + 4 <= next);
		nf = parse_fields(part, (size_t)(hend + 2 - part), part_fields,
		    pf, FIELDS_MAX);
		if (i == 0) {
			FZ_CHECK(get(pf, nf, "Content-Disposition") == NULL);
			text_part_type(pf, nf, &cte);
			text(cte, hend + 4, (size_t)(next - hend - 4), e);
		} else
			attachment(pf, nf, hend + 4, (size_t)(next - hend - 4),
			    e->att[i - 1]);
		free_fields(pf, nf);
		p = next;
	}
	FZ_CHECK(p + dl + 4 == end);
}

static void
check_message(const char *m, size_t n, const struct expect *e)
{
	struct field f[FIELDS_MAX];
	struct dm_buf subj = buf_new();
	const char *hend, *v, *cte, *bd;
	size_t i, col = 0, nf, k;
	char boundary[40];

	/* CRLF only, every line at most 998 octets. */
	for (i = 0; i < n; i++) {
		if (m[i] == '\r') {
			FZ_CHECK(i + 1 < n && m[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		FZ_CHECK(m[i] != '\n');
		FZ_CHECK(++col <= DM_LINE_MAX);
	}
	FZ_CHECK(n >= 2 && col == 0);

	hend = memmem(m, n, "\r\n\r\n", 4);
	FZ_CHECK(hend != NULL);
	nf = parse_fields(m, (size_t)(hend + 2 - m), top_fields, f,
	    FIELDS_MAX);
	FZ_CHECK(get(f, nf, "Date") != NULL);
	FZ_CHECK((v = get(f, nf, "MIME-Version")) != NULL &&
	    strcmp(v, " 1.0") == 0);

	FZ_CHECK((v = get(f, nf, "From")) != NULL);
	addresses(v, e->from, 1);
	v = get(f, nf, "To");
	if (e->to->n > 0 || e->cc->n == 0) {
		FZ_CHECK(v != NULL);
		addresses(v, e->to->v, e->to->n);
	} else
		FZ_CHECK(v == NULL);
	v = get(f, nf, "Cc");
	FZ_CHECK((v != NULL) == (e->cc->n > 0));
	if (v != NULL)
		addresses(v, e->cc->v, e->cc->n);
	v = get(f, nf, "Reply-To");
	FZ_CHECK((v != NULL) == (e->rt->n > 0));
	if (v != NULL)
		addresses(v, e->rt->v, e->rt->n);

	/* The subject reads back as given, less its outer white space. */
	FZ_CHECK((v = get(f, nf, "Subject")) != NULL && v[0] == ' ');
	unstructured(v + 1, &subj);
	v = e->subject != NULL ? e->subject : "";
	while (is_wsp(*v))
		v++;
	for (k = strlen(v); k > 0 && is_wsp(v[k - 1]); k--)
		;
	FZ_CHECK(subj.len == k && memcmp(dm_buf_str(&subj), v, k) == 0);

	FZ_CHECK((v = get(f, nf, "Message-ID")) != NULL);
	FZ_CHECK(v[0] == ' ' && v[1] == '<' && v[strlen(v) - 1] == '>');
	FZ_CHECK(strchr(v + 2, '@') != NULL && strchr(v + 2, ' ') == NULL);
	if (e->msgid != NULL)
		FZ_CHECK(strlen(v) == strlen(e->msgid) + 3 &&
		    strncmp(v + 2, e->msgid, strlen(e->msgid)) == 0);

	v = get(f, nf, "Content-Type");
	FZ_CHECK(v != NULL);
	if (e->natt == 0) {
		text_part_type(f, nf, &cte);
		text(cte, hend + 4, n - (size_t)(hend + 4 - m), e);
	} else {
		FZ_CHECK(get(f, nf, "Content-Transfer-Encoding") == NULL);
		FZ_CHECK(strncmp(v, " multipart/mixed; boundary=\"", 28) == 0);
		bd = v + 28;
		k = strlen(bd);
		FZ_CHECK(k >= 2 && k < sizeof boundary && bd[k - 1] == '"');
		memcpy(boundary, bd, k - 1);
		boundary[k - 1] = '\0';
		FZ_CHECK(strncmp(boundary, "=_dm_", 5) == 0);
		multipart(hend + 4, n - (size_t)(hend + 4 - m), boundary, e);
	}
	free_fields(f, nf);
	dm_buf_release(&subj);
}

/* Reads the message in pieces of chunk bytes, twice (with a rewind). */
static void
read_all(struct dm_mime *mime, size_t chunk, const struct expect *e)
{
	struct dm_buf msg = buf_new();
	struct dm_err err;
	char *piece = fz_malloc(chunk);
	ssize_t r;

	while ((r = dm_mime_read(mime, piece, chunk, &err)) > 0) {
		FZ_CHECK((size_t)r <= chunk);
		add(&msg, piece, (size_t)r);
	}
	FZ_CHECK(r == 0);
	FZ_CHECK(msg.len == dm_mime_size(mime));
	check_message(dm_buf_str(&msg), msg.len, e);

	/* A second read, as a retry after a dropped connection does. */
	FZ_CHECK(dm_mime_rewind(mime, &err) == 0);
	r = dm_mime_read(mime, piece, chunk, &err);
	FZ_CHECK(r > 0 && memcmp(piece, msg.data, (size_t)r) == 0);
	free(piece);
	dm_buf_release(&msg);
}

struct input {
	unsigned int	 flags;
	time_t		 date;
	char		*from, *to, *cc, *rt, *bcc, *names, *subject, *body;
	char		*msgid;
	size_t		 bodylen;
	struct att	 att[ATT_MAX];
	size_t		 natt;
};

static void
read_input(struct input *in, const uint8_t *data, size_t size)
{
	struct fz_in f = { data, size };
	int32_t d;
	size_t i;

	memset(in, 0, sizeof *in);
	in->flags = fz_byte(&f);
	d = (int32_t)(fz_byte(&f) | fz_byte(&f) << 8 | fz_byte(&f) << 16 |
	    (uint32_t)fz_byte(&f) << 24);
	in->date = (time_t)d;
	in->from = fz_field(&f);
	in->to = fz_field(&f);
	in->cc = fz_field(&f);
	in->rt = fz_field(&f);
	in->bcc = fz_field(&f);
	in->names = fz_field(&f);
	in->subject = fz_field(&f);
	in->body = fz_field(&f);
	in->bodylen = strlen(in->body);
	in->msgid = fz_field(&f);
	for (i = 0; i < ATT_MAX && f.n > 0; i++) {
		struct att *a = &in->att[i];

		a->name = fz_field(&f);
		if (i + 1 == ATT_MAX || memchr(f.p, '\0', f.n) == NULL)
			a->data = fz_rest(&f, &a->len);
		else {
			a->data = fz_field(&f);
			a->len = strlen(a->data);
		}
		a->fd = fz_memfile(a->data, a->len, a->path, sizeof a->path);
		in->natt++;
	}
}

static void
free_input(struct input *in)
{
	size_t i;

	free(in->from);
	free(in->to);
	free(in->cc);
	free(in->rt);
	free(in->bcc);
	free(in->names);
	free(in->subject);
	free(in->body);
	free(in->msgid);
	for (i = 0; i < in->natt; i++) {
		if (in->att[i].fd != -1)
			close(in->att[i].fd);
		free(in->att[i].name);
		free(in->att[i].data);
	}
}

static size_t
chunk_size(unsigned int flags)
{
	static const size_t sizes[] = { 65536, 4096, 77, 5 };

	return sizes[(flags & F_CHUNK) >> 3];
}

/* The next line of the names field as a display name; NULL if empty. */
static char *
next_name(char **names)
{
	char *s = *names, *nl;

	if (s == NULL)
		return NULL;
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		*names = nl + 1;
	} else
		*names = NULL;
	return *s == '\0' ? NULL : fz_strndup(s, strlen(s));
}

static void
rename_all(struct dm_addrlist *l, char **names)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		l->v[i].name = next_name(names);
	}
}

/* The dm_mime_*() calls one by one, display names from the input. */
static void
direct(struct input *in)
{
	struct dm_addrlist from, to, cc, rt, none;
	struct expect e;
	struct dm_mime *m;
	struct dm_err err;
	char *names = in->names;
	size_t i;

	memset(&e, 0, sizeof e);
	dm_addrlist_init(&from);
	dm_addrlist_init(&to);
	dm_addrlist_init(&cc);
	dm_addrlist_init(&rt);
	dm_addrlist_init(&none);
	(void)dm_addr_parse_list(&from, in->from, &err);
	if (from.n == 0)
		FZ_CHECK(dm_addr_parse_list(&from, "Anna <anna@x.test>",
		    &err) == 0);
	(void)dm_addr_parse_list(&to, in->to, &err);
	(void)dm_addr_parse_list(&cc, in->cc, &err);
	(void)dm_addr_parse_list(&rt, in->rt, &err);
	if (in->flags & F_NAMES) {
		rename_all(&from, &names);
		rename_all(&to, &names);
		rename_all(&cc, &names);
		rename_all(&rt, &names);
	}
	FZ_CHECK((m = dm_mime_new(&err)) != NULL);
	e.to = &none;
	e.cc = &none;
	e.rt = &none;
	/* A refused value is no finding; the message then goes without it. */
	if (dm_mime_set_from(m, &from.v[0], &err) == -1) {
		FZ_CHECK(err.code == DM_EDATA);
		FZ_CHECK(dm_mime_finish(m, &err) == -1);
		goto out;
	}
	e.from = &from.v[0];
	if (dm_mime_add_addrs(m, DM_HDR_TO, &to, &err) == 0)
		e.to = &to;
	if (dm_mime_add_addrs(m, DM_HDR_CC, &cc, &err) == 0)
		e.cc = &cc;
	if (dm_mime_add_addrs(m, DM_HDR_REPLY_TO, &rt, &err) == 0)
		e.rt = &rt;
	if (dm_mime_set_subject(m, in->subject, &err) == 0)
		e.subject = in->subject;
	else
		FZ_CHECK(err.code == DM_EDATA);
	if (dm_mime_set_body(m, in->body, in->bodylen, &err) == 0) {
		e.body = in->body;
		e.bodylen = in->bodylen;
	} else
		FZ_CHECK(err.code == DM_EDATA);
	dm_mime_set_date(m, in->date);
	if ((in->flags & F_MSGID) &&
	    dm_mime_set_message_id(m, in->msgid, &err) == 0)
		e.msgid = in->msgid;
	for (i = 0; i < in->natt; i++) {
		if (in->att[i].fd == -1)
			continue;
		if (dm_mime_add_file(m, in->att[i].path, in->att[i].name,
		    &err) == -1) {
			FZ_CHECK(err.code == DM_EDATA);
			continue;
		}
		in->att[i].type = dm_mime_attachment_type(m, e.natt);
		e.att[e.natt++] = &in->att[i];
	}
	FZ_CHECK(dm_mime_attachment_count(m) == e.natt);
	if (dm_mime_finish(m, &err) == -1) {
		/* Only a date outside what a Date header can say. */
		FZ_CHECK(err.code == DM_EDATA);
		goto out;
	}
	read_all(m, chunk_size(in->flags), &e);
out:
	dm_mime_free(m);
	dm_addrlist_release(&from);
	dm_addrlist_release(&to);
	dm_addrlist_release(&cc);
	dm_addrlist_release(&rt);
}

/* As the command line builds it: profile, options, templates. */
static void
compose(struct input *in)
{
	struct dm_compose c;
	struct dm_compose_opts o;
	struct dm_config cfg;
	struct dm_profile p;
	struct expect e;
	struct dm_err err;
	const char *files[ATT_MAX], *base;
	size_t i, nf = 0;

	dm_config_init(&cfg);
	dm_profile_init(&p);
	p.id = fz_strndup("default", 7);
	p.email = fz_strndup("anna@example.test", 17);
	p.host = fz_strndup("mail.example.test", 17);
	if (in->flags & F_PNAME)
		p.name = fz_strndup(PNAME, sizeof PNAME - 1);
	p.allow_from_override = (in->flags & F_OVERRIDE) != 0;

	memset(&o, 0, sizeof o);
	o.to = in->to[0] != '\0' ? in->to : NULL;
	o.cc = in->cc[0] != '\0' ? in->cc : NULL;
	o.bcc = in->bcc[0] != '\0' ? in->bcc : NULL;
	o.from = in->from[0] != '\0' ? in->from : NULL;
	o.reply_to = in->rt[0] != '\0' ? in->rt : NULL;
	o.subject = in->subject;
	o.body = in->body;
	o.date = in->date;
	o.message_id = in->flags & F_MSGID ? in->msgid : NULL;
	for (i = 0; i < in->natt; i++)
		if (in->att[i].fd != -1) {
			files[nf++] = in->att[i].path;
			/* compose names an attachment after its file. */
			base = strrchr(in->att[i].path, '/') + 1;
			free(in->att[i].name);
			in->att[i].name = fz_strndup(base, strlen(base));
		}
	o.files = files;
	o.nfiles = nf;

	dm_compose_init(&c);
	if (dm_compose_build(&c, &cfg, &p, &o, &err) == -1) {
		FZ_CHECK(err.code == DM_EUSAGE || err.code == DM_EDATA);
		goto out;
	}
	memset(&e, 0, sizeof e);
	e.from = &c.from;
	e.to = &c.to;
	e.cc = &c.cc;
	e.rt = &c.reply_to;
	e.subject = c.subject;
	e.body = c.body;
	e.bodylen = strlen(c.body);
	e.msgid = o.message_id;
	for (i = 0; i < in->natt; i++)
		if (in->att[i].fd != -1) {
			in->att[i].type = dm_mime_attachment_type(c.mime,
			    e.natt);
			e.att[e.natt++] = &in->att[i];
		}
	/* The envelope: every recipient once, the sender the profile's. */
	FZ_CHECK(strcmp(c.sender, p.email) == 0);
	FZ_CHECK(c.rcpt.n <= c.to.n + c.cc.n + c.bcc.n);
	for (i = 0; i < c.bcc.n; i++)
		FZ_CHECK(dm_addrlist_contains(&c.rcpt, c.bcc.v[i].mailbox));
	read_all(c.mime, chunk_size(in->flags), &e);
out:
	dm_compose_release(&c);
	dm_profile_release(&p);
	dm_config_release(&cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;

	read_input(&in, data, size);
	if (in.flags & F_COMPOSE)
		compose(&in);
	else
		direct(&in);
	free_input(&in);
	return 0;
}
