/*
 * buf.c - bounded growing buffer, string helpers
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/i18n.h>

void
dm_buf_init(struct dm_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max == 0 ? DM_BUF_DEFAULT_MAX : max;
}

void
dm_buf_release(struct dm_buf *b)
{
	free(b->data);
	dm_buf_init(b, b->max);
}

void
dm_buf_reset(struct dm_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
dm_buf_wipe(struct dm_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	dm_buf_release(b);
}

/* Makes room for n more bytes plus the NUL. */
static int
grow(struct dm_buf *b, size_t n, struct dm_err *err)
{
	size_t need, ncap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return dm_err_set(err, DM_EDATA,
		    _("text too long (more than %zu bytes)"), b->max);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap == 0 ? 64 : b->cap;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	/*
	 * Not realloc: a moved block would be freed with its contents, and
	 * a buffer may hold a password that dm_buf_wipe() must reach.
	 */
	if ((p = malloc(ncap)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (b->data != NULL) {
		memcpy(p, b->data, b->len + 1);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
dm_buf_add(struct dm_buf *b, const void *p, size_t n, struct dm_err *err)
{
	if (grow(b, n, err) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
dm_buf_addstr(struct dm_buf *b, const char *s, struct dm_err *err)
{
	return dm_buf_add(b, s, strlen(s), err);
}

int
dm_buf_addc(struct dm_buf *b, char c, struct dm_err *err)
{
	return dm_buf_add(b, &c, 1, err);
}

int
dm_buf_vaddf(struct dm_buf *b, struct dm_err *err, const char *fmt,
    va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return dm_err_set(err, DM_EINTERNAL, _("bad format string"));
	if (grow(b, (size_t)n, err) == -1)
		return -1;
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
dm_buf_addf(struct dm_buf *b, struct dm_err *err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = dm_buf_vaddf(b, err, fmt, ap);
	va_end(ap);
	return r;
}

const char *
dm_buf_str(const struct dm_buf *b)
{
	return b->data == NULL ? "" : b->data;
}

char *
dm_buf_detach(struct dm_buf *b)
{
	char *p;

	if (b->data == NULL)
		return strdup("");
	p = b->data;
	dm_buf_init(b, b->max);
	return p;
}

size_t
dm_strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t n = strlen(src);

	if (dsize > 0) {
		size_t c = n < dsize - 1 ? n : dsize - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
dm_strtonum(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || !(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	if (*s == '-' && min >= 0)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

char *
dm_strdup(const char *s, struct dm_err *err)
{
	char *p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return p;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int c = s[0], cp;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

int
dm_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
dm_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

int
dm_buf_add_printable(struct dm_buf *b, const char *s, size_t n,
    struct dm_err *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq(p + i, n - i);
		/* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f in UTF-8. */
		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f ||
		    (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			if (dm_buf_addf(b, err, "\\x%02x", p[i]) == -1)
				return -1;
			i++;
			continue;
		}
		if (dm_buf_add(b, p + i, k, err) == -1)
			return -1;
		i += k;
	}
	return 0;
}

/* How many of s's first n bytes end on a character's boundary. */
static size_t
char_floor(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

const char *
dm_quote(char *dst, size_t dsize, const char *s, size_t n, size_t max)
{
	struct dm_buf b;
	struct dm_err e;
	size_t cut = n, len;

	if (dsize == 0)
		return dst;
	if (cut > max)
		cut = char_floor(s, max);
	dm_buf_init(&b, 0);
	/* Out of memory only shortens the quote. */
	if (dm_buf_add_printable(&b, s, cut, &e) == -1 ||
	    (cut < n && dm_buf_addstr(&b, "...", &e) == -1)) {
		dm_buf_reset(&b);
		(void)dm_buf_addstr(&b, "...", &e);
	}
	len = b.len;
	if (len >= dsize)
		len = char_floor(dm_buf_str(&b), dsize - 1);
	memcpy(dst, dm_buf_str(&b), len);
	dst[len] = '\0';
	dm_buf_release(&b);
	return dst;
}
