/*
 * main.c - docmail's entry point: global options, then one command
 *
 * The only place that turns an error value into an exit code.
 */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sysexits.h>

#include <docmail/i18n.h>

#include "cli.h"
#include "../tui/tui.h"

static const struct cmd_entry *const commands[] = {
	&cmd_send_entry,
	&cmd_test_entry,
	&cmd_outbox_entry,
	&cmd_login_entry,
	&cmd_logout_entry,
	&cmd_batch_entry,
};


static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	/*
	 * A core file would hold the password in clear.  RLIMIT_CORE alone
	 * is not enough: a core_pattern that pipes to a handler (such as
	 * systemd-coredump) ignores it.  A process that is not dumpable
	 * leaves no core at all, and other processes of the same user can
	 * neither ptrace it nor read its /proc files.
	 */
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/*
 * The user's locale, and a language whose locale is not installed: a
 * server with only C.UTF-8 (common over SSH) refuses LANG=de_CH.UTF-8,
 * and gettext would then speak English.  With a UTF-8 locale asked for,
 * C.UTF-8 stands in for it and LANGUAGE names its language ("de_CH:de"),
 * unless the user set LANGUAGE: the messages come in German all the
 * same.  Commands docmail runs inherit it.
 */
static void
messages_locale(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	const char *want = NULL, *v;
	char lang[64];
	size_t i, n;

	if (setlocale(LC_ALL, "") != NULL)
		return;
	for (i = 0; i < sizeof vars / sizeof vars[0] && want == NULL; i++)
		if ((v = getenv(vars[i])) != NULL && v[0] != '\0')
			want = v;
	if (want == NULL || (strstr(want, "UTF-8") == NULL &&
	    strstr(want, "utf8") == NULL) ||
	    setlocale(LC_ALL, "C.UTF-8") == NULL)
		return;
	if ((v = getenv("LANGUAGE")) != NULL && v[0] != '\0')
		return;
	/* "de_CH.UTF-8@euro": "de_CH", then "de" for the catalogue. */
	n = strcspn(want, ".@");
	if (n == 0 || n >= 32 || strncmp(want, "C", n) == 0 ||
	    strncmp(want, "POSIX", n) == 0)
		return;
	(void)snprintf(lang, sizeof lang, "%.*s:%.*s", (int)n, want,
	    (int)strcspn(want, "_.@"), want);
	(void)setenv("LANGUAGE", lang, 1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "profile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli cli = { NULL, NULL, "docmail", "" };
	struct dm_err err;
	const char *name;
	size_t i;
	int c;

	no_core_dumps();
	/* A server or relay that goes away must be an error, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	messages_locale();
	/*
	 * Messages in the user's language (LANGUAGE, LC_ALL, LC_MESSAGES,
	 * LANG).  The TUI may later switch LC_CTYPE alone to C.UTF-8; that
	 * leaves LC_MESSAGES, and so the language, as it is.
	 */
	{
		/* As gettext's own tools do: catalogues not yet installed. */
		const char *dir = getenv("TEXTDOMAINDIR");

		(void)bindtextdomain(PACKAGE, dir != NULL && dir[0] == '/' ?
		    dir : LOCALEDIR);
	}
	(void)textdomain(PACKAGE);
	dm_err_clear(&err);

	/* "+": stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'p':
			cli.profile = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			fputs(_("\nWithout a command: the list of documents, or the send dialog for\n"
			    "FILE...  Each command has --help.  The manual: man docmail (commands,\n"
			    "keys of the screens), man docmail.ini (the configuration).\n"),
			    stdout);
			return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
		case 'V':
			cli_version();
			return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
		default:
			cli_usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	name = argc > 0 ? argv[0] : NULL;
	if (name != NULL) {
		for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
			if (strcmp(name, commands[i]->name) != 0)
				continue;
			optind = 0;	/* glibc: reinitialise for the command */
			if (commands[i]->exec(&cli, argc, argv, &err) == 0)
				return EX_OK;
			cli_print_error(&err);
			if (cli.note[0] != '\0')
				fprintf(stderr, "docmail: %s\n", cli.note);
			return cli_exitcode(&err);
		}
		if (strcmp(name, "settings") == 0) {
			struct tui_opts to = { cli.config_path, cli.profile,
			    NULL, 0, 1 };

			if (argc > 1) {
				dm_err_set(&err, DM_EUSAGE,
				    _("'settings' takes no arguments"));
				cli_print_error(&err);
				return cli_exitcode(&err);
			}
			if (tui_main(&to, &err) == 0 && err.code == DM_EOK)
				return EX_OK;
			cli_print_error(&err);
			return cli_exitcode(&err);
		}
	}
	/*
	 * No command and no config yet: the first run opens the settings
	 * (tui_main does, without a config), then the documents once saved.
	 */
	if (name == NULL) {
		struct tui_opts to = { cli.config_path, cli.profile, NULL, 0, 0 };
		char *path = dm_config_default_path(cli.config_path, &err);

		if (path == NULL) {
			cli_print_error(&err);
			return cli_exitcode(&err);
		}
		if (access(path, F_OK) != 0) {
			free(path);
			if (tui_main(&to, &err) == 0 && err.code == DM_EOK)
				return EX_OK;
			cli_print_error(&err);
			return cli_exitcode(&err);
		}
		free(path);
	}
	/* Documents: the send dialog. */
	if (name != NULL) {
		struct tui_opts to = { cli.config_path, cli.profile, argv,
		    argc, 0 };

		if (tui_main(&to, &err) == 0 && err.code == DM_EOK)
			return EX_OK;
		cli_print_error(&err);
		return cli_exitcode(&err);
	}
	/* No command with a config: the document list. */
	{
		struct tui_opts to = { cli.config_path, cli.profile, NULL, 0,
		    0 };

		if (tui_main(&to, &err) == 0 && err.code == DM_EOK)
			return EX_OK;
		cli_print_error(&err);
		return cli_exitcode(&err);
	}
}
