/*
 * i18n.c - what translation needs beyond marking strings
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>

#include <docmail/i18n.h>

int
dm_answer_yes(int ch)
{
	const char *yes;

	if (ch == 'y' || ch == 'Y')
		return 1;
	/*
	 * TRANSLATORS: the letter that answers "yes" to the questions
	 * that end in "(y/n)" or "[y/N]"; one ASCII letter, lower case
	 * (German: j).  y is accepted as well, whatever you choose.
	 */
	yes = _("y");
	if (yes[0] == '\0' || yes[1] != '\0' || ch < 0 || ch > 127)
		return 0;
	return ch == tolower((unsigned char)yes[0]) ||
	    ch == toupper((unsigned char)yes[0]);
}
