/*
 * cmd-login.c - "docmail login" and "docmail logout": OAuth2 sign-in
 *
 * The device flow prints an address and a code for any device; the
 * authorization-code flow prints an address for a browser and takes the
 * answer two ways at once: the browser's redirect to the loopback
 * listener (browser on this machine), or the address the browser ended
 * on, pasted on stdin (browser elsewhere, over SSH).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "cli.h"

#define LOGIN_USAGE	_("usage: docmail login [--profile NAME]")
#define LOGOUT_USAGE	_("usage: docmail logout [--profile NAME]")
/* How long the code flow waits for the browser or a paste. */
#define CODE_WAIT_MS	(15 * 60 * 1000)
/* A pasted address; a redirect with a code runs to a few hundred bytes. */
#define PASTE_MAX	8192

static atomic_int cancelled;

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&cancelled, 1);
}

/* Ctrl-C and TERM end the wait as an error value, not the process. */
static void
catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	(void)sigaction(SIGINT, &sa, old_int);
	(void)sigaction(SIGTERM, &sa, old_term);
}

static void
restore_signals(const struct sigaction *old_int,
    const struct sigaction *old_term)
{
	(void)sigaction(SIGINT, old_int, NULL);
	(void)sigaction(SIGTERM, old_term, NULL);
}

/* --profile after the command, same as before it; no arguments. */
static int
parse_opts(struct cli *cli, int argc, char **argv, const char *usage,
    int *help, struct dm_err *err)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*help = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			cli->profile = optarg;
			break;
		case 'h':
			*help = 1;
			return 0;
		default:
			dm_err_set(err, DM_EUSAGE, _("invalid option for '%s'"),
			    argv[0]);
			return dm_err_hint(err, "%s", usage);
		}
	}
	if (optind < argc) {
		dm_err_set(err, DM_EUSAGE, _("'%s' takes no arguments"), argv[0]);
		return dm_err_hint(err, "%s", usage);
	}
	return 0;
}

/* The profile must be one that docmail itself signs in for. */
static int
oauth2_profile(const struct dm_profile *p, struct dm_oauth2_conf *c,
    struct dm_oauth2_ep *ep, struct dm_err *err)
{
	if (dm_profile_auth(p) != DM_AUTH_OAUTH2) {
		dm_err_set(err, DM_ECONFIG,
		    _("profile '%s' logs in with %s, not OAuth2"), p->id,
		    dm_profile_auth(p) == DM_AUTH_NONE ? _("no login") :
		    _("a password"));
		return dm_err_hint(err, _("set auth = oauth2 and oauth2_provider (microsoft or google) in the profile, with oauth2_client_id: see docmail.ini(5)"));
	}
	if (p->oauth2_token_command != NULL &&
	    *p->oauth2_token_command != '\0') {
		dm_err_set(err, DM_ECONFIG,
		    _("profile '%s' gets its tokens from oauth2_token_command"),
		    p->id);
		return dm_err_hint(err, _("sign in with that helper (e.g. 'pizauth show'), or remove oauth2_token_command to sign in with docmail login"));
	}
	if (dm_deliver_oauth2_conf(p, c, err) == -1)
		return -1;
	return dm_oauth2_resolve(c, ep, err);
}

static int
device_login(const struct dm_profile *p, const struct dm_oauth2_conf *c,
    struct dm_err *err)
{
	struct dm_oauth2_device dev;
	long mins;
	int r;

	memset(&dev, 0, sizeof dev);
	if (dm_oauth2_device_start(c, &dev, err) == -1)
		return -1;
	mins = (long)(dev.expires - time(NULL) + 59) / 60;
	printf(_("To sign in profile '%s' (%s), open this address on any device:\n\n"
	    "    %s\n\nand enter the code\n\n    %s\n\n"),
	    p->id, p->user, dev.verification_uri, dev.user_code);
	printf(ngettext("Waiting for the sign-in (the code is valid for %ld minute; Ctrl-C cancels)...\n",
	    "Waiting for the sign-in (the code is valid for %ld minutes; Ctrl-C cancels)...\n",
	    (unsigned long)mins), mins);
	fflush(stdout);
	r = dm_oauth2_device_wait(c, p->id, &dev, &cancelled, err);
	dm_oauth2_device_release(&dev);
	return r;
}

/* The listener's side of the code flow, in its own thread. */
struct catcher {
	pthread_t		 thread;
	struct dm_oauth2_auth	*a;
	atomic_int		 stop;
	atomic_int		 done;
	int			 r;
	char			*code;
	struct dm_err		 err;
};

static void *
catch_redirect(void *arg)
{
	struct catcher *k = arg;

	k->r = dm_oauth2_auth_wait(k->a, CODE_WAIT_MS, &k->stop, &k->code,
	    &k->err);
	atomic_store(&k->done, 1);
	return NULL;
}

/*
 * Reads one pasted line from stdin into buf, waiting in steps so that
 * the listener's answer, a signal or the deadline can end the wait.
 * Returns 1 for a line, 0 when the listener answered, -1 for an end
 * (EOF on stdin gives *eof = 1 and keeps waiting for the listener).
 */
static int
read_paste(struct catcher *k, char *buf, size_t size, size_t *len, int *eof,
    struct dm_err *err)
{
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	ssize_t n;

	*len = 0;
	for (;;) {
		if (atomic_load(&k->done))
			return 0;
		if (atomic_load(&cancelled))
			return dm_err_set(err, DM_ETEMP, _("sign-in cancelled"));
		if (*eof) {
			(void)poll(NULL, 0, 100);
			continue;
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(STDIN_FILENO, buf + *len, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*eof = 1;
			if (*len > 0)
				break;
			continue;
		}
		if (buf[*len] == '\n')
			break;
		if (*len < size - 1)
			(*len)++;
	}
	buf[*len] = '\0';
	return 1;
}

static int
code_login(const struct dm_profile *p, const struct dm_oauth2_conf *c,
    struct dm_err *err)
{
	struct dm_oauth2_auth a;
	struct catcher k;
	char *line, *code = NULL;
	size_t len;
	int eof = 0, r = -1, got;

	memset(&k, 0, sizeof k);
	if ((line = malloc(PASTE_MAX)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (dm_oauth2_auth_start(c, &a, err) == -1) {
		free(line);
		return -1;
	}
	printf(_("To sign in profile '%s' (%s), open this address in a browser:\n\n"
	    "    %s\n\n"
	    "With the browser on this machine, docmail takes its answer by itself.\n"
	    "Elsewhere (over SSH) the browser ends on an address starting with\n"
	    "%s that does not load: copy that whole address\n"
	    "from the address bar and paste it here (Ctrl-C cancels).\n"),
	    p->id, p->user, a.url, a.redirect_uri);
	fflush(stdout);
	k.a = &a;
	dm_err_clear(&k.err);
	if (pthread_create(&k.thread, NULL, catch_redirect, &k) != 0) {
		dm_err_set(err, DM_EINTERNAL, _("cannot wait for the browser: no thread"));
		goto out_started;
	}
	for (;;) {
		if (!eof) {
			printf("%s", _("address: "));
			fflush(stdout);
		}
		got = read_paste(&k, line, PASTE_MAX, &len, &eof, err);
		if (got <= 0)
			break;
		if (strspn(line, " \t\r") == len)
			continue;
		if (dm_oauth2_parse_redirect(line, len, a.state, &code,
		    err) == 0)
			break;
		/* A wrong paste: say why and ask again; others end it. */
		if (err->code != DM_EDATA || eof) {
			got = -1;
			break;
		}
		cli_print_error(err);
		dm_err_clear(err);
	}
	atomic_store(&k.stop, 1);
	pthread_join(k.thread, NULL);
	if (got == 0) {
		/* The browser came back to the listener. */
		if (k.r == -1) {
			*err = k.err;
			goto out_started;
		}
		code = k.code;
		k.code = NULL;
		if (!eof)
			putchar('\n');
	} else if (got == -1)
		goto out_started;
	printf("%s\n", _("signing in..."));
	fflush(stdout);
	r = dm_oauth2_auth_finish(c, p->id, &a, code, err);
out_started:
	dm_oauth2_secret_free(k.code);
	dm_oauth2_secret_free(code);
	dm_oauth2_auth_release(&a);
	explicit_bzero(line, PASTE_MAX);
	free(line);
	return r;
}

static int
cmd_login(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	struct sigaction old_int, old_term;
	struct dm_oauth2_conf c;
	struct dm_oauth2_ep ep;
	struct dm_config cfg;
	const struct dm_profile *p;
	char *path = NULL;
	int help, r = -1;

	memset(&ep, 0, sizeof ep);
	dm_config_init(&cfg);
	if (parse_opts(cli, argc, argv, LOGIN_USAGE, &help, err) == -1)
		goto out;
	if (help) {
		puts(LOGIN_USAGE);
		r = 0;
		goto out;
	}
	if (cli_load_profile(cli, &cfg, &p, err) == -1 ||
	    oauth2_profile(p, &c, &ep, err) == -1)
		goto out;
	atomic_store(&cancelled, 0);
	catch_signals(&old_int, &old_term);
	r = ep.flow == DM_OAUTH2_DEVICE ? device_login(p, &c, err) :
	    code_login(p, &c, err);
	restore_signals(&old_int, &old_term);
	/* The error goes on its own line, not after the terminal's "^C". */
	if (r == -1 && atomic_load(&cancelled) && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (r == -1)
		goto out;
	if ((path = dm_oauth2_store_path(NULL, p->id, err)) == NULL) {
		r = -1;
		goto out;
	}
	printf(_("signed in: profile '%s' sends as %s with OAuth2 from now on\n"
	    "(the sign-in is kept in %s; 'docmail test' checks it)\n"),
	    p->id, p->user, path);
out:
	free(path);
	dm_oauth2_ep_release(&ep);
	dm_config_release(&cfg);
	return r;
}

static int
cmd_logout(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	struct dm_config cfg;
	const struct dm_profile *p;
	int help, r = -1;

	dm_config_init(&cfg);
	if (parse_opts(cli, argc, argv, LOGOUT_USAGE, &help, err) == -1)
		goto out;
	if (help) {
		puts(LOGOUT_USAGE);
		r = 0;
		goto out;
	}
	if (cli_load_profile(cli, &cfg, &p, err) == -1)
		goto out;
	if (!dm_oauth2_profile_valid(p->id)) {
		dm_err_set(err, DM_ECONFIG,
		    _("profile name '%s' cannot name a sign-in"), p->id);
		goto out;
	}
	if (dm_oauth2_store_remove(NULL, p->id, err) == -1)
		goto out;
	printf(_("signed out: profile '%s' keeps no tokens now; 'docmail login' signs in again\n"),
	    p->id);
	r = 0;
out:
	dm_config_release(&cfg);
	return r;
}

const struct cmd_entry cmd_login_entry = {
	.name = "login",
	.usage = "[--profile NAME]",
	.exec = cmd_login,
};

const struct cmd_entry cmd_logout_entry = {
	.name = "logout",
	.usage = "[--profile NAME]",
	.exec = cmd_logout,
};
