/*
 * output.c - what the command line prints besides the message itself
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>
#include <json-c/json_c_version.h>
#include <libesmtp.h>
#include <openssl/crypto.h>

#include <docmail/buf.h>
#include <docmail/oauth2.h>
#include <docmail/i18n.h>

#include "cli.h"

/* Prints prefix + s + newline with every control character escaped. */
static void
print_line(const char *prefix, const char *s)
{
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, 0);
	if (dm_buf_add_printable(&b, s, strlen(s), &err) == 0)
		fprintf(stderr, "%s%s\n", prefix, dm_buf_str(&b));
	else
		fprintf(stderr, "%s%s\n", prefix,
		    _("(message could not be shown)"));
	dm_buf_release(&b);
}

void
cli_print_error(const struct dm_err *err)
{
	print_line("docmail: ", err->msg[0] != '\0' ? err->msg :
	    _("unknown error"));
	/* TRANSLATORS: starts the line under an error that says what to do. */
	if (err->hint[0] != '\0')
		print_line(_("hint: "), err->hint);
}

void
cli_warn(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_line(_("docmail: warning: "), msg);
}

void
cli_usage(FILE *fp)
{
	/*
	 * TRANSLATORS: translate "usage:" and the words in capitals only;
	 * commands and --options stay as they are.
	 */
	fputs(_(
"usage: docmail [--config FILE] [--profile NAME] [FILE...]\n"
"       docmail [--config FILE] [--profile NAME] settings\n"
"       docmail [--config FILE] [--profile NAME] test [--verbose]\n"
"       docmail [--config FILE] [--profile NAME] send [--to ADDRS] [--cc ADDRS]\n"
"               [--bcc ADDRS] [--from ADDR] [--reply-to ADDRS] [--subject TEXT]\n"
"               [--body TEXT | --body-file FILE] [--template NAME]\n"
"               [--set KEY=VALUE]... [--yes] [--dry-run] [--verbose] [FILE...]\n"
"       docmail [--config FILE] [--profile NAME] outbox\n"
"               [--retry [--force] [ID] | --drop ID [--yes]]\n"
"       docmail [--config FILE] [--profile NAME] login | logout\n"
"       docmail [--config FILE] [--profile NAME] batch [--template NAME]\n"
"               [--set KEY=VALUE]... [--rate N] [--yes] [--dry-run] [--verbose]\n"
"               DOC...\n"
"       docmail --help | --version\n"), fp);
}

FILE *
cli_tty_open(void)
{
	return fopen("/dev/tty", "r+e");
}

int
cli_tty_ask(FILE *tty, const char *question)
{
	char answer[16];
	int yes = 0;

	/*
	 * TRANSLATORS: a question and its answers; the default is no.
	 * Put your letters for yes and no here ("[j/N]" in German).
	 */
	fprintf(tty, _("%s [y/N] "), question);
	fflush(tty);
	if (fgets(answer, sizeof answer, tty) != NULL &&
	    dm_answer_yes((unsigned char)answer[0]))
		yes = 1;
	fclose(tty);
	return yes;
}

int
cli_load_profile(struct cli *cli, struct dm_config *cfg,
    const struct dm_profile **p, struct dm_err *err)
{
	char *path;
	int r;

	if ((path = dm_config_default_path(cli->config_path, err)) == NULL)
		return -1;
	r = dm_config_load(cfg, path, err);
	free(path);
	if (r == -1)
		return -1;
	return (*p = dm_config_profile(cfg, cli->profile, err)) == NULL ?
	    -1 : 0;
}

void
cli_label(FILE *fp, const char *label, int col)
{
	int pad = col - dm_text_width(label);

	fputs(label, fp);
	for (pad = pad < 1 ? 1 : pad; pad > 0; pad--)
		fputc(' ', fp);
}

void
cli_version(void)
{
	char esmtp[32];
	const char *curl = dm_oauth2_curl_version();

	if (smtp_version(esmtp, sizeof esmtp, 0) == 0)
		dm_strlcpy(esmtp, "?", sizeof esmtp);
	printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	/* As they run, not as built: a library may be newer. */
	printf("libESMTP %s, %s, %s, inih %s, json-c %s\n", esmtp,
	    OpenSSL_version(OPENSSL_VERSION), curses_version(),
	    DM_INIH_VERSION, json_c_version());
	if (curl != NULL)
		printf(_("libcurl %s (loaded for OAuth2 sign-in only)\n"), curl);
	else
		printf(_("libcurl: not installed (needed for OAuth2 sign-in only)\n"));
}
