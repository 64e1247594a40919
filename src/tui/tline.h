/*
 * tline.h - the editing core of a one-line field, without curses
 *
 * libform's fields let the cursor pass the end of the text, scrolled
 * one column a key and hid scrolled-out text without a mark, so that a
 * field showed one value and held another.  A tline keeps the text as
 * wide characters, never lets the cursor past its end, and says which
 * part of it a field of `width` columns shows; tform.c paints that
 * part, with '<' and '>' where text is hidden.  It scrolls by half a
 * field, so typing on at the edge repaints the field once every
 * width / 2 characters instead of at every key.
 *
 * Wide characters (CJK) take two columns, combining marks none: the
 * cursor moves over a character with its marks.  Bytes that are not
 * valid in the locale's encoding are kept as they are (shown as '?'),
 * so a value goes out exactly as it came in unless it was edited.
 */
#ifndef DOCMAIL_TUI_TLINE_H
#define DOCMAIL_TUI_TLINE_H

#include <stddef.h>
#include <wchar.h>

/* The most characters typing adds; a set value may be longer. */
#define TLINE_MAX	1024

enum tline_op {
	TL_LEFT,
	TL_RIGHT,
	TL_HOME,
	TL_END,		/* also: the cursor goes here on entering a field */
	TL_BACKSPACE,
	TL_DELETE,
	TL_KILL_END,	/* Ctrl-K: from the cursor to the end */
	TL_KILL_WORD,	/* Ctrl-W: the word before the cursor */
	TL_CLEAR	/* Ctrl-U: the whole value */
};

struct tline {
	wchar_t		*s;		/* len characters, wiped when freed */
	size_t		 len;
	size_t		 cap;
	size_t		 cur;		/* cursor: characters before it */
	size_t		 off;		/* first character shown */
	int		 width;		/* columns the field shows */
	int		 secret;	/* shown as one '*' a character */
	/*
	 * The value is a suggestion offered whole (docmail filled it in,
	 * the user did not type it): the first character typed replaces
	 * it, a deleting key clears it, a move keeps it and ends the offer.
	 */
	int		 picked;
};

/* What a field shows: characters start .. end - 1, and where the cursor is. */
struct tline_view {
	size_t		 start;
	size_t		 end;
	int		 col;		/* the cursor's column in the field */
	int		 left;		/* text is hidden before start */
	int		 right;		/* text is hidden after end */
};

/* An empty line for a field width columns wide. */
void	tline_init(struct tline *, int width, int secret);
/* Wipes and frees the text. */
void	tline_release(struct tline *);
/* A new width (after a resize); the cursor stays in sight. */
void	tline_resize(struct tline *, int width);

/*
 * Replaces the text with UTF-8 (or the locale's encoding) s; the
 * cursor goes to the end.  -1 when out of memory, the text unchanged.
 */
int	tline_set(struct tline *, const char *s);
/* The text in the locale's encoding; malloc'd, NULL when out of memory. */
char	*tline_get(const struct tline *);

/* Inserts c at the cursor; 1 when the text changed, 0 when refused. */
int	tline_insert(struct tline *, wchar_t c);
/* Moves or deletes; 1 when the text changed. */
int	tline_edit(struct tline *, enum tline_op);
/* The field lost the focus: it shows the start of the value again. */
void	tline_blur(struct tline *);
/* Entering the field: cursor at the end, a suggestion still offered. */
void	tline_enter(struct tline *);
/* Offers the whole value as a suggestion (see picked); none when empty. */
void	tline_pick(struct tline *);

void	tline_view(const struct tline *, struct tline_view *);
/* The character to paint for character i ('*' or '?' where not itself). */
wchar_t	tline_shown(const struct tline *, size_t i);

#endif /* DOCMAIL_TUI_TLINE_H */
