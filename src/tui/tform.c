/*
 * tform.c - labelled fields, shared by the screens
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <docmail/i18n.h>

#include "tform.h"
#include "tline.h"

#define NOTE_MAX	160
#define CTRL(c)		((c) & 0x1f)

struct tform {
	const struct tf_spec	*spec;
	int			 n;
	int			 row0;		/* first body row */
	int			 label_w;
	int			 cur;		/* the focused field */
	int			 left;		/* field the focus left */
	int			 active;	/* the form holds the focus */
	struct tui		*t;		/* set by the first draw */
	struct tline		*line;		/* per field; text fields only */
	int			*choice;	/* per field */
	char			(*note)[NOTE_MAX];
	int			*note_err;
	int			*note_shown;	/* a note is on the screen */
	int			*row;		/* screen row of each field */
	int			*col;		/* screen column of each field */
	int			*width;
};

static int
is_text(const struct tform *tf, int i)
{
	return tf->spec[i].kind == TF_TEXT || tf->spec[i].kind == TF_ADDRS ||
	    tf->spec[i].kind == TF_SECRET;
}

/* Where each field goes at the current size. */
static void
layout(struct tform *tf)
{
	const struct tf_spec *s;
	int i, r = tf->row0, c, w, bc = 2, brow = 0;

	for (i = 0; i < tf->n; i++) {
		s = &tf->spec[i];
		if (s->kind == TF_BUTTON) {
			/* Buttons sit side by side on one line, after a gap. */
			if (i == 0 || tf->spec[i - 1].kind != TF_BUTTON) {
				r++;
				bc = 2 + tf->label_w + 2;
				brow = r++;
			}
			w = dm_text_width(_(s->label)) + 2;
			tf->row[i] = brow;
			tf->col[i] = bc;
			tf->width[i] = w;
			bc += w + 4;
			continue;
		}
		c = 2 + tf->label_w + 2;
		w = s->width > 0 ? s->width : COLS - c - 2;
		/* A choice is as wide as its widest, in this language. */
		if (s->kind == TF_CHOICE) {
			int k, cw;

			for (k = 0; s->choices[k] != NULL; k++)
				if ((cw = dm_text_width(_(s->choices[k])) + 1) > w)
					w = cw;
		}
		if (c + w + 1 > COLS)
			w = COLS - c - 1;
		if (w < 4)
			w = 4;
		tf->row[i] = r;
		tf->col[i] = c;
		tf->width[i] = w;
		if (is_text(tf, i)) {
			tline_resize(&tf->line[i], w);
			if (i != tf->cur)
				tline_blur(&tf->line[i]);
		}
		r++;
	}
}

/* Paints the part of a text field's value that is in sight. */
static void
paint_text(struct tform *tf, int i)
{
	const struct tline *l = &tf->line[i];
	struct tline_view v;
	wchar_t buf[128];
	size_t k, n = 0;
	int used = 0, w;

	tline_view(l, &v);
	mvaddch(tf->row[i], tf->col[i] - 1, v.left ? '<' : '[');
	move(tf->row[i], tf->col[i]);
	for (k = v.start; k < v.end; k++) {
		if (n + 1 == sizeof buf / sizeof buf[0]) {
			buf[n] = L'\0';
			addwstr(buf);
			n = 0;
		}
		buf[n] = tline_shown(l, k);
		w = wcwidth(buf[n]);
		used += w < 0 ? 1 : w;
		n++;
	}
	buf[n] = L'\0';
	addwstr(buf);
	for (; used < tf->width[i]; used++)
		addch(' ');
	mvaddch(tf->row[i], tf->col[i] + tf->width[i], v.right ? '>' : ']');
}

/*
 * An address list too long for its field, while another field has the
 * focus: as many whole addresses as fit, then "+N more", never one cut
 * in the middle.  Separators are ',' and ';' outside quotes and <>.
 * Returns 0 when the list fits as it is (paint it as text).
 */
static int
paint_addrs(struct tform *tf, int i)
{
	char *v = tline_get(&tf->line[i]), *p, *start, out[512], more[32];
	int quote = 0, angle = 0, n = 0, shown = 0, total = 0, w, mw;
	size_t len = 0;

	if (v == NULL)
		return 0;
	if (dm_text_width(v) <= tf->width[i]) {
		free(v);
		return 0;
	}
	for (p = v; *p != '\0'; p++)	/* how many addresses */
		if (*p == '"')
			quote = !quote;
		else if (!quote && (*p == '<' || *p == '>'))
			angle = *p == '<';
		else if (!quote && !angle && (*p == ',' || *p == ';'))
			total++;
	total++;
	out[0] = '\0';
	quote = angle = 0;
	for (p = start = v;; p++) {
		if (*p == '"')
			quote = !quote;
		else if (!quote && (*p == '<' || *p == '>'))
			angle = *p == '<';
		else if (*p != '\0' && (quote || angle ||
		    (*p != ',' && *p != ';')))
			continue;
		if (*p == '"' || *p == '<' || *p == '>')
			continue;
		/* One address: [start, p). */
		while (*start == ' ')
			start++;
		if (p > start) {
			mw = 0;
			/* TRANSLATORS: after a cut list of addresses. */
			(void)snprintf(more, sizeof more, ngettext(" +%d more",
			    " +%d more", (unsigned long)(total - shown - 1)),
			    total - shown - 1);
			if (shown + 1 < total)
				mw = dm_text_width(more);
			n = snprintf(out + len, sizeof out - len, "%s%.*s",
			    shown > 0 ? ", " : "", (int)(p - start), start);
			if (n < 0 || (size_t)n >= sizeof out - len ||
			    (w = dm_text_width(out)) + mw > tf->width[i]) {
				out[len] = '\0';
				break;
			}
			len += (size_t)n;
			shown++;
		}
		if (*p == '\0')
			break;
		start = p + 1;
	}
	if (shown < total) {
		(void)snprintf(more, sizeof more, ngettext("%s+%d more",
		    "%s+%d more", (unsigned long)(total - shown)),
		    shown > 0 ? " " : "", total - shown);
		dm_strlcpy(out + len, more, sizeof out - len);
	}
	mvaddch(tf->row[i], tf->col[i] - 1, '[');
	tui_put(tf->row[i], tf->col[i], tf->width[i], out, A_NORMAL);
	mvaddch(tf->row[i], tf->col[i] + tf->width[i], ']');
	free(v);
	return 1;
}

/*
 * Paints field i: label, brackets, value, note.  Only the label is
 * highlighted, never the value: ncurses ends each update in plain
 * video, so every character typed into a highlighted value would cost
 * two attribute changes besides itself.
 */
static void
paint(struct tform *tf, int i)
{
	const struct tf_spec *s = &tf->spec[i];
	attr_t hl = tf->active && i == tf->cur ? A_REVERSE : A_NORMAL;
	int r = tf->row[i], lw, end;
	char b[128];

	if (tf->t == NULL)
		return;		/* not on the screen yet */
	if (s->kind == TF_BUTTON) {
		(void)snprintf(b, sizeof b, " %s ", _(s->label));
		mvaddch(r, tf->col[i] - 1, '<');
		tui_put(r, tf->col[i], tf->width[i], b, hl);
		mvaddch(r, tf->col[i] + tf->width[i], '>');
		return;
	}
	lw = dm_text_width(_(s->label));
	tui_put(r, 2, lw, _(s->label), hl != A_NORMAL ? hl :
	    tui_attr(tf->t, TC_LABEL));
	tui_put(r, 2 + lw, tf->label_w - lw, "", A_NORMAL);
	if (s->kind == TF_ADDRS && !(tf->active && i == tf->cur) &&
	    paint_addrs(tf, i))
		;	/* summed up */
	else if (is_text(tf, i))
		paint_text(tf, i);
	else {
		mvaddch(r, tf->col[i] - 1, '[');
		tui_put(r, tf->col[i], tf->width[i],
		    _(s->choices[tf->choice[i]]), A_NORMAL);
		mvaddch(r, tf->col[i] + tf->width[i], ']');
	}
	/* The note, or blanks where one was. */
	end = tf->col[i] + tf->width[i] + 2;
	if (end < COLS && (tf->note[i][0] != '\0' || tf->note_shown[i]))
		tui_put(r, end, COLS - end, tf->note[i],
		    tf->note_err[i] ? tui_attr(tf->t, TC_ERROR) :
		    tui_attr(tf->t, TC_MARK));
	tf->note_shown[i] = tf->note[i][0] != '\0';
}

struct tform *
tform_new(const struct tf_spec *spec, int n, int row)
{
	struct tform *tf;
	int i, w;

	if (n <= 0 || (tf = calloc(1, sizeof *tf)) == NULL)
		return NULL;
	tf->spec = spec;
	tf->n = n;
	tf->row0 = row;
	tf->left = -1;
	tf->active = 1;
	tf->line = calloc((size_t)n, sizeof *tf->line);
	tf->choice = calloc((size_t)n, sizeof *tf->choice);
	tf->note = calloc((size_t)n, sizeof *tf->note);
	tf->note_err = calloc((size_t)n, sizeof *tf->note_err);
	tf->note_shown = calloc((size_t)n, sizeof *tf->note_shown);
	tf->row = calloc((size_t)n, sizeof *tf->row);
	tf->col = calloc((size_t)n, sizeof *tf->col);
	tf->width = calloc((size_t)n, sizeof *tf->width);
	if (tf->line == NULL || tf->choice == NULL || tf->note == NULL ||
	    tf->note_err == NULL || tf->note_shown == NULL ||
	    tf->row == NULL || tf->col == NULL || tf->width == NULL) {
		tform_free(tf);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (spec[i].kind != TF_BUTTON &&
		    (w = dm_text_width(_(spec[i].label))) > tf->label_w)
			tf->label_w = w;
		tline_init(&tf->line[i], 4, spec[i].kind == TF_SECRET);
	}
	layout(tf);
	return tf;
}

void
tform_free(struct tform *tf)
{
	int i;

	if (tf == NULL)
		return;
	/* Wiped: one may be a password. */
	for (i = 0; tf->line != NULL && i < tf->n; i++)
		tline_release(&tf->line[i]);
	free(tf->line);
	free(tf->choice);
	free(tf->note);
	free(tf->note_err);
	free(tf->note_shown);
	free(tf->row);
	free(tf->col);
	free(tf->width);
	free(tf);
}

int
tform_resize(struct tform *tf)
{
	layout(tf);
	return 0;
}

void
tform_draw(struct tui *t, struct tform *tf)
{
	int i;

	tf->t = t;
	for (i = 0; i < tf->n; i++)
		paint(tf, i);
}

void
tform_cursor(struct tform *tf)
{
	struct tline_view v;
	int c = tf->col[tf->cur];

	if (is_text(tf, tf->cur)) {
		tline_view(&tf->line[tf->cur], &v);
		c += v.col;
	}
	move(tf->row[tf->cur], c);
	wnoutrefresh(stdscr);
}

void
tform_active(struct tform *tf, int on)
{
	if (tf->active == !!on)
		return;
	tf->active = !!on;
	paint(tf, tf->cur);
}

int
tform_current(const struct tform *tf)
{
	return tf->cur;
}

/* The focus goes to field i, the cursor to the end of its value. */
static void
move_focus(struct tform *tf, int i)
{
	int from = tf->cur;

	if (from != i && is_text(tf, from))
		tline_blur(&tf->line[from]);
	tf->cur = i;
	if (is_text(tf, i))
		tline_enter(&tf->line[i]);
	if (from != i)
		paint(tf, from);
	paint(tf, i);
}

void
tform_focus(struct tform *tf, int i)
{
	if (i >= 0 && i < tf->n)
		move_focus(tf, i);
}

int
tform_left(const struct tform *tf)
{
	return tf->left;
}

void
tform_where(const struct tform *tf, int i, int *row, int *col, int *width)
{
	*row = tf->row[i];
	*col = tf->col[i];
	*width = tf->width[i];
}

int
tform_typing(const struct tform *tf)
{
	return is_text(tf, tf->cur);
}

void
tform_note(struct tform *tf, int i, const char *s, int is_error)
{
	if (i < 0 || i >= tf->n)
		return;
	if (s == NULL)
		tf->note[i][0] = '\0';
	else
		(void)snprintf(tf->note[i], NOTE_MAX, "%s", s);
	tf->note_err[i] = is_error;
	paint(tf, i);
}

int
tform_choice(const struct tform *tf, int i)
{
	return tf->choice[i];
}

void
tform_set_choice(struct tform *tf, int i, int c)
{
	int n = 0;

	while (tf->spec[i].choices[n] != NULL)
		n++;
	tf->choice[i] = ((c % n) + n) % n;
	paint(tf, i);
}

char *
tform_get(struct tform *tf, int i)
{
	char *s;
	size_t n;

	if (tf->spec[i].kind == TF_CHOICE)
		return strdup(tf->spec[i].choices[tf->choice[i]]);
	if (!is_text(tf, i))
		return strdup("");
	if ((s = tline_get(&tf->line[i])) == NULL)
		return NULL;
	/* A password is taken as typed, blanks and all. */
	if (tf->spec[i].kind != TF_SECRET) {
		n = strlen(s);
		while (n > 0 && s[n - 1] == ' ')
			s[--n] = '\0';
	}
	return s;
}

int
tform_set(struct tform *tf, int i, const char *s)
{
	int c;

	if (tf->spec[i].kind == TF_CHOICE) {
		for (c = 0; tf->spec[i].choices[c] != NULL; c++)
			if (strcmp(tf->spec[i].choices[c], s) == 0)
				break;
		tform_set_choice(tf, i, tf->spec[i].choices[c] != NULL ? c : 0);
		return 0;
	}
	if (!is_text(tf, i))
		return 0;
	if (tline_set(&tf->line[i], s) == -1)
		return -1;
	if (i != tf->cur)
		tline_blur(&tf->line[i]);
	paint(tf, i);
	return 0;
}

void
tform_pick(struct tform *tf, int i)
{
	if (i >= 0 && i < tf->n && is_text(tf, i))
		tline_pick(&tf->line[i]);
}

int
tform_picked(const struct tform *tf, int i)
{
	return i >= 0 && i < tf->n && is_text(tf, i) && tf->line[i].picked;
}

/* Moves the focus by one field, round; reports the field left. */
static int
step(struct tform *tf, int by)
{
	int to = ((tf->cur + by) % tf->n + tf->n) % tf->n;

	if (to == tf->cur)
		return SCR_HANDLED;
	tf->left = tf->cur;
	move_focus(tf, to);
	return SCR_HANDLED | TF_LEFT;
}

/* A key for a text field; 0 when it is none. */
static int
text_op(int is_key, wint_t ch, enum tline_op *op)
{
	if (!is_key) {
		switch (ch) {
		case 127:
		case 8:
			*op = TL_BACKSPACE;
			return 1;
		case CTRL('A'):
			*op = TL_HOME;
			return 1;
		case CTRL('E'):
			*op = TL_END;
			return 1;
		case CTRL('K'):
			*op = TL_KILL_END;
			return 1;
		case CTRL('U'):
			*op = TL_CLEAR;
			return 1;
		case CTRL('W'):
			*op = TL_KILL_WORD;
			return 1;
		}
		return 0;
	}
	switch (ch) {
	case KEY_LEFT:
		*op = TL_LEFT;
		return 1;
	case KEY_RIGHT:
		*op = TL_RIGHT;
		return 1;
	case KEY_HOME:
		*op = TL_HOME;
		return 1;
	case KEY_END:
		*op = TL_END;
		return 1;
	case KEY_BACKSPACE:
		*op = TL_BACKSPACE;
		return 1;
	case KEY_DC:
		*op = TL_DELETE;
		return 1;
	}
	return 0;
}

int
tform_key(struct tform *tf, int is_key, wint_t ch)
{
	const struct tf_spec *s = &tf->spec[tf->cur];
	enum tline_op op;
	int changed;

	if (is_text(tf, tf->cur) && text_op(is_key, ch, &op)) {
		changed = tline_edit(&tf->line[tf->cur], op);
		paint(tf, tf->cur);
		return SCR_HANDLED | (changed ? TF_CHANGED : 0);
	}
	if (!is_key) {
		switch (ch) {
		case '\t':
			return step(tf, 1);
		case '\r':
		case '\n':
			if (s->kind == TF_BUTTON)
				return SCR_HANDLED | TF_ACTIVATE;
			return step(tf, 1);
		case ' ':
			if (s->kind == TF_CHOICE) {
				tform_set_choice(tf, tf->cur,
				    tf->choice[tf->cur] + 1);
				return SCR_HANDLED | TF_CHANGED;
			}
			if (s->kind == TF_BUTTON)
				return SCR_HANDLED | TF_ACTIVATE;
			break;
		case 127:
		case 8:
			return SCR_HANDLED;
		}
		/* Other control characters belong to the screen. */
		if (ch < 0x20 || ch == 0x7f || !is_text(tf, tf->cur))
			return 0;
		if (!tline_insert(&tf->line[tf->cur], (wchar_t)ch))
			return SCR_HANDLED;	/* full */
		paint(tf, tf->cur);
		return SCR_HANDLED | TF_CHANGED;
	}
	switch (ch) {
	case KEY_BTAB:
	case KEY_UP:
		return step(tf, -1);
	case KEY_DOWN:
		return step(tf, 1);
	case KEY_LEFT:
	case KEY_RIGHT:
		if (s->kind == TF_CHOICE) {
			tform_set_choice(tf, tf->cur, tf->choice[tf->cur] +
			    (ch == KEY_LEFT ? -1 : 1));
			return SCR_HANDLED | TF_CHANGED;
		}
		return SCR_HANDLED;
	case KEY_HOME:
	case KEY_END:
	case KEY_BACKSPACE:
	case KEY_DC:
		return SCR_HANDLED;
	case KEY_ENTER:
		return tform_key(tf, 0, '\n');
	}
	return 0;
}
