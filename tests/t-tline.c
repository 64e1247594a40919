/*
 * t-tline.c - tests for the one-line field editor's core (src/tui/tline.c):
 * the value is what the field shows, the cursor never passes the end,
 * hidden text is marked, long values scroll by half a field, and wide
 * and multibyte characters are edited whole
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "../src/tui/tline.h"

#include "tap.h"

/* The value, in a static buffer. */
static const char *
value(const struct tline *l)
{
	static char out[4096];
	char *s = tline_get(l);

	(void)snprintf(out, sizeof out, "%s", s != NULL ? s : "(null)");
	free(s);
	return out;
}

/* What the field shows, with its brackets: "[587   ]", "<25587 ]". */
static const char *
shown(const struct tline *l)
{
	static char out[4096];
	struct tline_view v;
	wchar_t w[2048];
	size_t i, n = 0;
	int c = 0, cw;

	tline_view(l, &v);
	w[n++] = v.left ? L'<' : L'[';
	for (i = v.start; i < v.end; i++) {
		w[n++] = tline_shown(l, i);
		cw = wcwidth(w[n - 1]);
		c += cw < 0 ? 1 : cw;
	}
	for (; c < l->width; c++)
		w[n++] = L' ';
	w[n++] = v.right ? L'>' : L']';
	w[n] = L'\0';
	if (wcstombs(out, w, sizeof out) == (size_t)-1)
		(void)snprintf(out, sizeof out, "(unprintable)");
	return out;
}

static void
type(struct tline *l, const char *s)
{
	wchar_t w[1024];
	size_t i, n = mbstowcs(w, s, 1024);

	for (i = 0; n != (size_t)-1 && i < n; i++)
		(void)tline_insert(l, w[i]);
}

static int
col(const struct tline *l)
{
	struct tline_view v;

	tline_view(l, &v);
	return v.col;
}

/* Issue #12 item 4: a prefilled Port, typed at, Right past the end. */
static void
test_port(void)
{
	struct tline l;
	int i;

	tline_init(&l, 6, 0);
	ok(tline_set(&l, "587") == 0, "set a value");
	is_str(shown(&l), "[587   ]", "a prefilled port shows whole");
	is_int(l.cur, 3, "the cursor is at its end");
	type(&l, "25587");
	is_str(value(&l), "58725587", "typing at the end appends");
	is_str(shown(&l), "<25587 ]", "the field marks the hidden start");
	is_int(col(&l), 5, "the cursor after the last digit shown");
	for (i = 0; i < 5; i++)
		(void)tline_edit(&l, TL_RIGHT);
	is_int(l.cur, 8, "Right never passes the end");
	is_str(shown(&l), "<25587 ]", "nor scrolls into blank space");
	ok(tline_edit(&l, TL_BACKSPACE) == 1, "Backspace changes the text");
	is_str(value(&l), "5872558", "Backspace deletes the last digit");
	is_str(shown(&l), "<2558  ]", "and the field shows it");
	ok(tline_edit(&l, TL_CLEAR) == 1, "Ctrl-U clears");
	is_str(value(&l), "", "the value is empty");
	is_str(shown(&l), "[      ]", "and so is the field");
	ok(tline_edit(&l, TL_CLEAR) == 0, "Ctrl-U on nothing changes nothing");
	ok(tline_edit(&l, TL_BACKSPACE) == 0,
	    "Backspace at the start changes nothing");
	type(&l, "2525");
	is_str(shown(&l), "[2525  ]", "a new value is typed");
	tline_release(&l);
}

static void
test_moves(void)
{
	struct tline l;

	tline_init(&l, 20, 0);
	(void)tline_set(&l, "anna@example.test");
	(void)tline_edit(&l, TL_HOME);
	is_int(l.cur, 0, "Home goes to the start");
	(void)tline_edit(&l, TL_LEFT);
	is_int(l.cur, 0, "Left stops at the start");
	(void)tline_edit(&l, TL_RIGHT);
	(void)tline_edit(&l, TL_RIGHT);
	(void)tline_edit(&l, TL_RIGHT);
	(void)tline_edit(&l, TL_RIGHT);
	ok(tline_edit(&l, TL_DELETE) == 1, "Delete changes the text");
	is_str(value(&l), "annaexample.test",
	    "Delete takes the character under the cursor");
	type(&l, "+x@");
	is_str(value(&l), "anna+x@example.test",
	    "typing inserts at the cursor");
	ok(tline_edit(&l, TL_KILL_END) == 1, "Ctrl-K changes the text");
	is_str(value(&l), "anna+x@", "Ctrl-K deletes to the end");
	ok(tline_edit(&l, TL_KILL_END) == 0,
	    "Ctrl-K at the end changes nothing");
	(void)tline_edit(&l, TL_END);
	is_int(l.cur, 7, "End goes to the end");
	tline_release(&l);

	tline_init(&l, 40, 0);
	(void)tline_set(&l, "a@b.test, Kunde <k@x.test>  ");
	ok(tline_edit(&l, TL_KILL_WORD) == 1, "Ctrl-W changes the text");
	is_str(value(&l), "a@b.test, Kunde ",
	    "Ctrl-W deletes the word and the blanks after it");
	(void)tline_edit(&l, TL_KILL_WORD);
	is_str(value(&l), "a@b.test, ", "and the word before");
	(void)tline_edit(&l, TL_KILL_WORD);
	(void)tline_edit(&l, TL_KILL_WORD);
	is_str(value(&l), "", "down to nothing");
	ok(tline_edit(&l, TL_KILL_WORD) == 0, "where it changes nothing");
	tline_release(&l);
}

/* Long values: marks at the edges, half-field jumps. */
static void
test_scroll(void)
{
	struct tline l;
	struct tline_view v;
	size_t last_off = 0, jumps = 0, i;
	char text[64];
	int bad = 0;

	tline_init(&l, 10, 0);
	for (i = 0; i < 40; i++) {
		(void)tline_insert(&l, (wchar_t)('a' + i % 26));
		tline_view(&l, &v);
		if (v.col + 1 > l.width)
			bad++;
		if (l.off != last_off) {
			if (l.off - last_off < 5)
				bad++;
			jumps++;
			last_off = l.off;
		}
	}
	is_int(bad, 0,
	    "typing on keeps the cursor in the field, jumping half a field");
	is_int(jumps, 7,
	    "40 characters into 10 columns scroll 7 times, not 31");
	for (i = 0; i < 40; i++)
		text[i] = (char)('a' + i % 26);
	text[40] = '\0';
	is_str(value(&l), text, "the value is all that was typed");
	is_str(shown(&l), "<jklmn     ]",
	    "the end shows, the start is marked hidden");
	(void)tline_edit(&l, TL_HOME);
	is_str(shown(&l), "[abcdefghij>",
	    "Home shows the start, the end is marked hidden");
	for (i = 0; i < 10; i++)
		(void)tline_edit(&l, TL_RIGHT);
	is_int(l.off, 5, "Right at the right edge jumps half a field");
	is_str(shown(&l), "<fghijklmno>", "with marks at both edges");
	(void)tline_edit(&l, TL_END);
	is_str(shown(&l), "<fghijklmn ]",
	    "End shows as much as fits, the cursor last");
	is_int(col(&l), 9, "on the field's last column");
	tline_blur(&l);
	is_str(shown(&l), "[abcdefghij>",
	    "a field without the focus shows the start");
	(void)tline_edit(&l, TL_END);
	for (i = 0; i < 31; i++)
		(void)tline_edit(&l, TL_BACKSPACE);
	is_str(shown(&l), "[abcdefghi ]",
	    "deleting down to what fits shows it all");
	tline_resize(&l, 5);
	tline_view(&l, &v);
	ok(v.col < 5 && v.left, "a narrower field keeps the cursor in sight");
	tline_release(&l);
}

/* UTF-8 and wide characters. */
static void
test_wide(void)
{
	static const char subj[] = "Rechnung Nr. 7 für Sie – 5 € 請求書";
	struct tline l;
	int i;

	tline_init(&l, 60, 0);
	type(&l, subj);
	is_str(value(&l), subj, "a UTF-8 subject with CJK is kept as typed");
	is_int(col(&l), 35,
	    "the cursor stands after 32 characters in 35 columns");
	(void)tline_edit(&l, TL_LEFT);
	is_int(col(&l), 33, "Left over a wide character moves two columns");
	(void)tline_edit(&l, TL_BACKSPACE);
	is_str(value(&l), "Rechnung Nr. 7 für Sie – 5 € 請書",
	    "Backspace deletes a wide character whole");
	(void)tline_edit(&l, TL_HOME);
	for (i = 0; i < 16; i++)
		(void)tline_edit(&l, TL_RIGHT);
	(void)tline_edit(&l, TL_DELETE);
	is_str(value(&l), "Rechnung Nr. 7 fr Sie – 5 € 請書",
	    "Delete takes a two-byte character whole");
	tline_release(&l);

	/* A wide character that does not fit at the edge is not cut. */
	tline_init(&l, 5, 0);
	(void)tline_set(&l, "ab請求書");
	tline_blur(&l);
	is_str(shown(&l), "[ab請 >",
	    "a wide character that does not fit is hidden, and marked");
	(void)tline_edit(&l, TL_END);
	is_str(shown(&l), "<求書 ]", "the end shows whole characters");
	tline_release(&l);

	/* A combining mark goes with its letter. */
	tline_init(&l, 10, 0);
	(void)tline_set(&l, "Re\xcc\x81sume\xcc\x81");	/* e + U+0301 */
	is_int(col(&l), 6, "combining marks take no column");
	(void)tline_edit(&l, TL_BACKSPACE);
	is_str(value(&l), "Re\xcc\x81sum",
	    "Backspace deletes a letter with its mark");
	(void)tline_edit(&l, TL_HOME);
	(void)tline_edit(&l, TL_RIGHT);
	(void)tline_edit(&l, TL_RIGHT);
	is_int(l.cur, 3, "Right steps over the letter and its mark");
	tline_release(&l);

	/* Bytes that are no UTF-8 go out as they came in. */
	tline_init(&l, 10, 0);
	(void)tline_set(&l, "M\xfcller");
	is_str(value(&l), "M\xfcller", "an invalid byte is kept");
	is_str(shown(&l), "[M?ller    ]", "and shown as '?'");
	tline_release(&l);
}

static void
test_secret(void)
{
	struct tline l;

	tline_init(&l, 8, 1);
	type(&l, "pä請ss");
	is_str(shown(&l), "[*****   ]", "a password shows one '*' a character");
	is_str(value(&l), "pä請ss", "and keeps what was typed");
	type(&l, "word");
	is_str(shown(&l), "<*****   ]", "a long one scrolls like any value");
	tline_release(&l);
	ok(l.s == NULL && l.len == 0, "release frees the text");
}

/*
 * An offered value (the user name docmail fills in from Email): typing
 * replaces it rather than gluing to it ("anna@example.testanna").
 */
static void
test_pick(void)
{
	struct tline l;

	tline_init(&l, 30, 0);
	(void)tline_set(&l, "anna@example.test");
	tline_pick(&l);
	tline_blur(&l);
	tline_enter(&l);
	ok(l.picked && l.cur == l.len, "entering keeps the offer, cursor at the end");
	type(&l, "anna");
	is_str(value(&l), "anna", "typing replaces an offered value whole");
	ok(!l.picked, "and the offer is over");
	type(&l, "x");
	is_str(value(&l), "annax", "the next key types on");

	(void)tline_set(&l, "anna@example.test");
	tline_pick(&l);
	ok(tline_edit(&l, TL_BACKSPACE) == 1 && l.len == 0,
	    "Backspace clears an offered value");
	(void)tline_set(&l, "anna@example.test");
	tline_pick(&l);
	ok(tline_edit(&l, TL_LEFT) == 0 && !l.picked, "a move ends the offer");
	type(&l, "X");
	is_str(value(&l), "anna@example.tesXt", "and the text is kept, edited");
	tline_pick(&l);
	(void)tline_set(&l, "other");
	type(&l, "!");
	is_str(value(&l), "other!", "a value set anew is no offer");
	tline_release(&l);
	tline_init(&l, 30, 0);
	tline_pick(&l);
	ok(!l.picked, "nothing to offer when empty");
	tline_release(&l);
}

int
main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL &&
	    setlocale(LC_ALL, "en_US.UTF-8") == NULL) {
		printf("1..0 # SKIP no UTF-8 locale\n");
		return 0;
	}
	plan(68);
	test_port();
	test_moves();
	test_scroll();
	test_wide();
	test_secret();
	test_pick();
	return done_testing();
}
