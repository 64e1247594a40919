/*
 * config-write.c - saving a profile and adding a template: the file is
 * edited as lines of bytes, only values inih reads back identically are
 * written, under a lock, atomically, mode 0600
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
		return pf_bool_parse(old, &ba) == 0 && pf_bool_parse(new, &bb) == 0 &&
		    ba == bb;
	case K_TLS_FINGERPRINT:
		return pf_fingerprint_norm(old, fa) == 0 &&
		    pf_fingerprint_norm(new, fb) == 0 && strcmp(fa, fb) == 0;
	case K_CA_FILE:
	case K_SENT_MAILDIR:
	case K_DOCUMENTS_DIR:
		ea = pf_expand_home(old, NULL);
		eb = pf_expand_home(new, NULL);
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
	    !pf_is_ws((unsigned char)s[pre - 1]);
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
		dm_file_abandon(&fd, tmp, &made);
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
	dm_file_abandon(&fd, tmp, &made);
	free(dir);
	return r;
}

/* Reads all of path into b; a missing file leaves b empty. */
static int
read_whole(const char *path, struct dm_buf *b, struct dm_err *err)
{
	if (dm_file_read(path, 0, b) == 0)
		return 0;
	switch (errno) {
	case ENOENT:
		return 0;
	case EISDIR:
	case EINVAL:
		/* What is there cannot be replaced by a file. */
		return dm_err_set(err, DM_EIO, _("cannot write '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
	case EFBIG:
		return dm_err_set(err, DM_EIO, _("cannot read '%s': the file is larger than %d bytes"),
		    DM_ERR_PATH(path), FILE_MAX);
	case ENOMEM:
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	default:
		return dm_err_set(err, DM_EIO, _("cannot read '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
	}
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
		pf_classify(data + off, l->len, n == 0, &have_prev, &l->lp);
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
	if (pf_split_section(s, l->lp.ne - l->lp.ns, &ks, &ke, &ns, &ne) != 0)
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

	if (t->id == NULL || !pf_id_valid(t->id, strlen(t->id)))
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
