/*
 * t-i18n.c - tests for translation: the y/n answer keys in English and
 * in a translation, and that a catalogue is found and used at all
 *
 * The catalogue is written here, in the binary .mo format, so that the
 * test needs no msgfmt and no installed locale: C.UTF-8 with LANGUAGE
 * set makes GNU gettext look for LANGUAGE's catalogue.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <docmail/i18n.h>

#include "tap.h"

/* Original and translation, sorted by original (gettext searches). */
static const char *const cat[][2] = {
	{ "", "Content-Type: text/plain; charset=UTF-8\n" },
	{ "n", "k" },
	{ "unknown error", "unbekannter Fehler" },
	{ "y", "j" },
};
#define NCAT	(sizeof cat / sizeof cat[0])

/* Writes cat as dir/xx/LC_MESSAGES/PACKAGE.mo.  Returns 0 or -1. */
static int
write_mo(const char *dir)
{
	char path[4096];
	uint32_t head[7], tab[2 * NCAT], off;
	FILE *fp;
	size_t i, k;

	(void)snprintf(path, sizeof path, "%s/xx", dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	(void)snprintf(path, sizeof path, "%s/xx/LC_MESSAGES", dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	(void)snprintf(path, sizeof path, "%s/xx/LC_MESSAGES/%s.mo", dir,
	    PACKAGE);
	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	head[0] = 0x950412de;		/* magic */
	head[1] = 0;			/* revision */
	head[2] = NCAT;
	head[3] = sizeof head;		/* the originals' table */
	head[4] = sizeof head + sizeof tab;	/* the translations' table */
	head[5] = 0;			/* no hash table */
	head[6] = 0;
	(void)fwrite(head, sizeof head, 1, fp);
	off = sizeof head + 2 * sizeof tab;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < NCAT; i++) {
			tab[2 * i] = (uint32_t)strlen(cat[i][k]);
			tab[2 * i + 1] = off;
			off += tab[2 * i] + 1;
		}
		(void)fwrite(tab, sizeof tab, 1, fp);
	}
	for (k = 0; k < 2; k++)
		for (i = 0; i < NCAT; i++)
			(void)fwrite(cat[i][k], strlen(cat[i][k]) + 1, 1, fp);
	return fclose(fp) == 0 ? 0 : -1;
}

static void
test_width(void)
{
	char big[2000];

	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) {
		diag("no C.UTF-8 locale: the widths fail");
		return;
	}
	is_int(dm_text_width(""), 0, "width: empty");
	is_int(dm_text_width("Subject"), 7, "width: ASCII");
	is_int(dm_text_width("Gr\xc3\xbc\xc3\x9f""e"), 5,
	    "width: umlauts are one column each");
	is_int(dm_text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4,
	    "width: CJK takes two");
	is_int(dm_text_width("e\xcc\x81"), 1, "width: a combining mark none");
	is_int(dm_text_width("a\xff" "b\xe6\x97"), 5,
	    "width: an invalid byte one, each byte of a cut sequence one");
	is_int(dm_text_width("\xe6\x97\xa5\x01"), 3,
	    "width: a control character one, the rest still measured");
	/* The two copies this replaces stopped at 255 and 511 characters. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	is_int(dm_text_width(big), (int)sizeof big - 1,
	    "width: a long text whole");
	{
		const char *v[] = { "To:", "Betreff:", "\xe6\x97\xa5\xe6\x9c\xac:" };

		is_int(dm_text_widest(v, 3), 8, "widest: the widest by columns");
		is_int(dm_text_widest(v, 0), 0, "widest: none is 0");
	}
	(void)setlocale(LC_CTYPE, "C");
	is_int(dm_text_width("\xc3\xbc"), 2,
	    "width: in the C locale a byte is a column");
}

int
main(void)
{
	char dir[] = "/tmp/t-i18n.XXXXXX";
	char path[4096];
	int i;

	plan(23);

	/* English: the msgids themselves. */
	ok(dm_answer_yes('y') && dm_answer_yes('Y'), "y and Y answer yes");
	ok(dm_answer_no('n') && dm_answer_no('N'), "n and N answer no");
	ok(!dm_answer_yes('n') && !dm_answer_no('y'), "and not the other way");
	ok(!dm_answer_yes('j') && !dm_answer_yes(-1) && !dm_answer_yes(0x1e9e),
	    "j, -1 and a wide character answer nothing");

#ifdef ENABLE_NLS
	if (mkdtemp(dir) == NULL || write_mo(dir) == -1) {
		diag("cannot write the catalogue under %s", dir);
		return 1;
	}
	(void)setenv("LANGUAGE", "xx", 1);
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		diag("no C.UTF-8 locale: the translated half fails");
	(void)bindtextdomain(PACKAGE, dir);
	(void)textdomain(PACKAGE);
	is_str(_("unknown error"), "unbekannter Fehler",
	    "the catalogue is found and used");
	ok(dm_answer_yes('j'), "the translation's yes-letter answers yes");
	ok(dm_answer_yes('J'), "in upper case too");
	ok(dm_answer_yes('y') && dm_answer_yes('Y'), "y still answers yes");
	ok(dm_answer_no('k') && dm_answer_no('K'),
	    "the translation's no-letter answers no");
	ok(dm_answer_no('n'), "n still answers no");
	ok(!dm_answer_yes('k') && !dm_answer_no('j'), "and not the other way");
	is_str(ngettext("%zu document", "%zu documents", 2), "%zu documents",
	    "an untranslated plural stays English");
	(void)snprintf(path, sizeof path, "%s/xx/LC_MESSAGES/%s.mo", dir,
	    PACKAGE);
	(void)unlink(path);
	(void)snprintf(path, sizeof path, "%s/xx/LC_MESSAGES", dir);
	(void)rmdir(path);
	(void)snprintf(path, sizeof path, "%s/xx", dir);
	(void)rmdir(path);
	(void)rmdir(dir);
	(void)i;
#else
	(void)dir;
	(void)path;
	for (i = 0; i < 8; i++)
		ok(1, "# SKIP built with --disable-nls");
#endif
	test_width();
	return done_testing();
}
