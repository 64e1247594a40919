/*
 * tarea.c - a multi-line text area that keeps its text as typed
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tarea.h"

struct line {
	wchar_t		*s;
	size_t		 len;
	size_t		 cap;
};

/* One screen row: part of a line. */
struct vrow {
	size_t		 line;
	size_t		 start;
	size_t		 end;
};

struct tarea {
	struct line	*l;
	size_t		 n;
	size_t		 cap;
	size_t		 cy;		/* cursor: line */
	size_t		 cx;		/* cursor: char in the line */
	size_t		 top;		/* first row shown */
	int		 row, col, width, height;
	struct vrow	*vr;		/* rows at the current width */
	size_t		 nvr;
	size_t		 vrcap;
};

static int
cw(wchar_t c)
{
	int w = wcwidth(c);

	return w < 0 ? 1 : w;
}

static int
line_room(struct line *ln, size_t need)
{
	wchar_t *s;
	size_t ncap;

	if (need + 1 <= ln->cap)
		return 0;
	ncap = ln->cap == 0 ? 32 : ln->cap;
	while (ncap < need + 1)
		ncap *= 2;
	if ((s = realloc(ln->s, ncap * sizeof *s)) == NULL)
		return -1;
	ln->s = s;
	ln->cap = ncap;
	return 0;
}

/* Inserts an empty line at i. */
static int
insert_line(struct tarea *ta, size_t i)
{
	struct line *l;
	size_t ncap;

	if (ta->n == ta->cap) {
		ncap = ta->cap == 0 ? 16 : ta->cap * 2;
		if ((l = realloc(ta->l, ncap * sizeof *l)) == NULL)
			return -1;
		ta->l = l;
		ta->cap = ncap;
	}
	memmove(&ta->l[i + 1], &ta->l[i], (ta->n - i) * sizeof *ta->l);
	memset(&ta->l[i], 0, sizeof ta->l[i]);
	ta->n++;
	return line_room(&ta->l[i], 0);
}

static void
remove_line(struct tarea *ta, size_t i)
{
	free(ta->l[i].s);
	memmove(&ta->l[i], &ta->l[i + 1], (ta->n - i - 1) * sizeof *ta->l);
	ta->n--;
}

static int
add_vrow(struct tarea *ta, size_t line, size_t start, size_t end)
{
	struct vrow *v;
	size_t ncap;

	if (ta->nvr == ta->vrcap) {
		ncap = ta->vrcap == 0 ? 32 : ta->vrcap * 2;
		if ((v = realloc(ta->vr, ncap * sizeof *v)) == NULL)
			return -1;
		ta->vr = v;
		ta->vrcap = ncap;
	}
	ta->vr[ta->nvr].line = line;
	ta->vr[ta->nvr].start = start;
	ta->vr[ta->nvr].end = end;
	ta->nvr++;
	return 0;
}

/* Breaks every line into rows of the width, at blanks where it can. */
static void
layout(struct tarea *ta)
{
	const struct line *ln;
	size_t i, s, k, brk;
	int pos;

	ta->nvr = 0;
	for (i = 0; i < ta->n; i++) {
		ln = &ta->l[i];
		s = 0;
		do {
			pos = 0;
			brk = 0;
			for (k = s; k < ln->len; k++) {
				if (pos + cw(ln->s[k]) > ta->width - 1)
					break;
				pos += cw(ln->s[k]);
				if (ln->s[k] == L' ')
					brk = k + 1;
			}
			if (k < ln->len && brk > s)
				k = brk;
			if (k == s && k < ln->len)
				k++;
			if (add_vrow(ta, i, s, k) == -1)
				return;
			s = k;
		} while (s < ln->len);
	}
}

/* The row the cursor is on. */
static size_t
cursor_vrow(const struct tarea *ta)
{
	size_t r;

	for (r = 0; r < ta->nvr; r++) {
		if (ta->vr[r].line != ta->cy)
			continue;
		if (ta->cx < ta->vr[r].end || (r + 1 == ta->nvr ||
		    ta->vr[r + 1].line != ta->cy))
			return r;
	}
	return 0;
}

static int
cursor_col(const struct tarea *ta, size_t r)
{
	const struct line *ln = &ta->l[ta->cy];
	size_t k;
	int c = 0;

	for (k = ta->vr[r].start; k < ta->cx && k < ln->len; k++)
		c += cw(ln->s[k]);
	return c;
}

static void
scroll_to_cursor(struct tarea *ta)
{
	size_t r;

	layout(ta);
	r = cursor_vrow(ta);
	if (r < ta->top)
		ta->top = r;
	if (r >= ta->top + (size_t)ta->height)
		ta->top = r - (size_t)ta->height + 1;
}

struct tarea *
tarea_new(int row, int col, int width, int height)
{
	struct tarea *ta;

	if ((ta = calloc(1, sizeof *ta)) == NULL)
		return NULL;
	tarea_place(ta, row, col, width, height);
	if (insert_line(ta, 0) == -1) {
		tarea_free(ta);
		return NULL;
	}
	return ta;
}

void
tarea_free(struct tarea *ta)
{
	size_t i;

	if (ta == NULL)
		return;
	for (i = 0; i < ta->n; i++)
		free(ta->l[i].s);
	free(ta->l);
	free(ta->vr);
	free(ta);
}

void
tarea_place(struct tarea *ta, int row, int col, int width, int height)
{
	ta->row = row;
	ta->col = col;
	ta->width = width > 4 ? width : 4;
	ta->height = height > 1 ? height : 1;
	if (ta->n > 0)
		scroll_to_cursor(ta);
}

int
tarea_set(struct tarea *ta, const char *utf8)
{
	const char *p = utf8, *nl;
	struct line *ln;
	mbstate_t st;
	size_t len, n;
	char *seg;

	while (ta->n > 0)
		remove_line(ta, ta->n - 1);
	ta->cy = ta->cx = ta->top = 0;
	do {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (insert_line(ta, ta->n) == -1 ||
		    (seg = strndup(p, len)) == NULL)
			return -1;
		ln = &ta->l[ta->n - 1];
		memset(&st, 0, sizeof st);
		n = mbstowcs(NULL, seg, 0);
		if (n != (size_t)-1 && line_room(ln, n) == 0) {
			(void)mbstowcs(ln->s, seg, n + 1);
			ln->len = n;
		}
		free(seg);
		p = nl != NULL ? nl + 1 : NULL;
	} while (p != NULL);
	scroll_to_cursor(ta);
	return 0;
}

char *
tarea_get(const struct tarea *ta)
{
	char *out, *p;
	size_t i, k, total = 1, m;
	mbstate_t st;

	for (i = 0; i < ta->n; i++)
		total += ta->l[i].len * MB_CUR_MAX + 1;
	if ((out = malloc(total)) == NULL)
		return NULL;
	p = out;
	memset(&st, 0, sizeof st);
	for (i = 0; i < ta->n; i++) {
		if (i > 0)
			*p++ = '\n';
		for (k = 0; k < ta->l[i].len; k++)
			if ((m = wcrtomb(p, ta->l[i].s[k], &st)) != (size_t)-1)
				p += m;
	}
	*p = '\0';
	return out;
}

/*
 * Is character k of line l inside a "{{...}}"?  The send dialog fills
 * every placeholder it can, so one still in the text is unresolved and
 * is shown highlighted.
 */
static int
in_placeholder(const struct line *l, size_t k)
{
	size_t i, open = (size_t)-1;

	for (i = 0; i + 1 < l->len && i <= k; i++) {
		if (l->s[i] == L'{' && l->s[i + 1] == L'{' && open == (size_t)-1)
			open = i;
		else if (l->s[i] == L'}' && l->s[i + 1] == L'}' &&
		    open != (size_t)-1) {
			if (k <= i + 1)
				return 1;
			open = (size_t)-1;
			i++;
		}
	}
	/* An opening with its close after k. */
	if (open == (size_t)-1)
		return 0;
	for (i = k; i + 1 < l->len; i++)
		if (l->s[i] == L'}' && l->s[i + 1] == L'}')
			return 1;
	return 0;
}

void
tarea_draw(struct tarea *ta)
{
	const struct vrow *v;
	wchar_t buf[512];
	size_t r, k, n;
	int h, hl, was;

	layout(ta);
	for (h = 0; h < ta->height; h++) {
		r = ta->top + (size_t)h;
		move(ta->row + h, ta->col);
		n = 0;
		was = 0;
		if (r < ta->nvr) {
			v = &ta->vr[r];
			for (k = v->start; k < v->end && n < 511; k++) {
				hl = in_placeholder(&ta->l[v->line], k);
				if (hl != was) {
					/* Flush the run before the attribute changes. */
					buf[n] = L'\0';
					addwstr(buf);
					n = 0;
					if (hl)
						attron(A_BOLD | A_UNDERLINE);
					else
						attroff(A_BOLD | A_UNDERLINE);
					was = hl;
				}
				/* No tab or escape reaches the terminal. */
				buf[n++] = ta->l[v->line].s[k] < 0x20 ? L'?' :
				    ta->l[v->line].s[k];
			}
		}
		buf[n] = L'\0';
		addwstr(buf);
		if (was)
			attroff(A_BOLD | A_UNDERLINE);
		clrtoeol();
	}
	/* The brackets the other fields have; more text is marked. */
	mvaddch(ta->row, ta->col - 1, ta->top > 0 ? '^' : '[');
	mvaddch(ta->row + ta->height - 1, ta->col + ta->width,
	    ta->top + (size_t)ta->height < ta->nvr ? 'v' : ']');
}

void
tarea_cursor(struct tarea *ta)
{
	size_t r;
	int c;

	layout(ta);
	r = cursor_vrow(ta);
	c = cursor_col(ta, r);
	if (c > ta->width - 1)
		c = ta->width - 1;
	move(ta->row + (int)(r - ta->top), ta->col + c);
	wnoutrefresh(stdscr);
}

/* Moves to row r, as near the column as the row allows. */
static void
goto_vrow(struct tarea *ta, size_t r, int col)
{
	const struct vrow *v = &ta->vr[r];
	const struct line *ln = &ta->l[v->line];
	size_t k;
	int c = 0;

	for (k = v->start; k < v->end && k < ln->len; k++) {
		if (c + cw(ln->s[k]) > col)
			break;
		c += cw(ln->s[k]);
	}
	/* Not past the blank a wrapped row ends with. */
	if (k == v->end && k > v->start && k < ln->len)
		k--;
	ta->cy = v->line;
	ta->cx = k;
}

static int
insert_char(struct tarea *ta, wchar_t c)
{
	struct line *ln = &ta->l[ta->cy];

	if (line_room(ln, ln->len + 1) == -1)
		return 0;
	memmove(&ln->s[ta->cx + 1], &ln->s[ta->cx],
	    (ln->len - ta->cx) * sizeof *ln->s);
	ln->s[ta->cx++] = c;
	ln->len++;
	return TA_CHANGED;
}

static int
split_line(struct tarea *ta)
{
	struct line *ln, *nx;

	if (insert_line(ta, ta->cy + 1) == -1)
		return 0;
	ln = &ta->l[ta->cy];
	nx = &ta->l[ta->cy + 1];
	if (line_room(nx, ln->len - ta->cx) == -1)
		return 0;
	wmemcpy(nx->s, ln->s + ta->cx, ln->len - ta->cx);
	nx->len = ln->len - ta->cx;
	ln->len = ta->cx;
	ta->cy++;
	ta->cx = 0;
	return TA_CHANGED;
}

/* Joins line i + 1 onto line i. */
static int
join_next(struct tarea *ta, size_t i)
{
	struct line *ln = &ta->l[i], *nx;

	if (i + 1 >= ta->n)
		return 0;
	nx = &ta->l[i + 1];
	if (line_room(ln, ln->len + nx->len) == -1)
		return 0;
	wmemcpy(ln->s + ln->len, nx->s, nx->len);
	ln->len += nx->len;
	remove_line(ta, i + 1);
	return TA_CHANGED;
}

int
tarea_key(struct tarea *ta, int is_key, wint_t ch)
{
	struct line *ln = &ta->l[ta->cy];
	size_t r;
	int res = SCR_HANDLED;

	layout(ta);
	r = cursor_vrow(ta);
	if (!is_key) {
		switch (ch) {
		case '\t':
			return SCR_HANDLED | TA_DOWN;
		case '\r':
		case '\n':
			res |= split_line(ta);
			break;
		case 127:
		case 8:
			return tarea_key(ta, 1, KEY_BACKSPACE);
		case 1:		/* Ctrl-A */
			return tarea_key(ta, 1, KEY_HOME);
		default:
			if (ch < 0x20 || ch == 0x7f)
				return 0;
			res |= insert_char(ta, (wchar_t)ch);
			break;
		}
		scroll_to_cursor(ta);
		return res;
	}
	switch (ch) {
	case KEY_BTAB:
		return SCR_HANDLED | TA_UP;
	case KEY_UP:
		if (r == 0)
			return SCR_HANDLED | TA_UP;
		goto_vrow(ta, r - 1, cursor_col(ta, r));
		break;
	case KEY_DOWN:
		if (r + 1 >= ta->nvr)
			return SCR_HANDLED | TA_DOWN;
		goto_vrow(ta, r + 1, cursor_col(ta, r));
		break;
	case KEY_PPAGE:
		goto_vrow(ta, r > (size_t)ta->height ? r - (size_t)ta->height :
		    0, cursor_col(ta, r));
		break;
	case KEY_NPAGE:
		goto_vrow(ta, r + (size_t)ta->height < ta->nvr ?
		    r + (size_t)ta->height : ta->nvr - 1, cursor_col(ta, r));
		break;
	case KEY_LEFT:
		if (ta->cx > 0)
			ta->cx--;
		else if (ta->cy > 0) {
			ta->cy--;
			ta->cx = ta->l[ta->cy].len;
		}
		break;
	case KEY_RIGHT:
		if (ta->cx < ln->len)
			ta->cx++;
		else if (ta->cy + 1 < ta->n) {
			ta->cy++;
			ta->cx = 0;
		}
		break;
	case KEY_HOME:
		ta->cx = ta->vr[r].start;
		break;
	case KEY_END:
		goto_vrow(ta, r, ta->width);
		if (r + 1 == ta->nvr || ta->vr[r + 1].line != ta->cy)
			ta->cx = ln->len;
		break;
	case KEY_BACKSPACE:
		if (ta->cx > 0) {
			wmemmove(&ln->s[ta->cx - 1], &ln->s[ta->cx],
			    ln->len - ta->cx);
			ln->len--;
			ta->cx--;
			res |= TA_CHANGED;
		} else if (ta->cy > 0) {
			ta->cx = ta->l[ta->cy - 1].len;
			ta->cy--;
			res |= join_next(ta, ta->cy);
		}
		break;
	case KEY_DC:
		if (ta->cx < ln->len) {
			wmemmove(&ln->s[ta->cx], &ln->s[ta->cx + 1],
			    ln->len - ta->cx - 1);
			ln->len--;
			res |= TA_CHANGED;
		} else
			res |= join_next(ta, ta->cy);
		break;
	case KEY_ENTER:
		res |= split_line(ta);
		break;
	default:
		return 0;
	}
	scroll_to_cursor(ta);
	return res;
}
