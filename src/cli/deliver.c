/*
 * deliver.c - send one outbox item and settle it: sent log, sent copy,
 * out of the outbox only when the server accepted it
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/outbox.h>
#include <docmail/smtp.h>

#include "cli.h"

/* Below this, a progress line would only flicker. */
#define PROGRESS_MIN	(256 * 1024)

/*
 * Ctrl-C or a TERM while sending asks the engine to stop: before the
 * final dot nothing is delivered and the message stays in the outbox;
 * after it, the item is marked "may have been delivered".
 */
static atomic_int cancel_flag;

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&cancel_flag, 1);
}

struct deliver_out {
	int	verbose;
	int	progress;	/* stderr is a terminal and the message is big */
	int	shown;
};

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct deliver_out *o = arg;

	switch (ev->kind) {
	case DM_EV_LOG:
		if (o->verbose)
			fprintf(stderr, "%s\n", ev->text);
		break;
	case DM_EV_PROGRESS:
		if (!o->progress || ev->total == 0)
			break;
		fprintf(stderr, "\rsending: %.1f of %.1f MB (%3d%%)",
		    ev->done / 1e6, ev->total / 1e6,
		    (int)(ev->done * 100 / ev->total));
		o->shown = 1;
		break;
	case DM_EV_STEP:
		if (o->verbose)
			fprintf(stderr, "docmail: %s %s (%ld ms)\n",
			    dm_smtp_step_name(ev->step), ev->ok ? "ok" : "failed",
			    ev->ms);
		break;
	}
}

static const char *
status_word(enum dm_rcpt_status st)
{
	switch (st) {
	case DM_RCPT_OK:
		return "ok";
	case DM_RCPT_TEMP:
		return "later";
	case DM_RCPT_PERM:
		return "refused";
	default:
		return "not sent";
	}
}

/* Records the accepted message: sent log, sent copy. Failures only warn. */
static void
record_sent(const struct dm_profile *p, const struct dm_outbox_item *it,
    const struct dm_smtp_mail *mail, const char *bcc)
{
	struct dm_stream st;
	struct dm_err err;
	const char **ok;
	size_t i, n = 0;

	if ((ok = calloc(mail->nrcpt + 1, sizeof *ok)) == NULL)
		return;
	for (i = 0; i < mail->nrcpt; i++)
		if (mail->rcpt[i].status == DM_RCPT_OK)
			ok[n++] = mail->rcpt[i].mailbox;
	if (dm_sentlog_append(NULL, time(NULL), it->message_id, it->document,
	    ok, n, mail->reply, &err) == -1)
		cli_warn("the message was sent, but the sent log was not written: %s",
		    err.msg);
	free(ok);
	if (p->sent_maildir == NULL || p->sent_maildir[0] == '\0')
		return;
	if (dm_outbox_stream_open(it, &st, &err) == -1 ||
	    dm_maildir_deliver(p->sent_maildir, bcc, &st, &err) == -1)
		cli_warn("the message was sent, but no copy was kept in '%s': %s",
		    p->sent_maildir, err.msg);
	dm_outbox_stream_close(&st);
}

int
cli_deliver(struct cli *cli, const struct dm_profile *p,
    const struct dm_secret *pw,
    struct dm_outbox_item *it, const char *bcc, int verbose,
    struct dm_err *err)
{
	struct deliver_out out = { verbose, 0, 0 };
	struct dm_smtp_params sp;
	struct dm_smtp_mail mail;
	struct dm_smtp_rcpt *rcpt = NULL;
	struct dm_stream st = { NULL, NULL, NULL };
	struct dm_err uerr;
	struct sigaction sa, old_int, old_term;
	size_t i, left;
	int r = -1;

	memset(&mail, 0, sizeof mail);
	if ((rcpt = calloc(it->nrcpt, sizeof *rcpt)) == NULL)
		return dm_err_set(err, DM_ENOMEM, "out of memory");
	for (i = 0; i < it->nrcpt; i++)
		rcpt[i].mailbox = it->rcpt[i];
	if (dm_outbox_stream_open(it, &st, err) == -1)
		goto out;
	mail.sender = it->sender;
	mail.rcpt = rcpt;
	mail.nrcpt = it->nrcpt;
	mail.size = it->size;
	mail.read = st.read;
	mail.rewind = st.rewind;
	mail.arg = st.arg;
	out.progress = isatty(STDERR_FILENO) && it->size >= PROGRESS_MIN;

	cli_params(p, pw, &sp);
	sp.event = on_event;
	sp.arg = &out;
	sp.cancel = &cancel_flag;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	r = dm_smtp_send(&sp, &mail, NULL, err);
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	if (out.shown)
		fputc('\n', stderr);
	dm_outbox_stream_close(&st);

	for (i = 0; i < mail.nrcpt; i++)
		if (rcpt[i].status != DM_RCPT_PENDING)
			printf("  %-8s %s: %d %s\n", status_word(rcpt[i].status),
			    rcpt[i].mailbox, rcpt[i].code, rcpt[i].text);
	if (mail.accepted) {
		printf("sent: server said: %d %s\n", mail.code, mail.reply);
		record_sent(p, it, &mail, bcc);
		/* Keep only the recipients that did not get it. */
		for (i = left = 0; i < it->nrcpt; i++) {
			if (rcpt[i].status == DM_RCPT_OK) {
				free(it->rcpt[i]);
				continue;
			}
			it->rcpt[left++] = it->rcpt[i];
		}
		it->nrcpt = left;
		if (left == 0) {
			if (dm_outbox_remove(it, &uerr) == -1)
				cli_warn("sent, but it could not be removed from the outbox (a retry would send it again): %s",
				    uerr.msg);
			goto out;
		}
	}
	it->attempts++;
	it->state = mail.maybe_delivered ? DM_OB_MAYBE_SENT : DM_OB_QUEUED;
	free(it->last_error);
	it->last_error = strdup(r == -1 ? err->msg : "");
	if (dm_outbox_update(it, &uerr) == -1)
		cli_warn("the outbox item '%s' could not be updated: %s", it->id,
		    uerr.msg);
	/* Said after the error itself, by main. */
	if (mail.maybe_delivered)
		(void)snprintf(cli->note, sizeof cli->note,
		    "the connection ended after the whole message was sent, before the server's answer: it may have been delivered; outbox item '%s' is marked so and is resent only with confirmation",
		    it->id);
	else
		(void)snprintf(cli->note, sizeof cli->note,
		    "the message is kept in the outbox as '%s'; 'docmail outbox --retry' sends it again",
		    it->id);
out:
	free(rcpt);
	return r;
}
