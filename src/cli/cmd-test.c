/*
 * cmd-test.c - "docmail test": Test connection, step by step
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/smtp.h>

#include "cli.h"

struct test_out {
	int	verbose;
};

/* Steps on stdout as they finish; the transcript on stderr. */
static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	const struct test_out *o = arg;

	switch (ev->kind) {
	case DM_EV_STEP:
		printf("  %-13s %-4s %5ld ms%s%s\n", dm_smtp_step_name(ev->step),
		    ev->ok ? "ok" : "FAIL", ev->ms,
		    ev->ok && ev->text != NULL && ev->text[0] != '\0' ? "  " : "",
		    ev->ok && ev->text != NULL ? ev->text : "");
		fflush(stdout);
		break;
	case DM_EV_LOG:
		if (o->verbose)
			fprintf(stderr, "%s\n", ev->text);
		break;
	case DM_EV_PROGRESS:
		break;
	}
}

static int
cmd_test(struct cli *cli, int argc, char **argv, struct dm_err *err)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct test_out out = { 0 };
	struct dm_smtp_params sp;
	struct dm_smtp_report rep;
	struct dm_config cfg;
	struct dm_secret pw;
	const struct dm_profile *p;
	int c, r = -1;

	dm_config_init(&cfg);
	dm_secret_init(&pw);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			out.verbose = 1;
			break;
		case 'h':
			puts(_("usage: docmail test [--verbose]"));
			r = 0;
			goto out;
		default:
			dm_err_set(err, DM_EUSAGE, _("invalid option for 'test'"));
			dm_err_hint(err, _("usage: docmail test [--verbose]"));
			goto out;
		}
	}
	if (optind < argc) {
		dm_err_set(err, DM_EUSAGE, _("'test' takes no arguments"));
		dm_err_hint(err, _("usage: docmail test [--verbose]"));
		goto out;
	}
	if (cli_load_profile(cli, &cfg, &p, err) == -1 ||
	    cli_password(p, &pw, err) == -1)
		goto out;
	dm_deliver_params(p, &pw, &sp);
	sp.event = on_event;
	sp.arg = &out;
	printf(_("testing profile '%s': %s port %d, security = %s%s%s\n"),
	    p->id, sp.host, sp.port, dm_security_name(sp.security),
	    sp.user != NULL ? _(", user ") : "", sp.user != NULL ? sp.user : "");
	fflush(stdout);
	r = dm_smtp_test(&sp, p->email, &rep, err);
	dm_secret_release(&pw);
	if (rep.tls_version[0] != '\0')
		printf(_("TLS: %s, %s\ncertificate: %s\n  issued by %s\n  valid until %s\n"),
		    rep.tls_version, rep.tls_cipher, rep.cert_subject,
		    rep.cert_issuer, rep.cert_expiry);
	if (out.verbose && rep.extensions[0] != '\0')
		printf(_("server extensions: %s\n"), rep.extensions);
	if (r == 0)
		printf(_("test passed: %s can send through %s port %d%s%s; nothing was sent\n"),
		    p->email, sp.host, sp.port,
		    rep.auth_mech[0] != '\0' ? _(", login with ") : "",
		    rep.auth_mech);
out:
	dm_secret_release(&pw);
	dm_config_release(&cfg);
	return r;
}

const struct cmd_entry cmd_test_entry = {
	.name = "test",
	.usage = "[--verbose]",
	.exec = cmd_test,
};
