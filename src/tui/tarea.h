/*
 * tarea.h - a multi-line text area that keeps its text as typed
 *
 * libform's multi-line fields lose text after a row that holds a
 * double-width character (CJK), and hand back rows of the field's
 * width instead of lines.  This area keeps the lines as they are,
 * shows them wrapped at words, scrolls vertically, and repaints only
 * its own rows.
 */
#ifndef DOCMAIL_TUI_TAREA_H
#define DOCMAIL_TUI_TAREA_H

#include "tui.h"

/* tarea_key() results, besides SCR_HANDLED. */
#define TA_CHANGED	(1 << 8)	/* the text changed */
#define TA_UP		(1 << 10)	/* Up/Shift-Tab on the first row */
#define TA_DOWN		(1 << 11)	/* Down/Tab on the last row */

struct tarea;

/* An empty area at screen row, col, width x height.  NULL: no memory. */
struct tarea	*tarea_new(int row, int col, int width, int height);
void		 tarea_free(struct tarea *);
/* Moves it (after a resize); the text and the cursor stay. */
void		 tarea_place(struct tarea *, int row, int col, int width,
		    int height);

/* Replaces the text (UTF-8, lines separated by \n); -1: no memory. */
int		 tarea_set(struct tarea *, const char *);
/* The text, UTF-8, lines joined by \n; malloc'd, NULL: no memory. */
char		*tarea_get(const struct tarea *);

/* Paints the visible rows. */
void		 tarea_draw(struct tarea *);
/* Puts the terminal cursor where typing goes. */
void		 tarea_cursor(struct tarea *);
/* Editing and moving; 0 when the key is not the area's. */
int		 tarea_key(struct tarea *, int is_key, wint_t ch);

#endif /* DOCMAIL_TUI_TAREA_H */
