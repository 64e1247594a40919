/*
 * scr-outbox.c - the outbox: what the server has not accepted yet;
 * retry one or all (in a background thread) and remove
 *
 * A retry sends the stored message byte for byte with the profile as it
 * is configured now, like "docmail outbox --retry": dm_deliver() does
 * the work, in a thread of its own, so the screen keeps answering keys
 * (Esc stops it) while the network is slow.  Which items go follows
 * dm_outbox_retry_verdict(), as on the command line: r on one item
 * names it, a on all is a plain retry that passes over refused items
 * and those that may have been delivered.  Removal goes through
 * dm_outbox_drop(), under the item's lock.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docmail/buf.h>
#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

#include "job.h"
#include "screens.h"
#include "send.h"
#include "tform.h"
#include "tui.h"

#define ROW_INFO	1
#define ROW_HEAD	2
#define ROW_FIRST	3
#define DETAIL_ROWS	6
#define ROW_DETAIL	(LINES - 3 - DETAIL_ROWS)	/* first detail row */
#define ROWS_VISIBLE	(ROW_DETAIL - 1 - ROW_FIRST)

/* One retry running in its own thread. */
struct retry_job {
	struct job		 job;
	/* Owned copies of everything the thread reads. */
	struct dm_outbox_item	 it;
	struct dm_profile	 prof;		/* sp points into it */
	struct dm_smtp_params	 sp;
	struct dm_secret	 pw;
	/* Under job's lock. */
	enum dm_smtp_step	 step;
	uint64_t		 sent, total;
	int			 percent;
	/* Set by the thread before it returns. */
	int			 result;
	struct dm_err		 err;
	int			 accepted, maybe, removed, code;
	char			 reply[DM_SMTP_TEXT_MAX];
	char			 warn[DM_ERR_MSG_MAX];
};

struct outbox {
	char			*dir;
	struct dm_outbox_item	*items;
	size_t			 n;
	size_t			 sel;
	size_t			 top;
	struct retry_job	*job;
	/* A typed password is kept in struct tui, for every screen. */
	/* Asking for the password before a retry. */
	struct tform		*pwform;
	char			*ask_id;	/* the item to retry then */
	char			 ask_text[256];
	/* Retry all: the IDs still to send, one job after another. */
	char			**queue;
	size_t			 nqueue, qnext;
	size_t			 q_sent, q_failed, q_skipped;
};

static void	finish_job(struct tui *, struct outbox *);
static int	next_in_queue(struct tui *, struct outbox *);

static const struct tf_spec pw_spec[] = {
	{ N_("Password"), TF_SECRET, 36, 0, NULL },
};

/* s with control characters escaped, in b (reset first). */
static const char *
shown(struct dm_buf *b, const char *s)
{
	struct dm_err err;

	dm_buf_reset(b);
	if (s != NULL && dm_buf_add_printable(b, s, strlen(s), &err) == -1)
		return "?";
	return dm_buf_str(b);
}

/* Refused and "may have been delivered" stand out from waiting. */
static attr_t
state_attr(struct tui *t, enum dm_outbox_state st)
{
	switch (st) {
	case DM_OB_MAYBE_SENT:
		return tui_attr(t, TC_MARK);
	case DM_OB_REFUSED:
		return tui_attr(t, TC_ERROR) | A_BOLD;
	default:
		return A_NORMAL;
	}
}

/*
 * s cut to at most max bytes at a character boundary, "..." marking a
 * cut, into out: for questions that must fit the status line.
 */
static const char *
cut(const char *s, size_t max, char *out, size_t size)
{
	size_t n = strlen(s);

	if (n <= max) {
		(void)snprintf(out, size, "%s", s);
		return out;
	}
	n = max > 3 ? max - 3 : 0;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	(void)snprintf(out, size, "%.*s...", (int)n, s);
	return out;
}

static void
fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
		(void)snprintf(buf, size, "?");
}

static void
rcpt_list(struct dm_buf *b, const struct dm_outbox_item *it)
{
	struct dm_err err;
	size_t i;

	dm_buf_reset(b);
	for (i = 0; i < it->nrcpt; i++) {
		if (i > 0)
			(void)dm_buf_addstr(b, ", ", &err);
		(void)dm_buf_add_printable(b, it->rcpt[i], strlen(it->rcpt[i]),
		    &err);
	}
}

/* Reads the outbox again, keeping the selection on the same item. */
static void
reload(struct tui *t, struct outbox *ob)
{
	struct dm_outbox_item *items;
	struct dm_err err;
	char *keep = NULL;
	size_t n, bad, i;

	/* Out of memory: the selection keeps its row, not its item. */
	if (ob->n > 0)
		keep = dm_strdup(ob->items[ob->sel].id, &err);
	if (dm_outbox_list(ob->dir, &items, &n, &bad, &err) == -1) {
		tui_error(t, &err);
		free(keep);
		return;
	}
	dm_outbox_list_free(ob->items, ob->n);
	ob->items = items;
	ob->n = n;
	if (ob->sel >= n)
		ob->sel = n > 0 ? n - 1 : 0;
	for (i = 0; keep != NULL && i < n; i++)
		if (strcmp(items[i].id, keep) == 0)
			ob->sel = i;
	free(keep);
	if (ob->top > ob->sel)
		ob->top = ob->sel;
	if (ROWS_VISIBLE > 0 && ob->sel >= ob->top + (size_t)ROWS_VISIBLE)
		ob->top = ob->sel - (size_t)ROWS_VISIBLE + 1;
	if (bad > 0)
		tui_status(t, ngettext("%zu file in the outbox could not be read (damaged or incomplete); it is left there",
		    "%zu files in the outbox could not be read (damaged or incomplete); they are left there",
		    bad), bad);
}

/* --- drawing ------------------------------------------------------------ */

struct cols {
	int	x[4];
	int	w[4];
};

static void
columns(struct cols *c)
{
	int extra = COLS - 80;

	c->w[0] = 16;
	c->w[1] = 23;
	c->w[2] = 16 + (extra > 0 ? extra / 3 : 0);
	c->x[0] = 2;
	c->x[1] = c->x[0] + c->w[0] + 1;
	c->x[2] = c->x[1] + c->w[1] + 1;
	c->x[3] = c->x[2] + c->w[2] + 1;
	c->w[3] = COLS - c->x[3] - 1;
}

static void
draw_row(struct tui *t, struct outbox *ob, size_t i)
{
	const struct dm_outbox_item *it;
	struct dm_buf b;
	struct cols c;
	char when[32];
	int row = ROW_FIRST + (int)(i - ob->top), x;
	attr_t a;

	if (i < ob->top || row >= ROW_DETAIL - 1 || i >= ob->n)
		return;
	it = &ob->items[i];
	a = i == ob->sel ? A_REVERSE : A_NORMAL;
	columns(&c);
	attron(a);
	for (x = 0; x < COLS; x++)
		mvaddch(row, x, ' ');
	attroff(a);
	fmt_time(it->created, when, sizeof when);
	dm_buf_init(&b, 8192);
	tui_put(row, c.x[0], c.w[0], when, a);
	tui_put(row, c.x[1], c.w[1], dm_outbox_state_name(it->state),
	    a | state_attr(t, it->state));
	rcpt_list(&b, it);
	tui_put(row, c.x[2], c.w[2], dm_buf_str(&b), a);
	tui_put(row, c.x[3], c.w[3], shown(&b, it->subject), a);
	dm_buf_release(&b);
}

/* The detail labels' column: the widest of this language, and a gap. */
static int
detail_w(void)
{
	/* TRANSLATORS: the detail labels of the outbox. */
	const char *labels[] = { _("ID"), _("State"), _("To"), _("Subject"),
	    _("Document"), _("Error") };
	int w = dm_text_widest(labels, sizeof labels / sizeof labels[0]) + 2;

	return w > 10 ? w : 10;
}

static void
detail_line(struct tui *t, int row, int w, const char *label,
    const char *value, attr_t a)
{
	tui_put(row, 2, w, label, tui_attr(t, TC_LABEL) | A_BOLD);
	tui_put(row, 2 + w, COLS - 3 - w, value, a);
}

static void
draw_detail(struct tui *t, struct outbox *ob)
{
	const struct dm_outbox_item *it;
	struct dm_buf b;
	char line[256];
	int r = ROW_DETAIL, i, w = detail_w();

	for (i = 0; i < DETAIL_ROWS; i++)
		tui_put(r + i, 0, COLS, "", A_NORMAL);
	if (ob->pwform != NULL) {
		tui_put(r, 2, COLS - 4, ob->ask_text, A_NORMAL);
		tform_draw(t, ob->pwform);
		return;
	}
	if (ob->n == 0)
		return;
	it = &ob->items[ob->sel];
	dm_buf_init(&b, 8192);
	(void)snprintf(line, sizeof line, ngettext("%s  (%d attempt)",
	    "%s  (%d attempts)", (unsigned long)it->attempts), it->id,
	    it->attempts);
	detail_line(t, r++, w, _("ID"), line, A_NORMAL);
	detail_line(t, r++, w, _("State"), it->state == DM_OB_MAYBE_SENT ?
	    _("may have been delivered: the connection ended after the whole message was sent") :
	    it->state == DM_OB_REFUSED ?
	    _("refused for good by the server: a skips it, r asks first, d removes it") :
	    _("waiting: the server has not accepted it"),
	    state_attr(t, it->state));
	rcpt_list(&b, it);
	detail_line(t, r++, w, _("To"), dm_buf_str(&b), A_NORMAL);
	detail_line(t, r++, w, _("Subject"), shown(&b, it->subject), A_NORMAL);
	detail_line(t, r++, w, _("Document"), it->document != NULL ?
	    shown(&b, it->document) : "-", A_NORMAL);
	detail_line(t, r++, w, _("Error"), it->last_error != NULL &&
	    it->last_error[0] != '\0' ? shown(&b, it->last_error) : "-",
	    tui_attr(t, TC_ERROR));
	dm_buf_release(&b);
}

static void
draw_info(struct tui *t, struct outbox *ob)
{
	char s[128];

	(void)t;
	if (ob->n == 0)
		(void)snprintf(s, sizeof s, "%s",
		    _("The outbox is empty: everything was sent."));
	else
		(void)snprintf(s, sizeof s,
		    ngettext("%zu message not accepted by the server yet",
		    "%zu messages not accepted by the server yet", ob->n),
		    ob->n);
	tui_put(ROW_INFO, 0, COLS, s, A_NORMAL);
}

static void
outbox_draw(struct tui *t, void *state)
{
	struct outbox *ob = state;
	struct cols c;
	size_t i;

	/*
	 * Only the top screen gets ticks: a retry that ended while the
	 * help was open is settled when this screen shows again.
	 */
	if (ob->job != NULL && job_done(&ob->job->job))
		finish_job(t, ob);
	draw_info(t, ob);
	if (ob->n > 0) {
		columns(&c);
		/* TRANSLATORS: column heads, cut to the column's width. */
		tui_put(ROW_HEAD, c.x[0], c.w[0], _("Created"), A_BOLD);
		tui_put(ROW_HEAD, c.x[1], c.w[1], _("State"), A_BOLD);
		tui_put(ROW_HEAD, c.x[2], c.w[2], _("To"), A_BOLD);
		tui_put(ROW_HEAD, c.x[3], c.w[3], _("Subject"), A_BOLD);
		for (i = ob->top; i < ob->n && i < ob->top +
		    (size_t)ROWS_VISIBLE; i++)
			draw_row(t, ob, i);
	}
	draw_detail(t, ob);
}

/* --- the retry thread ---------------------------------------------------- */

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct retry_job *j = arg;
	int wake = 0, pct;

	job_lock(&j->job);
	if (ev->kind == DM_EV_STEP && ev->ok) {
		j->step = ev->step;
		wake = 1;
	} else if (ev->kind == DM_EV_PROGRESS && ev->total > 0) {
		j->sent = ev->done;
		j->total = ev->total;
		pct = (int)(ev->done * 100 / ev->total);
		/* One wake-up per percent is plenty for the screen. */
		wake = pct != j->percent;
		j->percent = pct;
	}
	job_unlock(&j->job);
	if (wake)
		job_wake(&j->job);
}

static void
retry_thread(void *arg)
{
	struct retry_job *j = arg;
	struct dm_delivery d;
	struct dm_err err;
	int r;

	dm_err_clear(&err);
	r = dm_deliver(&j->prof, &j->sp, &j->it, NULL, &d, &err);
	dm_secret_release(&j->pw);
	job_lock(&j->job);
	j->result = r;
	j->err = err;
	j->accepted = d.mail.accepted;
	j->maybe = d.mail.maybe_delivered;
	j->removed = d.removed;
	j->code = d.mail.code;
	dm_strlcpy(j->reply, d.mail.reply, sizeof j->reply);
	/* The last one: when the item stayed, that is the one to show. */
	if (d.nwarn > 0)
		dm_strlcpy(j->warn, d.warn[d.nwarn - 1], sizeof j->warn);
	job_unlock(&j->job);
	dm_delivery_release(&d);
}

/* Stops the retry if it runs, in any state. */
static void
retry_free(struct retry_job *j)
{
	if (j == NULL)
		return;
	job_release(&j->job);
	dm_outbox_item_release(&j->it);
	dm_profile_release(&j->prof);
	dm_secret_release(&j->pw);
	free(j);
}

/* Starts sending item it (taken over) with profile p and password pw. */
static int
start_job(struct tui *t, struct outbox *ob, struct dm_outbox_item *it,
    const struct dm_profile *p, const struct dm_secret *pw)
{
	struct retry_job *j;
	struct dm_err err;

	if ((j = calloc(1, sizeof *j)) == NULL) {
		dm_outbox_item_release(it);
		return SCR_HANDLED;
	}
	job_init(&j->job, tui_waker, t);
	dm_secret_init(&j->pw);
	dm_profile_init(&j->prof);
	j->it = *it;
	memset(it, 0, sizeof *it);
	if (dm_profile_copy(&j->prof, p, &err) == -1 ||
	    (dm_secret_isset(pw) &&
	    dm_secret_set(&j->pw, pw->s, pw->len, &err) == -1)) {
		retry_free(j);
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	/* The job outlives p: the parameters point into its own copy. */
	dm_deliver_params(&j->prof, &j->pw, &j->sp);
	j->sp.event = on_event;
	j->sp.arg = j;
	j->sp.cancel = job_cancel_flag(&j->job);
	j->step = DM_STEP_RESOLVE;
	j->percent = -1;
	if (job_start(&j->job, retry_thread, j) == -1) {
		retry_free(j);
		tui_status(t, _("cannot start sending: no thread"));
		t->status_error = 1;
		return SCR_HANDLED;
	}
	ob->job = j;
	tui_status(t, _("sending %s... (Esc stops)"), j->it.id);
	return SCR_HANDLED | SCR_REDRAW;
}

/* The profile a retry uses: --profile, else the item's own. */
static const struct dm_profile *
retry_profile(struct tui *t, const struct dm_outbox_item *it,
    struct dm_err *err)
{
	if (!t->have_cfg) {
		dm_err_set(err, DM_ECONFIG, _("there is no configuration to send with"));
		dm_err_hint(err, _("press Esc, then s to set up the SMTP account"));
		return NULL;
	}
	return dm_config_profile(&t->cfg, t->opts->profile != NULL ?
	    t->opts->profile : it->profile, err);
}

/* The password is known (or not needed): send. */
static int
retry_with_password(struct tui *t, struct outbox *ob,
    struct dm_outbox_item *it)
{
	const struct dm_profile *p;
	struct dm_secret pw;
	struct dm_err err;
	int need = 0, r;

	dm_secret_init(&pw);
	if ((p = retry_profile(t, it, &err)) == NULL)
		goto fail;
	/* As the sending screen finds it: typed earlier, saved, or a command. */
	if (send_password(t, p, &pw, &need) == -1)
		goto out;
	if (need) {
		/* Asked in a field of the screen; Enter goes on. */
		free(ob->ask_id);
		if ((ob->ask_id = dm_strdup(it->id, &err)) == NULL)
			goto fail;
		(void)snprintf(ob->ask_text, sizeof ob->ask_text,
		    _("Password for %.80s at %.80s (Enter sends, Esc cancels):"),
		    p->user, p->host);
		tform_free(ob->pwform);
		if ((ob->pwform = tform_new(pw_spec, 1, ROW_DETAIL + 2)) ==
		    NULL) {
			free(ob->ask_id);
			ob->ask_id = NULL;
			goto out;
		}
		dm_outbox_item_release(it);
		tui_status(t, _("profile '%s' has no password saved: type it to send"),
		    p->id);
		return SCR_HANDLED | SCR_REDRAW;
	}
	r = start_job(t, ob, it, p, &pw);
	dm_secret_release(&pw);
	return r;
fail:
	tui_error(t, &err);
out:
	dm_secret_release(&pw);
	dm_outbox_item_release(it);
	return SCR_HANDLED | SCR_REDRAW;
}

/*
 * The selected item as it is on disk now, so that what r sends and what
 * d asks about is what another docmail left: 0, or -1 once the error is
 * shown and the list reloaded.
 */
static int
find_selected(struct tui *t, struct outbox *ob, struct dm_outbox_item *it)
{
	struct dm_err err;

	memset(it, 0, sizeof *it);
	if (dm_outbox_find(ob->dir, ob->items[ob->sel].id, it, &err) == -1) {
		tui_error(t, &err);
		reload(t, ob);
		return -1;
	}
	return 0;
}

static int
retry(struct tui *t, struct outbox *ob)
{
	struct dm_outbox_item it;

	if (ob->n == 0)
		return SCR_HANDLED;
	if (find_selected(t, ob, &it) == -1)
		return SCR_HANDLED | SCR_REDRAW;
	/* r names the selected item: asked about, never passed over. */
	if (dm_outbox_retry_verdict(it.state, DM_RETRY_NAMED) !=
	    DM_RETRY_SEND && tui_ask(t, it.state == DM_OB_REFUSED ?
	    _("the server refused this message for good -- send it again anyway? (y/n)") :
	    _("this message may have been delivered -- send it again? (y/n)"),
	    "yn") != 'y') {
		dm_outbox_item_release(&it);
		tui_status(t, _("not sent again"));
		return SCR_HANDLED;
	}
	return retry_with_password(t, ob, &it);
}

static void
queue_free(struct outbox *ob)
{
	size_t i;

	for (i = 0; i < ob->nqueue; i++)
		free(ob->queue[i]);
	free(ob->queue);
	ob->queue = NULL;
	ob->nqueue = ob->qnext = 0;
}

/* Retry all: what a plain "outbox --retry" takes, one after another. */
static int
retry_all(struct tui *t, struct outbox *ob)
{
	struct dm_err err;
	size_t i;

	if (ob->n == 0)
		return SCR_HANDLED;
	queue_free(ob);
	if ((ob->queue = calloc(ob->n, sizeof *ob->queue)) == NULL)
		return SCR_HANDLED;
	ob->q_sent = ob->q_failed = ob->q_skipped = 0;
	for (i = 0; i < ob->n; i++) {
		if (dm_outbox_retry_verdict(ob->items[i].state, 0) !=
		    DM_RETRY_SEND) {
			ob->q_skipped++;
			continue;
		}
		if ((ob->queue[ob->nqueue] = dm_strdup(ob->items[i].id,
		    &err)) == NULL) {
			queue_free(ob);
			tui_error(t, &err);
			return SCR_HANDLED | SCR_REDRAW;
		}
		ob->nqueue++;
	}
	return next_in_queue(t, ob);
}

/*
 * Starts the next item of the queue, or ends it with a summary.  Each
 * item is read again first: another docmail may have sent or changed
 * it meanwhile.
 */
static int
next_in_queue(struct tui *t, struct outbox *ob)
{
	struct dm_outbox_item it;
	struct dm_err err;
	int r;

	while (ob->qnext < ob->nqueue) {
		memset(&it, 0, sizeof it);
		if (dm_outbox_find(ob->dir, ob->queue[ob->qnext++], &it,
		    &err) == -1)
			continue;
		if (dm_outbox_retry_verdict(it.state, 0) != DM_RETRY_SEND) {
			ob->q_skipped++;
			dm_outbox_item_release(&it);
			continue;
		}
		r = retry_with_password(t, ob, &it);
		/* Neither sending nor asking: a problem for every item. */
		if (ob->job == NULL && ob->pwform == NULL)
			queue_free(ob);
		return r;
	}
	if (ob->queue == NULL)
		return SCR_HANDLED;
	queue_free(ob);
	reload(t, ob);
	if (ob->q_skipped > 0)
		tui_status(t, _("retry all: %zu sent, %zu failed, %zu skipped (refused or may have been delivered: select one and press r)"),
		    ob->q_sent, ob->q_failed, ob->q_skipped);
	else
		tui_status(t, _("retry all: %zu sent, %zu failed"), ob->q_sent,
		    ob->q_failed);
	t->status_error = ob->q_failed > 0;
	return SCR_HANDLED | SCR_REDRAW;
}

/* Enter in the password field. */
static int
password_given(struct tui *t, struct outbox *ob)
{
	struct dm_outbox_item it;
	const struct dm_profile *p;
	struct dm_secret pw;
	struct dm_err err;
	char *typed = tform_get(ob->pwform, 0);
	int r = SCR_HANDLED | SCR_REDRAW;

	memset(&it, 0, sizeof it);
	dm_secret_init(&pw);
	if (typed == NULL || typed[0] == '\0') {
		free(typed);
		tui_status(t, _("type the password (or app password), or Esc"));
		t->status_error = 1;
		return SCR_HANDLED;
	}
	tform_set(ob->pwform, 0, "");
	tform_free(ob->pwform);
	ob->pwform = NULL;
	send_password_forget(t);
	if (dm_secret_set(&pw, typed, strlen(typed), &err) == -1)
		goto fail;
	if (dm_outbox_find(ob->dir, ob->ask_id, &it, &err) == -1)
		goto fail;
	if ((p = retry_profile(t, &it, &err)) == NULL)
		goto fail;
	/* Kept for the session; dropped if the login fails. */
	send_password_keep(t, p, &pw);
	r = start_job(t, ob, &it, p, &pw);
	goto out;
fail:
	tui_error(t, &err);
	dm_outbox_item_release(&it);
	/* A retry all cannot go on without this one's password. */
	queue_free(ob);
out:
	dm_secret_release(&pw);
	explicit_bzero(typed, strlen(typed));
	free(typed);
	free(ob->ask_id);
	ob->ask_id = NULL;
	return r;
}

/* d: removes the selected item after asking, under its lock. */
static int
delete_item(struct tui *t, struct outbox *ob)
{
	struct dm_outbox_item it;
	struct dm_buf b;
	struct dm_err err;
	char q[512], subj[128], to[128];
	size_t room;

	if (ob->n == 0)
		return SCR_HANDLED;
	if (find_selected(t, ob, &it) == -1)
		return SCR_HANDLED | SCR_REDRAW;
	dm_buf_init(&b, 8192);
	/* What the status line has left for subject and recipients. */
	room = COLS > 66 ? (size_t)COLS - 58 : 8;
	cut(shown(&b, it.subject), room / 2, subj, sizeof subj);
	rcpt_list(&b, &it);
	cut(dm_buf_str(&b), room - room / 2, to, sizeof to);
	dm_buf_release(&b);
	(void)snprintf(q, sizeof q,
	    _("remove '%s' (%s) from the outbox? It will not be sent. (y/n)"),
	    subj, to);
	if (tui_ask(t, q, "yn") != 'y') {
		tui_status(t, _("kept"));
		dm_outbox_item_release(&it);
		return SCR_HANDLED;
	}
	if (dm_outbox_drop(&it, &err) == -1)
		tui_error(t, &err);
	else
		tui_status(t, _("removed %s from the outbox"), it.id);
	dm_outbox_item_release(&it);
	reload(t, ob);
	return SCR_HANDLED | SCR_REDRAW;
}

static int
move_to(struct tui *t, struct outbox *ob, long i)
{
	size_t old = ob->sel, page = ROWS_VISIBLE > 0 ? ROWS_VISIBLE : 1;

	if (ob->n == 0)
		return SCR_HANDLED;
	if (i < 0)
		i = 0;
	if ((size_t)i >= ob->n)
		i = (long)ob->n - 1;
	if ((size_t)i == old)
		return SCR_HANDLED;
	ob->sel = (size_t)i;
	if (ob->sel >= ob->top && ob->sel < ob->top + page) {
		draw_row(t, ob, old);
		draw_row(t, ob, ob->sel);
		draw_detail(t, ob);
		return SCR_HANDLED;
	}
	ob->top = ob->sel < ob->top ? ob->sel : ob->sel - page + 1;
	return SCR_HANDLED | SCR_REDRAW;
}

static int
outbox_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct outbox *ob = state;
	long page = ROWS_VISIBLE > 1 ? ROWS_VISIBLE - 1 : 1;
	int r;

	if (ob->job != NULL) {
		if (!is_key && (ch == 27 || ch == 3 || ch == 17)) {
			if (tui_ask(t, _("stop sending? (y/n)"), "yn") == 'y') {
				job_cancel(&ob->job->job);
				tui_status(t, _("stopping..."));
			}
			return SCR_HANDLED;
		}
		/* '?' still shows the help. */
		return !is_key && ch == '?' ? 0 : SCR_HANDLED;
	}
	if (ob->pwform != NULL) {
		if (!is_key && (ch == 27 || ch == 3 || ch == 17)) {
			tform_free(ob->pwform);
			ob->pwform = NULL;
			free(ob->ask_id);
			ob->ask_id = NULL;
			queue_free(ob);
			tui_status(t, _("not sent"));
			return SCR_HANDLED | SCR_REDRAW;
		}
		if ((!is_key && (ch == '\r' || ch == '\n')) ||
		    (is_key && ch == KEY_ENTER))
			return password_given(t, ob);
		r = tform_key(ob->pwform, is_key, ch);
		return r != 0 ? r : SCR_HANDLED;
	}
	if (is_key) {
		switch (ch) {
		case KEY_UP:
			return move_to(t, ob, (long)ob->sel - 1);
		case KEY_DOWN:
			return move_to(t, ob, (long)ob->sel + 1);
		case KEY_PPAGE:
			return move_to(t, ob, (long)ob->sel - page);
		case KEY_NPAGE:
			return move_to(t, ob, (long)ob->sel + page);
		case KEY_HOME:
			return move_to(t, ob, 0);
		case KEY_END:
			return move_to(t, ob, (long)ob->n - 1);
		case KEY_DC:
			return delete_item(t, ob);
		}
		return 0;
	}
	switch (ch) {
	case 27:
	case 3:		/* Ctrl-C */
	case 17:	/* Ctrl-Q */
		return SCR_HANDLED | SCR_CLOSE;
	case 'r':
		return retry(t, ob);
	case 'a':
		return retry_all(t, ob);
	case 'd':
		return delete_item(t, ob);
	case 'k':
		return move_to(t, ob, (long)ob->sel - 1);
	case 'j':
		return move_to(t, ob, (long)ob->sel + 1);
	}
	return 0;
}

/* The retry ended: its result goes to the status line. */
static void
finish_job(struct tui *t, struct outbox *ob)
{
	struct retry_job *j = ob->job;

	job_join(&j->job);
	if (j->result == 0 && j->removed)
		tui_status(t, _("sent: server said: %d %s%s%s"), j->code, j->reply,
		    j->warn[0] != '\0' ? _(" -- but ") : "", j->warn);
	else if (j->result == 0)
		tui_status(t, "%s", j->warn[0] != '\0' ? j->warn :
		    _("sent, but it stays in the outbox"));
	else {
		if (j->maybe && j->err.hint[0] == '\0')
			dm_err_hint(&j->err, _("it may have been delivered: the connection ended after the whole message was sent"));
		tui_error(t, &j->err);
		/* A wrong typed password must be asked again. */
		if (j->err.code == DM_EAUTH)
			send_password_forget(t);
	}
	if (ob->queue != NULL) {
		if (j->result == 0)
			ob->q_sent++;
		else
			ob->q_failed++;
		/* Stopped by the user, or a login that will fail again. */
		if (job_cancelled(&j->job) || j->err.code == DM_EAUTH)
			queue_free(ob);
	}
	retry_free(j);
	ob->job = NULL;
	reload(t, ob);
	if (ob->queue != NULL)
		(void)next_in_queue(t, ob);
}

static int
outbox_tick(struct tui *t, void *state)
{
	struct outbox *ob = state;
	struct retry_job *j = ob->job;
	int pct;
	enum dm_smtp_step step;

	if (j == NULL)
		return 0;
	if (job_done(&j->job)) {
		finish_job(t, ob);
		return SCR_REDRAW;
	}
	job_lock(&j->job);
	step = j->step;
	pct = j->percent;
	job_unlock(&j->job);
	if (pct >= 0)
		tui_status(t, _("sending %s: %d%% (Esc stops)"), j->it.id, pct);
	else
		tui_status(t, _("sending %s: %s... (Esc stops)"), j->it.id,
		    dm_smtp_step_label(step));
	/* The loop paints the status line; nothing else changed. */
	return 0;
}

static int
outbox_enter(struct tui *t, void *arg, void **state)
{
	struct outbox *ob;
	struct dm_err err;

	(void)arg;
	if ((ob = calloc(1, sizeof *ob)) == NULL)
		return -1;
	if ((ob->dir = dm_outbox_open(NULL, &err)) == NULL) {
		free(ob);
		tui_error(t, &err);
		return -1;
	}
	reload(t, ob);
	*state = ob;
	return 0;
}

static void
outbox_leave(struct tui *t, void *state)
{
	struct outbox *ob = state;

	(void)t;
	retry_free(ob->job);
	queue_free(ob);
	tform_free(ob->pwform);
	free(ob->ask_id);
	dm_outbox_list_free(ob->items, ob->n);
	free(ob->dir);
	free(ob);
}

static void
outbox_resize(struct tui *t, void *state)
{
	struct outbox *ob = state;
	size_t page;

	(void)t;
	if (ob->pwform != NULL)
		(void)tform_resize(ob->pwform);
	page = ROWS_VISIBLE > 0 ? ROWS_VISIBLE : 1;
	if (ob->sel >= ob->top + page)
		ob->top = ob->sel - page + 1;
}

static const char *
outbox_keybar(struct tui *t, void *state)
{
	struct outbox *ob = state;

	(void)t;
	if (ob->job != NULL)
		return _(" Esc stop sending");
	if (ob->pwform != NULL)
		return _(" Enter send  Esc cancel");
	if (ob->n == 0)
		return _(" ? help  Esc back");
	return _(" r retry  a retry all  d remove  Up/Down move  ? help  Esc back");
}

static void
outbox_cursor(struct tui *t, void *state)
{
	struct outbox *ob = state;

	(void)t;
	if (ob->pwform != NULL)
		tform_cursor(ob->pwform);
	else
		curs_set(0);
}

const struct dm_screen scr_outbox = {
	.name = N_("Outbox"),
	.help = N_("Outbox: messages the server has not accepted yet.  Each is sent\n"
	"  again byte for byte (same Message-ID and recipients) with the\n"
	"  profile as it is configured now.\n"
	"  r            retry the selected message; one that may have been\n"
	"               delivered already (the connection ended after it\n"
	"               was sent), or that the server refused for good, is\n"
	"               sent again only after you say y\n"
	"  a            retry all waiting messages, one after another;\n"
	"               refused ones and those that may have been delivered\n"
	"               are passed over, as by 'docmail outbox --retry'\n"
	"  d / Delete   remove it from the outbox: it will not be sent\n"
	"               (asks first; not while another docmail sends it)\n"
	"  Up/Down PgUp/PgDn Home/End  move\n"
	"  Esc          back (stops a retry, after asking)\n\n"),
	.enter = outbox_enter,
	.key = outbox_key,
	.draw = outbox_draw,
	.resize = outbox_resize,
	.tick = outbox_tick,
	.leave = outbox_leave,
	.keybar = outbox_keybar,
	.cursor = outbox_cursor,
};
