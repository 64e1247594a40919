/*
 * scr-progress.c - sending: the outbox, then the server, in a thread
 *
 * The message is stored in the outbox and sent by a background thread
 * (dm_outbox_add, then dm_deliver), so the screen stays responsive and
 * Esc can cancel.  The thread reports through the engine's event
 * callback into a mutex-protected struct and wakes the loop; tick()
 * repaints the progress rows.  A password that must be asked is asked
 * here, in a field that shows nothing, before the thread starts.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/compose.h>
#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/outbox.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

#include "job.h"
#include "send.h"
#include "tform.h"

enum pstate {
	P_PASSWORD,	/* asking for it */
	P_RUNNING,	/* the thread runs */
	P_DONE		/* the thread ended and was joined */
};

struct progress {
	struct tui		*t;
	struct send_job		*job;
	enum pstate		 state;
	struct tform		*pwform;
	struct dm_secret	 pw;
	char			*bcc;		/* for the sent copy */
	int			 retry;		/* resend job->item */
	struct tlines		 result;

	struct job		 bg;		/* the sending thread */
	/* Under bg's lock, written by the thread. */
	int			 stage;		/* 0 outbox, 1 smtp, 2 end */
	unsigned		 steps_done;	/* 1 << step */
	int			 step_failed;	/* -1 or the step */
	struct timespec		 since;		/* the last step or data */
	uint64_t		 done;
	uint64_t		 total;
	/* Written by the thread; read after the join. */
	int			 rc;
	struct dm_err		 err;
	struct dm_delivery	 d;
	int			 have_d;
};

static const struct tf_spec pw_spec[] = {
	{ N_("Password"), TF_SECRET, 40, 0, NULL }
};

/* Rows of the running screen. */
#define ROW_WHAT	2
#define ROW_BAR		4
#define ROW_STEPS	6
#define ROW_NOW		7
#define ROW_RESULT	9

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct progress *pg = arg;

	if (ev->kind == DM_EV_LOG)
		return;
	job_lock(&pg->bg);
	if (ev->kind == DM_EV_STEP) {
		if (ev->ok)
			pg->steps_done |= 1u << ev->step;
		else
			pg->step_failed = (int)ev->step;
		dm_clock_now(&pg->since);
	} else {
		/* Data moving is a sign of life: the seconds count silence. */
		if (ev->done != pg->done)
			dm_clock_now(&pg->since);
		pg->done = ev->done;
		pg->total = ev->total;
	}
	job_unlock(&pg->bg);
	job_wake(&pg->bg);
}

/* After a failure: is the last attempt's item still in the outbox? */
static void
note_gone(struct send_job *job)
{
	if (job->have_item && access(job->item.path, F_OK) == -1 &&
	    errno == ENOENT)
		job->item_gone = 1;
}

static int
gone_error(struct dm_err *err)
{
	dm_err_set(err, DM_ETEMP,
	    _("this email's outbox item is gone: another docmail has sent or removed it"));
	return dm_err_hint(err, _("'docmail outbox' and the sent log show what happened; to send it anyway, close this email and open the document again"));
}

static int
store(struct progress *pg, struct dm_err *err)
{
	struct send_job *job = pg->job;
	struct dm_err e2;
	char *dir;
	int r;

	/*
	 * A failed try of the same email is replaced, unless it may be
	 * out; under its lock, so that an "outbox --retry" sending it right
	 * now does not send it a second time beside the new one.  If it
	 * cannot be removed, for whatever reason, no new copy is stored:
	 * a later retry would send both.
	 */
	if (job->item_gone)
		return gone_error(err);
	if (job->have_item) {
		if (job->item.state != DM_OB_MAYBE_SENT &&
		    dm_outbox_drop(&job->item, &e2) == -1) {
			note_gone(job);
			*err = e2;
			return -1;
		}
		dm_outbox_item_release(&job->item);
		job->have_item = 0;
	}
	if ((dir = dm_outbox_open(NULL, err)) == NULL)
		return -1;
	memset(&job->item, 0, sizeof job->item);
	r = dm_compose_store(&job->c, job->profile, dir, &job->item,
	    DM_SYNC_NOW, err);
	if (r == 0)
		job->have_item = 1;
	free(dir);
	return r;
}

static void
params(struct progress *pg, struct dm_smtp_params *sp)
{
	dm_deliver_params(pg->job->profile, &pg->pw, sp);
	sp->event = on_event;
	sp->arg = pg;
	sp->cancel = job_cancel_flag(&pg->bg);
}

static void
run(void *arg)
{
	struct progress *pg = arg;
	struct dm_smtp_params sp;
	struct dm_err err;
	int r = -1;

	dm_err_clear(&err);
	if (!pg->retry && store(pg, &err) == -1)
		goto out;
	if (job_cancelled(&pg->bg)) {
		dm_err_set(&err, DM_ETEMP, _("sending cancelled"));
		goto out;
	}
	job_lock(&pg->bg);
	pg->stage = 1;
	dm_clock_now(&pg->since);
	job_unlock(&pg->bg);
	job_wake(&pg->bg);
	params(pg, &sp);
	if (pg->job->item_gone)
		r = gone_error(&err);
	else {
		r = dm_deliver(pg->job->profile, &sp, &pg->job->item,
		    pg->bcc, &pg->d, &err);
		pg->have_d = 1;
	}
	if (pg->have_d && pg->d.removed) {
		dm_outbox_item_release(&pg->job->item);
		pg->job->have_item = 0;
	} else if (r == -1)
		note_gone(pg->job);
out:
	job_lock(&pg->bg);
	pg->rc = r;
	pg->err = err;
	pg->stage = 2;
	job_unlock(&pg->bg);
}

static int
start(struct progress *pg)
{
	struct dm_err err;

	if (pg->have_d) {
		dm_delivery_release(&pg->d);
		pg->have_d = 0;
	}
	tlines_free(&pg->result);
	pg->stage = 0;
	pg->steps_done = 0;
	pg->step_failed = -1;
	pg->done = 0;
	pg->total = dm_mime_size(pg->job->c.mime);
	pg->retry = pg->job->have_item;
	if (job_start(&pg->bg, run, pg) == -1) {
		dm_err_set(&err, DM_EINTERNAL, _("cannot start sending"));
		tui_error(pg->t, &err);
		pg->state = P_DONE;
		pg->rc = -1;
		pg->err = err;
		return -1;
	}
	pg->state = P_RUNNING;
	tui_status(pg->t, _("sending... (Esc cancels)"));
	return 0;
}

int
send_password(struct tui *t, const struct dm_profile *p,
    struct dm_secret *pw, int *ask)
{
	struct dm_err err;
	int need = 0, r;

	*ask = 0;
	if (p->user == NULL || p->user[0] == '\0')
		return 0;
	/* Typed earlier in this session (here or in the outbox)? */
	if (t->pw_for != NULL && strcmp(t->pw_for, p->id) == 0 &&
	    dm_secret_isset(&t->pw)) {
		if (dm_secret_set(pw, t->pw.s, t->pw.len, &err) == -1) {
			tui_error(t, &err);
			return -1;
		}
		return 0;
	}
	/* The command may prompt on the terminal (gpg, pass): give it one. */
	if (p->password_command != NULL && !dm_secret_isset(&p->password)) {
		def_prog_mode();
		endwin();
	}
	r = dm_profile_password(p, pw, &need, &err);
	if (p->password_command != NULL && !dm_secret_isset(&p->password)) {
		reset_prog_mode();
		clearok(curscr, TRUE);
	}
	if (r == -1) {
		tui_error(t, &err);
		return -1;
	}
	*ask = need;
	return 0;
}

void
send_password_keep(struct tui *t, const struct dm_profile *p,
    const struct dm_secret *pw)
{
	struct dm_err err;

	dm_secret_release(&t->pw);
	free(t->pw_for);
	/* Out of memory: not kept, so asked again next time; no harm. */
	if ((t->pw_for = dm_strdup(p->id, &err)) == NULL)
		return;
	(void)dm_secret_set(&t->pw, pw->s, pw->len, &err);
}

void
send_password_forget(struct tui *t)
{
	dm_secret_release(&t->pw);
	free(t->pw_for);
	t->pw_for = NULL;
}

static int
pg_enter(struct tui *t, void *arg, void **state)
{
	struct progress *pg;
	struct dm_err err;
	int ask;

	if ((pg = calloc(1, sizeof *pg)) == NULL)
		return -1;
	pg->t = t;
	pg->job = arg;
	pg->step_failed = -1;
	dm_secret_init(&pg->pw);
	job_init(&pg->bg, tui_waker, t);
	/* For the sent copy's Bcc line; NULL without Bcc (or memory). */
	pg->bcc = dm_compose_bcc(&pg->job->c, &err);
	if (send_password(t, pg->job->profile, &pg->pw, &ask) == -1)
		goto fail;
	*state = pg;
	if (ask) {
		if ((pg->pwform = tform_new(pw_spec, 1, ROW_BAR)) == NULL)
			goto fail;
		pg->state = P_PASSWORD;
		tui_status(t, _("the profile has no password: type it (it is not stored)"));
		return 0;
	}
	(void)start(pg);
	return 0;
fail:
	dm_secret_release(&pg->pw);
	free(pg->bcc);
	job_release(&pg->bg);
	free(pg);
	return -1;
}

static void
pg_leave(struct tui *t, void *state)
{
	struct progress *pg = state;

	job_release(&pg->bg);
	if (pg->job->action == SEND_DONE)
		tui_wake(t);
	if (pg->pwform != NULL) {
		(void)tform_set(pg->pwform, 0, "");
		tform_free(pg->pwform);
	}
	if (pg->have_d)
		dm_delivery_release(&pg->d);
	dm_secret_release(&pg->pw);
	tlines_free(&pg->result);
	free(pg->bcc);
	free(pg);
}

/* The rows that change while sending. */
static void
draw_running(struct tui *t, struct progress *pg)
{
	const struct dm_profile *prof = pg->job->profile;
	char line[512], a[32], b[32], now[96], *p, *start;
	const char *label;
	struct timespec since;
	uint64_t done, total;
	unsigned steps;
	int stage, failed, i, w, fill, pct, first;
	enum dm_smtp_step cur;

	job_lock(&pg->bg);
	done = pg->done;
	total = pg->total;
	steps = pg->steps_done;
	stage = pg->stage;
	failed = pg->step_failed;
	since = pg->since;
	job_unlock(&pg->bg);
	cur = tui_next_step(steps, prof->security,
	    dm_profile_auth(prof) == DM_AUTH_OAUTH2);
	tui_step_wait(now, sizeof now, cur == DM_STEP_DATA ?
	    _("data (sending the message)") : dm_smtp_step_label(cur), &since,
	    prof->timeout > 0 ? prof->timeout : DM_TIMEOUT_DEFAULT);

	/* Room for "] 100%  999.9 KB of 999.9 MB" at any size. */
	w = COLS - 36;
	if (w < 10)
		w = 10;
	pct = total > 0 ? (int)(done * 100 / total) : 0;
	fill = total > 0 ? (int)((uint64_t)w * done / total) : 0;
	p = line;
	*p++ = '[';
	for (i = 0; i < w; i++)
		*p++ = i < fill ? '#' : '.';
	send_size(a, sizeof a, done);
	send_size(b, sizeof b, total);
	/* TRANSLATORS: after the progress bar: "] 42%  1.2 MB of 2.9 MB". */
	(void)snprintf(p, sizeof line - (size_t)(p - line), _("] %3d%%  %s of %s"),
	    pct, a, b);
	tui_put(ROW_BAR, 2, COLS - 4, line, A_NORMAL);

	/* TRANSLATORS: followed by the SMTP steps done, "connect, TLS, ...". */
	label = _("Done: ");
	/*
	 * Too many for the line: the latest ones, after "...", so that
	 * the line never ends cut in the middle of the list.
	 */
	for (first = 0; first < DM_STEP_COUNT; first++) {
		p = line + snprintf(line, sizeof line, "%.64s%s", label,
		    first > 0 ? "..." : "");
		start = p;
		for (i = first; i < DM_STEP_COUNT; i++) {
			if (steps & (1u << i))
				p += snprintf(p, sizeof line - (size_t)(p - line),
				    "%s%s", p > start || first > 0 ? ", " : "",
				    dm_smtp_step_label((enum dm_smtp_step)i));
			if ((size_t)(p - line) > sizeof line - 64)
				break;
		}
		if (dm_text_width(line) <= COLS - 4)
			break;
	}
	if (steps == 0)
		(void)snprintf(line, sizeof line, "%.64s-", label);
	tui_put(ROW_STEPS, 2, COLS - 4, line, A_NORMAL);
	if (stage == 0)
		(void)snprintf(line, sizeof line,
		    "%s", _("Now: storing the message in the outbox"));
	else if (failed >= 0)
		(void)snprintf(line, sizeof line, _("Failed at: %s"),
		    dm_smtp_step_label((enum dm_smtp_step)failed));
	else if (stage == 1)
		(void)snprintf(line, sizeof line, _("Now: %s"), now);
	else
		(void)snprintf(line, sizeof line, "%s", _("Finished"));
	tui_put(ROW_NOW, 2, COLS - 4, line, failed >= 0 ?
	    tui_attr(t, TC_ERROR) : A_NORMAL);
}

/* After the join: what happened, per recipient, and what next. */
static void
build_result(struct tui *t, struct progress *pg)
{
	struct tlines *l = &pg->result;
	struct send_job *job = pg->job;
	const struct dm_delivery *d = &pg->d;
	char line[1024];
	int width = COLS - 4, n;
	size_t i;

	tlines_free(l);
	/* A typed password the server refused must be asked again. */
	if (pg->rc != 0 && pg->err.code == DM_EAUTH)
		send_password_forget(t);
	if (pg->rc == 0) {
		(void)tlines_add(l, "", 0, _("Sent."), width,
		    tui_attr(t, TC_OK) | A_BOLD);
		tui_status(t, ngettext("sent to %zu recipient",
		    "sent to %zu recipients", job->c.rcpt.n), job->c.rcpt.n);
	} else {
		(void)snprintf(line, sizeof line, _("Not sent: %s"), pg->err.msg);
		(void)tlines_add(l, "", 0, line, width, tui_attr(t, TC_ERROR) |
		    A_BOLD);
		if (pg->err.hint[0] != '\0')
			/* TRANSLATORS: 6 columns, as "hint: ". */
			(void)tlines_add(l, _("hint: "), 6, pg->err.hint, width,
			    A_NORMAL);
		tui_error(t, &pg->err);
	}
	if (pg->have_d) {
		for (i = 0; i < d->nrcpt; i++) {
			if (d->rcpt[i].status == DM_RCPT_PENDING)
				continue;
			(void)snprintf(line, sizeof line, "%s: %d %s",
			    d->rcpt[i].mailbox, d->rcpt[i].code,
			    d->rcpt[i].text);
			(void)tlines_add(l, dm_smtp_rcpt_status_name(d->rcpt[i].status), 10,
			    line, width, d->rcpt[i].status == DM_RCPT_OK ?
			    A_NORMAL : tui_attr(t, TC_ERROR));
		}
		if (d->mail.accepted) {
			(void)snprintf(line, sizeof line, "%d %s", d->mail.code,
			    d->mail.reply);
			/* TRANSLATORS: 13 columns, as "Server said: ". */
			(void)tlines_add(l, _("Server said: "), 13, line, width,
			    A_NORMAL);
			(void)snprintf(line, sizeof line, "<%s>",
			    dm_mime_message_id(job->c.mime));
			(void)tlines_add(l, "Message-ID: ", 13, line, width,
			    A_NORMAL);
			(void)tlines_add(l, "", 0, job->profile->sent_maildir !=
			    NULL ? _("Recorded in the sent log; a copy (with the Bcc line) is in the sent folder.") :
			    _("Recorded in the sent log."), width, A_NORMAL);
		}
		for (n = 0; n < d->nwarn; n++)
			/* TRANSLATORS: 9 columns, as "warning: ". */
			(void)tlines_add(l, _("warning: "), 9, d->warn[n], width,
			    tui_attr(t, TC_MARK));
	}
	if (pg->rc == 0) {
		(void)tlines_add(l, "", 0, "", width, A_NORMAL);
		(void)tlines_add(l, "", 0, _("Enter or Esc: done"), width,
		    A_NORMAL);
		return;
	}
	(void)tlines_add(l, "", 0, "", width, A_NORMAL);
	if (job->item_gone)
		(void)snprintf(line, sizeof line,
		    "%s", _("It is not in the outbox any more: another docmail sent or removed it, so it is not sent again from here. Esc: back to the email."));
	else if (job->have_item && job->item.state == DM_OB_MAYBE_SENT)
		(void)snprintf(line, sizeof line,
		    _("The connection ended after the whole message was sent, before the server's answer: it may have been delivered. The message is in the outbox as '%s', marked so. r: send it again anyway; Esc: back to the email."),
		    job->item.id);
	else if (job->have_item && job->item.state == DM_OB_REFUSED)
		(void)snprintf(line, sizeof line,
		    _("The server refused it for good. The message is in the outbox as '%s', marked refused: a plain retry passes it over. r: send it again anyway; Esc: back to the email."),
		    job->item.id);
	else if (job->have_item)
		(void)snprintf(line, sizeof line,
		    _("The message is in the outbox as '%s'. r: try again now; Esc: back to the email ('docmail outbox --retry' sends it later)."),
		    job->item.id);
	else
		(void)snprintf(line, sizeof line,
		    "%s", _("Nothing was stored in the outbox. r: try again; Esc: back to the email."));
	(void)tlines_add(l, "", 0, line, width, A_NORMAL);
}

static void
pg_draw(struct tui *t, void *state)
{
	struct progress *pg = state;
	const struct dm_profile *p = pg->job->profile;
	char line[512];
	size_t i;
	int row;

	if (pg->state == P_PASSWORD) {
		(void)snprintf(line, sizeof line,
		    _("Password for %s at %s (Enter sends, Esc goes back):"),
		    p->user, p->host);
		tui_put(ROW_WHAT, 2, COLS - 4, line, A_NORMAL);
		tform_draw(t, pg->pwform);
		return;
	}
	(void)snprintf(line, sizeof line,
	    ngettext("To %zu recipient via %s:%d (%s)",
	    "To %zu recipients via %s:%d (%s)", pg->job->c.rcpt.n),
	    pg->job->c.rcpt.n, p->host,
	    dm_profile_port(p), dm_security_name(p->security));
	tui_put(ROW_WHAT, 2, COLS - 4, line, A_NORMAL);
	draw_running(t, pg);
	row = ROW_RESULT;
	for (i = 0; i < pg->result.n && row < LINES - 3; i++, row++)
		tui_put(row, 2, COLS - 4, pg->result.v[i], pg->result.attr[i]);
}

static int
pg_tick(struct tui *t, void *state)
{
	struct progress *pg = state;

	if (pg->state != P_RUNNING)
		return 0;
	if (!job_done(&pg->bg)) {
		/* Only the bar and the steps change: no full repaint. */
		draw_running(t, pg);
		return SCR_HANDLED;
	}
	job_join(&pg->bg);
	pg->state = P_DONE;
	build_result(t, pg);
	return SCR_REDRAW;
}

static int
pg_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct progress *pg = state;
	struct dm_err err;
	char *pw;
	int r, esc = !is_key && (ch == 27 || ch == 3);

	switch (pg->state) {
	case P_PASSWORD:
		if (esc)
			return SCR_HANDLED | SCR_CLOSE;
		if (!is_key && (ch == '\r' || ch == '\n')) {
			if ((pw = tform_get(pg->pwform, 0)) == NULL)
				return SCR_HANDLED;
			r = pw[0] == '\0' ? -1 :
			    dm_secret_set(&pg->pw, pw, strlen(pw), &err);
			explicit_bzero(pw, strlen(pw));
			free(pw);
			if (r == -1) {
				if (!dm_secret_isset(&pg->pw)) {
					dm_err_set(&err, DM_EAUTH,
					    _("no password given"));
					dm_err_hint(&err,
					    _("type the password (or app password) of %s"),
					    pg->job->profile->user);
				}
				tui_error(t, &err);
				return SCR_HANDLED;
			}
			(void)tform_set(pg->pwform, 0, "");
			tform_free(pg->pwform);
			pg->pwform = NULL;
			/* Kept for the session; dropped if the login fails. */
			send_password_keep(t, pg->job->profile, &pg->pw);
			(void)start(pg);
			return SCR_HANDLED | SCR_REDRAW;
		}
		r = tform_key(pg->pwform, is_key, ch);
		return r & (SCR_HANDLED | SCR_REDRAW);
	case P_RUNNING:
		if (esc) {
			if (tui_ask(t, _("Cancel sending? (y/n)"), "yn") == 'y') {
				job_cancel(&pg->bg);
				tui_status(t, _("cancelling..."));
			}
			return SCR_HANDLED;
		}
		return SCR_HANDLED;	/* nothing else while sending */
	case P_DONE:
		if (pg->rc == 0) {
			if (esc || (!is_key && (ch == '\r' || ch == '\n' ||
			    ch == 'q' || ch == ' ')) ||
			    (is_key && ch == KEY_ENTER)) {
				pg->job->action = SEND_DONE;
				tui_status_clear(t);
				return SCR_HANDLED | SCR_CLOSE;
			}
			return 0;
		}
		if (esc)
			return SCR_HANDLED | SCR_CLOSE;
		if (!is_key && (ch == 'r' || ch == 'R')) {
			if (pg->job->item_gone)
				return SCR_HANDLED;	/* see build_result() */
			/* The outbox's rule for a named item: ask first. */
			if (pg->job->have_item &&
			    dm_outbox_retry_verdict(pg->job->item.state,
			    DM_RETRY_NAMED) != DM_RETRY_SEND &&
			    tui_ask(t, pg->job->item.state == DM_OB_REFUSED ?
			    _("The server refused it for good. Send it again anyway? (y/n)") :
			    _("It may have been delivered already. Send it again anyway? (y/n)"),
			    "yn") != 'y')
				return SCR_HANDLED;
			(void)start(pg);
			return SCR_HANDLED | SCR_REDRAW;
		}
		return 0;
	}
	return 0;
}

static void
pg_resize(struct tui *t, void *state)
{
	struct progress *pg = state;

	if (pg->pwform != NULL)
		(void)tform_resize(pg->pwform);
	if (pg->state == P_DONE)
		build_result(t, pg);
}

static const char *
pg_keybar(struct tui *t, void *state)
{
	struct progress *pg = state;

	(void)t;
	switch (pg->state) {
	case P_PASSWORD:
		return _(" Enter Send  Esc Back to the email  F1 Help");
	case P_RUNNING:
		return _(" Esc Cancel sending  F1 Help");
	default:
		return pg->rc == 0 ? _(" Enter/Esc Done  F1 Help") :
		    pg->job->item_gone ? _(" Esc Back to the email  F1 Help") :
		    _(" r Retry  Esc Back to the email  F1 Help");
	}
}

static void
pg_cursor(struct tui *t, void *state)
{
	struct progress *pg = state;

	(void)t;
	if (pg->pwform != NULL)
		tform_cursor(pg->pwform);
	else
		curs_set(0);
}

const struct dm_screen scr_progress = {
	.name = N_("Sending"),
	.help = N_("The email is stored in the outbox first, then sent; it leaves the\n"
	"outbox only when the server has accepted it.\n"
	"  Esc     while sending: asks, then cancels\n"
	"  r       after a failure: try again\n"
	"  Esc     after a failure: back to the email (it stays in the\n"
	"          outbox; 'docmail outbox --retry' sends it later)\n\n"),
	.enter = pg_enter,
	.key = pg_key,
	.draw = pg_draw,
	.resize = pg_resize,
	.tick = pg_tick,
	.leave = pg_leave,
	.keybar = pg_keybar,
	.cursor = pg_cursor,
};
