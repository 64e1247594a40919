/*
 * cmd-outbox.c - "docmail outbox": list, resend and remove what was not
 * accepted
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/i18n.h>
#include <docmail/outbox.h>

#include "cli.h"

static void
outbox_usage(FILE *fp)
{
	fputs(_("usage: docmail outbox [--retry [--force] [ID] | --drop ID [--yes]]\n"),
	    fp);
}

/* The recipients, comma-separated, and the subject, made printable. */
static void
describe(const struct dm_outbox_item *it, struct dm_buf *to,
    struct dm_buf *subj)
{
	struct dm_err err;
	size_t i;

	dm_buf_reset(to);
	for (i = 0; i < it->nrcpt; i++) {
		if (i > 0)
			(void)dm_buf_addstr(to, ", ", &err);
		(void)dm_buf_add_printable(to, it->rcpt[i],
		    strlen(it->rcpt[i]), &err);
	}
	dm_buf_reset(subj);
	(void)dm_buf_add_printable(subj, it->subject ? it->subject : "",
	    it->subject ? strlen(it->subject) : 0, &err);
}

static void
list_item(const struct dm_outbox_item *it)
{
	struct dm_buf b, s;
	struct dm_err err;
	char when[32];
	struct tm tm;

	dm_buf_init(&b, 0);
	dm_buf_init(&s, 0);
	(void)strftime(when, sizeof when, "%Y-%m-%d %H:%M",
	    localtime_r(&it->created, &tm));
	/*
	 * TRANSLATORS: ID, date, state; keep "%s  %s  " at the start: the
	 * bash completion reads the ID and the date from there.
	 */
	printf(ngettext("%s  %s  %s, %d attempt\n", "%s  %s  %s, %d attempts\n",
	    (unsigned long)it->attempts), it->id, when,
	    dm_outbox_state_name(it->state), it->attempts);
	describe(it, &b, &s);
	printf(_("    to: %s\n"), dm_buf_str(&b));
	printf(_("    subject: %s\n"), dm_buf_str(&s));
	if (it->document != NULL) {
		dm_buf_reset(&b);
		(void)dm_buf_add_printable(&b, it->document,
		    strlen(it->document), &err);
		printf(_("    document: %s\n"), dm_buf_str(&b));
	}
	if (it->last_error != NULL && it->last_error[0] != '\0') {
		dm_buf_reset(&b);
		(void)dm_buf_add_printable(&b, it->last_error,
		    strlen(it->last_error), &err);
		printf(_("    last error: %s\n"), dm_buf_str(&b));
	}
	if (it->state == DM_OB_REFUSED)
		printf("    refused for good: a plain --retry passes it over; once the cause is fixed, 'docmail outbox --retry --force %s' sends it again, 'docmail outbox --drop %s' removes it\n",
		    it->id, it->id);
	dm_buf_release(&b);
	dm_buf_release(&s);
}

/* The last error, printable, or a stand-in. */
static const char *
last_error(const struct dm_outbox_item *it, struct dm_buf *b)
{
	struct dm_err err;

	dm_buf_reset(b);
	if (it->last_error == NULL || it->last_error[0] == '\0')
		return _("no reason recorded");
	(void)dm_buf_add_printable(b, it->last_error, strlen(it->last_error),
	    &err);
	return dm_buf_str(b);
}

/* May an item that needs a decision go again? */
static int
ask_resend(const struct dm_outbox_item *it)
{
	struct dm_buf b, s;
	FILE *tty;

	if ((tty = cli_tty_open()) == NULL)
		return 0;
	if (it->state == DM_OB_REFUSED) {
		dm_buf_init(&b, 0);
		fprintf(tty, _("outbox item %s was refused by the server for good: %s\n"),
		    it->id, last_error(it, &b));
		dm_buf_release(&b);
	} else
		fprintf(tty, _("outbox item %s may already have been delivered (the connection ended after the whole message was sent).\n"),
		    it->id);
	dm_buf_init(&b, 0);
	dm_buf_init(&s, 0);
	describe(it, &b, &s);
	fprintf(tty, _("    to: %s\n    subject: %s\n"), dm_buf_str(&b),
	    dm_buf_str(&s));
	dm_buf_release(&b);
	dm_buf_release(&s);
	return cli_tty_ask(tty, _("Send it again anyway?"));
}

/* Why an item was not sent, which it is, and the command that sends it. */
static void
say_skipped(const struct dm_outbox_item *it)
{
	struct dm_buf b, s;

	dm_buf_init(&b, 0);
	dm_buf_init(&s, 0);
	if (it->state != DM_OB_REFUSED)
		printf(_("skipped %s: it may already have been delivered; 'docmail outbox --retry --force %s' sends it again\n"),
		    it->id, it->id);
	else
		printf(_("skipped %s: the server refused it for good (%s); once the cause is fixed, 'docmail outbox --retry --force %s' sends it again, 'docmail outbox --drop %s' removes it\n"),
		    it->id, last_error(it, &b), it->id, it->id);
	describe(it, &b, &s);
	printf(_("    to: %s\n    subject: %s\n"), dm_buf_str(&b), dm_buf_str(&s));
	dm_buf_release(&b);
	dm_buf_release(&s);
}

/*
 * Sends items again as dm_outbox_retry_verdict() says; flags are its
 * DM_RETRY_*.  Every decision (and question) comes first; then the
 * items of each profile go over one session, as a batch does.
 */
static int
retry(struct cli *cli, const char *dir, struct dm_outbox_item *items,
    size_t n, int flags, int verbose, struct dm_err *err)
{
	struct dm_config cfg;
	struct dm_secret pw;
	const struct dm_profile *p, **prof = NULL;
	struct dm_outbox_item *group = NULL;
	struct cli_batch_count cnt;
	struct dm_err e1, e;
	size_t i, j, k, *gi = NULL;
	size_t sent = 0, skipped = 0, refused = 0, failed = 0;
	enum dm_outbox_verdict v;
	int r = 0;

	(void)dir;
	dm_config_init(&cfg);
	dm_secret_init(&pw);
	dm_err_clear(&e1);
	{
		char *path = dm_config_default_path(cli->config_path, err);

		if (path == NULL)
			return -1;
		r = dm_config_load(&cfg, path, err);
		free(path);
		if (r == -1)
			return -1;
	}
	r = -1;
	if ((prof = calloc(n + 1, sizeof *prof)) == NULL ||
	    (group = calloc(n + 1, sizeof *group)) == NULL ||
	    (gi = calloc(n + 1, sizeof *gi)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct dm_outbox_item *it = &items[i];

		v = dm_outbox_retry_verdict(it->state, flags);
		if (v == DM_RETRY_SKIP || (v == DM_RETRY_ASK && !ask_resend(it))) {
			say_skipped(it);
			if (it->state == DM_OB_REFUSED)
				refused++;
			else
				skipped++;
			continue;
		}
		/* The profile as it is configured now. */
		prof[i] = dm_config_profile(&cfg, cli->profile != NULL ?
		    cli->profile : it->profile, &e);
		if (prof[i] == NULL) {
			failed++;
			if (e1.code == DM_EOK)
				e1 = e;
		}
	}
	for (i = 0; i < n; i++) {
		if ((p = prof[i]) == NULL)
			continue;
		/* Shallow copies, taken back after: the batch updates them. */
		for (j = i, k = 0; j < n; j++)
			if (prof[j] == p) {
				group[k] = items[j];
				gi[k++] = j;
				prof[j] = NULL;
			}
		if (cli_password(p, &pw, &e) == -1) {
			failed += k;
			if (e1.code == DM_EOK)
				e1 = e;
			continue;
		}
		memset(&cnt, 0, sizeof cnt);
		if (cli_batch_send(p, &pw, group, NULL, k, p->max_per_minute,
		    verbose, &cnt, &e) == -1 && e1.code == DM_EOK)
			e1 = e;
		for (j = 0; j < k; j++)
			items[gi[j]] = group[j];
		dm_secret_release(&pw);
		sent += cnt.sent;
		failed += cnt.kept + cnt.refused;
	}
	printf(_("outbox: %zu sent, %zu failed, %zu skipped\n"), sent, failed,
	    skipped + refused);
	if (failed > 0) {
		/* Each failure was shown above; main prints the first again. */
		*err = e1;
		goto out;
	}
	/* As batch: 75 while something may still go, else 69. */
	if (skipped > 0) {
		dm_err_set(err, DM_ETEMP,
		    ngettext("%zu outbox item may already have been delivered and was not resent",
		    "%zu outbox items may already have been delivered and were not resent",
		    skipped), skipped);
		dm_err_hint(err, _("check with the recipients, then use --retry --force ID, or leave it"));
		goto out;
	}
	if (refused > 0) {
		dm_err_set(err, DM_EREJECT,
		    ngettext("%zu outbox item refused by the server for good was not resent",
		    "%zu outbox items refused by the server for good were not resent",
		    refused), refused);
		dm_err_hint(err, _("fix the cause, then use --retry --force ID; or remove it with --drop ID"));
		goto out;
	}
	r = 0;
out:
	dm_secret_release(&pw);
	dm_config_release(&cfg);
	free(prof);
	free(group);
	free(gi);
	return r;
}

/* Removes one item, after asking on the terminal unless yes. */
static int
drop(const char *dir, const char *id, int yes, struct dm_err *err)
{
	struct dm_outbox_item it;
	struct dm_buf to, subj;
	char q[1024];
	FILE *tty;
	int r = -1;

	memset(&it, 0, sizeof it);
	dm_buf_init(&to, 0);
	dm_buf_init(&subj, 0);
	if (dm_outbox_find(dir, id, &it, err) == -1)
		goto out;
	describe(&it, &to, &subj);
	if (!yes) {
		if ((tty = cli_tty_open()) == NULL) {
			dm_err_set(err, DM_EUSAGE,
			    _("not removing outbox item '%s' without confirmation: there is no terminal to ask on"),
			    it.id);
			dm_err_hint(err, _("add --yes to remove it from a script"));
			goto out;
		}
		/* Cut long lists: the question must fit on the screen. */
		(void)snprintf(q, sizeof q, _("Remove %s (\"%.200s\", to %.300s%s) from the outbox? It will not be sent."),
		    it.id, dm_buf_str(&subj), dm_buf_str(&to),
		    to.len > 300 ? "..." : "");
		if (!cli_tty_ask(tty, q)) {
			dm_err_set(err, DM_EUSAGE,
			    _("not removed: not confirmed"));
			dm_err_hint(err, _("answer y to remove it, or give --yes"));
			goto out;
		}
	}
	if (dm_outbox_drop(&it, err) == -1)
		goto out;
	printf(_("removed %s from the outbox; it will not be sent\n"), it.id);
	r = 0;
out:
	dm_outbox_item_release(&it);
	dm_buf_release(&to);
	dm_buf_release(&subj);
	return r;
}

static int
cmd_outbox(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	static const struct option opts[] = {
		{ "retry", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "drop", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct dm_outbox_item *items = NULL, one;
	size_t n = 0, bad = 0, i;
	char *dir = NULL;
	const char *drop_id = NULL;
	int c, do_retry = 0, force = 0, yes = 0, verbose = 0, r = -1;

	memset(&one, 0, sizeof one);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			do_retry = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'd':
			drop_id = optarg;
			break;
		case 'y':
			yes = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			outbox_usage(stdout);
			return 0;
		default:
			outbox_usage(stderr);
			return dm_err_set(err, DM_EUSAGE,
			    _("invalid option for 'outbox'"));
		}
	}
	if (drop_id != NULL && (do_retry || force || optind < argc)) {
		outbox_usage(stderr);
		dm_err_set(err, DM_EUSAGE, _("--drop cannot be combined with --retry, --force or another ID"));
		return dm_err_hint(err, _("remove one item at a time: docmail outbox --drop ID"));
	}
	if (yes && drop_id == NULL) {
		outbox_usage(stderr);
		dm_err_set(err, DM_EUSAGE, _("wrong arguments for 'outbox'"));
		return dm_err_hint(err, _("--yes goes with --drop ID"));
	}
	if (argc - optind > 1 || (!do_retry && (force || argc - optind > 0))) {
		outbox_usage(stderr);
		dm_err_set(err, DM_EUSAGE, _("wrong arguments for 'outbox'"));
		return dm_err_hint(err, _("ID and --force go with --retry"));
	}
	if ((dir = dm_outbox_open(NULL, err)) == NULL)
		return -1;
	if (drop_id != NULL) {
		r = drop(dir, drop_id, yes, err);
		goto out;
	}
	if (optind < argc) {
		if (dm_outbox_find(dir, argv[optind], &one, err) == -1)
			goto out;
		r = retry(cli, dir, &one, 1, DM_RETRY_NAMED |
		    (force ? DM_RETRY_FORCE : 0), verbose, err);
		goto out;
	}
	if (dm_outbox_list(dir, &items, &n, &bad, err) == -1)
		goto out;
	if (bad > 0)
		cli_warn(ngettext("%zu file in '%s' could not be read (damaged or incomplete); it is left there",
		    "%zu files in '%s' could not be read (damaged or incomplete); they are left there",
		    bad), bad, dir);
	if (!do_retry) {
		if (n == 0)
			printf("%s\n", _("the outbox is empty"));
		for (i = 0; i < n; i++)
			list_item(&items[i]);
		r = 0;
		goto out;
	}
	if (n == 0) {
		printf("%s\n", _("the outbox is empty: nothing to send"));
		r = 0;
		goto out;
	}
	r = retry(cli, dir, items, n, force ? DM_RETRY_FORCE : 0, verbose, err);
out:
	dm_outbox_list_free(items, n);
	dm_outbox_item_release(&one);
	free(dir);
	return r;
}

const struct cmd_entry cmd_outbox_entry = {
	.name = "outbox",
	.usage = "[--retry [--force] [ID] | --drop ID [--yes]]",
	.exec = cmd_outbox,
};
