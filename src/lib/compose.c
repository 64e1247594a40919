/*
 * compose.c - apply docmail's rules to turn options into a message
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <docmail/compose.h>
#include <docmail/i18n.h>

void
dm_compose_init(struct dm_compose *c)
{
	memset(c, 0, sizeof *c);
	dm_addrlist_init(&c->to);
	dm_addrlist_init(&c->cc);
	dm_addrlist_init(&c->bcc);
	dm_addrlist_init(&c->reply_to);
	dm_addrlist_init(&c->rcpt);
}

void
dm_compose_release(struct dm_compose *c)
{
	dm_mime_free(c->mime);
	free(c->sender);
	dm_addr_release(&c->from);
	dm_addrlist_release(&c->to);
	dm_addrlist_release(&c->cc);
	dm_addrlist_release(&c->bcc);
	dm_addrlist_release(&c->reply_to);
	dm_addrlist_release(&c->rcpt);
	free(c->subject);
	free(c->body);
	free(c->template_id);
	free(c->documents);
	dm_compose_init(c);
}

/* Parses an option's address list; what names the option in messages. */
static int
parse_opt(struct dm_addrlist *l, const char *s, const char *what,
    struct dm_err *err)
{
	if (s == NULL)
		return 0;
	if (dm_addr_parse_list(l, s, err) == -1)
		return dm_err_prefix(err, "%s", what);
	/* Given but empty: the user meant to name someone. */
	return dm_addr_require_nonempty(l, what, err);
}

static int
add_all(struct dm_addrlist *dst, const struct dm_addrlist *src,
    struct dm_err *err)
{
	size_t i;

	for (i = 0; i < src->n; i++) {
		if (dm_addrlist_contains(dst, src->v[i].mailbox))
			continue;
		if (dst->n == dst->cap) {
			size_t ncap = dst->cap == 0 ? 8 : dst->cap * 2;
			struct dm_addr *v;

			v = realloc(dst->v, ncap * sizeof *v);
			if (v == NULL)
				return dm_err_set(err, DM_ENOMEM,
				    _("out of memory"));
			dst->v = v;
			dst->cap = ncap;
		}
		if (dm_addr_copy(&dst->v[dst->n], &src->v[i], err) == -1)
			return -1;
		dst->n++;
	}
	return 0;
}

static int
set_from(struct dm_compose *c, const struct dm_profile *p,
    const struct dm_compose_opts *o, struct dm_err *err)
{
	struct dm_addr given = { NULL, NULL };
	int r = -1;

	if ((c->sender = dm_strdup(p->email, err)) == NULL)
		return -1;
	if (o->reply_to != NULL &&
	    parse_opt(&c->reply_to, o->reply_to, "--reply-to", err) == -1)
		return -1;
	if (o->from != NULL && o->from[0] != '\0') {
		if (dm_addr_parse_one(&given, o->from, err) == -1)
			return dm_err_prefix(err, "--from");
		if (p->allow_from_override) {
			c->from = given;
			given.name = given.mailbox = NULL;
			c->from_foreign = strcasecmp(
			    dm_addr_domain(c->from.mailbox),
			    dm_addr_domain(p->email)) != 0;
			return 0;
		}
		/*
		 * The profile forbids other From addresses (DMARC would fail
		 * them); replies still reach the address the user typed.
		 */
		if (!dm_addrlist_contains(&c->reply_to, given.mailbox)) {
			struct dm_addrlist one = { &given, 1, 1 };

			if (add_all(&c->reply_to, &one, err) == -1)
				goto out;
		}
		c->from_moved = 1;
	}
	if ((c->from.mailbox = dm_strdup(p->email, err)) == NULL)
		goto out;
	if (p->name != NULL && p->name[0] != '\0' &&
	    (c->from.name = dm_strdup(p->name, err)) == NULL)
		goto out;
	r = 0;
out:
	dm_addr_release(&given);
	return r;
}

/*
 * Picks the template: --template, else the sidecar's, else "default".
 * A sidecar's template that is missing is an error only when it is
 * needed (no subject or no text given).
 */
static int
pick_template(const struct dm_config *cfg, const struct dm_compose_opts *o,
    const char *sidecar_tmpl, const char *sidecar_path,
    const struct dm_template **out, struct dm_err *err)
{
	*out = NULL;
	if (o->template_id != NULL) {
		if ((*out = dm_config_template(cfg, o->template_id)) == NULL) {
			dm_err_set(err, DM_EUSAGE,
			    _("unknown template '%s'"), o->template_id);
			return dm_err_hint(err,
			    _("add a [template %s] section to '%s'"),
			    o->template_id, cfg->path ? cfg->path : _("the config"));
		}
		return 0;
	}
	if (sidecar_tmpl != NULL) {
		/*
		 * Subject and text given (typed in the send dialog): the
		 * sidecar's template is not needed, so its absence is not
		 * a reason to refuse.
		 */
		if ((*out = dm_config_template(cfg, sidecar_tmpl)) == NULL &&
		    o->subject != NULL && o->body != NULL)
			return 0;
		if (*out == NULL) {
			dm_err_set(err, DM_EDATA,
			    _("'%s' names template '%s', which the config does not have"),
			    sidecar_path, sidecar_tmpl);
			return dm_err_hint(err,
			    _("add a [template %s] section to '%s'"),
			    sidecar_tmpl, cfg->path ? cfg->path : _("the config"));
		}
		return 0;
	}
	*out = dm_config_template(cfg, "default");
	return 0;
}

static int
add_vars(struct dm_vars *dst, const struct dm_vars *src, struct dm_err *err)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		if (dm_vars_add(dst, src->v[i].name, src->v[i].value,
		    src->v[i].source, err) == -1)
			return -1;
	return 0;
}

/*
 * {{today}}: the message's date (now, or the one given) in the user's
 * language: a format the translation gives, in numbers only, since the
 * month's names would need a locale that may not be installed.
 */
static int
add_today(struct dm_vars *vars, time_t date, struct dm_err *err)
{
	struct tm tm;
	char buf[64];

	if (date == 0)
		date = time(NULL);
	/*
	 * TRANSLATORS: the date of {{today}} in templates, as strftime(3);
	 * numbers only (month names would stay English).  Swiss German:
	 * "%-d.%-m.%Y" (6.12.2026), French and Italian "%d.%m.%Y".
	 */
	if (localtime_r(&date, &tm) == NULL ||
	    strftime(buf, sizeof buf, _("%Y-%m-%d"), &tm) == 0)
		return dm_err_set(err, DM_EINTERNAL,
		    _("cannot format the date for {{today}}"));
	return dm_vars_add(vars, "today", buf, "date", err);
}

/*
 * --set values first, then the sidecar's (kept apart in sc as well, for
 * the recipients it names), then the profile's.
 */
static int
fill_vars(struct dm_vars *vars, struct dm_vars *sc, const struct dm_profile *p,
    const struct dm_compose_opts *o, char **sidecar_tmpl,
    char **sidecar_path, struct dm_err *err)
{
	if (o->nfiles > 0 && dm_sidecar_load(o->files[0], sc, sidecar_tmpl,
	    sidecar_path, err) == -1)
		return -1;
	if ((o->vars != NULL && add_vars(vars, o->vars, err) == -1) ||
	    add_vars(vars, sc, err) == -1)
		return -1;
	if (p->name != NULL && p->name[0] != '\0' &&
	    dm_vars_add(vars, "sender.name", p->name, "profile", err) == -1)
		return -1;
	if (dm_vars_add(vars, "sender.email", p->email, "profile", err) == -1)
		return -1;
	return add_today(vars, o->date, err);
}

/*
 * A batch: To, Cc and Bcc come from the sidecar's keys of the same names
 * (never from --set, which applies to every document), and To is a
 * must: a document without it is for nobody in particular.
 */
static int
sidecar_rcpts(struct dm_compose *c, const struct dm_vars *sc,
    const char *doc, const char *sidecar_path, struct dm_err *err)
{
	static const char *const keys[] = { "to", "cc", "bcc" };
	struct dm_addrlist *lists[] = { &c->to, &c->cc, &c->bcc };
	const struct dm_var *v;
	size_t i;

	for (i = 0; i < 3; i++) {
		if ((v = dm_vars_find(sc, keys[i])) == NULL)
			continue;
		if (parse_opt(lists[i], v->value, v->source, err) == -1 ||
		    add_all(&c->rcpt, lists[i], err) == -1)
			return -1;
	}
	if (c->to.n > 0)
		return 0;
	if (sidecar_path == NULL) {
		dm_err_set(err, DM_EDATA,
		    _("'%s' has no sidecar naming its recipient"), doc);
		return dm_err_hint(err, _("create '%s.ini' with a line '[document]' and a line 'to = customer@example.test'"),
		    doc);
	}
	dm_err_set(err, DM_EDATA, _("'%s' has no 'to' in its sidecar '%s'"), doc,
	    sidecar_path);
	return dm_err_hint(err, _("add a line 'to = customer@example.test' under [document]; every document needs its own To"));
}

static int
expand(const char *tmpl, const struct dm_vars *vars, const char *what,
    char **out, struct dm_err *err)
{
	struct dm_buf b;

	dm_buf_init(&b, 0);
	if (dm_tmpl_expand(tmpl, vars, what, &b, err) == -1) {
		dm_buf_release(&b);
		return -1;
	}
	if ((*out = dm_buf_detach(&b)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return 0;
}

static int
build_mime(struct dm_compose *c, const struct dm_compose_opts *o,
    struct dm_err *err)
{
	size_t i;

	if ((c->mime = dm_mime_new(err)) == NULL)
		return -1;
	if (dm_mime_set_from(c->mime, &c->from, err) == -1 ||
	    dm_mime_add_addrs(c->mime, DM_HDR_TO, &c->to, err) == -1 ||
	    dm_mime_add_addrs(c->mime, DM_HDR_CC, &c->cc, err) == -1 ||
	    dm_mime_add_addrs(c->mime, DM_HDR_REPLY_TO, &c->reply_to,
	    err) == -1 ||
	    dm_mime_set_subject(c->mime, c->subject, err) == -1 ||
	    dm_mime_set_body(c->mime, c->body, strlen(c->body), err) == -1)
		return -1;
	if (o->date != 0)
		dm_mime_set_date(c->mime, o->date);
	if (o->message_id != NULL &&
	    dm_mime_set_message_id(c->mime, o->message_id, err) == -1)
		return -1;
	for (i = 0; i < o->nfiles; i++)
		if (dm_mime_add_file(c->mime, o->files[i], NULL, err) == -1)
			return -1;
	if (o->nfiles > 0) {
		struct dm_buf b;
		const char *slash;

		dm_buf_init(&b, 0);
		for (i = 0; i < o->nfiles; i++) {
			slash = strrchr(o->files[i], '/');
			if ((i > 0 && dm_buf_addc(&b, '/', err) == -1) ||
			    dm_buf_addstr(&b, slash != NULL ? slash + 1 :
			    o->files[i], err) == -1) {
				dm_buf_release(&b);
				return -1;
			}
		}
		if ((c->documents = dm_buf_detach(&b)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	return dm_mime_finish(c->mime, err);
}

int
dm_compose_build(struct dm_compose *c, const struct dm_config *cfg,
    const struct dm_profile *p, const struct dm_compose_opts *o,
    struct dm_err *err)
{
	struct dm_vars vars, sc;
	const struct dm_template *t;
	char *sidecar_tmpl = NULL, *sidecar_path = NULL;
	const char *subject, *body;
	int r = -1;

	dm_vars_init(&vars);
	dm_vars_init(&sc);
	if (o->sidecar_rcpt && o->nfiles == 0) {
		dm_err_set(err, DM_EUSAGE, _("no document to take recipients from"));
		goto out;
	}
	if (!o->sidecar_rcpt) {
		if (parse_opt(&c->to, o->to, "--to", err) == -1 ||
		    parse_opt(&c->cc, o->cc, "--cc", err) == -1 ||
		    parse_opt(&c->bcc, o->bcc, "--bcc", err) == -1)
			goto out;
		if (add_all(&c->rcpt, &c->to, err) == -1 ||
		    add_all(&c->rcpt, &c->cc, err) == -1 ||
		    add_all(&c->rcpt, &c->bcc, err) == -1)
			goto out;
		if (c->rcpt.n == 0) {
			dm_err_set(err, DM_EUSAGE, _("no recipient"));
			dm_err_hint(err, _("give at least one address with --to, --cc or --bcc"));
			goto out;
		}
	}
	if (set_from(c, p, o, err) == -1)
		goto out;
	if (fill_vars(&vars, &sc, p, o, &sidecar_tmpl, &sidecar_path,
	    err) == -1)
		goto out;
	if (o->sidecar_rcpt && sidecar_rcpts(c, &sc, o->files[0], sidecar_path,
	    err) == -1)
		goto out;
	if (pick_template(cfg, o, sidecar_tmpl, sidecar_path, &t, err) == -1)
		goto out;
	if (t != NULL && (c->template_id = dm_strdup(t->id, err)) == NULL)
		goto out;
	subject = o->subject != NULL ? o->subject :
	    t != NULL ? t->subject : NULL;
	body = o->body != NULL ? o->body : t != NULL ? t->body : NULL;
	if (subject == NULL) {
		dm_err_set(err, DM_EUSAGE, _("no subject"));
		dm_err_hint(err, _("give --subject TEXT, or --template NAME with a subject in the config"));
		goto out;
	}
	if (expand(subject, &vars, "subject", &c->subject, err) == -1 ||
	    expand(body != NULL ? body : "", &vars, "body", &c->body,
	    err) == -1)
		goto out;
	if (build_mime(c, o, err) == -1)
		goto out;
	r = 0;
out:
	free(sidecar_tmpl);
	free(sidecar_path);
	dm_vars_release(&vars);
	dm_vars_release(&sc);
	return r;
}

/* The message as one stream for the outbox (dm_mime_read, rewound). */
static ssize_t
mime_read(void *arg, char *buf, size_t n, struct dm_err *err)
{
	return dm_mime_read(arg, buf, n, err);
}

static int
mime_rewind(void *arg, struct dm_err *err)
{
	return dm_mime_rewind(arg, err);
}

int
dm_compose_store(const struct dm_compose *c, const struct dm_profile *p,
    const char *dir, struct dm_outbox_item *out, enum dm_sync sync,
    struct dm_err *err)
{
	struct dm_outbox_item meta;
	struct dm_stream st = { mime_read, mime_rewind, c->mime };
	char **rcpt;
	size_t i;
	int r;

	memset(&meta, 0, sizeof meta);
	if ((rcpt = calloc(c->rcpt.n + 1, sizeof *rcpt)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	for (i = 0; i < c->rcpt.n; i++)
		rcpt[i] = c->rcpt.v[i].mailbox;
	meta.created = time(NULL);
	meta.profile = p->id;
	meta.sender = c->sender;
	meta.rcpt = rcpt;
	meta.nrcpt = c->rcpt.n;
	meta.message_id = (char *)dm_mime_message_id(c->mime);
	meta.subject = c->subject;
	meta.document = c->documents;
	r = dm_outbox_add(dir, &meta, &st, out, sync, err);
	free(rcpt);
	return r;
}

char *
dm_compose_bcc(const struct dm_compose *c, struct dm_err *err)
{
	struct dm_buf b;
	size_t i;

	if (c->bcc.n == 0)
		return NULL;
	dm_buf_init(&b, 0);
	for (i = 0; i < c->bcc.n; i++)
		if (dm_buf_addf(&b, err, "%s%s", i > 0 ? ", " : "",
		    c->bcc.v[i].mailbox) == -1) {
			dm_buf_release(&b);
			return NULL;
		}
	return dm_buf_detach(&b);
}
