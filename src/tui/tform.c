/*
 * tform.c - labelled fields on libform, shared by the screens
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tform.h"

#define NOTE_MAX	160

struct tform {
	const struct tf_spec	*spec;
	int			 n;
	int			 row0;		/* first body row */
	int			 label_w;
	FORM			*form;
	FIELD			**fields;	/* n + 1, NULL-terminated */
	WINDOW			*sub;
	int			*choice;	/* per field */
	char			(*note)[NOTE_MAX];
	int			*note_err;
	int			*row;		/* screen row of each field */
	int			*col;		/* screen column of each field */
	int			*width;
	int			 left;		/* field the focus left */
	char			**val;		/* last known values */
};

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
			w = tui_width(s->label) + 2;
			tf->row[i] = brow;
			tf->col[i] = bc;
			tf->width[i] = w;
			bc += w + 4;
			continue;
		}
		c = 2 + tf->label_w + 2;
		w = s->width > 0 ? s->width : COLS - c - 2;
		if (c + w + 1 > COLS)
			w = COLS - c - 1;
		if (w < 4)
			w = 4;
		tf->row[i] = r;
		tf->col[i] = c;
		tf->width[i] = w;
		r += s->kind == TF_AREA ? (s->height > 1 ? s->height : 2) : 1;
	}
}

static char *
buffer_utf8(FIELD *f)
{
	const char *b = field_buffer(f, 0);
	size_t n;
	char *s;

	if (b == NULL)
		return strdup("");
	n = strlen(b);
	while (n > 0 && b[n - 1] == ' ')
		n--;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, b, n);
	s[n] = '\0';
	return s;
}

static void
show_choice(struct tform *tf, int i)
{
	set_field_buffer(tf->fields[i], 0, tf->spec[i].choices[tf->choice[i]]);
}

static int
build(struct tform *tf, char **keep)
{
	const struct tf_spec *s;
	FIELD *f;
	int i, h;

	layout(tf);
	for (i = 0; i < tf->n; i++) {
		s = &tf->spec[i];
		h = s->kind == TF_AREA ? (s->height > 1 ? s->height : 2) : 1;
		f = new_field(h, tf->width[i], tf->row[i] - tf->row0,
		    tf->col[i], 0, 0);
		if (f == NULL)
			return -1;
		tf->fields[i] = f;
		/* No colour, no underline: brackets mark fields (cheap). */
		set_field_fore(f, A_NORMAL);
		set_field_back(f, A_NORMAL);
		set_field_pad(f, ' ');
		field_opts_off(f, O_AUTOSKIP | O_BLANK);
		switch (s->kind) {
		case TF_TEXT:
		case TF_SECRET:
			field_opts_off(f, O_STATIC);
			set_max_field(f, 1024);
			if (s->kind == TF_SECRET)
				field_opts_off(f, O_PUBLIC);
			break;
		case TF_AREA:
			field_opts_off(f, O_STATIC);
			set_max_field(f, 0);
			break;
		case TF_CHOICE:
			field_opts_off(f, O_EDIT);
			break;
		case TF_BUTTON: {
			char b[128];

			field_opts_off(f, O_EDIT);
			(void)snprintf(b, sizeof b, " %s", s->label);
			set_field_buffer(f, 0, b);
			break;
		}
		}
		if (keep != NULL && keep[i] != NULL &&
		    s->kind != TF_BUTTON)
			set_field_buffer(f, 0, keep[i]);
		if (s->kind == TF_CHOICE)
			show_choice(tf, i);
	}
	tf->fields[tf->n] = NULL;
	h = LINES - 2 - tf->row0;
	if (h < 1)
		return -1;
	if ((tf->sub = derwin(stdscr, h, COLS, tf->row0, 0)) == NULL)
		return -1;
	if ((tf->form = new_form(tf->fields)) == NULL)
		return -1;
	/* Backspace at the start of a field must not jump to another. */
	form_opts_off(tf->form, O_BS_OVERLOAD | O_NL_OVERLOAD);
	set_form_win(tf->form, stdscr);
	set_form_sub(tf->form, tf->sub);
	return 0;
}

static void
teardown(struct tform *tf)
{
	int i;

	if (tf->form != NULL) {
		unpost_form(tf->form);
		free_form(tf->form);
		tf->form = NULL;
	}
	for (i = 0; i < tf->n; i++) {
		if (tf->fields[i] != NULL)
			free_field(tf->fields[i]);
		tf->fields[i] = NULL;
	}
	if (tf->sub != NULL) {
		delwin(tf->sub);
		tf->sub = NULL;
	}
}

/* Drops the cached values, wiping them (one may be a password). */
static void
forget(struct tform *tf)
{
	int i;

	for (i = 0; tf->val != NULL && i < tf->n; i++) {
		if (tf->val[i] != NULL)
			explicit_bzero(tf->val[i], strlen(tf->val[i]));
		free(tf->val[i]);
		tf->val[i] = NULL;
	}
}

/*
 * Copies the current field's value out of libform while its window is
 * intact: after the terminal shrinks, the window may no longer hold it.
 */
static void
remember(struct tform *tf)
{
	int i = tform_current(tf);
	char *v;

	form_driver(tf->form, REQ_VALIDATION);
	if ((v = buffer_utf8(tf->fields[i])) == NULL)
		return;
	if (tf->val[i] != NULL)
		explicit_bzero(tf->val[i], strlen(tf->val[i]));
	free(tf->val[i]);
	tf->val[i] = v;
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
	tf->fields = calloc((size_t)n + 1, sizeof *tf->fields);
	tf->choice = calloc((size_t)n, sizeof *tf->choice);
	tf->note = calloc((size_t)n, sizeof *tf->note);
	tf->note_err = calloc((size_t)n, sizeof *tf->note_err);
	tf->row = calloc((size_t)n, sizeof *tf->row);
	tf->col = calloc((size_t)n, sizeof *tf->col);
	tf->width = calloc((size_t)n, sizeof *tf->width);
	tf->val = calloc((size_t)n, sizeof *tf->val);
	if (tf->val == NULL || tf->fields == NULL || tf->choice == NULL || tf->note == NULL ||
	    tf->note_err == NULL || tf->row == NULL || tf->col == NULL ||
	    tf->width == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if (spec[i].kind != TF_BUTTON &&
		    (w = tui_width(spec[i].label)) > tf->label_w)
			tf->label_w = w;
	if (build(tf, NULL) == -1)
		goto fail;
	post_form(tf->form);
	return tf;
fail:
	tform_free(tf);
	return NULL;
}

void
tform_free(struct tform *tf)
{
	if (tf == NULL)
		return;
	if (tf->fields != NULL)
		teardown(tf);
	free(tf->fields);
	free(tf->choice);
	free(tf->note);
	free(tf->note_err);
	free(tf->row);
	free(tf->col);
	free(tf->width);
	forget(tf);
	free(tf->val);
	free(tf);
}

int
tform_resize(struct tform *tf)
{
	char **keep;
	int i, cur = tform_current(tf), r = 0;

	if (tf->n <= 0 || (keep = calloc((size_t)tf->n, sizeof *keep)) == NULL)
		return -1;
	/* The cache, not the windows: they may have been cut by a resize. */
	for (i = 0; i < tf->n; i++)
		keep[i] = tf->val[i] != NULL ? strdup(tf->val[i]) :
		    buffer_utf8(tf->fields[i]);
	teardown(tf);
	if (build(tf, keep) == -1)
		r = -1;
	else {
		post_form(tf->form);
		tform_focus(tf, cur);
	}
	for (i = 0; i < tf->n; i++) {
		if (keep[i] != NULL)
			explicit_bzero(keep[i], strlen(keep[i]));
		free(keep[i]);
	}
	free(keep);
	return r;
}

void
tform_draw(struct tui *t, struct tform *tf)
{
	const struct tf_spec *s;
	int i, h, cur = tform_current(tf), end;

	/*
	 * Re-post: a full repaint erased what libform had drawn.  Posting
	 * puts the cursor at the start; the end is where typing goes on.
	 */
	unpost_form(tf->form);
	post_form(tf->form);
	tform_focus(tf, cur);
	form_driver(tf->form, REQ_END_LINE);
	for (i = 0; i < tf->n; i++) {
		s = &tf->spec[i];
		h = s->kind == TF_AREA ? (s->height > 1 ? s->height : 2) : 1;
		if (s->kind == TF_BUTTON) {
			mvaddch(tf->row[i], tf->col[i] - 1, '<');
			mvaddch(tf->row[i], tf->col[i] + tf->width[i], '>');
		} else {
			tui_put(tf->row[i], 2, tf->label_w, s->label,
			    tui_attr(t, TC_LABEL));
			if (h == 1) {
				mvaddch(tf->row[i], tf->col[i] - 1, '[');
				mvaddch(tf->row[i], tf->col[i] + tf->width[i],
				    ']');
			} else {
				mvaddch(tf->row[i], tf->col[i] - 1, '[');
				mvaddch(tf->row[i] + h - 1,
				    tf->col[i] + tf->width[i], ']');
			}
		}
		end = tf->col[i] + tf->width[i] + 2;
		if (tf->note[i][0] != '\0' && end < COLS)
			tui_put(tf->row[i], end, COLS - end, tf->note[i],
			    tf->note_err[i] ? tui_attr(t, TC_ERROR) :
			    tui_attr(t, TC_MARK));
	}
}

void
tform_cursor(struct tform *tf)
{
	pos_form_cursor(tf->form);
	wnoutrefresh(tf->sub);
}

int
tform_current(const struct tform *tf)
{
	FIELD *f = current_field(tf->form);
	int i;

	for (i = 0; i < tf->n; i++)
		if (tf->fields[i] == f)
			return i;
	return 0;
}

void
tform_focus(struct tform *tf, int i)
{
	if (i >= 0 && i < tf->n)
		set_current_field(tf->form, tf->fields[i]);
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
	enum tf_kind k = tf->spec[tform_current(tf)].kind;

	return k == TF_TEXT || k == TF_SECRET || k == TF_AREA;
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
	show_choice(tf, i);
}

char *
tform_get(struct tform *tf, int i)
{
	/* The buffer is synced only after validation. */
	if (tform_current(tf) == i)
		form_driver(tf->form, REQ_VALIDATION);
	if (tf->spec[i].kind == TF_CHOICE)
		return strdup(tf->spec[i].choices[tf->choice[i]]);
	return buffer_utf8(tf->fields[i]);
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
	if (set_field_buffer(tf->fields[i], 0, s) != E_OK)
		return -1;
	if (tf->val[i] != NULL)
		explicit_bzero(tf->val[i], strlen(tf->val[i]));
	free(tf->val[i]);
	tf->val[i] = strdup(s);
	return 0;
}

/* Moves the focus; reports the field left. */
static int
goto_field(struct tform *tf, int req)
{
	tf->left = tform_current(tf);
	if (form_driver(tf->form, req) != E_OK)
		return SCR_HANDLED;
	form_driver(tf->form, REQ_END_LINE);
	return SCR_HANDLED | (tf->left != tform_current(tf) ? TF_LEFT : 0);
}

static int edit_key(struct tform *, int, wint_t);

int
tform_key(struct tform *tf, int is_key, wint_t ch)
{
	int r = edit_key(tf, is_key, ch);

	if (r & TF_CHANGED)
		remember(tf);
	return r;
}

static int
edit_key(struct tform *tf, int is_key, wint_t ch)
{
	const struct tf_spec *s = &tf->spec[tform_current(tf)];
	int edit = s->kind == TF_TEXT || s->kind == TF_SECRET ||
	    s->kind == TF_AREA;

	if (!is_key) {
		switch (ch) {
		case '\t':
			return goto_field(tf, REQ_NEXT_FIELD);
		case '\r':
		case '\n':
			if (s->kind == TF_BUTTON)
				return SCR_HANDLED | TF_ACTIVATE;
			if (s->kind == TF_AREA) {
				form_driver(tf->form, REQ_NEW_LINE);
				return SCR_HANDLED | TF_CHANGED;
			}
			return goto_field(tf, REQ_NEXT_FIELD);
		case ' ':
			if (s->kind == TF_CHOICE) {
				tform_set_choice(tf, tform_current(tf),
				    tf->choice[tform_current(tf)] + 1);
				return SCR_HANDLED | TF_CHANGED;
			}
			if (s->kind == TF_BUTTON)
				return SCR_HANDLED | TF_ACTIVATE;
			break;
		case 127:
		case 8:
			if (!edit)
				return SCR_HANDLED;
			form_driver(tf->form, REQ_DEL_PREV);
			return SCR_HANDLED | TF_CHANGED;
		case 1:		/* Ctrl-A */
			form_driver(tf->form, REQ_BEG_LINE);
			return SCR_HANDLED;
		}
		/* Other control characters belong to the screen. */
		if (ch < 0x20 || ch == 0x7f || !edit)
			return 0;
		if (form_driver_w(tf->form, OK, (wchar_t)ch) != E_OK)
			return SCR_HANDLED;
		return SCR_HANDLED | TF_CHANGED;
	}
	switch (ch) {
	case KEY_BTAB:
		return goto_field(tf, REQ_PREV_FIELD);
	case KEY_DOWN:
		if (s->kind == TF_AREA && form_driver(tf->form,
		    REQ_NEXT_LINE) == E_OK)
			return SCR_HANDLED;
		return goto_field(tf, REQ_NEXT_FIELD);
	case KEY_UP:
		if (s->kind == TF_AREA && form_driver(tf->form,
		    REQ_PREV_LINE) == E_OK)
			return SCR_HANDLED;
		return goto_field(tf, REQ_PREV_FIELD);
	case KEY_LEFT:
	case KEY_RIGHT:
		if (s->kind == TF_CHOICE) {
			tform_set_choice(tf, tform_current(tf),
			    tf->choice[tform_current(tf)] +
			    (ch == KEY_LEFT ? -1 : 1));
			return SCR_HANDLED | TF_CHANGED;
		}
		form_driver(tf->form, ch == KEY_LEFT ? REQ_PREV_CHAR :
		    REQ_NEXT_CHAR);
		return SCR_HANDLED;
	case KEY_HOME:
		form_driver(tf->form, REQ_BEG_LINE);
		return SCR_HANDLED;
	case KEY_END:
		form_driver(tf->form, REQ_END_LINE);
		return SCR_HANDLED;
	case KEY_BACKSPACE:
		if (!edit)
			return SCR_HANDLED;
		form_driver(tf->form, REQ_DEL_PREV);
		return SCR_HANDLED | TF_CHANGED;
	case KEY_DC:
		if (!edit)
			return SCR_HANDLED;
		form_driver(tf->form, REQ_DEL_CHAR);
		return SCR_HANDLED | TF_CHANGED;
	case KEY_ENTER:
		return edit_key(tf, 0, '\n');
	}
	return 0;
}
