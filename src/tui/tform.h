/*
 * tform.h - labelled fields, shared by the screens
 *
 * One column of "Label  [value            ]" lines.  Text fields are
 * edited by tline.c: the cursor never passes the end of the value, a
 * long value scrolls by half a field and its hidden part is marked by
 * '<' or '>' in place of the bracket; a choice is changed with Space or
 * Left/Right; a button is activated with Enter.  The focused field's
 * label and the focused button are drawn in reverse video.  The values
 * themselves have no colour or underline, only brackets, so typing a
 * character costs the terminal about one byte.  Values go in and out
 * as UTF-8.
 */
#ifndef DOCMAIL_TUI_FORM_H
#define DOCMAIL_TUI_FORM_H

#include "tui.h"

enum tf_kind {
	TF_TEXT,
	TF_ADDRS,	/* text; unfocused, a long list is cut between addresses */
	TF_SECRET,	/* one '*' a typed character */
	TF_CHOICE,
	TF_BUTTON
};

struct tf_spec {
	const char		*label;		/* N_("Host"): shown as _(label) */
	enum tf_kind		 kind;
	int			 width;		/* 0: to the right edge */
	int			 height;	/* unused: always one line */
	const char *const	*choices;	/* TF_CHOICE: NULL-ended, shown _() */
};

/* tform_key() results, besides the SCR_* flags. */
#define TF_CHANGED	(1 << 8)	/* a value changed */
#define TF_ACTIVATE	(1 << 9)	/* Enter on a button */
#define TF_LEFT		(1 << 10)	/* focus left field tform_left() */

struct tform;

/*
 * Builds the fields of spec[0..n-1] with the first at body row `row`.
 * Returns NULL when out of memory.
 */
struct tform	*tform_new(const struct tf_spec *, int n, int row);
void		 tform_free(struct tform *);

/* Rebuilds the form for a new terminal size, keeping values and focus. */
int		 tform_resize(struct tform *);

/*
 * Paints labels, brackets, values and per-field notes.  From then on
 * the form repaints a field itself when a key or tform_set() changes it.
 */
void		 tform_draw(struct tui *, struct tform *);
/* Puts the terminal cursor in the current field. */
void		 tform_cursor(struct tform *);
/*
 * Whether the form holds the screen's focus (it does from the start):
 * a screen with other widgets says when the focus is elsewhere, so
 * that no field is highlighted then.
 */
void		 tform_active(struct tform *, int);

/*
 * Navigation and editing.  Returns SCR_HANDLED, plus TF_CHANGED when a
 * value changed, TF_ACTIVATE for Enter on a button, TF_LEFT when the
 * focus moved away from a field (tform_left() says which).  0 when the
 * key is not the form's (F-keys, Esc, Ctrl keys the screen uses).
 * In a text field: Ctrl-A/E start/end, Ctrl-K deletes to the end,
 * Ctrl-W the word before the cursor, Ctrl-U the whole value.
 */
int		 tform_key(struct tform *, int is_key, wint_t ch);

/*
 * The value of field i, UTF-8, trailing blanks cut; malloc'd, NULL on
 * no memory.
 */
char		*tform_get(struct tform *, int i);
/*
 * Sets field i (a choice: the matching choice, else the first); the
 * cursor goes to the end of the value.  -1 when out of memory.
 */
int		 tform_set(struct tform *, int i, const char *utf8);
/*
 * Offers text field i's value as a suggestion: typing replaces it
 * whole, a deleting key clears it, a move keeps it (tline's picked).
 */
void		 tform_pick(struct tform *, int i);
/* Whether field i's value is still offered so (nothing typed or moved). */
int		 tform_picked(const struct tform *, int i);

int		 tform_current(const struct tform *);
/* Moves the focus to field i, with the cursor at the end of its value. */
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
