/*
 * editor.h - the user's editor for an email's text (editor.c)
 */
#ifndef DOCMAIL_TUI_EDITOR_H
#define DOCMAIL_TUI_EDITOR_H

#include <stddef.h>

#include <docmail/err.h>

/*
 * Runs $VISUAL, else $EDITOR, else vi, on path through /bin/sh (the
 * variable may hold arguments, as for git), with SIGINT and SIGQUIT
 * ignored meanwhile; the caller has left curses mode.  0 when the
 * editor exited with 0.  Errors: DM_EUSAGE (it failed, or the variable
 * is too long), DM_EIO (cannot start it).
 */
int	tui_editor_run(const char *path, struct dm_err *);

/*
 * The edited file as an email's text, malloc'd into *out: UTF-8 only,
 * CRs dropped, tabs as blanks, other control characters as '?', the
 * trailing newlines gone; at most max bytes.
 * Errors: DM_EIO, DM_EDATA (too large, not UTF-8), DM_ENOMEM.
 */
int	tui_editor_read(const char *path, size_t max, char **out,
	    struct dm_err *);

#endif /* DOCMAIL_TUI_EDITOR_H */
