/*
 * sidecar.c - a document's data: the [document] section of FILE.pdf.ini
 * (or FILE.ini) beside it
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/file.h>
#include <docmail/i18n.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/tmpl.h>

#include "profile-int.h"
/*
 * Sidecars: the [document] section next to a document.
 */

struct sentry {
	char	*name;
	char	*value;
	int	 line;
};

struct sstate {
	struct src	 src;
	int		 in_doc;
	int		 doc_line;
	struct sentry	*v;
	size_t		 n;
	char		*template;
	int		 template_line;
	int		 last;	/* entry a continuation extends */
};

static int
sidecar_section(void *arg, const char *s, size_t n)
{
	struct sstate *st = arg;
	size_t i = 0;

	while (i < n && pf_is_ws((unsigned char)s[i]))
		i++;
	while (n > i && pf_is_ws((unsigned char)s[n - 1]))
		n--;
	st->last = -1;
	if (n - i != 8 || memcmp(s + i, "document", 8) != 0) {
		pf_src_err(&st->src, DM_EDATA, _("unknown section '[%.*s]'"),
		    (int)(n - i), s + i);
		return dm_err_hint(st->src.err, _("a sidecar holds one [document] section of 'key = value' lines"));
	}
	if (st->doc_line != 0) {
		pf_src_err(&st->src, DM_EDATA, _("duplicate section '[document]' (first at line %d)"),
		    st->doc_line);
		return dm_err_hint(st->src.err, _("merge the two sections"));
	}
	st->doc_line = st->src.lineno;
	st->in_doc = 1;
	return 0;
}

static int
sidecar_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct sstate *st = user;
	struct src *src = &st->src;
	struct dm_buf b;
	struct sentry *e;
	size_t i;
	void *p;

	(void)section;
	if (src->failed)
		return 0;
	if (src->lp.kind == L_CONT) {
		if (st->last == -1) {
			pf_src_err(src, DM_EDATA, _("indented line continues '%s', which cannot go on over several lines"),
			    name);
			dm_err_hint(src->err, _("remove the indentation"));
			goto fail;
		}
		e = &st->v[st->last];
		dm_buf_init(&b, 0);
		if (dm_buf_addstr(&b, e->value, src->err) == -1 ||
		    (*e->value != '\0' &&
		    dm_buf_addc(&b, '\n', src->err) == -1) ||
		    dm_buf_addstr(&b, value, src->err) == -1) {
			dm_buf_release(&b);
			goto fail;
		}
		free(e->value);
		if ((e->value = dm_buf_detach(&b)) == NULL) {
			dm_err_set(src->err, DM_ENOMEM, _("out of memory"));
			goto fail;
		}
		return 1;
	}
	if (!st->in_doc) {
		pf_src_err(src, DM_EDATA, _("key '%s' is outside the [document] section"),
		    name);
		dm_err_hint(src->err, _("put a line '[document]' above the keys"));
		goto fail;
	}
	st->last = -1;
	if (strcmp(name, "template") == 0) {
		if (st->template_line != 0) {
			pf_src_err(src, DM_EDATA, _("duplicate key 'template' (first at line %d)"),
			    st->template_line);
			dm_err_hint(src->err, _("remove one of lines %d and %d"),
			    st->template_line, src->lineno);
			goto fail;
		}
		if (!pf_id_valid(value, strlen(value))) {
			pf_src_err(src, DM_EDATA, _("invalid template name '%s'"),
			    value);
			dm_err_hint(src->err, _("name a [template NAME] section of the config file"));
			goto fail;
		}
		st->template_line = src->lineno;
		if ((st->template = dm_strdup(value, src->err)) == NULL)
			goto fail;
		return 1;
	}
	if (!dm_tmpl_name_valid(name)) {
		pf_src_err(src, DM_EDATA, _("invalid placeholder name '%s'"), name);
		dm_err_hint(src->err, _("a name is letters, digits, '_', '-' and '.'"));
		goto fail;
	}
	for (i = 0; i < st->n; i++)
		if (strcmp(st->v[i].name, name) == 0) {
			pf_src_err(src, DM_EDATA, _("duplicate key '%s' (first at line %d)"),
			    name, st->v[i].line);
			dm_err_hint(src->err, _("remove one of lines %d and %d"),
			    st->v[i].line, src->lineno);
			goto fail;
		}
	if ((p = reallocarray(st->v, st->n + 1, sizeof *st->v)) == NULL) {
		dm_err_set(src->err, DM_ENOMEM, _("out of memory"));
		goto fail;
	}
	st->v = p;
	e = &st->v[st->n];
	e->line = src->lineno;
	e->value = NULL;
	if ((e->name = dm_strdup(name, src->err)) == NULL)
		goto fail;
	st->n++;
	if ((e->value = dm_strdup(value, src->err)) == NULL)
		goto fail;
	st->last = (int)(st->n - 1);
	return 1;
fail:
	src->failed = 1;
	return 0;
}

/* Opens the sidecar of docpath; *fp NULL when there is none. */
static int
sidecar_open(const char *docpath, FILE **fp, char **pathp,
    struct dm_err *err)
{
	const char *base, *dot;
	struct dm_buf b;
	struct stat sb;
	char *cand[2] = { NULL, NULL };
	int i, e, r = -1;

	*fp = NULL;
	*pathp = NULL;
	dm_buf_init(&b, 0);
	if (dm_buf_addf(&b, err, "%s.ini", docpath) == -1)
		goto out;
	if ((cand[0] = dm_buf_detach(&b)) == NULL)
		goto nomem;
	base = strrchr(docpath, '/');
	base = base != NULL ? base + 1 : docpath;
	/* "invoice.pdf" -> "invoice.ini"; not ".x", nor "x.ini" itself. */
	if ((dot = strrchr(base, '.')) != NULL && dot > base &&
	    strcmp(dot, ".ini") != 0) {
		if (dm_buf_addf(&b, err, "%.*s.ini", (int)(dot - docpath),
		    docpath) == -1)
			goto out;
		if ((cand[1] = dm_buf_detach(&b)) == NULL)
			goto nomem;
	}
	for (i = 0; i < 2 && cand[i] != NULL; i++) {
		if ((*fp = fopen(cand[i], "re")) == NULL) {
			/* A document whose name fills NAME_MAX has no x.pdf.ini. */
			if (errno == ENOENT || errno == ENAMETOOLONG)
				continue;
			dm_err_set(err, DM_EDATA, _("cannot read sidecar '%s': %s"),
			    cand[i], strerror(errno));
			goto out;
		}
		if (fstat(fileno(*fp), &sb) == -1)
			e = errno;
		else
			e = S_ISDIR(sb.st_mode) ? EISDIR : 0;
		if (e != 0) {
			dm_err_set(err, DM_EDATA, _("cannot read sidecar '%s': %s"),
			    cand[i], strerror(e));
			fclose(*fp);
			*fp = NULL;
			goto out;
		}
		*pathp = cand[i];
		cand[i] = NULL;
		break;
	}
	r = 0;
	goto out;
nomem:
	dm_err_set(err, DM_ENOMEM, _("out of memory"));
out:
	free(cand[0]);
	free(cand[1]);
	dm_buf_release(&b);
	return r;
}

int
dm_sidecar_load(const char *docpath, struct dm_vars *vars, char **template,
    char **sidecar_path, struct dm_err *err)
{
	struct sstate st;
	char src_name[PATH_MAX + 16];
	char *path = NULL;
	FILE *fp = NULL;
	size_t i;
	int r = -1;

	*template = NULL;
	if (sidecar_path != NULL)
		*sidecar_path = NULL;
	memset(&st, 0, sizeof st);
	st.last = -1;
	if (sidecar_open(docpath, &fp, &path, err) == -1)
		goto out;
	if (fp == NULL) {
		r = 0;
		goto out;
	}
	st.src.fp = fp;
	st.src.path = path;
	st.src.code = DM_EDATA;
	st.src.err = err;
	st.src.section = sidecar_section;
	st.src.arg = &st;
	if (pf_parse(&st.src, sidecar_handler, &st) == -1)
		goto out;
	for (i = 0; i < st.n; i++) {
		if (snprintf(src_name, sizeof src_name, "%s:%d", path,
		    st.v[i].line) >= (int)sizeof src_name) {
			dm_err_set(err, DM_EDATA, _("sidecar path too long: '%s'"),
			    DM_ERR_PATH(path));
			goto out;
		}
		if (dm_vars_add(vars, st.v[i].name, st.v[i].value, src_name,
		    err) == -1) {
			if (err != NULL && err->code != DM_ENOMEM)
				dm_err_prefix(err, "%s", src_name);
			goto out;
		}
	}
	*template = st.template;
	st.template = NULL;
	if (sidecar_path != NULL) {
		*sidecar_path = path;
		path = NULL;
	}
	r = 0;
out:
	if (fp != NULL)
		fclose(fp);
	for (i = 0; i < st.n; i++) {
		free(st.v[i].name);
		free(st.v[i].value);
	}
	free(st.v);
	free(st.template);
	free(path);
	return r;
}
