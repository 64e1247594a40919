/*
 * t-mime.c - tests for the message builder
 *
 * The decoders here (RFC 2047, quoted-printable, base64, RFC 2231) are
 * deliberately small and separate from mime.c, so that a round trip
 * checks the encoder against an independent reading of the RFCs.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/mime.h>

#include "tap.h"

/* 2026-11-25 12:05:09 UTC, a Wednesday. */
#define FIXED_DATE	((time_t)1795608309)

static char dir[64];
static char made[32][128];
static size_t nmade;

/* A file in the fixture directory; returns its path (static storage). */
static const char *
fixture(const char *name, const void *data, size_t n)
{
	char *path = made[nmade];
	FILE *fp;

	if (nmade == sizeof made / sizeof made[0])
		return NULL;
	snprintf(path, sizeof made[0], "%s/%s", dir, name);
	nmade++;
	if ((fp = fopen(path, "wb")) == NULL)
		return NULL;
	if (n > 0 && fwrite(data, 1, n, fp) != n) {
		fclose(fp);
		return NULL;
	}
	if (fclose(fp) != 0)
		return NULL;
	return path;
}

static void
cleanup(void)
{
	size_t i;

	for (i = nmade; i-- > 0;)
		if (unlink(made[i]) == -1 && errno == EISDIR)
			rmdir(made[i]);
	rmdir(dir);
}

/* The whole message read in pieces of chunk bytes; NUL-terminated. */
static char *
slurp(struct dm_mime *m, size_t chunk, size_t *len, struct dm_err *err)
{
	char *buf = NULL, *p, *piece;
	size_t n = 0, cap = 0;
	ssize_t r;

	if ((piece = malloc(chunk)) == NULL)
		return NULL;
	for (;;) {
		r = dm_mime_read(m, piece, chunk, err);
		if (r == -1 || (size_t)r > chunk) {
			free(buf);
			free(piece);
			return NULL;
		}
		if (r == 0)
			break;
		if (n + (size_t)r + 1 > cap) {
			cap = (n + (size_t)r + 1) * 2;
			if ((p = realloc(buf, cap)) == NULL)
				abort();
			buf = p;
		}
		memcpy(buf + n, piece, (size_t)r);
		n += (size_t)r;
	}
	free(piece);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		abort();
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * CRLF only, every line at most maxline octets, no 8-bit byte in the
 * top-level header nor in any part header.
 */
static int
well_formed(const char *s, size_t n, size_t maxline)
{
	const char *hend, *p, *e;
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n') {
				diag("bare CR at %zu", i);
				return 0;
			}
			i++;
			col = 0;
			continue;
		}
		if (s[i] == '\n') {
			diag("bare LF at %zu", i);
			return 0;
		}
		if (++col > maxline) {
			diag("line longer than %zu at %zu", maxline, i);
			return 0;
		}
	}
	if (n > 0 && col != 0) {
		diag("no CRLF at the end");
		return 0;
	}
	if ((hend = strstr(s, "\r\n\r\n")) == NULL)
		hend = s + n;
	for (p = s; p < hend; p++)
		if ((unsigned char)*p >= 0x80) {
			diag("8-bit byte in the header at %zu",
			    (size_t)(p - s));
			return 0;
		}
	for (p = s; (p = strstr(p, "\r\n--=_dm_")) != NULL; p++) {
		if ((e = strstr(p + 2, "\r\n\r\n")) == NULL)
			break;
		for (; p < e; p++)
			if ((unsigned char)*p >= 0x80) {
				diag("8-bit byte in a part header");
				return 0;
			}
	}
	return 1;
}

/* Longest line of s, without its CRLF. */
static size_t
longest_line(const char *s)
{
	size_t max = 0, col = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\r' && s[1] == '\n') {
			if (col > max)
				max = col;
			col = 0;
			s++;
		} else
			col++;
	}
	return col > max ? col : max;
}

/*
 * The unfolded value of header name in the header block starting at
 * block (which ends at the first empty line); malloc'd, NULL if absent.
 */
static char *
header(const char *block, const char *name)
{
	const char *end, *p, *e;
	size_t nl = strlen(name);
	struct dm_buf b;
	struct dm_err err;

	if ((end = strstr(block, "\r\n\r\n")) == NULL)
		end = block + strlen(block);
	for (p = block; p < end; p = e + 2) {
		if ((e = strstr(p, "\r\n")) == NULL)
			e = p + strlen(p);
		if (strncmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		dm_buf_init(&b, 0);
		p += nl + 1;
		if (*p == ' ')
			p++;
		dm_buf_add(&b, p, (size_t)(e - p), &err);
		while (e < end && (e[2] == ' ' || e[2] == '\t')) {
			p = e + 2;
			if ((e = strstr(p, "\r\n")) == NULL)
				e = p + strlen(p);
			dm_buf_add(&b, p, (size_t)(e - p), &err);
		}
		return dm_buf_detach(&b);
	}
	return NULL;
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
	const char *a =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c == '\0' ? NULL : strchr(a, c);

	return p == NULL ? -1 : (int)(p - a);
}

/* Base64 with CRLF between lines; -1 on anything else. */
static int
b64_decode(const char *s, size_t n, struct dm_buf *out)
{
	struct dm_err err;
	uint32_t v = 0;
	size_t i;
	int bits = 0, d, pad = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (d = b64val(s[i])) < 0)
			return -1;
		v = v << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (dm_buf_addc(out, (char)(v >> bits & 0xff),
			    &err) == -1)
				return -1;
		}
	}
	return 0;
}

/* Quoted-printable to text with LF line ends; -1 when malformed. */
static int
qp_decode(const char *s, size_t n, struct dm_buf *out)
{
	struct dm_err err;
	size_t i;
	int h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 ||
			    (l = hexval(s[i + 2])) < 0)
				return -1;
			dm_buf_addc(out, (char)(h << 4 | l), &err);
			i += 2;
		} else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			dm_buf_addc(out, '\n', &err);
			i++;
		} else
			dm_buf_addc(out, s[i], &err);
	}
	return 0;
}

/* The text of a Q encoded word; counts characters outside 5(3). */
static void
q_decode(const char *x, const char *end, struct dm_buf *w, int *qbad)
{
	struct dm_err err;
	int h, l;

	for (; x < end; x++) {
		if (*x == '_')
			dm_buf_addc(w, ' ', &err);
		else if (*x == '=' && x + 2 < end && (h = hexval(x[1])) >= 0 &&
		    (l = hexval(x[2])) >= 0) {
			dm_buf_addc(w, (char)(h << 4 | l), &err);
			x += 2;
		} else {
			if (strchr("!*+-/", *x) == NULL &&
			    !((*x >= 'a' && *x <= 'z') ||
			    (*x >= 'A' && *x <= 'Z') ||
			    (*x >= '0' && *x <= '9')))
				(*qbad)++;
			dm_buf_addc(w, *x, &err);
		}
	}
}

/*
 * Decodes the encoded words of an unfolded header value.  bad counts
 * encoded words over 75 characters or not valid UTF-8 on their own;
 * qbad counts Q words with characters outside the RFC 2047 5(3) set.
 */
static char *
decode_2047(const char *v, int *bad, int *qbad)
{
	struct dm_buf out, w;
	struct dm_err err;
	const char *p = v, *ws, *t, *te;
	int prev_ew = 0;

	*bad = *qbad = 0;
	dm_buf_init(&out, 0);
	dm_buf_init(&w, 0);
	while (*p != '\0') {
		ws = p;
		while (*p == ' ' || *p == '\t')
			p++;
		t = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		te = p;
		if (te - t > 12 && (strncmp(t, "=?UTF-8?Q?", 10) == 0 ||
		    strncmp(t, "=?UTF-8?B?", 10) == 0) &&
		    te[-2] == '?' && te[-1] == '=') {
			if (!prev_ew)
				dm_buf_add(&out, ws, (size_t)(t - ws), &err);
			dm_buf_reset(&w);
			if (t[8] == 'Q')
				q_decode(t + 10, te - 2, &w, qbad);
			else if (b64_decode(t + 10, (size_t)(te - 12 - t),
			    &w) == -1)
				(*bad)++;
			if (te - t > 75 ||
			    !dm_utf8_valid(dm_buf_str(&w), w.len))
				(*bad)++;
			dm_buf_add(&out, dm_buf_str(&w), w.len, &err);
			prev_ew = 1;
		} else {
			dm_buf_add(&out, ws, (size_t)(te - ws), &err);
			prev_ew = 0;
		}
	}
	dm_buf_release(&w);
	return dm_buf_detach(&out);
}

/* Counts encoded words in s. */
static int
count_ew(const char *s)
{
	int n = 0;

	for (; (s = strstr(s, "=?UTF-8?")) != NULL; s++)
		n++;
	return n;
}

/* One header through dm_mime_encode_header(); the decoded value in *dec. */
static char *
enc_subject(const char *value, char **dec, int *bad, int *qbad)
{
	struct dm_buf b;
	struct dm_err err;
	char *raw, *v;

	dm_buf_init(&b, 0);
	if (dm_mime_encode_header(&b, "Subject", value, &err) == -1) {
		diag("encode failed: %s", err.msg);
		dm_buf_release(&b);
		*dec = NULL;
		return NULL;
	}
	raw = dm_buf_detach(&b);
	v = header(raw, "Subject");
	*dec = decode_2047(v, bad, qbad);
	free(v);
	return raw;
}

/* Decodes filename*= or filename*N*= of a Content-Disposition value. */
static char *
decode_2231(const char *v)
{
	struct dm_buf out;
	struct dm_err err;
	char key[32];
	const char *p;
	int seg, h, l;

	dm_buf_init(&out, 0);
	for (seg = -1;; seg++) {
		if (seg == -1)
			snprintf(key, sizeof key, "filename*=");
		else
			snprintf(key, sizeof key, "filename*%d*=", seg);
		if ((p = strstr(v, key)) == NULL) {
			if (seg == -1)
				continue;
			break;
		}
		p += strlen(key);
		if ((seg <= 0) && strncmp(p, "UTF-8''", 7) == 0)
			p += 7;
		for (; *p != '\0' && *p != ';'; p++) {
			if (*p == '%' && (h = hexval(p[1])) >= 0 &&
			    (l = hexval(p[2])) >= 0) {
				dm_buf_addc(&out, (char)(h << 4 | l), &err);
				p += 2;
			} else
				dm_buf_addc(&out, *p, &err);
		}
		if (seg == -1)
			break;
	}
	return dm_buf_detach(&out);
}

/* The value of ' key="..."' in v with its quoted pairs undone; malloc'd. */
static char *
quoted_param(const char *v, const char *key)
{
	struct dm_buf b;
	struct dm_err err;
	char pat[32];
	const char *p;

	snprintf(pat, sizeof pat, " %s=\"", key);
	if (v == NULL || (p = strstr(v, pat)) == NULL)
		return NULL;
	dm_buf_init(&b, 0);
	for (p += strlen(pat); *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		dm_buf_addc(&b, *p, &err);
	}
	if (*p != '"') {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

static int
count(const char *s, const char *what)
{
	int n = 0;

	for (; s != NULL && (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

struct part {
	const char	*hdr;
	const char	*body;
	size_t		 len;
};

/* Part i (0 is the text) of a multipart message. */
static int
get_part(const char *msg, int i, struct part *pt)
{
	char *ct, delim[64];
	const char *b, *p, *e;
	int k;

	if ((ct = header(msg, "Content-Type")) == NULL ||
	    (b = strstr(ct, "boundary=\"")) == NULL) {
		free(ct);
		return -1;
	}
	b += 10;
	snprintf(delim, sizeof delim, "\r\n--%.*s", (int)strcspn(b, "\""),
	    b);
	free(ct);
	for (p = msg, k = -1; k < i; k++)
		if ((p = strstr(p, delim)) == NULL)
			return -1;
		else
			p += strlen(delim);
	if (strncmp(p, "\r\n", 2) != 0)
		return -1;
	pt->hdr = p + 2;
	if ((e = strstr(pt->hdr, "\r\n\r\n")) == NULL)
		return -1;
	pt->body = e + 4;
	if ((e = strstr(pt->body, delim)) == NULL)
		return -1;
	pt->len = (size_t)(e - pt->body);
	return 0;
}

/* The body of a single-part message. */
static const char *
body_of(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");

	return p == NULL ? "" : p + 4;
}

static struct dm_mime *
new_msg(const char *subject, const char *body)
{
	static struct dm_addr from = { "Anna Muster", "anna@example.test" };
	static struct dm_addr to[] = { { "Bob", "bob@example.test" } };
	struct dm_addrlist l = { to, 1, 1 };
	struct dm_mime *m;
	struct dm_err err;

	if ((m = dm_mime_new(&err)) == NULL ||
	    dm_mime_set_from(m, &from, &err) == -1 ||
	    dm_mime_add_addrs(m, DM_HDR_TO, &l, &err) == -1 ||
	    dm_mime_set_subject(m, subject, &err) == -1 ||
	    dm_mime_set_message_id(m, "inv42.1@example.test", &err) == -1 ||
	    (body != NULL &&
	    dm_mime_set_body(m, body, strlen(body), &err) == -1)) {
		diag("new_msg: %s", err.msg);
		dm_mime_free(m);
		return NULL;
	}
	dm_mime_set_date(m, FIXED_DATE);
	return m;
}

/* Finishes m and reads it whole; checks it is well-formed on the way. */
static char *
render(struct dm_mime *m, size_t *len)
{
	struct dm_err err;
	size_t n;
	char *s;

	if (m == NULL || dm_mime_finish(m, &err) == -1 ||
	    (s = slurp(m, 65536, &n, &err)) == NULL) {
		diag("render: %s", m == NULL ? "no message" : err.msg);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	if (n != dm_mime_size(m))
		diag("size %llu but read %zu",
		    (unsigned long long)dm_mime_size(m), n);
	return s;
}

/* The decoded text part of a rendered single-part message. */
static char *
text_of(const char *msg, const char **cte)
{
	struct dm_buf b;
	const char *body = body_of(msg);
	char *t;

	t = header(msg, "Content-Transfer-Encoding");
	*cte = t != NULL && strcmp(t, "7bit") == 0 ? "7bit" :
	    t != NULL && strcmp(t, "quoted-printable") == 0 ?
	    "quoted-printable" : "?";
	free(t);
	dm_buf_init(&b, 0);
	if (qp_decode(body, strlen(body), &b) == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

static void
test_subjects(void)
{
	struct dm_buf b;
	struct dm_err err;
	char *raw, *dec, long_ascii[400], big[2000], *s;
	int bad, qbad, i;
	size_t len0;
	static const char *const multi[] = { "\xe2\x82\xac", "\xc3\xbc",
	    "\xe8\xab\x8b", "\xf0\x9f\x93\x84" };
	static const char *const refused[] = { "a\rb", "a\nBcc: x@y.test",
	    "a\r\nb", "esc\x1b[2J", "del\x7f", "c1 \xc2\x85 x", "bad \xc3(" };

	raw = enc_subject("Invoice 42", &dec, &bad, &qbad);
	is_str(raw, "Subject: Invoice 42\r\n", "short ASCII subject unchanged");
	free(raw);
	free(dec);

	raw = enc_subject("", &dec, &bad, &qbad);
	is_str(raw, "Subject: \r\n", "empty subject gives 'Subject: '");
	free(raw);
	free(dec);

	s = long_ascii;
	long_ascii[0] = '\0';
	for (i = 0; i < 30; i++)
		snprintf(s + strlen(s), sizeof long_ascii - strlen(s),
		    "%sword%02d", i ? " " : "", i);
	raw = enc_subject(long_ascii, &dec, &bad, &qbad);
	ok(raw != NULL && longest_line(raw) <= 78 &&
	    strstr(raw, "\r\n ") != NULL, "long ASCII subject folded under 78");
	is_str(dec, long_ascii, "folded ASCII subject unfolds to the input");
	ok(raw != NULL && count_ew(raw) == 0,
	    "folding ASCII needs no encoding");
	free(raw);
	free(dec);

	s = "Rechnung f\xc3\xbcr M\xc3\xbcller & S\xc3\xb6hne \xe2\x80\x94 "
	    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln";
	raw = enc_subject(s, &dec, &bad, &qbad);
	ok(raw != NULL && well_formed(raw, strlen(raw), 78) &&
	    count_ew(raw) > 0, "non-ASCII subject encoded, 7-bit, under 78");
	is_str(dec, s, "non-ASCII subject decodes back");
	ok(raw != NULL && strstr(raw, "Rechnung ") != NULL,
	    "plain words stay readable");
	free(raw);
	free(dec);

	/* Spaces inside an encoded run must survive, doubled ones too. */
	s = "\xc3\xbc  \xc3\xbc\t\xc3\xbc x";
	raw = enc_subject(s, &dec, &bad, &qbad);
	is_str(dec, s, "white space between encoded words is kept");
	free(raw);
	free(dec);

	for (i = 0; i < 4; i++) {
		size_t k, cl = strlen(multi[i]);

		big[0] = '\0';
		for (k = 0; k < 200 && (k + 1) * cl < sizeof big; k++)
			memcpy(big + k * cl, multi[i], cl + 1);
		raw = enc_subject(big, &dec, &bad, &qbad);
		ok(raw != NULL && bad == 0 && qbad == 0 && count_ew(raw) > 3 &&
		    longest_line(raw) <= 78 &&
		    well_formed(raw, strlen(raw), 78),
		    "200 x U+%s: encoded words <= 75, each valid UTF-8",
		    i == 0 ? "20AC" : i == 1 ? "00FC" : i == 2 ? "8ACB" :
		    "1F4C4");
		is_str(dec, big, "200 x multi-byte character decodes back");
		free(raw);
		free(dec);
	}

	raw = enc_subject("about =?utf-8?q?hi?= there", &dec, &bad, &qbad);
	ok(raw != NULL && strstr(raw, "=?utf-8?q?hi?=") == NULL,
	    "ASCII that looks like an encoded word is encoded");
	is_str(dec, "about =?utf-8?q?hi?= there",
	    "the look-alike decodes to itself");
	free(raw);
	free(dec);

	snprintf(big, sizeof big, "see https://example.test/%s/x",
	    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop");
	raw = enc_subject(big, &dec, &bad, &qbad);
	ok(raw != NULL && count_ew(raw) == 0 && strstr(raw, big + 4) != NULL,
	    "a long URL stays one unencoded token");
	free(raw);
	free(dec);

	memset(big, 'a', 1500);
	big[1500] = '\0';
	raw = enc_subject(big, &dec, &bad, &qbad);
	ok(raw != NULL && longest_line(raw) <= 998 && count_ew(raw) > 0,
	    "a 1500-octet token is encoded to keep lines under 998");
	is_str(dec, big, "the long token decodes back");
	free(raw);
	free(dec);

	memset(big, ' ', 1200);
	memcpy(big, "a", 1);
	memcpy(big + 1200, "b", 2);
	raw = enc_subject(big, &dec, &bad, &qbad);
	ok(raw != NULL && longest_line(raw) <= 998,
	    "1200 spaces inside a subject keep lines under 998");
	is_str(dec, big, "the spaces survive");
	free(raw);
	free(dec);

	raw = enc_subject("  padded\t ", &dec, &bad, &qbad);
	is_str(raw, "Subject: padded\r\n",
	    "leading and trailing white space is dropped");
	free(raw);
	free(dec);

	dm_buf_init(&b, 0);
	dm_buf_addstr(&b, "X-Before: 1\r\n", &err);
	len0 = b.len;
	for (i = 0; i < 7; i++) {
		err.code = DM_EOK;
		ok(dm_mime_encode_header(&b, "Subject", refused[i],
		    &err) == -1 && err.code == DM_EDATA && b.len == len0,
		    "refused subject %d: data error, nothing written", i);
	}
	ok(strstr(err.msg, "UTF-8") != NULL, "invalid UTF-8 is named: %s",
	    err.msg);
	dm_mime_encode_header(&b, "Subject", "lone\rcr", &err);
	ok(strstr(err.msg, "line break") != NULL,
	    "a lone CR is a line break too: %s", err.msg);
	dm_mime_encode_header(&b, "Subject", "a\r\nBcc: x@y.test", &err);
	ok(strncmp(err.msg, "header injection: the subject", 29) == 0 &&
	    strstr(err.msg, "line break") != NULL &&
	    strchr(err.msg, '\n') == NULL && strchr(err.msg, '\r') == NULL,
	    "injection message names the header, shows no raw CR/LF: %s",
	    err.msg);
	ok(dm_mime_encode_header(&b, "Bad Name", "x", &err) == -1 &&
	    b.len == len0, "a header name with a space is refused");
	is_int(dm_mime_encode_header(&b, "Subject", "tab\there", &err), 0,
	    "TAB is allowed in a subject");
	dm_buf_release(&b);
}

static char *
enc_addrs(const char *name, const struct dm_addr *a, size_t n)
{
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, 0);
	if (dm_mime_encode_addr_header(&b, name, a, n, &err) == -1) {
		diag("addr header: %s", err.msg);
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

static void
test_addresses(void)
{
	struct dm_addr a[] = {
		{ "Anna Muster", "anna@example.test" },
		{ "Muster, Anna", "a2@example.test" },
		{ NULL, "plain@example.test" },
		{ "J. \"Jo\" O\\Neil", "jo@example.test" },
		{ "", "empty@example.test" },
	};
	struct dm_addr u[] = {
		{ "M\xc3\xbcller, Hans", "hans@x.test" },
		{ "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", "zoe@y.test" },
	};
	struct dm_addr many[12], bad[3];
	struct dm_addrlist l;
	struct dm_buf b;
	struct dm_err err;
	struct dm_mime *m;
	char *raw, *v, *dec, names[12][32], mbs[12][32];
	int e, q, i;
	size_t len0;

	raw = enc_addrs("To", a, 5);
	is_str(raw, "To: Anna Muster <anna@example.test>, \"Muster, Anna\" "
	    "<a2@example.test>,\r\n"
	    " plain@example.test, \"J. \\\"Jo\\\" O\\\\Neil\" "
	    "<jo@example.test>, empty@example.test\r\n",
	    "ASCII names: atoms plain, specials quoted with quoted-pairs");
	free(raw);

	raw = enc_addrs("To", u, 2);
	v = raw == NULL ? NULL : header(raw, "To");
	dec = v == NULL ? NULL : decode_2047(v, &e, &q);
	is_str(dec, "M\xc3\xbcller, Hans <hans@x.test>, "
	    "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m <zoe@y.test>",
	    "non-ASCII names decode back");
	ok(raw != NULL && e == 0 && q == 0 && well_formed(raw, strlen(raw), 78),
	    "encoded names use the phrase character set, lines under 78");
	ok(raw != NULL && count_ew(raw) == 2,
	    "a short name stays one encoded word");
	free(raw);
	free(v);
	free(dec);

	for (i = 0; i < 12; i++) {
		snprintf(names[i], sizeof names[i], "Person Number %d", i);
		snprintf(mbs[i], sizeof mbs[i], "person%d@example.test", i);
		many[i].name = names[i];
		many[i].mailbox = mbs[i];
	}
	raw = enc_addrs("Cc", many, 12);
	ok(raw != NULL && longest_line(raw) <= 78 &&
	    well_formed(raw, strlen(raw), 78) && strstr(raw, "\r\n ") != NULL,
	    "twelve addresses fold under 78");
	free(raw);

	raw = enc_addrs("To", NULL, 0);
	is_str(raw, "To: undisclosed-recipients:;\r\n",
	    "no address gives the empty group");
	free(raw);

	bad[0].name = "Eve\r\nBcc: x@evil.test";
	bad[0].mailbox = "eve@example.test";
	bad[1].name = "Eve\nX";
	bad[1].mailbox = "eve@example.test";
	bad[2].name = NULL;
	bad[2].mailbox = "eve@example.test\r\nBcc: x@evil.test";
	dm_buf_init(&b, 0);
	dm_buf_addstr(&b, "X: y\r\n", &err);
	len0 = b.len;
	for (i = 0; i < 3; i++)
		ok(dm_mime_encode_addr_header(&b, "To", &a[0], 1, &err) == 0 &&
		    (b.len = len0, dm_mime_encode_addr_header(&b, "To", bad + i,
		    1, &err) == -1) && err.code == DM_EDATA && b.len == len0,
		    "CR/LF in address %d refused, nothing written", i);
	dm_buf_release(&b);

	m = dm_mime_new(&err);
	l.v = bad;
	l.n = 1;
	l.cap = 1;
	ok(m != NULL && dm_mime_add_addrs(m, DM_HDR_CC, &l, &err) == -1 &&
	    err.code == DM_EDATA, "add_addrs refuses a name with a line break");
	ok(m != NULL && dm_mime_set_from(m, &bad[1], &err) == -1 &&
	    err.code == DM_EDATA, "set_from refuses a name with a line break");
	dm_mime_free(m);
}

/* Builds the little fixed message of the byte-for-byte tests. */
static void
test_exact(void)
{
	struct dm_mime *m;
	struct dm_err err;
	const char *p;
	char *s;
	size_t n;

	m = new_msg("Invoice 42", "Dear Bob,\n\nplease find attached.\n");
	s = render(m, &n);
	is_str(s,
	    "Date: Wed, 25 Nov 2026 13:05:09 +0100\r\n"
	    "From: Anna Muster <anna@example.test>\r\n"
	    "To: Bob <bob@example.test>\r\n"
	    "Subject: Invoice 42\r\n"
	    "Message-ID: <inv42.1@example.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "Dear Bob,\r\n"
	    "\r\n"
	    "please find attached.\r\n",
	    "a small message matches byte for byte");
	free(s);
	dm_mime_free(m);

	m = new_msg("Invoice 42", "See attachment.");
	p = fixture("abc.pdf", "abc", 3);
	if (m != NULL && dm_mime_add_file(m, p, NULL, &err) == -1)
		diag("%s", err.msg);
	s = render(m, &n);
	is_str(s,
	    "Date: Wed, 25 Nov 2026 13:05:09 +0100\r\n"
	    "From: Anna Muster <anna@example.test>\r\n"
	    "To: Bob <bob@example.test>\r\n"
	    "Subject: Invoice 42\r\n"
	    "Message-ID: <inv42.1@example.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed;"
	    " boundary=\"=_dm_41bec6f478da4b05\"\r\n"
	    "\r\n"
	    "This is a multi-part message in MIME format.\r\n"
	    "--=_dm_41bec6f478da4b05\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "See attachment.\r\n"
	    "\r\n"
	    "--=_dm_41bec6f478da4b05\r\n"
	    "Content-Type: application/pdf; name=\"abc.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"abc.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "YWJj\r\n"
	    "\r\n"
	    "--=_dm_41bec6f478da4b05--\r\n",
	    "a message with one attachment matches byte for byte");
	is_int(n, dm_mime_size(m), "its size is exact");
	free(s);
	dm_mime_free(m);
}

static void
test_headers(void)
{
	struct dm_addr from = { "Anna Muster", "anna@example.test" };
	struct dm_addr cc[] = { { NULL, "cc@example.test" } };
	struct dm_addr rt[] = { { "B\xc3\xbcro", "buero@example.test" } };
	struct dm_addrlist lcc = { cc, 1, 1 }, lrt = { rt, 1, 1 };
	static const char *const badids[] = { "<a@b.test>", "a b@c.test",
	    "nodomain", "a@b.test\n", "a@@b.test", ".a@b.test", "a..b@c.test",
	    "a@" };
	struct dm_mime *m, *m2;
	struct dm_err err;
	char *s, *s2, *v, *v2, longid[300];
	const char *id;
	size_t i, n;

	m = dm_mime_new(&err);
	dm_mime_set_from(m, &from, &err);
	s = render(m, &n);
	ok(s != NULL &&
	    strstr(s, "\r\nTo: undisclosed-recipients:;\r\n") != NULL,
	    "no To and no Cc: To is undisclosed-recipients");
	ok(s != NULL && strstr(s, "\r\nSubject: \r\n") != NULL,
	    "no subject set: an empty Subject line");
	v = s == NULL ? NULL : header(s, "Date");
	ok(v != NULL && strlen(v) >= 30 && v[3] == ',' && (strstr(v, " +") ||
	    strstr(v, " -")), "a Date is made when none is set: %s",
	    v ? v : "");
	free(v);
	id = dm_mime_message_id(m);
	ok(id != NULL && strlen(id) == 14 + 1 + 16 + 1 + 12 &&
	    id[14] == '.' && strspn(id, "0123456789") == 14 &&
	    strspn(id + 15, "0123456789abcdef") == 16 &&
	    strcmp(id + 31, "@example.test") == 0,
	    "generated Message-ID is time.random@from-domain: %s",
	    id ? id : "");
	v = s == NULL ? NULL : header(s, "Message-ID");
	ok(v != NULL && id != NULL && v[0] == '<' &&
	    strncmp(v + 1, id, strlen(id)) == 0, "the header carries it");
	free(v);
	m2 = dm_mime_new(&err);
	dm_mime_set_from(m2, &from, &err);
	s2 = render(m2, NULL);
	ok(s2 != NULL && id != NULL && strcmp(dm_mime_message_id(m2), id) != 0,
	    "two generated Message-IDs differ");
	free(s2);
	dm_mime_free(m2);
	free(s);
	dm_mime_free(m);

	m = new_msg("Hi", "x");
	dm_mime_add_addrs(m, DM_HDR_CC, &lcc, &err);
	dm_mime_add_addrs(m, DM_HDR_REPLY_TO, &lrt, &err);
	s = render(m, &n);
	v = s == NULL ? NULL : header(s, "Reply-To");
	v2 = s == NULL ? NULL : header(s, "Cc");
	ok(v != NULL && strstr(v, "<buero@example.test>") != NULL &&
	    v2 != NULL && strcmp(v2, "cc@example.test") == 0,
	    "Reply-To and Cc are written when set");
	free(v);
	free(v2);
	ok(s != NULL && strstr(s, "Bcc") == NULL && strstr(s, "bcc") == NULL &&
	    strstr(s, "BCC") == NULL, "no Bcc anywhere in the message");
	free(s);
	dm_mime_free(m);

	m = dm_mime_new(&err);
	dm_mime_set_from(m, &from, &err);
	dm_mime_add_addrs(m, DM_HDR_CC, &lcc, &err);
	s = render(m, &n);
	ok(s != NULL && strstr(s, "\r\nTo:") == NULL &&
	    strstr(s, "\r\nCc: cc@example.test\r\n") != NULL,
	    "Cc only: no To line");
	free(s);
	dm_mime_free(m);

	/* Zones west of UTC and with half hours. */
	setenv("TZ", "EST5", 1);
	tzset();
	m = new_msg("Hi", "x");
	s = render(m, NULL);
	v = s == NULL ? NULL : header(s, "Date");
	is_str(v, "Wed, 25 Nov 2026 07:05:09 -0500", "Date west of UTC");
	free(v);
	free(s);
	dm_mime_free(m);
	setenv("TZ", "IST-5:30", 1);
	tzset();
	m = new_msg("Hi", "x");
	s = render(m, NULL);
	v = s == NULL ? NULL : header(s, "Date");
	is_str(v, "Wed, 25 Nov 2026 17:35:09 +0530",
	    "Date with a half-hour zone");
	free(v);
	free(s);
	dm_mime_free(m);
	setenv("TZ", "CET-1", 1);
	tzset();

	m = dm_mime_new(&err);
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	longid[10] = '@';
	for (i = 0; i < sizeof badids / sizeof badids[0]; i++) {
		err.code = DM_EOK;
		ok(dm_mime_set_message_id(m, badids[i], &err) == -1 &&
		    err.code == DM_EDATA, "invalid Message-ID %zu refused", i);
	}
	ok(dm_mime_set_message_id(m, longid, &err) == -1 &&
	    err.code == DM_EDATA, "an over-long Message-ID is refused");
	is_int(dm_mime_set_message_id(m, "a.b+c@d-e.test", &err), 0,
	    "a valid Message-ID is taken");
	err.code = DM_EOK;
	ok(dm_mime_finish(m, &err) == -1 && err.code == DM_EDATA,
	    "finish without From is a data error");
	ok(dm_mime_read(m, longid, 10, &err) == -1,
	    "read before a successful finish fails");
	dm_mime_set_from(m, &from, &err);
	ok(dm_mime_finish(m, &err) == 0 && dm_mime_size(m) > 0 &&
	    dm_mime_set_subject(m, "changed", &err) == 0 &&
	    dm_mime_size(m) == 0 && dm_mime_read(m, longid, 10, &err) == -1,
	    "a change after finish needs another finish");
	dm_mime_free(m);
}

static void
test_bodies(void)
{
	struct dm_mime *m;
	struct dm_err err;
	char *s, *t, longline[3002], expect[3010];
	const char *cte, *body;
	static const char *const utf =
	    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln,\n"
	    "sch\xc3\xb6n \xe2\x82\xac\n"
	    "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8 \xf0\x9f\x93\x84\n";

	m = new_msg("b", "Hello Bob,\nall fine.\n");
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(t != NULL && strcmp(cte, "7bit") == 0 &&
	    strcmp(body_of(s), "Hello Bob,\r\nall fine.\r\n") == 0,
	    "short ASCII body is 7bit as it is");
	free(s);
	free(t);
	dm_mime_free(m);

	m = new_msg("b", "a\rb\r\nc\nd");
	s = render(m, NULL);
	ok(s != NULL && strcmp(body_of(s), "a\r\nb\r\nc\r\nd\r\n") == 0,
	    "CR, CRLF and LF become CRLF, and the body ends with one");
	free(s);
	dm_mime_free(m);

	memset(longline, 'x', 3000);
	longline[3000] = '\n';
	longline[3001] = '\0';
	m = new_msg("b", longline);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strcmp(cte, "quoted-printable") == 0 &&
	    longest_line(body_of(s)) <= 76 && well_formed(s, strlen(s), 998),
	    "a 3000-character line is QP with lines of at most 76");
	is_str(t, longline, "and decodes back");
	free(s);
	free(t);
	dm_mime_free(m);

	body = ".\nFrom x\n.leading dot\nok\n";
	m = new_msg("b", body);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strcmp(cte, "quoted-printable") == 0 &&
	    strstr(body_of(s), "\r\n=46rom x\r\n") != NULL &&
	    strncmp(body_of(s), "=2E\r\n", 5) == 0 &&
	    strstr(s, "\r\n.") == NULL && strstr(s, "\r\nFrom ") == NULL,
	    "'.' and 'From ' at line starts are encoded");
	is_str(t, body, "and decode back");
	free(s);
	free(t);
	dm_mime_free(m);

	/* 'From ' right after a soft line break is a line start too. */
	memset(expect, 'y', 75);
	snprintf(expect + 75, sizeof expect - 75, "From here and .on%s\n",
	    "                                                            z");
	memset(longline, 'y', 150);
	memcpy(longline + 150, ".dot\n", 6);
	m = new_msg("b", expect);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strstr(body_of(s), "=\r\n=46rom here") != NULL &&
	    strstr(body_of(s), "\r\nFrom") == NULL,
	    "no 'From ' after a soft break");
	is_str(t, expect, "and it decodes back");
	free(s);
	free(t);
	dm_mime_free(m);
	m = new_msg("b", longline);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strstr(s, "\r\n.") == NULL && t != NULL &&
	    strcmp(t, longline) == 0, "no '.' after a soft break");
	free(s);
	free(t);
	dm_mime_free(m);

	m = new_msg("b", "Hello\nFrom me\n");
	s = render(m, NULL);
	ok(s != NULL && strcmp(body_of(s), "Hello\r\n=46rom me\r\n") == 0,
	    "a 'From ' line alone makes the body QP");
	free(s);
	dm_mime_free(m);

	m = new_msg("b", "");
	s = render(m, NULL);
	ok(s != NULL && *body_of(s) == '\0' &&
	    strstr(s, "Content-Transfer-Encoding: 7bit\r\n\r\n") != NULL,
	    "empty body: headers, blank line, nothing else");
	free(s);
	dm_mime_free(m);

	body = "trailing   \nand tab\t\nfine\n";
	m = new_msg("b", body);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strcmp(cte, "quoted-printable") == 0 &&
	    strstr(body_of(s), " \r\n") == NULL &&
	    strstr(body_of(s), "\t\r\n") == NULL &&
	    strstr(body_of(s), "  =20\r\n") != NULL,
	    "trailing white space is encoded, no line ends in a blank");
	is_str(t, body, "and decodes back");
	free(s);
	free(t);
	dm_mime_free(m);

	m = new_msg("b", utf);
	s = render(m, NULL);
	t = s == NULL ? NULL : text_of(s, &cte);
	ok(s != NULL && strcmp(cte, "quoted-printable") == 0 &&
	    well_formed(s, strlen(s), 76),
	    "UTF-8 body is QP, all 7-bit, lines of at most 76");
	is_str(t, utf, "UTF-8 body decodes back");
	free(s);
	free(t);
	dm_mime_free(m);

	m = new_msg("b", NULL);
	err.code = DM_EOK;
	ok(dm_mime_set_body(m, "a\0b", 3, &err) == -1 && err.code == DM_EDATA,
	    "NUL in the body is refused");
	err.code = DM_EOK;
	ok(dm_mime_set_body(m, "a\xff", 2, &err) == -1 && err.code == DM_EDATA,
	    "invalid UTF-8 in the body is refused");
	err.code = DM_EOK;
	ok(dm_mime_set_subject(m, "x\ny", &err) == -1 && err.code == DM_EDATA,
	    "set_subject refuses a line break");
	dm_mime_free(m);
}

/* The boundary of a rendered multipart message, in out. */
static void
boundary_of(const char *msg, char *out, size_t sz)
{
	char *ct = header(msg, "Content-Type");
	const char *b;

	out[0] = '\0';
	if (ct != NULL && (b = strstr(ct, "boundary=\"")) != NULL)
		snprintf(out, sz, "%.*s", (int)strcspn(b + 10, "\""), b + 10);
	free(ct);
}

/* A 7bit body that holds the boundary makes the boundary change. */
static void
test_boundary_clash(void)
{
	struct dm_mime *m;
	struct dm_err err;
	struct part pt;
	char *s, body[128], first[40], second[40];
	const char *p;

	p = fixture("clash.txt", "x", 1);
	m = new_msg("b", "x");
	dm_mime_add_file(m, p, NULL, &err);
	s = render(m, NULL);
	boundary_of(s == NULL ? "" : s, first, sizeof first);
	free(s);
	dm_mime_free(m);

	snprintf(body, sizeof body, "line\n--%s\nmore\n", first);
	m = new_msg("b", body);
	dm_mime_add_file(m, p, NULL, &err);
	s = render(m, NULL);
	boundary_of(s == NULL ? "" : s, second, sizeof second);
	ok(s != NULL && first[0] != '\0' && second[0] != '\0' &&
	    strcmp(first, second) != 0 && get_part(s, 0, &pt) == 0 &&
	    strstr(pt.hdr, "7bit") != NULL && strstr(pt.body, first) != NULL &&
	    get_part(s, 1, &pt) == 0 && strncmp(pt.body, "eA==", 4) == 0,
	    "a body holding the boundary gets another boundary");
	free(s);
	dm_mime_free(m);
}

struct name_case {
	const char	*what;
	const char	*name;
	int		 plain;		/* quoted filename=, else filename* */
	int		 split;		/* filename*0*= continuations */
};

/*
 * The name of the one attachment of s, read back as a reader of RFC
 * 2231 takes it (Content-Disposition) and as one of RFC 2047 only
 * (Content-Type name=): each header names the file exactly once.
 */
static void
check_name(const char *s, size_t n, const struct name_case *c)
{
	struct part pt;
	char *ct = NULL, *cd = NULL, *v = NULL, *dec = NULL;
	int bad = 0, qbad = 0;

	if (s != NULL && get_part(s, 1, &pt) == 0) {
		ct = header(pt.hdr, "Content-Type");
		cd = header(pt.hdr, "Content-Disposition");
	}
	ok(ct != NULL && cd != NULL && count(ct, " name=") == 1 &&
	    (c->split || count(cd, " filename") == 1),
	    "%s: one name per header", c->what);
	if (c->plain) {
		v = quoted_param(cd, "filename");
		is_str(v, c->name, "%s: plain quoted filename=", c->what);
		free(v);
		v = quoted_param(ct, "name");
		is_str(v, c->name, "%s: the same name=", c->what);
	} else {
		ok(cd != NULL && strstr(cd, "filename=") == NULL &&
		    strstr(cd, c->split ? "filename*0*=UTF-8''" :
		    "filename*=UTF-8''") != NULL &&
		    (!c->split || strstr(cd, "filename*1*=") != NULL),
		    "%s: filename* alone%s", c->what,
		    c->split ? ", in continuations" : "");
		dec = cd == NULL ? NULL : decode_2231(cd);
		is_str(dec, c->name, "%s: filename* decodes to the name",
		    c->what);
		free(dec);
		v = quoted_param(ct, "name");
		dec = v == NULL ? NULL : decode_2047(v, &bad, &qbad);
		ok(dec != NULL && strcmp(dec, c->name) == 0 && bad == 0 &&
		    qbad == 0, "%s: name= is RFC 2047 of the name", c->what);
		free(dec);
	}
	free(v);
	ok(s != NULL && get_part(s, 1, &pt) == 0 &&
	    longest_line(pt.hdr) <= 78 && well_formed(s, n, 998),
	    "%s: header lines under 78, no 8-bit", c->what);
	free(ct);
	free(cd);
}

static void
test_attachments(void)
{
	struct dm_mime *m;
	struct dm_err err;
	struct dm_buf d;
	struct part pt;
	unsigned char *rnd;
	const char *p, *pdf, *bin, *cur;
	char *s, *v, name[400];
	size_t n, i, k;
	int ok_lines;
	static char uml200[512], cjk200[1024], along[128];
	struct name_case names[] = {
		{ "umlaut and quotes", "Rechnung M\xc3\xbcller \"2026\".pdf",
		    0, 0 },
		{ "ASCII with quotes, backslash, ';'",
		    "a \"b\" c\\d; e.pdf", 1, 0 },
		{ "plain ASCII", "plain name.pdf", 1, 0 },
		{ "an emoji", "Rechnung \xf0\x9f\xa7\xbe 2026.pdf", 0, 0 },
		{ "200 umlauts", uml200, 0, 1 },
		{ "200 CJK characters", cjk200, 0, 1 },
		{ "a long ASCII name", along, 0, 1 },
		{ "umlauts, euro signs and spaces", name, 0, 1 },
		{ "an ASCII name like an encoded word",
		    "=?UTF-8?B?eA==?=.pdf", 0, 0 },
	};

	for (i = 0; i < 200; i++) {
		memcpy(uml200 + 2 * i, "\xc3\xbc", 2);
		memcpy(cjk200 + 3 * i, "\xe8\xab\x8b", 3);
		if (i < 100)
			along[i] = 'a';
	}
	memcpy(uml200 + 400, ".pdf", 5);
	memcpy(cjk200 + 600, ".pdf", 5);
	memcpy(along + 100, ".pdf", 5);
	for (i = 0, name[0] = '\0'; i < 40; i++)
		dm_strlcpy(name + strlen(name), "\xc3\xbc\xe2\x82\xac ",
		    sizeof name - strlen(name));
	dm_strlcpy(name + strlen(name), "Ende.pdf", sizeof name - strlen(name));

	/* Zero-byte and small files. */
	m = new_msg("b", "x");
	dm_mime_add_file(m, fixture("empty.txt", "", 0), NULL, &err);
	dm_mime_add_file(m, fixture("small.txt", "hello, world\n", 13), NULL,
	    &err);
	s = render(m, &n);
	v = s != NULL && get_part(s, 1, &pt) == 0 ?
	    header(pt.hdr, "Content-Type") : NULL;
	ok(v != NULL && pt.len == 0 &&
	    strcmp(v, "text/plain; name=\"empty.txt\"") == 0,
	    "a zero-byte file is an empty base64 part");
	free(v);
	dm_buf_init(&d, 0);
	ok(s != NULL && get_part(s, 2, &pt) == 0 &&
	    b64_decode(pt.body, pt.len, &d) == 0 && d.len == 13 &&
	    memcmp(d.data, "hello, world\n", 13) == 0,
	    "a small file decodes back");
	dm_buf_release(&d);
	ok(s != NULL && well_formed(s, n, 78),
	    "small attachments: well formed, lines under 78");
	free(s);
	dm_mime_free(m);

	/* 1 MB of random bytes. */
	if ((rnd = malloc(1000000)) == NULL)
		abort();
	srand(42);
	for (i = 0; i < 1000000; i++)
		rnd[i] = (unsigned char)(rand() >> 7);
	p = fixture("random.dat", rnd, 1000000);
	m = new_msg("b", "x");
	dm_mime_add_file(m, p, NULL, &err);
	s = render(m, &n);
	dm_buf_init(&d, 0);
	ok(s != NULL && get_part(s, 1, &pt) == 0 &&
	    b64_decode(pt.body, pt.len, &d) == 0 && d.len == 1000000 &&
	    memcmp(d.data, rnd, 1000000) == 0,
	    "1 MB of random bytes decodes back exactly");
	dm_buf_release(&d);
	ok_lines = s != NULL && get_part(s, 1, &pt) == 0;
	for (cur = ok_lines ? pt.body : NULL, k = 0;
	    ok_lines && cur < pt.body + pt.len; cur += k + 2) {
		k = strcspn(cur, "\r");
		if (k != 76 && cur + k + 2 != pt.body + pt.len)
			ok_lines = 0;
	}
	ok(ok_lines, "base64 lines are 76 columns, the last one shorter");
	ok(s != NULL && n == dm_mime_size(m), "size of the 1 MB message exact");
	ok(s != NULL && strstr(s, "application/octet-stream") != NULL,
	    "unknown content and extension: application/octet-stream");
	free(s);
	free(rnd);
	dm_mime_free(m);

	/* Types. */
	pdf = fixture("scan.bin", "%PDF-1.7\n...", 12);
	bin = fixture("notpdf.PDF", "hello", 5);
	m = new_msg("b", "x");
	dm_mime_add_file(m, pdf, NULL, &err);
	dm_mime_add_file(m, bin, NULL, &err);
	dm_mime_add_file(m, fixture("photo.JPG", "x", 1), NULL, &err);
	dm_mime_add_file(m, fixture("list.csv", "a,b\n", 4), NULL, &err);
	dm_mime_add_file(m, fixture("noext", "%PDF", 4), NULL, &err);
	dm_mime_add_file(m, fixture("data.xlsx", "PK", 2), NULL, &err);
	dm_mime_add_file(m, pdf, "renamed.txt", &err);
	is_int(dm_mime_attachment_count(m), 7, "seven attachments added");
	is_str(dm_mime_attachment_type(m, 0), "application/pdf",
	    "PDF found by content under a .bin name");
	is_str(dm_mime_attachment_type(m, 1), "application/pdf",
	    "PDF found by extension, case-insensitive");
	is_str(dm_mime_attachment_type(m, 2), "image/jpeg",
	    "JPG is image/jpeg");
	is_str(dm_mime_attachment_type(m, 3), "text/csv", "csv is text/csv");
	is_str(dm_mime_attachment_type(m, 4), "application/octet-stream",
	    "short '%%PDF' without '-' and no extension: octet-stream");
	is_str(dm_mime_attachment_type(m, 5),
	    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	    "xlsx type");
	is_str(dm_mime_attachment_type(m, 6), "application/pdf",
	    "content wins over a given name's extension");
	ok(dm_mime_attachment_type(m, 7) == NULL, "out of range gives NULL");
	s = render(m, &n);
	ok(s != NULL && get_part(s, 1, &pt) == 0 &&
	    strncmp(pt.hdr,
	    "Content-Type: application/pdf; name=\"scan.bin\"\r\n", 48) == 0,
	    "the part header carries the type");
	ok(s != NULL && get_part(s, 7, &pt) == 0 &&
	    strstr(pt.hdr, "filename=\"renamed.txt\"") != NULL,
	    "a given name replaces the path's last component");
	ok(s != NULL && well_formed(s, n, 998), "seven parts well formed");
	free(s);
	dm_mime_free(m);

	/* File names: how each kind of name is written. */
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		m = new_msg("b", "x");
		if (dm_mime_add_file(m, pdf, names[i].name, &err) == -1)
			diag("%s", err.msg);
		s = render(m, &n);
		check_name(s, n, &names[i]);
		free(s);
		dm_mime_free(m);
	}
}

static void
test_add_errors(void)
{
	struct dm_mime *m;
	struct dm_err err;
	char path[1200];
	const char *p;

	m = new_msg("b", "x");
	p = fixture("ok.pdf", "%PDF-", 5);

	snprintf(path, sizeof path, "%s/missing.pdf", dir);
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, path, NULL, &err) == -1 &&
	    err.code == DM_ENOINPUT &&
	    strstr(err.msg, "No such file or directory") != NULL &&
	    strstr(err.msg, "missing.pdf'") != NULL &&
	    strcmp(err.hint, "check the path") == 0,
	    "missing file: noinput, names the path: %s", err.msg);

	err.code = DM_EOK;
	ok(dm_mime_add_file(m, dir, NULL, &err) == -1 &&
	    err.code == DM_ENOINPUT &&
	    strstr(err.msg, "is a directory") != NULL,
	    "directory: noinput: %s", err.msg);

	snprintf(path, sizeof path, "%s/fifo", dir);
	if (mkfifo(path, 0600) == 0)
		dm_strlcpy(made[nmade++], path, sizeof made[0]);
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, path, NULL, &err) == -1 &&
	    err.code == DM_ENOINPUT &&
	    strstr(err.msg, "not a regular file") != NULL,
	    "a FIFO is refused without blocking: %s", err.msg);

	p = fixture("secret.pdf", "x", 1);
	chmod(p, 0);
	if (geteuid() == 0)
		ok(1, "unreadable file # SKIP root reads everything");
	else {
		err.code = DM_EOK;
		ok(dm_mime_add_file(m, p, NULL, &err) == -1 &&
		    err.code == DM_ENOINPUT &&
		    strstr(err.msg, "Permission denied") != NULL,
		    "unreadable file: noinput: %s", err.msg);
	}

	p = fixture("ok2.pdf", "%PDF-", 5);
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, p, "a\r\nb.pdf", &err) == -1 &&
	    err.code == DM_EDATA && strstr(err.msg, "line break") != NULL,
	    "CR/LF in a file name: data error");
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, p, "tab\there.pdf", &err) == -1 &&
	    err.code == DM_EDATA,
	    "a control character in a file name: data error");
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, p, "bad\xc3.pdf", &err) == -1 &&
	    err.code == DM_EDATA, "invalid UTF-8 in a file name: data error");
	memset(path, 'n', 1100);
	memcpy(path + 1096, ".pdf", 5);
	err.code = DM_EOK;
	ok(dm_mime_add_file(m, p, path, &err) == -1 &&
	    err.code == DM_EDATA && strstr(err.msg, "too long") != NULL,
	    "a 1100-byte attachment name: data error");
	p = fixture("new\nline.pdf", "%PDF-", 5);
	err.code = DM_EOK;
	ok(p != NULL && dm_mime_add_file(m, p, NULL, &err) == -1 &&
	    err.code == DM_EDATA && strchr(err.msg, '\n') == NULL,
	    "a line break in the path's file name: data error");
	is_int(dm_mime_attachment_count(m), 0, "failed adds attach nothing");
	dm_mime_free(m);
}

/* Bytes of m read with pieces of chunk; compares to want. */
static int
same_in_chunks(struct dm_mime *m, size_t chunk, const char *want,
    size_t wantlen)
{
	struct dm_err err;
	size_t n;
	char *s;
	int r;

	if (dm_mime_rewind(m, &err) == -1 ||
	    (s = slurp(m, chunk, &n, &err)) == NULL)
		return 0;
	r = n == wantlen && memcmp(s, want, n) == 0;
	free(s);
	return r;
}

static void
test_stream(void)
{
	struct dm_mime *m;
	struct dm_err err;
	struct rusage ru;
	char *s, *big, buf[65536], tail[64];
	const char *p, *files[3];
	size_t n, i, k;
	long rss0;
	uint64_t total;
	ssize_t r;
	int fd, clean;

	big = malloc(200000);
	if (big == NULL)
		abort();
	for (i = 0; i < 200000; i++)
		big[i] = (char)(i * 7 + i / 13);
	files[0] = fixture("one.pdf", "%PDF-1.4 one", 12);
	files[1] = fixture("two.bin", big, 200000);
	files[2] = fixture("three.txt", "", 0);

	for (k = 0; k <= 3; k++) {
		m = new_msg("Gr\xc3\xbc\xc3\x9f" "e", "Text \xe2\x82\xac\n");
		for (i = 0; i < k; i++)
			dm_mime_add_file(m, files[i], NULL, &err);
		s = render(m, &n);
		ok(s != NULL && n == dm_mime_size(m) && well_formed(s, n, 998),
		    "%zu attachments: size %llu equals the bytes read", k,
		    (unsigned long long)dm_mime_size(m));
		if (k == 3) {
			ok(same_in_chunks(m, 1, s, n),
			    "read 1 byte at a time: same stream");
			ok(same_in_chunks(m, 7, s, n),
			    "read 7 bytes at a time: same stream");
			ok(same_in_chunks(m, 4096, s, n),
			    "read 4096 bytes at a time: same stream");
			ok(same_in_chunks(m, 1 << 20, s, n),
			    "rewind gives the same bytes again");
		}
		free(s);
		dm_mime_free(m);
	}

	/* Truncated after it was added. */
	p = fixture("shrinks.bin", big, 200000);
	m = new_msg("b", "x");
	dm_mime_add_file(m, p, NULL, &err);
	dm_mime_finish(m, &err);
	if (truncate(p, 1000) == -1)
		diag("truncate: %s", strerror(errno));
	err.code = DM_EOK;
	s = slurp(m, 4096, &n, &err);
	ok(s == NULL && err.code == DM_EIO &&
	    strstr(err.msg, "changed while the message was being sent") != NULL,
	    "a file truncated after add: io error: %s", err.msg);
	ok(dm_mime_read(m, buf, sizeof buf, &err) == -1,
	    "reading on after the failure still fails");
	if (truncate(p, 200000) == -1)
		diag("truncate: %s", strerror(errno));
	ok(dm_mime_rewind(m, &err) == 0 &&
	    (s = slurp(m, 4096, &n, &err)) != NULL && n == dm_mime_size(m),
	    "rewind after the file is back: whole again");
	free(s);

	/* Truncated and grown while being read. */
	dm_mime_rewind(m, &err);
	total = 0;
	while (total < dm_mime_size(m) / 4 &&
	    (r = dm_mime_read(m, buf, 1000, &err)) > 0)
		total += (uint64_t)r;
	if (truncate(p, 100000) == -1)
		diag("truncate: %s", strerror(errno));
	while ((r = dm_mime_read(m, buf, sizeof buf, &err)) > 0)
		;
	ok(r == -1 && err.code == DM_EIO,
	    "truncated while being read: io error");
	if (truncate(p, 200000) == -1)
		diag("truncate: %s", strerror(errno));
	dm_mime_rewind(m, &err);
	total = 0;
	while (total < dm_mime_size(m) / 4 &&
	    (r = dm_mime_read(m, buf, 1000, &err)) > 0)
		total += (uint64_t)r;
	if ((fd = open(p, O_WRONLY | O_APPEND)) != -1) {
		if (write(fd, "more", 4) != 4)
			diag("write: %s", strerror(errno));
		close(fd);
	}
	while ((r = dm_mime_read(m, buf, sizeof buf, &err)) > 0)
		;
	ok(r == -1 && err.code == DM_EIO &&
	    strstr(err.msg, "changed") != NULL,
	    "grown while being read: io error");
	unlink(p);
	dm_mime_rewind(m, &err);
	err.code = DM_EOK;
	ok(slurp(m, 4096, &n, &err) == NULL && err.code == DM_ENOINPUT,
	    "deleted after add: noinput at read time: %s", err.msg);
	dm_mime_free(m);
	free(big);

	/* 50 MiB, sparse: streams in little memory, size exact. */
	p = fixture("huge.pdf", "", 0);
	if ((fd = open(p, O_WRONLY)) == -1 || ftruncate(fd, 50L << 20) == -1)
		diag("cannot make the sparse file");
	if (fd != -1)
		close(fd);
	m = new_msg("b", "x");
	ok(dm_mime_add_file(m, p, NULL, &err) == 0 &&
	    dm_mime_finish(m, &err) == 0,
	    "a 50 MiB attachment is accepted");
	getrusage(RUSAGE_SELF, &ru);
	rss0 = ru.ru_maxrss;
	total = 0;
	clean = 1;
	memset(tail, 0, sizeof tail);
	while ((r = dm_mime_read(m, buf, sizeof buf, &err)) > 0) {
		total += (uint64_t)r;
		if ((size_t)r >= sizeof tail)
			memcpy(tail, buf + r - (sizeof tail - 1),
			    sizeof tail - 1);
		else
			clean = 0;
	}
	getrusage(RUSAGE_SELF, &ru);
	ok(r == 0 && clean && total == dm_mime_size(m) &&
	    total > (uint64_t)(50L << 20) * 4 / 3,
	    "50 MiB streams: %llu bytes read, size %llu",
	    (unsigned long long)total, (unsigned long long)dm_mime_size(m));
	/* 50 MiB is 2 modulo 3: one '=' of padding. */
	ok(strstr(tail, "AAA=\r\n\r\n--=_dm_") != NULL &&
	    strcmp(tail + strlen(tail) - 4, "--\r\n") == 0,
	    "it ends with its base64 and the closing delimiter");
	ok(ru.ru_maxrss - rss0 < 8192,
	    "peak memory grew by %ld KiB (< 8 MiB) while streaming",
	    ru.ru_maxrss - rss0);
	dm_mime_free(m);
}

int
main(void)
{
	plan(184);
	/* A fixed zone without tzdata: CET, UTC+1, no DST rules. */
	setenv("TZ", "CET-1", 1);
	tzset();
	snprintf(dir, sizeof dir, "/tmp/t-mime.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_subjects();
	test_addresses();
	test_exact();
	test_headers();
	test_bodies();
	test_boundary_clash();
	test_attachments();
	test_add_errors();
	test_stream();
	cleanup();
	return done_testing();
}
