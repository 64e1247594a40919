/*
 * delivery.c - send one outbox item from the command line: progress,
 * Ctrl-C, and the per-recipient report
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/deliver.h>
#include <docmail/i18n.h>
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
		/* The line is redrawn in place: \r stays out of the message. */
		fputc('\r', stderr);
		fprintf(stderr, _("sending: %.1f of %.1f MB (%3d%%)"),
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

int
cli_deliver(struct cli *cli, const struct dm_profile *p,
    const struct dm_secret *pw,
    struct dm_outbox_item *it, const char *bcc, int verbose,
    struct dm_err *err)
{
	struct deliver_out out = { verbose, 0, 0 };
	struct dm_smtp_params sp;
	struct dm_delivery d;
	struct sigaction sa, old_int, old_term;
	size_t i;
	int r, n;

	out.progress = isatty(STDERR_FILENO) && it->size >= PROGRESS_MIN;
	dm_deliver_params(p, pw, &sp);
	sp.event = on_event;
	sp.arg = &out;
	sp.cancel = &cancel_flag;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	r = dm_deliver(p, &sp, it, bcc, &d, err);
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	if (out.shown)
		fputc('\n', stderr);

	for (i = 0; i < d.nrcpt; i++)
		if (d.rcpt[i].status != DM_RCPT_PENDING)
			printf("  %-8s %s: %d %s\n", dm_smtp_rcpt_status_name(d.rcpt[i].status),
			    d.rcpt[i].mailbox, d.rcpt[i].code, d.rcpt[i].text);
	if (d.mail.accepted)
		printf(_("sent: server said: %d %s\n"), d.mail.code, d.mail.reply);
	for (n = 0; n < d.nwarn; n++)
		cli_warn("%s", d.warn[n]);
	/* Said after the error itself, by main. */
	if (r == -1 && d.mail.maybe_delivered)
		(void)snprintf(cli->note, sizeof cli->note,
		    _("the connection ended after the whole message was sent, before the server's answer: it may have been delivered; outbox item '%s' is marked so and is resent only with confirmation"),
		    it->id);
	else if (r == -1 && !d.removed && it->state == DM_OB_REFUSED)
		(void)snprintf(cli->note, sizeof cli->note,
		    _("the server refused it for good: it is kept in the outbox as '%s', marked refused, and a plain 'docmail outbox --retry' passes it over; once the cause is fixed, 'docmail outbox --retry --force %s' sends it again, 'docmail outbox --drop %s' removes it"),
		    it->id, it->id, it->id);
	else if (r == -1 && !d.removed)
		(void)snprintf(cli->note, sizeof cli->note,
		    _("the message is kept in the outbox as '%s'; 'docmail outbox --retry' sends it again"),
		    it->id);
	dm_delivery_release(&d);
	return r;
}
