/*
 * tmpl.c - {{placeholder}} filling for subjects and bodies
 *
 * A placeholder starts at "{{" and ends at the first "}}" after it.  In a
 * run of more than two '{' only the last two open the placeholder, so
 * "{{{x}}}" gives "{" value "}": the extra braces are text, like a lone
 * '{' or '}' anywhere else.  A "{{" with no "}}" after it, or with
 * something other than a name between the braces, is an error rather
 * than text, so that a typo never reaches a customer unnoticed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/i18n.h>
#include <docmail/tmpl.h>

/* How much user text an error message quotes before cutting it. */
#define QUOTE_MAX	24

#define NAME_HINT	_("a name is 1 to %d letters, digits, '_', '-' or '.', starting with a letter, digit or '_'")

enum ph_kind {
	PH_NONE,		/* no "{{" left */
	PH_OK,
	PH_INVALID,		/* "{{" ... "}}" with no valid name inside */
	PH_UNTERMINATED		/* "{{" with no "}}" after it */
};

struct ph {
	size_t	 start;		/* offset of "{{" */
	size_t	 end;		/* offset just past "}}" */
	size_t	 name;		/* offset of the name */
	size_t	 namelen;
};

void
dm_vars_init(struct dm_vars *vars)
{
	vars->v = NULL;
	vars->n = 0;
	vars->cap = 0;
}

void
dm_vars_release(struct dm_vars *vars)
{
	size_t i;

	for (i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		free(vars->v[i].value);
		free(vars->v[i].source);
	}
	free(vars->v);
	dm_vars_init(vars);
}

static int
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Plain ASCII tests: names must not depend on the locale. */
static int
name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DM_VAR_NAME_MAX || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int
dm_tmpl_name_valid(const char *name)
{
	if (name == NULL)
		return 0;
	/* strnlen: an overlong name is rejected without reading all of it. */
	return name_valid(name, strnlen(name, DM_VAR_NAME_MAX + 1));
}

const struct dm_var *
dm_vars_find(const struct dm_vars *vars, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < vars->n; i++)
		if (strcmp(vars->v[i].name, name) == 0)
			return &vars->v[i];
	return NULL;
}

const char *
dm_vars_get(const struct dm_vars *vars, const char *name)
{
	const struct dm_var *v;

	if ((v = dm_vars_find(vars, name)) == NULL)
		return NULL;
	return v->value;
}

int
dm_vars_add(struct dm_vars *vars, const char *name, const char *value,
    const char *source, struct dm_err *err)
{
	struct dm_var *nv, *v;
	char q[4 * QUOTE_MAX + 8];
	size_t ncap;

	if (name == NULL || value == NULL)
		return dm_err_set(err, DM_EINTERNAL,
		    _("placeholder name or value missing"));
	if (!dm_tmpl_name_valid(name)) {
		(void)dm_quote(q, sizeof q, name, strlen(name), QUOTE_MAX);
		dm_err_set(err, DM_EDATA, _("invalid placeholder name '%s'"), q);
		return dm_err_hint(err, NAME_HINT, DM_VAR_NAME_MAX);
	}
	if (strnlen(value, DM_VAR_VALUE_MAX + 1) > DM_VAR_VALUE_MAX) {
		dm_err_set(err, DM_EDATA,
		    _("value of '%s' too long (more than %u bytes)"), name,
		    DM_VAR_VALUE_MAX);
		return dm_err_hint(err,
		    _("put long text into the template body instead"));
	}
	if (dm_vars_find(vars, name) != NULL)
		return 0;

	if (vars->n == vars->cap) {
		if (vars->cap > SIZE_MAX / 2 / sizeof *nv)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		ncap = vars->cap == 0 ? 8 : vars->cap * 2;
		if ((nv = realloc(vars->v, ncap * sizeof *nv)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		vars->v = nv;
		vars->cap = ncap;
	}
	v = &vars->v[vars->n];
	v->name = strdup(name);
	v->value = strdup(value);
	v->source = source == NULL ? NULL : strdup(source);
	if (v->name == NULL || v->value == NULL ||
	    (source != NULL && v->source == NULL)) {
		free(v->name);
		free(v->value);
		free(v->source);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	vars->n++;
	return 1;
}

int
dm_vars_add_assignment(struct dm_vars *vars, const char *arg,
    struct dm_err *err)
{
	char name[DM_VAR_NAME_MAX + 1], q[4 * QUOTE_MAX + 8];
	const char *eq;
	size_t n;

	if (arg == NULL)
		return dm_err_set(err, DM_EINTERNAL, _("--set argument missing"));
	if ((eq = strchr(arg, '=')) == NULL) {
		(void)dm_quote(q, sizeof q, arg, strlen(arg), QUOTE_MAX);
		dm_err_set(err, DM_EUSAGE,
		    _("invalid --set '%s': expected KEY=VALUE"), q);
		return dm_err_hint(err, _("write it as --set number=2024-001"));
	}
	n = (size_t)(eq - arg);
	if (!name_valid(arg, n)) {
		(void)dm_quote(q, sizeof q, arg, strlen(arg), QUOTE_MAX);
		dm_err_set(err, DM_EUSAGE,
		    _("invalid --set '%s': bad placeholder name"), q);
		return dm_err_hint(err, NAME_HINT, DM_VAR_NAME_MAX);
	}
	/* name_valid() bounds n by DM_VAR_NAME_MAX, so this fits. */
	memcpy(name, arg, n);
	name[n] = '\0';
	return dm_vars_add(vars, name, eq + 1, "--set", err);
}

/*
 * Finds the next placeholder in s at or after offset i.  Fills *ph for
 * PH_OK and PH_INVALID; for PH_UNTERMINATED only ph->start is set.
 */
static enum ph_kind
next_ph(const char *s, size_t i, struct ph *ph)
{
	const char *p, *q, *a, *b;

	if ((p = strstr(s + i, "{{")) == NULL)
		return PH_NONE;
	while (p[2] == '{')
		p++;
	ph->start = (size_t)(p - s);
	if ((q = strstr(p + 2, "}}")) == NULL)
		return PH_UNTERMINATED;
	ph->end = (size_t)(q - s) + 2;
	for (a = p + 2; a < q && (*a == ' ' || *a == '\t'); a++)
		;
	for (b = q; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
		;
	ph->name = (size_t)(a - s);
	ph->namelen = (size_t)(b - a);
	return name_valid(a, ph->namelen) ? PH_OK : PH_INVALID;
}

int
dm_tmpl_expand(const char *tmpl, const struct dm_vars *vars,
    const char *what, struct dm_buf *out, struct dm_err *err)
{
	char name[DM_VAR_NAME_MAX + 1], q[4 * QUOTE_MAX + 8];
	const char *value;
	size_t i = 0, start = out->len;
	struct ph ph;
	enum ph_kind k;

	if (what == NULL)
		what = _("template");
	for (;;) {
		k = next_ph(tmpl, i, &ph);
		if (k == PH_NONE)
			break;
		if (k == PH_UNTERMINATED) {
			(void)dm_quote(q, sizeof q, tmpl + ph.start,
			    strlen(tmpl + ph.start), QUOTE_MAX);
			dm_err_set(err, DM_EDATA,
			    _("unterminated placeholder in %s starting at '%s'"),
			    what, q);
			dm_err_hint(err, _("close it with '}}'"));
			goto fail;
		}
		if (k == PH_INVALID) {
			(void)dm_quote(q, sizeof q, tmpl + ph.start,
			    ph.end - ph.start, QUOTE_MAX);
			dm_err_set(err, DM_EDATA,
			    _("invalid placeholder '%s' in %s"), q, what);
			dm_err_hint(err, NAME_HINT, DM_VAR_NAME_MAX);
			goto fail;
		}
		memcpy(name, tmpl + ph.name, ph.namelen);
		name[ph.namelen] = '\0';
		if ((value = dm_vars_get(vars, name)) == NULL) {
			dm_err_set(err, DM_EDATA,
			    _("unresolved placeholder '{{%s}}' in %s"),
			    name, what);
			dm_err_hint(err,
			    _("give it with --set %s=VALUE, in the [document] section of the document's sidecar FILE.ini, or use sender.name / sender.email from the profile"), name);
			goto fail;
		}
		/* The value goes in as it is: it is never expanded again. */
		if (dm_buf_add(out, tmpl + i, ph.start - i, err) == -1 ||
		    dm_buf_addstr(out, value, err) == -1)
			goto fail;
		i = ph.end;
	}
	if (dm_buf_addstr(out, tmpl + i, err) == -1)
		goto fail;
	return 0;

fail:
	/* Leave out as it was: half a subject must not be used by mistake. */
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

int
dm_tmpl_each(const char *tmpl,
    int (*fn)(const char *name, size_t off, size_t len, void *), void *arg)
{
	char name[DM_VAR_NAME_MAX + 1];
	size_t i = 0;
	struct ph ph;
	enum ph_kind k;
	int r;

	while ((k = next_ph(tmpl, i, &ph)) != PH_NONE) {
		/* Nothing after an unterminated "{{" can be closed. */
		if (k == PH_UNTERMINATED)
			break;
		i = ph.end;
		if (k == PH_INVALID)
			continue;
		memcpy(name, tmpl + ph.name, ph.namelen);
		name[ph.namelen] = '\0';
		if ((r = fn(name, ph.start, ph.end - ph.start, arg)) != 0)
			return r;
	}
	return 0;
}

/* --- filling what is known -------------------------------------------- */

struct fill {
	const char		*src;
	size_t			 at;
	const struct dm_vars	*vars;
	struct dm_buf		*out;
	struct dm_err		*err;
	int			 failed;
};

static int
fill_one(const char *name, size_t off, size_t len, void *arg)
{
	struct fill *f = arg;
	const char *v = dm_vars_get(f->vars, name);

	if (v == NULL)
		return 0;	/* stays {{name}}, for the caller to show */
	if (dm_buf_add(f->out, f->src + f->at, off - f->at, f->err) == -1 ||
	    dm_buf_addstr(f->out, v, f->err) == -1) {
		f->failed = 1;
		return 1;
	}
	f->at = off + len;
	return 0;
}

char *
dm_tmpl_fill_known(const char *tmpl, const struct dm_vars *vars)
{
	struct dm_buf b;
	struct dm_err err;
	struct fill f = { tmpl, 0, vars, &b, &err, 0 };

	dm_buf_init(&b, 0);
	(void)dm_tmpl_each(tmpl, fill_one, &f);
	if (f.failed || dm_buf_addstr(&b, tmpl + f.at, &err) == -1) {
		dm_buf_release(&b);
		return strdup(tmpl);
	}
	return dm_buf_detach(&b);
}
