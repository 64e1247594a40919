/*
 * tui.c - terminal set-up, the screen stack, the loop, status and keys
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>

#include "tui.h"

struct tui_frame {
	const struct dm_screen	*scr;
	void			*state;
	struct tui_frame	*below;
};

static volatile sig_atomic_t curses_on;

/* Whatever happens, the user gets the terminal back as it was. */
static void
restore_terminal(void)
{
	if (curses_on) {
		curses_on = 0;
		endwin();
	}
}

static void
on_fatal(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT,
	    SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGILL };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		(void)sigaction(sigs[i], &sa, NULL);
	atexit(restore_terminal);
}

attr_t
tui_attr(const struct tui *t, enum tui_color c)
{
	if (t->color)
		return COLOR_PAIR(c) | (c == TC_TITLE || c == TC_KEYBAR ?
		    A_NORMAL : c == TC_ERROR ? A_BOLD : A_NORMAL);
	/* Without colours: reverse bars, bold errors and marks. */
	switch (c) {
	case TC_TITLE:
	case TC_KEYBAR:
		return A_REVERSE;
	case TC_ERROR:
	case TC_MARK:
		return A_BOLD;
	default:
		return A_NORMAL;
	}
}

static void
start_colors(struct tui *t)
{
	const char *nc = getenv("NO_COLOR");

	t->color = 0;
	if ((nc != NULL && nc[0] != '\0') || !has_colors())
		return;
	if (start_color() == ERR)
		return;
	(void)use_default_colors();
	init_pair(TC_TITLE, COLOR_WHITE, COLOR_BLUE);
	init_pair(TC_KEYBAR, COLOR_BLACK, COLOR_CYAN);
	init_pair(TC_ERROR, COLOR_RED, -1);
	init_pair(TC_OK, COLOR_GREEN, -1);
	init_pair(TC_LABEL, -1, -1);
	init_pair(TC_MARK, COLOR_YELLOW, -1);
	t->color = 1;
}

int
tui_width(const char *s)
{
	wchar_t w[512];
	mbstate_t st;
	const char *p = s;
	size_t n;
	int width;

	memset(&st, 0, sizeof st);
	n = mbsrtowcs(w, &p, sizeof w / sizeof w[0] - 1, &st);
	if (n == (size_t)-1)
		return (int)strlen(s);
	w[n] = L'\0';
	width = wcswidth(w, n);
	return width < 0 ? (int)n : width;
}

void
tui_put(int row, int col, int width, const char *s, attr_t attr)
{
	wchar_t wbuf[512];
	mbstate_t st;
	const char *p = s;
	size_t n;
	int w = 0, cw, i;

	if (width <= 0)
		return;
	memset(&st, 0, sizeof st);
	n = mbsrtowcs(wbuf, &p, sizeof wbuf / sizeof wbuf[0] - 1, &st);
	if (n == (size_t)-1)
		n = 0;
	wbuf[n] = L'\0';
	/* Cut at the last whole character that fits. */
	for (i = 0; wbuf[i] != L'\0'; i++) {
		cw = wcwidth(wbuf[i]);
		if (cw < 0) {
			wbuf[i] = L'?';
			cw = 1;
		}
		if (w + cw > width)
			break;
		w += cw;
	}
	wbuf[i] = L'\0';
	attron(attr);
	mvaddwstr(row, col, wbuf);
	for (; w < width; w++)
		addch(' ');
	attroff(attr);
}

int
tui_put_wrap(int row, int col, int width, int rows, const char *s,
    attr_t attr)
{
	char line[512];
	const char *p = s, *cut, *sp;
	int used = 0, n;

	while (*p != '\0' && used < rows) {
		/* Bytes that fit (counting a UTF-8 sequence as one column). */
		for (cut = p, n = 0; *cut != '\0' && n < width; n++)
			do
				cut++;
			while ((*cut & 0xc0) == 0x80);
		if (*cut != '\0' && used + 1 < rows) {
			for (sp = cut; sp > p && *sp != ' '; sp--)
				;
			if (sp > p)
				cut = sp;
		}
		(void)snprintf(line, sizeof line, "%.*s", (int)(cut - p), p);
		tui_put(row + used++, col, width, line, attr);
		p = cut;
		while (*p == ' ')
			p++;
	}
	return used;
}

void
tui_status(struct tui *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(t->status, sizeof t->status, fmt, ap);
	va_end(ap);
	t->status_error = 0;
}

void
tui_error(struct tui *t, const struct dm_err *err)
{
	(void)snprintf(t->status, sizeof t->status, "%s%s%s", err->msg,
	    err->hint[0] != '\0' ? " -- " : "", err->hint);
	t->status_error = 1;
}

void
tui_status_clear(struct tui *t)
{
	t->status[0] = '\0';
	t->status_error = 0;
}

static void
draw_frame(struct tui *t)
{
	const struct tui_frame *f = t->top;
	char title[256];
	const char *kb;

	(void)snprintf(title, sizeof title, " docmail %s -- %s", PACKAGE_VERSION,
	    f != NULL ? f->scr->name : "");
	tui_put(0, 0, COLS, title, tui_attr(t, TC_TITLE));
	tui_put(LINES - 2, 0, COLS, t->status,
	    t->status_error ? tui_attr(t, TC_ERROR) : A_NORMAL);
	kb = f != NULL && f->scr->keybar != NULL ?
	    f->scr->keybar(t, f->state) : "";
	tui_put(LINES - 1, 0, COLS, kb, tui_attr(t, TC_KEYBAR));
}

static void
draw_too_small(void)
{
	char msg[128];

	erase();
	(void)snprintf(msg, sizeof msg,
	    "terminal too small: docmail needs %dx%d, this one is %dx%d",
	    TUI_MIN_COLS, TUI_MIN_ROWS, COLS, LINES);
	mvaddnstr(0, 0, msg, COLS);
	if (LINES > 1)
		mvaddnstr(1, 0, "make the window larger (your input is kept)",
		    COLS);
	wnoutrefresh(stdscr);
}

static void
paint(struct tui *t, int full)
{
	struct tui_frame *f = t->top;

	t->too_small = LINES < TUI_MIN_ROWS || COLS < TUI_MIN_COLS;
	if (t->too_small) {
		curs_set(0);
		draw_too_small();
		doupdate();
		return;
	}
	if (full) {
		erase();
		if (f != NULL && f->scr->draw != NULL)
			f->scr->draw(t, f->state);
	}
	draw_frame(t);
	wnoutrefresh(stdscr);
	if (f != NULL && f->scr->cursor != NULL) {
		curs_set(1);
		f->scr->cursor(t, f->state);
	} else
		curs_set(0);
	doupdate();
}

int
tui_push(struct tui *t, const struct dm_screen *scr, void *arg)
{
	struct tui_frame *f;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return -1;
	f->scr = scr;
	if (scr->enter != NULL && scr->enter(t, arg, &f->state) == -1) {
		free(f);
		return -1;
	}
	f->below = t->top;
	t->top = f;
	return 0;
}

static void
pop(struct tui *t)
{
	struct tui_frame *f = t->top;

	if (f == NULL)
		return;
	t->top = f->below;
	if (f->scr->leave != NULL)
		f->scr->leave(t, f->state);
	free(f);
}

void
tui_wake(struct tui *t)
{
	char c = 1;

	/* A full pipe already means "wake up". */
	(void)write(t->wake[1], &c, 1);
}

/* One key, waiting for it; -1 on error.  *is_key as for dm_screen.key. */
static int
read_key(int *is_key, wint_t *ch)
{
	int r = get_wch(ch);

	if (r == ERR)
		return -1;
	*is_key = r == KEY_CODE_YES;
	return 0;
}

int
tui_ask(struct tui *t, const char *question, const char *choices)
{
	char saved[sizeof t->status];
	int saved_err = t->status_error, is_key, answer = 0;
	int nd = is_nodelay(stdscr);
	wint_t ch;

	memcpy(saved, t->status, sizeof saved);
	tui_status(t, "%s", question);
	nodelay(stdscr, FALSE);
	for (;;) {
		paint(t, 0);
		if (read_key(&is_key, &ch) == -1)
			break;
		if (!is_key && ch == 27)
			break;
		if (is_key && ch == KEY_RESIZE) {
			paint(t, 1);
			continue;
		}
		if (!is_key && ch < 128 && strchr(choices, (int)ch) != NULL) {
			answer = (int)ch;
			break;
		}
		if (!is_key && ch < 128 && strchr(choices,
		    (int)(ch | 0x20)) != NULL) {
			answer = (int)(ch | 0x20);
			break;
		}
	}
	memcpy(t->status, saved, sizeof saved);
	t->status_error = saved_err;
	/*
	 * Called from the loop's key reading: blocking there would hold up
	 * background work (a send's result) until the next key.
	 */
	nodelay(stdscr, nd);
	return answer;
}

/* --- help: a screen of its own ------------------------------------- */

static int
help_enter(struct tui *t, void *arg, void **state)
{
	(void)t;
	*state = arg;
	return 0;
}

static int
help_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	(void)t;
	(void)state;
	(void)is_key;
	(void)ch;
	return SCR_HANDLED | SCR_CLOSE;
}

static void
help_draw(struct tui *t, void *state)
{
	const char *p = state, *nl;
	char line[256];
	int row = 2;

	(void)t;
	while (p != NULL && *p != '\0' && row < LINES - 3) {
		nl = strchr(p, '\n');
		(void)snprintf(line, sizeof line, "%.*s",
		    (int)(nl != NULL ? (size_t)(nl - p) : strlen(p)), p);
		tui_put(row++, 2, COLS - 4, line, A_NORMAL);
		p = nl != NULL ? nl + 1 : NULL;
	}
}

static const char *
help_keybar(struct tui *t, void *state)
{
	(void)t;
	(void)state;
	return " any key: back";
}

static const struct dm_screen help_screen = {
	"Help", NULL, help_enter, help_key, help_draw, NULL, NULL, NULL,
	help_keybar, NULL
};

static const char global_help[] =
    "Keys that work everywhere:\n"
    "  Tab / Shift-Tab, Up / Down   move between fields\n"
    "  Left / Right / Home / End     move inside a field\n"
    "  Backspace / Delete           delete\n"
    "  Ctrl-A/E, Ctrl-K/W/U         start/end; delete to end/word/all\n"
    "  F1 or ?                      this help (? outside text fields)\n"
    "  Esc                          back\n"
    "Every F-key has a Ctrl alternative, shown in the key bar.\n\n";

static void
show_help(struct tui *t)
{
	static char text[4096];
	const struct dm_screen *s = t->top->scr;

	(void)snprintf(text, sizeof text, "%s%s", s->help != NULL ? s->help :
	    "", global_help);
	(void)tui_push(t, &help_screen, text);
}

/* --- config ------------------------------------------------------------ */

int
tui_reload(struct tui *t)
{
	struct dm_config cfg;
	struct dm_err err;

	dm_config_init(&cfg);
	if (dm_config_load(&cfg, t->config_path, &err) == -1) {
		dm_config_release(&cfg);
		tui_error(t, &err);
		return -1;
	}
	dm_config_release(&t->cfg);
	t->cfg = cfg;
	t->have_cfg = 1;
	return 0;
}

const struct dm_profile *
tui_profile(struct tui *t)
{
	struct dm_err err;

	if (!t->have_cfg)
		return NULL;
	return dm_config_profile(&t->cfg, t->opts->profile, &err);
}

/* --- the loop --------------------------------------------------------- */

static int
dispatch(struct tui *t, int is_key, wint_t ch)
{
	struct tui_frame *f = t->top;
	int r = 0;

	if (is_key && ch == KEY_RESIZE) {
		if (f->scr->resize != NULL && !(LINES < TUI_MIN_ROWS ||
		    COLS < TUI_MIN_COLS))
			f->scr->resize(t, f->state);
		return SCR_REDRAW;
	}
	if (t->too_small)
		return (!is_key && ch == 3) ? SCR_QUIT : 0;	/* Ctrl-C */
	if (is_key && ch == KEY_F(1)) {
		show_help(t);
		return SCR_REDRAW;
	}
	if (f->scr->key != NULL)
		r = f->scr->key(t, f->state, is_key, ch);
	if (!(r & SCR_HANDLED) && !is_key && ch == '?') {
		show_help(t);
		return SCR_REDRAW;
	}
	return r;
}

#include "screens.h"

/* Runs the screens until none is left; 1 when one asked to quit. */
static int
run_loop(struct tui *t)
{
	struct pollfd pfd[2];
	struct tui_frame *f;
	char drain[64];
	wint_t ch;
	int r, is_key, full = 1;

	while (t->top != NULL) {
		paint(t, full);
		full = 0;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = t->wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			return 1;
		if (pfd[1].revents & POLLIN) {
			while (read(t->wake[0], drain, sizeof drain) > 0)
				;
			f = t->top;
			if (f->scr->tick != NULL) {
				r = f->scr->tick(t, f->state);
				full |= (r & SCR_REDRAW) != 0;
				if (r & SCR_QUIT)
					return 1;
				if (r & SCR_CLOSE) {
					pop(t);
					full = 1;
				}
			}
		}
		/* Everything ncurses has read, also keys it buffered. */
		nodelay(stdscr, TRUE);
		while (t->top != NULL && read_key(&is_key, &ch) == 0) {
			r = dispatch(t, is_key, ch);
			if (r & SCR_QUIT) {
				while (t->top != NULL)
					pop(t);
				nodelay(stdscr, FALSE);
				return 1;
			}
			if (r & SCR_CLOSE) {
				pop(t);
				r |= SCR_REDRAW;
			}
			full |= (r & SCR_REDRAW) != 0;
			if (t->top != NULL && !full)
				paint(t, 0);
		}
		nodelay(stdscr, FALSE);
	}
	return 0;
}

/* The screen plain "docmail" starts with when there is a profile. */
static int
push_start(struct tui *t)
{
	struct scr_send_arg sa = { t->opts->files, t->opts->nfiles };

	if (t->opts->nfiles > 0)
		return tui_push(t, &scr_send, &sa);
	return tui_push(t, &scr_list, NULL);
}

int
tui_main(const struct tui_opts *opts, struct dm_err *err)
{
	struct tui t;
	int r = -1, first_run;

	memset(&t, 0, sizeof t);
	t.opts = opts;
	t.wake[0] = t.wake[1] = -1;
	dm_config_init(&t.cfg);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		dm_err_set(err, DM_EUSAGE, "the interactive screens need a terminal");
		return dm_err_hint(err, "run docmail in a terminal, or use 'docmail send', 'test' and 'outbox' from scripts");
	}
	if ((t.config_path = dm_config_default_path(opts->config_path,
	    err)) == NULL)
		return -1;
	if (access(t.config_path, F_OK) == 0) {
		if (dm_config_load(&t.cfg, t.config_path, err) == -1)
			goto out;
		t.have_cfg = 1;
		if (opts->profile != NULL &&
		    dm_config_profile(&t.cfg, opts->profile, err) == NULL)
			goto out;
	}
	if (pipe2(t.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		dm_err_set(err, DM_EINTERNAL, "pipe: %s", strerror(errno));
		goto out;
	}
	catch_signals();
	if (initscr() == NULL) {
		dm_err_set(err, DM_EUSAGE, "cannot use this terminal (TERM=%s)",
		    getenv("TERM") ? getenv("TERM") : "");
		goto out;
	}
	curses_on = 1;
	/* raw: Ctrl-S, Ctrl-Q and Ctrl-C reach docmail as keys. */
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	start_colors(&t);

	/* First run, or "docmail settings": the settings screen. */
	first_run = !opts->settings && !t.have_cfg;
	if (opts->settings || !t.have_cfg) {
		if (tui_push(&t, &scr_settings, NULL) == -1)
			goto stop;
	} else if (push_start(&t) == -1)
		goto stop;
	/*
	 * A first run whose settings were saved goes on where "docmail"
	 * starts, so that a newcomer never has to start it again.
	 */
	if (run_loop(&t) == 0 && first_run && t.have_cfg &&
	    push_start(&t) == 0)
		(void)run_loop(&t);
	r = 0;
stop:
	while (t.top != NULL)
		pop(&t);
	restore_terminal();
	if (r == -1)
		dm_err_set(err, DM_EINTERNAL, "the screen could not be opened");
	else if (t.exit_code != 0)
		dm_err_set(err, DM_EUSAGE, "%s", t.status);
out:
	if (t.wake[0] != -1) {
		close(t.wake[0]);
		close(t.wake[1]);
	}
	free(t.config_path);
	dm_config_release(&t.cfg);
	dm_secret_release(&t.pw);
	free(t.pw_for);
	return r;
}
