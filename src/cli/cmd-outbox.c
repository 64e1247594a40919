/*
 * cmd-outbox.c - "docmail outbox": list and resend what was not accepted
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/outbox.h>

#include "cli.h"

static void
outbox_usage(FILE *fp)
{
	fputs("usage: docmail outbox [--retry [--force] [ID]]\n", fp);
}

static const char *
state_name(enum dm_outbox_state st)
{
	return st == DM_OB_MAYBE_SENT ? "may have been delivered" : "waiting";
}

static void
list_item(const struct dm_outbox_item *it)
{
	struct dm_buf b;
	struct dm_err err;
	char when[32];
	struct tm tm;
	size_t i;

	dm_buf_init(&b, 0);
	(void)strftime(when, sizeof when, "%Y-%m-%d %H:%M",
	    localtime_r(&it->created, &tm));
	printf("%s  %s  %s, %d attempt%s\n", it->id, when, state_name(it->state),
	    it->attempts, it->attempts == 1 ? "" : "s");
	for (i = 0; i < it->nrcpt; i++)
		(void)dm_buf_addf(&b, &err, "%s%s", i ? ", " : "", it->rcpt[i]);
	printf("    to: %s\n", dm_buf_str(&b));
	dm_buf_reset(&b);
	(void)dm_buf_add_printable(&b, it->subject ? it->subject : "",
	    it->subject ? strlen(it->subject) : 0, &err);
	printf("    subject: %s\n", dm_buf_str(&b));
	if (it->last_error != NULL && it->last_error[0] != '\0') {
		dm_buf_reset(&b);
		(void)dm_buf_add_printable(&b, it->last_error,
		    strlen(it->last_error), &err);
		printf("    last error: %s\n", dm_buf_str(&b));
	}
	dm_buf_release(&b);
}

/* May an item that may already be delivered go again? */
static int
ask_resend(const struct dm_outbox_item *it)
{
	FILE *tty;

	if ((tty = cli_tty_open()) == NULL)
		return 0;
	fprintf(tty, "outbox item %s may already have been delivered (the connection ended after the whole message was sent).\n",
	    it->id);
	return cli_tty_ask(tty, "Send it again anyway?");
}

static int
retry(struct cli *cli, const char *dir, struct dm_outbox_item *items,
    size_t n, int force, int verbose, struct dm_err *err)
{
	struct dm_config cfg;
	struct dm_secret pw;
	const struct dm_profile *p = NULL;
	char *pw_for = NULL;
	struct dm_err e1;
	size_t i, sent = 0, skipped = 0, failed = 0;
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
	for (i = 0; i < n; i++) {
		struct dm_outbox_item *it = &items[i];
		struct dm_err e;

		if (it->state == DM_OB_MAYBE_SENT && !force && !ask_resend(it)) {
			printf("skipped %s: it may already have been delivered; 'docmail outbox --retry --force %s' sends it again\n",
			    it->id, it->id);
			skipped++;
			continue;
		}
		/* The profile as it is configured now. */
		p = dm_config_profile(&cfg, cli->profile != NULL ?
		    cli->profile : it->profile, &e);
		if (p == NULL) {
			failed++;
			if (e1.code == DM_EOK)
				e1 = e;
			continue;
		}
		if (pw_for == NULL || strcmp(pw_for, p->id) != 0) {
			dm_secret_release(&pw);
			free(pw_for);
			pw_for = strdup(p->id);
			if (cli_password(p, &pw, &e) == -1) {
				failed++;
				if (e1.code == DM_EOK)
					e1 = e;
				continue;
			}
		}
		printf("sending %s (%s)\n", it->id, it->subject ? it->subject : "");
		cli->note[0] = '\0';
		if (cli_deliver(cli, p, &pw, it, NULL, verbose, &e) == -1) {
			cli_print_error(&e);
			if (cli->note[0] != '\0')
				fprintf(stderr, "docmail: %s\n", cli->note);
			cli->note[0] = '\0';
			failed++;
			if (e1.code == DM_EOK)
				e1 = e;
			continue;
		}
		sent++;
	}
	dm_secret_release(&pw);
	free(pw_for);
	dm_config_release(&cfg);
	printf("outbox: %zu sent, %zu failed, %zu skipped\n", sent, failed,
	    skipped);
	if (failed > 0) {
		*err = e1;
		/* Each failure was shown above; main prints the first again. */
		return -1;
	}
	if (skipped > 0) {
		dm_err_set(err, DM_ETEMP,
		    "%zu outbox item%s may already have been delivered and %s not resent",
		    skipped, skipped == 1 ? "" : "s",
		    skipped == 1 ? "was" : "were");
		return dm_err_hint(err, "check with the recipients, then use --retry --force ID, or leave it");
	}
	return 0;
}

static int
cmd_outbox(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	static const struct option opts[] = {
		{ "retry", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct dm_outbox_item *items = NULL, one;
	size_t n = 0, bad = 0, i;
	char *dir = NULL;
	int c, do_retry = 0, force = 0, verbose = 0, r = -1;

	memset(&one, 0, sizeof one);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			do_retry = 1;
			break;
		case 'f':
			force = 1;
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
			    "invalid option for 'outbox'");
		}
	}
	if (argc - optind > 1 || (!do_retry && (force || argc - optind > 0))) {
		outbox_usage(stderr);
		dm_err_set(err, DM_EUSAGE, "wrong arguments for 'outbox'");
		return dm_err_hint(err, "ID and --force go with --retry");
	}
	if ((dir = dm_outbox_open(NULL, err)) == NULL)
		return -1;
	if (optind < argc) {
		if (dm_outbox_find(dir, argv[optind], &one, err) == -1)
			goto out;
		r = retry(cli, dir, &one, 1, force, verbose, err);
		goto out;
	}
	if (dm_outbox_list(dir, &items, &n, &bad, err) == -1)
		goto out;
	if (bad > 0)
		cli_warn("%zu file%s in '%s' could not be read (damaged or incomplete); they are left there",
		    bad, bad == 1 ? "" : "s", dir);
	if (!do_retry) {
		if (n == 0)
			printf("the outbox is empty\n");
		for (i = 0; i < n; i++)
			list_item(&items[i]);
		r = 0;
		goto out;
	}
	if (n == 0) {
		printf("the outbox is empty: nothing to send\n");
		r = 0;
		goto out;
	}
	r = retry(cli, dir, items, n, force, verbose, err);
out:
	dm_outbox_list_free(items, n);
	dm_outbox_item_release(&one);
	free(dir);
	return r;
}

const struct cmd_entry cmd_outbox_entry = {
	"outbox",
	"[--retry [--force] [ID]]",
	cmd_outbox,
};
