/*
 * tline.c - the editing core of a one-line field, without curses
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "tline.h"

/*
 * A byte that is not valid in the locale's encoding is kept as this
 * plus the byte: no decoder yields these code points (they are UTF-16
 * surrogates), and the byte goes out again unchanged.
 */
#define RAW_BASE	0xdc00

static int
is_raw(wchar_t c)
{
	return c >= RAW_BASE + 0x80 && c <= RAW_BASE + 0xff;
}

/* Columns character i takes in the field. */
static int
cell(const struct tline *l, size_t i)
{
	int w;

	if (l->secret)
		return 1;
	w = wcwidth(l->s[i]);
	return w < 0 ? 1 : w;
}

static int
span(const struct tline *l, size_t a, size_t b)
{
	int c = 0;

	for (; a < b; a++)
		c += cell(l, a);
	return c;
}

/* The next and the previous place the cursor may stop: never on a mark. */
static size_t
next_stop(const struct tline *l, size_t i)
{
	if (i < l->len)
		i++;
	while (i < l->len && cell(l, i) == 0)
		i++;
	return i;
}

static size_t
prev_stop(const struct tline *l, size_t i)
{
	if (i > 0)
		i--;
	while (i > 0 && cell(l, i) == 0)
		i--;
	return i;
}

static void
wipe(struct tline *l)
{
	if (l->s != NULL)
		explicit_bzero(l->s, l->cap * sizeof *l->s);
	free(l->s);
	l->s = NULL;
	l->cap = 0;
}

/* Room for need characters; a moved text leaves no copy behind. */
static int
room(struct tline *l, size_t need)
{
	wchar_t *s;
	size_t cap;

	if (need <= l->cap)
		return 0;
	cap = l->cap == 0 ? 32 : l->cap;
	while (cap < need)
		cap *= 2;
	if ((s = calloc(cap, sizeof *s)) == NULL)
		return -1;
	if (l->len > 0)
		wmemcpy(s, l->s, l->len);
	wipe(l);
	l->s = s;
	l->cap = cap;
	return 0;
}

/* Removes characters a .. b - 1. */
static void
cut(struct tline *l, size_t a, size_t b)
{
	wmemmove(&l->s[a], &l->s[b], l->len - b);
	l->len -= b - a;
	explicit_bzero(&l->s[l->len], (b - a) * sizeof *l->s);
}

/* The offset that shows the most text with the cursor at the end. */
static size_t
end_offset(const struct tline *l)
{
	size_t off = 0, k;
	int w = span(l, 0, l->len);

	while (off < l->len && w + 1 > l->width) {
		k = next_stop(l, off);
		w -= span(l, off, k);
		off = k;
	}
	return off;
}

/*
 * Keeps the cursor in sight.  A cursor that leaves the field at one
 * edge lands half a field from it: the text jumps by half a field, so
 * the field is repainted once every width / 2 keys, not at every key.
 */
static void
follow(struct tline *l)
{
	int half = l->width / 2, w, kw;
	size_t k;

	if (span(l, 0, l->len) < l->width) {
		l->off = 0;	/* all of it fits, and the cursor after it */
		return;
	}
	if (l->cur < l->off) {
		l->off = l->cur;
		w = 0;
		while (l->off > 0) {
			k = prev_stop(l, l->off);
			kw = span(l, k, l->off);
			if (w + kw > half)
				break;
			w += kw;
			l->off = k;
		}
	} else if (span(l, l->off, l->cur) + (l->cur < l->len ?
	    cell(l, l->cur) : 1) > l->width) {
		w = span(l, l->off, l->cur);
		while (l->off < l->cur && w > half) {
			k = next_stop(l, l->off);
			w -= span(l, l->off, k);
			l->off = k;
		}
	}
}

void
tline_init(struct tline *l, int width, int secret)
{
	memset(l, 0, sizeof *l);
	l->width = width > 4 ? width : 4;
	l->secret = secret;
}

void
tline_release(struct tline *l)
{
	wipe(l);
	l->len = l->cur = l->off = 0;
}

void
tline_resize(struct tline *l, int width)
{
	l->width = width > 4 ? width : 4;
	follow(l);
}

int
tline_set(struct tline *l, const char *s)
{
	size_t n = strlen(s), i = 0, k;
	mbstate_t st;
	wchar_t *w, c;

	if (n >= SIZE_MAX / sizeof *w || (w = calloc(n + 1, sizeof *w)) == NULL)
		return -1;
	memset(&st, 0, sizeof st);
	while (n > 0) {
		k = mbrtowc(&c, s, n, &st);
		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			c = RAW_BASE + (unsigned char)*s;
			k = 1;
			memset(&st, 0, sizeof st);
		}
		w[i++] = c;
		s += k;
		n -= k;
	}
	wipe(l);
	l->s = w;
	l->cap = i + 1;
	l->len = i;
	l->picked = 0;
	(void)tline_edit(l, TL_END);
	return 0;
}

char *
tline_get(const struct tline *l)
{
	mbstate_t st;
	char *out, *p;
	size_t i, n;

	if (l->len >= (SIZE_MAX - 1) / MB_CUR_MAX ||
	    (out = malloc(l->len * MB_CUR_MAX + 1)) == NULL)
		return NULL;
	memset(&st, 0, sizeof st);
	for (p = out, i = 0; i < l->len; i++) {
		if (is_raw(l->s[i])) {
			*p++ = (char)(l->s[i] - RAW_BASE);
			continue;
		}
		if ((n = wcrtomb(p, l->s[i], &st)) == (size_t)-1) {
			*p++ = '?';
			memset(&st, 0, sizeof st);
		} else
			p += n;
	}
	*p = '\0';
	return out;
}

int
tline_insert(struct tline *l, wchar_t c)
{
	if (c < 0x20 || c == 0x7f || l->len >= TLINE_MAX ||
	    room(l, l->len + 1) == -1)
		return 0;
	if (l->picked) {
		l->picked = 0;
		cut(l, 0, l->len);
		l->cur = l->off = 0;
	}
	wmemmove(&l->s[l->cur + 1], &l->s[l->cur], l->len - l->cur);
	l->s[l->cur++] = c;
	l->len++;
	follow(l);
	return 1;
}

int
tline_edit(struct tline *l, enum tline_op op)
{
	size_t k;
	int changed = 0;

	if (l->picked) {
		l->picked = 0;
		/* A deleting key takes the whole suggestion. */
		if (op == TL_BACKSPACE || op == TL_DELETE ||
		    op == TL_KILL_END || op == TL_KILL_WORD)
			op = TL_CLEAR;
	}
	switch (op) {
	case TL_LEFT:
		l->cur = prev_stop(l, l->cur);
		break;
	case TL_RIGHT:
		l->cur = next_stop(l, l->cur);
		break;
	case TL_HOME:
		l->cur = 0;
		break;
	case TL_END:
		/* The most text in sight: the cursor at the right edge. */
		l->cur = l->len;
		l->off = end_offset(l);
		return 0;
	case TL_BACKSPACE:
		if (l->cur == 0)
			break;
		k = prev_stop(l, l->cur);
		cut(l, k, l->cur);
		l->cur = k;
		changed = 1;
		break;
	case TL_DELETE:
		if (l->cur == l->len)
			break;
		cut(l, l->cur, next_stop(l, l->cur));
		changed = 1;
		break;
	case TL_KILL_END:
		if (l->cur == l->len)
			break;
		cut(l, l->cur, l->len);
		changed = 1;
		break;
	case TL_KILL_WORD:
		/* Words end at blanks, as in a shell: "a@b.test, c@d" */
		k = l->cur;
		while (k > 0 && iswspace((wint_t)l->s[k - 1]))
			k--;
		while (k > 0 && !iswspace((wint_t)l->s[k - 1]))
			k--;
		if (k == l->cur)
			break;
		cut(l, k, l->cur);
		l->cur = k;
		changed = 1;
		break;
	case TL_CLEAR:
		if (l->len == 0)
			break;
		cut(l, 0, l->len);
		l->cur = l->off = 0;
		changed = 1;
		break;
	}
	follow(l);
	return changed;
}

void
tline_blur(struct tline *l)
{
	l->off = 0;
}

void
tline_enter(struct tline *l)
{
	int picked = l->picked;

	(void)tline_edit(l, TL_END);
	l->picked = picked;
}

void
tline_pick(struct tline *l)
{
	l->picked = l->len > 0;
}

void
tline_view(const struct tline *l, struct tline_view *v)
{
	size_t e = l->off;
	int c = 0;

	while (e < l->len && c + cell(l, e) <= l->width)
		c += cell(l, e++);
	v->start = l->off;
	v->end = e;
	v->col = l->cur >= l->off ? span(l, l->off, l->cur) : 0;
	v->left = l->off > 0;
	v->right = e < l->len;
}

wchar_t
tline_shown(const struct tline *l, size_t i)
{
	if (l->secret)
		return L'*';
	return wcwidth(l->s[i]) < 0 ? L'?' : l->s[i];
}
