/*
 * cmd-batch.c - "docmail batch": one message per document, one session
 */
#include "config.h"

#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/batch.h>
#include <docmail/buf.h>
#include <docmail/i18n.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>

#include "cli.h"


/*
 * The first Ctrl-C (or TERM) stops the batch after the message in
 * flight, whose result is then known; a second one cancels that message
 * too (before its final dot nothing is delivered).
 */
static atomic_int stop_flag, cancel_flag;

static void
on_signal(int sig)
{
	(void)sig;
	if (atomic_load(&stop_flag))
		atomic_store(&cancel_flag, 1);
	atomic_store(&stop_flag, 1);
}

/* Descriptors a large batch may want: one lock per message, and some. */
#define NOFILE_WANT	((rlim_t)65536)

static void
batch_usage(FILE *fp)
{
	fputs(_(
"usage: docmail batch [--template NAME] [--set KEY=VALUE]... [--rate N]\n"
"                     [--resend] [--yes] [--dry-run] [--verbose] DOC...\n"), fp);
}

/* s made printable, into b (reset first); returns b's text. */
static const char *
show(struct dm_buf *b, const char *s)
{
	struct dm_err e;

	dm_buf_reset(b);
	if (s != NULL)
		(void)dm_buf_add_printable(b, s, strlen(s), &e);
	return dm_buf_str(b);
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* One line of the table: document, To, Subject, size. */
static void
table_line(FILE *fp, const struct dm_batch_doc *d)
{
	struct dm_buf a, b, c;

	dm_buf_init(&a, 0);
	dm_buf_init(&b, 0);
	dm_buf_init(&c, 0);
	/*
	 * TRANSLATORS: one document of the batch: its file name, the
	 * recipients, the subject and the size; keep "%s  " at the start.
	 */
	fprintf(fp, _("%s  To: %s  Subject: %s  (%.1f KB)\n"),
	    show(&a, base_name(d->path)), show(&b, d->to),
	    show(&c, d->subject), d->size / 1024.0);
	dm_buf_release(&a);
	dm_buf_release(&b);
	dm_buf_release(&c);
}

static void
dry_run(const struct dm_batch_doc *docs, size_t n)
{
	struct dm_buf b;
	size_t i, k;

	dm_buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		table_line(stdout, &docs[i]);
		fflush(stdout);
		fprintf(stderr, "%s: MAIL FROM:<%s>\n",
		    show(&b, base_name(docs[i].path)), docs[i].sender);
		for (k = 0; k < docs[i].nrcpt; k++)
			fprintf(stderr, "%s: RCPT TO:<%s>\n",
			    show(&b, base_name(docs[i].path)), docs[i].rcpt[k]);
	}
	dm_buf_release(&b);
}

/* The table and "Send N emails to M recipients?" on the terminal. */
static int
confirm(const struct dm_batch_doc *docs, size_t n)
{
	char question[160], rcpts[64];
	size_t i, m = 0;
	FILE *tty;

	if ((tty = cli_tty_open()) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		table_line(tty, &docs[i]);
		m += docs[i].nrcpt;
	}
	/* TRANSLATORS: the end of "Send 3 emails to 4 recipients?" */
	(void)snprintf(rcpts, sizeof rcpts,
	    ngettext("%zu recipient", "%zu recipients", m), m);
	(void)snprintf(question, sizeof question,
	    ngettext("Send %zu email to %s?", "Send %zu emails to %s?", n), n,
	    rcpts);
	return cli_tty_ask(tty, question);
}

struct out {
	int	 verbose;
	int	 progress;	/* stderr is a terminal */
	size_t	 n, seen;
	size_t	 sent, kept, refused;
};

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct out *o = arg;

	if (o->verbose && ev->kind == DM_EV_LOG)
		fprintf(stderr, "%s\n", ev->text);
	else if (o->verbose && ev->kind == DM_EV_STEP)
		fprintf(stderr, "docmail: %s %s (%ld ms)\n",
		    dm_smtp_step_name(ev->step), ev->ok ? "ok" : "failed",
		    ev->ms);
}

/* One line per message as its result arrives. */
static void
on_result(void *arg, size_t i, const struct dm_batch_msg *m)
{
	struct out *o = arg;
	struct dm_buf doc, who, why;
	const char *what;

	(void)i;
	dm_buf_init(&doc, 0);
	dm_buf_init(&who, 0);
	dm_buf_init(&why, 0);
	(void)show(&doc, m->it->document != NULL ? m->it->document : m->it->id);
	what = dm_batch_msg_result(m, &who, &why);
	if (m->fate == DM_BATCH_SENT)
		o->sent++;
	else if (m->fate == DM_BATCH_REFUSED)
		o->refused++;
	else
		o->kept++;
	if (o->progress)
		fputs("\r                                        \r", stderr);
	printf("%-8s %s  %s  %s\n", what, dm_buf_str(&doc), dm_buf_str(&who),
	    dm_buf_str(&why));
	fflush(stdout);
	o->seen++;
	if (o->progress) {
		/* TRANSLATORS: progress on the terminal; keep it short. */
		fprintf(stderr, _("Sending: %3d%% (%zu/%zu)"),
		    (int)(o->seen * 100 / o->n), o->seen, o->n);
		fflush(stderr);
	}
	dm_buf_release(&doc);
	dm_buf_release(&who);
	dm_buf_release(&why);
}

/*
 * Sends stored items over one session, a line per message and the
 * summary; shared with "outbox --retry".
 */
int
cli_batch_send(const struct dm_profile *p, const struct dm_secret *pw,
    struct dm_outbox_item *items, char **bcc, size_t n, int rate,
    int verbose, struct cli_batch_count *count, struct dm_err *err)
{
	struct out o;
	struct dm_batch_run run;
	struct dm_batch_msg *msgs;
	struct dm_smtp_params sp;
	struct sigaction sa, old_int, old_term;
	struct rlimit rl;
	size_t i;
	int r;

	memset(&o, 0, sizeof o);
	o.verbose = verbose;
	o.progress = isatty(STDERR_FILENO);
	/*
	 * Each message of a session holds its item's lock, a descriptor:
	 * the soft limit (often 1024) would split a large batch into
	 * several connections where the hard limit allows one.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < NOFILE_WANT) {
		rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max :
		    NOFILE_WANT;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	o.n = n;
	if ((msgs = calloc(n, sizeof *msgs)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	for (i = 0; i < n; i++) {
		msgs[i].it = &items[i];
		msgs[i].bcc = bcc != NULL ? bcc[i] : NULL;
	}
	dm_deliver_params(p, pw, &sp);
	sp.event = on_event;
	sp.arg = &o;
	sp.cancel = &cancel_flag;
	memset(&run, 0, sizeof run);
	run.rate = rate;
	run.stop = &stop_flag;
	run.result = on_result;
	run.arg = &o;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	r = dm_batch_send(p, &sp, msgs, n, &run, err);
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	if (o.progress && o.seen > 0)
		fputc('\n', stderr);
	for (i = 0; i < n; i++) {
		int w;

		for (w = 0; w < msgs[i].d.nwarn; w++)
			cli_warn("%s", msgs[i].d.warn[w]);
		dm_batch_msg_release(&msgs[i]);
	}
	free(msgs);
	if (count != NULL) {
		count->sent = o.sent;
		count->kept = o.kept;
		count->refused = o.refused;
	} else
		printf(_("batch: %zu sent, %zu kept in the outbox, %zu refused\n"),
		    o.sent, o.kept, o.refused);
	return r;
}

static int
cmd_batch(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	enum { O_TEMPLATE = 256, O_SET, O_RATE, O_RESEND, O_YES, O_DRY_RUN,
	    O_VERBOSE, O_HELP };
	static const struct option opts[] = {
		{ "template", required_argument, NULL, O_TEMPLATE },
		{ "set", required_argument, NULL, O_SET },
		{ "rate", required_argument, NULL, O_RATE },
		{ "resend", no_argument, NULL, O_RESEND },
		{ "yes", no_argument, NULL, O_YES },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct dm_batch_opts bo;
	struct dm_batch_doc *docs = NULL;
	struct dm_outbox_item *items = NULL;
	struct dm_config cfg;
	struct dm_vars vars;
	struct dm_secret pw;
	const struct dm_profile *p;
	char *dir = NULL, **bcc = NULL;
	size_t i, n = 0, ngo = 0, nskip = 0, waiting = 0;
	long long v;
	int ch, dry = 0, yes = 0, verbose = 0, resend = 0, rate = -1, r = -1;

	memset(&bo, 0, sizeof bo);
	dm_vars_init(&vars);
	dm_config_init(&cfg);
	dm_secret_init(&pw);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_TEMPLATE:
			bo.template_id = optarg;
			break;
		case O_SET:
			if (dm_vars_add_assignment(&vars, optarg, err) == -1)
				goto out;
			break;
		case O_RATE:
			if (dm_strtonum(optarg, 0, DM_MAX_PER_MINUTE_MAX, &v) == -1) {
				dm_err_set(err, DM_EUSAGE,
				    _("invalid --rate '%s'"), optarg);
				dm_err_hint(err, _("give messages per minute, from 1 to %d, or 0 for no pacing"),
				    DM_MAX_PER_MINUTE_MAX);
				goto out;
			}
			rate = (int)v;
			break;
		case O_RESEND:
			resend = 1;
			break;
		case O_YES:
			yes = 1;
			break;
		case O_DRY_RUN:
			dry = 1;
			break;
		case O_VERBOSE:
			verbose = 1;
			break;
		case O_HELP:
			batch_usage(stdout);
			r = 0;
			goto out;
		default:
			batch_usage(stderr);
			dm_err_set(err, DM_EUSAGE, _("invalid option for 'batch'"));
			dm_err_hint(err, _("see 'docmail batch --help' or docmail(1)"));
			goto out;
		}
	}
	n = (size_t)(argc - optind);
	if (n == 0) {
		batch_usage(stderr);
		dm_err_set(err, DM_EUSAGE, _("no documents given"));
		dm_err_hint(err, _("name the documents to send, e.g. 'docmail batch invoices/2026-11-*.pdf'"));
		goto out;
	}
	if (!dry && !yes) {
		FILE *tty = cli_tty_open();

		if (tty == NULL) {
			dm_err_set(err, DM_EUSAGE,
			    _("not sending without confirmation: there is no terminal to ask on"));
			dm_err_hint(err, _("add --yes to send from scripts, or --dry-run to see the messages"));
			goto out;
		}
		fclose(tty);
	}
	bo.vars = &vars;
	if (cli_load_profile(cli, &cfg, &p, err) == -1)
		goto out;
	if ((docs = calloc(n, sizeof *docs)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	for (i = 0; i < n; i++)
		docs[i].path = argv[optind + (int)i];
	if (dm_batch_check(&cfg, p, &bo, docs, n, err) == -1) {
		for (i = 0; i < n; i++)
			if (docs[i].err != NULL)
				cli_print_error(docs[i].err);
		goto out;
	}
	/*
	 * What an earlier run (killed, stopped, or the same command run
	 * twice) already sent or left in the outbox is skipped: sending it
	 * again is the one mistake a batch must never make.
	 */
	if ((dir = dm_outbox_open(NULL, err)) == NULL ||
	    dm_batch_earlier(dir, NULL, docs, n, resend, &nskip, err) == -1)
		goto out;
	/*
	 * The ones to send move to the front (in order), so that docs[0]
	 * .. docs[ngo-1] are the batch; all n are still released at the
	 * end.
	 */
	for (i = 0; i < n; i++) {
		if (docs[i].skip == DM_BATCH_NEW) {
			if (i != ngo) {
				struct dm_batch_doc tmp = docs[ngo];

				docs[ngo] = docs[i];
				docs[i] = tmp;
			}
			ngo++;
		} else {
			struct dm_buf a, b;

			dm_buf_init(&a, 0);
			dm_buf_init(&b, 0);
			printf("%-8s %s  %s%s\n", "skipped",
			    show(&a, base_name(docs[i].path)),
			    show(&b, docs[i].skip_why),
			    docs[i].skip == DM_BATCH_SKIP_SENT ?
			    _(": add --resend to send it again") : "");
			dm_buf_release(&a);
			dm_buf_release(&b);
			waiting += docs[i].skip == DM_BATCH_SKIP_OUTBOX;
		}
	}
	fflush(stdout);
	if (ngo == 0) {
		printf(ngettext("batch: nothing to send: the document was dealt with by an earlier run\n",
		    "batch: nothing to send: all %zu documents were dealt with by an earlier run\n",
		    n), n);
		r = 0;
		if (waiting > 0) {
			dm_err_set(err, DM_ETEMP,
			    ngettext("%zu of them waits in the outbox",
			    "%zu of them wait in the outbox", waiting), waiting);
			r = dm_err_hint(err, ngettext("'docmail outbox --retry' sends it",
			    "'docmail outbox --retry' sends them", waiting));
		}
		goto out;
	}
	if (dry) {
		dry_run(docs, ngo);
		r = 0;
		goto out;
	}
	if (!yes && !confirm(docs, ngo)) {
		dm_err_set(err, DM_EUSAGE, _("not sent: not confirmed"));
		dm_err_hint(err, _("answer y to send, or give --yes"));
		goto out;
	}
	/* The password before the outbox: a failed prompt stores nothing. */
	if (cli_password(p, &pw, err) == -1)
		goto out;
	if ((items = calloc(ngo, sizeof *items)) == NULL ||
	    (bcc = calloc(ngo, sizeof *bcc)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	if (dm_batch_store(dir, &cfg, p, &bo, docs, ngo, items, bcc, err) == -1) {
		(void)snprintf(cli->note, sizeof cli->note,
		    "%s", _("nothing was stored or sent: a batch goes out only once every message is safely in the outbox"));
		goto out;
	}
	/* The check's results are spent: the outbox items carry the rest. */
	for (i = 0; i < n; i++)
		dm_batch_doc_release(&docs[i]);
	free(docs);
	docs = NULL;
	/* --rate, else the profile's max_per_minute. */
	r = cli_batch_send(p, &pw, items, bcc, ngo, rate >= 0 ? rate :
	    p->max_per_minute, verbose, NULL, err);
	if (nskip > 0)
		printf(_("batch: %zu skipped (dealt with by an earlier run, see above)\n"),
		    nskip);
	if (r == 0 && waiting > 0) {
		dm_err_set(err, DM_ETEMP,
		    ngettext("%zu skipped document waits in the outbox from an earlier run",
		    "%zu skipped documents wait in the outbox from an earlier run",
		    waiting), waiting);
		r = dm_err_hint(err, ngettext("'docmail outbox --retry' sends it",
		    "'docmail outbox --retry' sends them", waiting));
	}
out:
	for (i = 0; docs != NULL && i < n; i++)
		dm_batch_doc_release(&docs[i]);
	free(docs);
	for (i = 0; items != NULL && i < ngo; i++)
		dm_outbox_item_release(&items[i]);
	free(items);
	for (i = 0; bcc != NULL && i < ngo; i++)
		free(bcc[i]);
	free(bcc);
	free(dir);
	dm_secret_release(&pw);
	dm_config_release(&cfg);
	dm_vars_release(&vars);
	return r;
}

const struct cmd_entry cmd_batch_entry = {
	.name = "batch",
	.usage = "[--template NAME] [--set KEY=VALUE]... [--rate N] ... DOC...",
	.exec = cmd_batch,
};
