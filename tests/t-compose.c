/*
 * t-compose.c - the rules that turn options into a message and envelope
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/compose.h>

#include "tap.h"

static char dir[] = "/tmp/t-compose.XXXXXX";
static char cfgpath[256], docpath[256], sidepath[256];

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

/* Reads the whole message of a finished compose into a string. */
static char *
message(struct dm_compose *c)
{
	struct dm_buf b;
	struct dm_err err;
	char chunk[4096];
	ssize_t n;

	dm_buf_init(&b, 0);
	if (dm_mime_rewind(c->mime, &err) == -1)
		return NULL;
	while ((n = dm_mime_read(c->mime, chunk, sizeof chunk, &err)) > 0)
		if (dm_buf_add(&b, chunk, (size_t)n, &err) == -1)
			break;
	return dm_buf_detach(&b);
}

static int
build(struct dm_compose *c, const struct dm_config *cfg, const char *prof,
    const struct dm_compose_opts *o, struct dm_err *err)
{
	const struct dm_profile *p;

	dm_compose_release(c);
	dm_err_clear(err);
	if ((p = dm_config_profile(cfg, prof, err)) == NULL)
		return -1;
	return dm_compose_build(c, cfg, p, o, err);
}

int
main(void)
{
	struct dm_config cfg;
	struct dm_compose c;
	struct dm_compose_opts o;
	struct dm_vars vars;
	struct dm_err err;
	const char *files[1];
	char *m;

	plan(42);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(cfgpath, sizeof cfgpath, "%s/config.ini", dir);
	snprintf(docpath, sizeof docpath, "%s/inv.pdf", dir);
	snprintf(sidepath, sizeof sidepath, "%s/inv.pdf.ini", dir);
	write_file(cfgpath,
	    "[profile default]\n"
	    "name = Anna Muster\n"
	    "email = anna@example.test\n"
	    "host = localhost\n"
	    "[profile strict]\n"
	    "email = anna@example.test\n"
	    "host = localhost\n"
	    "allow_from_override = no\n"
	    "[template default]\n"
	    "subject = Default for {{sender.email}}\n"
	    "[template invoice]\n"
	    "subject = Invoice {{number}}\n"
	    "body = Dear {{customer}}\n");
	write_file(docpath, "%PDF-1.4\nhello\n");
	write_file(sidepath,
	    "[document]\ntemplate = invoice\nnumber = 42\ncustomer = Kunde\n");

	dm_config_init(&cfg);
	dm_compose_init(&c);
	dm_vars_init(&vars);
	dm_err_clear(&err);
	if (dm_config_load(&cfg, cfgpath, &err) == -1) {
		diag("config: %s", err.msg);
		return 1;
	}

	/* Recipients: To + Cc + Bcc, each once, in order. */
	memset(&o, 0, sizeof o);
	o.to = "a@x.test, b@x.test";
	o.cc = "b@X.TEST, c@x.test";
	o.bcc = "d@x.test, a@X.test";
	o.subject = "S";
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "compose with To, Cc, Bcc");
	is_int(c.rcpt.n, 4, "four distinct envelope recipients");
	is_str(c.rcpt.n == 4 ? c.rcpt.v[3].mailbox : NULL, "d@x.test",
	    "Bcc address is the last recipient");
	is_str(c.sender, "anna@example.test", "envelope sender is the profile's");
	m = message(&c);
	ok(m != NULL && strstr(m, "d@x.test") == NULL,
	    "the Bcc address is not in the message");
	ok(m != NULL && strstr(m, "Subject: S\r\n") != NULL, "subject as given");
	free(m);

	/* No recipient at all. */
	memset(&o, 0, sizeof o);
	o.subject = "S";
	is_int(build(&c, &cfg, NULL, &o, &err), -1, "no recipient fails");
	is_int(err.code, DM_EUSAGE, "as a usage error");
	o.to = " , ";
	is_int(build(&c, &cfg, NULL, &o, &err), -1, "an empty --to fails");
	is_int(err.code, DM_EDATA, "as a data error");
	ok(strstr(err.msg, "--to") != NULL, "naming the option: %s", err.msg);
	o.to = "no-at-sign";
	is_int(build(&c, &cfg, NULL, &o, &err), -1, "a bad address fails");
	is_int(err.code, DM_EDATA, "as a data error");

	/* From: override allowed, foreign domain flagged. */
	memset(&o, 0, sizeof o);
	o.to = "a@x.test";
	o.subject = "S";
	o.from = "Office <office@example.test>";
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "--from on the same domain");
	is_str(c.from.mailbox, "office@example.test", "From is overridden");
	is_int(c.from_foreign, 0, "same domain is not foreign");
	is_str(c.sender, "anna@example.test", "the envelope sender stays");
	o.from = "x@other.test";
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "--from on another domain");
	is_int(c.from_foreign, 1, "another domain is flagged");

	/* From: not allowed, becomes Reply-To. */
	is_int(build(&c, &cfg, "strict", &o, &err), 0, "strict profile");
	is_str(c.from.mailbox, "anna@example.test", "From stays the profile's");
	is_int(c.from_moved, 1, "the given From was moved");
	is_str(c.reply_to.n == 1 ? c.reply_to.v[0].mailbox : NULL,
	    "x@other.test", "and is the Reply-To");
	ok(c.from.name == NULL, "a profile without name gives a bare From");

	/* Templates: default, sidecar, --template, overrides. */
	memset(&o, 0, sizeof o);
	o.to = "a@x.test";
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "the default template");
	is_str(c.subject, "Default for anna@example.test",
	    "default template's subject with sender.email");
	files[0] = docpath;
	o.files = files;
	o.nfiles = 1;
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "the sidecar's template");
	is_str(c.subject, "Invoice 42", "sidecar value in the subject");
	is_str(c.body, "Dear Kunde", "sidecar value in the body");
	is_str(c.template_id, "invoice", "the template used is reported");
	dm_vars_add(&vars, "number", "7", "--set", &err);
	o.vars = &vars;
	o.subject = "Nr {{number}} / {{customer}}";
	is_int(build(&c, &cfg, NULL, &o, &err), 0, "--set and --subject");
	is_str(c.subject, "Nr 7 / Kunde", "--set wins over the sidecar");
	o.template_id = "nosuch";
	is_int(build(&c, &cfg, NULL, &o, &err), -1, "unknown --template");
	is_int(err.code, DM_EUSAGE, "is a usage error");

	/* The sidecar names a template the config lacks. */
	write_file(sidepath,
	    "[document]\ntemplate = letter\nnumber = 42\ncustomer = Kunde\n");
	o.template_id = NULL;
	o.subject = "Nr {{number}}";
	o.body = NULL;
	is_int(build(&c, &cfg, NULL, &o, &err), -1,
	    "a missing sidecar template is an error when the text is needed");
	ok(strstr(err.msg, "'letter'") != NULL, "naming it: %s", err.msg);
	o.body = "Dear {{customer}}";
	is_int(build(&c, &cfg, NULL, &o, &err), 0,
	    "with subject and text given it is not needed");
	is_str(c.body, "Dear Kunde", "and the sidecar's values still fill them");
	write_file(sidepath,
	    "[document]\ntemplate = invoice\nnumber = 42\ncustomer = Kunde\n");

	/* Header injection through a placeholder value. */
	memset(&o, 0, sizeof o);
	dm_vars_release(&vars);
	dm_vars_init(&vars);
	dm_vars_add(&vars, "x", "a\r\nBcc: e@x.test", "--set", &err);
	o.vars = &vars;
	o.to = "a@x.test";
	o.subject = "Hi {{x}}";
	is_int(build(&c, &cfg, NULL, &o, &err), -1,
	    "CR/LF arriving through a placeholder is refused");
	is_int(err.code, DM_EDATA, "as a data error");
	o.subject = "Hi {{y}}";
	is_int(build(&c, &cfg, NULL, &o, &err), -1, "unresolved placeholder");
	ok(strstr(err.msg, "{{y}}") != NULL, "is named: %s", err.msg);

	dm_compose_release(&c);
	dm_vars_release(&vars);
	dm_config_release(&cfg);
	unlink(sidepath);
	unlink(docpath);
	unlink(cfgpath);
	rmdir(dir);
	return done_testing();
}
