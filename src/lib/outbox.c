/*
 * outbox.c - the outbox (a Maildir of messages not yet accepted), the
 * sent log, and copies into a sent Maildir
 *
 * An outbox file is a block of "X-Docmail-<Name>: <value>\r\n" lines,
 * the envelope, followed by the message exactly as it is transmitted.
 * The envelope ends at the first line that does not start with
 * "X-Docmail-"; dm_outbox_add() refuses a message that starts with such
 * a line, so the message itself may hold anything.  X-Docmail-Size is
 * the length of the message proper: a file cut short by a crash or a
 * full disk fails that check and is never sent.
 *
 * Files only ever appear complete: they are written in tmp/, synced,
 * and renamed into new/ (or over the old file for an update), as the
 * Maildir and OpenSMTPD's queue_fs.c do.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/file.h>
#include <docmail/i18n.h>
#include <docmail/limits.h>
#include <docmail/outbox.h>

#define PREFIX		"X-Docmail-"
#define PREFIX_LEN	(sizeof(PREFIX) - 1)
#define SUFFIX		".docmail"
#define SUFFIX_LEN	(sizeof(SUFFIX) - 1)
#define CHUNK		(64 * 1024)
#define ENV_SIZE_DIGITS	20		/* digits of UINT64_MAX */
#define ID_MAX		64
#define TEXT_MAX	2000		/* subject, error, document */
#define NAME_MAX_ENV	998		/* profile name, Message-ID */
#define ENV_LINE_MAX	4096		/* above anything we write */
#define ENV_MAX		(8u * 1024 * 1024)	/* 30000 recipients */
#define STATE_WIDTH	10		/* "maybe-sent", the longest word */
#define STATE_FIELD	"\r\n" PREFIX "State: "

/* Envelope fields seen while parsing. */
enum {
	F_ID = 1 << 0,
	F_CREATED = 1 << 1,
	F_STATE = 1 << 2,
	F_ATTEMPTS = 1 << 3,
	F_PROFILE = 1 << 4,
	F_SENDER = 1 << 5,
	F_MSGID = 1 << 6,
	F_SUBJECT = 1 << 7,
	F_DOCUMENT = 1 << 8,
	F_ERROR = 1 << 9,
	F_SIZE = 1 << 10
};
#define F_REQUIRED	(F_ID | F_CREATED | F_STATE | F_ATTEMPTS | \
	F_PROFILE | F_SENDER | F_MSGID | F_SUBJECT | F_SIZE)

/* What loading one file gave. */
enum {
	LOAD_OK = 0,
	LOAD_BAD,	/* not a valid item: skip and count */
	LOAD_GONE	/* removed under us: skip */
};

struct reader {
	int		 fd;
	off_t		 offset;
	uint64_t	 size;
	uint64_t	 pos;
	char		*path;
};

/* A malloc'd string from a format, for paths. */
static char * __attribute__((format(printf, 2, 3)))
pathf(struct dm_err *err, const char *fmt, ...)
{
	struct dm_buf b;
	va_list ap;
	int r;

	dm_buf_init(&b, PATH_MAX);
	va_start(ap, fmt);
	r = dm_buf_vaddf(&b, err, fmt, ap);
	va_end(ap);
	if (r == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

/* The directory part of path, malloc'd ("." when there is none). */
static char *
parent_dir(const char *path, struct dm_err *err)
{
	const char *s;

	if ((s = strrchr(path, '/')) == NULL)
		return dm_strdup(".", err);
	if (s == path)
		return dm_strdup("/", err);
	return pathf(err, "%.*s", (int)(s - path), path);
}

/* The outbox of an item, DIR of DIR/new/ID or DIR/cur/ID; malloc'd. */
static char *
box_of(const struct dm_outbox_item *item, struct dm_err *err)
{
	char *sub, *box;

	if ((sub = parent_dir(item->path, err)) == NULL)
		return NULL;
	box = parent_dir(sub, err);
	free(sub);
	return box;
}

/* "<unix seconds>.<16 hex digits>": unique without any lock. */
static int
new_id(char *id, size_t size, struct dm_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[8];
	char h[2 * sizeof rnd + 1];
	size_t got = 0, i;
	ssize_t n;
	int len;

	while (got < sizeof rnd) {
		n = getrandom(rnd + got, sizeof rnd - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return dm_err_set(err, DM_EIO,
			    _("cannot get random bytes for a file name: %s"),
			    strerror(errno));
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof rnd; i++) {
		h[2 * i] = hex[rnd[i] >> 4];
		h[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	h[2 * sizeof rnd] = '\0';
	len = snprintf(id, size, "%lld.%s", (long long)time(NULL), h);
	if (len < 0 || (size_t)len >= size)
		return dm_err_set(err, DM_EINTERNAL, _("outbox id too long"));
	return 0;
}

/*
 * Checks that path is a directory we may use: a symbolic link to it is
 * fine when it is our own, since someone else's could lead our messages
 * into a directory they control.
 */
static int
check_dir(const char *path, const char *what, struct dm_err *err)
{
	struct stat st;
	char *p;
	size_t n;
	int r;

	/* lstat("link/") would follow the link: drop trailing slashes. */
	if ((p = dm_strdup(path, err)) == NULL)
		return -1;
	for (n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	r = lstat(p, &st);
	free(p);
	if (r == -1)
		return dm_err_set(err, DM_EIO, _("cannot use the %s '%s': %s"),
		    what, DM_ERR_PATH(path), strerror(errno));
	if (S_ISLNK(st.st_mode) && st.st_uid != geteuid()) {
		dm_err_set(err, DM_EIO, _("refusing to use the %s '%s': it is a symbolic link owned by another user"),
		    what, DM_ERR_PATH(path));
		return dm_err_hint(err, _("remove the link, or make it a directory of your own"));
	}
	if (stat(path, &st) == -1)
		return dm_err_set(err, DM_EIO, _("cannot use the %s '%s': %s"),
		    what, DM_ERR_PATH(path), strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		dm_err_set(err, DM_EIO, _("cannot use the %s '%s': not a directory"),
		    what, DM_ERR_PATH(path));
		return dm_err_hint(err, _("move the file '%s' out of the way"),
		    path);
	}
	return 0;
}

/* Creates dir and dir/{tmp,new,cur}, each 0700, and checks them. */
static int
ensure_maildir(const char *dir, const char *what, struct dm_err *err)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char *p = NULL;
	size_t i;
	int r = -1;

	if (dm_file_mkdirs(dir) == -1) {
		dm_err_set(err, DM_EIO, _("cannot create the %s '%s': %s"),
		    what, DM_ERR_PATH(dir), strerror(errno));
		dm_err_hint(err, _("check the permissions of '%s' and the directories above it"),
		    dir);
		goto out;
	}
	if (check_dir(dir, what, err) == -1)
		goto out;
	for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		free(p);
		if ((p = pathf(err, "%s/%s", dir, sub[i])) == NULL)
			goto out;
		if (mkdir(p, 0700) == 0) {
			if (chmod(p, 0700) == -1) {
				dm_err_set(err, DM_EIO, _("cannot create the %s '%s': %s"),
				    what, DM_ERR_PATH(p), strerror(errno));
				goto out;
			}
		} else if (errno != EEXIST) {
			dm_err_set(err, DM_EIO, _("cannot create the %s '%s': %s"),
			    what, DM_ERR_PATH(p), strerror(errno));
			dm_err_hint(err, _("check the permissions of '%s'"), dir);
			goto out;
		}
		if (check_dir(p, what, err) == -1)
			goto out;
	}
	r = 0;
out:
	free(p);
	return r;
}

/*
 * $env/leaf, or $HOME/fallback/leaf when env is unset or not absolute
 * (the XDG base directory rules).  Malloc'd.
 */
static char *
xdg_path(const char *env, const char *fallback, const char *leaf,
    const char *what, struct dm_err *err)
{
	const char *v, *home;

	if ((v = getenv(env)) != NULL && v[0] == '/')
		return pathf(err, "%s/%s", v, leaf);
	if ((home = getenv("HOME")) == NULL || home[0] == '\0') {
		dm_err_set(err, DM_ECONFIG, _("cannot find the %s: neither %s nor HOME is set"),
		    what, env);
		dm_err_hint(err, _("set HOME, or %s to an absolute directory"),
		    env);
		return NULL;
	}
	return pathf(err, "%s/%s/%s", home, fallback, leaf);
}

/*
 * 1 when s fits the envelope as a mailbox or Message-ID: printable
 * ASCII, no angle brackets, a space only inside a quoted local part
 * ("john doe"@example.test, which the addr module accepts).
 */
static int
valid_addr(const char *s, size_t max)
{
	size_t i, n;
	int q = 0;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || c == '<' || c == '>')
			return 0;
		if (c == ' ' && !q)
			return 0;
		if (c == '"')
			q = !q;
		else if (c == '\\' && q) {
			c = (unsigned char)s[i + 1];
			if (c < 0x20 || c > 0x7e || c == '<' || c == '>')
				return 0;
			i++;
		}
	}
	return !q;
}

/* 1 when s holds no control character (a profile name must round-trip). */
static int
valid_name(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return i <= max;
}

/*
 * Appends free text for listings: control characters become '?' so the
 * line cannot break, and it is cut at a UTF-8 boundary.
 */
static int
add_text(struct dm_buf *b, const char *s, struct dm_err *err)
{
	size_t n = strlen(s), i;
	unsigned char c;

	if (n > TEXT_MAX) {
		n = TEXT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (dm_buf_addc(b, c < 0x20 || c == 0x7f ? '?' : (char)c,
		    err) == -1)
			return -1;
	}
	return 0;
}

/*
 * The states, as written in X-Docmail-State and as shown to the user.
 * One table, so a state cannot be stored without being listed.
 */
static const struct {
	enum dm_outbox_state	 state;
	const char		*word;
	const char		*name;
} states[] = {
	{ DM_OB_QUEUED,		"queued",	N_("waiting") },
	{ DM_OB_MAYBE_SENT,	"maybe-sent",	N_("may have been delivered") },
	{ DM_OB_REFUSED,	"refused",	N_("refused") }
};

static const char *
state_word(enum dm_outbox_state st)
{
	size_t i;

	for (i = 0; i < sizeof states / sizeof states[0]; i++)
		if (states[i].state == st)
			return states[i].word;
	return NULL;
}

const char *
dm_outbox_state_name(enum dm_outbox_state st)
{
	size_t i;

	for (i = 0; i < sizeof states / sizeof states[0]; i++)
		if (states[i].state == st)
			return _(states[i].name);
	return _("unknown");
}

enum dm_outbox_verdict
dm_outbox_retry_verdict(enum dm_outbox_state st, int flags)
{
	switch (st) {
	case DM_OB_QUEUED:
		return DM_RETRY_SEND;
	case DM_OB_MAYBE_SENT:
		return flags & DM_RETRY_FORCE ? DM_RETRY_SEND : DM_RETRY_ASK;
	case DM_OB_REFUSED:
		/*
		 * The server will most likely refuse it again: only the
		 * user knows whether the cause was fixed, so it goes only
		 * when named, never in a sweep over the outbox.
		 */
		if (!(flags & DM_RETRY_NAMED))
			return DM_RETRY_SKIP;
		return flags & DM_RETRY_FORCE ? DM_RETRY_SEND : DM_RETRY_ASK;
	}
	return DM_RETRY_SKIP;
}

static int
bad_field(struct dm_err *err, const char *what, const char *value)
{
	char q[128];

	dm_err_set(err, DM_EDATA, _("cannot store the message in the outbox: invalid %s '%s'"),
	    what, dm_quote(q, sizeof q, value, strlen(value), sizeof q));
	return dm_err_hint(err, _("this is a bug in the caller; check the address or name"));
}

/*
 * Builds the envelope of it under id.  The Size line is last and holds
 * exactly ENV_SIZE_DIGITS digits, so dm_outbox_add() can fill it in place
 * once the message has been streamed.
 */
static int
build_envelope(struct dm_buf *b, const char *id,
    const struct dm_outbox_item *it, time_t created, uint64_t size,
    struct dm_err *err)
{
	const char *profile = it->profile != NULL ? it->profile : "";
	size_t i;

	if (!valid_addr(it->sender, DM_MAILBOX_MAX))
		return bad_field(err, _("sender address"),
		    it->sender != NULL ? it->sender : "");
	if (it->nrcpt == 0 || it->rcpt == NULL) {
		dm_err_set(err, DM_EDATA, _("cannot store the message in the outbox: no recipients"));
		return dm_err_hint(err, _("give at least one recipient"));
	}
	for (i = 0; i < it->nrcpt; i++)
		if (!valid_addr(it->rcpt[i], DM_MAILBOX_MAX))
			return bad_field(err, _("recipient address"),
			    it->rcpt[i] != NULL ? it->rcpt[i] : "");
	if (!valid_addr(it->message_id, NAME_MAX_ENV))
		return bad_field(err, "Message-ID",
		    it->message_id != NULL ? it->message_id : "");
	if (!valid_name(profile, NAME_MAX_ENV))
		return bad_field(err, _("profile name"), profile);
	if (it->attempts < 0 || state_word(it->state) == NULL)
		return dm_err_set(err, DM_EINTERNAL,
		    _("invalid outbox state or attempt count"));

	if (dm_buf_addf(b, err, PREFIX "Id: %s\r\n", id) == -1 ||
	    dm_buf_addf(b, err, PREFIX "Created: %lld\r\n",
	    (long long)created) == -1 ||
	    /* Padded: dm_outbox_update_state() rewrites it in place. */
	    dm_buf_addf(b, err, PREFIX "State: %-*s\r\n", STATE_WIDTH,
	    state_word(it->state)) == -1 ||
	    dm_buf_addf(b, err, PREFIX "Attempts: %d\r\n",
	    it->attempts) == -1 ||
	    dm_buf_addf(b, err, PREFIX "Profile: %s\r\n", profile) == -1 ||
	    dm_buf_addf(b, err, PREFIX "Sender: %s\r\n", it->sender) == -1)
		return -1;
	for (i = 0; i < it->nrcpt; i++)
		if (dm_buf_addf(b, err, PREFIX "Rcpt: %s\r\n",
		    it->rcpt[i]) == -1)
			return -1;
	if (dm_buf_addf(b, err, PREFIX "Message-Id: %s\r\n",
	    it->message_id) == -1 ||
	    dm_buf_addstr(b, PREFIX "Subject: ", err) == -1 ||
	    add_text(b, it->subject != NULL ? it->subject : "", err) == -1 ||
	    dm_buf_addstr(b, "\r\n", err) == -1)
		return -1;
	if (it->document != NULL &&
	    (dm_buf_addstr(b, PREFIX "Document: ", err) == -1 ||
	    add_text(b, it->document, err) == -1 ||
	    dm_buf_addstr(b, "\r\n", err) == -1))
		return -1;
	if (it->last_error != NULL &&
	    (dm_buf_addstr(b, PREFIX "Error: ", err) == -1 ||
	    add_text(b, it->last_error, err) == -1 ||
	    dm_buf_addstr(b, "\r\n", err) == -1))
		return -1;
	return dm_buf_addf(b, err, PREFIX "Size: %0*" PRIu64 "\r\n",
	    ENV_SIZE_DIGITS, size);
}

void
dm_outbox_item_release(struct dm_outbox_item *it)
{
	size_t i;

	if (it == NULL)
		return;
	free(it->id);
	free(it->path);
	free(it->profile);
	free(it->sender);
	for (i = 0; i < it->nrcpt; i++)
		free(it->rcpt[i]);
	free(it->rcpt);
	free(it->message_id);
	free(it->subject);
	free(it->document);
	free(it->last_error);
	memset(it, 0, sizeof *it);
}

void
dm_outbox_list_free(struct dm_outbox_item *items, size_t n)
{
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		dm_outbox_item_release(&items[i]);
	free(items);
}

/* Sets *slot to value once; a second one makes the item bad. */
static int
set_once(char **slot, unsigned int *seen, unsigned int flag,
    const char *value, struct dm_err *err)
{
	if (*seen & flag)
		return LOAD_BAD;
	*seen |= flag;
	if ((*slot = dm_strdup(value, err)) == NULL)
		return -1;
	return LOAD_OK;
}

/*
 * Parses one envelope line (with its CRLF) into it.  Returns LOAD_OK,
 * LOAD_BAD, or -1 when out of memory.  Unknown X-Docmail- fields are
 * skipped so that a later version can add some.
 */
static int
parse_line(struct dm_outbox_item *it, const char *line, size_t len,
    unsigned int *seen, uint64_t *size, struct dm_err *err)
{
	char buf[ENV_LINE_MAX + 1], *v, *colon, **rcpt;
	long long n;
	int r = LOAD_BAD;

	if (len < PREFIX_LEN + 2 || len > ENV_LINE_MAX ||
	    line[len - 2] != '\r' || line[len - 1] != '\n')
		return LOAD_BAD;
	len -= 2;
	memcpy(buf, line + PREFIX_LEN, len - PREFIX_LEN);
	buf[len - PREFIX_LEN] = '\0';
	if (memchr(buf, '\0', len - PREFIX_LEN) != NULL ||
	    strchr(buf, '\r') != NULL || (colon = strchr(buf, ':')) == NULL)
		return LOAD_BAD;
	*colon = '\0';
	v = colon + 1;
	if (*v == ' ')
		v++;

	if (strcmp(buf, "Id") == 0)
		r = set_once(&it->id, seen, F_ID, v, err);
	else if (strcmp(buf, "Created") == 0) {
		if (*seen & F_CREATED || dm_strtonum(v, 0, LLONG_MAX, &n) == -1)
			return LOAD_BAD;
		*seen |= F_CREATED;
		it->created = (time_t)n;
		r = LOAD_OK;
	} else if (strcmp(buf, "State") == 0) {
		if (*seen & F_STATE)
			return LOAD_BAD;
		*seen |= F_STATE;
		/* The padding of the fixed-width field. */
		for (colon = v + strlen(v); colon > v && colon[-1] == ' ';)
			*--colon = '\0';
		if (strcmp(v, "queued") == 0)
			it->state = DM_OB_QUEUED;
		else if (strcmp(v, "maybe-sent") == 0)
			it->state = DM_OB_MAYBE_SENT;
		else if (strcmp(v, "refused") == 0)
			it->state = DM_OB_REFUSED;
		else
			return LOAD_BAD;
		r = LOAD_OK;
	} else if (strcmp(buf, "Attempts") == 0) {
		if (*seen & F_ATTEMPTS || dm_strtonum(v, 0, INT_MAX, &n) == -1)
			return LOAD_BAD;
		*seen |= F_ATTEMPTS;
		it->attempts = (int)n;
		r = LOAD_OK;
	} else if (strcmp(buf, "Profile") == 0)
		r = set_once(&it->profile, seen, F_PROFILE, v, err);
	else if (strcmp(buf, "Sender") == 0) {
		if (!valid_addr(v, DM_MAILBOX_MAX))
			return LOAD_BAD;
		r = set_once(&it->sender, seen, F_SENDER, v, err);
	} else if (strcmp(buf, "Rcpt") == 0) {
		if (!valid_addr(v, DM_MAILBOX_MAX))
			return LOAD_BAD;
		rcpt = realloc(it->rcpt, (it->nrcpt + 1) * sizeof *rcpt);
		if (rcpt == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		it->rcpt = rcpt;
		if ((rcpt[it->nrcpt] = dm_strdup(v, err)) == NULL)
			return -1;
		it->nrcpt++;
		r = LOAD_OK;
	} else if (strcmp(buf, "Message-Id") == 0) {
		if (!valid_addr(v, NAME_MAX_ENV))
			return LOAD_BAD;
		r = set_once(&it->message_id, seen, F_MSGID, v, err);
	} else if (strcmp(buf, "Subject") == 0)
		r = set_once(&it->subject, seen, F_SUBJECT, v, err);
	else if (strcmp(buf, "Document") == 0)
		r = set_once(&it->document, seen, F_DOCUMENT, v, err);
	else if (strcmp(buf, "Error") == 0)
		r = set_once(&it->last_error, seen, F_ERROR, v, err);
	else if (strcmp(buf, "Size") == 0) {
		if (*seen & F_SIZE || dm_strtonum(v, 0, LLONG_MAX, &n) == -1)
			return LOAD_BAD;
		*seen |= F_SIZE;
		*size = (uint64_t)n;
		r = LOAD_OK;
	} else
		r = LOAD_OK;
	return r;
}

/*
 * Reads the envelope of the file open at fd (at its start) into it and
 * checks it against the file: the Id must be id (taken from the file
 * name) and the bytes after the envelope must be exactly Size.
 * Returns LOAD_OK, LOAD_BAD, or -1 when out of memory.
 */
static int
parse_file(int fd, const char *id, struct dm_outbox_item *it,
    struct dm_err *err)
{
	struct stat st;
	struct dm_buf b;
	struct dm_err berr;
	char chunk[8192], *nl;
	size_t pos = 0, avail;
	uint64_t size = 0;
	unsigned int seen = 0;
	ssize_t n;
	int eof = 0, r = LOAD_BAD;

	dm_buf_init(&b, ENV_MAX + 2 * sizeof chunk);
	memset(it, 0, sizeof *it);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	for (;;) {
		avail = b.len - pos;
		if (avail >= PREFIX_LEN) {
			/* A line of another kind: the message starts. */
			if (memcmp(b.data + pos, PREFIX, PREFIX_LEN) != 0)
				break;
			nl = memchr(b.data + pos, '\n', avail);
			if (nl != NULL) {
				n = nl - (b.data + pos) + 1;
				if ((r = parse_line(it, b.data + pos, (size_t)n,
				    &seen, &size, err)) != LOAD_OK)
					goto out;
				r = LOAD_BAD;
				pos += (size_t)n;
				continue;
			}
			/* An envelope line cut off: a truncated file. */
			if (eof || avail > ENV_LINE_MAX)
				goto out;
		} else if (eof ||
		    (avail > 0 && memchr(b.data + pos, '\n', avail) != NULL))
			break;			/* a short first line */
		if (pos > ENV_MAX)
			goto out;
		if ((n = read(fd, chunk, sizeof chunk)) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			eof = 1;
		else if (dm_buf_add(&b, chunk, (size_t)n, &berr) == -1) {
			/* Over the cap is a bad file, not our failure. */
			if (berr.code == DM_ENOMEM)
				r = dm_err_set(err, DM_ENOMEM, _("out of memory"));
			goto out;
		}
	}
	if ((seen & F_REQUIRED) != F_REQUIRED || it->nrcpt == 0 ||
	    (id != NULL && strcmp(it->id, id) != 0) ||
	    (uint64_t)st.st_size < pos || (uint64_t)st.st_size - pos != size)
		goto out;
	it->offset = (off_t)pos;
	it->size = size;
	r = LOAD_OK;
out:
	if (r != LOAD_OK)
		dm_outbox_item_release(it);
	dm_buf_release(&b);
	return r;
}

/*
 * The id in a file name "<id>.docmail" or "<id>.docmail:2,S" (a mail
 * reader may add Maildir flags in cur/), copied into id.  -1 when the
 * name is not one of ours.
 */
static int
name_to_id(const char *name, char *id, size_t size)
{
	size_t n, i;
	const char *colon;

	n = (colon = strchr(name, ':')) != NULL ?
	    (size_t)(colon - name) : strlen(name);
	if (n <= SUFFIX_LEN || memcmp(name + n - SUFFIX_LEN, SUFFIX,
	    SUFFIX_LEN) != 0)
		return -1;
	n -= SUFFIX_LEN;
	if (n > ID_MAX || n >= size)
		return -1;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]) == NULL)
			return -1;
	memcpy(id, name, n);
	id[n] = '\0';
	return 0;
}

/* Loads the item at path; see parse_file().  Also LOAD_GONE. */
static int
load_item(const char *path, struct dm_outbox_item *it, struct dm_err *err)
{
	const char *name;
	char id[ID_MAX + 1];
	int fd, r;

	memset(it, 0, sizeof *it);
	if ((name = strrchr(path, '/')) != NULL)
		name++;
	else
		name = path;
	if (name_to_id(name, id, sizeof id) == -1)
		return LOAD_BAD;
	/* O_NONBLOCK: a FIFO dropped into new/ must not hang the listing. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return errno == ENOENT ? LOAD_GONE : LOAD_BAD;
	r = parse_file(fd, id, it, err);
	(void)close(fd);
	if (r == LOAD_OK && (it->path = dm_strdup(path, err)) == NULL) {
		dm_outbox_item_release(it);
		return -1;
	}
	return r;
}

char *
dm_outbox_open(const char *dir, struct dm_err *err)
{
	char *path;

	if (dir != NULL)
		path = dm_strdup(dir, err);
	else
		path = xdg_path("XDG_DATA_HOME", ".local/share",
		    "docmail/outbox", _("outbox"), err);
	if (path == NULL)
		return NULL;
	if (ensure_maildir(path, _("outbox"), err) == -1) {
		free(path);
		return NULL;
	}
	return path;
}

static int
store_failed(struct dm_err *err, const char *what, const char *dir, int e)
{
	dm_err_set(err, DM_EIO, _("cannot write to the %s '%s': %s"), what,
	    DM_ERR_PATH(dir), strerror(e));
	/* "Free some space" would send the user the wrong way after EIO. */
	if (e == ENOSPC || e == EDQUOT || e == EFBIG)
		return dm_err_hint(err, _("free some disk space (or raise the quota or file size limit) for %s"),
		    dir);
	if (e == EACCES || e == EPERM || e == EROFS)
		return dm_err_hint(err, _("check the permissions of %s"), dir);
	return dm_err_hint(err, _("the disk reported an error; check it (dmesg) before trusting %s"),
	    dir);
}

/*
 * Copies the stream msg to fd from its start.  Returns 0, -1 after the
 * stream failed (err set by it), or -2 after a write failed (errno set).
 * The first PREFIX_LEN bytes go to head.
 */
static int
copy_stream(int fd, const struct dm_stream *msg, char *head,
    uint64_t *size, struct dm_err *err)
{
	char *chunk;
	size_t headlen = 0, k;
	ssize_t n;
	int r = -1, e = 0;

	*size = 0;
	if ((chunk = malloc(CHUNK)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (msg->rewind != NULL && msg->rewind(msg->arg, err) == -1)
		goto out;
	for (;;) {
		if ((n = msg->read(msg->arg, chunk, CHUNK, err)) == -1)
			goto out;
		if (n == 0)
			break;
		if (n < 0 || (size_t)n > CHUNK) {
			dm_err_set(err, DM_EINTERNAL,
			    _("message stream returned %zd bytes"), n);
			goto out;
		}
		if (headlen < PREFIX_LEN) {
			k = PREFIX_LEN - headlen < (size_t)n ?
			    PREFIX_LEN - headlen : (size_t)n;
			memcpy(head + headlen, chunk, k);
			headlen += k;
		}
		if (dm_file_write_all(fd, chunk, (size_t)n) == -1) {
			e = errno;
			r = -2;
			goto out;
		}
		*size += (uint64_t)n;
	}
	if (headlen < PREFIX_LEN)
		memset(head + headlen, 0, PREFIX_LEN - headlen);
	r = 0;
out:
	free(chunk);
	errno = e;
	return r;
}

/* Parses the envelope in b into it, as a reader of the file would. */
static int
parse_envelope(const struct dm_buf *b, struct dm_outbox_item *it,
    struct dm_err *err)
{
	const char *nl;
	size_t pos = 0;
	unsigned int seen = 0;
	uint64_t size;
	int r;

	while (pos < b->len &&
	    (nl = memchr(b->data + pos, '\n', b->len - pos)) != NULL) {
		r = parse_line(it, b->data + pos,
		    (size_t)(nl - (b->data + pos)) + 1, &seen, &size, err);
		if (r == -1)
			return -1;
		if (r != LOAD_OK)
			return dm_err_set(err, DM_EINTERNAL,
			    _("cannot read back an outbox envelope"));
		pos = (size_t)(nl - b->data) + 1;
	}
	return 0;
}

int
dm_outbox_add(const char *dir, const struct dm_outbox_item *meta,
    const struct dm_stream *msg, struct dm_outbox_item *out,
    enum dm_sync sync, struct dm_err *err)
{
	struct dm_outbox_item it;
	struct dm_buf env;
	char id[ID_MAX + 1], head[PREFIX_LEN], digits[ENV_SIZE_DIGITS + 1];
	char *tmp = NULL, *newdir = NULL;
	uint64_t size;
	time_t created;
	ssize_t w;
	int fd = -1, r = -1, made = 0, placed = 0, c;

	memset(&it, 0, sizeof it);
	dm_buf_init(&env, ENV_MAX);
	created = meta->created > 0 ? meta->created : time(NULL);
	if (new_id(id, sizeof id, err) == -1 ||
	    build_envelope(&env, id, meta, created, 0, err) == -1 ||
	    parse_envelope(&env, &it, err) == -1 ||
	    (tmp = pathf(err, "%s/tmp/%s" SUFFIX, dir, id)) == NULL ||
	    (newdir = pathf(err, "%s/new", dir)) == NULL ||
	    (it.path = pathf(err, "%s/new/%s" SUFFIX, dir, id)) == NULL)
		goto out;
	it.offset = (off_t)env.len;

	if (dm_file_begin_tmp(&fd, tmp, env.data, env.len, &made) == -1) {
		store_failed(err, _("outbox"), dir, errno);
		goto out;
	}
	if ((c = copy_stream(fd, msg, head, &size, err)) != 0) {
		if (c == -2)
			store_failed(err, _("outbox"), dir, errno);
		goto out;
	}
	if (memcmp(head, PREFIX, PREFIX_LEN) == 0) {
		/* It would read as part of the envelope. */
		dm_err_set(err, DM_EDATA, _("cannot store a message that starts with 'X-Docmail-' in the outbox"));
		dm_err_hint(err, _("remove the X-Docmail- header lines from the message"));
		goto out;
	}
	/* Fill in the Size placeholder, the last envelope line. */
	c = snprintf(digits, sizeof digits, "%0*" PRIu64, ENV_SIZE_DIGITS, size);
	if (c != ENV_SIZE_DIGITS) {
		dm_err_set(err, DM_EINTERNAL, _("outbox size field overflow"));
		goto out;
	}
	w = pwrite(fd, digits, ENV_SIZE_DIGITS,
	    (off_t)(env.len - 2 - ENV_SIZE_DIGITS));
	if (w != ENV_SIZE_DIGITS) {
		/*
		 * A short write sets no errno; on a copy-on-write file
		 * system even an overwrite needs free space.
		 */
		store_failed(err, _("outbox"), dir, w == -1 ? errno : ENOSPC);
		goto out;
	}
	if (dm_file_publish(&fd, tmp, it.path,
	    sync == DM_SYNC_NOW ? newdir : NULL, &made) == -1) {
		/* Renamed but not durable: the caller must not send it. */
		placed = !made;
		store_failed(err, _("outbox"), dir, errno);
		goto out;
	}
	it.size = size;
	if (out != NULL) {
		*out = it;
		memset(&it, 0, sizeof it);
	}
	r = 0;
out:
	/* Not stored unless stored for sure: the caller must not send. */
	dm_file_abandon(&fd, tmp, &made);
	if (r == -1 && placed)
		(void)unlink(it.path);
	dm_outbox_item_release(&it);
	dm_buf_release(&env);
	free(tmp);
	free(newdir);
	return r;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct dm_outbox_item *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * Leftovers in tmp/ of a docmail killed half-way: a temp file it was
 * writing; the ID.lock file of an item, as docmail 0.1.0 locked items.
 * As in Maildir, what is older than 36 hours is no longer in use and
 * goes; such a lock only when its item is gone too, so that an old
 * docmail still running never loses the lock of an item it may send.
 * Best effort: failures are ignored.
 */
#define TMP_STALE	(36 * 60 * 60)

/* Whether cur/ (a mail reader's move) holds the item id (idlen bytes). */
static int
in_cur(const char *dir, const char *id, size_t idlen)
{
	struct dm_err e;
	struct dirent *de;
	char *cdir;
	DIR *d;
	int found = 0;

	if ((cdir = pathf(&e, "%s/cur", dir)) == NULL)
		return 1;
	d = opendir(cdir);
	free(cdir);
	if (d == NULL)
		return errno != ENOENT;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, id, idlen) == 0 &&
		    strncmp(de->d_name + idlen, SUFFIX, SUFFIX_LEN) == 0;
	(void)closedir(d);
	return found;
}

static void
sweep_tmp(const char *dir)
{
	struct dm_err e;
	struct dirent *de;
	struct stat st;
	char *tdir, *item;
	size_t len;
	time_t now = time(NULL);
	DIR *d;
	int dfd, gone;

	if ((tdir = pathf(&e, "%s/tmp", dir)) == NULL)
		return;
	d = opendir(tdir);
	free(tdir);
	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    st.st_mtime > now - TMP_STALE)
			continue;
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".lock") == 0) {
			item = pathf(&e, "%s/new/%.*s" SUFFIX, dir,
			    (int)(len - 5), de->d_name);
			gone = item != NULL && access(item, F_OK) == -1 &&
			    errno == ENOENT &&
			    !in_cur(dir, de->d_name, len - 5);
			free(item);
			if (!gone)
				continue;
		}
		(void)unlinkat(dfd, de->d_name, 0);
	}
	(void)closedir(d);
}

int
dm_outbox_list(const char *dir, struct dm_outbox_item **items, size_t *n,
    size_t *bad, struct dm_err *err)
{

	static const char *const sub[] = { "new", "cur" };
	struct dm_outbox_item *v = NULL, *nv, it;
	struct dirent *de;
	DIR *d = NULL;
	char *sdir = NULL, *path = NULL;
	size_t nv_len = 0, cap = 0, nbad = 0, i;
	int r = -1, l;

	*items = NULL;
	*n = 0;
	sweep_tmp(dir);
	for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		free(sdir);
		if ((sdir = pathf(err, "%s/%s", dir, sub[i])) == NULL)
			goto out;
		if ((d = opendir(sdir)) == NULL) {
			/* cur/ is only read when a mail reader made it. */
			if (errno == ENOENT && i > 0)
				continue;
			dm_err_set(err, DM_EIO, _("cannot read the outbox '%s': %s"),
			    DM_ERR_PATH(sdir), strerror(errno));
			dm_err_hint(err, _("check the permissions of %s"), dir);
			goto out;
		}
		for (;;) {
			errno = 0;
			if ((de = readdir(d)) == NULL) {
				if (errno != 0) {
					dm_err_set(err, DM_EIO, _("cannot read the outbox '%s': %s"),
					    DM_ERR_PATH(sdir), strerror(errno));
					goto out;
				}
				break;
			}
			if (de->d_name[0] == '.')
				continue;
			free(path);
			if ((path = pathf(err, "%s/%s", sdir,
			    de->d_name)) == NULL)
				goto out;
			if ((l = load_item(path, &it, err)) == -1)
				goto out;
			if (l == LOAD_BAD)
				nbad++;
			if (l != LOAD_OK)
				continue;
			if (nv_len == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				nv = realloc(v, cap * sizeof *v);
				if (nv == NULL) {
					dm_outbox_item_release(&it);
					dm_err_set(err, DM_ENOMEM,
					    _("out of memory"));
					goto out;
				}
				v = nv;
			}
			v[nv_len++] = it;
		}
		(void)closedir(d);
		d = NULL;
	}
	if (nv_len > 0)
		qsort(v, nv_len, sizeof *v, item_cmp);
	*items = v;
	*n = nv_len;
	v = NULL;
	if (bad != NULL)
		*bad = nbad;
	r = 0;
out:
	if (d != NULL)
		(void)closedir(d);
	dm_outbox_list_free(v, nv_len);
	free(sdir);
	free(path);
	return r;
}

int
dm_outbox_find(const char *dir, const char *id, struct dm_outbox_item *out,
    struct dm_err *err)
{
	struct dm_outbox_item *v;
	size_t n, i, exact = 0, prefix = 0, hit = 0, len;
	char q[128];

	if (dm_outbox_list(dir, &v, &n, NULL, err) == -1)
		return -1;
	len = strlen(id);
	for (i = 0; i < n && len > 0; i++) {
		if (strcmp(v[i].id, id) == 0) {
			if (exact++ == 0)
				hit = i;
		} else if (exact == 0 && strncmp(v[i].id, id, len) == 0) {
			if (prefix++ == 0)
				hit = i;
		}
	}
	if (exact == 1 || (exact == 0 && prefix == 1)) {
		*out = v[hit];
		memset(&v[hit], 0, sizeof v[hit]);
		dm_outbox_list_free(v, n);
		return 0;
	}
	dm_outbox_list_free(v, n);
	(void)dm_quote(q, sizeof q, id, strlen(id), sizeof q);
	if (exact + prefix == 0) {
		dm_err_set(err, DM_EUSAGE, _("no outbox item '%s'"), q);
		return dm_err_hint(err, _("'docmail outbox' lists the waiting messages with their IDs"));
	}
	dm_err_set(err, DM_EUSAGE, _("'%s' matches several outbox items"), q);
	return dm_err_hint(err, _("give more of the ID; 'docmail outbox' lists them"));
}

/*
 * Opens item's file and reads its envelope again: an update may have
 * moved the message within the file since the item was listed.
 */
static int
reopen_item(const struct dm_outbox_item *item, int *fdp,
    struct dm_outbox_item *cur, struct dm_err *err)
{
	int fd, r, e;

	fd = open(item->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		e = errno;
		dm_err_set(err, DM_EIO, _("cannot read the outbox item '%s': %s"),
		    DM_ERR_PATH(item->path), strerror(e));
		if (e == ENOENT)
			dm_err_hint(err, _("it was sent or removed meanwhile; 'docmail outbox' lists what is left"));
		return -1;
	}
	if ((r = parse_file(fd, item->id, cur, err)) != LOAD_OK ||
	    cur->size != item->size) {
		(void)close(fd);
		if (r == -1)
			return -1;
		dm_outbox_item_release(cur);
		dm_err_set(err, DM_EIO, _("the outbox item '%s' is damaged or has changed"),
		    DM_ERR_PATH(item->path));
		return dm_err_hint(err, _("move the file out of the outbox and send the document again"));
	}
	*fdp = fd;
	return 0;
}

int
dm_outbox_update(const struct dm_outbox_item *item, struct dm_err *err)
{
	struct dm_outbox_item cur;
	struct dm_buf env;
	char id[ID_MAX + 1], *parent = NULL, *dir = NULL, *tmp = NULL;
	char *chunk = NULL;
	uint64_t left;
	off_t at;
	ssize_t n;
	int fd = -1, ofd = -1, r = -1, made = 0;

	memset(&cur, 0, sizeof cur);
	dm_buf_init(&env, ENV_MAX);
	if (reopen_item(item, &ofd, &cur, err) == -1)
		goto out;
	if (build_envelope(&env, item->id, item, item->created, cur.size,
	    err) == -1 ||
	    (parent = parent_dir(item->path, err)) == NULL ||
	    (dir = parent_dir(parent, err)) == NULL ||
	    new_id(id, sizeof id, err) == -1 ||
	    (tmp = pathf(err, "%s/tmp/%s" SUFFIX, dir, id)) == NULL)
		goto out;
	if ((chunk = malloc(CHUNK)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	if (dm_file_begin_tmp(&fd, tmp, env.data, env.len, &made) == -1) {
		store_failed(err, _("outbox"), dir, errno);
		goto out;
	}
	for (left = cur.size, at = cur.offset; left > 0;
	    left -= (uint64_t)n, at += n) {
		n = pread(ofd, chunk, left < CHUNK ? (size_t)left : CHUNK, at);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			dm_err_set(err, DM_EIO, _("cannot read the outbox item '%s': %s"),
			    item->path, n == 0 ? _("file shorter than expected") :
			    strerror(errno));
			goto out;
		}
		if (dm_file_write_all(fd, chunk, (size_t)n) == -1) {
			store_failed(err, _("outbox"), dir, errno);
			goto out;
		}
	}
	if (dm_file_publish(&fd, tmp, item->path, parent, &made) == -1) {
		store_failed(err, _("outbox"), dir, errno);
		goto out;
	}
	r = 0;
out:
	dm_file_abandon(&fd, tmp, &made);
	if (ofd != -1)
		(void)close(ofd);
	dm_outbox_item_release(&cur);
	dm_buf_release(&env);
	free(chunk);
	free(parent);
	free(dir);
	free(tmp);
	return r;
}

int
dm_outbox_update_state(const struct dm_outbox_item *item, struct dm_err *err)
{
	char head[512], word[STATE_WIDTH + 1];
	const char *at, *eol;
	ssize_t n;
	int fd, e;

	if (state_word(item->state) == NULL)
		return dm_err_set(err, DM_EINTERNAL, _("invalid outbox state"));
	fd = open(item->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return dm_outbox_update(item, err);
	do
		n = pread(fd, head, sizeof head, 0);
	while (n == -1 && errno == EINTR);
	/*
	 * The Id and Created lines come first, both short: the State line
	 * lies within the first sector, so its rewrite cannot be torn.
	 */
	at = n > 0 ? memmem(head, (size_t)n, STATE_FIELD,
	    sizeof STATE_FIELD - 1) : NULL;
	if (at != NULL)
		at += sizeof STATE_FIELD - 1;
	eol = at != NULL ? memmem(at, (size_t)(head + n - at), "\r\n", 2) :
	    NULL;
	if (eol == NULL || eol - at != STATE_WIDTH) {
		(void)close(fd);
		return dm_outbox_update(item, err);
	}
	(void)snprintf(word, sizeof word, "%-*s", STATE_WIDTH,
	    state_word(item->state));
	if (pwrite(fd, word, STATE_WIDTH, at - head) != STATE_WIDTH ||
	    fdatasync(fd) == -1) {
		e = errno;
		/*
		 * Not durable, so not true: the old state goes back (the
		 * caller acts on the failure, e.g. sends no final dot).
		 */
		(void)pwrite(fd, at, STATE_WIDTH, at - head);
		(void)close(fd);
		dm_err_set(err, DM_EIO, _("cannot write the outbox item '%s': %s"),
		    DM_ERR_PATH(item->path), strerror(e));
		return dm_err_hint(err, _("check that the disk is not full and the outbox is writable"));
	}
	if (close(fd) == -1) {
		dm_err_set(err, DM_EIO, _("cannot write the outbox item '%s': %s"),
		    DM_ERR_PATH(item->path), strerror(errno));
		return dm_err_hint(err, _("check that the disk is not full and the outbox is writable"));
	}
	return 0;
}

/* Where a removal with DM_SYNC_LATER sets an item aside: its tmp/. */
static char *
aside_path(const struct dm_outbox_item *item, struct dm_err *err)
{
	char *box, *p;

	if ((box = box_of(item, err)) == NULL)
		return NULL;
	p = pathf(err, "%s/tmp/%s" SUFFIX, box, item->id);
	free(box);
	return p;
}

/*
 * Removes the item's file (durably with DM_SYNC_NOW); hint is what to
 * tell when it cannot be removed.  DM_SYNC_LATER sets it aside in tmp/
 * for dm_outbox_reap(): a rename frees no blocks, and freeing them can
 * wait on the disk (with online discard a quarter millisecond a file),
 * between two messages of a session.
 */
static int
remove_file(const struct dm_outbox_item *item, const char *hint,
    enum dm_sync sync, struct dm_err *err)
{
	char *parent, *aside = NULL;
	int r = 0, e;

	if (sync == DM_SYNC_LATER &&
	    (aside = aside_path(item, err)) == NULL)
		return -1;
	/* Already gone is what we want. */
	if ((aside != NULL ? rename(item->path, aside) :
	    unlink(item->path)) == -1 && errno != ENOENT) {
		e = errno;
		free(aside);
		dm_err_set(err, DM_EIO, _("cannot remove the outbox item '%s': %s"),
		    DM_ERR_PATH(item->path), strerror(e));
		return dm_err_hint(err, "%s", hint);
	}
	if (aside != NULL) {
		free(aside);
		return 0;
	}
	if ((parent = parent_dir(item->path, err)) == NULL)
		return -1;
	if (dm_file_fsync_dir(parent) == -1) {
		dm_err_set(err, DM_EIO, _("cannot sync the outbox '%s': %s"),
		    DM_ERR_PATH(parent), strerror(errno));
		r = -1;
	}
	free(parent);
	return r;
}

int
dm_outbox_remove(const struct dm_outbox_item *item, enum dm_sync sync,
    struct dm_err *err)
{
	return remove_file(item, _("check the permissions of the outbox; the message was sent, so remove the file by hand"), sync, err);
}

int
dm_outbox_reap(const struct dm_outbox_item *item)
{
	struct dm_err e;
	char *aside;
	int r;

	if ((aside = aside_path(item, &e)) == NULL)
		return -1;
	r = unlink(aside) == -1 && errno != ENOENT ? -1 : 0;
	free(aside);
	return r;
}

int
dm_outbox_sync(const struct dm_outbox_item *item, struct dm_err *err)
{
	static const char *const sub[] = { "new", "cur" };
	char *dir, *d;
	size_t i;
	int r = 0;

	if ((dir = box_of(item, err)) == NULL)
		return -1;
	for (i = 0; r == 0 && i < sizeof sub / sizeof sub[0]; i++) {
		if ((d = pathf(err, "%s/%s", dir, sub[i])) == NULL) {
			r = -1;
			break;
		}
		/* cur/ comes with the first retry: none, nothing changed. */
		if (dm_file_fsync_dir(d) == -1 && errno != ENOENT) {
			dm_err_set(err, DM_EIO, _("cannot sync the outbox '%s': %s"),
			    DM_ERR_PATH(d), strerror(errno));
			dm_err_hint(err, _("check that the disk is not full and the outbox is writable"));
			r = -1;
		}
		free(d);
	}
	free(dir);
	return r;
}

static ssize_t
reader_read(void *arg, char *buf, size_t len, struct dm_err *err)
{
	struct reader *rd = arg;
	ssize_t n;

	if (rd->pos >= rd->size)
		return 0;
	if (len > rd->size - rd->pos)
		len = (size_t)(rd->size - rd->pos);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	do
		n = pread(rd->fd, buf, len, rd->offset + (off_t)rd->pos);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		dm_err_set(err, DM_EIO, _("cannot read the outbox item '%s': %s"),
		    DM_ERR_PATH(rd->path), strerror(errno));
		return -1;
	}
	if (n == 0) {
		dm_err_set(err, DM_EIO, _("the outbox item '%s' is shorter than its envelope says"),
		    DM_ERR_PATH(rd->path));
		dm_err_hint(err, _("the file was cut short; move it out of the outbox and send the document again"));
		return -1;
	}
	rd->pos += (uint64_t)n;
	return n;
}

static int
reader_rewind(void *arg, struct dm_err *err)
{
	struct reader *rd = arg;

	(void)err;
	rd->pos = 0;
	return 0;
}

int
dm_outbox_stream_open(const struct dm_outbox_item *item,
    struct dm_stream *s, struct dm_err *err)
{
	struct dm_outbox_item cur;
	struct reader *rd;
	int fd;

	memset(s, 0, sizeof *s);
	if (reopen_item(item, &fd, &cur, err) == -1)
		return -1;
	if ((rd = calloc(1, sizeof *rd)) == NULL ||
	    (rd->path = strdup(item->path)) == NULL) {
		free(rd);
		(void)close(fd);
		dm_outbox_item_release(&cur);
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	rd->fd = fd;
	rd->offset = cur.offset;
	rd->size = cur.size;
	dm_outbox_item_release(&cur);
	s->read = reader_read;
	s->rewind = reader_rewind;
	s->arg = rd;
	return 0;
}

void
dm_outbox_stream_close(struct dm_stream *s)
{
	struct reader *rd;

	if (s == NULL || (rd = s->arg) == NULL)
		return;
	(void)close(rd->fd);
	free(rd->path);
	free(rd);
	memset(s, 0, sizeof *s);
}

/* Appends a sent-log field: control characters and tabs become spaces. */
static int
add_field(struct dm_buf *b, const char *s, struct dm_err *err)
{
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (dm_buf_addc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c,
		    err) == -1)
			return -1;
	}
	return 0;
}

int
dm_sentlog_append(const char *path, time_t when, const char *message_id,
    const char *document, const char *const *rcpt, size_t nrcpt,
    const char *reply, enum dm_sync sync, struct dm_err *err)
{
	struct dm_buf line;
	struct stat st;
	struct tm tm;
	char date[32], *def = NULL, *parent = NULL, last;
	size_t i, skip = 1;
	ssize_t n;
	int fd = -1, r = -1, e;
	const int flags = O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK;

	dm_buf_init(&line, 0);
	if (path == NULL && (path = def = xdg_path("XDG_STATE_HOME",
	    ".local/state", "docmail/sent.log", _("sent log"), err)) == NULL)
		goto out;
	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		dm_err_set(err, DM_EINTERNAL, _("cannot format the time %lld"),
		    (long long)when);
		goto out;
	}
	/* A newline first, written only to end a line cut short earlier. */
	if (dm_buf_addc(&line, '\n', err) == -1 ||
	    dm_buf_addstr(&line, date, err) == -1 ||
	    dm_buf_addc(&line, '\t', err) == -1 ||
	    add_field(&line, message_id != NULL && *message_id != '\0' ?
	    message_id : "-", err) == -1 ||
	    dm_buf_addc(&line, '\t', err) == -1 ||
	    add_field(&line, document != NULL && *document != '\0' ?
	    document : "-", err) == -1 ||
	    dm_buf_addc(&line, '\t', err) == -1)
		goto out;
	for (i = 0; i < nrcpt; i++)
		if ((i > 0 && dm_buf_addc(&line, ',', err) == -1) ||
		    add_field(&line, rcpt[i] != NULL ? rcpt[i] : "", err) == -1)
			goto out;
	if (dm_buf_addc(&line, '\t', err) == -1 ||
	    add_field(&line, reply != NULL ? reply : "", err) == -1 ||
	    dm_buf_addc(&line, '\n', err) == -1)
		goto out;

	/*
	 * O_NONBLOCK: a FIFO in its place must not hang us.  The
	 * directories are made only when missing: a batch appends once a
	 * message, between two messages of its session.
	 */
	fd = open(path, flags, 0600);
	if (fd == -1 && errno == ENOENT) {
		if ((parent = parent_dir(path, err)) == NULL)
			goto out;
		if (dm_file_mkdirs(parent) == -1) {
			store_failed(err, _("sent log"), path, errno);
			goto out;
		}
		fd = open(path, flags, 0600);
	}
	if (fd == -1) {
		store_failed(err, _("sent log"), path, errno);
		goto out;
	}
	/*
	 * A full disk may have cut the last line short, without its
	 * newline: ours would be glued to it and both read as one damaged
	 * line.  Starting on a new line, only the cut one is lost.
	 */
	if (fstat(fd, &st) == -1) {
		store_failed(err, _("sent log"), path, errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		dm_err_set(err, DM_EIO,
		    _("cannot write to the sent log '%s': not a regular file"),
		    DM_ERR_PATH(path));
		goto out;
	}
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n')
		skip = 0;
	/* One write: with O_APPEND, lines of two senders never interleave. */
	do
		n = write(fd, line.data + skip, line.len - skip);
	while (n == -1 && errno == EINTR);
	if (n == -1 || (size_t)n != line.len - skip ||
	    (sync == DM_SYNC_NOW && fsync(fd) == -1)) {
		e = n == -1 || (size_t)n == line.len - skip ? errno : ENOSPC;
		store_failed(err, _("sent log"), path, e);
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e == -1) {
		store_failed(err, _("sent log"), path, errno);
		goto out;
	}
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	dm_buf_release(&line);
	free(def);
	free(parent);
	return r;
}

#define SENTLOG_LINE_MAX	(64 * 1024)

char *
dm_sentlog_path(struct dm_err *err)
{
	return xdg_path("XDG_STATE_HOME", ".local/state", "docmail/sent.log",
	    _("sent log"), err);
}

int
dm_sentlog_sync(const char *path, struct dm_err *err)
{
	char *def = NULL;
	int fd, r = 0;

	if (path == NULL && (path = def = dm_sentlog_path(err)) == NULL)
		return -1;
	/* Read-only is enough for fsync; never through a link or a FIFO. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1 && errno != ENOENT)
		r = -1;
	if (fd != -1 && fsync(fd) == -1)
		r = -1;
	if (r == -1)
		store_failed(err, _("sent log"), path, errno);
	if (fd != -1)
		(void)close(fd);
	free(def);
	return r;
}

void
dm_sentlog_free(struct dm_sent *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].message_id);
		free(v[i].document);
		free(v[i].rcpt);
		free(v[i].reply);
	}
	free(v);
}

/* "2023-11-14T22:13:20Z" as written by dm_sentlog_append(); -1 if not. */
static int
parse_utc(const char *s, size_t len, time_t *out)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm;
	size_t i;
	time_t t;

	if (len != sizeof pat - 1)
		return -1;
	for (i = 0; i < len; i++)
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return -1;
#define NUM2(p)	((s[p] - '0') * 10 + (s[(p) + 1] - '0'))
	memset(&tm, 0, sizeof tm);
	tm.tm_year = NUM2(0) * 100 + NUM2(2) - 1900;
	tm.tm_mon = NUM2(5) - 1;
	tm.tm_mday = NUM2(8);
	tm.tm_hour = NUM2(11);
	tm.tm_min = NUM2(14);
	tm.tm_sec = NUM2(17);
#undef NUM2
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

/* A field as a malloc'd string; "-" gives NULL when dash_null. */
static int
sent_field(char **slot, const char *s, size_t len, int dash_null,
    struct dm_err *err)
{
	*slot = NULL;
	if (dash_null && len == 1 && s[0] == '-')
		return 0;
	if ((*slot = malloc(len + 1)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	memcpy(*slot, s, len);
	(*slot)[len] = '\0';
	return 0;
}

/*
 * One line (without its newline) into *e.  Returns 1 when it is not a
 * sent-log line, -1 on error.
 */
static int
parse_sent(char *line, size_t len, struct dm_sent *e, struct dm_err *err)
{
	const char *f[5];
	size_t flen[5], k = 0, i, start = 0;

	for (i = 0; i <= len && k < 5; i++) {
		if (i < len && line[i] != '\t')
			continue;
		f[k] = line + start;
		flen[k++] = i - start;
		start = i + 1;
	}
	/* Exactly five fields: a fifth tab means a damaged line. */
	if (k != 5 || i <= len)
		return 1;
	memset(e, 0, sizeof *e);
	if (parse_utc(f[0], flen[0], &e->when) == -1 ||
	    memchr(line, '\0', len) != NULL)
		return 1;
	if (sent_field(&e->message_id, f[1], flen[1], 1, err) == -1 ||
	    sent_field(&e->document, f[2], flen[2], 1, err) == -1 ||
	    sent_field(&e->rcpt, f[3], flen[3], 0, err) == -1 ||
	    sent_field(&e->reply, f[4], flen[4], 0, err) == -1) {
		free(e->message_id);
		free(e->document);
		free(e->rcpt);
		free(e->reply);
		return -1;
	}
	return 0;
}

int
dm_sentlog_load(const char *path, struct dm_sent **out, size_t *n,
    size_t *bad, struct dm_err *err)
{
	struct dm_sent *v = NULL, *nv;
	struct stat st;
	char *def = NULL, *line = NULL;
	size_t cap = 0, cnt = 0, nbad = 0, lcap = 0, len;
	ssize_t got;
	FILE *fp = NULL;
	int fd = -1, r = -1, p;

	*out = NULL;
	*n = 0;
	if (bad != NULL)
		*bad = 0;
	if (path == NULL && (path = def = dm_sentlog_path(err)) == NULL)
		return -1;
	/* O_NONBLOCK: a FIFO in its place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			r = 0;
			goto out;
		}
		dm_err_set(err, DM_EIO, _("cannot read the sent log '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		dm_err_set(err, DM_EIO, _("cannot read the sent log '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		dm_err_set(err, DM_EIO,
		    _("cannot read the sent log '%s': not a regular file"),
		    DM_ERR_PATH(path));
		goto out;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	fd = -1;
	errno = 0;
	while ((got = getline(&line, &lcap, fp)) != -1) {
		len = (size_t)got;
		/* A last line without its newline was cut by a crash. */
		if (len == 0 || line[len - 1] != '\n' ||
		    len > SENTLOG_LINE_MAX) {
			nbad++;
			continue;
		}
		line[--len] = '\0';
		if (cnt == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof *v)) == NULL) {
				dm_err_set(err, DM_ENOMEM, _("out of memory"));
				goto out;
			}
			v = nv;
		}
		if ((p = parse_sent(line, len, &v[cnt], err)) == -1)
			goto out;
		if (p == 1)
			nbad++;
		else
			cnt++;
	}
	if (ferror(fp)) {
		dm_err_set(err, errno == ENOMEM ? DM_ENOMEM : DM_EIO,
		    _("cannot read the sent log '%s': %s"), DM_ERR_PATH(path),
		    strerror(errno != 0 ? errno : EIO));
		goto out;
	}
	*out = v;
	*n = cnt;
	if (bad != NULL)
		*bad = nbad;
	v = NULL;
	cnt = 0;
	r = 0;
out:
	dm_sentlog_free(v, cnt);
	if (fp != NULL)
		(void)fclose(fp);
	if (fd != -1)
		(void)close(fd);
	free(line);
	free(def);
	return r;
}

int
dm_maildir_deliver(const char *dir, const char *bcc,
    const struct dm_stream *msg, struct dm_err *err)
{
	struct dm_buf hdr;
	char id[ID_MAX + 1], head[PREFIX_LEN];
	char *tmp = NULL, *newp = NULL, *newdir = NULL;
	uint64_t size;
	int fd = -1, r = -1, made = 0, c;

	dm_buf_init(&hdr, 0);
	if (bcc != NULL && strpbrk(bcc, "\r\n") != NULL) {
		dm_err_set(err, DM_EDATA, _("cannot write a Bcc line with a line break into the maildir '%s'"),
		    DM_ERR_PATH(dir));
		dm_err_hint(err, _("remove the line break from the Bcc addresses"));
		goto out;
	}
	if (bcc != NULL && *bcc != '\0' &&
	    dm_buf_addf(&hdr, err, "Bcc: %s\r\n", bcc) == -1)
		goto out;
	if (ensure_maildir(dir, _("maildir"), err) == -1 ||
	    new_id(id, sizeof id, err) == -1 ||
	    (tmp = pathf(err, "%s/tmp/%s" SUFFIX, dir, id)) == NULL ||
	    (newp = pathf(err, "%s/new/%s" SUFFIX, dir, id)) == NULL ||
	    (newdir = pathf(err, "%s/new", dir)) == NULL)
		goto out;
	if (dm_file_begin_tmp(&fd, tmp, hdr.data, hdr.len, &made) == -1) {
		store_failed(err, _("maildir"), dir, errno);
		goto out;
	}
	if ((c = copy_stream(fd, msg, head, &size, err)) != 0) {
		if (c == -2)
			store_failed(err, _("maildir"), dir, errno);
		goto out;
	}
	if (dm_file_publish(&fd, tmp, newp, newdir, &made) == -1) {
		store_failed(err, _("maildir"), dir, errno);
		goto out;
	}
	r = 0;
out:
	dm_file_abandon(&fd, tmp, &made);
	dm_buf_release(&hdr);
	free(tmp);
	free(newp);
	free(newdir);
	return r;
}

/* --- one sender per item --------------------------------------------- */

/* Why take_lock() did not give the item. */
enum {
	LK_BUSY = 1,	/* another process holds it */
	LK_GONE,	/* its file is gone: sent or dropped */
	LK_CHANGED	/* not in the state the caller read */
};

/*
 * The byte of the outbox's lock file that stands for item id: FNV-1a of
 * the ID, within the offsets a lock can take (2^62, or 2^30 where off_t
 * has 32 bits).  Two IDs on one byte would only make one look busy
 * while the other is sent, never send anything twice.
 */
static off_t
lock_byte(const char *id)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= UINT64_C(1099511628211);
	}
	return (off_t)(sizeof(off_t) >= 8 ? h >> 2 : h >> 34);
}

/*
 * The lock of dm_outbox_lock() and dm_outbox_drop(): a write lock on one
 * byte of the file "lock" beside new/ and tmp/.  An open file
 * description lock (F_OFD_SETLK), so that it belongs to the descriptor:
 * the messages of one batch exclude each other as two processes do, and
 * closing it (or dying) releases it.  One file for all items rather than
 * one per item: a month-end batch creates and removes no lock file per
 * message, and none is ever left behind.  Returns 0 with *fdp set; or -1
 * with *why set (err untouched), or -1 with *why 0 and err set.
 */
static int
take_lock(const struct dm_outbox_item *item, int *fdp, int *why,
    struct dm_err *err)
{
	struct dm_outbox_item now;
	struct flock fl;
	char *box = NULL, *lock = NULL;
	int fd = -1, r = -1, l;

	*fdp = -1;
	*why = 0;
	memset(&now, 0, sizeof now);
	if ((box = box_of(item, err)) == NULL ||
	    (lock = pathf(err, "%s/lock", box)) == NULL)
		goto out;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		dm_err_set(err, DM_EIO, _("cannot lock the outbox item '%s': %s"),
		    item->id, strerror(errno));
		dm_err_hint(err, _("check the permissions of the outbox"));
		goto out;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = lock_byte(item->id);
	fl.l_len = 1;
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES) {
			dm_err_set(err, DM_EIO, _("cannot lock the outbox item '%s': %s"),
			    item->id, strerror(errno));
			dm_err_hint(err, _("keep the outbox on a local file system"));
			goto out;
		}
		*why = LK_BUSY;
		goto out;
	}
	/*
	 * What the caller read may be stale: another process may have sent
	 * it, or marked it "may have been delivered", before we got the lock.
	 */
	if ((l = load_item(item->path, &now, err)) == -1)
		goto out;
	if (l == LOAD_GONE)
		*why = LK_GONE;
	else if (l != LOAD_OK || now.state != item->state ||
	    now.nrcpt != item->nrcpt)
		*why = LK_CHANGED;
	if (*why != 0)
		goto out;
	*fdp = fd;
	fd = -1;
	r = 0;
out:
	if (fd != -1)
		close(fd);
	dm_outbox_item_release(&now);
	free(lock);
	free(box);
	return r;
}

int
dm_outbox_lock(const struct dm_outbox_item *item, int *fdp,
    struct dm_err *err)
{
	int why;

	if (take_lock(item, fdp, &why, err) == 0)
		return 0;
	switch (why) {
	case LK_BUSY:
		dm_err_set(err, DM_ETEMP,
		    _("outbox item '%s' is being sent by another docmail right now"),
		    item->id);
		return dm_err_hint(err, _("let that one finish; 'docmail outbox' shows what is left"));
	case LK_GONE:
		dm_err_set(err, DM_ETEMP,
		    _("outbox item '%s' is gone: another docmail has sent or removed it"),
		    item->id);
		return dm_err_hint(err, _("'docmail outbox' lists what is left"));
	case LK_CHANGED:
		dm_err_set(err, DM_ETEMP,
		    _("outbox item '%s' changed while waiting (another docmail tried it)"),
		    item->id);
		return dm_err_hint(err, _("look at it again with 'docmail outbox'"));
	}
	return -1;
}

int
dm_outbox_drop(const struct dm_outbox_item *item, struct dm_err *err)
{
	int fd, why, r;

	if (take_lock(item, &fd, &why, err) == -1) {
		switch (why) {
		case LK_BUSY:
			dm_err_set(err, DM_ETEMP,
			    _("another docmail is sending outbox item '%s' right now: not removed"),
			    item->id);
			return dm_err_hint(err, _("let that one finish; if it fails, 'docmail outbox' still lists the item"));
		case LK_GONE:
			dm_err_set(err, DM_ETEMP,
			    _("outbox item '%s' is gone: another docmail has sent or removed it"),
			    item->id);
			return dm_err_hint(err, _("'docmail outbox' lists what is left"));
		case LK_CHANGED:
			dm_err_set(err, DM_ETEMP,
			    _("outbox item '%s' changed meanwhile (another docmail tried it): not removed"),
			    item->id);
			return dm_err_hint(err, _("look at it again with 'docmail outbox', then decide"));
		}
		return -1;
	}
	r = remove_file(item, _("check the permissions of the outbox; the item is still there and may be sent"), DM_SYNC_NOW, err);
	dm_outbox_unlock(fd);
	return r;
}

void
dm_outbox_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the lock */
}
