/*
 * tui.h - docmail's screens: a stack of them over ncurses and libform
 *
 * Each screen is one file exporting one const struct dm_screen.  The
 * loop in tui.c owns the terminal: the title line at the top, the body,
 * the status line and the key bar at the bottom; it reads keys, wakes
 * up for background work (a Test connection, a send) through a pipe,
 * handles resizing and "terminal too small", and always restores the
 * terminal.  Screens contain no SMTP or MIME logic: they call the core.
 */
#ifndef DOCMAIL_TUI_H
#define DOCMAIL_TUI_H

#include <sys/types.h>

#include <curses.h>
#include <form.h>
#include <stdarg.h>
#include <time.h>
#include <wchar.h>

#include <docmail/err.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

/* 80x24 is the smallest size everything fits in. */
#define TUI_MIN_COLS	80
#define TUI_MIN_ROWS	24

/* What a screen's key handler tells the loop. */
enum scr_flags {
	SCR_HANDLED	= 1 << 0,	/* the key was used */
	SCR_REDRAW	= 1 << 1,	/* repaint the whole screen */
	SCR_CLOSE	= 1 << 2,	/* pop this screen */
	SCR_QUIT	= 1 << 3	/* leave the TUI */
};

/* Colour pairs; all A_NORMAL with NO_COLOR or on a terminal without. */
enum tui_color {
	TC_TITLE = 1,
	TC_KEYBAR,
	TC_ERROR,
	TC_OK,
	TC_LABEL,
	TC_MARK
};

struct tui;

struct dm_screen {
	const char	*name;		/* in the title line */
	const char	*help;		/* F1 / ?: lines separated by \n */
	/* Sets *state; returns -1 (with tui_error) to refuse to open. */
	int		(*enter)(struct tui *, void *arg, void **state);
	/* A key: ch is a character (is_key 0) or a KEY_* code (is_key 1). */
	int		(*key)(struct tui *, void *state, int is_key, wint_t ch);
	/* Paints the body (rows 1 .. LINES-3). */
	void		(*draw)(struct tui *, void *state);
	/* The terminal changed size; draw follows. May be NULL. */
	void		(*resize)(struct tui *, void *state);
	/* Background work reported something (tui_wake). May be NULL. */
	int		(*tick)(struct tui *, void *state);
	/* Frees state. */
	void		(*leave)(struct tui *, void *state);
	/* The key bar for the current state. */
	const char	*(*keybar)(struct tui *, void *state);
	/* Where the cursor goes after painting; may be NULL (hidden). */
	void		(*cursor)(struct tui *, void *state);
};

struct tui_opts {
	const char	*config_path;	/* the file to read and save */
	const char	*profile;	/* --profile, or NULL */
	char *const	*files;		/* documents given on the command line */
	int		 nfiles;
	int		 settings;	/* "docmail settings" */
};

/* Entered from main: runs the screens; returns the exit code. */
int	tui_main(const struct tui_opts *, struct dm_err *);

/* For screens. */
#define TUI_HELD_MAX	512

struct tui {
	const struct tui_opts	*opts;
	char			*config_path;
	struct dm_config	 cfg;		/* loaded, or empty on first run */
	int			 have_cfg;
	int			 color;		/* colours in use */
	int			 wake[2];	/* self-pipe for background work */
	int			 exit_code;
	char			 status[DM_ERR_MSG_MAX + DM_ERR_HINT_MAX + 8];
	int			 status_error;
	int			 too_small;
	/* The config file as last read (tui_reload_if_changed()). */
	ino_t			 cfg_ino;
	off_t			 cfg_size;
	struct timespec		 cfg_mtime;
	/* Keys typed while the terminal was too small, replayed after. */
	struct {
		wint_t	 ch;
		int	 is_key;
	}			 held[TUI_HELD_MAX];
	int			 nheld;
	struct tui_frame	*top;
	/*
	 * A password typed in this session and the profile it is for, so
	 * the send dialog and the outbox ask only once; forgotten after a
	 * failed login, wiped on exit.
	 */
	struct dm_secret	 pw;
	char			*pw_for;
};

/* Pushes a screen; its enter() runs now.  Returns -1 if it refused. */
int	tui_push(struct tui *, const struct dm_screen *, void *arg);

/* The status line: a message, or an error with its hint. */
void	tui_status(struct tui *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	tui_error(struct tui *, const struct dm_err *);
void	tui_status_clear(struct tui *);
/*
 * Paints the status line now, before work that takes a moment in the
 * loop's thread (checking a few hundred documents), so that the screen
 * says what it is doing instead of looking stuck.
 */
void	tui_status_flush(struct tui *);

/*
 * Asks a question in the status line and waits for one of the keys in
 * choices (e.g. "yn", "sdc"); Esc gives 0.  The screen stays as it is.
 * When choices hold y and n, the user's language answers too
 * (dm_answer_yes() and dm_answer_no(): "j" gives 'y' in German).
 */
int	tui_ask(struct tui *, const char *question, const char *choices);

/*
 * A character typed at a y/n question as 'y' or 'n' when it is a yes or
 * no in the user's language too (dm_answer_yes/no: 'j' in German), else
 * as it came.
 */
wint_t	tui_yn(wint_t ch);

/* Called from any thread: makes the loop call the top screen's tick(). */
void	tui_wake(struct tui *);
/* tui_wake() for a struct job (job.h), whose wake-up takes a void *. */
void	tui_waker(void *tui);

/* Attribute for a colour pair, or a plain fallback without colours. */
attr_t	tui_attr(const struct tui *, enum tui_color);

/* Paints s at row, col, cut to width columns (wide characters counted). */
void	tui_put(int row, int col, int width, const char *s, attr_t);

/*
 * Paints s over at most rows lines of width columns, breaking at
 * spaces; returns the lines used.
 */
int	tui_put_wrap(int row, int col, int width, int rows, const char *s,
	    attr_t);

/*
 * While an SMTP session runs: the step it is most likely in, from the
 * steps done so far (1 << step) and the security mode (with ssl, TLS
 * comes before the greeting); the token step only with oauth.
 */
enum dm_smtp_step tui_next_step(unsigned done, enum dm_security, int oauth);

/*
 * "greeting ... 4 s (timeout 30 s)" into buf (label, then the seconds
 * since t0, CLOCK_MONOTONIC) when that is 2 seconds or more, else just
 * the label.
 */
void	tui_step_wait(char *buf, size_t size, const char *label,
	    const struct timespec *t0, int timeout);

/*
 * Reloads the config when its file changed since it was read (edited
 * by hand, or saved by another docmail): only where no screen holds a
 * profile or template of the old one.  Errors go to the status line and
 * keep the old config.
 */
int	tui_reload_if_changed(struct tui *);

/* Reloads the config after a save; errors go to the status line. */
int	tui_reload(struct tui *);

/* The profile in use: --profile, else default, else the only one. */
const struct dm_profile *tui_profile(struct tui *);

#endif /* DOCMAIL_TUI_H */
