/*
 * pathprompt.c - a file path typed in the status line (see pathprompt.h)
 *
 * Moved out of scr-send.c, which keeps the keys and the painting, so
 * that completion can be tested without a terminal.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <docmail/i18n.h>

#include "pathprompt.h"

static void
note(struct pathprompt *pp, int is_err, const char *s)
{
	(void)snprintf(pp->note, sizeof pp->note, "%s", s);
	pp->note_err = is_err;
}

void
pathprompt_start(struct pathprompt *pp)
{
	pp->ntyped = 0;
	pp->typed[0] = L'\0';
	note(pp, 0, _("type a path; Tab completes, Enter attaches, Esc cancels"));
}

int
pathprompt_type(struct pathprompt *pp, wint_t ch)
{
	if (ch < 0x20 || ch == 0x7f || pp->ntyped + 1 >= PATHPROMPT_MAX)
		return 0;
	pp->typed[pp->ntyped++] = (wchar_t)ch;
	pp->typed[pp->ntyped] = L'\0';
	pp->note[0] = '\0';
	return 1;
}

void
pathprompt_backspace(struct pathprompt *pp)
{
	if (pp->ntyped > 0)
		pp->typed[--pp->ntyped] = L'\0';
}

void
pathprompt_fail(struct pathprompt *pp, const struct dm_err *err)
{
	(void)snprintf(pp->note, sizeof pp->note, "%s%s%s", err->msg,
	    err->hint[0] != '\0' ? " -- " : "", err->hint);
	pp->note_err = 1;
}

/* The typed text in the locale's encoding; malloc'd. */
static char *
typed_mb(const struct pathprompt *pp)
{
	char *u;
	size_t n;

	if ((n = wcstombs(NULL, pp->typed, 0)) == (size_t)-1 ||
	    (u = malloc(n + 1)) == NULL)
		return NULL;
	(void)wcstombs(u, pp->typed, n + 1);
	return u;
}

/* "~/x" as the user means it; malloc'd. */
static char *
expand_home(const char *p)
{
	const char *home = getenv("HOME");
	char *r;
	size_t n;

	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0') && home != NULL)
		p++;
	else
		home = "";
	n = strlen(home) + strlen(p) + 1;
	if ((r = malloc(n)) == NULL)
		return NULL;
	(void)snprintf(r, n, "%s%s", home, p);
	return r;
}

char *
pathprompt_path(const struct pathprompt *pp)
{
	char *u, *path;

	if (pp->ntyped == 0 || (u = typed_mb(pp)) == NULL)
		return NULL;
	path = expand_home(u);
	free(u);
	return path;
}

static void
append(struct pathprompt *pp, const char *mb)
{
	wchar_t w[PATHPROMPT_MAX];
	size_t n;

	if ((n = mbstowcs(w, mb, PATHPROMPT_MAX - 1)) == (size_t)-1 ||
	    pp->ntyped + n >= PATHPROMPT_MAX)
		return;
	wmemcpy(pp->typed + pp->ntyped, w, n);
	pp->ntyped += n;
	pp->typed[pp->ntyped] = L'\0';
}

/*
 * Cuts s after its last whole character: names that agree on the first
 * byte of a character only ("\xc3\xa4" and "\xc3\xb6") share no
 * character, and half of one would make the whole completion fail.
 */
static void
whole_chars(char *s)
{
	mbstate_t st;
	size_t n = strlen(s), k = 0, r;

	memset(&st, 0, sizeof st);
	while (k < n && (r = mbrlen(s + k, n - k, &st)) != (size_t)-1 &&
	    r != (size_t)-2 && r != 0)
		k += r;
	s[k] = '\0';
}

void
pathprompt_complete(struct pathprompt *pp)
{
	char *typed, *dir = NULL, *full, *slash, common[256] = "", *m;
	const char *prefix;
	struct dirent *de;
	struct stat st;
	size_t plen, k, nm = 0, mlen = sizeof pp->note;
	DIR *d;
	int count = 0;

	note(pp, 0, "");
	if ((typed = typed_mb(pp)) == NULL) {
		note(pp, 1, _("out of memory"));
		return;
	}
	slash = strrchr(typed, '/');
	prefix = slash != NULL ? slash + 1 : typed;
	if (slash != NULL) {
		*slash = '\0';
		dir = expand_home(typed[0] == '\0' ? "/" : typed);
		*slash = '/';
	} else
		dir = expand_home(".");
	if (dir == NULL) {
		note(pp, 1, _("out of memory"));
		goto out;
	}
	if ((d = opendir(dir)) == NULL) {
		note(pp, 1, _("no such directory"));
		goto out;
	}
	plen = strlen(prefix);
	m = pp->note;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.' && prefix[0] != '.')
			continue;
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (count++ == 0)
			(void)snprintf(common, sizeof common, "%s", de->d_name);
		else {
			for (k = 0; common[k] != '\0' &&
			    common[k] == de->d_name[k]; k++)
				;
			common[k] = '\0';
		}
		if (nm + strlen(de->d_name) + 3 < mlen) {
			nm += (size_t)snprintf(m + nm, mlen - nm, "%s%s",
			    nm > 0 ? "  " : "", de->d_name);
		}
	}
	closedir(d);
	if (count == 0) {
		(void)snprintf(pp->note, sizeof pp->note,
		    _("no file starts with '%s'"), prefix);
		pp->note_err = 1;
		goto out;
	}
	whole_chars(common);
	if (strlen(common) > plen)
		append(pp, common + plen);
	if (count == 1) {
		pp->note[0] = '\0';
		if ((full = pathprompt_path(pp)) != NULL) {
			if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
				append(pp, "/");
			free(full);
		}
	}
out:
	free(dir);
	free(typed);
}

int
pathprompt_view(const struct pathprompt *pp, int room, const wchar_t **tail,
    int *cut)
{
	const wchar_t *p = pp->typed;
	int w = 0, cw;
	size_t i;

	for (i = 0; i < pp->ntyped; i++)
		w += (cw = wcwidth(pp->typed[i])) >= 0 ? cw : 1;
	*cut = w > room;
	/* The end of a long path, where the typing happens. */
	if (*cut) {
		w += 3;
		while (w > room && *p != L'\0') {
			w -= (cw = wcwidth(*p)) >= 0 ? cw : 1;
			p++;
		}
	}
	*tail = p;
	return w;
}
