/*
 * tui.c - terminal set-up, the screen stack, the loop, status and keys
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

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

/*
 * s as wide characters, at most max - 1 and a NUL; a byte that does not
 * decode (not UTF-8, or a locale that is not) becomes '?', so that a
 * line is never dropped whole.
 */
static size_t
to_wide(const char *s, wchar_t *out, size_t max)
{
	mbstate_t st;
	size_t n = 0, len = strlen(s), r;

	memset(&st, 0, sizeof st);
	while (len > 0 && n < max - 1) {
		r = mbrtowc(&out[n], s, len, &st);
		if (r == (size_t)-1 || r == (size_t)-2) {
			memset(&st, 0, sizeof st);
			out[n++] = L'?';
			s++;
			len--;
			continue;
		}
		if (r == 0)
			break;
		n++;
		s += r;
		len -= r;
	}
	out[n] = L'\0';
	return n;
}

void
tui_put(int row, int col, int width, const char *s, attr_t attr)
{
	wchar_t wbuf[512];
	int w = 0, cw, i;

	if (width <= 0)
		return;
	(void)to_wide(s, wbuf, sizeof wbuf / sizeof wbuf[0]);
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
	const char *kb, *more;
	int mw;

	(void)snprintf(title, sizeof title, " docmail %s -- %s", PACKAGE_VERSION,
	    f != NULL ? _(f->scr->name) : "");
	tui_put(0, 0, COLS, title, tui_attr(t, TC_TITLE));
	if (dm_text_width(t->status) <= COLS)
		tui_put(LINES - 2, 0, COLS, t->status,
		    t->status_error ? tui_attr(t, TC_ERROR) : A_NORMAL);
	else {
		/*
		 * Never a hint cut off unseen: F1 shows all of it.
		 * TRANSLATORS: ends a status line that is too long for
		 * the screen; keep it short.
		 */
		more = _(" ... F1: all");
		mw = dm_text_width(more) + 1;
		tui_put(LINES - 2, 0, COLS - mw, t->status,
		    t->status_error ? tui_attr(t, TC_ERROR) : A_NORMAL);
		tui_put(LINES - 2, COLS - mw, mw, more,
		    tui_attr(t, TC_KEYBAR));
	}
	kb = f != NULL && f->scr->keybar != NULL ?
	    f->scr->keybar(t, f->state) : "";
	tui_put(LINES - 1, 0, COLS, kb, tui_attr(t, TC_KEYBAR));
}

void
tui_status_flush(struct tui *t)
{
	if (t->too_small)
		return;
	draw_frame(t);
	wnoutrefresh(stdscr);
	doupdate();
}

static void
draw_too_small(void)
{
	char msg[128];

	erase();
	(void)snprintf(msg, sizeof msg,
	    _("terminal too small: docmail needs %dx%d, this one is %dx%d"),
	    TUI_MIN_COLS, TUI_MIN_ROWS, COLS, LINES);
	mvaddnstr(0, 0, msg, COLS);
	if (LINES > 1)
		mvaddnstr(1, 0, _("make the window larger (keys typed now wait for it)"),
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
	if (write(t->wake[1], &c, 1) == -1)
		return;		/* full (EAGAIN): a wake-up is pending */
}

void
tui_waker(void *tui)
{
	tui_wake(tui);
}

/*
 * How long the rest of an escape sequence may take after ncurses gave
 * up on it (ESCDELAY): a loaded machine or a slow link splits a key's
 * bytes.  A person does not type Esc and then '[' this fast.
 */
#define ESC_REST_MS	50
#define ESC_SEQ_MAX	16

/* The next character of an escape sequence, or -1 when none came. */
static int
esc_next(void)
{
	wint_t c;
	int r;

	timeout(ESC_REST_MS);
	r = get_wch(&c);
	if (r == ERR)
		return -1;
	if (r == KEY_CODE_YES || c > 0x7e) {
		/* Not part of a sequence: give it back as it came. */
		if (r == KEY_CODE_YES)
			(void)ungetch((int)c);
		else
			(void)unget_wch((wchar_t)c);
		return -1;
	}
	return (int)c;
}

/* "~" sequences: CSI number ~ (xterm, vt220, rxvt). */
static int
tilde_key(int n)
{
	switch (n) {
	case 1: case 7:		return KEY_HOME;
	case 2:			return KEY_IC;
	case 3:			return KEY_DC;
	case 4: case 8:		return KEY_END;
	case 5:			return KEY_PPAGE;
	case 6:			return KEY_NPAGE;
	case 11: case 12: case 13: case 14: case 15:
		return KEY_F(n - 10);
	case 17: case 18: case 19: case 20: case 21:
		return KEY_F(n - 11);
	case 23: case 24:
		return KEY_F(n - 12);
	}
	return 0;
}

/* The final letter of CSI or SS3 sequences. */
static int
letter_key(int c)
{
	switch (c) {
	case 'A':	return KEY_UP;
	case 'B':	return KEY_DOWN;
	case 'C':	return KEY_RIGHT;
	case 'D':	return KEY_LEFT;
	case 'H':	return KEY_HOME;
	case 'F':	return KEY_END;
	case 'Z':	return KEY_BTAB;
	case 'P': case 'Q': case 'R': case 'S':
		return KEY_F(c - 'P' + 1);
	case 'M':	return KEY_ENTER;	/* keypad Enter (SS3) */
	}
	return 0;
}

/*
 * After an Esc that ncurses did not match: a sequence the terminal
 * description lacks (TERM=vt100 has no End, F5 or Delete; inside tmux
 * they come as xterm's) is decoded when it is a common one and dropped
 * when not; it is never taken for Esc.  Returns the key (*is_key = 1),
 * 27 for a bare Esc, or 0 for a dropped sequence.
 */
static int
escape_seq(int *is_key)
{
	char seq[ESC_SEQ_MAX];
	int c, intro, n = 0, key;

	*is_key = 0;
	if ((intro = esc_next()) == -1)
		return 27;
	if (intro != '[' && intro != 'O') {
		/* Alt+key or Esc typed just before a key: Esc, then it. */
		(void)unget_wch((wchar_t)intro);
		return 27;
	}
	/* Parameters and intermediates, then one final byte. */
	for (;;) {
		if ((c = esc_next()) == -1)
			return 0;	/* cut short: drop what came */
		if (c >= 0x40 && c <= 0x7e && !(n == 0 && c == '[' &&
		    intro == '['))
			break;
		if (n < ESC_SEQ_MAX - 1)
			seq[n++] = (char)c;
	}
	seq[n] = '\0';
	/* The Linux console's F1-F5: CSI [ A .. E. */
	if (n == 1 && seq[0] == '[')
		key = c >= 'A' && c <= 'E' ? KEY_F(c - 'A' + 1) : 0;
	else if (c == '~')
		key = tilde_key(atoi(seq));	/* "3;5~": 3, modifier ignored */
	else
		key = letter_key(c);	/* modifiers (";5") ignored */
	if (key == 0)
		return 0;
	*is_key = 1;
	return key;
}

/* One key, waiting for it; -1 on error.  *is_key as for dm_screen.key. */
static int
read_key(int *is_key, wint_t *ch)
{
	int r, nd, k;

	for (;;) {
		if ((r = get_wch(ch)) == ERR)
			return -1;
		*is_key = r == KEY_CODE_YES;
		if (*is_key || *ch != 27)
			return 0;
		nd = is_nodelay(stdscr);
		k = escape_seq(is_key);
		if (nd)
			nodelay(stdscr, TRUE);
		else
			timeout(-1);
		if (k != 0) {
			*ch = (wint_t)k;
			return 0;
		}
		/* A dropped sequence: read on (in nodelay mode, maybe none). */
	}
}

/*
 * The next key: first those held while the terminal was too small,
 * in the order typed, then the terminal's.
 */
static int
next_key(struct tui *t, int *is_key, wint_t *ch)
{
	if (!t->too_small && t->nheld > 0) {
		*ch = t->held[0].ch;
		*is_key = t->held[0].is_key;
		memmove(&t->held[0], &t->held[1],
		    (size_t)--t->nheld * sizeof t->held[0]);
		return 0;
	}
	return read_key(is_key, ch);
}

wint_t
tui_yn(wint_t ch)
{
	if (dm_answer_yes((int)ch))
		return 'y';
	if (dm_answer_no((int)ch))
		return 'n';
	return ch;
}

int
tui_ask(struct tui *t, const char *question, const char *choices)
{
	char saved[sizeof t->status];
	int saved_err = t->status_error, is_key, answer = 0, yn;
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
		/* A y/n question: also in the user's language. */
		yn = strchr(choices, 'y') != NULL &&
		    strchr(choices, 'n') != NULL;
		if (!is_key && yn && dm_answer_yes((int)ch)) {
			answer = 'y';
			break;
		}
		if (!is_key && yn && dm_answer_no((int)ch)) {
			answer = 'n';
			break;
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

enum dm_smtp_step
tui_next_step(unsigned done, enum dm_security sec, int oauth)
{
	static const enum dm_smtp_step plain[] = {
		DM_STEP_RESOLVE, DM_STEP_CONNECT, DM_STEP_GREETING,
		DM_STEP_EHLO, DM_STEP_TLS, DM_STEP_TOKEN, DM_STEP_AUTH,
		DM_STEP_SENDER, DM_STEP_RCPT, DM_STEP_DATA, DM_STEP_QUIT
	};
	static const enum dm_smtp_step ssl[] = {
		DM_STEP_RESOLVE, DM_STEP_CONNECT, DM_STEP_TLS,
		DM_STEP_GREETING, DM_STEP_EHLO, DM_STEP_TOKEN, DM_STEP_AUTH,
		DM_STEP_SENDER, DM_STEP_RCPT, DM_STEP_DATA, DM_STEP_QUIT
	};
	const enum dm_smtp_step *order = sec == DM_SEC_SSL ? ssl : plain;
	size_t i;

	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		if (order[i] == DM_STEP_TOKEN && !oauth)
			continue;
		if (order[i] == DM_STEP_TLS && sec == DM_SEC_NONE)
			continue;
		if (!(done & (1u << order[i])))
			return order[i];
	}
	return DM_STEP_QUIT;
}

void
tui_step_wait(char *buf, size_t size, const char *label,
    const struct timespec *t0, int timeout)
{
	long s = dm_clock_ms_since(t0) / 1000;

	if (s >= 2)
		(void)snprintf(buf, size, _("%s ... %ld s (timeout %d s)"), label,
		    s, timeout);
	else
		(void)snprintf(buf, size, "%s", label);
}

/* --- help: a screen of its own ------------------------------------- */

/*
 * Help scrolls: at 80x24 the help of a screen and the keys that work
 * everywhere are taller than the screen (and longer in German).
 */
struct help {
	const char	*text;
	int		 top;		/* first row shown */
	int		 rows;		/* rows of the text, as last drawn */
	int		 vis;		/* rows there is room for */
};

static int
help_enter(struct tui *t, void *arg, void **state)
{
	struct help *h;

	(void)t;
	if ((h = calloc(1, sizeof *h)) == NULL)
		return -1;
	h->text = arg;
	*state = h;
	return 0;
}

static void
help_leave(struct tui *t, void *state)
{
	(void)t;
	free(state);
}

static int
help_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct help *h = state;
	int max = h->rows > h->vis ? h->rows - h->vis : 0;

	(void)t;
	if (!is_key && ch != L' ')
		return SCR_HANDLED | SCR_CLOSE;
	switch (is_key ? (int)ch : KEY_NPAGE) {
	case KEY_DOWN:
		h->top++;
		break;
	case KEY_UP:
		h->top--;
		break;
	case KEY_NPAGE:
		h->top += h->vis > 1 ? h->vis - 1 : 1;
		break;
	case KEY_PPAGE:
		h->top -= h->vis > 1 ? h->vis - 1 : 1;
		break;
	case KEY_HOME:
		h->top = 0;
		break;
	case KEY_END:
		h->top = max;
		break;
	default:
		return SCR_HANDLED | SCR_CLOSE;
	}
	/* Space past the end leaves, as a pager's does. */
	if (!is_key && h->top > max)
		return SCR_HANDLED | SCR_CLOSE;
	h->top = h->top < 0 ? 0 : h->top > max ? max : h->top;
	return SCR_HANDLED | SCR_REDRAW;
}

/*
 * Paints text's rows top .. top+vis-1 from screen row 2, wrapped at
 * width between words; returns how many rows the whole text takes.
 */
static int
help_paint(const char *text, int width, int top, int vis)
{
	char line[512];
	const char *p = text, *nl, *end, *cut, *sp;
	int row = 0, n;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		end = nl != NULL ? nl : p + strlen(p);
		do {
			for (cut = p, n = 0; cut < end && n < width; n++)
				do
					cut++;
				while (cut < end && (*cut & 0xc0) == 0x80);
			if (cut < end) {
				for (sp = cut; sp > p && *sp != ' '; sp--)
					;
				if (sp > p)
					cut = sp;
			}
			if (row >= top && row < top + vis) {
				(void)snprintf(line, sizeof line, "%.*s",
				    (int)(cut - p), p);
				tui_put(2 + row - top, 2, width, line, A_NORMAL);
			}
			row++;
			for (p = cut; p < end && *p == ' '; p++)
				;
		} while (p < end);
		p = nl != NULL ? nl + 1 : NULL;
	}
	return row;
}

static void
help_draw(struct tui *t, void *state)
{
	struct help *h = state;

	h->vis = LINES - 5 > 1 ? LINES - 5 : 1;
	h->rows = help_paint(h->text, COLS - 4, h->top, h->vis);
	if (h->top + h->vis < h->rows)
		tui_put(2 + h->vis, 2, COLS - 4,
		    _("-- more: PgDn or Space --"), tui_attr(t, TC_LABEL) | A_BOLD);
}

static const char *
help_keybar(struct tui *t, void *state)
{
	const struct help *h = state;

	(void)t;
	if (h->rows > h->vis)
		return _(" Up/Down PgUp/PgDn Space: scroll  other keys: back");
	return _(" any key: back");
}

static const struct dm_screen help_screen = {
	.name = N_("Help"),
	.enter = help_enter,
	.key = help_key,
	.draw = help_draw,
	.leave = help_leave,
	.keybar = help_keybar,
};

static const char global_help[] =
    N_("Keys that work everywhere:\n"
    "  Tab / Shift-Tab, Up / Down   move between fields\n"
    "  Left / Right / Home / End    move inside a field\n"
    "  Backspace / Delete           delete\n"
    "  Ctrl-A/E, Ctrl-K/W/U         start/end; delete to end/word/all\n"
    "  F1 or ?                      this help (? outside text fields)\n"
    "  Esc                          back\n"
    "Every F-key has a Ctrl alternative, shown in the key bar.\n\n");

static void
show_help(struct tui *t)
{
	static char text[4096];
	const struct dm_screen *s = t->top->scr;

	(void)snprintf(text, sizeof text, "%s%s%s%s%s",
	    t->status[0] != '\0' ? _("The last message, in full:\n") : "",
	    t->status, t->status[0] != '\0' ? "\n\n" : "",
	    s->help != NULL ? _(s->help) : "", _(global_help));
	(void)tui_push(t, &help_screen, text);
}

/* --- config ------------------------------------------------------------ */

/* What the config file was when read, to see a change by another hand. */
static void
note_config(struct tui *t)
{
	struct stat sb;

	if (stat(t->config_path, &sb) == 0) {
		t->cfg_ino = sb.st_ino;
		t->cfg_size = sb.st_size;
		t->cfg_mtime = sb.st_mtim;
	}
}

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
	note_config(t);
	return 0;
}

int
tui_reload_if_changed(struct tui *t)
{
	struct stat sb;

	if (stat(t->config_path, &sb) == -1 || (t->have_cfg &&
	    sb.st_ino == t->cfg_ino && sb.st_size == t->cfg_size &&
	    sb.st_mtim.tv_sec == t->cfg_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == t->cfg_mtime.tv_nsec))
		return 0;
	return tui_reload(t);
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
		/*
		 * The terminal may have rewrapped what it showed (tmux does):
		 * what curses thinks is there is not, so all of it is sent.
		 */
		clearok(curscr, TRUE);
		t->too_small = LINES < TUI_MIN_ROWS || COLS < TUI_MIN_COLS;
		if (f->scr->resize != NULL && !t->too_small)
			f->scr->resize(t, f->state);
		return SCR_REDRAW;
	}
	if (t->too_small) {
		if (!is_key && ch == 3)		/* Ctrl-C */
			return SCR_QUIT;
		/* Kept for when the screen can show them (next_key()). */
		if (t->nheld < TUI_HELD_MAX) {
			t->held[t->nheld].ch = ch;
			t->held[t->nheld++].is_key = is_key;
		} else
			beep();
		return 0;
	}
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

/*
 * The signal mask while waiting for input: SIGWINCH is blocked the rest
 * of the time, so that a resize between reading the keys and waiting
 * cannot be missed until the next key: ppoll() lets it in atomically.
 */
static sigset_t wait_mask;

static int run_screens(struct tui *);

/* Runs the screens until none is left; 1 when one asked to quit. */
static int
run_loop(struct tui *t)
{
	sigset_t winch;
	int r;

	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	(void)pthread_sigmask(SIG_BLOCK, &winch, &wait_mask);
	sigdelset(&wait_mask, SIGWINCH);
	r = run_screens(t);
	(void)pthread_sigmask(SIG_SETMASK, &wait_mask, NULL);
	return r;
}

static int
run_screens(struct tui *t)
{
	const struct timespec tick = { 1, 0 };
	struct pollfd pfd[2];
	struct tui_frame *f;
	char drain[64];
	wint_t ch;
	int r, n, is_key, full = 1;

	while (t->top != NULL) {
		paint(t, full);
		full = 0;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = t->wake[0];
		pfd[1].events = POLLIN;
		/*
		 * A screen with background work also ticks once a second, so
		 * that a step that takes long shows its seconds.
		 */
		n = ppoll(pfd, 2, t->top->scr->tick != NULL ? &tick : NULL,
		    &wait_mask);
		if (n == -1 && errno != EINTR)
			return 1;
		if (n == 0 || (pfd[1].revents & POLLIN)) {
			while ((pfd[1].revents & POLLIN) &&
			    read(t->wake[0], drain, sizeof drain) > 0)
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
		while (t->top != NULL && next_key(t, &is_key, &ch) == 0) {
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

/*
 * An SSH login often comes without a UTF-8 locale (LANG unset, or C),
 * and curses then cannot show or take a single umlaut.  Almost every
 * terminal speaks UTF-8: the screens switch their character type to
 * C.UTF-8 and say so.  Returns 1 when switched (old: the locale's
 * name), 0 when the locale is UTF-8 already, -1 when it cannot switch
 * (then what does not decode shows as '?').
 */
static int
utf8_ctype(char *old, size_t size)
{
	const char *cs = nl_langinfo(CODESET), *cur;

	if (cs != NULL && strcmp(cs, "UTF-8") == 0)
		return 0;
	cur = setlocale(LC_CTYPE, NULL);
	(void)snprintf(old, size, "%s", cur != NULL ? cur : "C");
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		return -1;
	return 1;
}

int
tui_main(const struct tui_opts *opts, struct dm_err *err)
{
	struct tui t;
	char old_ctype[64];
	int r = -1, utf8, first_run;

	memset(&t, 0, sizeof t);
	t.opts = opts;
	t.wake[0] = t.wake[1] = -1;
	dm_config_init(&t.cfg);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		dm_err_set(err, DM_EUSAGE, _("the interactive screens need a terminal"));
		return dm_err_hint(err, _("run docmail in a terminal, or use 'docmail send', 'test' and 'outbox' from scripts"));
	}
	if ((t.config_path = dm_config_default_path(opts->config_path,
	    err)) == NULL)
		return -1;
	if (access(t.config_path, F_OK) == 0) {
		if (dm_config_load(&t.cfg, t.config_path, err) == -1)
			goto out;
		t.have_cfg = 1;
		note_config(&t);
		if (opts->profile != NULL &&
		    dm_config_profile(&t.cfg, opts->profile, err) == NULL)
			goto out;
	}
	if (pipe2(t.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		dm_err_set(err, DM_EINTERNAL, _("pipe: %s"), strerror(errno));
		goto out;
	}
	/*
	 * The screens run tests, sends and sign-ins in threads: OpenSSL
	 * and libcurl are set up here, before the first one starts.
	 */
	if (dm_smtp_init(err) == -1 || dm_oauth2_init(err) == -1)
		goto out;
	catch_signals();
	utf8 = utf8_ctype(old_ctype, sizeof old_ctype);
	if (initscr() == NULL) {
		dm_err_set(err, DM_EUSAGE, _("cannot use this terminal (TERM=%s)"),
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
	if (utf8 == 1)
		tui_status(&t, _("locale %s is not UTF-8: docmail uses UTF-8 (LANG=C.UTF-8 to match)"),
		    old_ctype);
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
		dm_err_set(err, DM_EINTERNAL, _("the screen could not be opened"));
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
