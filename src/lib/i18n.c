/*
 * i18n.c - what translation needs beyond marking strings
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>

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
