/*
 * t-profile.c - loading, checking and saving the config file; sidecars
 *
 * Every fixture is written into a fresh directory under /tmp, which is
 * removed at the end.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/tmpl.h>

#include "tap.h"

static char dir[64];

/* dir/name in one of a few rotating buffers. */
static const char *
fx(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	if (snprintf(b, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();
	return b;
}

static void
put(const char *name, const char *text, mode_t mode)
{
	const char *path = fx(name);
	FILE *fp;

	(void)unlink(path);
	if ((fp = fopen(path, "w")) == NULL ||
	    fputs(text, fp) == EOF || fclose(fp) == EOF ||
	    chmod(path, mode) == -1) {
		diag("cannot write %s: %s", path, strerror(errno));
		abort();
	}
}

/* The whole file, malloc'd; NULL if missing. */
static char *
slurp(const char *path)
{
	struct dm_buf b;
	struct dm_err err;
	char chunk[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	dm_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		if (dm_buf_add(&b, chunk, n, &err) == -1)
			abort();
	fclose(fp);
	return dm_buf_detach(&b);
}

/* Writes text as c.ini (mode 0600) and loads it. */
static int
load(struct dm_config *cfg, const char *text, struct dm_err *err)
{
	put("c.ini", text, 0600);
	dm_config_release(cfg);
	dm_err_clear(err);
	return dm_config_load(cfg, fx("c.ini"), err);
}

/* 1 when loading text fails with a message containing want. */
static int
fails_with(const char *text, const char *want, const char *hint)
{
	struct dm_config cfg;
	struct dm_err err;
	int r;

	dm_config_init(&cfg);
	r = load(&cfg, text, &err) == -1 && err.code == DM_ECONFIG &&
	    strstr(err.msg, want) != NULL &&
	    (hint == NULL || strstr(err.hint, hint) != NULL);
	if (!r)
		diag("msg '%s' hint '%s'", err.msg, err.hint);
	dm_config_release(&cfg);
	return r;
}

static int
contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/* Number of entries in dir other than . and .. */
static int
entries(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A file with a lowercase pin and every key of the contract example. */
static const char example[] =
    "[profile default]\n"
    "name = Anna Muster            ; display name in From\n"
    "email = anna@example.test     ; From address and envelope sender\n"
    "host = mail.example.test\n"
    "port = 587\n"
    "security = starttls           ; ssl | starttls | none\n"
    "user = anna@example.test\n"
    "password = s3cret             ; or: password_command = pass show mail/anna\n"
    "ca_file = /path/to/ca.pem     ; extra trust anchor\n"
    "tls_fingerprint = sha256:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89\n"
    "timeout = 30                  ; seconds per protocol step\n"
    "allow_from_override = yes     ; no: a From typed becomes Reply-To\n"
    "sent_maildir = ~/Mail/Sent    ; optional\n"
    "documents_dir = ~/invoices    ; where the TUI lists documents\n"
    "\n"
    "[template invoice]\n"
    "subject = Invoice {{number}} from {{sender.name}}\n"
    "body = Dear {{customer}},\\n\\nplease find attached invoice {{number}} ...\n";

#define FPR_UP	"sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

static void
test_example(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const struct dm_profile *p;
	const struct dm_template *t;
	char want[PATH_MAX];

	dm_config_init(&cfg);
	is_int(load(&cfg, example, &err), 0, "the contract example loads");
	if (err.msg[0] != '\0')
		diag("%s / %s", err.msg, err.hint);
	is_int(cfg.nprofiles, 1, "one profile");
	is_int(cfg.ntemplates, 1, "one template");
	is_str(cfg.path, fx("c.ini"), "path kept");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL, "default profile found");
	if (p == NULL)
		return;
	is_str(p->id, "default", "id");
	is_int(p->line, 1, "header line");
	is_str(p->name, "Anna Muster", "name, inline comment cut");
	is_str(p->email, "anna@example.test", "email");
	is_str(p->host, "mail.example.test", "host");
	is_int(p->port, 587, "port");
	is_int(p->security, DM_SEC_STARTTLS, "security");
	is_str(p->user, "anna@example.test", "user");
	ok(dm_secret_isset(&p->password) && p->password.len == 6 &&
	    strcmp(p->password.s, "s3cret") == 0, "password");
	ok(p->password_command == NULL, "no password_command");
	is_str(p->ca_file, "/path/to/ca.pem", "ca_file");
	is_str(p->tls_fingerprint, FPR_UP, "tls_fingerprint upper-cased");
	is_int(p->timeout, 30, "timeout");
	is_int(p->allow_from_override, 1, "allow_from_override");
	(void)snprintf(want, sizeof want, "%s/Mail/Sent", dir);
	is_str(p->sent_maildir, want, "sent_maildir: ~ expanded");
	(void)snprintf(want, sizeof want, "%s/invoices", dir);
	is_str(p->documents_dir, want, "documents_dir: ~ expanded");
	t = dm_config_template(&cfg, "invoice");
	ok(t != NULL, "template found");
	if (t != NULL) {
		is_str(t->subject, "Invoice {{number}} from {{sender.name}}",
		    "template subject");
		is_str(t->body, "Dear {{customer}},\n\nplease find attached invoice {{number}} ...",
		    "template body: \\n decoded");
	}
	ok(dm_config_template(&cfg, "nope") == NULL, "unknown template: NULL");
	ok(dm_config_template(&cfg, NULL) == NULL, "NULL template: NULL");
	dm_config_release(&cfg);
}

static void
test_selection(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const struct dm_profile *p;
	const char two[] =
	    "[profile work]\nhost = w.test\nemail = w@w.test\n"
	    "[profile default]\nhost = d.test\nemail = d@d.test\n";
	const char nodefault[] =
	    "[profile work]\nhost = w.test\nemail = w@w.test\n"
	    "[profile home]\nhost = h.test\nemail = h@h.test\n";

	dm_config_init(&cfg);
	is_int(load(&cfg, two, &err), 0, "two profiles load");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->id, "default") == 0 && p->line == 4,
	    "no --profile: default");
	p = dm_config_profile(&cfg, "work", &err);
	ok(p != NULL && strcmp(p->host, "w.test") == 0, "--profile work");
	dm_err_clear(&err);
	ok(dm_config_profile(&cfg, "nope", &err) == NULL &&
	    err.code == DM_ECONFIG, "unknown profile: error");
	ok(contains(err.msg, "no profile 'nope' in '") &&
	    contains(err.hint, "work, default"),
	    "... names it and lists the others");

	is_int(load(&cfg, nodefault, &err), 0, "two without default load");
	dm_err_clear(&err);
	ok(dm_config_profile(&cfg, NULL, &err) == NULL &&
	    contains(err.msg, "work, home") &&
	    contains(err.msg, "none is 'default'") &&
	    contains(err.hint, "--profile"),
	    "several, none default: error suggesting --profile");
	p = dm_config_profile(&cfg, "home", &err);
	ok(p != NULL && strcmp(p->id, "home") == 0, "... --profile home works");

	is_int(load(&cfg, "[profile solo]\nhost = s.test\nemail = s@s.test\n",
	    &err), 0, "one profile loads");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->id, "solo") == 0, "the only one is used");

	is_int(load(&cfg, "; nothing\n[template t]\nsubject = x\n", &err), 0,
	    "a file with no profile loads");
	dm_err_clear(&err);
	ok(dm_config_profile(&cfg, NULL, &err) == NULL &&
	    contains(err.msg, "no profile in"), "... but has no profile to use");
	dm_config_release(&cfg);
}

static void
test_templates(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const struct dm_template *t;

	dm_config_init(&cfg);
	is_int(load(&cfg,
	    "[template a]\n"
	    "subject = Re: {{x}} \\\\n not a break, \\t kept\n"
	    "body = Dear {{customer}},\n"
	    "    here is {{number}}.\n"
	    "\t\\nRegards\n"
	    "  ; an indented comment is a comment\n"
	    "\n"
	    "  after a blank line\n"
	    "[template b]\n"
	    "body =\n"
	    "  first\n"
	    "  second ; not a comment here\n"
	    "subject = s\n"
	    "  continued\n", &err), 0, "templates load");
	if (err.msg[0] != '\0')
		diag("%s", err.msg);
	t = dm_config_template(&cfg, "a");
	ok(t != NULL, "template a");
	if (t != NULL) {
		is_str(t->subject, "Re: {{x}} \\n not a break, \\t kept",
		    "\\\\ is a backslash, other backslashes stay");
		is_str(t->body, "Dear {{customer}},\nhere is {{number}}.\n\nRegards\nafter a blank line",
		    "continuation lines joined with line breaks");
	}
	t = dm_config_template(&cfg, "b");
	ok(t != NULL, "template b");
	if (t != NULL) {
		is_str(t->body, "first\nsecond ; not a comment here",
		    "'body =' alone: the text starts on the next line");
		is_str(t->subject, "s\ncontinued", "subject may continue too");
	}
	ok(fails_with("[profile x]\nhost = a.test\n  email = b@c.test\n",
	    "c.ini:3: indented line continues 'host' of line 2", "indentation"),
	    "an indented profile line is an error");
	ok(fails_with("[template t]\nsubjet = x\n",
	    "c.ini:2: unknown key 'subjet' in [template t]", "'subject'"),
	    "unknown template key");
	ok(fails_with("[template t]\nbody = a\nbody = b\n",
	    "c.ini:3: duplicate key 'body' in [template t] (first at line 2)",
	    NULL), "duplicate template key");
	ok(fails_with("[template t]\n[template t]\n",
	    "c.ini:2: duplicate section '[template t]' (first at line 1)",
	    NULL), "duplicate template section");
	dm_config_release(&cfg);
}

static void
test_format(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const struct dm_profile *p;
	char line[400];

	dm_config_init(&cfg);
	is_int(load(&cfg, "\xef\xbb\xbf[profile default]\nhost = h.test\n"
	    "email = e@h.test\n", &err), 0, "a UTF-8 BOM is skipped");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->host, "h.test") == 0, "... values read");
	ok(fails_with("\xef\xbb\xbf[profile default]\nhost = h.test\nhots = x\n",
	    "c.ini:3: unknown key", NULL), "... line numbers right after a BOM");

	is_int(load(&cfg, "[profile default]\r\nhost = h.test\r\n"
	    "email = e@h.test\r\npassword = pw\r\n", &err), 0,
	    "CRLF line ends load");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->host, "h.test") == 0 &&
	    strcmp(p->password.s, "pw") == 0, "... no CR in the values");

	is_int(load(&cfg, "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "password = abc ;def\nuser = a;b\nname = Anna # not a comment\n"
	    "# a comment\n; another\n", &err), 0, "comments");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->password.s, "abc") == 0,
	    "' ;' starts an inline comment");
	ok(p != NULL && strcmp(p->user, "a;b") == 0, "';' without space stays");
	ok(p != NULL && strcmp(p->name, "Anna # not a comment") == 0,
	    "'#' inside a value stays");

	/* The loader takes what a save can write back, and only that. */
	is_int(load(&cfg, "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "password = #secret\nname = Anna\tMuster\n", &err), 0,
	    "'#' first and a tab inside load");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strcmp(p->password.s, "#secret") == 0 &&
	    strcmp(p->name, "Anna\tMuster") == 0, "... as written");
	dm_err_clear(&err);
	is_int(load(&cfg, "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "name = Anna\x01Muster\n", &err), -1,
	    "a control character in a value is refused");
	ok(err.code == DM_ECONFIG && contains(err.msg, ":4: ") &&
	    contains(err.msg, "name"), "... naming line and key: %s", err.msg);
	/* Found by fuzzing: saved as "password = ;c", it would be a comment. */
	dm_err_clear(&err);
	is_int(load(&cfg, "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "password =;c d\n", &err), -1,
	    "a value that begins with ';' (no space after '=') is refused");
	ok(err.code == DM_ECONFIG && contains(err.msg, ":4: ") &&
	    contains(err.msg, "password") && !contains(err.msg, "c d") &&
	    contains(err.hint, "password_command"),
	    "... naming line and key, not the value, with a way out: %s",
	    err.msg);
	{
		char longp[300], *home = getenv("HOME");
		int c;

		/* The line fits 199 characters; $HOME makes the value longer. */
		home = home == NULL ? NULL : strdup(home);
		setenv("HOME", "/home/anna-with-a-long-home", 1);
		c = snprintf(longp, sizeof longp, "[profile default]\n"
		    "host = h.test\nemail = e@h.test\ndocuments_dir = ~/%0178d\n",
		    7);
		dm_err_clear(&err);
		is_int(c > 0 && (size_t)c < sizeof longp ? load(&cfg, longp,
		    &err) : 0, -1, "a path too long once '~' is expanded is "
		    "refused");
		ok(err.code == DM_ECONFIG && contains(err.msg, "documents_dir") &&
		    contains(err.msg, "'~'"), "... saying so: %s", err.msg);
		if (home != NULL)
			setenv("HOME", home, 1);
		else
			unsetenv("HOME");
		free(home);
	}

	/* 199 characters: the longest line inih reads whole. */
	(void)snprintf(line, sizeof line,
	    "[profile default]\nhost = h.test\nemail = e@h.test\nname = %0192d\n",
	    7);
	is_int(load(&cfg, line, &err), 0, "a 199-character line loads");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && strlen(p->name) == 192, "... whole");
	(void)snprintf(line, sizeof line,
	    "[profile default]\r\nhost = h.test\r\nemail = e@h.test\r\nname = %0192d\r\n",
	    7);
	is_int(load(&cfg, line, &err), 0, "... also with CRLF");
	(void)snprintf(line, sizeof line,
	    "[profile default]\nhost = h.test\nemail = e@h.test\nname = %0193d\n",
	    7);
	ok(fails_with(line, "c.ini:4: line longer than 199 characters", NULL),
	    "a 200-character line is an error");
	(void)snprintf(line, sizeof line,
	    "[profile default]\npassword = %0300d\nhost = h.test\nemail = e@h.test\n",
	    7);
	ok(fails_with(line, "c.ini:2: line longer than 199 characters",
	    "password_command"), "a 300-character password is an error, not cut");
	(void)snprintf(line, sizeof line, "; %0300d\n[profile default]\nhost = h.test\nemail = e@h.test\n",
	    7);
	ok(fails_with(line, "c.ini:1: line longer", NULL),
	    "... even in a comment");
	{
		static const char nul[] = "[profile default]\nhost = h\0x\n";
		FILE *fp = fopen(fx("nul.ini"), "w");

		if (fp == NULL || fwrite(nul, 1, sizeof nul - 1, fp) !=
		    sizeof nul - 1 || fclose(fp) == EOF)
			abort();
		dm_err_clear(&err);
		ok(dm_config_load(&cfg, fx("nul.ini"), &err) == -1 &&
		    contains(err.msg, "nul.ini:2: line holds a NUL byte"),
		    "a NUL byte is an error, not the end of the value");
	}

	ok(fails_with("[profile default]\njust words\n", "c.ini:2: syntax error",
	    "key = value"), "a line without '=' is a syntax error");
	ok(fails_with("[profile default\nhost = x\n", "c.ini:1: syntax error",
	    NULL), "an unclosed '[' is a syntax error");
	ok(fails_with("host = h.test\n[profile default]\n",
	    "c.ini:1: key 'host' is outside any section", "[profile NAME]"),
	    "keys before any section");
	ok(fails_with("[profile default]\nhost = a.test\nemail = e@a.test\n"
	    "host = b.test\n", "c.ini:4: duplicate key 'host' in [profile default] (first at line 2)",
	    "lines 2 and 4"), "duplicate key names both lines");
	ok(fails_with("[profile default]\nhost = a.test\nemail = e@a.test\n"
	    "[profile default]\nhost = b.test\n",
	    "c.ini:4: duplicate section '[profile default]' (first at line 1)",
	    NULL), "duplicate section");
	ok(fails_with("[profile a]\nhost = a.test\nemail = e@a.test\n"
	    "[profile b]\nhost = b.test\nemail = e@b.test\n[profile a]\n",
	    "c.ini:7: duplicate section", NULL),
	    "... also when other sections lie between");
	dm_config_release(&cfg);
}

static void
test_names(void)
{
	ok(fails_with("[profile default]\nhots = x\n",
	    "c.ini:2: unknown key 'hots' in [profile default]",
	    "did you mean 'host'?"), "unknown key: did you mean");
	ok(fails_with("[profile default]\nPassword = x\n",
	    "unknown key 'Password'", "did you mean 'password'?"),
	    "... case");
	ok(fails_with("[profile default]\npassword_cmd = x\n",
	    "unknown key 'password_cmd'", "did you mean 'password"),
	    "... prefix");
	ok(fails_with("[profile default]\nfrobnicate = x\n",
	    "unknown key 'frobnicate'",
	    "name, email, host, port, security, user, password"),
	    "... no near miss: the valid keys");
	ok(fails_with("[profil default]\n",
	    "c.ini:1: unknown section '[profil default]'",
	    "did you mean '[profile default]'?"), "unknown section: near miss");
	ok(fails_with("[smtp]\n", "unknown section '[smtp]'",
	    "expected [profile NAME] or [template NAME]"),
	    "unknown section: what is expected");
	ok(fails_with("; c\n[document]\nx = 1\n",
	    "c.ini:2: unknown section '[document]'", NULL),
	    "[document] is for sidecars only");
	ok(fails_with("[profile]\n", "section '[profile]' has no name",
	    "[profile default]"), "section without a name");
	ok(fails_with("[profile a/b]\n", "invalid name 'a/b'", NULL),
	    "section with a bad name");
}

static void
test_values(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const struct dm_profile *p;
	const char *head = "[profile default]\nhost = h.test\nemail = e@h.test\n";
	char text[600];
	size_t i;
	static const struct {
		const char	*line;
		const char	*want;
	} bad[] = {
		{ "port = 0", "invalid port '0'" },
		{ "port = 65536", "invalid port '65536'" },
		{ "port = 25x", "invalid port '25x'" },
		{ "port = -1", "invalid port '-1'" },
		{ "timeout = 0", "invalid timeout '0'" },
		{ "timeout = 3601", "invalid timeout '3601'" },
		{ "max_per_minute = -1", "invalid max_per_minute '-1'" },
		{ "max_per_minute = 6001", "invalid max_per_minute '6001'" },
		{ "max_per_minute = 30/min", "invalid max_per_minute '30/min'" },
		{ "security = tls", "invalid security 'tls' (expected ssl, starttls or none)" },
		{ "allow_from_override = maybe", "invalid allow_from_override 'maybe'" },
		{ "tls_fingerprint = AB:CD", "invalid tls_fingerprint" },
		{ "tls_fingerprint = sha1:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89", "invalid tls_fingerprint" },
		{ "tls_fingerprint = sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:8G", "invalid tls_fingerprint" },
		{ "tls_fingerprint = sha256:ABCDEF01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89::", "invalid tls_fingerprint" },
		{ "email = no-at.test", "invalid email 'no-at.test'" },
		{ "email = a@b@c.test", "invalid email" },
		{ "email = Anna <a@b.test>", "invalid email" },
		{ "email = @b.test", "invalid email" },
		{ "email = a@", "invalid email" },
		{ "host = smtp://h.test", "invalid host" },
	};

	/* Each bad value alone in an otherwise good section. */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (strncmp(bad[i].line, "email", 5) == 0)
			(void)snprintf(text, sizeof text,
			    "[profile default]\nhost = h.test\n%s\n",
			    bad[i].line);
		else if (strncmp(bad[i].line, "host", 4) == 0)
			(void)snprintf(text, sizeof text,
			    "[profile default]\n%s\nemail = e@h.test\n",
			    bad[i].line);
		else
			(void)snprintf(text, sizeof text, "%s%s\n", head,
			    bad[i].line);
		ok(fails_with(text, bad[i].want, NULL), "refused: %s",
		    bad[i].line);
	}
	ok(fails_with("[profile default]\nhost = h.test\nemail = e@h.test\nport = 0\n",
	    "c.ini:4:", "465 for ssl"), "bad values name FILE:LINE and help");

	dm_config_init(&cfg);
	(void)snprintf(text, sizeof text, "%sport = 65535\ntimeout = 3600\n"
	    "security = SSL\nallow_from_override = off\n"
	    "max_per_minute = 6000\n", head);
	is_int(load(&cfg, text, &err), 0, "edge values load");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && p->max_per_minute == 6000,
	    "max_per_minute = 6000 loads");
	ok(p != NULL && p->port == 65535 && p->timeout == 3600 &&
	    p->security == DM_SEC_SSL && p->allow_from_override == 0,
	    "... 65535, 3600, SSL, off");
	(void)snprintf(text, sizeof text, "%sport = 1\ntimeout = 1\n"
	    "security = none\nallow_from_override = TRUE\nuser =\n", head);
	is_int(load(&cfg, text, &err), 0, "more edge values load");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && p->port == 1 && p->timeout == 1 &&
	    p->security == DM_SEC_NONE && p->allow_from_override == 1 &&
	    p->user == NULL, "... 1, 1, none, TRUE, empty user unset");
	(void)snprintf(text, sizeof text, "%sallow_from_override = 0\n", head);
	is_int(load(&cfg, text, &err), 0, "allow_from_override = 0");
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && p->allow_from_override == 0 && p->port == 0 &&
	    dm_profile_port(p) == 587, "... and the default port is 587");

	ok(fails_with("[profile default]\nemail = e@h.test\n",
	    "c.ini:1: profile 'default' has no 'host'",
	    "add 'host = smtp.example.com' to [profile default]"),
	    "missing host: header line and hint");
	ok(fails_with("; top\n\n[profile work]\nhost = h.test\n",
	    "c.ini:3: profile 'work' has no 'email'", "add 'email = "),
	    "missing email");
	ok(fails_with("[profile a]\nhost = h.test\nemail = e@h.test\n[profile b]\n",
	    "c.ini:4: profile 'b' has no 'host'", NULL),
	    "an empty section is incomplete too");
	dm_config_release(&cfg);
}

static void
test_files(void)
{
	struct dm_config cfg;
	struct dm_err err;
	const char *pw = "[profile default]\nhost = h.test\nemail = e@h.test\npassword = s3cret\n";
	const char *nopw = "[profile default]\nhost = h.test\nemail = e@h.test\npassword_command = pass x\n";
	char want[PATH_MAX + 64];

	dm_config_init(&cfg);
	put("p.ini", pw, 0644);
	dm_err_clear(&err);
	is_int(dm_config_load(&cfg, fx("p.ini"), &err), -1,
	    "a password readable by others is refused");
	(void)snprintf(want, sizeof want,
	    "'%s' holds a password and can be read by other users (mode 0644)",
	    fx("p.ini"));
	is_str(err.msg, want, "... the message");
	(void)snprintf(want, sizeof want, "run: chmod 600 '%s'", fx("p.ini"));
	is_str(err.hint, want, "... the hint");
	ok(err.code == DM_ECONFIG && !contains(err.msg, "s3cret") &&
	    !contains(err.hint, "s3cret"), "... config error, no password shown");
	put("p.ini", pw, 0640);
	is_int(dm_config_load(&cfg, fx("p.ini"), &err), -1,
	    "group-readable is refused too");
	put("p.ini", pw, 0600);
	is_int(dm_config_load(&cfg, fx("p.ini"), &err), 0, "0600 is accepted");
	put("p.ini", nopw, 0644);
	is_int(dm_config_load(&cfg, fx("p.ini"), &err), 0,
	    "0644 without a password is accepted");
	put("p.ini", "[profile default]\nhost = h.test\nemail = e@h.test\npassword =\n",
	    0644);
	is_int(dm_config_load(&cfg, fx("p.ini"), &err), 0,
	    "... an empty password is no password");
	ok(!dm_secret_isset(&cfg.profiles[0].password), "... and stays unset");

	dm_err_clear(&err);
	is_int(dm_config_load(&cfg, fx("missing.ini"), &err), -1,
	    "a missing file is an error");
	(void)snprintf(want, sizeof want,
	    "cannot read config file '%s': No such file or directory",
	    fx("missing.ini"));
	is_str(err.msg, want, "... the message");
	ok(err.code == DM_ECONFIG && contains(err.hint, "docmail settings") &&
	    contains(err.hint, "--config"), "... hint names docmail settings");
	ok(cfg.nprofiles == 1, "... a failed load leaves cfg as it was");
	is_int(dm_config_load(&cfg, dir, &err), -1, "a directory is refused");
	ok(contains(err.msg, "Is a directory"), "... saying so");
	dm_config_release(&cfg);
}

static void
test_paths(void)
{
	struct dm_err err;
	char *p;

	p = dm_config_default_path("/x/y.ini", &err);
	is_str(p, "/x/y.ini", "explicit path wins");
	free(p);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	p = dm_config_default_path(NULL, &err);
	is_str(p, "/xdg/docmail/config.ini", "XDG_CONFIG_HOME");
	free(p);
	setenv("XDG_CONFIG_HOME", "relative", 1);
	setenv("HOME", "/home/anna", 1);
	p = dm_config_default_path(NULL, &err);
	is_str(p, "/home/anna/.config/docmail/config.ini",
	    "relative XDG_CONFIG_HOME ignored: HOME");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	dm_err_clear(&err);
	p = dm_config_default_path(NULL, &err);
	ok(p == NULL && err.code == DM_ECONFIG &&
	    contains(err.hint, "--config"), "neither: config error");
	free(p);
	setenv("HOME", dir, 1);
}

static void
test_small(void)
{
	struct dm_profile p;
	struct dm_secret s;
	struct dm_err err;
	enum dm_security sec;
	int need;

	dm_profile_init(&p);
	ok(p.port == 0 && p.security == DM_SEC_STARTTLS && p.timeout == 30 &&
	    p.allow_from_override == 1 && !dm_secret_isset(&p.password),
	    "profile defaults");
	is_int(dm_profile_port(&p), 587, "starttls: 587");
	p.security = DM_SEC_SSL;
	is_int(dm_profile_port(&p), 465, "ssl: 465");
	p.security = DM_SEC_NONE;
	is_int(dm_profile_port(&p), 25, "none: 25");
	p.port = 2525;
	is_int(dm_profile_port(&p), 2525, "explicit port");
	ok(strcmp(dm_security_name(DM_SEC_SSL), "ssl") == 0 &&
	    strcmp(dm_security_name(DM_SEC_STARTTLS), "starttls") == 0 &&
	    strcmp(dm_security_name(DM_SEC_NONE), "none") == 0,
	    "security names");
	ok(dm_security_parse("starttls", &sec) == 0 && sec == DM_SEC_STARTTLS &&
	    dm_security_parse("none", &sec) == 0 && sec == DM_SEC_NONE &&
	    dm_security_parse("tls", &sec) == -1, "security parse");

	dm_secret_init(&s);
	dm_err_clear(&err);
	is_int(dm_profile_password(&p, &s, &need, &err), 0, "no password");
	ok(need == 1 && !dm_secret_isset(&s), "... the front end must ask");
	p.password_command = strdup("echo from-cmd");
	is_int(dm_profile_password(&p, &s, &need, &err), 0, "password_command");
	ok(need == 0 && strcmp(s.s, "from-cmd") == 0, "... its output");
	(void)dm_secret_set(&p.password, "own", 3, &err);
	is_int(dm_profile_password(&p, &s, &need, &err), 0, "own password");
	ok(need == 0 && strcmp(s.s, "own") == 0, "... wins over the command");
	dm_secret_release(&p.password);
	free(p.password_command);
	p.password_command = strdup("exit 3");
	is_int(dm_profile_password(&p, &s, &need, &err), -1, "failing command");
	is_int(err.code, DM_ECONFIG, "... is a config error");
	dm_secret_release(&s);
	dm_profile_release(&p);
	ok(p.id == NULL && p.password_command == NULL && p.timeout == 30,
	    "release leaves an initialised profile");
}

#define PW	"p@ss;w=rd:#x \"q\" ü"

/* A profile with every field set, the strings malloc'd. */
static void
full_profile(struct dm_profile *p, const char *id)
{
	struct dm_err err;

	dm_profile_init(p);
	p->id = strdup(id);
	p->name = strdup("Anna Müller");
	p->email = strdup("anna@example.test");
	p->host = strdup("mail.example.test");
	p->port = 465;
	p->security = DM_SEC_SSL;
	p->user = strdup("anna");
	(void)dm_secret_set(&p->password, PW, strlen(PW), &err);
	p->password_command = strdup("pass show mail/anna");
	p->ca_file = strdup("/etc/ca.pem");
	p->tls_fingerprint = strdup(FPR_UP);
	p->timeout = 45;
	p->max_per_minute = 30;
	p->allow_from_override = 0;
	p->sent_maildir = strdup("/m/Sent");
	p->documents_dir = strdup("/d/invoices");
}

static int
same_profile(const struct dm_profile *a, const struct dm_profile *b)
{
#define S(x) ((a->x == NULL && b->x == NULL) || \
	(a->x != NULL && b->x != NULL && strcmp(a->x, b->x) == 0))
	return S(id) && S(name) && S(email) && S(host) &&
	    a->port == b->port && a->security == b->security && S(user) &&
	    S(password.s) && a->password.len == b->password.len &&
	    S(password_command) && S(ca_file) && S(tls_fingerprint) &&
	    a->timeout == b->timeout &&
	    a->max_per_minute == b->max_per_minute &&
	    a->allow_from_override == b->allow_from_override &&
	    S(sent_maildir) && S(documents_dir);
#undef S
}

/* Saves p to path and loads it back into cfg. */
static int
save_load(const char *path, const struct dm_profile *p,
    struct dm_config *cfg, struct dm_err *err)
{
	dm_err_clear(err);
	if (dm_profile_save(path, p, err) == -1)
		return -1;
	dm_config_release(cfg);
	return dm_config_load(cfg, path, err);
}

static void
test_save_new(void)
{
	struct dm_config cfg;
	struct dm_profile p;
	struct dm_err err;
	const struct dm_profile *q;
	struct stat sb;
	const char *path = fx("new/sub/config.ini");
	char *text;

	dm_config_init(&cfg);
	full_profile(&p, "default");
	umask(022);
	is_int(save_load(path, &p, &cfg, &err), 0,
	    "save creates file and directories, and it loads");
	if (err.msg[0] != '\0')
		diag("%s / %s", err.msg, err.hint);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "the file is 0600 despite umask 022");
	ok(stat(fx("new/sub"), &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "the new directory is 0700");
	ok(stat(fx("new"), &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "... and its parent");
	q = dm_config_profile(&cfg, "default", &err);
	ok(q != NULL && same_profile(&p, q), "every field round-trips");
	text = slurp(path);
	is_str(text,
	    "[profile default]\n"
	    "name = Anna Müller\n"
	    "email = anna@example.test\n"
	    "host = mail.example.test\n"
	    "port = 465\n"
	    "security = ssl\n"
	    "user = anna\n"
	    "password = p@ss;w=rd:#x \"q\" ü\n"
	    "password_command = pass show mail/anna\n"
	    "ca_file = /etc/ca.pem\n"
	    "tls_fingerprint = " FPR_UP "\n"
	    "timeout = 45\n"
	    "allow_from_override = no\n"
	    "sent_maildir = /m/Sent\n"
	    "documents_dir = /d/invoices\n"
	    "max_per_minute = 30\n", "the file, keys in order");
	free(text);

	/* Defaults are left out of a new section. */
	dm_profile_release(&p);
	dm_profile_init(&p);
	p.id = strdup("min");
	p.host = strdup("h.test");
	p.email = strdup("e@h.test");
	is_int(save_load(path, &p, &cfg, &err), 0, "a second profile appended");
	text = slurp(path);
	ok(contains(text, "max_per_minute = 30\n\n[profile min]\n"
	    "email = e@h.test\nhost = h.test\nsecurity = starttls\n") &&
	    !contains(text, "timeout = 30") &&
	    !contains(text, "allow_from_override = yes"),
	    "... after a blank line, defaults left out");
	free(text);
	q = dm_config_profile(&cfg, "min", &err);
	ok(q != NULL && same_profile(&p, q) && cfg.nprofiles == 2,
	    "... and both load");
	dm_profile_release(&p);
	ok(entries(fx("new/sub")) == 1, "no temporary file left behind");
	dm_config_release(&cfg);
}

/* Modes whatever the umask: none at all, or one that takes our own bits. */
static void
test_save_umask(void)
{
	static const mode_t masks[] = { 0, 0277 };
	struct dm_profile p;
	struct dm_err err;
	struct stat sb;
	char top[64], sub[64], path[64];
	size_t i;

	for (i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		(void)snprintf(top, sizeof top, "umask%zu", i);
		(void)snprintf(sub, sizeof sub, "umask%zu/sub", i);
		(void)snprintf(path, sizeof path, "umask%zu/sub/c.ini", i);
		full_profile(&p, "default");
		umask(masks[i]);
		dm_err_clear(&err);
		is_int(dm_profile_save(fx(path), &p, &err), 0,
		    i == 0 ? "save with umask 000" : "save with umask 0277");
		umask(022);
		if (err.msg[0] != '\0')
			diag("%s", err.msg);
		ok(stat(fx(path), &sb) == 0 && (sb.st_mode & 0777) == 0600 &&
		    stat(fx(sub), &sb) == 0 && (sb.st_mode & 0777) == 0700 &&
		    stat(fx(top), &sb) == 0 && (sb.st_mode & 0777) == 0700,
		    "... the file is 0600, the new directories 0700");
		dm_profile_release(&p);
	}
}

/* No file in dir starts with '.': temporary files are ".NAME.XXXXXX". */
static int
no_dotfiles(const char *path)
{
	struct dirent *de;
	DIR *d;
	int r = 1;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			r = 0;
	closedir(d);
	return r;
}

static const char keep[] =
    "# docmail configuration\n"
    "; written by hand\n"
    "\n"
    "[template invoice]\n"
    "subject = Invoice {{number}}\n"
    "body = Dear {{customer}},\n"
    "  please pay.\n"
    "\n"
    "[profile work]\n"
    "host = work.test\n"
    "email = me@work.test\n"
    "\n"
    "[profile default]   ; the usual one\n"
    "# the server\n"
    "host   =   old.example.test   ; main server\n"
    "email=anna@example.test\n"
    "port = 587\n"
    "user = anna ; login\n"
    "password = old-secret\n"
    "; trailing comment in the section\n"
    "\n"
    "[template reminder]\n"
    "subject = Reminder\n";

static void
test_save_update(void)
{
	struct dm_config cfg;
	struct dm_profile p;
	struct dm_err err;
	const struct dm_profile *q;
	const char *path = fx("u.ini");
	char *text, *before;
	size_t i;
	static const char *const hostile[] = {
		" lead", "trail ", "a ;b", "a\rb", "a\nb", "a\x01b", ";x", "a\x7f",
	};

	dm_config_init(&cfg);
	put("u.ini", keep, 0600);
	dm_err_clear(&err);
	is_int(dm_config_load(&cfg, path, &err), 0, "the hand-written file loads");
	if (err.msg[0] != '\0')
		diag("%s", err.msg);
	q = dm_config_profile(&cfg, NULL, &err);
	if (q == NULL)
		return;
	/* A copy to edit, as the settings screen would. */
	dm_profile_init(&p);
	p.id = strdup(q->id);
	p.host = strdup("new.example.test");
	p.email = strdup(q->email);
	p.port = q->port;
	p.user = NULL;			/* removed */
	(void)dm_secret_set(&p.password, "new-secret", 10, &err);
	p.timeout = 60;			/* added */
	is_int(save_load(path, &p, &cfg, &err), 0, "update in place");
	text = slurp(path);
	is_str(text,
	    "# docmail configuration\n"
	    "; written by hand\n"
	    "\n"
	    "[template invoice]\n"
	    "subject = Invoice {{number}}\n"
	    "body = Dear {{customer}},\n"
	    "  please pay.\n"
	    "\n"
	    "[profile work]\n"
	    "host = work.test\n"
	    "email = me@work.test\n"
	    "\n"
	    "[profile default]   ; the usual one\n"
	    "# the server\n"
	    "host   =   new.example.test   ; main server\n"
	    "email=anna@example.test\n"
	    "port = 587\n"
	    "password = new-secret\n"
	    "security = starttls\n"
	    "timeout = 60\n"
	    "; trailing comment in the section\n"
	    "\n"
	    "[template reminder]\n"
	    "subject = Reminder\n",
	    "changed values rewritten, comments and other sections kept");
	free(text);
	q = dm_config_profile(&cfg, NULL, &err);
	ok(q != NULL && same_profile(&p, q), "... and it reads back");
	ok(dm_config_template(&cfg, "invoice") != NULL &&
	    strcmp(dm_config_template(&cfg, "invoice")->body,
	    "Dear {{customer}},\nplease pay.") == 0, "... templates intact");

	/* Remove the password, keep the rest. */
	dm_secret_release(&p.password);
	is_int(save_load(path, &p, &cfg, &err), 0, "remove a key");
	text = slurp(path);
	ok(!contains(text, "password") && contains(text, "port = 587\n"
	    "security = starttls\ntimeout = 60\n; trailing comment"),
	    "... only its line goes");
	free(text);

	/* Saving the same profile again changes nothing. */
	before = slurp(path);
	is_int(save_load(path, &p, &cfg, &err), 0, "save unchanged");
	text = slurp(path);
	is_str(text, before, "... the file is byte for byte the same");
	free(text);

	/* Hostile values: refused, and the file stays as it was. */
	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		(void)dm_secret_set(&p.password, hostile[i],
		    strlen(hostile[i]), &err);
		dm_err_clear(&err);
		ok(dm_profile_save(path, &p, &err) == -1 &&
		    err.code == DM_ECONFIG &&
		    contains(err.msg, "cannot save the password") &&
		    !contains(err.msg, hostile[i]) &&
		    contains(err.hint, "password_command"),
		    "hostile password %zu refused without showing it", i);
	}
	{
		char longpw[251];

		memset(longpw, 'x', 250);
		longpw[250] = '\0';
		(void)dm_secret_set(&p.password, longpw, 250, &err);
		ok(dm_profile_save(path, &p, &err) == -1 &&
		    contains(err.msg, "longer than") &&
		    !contains(err.msg, "xxxxx"),
		    "a 250-character password is refused");
		(void)dm_secret_set(&p.password, longpw, 188, &err);
		(void)dm_secret_set(&p.password, longpw, 189, &err);
		ok(dm_profile_save(path, &p, &err) == -1,
		    "... so is 189 (the line would be 200)");
		(void)dm_secret_set(&p.password, longpw, 188, &err);
		is_int(save_load(path, &p, &cfg, &err), 0,
		    "... 188 fits in 199");
		q = dm_config_profile(&cfg, NULL, &err);
		ok(q != NULL && q->password.len == 188, "... and reads back");
		free(before);
		before = slurp(path);
	}
	(void)dm_secret_set(&p.password, "fine", 4, &err);
	free(p.user);
	p.user = strdup("anna ");
	ok(dm_profile_save(path, &p, &err) == -1 &&
	    contains(err.msg, "cannot save 'user' of profile 'default': it ends with a space"),
	    "a user with a trailing space is refused");
	free(p.user);
	p.user = strdup("x\ny");
	ok(dm_profile_save(path, &p, &err) == -1 &&
	    contains(err.msg, "control character"), "a user with LF is refused");
	free(p.user);
	p.user = NULL;
	text = slurp(path);
	is_str(text, before, "the file is unchanged after refusals");
	free(text);
	free(before);
	ok(no_dotfiles(dir), "no temporary file");
	dm_profile_release(&p);
	dm_config_release(&cfg);
}

static void
test_save_misc(void)
{
	struct dm_config cfg;
	struct dm_profile p;
	struct dm_err err;
	const struct dm_profile *q;
	char *text, path[PATH_MAX];
	int n;

	dm_config_init(&cfg);
	dm_profile_init(&p);
	p.id = strdup("default");
	p.host = strdup("h.test");
	p.email = strdup("e@h.test");

	/* CRLF file: its style is kept for new lines. */
	put("crlf.ini", "; c\r\n[profile default]\r\nhost = old.test\r\n", 0600);
	is_int(save_load(fx("crlf.ini"), &p, &cfg, &err), 0, "CRLF file");
	text = slurp(fx("crlf.ini"));
	is_str(text, "; c\r\n[profile default]\r\nhost = h.test\r\n"
	    "email = e@h.test\r\nsecurity = starttls\r\n", "... stays CRLF");
	free(text);

	/* A BOM stays. */
	put("bom.ini", "\xef\xbb\xbf[profile default]\nhost = old.test\n", 0600);
	is_int(save_load(fx("bom.ini"), &p, &cfg, &err), 0, "file with a BOM");
	text = slurp(fx("bom.ini"));
	is_str(text, "\xef\xbb\xbf[profile default]\nhost = h.test\n"
	    "email = e@h.test\nsecurity = starttls\n", "... keeps it");
	free(text);

	/* No line end at the end, section missing. */
	put("nonl.ini", "[profile other]\nhost = o.test\nemail = o@o.test", 0600);
	is_int(save_load(fx("nonl.ini"), &p, &cfg, &err), 0,
	    "file without a final line end");
	text = slurp(fx("nonl.ini"));
	is_str(text, "[profile other]\nhost = o.test\nemail = o@o.test\n\n"
	    "[profile default]\nemail = e@h.test\nhost = h.test\n"
	    "security = starttls\n", "... section appended");
	free(text);
	ok(cfg.nprofiles == 2, "... both profiles load");

	/* Duplicates and continuations of our keys go. */
	put("dup.ini", "[profile default]\nhost = a.test\n  more\nx-note = 1\n"
	    "  kept\nhost = b.test\n[profile z]\n", 0600);
	dm_err_clear(&err);
	is_int(dm_profile_save(fx("dup.ini"), &p, &err), 0, "messy section");
	text = slurp(fx("dup.ini"));
	is_str(text, "[profile default]\nhost = h.test\nx-note = 1\n  kept\n"
	    "email = e@h.test\nsecurity = starttls\n[profile z]\n",
	    "... duplicates and continuations of our keys go, others stay");
	free(text);

	/* An inline comment survives, even after an empty value. */
	put("cm.ini", "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "user = ; who logs in\nport=25\n", 0600);
	free(p.user);
	p.user = strdup("anna");
	p.port = 2525;
	is_int(save_load(fx("cm.ini"), &p, &cfg, &err), 0, "comment after empty value");
	text = slurp(fx("cm.ini"));
	is_str(text, "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "user = anna ; who logs in\nport=2525\nsecurity = starttls\n",
	    "... kept behind the new value");
	free(text);
	q = dm_config_profile(&cfg, NULL, &err);
	ok(q != NULL && strcmp(q->user, "anna") == 0 && q->port == 2525,
	    "... and the value reads back");

	/* Saving a ~ path the file already has as ~ keeps the line. */
	put("home.ini", "[profile default]\nhost = h.test\nemail = e@h.test\n"
	    "security = starttls\nsent_maildir = ~/Sent\nuser = anna\nport = 2525\n",
	    0600);
	free(p.sent_maildir);
	(void)snprintf(path, sizeof path, "%s/Sent", dir);
	p.sent_maildir = strdup(path);
	is_int(dm_profile_save(fx("home.ini"), &p, &err), 0, "~ path");
	text = slurp(fx("home.ini"));
	ok(contains(text, "sent_maildir = ~/Sent\n"), "... the line keeps '~'");
	free(text);

	/* Failures: nothing written, DM_EIO with the path. */
	put("afile", "x", 0600);
	dm_err_clear(&err);
	is_int(dm_profile_save(fx("afile/config.ini"), &p, &err), -1,
	    "a directory that is a file");
	ok(err.code == DM_EIO && contains(err.msg, fx("afile")) &&
	    contains(err.msg, "Not a directory"), "... DM_EIO with the path");
	{
		/* A write that fails half-way: the file limit, even for root. */
		struct rlimit old, lim;
		char *b4, *aft;

		put("big.ini", "[profile default]\nhost = old.test\n", 0600);
		b4 = slurp(fx("big.ini"));
		(void)signal(SIGXFSZ, SIG_IGN);
		(void)getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = 20;
		(void)setrlimit(RLIMIT_FSIZE, &lim);
		dm_err_clear(&err);
		is_int(dm_profile_save(fx("big.ini"), &p, &err), -1,
		    "a failing write");
		(void)setrlimit(RLIMIT_FSIZE, &old);
		(void)signal(SIGXFSZ, SIG_DFL);
		ok(err.code == DM_EIO && contains(err.msg, fx("big.ini")) &&
		    contains(err.msg, "File too large"),
		    "... DM_EIO with the path and errno text");
		aft = slurp(fx("big.ini"));
		ok(b4 != NULL && aft != NULL && strcmp(b4, aft) == 0 &&
		    no_dotfiles(dir), "... old file intact, temp file gone");
		free(b4);
		free(aft);
	}
	dm_err_clear(&err);
	is_int(dm_profile_save(dir, &p, &err), -1, "the path is a directory");
	is_int(err.code, DM_EIO, "... DM_EIO");
	free(p.host);
	p.host = NULL;
	dm_err_clear(&err);
	ok(dm_profile_save(fx("x.ini"), &p, &err) == -1 &&
	    err.code == DM_ECONFIG && contains(err.msg, "has no 'host'") &&
	    access(fx("x.ini"), F_OK) == -1, "no host: refused, nothing written");
	free(p.id);
	p.id = strdup("bad name");
	p.host = strdup("h.test");
	ok(dm_profile_validate(&p, &err) == -1 &&
	    contains(err.msg, "invalid profile name"), "a bad profile name");
	free(p.id);
	p.id = strdup("default");
	p.port = 70000;
	ok(dm_profile_validate(&p, &err) == -1 && contains(err.msg, "port"),
	    "validate: bad port");
	p.port = 0;
	p.timeout = 0;
	ok(dm_profile_validate(&p, &err) == -1 && contains(err.msg, "timeout"),
	    "validate: bad timeout");
	p.timeout = 30;
	p.max_per_minute = 6001;
	ok(dm_profile_validate(&p, &err) == -1 &&
	    contains(err.msg, "max_per_minute"), "validate: bad max_per_minute");
	p.max_per_minute = 0;
	free(p.email);
	p.email = strdup("nobody");
	ok(dm_profile_validate(&p, &err) == -1 && contains(err.msg, "email"),
	    "validate: bad email");
	free(p.email);
	p.email = strdup("e@h.test");
	free(p.tls_fingerprint);
	p.tls_fingerprint = strdup("sha256:00");
	ok(dm_profile_validate(&p, &err) == -1 &&
	    contains(err.msg, "tls_fingerprint"), "validate: bad pin");
	free(p.tls_fingerprint);
	p.tls_fingerprint = NULL;
	is_int(dm_profile_validate(&p, &err), 0, "validate: fine again");
	dm_profile_release(&p);
	n = entries(dir);
	ok(access(fx("afile/config.ini"), F_OK) == -1 && n > 0,
	    "nothing created on failure");
	dm_config_release(&cfg);
}

/*
 * Every string key: values inih reads back as written survive save and
 * load unchanged; values it would not are refused, the file untouched.
 */
static void
test_roundtrip_all(void)
{
	struct dm_config cfg;
	struct dm_profile p;
	struct dm_err err;
	const struct dm_profile *q;
	const char *path = fx("rt.ini");
	char *before, *after, **field;
	size_t f, i;
	int good, bad;
	static const char *const storable[] = {
		"a;b", "x = y", "k: v", "mid #hash", "\xc3\xbc\xe2\x82\xac",
		"back\\slash\\n", "[bracket]", "\"quoted\"", "trailing;",
		"=", "a\xc2\xa0" "b", "#a", "a\tb",
	};
	static const char *const hostile[] = {
		" a", "a ", "a ;b", "a\rb", "a\nb", ";a", "a\x7f", "a\x01b",
	};
	static const char *const names[] = {
		"name", "user", "password_command", "ca_file", "sent_maildir",
		"documents_dir", "password",
	};

	dm_config_init(&cfg);
	for (f = 0; f < sizeof names / sizeof names[0]; f++) {
		full_profile(&p, "default");
		field = f == 0 ? &p.name : f == 1 ? &p.user :
		    f == 2 ? &p.password_command : f == 3 ? &p.ca_file :
		    f == 4 ? &p.sent_maildir : f == 5 ? &p.documents_dir : NULL;
		good = 1;
		for (i = 0; i < sizeof storable / sizeof storable[0]; i++) {
			if (field != NULL) {
				free(*field);
				*field = strdup(storable[i]);
			} else
				(void)dm_secret_set(&p.password, storable[i],
				    strlen(storable[i]), &err);
			if (save_load(path, &p, &cfg, &err) == -1 ||
			    (q = dm_config_profile(&cfg, NULL, &err)) == NULL ||
			    !same_profile(&p, q)) {
				diag("%s value %zu: %s", names[f], i, err.msg);
				good = 0;
			}
		}
		ok(good, "%s: tricky values round-trip", names[f]);
		before = slurp(path);
		bad = 1;
		for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
			if (field != NULL) {
				free(*field);
				*field = strdup(hostile[i]);
			} else
				(void)dm_secret_set(&p.password, hostile[i],
				    strlen(hostile[i]), &err);
			dm_err_clear(&err);
			if (dm_profile_save(path, &p, &err) != -1 ||
			    err.code != DM_ECONFIG ||
			    !contains(err.msg, field != NULL ? names[f] :
			    "the password")) {
				diag("%s value %zu: accepted or wrong message '%s'",
				    names[f], i, err.msg);
				bad = 0;
			}
		}
		after = slurp(path);
		ok(bad && before != NULL && after != NULL &&
		    strcmp(before, after) == 0,
		    "%s: unstorable values refused, file unchanged", names[f]);
		free(before);
		free(after);
		dm_profile_release(&p);
	}
	ok(no_dotfiles(dir), "no temporary file after all that");
	dm_config_release(&cfg);
}

static void
test_sidecar(void)
{
	struct dm_vars vars;
	struct dm_err err;
	char *tmpl, *sp, want[PATH_MAX + 8];
	const struct dm_var *v;

	mkdir(fx("docs"), 0700);
	put("docs/inv.pdf", "%PDF-1.4\n", 0600);
	put("docs/inv.pdf.ini", "; sidecar\n[document]\nnumber = 2024-17\n"
	    "customer = Müller, Hans\ntemplate = invoice\naddress = Street 1\n"
	    "  12345 Town\nempty =\n", 0600);
	put("docs/inv.ini", "[document]\nnumber = wrong\n", 0600);
	dm_vars_init(&vars);
	dm_err_clear(&err);
	is_int(dm_sidecar_load(fx("docs/inv.pdf"), &vars, &tmpl, &sp, &err), 0,
	    "sidecar loads");
	is_str(sp, fx("docs/inv.pdf.ini"), ".pdf.ini is preferred");
	is_str(dm_vars_get(&vars, "number"), "2024-17", "number");
	is_str(dm_vars_get(&vars, "customer"), "Müller, Hans", "customer");
	is_str(dm_vars_get(&vars, "address"), "Street 1\n12345 Town",
	    "continuation lines");
	is_str(dm_vars_get(&vars, "empty"), "", "an empty value");
	is_str(tmpl, "invoice", "template key");
	ok(dm_vars_get(&vars, "template") == NULL, "... is not a placeholder");
	v = dm_vars_find(&vars, "number");
	(void)snprintf(want, sizeof want, "%s:3", fx("docs/inv.pdf.ini"));
	ok(v != NULL && v->source != NULL && strcmp(v->source, want) == 0,
	    "source is FILE:LINE");
	free(tmpl);
	free(sp);
	dm_vars_release(&vars);

	unlink(fx("docs/inv.pdf.ini"));
	dm_vars_init(&vars);
	(void)dm_vars_add(&vars, "number", "from --set", "--set", &err);
	is_int(dm_sidecar_load(fx("docs/inv.pdf"), &vars, &tmpl, &sp, &err), 0,
	    "inv.ini as the fallback");
	is_str(sp, fx("docs/inv.ini"), "... its path");
	is_str(dm_vars_get(&vars, "number"), "from --set", "--set wins");
	ok(tmpl == NULL, "no template key: NULL");
	free(sp);
	dm_vars_release(&vars);

	dm_vars_init(&vars);
	is_int(dm_sidecar_load(fx("docs/none.pdf"), &vars, &tmpl, &sp, &err), 0,
	    "no sidecar is fine");
	ok(tmpl == NULL && sp == NULL && vars.n == 0, "... nothing added");
	is_int(dm_sidecar_load(fx("docs/none.pdf"), &vars, &tmpl, NULL, &err),
	    0, "... sidecar_path may be NULL");

	put("docs/a.pdf.ini", "number = 1\n[document]\n", 0600);
	dm_err_clear(&err);
	is_int(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err), -1,
	    "key outside [document]");
	(void)snprintf(want, sizeof want, "%s:1: key 'number' is outside",
	    fx("docs/a.pdf.ini"));
	ok(err.code == DM_EDATA && contains(err.msg, want), "... FILE:LINE, data error");
	ok(vars.n == 0 && tmpl == NULL && sp == NULL, "... nothing added");
	put("docs/a.pdf.ini", "[document]\nx = 1\n[other]\ny = 2\n", 0600);
	ok(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err) == -1 &&
	    err.code == DM_EDATA && contains(err.msg, ":3: unknown section '[other]'"),
	    "other sections refused");
	put("docs/a.pdf.ini", "[document]\nx y = 1\n", 0600);
	ok(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err) == -1 &&
	    contains(err.msg, ":2: invalid placeholder name 'x y'"),
	    "invalid placeholder name");
	put("docs/a.pdf.ini", "[document]\nx = 1\nx = 2\n", 0600);
	ok(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err) == -1 &&
	    contains(err.msg, ":3: duplicate key 'x' (first at line 2)"),
	    "duplicate key");
	put("docs/a.pdf.ini", "[document]\ntemplate = a b\n", 0600);
	ok(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err) == -1 &&
	    contains(err.msg, "invalid template name"), "bad template name");
	{
		char text[400];

		(void)snprintf(text, sizeof text, "[document]\nnote = %0250d\n", 1);
		put("docs/a.pdf.ini", text, 0600);
	}
	ok(dm_sidecar_load(fx("docs/a.pdf"), &vars, &tmpl, &sp, &err) == -1 &&
	    err.code == DM_EDATA && contains(err.msg, ":2: line longer than 199"),
	    "long line refused");
	put("docs/a.pdf.ini", "[document]\nx = 1\n  \n", 0600);
	put("docs/x.ini", "[document]\nx = 1\n", 0600);
	ok(dm_sidecar_load(fx("docs/x.ini"), &vars, &tmpl, &sp, &err) == 0 &&
	    sp == NULL, "a document named .ini is not its own sidecar");
	/* 251 + ".pdf" fills NAME_MAX: "x.pdf.ini" cannot exist. */
	{
		char longname[300];

		memcpy(longname, "docs/", 5);
		memset(longname + 5, 'n', 251);
		memcpy(longname + 256, ".pdf", 5);
		dm_err_clear(&err);
		ok(dm_sidecar_load(fx(longname), &vars, &tmpl, &sp, &err) ==
		    0 && sp == NULL, "a 255-byte document name: no sidecar, "
		    "no error: %s", err.msg);
	}
	dm_vars_release(&vars);
}

static void
rm_tree(const char *path)
{
	struct dirent *de;
	struct stat sb;
	char sub[PATH_MAX];
	DIR *d;

	if (lstat(path, &sb) == -1)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof sub, "%s/%s", path,
			    de->d_name) < (int)sizeof sub)
				rm_tree(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

/*
 * Eight processes save eight different profiles into one file at once,
 * ten times each: with the lock every save re-reads the file under it,
 * so no profile is lost.
 */
static void
test_save_concurrent(void)
{
	struct dm_config cfg;
	struct dm_err err;
	char path[PATH_MAX], id[16];
	pid_t pids[8];
	int i, k, status, all = 1;

	(void)snprintf(path, sizeof path, "%s/race/config.ini", dir);
	for (i = 0; i < 8; i++) {
		if ((pids[i] = fork()) == 0) {
			struct dm_profile p;

			for (k = 0; k < 10; k++) {
				dm_profile_init(&p);
				(void)snprintf(id, sizeof id, "p%d", i);
				p.id = strdup(id);
				p.email = strdup("a@example.test");
				p.host = strdup("smtp.example.test");
				p.port = 587 + k;
				if (dm_profile_save(path, &p, &err) == -1)
					_exit(1);
				dm_profile_release(&p);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 8; i++)
		if (waitpid(pids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			all = 0;
	ok(all, "eight processes saving at once all succeed");
	dm_config_init(&cfg);
	if (dm_config_load(&cfg, path, &err) == -1) {
		ok(0, "the file they wrote loads: %s", err.msg);
		return;
	}
	ok(cfg.nprofiles == 8, "no profile was lost (%zu of 8)",
	    cfg.nprofiles);
	for (i = 0; i < (int)cfg.nprofiles; i++)
		if (cfg.profiles[i].port != 596)
			all = 0;
	ok(all, "each holds its last save");
	dm_config_release(&cfg);
}

/* Provider presets: exact domain, a parent domain, the OAuth2 keys. */
static void
test_preset(void)
{
	struct dm_preset pre;
	struct dm_err err;

	put("providers.ini",
	    "[example.com]\nhost = smtp.example.com\nport = 465\n"
	    "security = ssl\nnote = plain\n"
	    "[onmicrosoft.com]\nhost = smtp.office365.com\nport = 587\n"
	    "auth = oauth2\noauth2_provider = microsoft\n", 0644);
	is_int(dm_preset_find(fx("providers.ini"), "example.com", &pre, &err),
	    1, "preset: an exact domain");
	ok(pre.port == 465 && pre.security == DM_SEC_SSL &&
	    pre.auth == DM_AUTH_DEFAULT && pre.oauth2_provider[0] == '\0',
	    "preset: a password provider says nothing of auth");
	is_int(dm_preset_find(fx("providers.ini"), "firma.onmicrosoft.com",
	    &pre, &err), 1, "preset: a subdomain finds its parent's");
	ok(strcmp(pre.host, "smtp.office365.com") == 0 &&
	    pre.auth == DM_AUTH_OAUTH2 &&
	    strcmp(pre.oauth2_provider, "microsoft") == 0,
	    "preset: with auth and oauth2_provider");
	is_int(dm_preset_find(fx("providers.ini"), "example.org", &pre, &err),
	    0, "preset: an unknown domain finds none");
	is_int(dm_preset_find(fx("providers.ini"), "com", &pre, &err), 0,
	    "preset: a top-level name alone finds none");
}

/* auth and the OAuth2 keys: read, checked, saved, round trip. */
static void
test_oauth2(void)
{
	static const char text[] =
	    "[profile work]\n"
	    "email = anna@firma.example\n"
	    "host = smtp.office365.com\n"
	    "security = starttls\n"
	    "user = anna@firma.example\n"
	    "auth = oauth2 ; a comment\n"
	    "oauth2_provider = microsoft\n"
	    "oauth2_client_id = 0f1e2d3c\n"
	    "oauth2_client_secret = s3cr3t\n"
	    "oauth2_tenant = organizations\n"
	    "oauth2_scope = https://outlook.office.com/SMTP.Send offline_access\n"
	    "oauth2_device_url = https://login.example/devicecode\n"
	    "oauth2_auth_url = http://127.0.0.1:8080/authorize\n"
	    "oauth2_token_url = https://login.example/token\n"
	    "oauth2_token_command = printf '%s\\n' tok-123\n";
	struct dm_config cfg, again;
	struct dm_err err;
	struct dm_secret s;
	const struct dm_profile *p, *q;
	struct dm_profile np;
	char *before, *after, big[6000];
	int need = 1;

	dm_config_init(&cfg);
	dm_config_init(&again);
	dm_secret_init(&s);
	is_int(load(&cfg, text, &err), 0, "oauth2: every key of the contract loads");
	if (err.msg[0] != '\0')
		diag("%s / %s", err.msg, err.hint);
	p = dm_config_profile(&cfg, NULL, &err);
	ok(p != NULL && p->auth == DM_AUTH_OAUTH2 &&
	    dm_profile_auth(p) == DM_AUTH_OAUTH2 &&
	    contains(p->oauth2_provider, "microsoft") &&
	    contains(p->oauth2_scope, "offline_access") &&
	    contains(p->oauth2_auth_url, "127.0.0.1") &&
	    contains(p->oauth2_token_command, "tok-123"), "oauth2: values read");
	if (p != NULL) {
		is_int(dm_profile_password(p, &s, &need, &err), 0,
		    "oauth2 with a token command: no password wanted");
		ok(need == 0 && !dm_secret_isset(&s), "... and no prompt");
		/* A save of the loaded profile changes nothing. */
		before = slurp(fx("c.ini"));
		is_int(dm_profile_save(fx("c.ini"), p, &err), 0, "oauth2: save");
		after = slurp(fx("c.ini"));
		ok(before != NULL && after != NULL && strcmp(before, after) == 0,
		    "oauth2: saving keeps every key byte for byte");
		free(before);
		free(after);
		/* Into a new file: the same values come back. */
		(void)unlink(fx("oa.ini"));
		is_int(dm_profile_save(fx("oa.ini"), p, &err), 0,
		    "oauth2: save to a new file");
		is_int(dm_config_load(&again, fx("oa.ini"), &err), 0,
		    "oauth2: which loads");
		q = dm_config_profile(&again, NULL, &err);
		ok(q != NULL && q->auth == DM_AUTH_OAUTH2 &&
		    contains(q->oauth2_client_id, "0f1e2d3c") &&
		    contains(q->oauth2_client_secret, "s3cr3t") &&
		    contains(q->oauth2_tenant, "organizations") &&
		    contains(q->oauth2_device_url, "devicecode") &&
		    contains(q->oauth2_token_url, "/token") &&
		    contains(q->oauth2_token_command, "tok-123"),
		    "oauth2: round trip");
		if (q != NULL) {
			struct dm_profile cp;

			is_int(dm_profile_copy(&cp, q, &err), 0, "profile copy");
			ok(cp.id != q->id && strcmp(cp.id, q->id) == 0 &&
			    cp.auth == q->auth && cp.port == q->port &&
			    strcmp(cp.oauth2_client_secret, q->oauth2_client_secret) == 0 &&
			    cp.oauth2_client_secret != q->oauth2_client_secret &&
			    strcmp(cp.oauth2_token_command, q->oauth2_token_command) == 0 &&
			    (cp.email == NULL) == (q->email == NULL),
			    "... holds its own copies of every string");
			dm_profile_release(&cp);
		}
	}
	dm_config_release(&again);

	/* Without a token command the token store serves: no password. */
	dm_profile_init(&np);
	np.id = strdup("w");
	np.user = strdup("anna");
	np.auth = DM_AUTH_OAUTH2;
	need = 1;
	is_int(dm_profile_password(&np, &s, &need, &err), 0,
	    "oauth2 without oauth2_token_command needs no password");
	ok(need == 0 && !dm_secret_isset(&s), "... and asks for none");
	np.auth = DM_AUTH_DEFAULT;
	is_int(dm_profile_auth(&np), DM_AUTH_PASSWORD, "default with user: password");
	free(np.user);
	np.user = NULL;
	is_int(dm_profile_auth(&np), DM_AUTH_NONE, "default without user: none");
	dm_profile_release(&np);

	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\nauth = token\n",
	    "c.ini:4: invalid auth 'token'", NULL), "invalid auth");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\noauth2_provider = yahoo\n",
	    "invalid oauth2_provider 'yahoo'", NULL), "invalid oauth2_provider");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\noauth2_token_url = http://idp.example/token\n",
	    "invalid oauth2_token_url", "https://"), "a token address in clear");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\noauth2_tenantt = x\n",
	    "unknown key 'oauth2_tenantt'", "'oauth2_tenant'"),
	    "a misspelt oauth2 key is reported");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\nuser = u\nauth = oauth2\npassword = p\n",
	    "auth = oauth2 and also a password", "remove password"),
	    "auth = oauth2 with a password is an error");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\nuser = u\nauth = oauth2\npassword_command = pass x\n",
	    "auth = oauth2 and also a password", NULL),
	    "... and with a password_command");
	ok(fails_with("[profile x]\nhost = a.test\nemail = b@c.test\nauth = oauth2\n",
	    "auth = oauth2 but no 'user'", NULL), "auth = oauth2 needs user");
	put("c.ini", text, 0644);
	dm_err_clear(&err);
	ok(dm_config_load(&cfg, fx("c.ini"), &err) == -1 &&
	    contains(err.msg, "can be read by other users"),
	    "a readable file with oauth2_client_secret is refused");

	/* Tokens are longer than passwords may be. */
	memset(big, 'T', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put("tok", big, 0600);
	(void)snprintf(big, sizeof big, "cat '%s'", fx("tok"));
	dm_err_clear(&err);
	is_int(dm_secret_from_token_command(&s, big, &err), 0,
	    "a 5999-byte token from oauth2_token_command");
	ok(s.len == 5999, "... whole");
	is_int(dm_secret_from_token_command(&s, "exit 4", &err), -1,
	    "a failing token command");
	ok(err.code == DM_EAUTH && contains(err.msg, "oauth2_token_command") &&
	    contains(err.msg, "exit status 4"), "... is an auth failure naming it");
	is_int(dm_secret_from_token_command(&s, "true", &err), -1,
	    "an empty token");
	ok(contains(err.msg, "printed no access token"), "... says so");
	dm_secret_release(&s);
	dm_config_release(&cfg);
}

/* dm_template_add: appended, read back as written; refusals. */
static void
test_template_add(void)
{
	static const char base[] =
	    "[profile default]\nhost = a.test\nemail = b@c.test\n";
	struct dm_template t = { "letter", "Re: {{number}} \\ ok",
	    "Dear {{contact}},\n\n\nline with \\n kept\n  indented\nend\n\n" };
	const struct dm_template *got;
	struct dm_config cfg;
	struct dm_err err;
	char *before, *after;

	dm_config_init(&cfg);
	put("t.ini", base, 0600);
	is_int(dm_template_add(fx("t.ini"), &t, &err), -1,
	    "template_add: a line starting with a blank is refused");
	t.body = "Dear {{contact}},\n\n\nline with \\n kept\nend\n\n";
	before = slurp(fx("t.ini"));
	ok(before != NULL && strcmp(before, base) == 0,
	    "template_add: ... and the file is as it was");
	free(before);
	is_int(dm_template_add(fx("t.ini"), &t, &err), 0,
	    "template_add: a multi-line template is added");
	if (dm_config_load(&cfg, fx("t.ini"), &err) == -1)
		diag("%s", err.msg);
	got = dm_config_template(&cfg, "letter");
	ok(got != NULL && strcmp(got->subject, t.subject) == 0 &&
	    strcmp(got->body, t.body) == 0,
	    "template_add: it reads back as the same text");
	if (got != NULL && strcmp(got->body, t.body) != 0)
		diag("body '%s'", got->body);
	ok(dm_config_profile(&cfg, "default", &err) != NULL,
	    "template_add: the profile is kept");
	before = slurp(fx("t.ini"));
	t.subject = "changed";
	is_int(dm_template_add(fx("t.ini"), &t, &err), 0,
	    "template_add: an existing template is no error");
	after = slurp(fx("t.ini"));
	ok(before != NULL && after != NULL && strcmp(before, after) == 0,
	    "template_add: ... and is left as it was");
	free(before);
	free(after);
	got = dm_template_builtin("invoice");
	is_int(dm_template_add(fx("t.ini"), got, &err), 0,
	    "template_add: the built-in invoice template is added");
	dm_config_release(&cfg);
	dm_config_init(&cfg);
	(void)dm_config_load(&cfg, fx("t.ini"), &err);
	ok(dm_config_template(&cfg, "invoice") != NULL &&
	    strcmp(dm_config_template(&cfg, "invoice")->body, got->body) == 0,
	    "template_add: ... and reads back whole");
	ok(dm_template_builtin("offer") != NULL &&
	    dm_template_builtin("reminder") != NULL &&
	    dm_template_builtin("nonsense") == NULL,
	    "template_builtin: invoice, offer and reminder");
	t.id = "bad name";
	is_int(dm_template_add(fx("t.ini"), &t, &err), -1,
	    "template_add: an invalid name is refused");
	dm_config_release(&cfg);
}

/* Provider presets: the batch limit comes with the host. */
static void
test_presets(void)
{
	struct dm_preset pr;
	struct dm_err err;

	put("providers.ini", "[office365.com]\nhost = smtp.office365.com\n"
	    "port = 587\nsecurity = starttls\nmax_per_minute = 30\n"
	    "[example.com]\nhost = mail.example.com\nmax_per_minute = x\n",
	    0644);
	ok(dm_preset_find(fx("providers.ini"), "office365.com", &pr,
	    &err) == 1 && pr.max_per_minute == 30 && pr.port == 587,
	    "a preset's max_per_minute is read");
	ok(dm_preset_find(fx("providers.ini"), "example.com", &pr,
	    &err) == 1 && pr.max_per_minute == 0,
	    "an invalid one is no limit");
}

/* The strings of a profile, in one order for two profiles. */
#define PROFILE_STRINGS(p) {						\
	&(p)->id, &(p)->name, &(p)->email, &(p)->host, &(p)->user,	\
	&(p)->password_command, &(p)->ca_file, &(p)->tls_fingerprint,	\
	&(p)->sent_maildir, &(p)->documents_dir, &(p)->oauth2_provider,	\
	&(p)->oauth2_client_id, &(p)->oauth2_client_secret,		\
	&(p)->oauth2_tenant, &(p)->oauth2_scope,			\
	&(p)->oauth2_device_url, &(p)->oauth2_auth_url,		\
	&(p)->oauth2_token_url, &(p)->oauth2_token_command }

/*
 * dm_profile_copy() is what a background job takes of a profile: every
 * field, each string its own, a NULL still NULL.
 */
static void
test_copy(void)
{
	struct dm_profile p, cp, same;
	struct dm_err err;
	char **src[] = PROFILE_STRINGS(&p), **dst[] = PROFILE_STRINGS(&cp);
	char **back[] = PROFILE_STRINGS(&same);
	size_t i, n = sizeof src / sizeof src[0];
	int all = 1, none = 1;

	dm_profile_init(&p);
	for (i = 0; i < n; i++) {
		char v[32];

		(void)snprintf(v, sizeof v, "value %zu", i);
		*src[i] = strdup(v);
	}
	p.line = 7;
	p.port = 2525;
	p.security = DM_SEC_SSL;
	p.timeout = 11;
	p.max_per_minute = 13;
	p.allow_from_override = 0;
	p.auth = DM_AUTH_OAUTH2;
	(void)dm_secret_set(&p.password, "pw", 2, &err);
	is_int(dm_profile_copy(&cp, &p, &err), 0, "copy: a full profile");
	for (i = 0; i < n; i++)
		if (*src[i] == NULL || *dst[i] == NULL ||
		    *dst[i] == *src[i] || strcmp(*dst[i], *src[i]) != 0) {
			diag("string %zu", i);
			all = 0;
		}
	ok(all, "copy: every string equal, in its own allocation");
	ok(dm_secret_isset(&cp.password) && cp.password.len == 2 &&
	    memcmp(cp.password.s, "pw", 2) == 0 &&
	    cp.password.s != p.password.s,
	    "copy: the password equal, in its own allocation");
	/* With the pointers put back, nothing else may differ. */
	same = cp;
	for (i = 0; i < n; i++)
		*back[i] = *src[i];
	same.password = p.password;
	ok(memcmp(&same, &p, sizeof p) == 0, "copy: every other field equal");
	dm_profile_release(&cp);
	dm_profile_release(&p);

	dm_profile_init(&p);
	is_int(dm_profile_copy(&cp, &p, &err), 0, "copy: an empty profile");
	for (i = 0; i < n; i++)
		if (*dst[i] != NULL)
			none = 0;
	ok(none && !dm_secret_isset(&cp.password),
	    "copy: NULL strings and no password stay so");
	dm_profile_release(&cp);
}

int
main(void)
{
	int r;

	plan(323);
	if (snprintf(dir, sizeof dir, "/tmp/t-profile.XXXXXX") >=
	    (int)sizeof dir || mkdtemp(dir) == NULL) {
		diag("mkdtemp: %s", strerror(errno));
		return 1;
	}
	setenv("HOME", dir, 1);
	unsetenv("XDG_CONFIG_HOME");

	test_example();
	test_selection();
	test_templates();
	test_format();
	test_names();
	test_values();
	test_files();
	test_paths();
	test_small();
	test_save_new();
	test_save_umask();
	test_save_update();
	test_save_misc();
	test_roundtrip_all();
	test_sidecar();
	test_save_concurrent();
	test_preset();
	test_oauth2();
	test_template_add();
	test_presets();
	test_copy();
	ok(no_dotfiles(dir) && no_dotfiles(fx("new/sub")),
	    "no temporary files anywhere");

	r = done_testing();
	rm_tree(dir);
	return r;
}
