/*
 * t-pathprompt.c - tests for the send dialog's "Add file" prompt
 * without a terminal: typing, Tab completion in a scratch directory,
 * '~' as $HOME, and which end of a long path is shown
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "../src/tui/pathprompt.h"
#include "tap.h"
#include "testutil.h"

static const char *const files[] = {
	"invoice-1.pdf", "invoice-2.pdf", "offer.pdf", ".hidden",
	"a\xc3\xa4.txt", "a\xc3\xb6.txt", "cab\xc3\xa4", "cab\xc3\xb6",
};
#define NFILES	(sizeof files / sizeof files[0])

/* Starts the prompt with s typed (UTF-8). */
static void
typed(struct pathprompt *pp, const char *s)
{
	wchar_t w[PATHPROMPT_MAX];
	size_t i, n;

	pathprompt_start(pp);
	if ((n = mbstowcs(w, s, PATHPROMPT_MAX)) == (size_t)-1)
		abort();
	for (i = 0; i < n; i++)
		(void)pathprompt_type(pp, (wint_t)w[i]);
}

/* What is typed, in UTF-8, in a static buffer. */
static const char *
now(const struct pathprompt *pp)
{
	static char b[4 * PATHPROMPT_MAX];

	if (wcstombs(b, pp->typed, sizeof b) == (size_t)-1)
		return "(invalid)";
	return b;
}

/* Tab after s typed; what is typed then. */
static const char *
tab(struct pathprompt *pp, const char *s)
{
	typed(pp, s);
	pathprompt_complete(pp);
	return now(pp);
}

static void
test_typing(void)
{
	struct pathprompt pp;

	pathprompt_start(&pp);
	ok(pp.note[0] != '\0' && !pp.note_err, "start: a how-to note");
	ok(pathprompt_path(&pp) == NULL, "nothing typed: no path");
	is_int(pathprompt_type(&pp, L'x'), 1, "a letter is typed");
	is_str(pp.note, "", "typing clears the note");
	is_int(pathprompt_type(&pp, 0x1b), 0, "Esc is not typed");
	is_int(pathprompt_type(&pp, 0x7f), 0, "DEL is not typed");
	pathprompt_backspace(&pp);
	pathprompt_backspace(&pp);
	is_int(pp.ntyped, 0, "Backspace, once too often");
}

static void
test_complete(void)
{
	struct pathprompt pp;
	char want[256], *p;

	(void)snprintf(want, sizeof want, "%s/", top);
	is_str(tab(&pp, fx("inv")), fx("invoice-"),
	    "Tab: as far as the names agree");
	ok(strstr(pp.note, "invoice-1.pdf") != NULL &&
	    strstr(pp.note, "invoice-2.pdf") != NULL && !pp.note_err,
	    "the candidates in the note");

	is_str(tab(&pp, fx("o")), fx("offer.pdf"), "a lone match whole");
	is_str(pp.note, "", "and no list");

	is_str(tab(&pp, fx("su")), fx("sub/"),
	    "a lone directory gets its '/'");

	(void)tab(&pp, want);
	ok(strstr(pp.note, ".hidden") == NULL, "dot files not offered");
	is_str(tab(&pp, fx(".")), fx(".hidden"), "unless asked for");

	/* "\xc3\xa4" and "\xc3\xb6" agree on a byte, not on a character. */
	is_str(tab(&pp, fx("a")), fx("a"), "no half character completed");
	is_str(tab(&pp, fx("c")), fx("cab"),
	    "the whole characters before it are");
	is_str(tab(&pp, fx("a\xc3\xb6")), fx("a\xc3\xb6.txt"),
	    "a non-ASCII name completed");

	(void)tab(&pp, fx("x"));
	is_str(pp.note, "no file starts with 'x'", "no match: said so");
	ok(pp.note_err, "as an error");
	is_str(now(&pp), fx("x"), "and the text as typed");

	(void)tab(&pp, fx("none/x"));
	is_str(pp.note, "no such directory", "a missing directory");

	/* '~' is $HOME, in completion and in the path. */
	(void)setenv("HOME", top, 1);
	is_str(tab(&pp, "~/off"), "~/offer.pdf",
	    "~/ completes in $HOME, kept as typed");
	p = pathprompt_path(&pp);
	is_str(p, fx("offer.pdf"), "the path has $HOME");
	free(p);
	typed(&pp, "~x");
	p = pathprompt_path(&pp);
	is_str(p, "~x", "~user is not expanded");
	free(p);
}

static void
test_view(void)
{
	struct pathprompt pp;
	const wchar_t *tail;
	int cut, w;

	typed(&pp, "/a/b");
	w = pathprompt_view(&pp, 10, &tail, &cut);
	ok(!cut && tail == pp.typed && w == 4, "a short path whole");
	typed(&pp, "/0123456789/\xe6\x97\xa5\xe6\x9c\xac");
	w = pathprompt_view(&pp, 10, &tail, &cut);
	ok(cut, "a long one cut");
	is_int(w, 10, "to the room, \"...\" counted");
	ok(wcscmp(tail, L"89/\x65e5\x672c") == 0, "its end shown");
	w = pathprompt_view(&pp, 9, &tail, &cut);
	is_int(w, 9, "one column less");
	ok(wcscmp(tail, L"9/\x65e5\x672c") == 0, "one character less");
}

int
main(void)
{
	size_t i;

	plan(30);
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		diag("no C.UTF-8 locale: the non-ASCII cases fail");
	if (snprintf(top, sizeof top, "/tmp/t-pathprompt.XXXXXX") >=
	    (int)sizeof top || mkdtemp(top) == NULL)
		return 1;
	for (i = 0; i < NFILES; i++) {
		FILE *fp = fopen(fx(files[i]), "w");

		if (fp == NULL || fclose(fp) != 0)
			return 1;
	}
	if (mkdir(fx("sub"), 0700) == -1)
		return 1;
	test_typing();
	test_complete();
	test_view();
	rmtree(top);
	return done_testing();
}
