/*
 * t-addr.c - address list parsing, validation and duplicates
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/err.h>

#include "tap.h"

static char got[8192];
static struct dm_err last;

/* The list as "name|mailbox; ..." with "-" for no name. */
static const char *
show(const struct dm_addrlist *l)
{
	size_t i, o = 0;
	int n;

	got[0] = '\0';
	for (i = 0; i < l->n; i++) {
		n = snprintf(got + o, sizeof got - o, "%s%s|%s",
		    i > 0 ? "; " : "",
		    l->v[i].name != NULL ? l->v[i].name : "-",
		    l->v[i].mailbox);
		if (n < 0 || (size_t)n >= sizeof got - o)
			return "(too long)";
		o += (size_t)n;
	}
	return got;
}

/* Parses in into a fresh list and shows it, or "error: <msg>". */
static const char *
parse_show(const char *in)
{
	struct dm_addrlist l;
	struct dm_err err;

	dm_addrlist_init(&l);
	dm_err_clear(&err);
	if (dm_addr_parse_list(&l, in, &err) == -1) {
		if (snprintf(got, sizeof got, "error: %s", err.msg) < 0)
			got[0] = '\0';
	} else
		show(&l);
	dm_addrlist_release(&l);
	return got;
}

/* A message or hint must be printable, valid UTF-8 and not cut. */
static int
clean(const char *s)
{
	const unsigned char *p;

	if (strlen(s) >= DM_ERR_MSG_MAX - 1 || !dm_utf8_valid(s, strlen(s)))
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/*
 * in must fail with DM_EDATA, a message holding want and a hint, and
 * must leave a list that already holds an address as it was.
 */
static void
bad(const char *in, const char *want, const char *name)
{
	struct dm_addrlist l;
	struct dm_err err;
	int rc;

	dm_addrlist_init(&l);
	dm_err_clear(&err);
	if (dm_addr_parse_list(&l, "Keep <keep@x.test>", &err) == -1) {
		ok(0, "%s (setup failed)", name);
		return;
	}
	rc = dm_addr_parse_list(&l, in, &err);
	if (!ok(rc == -1 && err.code == DM_EDATA &&
	    strstr(err.msg, want) != NULL && err.hint[0] != '\0' &&
	    clean(err.msg) && clean(err.hint) && l.n == 1 &&
	    strcmp(l.v[0].mailbox, "keep@x.test") == 0 &&
	    strcmp(l.v[0].name, "Keep") == 0, "%s", name))
		diag("rc %d, class %s, n %zu, msg '%s', hint '%s'", rc,
		    dm_err_name(err.code), l.n, clean(err.msg) ? err.msg :
		    "(unprintable)", clean(err.hint) ? err.hint :
		    "(unprintable)");
	last = err;
	dm_addrlist_release(&l);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		exit(99);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* "<local>@<domain>" with local and domain of the given lengths. */
static char *
make_addr(size_t local, size_t domain)
{
	char *s = repeat('a', local + 1 + domain);
	size_t i;

	s[local] = '@';
	/* Labels of 50 letters; a dot that would end it becomes a letter. */
	for (i = local + 51; i < local + 1 + domain; i += 51)
		s[i] = '.';
	if (s[local + domain] == '.')
		s[local + domain] = 'z';
	return s;
}

static void
test_lists(void)
{
	is_str(parse_show("a@x.test, \"Müller, Hans\" <hans@x.test>; b@y.test"),
	    "-|a@x.test; Müller, Hans|hans@x.test; -|b@y.test",
	    "comma in quoted name, ';' as separator");
	is_str(parse_show("\"Doe; John\" <j@x.test>;c@z.test"),
	    "Doe; John|j@x.test; -|c@z.test", "semicolon in quoted name");
	is_str(parse_show("Hans   Müller <h@x.test>"),
	    "Hans Müller|h@x.test", "unquoted words joined by one space");
	is_str(parse_show("Dr. A. Muster <a@x.test>"),
	    "Dr. A. Muster|a@x.test", "dots in an unquoted name");
	is_str(parse_show("\"Anna \\\"Nan\\\" O\\\\Brien\" <a@x.test>"),
	    "Anna \"Nan\" O\\Brien|a@x.test", "quoted-pairs in name resolved");
	is_str(parse_show("Hans \"Mü, ller\" <h@x.test>"),
	    "Hans Mü, ller|h@x.test", "atom and quoted string in one name");
	is_str(parse_show("\"\" <a@x.test>"), "-|a@x.test",
	    "empty quoted name is no name");
	is_str(parse_show("Jürgen Ωmega <j@x.test>, \"日本語 名前\" <n@x.test>"),
	    "Jürgen Ωmega|j@x.test; 日本語 名前|n@x.test",
	    "unicode display names kept as UTF-8");
	is_str(parse_show("\"Anna\tMuster\" <a@x.test>,\tb@x.test"),
	    "Anna\tMuster|a@x.test; -|b@x.test",
	    "TAB inside quotes and between addresses");
	is_str(parse_show("  a @ x.test  "), "-|a@x.test",
	    "blanks around '@' allowed (CFWS)");
}

static void
test_comments(void)
{
	is_str(parse_show("(boss) Hans (the (big) one) Müller <h@x.test> "
	    "(office), b(c)@y.test"),
	    "Hans Müller|h@x.test; -|b@y.test", "comments dropped");
	is_str(parse_show("a@x.test (Anna Muster)"),
	    "Anna Muster|a@x.test", "comment after bare address is the name");
	is_str(parse_show("a@x.test (Anna\\) , (Muster\\()), b@x.test"),
	    "Anna) , (Muster()|a@x.test; -|b@x.test",
	    "comma and quoted-pairs in a nested comment");
	is_str(parse_show("<a@x.test> (Anna)"), "-|a@x.test",
	    "comment after angle address is dropped");
	is_str(parse_show("(Anna) a@x.test, ( ) b@x.test ()"),
	    "-|a@x.test; -|b@x.test", "comment before or empty is no name");
	is_str(parse_show("a@x.test (first) (second)"), "first|a@x.test",
	    "only the first trailing comment becomes the name");
}

static void
test_local_parts(void)
{
	struct dm_addrlist l;
	struct dm_err err;

	is_str(parse_show("\"john doe\"@x.test"), "-|\"john doe\"@x.test",
	    "quoted local part stays quoted");
	is_str(parse_show("\"john.doe\"@x.test"), "-|john.doe@x.test",
	    "needless quotes removed");
	is_str(parse_show("\"a\\\"b\"@x.test, \"c\\\\d\"@x.test"),
	    "-|\"a\\\"b\"@x.test; -|\"c\\\\d\"@x.test",
	    "quote and backslash in quoted local part");
	is_str(parse_show("\"\\x\"@x.test"), "-|x@x.test",
	    "needless quoted-pair removed");
	is_str(parse_show("o'brien+tag@x.test, a@[192.0.2.1], "
	    "<b@[IPv6:2001:db8::1]>"),
	    "-|o'brien+tag@x.test; -|a@[192.0.2.1]; -|b@[IPv6:2001:db8::1]",
	    "atext local part and address literals");

	dm_addrlist_init(&l);
	dm_err_clear(&err);
	ok(dm_addr_parse_list(&l, "\"a,b@c\"@x.test", &err) == 0 &&
	    l.n == 1 && strcmp(l.v[0].mailbox, "\"a,b@c\"@x.test") == 0,
	    "comma and '@' in quoted local part");
	is_str(dm_addr_domain(l.v[0].mailbox), "x.test",
	    "domain is after the last '@'");
	dm_addrlist_release(&l);
}

static void
test_empty(void)
{
	struct dm_addrlist l;
	struct dm_err err;
	int rc;

	dm_addrlist_init(&l);
	dm_err_clear(&err);
	rc = dm_addr_parse_list(&l, "", &err);
	ok(rc == 0 && l.n == 0, "empty input adds nothing");
	rc = dm_addr_parse_list(&l, " , ;;\t, (just a comment) ", &err);
	ok(rc == 0 && l.n == 0 && err.code == DM_EOK,
	    "separators and comments only add nothing");
	rc = dm_addr_require_nonempty(&l, "--to", &err);
	ok(rc == -1 && err.code == DM_EDATA, "empty list is refused");
	is_str(err.msg, "no address in --to", "message names the field");
	ok(err.hint[0] != '\0', "with a hint");

	dm_err_clear(&err);
	rc = dm_addr_parse_list(&l, "a@x.test", &err);
	ok(rc == 0 && dm_addr_require_nonempty(&l, "--to", &err) == 0 &&
	    err.code == DM_EOK && err.msg[0] == '\0',
	    "non-empty list passes, err untouched");
	dm_addrlist_release(&l);
	ok(l.n == 0 && l.v == NULL, "release empties the list");
}

static void
test_duplicates(void)
{
	struct dm_addrlist l;
	struct dm_err err;

	is_str(parse_show("Anna <a@x.test>, Other <a@X.Test>, a@x.TEST"),
	    "Anna|a@x.test", "duplicate domain ignores case, first wins");
	is_str(parse_show("a@x.test, A@x.test"), "-|a@x.test; -|A@x.test",
	    "local part compared exactly");
	is_str(parse_show("\"a\"@x.test, a@x.test"), "-|a@x.test",
	    "quoted and plain local part are the same mailbox");
	is_str(parse_show("\"a b\"@x.test, \"a  b\"@x.test"),
	    "-|\"a b\"@x.test; -|\"a  b\"@x.test",
	    "spaces in quoted local parts matter");

	dm_addrlist_init(&l);
	dm_err_clear(&err);
	ok(dm_addr_parse_list(&l, "To <a@x.test>", &err) == 0 &&
	    dm_addr_parse_list(&l, "b@y.test, Cc <A@X.TEST>, a@X.test", &err)
	    == 0 && dm_addr_parse_list(&l, "B@Y.TEST", &err) == 0,
	    "merging three lists");
	is_str(show(&l), "To|a@x.test; -|b@y.test; Cc|A@X.TEST; -|B@Y.TEST",
	    "duplicates against earlier calls dropped");
	is_int(dm_addrlist_contains(&l, "a@X.TEST"), 1,
	    "contains: domain case ignored");
	is_int(dm_addrlist_contains(&l, "b@y.test"), 1,
	    "contains: exact match");
	is_int(dm_addrlist_contains(&l, "c@y.test"), 0,
	    "contains: other local part");
	is_int(dm_addrlist_contains(&l, "a@x.test.example"), 0,
	    "contains: other domain");
	dm_addrlist_release(&l);
}

static void
test_malformed(void)
{
	char *s, *in;
	size_t n;

	bad("anna.example.test", "missing '@'", "missing '@'");
	is_str(last.msg, "invalid address 'anna.example.test': missing '@'",
	    "message quotes the address");
	is_str(last.hint, "write addresses as name@domain, separated by commas",
	    "hint says how to write addresses");
	bad("ok@x.test, anna.example.test ,b@x.test", "missing '@'",
	    "missing '@' after a good address");
	is_str(last.msg, "invalid address 'anna.example.test': missing '@'",
	    "only the bad address is quoted");
	bad("Hans Müller", "missing '@'", "name alone");
	bad("b@x.test, Cc <c@x.test>; \"open", "unbalanced quote",
	    "late error keeps earlier good addresses out too");

	bad("\"Müller, Hans <h@x.test>", "unbalanced quote",
	    "unbalanced quote");
	is_str(last.msg, "unbalanced quote in '\"Müller, Hans <h@x.test>'",
	    "unbalanced quote message");
	bad("\"a\\\"@x.test", "unbalanced quote",
	    "escaped closing quote is no closing quote");
	bad("Anna <a@x.test", "unbalanced angle bracket", "missing '>'");
	bad("Anna a@x.test>", "unbalanced angle bracket", "stray '>'");
	bad("<<a@x.test>>", "unbalanced angle bracket", "doubled '<'");
	bad("<a@x.test>>", "unbalanced angle bracket", "doubled '>'");
	bad("<a@x.test, b@x.test>", "unbalanced angle bracket",
	    "comma inside angle brackets");
	bad("a@x.test (Anna", "unbalanced parenthesis", "unclosed comment");
	bad("a@x.test (Anna (x)", "unbalanced parenthesis",
	    "unclosed nested comment");
	bad("a@x.test Anna)", "unbalanced parenthesis", "stray ')'");
	bad("a@x.test (Anna\\)", "unbalanced parenthesis",
	    "escaped ')' does not close");
	bad("a@[192.0.2.1", "unbalanced square bracket", "unclosed '['");
	bad("a@192.0.2.1]", "unbalanced square bracket", "stray ']'");

	bad("@x.test", "empty local part", "empty local part");
	bad("\"\"@x.test", "empty local part", "empty quoted local part");
	bad("a@", "empty domain", "empty domain");
	bad("a@@x.test", "more than one '@'", "doubled '@'");
	bad("a@b@x.test", "more than one '@'", "two '@'");
	bad("a@x.test <b@x.test>", "unexpected '@' before '<'",
	    "address before angle address");
	bad("Anna <a@x.test> b@x.test", "unexpected text after '>'",
	    "text after '>'");
	bad("Anna <>", "no address between", "empty angle brackets");
	bad("Hans h@x.test", "display name without angle brackets",
	    "name without brackets");
	bad("a@x.test Anna", "unexpected text after the domain",
	    "text after bare address");
	bad("<john doe@x.test>", "unquoted space in the local part",
	    "unquoted space in local part");
	bad("a\\b@x.test", "outside double quotes", "stray backslash");
	bad(".a@x.test", "misplaced '.'", "leading dot in local part");
	bad("a..b@x.test", "misplaced '.'", "double dot in local part");
	bad("a.@x.test", "misplaced '.'", "trailing dot in local part");
	bad("a@x..test", "empty label", "empty domain label");
	bad("a@x.test.", "empty label", "trailing dot in domain");
	bad("a@-x.test", "'-'", "label starts with hyphen");
	bad("a@x-.test", "'-'", "label ends with hyphen");
	bad("a@x_y.test", "invalid character '_'", "underscore in domain");
	bad("a@\"x.test\"", "quoted domain", "quoted domain");
	bad("a@[192.0.2.256]", "invalid address literal", "bad IPv4 literal");
	bad("a@[tag:stuff]", "invalid address literal", "unknown literal tag");
	bad("a@[IPv6:zz::1]", "invalid address literal", "bad IPv6 literal");

	bad("a@x.test\r\nBcc: evil@x.test", "line break", "CR LF");
	ok(strstr(last.msg, "\\x0d\\x0a") != NULL,
	    "CR LF shown escaped in message");
	bad("a@x.test\nb@x.test", "line break", "LF alone");
	bad("\"An\rna\" <a@x.test>", "line break", "CR inside quotes");
	bad("a@x.test (An\nna)", "line break", "LF inside comment");
	bad("\"\\\r\" <a@x.test>", "line break", "quoted-pair CR");
	bad("\"\x1b[31mred\" <a@x.test>", "control character", "ESC in name");
	ok(strstr(last.msg, "\\x1b[31mred") != NULL,
	    "ESC shown escaped in message");
	bad("a\x7f@x.test", "control character", "DEL in local part");
	bad("a@x.test\x01", "control character", "SOH after address");
	bad("\"Anna\xc2\x85\" <a@x.test>", "control character",
	    "C1 control in name");
	bad("\"a\tb\"@x.test", "control character in the local part",
	    "TAB in quoted local part");
	bad("\"M\xfcller\" <m@x.test>", "invalid UTF-8",
	    "Latin-1 byte in name");
	ok(strstr(last.msg, "M\\xfcller") != NULL,
	    "invalid byte shown escaped");
	bad("\xe2\x82 <m@x.test>", "invalid UTF-8", "cut UTF-8 sequence");

	bad("jörg@x.test", "non-ASCII", "non-ASCII local part");
	ok(strstr(last.hint, "punycode") != NULL,
	    "hint names the ASCII/punycode form");
	bad("Jörg <j@bücher.test>", "non-ASCII", "non-ASCII domain");
	bad("\"jö\"@x.test", "non-ASCII", "non-ASCII quoted local part");

	bad("team: a@x.test, b@x.test;", "groups are not supported",
	    "group syntax");
	bad("\"My team\":;", "groups are not supported", "empty group");
	bad("a@x.test:b", "unexpected ':'", "colon after address");

	s = repeat('a', 64);
	in = malloc(64 + 8 + 1);
	if (in == NULL)
		exit(99);
	memcpy(in, s, 64);
	memcpy(in + 64, "@x.test", 8);
	is_str(parse_show(in) + 2, in, "64-octet local part accepted");
	free(in);
	free(s);
	in = make_addr(65, 6);
	bad(in, "local part longer than 64", "65-octet local part");
	free(in);
	in = make_addr(4, 255);
	bad(in, "address longer than 254", "255-octet domain, long mailbox");
	free(in);
	in = make_addr(1, 256);
	bad(in, "domain longer than 255", "256-octet domain");
	free(in);
	in = make_addr(1, 252);
	got[0] = '\0';
	ok(strcmp(parse_show(in) + 2, in) == 0, "254-octet mailbox accepted");
	free(in);
	in = make_addr(2, 252);
	bad(in, "address longer than 254", "255-octet mailbox");
	free(in);
	s = repeat('d', 64);
	in = malloc(2 + 64 + 6);
	if (in == NULL)
		exit(99);
	memcpy(in, "a@", 2);
	memcpy(in + 2, s, 64);
	memcpy(in + 66, ".test", 6);
	bad(in, "label longer than 63", "64-octet domain label");
	free(in);
	free(s);

	/* A long bad address is cut in the message, never overflowing it. */
	in = repeat('x', 3000);
	in[0] = '\x1b';
	bad(in, "...': control character", "long bad address cut with '...'");
	ok(strncmp(last.msg, "invalid address '\\x1bxxx", 24) == 0 &&
	    strlen(last.msg) < 250, "cut quote is short and escaped");
	free(in);

	n = 64 * 1024;
	in = repeat(' ', n + 1);
	memcpy(in, "a@x.test", 8);
	bad(in, "too long", "input over 64 KiB");
	in[n] = '\0';
	is_str(parse_show(in), "-|a@x.test", "input of exactly 64 KiB");
	free(in);
}

static void
test_one(void)
{
	struct dm_addr a = { NULL, NULL }, keep = { NULL, NULL };
	struct dm_err err;

	dm_err_clear(&err);
	ok(dm_addr_parse_one(&a, " Anna Muster <anna@x.test> ", &err) == 0 &&
	    a.name != NULL && strcmp(a.name, "Anna Muster") == 0 &&
	    strcmp(a.mailbox, "anna@x.test") == 0, "parse_one");
	keep = a;
	ok(dm_addr_parse_one(&a, "", &err) == -1 && err.code == DM_EDATA &&
	    strcmp(err.msg, "no address given") == 0, "parse_one: empty");
	ok(dm_addr_parse_one(&a, " ,; ", &err) == -1 && err.code == DM_EDATA &&
	    strcmp(err.msg, "no address in ',;'") == 0,
	    "parse_one: separators only");
	ok(dm_addr_parse_one(&a, "a@x.test, b@x.test", &err) == -1 &&
	    err.code == DM_EDATA && strcmp(err.msg,
	    "more than one address in 'a@x.test, b@x.test'") == 0,
	    "parse_one: two addresses");
	ok(dm_addr_parse_one(&a, "a@x.test; a@x.test", &err) == -1 &&
	    strstr(err.msg, "more than one address") != NULL,
	    "parse_one: the same address twice");
	ok(dm_addr_parse_one(&a, "anna", &err) == -1 &&
	    strstr(err.msg, "missing '@'") != NULL && err.hint[0] != '\0',
	    "parse_one: bad address");
	ok(a.name == keep.name && a.mailbox == keep.mailbox,
	    "parse_one: errors leave the address alone");
	dm_addr_release(&a);
	ok(a.name == NULL && a.mailbox == NULL, "release clears");
	dm_addr_release(&a);
}

static void
test_copy_domain(void)
{
	struct dm_addr src = { NULL, NULL }, dst = { NULL, NULL };
	struct dm_err err;

	dm_err_clear(&err);
	if (dm_addr_parse_one(&src, "\"Müller, Hans\" <hans@x.test>", &err))
		diag("setup: %s", err.msg);
	ok(dm_addr_copy(&dst, &src, &err) == 0 && dst.name != src.name &&
	    dst.mailbox != src.mailbox && strcmp(dst.name, src.name) == 0 &&
	    strcmp(dst.mailbox, src.mailbox) == 0, "copy is deep");
	dm_addr_release(&src);
	is_str(dst.mailbox, "hans@x.test", "copy outlives the original");
	dm_addr_release(&dst);
	src.mailbox = (char *)"b@y.test";
	ok(dm_addr_copy(&dst, &src, &err) == 0 && dst.name == NULL &&
	    strcmp(dst.mailbox, "b@y.test") == 0, "copy without a name");
	dm_addr_release(&dst);

	is_str(dm_addr_domain("a@Example.TEST"), "Example.TEST",
	    "domain keeps its case");
	is_str(dm_addr_domain("\"a@b\"@c.test"), "c.test",
	    "domain after quoted '@'");
	is_str(dm_addr_domain("nodomain"), "", "no '@': empty domain");
}

static void
test_display(void)
{
	struct dm_addrlist l;
	struct dm_addr a;
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, 0);
	dm_err_clear(&err);
	a.name = (char *)"Anna Müller";
	a.mailbox = (char *)"anna@x.test";
	ok(dm_addr_format_display(&a, &b, &err) == 0, "format name");
	is_str(dm_buf_str(&b), "Anna Müller <anna@x.test>", "name <mailbox>");
	dm_buf_reset(&b);
	a.name = NULL;
	dm_addr_format_display(&a, &b, &err);
	is_str(dm_buf_str(&b), "anna@x.test", "bare mailbox without name");
	dm_buf_reset(&b);
	a.name = (char *)"Evil\x1b]0;x\x07\r\nBcc: y";
	dm_addr_format_display(&a, &b, &err);
	is_str(dm_buf_str(&b),
	    "\"Evil\\x1b]0;x\\x07\\x0d\\x0aBcc: y\" <anna@x.test>",
	    "control characters in name escaped");
	dm_buf_reset(&b);

	/* A name with a comma is quoted so the text reads back as one. */
	dm_addrlist_init(&l);
	if (dm_addr_parse_list(&l, "\"Müller, \\\"Hans\\\"\" <h@x.test>",
	    &err) == -1)
		diag("setup: %s", err.msg);
	dm_addr_format_display(&l.v[0], &b, &err);
	is_str(dm_buf_str(&b), "\"Müller, \\\"Hans\\\"\" <h@x.test>",
	    "special name quoted and escaped");
	dm_addrlist_release(&l);
	ok(dm_addr_parse_list(&l, dm_buf_str(&b), &err) == 0 && l.n == 1 &&
	    strcmp(l.v[0].name, "Müller, \"Hans\"") == 0,
	    "display form parses back to the same name");
	dm_addrlist_release(&l);
	dm_buf_release(&b);
}

int
main(void)
{
	plan(138);
	test_lists();
	test_comments();
	test_local_parts();
	test_empty();
	test_duplicates();
	test_malformed();
	test_one();
	test_copy_domain();
	test_display();
	return done_testing();
}
