/*
 * i18n.h - marking strings for translation (GNU gettext)
 *
 * _("text") translates where the string is used; N_("text") only marks
 * a string in a static table, which is translated with _() where it is
 * shown; ngettext(one, many, n) picks the plural form.  Without NLS
 * (configure --disable-nls) all three give the English text back.
 * Include after config.h, which says whether ENABLE_NLS is on.
 *
 * Translated: what people read (messages, hints, labels, questions).
 * Never translated: SMTP commands, headers and MIME, config keys,
 * command and option names, and output that scripts and tests parse.
 */
#ifndef DOCMAIL_I18N_H
#define DOCMAIL_I18N_H

#ifdef ENABLE_NLS
#include <libintl.h>
#define _(s)	gettext(s)
#else
#define _(s)	(s)
#define gettext(s)		(s)
#define ngettext(s, p, n)	((n) == 1 ? (s) : (p))
#define textdomain(d)		((void)(d))
#define bindtextdomain(d, dir)	((void)(d), (void)(dir))
#endif
#define N_(s)	(s)

/*
 * 1 when ch answers a yes/no question with yes: the English y or Y
 * always (scripts and habits keep working), and the translation's own
 * yes-letter ("j" in German) in either case.  Sets no error.
 */
int	dm_answer_yes(int ch);

/* The same for no: n or N, and the translation's no-letter. */
int	dm_answer_no(int ch);

/*
 * Columns text s in the locale's encoding takes on a terminal: wide
 * characters (CJK) count 2, combining marks 0, and a byte that is not
 * valid in the encoding or a character that cannot be printed counts 1
 * (the TUI shows either as '?').  Any length.  Sets no error.
 */
int	dm_text_width(const char *s);
/* The widest of n texts, by dm_text_width(): labels align by it. */
int	dm_text_widest(const char *const *v, size_t n);

#endif /* DOCMAIL_I18N_H */
