/*
 * i18n.c - what translation needs beyond marking strings
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <wchar.h>

#include <docmail/i18n.h>

/* 1 when ch is the one ASCII letter of s, in either case. */
static int
is_letter(int ch, const char *s)
{
	if (s[0] == '\0' || s[1] != '\0' || ch < 0 || ch > 127)
		return 0;
	return ch == tolower((unsigned char)s[0]) ||
	    ch == toupper((unsigned char)s[0]);
}

int
dm_answer_yes(int ch)
{
	/*
	 * TRANSLATORS: the letter that answers "yes" to the questions
	 * that end in "(y/n)" or "[y/N]"; one ASCII letter, lower case
	 * (German: j).  y is accepted as well, whatever you choose, so
	 * the letter for "no" must not be y.
	 */
	return ch == 'y' || ch == 'Y' || is_letter(ch, _("y"));
}

int
dm_answer_no(int ch)
{
	/*
	 * TRANSLATORS: the letter that answers "no" to the questions that
	 * end in "(y/n)"; one ASCII letter, lower case, not y.  n is
	 * accepted as well.
	 */
	return ch == 'n' || ch == 'N' || is_letter(ch, _("n"));
}

int
dm_text_width(const char *s)
{
	mbstate_t st;
	size_t len = strlen(s), r;
	wchar_t wc;
	int w = 0, cw;

	memset(&st, 0, sizeof st);
	while (len > 0 && w < INT_MAX - 2) {
		r = mbrtowc(&wc, s, len, &st);
		if (r == 0)
			break;
		if (r == (size_t)-1 || r == (size_t)-2) {
			/* One '?' a byte, and a fresh start after it. */
			memset(&st, 0, sizeof st);
			r = 1;
			cw = 1;
		} else if ((cw = wcwidth(wc)) < 0)
			cw = 1;
		w += cw;
		s += r;
		len -= r;
	}
	return w;
}

int
dm_text_widest(const char *const *v, size_t n)
{
	size_t i;
	int w = 0, k;

	for (i = 0; i < n; i++)
		if ((k = dm_text_width(v[i])) > w)
			w = k;
	return w;
}
