/*
 * scr-batch.c - a batch: one email per document, over one session
 *
 * The table first: what dm_batch_check() makes of every document
 * (document, To, Subject, size), Enter showing one message in full in
 * the preview, and "Send N emails to M recipients? (y/n)".  Then a
 * thread stores every message in the outbox (dm_batch_store: all or
 * nothing) and sends them in order over one session (dm_batch_send),
 * paced to the profile's max_per_minute, as "docmail batch" does.  Each
 * result arrives through the run's callback as a line under a mutex
 * and wakes the loop; Esc stops after the message in flight, and what
 * was not sent waits in the outbox.  Lines are kept whole and cut to
 * the width when drawn, so a resize only repaints.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docmail/batch.h>
#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/i18n.h>
#include <docmail/compose.h>
#include <docmail/deliver.h>
#include <docmail/outbox.h>
#include <docmail/secret.h>

#include "job.h"
#include "screens.h"
#include "send.h"
#include "tform.h"

enum bstate {
	B_TABLE,	/* the table and the question */
	B_PASSWORD,	/* asking for it */
	B_RUNNING,	/* the thread stores and sends */
	B_DONE		/* the thread ended and was joined */
};

/* One result line, as it arrived. */
struct bline {
	char			*text;
	enum dm_batch_fate	 fate;
	int			 skipped;	/* an earlier run's */
};

struct batch {
	struct scr_batch_arg	*arg;
	const struct dm_config	*cfg;		/* the tui's */
	const struct dm_profile	*p;		/* the tui's */
	enum bstate		 state;
	struct dm_batch_opts	 bo;
	char			**path;		/* owned copies */
	char			**name;		/* base names, printable */
	struct dm_batch_doc	*docs;
	size_t			 n;
	size_t			 nbad;		/* cannot be sent */
	size_t			 nrcpt;		/* envelope recipients */
	size_t			 nskip;		/* an earlier run's */
	size_t			 nwait;		/* of those, in the outbox */
	/* What goes: go[k] is docs[goidx[k]], its fields borrowed. */
	struct dm_batch_doc	*go;
	size_t			*goidx;
	size_t			 ngo;
	char			*dir;		/* the outbox */
	int			 namew;		/* the widest name */
	size_t			 sel, top;	/* the table */
	/* One message in full (the preview). */
	struct send_job		 job;
	struct tform		*pwform;
	struct dm_secret	 pw;

	/* The run: the thread's until joined. */
	struct dm_outbox_item	*items;
	char			**bcc;
	struct dm_batch_msg	*msgs;
	struct job		 bg;		/* cancel: the one in flight too */
	atomic_int		 stop;		/* after the one in flight */
	size_t			 ltop;		/* first line shown */
	size_t			 lsel;		/* the line shown in full */

	/* Under bg's lock, written by the thread. */
	struct bline		*lines;
	size_t			 nlines;
	size_t			 sent, kept, refused;
	int			 stage;		/* 0 outbox, 1 smtp */
	struct timespec		 since;		/* last sign of life */
	/* Written by the thread; read after the join. */
	int			 stored;	/* all are in the outbox */
	int			 rc;
	struct dm_err		 err;
};

static const struct tf_spec pw_spec[] = {
	{ N_("Password"), TF_SECRET, 40, 0, NULL }
};

/* Rows of the table. */
#define ROW_INFO	1
#define ROW_HEAD	2
#define ROW_FIRST	3
#define ROW_DETAIL	(LINES - 5)	/* two rows */
#define ROW_QUESTION	(LINES - 3)
#define TABLE_ROWS	(ROW_DETAIL - ROW_FIRST)

/* Rows of the run. */
#define ROW_WHAT	2
#define ROW_BAR		3
#define ROW_NOW		4
#define ROW_WHY		5
#define ROW_LINES	7
#define ROW_FULL	(LINES - 6)	/* after the run: one line in full */
#define FULL_ROWS	3
#define LINE_ROWS	(ROW_FULL - 1 - ROW_LINES)

/* --- text ------------------------------------------------------------- */

/* s made printable, malloc'd; NULL when out of memory. */
static char *
printable(const char *s)
{
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, 0);
	if (dm_buf_add_printable(&b, s, strlen(s), &err) == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

/*
 * s at row, col in width columns; when it does not fit, it ends in
 * "..." so that a cut is never taken for the whole text.
 */
static void
put_cut(int row, int col, int width, const char *s, attr_t a)
{
	if (width <= 3 || dm_text_width(s) <= width) {
		tui_put(row, col, width, s, a);
		return;
	}
	tui_put(row, col, width - 3, s, a);
	tui_put(row, col + width - 3, 3, "...", a);
}

/*
 * Up/Down/PgUp/PgDn/Home/End (and k, j) move *pos among n rows, page at
 * a time; returns 0 when ch is none of them.
 */
static int
move_key(int is_key, wint_t ch, size_t *pos, size_t n, size_t page)
{
	size_t last = n > 0 ? n - 1 : 0;

	if (!is_key)
		ch = ch == 'k' ? KEY_UP : ch == 'j' ? KEY_DOWN : 0;
	switch (ch) {
	case KEY_UP:
		*pos = *pos > 0 ? *pos - 1 : 0;
		return 1;
	case KEY_DOWN:
		*pos = *pos < last ? *pos + 1 : last;
		return 1;
	case KEY_PPAGE:
		*pos = *pos > page ? *pos - page : 0;
		return 1;
	case KEY_NPAGE:
		*pos = *pos + page < last ? *pos + page : last;
		return 1;
	case KEY_HOME:
		*pos = 0;
		return 1;
	case KEY_END:
		*pos = last;
		return 1;
	}
	return 0;
}

/* --- the run: the thread's side ----------------------------------------- */

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct batch *b = arg;

	/* Steps only: data moves too often to wake the loop for each. */
	if (ev->kind != DM_EV_STEP)
		return;
	job_lock(&b->bg);
	dm_clock_now(&b->since);
	job_unlock(&b->bg);
	job_wake(&b->bg);
}

/*
 * A result line's first word, in the user's language (the CLI keeps the
 * English words, which scripts read), padded to the widest of the four
 * as the terminal counts columns: the documents after it stay in one
 * column.  Eight at least, the column the English lines always had.
 */
static const char *const result_word[] = {
	/*
	 * TRANSLATORS: a batch result line's first word: kept in the
	 * outbox, sent, refused for good (and "skipped").  Short: the
	 * line has 80 columns.
	 */
	[DM_BATCH_WAITING] = N_("kept"),
	[DM_BATCH_SENT] = N_("ok"),
	[DM_BATCH_REFUSED] = N_("refused")
};

static int
result_pad(const char *word)
{
	const char *w[] = { _(result_word[DM_BATCH_WAITING]),
	    _(result_word[DM_BATCH_SENT]), _(result_word[DM_BATCH_REFUSED]),
	    _("skipped") };
	int n = dm_text_widest(w, sizeof w / sizeof w[0]);

	return (n > 8 ? n : 8) - dm_text_width(word);
}

/* One line per message as its result arrives: as "docmail batch" says. */
static void
on_result(void *arg, size_t i, const struct dm_batch_msg *m)
{
	struct batch *b = arg;
	struct dm_buf who, why, line;
	struct dm_err e;
	struct bline *nl;
	const char *what;

	dm_buf_init(&who, 0);
	dm_buf_init(&why, 0);
	dm_buf_init(&line, 0);
	(void)dm_batch_msg_result(m, &who, &why);
	what = _(result_word[m->fate]);
	(void)dm_buf_addf(&line, &e, "%s%*s %s  %s  %s", what,
	    result_pad(what), "", b->name[b->goidx[i]], dm_buf_str(&who),
	    dm_buf_str(&why));
	job_lock(&b->bg);
	if (m->fate == DM_BATCH_SENT)
		b->sent++;
	else if (m->fate == DM_BATCH_REFUSED)
		b->refused++;
	else
		b->kept++;
	dm_clock_now(&b->since);
	/* n lines at most, one a message: room was made before the run. */
	nl = &b->lines[b->nlines];
	if (b->nlines < b->n && (nl->text = dm_buf_detach(&line)) != NULL) {
		nl->fate = m->fate;
		b->nlines++;
	}
	job_unlock(&b->bg);
	dm_buf_release(&who);
	dm_buf_release(&why);
	dm_buf_release(&line);
	job_wake(&b->bg);
}

static void
run(void *arg)
{
	struct batch *b = arg;
	struct dm_smtp_params sp;
	struct dm_batch_run br;
	struct dm_err err;
	size_t i;
	int r = -1;

	dm_err_clear(&err);
	if (dm_batch_store(b->dir, b->cfg, b->p, &b->bo, b->go, b->ngo,
	    b->items, b->bcc, &err) == -1)
		goto out;
	for (i = 0; i < b->ngo; i++) {
		b->msgs[i].it = &b->items[i];
		b->msgs[i].bcc = b->bcc[i];
	}
	job_lock(&b->bg);
	b->stored = 1;
	b->stage = 1;
	dm_clock_now(&b->since);
	job_unlock(&b->bg);
	job_wake(&b->bg);
	dm_deliver_params(b->p, &b->pw, &sp);
	sp.event = on_event;
	sp.arg = b;
	sp.cancel = job_cancel_flag(&b->bg);
	memset(&br, 0, sizeof br);
	br.rate = b->p->max_per_minute;
	br.stop = &b->stop;
	br.result = on_result;
	br.arg = b;
	r = dm_batch_send(b->p, &sp, b->msgs, b->ngo, &br, &err);
out:
	job_lock(&b->bg);
	b->rc = r;
	b->err = err;
	job_unlock(&b->bg);
}

/* --- the run: the screen's side ----------------------------------------- */

static void
run_release(struct batch *b)
{
	size_t i;

	for (i = 0; b->msgs != NULL && i < b->ngo; i++)
		dm_batch_msg_release(&b->msgs[i]);
	for (i = 0; b->items != NULL && i < b->ngo; i++)
		dm_outbox_item_release(&b->items[i]);
	for (i = 0; b->bcc != NULL && i < b->ngo; i++)
		free(b->bcc[i]);
	free(b->msgs);
	free(b->items);
	free(b->bcc);
	b->msgs = NULL;
	b->items = NULL;
	b->bcc = NULL;
}

static int
start(struct tui *t, struct batch *b)
{
	struct dm_err err;
	size_t i;

	/* A start that failed before may have left lines. */
	for (i = 0; b->lines != NULL && i < b->nlines; i++)
		free(b->lines[i].text);
	free(b->lines);
	b->nlines = 0;
	b->items = calloc(b->ngo, sizeof *b->items);
	b->bcc = calloc(b->ngo, sizeof *b->bcc);
	b->msgs = calloc(b->ngo, sizeof *b->msgs);
	b->lines = calloc(b->n, sizeof *b->lines);
	if (b->items == NULL || b->bcc == NULL || b->msgs == NULL ||
	    b->lines == NULL) {
		run_release(b);
		dm_err_set(&err, DM_ENOMEM, _("out of memory"));
		tui_error(t, &err);
		return -1;
	}
	for (i = 0; i < b->ngo; i++)
		b->msgs[i].lockfd = -1;
	/* The skipped ones first, as the CLI lists them. */
	for (i = 0; i < b->n; i++) {
		struct bline *l = &b->lines[b->nlines];

		if (b->docs[i].skip == DM_BATCH_NEW)
			continue;
		if (asprintf(&l->text, "%s%*s %s  %s", _("skipped"),
		    result_pad(_("skipped")), "", b->name[i],
		    b->docs[i].skip_why) == -1) {
			l->text = NULL;
			continue;
		}
		l->skipped = 1;
		b->nlines++;
	}
	b->stage = 0;
	dm_clock_now(&b->since);
	if (job_start(&b->bg, run, b) == -1) {
		run_release(b);
		dm_err_set(&err, DM_EINTERNAL, _("cannot start sending"));
		tui_error(t, &err);
		return -1;
	}
	b->state = B_RUNNING;
	tui_status(t, "%s", _("sending... (Esc stops after the current message)"));
	return 0;
}

/*
 * For the list: what is now sent or waits in the outbox, also what an
 * earlier run dealt with, loses its mark (marked again, it would only
 * be skipped again, or, stored twice, sent twice).
 */
static void
mark_done(struct batch *b)
{
	size_t k;

	b->arg->finished = 1;
	if (b->arg->stored == NULL)
		return;
	for (k = 0; k < b->n; k++)
		if (b->docs[k].skip != DM_BATCH_NEW)
			b->arg->stored[k] = 1;
	for (k = 0; b->stored && k < b->ngo; k++)
		b->arg->stored[b->goidx[k]] = 1;
}

/* After the join: the summary, as the CLI's, and what to do next. */
static void
finish(struct tui *t, struct batch *b)
{
	size_t i;

	job_join(&b->bg);
	b->state = B_DONE;
	if (b->rc != 0 && b->err.code == DM_EAUTH)
		send_password_forget(t);
	mark_done(b);
	run_release(b);
	/* The first line that did not go well is the one shown whole. */
	for (i = 0; i < b->nlines; i++)
		if (b->lines[i].fate != DM_BATCH_SENT && !b->lines[i].skipped) {
			b->lsel = i;
			break;
		}
	if (!b->stored) {
		tui_error(t, &b->err);
		return;
	}
	if (b->rc == 0 && b->nwait > 0)
		tui_status(t, ngettext("%zu skipped document waits in the outbox from an earlier run: o shows the outbox",
		    "%zu skipped documents wait in the outbox from an earlier run: o shows the outbox",
		    b->nwait), b->nwait);
	else if (b->rc == 0)
		tui_status(t, _("batch: %zu sent, %zu kept in the outbox, %zu refused"),
		    b->sent, b->kept, b->refused);
	else
		tui_error(t, &b->err);
}

/* --- the table ------------------------------------------------------ */

struct cols {
	int	x[4];
	int	w[4];
};

/*
 * Document, To, Subject, size: the document as wide as the longest
 * name (within bounds), To and Subject share what is left.
 */
static void
columns(const struct batch *b, struct cols *c)
{
	int rest;

	c->w[0] = b->namew < 8 ? 8 : b->namew > 24 + (COLS - 80) / 4 ?
	    24 + (COLS - 80) / 4 : b->namew;
	c->w[3] = 8;			/* "999.9 KB" */
	c->x[0] = 2;
	c->x[1] = c->x[0] + c->w[0] + 1;
	c->x[3] = COLS - 1 - c->w[3];
	rest = c->x[3] - 1 - c->x[1];
	c->w[1] = rest / 2;
	c->x[2] = c->x[1] + c->w[1] + 1;
	c->w[2] = c->x[3] - 1 - c->x[2];
}

static void
draw_row(struct tui *t, struct batch *b, size_t i)
{
	const struct dm_batch_doc *d = &b->docs[i];
	struct cols c;
	char size[32], line[512];
	int row = ROW_FIRST + (int)(i - b->top), k;
	attr_t a = i == b->sel ? A_REVERSE : A_NORMAL;

	columns(b, &c);
	attron(a);
	for (k = 0; k < COLS; k++)
		mvaddch(row, k, ' ');
	attroff(a);
	/* A mark that needs no colour or reverse video to be seen. */
	tui_put(row, 0, 2, i == b->sel ? ">" : "", a);
	put_cut(row, c.x[0], c.w[0], b->name[i], a);
	if (d->err != NULL) {
		put_cut(row, c.x[1], COLS - 1 - c.x[1], d->err->msg,
		    a | tui_attr(t, TC_ERROR));
		return;
	}
	if (d->skip != DM_BATCH_NEW) {
		(void)snprintf(line, sizeof line, _("skipped: %s"), d->skip_why);
		put_cut(row, c.x[1], COLS - 1 - c.x[1], line,
		    a | tui_attr(t, TC_MARK));
		return;
	}
	put_cut(row, c.x[1], c.w[1], d->to, a);
	put_cut(row, c.x[2], c.w[2], d->subject, a);
	send_size(size, sizeof size, (unsigned long long)d->size);
	k = dm_text_width(size);
	tui_put(row, c.x[3] + (k < c.w[3] ? c.w[3] - k : 0), k < c.w[3] ? k :
	    c.w[3], size, a);
}

static void
draw_table(struct tui *t, struct batch *b)
{
	const struct dm_batch_doc *d;
	struct cols c;
	char line[512], q[160], rc[64], pace[64], skip[48];
	size_t i;
	int k;

	(void)snprintf(pace, sizeof pace, _(", at most %d a minute"),
	    b->p->max_per_minute);
	(void)snprintf(skip, sizeof skip, _(", %zu skipped"), b->nskip);
	/*
	 * TRANSLATORS: "3 documents, 1 skipped, via host:587 (starttls),
	 * at most 20 a minute"; the first %s is ", 1 skipped", the last
	 * ", at most 20 a minute".
	 */
	(void)snprintf(line, sizeof line,
	    ngettext("%zu document%s, via %s:%d (%s)%s",
	    "%zu documents%s, via %s:%d (%s)%s", b->n), b->n,
	    b->nskip > 0 ? skip : "", b->p->host,
	    dm_profile_port(b->p), dm_security_name(b->p->security),
	    b->p->max_per_minute > 0 ? pace : "");
	put_cut(ROW_INFO, 0, COLS, line, A_NORMAL);
	columns(b, &c);
	/* TRANSLATORS: column heads of the batch table; Size gets 8 columns. */
	tui_put(ROW_HEAD, c.x[0], c.w[0], _("Document"), A_BOLD);
	tui_put(ROW_HEAD, c.x[1], c.w[1], _("To"), A_BOLD);
	tui_put(ROW_HEAD, c.x[2], c.w[2], _("Subject"), A_BOLD);
	/* Right-aligned over the sizes, as wide as the column allows. */
	k = dm_text_width(_("Size"));
	if (k > c.w[3])
		k = c.w[3];
	tui_put(ROW_HEAD, c.x[3] + c.w[3] - k, k, _("Size"), A_BOLD);
	for (i = b->top; i < b->n && i < b->top + (size_t)TABLE_ROWS; i++)
		draw_row(t, b, i);
	/* The selected message in two lines: To, or why it does not go. */
	d = &b->docs[b->sel];
	if (d->err != NULL)
		(void)tui_put_wrap(ROW_DETAIL, 2, COLS - 4, 2,
		    d->err->hint[0] != '\0' ? d->err->hint : d->err->msg,
		    tui_attr(t, TC_ERROR));
	else if (d->skip != DM_BATCH_NEW) {
		(void)snprintf(line, sizeof line, _("Skipped: %s%s"), d->skip_why,
		    d->skip == DM_BATCH_SKIP_SENT ?
		    _("; to send it again, open it alone with Enter in the list") :
		    "");
		(void)tui_put_wrap(ROW_DETAIL, 2, COLS - 4, 2, line,
		    tui_attr(t, TC_MARK));
	} else {
		(void)snprintf(line, sizeof line, _("To: %s"), d->to);
		(void)tui_put_wrap(ROW_DETAIL, 2, COLS - 4, 2, line, A_NORMAL);
	}
	if (b->nbad > 0)
		(void)snprintf(q, sizeof q,
		    ngettext("%zu of %zu cannot be sent: nothing will be (Esc, then fix or unmark it)",
		    "%zu of %zu cannot be sent: nothing will be (Esc, then fix or unmark them)",
		    b->nbad), b->nbad, b->n);
	else if (b->ngo == 0)
		(void)snprintf(q, sizeof q, "%s",
		    _("Nothing to send: an earlier run dealt with every document"));
	else {
		/* TRANSLATORS: the end of "Send 3 emails to 4 recipients?" */
		(void)snprintf(rc, sizeof rc, ngettext("%zu recipient",
		    "%zu recipients", b->nrcpt), b->nrcpt);
		/* TRANSLATORS: write your letters for yes and no: (j/n). */
		(void)snprintf(q, sizeof q, ngettext("Send %zu email to %s? (y/n)",
		    "Send %zu emails to %s? (y/n)", b->ngo), b->ngo, rc);
	}
	put_cut(ROW_QUESTION, 2, COLS - 4, q, b->nbad > 0 ?
	    tui_attr(t, TC_ERROR) : tui_attr(t, TC_MARK) | A_BOLD);
}

/* Keeps the selection on the page. */
static void
scroll_to_sel(struct batch *b)
{
	size_t page = TABLE_ROWS > 0 ? (size_t)TABLE_ROWS : 1;

	if (b->sel < b->top)
		b->top = b->sel;
	else if (b->sel >= b->top + page)
		b->top = b->sel - page + 1;
	if (b->top + page > b->n)
		b->top = b->n > page ? b->n - page : 0;
}

/* Enter: the selected message in full, in the send dialog's preview. */
static int
show_one(struct tui *t, struct batch *b)
{
	struct dm_compose_opts o;
	struct dm_err err;

	if (b->docs[b->sel].err != NULL) {
		tui_error(t, b->docs[b->sel].err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	memset(&o, 0, sizeof o);
	o.files = (const char *const *)&b->path[b->sel];
	o.nfiles = 1;
	o.date = b->bo.date;
	o.sidecar_rcpt = 1;
	dm_compose_release(&b->job.c);
	dm_compose_init(&b->job.c);
	if (dm_compose_build(&b->job.c, b->cfg, b->p, &o, &err) == -1) {
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	b->job.profile = b->p;
	b->job.files = &b->path[b->sel];
	b->job.nfiles = 1;
	b->job.date = b->bo.date;
	b->job.view_only = 1;
	b->job.action = SEND_NONE;
	tui_status_clear(t);
	(void)tui_push(t, &scr_preview, &b->job);
	return SCR_HANDLED | SCR_REDRAW;
}

/* y: the password if it must be asked, then the thread. */
static int
confirm(struct tui *t, struct batch *b)
{
	struct dm_err err;
	int ask;

	if (b->nbad > 0) {
		dm_err_set(&err, DM_EDATA,
		    ngettext("%zu of %zu document cannot be sent: nothing was stored or sent",
		    "%zu of %zu documents cannot be sent: nothing was stored or sent",
		    b->n), b->nbad, b->n);
		dm_err_hint(&err, "%s", ngettext("Esc goes back to the list: fix its sidecar, or unmark it with Space",
		    "Esc goes back to the list: fix their sidecars, or unmark them with Space",
		    b->nbad));
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (b->ngo == 0) {
		tui_status(t, "%s", _("nothing to send: an earlier run sent every document, or left it in the outbox (o shows it)"));
		return SCR_HANDLED | SCR_REDRAW;
	}
	/* The password before the outbox: a failed prompt stores nothing. */
	if (send_password(t, b->p, &b->pw, &ask) == -1)
		return SCR_HANDLED | SCR_REDRAW;
	if (ask) {
		if ((b->pwform = tform_new(pw_spec, 1, ROW_BAR)) == NULL)
			return SCR_HANDLED | SCR_REDRAW;
		b->state = B_PASSWORD;
		tui_status(t, "%s", _("the profile has no password: type it (it is not stored)"));
		return SCR_HANDLED | SCR_REDRAW;
	}
	(void)start(t, b);
	return SCR_HANDLED | SCR_REDRAW;
}

static int
table_key(struct tui *t, struct batch *b, int is_key, wint_t ch)
{
	size_t page = TABLE_ROWS > 1 ? (size_t)TABLE_ROWS - 1 : 1;

	if (!is_key) {
		/* The question's answer keys, also in the user's language. */
		switch (tui_yn(ch)) {
		case 'y':
			return confirm(t, b);
		case 'n':
		case 27:
		case 3:		/* Ctrl-C */
			tui_status(t, "%s", _("not sent: nothing was stored in the outbox"));
			return SCR_HANDLED | SCR_CLOSE;
		case '\r':
		case '\n':
			return show_one(t, b);
		}
	} else if (ch == KEY_ENTER)
		return show_one(t, b);
	if (!move_key(is_key, ch, &b->sel, b->n, page))
		return 0;
	scroll_to_sel(b);
	return SCR_HANDLED | SCR_REDRAW;
}

/* --- the run's screen --------------------------------------------------- */

static void
draw_run(struct tui *t, struct batch *b)
{
	char line[512], now[160], label[96], skip[64], *p;
	struct timespec since;
	size_t seen, sent, kept, refused, nlines, i;
	int stage, w, fill, row, rows = LINE_ROWS > 1 ? LINE_ROWS : 1;
	attr_t a;

	job_lock(&b->bg);
	seen = b->sent + b->kept + b->refused;
	sent = b->sent;
	kept = b->kept;
	refused = b->refused;
	stage = b->stage;
	since = b->since;
	job_unlock(&b->bg);
	(void)snprintf(skip, sizeof skip, _(", %zu skipped"), b->nskip);

	if (b->p->max_per_minute > 0)
		(void)snprintf(line, sizeof line,
		    ngettext("%zu email via %s:%d (%s), at most %d a minute",
		    "%zu emails via %s:%d (%s), at most %d a minute", b->ngo),
		    b->ngo, b->p->host, dm_profile_port(b->p),
		    dm_security_name(b->p->security), b->p->max_per_minute);
	else
		(void)snprintf(line, sizeof line,
		    ngettext("%zu email via %s:%d (%s)",
		    "%zu emails via %s:%d (%s)", b->ngo), b->ngo, b->p->host,
		    dm_profile_port(b->p), dm_security_name(b->p->security));
	put_cut(ROW_WHAT, 2, COLS - 4, line, A_NORMAL);

	/* The bar counts messages settled, whatever their fate. */
	w = COLS - 30;
	fill = b->ngo > 0 ? (int)((size_t)w * seen / b->ngo) : 0;
	p = line;
	*p++ = '[';
	for (i = 0; i < (size_t)w; i++)
		*p++ = (int)i < fill ? '#' : '.';
	(void)snprintf(p, sizeof line - (size_t)(p - line),
	    /* TRANSLATORS: after the progress bar; keep "] " first. */
	    _("] %3d%%  %zu of %zu"), b->ngo > 0 ? (int)(seen * 100 / b->ngo) :
	    0, seen, b->ngo);
	tui_put(ROW_BAR, 2, COLS - 4, line, A_NORMAL);

	if (b->state == B_DONE) {
		(void)snprintf(line, sizeof line,
		    _("batch: %zu sent, %zu kept in the outbox, %zu refused%s"),
		    sent, kept, refused, b->nskip > 0 ? skip : "");
		if (!b->stored)
			(void)snprintf(line, sizeof line, "%s",
			    _("Nothing was stored or sent: a batch goes out only once every message is safely in the outbox."));
		put_cut(ROW_NOW, 2, COLS - 4, line, (b->rc == 0 ?
		    tui_attr(t, TC_OK) : tui_attr(t, TC_ERROR)) | A_BOLD);
		if (b->rc != 0)
			put_cut(ROW_WHY, 2, COLS - 4, b->err.msg,
			    tui_attr(t, TC_ERROR));
		if (kept > 0 || b->nwait > 0)
			put_cut(ROW_WHY + 1, 2, COLS - 4,
			    _("What was kept waits in the outbox: o in the list shows it, a sends it all."),
			    A_NORMAL);
	} else {
		if (stage == 0)
			(void)snprintf(label, sizeof label,
			    ngettext("storing %zu message in the outbox",
			    "storing %zu messages in the outbox", b->ngo), b->ngo);
		else if (atomic_load(&b->stop))
			(void)snprintf(label, sizeof label,
			    _("stopping after message %zu of %zu"), seen + 1,
			    b->ngo);
		else
			(void)snprintf(label, sizeof label,
			    _("sending message %zu of %zu"), seen + 1, b->ngo);
		tui_step_wait(now, sizeof now, label, &since,
		    b->p->timeout > 0 ? b->p->timeout : DM_TIMEOUT_DEFAULT);
		(void)snprintf(line, sizeof line, _("Now: %s"), now);
		put_cut(ROW_NOW, 2, COLS - 4, line, A_NORMAL);
	}

	job_lock(&b->bg);
	nlines = b->nlines;
	/* While sending, the latest lines; after, around the selected. */
	if (b->state != B_DONE)
		b->ltop = nlines > (size_t)rows ? nlines - (size_t)rows : 0;
	else if (b->lsel < b->ltop)
		b->ltop = b->lsel;
	else if (b->lsel >= b->ltop + (size_t)rows)
		b->ltop = b->lsel - (size_t)rows + 1;
	for (i = b->ltop, row = ROW_LINES; i < nlines && row < ROW_LINES + rows;
	    i++, row++) {
		a = b->lines[i].skipped ? tui_attr(t, TC_MARK) :
		    b->lines[i].fate == DM_BATCH_SENT ? A_NORMAL :
		    b->lines[i].fate == DM_BATCH_REFUSED ?
		    tui_attr(t, TC_ERROR) : tui_attr(t, TC_MARK);
		if (b->state == B_DONE && i == b->lsel) {
			a |= A_REVERSE;
			tui_put(row, 0, 2, ">", a);
		}
		put_cut(row, 2, COLS - 4, b->lines[i].text, a);
	}
	job_unlock(&b->bg);
	if (b->state != B_DONE || nlines == 0)
		return;
	if (nlines > (size_t)rows)
		tui_put(ROW_FULL - 1, 2, COLS - 4, b->ltop + (size_t)rows <
		    nlines ? _("(more below: Down / PgDn)") : _("(end)"), A_NORMAL);
	/* The selected line whole: a cut one can always be read. */
	(void)tui_put_wrap(ROW_FULL, 2, COLS - 4, FULL_ROWS,
	    b->lines[b->lsel].text, A_NORMAL);
}

static int
done_key(struct batch *b, int is_key, wint_t ch)
{
	size_t rows = LINE_ROWS > 1 ? (size_t)LINE_ROWS : 1;

	if ((!is_key && (ch == 27 || ch == 3 || ch == '\r' || ch == '\n' ||
	    ch == 'q')) || (is_key && ch == KEY_ENTER))
		return SCR_HANDLED | SCR_CLOSE;
	if (!move_key(is_key, ch, &b->lsel, b->nlines, rows))
		return 0;
	return SCR_HANDLED | SCR_REDRAW;
}

static int
password_key(struct tui *t, struct batch *b, int is_key, wint_t ch)
{
	struct dm_err err;
	char *pw;
	int r;

	if (!is_key && (ch == 27 || ch == 3)) {
		(void)tform_set(b->pwform, 0, "");
		tform_free(b->pwform);
		b->pwform = NULL;
		b->state = B_TABLE;
		tui_status(t, "%s", _("not sent: nothing was stored in the outbox"));
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (is_key || (ch != '\r' && ch != '\n'))
		return tform_key(b->pwform, is_key, ch) &
		    (SCR_HANDLED | SCR_REDRAW);
	if ((pw = tform_get(b->pwform, 0)) == NULL)
		return SCR_HANDLED;
	r = pw[0] == '\0' ? -1 : dm_secret_set(&b->pw, pw, strlen(pw), &err);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (r == -1) {
		if (!dm_secret_isset(&b->pw)) {
			dm_err_set(&err, DM_EAUTH, _("no password given"));
			dm_err_hint(&err, _("type the password (or app password) of %s"),
			    b->p->user);
		}
		tui_error(t, &err);
		return SCR_HANDLED;
	}
	(void)tform_set(b->pwform, 0, "");
	tform_free(b->pwform);
	b->pwform = NULL;
	/* Kept for the session; dropped if the login fails. */
	send_password_keep(t, b->p, &b->pw);
	if (start(t, b) == -1)
		b->state = B_TABLE;
	return SCR_HANDLED | SCR_REDRAW;
}

/* --- the screen --------------------------------------------------------- */

static void
batch_leave(struct tui *t, void *state)
{
	struct batch *b = state;
	size_t i;

	(void)t;
	if (job_running(&b->bg)) {
		atomic_store(&b->stop, 1);
		job_cancel(&b->bg);
		job_join(&b->bg);
		mark_done(b);
	}
	run_release(b);
	if (b->pwform != NULL) {
		(void)tform_set(b->pwform, 0, "");
		tform_free(b->pwform);
	}
	dm_secret_release(&b->pw);
	dm_compose_release(&b->job.c);
	for (i = 0; i < b->n; i++) {
		if (b->docs != NULL)
			dm_batch_doc_release(&b->docs[i]);
		if (b->path != NULL)
			free(b->path[i]);
		if (b->name != NULL)
			free(b->name[i]);
	}
	for (i = 0; b->lines != NULL && i < b->nlines; i++)
		free(b->lines[i].text);
	free(b->lines);
	free(b->go);
	free(b->goidx);
	free(b->dir);
	free(b->docs);
	free(b->path);
	free(b->name);
	job_release(&b->bg);
	free(b);
}

static int
batch_enter(struct tui *t, void *arg, void **state)
{
	struct scr_batch_arg *a = arg;
	struct batch *b;
	struct dm_err err;
	size_t i, k;

	if (a == NULL || a->n == 0)
		return -1;
	if ((b = calloc(1, sizeof *b)) == NULL)
		return -1;
	b->arg = a;
	b->n = a->n;
	b->cfg = &t->cfg;
	dm_secret_init(&b->pw);
	dm_compose_init(&b->job.c);
	job_init(&b->bg, tui_waker, t);
	atomic_init(&b->stop, 0);
	/* A template or profile fixed by hand counts without a restart. */
	(void)tui_reload_if_changed(t);
	if ((b->p = tui_profile(t)) == NULL) {
		dm_err_set(&err, DM_ECONFIG, _("there is no profile to send with"));
		dm_err_hint(&err, _("set up the account first: s opens the settings"));
		goto fail;
	}
	b->path = calloc(b->n, sizeof *b->path);
	b->name = calloc(b->n, sizeof *b->name);
	b->docs = calloc(b->n, sizeof *b->docs);
	if (b->path == NULL || b->name == NULL || b->docs == NULL)
		goto nomem;
	for (i = 0; i < b->n; i++) {
		if ((b->path[i] = strdup(a->paths[i])) == NULL ||
		    (b->name[i] = printable(send_base_name(a->paths[i]))) == NULL)
			goto nomem;
		if (dm_text_width(b->name[i]) > b->namew)
			b->namew = dm_text_width(b->name[i]);
		b->docs[i].path = b->path[i];
	}
	/* One date for the check, the preview and the messages stored. */
	b->bo.date = time(NULL);
	if (dm_batch_check(b->cfg, b->p, &b->bo, b->docs, b->n, &err) == -1 &&
	    err.code == DM_ENOMEM)
		goto fail;
	/*
	 * What an earlier run (this screen's, the CLI's, one killed or
	 * stopped) sent or left in the outbox is skipped: sending it again
	 * is the one mistake a batch must never make.  When that cannot be
	 * known, nothing goes.
	 */
	if ((b->dir = dm_outbox_open(NULL, &err)) == NULL ||
	    dm_batch_earlier(b->dir, NULL, b->docs, b->n, 0, &b->nskip,
	    &err) == -1)
		goto fail;
	b->go = calloc(b->n, sizeof *b->go);
	b->goidx = calloc(b->n, sizeof *b->goidx);
	if (b->go == NULL || b->goidx == NULL)
		goto nomem;
	for (i = 0; i < b->n; i++) {
		if (b->docs[i].err != NULL) {
			b->nbad++;
			continue;
		}
		/* What the table shows comes from files: made printable. */
		for (k = 0; k < 3; k++) {
			char **f = k == 0 ? &b->docs[i].to : k == 1 ?
			    &b->docs[i].subject : &b->docs[i].skip_why, *s;

			if (*f == NULL)
				continue;
			if ((s = printable(*f)) == NULL)
				goto nomem;
			free(*f);
			*f = s;
		}
		if (b->docs[i].skip != DM_BATCH_NEW) {
			b->nwait += b->docs[i].skip == DM_BATCH_SKIP_OUTBOX;
			continue;
		}
		b->goidx[b->ngo] = i;
		b->go[b->ngo++] = b->docs[i];
		b->nrcpt += b->docs[i].nrcpt;
	}
	/* The first that cannot go is where the eye should fall. */
	for (i = 0; i < b->n && b->nbad > 0; i++)
		if (b->docs[i].err != NULL) {
			b->sel = i;
			tui_error(t, b->docs[i].err);
			break;
		}
	if (b->nbad == 0 && b->nskip > 0)
		tui_status(t, ngettext("%zu of %zu skipped: an earlier run sent it or left it in the outbox",
		    "%zu of %zu skipped: an earlier run sent them or left them in the outbox",
		    b->nskip), b->nskip, b->n);
	else if (b->nbad == 0)
		/* TRANSLATORS: y and n: your letters for yes and no. */
		tui_status(t, "%s", _("Enter shows one email in full; y sends them all, n goes back"));
	scroll_to_sel(b);
	*state = b;
	return 0;
nomem:
	dm_err_set(&err, DM_ENOMEM, _("out of memory"));
fail:
	tui_error(t, &err);
	batch_leave(t, b);
	return -1;
}

static void
batch_draw(struct tui *t, void *state)
{
	struct batch *b = state;
	char line[512];

	switch (b->state) {
	case B_TABLE:
		draw_table(t, b);
		break;
	case B_PASSWORD:
		(void)snprintf(line, sizeof line,
		    _("Password for %s at %s (Enter sends, Esc goes back):"),
		    b->p->user, b->p->host);
		put_cut(ROW_WHAT, 2, COLS - 4, line, A_NORMAL);
		tform_draw(t, b->pwform);
		break;
	default:
		draw_run(t, b);
		break;
	}
}

static void
batch_resize(struct tui *t, void *state)
{
	struct batch *b = state;

	(void)t;
	if (b->pwform != NULL)
		(void)tform_resize(b->pwform);
	scroll_to_sel(b);
}

static int
batch_tick(struct tui *t, void *state)
{
	struct batch *b = state;

	if (b->state != B_RUNNING)
		return 0;
	if (job_done(&b->bg))
		finish(t, b);
	return SCR_REDRAW;
}

static int
batch_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct batch *b = state;

	switch (b->state) {
	case B_TABLE:
		return table_key(t, b, is_key, ch);
	case B_PASSWORD:
		return password_key(t, b, is_key, ch);
	case B_RUNNING:
		if (!is_key && (ch == 27 || ch == 3)) {
			if (!atomic_load(&b->stop)) {
				atomic_store(&b->stop, 1);
				tui_status(t, "%s", _("stopping after the current message: the rest stays in the outbox (Esc again cancels that one too)"));
			} else {
				job_cancel(&b->bg);
				tui_status(t, "%s", _("cancelling the current message: it stays in the outbox"));
			}
			return SCR_HANDLED | SCR_REDRAW;
		}
		return SCR_HANDLED;	/* nothing else while sending */
	case B_DONE:
		return done_key(b, is_key, ch);
	}
	return 0;
}

static const char *
batch_keybar(struct tui *t, void *state)
{
	struct batch *b = state;

	(void)t;
	/*
	 * TRANSLATORS: key bars, at most 80 columns; y and n are your
	 * letters for yes and no.
	 */
	switch (b->state) {
	case B_TABLE:
		return b->nbad > 0 || b->ngo == 0 ?
		    _(" Esc Back to the list  Up/Down Move  F1 Help") :
		    _(" y Send all  n/Esc Back  Enter Show one  Up/Down PgUp/PgDn Move  F1 Help");
	case B_PASSWORD:
		return _(" Enter Send  Esc Back to the table  F1 Help");
	case B_RUNNING:
		return atomic_load(&b->stop) ? _(" Esc Cancel this message too  F1 Help") :
		    _(" Esc Stop after this message  F1 Help");
	default:
		return _(" Enter/Esc Back to the list  Up/Down Show a line in full  F1 Help");
	}
}

static void
batch_cursor(struct tui *t, void *state)
{
	struct batch *b = state;

	(void)t;
	if (b->pwform != NULL)
		tform_cursor(b->pwform);
	else
		curs_set(0);
}

const struct dm_screen scr_batch = {
	.name = N_("Batch"),
	.help =
	N_("A batch: each document becomes its own email, to the recipients in\n"
	"its sidecar (to, cc, bcc), with its template's subject and text.\n"
	"All of them are checked first; then every email is stored in the\n"
	"outbox before the first is sent, and all go over one connection,\n"
	"at most max_per_minute a minute when the profile sets it.\n"
	"  Up/Down PgUp/PgDn  move in the table\n"
	"  Enter        one email in full, as its recipients will see it\n"
	"  y            send them all; n or Esc goes back, nothing sent\n"
	"  Esc          while sending: stop after the current email (the\n"
	"               rest waits in the outbox); again: stop that one too\n"
	"After the run: one line per email (ok, refused, or kept in the\n"
	"outbox), with the server's reply.\n\n"),
	.enter = batch_enter,
	.key = batch_key,
	.draw = batch_draw,
	.resize = batch_resize,
	.tick = batch_tick,
	.leave = batch_leave,
	.keybar = batch_keybar,
	.cursor = batch_cursor,
};
