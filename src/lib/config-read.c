/*
 * config-read.c - reading the configuration file: profiles, templates
 *
 * Reading goes through inih, the only place in docmail that uses it.
 * Debian's inih is built without line numbers for the handler and cuts
 * lines longer than INI_MAX_LINE, so we feed it through our own reader:
 * it counts lines, refuses a line that would be cut (a cut password or
 * template must never pass silently) and classifies each line exactly
 * as inih will, which tells the handler whether it is looking at an
 * indented continuation line and gives us the section header lines.
 *
 * inih has no writer.  Saving edits the file as lines of bytes and
 * writes only values that inih reads back identically.
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

const char *const pkeys[NPKEYS + 1] = {
	"name", "email", "host", "port", "security", "user", "password",
	"password_command", "ca_file", "tls_fingerprint", "timeout",
	"allow_from_override", "sent_maildir", "documents_dir", "auth",
	"oauth2_provider", "oauth2_client_id", "oauth2_client_secret",
	"oauth2_tenant", "oauth2_scope", "oauth2_device_url",
	"oauth2_auth_url", "oauth2_token_url", "oauth2_token_command",
	"max_per_minute", NULL
};

const char *const tkeys[NTKEYS + 1] = { "subject", "body", NULL };

const char *const kinds[] = { "profile", "template", NULL };

int
pf_is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/* inih's find_chars_or_comment() on s[i..e). */
static size_t
find_sep(const char *s, size_t i, size_t e, const char *chars)
{
	int was_space = 0;

	while (i < e && (chars == NULL || strchr(chars, s[i]) == NULL) &&
	    !(was_space && s[i] == ';')) {
		was_space = pf_is_ws((unsigned char)s[i]);
		i++;
	}
	return i;
}

/*
 * Classifies line s of n bytes (no line end).  *have_prev is inih's
 * "previous name" state: set by a key line, cleared by a section line.
 */
void
pf_classify(const char *s, size_t n, int first, int *have_prev,
    struct lparse *lp)
{
	size_t start = 0, t, e, x;

	memset(lp, 0, sizeof *lp);
	n = strnlen(s, n);
	if (first && n >= 3 && (unsigned char)s[0] == 0xef &&
	    (unsigned char)s[1] == 0xbb && (unsigned char)s[2] == 0xbf)
		start = 3;
	e = n;
	while (e > start && pf_is_ws((unsigned char)s[e - 1]))
		e--;
	t = start;
	while (t < e && pf_is_ws((unsigned char)s[t]))
		t++;
	if (t == e) {
		lp->kind = L_BLANK;
		return;
	}
	if (s[t] == ';' || s[t] == '#') {
		lp->kind = L_COMMENT;
		return;
	}
	/* inih compares against the buffer start, BOM included. */
	if (*have_prev && t > 0) {
		lp->kind = L_CONT;
		lp->vs = t;
		lp->ve = e;
		return;
	}
	if (s[t] == '[') {
		x = find_sep(s, t + 1, e, "]");
		if (x < e && s[x] == ']') {
			lp->kind = L_SECTION;
			lp->ns = t + 1;
			lp->ne = x;
			*have_prev = 0;
		} else
			lp->kind = L_BADSECTION;
		return;
	}
	x = find_sep(s, t, e, "=:");
	if (x >= e || (s[x] != '=' && s[x] != ':')) {
		lp->kind = L_NOEQ;
		return;
	}
	lp->kind = L_KEY;
	lp->ns = t;
	lp->ne = x;
	while (lp->ne > lp->ns && pf_is_ws((unsigned char)s[lp->ne - 1]))
		lp->ne--;
	lp->ve = find_sep(s, x + 1, e, NULL);
	lp->vs = x + 1;
	while (lp->vs < lp->ve && pf_is_ws((unsigned char)s[lp->vs]))
		lp->vs++;
	while (lp->ve > lp->vs && pf_is_ws((unsigned char)s[lp->ve - 1]))
		lp->ve--;
	*have_prev = lp->ne > lp->ns;
}

/* 1 for a name as in [profile NAME]: [A-Za-z0-9_.-]+. */
int
pf_id_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Splits section text "profile NAME" into kind and name, trimmed.
 * Returns the kind's index in kinds[], or -1.
 */
int
pf_split_section(const char *s, size_t n, size_t *ks, size_t *ke, size_t *ns,
    size_t *ne)
{
	size_t i = 0, k;

	while (i < n && pf_is_ws((unsigned char)s[i]))
		i++;
	while (n > i && pf_is_ws((unsigned char)s[n - 1]))
		n--;
	*ks = i;
	while (i < n && !pf_is_ws((unsigned char)s[i]))
		i++;
	*ke = i;
	while (i < n && pf_is_ws((unsigned char)s[i]))
		i++;
	*ns = i;
	*ne = n;
	for (k = 0; kinds[k] != NULL; k++)
		if (strlen(kinds[k]) == *ke - *ks &&
		    memcmp(kinds[k], s + *ks, *ke - *ks) == 0)
			return (int)k;
	return -1;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Levenshtein distance, ignoring case; a large number for long words. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[65], prev, tmp;

	if (la > 64 || lb > 64)
		return 1000;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost, best;

			cost = lower(a[i - 1]) != lower(b[j - 1]);
			best = prev + cost;
			if (d[j] + 1 < best)
				best = d[j] + 1;
			if (d[j - 1] + 1 < best)
				best = d[j - 1] + 1;
			tmp = d[j];
			d[j] = best;
			prev = tmp;
		}
	}
	return d[lb];
}

/*
 * The known word closest to a mistyped one: same but for case, else
 * within two edits, else one a prefix of the other.  NULL if none.
 */
static const char *
suggest(const char *word, const char *const *known)
{
	const char *best = NULL;
	size_t i, d, bestd = 3, wl = strlen(word), kl;

	for (i = 0; known[i] != NULL; i++)
		if (strcasecmp(word, known[i]) == 0)
			return known[i];
	for (i = 0; known[i] != NULL; i++)
		if ((d = distance(word, known[i])) < bestd) {
			bestd = d;
			best = known[i];
		}
	if (best != NULL || wl < 3)
		return best;
	for (i = 0; known[i] != NULL; i++) {
		kl = strlen(known[i]);
		if (strncasecmp(word, known[i], wl < kl ? wl : kl) == 0)
			return known[i];
	}
	return NULL;
}

static int
lookup(const char *word, const char *const *known)
{
	int i;

	for (i = 0; known[i] != NULL; i++)
		if (strcmp(word, known[i]) == 0)
			return i;
	return -1;
}

/* "name, email, host, ..." into dst. */
static void
list_words(char *dst, size_t dsize, const char *const *known)
{
	size_t i, n;

	dst[0] = '\0';
	for (i = 0; known[i] != NULL; i++) {
		n = strlen(dst);
		(void)snprintf(dst + n, dsize - n, "%s%s", i > 0 ? ", " : "",
		    known[i]);
	}
}


int __attribute__((format(printf, 3, 4)))
pf_src_err(struct src *src, enum dm_errcode code, const char *fmt, ...)
{
	char msg[DM_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	/* A cut message is still a message. */
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	src->failed = 1;
	return dm_err_set(src->err, code, "%s:%d: %s",
	    DM_ERR_PATH(src->path), src->lineno, msg);
}

static char *
reader(char *str, int num, void *stream)
{
	struct src *src = stream;
	size_t len = 0, limit = LINE_MAX_CHARS;
	int c = EOF, toolong = 0, nul = 0;

	if (src->failed)
		return NULL;
	if (num < 1)
		return NULL;
	if ((size_t)num - 1 < limit)
		limit = (size_t)num - 1;
	/* Room for one more byte: the '\r' of a CRLF line end. */
	while ((c = getc(src->fp)) != EOF && c != '\n') {
		if (c == '\0')
			nul = 1;
		if (len < limit + 1)
			src->line[len++] = (char)c;
		else
			toolong = 1;
	}
	if (ferror(src->fp)) {
		src->failed = 1;
		dm_err_set(src->err, src->code, _("cannot read '%s': %s"),
		    DM_ERR_PATH(src->path), strerror(errno));
		return NULL;
	}
	if (c == EOF && len == 0 && !toolong)
		return NULL;
	src->lineno++;
	if (c == '\n' && len > 0 && src->line[len - 1] == '\r')
		len--;
	if (toolong || len > limit) {
		pf_src_err(src, src->code, _("line longer than %zu characters"),
		    limit);
		if (src->code == DM_ECONFIG)
			dm_err_hint(src->err, _("for a long password use password_command, for a long template text indented continuation lines"));
		else
			dm_err_hint(src->err, _("go on over indented continuation lines, each one a new line of the value"));
		return NULL;
	}
	if (nul) {
		pf_src_err(src, src->code, _("line holds a NUL byte"));
		return NULL;
	}
	memcpy(str, src->line, len);
	str[len] = '\0';
	pf_classify(str, len, src->lineno == 1, &src->have_prev, &src->lp);
	switch (src->lp.kind) {
	case L_NOEQ:
		pf_src_err(src, src->code, _("syntax error"));
		dm_err_hint(src->err, _("expected 'key = value', a [section] line or a comment starting with ';' or '#'"));
		return NULL;
	case L_BADSECTION:
		pf_src_err(src, src->code, _("syntax error"));
		dm_err_hint(src->err, _("a section line is [NAME] with its closing ']'"));
		return NULL;
	case L_SECTION:
		if (src->section(src->arg, str + src->lp.ns,
		    src->lp.ne - src->lp.ns) == -1) {
			src->failed = 1;
			return NULL;
		}
		break;
	default:
		break;
	}
	return str;
}

/* Runs inih over fp.  Returns 0 or -1 with src->err set. */
int
pf_parse(struct src *src, ini_handler handler, void *arg)
{
	int rc;

	rc = ini_parse_stream(reader, src, handler, arg);
	if (src->failed)
		return -1;
	if (rc == -2)
		return dm_err_set(src->err, DM_ENOMEM, _("out of memory"));
	if (rc == -1)
		return dm_err_set(src->err, src->code, _("cannot read '%s'"),
		    DM_ERR_PATH(src->path));
	if (rc > 0) {
		/* Our reader catches these first; this is a safety net. */
		dm_err_set(src->err, src->code, _("%s:%d: syntax error"),
		    DM_ERR_PATH(src->path), rc);
		return dm_err_hint(src->err, _("expected 'key = value', a [section] line or a comment starting with ';' or '#'"));
	}
	return 0;
}

/* A copy of v with a leading "~/" replaced by $HOME. */
char *
pf_expand_home(const char *v, struct dm_err *err)
{
	const char *home;
	struct dm_buf b;
	char *p;

	if (v[0] != '~' || (v[1] != '/' && v[1] != '\0'))
		return dm_strdup(v, err);
	if ((home = getenv("HOME")) == NULL || *home == '\0') {
		dm_err_set(err, DM_ECONFIG, _("cannot expand '~' in '%s': HOME is not set"),
		    v);
		return NULL;
	}
	dm_buf_init(&b, 0);
	if (dm_buf_addstr(&b, home, err) == -1 ||
	    dm_buf_addstr(&b, v + 1, err) == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	if ((p = dm_buf_detach(&b)) == NULL)
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return p;
}

/* Checks and upper-cases a "sha256:AB:CD:..." pin into out. */
int
pf_fingerprint_norm(const char *v, char out[FPR_LEN + 1])
{
	size_t i;

	if (strlen(v) != FPR_LEN || strncasecmp(v, "sha256:", 7) != 0)
		return -1;
	memcpy(out, "sha256:", 7);
	for (i = 7; i < FPR_LEN; i++) {
		if ((i - 7) % 3 == 2) {
			if (v[i] != ':')
				return -1;
			out[i] = ':';
		} else {
			if (dm_hexval((unsigned char)v[i]) == -1)
				return -1;
			out[i] = (v[i] >= 'a' && v[i] <= 'f') ?
			    (char)(v[i] - 'a' + 'A') : v[i];
		}
	}
	out[FPR_LEN] = '\0';
	return 0;
}

int
pf_bool_parse(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on", NULL };
	static const char *const no[] = { "no", "false", "0", "off", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	return -1;
}

/* Exactly one '@', something on each side, no spaces or controls. */
int
pf_email_ok(const char *v)
{
	const char *at = strchr(v, '@');
	const unsigned char *p;

	if (at == NULL || at == v || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return 0;
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

int
pf_host_ok(const char *v)
{
	const unsigned char *p;

	if (*v == '\0' || strstr(v, "://") != NULL)
		return 0;
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* Template text: "\n" is a line break, "\\" a backslash. */
static char *
unescape(const char *v, struct dm_err *err)
{
	struct dm_buf b;
	char *p;

	dm_buf_init(&b, 0);
	for (; *v != '\0'; v++) {
		char c = *v;

		if (c == '\\' && (v[1] == 'n' || v[1] == '\\')) {
			c = v[1] == 'n' ? '\n' : '\\';
			v++;
		}
		if (dm_buf_addc(&b, c, err) == -1) {
			dm_buf_release(&b);
			return NULL;
		}
	}
	if ((p = dm_buf_detach(&b)) == NULL)
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return p;
}

/*
 * Loading the config file.
 */

enum skind {
	S_NONE,
	S_PROFILE,
	S_TEMPLATE
};

struct pmeta {
	int	 line[NPKEYS];	/* line of each key, 0 if absent */
};

struct tmeta {
	int	 header;
	int	 line[NTKEYS];
};

struct cstate {
	struct src		 src;
	struct dm_config	*cfg;
	struct pmeta		*pmeta;	/* one per cfg->profiles */
	struct tmeta		*tmeta;	/* one per cfg->templates */
	enum skind		 kind;
	size_t			 idx;
	int			 lastkey;	/* for continuation lines */
	int			 lastline;
	int			 password_seen; /* a non-empty one */
};

static int
grow_array(void **arr, size_t n, size_t size, struct dm_err *err)
{
	void *p;

	if ((p = realloc(*arr, (n + 1) * size)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	*arr = p;
	return 0;
}

static int
config_section(void *arg, const char *s, size_t n)
{
	struct cstate *st = arg;
	struct dm_config *cfg = st->cfg;
	struct src *src = &st->src;
	size_t ks, ke, ns, ne, i;
	const char *guess;
	char kind[ID_MAX + 1], id[ID_MAX + 1];
	int k;

	st->lastkey = -1;
	k = pf_split_section(s, n, &ks, &ke, &ns, &ne);
	if (k == -1) {
		pf_src_err(src, DM_ECONFIG, _("unknown section '[%.*s]'"), (int)n, s);
		(void)snprintf(kind, sizeof kind, "%.*s",
		    (int)(ke - ks < ID_MAX ? ke - ks : ID_MAX), s + ks);
		if ((guess = suggest(kind, kinds)) != NULL && ne > ns)
			return dm_err_hint(src->err, _("did you mean '[%s %.*s]'?"),
			    guess, (int)(ne - ns), s + ns);
		if (guess != NULL)
			return dm_err_hint(src->err, _("did you mean '[%s NAME]'?"),
			    guess);
		return dm_err_hint(src->err, _("expected [profile NAME] or [template NAME], e.g. [profile default]"));
	}
	if (ne == ns) {
		pf_src_err(src, DM_ECONFIG, _("section '[%s]' has no name"), kinds[k]);
		return dm_err_hint(src->err, _("write [%s NAME], e.g. [%s default]"),
		    kinds[k], kinds[k]);
	}
	if (!pf_id_valid(s + ns, ne - ns)) {
		pf_src_err(src, DM_ECONFIG, _("invalid name '%.*s' in section '[%s]'"),
		    (int)(ne - ns), s + ns, kinds[k]);
		return dm_err_hint(src->err, _("a name is up to %d letters, digits, '_', '-' and '.'"), ID_MAX);
	}
	memcpy(id, s + ns, ne - ns);
	id[ne - ns] = '\0';

	if (k == 0) {
		for (i = 0; i < cfg->nprofiles; i++)
			if (strcmp(cfg->profiles[i].id, id) == 0) {
				pf_src_err(src, DM_ECONFIG, _("duplicate section '[profile %s]' (first at line %d)"),
				    id, cfg->profiles[i].line);
				return dm_err_hint(src->err, _("merge the two sections or rename one"));
			}
		if (grow_array((void **)&cfg->profiles, cfg->nprofiles,
		    sizeof *cfg->profiles, src->err) == -1 ||
		    grow_array((void **)&st->pmeta, cfg->nprofiles,
		    sizeof *st->pmeta, src->err) == -1)
			return -1;
		dm_profile_init(&cfg->profiles[cfg->nprofiles]);
		memset(&st->pmeta[cfg->nprofiles], 0, sizeof *st->pmeta);
		cfg->profiles[cfg->nprofiles].line = src->lineno;
		if ((cfg->profiles[cfg->nprofiles].id =
		    dm_strdup(id, src->err)) == NULL)
			return -1;
		st->kind = S_PROFILE;
		st->idx = cfg->nprofiles++;
		return 0;
	}
	for (i = 0; i < cfg->ntemplates; i++)
		if (strcmp(cfg->templates[i].id, id) == 0) {
			pf_src_err(src, DM_ECONFIG, _("duplicate section '[template %s]' (first at line %d)"),
			    id, st->tmeta[i].header);
			return dm_err_hint(src->err, _("merge the two sections or rename one"));
		}
	if (grow_array((void **)&cfg->templates, cfg->ntemplates,
	    sizeof *cfg->templates, src->err) == -1 ||
	    grow_array((void **)&st->tmeta, cfg->ntemplates,
	    sizeof *st->tmeta, src->err) == -1)
		return -1;
	memset(&cfg->templates[cfg->ntemplates], 0, sizeof *cfg->templates);
	memset(&st->tmeta[cfg->ntemplates], 0, sizeof *st->tmeta);
	st->tmeta[cfg->ntemplates].header = src->lineno;
	if ((cfg->templates[cfg->ntemplates].id = dm_strdup(id,
	    src->err)) == NULL)
		return -1;
	st->kind = S_TEMPLATE;
	st->idx = cfg->ntemplates++;
	return 0;
}

/* Replaces *dst with a copy of v; "" leaves the key unset. */
static int
set_str(char **dst, const char *v, int home, struct dm_err *err)
{
	char *p;

	free(*dst);
	*dst = NULL;
	if (*v == '\0')
		return 0;
	if ((p = home ? pf_expand_home(v, err) : dm_strdup(v, err)) == NULL)
		return -1;
	*dst = p;
	return 0;
}

/*
 * An identity provider's address: https, or http to this machine only
 * (a self-hosted test provider); a token must not cross a network in
 * clear.
 */
int
pf_oauth2_url_ok(const char *v)
{
	static const char *const local[] = {
		"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
		"http://localhost/", "http://[::1]:", "http://[::1]/"
	};
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
			return 0;
	if (strncasecmp(v, "https://", 8) == 0 && v[8] != '\0')
		return 1;
	for (i = 0; i < sizeof local / sizeof local[0]; i++)
		if (strncasecmp(v, local[i], strlen(local[i])) == 0)
			return 1;
	return 0;
}

/*
 * What no profile may combine.  A password next to auth = oauth2 is an
 * error rather than a warning: it would never be used, and the user
 * who left it there likely believes it is.
 */
int
pf_auth_conflict(const struct dm_profile *p, struct dm_err *err)
{
	if (p->auth != DM_AUTH_OAUTH2)
		return 0;
	if (dm_secret_isset(&p->password) || (p->password_command != NULL &&
	    *p->password_command != '\0')) {
		dm_err_set(err, DM_ECONFIG,
		    _("profile '%s' has auth = oauth2 and also a password or password_command"),
		    p->id);
		return dm_err_hint(err, _("an OAuth2 login uses an access token, never the password: remove password and password_command (or set auth = password)"));
	}
	if (p->user == NULL || *p->user == '\0') {
		dm_err_set(err, DM_ECONFIG,
		    _("profile '%s' has auth = oauth2 but no 'user'"), p->id);
		return dm_err_hint(err, _("set user to the mailbox the token is for, e.g. 'user = anna@firma.example'"));
	}
	return 0;
}

int
pf_oauth2_provider_ok(const char *v)
{
	return strcmp(v, "microsoft") == 0 || strcmp(v, "google") == 0 ||
	    strcmp(v, "custom") == 0;
}

/*
 * A path key: a leading "~/" expanded, and refused when that makes it
 * too long for a line, since a save writes the expanded path.
 */
static int
set_path(struct src *src, int k, char **dst, const char *v)
{
	size_t max = LINE_MAX_CHARS - strlen(pkeys[k]) - 3;

	if (set_str(dst, v, 1, src->err) == -1)
		return -1;
	if (*dst != NULL && strlen(*dst) > max) {
		pf_src_err(src, DM_ECONFIG,
		    _("%s is longer than %zu characters once '~' is expanded"),
		    pkeys[k], max);
		return dm_err_hint(src->err, _("write a shorter path; a symbolic link can stand for a deep directory"));
	}
	return 0;
}

static int
profile_value(struct cstate *st, struct dm_profile *p, int k, const char *v)
{
	struct src *src = &st->src;
	char fpr[FPR_LEN + 1];
	long long n;
	size_t i;

	/* What a save refuses is refused here too (see pf_unstorable()). */
	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f) {
			pf_src_err(src, DM_ECONFIG,
			    _("the value of %s holds a control character"),
			    pkeys[k]);
			return dm_err_hint(src->err, _("remove it (a tab is fine)"));
		}
	/*
	 * "key =;x" reads as ";x", but "key = ;x", as a save writes it,
	 * reads as a comment: a save refuses it, so must the loader.
	 */
	if (v[0] == ';') {
		pf_src_err(src, DM_ECONFIG,
		    _("the value of %s begins with ';', which a saved file would read as a comment"),
		    pkeys[k]);
		return dm_err_hint(src->err, "%s", k == K_PASSWORD ?
		    _("use password_command (e.g. 'pass show mail/anna') for such passwords") :
		    _("remove the ';' at the start"));
	}
	switch (k) {
	case K_NAME:
		return set_str(&p->name, v, 0, src->err);
	case K_EMAIL:
		if (*v != '\0' && !pf_email_ok(v)) {
			pf_src_err(src, DM_ECONFIG, _("invalid email '%s'"), v);
			return dm_err_hint(src->err, _("write the bare address, e.g. 'email = anna@example.com'; the display name goes into 'name'"));
		}
		return set_str(&p->email, v, 0, src->err);
	case K_HOST:
		if (*v != '\0' && !pf_host_ok(v)) {
			pf_src_err(src, DM_ECONFIG, _("invalid host '%s'"), v);
			return dm_err_hint(src->err, _("write the server's name alone, e.g. 'host = smtp.example.com'"));
		}
		return set_str(&p->host, v, 0, src->err);
	case K_PORT:
		p->port = 0;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 1, 65535, &n) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid port '%s'"), v);
			return dm_err_hint(src->err, _("port is a number from 1 to 65535, usually 465 for ssl and 587 for starttls"));
		}
		p->port = (int)n;
		return 0;
	case K_SECURITY:
		p->security = DM_SEC_STARTTLS;
		if (*v != '\0' && dm_security_parse(v, &p->security) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid security '%s' (expected ssl, starttls or none)"), v);
			return dm_err_hint(src->err, _("ssl is TLS from the start (usually port 465), starttls switches to TLS (usually port 587)"));
		}
		return 0;
	case K_USER:
		return set_str(&p->user, v, 0, src->err);
	case K_PASSWORD:
		dm_secret_release(&p->password);
		if (*v == '\0')
			return 0;
		st->password_seen = 1;
		return dm_secret_set(&p->password, v, strlen(v), src->err);
	case K_PASSWORD_COMMAND:
		return set_str(&p->password_command, v, 0, src->err);
	case K_CA_FILE:
		return set_path(src, K_CA_FILE, &p->ca_file, v);
	case K_TLS_FINGERPRINT:
		free(p->tls_fingerprint);
		p->tls_fingerprint = NULL;
		if (*v == '\0')
			return 0;
		if (pf_fingerprint_norm(v, fpr) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid tls_fingerprint '%s'"), v);
			return dm_err_hint(src->err, _("write 'sha256:' and 32 hex byte pairs separated by ':', as 'openssl x509 -noout -fingerprint -sha256' prints them"));
		}
		return set_str(&p->tls_fingerprint, fpr, 0, src->err);
	case K_TIMEOUT:
		p->timeout = DM_TIMEOUT_DEFAULT;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 1, 3600, &n) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid timeout '%s'"), v);
			return dm_err_hint(src->err, _("timeout is a number of seconds from 1 to 3600"));
		}
		p->timeout = (int)n;
		return 0;
	case K_MAX_PER_MINUTE:
		p->max_per_minute = 0;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 0, DM_MAX_PER_MINUTE_MAX, &n) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid max_per_minute '%s'"), v);
			return dm_err_hint(src->err, _("max_per_minute is a number of messages a minute from 1 to %d, or 0 for no pacing"),
			    DM_MAX_PER_MINUTE_MAX);
		}
		p->max_per_minute = (int)n;
		return 0;
	case K_ALLOW_FROM_OVERRIDE:
		p->allow_from_override = 1;
		if (*v != '\0' &&
		    pf_bool_parse(v, &p->allow_from_override) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid allow_from_override '%s' (expected yes or no)"), v);
			return dm_err_hint(src->err, _("yes, true, on and 1 mean yes; no, false, off and 0 mean no"));
		}
		return 0;
	case K_SENT_MAILDIR:
		return set_path(src, K_SENT_MAILDIR, &p->sent_maildir, v);
	case K_DOCUMENTS_DIR:
		return set_path(src, K_DOCUMENTS_DIR, &p->documents_dir, v);
	case K_AUTH:
		p->auth = DM_AUTH_DEFAULT;
		if (*v != '\0' && dm_auth_parse(v, &p->auth) == -1) {
			pf_src_err(src, DM_ECONFIG, _("invalid auth '%s' (expected password, oauth2 or none)"), v);
			return dm_err_hint(src->err, _("password logs in with user and password, oauth2 with an access token (Microsoft 365, Gmail), none does not log in"));
		}
		return 0;
	case K_OAUTH2_PROVIDER:
		if (*v != '\0' && !pf_oauth2_provider_ok(v)) {
			pf_src_err(src, DM_ECONFIG, _("invalid oauth2_provider '%s' (expected microsoft, google or custom)"), v);
			return dm_err_hint(src->err, _("custom takes its addresses from oauth2_device_url, oauth2_auth_url and oauth2_token_url"));
		}
		return set_str(&p->oauth2_provider, v, 0, src->err);
	case K_OAUTH2_CLIENT_ID:
		return set_str(&p->oauth2_client_id, v, 0, src->err);
	case K_OAUTH2_CLIENT_SECRET:
		/* Hardly a secret for a public client; kept like one. */
		if (*v != '\0')
			st->password_seen = 1;
		return set_str(&p->oauth2_client_secret, v, 0, src->err);
	case K_OAUTH2_TENANT:
		return set_str(&p->oauth2_tenant, v, 0, src->err);
	case K_OAUTH2_SCOPE:
		return set_str(&p->oauth2_scope, v, 0, src->err);
	case K_OAUTH2_DEVICE_URL:
	case K_OAUTH2_AUTH_URL:
	case K_OAUTH2_TOKEN_URL:
		if (*v != '\0' && !pf_oauth2_url_ok(v)) {
			pf_src_err(src, DM_ECONFIG, _("invalid %s '%s'"), pkeys[k], v);
			return dm_err_hint(src->err, _("write the identity provider's https:// address (http:// only to this machine)"));
		}
		return set_str(k == K_OAUTH2_DEVICE_URL ?
		    &p->oauth2_device_url : k == K_OAUTH2_AUTH_URL ?
		    &p->oauth2_auth_url : &p->oauth2_token_url, v, 0,
		    src->err);
	case K_OAUTH2_TOKEN_COMMAND:
		return set_str(&p->oauth2_token_command, v, 0, src->err);
	}
	return 0;
}

/* Appends a continuation line (text v) to a template value. */
static int
template_more(struct cstate *st, char **dst, const char *v)
{
	struct dm_buf b;
	char *more = NULL;
	int r = -1;

	dm_buf_init(&b, 0);
	if ((more = unescape(v, st->src.err)) == NULL)
		goto out;
	/* "body =" alone, then the text below it: no empty first line. */
	if (*dst != NULL && **dst != '\0' &&
	    (dm_buf_addstr(&b, *dst, st->src.err) == -1 ||
	    dm_buf_addc(&b, '\n', st->src.err) == -1))
		goto out;
	if (dm_buf_addstr(&b, more, st->src.err) == -1)
		goto out;
	free(*dst);
	if ((*dst = dm_buf_detach(&b)) == NULL) {
		dm_err_set(st->src.err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	r = 0;
out:
	free(more);
	dm_buf_release(&b);
	return r;
}

static int
unknown_key(struct src *src, const char *name, const char *kind,
    const char *id, const char *const *known)
{
	const char *guess;
	char list[256];

	pf_src_err(src, DM_ECONFIG, _("unknown key '%s' in [%s %s]"), name, kind, id);
	if ((guess = suggest(name, known)) != NULL)
		return dm_err_hint(src->err, _("did you mean '%s'?"), guess);
	list_words(list, sizeof list, known);
	return dm_err_hint(src->err, _("valid keys in [%s NAME]: %s"), kind, list);
}

/*
 * Records that key k of a section was given on this line; a key given
 * twice is an error naming both lines.  lines is the section's per-key
 * line table.
 */
static int
first_time(struct cstate *st, struct src *src, int *lines, int k,
    const char *name, const char *kind, const char *id)
{
	if (lines[k] != 0) {
		pf_src_err(src, DM_ECONFIG, _("duplicate key '%s' in [%s %s] (first at line %d)"),
		    name, kind, id, lines[k]);
		dm_err_hint(src->err, _("remove one of lines %d and %d"),
		    lines[k], src->lineno);
		return -1;
	}
	lines[k] = src->lineno;
	st->lastkey = k;
	st->lastline = src->lineno;
	return 0;
}

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cstate *st = user;
	struct src *src = &st->src;
	struct dm_profile *p;
	struct dm_template *t;
	int k;

	(void)section;
	if (src->failed)
		return 0;
	if (src->lp.kind == L_CONT) {
		if (st->kind == S_TEMPLATE && st->lastkey != -1) {
			t = &st->cfg->templates[st->idx];
			if (template_more(st, st->lastkey == T_SUBJECT ?
			    &t->subject : &t->body, value) == -1)
				goto fail;
			return 1;
		}
		pf_src_err(src, DM_ECONFIG, _("indented line continues '%s' of line %d"),
		    name, st->lastline);
		dm_err_hint(src->err, _("only template subject and body may go on over indented lines; remove the indentation"));
		goto fail;
	}
	switch (st->kind) {
	case S_NONE:
		pf_src_err(src, DM_ECONFIG, _("key '%s' is outside any section"), name);
		dm_err_hint(src->err, _("put it below a [profile NAME] or [template NAME] line"));
		goto fail;
	case S_PROFILE:
		p = &st->cfg->profiles[st->idx];
		if ((k = lookup(name, pkeys)) == -1) {
			unknown_key(src, name, "profile", p->id, pkeys);
			goto fail;
		}
		if (first_time(st, src, st->pmeta[st->idx].line, k, name,
		    "profile", p->id) == -1)
			goto fail;
		if (profile_value(st, p, k, value) == -1) {
			/* Errors from helpers lack the place. */
			if (!src->failed && src->err->code != DM_ENOMEM)
				dm_err_prefix(src->err, "%s:%d",
				    DM_ERR_PATH(src->path), src->lineno);
			goto fail;
		}
		return 1;
	case S_TEMPLATE:
		t = &st->cfg->templates[st->idx];
		if ((k = lookup(name, tkeys)) == -1) {
			unknown_key(src, name, "template", t->id, tkeys);
			goto fail;
		}
		if (first_time(st, src, st->tmeta[st->idx].line, k, name,
		    "template", t->id) == -1)
			goto fail;
		if (k == T_SUBJECT) {
			free(t->subject);
			if ((t->subject = unescape(value, src->err)) == NULL)
				goto fail;
		} else {
			free(t->body);
			if ((t->body = unescape(value, src->err)) == NULL)
				goto fail;
		}
		return 1;
	}
fail:
	src->failed = 1;
	return 0;
}

char *
dm_config_default_path(const char *explicit, struct dm_err *err)
{
	const char *base, *sub;
	struct dm_buf b;
	char *p;

	if (explicit != NULL)
		return dm_strdup(explicit, err);
	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	if ((base = getenv("XDG_CONFIG_HOME")) != NULL && base[0] == '/')
		sub = "/docmail/config.ini";
	else if ((base = getenv("HOME")) != NULL && base[0] != '\0')
		sub = "/.config/docmail/config.ini";
	else {
		dm_err_set(err, DM_ECONFIG, _("cannot find the config file: neither XDG_CONFIG_HOME nor HOME is set"));
		dm_err_hint(err, _("give --config FILE"));
		return NULL;
	}
	dm_buf_init(&b, 0);
	if (dm_buf_addstr(&b, base, err) == -1 ||
	    dm_buf_addstr(&b, sub, err) == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	if ((p = dm_buf_detach(&b)) == NULL)
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
	return p;
}

void
dm_config_init(struct dm_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
}

void
dm_config_release(struct dm_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nprofiles; i++)
		dm_profile_release(&cfg->profiles[i]);
	for (i = 0; i < cfg->ntemplates; i++) {
		free(cfg->templates[i].id);
		free(cfg->templates[i].subject);
		free(cfg->templates[i].body);
	}
	free(cfg->profiles);
	free(cfg->templates);
	free(cfg->path);
	dm_config_init(cfg);
}

int
dm_config_load(struct dm_config *cfg, const char *path, struct dm_err *err)
{
	struct dm_config nc;
	struct cstate st;
	struct stat sb;
	FILE *fp = NULL;
	size_t i;
	int r = -1;

	dm_config_init(&nc);
	memset(&st, 0, sizeof st);
	if ((nc.path = dm_strdup(path, err)) == NULL)
		goto out;
	if ((fp = fopen(path, "re")) == NULL) {
		dm_err_set(err, DM_ECONFIG, _("cannot read config file '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		if (errno == ENOENT)
			dm_err_hint(err, _("run 'docmail settings' to create it, or give --config FILE"));
		goto out;
	}
	if (fstat(fileno(fp), &sb) == -1) {
		dm_err_set(err, DM_ECONFIG, _("cannot read config file '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		dm_err_set(err, DM_ECONFIG, _("cannot read config file '%s': %s"),
		    DM_ERR_PATH(path), strerror(EISDIR));
		dm_err_hint(err, _("give the file's path with --config FILE"));
		goto out;
	}

	st.cfg = &nc;
	st.kind = S_NONE;
	st.lastkey = -1;
	st.src.fp = fp;
	st.src.path = path;
	st.src.code = DM_ECONFIG;
	st.src.err = err;
	st.src.section = config_section;
	st.src.arg = &st;
	if (pf_parse(&st.src, config_handler, &st) == -1)
		goto out;

	/* Like msmtp and ssh: a password others can read is not secret. */
	if (st.password_seen && (sb.st_mode & 077) != 0) {
		dm_err_set(err, DM_ECONFIG, _("'%s' holds a password and can be read by other users (mode 0%03o)"),
		    DM_ERR_PATH(path), (unsigned int)(sb.st_mode & 0777));
		dm_err_hint(err, _("run: chmod 600 '%s'"), path);
		goto out;
	}
	for (i = 0; i < nc.nprofiles; i++) {
		const struct dm_profile *p = &nc.profiles[i];
		const char *miss = NULL, *eg = NULL;

		if (p->host == NULL) {
			miss = "host";
			eg = "smtp.example.com";
		} else if (p->email == NULL) {
			miss = "email";
			eg = "you@example.com";
		}
		if (miss != NULL) {
			dm_err_set(err, DM_ECONFIG, _("%s:%d: profile '%s' has no '%s'"),
			    DM_ERR_PATH(path), p->line, p->id, miss);
			dm_err_hint(err, _("add '%s = %s' to [profile %s]"), miss,
			    eg, p->id);
			goto out;
		}
		if (pf_auth_conflict(p, err) == -1) {
			dm_err_prefix(err, "%s:%d", DM_ERR_PATH(path), p->line);
			goto out;
		}
	}

	dm_config_release(cfg);
	*cfg = nc;
	dm_config_init(&nc);
	r = 0;
out:
	if (fp != NULL)
		fclose(fp);
	free(st.pmeta);
	free(st.tmeta);
	dm_config_release(&nc);
	explicit_bzero(st.src.line, sizeof st.src.line);
	return r;
}

const struct dm_profile *
dm_config_profile(const struct dm_config *cfg, const char *id,
    struct dm_err *err)
{
	struct dm_buf b;
	struct dm_err e;
	size_t i;

	if (id != NULL) {
		for (i = 0; i < cfg->nprofiles; i++)
			if (strcmp(cfg->profiles[i].id, id) == 0)
				return &cfg->profiles[i];
	} else {
		for (i = 0; i < cfg->nprofiles; i++)
			if (strcmp(cfg->profiles[i].id, "default") == 0)
				return &cfg->profiles[i];
		if (cfg->nprofiles == 1)
			return &cfg->profiles[0];
	}
	if (cfg->nprofiles == 0) {
		if (id != NULL)
			dm_err_set(err, DM_ECONFIG, _("no profile '%s' in '%s'"),
			    id, cfg->path != NULL ? cfg->path : "");
		else
			dm_err_set(err, DM_ECONFIG, _("no profile in '%s'"),
			    cfg->path != NULL ? cfg->path : "");
		dm_err_hint(err, _("add a [profile default] section, or run 'docmail settings'"));
		return NULL;
	}
	dm_buf_init(&b, 400);
	for (i = 0; i < cfg->nprofiles; i++)
		if (dm_buf_addf(&b, &e, "%s%s", i > 0 ? ", " : "",
		    cfg->profiles[i].id) == -1)
			break;
	if (id != NULL) {
		dm_err_set(err, DM_ECONFIG, _("no profile '%s' in '%s'"), id,
		    cfg->path != NULL ? cfg->path : "");
		dm_err_hint(err, _("profiles there: %s"), dm_buf_str(&b));
	} else {
		dm_err_set(err, DM_ECONFIG, _("several profiles in '%s' (%s) and none is 'default'"),
		    cfg->path != NULL ? cfg->path : "", dm_buf_str(&b));
		dm_err_hint(err, _("choose one with --profile NAME, e.g. --profile %s"),
		    cfg->profiles[0].id);
	}
	dm_buf_release(&b);
	return NULL;
}

const struct dm_template *
dm_config_template(const struct dm_config *cfg, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < cfg->ntemplates; i++)
		if (strcmp(cfg->templates[i].id, id) == 0)
			return &cfg->templates[i];
	return NULL;
}
