/*
 * t-tmpl.c - tests for the {{placeholder}} module
 */
#include <stdlib.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/tmpl.h>

#include "tap.h"

static struct dm_err err;
static char got[4096];

/* Expands t into got; returns what dm_tmpl_expand() returned. */
static int
expand(const char *t, const struct dm_vars *vars, const char *what)
{
	struct dm_buf b;
	int r;

	dm_err_clear(&err);
	dm_buf_init(&b, 0);
	r = dm_tmpl_expand(t, vars, what, &b, &err);
	if (dm_strlcpy(got, dm_buf_str(&b), sizeof got) >= sizeof got)
		diag("expansion cut for the test");
	dm_buf_release(&b);
	return r;
}

/* 1 when s holds no C0 control or DEL byte. */
static int
no_controls(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void
test_names(void)
{
	char n64[DM_VAR_NAME_MAX + 2];

	ok(dm_tmpl_name_valid("a"), "name: single letter");
	ok(dm_tmpl_name_valid("9"), "name: single digit");
	ok(dm_tmpl_name_valid("_x"), "name: leading underscore");
	ok(dm_tmpl_name_valid("sender.name"), "name: dot inside");
	ok(dm_tmpl_name_valid("due-date_2.X"), "name: all allowed characters");
	ok(!dm_tmpl_name_valid(""), "name: empty is invalid");
	ok(!dm_tmpl_name_valid(NULL), "name: NULL is invalid");
	ok(!dm_tmpl_name_valid("-a"), "name: leading '-' is invalid");
	ok(!dm_tmpl_name_valid(".a"), "name: leading '.' is invalid");
	ok(!dm_tmpl_name_valid("a b"), "name: space is invalid");
	ok(!dm_tmpl_name_valid("a=b"), "name: '=' is invalid");
	ok(!dm_tmpl_name_valid("a{"), "name: brace is invalid");
	ok(!dm_tmpl_name_valid("k\xc3\xbcnde"), "name: non-ASCII is invalid");
	ok(!dm_tmpl_name_valid("a\n"), "name: newline is invalid");
	memset(n64, 'n', DM_VAR_NAME_MAX);
	n64[DM_VAR_NAME_MAX] = '\0';
	ok(dm_tmpl_name_valid(n64), "name: %d characters is valid",
	    DM_VAR_NAME_MAX);
	n64[DM_VAR_NAME_MAX] = 'n';
	n64[DM_VAR_NAME_MAX + 1] = '\0';
	ok(!dm_tmpl_name_valid(n64), "name: %d characters is invalid",
	    DM_VAR_NAME_MAX + 1);
}

static void
test_vars(void)
{
	struct dm_vars vars;
	const struct dm_var *v;
	char name[16], *big;
	size_t i;
	int allok;

	dm_vars_init(&vars);
	ok(dm_vars_get(&vars, "a") == NULL, "vars: empty set has nothing");
	is_int(dm_vars_add(&vars, "a", "one", "x.ini:1", &err), 1,
	    "vars: add returns 1");
	is_int(dm_vars_add(&vars, "a", "two", "y.ini:2", &err), 0,
	    "vars: adding a name again returns 0");
	is_str(dm_vars_get(&vars, "a"), "one", "vars: the first value wins");
	v = dm_vars_find(&vars, "a");
	ok(v != NULL && strcmp(v->source, "x.ini:1") == 0,
	    "vars: the first source is kept");
	is_int(vars.n, 1, "vars: a repeated name adds no entry");
	is_int(dm_vars_add(&vars, "A", "upper", NULL, &err), 1,
	    "vars: names are case-sensitive");
	v = dm_vars_find(&vars, "A");
	ok(v != NULL && v->source == NULL, "vars: NULL source stays NULL");
	ok(dm_vars_find(&vars, NULL) == NULL, "vars: find(NULL) is NULL");
	is_int(dm_vars_add(&vars, "nl", "line 1\r\nline 2\n", NULL, &err), 1,
	    "vars: a value may hold CR and LF");
	is_str(dm_vars_get(&vars, "nl"), "line 1\r\nline 2\n",
	    "vars: CR and LF are kept");

	dm_err_clear(&err);
	is_int(dm_vars_add(&vars, "a b", "v", NULL, &err), -1,
	    "vars: invalid name refused");
	is_int(err.code, DM_EDATA, "vars: invalid name is DM_EDATA");
	is_str(err.msg, "invalid placeholder name 'a b'",
	    "vars: message quotes the name");
	ok(err.hint[0] != '\0', "vars: invalid name has a hint");
	dm_err_clear(&err);
	dm_vars_add(&vars, "\x1b[2J", "v", NULL, &err);
	is_str(err.msg, "invalid placeholder name '\\x1b[2J'",
	    "vars: escape sequence in a name is shown escaped");

	big = malloc(DM_VAR_VALUE_MAX + 2);
	if (big == NULL) {
		diag("out of memory");
		exit(1);
	}
	memset(big, 'v', DM_VAR_VALUE_MAX);
	big[DM_VAR_VALUE_MAX] = '\0';
	is_int(dm_vars_add(&vars, "big", big, NULL, &err), 1,
	    "vars: a value of DM_VAR_VALUE_MAX bytes is accepted");
	big[DM_VAR_VALUE_MAX] = 'v';
	big[DM_VAR_VALUE_MAX + 1] = '\0';
	dm_err_clear(&err);
	is_int(dm_vars_add(&vars, "bigger", big, NULL, &err), -1,
	    "vars: a value one byte longer is refused");
	is_int(err.code, DM_EDATA, "vars: too long value is DM_EDATA");
	ok(strstr(err.msg, "'bigger'") != NULL,
	    "vars: too long message names the key");
	ok(dm_vars_get(&vars, "bigger") == NULL,
	    "vars: refused value is not stored");
	free(big);

	/* Enough entries to make the array grow several times. */
	allok = 1;
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "k%zu", i);
		if (dm_vars_add(&vars, name, name + 1, NULL, &err) != 1)
			allok = 0;
	}
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "k%zu", i);
		if (dm_vars_get(&vars, name) == NULL ||
		    strcmp(dm_vars_get(&vars, name), name + 1) != 0)
			allok = 0;
	}
	ok(allok, "vars: 100 entries all added and found after growing");
	is_str(dm_vars_get(&vars, "a"), "one",
	    "vars: early entries survive growth");

	dm_vars_release(&vars);
	ok(vars.v == NULL && vars.n == 0 && vars.cap == 0,
	    "vars: release empties the set");
	is_int(dm_vars_add(&vars, "a", "again", NULL, &err), 1,
	    "vars: a released set can be used again");
	dm_vars_release(&vars);
}

static void
test_assignment(void)
{
	struct dm_vars vars;
	char arg[DM_VAR_NAME_MAX + 8];

	dm_vars_init(&vars);
	is_int(dm_vars_add_assignment(&vars, "number=2024-001", &err), 1,
	    "set: plain assignment added");
	is_str(dm_vars_get(&vars, "number"), "2024-001", "set: value");
	is_str(dm_vars_find(&vars, "number")->source, "--set",
	    "set: source is --set");
	is_int(dm_vars_add_assignment(&vars, "expr=a=b==c", &err), 1,
	    "set: value with '=' added");
	is_str(dm_vars_get(&vars, "expr"), "a=b==c",
	    "set: split at the first '='");
	is_int(dm_vars_add_assignment(&vars, "empty=", &err), 1,
	    "set: empty value allowed");
	is_str(dm_vars_get(&vars, "empty"), "", "set: empty value stored");
	is_int(dm_vars_add_assignment(&vars, "number=other", &err), 0,
	    "set: repeated --set returns 0");
	is_str(dm_vars_get(&vars, "number"), "2024-001",
	    "set: the first --set wins");

	dm_err_clear(&err);
	is_int(dm_vars_add_assignment(&vars, "foo", &err), -1,
	    "set: missing '=' refused");
	is_int(err.code, DM_EUSAGE, "set: missing '=' is DM_EUSAGE");
	is_str(err.msg, "invalid --set 'foo': expected KEY=VALUE",
	    "set: missing '=' message");
	ok(err.hint[0] != '\0', "set: missing '=' has a hint");

	dm_err_clear(&err);
	is_int(dm_vars_add_assignment(&vars, "a b=1", &err), -1,
	    "set: invalid name refused");
	is_int(err.code, DM_EUSAGE, "set: invalid name is DM_EUSAGE");
	ok(strncmp(err.msg, "invalid --set 'a b=1'", 21) == 0,
	    "set: invalid name message quotes the argument");
	ok(err.hint[0] != '\0', "set: invalid name has a hint");

	dm_err_clear(&err);
	is_int(dm_vars_add_assignment(&vars, "=x", &err), -1,
	    "set: empty name refused");
	is_int(err.code, DM_EUSAGE, "set: empty name is DM_EUSAGE");

	memset(arg, 'k', DM_VAR_NAME_MAX + 1);
	arg[DM_VAR_NAME_MAX + 1] = '=';
	arg[DM_VAR_NAME_MAX + 2] = '\0';
	dm_err_clear(&err);
	is_int(dm_vars_add_assignment(&vars, arg, &err), -1,
	    "set: name of %d characters refused", DM_VAR_NAME_MAX + 1);
	is_int(err.code, DM_EUSAGE, "set: long name is DM_EUSAGE");
	ok(strstr(err.msg, "...") != NULL && strlen(err.msg) < 80,
	    "set: long argument is cut in the message");

	dm_err_clear(&err);
	dm_vars_add_assignment(&vars, "x\x1b]0;evil\x07", &err);
	ok(no_controls(err.msg) && strstr(err.msg, "\\x1b") != NULL,
	    "set: control characters in the argument are escaped");

	is_int(dm_vars_add_assignment(&vars, "body=a\nb", &err), 1,
	    "set: value with a newline allowed");
	dm_vars_release(&vars);
}

static void
test_expand(void)
{
	struct dm_vars vars;
	struct dm_buf b;

	dm_vars_init(&vars);
	/* The order callers use: --set, then the sidecar, then sender.*. */
	dm_vars_add_assignment(&vars, "customer=ACME GmbH", &err);
	dm_vars_add_assignment(&vars, "sender.name=Override", &err);
	dm_vars_add(&vars, "customer", "Sidecar Ltd", "a.pdf.ini:3", &err);
	dm_vars_add(&vars, "number", "2024-001", "a.pdf.ini:4", &err);
	dm_vars_add(&vars, "sender.name", "Profile Name", "profile", &err);
	dm_vars_add(&vars, "sender.email", "me@example.test", "profile",
	    &err);
	dm_vars_add(&vars, "a", "1", NULL, &err);
	dm_vars_add(&vars, "b", "2", NULL, &err);
	dm_vars_add(&vars, "kunde", "M\xc3\xbcller & S\xc3\xb6hne", NULL, &err);
	dm_vars_add(&vars, "nested", "{{a}} and {{missing", NULL, &err);
	dm_vars_add(&vars, "empty", "", NULL, &err);

	is_int(expand("Invoice {{number}} for {{customer}} from "
	    "{{sender.name}} <{{sender.email}}>", &vars, "subject"), 0,
	    "expand: precedence template expands");
	is_str(got, "Invoice 2024-001 for ACME GmbH from Override "
	    "<me@example.test>",
	    "expand: --set beats sidecar, sidecar and --set beat sender.*");

	expand("{{ number }}|{{\tnumber\t}}|{{number  }}|{{ \t a}}", &vars,
	    "body");
	is_str(got, "2024-001|2024-001|2024-001|1",
	    "expand: spaces and tabs inside braces");
	expand("{{a}}{{b}}{{a}}", &vars, "body");
	is_str(got, "121", "expand: adjacent placeholders");
	expand("{{a}} middle {{b}}", &vars, "body");
	is_str(got, "1 middle 2", "expand: placeholders at start and end");
	expand("{{a}}", &vars, "body");
	is_str(got, "1", "expand: template that is only a placeholder");
	expand("x{{empty}}y", &vars, "body");
	is_str(got, "xy", "expand: empty value");
	expand("Rechnung f\xc3\xbcr {{kunde}} \xe2\x80\x93 100 \xe2\x82\xac "
	    "\xf0\x9f\x93\x84", &vars, "subject");
	is_str(got, "Rechnung f\xc3\xbcr M\xc3\xbcller & S\xc3\xb6hne "
	    "\xe2\x80\x93 100 \xe2\x82\xac \xf0\x9f\x93\x84",
	    "expand: UTF-8 around and in values");
	is_int(expand("<{{nested}}>", &vars, "body"), 0,
	    "expand: value with braces is no error");
	is_str(got, "<{{a}} and {{missing>",
	    "expand: values are never expanded again");
	is_int(expand("", &vars, "body"), 0, "expand: empty template");
	is_str(got, "", "expand: empty template gives empty text");
	expand("a { b } c }} d {x} { {a} {", &vars, "body");
	is_str(got, "a { b } c }} d {x} { {a} {",
	    "expand: single braces and lone '}}' are text");
	expand("{{{a}}}", &vars, "body");
	is_str(got, "{1}", "expand: extra braces around a placeholder");
	expand("{{{{a}}}}", &vars, "body");
	is_str(got, "{{1}}", "expand: double extra braces are text too");
	expand("line 1\n{{a}}\r\nline 3\n", &vars, "body");
	is_str(got, "line 1\n1\r\nline 3\n", "expand: newlines kept as text");

	/* Success leaves err alone. */
	dm_err_set(&err, DM_ECONN, "sentinel");
	dm_buf_init(&b, 0);
	ok(dm_tmpl_expand("{{a}}", &vars, "body", &b, &err) == 0 &&
	    err.code == DM_ECONN && strcmp(err.msg, "sentinel") == 0,
	    "expand: success leaves err untouched");
	dm_buf_release(&b);

	/* Appends to what out already holds. */
	dm_buf_init(&b, 0);
	dm_buf_addstr(&b, "Re: ", &err);
	dm_tmpl_expand("{{number}}", &vars, "subject", &b, &err);
	is_str(dm_buf_str(&b), "Re: 2024-001", "expand: appends to out");

	/* Unresolved. */
	dm_err_clear(&err);
	is_int(dm_tmpl_expand(" {{customer}} {{ nobody }}", &vars, "subject",
	    &b, &err), -1, "unresolved: fails");
	is_int(err.code, DM_EDATA, "unresolved: DM_EDATA");
	is_str(err.msg, "unresolved placeholder '{{nobody}}' in subject",
	    "unresolved: message names it without the spaces");
	is_str(err.hint, "give it with --set nobody=VALUE, in the [document] section of the document's sidecar FILE.ini, or use sender.name / sender.email from the profile",
	    "unresolved: hint says where values come from");
	is_str(dm_buf_str(&b), "Re: 2024-001",
	    "unresolved: out is left as it was");
	dm_buf_release(&b);
	is_int(expand("Dear {{customer}} {{Customer}}", &vars, "body"), -1,
	    "unresolved: names are case-sensitive");
	is_str(err.msg, "unresolved placeholder '{{Customer}}' in body",
	    "unresolved: what names the text");
	expand("{{x}}", &vars, NULL);
	is_str(err.msg, "unresolved placeholder '{{x}}' in template",
	    "unresolved: NULL what reads 'template'");

	/* Unterminated. */
	is_int(expand("Invoice {{customer", &vars, "subject"), -1,
	    "unterminated: fails");
	is_int(err.code, DM_EDATA, "unterminated: DM_EDATA");
	is_str(err.msg,
	    "unterminated placeholder in subject starting at '{{customer'",
	    "unterminated: message quotes it");
	expand("Invoice {{customer_name_and_much_more text here", &vars,
	    "subject");
	is_str(err.msg, "unterminated placeholder in subject starting at "
	    "'{{customer_name_and_much...'",
	    "unterminated: long text is cut with '...'");
	expand("{{a}} and {{b", &vars, "body");
	is_str(err.msg, "unterminated placeholder in body starting at '{{b'",
	    "unterminated: after a good placeholder");
	is_int(expand("}} {{a", &vars, "body"), -1,
	    "unterminated: a '}}' before it does not close it");
	expand("{{a\n}", &vars, "body");
	is_str(err.msg, "unterminated placeholder in body starting at "
	    "'{{a\\x0a}'", "unterminated: newline in the quote is escaped");
	expand("{{\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", &vars, "body");
	ok(strstr(err.msg, "\\x") == NULL && strstr(err.msg, "...") != NULL,
	    "unterminated: the cut never splits a UTF-8 character");

	/* Invalid. */
	is_int(expand("x {{}} y", &vars, "body"), -1, "invalid: {{}} fails");
	is_int(err.code, DM_EDATA, "invalid: DM_EDATA");
	is_str(err.msg, "invalid placeholder '{{}}' in body",
	    "invalid: {{}} message");
	expand("{{  }}", &vars, "body");
	is_str(err.msg, "invalid placeholder '{{  }}' in body",
	    "invalid: only spaces");
	expand("Hello {{a b}}", &vars, "subject");
	is_str(err.msg, "invalid placeholder '{{a b}}' in subject",
	    "invalid: space inside a name");
	expand("{{-a}}", &vars, "body");
	is_str(err.msg, "invalid placeholder '{{-a}}' in body",
	    "invalid: leading '-'");
	is_int(expand("{{ x {{a}}", &vars, "body"), -1,
	    "invalid: a '{{' inside a placeholder");
	expand("{{\x1b[31m}}", &vars, "body");
	is_str(err.msg, "invalid placeholder '{{\\x1b[31m}}' in body",
	    "invalid: escape sequence is shown escaped");
	expand("{{a\r\nBcc: x@example.test}}", &vars, "subject");
	ok(no_controls(err.msg) && strstr(err.msg, "\\x0d\\x0a") != NULL,
	    "invalid: CR LF in the quote are escaped");
	expand("{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaa}}", &vars, "body");
	is_str(err.msg,
	    "invalid placeholder '{{aaaaaaaaaaaaaaaaaaaaaa...' in body",
	    "invalid: over-long name refused and cut");

	dm_vars_release(&vars);
}

static void
test_cap(void)
{
	struct dm_vars vars;
	struct dm_buf b;

	dm_vars_init(&vars);
	dm_vars_add(&vars, "v", "0123456789", NULL, &err);
	dm_buf_init(&b, 16);
	dm_buf_addstr(&b, "ab", &err);
	dm_err_clear(&err);
	is_int(dm_tmpl_expand("{{v}}{{v}}", &vars, "body", &b, &err), -1,
	    "cap: output past the cap fails");
	is_int(err.code, DM_EDATA, "cap: DM_EDATA");
	is_str(dm_buf_str(&b), "ab", "cap: out is left as it was");
	is_int(dm_tmpl_expand("{{v}}xyzw", &vars, "body", &b, &err), 0,
	    "cap: output exactly at the cap works");
	is_str(dm_buf_str(&b), "ab0123456789xyzw", "cap: contents at the cap");
	dm_buf_release(&b);
	dm_vars_release(&vars);
}

struct seen {
	char	 names[8][DM_VAR_NAME_MAX + 1];
	size_t	 off[8], len[8];
	int	 n, stop_at;
};

static int
collect(const char *name, size_t off, size_t len, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		dm_strlcpy(s->names[s->n], name, sizeof s->names[s->n]);
		s->off[s->n] = off;
		s->len[s->n] = len;
	}
	s->n++;
	return s->n == s->stop_at ? 42 : 0;
}

static void
test_each(void)
{
	const char *t = "Hi {{a}}, {{ b }}{{c d}} {{{x}}} {{}} {{sender.name}}";
	struct seen s;

	memset(&s, 0, sizeof s);
	is_int(dm_tmpl_each(t, collect, &s), 0, "each: returns 0");
	is_int(s.n, 4, "each: malformed placeholders are skipped");
	is_str(s.names[0], "a", "each: first name");
	ok(s.off[0] == 3 && s.len[0] == 5, "each: first offset and length");
	is_str(s.names[1], "b", "each: spaces are not part of the name");
	ok(s.off[1] == 10 && s.len[1] == 7,
	    "each: offset and length include the spaces");
	is_str(s.names[2], "x", "each: name inside extra braces");
	ok(s.off[2] == 26 && s.len[2] == 5,
	    "each: extra braces are not part of the placeholder");
	is_str(s.names[3], "sender.name", "each: dotted name");
	ok(strncmp(t + s.off[3], "{{sender.name}}", s.len[3]) == 0 &&
	    s.len[3] == 15, "each: offset and length point at the text");

	memset(&s, 0, sizeof s);
	s.stop_at = 2;
	is_int(dm_tmpl_each(t, collect, &s), 42,
	    "each: a non-zero return is passed on");
	is_int(s.n, 2, "each: and stops the walk");

	memset(&s, 0, sizeof s);
	is_int(dm_tmpl_each("{{a}} {{b {{c}}", collect, &s), 0,
	    "each: with an unterminated one");
	is_int(s.n, 1, "each: names before it are reported only");

	memset(&s, 0, sizeof s);
	dm_tmpl_each("{{a}} {{b", collect, &s);
	is_int(s.n, 1, "each: unterminated at the end is skipped");

	memset(&s, 0, sizeof s);
	dm_tmpl_each("no placeholders { } }}", collect, &s);
	is_int(s.n, 0, "each: plain text has none");
}

static void
test_large(void)
{
	struct dm_vars vars;
	struct dm_buf in, out;
	const char *piece = "Item {{n}}: {{ price }} EUR\n";
	size_t count = 0, want;
	int r;

	dm_vars_init(&vars);
	dm_vars_add(&vars, "n", "42", NULL, &err);
	dm_vars_add(&vars, "price", "19.99", NULL, &err);
	dm_buf_init(&in, 0);
	while (in.len < 1024 * 1024) {
		if (dm_buf_addstr(&in, piece, &err) == -1)
			break;
		count++;
	}
	dm_buf_init(&out, 0);
	r = dm_tmpl_expand(dm_buf_str(&in), &vars, "body", &out, &err);
	is_int(r, 0, "large: 1 MB template with %zu placeholders", 2 * count);
	want = count * strlen("Item 42: 19.99 EUR\n");
	is_int(out.len, want, "large: output length");
	ok(out.len >= 19 && strncmp(dm_buf_str(&out), "Item 42: 19.99 EUR\n",
	    19) == 0 && strcmp(dm_buf_str(&out) + out.len - 19,
	    "Item 42: 19.99 EUR\n") == 0, "large: first and last lines");
	ok(strchr(dm_buf_str(&out), '{') == NULL, "large: nothing left over");

	/* An unresolved one at the very end is still found. */
	dm_buf_addstr(&in, "{{late}}", &err);
	dm_buf_reset(&out);
	is_int(dm_tmpl_expand(dm_buf_str(&in), &vars, "body", &out, &err), -1,
	    "large: unresolved at the end of 1 MB fails");
	is_str(err.msg, "unresolved placeholder '{{late}}' in body",
	    "large: and names it");
	dm_buf_release(&in);
	dm_buf_release(&out);
	dm_vars_release(&vars);
}

int
main(void)
{
	plan(139);
	test_names();
	test_vars();
	test_assignment();
	test_expand();
	test_cap();
	test_each();
	test_large();
		/* dm_tmpl_fill_known: known values in, the rest left as it is. */
	{
		struct dm_vars kv;
		struct dm_err ke;
		char *f;

		dm_vars_init(&kv);
		(void)dm_vars_add(&kv, "number", "42", "test", &ke);
		f = dm_tmpl_fill_known("Nr {{number}} for {{customer}} {", &kv);
		is_str(f, "Nr 42 for {{customer}} {",
		    "fill_known: known filled, unknown and lone braces kept");
		free(f);
		f = dm_tmpl_fill_known("no placeholders", &kv);
		is_str(f, "no placeholders", "fill_known: plain text as it is");
		free(f);
		f = dm_tmpl_fill_known("{{number}}{{number}}", &kv);
		is_str(f, "4242", "fill_known: each occurrence");
		free(f);
		dm_vars_release(&kv);
	}
	return done_testing();
}
