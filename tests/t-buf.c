/*
 * t-buf.c - tests for the bounded buffer, the string helpers and the
 * error value
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>

#include "tap.h"

static struct dm_err err;

/* The printable form of n bytes of s, in a static buffer. */
static const char *
printable(const char *s, size_t n)
{
	static char out[256];
	struct dm_buf b;

	dm_buf_init(&b, 0);
	dm_err_clear(&err);
	if (dm_buf_add_printable(&b, s, n, &err) == -1)
		dm_strlcpy(out, "(failed)", sizeof out);
	else
		dm_strlcpy(out, dm_buf_str(&b), sizeof out);
	dm_buf_release(&b);
	return out;
}

#define PRINTABLE(lit)	printable((lit), sizeof(lit) - 1)
#define UTF8(lit)	dm_utf8_valid((lit), sizeof(lit) - 1)

static void
test_buf(void)
{
	struct dm_buf b;
	char *p, *old;
	size_t i, cap;
	int allok;

	dm_buf_init(&b, 0);
	is_int(b.max, DM_BUF_DEFAULT_MAX, "buf: max 0 means the default cap");
	ok(b.data == NULL && b.len == 0, "buf: new buffer holds nothing");
	is_str(dm_buf_str(&b), "", "buf: empty buffer reads as \"\"");
	is_int(dm_buf_add(&b, NULL, 0, &err), 0, "buf: adding 0 bytes works");
	ok(b.data != NULL && b.len == 0 && b.data[0] == '\0',
	    "buf: adding 0 bytes leaves a terminated empty string");

	/* Growth: many small appends, then check every byte. */
	allok = 1;
	for (i = 0; i < 100000; i++)
		if (dm_buf_addc(&b, (char)('a' + i % 26), &err) == -1)
			allok = 0;
	ok(allok, "buf: 100000 single-byte appends succeed");
	is_int(b.len, 100000, "buf: length after growth");
	ok(b.cap > b.len, "buf: room for the NUL");
	is_int(b.data[b.len], '\0', "buf: NUL-terminated after growth");
	for (i = 0; i < b.len; i++)
		if (b.data[i] != (char)('a' + i % 26))
			break;
	is_int(i, 100000, "buf: contents survive every reallocation");
	is_int(strlen(dm_buf_str(&b)), 100000, "buf: str has the full length");

	/* Reset keeps memory; later appends start over. */
	cap = b.cap;
	old = b.data;
	dm_buf_reset(&b);
	ok(b.len == 0 && b.cap == cap && b.data == old,
	    "reset: empties but keeps the memory");
	is_str(dm_buf_str(&b), "", "reset: reads as \"\"");
	dm_buf_addstr(&b, "xyz", &err);
	is_str(dm_buf_str(&b), "xyz", "reset: appends start at the beginning");
	dm_buf_release(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0 &&
	    b.max == DM_BUF_DEFAULT_MAX, "release: empty again, same cap");

	/* The cap. */
	dm_buf_init(&b, 8);
	is_int(dm_buf_addstr(&b, "12345", &err), 0, "cap: under the cap");
	dm_err_clear(&err);
	is_int(dm_buf_addstr(&b, "6789", &err), -1,
	    "cap: an append past the cap fails");
	is_int(err.code, DM_EDATA, "cap: DM_EDATA");
	ok(strstr(err.msg, "8 bytes") != NULL, "cap: message names the cap");
	is_str(dm_buf_str(&b), "12345", "cap: contents intact after failure");
	is_int(b.len, 5, "cap: length intact after failure");
	is_int(dm_buf_addstr(&b, "678", &err), 0,
	    "cap: filling exactly to the cap works");
	is_str(dm_buf_str(&b), "12345678", "cap: contents at the cap");
	dm_err_clear(&err);
	is_int(dm_buf_addc(&b, 'x', &err), -1, "cap: one byte more fails");
	is_int(dm_buf_addf(&b, &err, "%d", 1), -1, "cap: addf past the cap");
	is_int(err.code, DM_EDATA, "cap: addf past the cap is DM_EDATA");
	is_int(dm_buf_add(&b, "", 0, &err), 0,
	    "cap: adding nothing at the cap works");
	is_str(dm_buf_str(&b), "12345678", "cap: still intact");
	dm_err_clear(&err);
	is_int(dm_buf_add(&b, "x", SIZE_MAX, &err), -1,
	    "cap: a length near SIZE_MAX fails, no wrap-around");
	is_int(err.code, DM_EDATA, "cap: huge length is DM_EDATA");
	dm_buf_release(&b);
	is_int(b.max, 8, "cap: release keeps the cap");

	/* addf. */
	dm_buf_init(&b, 0);
	dm_buf_addstr(&b, "n=", &err);
	is_int(dm_buf_addf(&b, &err, "%d/%s/%05.1f", -42, "x\xc3\xbc", 2.5),
	    0, "addf: works");
	is_str(dm_buf_str(&b), "n=-42/x\xc3\xbc/002.5", "addf: appends");
	is_int(b.len, strlen("n=-42/x\xc3\xbc/002.5"), "addf: length");
	dm_buf_addf(&b, &err, "%s", "");
	is_int(b.len, strlen("n=-42/x\xc3\xbc/002.5"),
	    "addf: empty result adds nothing");
	dm_buf_reset(&b);
	dm_buf_addf(&b, &err, "%0300d", 7);
	ok(b.len == 300 && b.data[0] == '0' && b.data[299] == '7' &&
	    b.data[300] == '\0', "addf: output longer than the first block");

	/* Detach. */
	p = dm_buf_detach(&b);
	ok(p != NULL && strlen(p) == 300, "detach: hands over the data");
	ok(b.data == NULL && b.len == 0 && b.cap == 0,
	    "detach: buffer is empty after");
	free(p);
	p = dm_buf_detach(&b);
	ok(p != NULL && p[0] == '\0', "detach: empty buffer gives \"\"");
	free(p);
	dm_buf_addstr(&b, "again", &err);
	is_str(dm_buf_str(&b), "again", "detach: buffer usable after");

	/* Wipe: the memory is freed so only the state can be observed. */
	dm_buf_wipe(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0 &&
	    b.max == DM_BUF_DEFAULT_MAX, "wipe: empty, same cap");
	dm_buf_wipe(&b);
	ok(b.data == NULL, "wipe: twice is harmless");
}

static void
test_strlcpy(void)
{
	char d[8];

	is_int(dm_strlcpy(d, "abc", sizeof d), 3, "strlcpy: returns strlen");
	is_str(d, "abc", "strlcpy: copies");
	is_int(dm_strlcpy(d, "abcdefg", sizeof d), 7,
	    "strlcpy: exact fit is not cut");
	is_str(d, "abcdefg", "strlcpy: exact fit copied");
	ok(dm_strlcpy(d, "abcdefgh", sizeof d) >= sizeof d,
	    "strlcpy: one too long reports the cut");
	is_str(d, "abcdefg", "strlcpy: cut and terminated");
	is_int(dm_strlcpy(d, "a much longer string", sizeof d), 20,
	    "strlcpy: returns the full source length when cut");
	is_str(d, "a much ", "strlcpy: cut keeps the start");
	d[0] = 'Z';
	is_int(dm_strlcpy(d, "abc", 0), 3, "strlcpy: size 0 returns strlen");
	is_int(d[0], 'Z', "strlcpy: size 0 writes nothing");
	is_int(dm_strlcpy(d, "abc", 1), 3, "strlcpy: size 1");
	is_str(d, "", "strlcpy: size 1 gives \"\"");
	is_int(dm_strlcpy(d, "", sizeof d), 0, "strlcpy: empty source");
	is_str(d, "", "strlcpy: empty copied");
}

static void
test_strtonum(void)
{
	static const char *bad[] = {
		"", " 5", "5 ", "\t5", "+5", "5x", "x5", "0x10", "1e3",
		"1.5", "-", "--5", "- 5", "5\n", "\xd9\xa1",
		"9223372036854775808", "-9223372036854775809",
		"99999999999999999999999"
	};
	long long v;
	size_t i;
	int allbad;

	v = 0;
	ok(dm_strtonum("587", 1, 65535, &v) == 0 && v == 587,
	    "strtonum: plain number");
	ok(dm_strtonum("1", 1, 65535, &v) == 0 && v == 1,
	    "strtonum: minimum is allowed");
	ok(dm_strtonum("65535", 1, 65535, &v) == 0 && v == 65535,
	    "strtonum: maximum is allowed");
	is_int(dm_strtonum("0", 1, 65535, &v), -1, "strtonum: below min");
	is_int(dm_strtonum("65536", 1, 65535, &v), -1, "strtonum: above max");
	ok(dm_strtonum("-5", -10, 10, &v) == 0 && v == -5,
	    "strtonum: negative in a signed range");
	is_int(dm_strtonum("-5", 0, 10, &v), -1,
	    "strtonum: negative below an unsigned range");
	ok(dm_strtonum("007", 0, 10, &v) == 0 && v == 7,
	    "strtonum: leading zeros are decimal");
	ok(dm_strtonum("9223372036854775807", LLONG_MIN, LLONG_MAX, &v) == 0 &&
	    v == LLONG_MAX, "strtonum: LLONG_MAX");
	ok(dm_strtonum("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v) ==
	    0 && v == LLONG_MIN, "strtonum: LLONG_MIN");
	is_int(dm_strtonum(NULL, 0, 10, &v), -1, "strtonum: NULL");
	is_int(dm_strtonum("-0", 0, 10, &v), -1,
	    "strtonum: no sign for an unsigned range, even -0");

	allbad = 1;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 12345;
		if (dm_strtonum(bad[i], LLONG_MIN, LLONG_MAX, &v) != -1 ||
		    v != 12345) {
			diag("accepted '%s'", bad[i]);
			allbad = 0;
		}
	}
	ok(allbad, "strtonum: empty, spaces, signs, junk, overflow refused "
	    "and the result left alone");
}

static void
test_strdup(void)
{
	char *p;

	dm_err_clear(&err);
	ok(dm_strdup(NULL, &err) == NULL && err.code == DM_EOK,
	    "strdup: NULL in, NULL out, no error");
	p = dm_strdup("k\xc3\xbcnde", &err);
	is_str(p, "k\xc3\xbcnde", "strdup: copies");
	free(p);
}

static void
test_utf8(void)
{
	ok(dm_utf8_valid("", 0), "utf8: empty");
	ok(UTF8("plain ascii ~"), "utf8: ASCII");
	ok(UTF8("a\0b"), "utf8: NUL inside the length is ASCII");
	ok(UTF8("\xc2\x80"), "utf8: U+0080, smallest 2-byte");
	ok(UTF8("\xc3\xbc"), "utf8: u-umlaut (2 bytes)");
	ok(UTF8("\xdf\xbf"), "utf8: U+07FF, largest 2-byte");
	ok(UTF8("\xe0\xa0\x80"), "utf8: U+0800, smallest 3-byte");
	ok(UTF8("\xe2\x82\xac"), "utf8: euro sign (3 bytes)");
	ok(UTF8("\xed\x9f\xbf"), "utf8: U+D7FF, just below surrogates");
	ok(UTF8("\xee\x80\x80"), "utf8: U+E000, just above surrogates");
	ok(UTF8("\xef\xbf\xbf"), "utf8: U+FFFF, largest 3-byte");
	ok(UTF8("\xf0\x90\x80\x80"), "utf8: U+10000, smallest 4-byte");
	ok(UTF8("\xf0\x9f\x93\x84"), "utf8: page emoji (4 bytes)");
	ok(UTF8("\xf4\x8f\xbf\xbf"), "utf8: U+10FFFF, the last code point");
	ok(UTF8("Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x93\x84!"),
	    "utf8: mixed text");

	ok(!UTF8("\xc0\x80"), "utf8: overlong NUL (C0 80)");
	ok(!UTF8("\xc1\xbf"), "utf8: overlong 2-byte (C1 BF)");
	ok(!UTF8("\xe0\x80\x80"), "utf8: overlong 3-byte NUL");
	ok(!UTF8("\xe0\x9f\xbf"), "utf8: overlong U+07FF in 3 bytes");
	ok(!UTF8("\xf0\x80\x80\x80"), "utf8: overlong 4-byte NUL");
	ok(!UTF8("\xf0\x8f\xbf\xbf"), "utf8: overlong U+FFFF in 4 bytes");
	ok(!UTF8("\xed\xa0\x80"), "utf8: surrogate U+D800");
	ok(!UTF8("\xed\xbf\xbf"), "utf8: surrogate U+DFFF");
	ok(!UTF8("\xf4\x90\x80\x80"), "utf8: U+110000");
	ok(!UTF8("\xf5\x80\x80\x80"), "utf8: lead byte F5");
	ok(!UTF8("\xf8\x88\x80\x80\x80"), "utf8: 5-byte form");
	ok(!UTF8("\xfe"), "utf8: FE");
	ok(!UTF8("\xff"), "utf8: FF");
	ok(!UTF8("\xc3"), "utf8: truncated 2-byte");
	ok(!UTF8("\xe2\x82"), "utf8: truncated 3-byte");
	ok(!UTF8("\xf0\x9f\x93"), "utf8: truncated 4-byte");
	ok(!dm_utf8_valid("\xc3\xbc", 1), "utf8: cut by the length");
	ok(!UTF8("ab\xe2\x82"), "utf8: truncated at the end of text");
	ok(!UTF8("\xe2\x82x"), "utf8: sequence broken by ASCII");
	ok(!UTF8("\xc3\x28"), "utf8: bad continuation byte");
	ok(!UTF8("\x80"), "utf8: stray continuation byte");
	ok(!UTF8("a\xbf" "b"), "utf8: stray continuation inside text");
	ok(!UTF8("\xc3\xbc\xbc"), "utf8: one continuation too many");
}

static void
test_printable(void)
{
	struct dm_buf b;

	is_str(PRINTABLE("plain text, {braces} and \\ backslash"),
	    "plain text, {braces} and \\ backslash",
	    "printable: ASCII is kept");
	is_str(PRINTABLE("\x01\x1f"), "\\x01\\x1f", "printable: C0 escaped");
	is_str(PRINTABLE("a\tb\r\nc"), "a\\x09b\\x0d\\x0ac",
	    "printable: tab, CR, LF escaped");
	is_str(PRINTABLE("\x1b[31mred"), "\\x1b[31mred",
	    "printable: ESC of an escape sequence escaped");
	is_str(PRINTABLE("a\0b"), "a\\x00b", "printable: NUL escaped");
	is_str(PRINTABLE("\x7f"), "\\x7f", "printable: DEL escaped");
	is_str(PRINTABLE("\xc2\x80"), "\\xc2\\x80",
	    "printable: U+0080 (C1) escaped");
	is_str(PRINTABLE("\xc2\x9b" "31m"), "\\xc2\\x9b31m",
	    "printable: U+009B CSI (C1) escaped");
	is_str(PRINTABLE("\xc2\x9f"), "\\xc2\\x9f",
	    "printable: U+009F (C1) escaped");
	is_str(PRINTABLE("\xc2\xa0"), "\xc2\xa0",
	    "printable: U+00A0 is not C1 and kept");
	is_str(PRINTABLE("M\xc3\xbcller"), "M\xc3\xbcller",
	    "printable: u-umlaut kept");
	is_str(PRINTABLE("100 \xe2\x82\xac"), "100 \xe2\x82\xac",
	    "printable: euro sign kept");
	is_str(PRINTABLE("\xf0\x9f\x93\x84"), "\xf0\x9f\x93\x84",
	    "printable: 4-byte character kept");
	is_str(PRINTABLE("\xff"), "\\xff", "printable: FF escaped");
	is_str(PRINTABLE("\xe2\x82"), "\\xe2\\x82",
	    "printable: truncated sequence escaped");
	is_str(PRINTABLE("\xe2\x82" "a"), "\\xe2\\x82" "a",
	    "printable: text after a bad sequence kept");
	is_str(PRINTABLE("\xc0\xaf"), "\\xc0\\xaf",
	    "printable: overlong escaped");
	is_str(PRINTABLE("\xed\xa0\x80"), "\\xed\\xa0\\x80",
	    "printable: surrogate escaped");
	is_str(PRINTABLE("\x80" "a"), "\\x80" "a",
	    "printable: stray continuation escaped");
	is_str(printable("\xc3\xbc", 1), "\\xc3",
	    "printable: only n bytes are read");
	is_str(printable("abc", 0), "", "printable: zero length");

	dm_buf_init(&b, 6);
	dm_buf_addstr(&b, "ab", &err);
	dm_err_clear(&err);
	is_int(dm_buf_add_printable(&b, "\x1b\x1b", 2, &err), -1,
	    "printable: escapes past the cap fail");
	is_int(err.code, DM_EDATA, "printable: cap is DM_EDATA");
	ok(strncmp(dm_buf_str(&b), "ab", 2) == 0 && b.len <= 6,
	    "printable: buffer within its cap after failure");
	dm_buf_release(&b);
}

static void
test_err(void)
{
	struct dm_err e;
	char longs[1200];

	dm_err_clear(&e);
	ok(e.code == DM_EOK && e.smtp_code == 0 && e.msg[0] == '\0' &&
	    e.hint[0] == '\0', "err: clear empties everything");

	e.smtp_code = 535;
	dm_err_hint(&e, "old hint");
	is_int(dm_err_set(&e, DM_ECONFIG, "unknown key '%s'", "hots"), -1,
	    "err: set returns -1");
	is_int(e.code, DM_ECONFIG, "err: set sets the class");
	is_str(e.msg, "unknown key 'hots'", "err: set formats the message");
	is_str(e.hint, "", "err: set clears the hint");
	is_int(e.smtp_code, 0, "err: set clears the server code");

	is_int(dm_err_hint(&e, "did you mean '%s'?", "host"), -1,
	    "err: hint returns -1");
	is_str(e.hint, "did you mean 'host'?", "err: hint formats");
	ok(e.code == DM_ECONFIG && strcmp(e.msg, "unknown key 'hots'") == 0,
	    "err: hint leaves class and message alone");

	is_int(dm_err_prefix(&e, "%s:%d", "docmail.ini", 3), -1,
	    "err: prefix returns -1");
	is_str(e.msg, "docmail.ini:3: unknown key 'hots'",
	    "err: prefix goes in front");
	is_str(e.hint, "did you mean 'host'?", "err: prefix keeps the hint");
	dm_err_prefix(&e, "%s", e.msg);
	is_str(e.msg, "docmail.ini:3: unknown key 'hots': "
	    "docmail.ini:3: unknown key 'hots'",
	    "err: prefix may quote the message itself");

	memset(longs, 'p', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	dm_err_set(&e, DM_EDATA, "%s", longs);
	is_int(strlen(e.msg), DM_ERR_MSG_MAX - 1,
	    "err: long message cut to fit");
	dm_err_hint(&e, "%s", longs);
	is_int(strlen(e.hint), DM_ERR_HINT_MAX - 1, "err: long hint cut");

	dm_err_set(&e, DM_EDATA, "tail");
	dm_err_prefix(&e, "%s", longs);
	ok(strlen(e.msg) == DM_ERR_MSG_MAX - 1 && e.msg[0] == 'p' &&
	    e.msg[DM_ERR_MSG_MAX - 2] == 'p',
	    "err: long prefix cut, no overflow");
	longs[DM_ERR_MSG_MAX - 3] = '\0';
	dm_err_set(&e, DM_EDATA, "tail");
	dm_err_prefix(&e, "%s", longs);
	ok(strlen(e.msg) == DM_ERR_MSG_MAX - 1 &&
	    strcmp(e.msg + DM_ERR_MSG_MAX - 3, ": ") == 0,
	    "err: prefix filling the message leaves ': ' and nothing more");
	longs[DM_ERR_MSG_MAX - 3] = 'p';
	dm_err_set(&e, DM_EDATA, "%s", longs);
	dm_err_prefix(&e, "file.ini");
	ok(strlen(e.msg) == DM_ERR_MSG_MAX - 1 &&
	    strncmp(e.msg, "file.ini: ppp", 13) == 0,
	    "err: prefix on a full message keeps the prefix, cuts the tail");
	is_int(e.code, DM_EDATA, "err: prefix keeps the class");

	is_int(dm_err_set(NULL, DM_EDATA, "x"), -1, "err: set(NULL) is -1");
	is_int(dm_err_hint(NULL, "x"), -1, "err: hint(NULL) is -1");
	is_int(dm_err_prefix(NULL, "x"), -1, "err: prefix(NULL) is -1");

	is_str(dm_err_name(DM_EOK), "ok", "err: name of DM_EOK");
	is_str(dm_err_name(DM_EDATA), "data", "err: name of DM_EDATA");
	is_str(dm_err_name(DM_ECONFIG), "config", "err: name of DM_ECONFIG");
	is_str(dm_err_name(DM_EINTERNAL), "internal",
	    "err: name of the last class");
	is_str(dm_err_name((enum dm_errcode)(DM_EINTERNAL + 1)), "unknown",
	    "err: name past the last class");
	is_str(dm_err_name((enum dm_errcode)-1), "unknown",
	    "err: name of a negative class");

	/* Rewording an error with its own text must keep that text. */
	dm_err_set(&e, DM_EDATA, "inner");
	dm_err_hint(&e, "do this");
	dm_err_set(&e, DM_ECONFIG, "outer: %s", e.msg);
	is_str(e.msg, "outer: inner", "err: set may quote its own message");
	dm_err_hint(&e, "first %s", e.msg);
	is_str(e.hint, "first outer: inner", "err: hint may quote the message");
}

static void
test_err_path(void)
{
	char out[DM_ERR_PATH_MAX], small[40], name[400], path[1200];
	const char *deep = "/home/anna/Dokumente/Buchhaltung/2026/Kunden/"
	    "Rechnungen-November/invoice-2026-001.pdf";
	size_t i;

	is_str(dm_err_path("/tmp/offer.pdf", out, sizeof out),
	    "/tmp/offer.pdf", "path: a short path stays as it is");
	is_str(dm_err_path(deep, out, sizeof out),
	    "/home/anna/.../2026/Kunden/Rechnungen-November/"
	    "invoice-2026-001.pdf",
	    "path: a deep path loses its middle, keeps both ends");
	ok(strlen(out) <= DM_ERR_PATH_SHOWN, "path: ... within %d bytes",
	    DM_ERR_PATH_SHOWN);
	is_str(dm_err_path("Dokumente/Buchhaltung/2026/Kunden/Rechnungen-"
	    "November/Einzelrechnungen/invoice-2026-001.pdf", out, sizeof out),
	    "Dokumente/.../Rechnungen-November/Einzelrechnungen/"
	    "invoice-2026-001.pdf", "path: a relative one too");
	is_str(dm_err_path("/a/b\033[2Jc/d.pdf", out, sizeof out),
	    "/a/b\\x1b[2Jc/d.pdf", "path: control characters as \\xNN");

	/* The base name is never cut while it fits the buffer. */
	memset(name, 'n', 200);
	memcpy(name + 200, ".pdf", 5);
	(void)snprintf(path, sizeof path, "/srv/share/%s", name);
	dm_err_path(path, out, sizeof out);
	ok(strcmp(out, path) == 0 || (strncmp(out, "/", 1) == 0 &&
	    strcmp(out + strlen(out) - strlen(name), name) == 0),
	    "path: a 204-byte base name stays whole");
	(void)snprintf(path, sizeof path, "/x/%s/%s", name, name);
	dm_err_path(path, out, sizeof out);
	ok(strcmp(out, "/.../") > 0 && strncmp(out, "/.../", 5) == 0 &&
	    strcmp(out + 5, name) == 0,
	    "path: a long directory goes, the base name stays: %s", out);

	/* A name longer than the buffer keeps its start and its end. */
	for (i = 0; i < 150; i++)
		memcpy(name + 2 * i, "\xc3\xbc", 2);
	memcpy(name + 300, "-Ende.pdf", 10);
	dm_err_path(name, small, sizeof small);
	ok(strlen(small) < sizeof small && strstr(small, "...") != NULL &&
	    strcmp(small + strlen(small) - 9, "-Ende.pdf") == 0 &&
	    dm_utf8_valid(small, strlen(small)),
	    "path: an over-long name keeps its end, whole UTF-8: %s", small);
	(void)snprintf(path, sizeof path, "/home/anna/%s", name);
	dm_err_path(path, small, sizeof small);
	ok(strncmp(small, "/.../", 5) == 0 &&
	    strcmp(small + strlen(small) - 9, "-Ende.pdf") == 0,
	    "path: ... also after a directory: %s", small);

	errno = ENOENT;
	dm_err_path(deep, out, sizeof out);
	is_int(errno, ENOENT, "path: errno is left alone");
}

/* dm_quote: the one way untrusted text is quoted in a message. */
static void
test_quote(void)
{
	char q[64], tiny[6];

	is_str(dm_quote(q, sizeof q, "a\r\nBcc: x", 9, 60),
	    "a\\x0d\\x0aBcc: x", "quote: CR and LF shown as \\xNN");
	is_str(dm_quote(q, sizeof q, "\x1b[31mred", 8, 60), "\\x1b[31mred",
	    "quote: an escape sequence cannot reach the terminal");
	is_str(dm_quote(q, sizeof q, "M\xc3\xa4rz und April", 18, 2), "M...",
	    "quote: cut between characters, never inside one, with ...");
	is_str(dm_quote(q, sizeof q, "M\xc3\xa4rz", 5, 3), "M\xc3\xa4...",
	    "quote: a character that fits is kept");
	is_str(dm_quote(tiny, sizeof tiny, "abcdefgh", 8, 60), "abcde",
	    "quote: cut to the room there is, always terminated");
	is_str(dm_quote(q, sizeof q, "\xff\xfe", 2, 60), "\\xff\\xfe",
	    "quote: invalid UTF-8 shown as \\xNN");
}

int
main(void)
{
	plan(179);
	test_buf();
	test_strlcpy();
	test_strtonum();
	test_strdup();
	test_utf8();
	test_printable();
	test_quote();
	test_err();
	test_err_path();
	return done_testing();
}
