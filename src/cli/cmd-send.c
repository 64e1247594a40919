/*
 * cmd-send.c - "docmail send": compose a message from the command line
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/compose.h>
#include <docmail/i18n.h>
#include <docmail/mime.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/tmpl.h>

#include "cli.h"

/* A body file larger than this is surely the wrong file. */
#define BODY_FILE_MAX	(1024 * 1024)

static int
read_body_file(const char *path, char **out, struct dm_err *err)
{
	struct dm_buf b;
	char chunk[8192];
	ssize_t n;
	int fd, r = -1;

	dm_buf_init(&b, BODY_FILE_MAX);
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		dm_err_set(err, DM_ENOINPUT, _("cannot read body file '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		return dm_err_hint(err, _("check the path given to --body-file"));
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			dm_err_set(err, DM_ENOINPUT,
			    _("cannot read body file '%s': %s"), DM_ERR_PATH(path),
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (dm_buf_add(&b, chunk, (size_t)n, err) == -1) {
			dm_err_set(err, DM_EDATA,
			    _("body file '%s' is larger than %d bytes"),
			    DM_ERR_PATH(path), BODY_FILE_MAX);
			goto out;
		}
	}
	if (memchr(dm_buf_str(&b), '\0', b.len) != NULL) {
		dm_err_set(err, DM_EDATA, _("body file '%s' is not text"),
		    DM_ERR_PATH(path));
		dm_err_hint(err, _("attach binary files as documents instead"));
		goto out;
	}
	if ((*out = dm_buf_detach(&b)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	r = 0;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	dm_buf_release(&b);
	return r;
}

/* SOURCE_DATE_EPOCH and DOCMAIL_MESSAGE_ID fix what is otherwise new. */
static int
fixed_values(struct dm_compose_opts *o, struct dm_err *err)
{
	const char *s;
	long long v;

	if ((s = getenv("SOURCE_DATE_EPOCH")) != NULL && *s != '\0') {
		if (dm_strtonum(s, 1, 253402300799LL, &v) == -1) {
			dm_err_set(err, DM_EUSAGE,
			    _("invalid SOURCE_DATE_EPOCH '%s'"), s);
			return dm_err_hint(err,
			    _("give seconds since 1970, or unset it"));
		}
		o->date = (time_t)v;
	}
	if ((s = getenv("DOCMAIL_MESSAGE_ID")) != NULL && *s != '\0')
		o->message_id = s;
	return 0;
}

static int
write_all(FILE *fp, const char *p, size_t n, struct dm_err *err)
{
	if (n > 0 && fwrite(p, 1, n, fp) != n)
		return dm_err_set(err, DM_EIO, _("cannot write the message: %s"),
		    strerror(errno));
	return 0;
}

/* The exact message on stdout, the envelope on stderr. */
static int
dry_run(struct dm_compose *c, struct dm_err *err)
{
	static char chunk[64 * 1024];
	ssize_t n;
	size_t i;

	fprintf(stderr, "MAIL FROM:<%s>\n", c->sender);
	for (i = 0; i < c->rcpt.n; i++)
		fprintf(stderr, "RCPT TO:<%s>\n", c->rcpt.v[i].mailbox);
	while ((n = dm_mime_read(c->mime, chunk, sizeof chunk, err)) > 0)
		if (write_all(stdout, chunk, (size_t)n, err) == -1)
			return -1;
	if (n == -1)
		return -1;
	if (fflush(stdout) != 0)
		return dm_err_set(err, DM_EIO, _("cannot write the message: %s"),
		    strerror(errno));
	return 0;
}

/* A terminal to ask on: /dev/tty, whatever stdin is. */
static int
have_terminal(void)
{
	FILE *tty = cli_tty_open();

	if (tty == NULL)
		return 0;
	fclose(tty);
	return 1;
}

/* The summary's value column: its widest label in this language, a blank. */
static int
label_col(void)
{
	/* TRANSLATORS: the summary's labels (From: ...) before "Send?". */
	const char *labels[] = { _("From:"), _("To:"), _("Cc:"), _("Bcc:"),
	    _("Reply-To:"), _("Subject:"), _("Attached:") };
	int col = dm_text_widest(labels, sizeof labels / sizeof labels[0]) + 1;

	return col > 10 ? col : 10;
}

static void
show_list(FILE *fp, const char *label, int col, const struct dm_addrlist *l,
    const char *note)
{
	struct dm_buf b;
	struct dm_err err;
	size_t i;

	if (l->n == 0)
		return;
	dm_buf_init(&b, 0);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			(void)dm_buf_addstr(&b, ", ", &err);
		(void)dm_addr_format_display(&l->v[i], &b, &err);
	}
	cli_label(fp, label, col);
	fprintf(fp, "%s%s\n", dm_buf_str(&b), note);
	dm_buf_release(&b);
}

/* The summary and "Send? [y/N]" on the terminal; 1 when the answer is yes. */
static int
confirm(const struct dm_compose *c, const struct dm_compose_opts *o)
{
	struct dm_buf b;
	struct dm_err err;
	struct stat st;
	FILE *tty;
	char question[64];
	size_t i;
	int col = label_col();

	if ((tty = cli_tty_open()) == NULL)
		return 0;
	dm_buf_init(&b, 0);
	(void)dm_addr_format_display(&c->from, &b, &err);
	cli_label(tty, _("From:"), col);
	fprintf(tty, "%s\n", dm_buf_str(&b));
	dm_buf_release(&b);
	show_list(tty, _("To:"), col, &c->to, "");
	show_list(tty, _("Cc:"), col, &c->cc, "");
	show_list(tty, _("Bcc:"), col, &c->bcc,
	    _("  (invisible to the other recipients)"));
	show_list(tty, _("Reply-To:"), col, &c->reply_to, "");
	dm_buf_init(&b, 0);
	(void)dm_buf_add_printable(&b, c->subject, strlen(c->subject), &err);
	cli_label(tty, _("Subject:"), col);
	fprintf(tty, "%s\n", dm_buf_str(&b));
	dm_buf_release(&b);
	for (i = 0; i < o->nfiles; i++) {
		cli_label(tty, i == 0 ? _("Attached:") : "", col);
		fprintf(tty, _("%s (%.1f KB)\n"), o->files[i],
		    stat(o->files[i], &st) == 0 ? st.st_size / 1024.0 : 0.0);
	}
	fprintf(tty, _("Bounces return to: %s\n"), c->sender);
	(void)snprintf(question, sizeof question,
	    ngettext("Send to %zu recipient?", "Send to %zu recipients?",
	    c->rcpt.n), c->rcpt.n);
	return cli_tty_ask(tty, question);
}

static int
send_it(struct cli *cli, const struct dm_profile *p, struct dm_compose *c,
    const struct dm_compose_opts *o, int yes, int verbose,
    struct dm_err *err)
{
	struct dm_outbox_item item;
	struct dm_secret pw;
	char *dir = NULL, *bcc = NULL;
	int r = -1;

	memset(&item, 0, sizeof item);
	dm_secret_init(&pw);
	if (!yes && !confirm(c, o)) {
		dm_err_set(err, DM_EUSAGE, _("not sent: not confirmed"));
		dm_err_hint(err, _("answer y to send, or give --yes"));
		return -1;
	}
	/* The password before the outbox: a failed prompt stores nothing. */
	if (cli_password(p, &pw, err) == -1)
		goto out;
	if ((dir = dm_outbox_open(NULL, err)) == NULL)
		goto out;
	if (dm_compose_store(c, p, dir, &item, DM_SYNC_NOW, err) == -1) {
		/* Only a stored message is sent: a full disk sends nothing. */
		if (err->code == DM_EIO)
			(void)snprintf(cli->note, sizeof cli->note,
			    _("nothing was sent: a message goes out only once it is safely in the outbox"));
		goto out;
	}
	if (c->bcc.n > 0 && (bcc = dm_compose_bcc(c, err)) == NULL)
		goto out;
	r = cli_deliver(cli, p, &pw, &item, bcc, verbose, err);
out:
	dm_secret_release(&pw);
	dm_outbox_item_release(&item);
	free(bcc);
	free(dir);
	return r;
}

static void
send_usage(FILE *fp)
{
	/*
	 * TRANSLATORS: translate "usage:" and the words in capitals only;
	 * commands and --options stay as they are.
	 */
	fputs(_(
"usage: docmail send [--to ADDRS] [--cc ADDRS] [--bcc ADDRS] [--from ADDR]\n"
"                    [--reply-to ADDRS] [--subject TEXT]\n"
"                    [--body TEXT | --body-file FILE] [--template NAME]\n"
"                    [--set KEY=VALUE]... [--yes] [--dry-run] [--verbose]\n"
"                    [FILE...]\n"), fp);
}

static int
cmd_send(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	enum { O_TO = 256, O_CC, O_BCC, O_FROM, O_REPLY_TO, O_SUBJECT,
	    O_BODY, O_BODY_FILE, O_TEMPLATE, O_SET, O_YES, O_DRY_RUN,
	    O_VERBOSE, O_HELP };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "cc", required_argument, NULL, O_CC },
		{ "bcc", required_argument, NULL, O_BCC },
		{ "from", required_argument, NULL, O_FROM },
		{ "reply-to", required_argument, NULL, O_REPLY_TO },
		{ "subject", required_argument, NULL, O_SUBJECT },
		{ "body", required_argument, NULL, O_BODY },
		{ "body-file", required_argument, NULL, O_BODY_FILE },
		{ "template", required_argument, NULL, O_TEMPLATE },
		{ "set", required_argument, NULL, O_SET },
		{ "yes", no_argument, NULL, O_YES },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct dm_compose_opts o;
	struct dm_compose c;
	struct dm_config cfg;
	struct dm_vars vars;
	const struct dm_profile *p;
	const char *body_file = NULL;
	char *body = NULL;
	int ch, dry = 0, yes = 0, verbose = 0, r = -1;

	memset(&o, 0, sizeof o);
	dm_vars_init(&vars);
	dm_config_init(&cfg);
	dm_compose_init(&c);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_TO:
			o.to = optarg;
			break;
		case O_CC:
			o.cc = optarg;
			break;
		case O_BCC:
			o.bcc = optarg;
			break;
		case O_FROM:
			o.from = optarg;
			break;
		case O_REPLY_TO:
			o.reply_to = optarg;
			break;
		case O_SUBJECT:
			o.subject = optarg;
			break;
		case O_BODY:
			o.body = optarg;
			break;
		case O_BODY_FILE:
			body_file = optarg;
			break;
		case O_TEMPLATE:
			o.template_id = optarg;
			break;
		case O_SET:
			if (dm_vars_add_assignment(&vars, optarg, err) == -1)
				goto out;
			break;
		case O_YES:
			yes = 1;
			break;
		case O_VERBOSE:
			verbose = 1;
			break;
		case O_DRY_RUN:
			dry = 1;
			break;
		case O_HELP:
			send_usage(stdout);
			r = 0;
			goto out;
		default:
			send_usage(stderr);
			dm_err_set(err, DM_EUSAGE, _("invalid option for 'send'"));
			dm_err_hint(err, _("see 'docmail send --help' or docmail(1)"));
			goto out;
		}
	}
	if (o.body != NULL && body_file != NULL) {
		dm_err_set(err, DM_EUSAGE,
		    _("--body and --body-file cannot be used together"));
		dm_err_hint(err, _("give the text once, inline or from a file"));
		goto out;
	}
	if (!dry && !yes && !have_terminal()) {
		dm_err_set(err, DM_EUSAGE,
		    _("not sending without confirmation: there is no terminal to ask on"));
		dm_err_hint(err, _("add --yes to send from scripts, or --dry-run to see the message"));
		goto out;
	}
	if (body_file != NULL) {
		if (read_body_file(body_file, &body, err) == -1)
			goto out;
		o.body = body;
	}
	if (fixed_values(&o, err) == -1)
		goto out;
	o.vars = &vars;
	o.files = (const char *const *)argv + optind;
	o.nfiles = (size_t)(argc - optind);
	if (cli_load_profile(cli, &cfg, &p, err) == -1)
		goto out;
	if (dm_compose_build(&c, &cfg, p, &o, err) == -1)
		goto out;
	if (c.from_foreign)
		cli_warn(_("From '%s' is not on the domain of the account '%s': such mail often fails DMARC checks and lands in spam; --reply-to is the safe choice"),
		    c.from.mailbox, c.sender);
	if (c.from_moved)
		cli_warn(_("profile '%s' does not allow another From (allow_from_override = no): '%s' was put in Reply-To"),
		    p->id, o.from);
	if (dry)
		r = dry_run(&c, err);
	else
		r = send_it(cli, p, &c, &o, yes, verbose, err);
out:
	free(body);
	dm_compose_release(&c);
	dm_config_release(&cfg);
	dm_vars_release(&vars);
	return r;
}

const struct cmd_entry cmd_send_entry = {
	.name = "send",
	.usage = "[--to ADDRS] [--cc ADDRS] [--bcc ADDRS] [--from ADDR] ...",
	.exec = cmd_send,
};
