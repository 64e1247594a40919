/*
 * profile.c - the configuration file: profiles, templates, sidecars
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

/* Longest line inih reads whole, without its line end. */
#define LINE_MAX_CHARS	(DM_INI_LINE_MAX - 1)

/* Profile and template names, as in [profile NAME]. */
#define ID_MAX		64

/* A config file is small; this only stops a runaway file. */
#define FILE_MAX	(1024 * 1024)

/* "sha256:" and 32 hex pairs separated by ':'. */
#define FPR_LEN		(7 + 32 * 3 - 1)

/* The keys of [profile NAME], in the order a save writes new ones. */
enum pkey {
	K_NAME,
	K_EMAIL,
	K_HOST,
	K_PORT,
	K_SECURITY,
	K_USER,
	K_PASSWORD,
	K_PASSWORD_COMMAND,
	K_CA_FILE,
	K_TLS_FINGERPRINT,
	K_TIMEOUT,
	K_ALLOW_FROM_OVERRIDE,
	K_SENT_MAILDIR,
	K_DOCUMENTS_DIR,
	K_AUTH,
	K_OAUTH2_PROVIDER,
	K_OAUTH2_CLIENT_ID,
	K_OAUTH2_CLIENT_SECRET,
	K_OAUTH2_TENANT,
	K_OAUTH2_SCOPE,
	K_OAUTH2_DEVICE_URL,
	K_OAUTH2_AUTH_URL,
	K_OAUTH2_TOKEN_URL,
	K_OAUTH2_TOKEN_COMMAND,
	K_MAX_PER_MINUTE,
	NPKEYS
};

static const char *const pkeys[NPKEYS + 1] = {
	"name", "email", "host", "port", "security", "user", "password",
	"password_command", "ca_file", "tls_fingerprint", "timeout",
	"allow_from_override", "sent_maildir", "documents_dir", "auth",
	"oauth2_provider", "oauth2_client_id", "oauth2_client_secret",
	"oauth2_tenant", "oauth2_scope", "oauth2_device_url",
	"oauth2_auth_url", "oauth2_token_url", "oauth2_token_command",
	"max_per_minute", NULL
};

enum tkey {
	T_SUBJECT,
	T_BODY,
	NTKEYS
};

static const char *const tkeys[NTKEYS + 1] = { "subject", "body", NULL };

static const char *const kinds[] = { "profile", "template", NULL };

/*
 * Line classification, mirroring inih's ini_parse_stream() (version 55):
 * the BOM is skipped on the first line; the line is stripped; ';' or
 * '#' first is a comment; an indented non-empty line after a key line
 * of the same section continues that key; '[' starts a section that
 * needs its ']' before any inline comment; anything else needs '=' or
 * ':'.  An inline comment is ';' after whitespace.
 */
enum lkind {
	L_BLANK,
	L_COMMENT,
	L_CONT,
	L_SECTION,
	L_KEY,
	L_BADSECTION,		/* '[' without ']' */
	L_NOEQ			/* neither '=' nor ':' */
};

struct lparse {
	enum lkind	 kind;
	size_t		 ns, ne;	/* key name, or section text */
	size_t		 vs, ve;	/* value of a key line */
};

static int
is_ws(int c)
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
		was_space = is_ws((unsigned char)s[i]);
		i++;
	}
	return i;
}

/*
 * Classifies line s of n bytes (no line end).  *have_prev is inih's
 * "previous name" state: set by a key line, cleared by a section line.
 */
static void
classify(const char *s, size_t n, int first, int *have_prev,
    struct lparse *lp)
{
	size_t start = 0, t, e, x;

	memset(lp, 0, sizeof *lp);
	n = strnlen(s, n);
	if (first && n >= 3 && (unsigned char)s[0] == 0xef &&
	    (unsigned char)s[1] == 0xbb && (unsigned char)s[2] == 0xbf)
		start = 3;
	e = n;
	while (e > start && is_ws((unsigned char)s[e - 1]))
		e--;
	t = start;
	while (t < e && is_ws((unsigned char)s[t]))
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
	while (lp->ne > lp->ns && is_ws((unsigned char)s[lp->ne - 1]))
		lp->ne--;
	lp->ve = find_sep(s, x + 1, e, NULL);
	lp->vs = x + 1;
	while (lp->vs < lp->ve && is_ws((unsigned char)s[lp->vs]))
		lp->vs++;
	while (lp->ve > lp->vs && is_ws((unsigned char)s[lp->ve - 1]))
		lp->ve--;
	*have_prev = lp->ne > lp->ns;
}

/* 1 for a name as in [profile NAME]: [A-Za-z0-9_.-]+. */
static int
id_valid(const char *s, size_t n)
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
static int
split_section(const char *s, size_t n, size_t *ks, size_t *ke, size_t *ns,
    size_t *ne)
{
	size_t i = 0, k;

	while (i < n && is_ws((unsigned char)s[i]))
		i++;
	while (n > i && is_ws((unsigned char)s[n - 1]))
		n--;
	*ks = i;
	while (i < n && !is_ws((unsigned char)s[i]))
		i++;
	*ke = i;
	while (i < n && is_ws((unsigned char)s[i]))
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

/*
 * The reader handed to ini_parse_stream(): one line of the file per
 * call, refused (parsing stops) when inih would cut it or misread it.
 */
struct src {
	FILE			*fp;
	const char		*path;
	enum dm_errcode		 code;	/* DM_EDATA for a sidecar */
	int			 lineno;
	int			 have_prev;
	struct lparse		 lp;	/* the current line */
	char			 line[DM_INI_LINE_MAX + 2];
	int			 failed;
	struct dm_err		*err;
	/* Called for each section line; -1 stops the parse. */
	int			(*section)(void *, const char *, size_t);
	void			*arg;
};

static int __attribute__((format(printf, 3, 4)))
src_err(struct src *src, enum dm_errcode code, const char *fmt, ...)
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
		src_err(src, src->code, _("line longer than %zu characters"),
		    limit);
		if (src->code == DM_ECONFIG)
			dm_err_hint(src->err, _("for a long password use password_command, for a long template text indented continuation lines"));
		else
			dm_err_hint(src->err, _("go on over indented continuation lines, each one a new line of the value"));
		return NULL;
	}
	if (nul) {
		src_err(src, src->code, _("line holds a NUL byte"));
		return NULL;
	}
	memcpy(str, src->line, len);
	str[len] = '\0';
	classify(str, len, src->lineno == 1, &src->have_prev, &src->lp);
	switch (src->lp.kind) {
	case L_NOEQ:
		src_err(src, src->code, _("syntax error"));
		dm_err_hint(src->err, _("expected 'key = value', a [section] line or a comment starting with ';' or '#'"));
		return NULL;
	case L_BADSECTION:
		src_err(src, src->code, _("syntax error"));
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
static int
parse(struct src *src, ini_handler handler, void *arg)
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
static char *
expand_home(const char *v, struct dm_err *err)
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
static int
fingerprint_norm(const char *v, char out[FPR_LEN + 1])
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

static int
bool_parse(const char *v, int *out)
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
static int
email_ok(const char *v)
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

static int
host_ok(const char *v)
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
	k = split_section(s, n, &ks, &ke, &ns, &ne);
	if (k == -1) {
		src_err(src, DM_ECONFIG, _("unknown section '[%.*s]'"), (int)n, s);
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
		src_err(src, DM_ECONFIG, _("section '[%s]' has no name"), kinds[k]);
		return dm_err_hint(src->err, _("write [%s NAME], e.g. [%s default]"),
		    kinds[k], kinds[k]);
	}
	if (!id_valid(s + ns, ne - ns)) {
		src_err(src, DM_ECONFIG, _("invalid name '%.*s' in section '[%s]'"),
		    (int)(ne - ns), s + ns, kinds[k]);
		return dm_err_hint(src->err, _("a name is up to %d letters, digits, '_', '-' and '.'"), ID_MAX);
	}
	memcpy(id, s + ns, ne - ns);
	id[ne - ns] = '\0';

	if (k == 0) {
		for (i = 0; i < cfg->nprofiles; i++)
			if (strcmp(cfg->profiles[i].id, id) == 0) {
				src_err(src, DM_ECONFIG, _("duplicate section '[profile %s]' (first at line %d)"),
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
			src_err(src, DM_ECONFIG, _("duplicate section '[template %s]' (first at line %d)"),
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
	if ((p = home ? expand_home(v, err) : dm_strdup(v, err)) == NULL)
		return -1;
	*dst = p;
	return 0;
}

/*
 * An identity provider's address: https, or http to this machine only
 * (a self-hosted test provider); a token must not cross a network in
 * clear.
 */
static int
oauth2_url_ok(const char *v)
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
static int
auth_conflict(const struct dm_profile *p, struct dm_err *err)
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

static int
oauth2_provider_ok(const char *v)
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
		src_err(src, DM_ECONFIG,
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

	/* What a save refuses is refused here too (see unstorable()). */
	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f) {
			src_err(src, DM_ECONFIG,
			    _("the value of %s holds a control character"),
			    pkeys[k]);
			return dm_err_hint(src->err, _("remove it (a tab is fine)"));
		}
	switch (k) {
	case K_NAME:
		return set_str(&p->name, v, 0, src->err);
	case K_EMAIL:
		if (*v != '\0' && !email_ok(v)) {
			src_err(src, DM_ECONFIG, _("invalid email '%s'"), v);
			return dm_err_hint(src->err, _("write the bare address, e.g. 'email = anna@example.com'; the display name goes into 'name'"));
		}
		return set_str(&p->email, v, 0, src->err);
	case K_HOST:
		if (*v != '\0' && !host_ok(v)) {
			src_err(src, DM_ECONFIG, _("invalid host '%s'"), v);
			return dm_err_hint(src->err, _("write the server's name alone, e.g. 'host = smtp.example.com'"));
		}
		return set_str(&p->host, v, 0, src->err);
	case K_PORT:
		p->port = 0;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 1, 65535, &n) == -1) {
			src_err(src, DM_ECONFIG, _("invalid port '%s'"), v);
			return dm_err_hint(src->err, _("port is a number from 1 to 65535, usually 465 for ssl and 587 for starttls"));
		}
		p->port = (int)n;
		return 0;
	case K_SECURITY:
		p->security = DM_SEC_STARTTLS;
		if (*v != '\0' && dm_security_parse(v, &p->security) == -1) {
			src_err(src, DM_ECONFIG, _("invalid security '%s' (expected ssl, starttls or none)"), v);
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
		if (fingerprint_norm(v, fpr) == -1) {
			src_err(src, DM_ECONFIG, _("invalid tls_fingerprint '%s'"), v);
			return dm_err_hint(src->err, _("write 'sha256:' and 32 hex byte pairs separated by ':', as 'openssl x509 -noout -fingerprint -sha256' prints them"));
		}
		return set_str(&p->tls_fingerprint, fpr, 0, src->err);
	case K_TIMEOUT:
		p->timeout = DM_TIMEOUT_DEFAULT;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 1, 3600, &n) == -1) {
			src_err(src, DM_ECONFIG, _("invalid timeout '%s'"), v);
			return dm_err_hint(src->err, _("timeout is a number of seconds from 1 to 3600"));
		}
		p->timeout = (int)n;
		return 0;
	case K_MAX_PER_MINUTE:
		p->max_per_minute = 0;
		if (*v == '\0')
			return 0;
		if (dm_strtonum(v, 0, DM_MAX_PER_MINUTE_MAX, &n) == -1) {
			src_err(src, DM_ECONFIG, _("invalid max_per_minute '%s'"), v);
			return dm_err_hint(src->err, _("max_per_minute is a number of messages a minute from 1 to %d, or 0 for no pacing"),
			    DM_MAX_PER_MINUTE_MAX);
		}
		p->max_per_minute = (int)n;
		return 0;
	case K_ALLOW_FROM_OVERRIDE:
		p->allow_from_override = 1;
		if (*v != '\0' &&
		    bool_parse(v, &p->allow_from_override) == -1) {
			src_err(src, DM_ECONFIG, _("invalid allow_from_override '%s' (expected yes or no)"), v);
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
			src_err(src, DM_ECONFIG, _("invalid auth '%s' (expected password, oauth2 or none)"), v);
			return dm_err_hint(src->err, _("password logs in with user and password, oauth2 with an access token (Microsoft 365, Gmail), none does not log in"));
		}
		return 0;
	case K_OAUTH2_PROVIDER:
		if (*v != '\0' && !oauth2_provider_ok(v)) {
			src_err(src, DM_ECONFIG, _("invalid oauth2_provider '%s' (expected microsoft, google or custom)"), v);
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
		if (*v != '\0' && !oauth2_url_ok(v)) {
			src_err(src, DM_ECONFIG, _("invalid %s '%s'"), pkeys[k], v);
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

	src_err(src, DM_ECONFIG, _("unknown key '%s' in [%s %s]"), name, kind, id);
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
		src_err(src, DM_ECONFIG, _("duplicate key '%s' in [%s %s] (first at line %d)"),
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
		src_err(src, DM_ECONFIG, _("indented line continues '%s' of line %d"),
		    name, st->lastline);
		dm_err_hint(src->err, _("only template subject and body may go on over indented lines; remove the indentation"));
		goto fail;
	}
	switch (st->kind) {
	case S_NONE:
		src_err(src, DM_ECONFIG, _("key '%s' is outside any section"), name);
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
	if (parse(&st.src, config_handler, &st) == -1)
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
		if (auth_conflict(p, err) == -1) {
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

/*
 * Profiles in memory.
 */

void
dm_profile_init(struct dm_profile *p)
{
	memset(p, 0, sizeof *p);
	p->port = 0;
	p->security = DM_SEC_STARTTLS;
	dm_secret_init(&p->password);
	p->timeout = DM_TIMEOUT_DEFAULT;
	p->allow_from_override = 1;
}

int
dm_profile_copy(struct dm_profile *dst, const struct dm_profile *src,
    struct dm_err *err)
{
	char **const fields[] = {
		&dst->id, &dst->name, &dst->email, &dst->host, &dst->user,
		&dst->password_command, &dst->ca_file, &dst->tls_fingerprint,
		&dst->sent_maildir, &dst->documents_dir, &dst->oauth2_provider,
		&dst->oauth2_client_id, &dst->oauth2_client_secret,
		&dst->oauth2_tenant, &dst->oauth2_scope,
		&dst->oauth2_device_url, &dst->oauth2_auth_url,
		&dst->oauth2_token_url, &dst->oauth2_token_command,
	};
	size_t i;
	int fail = 0;

	*dst = *src;
	dm_secret_init(&dst->password);
	/* dst's pointers are src's for now: replace each by a copy. */
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (*fields[i] != NULL &&
		    (*fields[i] = strdup(*fields[i])) == NULL)
			fail = 1;
	if (!fail && dm_secret_isset(&src->password) &&
	    dm_secret_set(&dst->password, src->password.s, src->password.len,
	    err) == -1)
		fail = 1;
	if (fail) {
		/* Every field is a copy or NULL: the loop went on to the end. */
		dm_profile_release(dst);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	return 0;
}

void
dm_profile_release(struct dm_profile *p)
{
	free(p->id);
	free(p->name);
	free(p->email);
	free(p->host);
	free(p->user);
	dm_secret_release(&p->password);
	free(p->password_command);
	free(p->ca_file);
	free(p->tls_fingerprint);
	free(p->sent_maildir);
	free(p->documents_dir);
	free(p->oauth2_provider);
	free(p->oauth2_client_id);
	if (p->oauth2_client_secret != NULL)
		explicit_bzero(p->oauth2_client_secret,
		    strlen(p->oauth2_client_secret));
	free(p->oauth2_client_secret);
	free(p->oauth2_tenant);
	free(p->oauth2_scope);
	free(p->oauth2_device_url);
	free(p->oauth2_auth_url);
	free(p->oauth2_token_url);
	free(p->oauth2_token_command);
	dm_profile_init(p);
}

int
dm_profile_port(const struct dm_profile *p)
{
	if (p->port != 0)
		return p->port;
	switch (p->security) {
	case DM_SEC_SSL:
		return 465;
	case DM_SEC_NONE:
		return 25;
	case DM_SEC_STARTTLS:
		break;
	}
	return 587;
}

const char *
dm_security_name(enum dm_security sec)
{
	switch (sec) {
	case DM_SEC_SSL:
		return "ssl";
	case DM_SEC_NONE:
		return "none";
	case DM_SEC_STARTTLS:
		break;
	}
	return "starttls";
}

int
dm_security_parse(const char *s, enum dm_security *out)
{
	if (strcasecmp(s, "ssl") == 0)
		*out = DM_SEC_SSL;
	else if (strcasecmp(s, "starttls") == 0)
		*out = DM_SEC_STARTTLS;
	else if (strcasecmp(s, "none") == 0)
		*out = DM_SEC_NONE;
	else
		return -1;
	return 0;
}

enum dm_auth
dm_profile_auth(const struct dm_profile *p)
{
	if (p->auth != DM_AUTH_DEFAULT)
		return p->auth;
	return p->user != NULL && *p->user != '\0' ? DM_AUTH_PASSWORD :
	    DM_AUTH_NONE;
}

const char *
dm_auth_name(enum dm_auth a)
{
	switch (a) {
	case DM_AUTH_OAUTH2:
		return "oauth2";
	case DM_AUTH_NONE:
		return "none";
	default:
		break;
	}
	return "password";
}

int
dm_auth_parse(const char *s, enum dm_auth *out)
{
	if (strcasecmp(s, "password") == 0)
		*out = DM_AUTH_PASSWORD;
	else if (strcasecmp(s, "oauth2") == 0)
		*out = DM_AUTH_OAUTH2;
	else if (strcasecmp(s, "none") == 0)
		*out = DM_AUTH_NONE;
	else
		return -1;
	return 0;
}

int
dm_profile_password(const struct dm_profile *p, struct dm_secret *out,
    int *need_prompt, struct dm_err *err)
{
	*need_prompt = 0;
	/* Only an explicit "none": without user the callers never ask. */
	switch (p->auth) {
	case DM_AUTH_NONE:
		return 0;
	case DM_AUTH_OAUTH2:
		return 0;	/* a token, at AUTH: see dm_deliver_token() */
	default:
		break;
	}
	if (dm_secret_isset(&p->password))
		return dm_secret_set(out, p->password.s, p->password.len, err);
	if (p->password_command != NULL && p->password_command[0] != '\0')
		return dm_secret_from_command(out, p->password_command, err);
	*need_prompt = 1;
	return 0;
}

/*
 * Why inih would not read v back as "key = v", or NULL when it would.
 * *fix is what to do about it.
 */
static const char *
unstorable(const char *key, const char *v, size_t len, const char **fix,
    char *tmp, size_t tmpsize)
{
	size_t i;

	*fix = NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		/* A tab inside reads back (the loader takes it too). */
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*fix = _("remove the line breaks and other control characters");
			return _("it holds a control character (such as a line break)");
		}
	}
	if (is_ws((unsigned char)v[0])) {
		*fix = _("remove the space at the start");
		return _("it begins with a space");
	}
	if (is_ws((unsigned char)v[len - 1])) {
		*fix = _("remove the space at the end");
		return _("it ends with a space");
	}
	/*
	 * "key = ;x" is an inline comment; "key = #x" is not ('#' starts a
	 * comment at the start of a line only) and the loader takes it.
	 */
	if (v[0] == ';') {
		*fix = _("the file would read it as a comment");
		return _("it begins with ';'");
	}
	for (i = 1; i < len; i++)
		if (v[i] == ';' && is_ws((unsigned char)v[i - 1])) {
			*fix = _("the file would read the rest as a comment; remove the space before ';'");
			return _("it holds ' ;', which starts a comment");
		}
	if (strlen(key) + 3 + len > LINE_MAX_CHARS) {
		(void)snprintf(tmp, tmpsize, _("it is longer than %zu characters"),
		    LINE_MAX_CHARS - strlen(key) - 3);
		*fix = _("shorten it");
		return tmp;
	}
	return NULL;
}

static int
check_storable(const struct dm_profile *p, int k, const char *v,
    struct dm_err *err)
{
	const char *why, *fix;
	char tmp[80];
	size_t len;

	if (v == NULL || *v == '\0')
		return 0;
	len = k == K_PASSWORD ? p->password.len : strlen(v);
	if (k == K_PASSWORD && strlen(v) != len) {
		why = _("it holds a NUL byte");
		fix = NULL;
	} else if ((why = unstorable(pkeys[k], v, len, &fix, tmp,
	    sizeof tmp)) == NULL)
		return 0;
	if (k == K_PASSWORD) {
		/* Never the value: this message may end up on a screen. */
		dm_err_set(err, DM_ECONFIG, _("cannot save the password of profile '%s': %s"),
		    p->id, why);
		return dm_err_hint(err, _("use password_command (e.g. 'pass show mail/anna') for such passwords"));
	}
	dm_err_set(err, DM_ECONFIG, _("cannot save '%s' of profile '%s': %s"),
	    pkeys[k], p->id, why);
	if (fix != NULL)
		dm_err_hint(err, "%s", fix);
	return -1;
}

int
dm_profile_validate(const struct dm_profile *p, struct dm_err *err)
{
	char fpr[FPR_LEN + 1];
	const char *v[NPKEYS];
	int k;

	if (p->id == NULL || !id_valid(p->id, strlen(p->id))) {
		dm_err_set(err, DM_ECONFIG, _("invalid profile name '%s'"),
		    p->id != NULL ? p->id : "");
		return dm_err_hint(err, _("a name is up to %d letters, digits, '_', '-' and '.'"), ID_MAX);
	}
	if (p->host == NULL || *p->host == '\0') {
		dm_err_set(err, DM_ECONFIG, _("profile '%s' has no 'host'"), p->id);
		return dm_err_hint(err, _("enter the SMTP server's name, e.g. smtp.example.com"));
	}
	if (p->email == NULL || *p->email == '\0') {
		dm_err_set(err, DM_ECONFIG, _("profile '%s' has no 'email'"), p->id);
		return dm_err_hint(err, _("enter your email address, e.g. you@example.com"));
	}

	memset(v, 0, sizeof v);
	v[K_NAME] = p->name;
	v[K_EMAIL] = p->email;
	v[K_HOST] = p->host;
	v[K_USER] = p->user;
	v[K_PASSWORD] = p->password.s;
	v[K_PASSWORD_COMMAND] = p->password_command;
	v[K_CA_FILE] = p->ca_file;
	v[K_TLS_FINGERPRINT] = p->tls_fingerprint;
	v[K_SENT_MAILDIR] = p->sent_maildir;
	v[K_DOCUMENTS_DIR] = p->documents_dir;
	v[K_OAUTH2_PROVIDER] = p->oauth2_provider;
	v[K_OAUTH2_CLIENT_ID] = p->oauth2_client_id;
	v[K_OAUTH2_CLIENT_SECRET] = p->oauth2_client_secret;
	v[K_OAUTH2_TENANT] = p->oauth2_tenant;
	v[K_OAUTH2_SCOPE] = p->oauth2_scope;
	v[K_OAUTH2_DEVICE_URL] = p->oauth2_device_url;
	v[K_OAUTH2_AUTH_URL] = p->oauth2_auth_url;
	v[K_OAUTH2_TOKEN_URL] = p->oauth2_token_url;
	v[K_OAUTH2_TOKEN_COMMAND] = p->oauth2_token_command;
	for (k = 0; k < NPKEYS; k++)
		if (check_storable(p, k, v[k], err) == -1)
			return -1;

	if (!email_ok(p->email)) {
		dm_err_set(err, DM_ECONFIG, _("invalid email '%s' in profile '%s'"),
		    p->email, p->id);
		return dm_err_hint(err, _("enter the bare address, e.g. anna@example.com; the display name goes into 'name'"));
	}
	if (!host_ok(p->host)) {
		dm_err_set(err, DM_ECONFIG, _("invalid host '%s' in profile '%s'"),
		    p->host, p->id);
		return dm_err_hint(err, _("enter the server's name alone, e.g. smtp.example.com"));
	}
	if (p->port < 0 || p->port > 65535) {
		dm_err_set(err, DM_ECONFIG, _("invalid port %d in profile '%s'"),
		    p->port, p->id);
		return dm_err_hint(err, _("port is a number from 1 to 65535, usually 465 for ssl and 587 for starttls"));
	}
	if (p->timeout < 1 || p->timeout > 3600) {
		dm_err_set(err, DM_ECONFIG, _("invalid timeout %d in profile '%s'"),
		    p->timeout, p->id);
		return dm_err_hint(err, _("timeout is a number of seconds from 1 to 3600"));
	}
	if (p->max_per_minute < 0 ||
	    p->max_per_minute > DM_MAX_PER_MINUTE_MAX) {
		dm_err_set(err, DM_ECONFIG,
		    _("invalid max_per_minute %d in profile '%s'"),
		    p->max_per_minute, p->id);
		return dm_err_hint(err, _("max_per_minute is a number of messages a minute from 1 to %d, or 0 for no pacing"),
		    DM_MAX_PER_MINUTE_MAX);
	}
	if (p->security != DM_SEC_STARTTLS && p->security != DM_SEC_SSL &&
	    p->security != DM_SEC_NONE) {
		return dm_err_set(err, DM_EINTERNAL,
		    _("invalid security %d in profile '%s'"), (int)p->security,
		    p->id);
	}
	if (p->tls_fingerprint != NULL && *p->tls_fingerprint != '\0' &&
	    fingerprint_norm(p->tls_fingerprint, fpr) == -1) {
		dm_err_set(err, DM_ECONFIG, _("invalid tls_fingerprint '%s' in profile '%s'"),
		    p->tls_fingerprint, p->id);
		return dm_err_hint(err, _("write 'sha256:' and 32 hex byte pairs separated by ':'"));
	}
	if (p->oauth2_provider != NULL && *p->oauth2_provider != '\0' &&
	    !oauth2_provider_ok(p->oauth2_provider)) {
		dm_err_set(err, DM_ECONFIG, _("invalid oauth2_provider '%s' in profile '%s'"),
		    p->oauth2_provider, p->id);
		return dm_err_hint(err, _("microsoft, google or custom"));
	}
	for (k = K_OAUTH2_DEVICE_URL; k <= K_OAUTH2_TOKEN_URL; k++)
		if (v[k] != NULL && *v[k] != '\0' && !oauth2_url_ok(v[k])) {
			dm_err_set(err, DM_ECONFIG, _("invalid %s '%s' in profile '%s'"),
			    pkeys[k], v[k], p->id);
			return dm_err_hint(err, _("write the identity provider's https:// address (http:// only to this machine)"));
		}
	return auth_conflict(p, err);
}

/*
 * Saving.
 */

struct fline {
	size_t		 off;		/* in the file's bytes */
	size_t		 len;		/* without the line end */
	size_t		 eol;		/* 0, 1 (LF) or 2 (CRLF) */
	struct lparse	 lp;
};

/*
 * The text a save writes for key k, or NULL when the key is to be
 * absent.  present: the section already has the key.
 */
static const char *
key_text(const struct dm_profile *p, int k, int present, char *tmp,
    size_t tmpsize)
{
	const char *s = NULL;

	switch (k) {
	case K_NAME:
		s = p->name;
		break;
	case K_EMAIL:
		s = p->email;
		break;
	case K_HOST:
		s = p->host;
		break;
	case K_PORT:
		if (p->port == 0)
			return NULL;
		(void)snprintf(tmp, tmpsize, "%d", p->port);
		return tmp;
	case K_SECURITY:
		/* Always written: which TLS mode is in use should be plain. */
		return dm_security_name(p->security);
	case K_USER:
		s = p->user;
		break;
	case K_PASSWORD:
		s = p->password.s;
		break;
	case K_PASSWORD_COMMAND:
		s = p->password_command;
		break;
	case K_CA_FILE:
		s = p->ca_file;
		break;
	case K_TLS_FINGERPRINT:
		s = p->tls_fingerprint;
		break;
	case K_TIMEOUT:
		if (p->timeout == DM_TIMEOUT_DEFAULT && !present)
			return NULL;
		(void)snprintf(tmp, tmpsize, "%d", p->timeout);
		return tmp;
	case K_MAX_PER_MINUTE:
		if (p->max_per_minute == 0 && !present)
			return NULL;
		(void)snprintf(tmp, tmpsize, "%d", p->max_per_minute);
		return tmp;
	case K_ALLOW_FROM_OVERRIDE:
		if (p->allow_from_override && !present)
			return NULL;
		return p->allow_from_override ? "yes" : "no";
	case K_SENT_MAILDIR:
		s = p->sent_maildir;
		break;
	case K_DOCUMENTS_DIR:
		s = p->documents_dir;
		break;
	case K_AUTH:
		/* Only when chosen: the default follows user, as before. */
		if (p->auth == DM_AUTH_DEFAULT)
			return NULL;
		return dm_auth_name(p->auth);
	case K_OAUTH2_PROVIDER:
		s = p->oauth2_provider;
		break;
	case K_OAUTH2_CLIENT_ID:
		s = p->oauth2_client_id;
		break;
	case K_OAUTH2_CLIENT_SECRET:
		s = p->oauth2_client_secret;
		break;
	case K_OAUTH2_TENANT:
		s = p->oauth2_tenant;
		break;
	case K_OAUTH2_SCOPE:
		s = p->oauth2_scope;
		break;
	case K_OAUTH2_DEVICE_URL:
		s = p->oauth2_device_url;
		break;
	case K_OAUTH2_AUTH_URL:
		s = p->oauth2_auth_url;
		break;
	case K_OAUTH2_TOKEN_URL:
		s = p->oauth2_token_url;
		break;
	case K_OAUTH2_TOKEN_COMMAND:
		s = p->oauth2_token_command;
		break;
	}
	return s != NULL && *s != '\0' ? s : NULL;
}

/* 1 when old text (as in the file) means the same as the new text. */
static int
same_value(int k, const char *old, const char *new)
{
	char fa[FPR_LEN + 1], fb[FPR_LEN + 1];
	enum dm_security sa, sb;
	enum dm_auth aa, ab;
	long long na, nb;
	int ba, bb, same;
	char *ea, *eb;

	switch (k) {
	case K_PORT:
	case K_TIMEOUT:
		return dm_strtonum(old, 1, 65535, &na) == 0 &&
		    dm_strtonum(new, 1, 65535, &nb) == 0 && na == nb;
	case K_MAX_PER_MINUTE:
		return dm_strtonum(old, 0, DM_MAX_PER_MINUTE_MAX, &na) == 0 &&
		    dm_strtonum(new, 0, DM_MAX_PER_MINUTE_MAX, &nb) == 0 &&
		    na == nb;
	case K_SECURITY:
		return dm_security_parse(old, &sa) == 0 &&
		    dm_security_parse(new, &sb) == 0 && sa == sb;
	case K_AUTH:
		return dm_auth_parse(old, &aa) == 0 &&
		    dm_auth_parse(new, &ab) == 0 && aa == ab;
	case K_ALLOW_FROM_OVERRIDE:
		return bool_parse(old, &ba) == 0 && bool_parse(new, &bb) == 0 &&
		    ba == bb;
	case K_TLS_FINGERPRINT:
		return fingerprint_norm(old, fa) == 0 &&
		    fingerprint_norm(new, fb) == 0 && strcmp(fa, fb) == 0;
	case K_CA_FILE:
	case K_SENT_MAILDIR:
	case K_DOCUMENTS_DIR:
		ea = expand_home(old, NULL);
		eb = expand_home(new, NULL);
		same = ea != NULL && eb != NULL && strcmp(ea, eb) == 0;
		free(ea);
		free(eb);
		return same;
	}
	return strcmp(old, new) == 0;
}

static int
add_eol(struct dm_buf *out, int crlf, struct dm_err *err)
{
	return dm_buf_addstr(out, crlf ? "\r\n" : "\n", err);
}

/* Copies line l as it is; a last line without its end gets one. */
static int
copy_line(struct dm_buf *out, const char *data, const struct fline *l,
    int crlf, struct dm_err *err)
{
	if (dm_buf_add(out, data + l->off, l->len + l->eol, err) == -1)
		return -1;
	return l->eol == 0 ? add_eol(out, crlf, err) : 0;
}

static int
new_key_line(struct dm_buf *out, int k, const char *v, int crlf,
    struct dm_err *err)
{
	if (dm_buf_addf(out, err, "%s = %s", pkeys[k], v) == -1)
		return -1;
	return add_eol(out, crlf, err);
}

/*
 * Rewrites key line l with value v, keeping what surrounds the old
 * value: the spacing around '=' and an inline comment.
 */
static int
rewrite_line(struct dm_buf *out, const char *data, const struct fline *l,
    int k, const char *v, int crlf, struct dm_err *err)
{
	const char *s = data + l->off;
	size_t pre = l->lp.vs, post = l->len - l->lp.ve;
	int space_before, space_after;

	/* "user =" had no value: "user = anna", not "user =anna". */
	space_before = l->lp.vs == l->lp.ve && pre > 0 &&
	    !is_ws((unsigned char)s[pre - 1]);
	space_after = post > 0 && s[l->lp.ve] == ';';
	if (pre + (size_t)space_before + strlen(v) + (size_t)space_after +
	    post > LINE_MAX_CHARS) {
		/* The comment must go rather than the value be cut. */
		if (dm_buf_addf(out, err, "%s = %s", pkeys[k], v) == -1)
			return -1;
	} else if (dm_buf_add(out, s, pre, err) == -1 ||
	    (space_before && dm_buf_addc(out, ' ', err) == -1) ||
	    dm_buf_addstr(out, v, err) == -1 ||
	    (space_after && dm_buf_addc(out, ' ', err) == -1) ||
	    dm_buf_add(out, s + l->lp.ve, post, err) == -1)
		return -1;
	if (l->eol == 0)
		return add_eol(out, crlf, err);
	return dm_buf_add(out, s + l->len, l->eol, err);
}

/* The error of a failed write_atomic(): what, why, and what to do. */
static int
write_failed(struct dm_err *err, const char *path, int e)
{
	dm_err_set(err, DM_EIO, _("cannot write '%s': %s"),
	    DM_ERR_PATH(path), strerror(e));
	if (e == ENOSPC || e == EDQUOT || e == EFBIG)
		return dm_err_hint(err, _("free some disk space, then save again; the file is as it was"));
	if (e == EIO)
		return dm_err_hint(err, _("the disk reported an error; check it (dmesg); the file is as it was"));
	return dm_err_hint(err, _("check the permissions of the file and its directory; the file is as it was"));
}

/*
 * Replaces path with data through the core's one durable writer
 * (file.c): a temporary file beside it, mode 0600, synced, renamed,
 * then the directory synced.  Until the rename the old file stays as it
 * was; after it, a failure says the new file is in place.
 */
static int
write_atomic(const char *path, const char *data, size_t len,
    struct dm_err *err)
{
	char *dir = NULL, tmp[PATH_MAX];
	const char *slash, *base;
	unsigned int rnd;
	int fd = -1, made = 0, r = -1, tries, e;

	if ((slash = strrchr(path, '/')) == NULL) {
		dir = dm_strdup(".", err);
		base = path;
	} else {
		dir = slash == path ? dm_strdup("/", err) :
		    strndup(path, (size_t)(slash - path));
		base = slash + 1;
		if (dir == NULL)
			dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	if (dir == NULL)
		return -1;
	if (*base == '\0') {
		dm_err_set(err, DM_EIO, _("cannot write '%s': %s"),
		    DM_ERR_PATH(path), strerror(EISDIR));
		goto out;
	}
	if (dm_file_mkdirs(dir) == -1) {
		dm_err_set(err, DM_EIO, _("cannot create directory '%s': %s"),
		    DM_ERR_PATH(dir), strerror(errno));
		goto out;
	}
	/* A name of our own beside it; another save's is never reused. */
	for (tries = 0;; tries++) {
		if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
			rnd = (unsigned int)time(NULL) ^ (unsigned int)tries;
		if (snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%08x", dir, base,
		    (long)getpid(), rnd) >= (int)sizeof tmp) {
			dm_err_set(err, DM_EIO, _("cannot write '%s': %s"),
			    DM_ERR_PATH(path), strerror(ENAMETOOLONG));
			goto out;
		}
		if (dm_file_begin_tmp(&fd, tmp, data, len, &made) == 0)
			break;
		e = errno;
		if (fd != -1)
			close(fd);
		fd = -1;
		if (made)
			(void)unlink(tmp);
		made = 0;
		if (e != EEXIST || tries >= 8) {
			write_failed(err, path, e);
			goto out;
		}
	}
	if (dm_file_publish(&fd, tmp, path, dir, &made) == -1) {
		e = errno;
		if (made)
			write_failed(err, path, e);
		else {
			/* Renamed: the new file is there, maybe not for good. */
			dm_err_set(err, DM_EIO, _("'%s' was saved, but not made durable: %s"),
			    DM_ERR_PATH(path), strerror(e));
			dm_err_hint(err, _("the new file is in place; check the disk (dmesg): a crash now could bring back the old one"));
		}
		goto out;
	}
	r = 0;
out:
	if (fd != -1)
		close(fd);
	if (made)
		(void)unlink(tmp);
	free(dir);
	return r;
}

/* Reads all of path into b; a missing file leaves b empty. */
static int
read_whole(const char *path, struct dm_buf *b, struct dm_err *err)
{
	char chunk[4096];
	struct stat sb;
	ssize_t n;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return 0;
		return dm_err_set(err, DM_EIO, _("cannot read '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
	}
	if (fstat(fd, &sb) == -1) {
		dm_err_set(err, DM_EIO, _("cannot read '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		dm_err_set(err, DM_EIO, _("cannot write '%s': %s"),
		    DM_ERR_PATH(path),
		    strerror(S_ISDIR(sb.st_mode) ? EISDIR : EINVAL));
		goto out;
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof chunk)) == -1) {
			if (errno == EINTR)
				continue;
			dm_err_set(err, DM_EIO, _("cannot read '%s': %s"),
			    DM_ERR_PATH(path), strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > FILE_MAX) {
			dm_err_set(err, DM_EIO, _("cannot read '%s': the file is larger than %d bytes"),
			    DM_ERR_PATH(path), FILE_MAX);
			goto out;
		}
		if (dm_buf_add(b, chunk, (size_t)n, err) == -1)
			goto out;
	}
	r = 0;
out:
	explicit_bzero(chunk, sizeof chunk);
	close(fd);
	return r;
}

/* Splits data into lines and classifies them as inih would. */
static int
split_lines(const char *data, size_t len, struct fline **linesp,
    size_t *nlinesp, struct dm_err *err)
{
	struct fline *lines = NULL, *l;
	size_t n = 0, cap = 0, off = 0, end;
	const char *nl;
	int have_prev = 0;

	while (off < len) {
		if (n == cap) {
			struct fline *p;

			cap = cap == 0 ? 64 : cap * 2;
			if ((p = reallocarray(lines, cap, sizeof *p)) == NULL) {
				free(lines);
				return dm_err_set(err, DM_ENOMEM,
				    _("out of memory"));
			}
			lines = p;
		}
		l = &lines[n];
		l->off = off;
		nl = memchr(data + off, '\n', len - off);
		end = nl != NULL ? (size_t)(nl - data) : len;
		l->len = end - off;
		l->eol = nl != NULL ? 1 : 0;
		if (nl != NULL && l->len > 0 && data[end - 1] == '\r') {
			l->len--;
			l->eol = 2;
		}
		classify(data + off, l->len, n == 0, &have_prev, &l->lp);
		off = end + (nl != NULL ? 1 : 0);
		n++;
	}
	*linesp = lines;
	*nlinesp = n;
	return 0;
}

/* Which of our keys key line l sets, or -1. */
static int
key_index(const char *data, const struct fline *l)
{
	size_t n = l->lp.ne - l->lp.ns;
	int k;

	for (k = 0; k < NPKEYS; k++)
		if (strlen(pkeys[k]) == n &&
		    memcmp(pkeys[k], data + l->off + l->lp.ns, n) == 0)
			return k;
	return -1;
}

/* 1 when line l is the header [profile id]. */
static int
is_profile_header(const char *data, const struct fline *l, const char *id)
{
	size_t ks, ke, ns, ne;
	const char *s = data + l->off + l->lp.ns;

	if (l->lp.kind != L_SECTION)
		return 0;
	if (split_section(s, l->lp.ne - l->lp.ns, &ks, &ke, &ns, &ne) != 0)
		return 0;
	return ne - ns == strlen(id) && memcmp(s + ns, id, ne - ns) == 0;
}

static int save_locked(const char *, const struct dm_profile *,
    struct dm_err *);

/*
 * A save reads the file, changes one section and writes it back; two
 * docmail processes saving at once (the settings screen and another)
 * would lose one's update.  A lock on the config's directory serialises
 * them: the file itself cannot carry it, since rename replaces it, and
 * a lock file would be left behind.  Without the directory there is
 * nothing to race on yet.
 */
static int
config_lock(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd = -1, n;

	n = slash != NULL ? snprintf(dir, sizeof dir, "%.*s",
	    slash == path ? 1 : (int)(slash - path), path) :
	    snprintf(dir, sizeof dir, ".");
	if (n > 0 && (size_t)n < sizeof dir &&
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
			;
	return fd;
}

int
dm_profile_save(const char *path, const struct dm_profile *p,
    struct dm_err *err)
{
	int fd = config_lock(path), r;

	r = save_locked(path, p, err);
	if (fd != -1)
		close(fd);	/* releases the lock */
	return r;
}

/*
 * key = text as the loader reads it back: the first line after "key =",
 * each further line indented on a line of its own (the loader joins
 * them with a line break), blank lines as "\n" before the next one
 * (inih skips blank lines).  A line the loader would take for something
 * else (a comment, a section) or that is too long cannot be written.
 */
static int
add_template_key(struct dm_buf *out, const char *key, const char *text,
    int crlf, struct dm_err *err)
{
	const char *p = text, *nl, *c;
	size_t len, start;
	int first = 1, blanks = 0;

	if (dm_buf_addf(out, err, "%s = ", key) == -1)
		return -1;
	/* "key =" alone would start the text on the next line anyway. */
	while (*p == '\n' || *p == '\r')
		p++;
	for (;;) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0 && !first && nl != NULL) {
			blanks++;
			p = nl + 1;
			continue;
		}
		if (!first) {
			if (len == 0) {		/* the text ends in a break */
				for (blanks++; blanks > 0; blanks--)
					if (dm_buf_addstr(out, "\\n", err) == -1)
						return -1;
				break;
			}
			if (add_eol(out, crlf, err) == -1 ||
			    dm_buf_addstr(out, "    ", err) == -1)
				return -1;
			for (; blanks > 0; blanks--)
				if (dm_buf_addstr(out, "\\n", err) == -1)
					return -1;
			if (*p == ';' || *p == '#' || *p == '[' ||
			    *p == ' ' || *p == '\t')
				return dm_err_set(err, DM_ECONFIG,
				    _("a %s line may not start with '%c' in the config file"),
				    key, *p);
		}
		start = out->len;
		for (c = p; c < p + len; c++) {
			if ((unsigned char)*c < ' ' && *c != '\t')
				return dm_err_set(err, DM_ECONFIG,
				    _("the %s holds a control character"), key);
			if ((*c == '\\' && dm_buf_addc(out, '\\', err) == -1) ||
			    dm_buf_addc(out, *c, err) == -1)
				return -1;
		}
		if (out->len - start + 8 > LINE_MAX_CHARS)
			return dm_err_set(err, DM_ECONFIG,
			    _("a %s line is too long for the config file (at most %d characters)"),
			    key, LINE_MAX_CHARS - 8);
		first = 0;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return add_eol(out, crlf, err);
}

static int
template_add_locked(const char *path, const struct dm_template *t,
    struct dm_err *err)
{
	struct dm_config cfg;
	struct dm_buf in, out;
	int r = -1, crlf;

	dm_config_init(&cfg);
	dm_buf_init(&in, FILE_MAX);
	dm_buf_init(&out, 0);
	/* Read under the lock: a template saved meanwhile stays as it is. */
	if (dm_config_load(&cfg, path, err) == -1)
		goto out;
	if (dm_config_template(&cfg, t->id) != NULL) {
		r = 0;
		goto out;
	}
	if (read_whole(path, &in, err) == -1 ||
	    dm_buf_add(&out, in.data, in.len, err) == -1)
		goto out;
	crlf = memchr(in.data, '\r', in.len) != NULL;
	if (out.len > 0 && out.data[out.len - 1] != '\n' &&
	    add_eol(&out, crlf, err) == -1)
		goto out;
	if ((out.len > 0 && add_eol(&out, crlf, err) == -1) ||
	    dm_buf_addf(&out, err, "[template %s]", t->id) == -1 ||
	    add_eol(&out, crlf, err) == -1)
		goto out;
	if (t->subject != NULL && strchr(t->subject, '\n') != NULL) {
		dm_err_set(err, DM_ECONFIG, _("a subject is one line"));
		goto out;
	}
	if ((t->subject != NULL && add_template_key(&out, "subject",
	    t->subject, crlf, err) == -1) ||
	    (t->body != NULL && add_template_key(&out, "body", t->body, crlf,
	    err) == -1))
		goto out;
	if (write_atomic(path, dm_buf_str(&out), out.len, err) == -1)
		goto out;
	/* What was written must read back as it was meant. */
	if (dm_config_load(&cfg, path, err) == -1)
		goto out;
	r = 0;
out:
	dm_config_release(&cfg);
	dm_buf_wipe(&in);
	dm_buf_wipe(&out);
	return r;
}

const struct dm_template *
dm_template_builtin(const char *name)
{
	static const struct dm_template builtin[] = {
		{ "invoice", "Invoice {{number}} from {{sender.name}}",
		  "Dear {{contact}},\n\nplease find attached our invoice "
		  "{{number}}.\n\nKind regards,\n{{sender.name}}" },
		{ "offer", "Offer {{number}} from {{sender.name}}",
		  "Dear {{contact}},\n\nplease find attached our offer "
		  "{{number}}.\n\nKind regards,\n{{sender.name}}" },
		{ "reminder", "Reminder: invoice {{number}}",
		  "Dear {{contact}},\n\nour invoice {{number}} is still open; "
		  "please find it attached again.\n\nKind regards,\n"
		  "{{sender.name}}" },
	};
	size_t i;

	for (i = 0; name != NULL && i < sizeof builtin / sizeof builtin[0];
	    i++)
		if (strcmp(builtin[i].id, name) == 0)
			return &builtin[i];
	return NULL;
}

int
dm_template_add(const char *path, const struct dm_template *t,
    struct dm_err *err)
{
	int fd, r;

	if (t->id == NULL || !id_valid(t->id, strlen(t->id)))
		return dm_err_set(err, DM_ECONFIG, _("invalid template name '%s'"),
		    t->id != NULL ? t->id : "");
	fd = config_lock(path);
	r = template_add_locked(path, t, err);
	if (fd != -1)
		close(fd);
	return r;
}

static int
save_locked(const char *path, const struct dm_profile *p,
    struct dm_err *err)
{
	struct dm_buf in, out;
	struct fline *lines = NULL, *l;
	size_t nlines = 0, i, next, hdr, end = 0, ins = 0;
	int crlf = 0, found[NPKEYS], k, r = -1;
	char tmp[32], *old = NULL;
	const char *v;

	dm_buf_init(&in, FILE_MAX);
	dm_buf_init(&out, 0);
	memset(found, 0, sizeof found);
	if (dm_profile_validate(p, err) == -1)
		goto out;
	if (read_whole(path, &in, err) == -1)
		goto out;
	if (split_lines(dm_buf_str(&in), in.len, &lines, &nlines, err) == -1)
		goto out;
	/* New lines end like the file's first line. */
	for (i = 0; i < nlines; i++)
		if (lines[i].eol != 0) {
			crlf = lines[i].eol == 2;
			break;
		}

	/*
	 * The section [hdr, end), the keys it has, and the line after
	 * which missing keys go: its last key line (or a continuation of
	 * it), else the header.
	 */
	for (hdr = 0; hdr < nlines; hdr++)
		if (is_profile_header(in.data, &lines[hdr], p->id))
			break;
	if (hdr < nlines) {
		ins = hdr;
		for (end = hdr + 1; end < nlines; end++) {
			l = &lines[end];
			if (l->lp.kind == L_SECTION)
				break;
			if (l->lp.kind == L_KEY || l->lp.kind == L_CONT)
				ins = end;
			if (l->lp.kind == L_KEY &&
			    (k = key_index(in.data, l)) != -1)
				found[k] = 1;
		}
	}

	for (i = 0; i < nlines; i = next) {
		l = &lines[i];
		next = i + 1;
		if (hdr >= nlines || i <= hdr || i >= end ||
		    l->lp.kind != L_KEY || (k = key_index(in.data, l)) == -1) {
			/* Not one of our keys: kept byte for byte. */
			if (copy_line(&out, in.data, l, crlf, err) == -1)
				goto out;
		} else {
			while (next < end && lines[next].lp.kind == L_CONT)
				next++;
			/* A later duplicate of a key goes. */
			v = found[k] == 1 ?
			    key_text(p, k, 1, tmp, sizeof tmp) : NULL;
			found[k] = 2;
			if ((old = strndup(in.data + l->off + l->lp.vs,
			    l->lp.ve - l->lp.vs)) == NULL) {
				dm_err_set(err, DM_ENOMEM, _("out of memory"));
				goto out;
			}
			/*
			 * An unchanged value keeps its line as it is; a
			 * changed one is rewritten without its continuation
			 * lines; an unset one goes.
			 */
			if (v != NULL && next == i + 1 &&
			    same_value(k, old, v)) {
				if (copy_line(&out, in.data, l, crlf,
				    err) == -1)
					goto out;
			} else if (v != NULL && rewrite_line(&out, in.data, l,
			    k, v, crlf, err) == -1)
				goto out;
			explicit_bzero(old, strlen(old));
			free(old);
			old = NULL;
		}
		if (hdr < nlines && ins >= i && ins < next) {
			for (k = 0; k < NPKEYS; k++)
				if (found[k] == 0 && (v = key_text(p, k, 0,
				    tmp, sizeof tmp)) != NULL &&
				    new_key_line(&out, k, v, crlf, err) == -1)
					goto out;
		}
	}
	if (hdr >= nlines) {
		if (out.len > 0 && add_eol(&out, crlf, err) == -1)
			goto out;
		if (dm_buf_addf(&out, err, "[profile %s]", p->id) == -1 ||
		    add_eol(&out, crlf, err) == -1)
			goto out;
		for (k = 0; k < NPKEYS; k++)
			if ((v = key_text(p, k, 0, tmp, sizeof tmp)) != NULL &&
			    new_key_line(&out, k, v, crlf, err) == -1)
				goto out;
	}
	if (write_atomic(path, dm_buf_str(&out), out.len, err) == -1)
		goto out;
	r = 0;
out:
	if (old != NULL) {
		explicit_bzero(old, strlen(old));
		free(old);
	}
	free(lines);
	/* Both may hold passwords. */
	dm_buf_wipe(&in);
	dm_buf_wipe(&out);
	return r;
}

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

	while (i < n && is_ws((unsigned char)s[i]))
		i++;
	while (n > i && is_ws((unsigned char)s[n - 1]))
		n--;
	st->last = -1;
	if (n - i != 8 || memcmp(s + i, "document", 8) != 0) {
		src_err(&st->src, DM_EDATA, _("unknown section '[%.*s]'"),
		    (int)(n - i), s + i);
		return dm_err_hint(st->src.err, _("a sidecar holds one [document] section of 'key = value' lines"));
	}
	if (st->doc_line != 0) {
		src_err(&st->src, DM_EDATA, _("duplicate section '[document]' (first at line %d)"),
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
			src_err(src, DM_EDATA, _("indented line continues '%s', which cannot go on over several lines"),
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
		src_err(src, DM_EDATA, _("key '%s' is outside the [document] section"),
		    name);
		dm_err_hint(src->err, _("put a line '[document]' above the keys"));
		goto fail;
	}
	st->last = -1;
	if (strcmp(name, "template") == 0) {
		if (st->template_line != 0) {
			src_err(src, DM_EDATA, _("duplicate key 'template' (first at line %d)"),
			    st->template_line);
			dm_err_hint(src->err, _("remove one of lines %d and %d"),
			    st->template_line, src->lineno);
			goto fail;
		}
		if (!id_valid(value, strlen(value))) {
			src_err(src, DM_EDATA, _("invalid template name '%s'"),
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
		src_err(src, DM_EDATA, _("invalid placeholder name '%s'"), name);
		dm_err_hint(src->err, _("a name is letters, digits, '_', '-' and '.'"));
		goto fail;
	}
	for (i = 0; i < st->n; i++)
		if (strcmp(st->v[i].name, name) == 0) {
			src_err(src, DM_EDATA, _("duplicate key '%s' (first at line %d)"),
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
	if (parse(&st.src, sidecar_handler, &st) == -1)
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

/* --- provider presets ------------------------------------------------ */

struct preset_ctx {
	const char		*domain;
	struct dm_preset	*out;
	int			 found;
};

static int
preset_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct preset_ctx *c = arg;
	struct dm_preset *p = c->out;
	long long v;

	if (strcasecmp(section, c->domain) != 0)
		return 1;
	c->found = 1;
	if (strcmp(name, "host") == 0)
		dm_strlcpy(p->host, value, sizeof p->host);
	else if (strcmp(name, "port") == 0 &&
	    dm_strtonum(value, 1, 65535, &v) == 0)
		p->port = (int)v;
	else if (strcmp(name, "security") == 0)
		(void)dm_security_parse(value, &p->security);
	else if (strcmp(name, "auth") == 0)
		(void)dm_auth_parse(value, &p->auth);
	else if (strcmp(name, "oauth2_provider") == 0)
		dm_strlcpy(p->oauth2_provider, value,
		    sizeof p->oauth2_provider);
	else if (strcmp(name, "note") == 0)
		dm_strlcpy(p->note, value, sizeof p->note);
	else if (strcmp(name, "max_per_minute") == 0 &&
	    dm_strtonum(value, 0, DM_MAX_PER_MINUTE_MAX, &v) == 0)
		p->max_per_minute = (int)v;
	return 1;
}

int
dm_preset_find(const char *path, const char *domain, struct dm_preset *out,
    struct dm_err *err)
{
	struct preset_ctx c = { domain, out, 0 };
	const char *dot;
	int r;

	if (domain == NULL || domain[0] == '\0')
		return 0;
	/*
	 * Parent domains too: Microsoft 365 tenants send from
	 * NAME.onmicrosoft.com, and one section covers them all.  A
	 * top-level name alone ("com") is never a provider.
	 */
	for (; domain != NULL && strchr(domain, '.') != NULL;
	    domain = (dot = strchr(domain, '.')) != NULL ? dot + 1 : NULL) {
		memset(out, 0, sizeof *out);
		out->security = DM_SEC_STARTTLS;
		c.domain = domain;
		c.found = 0;
		r = ini_parse(path, preset_handler, &c);
		if (r == -1)
			return dm_err_set(err, DM_ECONFIG,
			    _("cannot read the provider list '%s'"),
			    DM_ERR_PATH(path));
		if (r != 0)
			return dm_err_set(err, DM_ECONFIG,
			    _("%s:%d: syntax error"), DM_ERR_PATH(path), r);
		if (c.found && out->host[0] != '\0')
			return 1;
	}
	memset(out, 0, sizeof *out);
	out->security = DM_SEC_STARTTLS;
	return 0;
}
