/*
 * signin.c - the Sign in box of the settings screen
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docmail/buf.h>
#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "job.h"
#include "signin.h"
#include "tform.h"

/* Where the sign-in is; one value, so the box draws from it alone. */
enum signin_phase {
	PH_STARTING,	/* asking the provider for a code */
	PH_WAITING,	/* for the user (device) or the browser (code) */
	PH_EXCHANGING,	/* a code came: trading it for the tokens */
	PH_DONE
};

#define URL_ROWS_MAX	10	/* of the address to open, at COLS each */

static const struct tf_spec paste_spec[1] = {
	{ N_("Address"), TF_TEXT, 0, 0, NULL },
};

struct signin {
	struct job		 job;		/* cancel: Esc */
	atomic_int		 stop_wait;	/* Esc, or an address was pasted */
	char			 title[64];
	/* The thread's own copy; conf borrows its strings. */
	struct dm_profile	 prof;
	struct dm_oauth2_conf	 conf;
	enum dm_oauth2_flow	 flow;
	struct dm_oauth2_device	 dev;		/* the thread's */
	/*
	 * Set up before the thread starts and read-only afterwards: the
	 * listener, state and address to open need no network.
	 */
	struct dm_oauth2_auth	 auth;
	/* Under lock. */
	enum signin_phase	 phase;
	char			 code[64];	/* the user code, made safe */
	char			 uri[256];	/* where to enter it, made safe */
	time_t			 expires;
	char			*pasted;	/* a code from a pasted address */
	int			 pasted_failed;	/* the pasted address said error= */
	struct dm_err		 pasted_err;
	int			 result;
	struct dm_err		 err;
	/* The main thread's. */
	struct tform		*paste;
	int			 paste_row;
	char			 msg[DM_ERR_MSG_MAX + DM_ERR_HINT_MAX + 8];
	int			 msg_error;
};

/* s made safe to paint (a provider's text), cut to size. */
static void
safe_copy(char *dst, size_t size, const char *s)
{
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, size - 1);
	if (s == NULL || dm_buf_add_printable(&b, s, strlen(s), &err) == -1)
		dst[0] = '\0';
	else
		dm_strlcpy(dst, dm_buf_str(&b), size);
	dm_buf_release(&b);
}

static void
nap_100ms(void)
{
	struct timespec ts = { 0, 100 * 1000000L };

	nanosleep(&ts, NULL);
}

static int
device_flow(struct signin *s, struct dm_err *err)
{
	int done = 0, naps = 0;

	if (dm_oauth2_device_start(&s->conf, &s->dev, err) == -1)
		return -1;
	job_lock(&s->job);
	safe_copy(s->code, sizeof s->code, s->dev.user_code);
	safe_copy(s->uri, sizeof s->uri, s->dev.verification_uri);
	s->expires = s->dev.expires;
	s->phase = PH_WAITING;
	job_unlock(&s->job);
	job_wake(&s->job);
	/*
	 * Our own loop rather than dm_oauth2_device_wait(): the box's
	 * countdown wants a wake-up each second.
	 */
	while (!done) {
		if (job_cancelled(&s->job))
			return dm_err_set(err, DM_ETEMP, _("sign-in cancelled"));
		if (time(NULL) >= s->dev.next_poll) {
			if (dm_oauth2_device_poll(&s->conf, s->prof.id, &s->dev,
			    &done, err) == -1)
				return -1;
			continue;
		}
		nap_100ms();
		if (++naps % 10 == 0)
			job_wake(&s->job);
	}
	return 0;
}

static int
code_flow(struct signin *s, struct dm_err *err)
{
	char *code = NULL;
	int r, failed;

	for (;;) {
		dm_err_clear(err);
		r = dm_oauth2_auth_wait(&s->auth, 1000, &s->stop_wait, &code,
		    err);
		if (r == 0)
			break;
		if (job_cancelled(&s->job))
			return dm_err_set(err, DM_ETEMP, _("sign-in cancelled"));
		job_lock(&s->job);
		code = s->pasted;
		s->pasted = NULL;
		failed = s->pasted_failed;
		if (failed)
			*err = s->pasted_err;
		atomic_store(&s->stop_wait, 0);
		job_unlock(&s->job);
		if (code != NULL)
			break;
		if (failed)
			return -1;
		/*
		 * Time up for this round, or a request that was not this
		 * sign-in's (another state): keep waiting, the user may
		 * still paste.  What the provider refused ends it.
		 */
		if (err->code != DM_ETEMP && err->code != DM_EDATA)
			return -1;
	}
	job_lock(&s->job);
	s->phase = PH_EXCHANGING;
	job_unlock(&s->job);
	job_wake(&s->job);
	r = dm_oauth2_auth_finish(&s->conf, s->prof.id, &s->auth, code, err);
	dm_oauth2_secret_free(code);
	return r;
}

static void
signin_thread(void *arg)
{
	struct signin *s = arg;
	struct dm_err err;
	int r;

	dm_err_clear(&err);
	r = s->flow == DM_OAUTH2_DEVICE ? device_flow(s, &err) :
	    code_flow(s, &err);
	job_lock(&s->job);
	s->result = r;
	s->err = err;
	s->phase = PH_DONE;
	job_unlock(&s->job);
}

/* Rows the address to open takes at this width. */
static int
url_rows(const struct signin *s)
{
	int n;

	if (s->auth.url == NULL || COLS < 1)
		return 0;
	n = (int)((strlen(s->auth.url) + (size_t)COLS - 1) / (size_t)COLS);
	return n < URL_ROWS_MAX ? n : URL_ROWS_MAX;
}

/* Under the rule, a line, the address, a gap and two lines of text. */
static int
paste_row(const struct signin *s)
{
	return 1 + 2 + url_rows(s) + 1 + 2;
}

/* (Re)builds the paste field below the address, keeping what it held. */
static int
place_paste(struct signin *s)
{
	char *keep = NULL;

	if (s->flow != DM_OAUTH2_AUTHCODE)
		return 0;
	if (s->paste != NULL) {
		keep = tform_get(s->paste, 0);
		tform_free(s->paste);
	}
	s->paste_row = paste_row(s);
	s->paste = tform_new(paste_spec, 1, s->paste_row);
	if (s->paste != NULL && keep != NULL)
		tform_set(s->paste, 0, keep);
	if (keep != NULL) {
		explicit_bzero(keep, strlen(keep));
		free(keep);
	}
	return s->paste != NULL ? 0 : -1;
}

struct signin *
signin_start(struct tui *t, const struct dm_profile *p, const char *title,
    struct dm_err *err)
{
	struct dm_oauth2_ep ep;
	struct signin *s;

	if ((s = calloc(1, sizeof *s)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		return NULL;
	}
	job_init(&s->job, tui_waker, t);
	s->auth.fd = -1;
	dm_strlcpy(s->title, title, sizeof s->title);
	if (dm_profile_copy(&s->prof, p, err) == -1) {
		job_release(&s->job);
		free(s);
		return NULL;
	}
	/* The settings' own faults show now, not after a network round. */
	if (dm_oauth2_init(err) == -1 ||
	    dm_deliver_oauth2_conf(&s->prof, &s->conf, err) == -1 ||
	    dm_oauth2_resolve(&s->conf, &ep, err) == -1)
		goto fail;
	s->flow = ep.flow;
	dm_oauth2_ep_release(&ep);
	if (s->flow == DM_OAUTH2_AUTHCODE) {
		if (dm_oauth2_auth_start(&s->conf, &s->auth, err) == -1)
			goto fail;
		s->phase = PH_WAITING;
		if (place_paste(s) == -1) {
			dm_err_set(err, DM_ENOMEM, _("cannot make the paste field"));
			goto fail;
		}
		(void)snprintf(s->msg, sizeof s->msg,
		    "%s", _("waiting for the browser..."));
	}
	if (job_start(&s->job, signin_thread, s) == -1) {
		dm_err_set(err, DM_EINTERNAL, _("cannot start the sign-in"));
		goto fail;
	}
	return s;
fail:
	tform_free(s->paste);
	dm_oauth2_auth_release(&s->auth);
	dm_profile_release(&s->prof);
	job_release(&s->job);
	free(s);
	return NULL;
}

void
signin_free(struct signin *s)
{
	if (s == NULL)
		return;
	/* Cancel first: the code flow's wait ends on stop_wait, then looks. */
	job_cancel(&s->job);
	atomic_store(&s->stop_wait, 1);
	job_release(&s->job);
	dm_oauth2_device_release(&s->dev);
	dm_oauth2_auth_release(&s->auth);
	dm_oauth2_secret_free(s->pasted);
	tform_free(s->paste);
	dm_profile_release(&s->prof);
	free(s);
}

int
signin_done(struct signin *s)
{
	int done;

	job_lock(&s->job);
	done = s->phase == PH_DONE;
	job_unlock(&s->job);
	return done;
}

int
signin_result(struct signin *s, struct dm_err *err)
{
	int r;

	job_lock(&s->job);
	r = s->result;
	if (r == -1)
		*err = s->err;
	job_unlock(&s->job);
	return r;
}

/* Enter in the paste field: the address the browser ended on. */
static void
take_paste(struct signin *s)
{
	struct dm_err err;
	char *text = tform_get(s->paste, 0), *code = NULL;
	int r;

	if (text == NULL)
		return;
	if (text[0] == '\0') {
		(void)snprintf(s->msg, sizeof s->msg,
		    "%s", _("paste the address from the browser's address bar first"));
		s->msg_error = 1;
		free(text);
		return;
	}
	r = dm_oauth2_parse_redirect(text, strlen(text), s->auth.state, &code,
	    &err);
	explicit_bzero(text, strlen(text));
	free(text);
	if (r == -1 && err.code == DM_EDATA) {
		/* A wrong paste: say why, and take another. */
		(void)snprintf(s->msg, sizeof s->msg, "%s%s%s", err.msg,
		    err.hint[0] != '\0' ? " -- " : "", err.hint);
		s->msg_error = 1;
		tform_set(s->paste, 0, "");
		return;
	}
	job_lock(&s->job);
	if (r == 0 && s->pasted == NULL)
		s->pasted = code;
	else if (r == 0)
		dm_oauth2_secret_free(code);
	else {
		/* The provider's own refusal (error=...) ends the sign-in. */
		s->pasted_failed = 1;
		s->pasted_err = err;
	}
	atomic_store(&s->stop_wait, 1);
	job_unlock(&s->job);
	tform_set(s->paste, 0, "");
	(void)snprintf(s->msg, sizeof s->msg, "%s", _("signing in..."));
	s->msg_error = 0;
}

int
signin_key(struct tui *t, struct signin *s, int is_key, wint_t ch)
{
	enum signin_phase ph;

	(void)t;
	if (is_key && ch == KEY_RESIZE)
		return 0;
	if (!is_key && (ch == 27 || ch == 3 || ch == 17)) {	/* Esc ^C ^Q */
		job_cancel(&s->job);
		atomic_store(&s->stop_wait, 1);
		(void)snprintf(s->msg, sizeof s->msg, "%s", _("cancelling..."));
		s->msg_error = 0;
		return SCR_HANDLED | SCR_REDRAW;
	}
	job_lock(&s->job);
	ph = s->phase;
	job_unlock(&s->job);
	if (s->paste == NULL || ph != PH_WAITING || job_cancelled(&s->job))
		return SCR_HANDLED;
	if (!is_key && (ch == '\r' || ch == '\n')) {
		take_paste(s);
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (is_key && ch == KEY_ENTER) {
		take_paste(s);
		return SCR_HANDLED | SCR_REDRAW;
	}
	/* Tab would only move within the one field; keep it harmless. */
	if (!is_key && ch == '\t')
		return SCR_HANDLED;
	(void)tform_key(s->paste, is_key, ch);
	return SCR_HANDLED | SCR_REDRAW;
}

/* A line across the screen with a title in it: the box's edges. */
static void
rule(struct tui *t, int row, const char *title)
{
	char buf[128];

	mvhline(row, 0, ACS_HLINE, COLS);
	if (title != NULL) {
		(void)snprintf(buf, sizeof buf, " %s ", title);
		tui_put(row, 3, dm_text_width(buf), buf,
		    tui_attr(t, TC_TITLE) | A_BOLD);
	}
}

static void
clear_rows(int from, int to)
{
	int r;

	for (r = from; r <= to; r++) {
		move(r, 0);
		clrtoeol();
	}
}

static void
draw_device(struct signin *s, enum signin_phase ph, int top, int bottom)
{
	char line[384];
	long left;
	int w = COLS - 4, cw;

	job_lock(&s->job);
	if (ph == PH_STARTING) {
		job_unlock(&s->job);
		tui_put(top + 2, 2, w, _("Asking for a sign-in code..."), A_NORMAL);
		tui_put(bottom - 1, 2, w, _("Esc cancels."), A_NORMAL);
		return;
	}
	tui_put(top + 2, 2, w, _("1. On any computer or phone, open this address:"),
	    A_NORMAL);
	tui_put(top + 3, 6, w - 4, s->uri, A_BOLD);
	tui_put(top + 5, 2, w, _("2. Enter this code:"), A_NORMAL);
	/* Big enough to read across the room: a band three rows high. */
	(void)snprintf(line, sizeof line, "    %s    ", s->code);
	cw = dm_text_width(line);
	attron(A_REVERSE);
	mvhline(top + 6, 6, ' ', cw);
	mvhline(top + 8, 6, ' ', cw);
	attroff(A_REVERSE);
	tui_put(top + 7, 6, w - 4, line, A_REVERSE | A_BOLD);
	tui_put(top + 10, 2, w,
	    _("3. Sign in with the mailbox's account and accept."), A_NORMAL);
	left = (long)(s->expires - time(NULL));
	job_unlock(&s->job);
	if (ph == PH_WAITING && left > 0)
		(void)snprintf(line, sizeof line,
		    _("Waiting for you to sign in; the code expires in %ld:%02ld."),
		    left / 60, left % 60);
	else if (ph == PH_WAITING)
		(void)snprintf(line, sizeof line, "%s",
		    _("Waiting for you to sign in."));
	else
		(void)snprintf(line, sizeof line, "%s",
		    _("Signed in: storing it..."));
	tui_put(top + 12, 2, w, job_cancelled(&s->job) ? s->msg : line,
	    A_NORMAL);
	tui_put(bottom - 1, 2, w, _("Esc cancels."), A_NORMAL);
}

static void
draw_code(struct tui *t, struct signin *s, enum signin_phase ph, int top,
    int bottom)
{
	const char *u = s->auth.url;
	char line[512];
	size_t len = strlen(u), off;
	int i, n = url_rows(s), w = COLS - 4, row;

	tui_put(top + 1, 2, w,
	    _("Open this address in a browser, on this computer or any other:"),
	    A_NORMAL);
	/*
	 * Whole rows, edge to edge and without a frame, so that selecting
	 * them in the terminal copies the address and nothing else.
	 */
	for (i = 0, off = 0; i < n && off < len; i++, off += (size_t)COLS) {
		(void)snprintf(line, sizeof line, "%.*s", COLS, u + off);
		tui_put(top + 2 + i, 0, COLS, line, A_BOLD);
	}
	row = top + 2 + n + 1;
	tui_put(row, 2, w,
	    _("Sign in there. If the browser then cannot open a 127.0.0.1 page"),
	    A_NORMAL);
	tui_put(row + 1, 2, w,
	    _("(over SSH), copy the address from its address bar, paste it, Enter:"),
	    A_NORMAL);
	if (s->paste != NULL)
		tform_draw(t, s->paste);
	if (ph == PH_EXCHANGING)
		(void)snprintf(s->msg, sizeof s->msg, "%s", _("signing in..."));
	(void)tui_put_wrap(s->paste_row + 1, 2, w, bottom - s->paste_row - 2,
	    s->msg, s->msg_error ? tui_attr(t, TC_ERROR) : A_NORMAL);
	tui_put(bottom - 1, 2, w, _("Esc cancels."), A_NORMAL);
}

void
signin_resize(struct signin *s)
{
	(void)place_paste(s);
}

void
signin_draw(struct tui *t, struct signin *s)
{
	enum signin_phase ph;
	char title[96];
	int top = 1, bottom = LINES - 3;

	job_lock(&s->job);
	ph = s->phase;
	job_unlock(&s->job);
	clear_rows(top, bottom);
	if (s->flow == DM_OAUTH2_DEVICE)
		draw_device(s, ph, top, bottom);
	else
		draw_code(t, s, ph, top, bottom);
	/* Last: posting the paste field clears the rows under it. */
	(void)snprintf(title, sizeof title, _("Sign in: %s"), s->title);
	rule(t, top, title);
	rule(t, bottom, NULL);
}

void
signin_cursor(struct signin *s)
{
	if (s->paste != NULL)
		tform_cursor(s->paste);
	else
		curs_set(0);
}

const char *
signin_keybar(struct signin *s)
{
	return s->paste != NULL ? _(" Enter take the pasted address  Esc cancel") :
	    _(" Esc cancel sign-in");
}
