/*
 * tform.h - labelled fields on libform, shared by the screens
 *
 * One column of "Label  [value            ]" lines.  Text fields scroll
 * horizontally when the value is longer than the field; a text area
 * has several lines; a choice is changed with Space or Left/Right; a
 * button is activated with Enter.  Fields have no colour or underline:
 * brackets show them, so typing a character costs the terminal about
 * one byte.  Values go in and out as UTF-8.
 */
#ifndef DOCMAIL_TUI_FORM_H
#define DOCMAIL_TUI_FORM_H

#include "tui.h"

enum tf_kind {
	TF_TEXT,
	TF_SECRET,	/* typed characters are not shown */
	TF_CHOICE,
	TF_AREA,	/* several lines */
	TF_BUTTON
};

struct tf_spec {
	const char		*label;		/* "Host" */
	enum tf_kind		 kind;
	int			 width;		/* 0: to the right edge */
	int			 height;	/* TF_AREA: lines (at least 2) */
	const char *const	*choices;	/* TF_CHOICE: NULL-terminated */
};

/* tform_key() results, besides the SCR_* flags. */
#define TF_CHANGED	(1 << 8)	/* a value changed */
#define TF_ACTIVATE	(1 << 9)	/* Enter on a button */
#define TF_LEFT		(1 << 10)	/* focus left field tform_left() */

struct tform;

/*
 * Builds the fields of spec[0..n-1] with the first at body row `row`.
 * Returns NULL when out of memory or the terminal is too small.
 */
struct tform	*tform_new(const struct tf_spec *, int n, int row);
void		 tform_free(struct tform *);

/* Rebuilds the form for a new terminal size, keeping values and focus. */
int		 tform_resize(struct tform *);

/* Paints labels, brackets, values and per-field notes. */
void		 tform_draw(struct tui *, struct tform *);
/* Puts the terminal cursor in the current field. */
void		 tform_cursor(struct tform *);

/*
 * Navigation and editing.  Returns SCR_HANDLED, plus TF_CHANGED when a
 * value changed, TF_ACTIVATE for Enter on a button, TF_LEFT when the
 * focus moved away from a field (tform_left() says which).  0 when the
 * key is not the form's (F-keys, Esc, Ctrl keys the screen uses).
 */
int		 tform_key(struct tform *, int is_key, wint_t ch);

/* The value of field i, UTF-8, trailing blanks cut; malloc'd. */
char		*tform_get(struct tform *, int i);
/* Sets field i (a choice: the matching choice, else the first). */
int		 tform_set(struct tform *, int i, const char *utf8);

int		 tform_current(const struct tform *);
void		 tform_focus(struct tform *, int i);
/* The field the focus left with the last TF_LEFT. */
int		 tform_left(const struct tform *);

/*
 * Where field i is on the screen: its first row, first column and width
 * (for a widget a screen draws beside the form, lined up with it).
 */
void		 tform_where(const struct tform *, int i, int *row, int *col,
		    int *width);

/* A note beside field i (an error when is_error); NULL clears it. */
void		 tform_note(struct tform *, int i, const char *, int is_error);

/* The choice index of a TF_CHOICE field. */
int		 tform_choice(const struct tform *, int i);
void		 tform_set_choice(struct tform *, int i, int choice);

/* Is the current field one where '?' is text? */
int		 tform_typing(const struct tform *);

#endif /* DOCMAIL_TUI_FORM_H */
