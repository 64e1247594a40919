/*
 * pathprompt.h - a file path typed in the status line, without curses
 *
 * The send dialog's "Add file" prompt: the path as typed (wide
 * characters, so that Backspace takes a whole one), Tab completion in
 * its directory the way a shell does it (the longest common prefix,
 * the candidates listed, a '/' after a lone directory, dot files only
 * when asked for), '~' as $HOME, and a note under the dialog with the
 * candidates or why there are none.  The screen maps keys to these
 * calls and paints the status line and the note; nothing here draws,
 * so tests/t-pathprompt.c runs it without a terminal.
 */
#ifndef DOCMAIL_TUI_PATHPROMPT_H
#define DOCMAIL_TUI_PATHPROMPT_H

#include <stddef.h>
#include <wchar.h>

#include <docmail/err.h>

/* The most characters a typed path has. */
#define PATHPROMPT_MAX	1024

struct pathprompt {
	wchar_t		 typed[PATHPROMPT_MAX];
	size_t		 ntyped;
	/* Under the dialog: how to use it, the candidates, or an error. */
	char		 note[DM_ERR_MSG_MAX + DM_ERR_HINT_MAX + 8];
	int		 note_err;	/* the note is an error */
};

/* Empty, with the how-to note. */
void	pathprompt_start(struct pathprompt *);

/*
 * Adds a typed character; control characters and what no longer fits
 * are ignored.  1 when it was added.
 */
int	pathprompt_type(struct pathprompt *, wint_t ch);

/* Takes back the last character, if any. */
void	pathprompt_backspace(struct pathprompt *);

/*
 * Tab: completes the last part of the path as far as every name in its
 * directory that starts with it agrees (never cutting a UTF-8 sequence)
 * and puts the candidates, or why there are none, in the note.  A lone
 * match that is a directory gets its '/'.
 */
void	pathprompt_complete(struct pathprompt *);

/*
 * The typed path in the locale's encoding with a leading "~/" as
 * $HOME; malloc'd.  NULL when nothing is typed or on no memory.
 */
char	*pathprompt_path(const struct pathprompt *);

/* Shows err's message and hint as the note, as an error. */
void	pathprompt_fail(struct pathprompt *, const struct dm_err *);

/*
 * What of the typed path fits in room columns: *tail is the start of
 * the part shown, *cut is set when the start is hidden (the screen
 * shows "..." before it, three columns counted in room).  Returns the
 * columns the shown part takes, "..." included: where the cursor goes
 * after the label.
 */
int	pathprompt_view(const struct pathprompt *, int room,
	    const wchar_t **tail, int *cut);

#endif /* DOCMAIL_TUI_PATHPROMPT_H */
