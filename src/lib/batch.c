/*
 * batch.c - one message per document, all over one SMTP session
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/batch.h>
#include <docmail/clock.h>
#include <docmail/i18n.h>

static void	release_fields(struct dm_batch_doc *);

void
dm_batch_doc_release(struct dm_batch_doc *d)
{
	free(d->err);
	d->err = NULL;
	release_fields(d);
}

/* What dm_batch_check() describes a good document with. */
static void
release_fields(struct dm_batch_doc *d)
{
	size_t i;

	free(d->to);
	free(d->skip_why);
	d->skip_why = NULL;
	d->skip = DM_BATCH_NEW;
	free(d->subject);
	free(d->sender);
	for (i = 0; d->rcpt != NULL && i < d->nrcpt; i++)
		free(d->rcpt[i]);
	free(d->rcpt);
	d->to = d->subject = d->sender = NULL;
	d->rcpt = NULL;
	d->nrcpt = 0;
}

static int
build(struct dm_compose *c, const struct dm_config *cfg,
    const struct dm_profile *p, const struct dm_batch_opts *o,
    const char *path, struct dm_err *err)
{
	struct dm_compose_opts co;
	struct dm_mime *m;
	int r;

	/*
	 * The file first: a missing document is that, not one without a
	 * sidecar (the mime module's checks and words, on a scratch message).
	 */
	if ((m = dm_mime_new(err)) == NULL)
		return -1;
	r = dm_mime_add_file(m, path, NULL, err);
	dm_mime_free(m);
	if (r == -1)
		return -1;
	memset(&co, 0, sizeof co);
	co.template_id = o->template_id;
	co.vars = o->vars;
	co.files = &path;
	co.nfiles = 1;
	co.date = o->date;
	co.sidecar_rcpt = 1;
	return dm_compose_build(c, cfg, p, &co, err);
}

/* What the table and the dry run show of a good document. */
static int
describe(struct dm_batch_doc *d, const struct dm_compose *c,
    struct dm_err *err)
{
	struct dm_buf b;
	size_t i;

	dm_buf_init(&b, 0);
	for (i = 0; i < c->to.n; i++)
		if ((i > 0 && dm_buf_addstr(&b, ", ", err) == -1) ||
		    dm_addr_format_display(&c->to.v[i], &b, err) == -1) {
			dm_buf_release(&b);
			return -1;
		}
	if ((d->to = dm_buf_detach(&b)) == NULL ||
	    (d->subject = dm_strdup(c->subject, err)) == NULL ||
	    (d->sender = dm_strdup(c->sender, err)) == NULL ||
	    (d->rcpt = calloc(c->rcpt.n + 1, sizeof *d->rcpt)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	for (i = 0; i < c->rcpt.n; i++, d->nrcpt++)
		if ((d->rcpt[i] = dm_strdup(c->rcpt.v[i].mailbox, err)) ==
		    NULL)
			return -1;
	d->size = dm_mime_size(c->mime);
	return 0;
}

int
dm_batch_check(const struct dm_config *cfg, const struct dm_profile *p,
    const struct dm_batch_opts *o, struct dm_batch_doc *docs, size_t n,
    struct dm_err *err)
{
	struct dm_compose c;
	struct dm_err e;
	const struct dm_err *first = NULL;
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		struct dm_batch_doc *d = &docs[i];

		free(d->err);
		d->err = NULL;
		dm_err_clear(&e);
		dm_compose_init(&c);
		if (build(&c, cfg, p, o, d->path, &e) == -1 ||
		    describe(d, &c, &e) == -1) {
			dm_compose_release(&c);
			release_fields(d);
			/* Made only for a bad one: 1 KiB each, of 500 good. */
			if (e.code != DM_ENOMEM &&
			    (d->err = malloc(sizeof *d->err)) == NULL)
				dm_err_set(&e, DM_ENOMEM, _("out of memory"));
			if (e.code == DM_ENOMEM) {
				*err = e;
				return -1;
			}
			/* Each line names its document, whatever failed. */
			if (strstr(e.msg, d->path) == NULL)
				dm_err_prefix(&e, "'%s'", d->path);
			*d->err = e;
			if (first == NULL)
				first = d->err;
			bad++;
			continue;
		}
		dm_compose_release(&c);
	}
	if (bad == 0)
		return 0;
	dm_err_set(err, first->code,
	    ngettext("%zu of %zu document cannot be sent: nothing was stored or sent",
	    "%zu of %zu documents cannot be sent: nothing was stored or sent",
	    n), bad, n);
	return dm_err_hint(err, _("fix what is said above for each document, then run the batch again"));
}

static const char *
file_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Whether mailbox a is one of d's recipients (domains ignore case). */
static int
is_rcpt(const struct dm_batch_doc *d, const char *a, size_t len)
{
	size_t i;

	for (i = 0; i < d->nrcpt; i++)
		if (strlen(d->rcpt[i]) == len &&
		    strncasecmp(d->rcpt[i], a, len) == 0)
			return 1;
	return 0;
}

/* The first of the comma-separated list that is one of d's, or NULL. */
static const char *
logged_rcpt(const struct dm_batch_doc *d, const char *list, size_t *len)
{
	const char *p = list, *end;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ',');
		*len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (*len > 0 && p[*len - 1] == ' ')
			(*len)--;
		if (*len > 0 && is_rcpt(d, p, *len))
			return p;
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

static int
skip_outbox(struct dm_batch_doc *d, const struct dm_outbox_item *it,
    const char *who, size_t wlen, struct dm_err *err)
{
	struct dm_buf b;
	int r;

	dm_buf_init(&b, 0);
	r = dm_buf_addf(&b, err, _("waits in the outbox for %.*s, from an earlier run: "),
	    (int)wlen, who);
	if (r == 0 && it->state == DM_OB_MAYBE_SENT)
		r = dm_buf_addf(&b, err, _("it may have been delivered (the connection ended before the server's answer); 'docmail outbox --retry --force %s' sends it again"),
		    it->id);
	else if (r == 0 && it->state == DM_OB_REFUSED)
		r = dm_buf_addf(&b, err, _("the server refused it for good ('docmail outbox' shows why); 'docmail outbox --retry --force %s' sends it again"),
		    it->id);
	else if (r == 0)
		r = dm_buf_addf(&b, err, _("'docmail outbox --retry' sends it (item %s)"),
		    it->id);
	if (r == -1 ||
	    (d->skip_why = dm_buf_detach(&b)) == NULL) {
		dm_buf_release(&b);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	d->skip = DM_BATCH_SKIP_OUTBOX;
	return 0;
}

static int
skip_sent(struct dm_batch_doc *d, const struct dm_sent *s, const char *who,
    size_t wlen, struct dm_err *err)
{
	struct dm_buf b;
	struct tm tm;
	char when[64];

	(void)snprintf(when, sizeof when, "%s", _("earlier"));
	if (localtime_r(&s->when, &tm) != NULL)
		(void)strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	dm_buf_init(&b, 0);
	if (dm_buf_addf(&b, err, _("sent to %.*s on %s (sent log)"),
	    (int)wlen, who, when) == -1 ||
	    (d->skip_why = dm_buf_detach(&b)) == NULL) {
		dm_buf_release(&b);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	d->skip = DM_BATCH_SKIP_SENT;
	return 0;
}

int
dm_batch_earlier(const char *dir, const char *sentlog,
    struct dm_batch_doc *docs, size_t n, int resend, size_t *nskip,
    struct dm_err *err)
{
	struct dm_outbox_item *items = NULL;
	struct dm_sent *sent = NULL;
	size_t nitems = 0, nsent = 0, i, k, j, len;
	const char *who;
	int r = -1;

	*nskip = 0;
	if (dm_outbox_list(dir, &items, &nitems, NULL, err) == -1)
		return dm_err_prefix(err, _("cannot tell which documents an earlier run left in the outbox"));
	if (!resend && dm_sentlog_load(sentlog, &sent, &nsent, NULL, err) == -1) {
		dm_err_prefix(err, _("cannot tell which documents were sent before"));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct dm_batch_doc *d = &docs[i];
		const char *name = file_name(d->path);

		if (d->err != NULL || d->skip != DM_BATCH_NEW)
			continue;
		for (k = 0; k < nitems && d->skip == DM_BATCH_NEW; k++) {
			if (items[k].document == NULL ||
			    strcmp(items[k].document, name) != 0)
				continue;
			for (j = 0; j < items[k].nrcpt; j++) {
				who = items[k].rcpt[j];
				if (!is_rcpt(d, who, strlen(who)))
					continue;
				if (skip_outbox(d, &items[k], who, strlen(who),
				    err) == -1)
					goto out;
				break;
			}
		}
		/* The newest first: the date said is the last sending. */
		for (k = nsent; k > 0 && d->skip == DM_BATCH_NEW; k--) {
			const struct dm_sent *s = &sent[k - 1];

			if (s->document == NULL || strcmp(s->document, name) != 0 ||
			    (who = logged_rcpt(d, s->rcpt, &len)) == NULL)
				continue;
			if (skip_sent(d, s, who, len, err) == -1)
				goto out;
		}
		if (d->skip != DM_BATCH_NEW)
			(*nskip)++;
	}
	r = 0;
out:
	dm_outbox_list_free(items, nitems);
	dm_sentlog_free(sent, nsent);
	return r;
}

/*
 * Storing a batch: each message is composed, written and flushed by one
 * of a few workers, so that one message's disk flush overlaps the next
 * one's composing and the file system can commit several flushes at
 * once (on a virtio disk 100 flushes in a row took 45 ms, four at a
 * time 20 ms).  Memory holds one message per worker.
 */
#define STORE_WORKERS	4
#define WORKERS_MAX	4

/*
 * Runs fn(arg) in this thread and in up to workers - 1 more (as many
 * as can start), and returns when all of them have.
 */
static void
run_workers(void *(*fn)(void *), void *arg, size_t workers)
{
	pthread_t t[WORKERS_MAX - 1];
	size_t k, nt = 0;

	if (workers > WORKERS_MAX)
		workers = WORKERS_MAX;
	for (k = 1; k < workers; k++)
		if (pthread_create(&t[nt], NULL, fn, arg) == 0)
			nt++;
	(void)fn(arg);
	for (k = 0; k < nt; k++)
		pthread_join(t[k], NULL);
}

struct store_run {
	const char			*dir;
	const struct dm_config		*cfg;
	const struct dm_profile		*p;
	const struct dm_batch_opts	*o;
	const struct dm_batch_doc	*docs;
	struct dm_outbox_item		*items;
	char				**bcc;
	unsigned char			*stored;	/* items[i] is in the outbox */
	size_t				 n;
	pthread_mutex_t			 lock;		/* next, failed, err */
	size_t				 next;		/* the next document to take */
	size_t				 failed;	/* the first that failed; n: none */
	struct dm_err			 err;		/* why */
};

static int
store_one(struct store_run *s, size_t i, struct dm_err *err)
{
	struct dm_compose c;
	int r;

	dm_compose_init(&c);
	r = build(&c, s->cfg, s->p, s->o, s->docs[i].path, err);
	if (r == 0)
		r = dm_compose_store(&c, s->p, s->dir, &s->items[i],
		    DM_SYNC_LATER, err);
	s->stored[i] = r == 0;
	if (r == 0 && c.bcc.n > 0 &&
	    (s->bcc[i] = dm_compose_bcc(&c, err)) == NULL)
		r = -1;
	dm_compose_release(&c);
	return r;
}

/*
 * Takes documents in order until none is left or one failed.  As they
 * are taken in order, every document before the first that failed was
 * tried: the error told is always that of the first bad one.
 */
static void *
store_worker(void *arg)
{
	struct store_run *s = arg;
	struct dm_err e;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		i = s->next;
		if (i < s->n && s->failed == s->n)
			s->next++;
		else
			i = s->n;
		pthread_mutex_unlock(&s->lock);
		if (i == s->n)
			return NULL;
		dm_err_clear(&e);
		if (store_one(s, i, &e) == 0)
			continue;
		pthread_mutex_lock(&s->lock);
		if (i < s->failed) {
			s->failed = i;
			s->err = e;
		}
		pthread_mutex_unlock(&s->lock);
	}
}

int
dm_batch_store(const char *dir, const struct dm_config *cfg,
    const struct dm_profile *p, const struct dm_batch_opts *o,
    const struct dm_batch_doc *docs, size_t n,
    struct dm_outbox_item *items, char **bcc, struct dm_err *err)
{
	struct store_run s;
	struct dm_err e;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&items[i], 0, sizeof items[i]);
		bcc[i] = NULL;
	}
	if (n == 0)
		return 0;
	memset(&s, 0, sizeof s);
	if ((s.stored = calloc(n, 1)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	s.dir = dir;
	s.cfg = cfg;
	s.p = p;
	s.o = o;
	s.docs = docs;
	s.items = items;
	s.bcc = bcc;
	s.n = s.failed = n;
	pthread_mutex_init(&s.lock, NULL);
	run_workers(store_worker, &s, n < STORE_WORKERS ? n : STORE_WORKERS);
	pthread_mutex_destroy(&s.lock);
	/*
	 * Each file was flushed as it was stored, the directory is flushed
	 * once for all of them: the batch is durable before its session
	 * starts, as a single message is.
	 */
	if (s.failed == n && dm_outbox_sync(&items[0], err) == 0) {
		free(s.stored);
		return 0;
	}
	if (s.failed < n) {
		*err = s.err;
		dm_err_prefix(err, "'%s'", docs[s.failed].path);
	}
	/* All or nothing: a batch half in the outbox is a trap. */
	for (i = 0; i < n; i++) {
		if (s.stored[i])
			(void)dm_outbox_remove(&items[i], DM_SYNC_NOW, &e);
		dm_outbox_item_release(&items[i]);
		memset(&items[i], 0, sizeof items[i]);
		free(bcc[i]);
		bcc[i] = NULL;
	}
	free(s.stored);
	return -1;
}

/* Made when memory for a message's own error is lacking. */
static const struct dm_err oom_err = { DM_ENOMEM, 0, "out of memory", "" };

static void
drop_err(struct dm_batch_msg *m)
{
	if (m->err != &oom_err)
		free(m->err);
	m->err = NULL;
}

/* Keeps e as why m was not (all) delivered. */
static void
keep_err(struct dm_batch_msg *m, const struct dm_err *e)
{
	struct dm_err *copy;

	drop_err(m);
	copy = malloc(sizeof *copy);
	if (copy != NULL)
		*copy = *e;
	m->err = copy != NULL ? copy : (struct dm_err *)&oom_err;
}

void
dm_batch_msg_release(struct dm_batch_msg *m)
{
	drop_err(m);
	dm_delivery_release(&m->d);
	if (m->st.arg != NULL)
		dm_outbox_stream_close(&m->st);
	if (m->lockfd != -1)
		dm_outbox_unlock(m->lockfd);
	m->lockfd = -1;
	memset(&m->st, 0, sizeof m->st);
}

/* "a@x, b@y" of m's recipients with status st (any when st < 0). */
static void
rcpt_list(struct dm_buf *b, const struct dm_batch_msg *m, int st)
{
	struct dm_err e;
	size_t i, k = 0;

	dm_buf_reset(b);
	for (i = 0; i < m->d.nrcpt; i++) {
		if (st >= 0 && (int)m->d.rcpt[i].status != st)
			continue;
		if (k++ > 0)
			(void)dm_buf_addstr(b, ", ", &e);
		(void)dm_buf_add_printable(b, m->d.rcpt[i].mailbox,
		    strlen(m->d.rcpt[i].mailbox), &e);
	}
	/* Never tried (the batch stopped first): the item's own. */
	for (i = 0; m->d.nrcpt == 0 && i < m->it->nrcpt; i++) {
		if (i > 0)
			(void)dm_buf_addstr(b, ", ", &e);
		(void)dm_buf_add_printable(b, m->it->rcpt[i],
		    strlen(m->it->rcpt[i]), &e);
	}
}

const char *
dm_batch_msg_result(const struct dm_batch_msg *m, struct dm_buf *who,
    struct dm_buf *why)
{
	struct dm_err e;
	const char *reason;
	size_t k;

	dm_buf_reset(why);
	if (m->fate == DM_BATCH_SENT) {
		rcpt_list(who, m, DM_RCPT_OK);
		(void)dm_buf_addf(why, &e, "%d ", m->d.mail.code);
		(void)dm_buf_add_printable(why, m->d.mail.reply,
		    strlen(m->d.mail.reply), &e);
		/* Refused recipients go on the message's own line. */
		for (k = 0; k < m->d.nrcpt; k++) {
			const struct dm_smtp_rcpt *r = &m->d.rcpt[k];

			if (r->status == DM_RCPT_OK)
				continue;
			(void)dm_buf_addf(why, &e, "; %s %s: %d ",
			    dm_smtp_rcpt_status_name(r->status), r->mailbox,
			    r->code);
			(void)dm_buf_add_printable(why, r->text,
			    strlen(r->text), &e);
		}
		return "ok";
	}
	rcpt_list(who, m, -1);
	if (m->it->state == DM_OB_MAYBE_SENT)
		(void)dm_buf_addstr(why, _("may have been delivered (the connection ended after the message, before the reply): resent only with --retry --force; "), &e);
	reason = m->err != NULL ? m->err->msg : _("not sent: the batch stopped before it");
	(void)dm_buf_add_printable(why, reason, strlen(reason), &e);
	return m->fate == DM_BATCH_REFUSED ? "refused" : "kept";
}

/* The engine's state, shared with the session's callbacks. */
struct run_ctx {
	const struct dm_profile		*p;
	const struct dm_smtp_params	*sp;	/* the caller's */
	const struct dm_batch_run	*run;
	struct dm_batch_msg		*msgs;
	/* This session's messages: mails[k] is msgs[idx[k]]. */
	struct dm_smtp_mail		*mails;
	size_t				*idx;
	size_t				 cur;	/* msgs index of the message begun last */
	size_t				 settled;	/* in this session */
	int				 stopped;	/* before_mail said stop */
	struct dm_err			 stop_err;	/* why, when not the user */
	int				 stop_failed;
	struct timespec			 t0;	/* first message's start */
	unsigned long			 seq;	/* messages begun so far */
};

static int
stop_asked(const struct run_ctx *c)
{
	return (c->run->stop != NULL && atomic_load(c->run->stop)) ||
	    (c->sp->cancel != NULL && atomic_load(c->sp->cancel));
}

/*
 * Pacing: message k (counted over the whole run) starts no earlier
 * than k minutes / rate after the first, on one clock, so that a
 * reconnection or a slow message does not shift the rest.  Waits in
 * short slices to notice a stop.  Returns -1 when asked to stop.
 */
static int
pace(struct run_ctx *c)
{
	long due, left;

	if (c->seq == 0)
		dm_clock_now(&c->t0);
	if (c->run->rate <= 0 || c->seq == 0)
		return stop_asked(c) ? -1 : 0;
	due = (long)(c->seq * 60000UL / (unsigned long)c->run->rate);
	for (;;) {
		if (stop_asked(c))
			return -1;
		if ((left = due - dm_clock_ms_since(&c->t0)) <= 0)
			return 0;
		(void)usleep((useconds_t)(left > 50 ? 50000 : left * 1000));
	}
}

static int
before_mail(void *arg, size_t k)
{
	struct run_ctx *c = arg;
	struct dm_batch_msg *m = &c->msgs[c->idx[k]];
	struct dm_smtp_mail *mail = &c->mails[k];
	struct dm_err e;

	if (pace(c) == -1) {
		c->stopped = 1;
		return 1;
	}
	if (dm_outbox_stream_open(m->it, &m->st, &e) == -1) {
		c->stopped = c->stop_failed = 1;
		c->stop_err = e;
		return 1;
	}
	mail->read = m->st.read;
	mail->rewind = m->st.rewind;
	mail->arg = m->st.arg;
	c->cur = c->idx[k];
	c->seq++;
	return 0;
}

/*
 * Before the final dot: the item says "may have been delivered",
 * durably (see mark_maybe in deliver.c).  The dot always belongs to the
 * message begun last.
 */
static int
before_dot(void *arg)
{
	struct run_ctx *c = arg;
	struct dm_err e;

	c->msgs[c->cur].it->state = DM_OB_MAYBE_SENT;
	return dm_outbox_update_state(c->msgs[c->cur].it, &e);
}

static void
done(void *arg, size_t k, const struct dm_err *err)
{
	struct run_ctx *c = arg;
	struct dm_batch_msg *m = &c->msgs[c->idx[k]];
	struct dm_err e;
	int r = 0;

	m->d.mail = c->mails[k];
	if (m->st.arg != NULL)
		dm_outbox_stream_close(&m->st);
	memset(&m->st, 0, sizeof m->st);
	drop_err(m);
	dm_err_clear(&e);
	if (err != NULL) {
		e = *err;
		r = -1;
	}
	(void)dm_delivery_settle(c->p, m->it, m->bcc, &m->d, r, &e);
	if (r == -1)
		keep_err(m, &e);
	if (m->lockfd != -1)
		dm_outbox_unlock(m->lockfd);
	m->lockfd = -1;
	if (m->d.mail.accepted)
		m->fate = DM_BATCH_SENT;
	else if (m->it->state == DM_OB_REFUSED)
		m->fate = DM_BATCH_REFUSED;
	else
		return;		/* said at the end: it may go again */
	c->settled++;
	if (c->run->result != NULL)
		c->run->result(c->run->arg, c->idx[k], m);
}

/* Notes which step failed for the message, and forwards the events. */
static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct run_ctx *c = arg;
	struct dm_delivery *d;

	if (ev->kind == DM_EV_STEP && !ev->ok) {
		d = &c->msgs[c->cur].d;
		if (d->failed_step == -1)
			d->failed_step = (int)ev->step;
	}
	if (c->sp->event != NULL)
		c->sp->event(c->sp->arg, ev);
}

/* Whether message m of a broken session was still untouched. */
static int
untouched(const struct dm_smtp_mail *m)
{
	size_t i;

	if (m->code != 0 || m->maybe_delivered || m->accepted)
		return 0;
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].status != DM_RCPT_PENDING)
			return 0;
	return 1;
}

/*
 * How many messages one session takes: each holds its item's lock, a
 * file descriptor, from before the connection until its result, so
 * that no other docmail sends or drops it meanwhile.  Beyond what the
 * descriptor limit allows, the next ones go over a new connection.
 */
static size_t
session_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	return rl.rlim_cur > 64 + 16 ? (size_t)rl.rlim_cur - 64 : 16;
}

/*
 * Takes the messages of the next session, from msgs[*next] on: those
 * still waiting whose lock it gets (one another docmail holds is passed
 * over, with why, and not tried again in this run).  Returns how many.
 */
static size_t
claim(struct run_ctx *c, size_t n, size_t *next, size_t max,
    struct dm_err *err)
{
	struct dm_batch_msg *m;
	struct dm_err e;
	size_t k = 0;

	for (; *next < n && k < max; (*next)++) {
		m = &c->msgs[*next];
		if (m->fate != DM_BATCH_WAITING || m->passed)
			continue;
		dm_delivery_release(&m->d);
		if (dm_delivery_init(m->it, &m->d, err) == -1)
			break;
		/* Synced once at the end (settle_sync): see dm_sync. */
		m->d.sync = DM_SYNC_LATER;
		if (dm_outbox_lock(m->it, &m->lockfd, &e) == -1) {
			m->lockfd = -1;
			keep_err(m, &e);
			m->passed = 1;
			continue;
		}
		c->mails[k] = m->d.mail;
		c->idx[k++] = *next;
	}
	return k;
}

/*
 * The sent items' files, set aside by their removal, are deleted after
 * the session by a few threads: on a disk that discards what is freed
 * each deletion waits for the device, and several wait at once (100 in
 * a row took 21 ms, four at a time 10 ms).
 */
#define REAP_WORKERS	4

struct reap_run {
	struct dm_batch_msg	*msgs;
	size_t			 n;
	pthread_mutex_t		 lock;		/* next */
	size_t			 next;
};

static void *
reap_worker(void *arg)
{
	struct reap_run *r = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->next < r->n && !r->msgs[r->next].d.removed)
			r->next++;
		i = r->next < r->n ? r->next++ : r->n;
		pthread_mutex_unlock(&r->lock);
		if (i == r->n)
			return NULL;
		/* Left behind, it is swept from tmp/ later. */
		(void)dm_outbox_reap(r->msgs[i].it);
	}
}

static void
reap(struct dm_batch_msg *msgs, size_t n)
{
	struct reap_run r;
	size_t i, removed = 0;

	for (i = 0; i < n; i++)
		removed += msgs[i].d.removed != 0;
	if (removed == 0)
		return;
	memset(&r, 0, sizeof r);
	r.msgs = msgs;
	r.n = n;
	pthread_mutex_init(&r.lock, NULL);
	run_workers(reap_worker, &r,
	    removed < REAP_WORKERS ? removed : REAP_WORKERS);
	pthread_mutex_destroy(&r.lock);
}

/*
 * What the run's settling left to the disk: the removals of the sent
 * items and their sent-log lines, each flushed once for the whole run
 * rather than once a message (a flush between two messages stalls the
 * session).  A failure is a warning on the first message sent.  Then
 * the removed files are deleted.
 */
static void
settle_sync(struct dm_batch_msg *msgs, size_t n)
{
	struct dm_batch_msg *first = NULL;
	struct dm_err e;
	size_t i;

	for (i = 0; i < n && first == NULL; i++)
		if (msgs[i].d.mail.accepted)
			first = &msgs[i];
	if (first == NULL)
		return;
	if (dm_sentlog_sync(NULL, &e) == -1)
		dm_delivery_warn(&first->d, _("the messages were sent, but the sent log may not be on the disk"), &e);
	for (i = 0; i < n; i++)
		if (msgs[i].d.removed) {
			if (dm_outbox_sync(msgs[i].it, &e) == -1)
				dm_delivery_warn(&first->d, _("the messages were sent, but their removal from the outbox may not be on the disk (a retry would skip them as 'may have been delivered')"), &e);
			break;
		}
	reap(msgs, n);
}

/* The claimed messages that did not begin give their locks back. */
static void
unclaim(struct run_ctx *c, size_t from, size_t k)
{
	struct dm_batch_msg *m;

	for (; from < k; from++) {
		m = &c->msgs[c->idx[from]];
		m->d.mail = c->mails[from];
		if (m->lockfd != -1)
			dm_outbox_unlock(m->lockfd);
		m->lockfd = -1;
	}
}

static int
session(struct run_ctx *c, size_t k, size_t *begun, struct dm_err *err)
{
	struct dm_smtp_params own;

	own = *c->sp;
	own.event = on_event;
	own.arg = c;
	own.before_mail = before_mail;
	own.before_dot = before_dot;
	own.done = done;
	c->settled = 0;
	c->cur = c->idx[0];
	return dm_smtp_send_many(&own, c->mails, k, begun, err);
}

/*
 * The class of a batch that stopped with messages waiting: temporary,
 * unless this machine failed (a full disk, a lock): that is what the
 * user must fix, as "send" says it.
 */
static enum dm_errcode
local(enum dm_errcode code)
{
	return code == DM_EIO || code == DM_ENOMEM ? code : DM_ETEMP;
}

int
dm_batch_send(const struct dm_profile *p, const struct dm_smtp_params *sp,
    struct dm_batch_msg *msgs, size_t n, const struct dm_batch_run *run,
    struct dm_err *err)
{
	struct run_ctx c;
	struct dm_err se;
	const struct dm_err *passed = NULL;
	const char *hint = NULL;
	size_t i, k, next = 0, begun, max = session_max();
	size_t waiting = 0, refused = 0, npassed = 0;
	int r, broke = 0;

	memset(&c, 0, sizeof c);
	c.p = p;
	c.sp = sp;
	c.run = run;
	c.msgs = msgs;
	dm_err_clear(&se);
	for (i = 0; i < n; i++) {
		msgs[i].fate = DM_BATCH_WAITING;
		msgs[i].lockfd = -1;
		drop_err(&msgs[i]);
		msgs[i].passed = 0;
		memset(&msgs[i].st, 0, sizeof msgs[i].st);
		memset(&msgs[i].d, 0, sizeof msgs[i].d);
	}
	if (max > n)
		max = n;
	if (n > 0 && ((c.mails = calloc(max, sizeof *c.mails)) == NULL ||
	    (c.idx = calloc(max, sizeof *c.idx)) == NULL)) {
		free(c.mails);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	while (next < n) {
		dm_err_clear(&se);
		if ((k = claim(&c, n, &next, max, &se)) == 0) {
			if (se.code == DM_ENOMEM)
				break;
			continue;
		}
		r = session(&c, k, &begun, &se);
		unclaim(&c, begun, k);
		if (r == 0 && !c.stopped && begun == k)
			continue;
		/*
		 * Ended between two messages after taking some (a limit of
		 * messages per session): connect again for the rest.  Never
		 * when the new session took none: that would hammer.
		 */
		if (r == -1 && !c.stopped && c.settled > 0 && begun > 0 &&
		    untouched(&c.mails[begun - 1]) &&
		    (se.code == DM_ETEMP || se.code == DM_ECONN) &&
		    !stop_asked(&c)) {
			next = c.idx[begun - 1];
			continue;
		}
		if (r == 0 && !c.stopped)
			dm_err_set(&se, DM_EPROTO,
			    "the SMTP session ended before every message was sent");
		if (!c.stopped)
			broke = 1;
		break;
	}
	free(c.mails);
	free(c.idx);
	settle_sync(msgs, n);
	if (se.code == DM_ENOMEM && !broke) {
		*err = se;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (msgs[i].fate == DM_BATCH_WAITING) {
			waiting++;
			if (msgs[i].passed && npassed++ == 0)
				passed = msgs[i].err;
			if (run->result != NULL)
				run->result(run->arg, i, &msgs[i]);
		} else if (msgs[i].fate == DM_BATCH_REFUSED)
			refused++;
		else if (!msgs[i].d.removed) {
			/* Sent, but not to every recipient. */
			if (msgs[i].it->state == DM_OB_REFUSED)
				refused++;
			else
				waiting++;
		}
	}
	if (waiting == 0 && refused == 0)
		return 0;
	if (waiting == 0) {
		dm_err_set(err, DM_EREJECT,
		    ngettext("%zu of %zu message was refused, for some or all of its recipients",
		    "%zu of %zu messages were refused, for some or all of their recipients",
		    n), refused, n);
		return dm_err_hint(err, ngettext("it stays in the outbox marked refused: 'docmail outbox' lists it with the server's reason",
		    "they stay in the outbox marked refused: 'docmail outbox' lists them with the server's reason",
		    refused));
	}
	if (c.stopped && !c.stop_failed)
		dm_err_set(err, DM_ETEMP, _("the batch was stopped"));
	else if (c.stopped)
		dm_err_set(err, local(c.stop_err.code), _("the batch stopped: %s"),
		    c.stop_err.msg);
	else if (broke)
		dm_err_set(err, local(se.code), _("the batch stopped: %s"),
		    se.msg);
	else if (passed != NULL) {
		dm_err_set(err, local(passed->code), "%s", passed->msg);
		/*
		 * Each message left waiting is one another docmail holds
		 * (or sent or changed meanwhile): a retry now would not
		 * send it, that docmail's end is what to wait for.
		 */
		if (npassed == waiting)
			hint = passed->hint;
	} else
		dm_err_set(err, DM_ETEMP, ngettext("%zu of %zu message was not sent",
		    "%zu of %zu messages were not sent", n),
		    waiting, n);
	err->smtp_code = se.smtp_code;
	if (hint != NULL && hint[0] != '\0')
		return dm_err_hint(err, "%s", hint);
	if (broke && se.hint[0] != '\0')
		return dm_err_hint(err, ngettext("%s; %zu message waits in the outbox: 'docmail outbox --retry' sends it",
		    "%s; %zu messages wait in the outbox: 'docmail outbox --retry' sends them",
		    waiting), se.hint, waiting);
	return dm_err_hint(err, ngettext("%zu message waits in the outbox: 'docmail outbox --retry' sends it",
	    "%zu messages wait in the outbox: 'docmail outbox --retry' sends them",
	    waiting), waiting);
}
