/*
 * t-outbox.c - the outbox, the sent log and the sent Maildir copy
 *
 * Everything happens under a fresh directory in /tmp, which also serves
 * as HOME, XDG_DATA_HOME and XDG_STATE_HOME; it is removed at the end.
 * What an attempt does to an item (dm_delivery_state(), _settle()) is
 * tested in t-deliver.c.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/outbox.h>

#include "tap.h"
#include "testutil.h"

static struct dm_err err;


static int
mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* Number of entries in dir other than . and .., -1 when unreadable. */
static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The whole file, malloc'd, NUL-terminated; *len its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *p;
	int fd;
	ssize_t n;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		abort();
	if ((p = malloc((size_t)st.st_size + 1)) == NULL)
		abort();
	n = read(fd, p, (size_t)st.st_size);
	if (n != st.st_size)
		abort();
	p[n] = '\0';
	close(fd);
	*len = (size_t)n;
	return p;
}

static void
spew(const char *path, const char *data, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len || close(fd) == -1)
		abort();
}

/* The whole message of item through its stream, malloc'd; NULL on error. */
static char *
drain(const struct dm_outbox_item *it, size_t step, size_t *len)
{
	struct dm_stream s;
	struct dm_buf b;
	char chunk[70000];
	ssize_t n;

	*len = 0;
	dm_err_clear(&err);
	if (dm_outbox_stream_open(it, &s, &err) == -1)
		return NULL;
	dm_buf_init(&b, 8u * 1024 * 1024);
	for (;;) {
		n = s.read(s.arg, chunk, step, &err);
		if (n == -1) {
			dm_buf_release(&b);
			dm_outbox_stream_close(&s);
			return NULL;
		}
		if (n == 0)
			break;
		if (dm_buf_add(&b, chunk, (size_t)n, &err) == -1)
			abort();
	}
	dm_outbox_stream_close(&s);
	*len = b.len;
	return dm_buf_detach(&b);
}

static char *rcpt2[] = { "bob@example.test", "carol@example.test" };

static void
meta_init(struct dm_outbox_item *m, time_t created)
{
	memset(m, 0, sizeof *m);
	m->created = created;
	m->state = DM_OB_QUEUED;
	m->profile = "default";
	m->sender = "anna@example.test";
	m->rcpt = rcpt2;
	m->nrcpt = 2;
	m->message_id = "20240101.abc@example.test";
	m->subject = "Invoice 42 from Anna";
	m->document = "invoice-42.pdf";
}

static const char MSG[] =
    "From: Anna <anna@example.test>\r\n"
    "To: bob@example.test\r\n"
    "Subject: Invoice 42\r\n"
    "\r\n"
    "X-Docmail-Id: not-an-envelope-line\r\n"
    ".\r\n"
    "\r\n.\r\n"
    "..leading dot\r\n";

static void
test_open(void)
{
	char *dir;
	const char *home;
	mode_t old;

	old = umask(022);
	dm_err_clear(&err);
	dir = dm_outbox_open(NULL, &err);
	is_str(dir, fx("data/docmail/outbox"),
	    "open: outbox under $XDG_DATA_HOME/docmail/outbox");
	ok(mode_of(fx("data/docmail/outbox")) == 0700 &&
	    mode_of(fx("data/docmail/outbox/tmp")) == 0700 &&
	    mode_of(fx("data/docmail/outbox/new")) == 0700 &&
	    mode_of(fx("data/docmail/outbox/cur")) == 0700 &&
	    mode_of(fx("data/docmail")) == 0700,
	    "open: directories are 0700 with umask 022");
	free(dir);
	dir = dm_outbox_open(NULL, &err);
	ok(dir != NULL, "open: opening again works");
	free(dir);

	/* A umask that would take the owner's own write bit. */
	umask(0277);
	dir = dm_outbox_open(fx("odd/box"), &err);
	ok(dir != NULL && mode_of(fx("odd/box/new")) == 0700 &&
	    mode_of(fx("odd")) == 0700,
	    "open: 0700 even with umask 0277");
	free(dir);
	umask(022);

	home = getenv("HOME");
	setenv("XDG_DATA_HOME", "relative/path", 1);
	dir = dm_outbox_open(NULL, &err);
	is_str(dir, fx(".local/share/docmail/outbox"),
	    "open: relative XDG_DATA_HOME is ignored, HOME is used");
	free(dir);
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	dm_err_clear(&err);
	dir = dm_outbox_open(NULL, &err);
	ok(dir == NULL && err.code == DM_ECONFIG &&
	    strstr(err.msg, "HOME") != NULL && err.hint[0] != '\0',
	    "open: no HOME and no XDG_DATA_HOME is a config error");
	diag("%s / %s", err.msg, err.hint);
	free(dir);
	setenv("HOME", home, 1);
	setenv("XDG_DATA_HOME", fx("data"), 1);

	spew(fx("afile"), "x", 1);
	dm_err_clear(&err);
	dir = dm_outbox_open(fx("afile"), &err);
	ok(dir == NULL && err.code == DM_EIO &&
	    strstr(err.msg, "not a directory") != NULL,
	    "open: a file in place of the outbox is refused");
	free(dir);

	/* Our own symlink is fine, someone else's is not. */
	if (mkdir(fx("real"), 0700) == -1 ||
	    symlink(fx("real"), fx("mylink")) == -1 ||
	    symlink(fx("real"), fx("theirlink")) == -1)
		abort();
	dir = dm_outbox_open(fx("mylink"), &err);
	ok(dir != NULL && mode_of(fx("real/new")) == 0700,
	    "open: a symlink of our own to a directory is used");
	free(dir);
	if (lchown(fx("theirlink"), 65534, 65534) == 0) {
		dm_err_clear(&err);
		dir = dm_outbox_open(fx("theirlink"), &err);
		ok(dir == NULL && err.code == DM_EIO &&
		    strstr(err.msg, "symbolic link owned by another user") !=
		    NULL, "open: a symlink owned by another user is refused");
		diag("%s", err.msg);
		free(dir);
		dm_err_clear(&err);
		dir = dm_outbox_open(fx("theirlink/"), &err);
		ok(dir == NULL && err.code == DM_EIO,
		    "open: a trailing slash does not get past that check");
		free(dir);
	} else {
		ok(1, "# SKIP cannot chown a symlink to another user");
		ok(1, "# SKIP cannot chown a symlink to another user");
	}
	umask(old);
}

/* Adds MSG-like data with meta m; returns 0 and fills out. */
static int
add(const char *dir, const struct dm_outbox_item *m, const char *data,
    size_t len, size_t step, struct dm_outbox_item *out)
{
	struct mem mem;
	struct dm_stream s = mem_stream(&mem, data, len);

	mem.step = step;
	mem.pos = 3;		/* dm_outbox_add must rewind first */
	dm_err_clear(&err);
	return dm_outbox_add(dir, m, &s, out, DM_SYNC_NOW, &err);
}

static void
test_roundtrip(const char *dir)
{
	struct dm_outbox_item m, out, *v;
	struct stat st;
	size_t n, bad, len, flen;
	char *file, *got, want[4096];
	int r;

	meta_init(&m, 1700000000);
	m.attempts = 0;
	r = add(dir, &m, MSG, sizeof MSG - 1, 7, &out);
	is_int(r, 0, "add: stores a message");
	if (r == -1)
		diag("%s", err.msg);
	ok(out.id != NULL && strlen(out.id) == 10 + 1 + 16 &&
	    strspn(out.id, "0123456789") == 10 && out.id[10] == '.' &&
	    strspn(out.id + 11, "0123456789abcdef") == 16,
	    "add: id is <seconds>.<16 hex digits>");
	ok(out.path != NULL && strstr(out.path, "/new/") != NULL &&
	    strstr(out.path, out.id) != NULL &&
	    strcmp(out.path + strlen(out.path) - 8, ".docmail") == 0,
	    "add: file is new/<id>.docmail");
	is_int(out.size, sizeof MSG - 1, "add: out holds the message size");
	is_int(count_files(fx("data/docmail/outbox/tmp")), 0,
	    "add: nothing left in tmp/");
	ok(stat(out.path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "add: the file is 0600");

	/* The exact file: envelope, then the message byte for byte. */
	file = slurp(out.path, &flen);
	r = snprintf(want, sizeof want,
	    "X-Docmail-Id: %s\r\n"
	    "X-Docmail-Created: 1700000000\r\n"
	    "X-Docmail-State: queued    \r\n"
	    "X-Docmail-Attempts: 0\r\n"
	    "X-Docmail-Profile: default\r\n"
	    "X-Docmail-Sender: anna@example.test\r\n"
	    "X-Docmail-Rcpt: bob@example.test\r\n"
	    "X-Docmail-Rcpt: carol@example.test\r\n"
	    "X-Docmail-Message-Id: 20240101.abc@example.test\r\n"
	    "X-Docmail-Subject: Invoice 42 from Anna\r\n"
	    "X-Docmail-Document: invoice-42.pdf\r\n"
	    "X-Docmail-Size: %020zu\r\n", out.id, sizeof MSG - 1);
	ok(r > 0 && flen == (size_t)r + sizeof MSG - 1 &&
	    memcmp(file, want, (size_t)r) == 0 &&
	    memcmp(file + r, MSG, sizeof MSG - 1) == 0,
	    "add: file is the envelope then the message");
	is_int(out.offset, r, "add: offset is where the message starts");
	free(file);

	dm_err_clear(&err);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0, "list: one item, none bad");
	if (n == 1) {
		is_str(v[0].id, out.id, "list: id");
		is_str(v[0].path, out.path, "list: path");
		is_int(v[0].created, 1700000000, "list: created");
		is_int(v[0].state, DM_OB_QUEUED, "list: state");
		is_int(v[0].attempts, 0, "list: attempts");
		is_str(v[0].profile, "default", "list: profile");
		is_str(v[0].sender, "anna@example.test", "list: sender");
		ok(v[0].nrcpt == 2 &&
		    strcmp(v[0].rcpt[0], "bob@example.test") == 0 &&
		    strcmp(v[0].rcpt[1], "carol@example.test") == 0,
		    "list: recipients in order");
		is_str(v[0].message_id, "20240101.abc@example.test",
		    "list: message id");
		is_str(v[0].subject, "Invoice 42 from Anna", "list: subject");
		is_str(v[0].document, "invoice-42.pdf", "list: document");
		ok(v[0].last_error == NULL, "list: no error yet");
		is_int(v[0].size, sizeof MSG - 1, "list: size");
		is_int(v[0].offset, out.offset, "list: offset");

		got = drain(&v[0], 5, &len);
		ok(got != NULL && len == sizeof MSG - 1 &&
		    memcmp(got, MSG, len) == 0,
		    "stream: the message byte for byte, '.' lines and X-Docmail- text included");
		free(got);
	} else
		for (r = 0; r < 16; r++)
			ok(0, "list: item missing");
	dm_outbox_list_free(v, n);

	/* Update: new envelope, same message. */
	out.state = DM_OB_MAYBE_SENT;
	out.attempts = 3;
	out.nrcpt = 1;
	free(out.rcpt[0]);
	out.rcpt[0] = out.rcpt[1];
	out.rcpt[1] = NULL;
	out.last_error = strdup("server said: 451 try\r\nlater\ttab");
	dm_err_clear(&err);
	r = dm_outbox_update(&out, &err);
	is_int(r, 0, "update: works");
	is_int(count_files(fx("data/docmail/outbox/tmp")), 0,
	    "update: nothing left in tmp/");
	dm_err_clear(&err);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0, "update: still one good item");
	if (n == 1) {
		ok(v[0].state == DM_OB_MAYBE_SENT && v[0].attempts == 3 &&
		    v[0].nrcpt == 1 &&
		    strcmp(v[0].rcpt[0], "carol@example.test") == 0,
		    "update: state, attempts and recipients changed");
		is_str(v[0].last_error, "server said: 451 try??later?tab",
		    "update: error stored with control characters as '?'");
		ok(strcmp(v[0].id, out.id) == 0 &&
		    strcmp(v[0].path, out.path) == 0 &&
		    v[0].created == 1700000000 &&
		    strcmp(v[0].subject, "Invoice 42 from Anna") == 0,
		    "update: id, path, created and subject kept");
		ok(v[0].offset != out.offset, "update: the envelope moved");
		got = drain(&v[0], sizeof MSG, &len);
		ok(got != NULL && len == sizeof MSG - 1 &&
		    memcmp(got, MSG, len) == 0,
		    "update: message bytes unchanged");
		free(got);
	} else
		for (r = 0; r < 5; r++)
			ok(0, "update: item missing");
	ok(stat(out.path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "update: the file stays 0600");
	dm_outbox_list_free(v, n);

	/* The item from before the update has a stale offset. */
	got = drain(&out, 4096, &len);
	ok(got != NULL && len == sizeof MSG - 1 && memcmp(got, MSG, len) == 0,
	    "stream: reads the file afresh, a stale offset does no harm");
	free(got);

	dm_err_clear(&err);
	r = dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	ok(r == 0 && access(out.path, F_OK) == -1 && errno == ENOENT,
	    "remove: the file is gone");
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 0, "remove: the outbox is empty");
	dm_outbox_list_free(v, n);
	dm_err_clear(&err);
	ok(dm_outbox_remove(&out, DM_SYNC_NOW, &err) == 0,
	    "remove: removing twice is not an error");
	dm_err_clear(&err);
	ok(dm_outbox_update(&out, &err) == -1 && err.code == DM_EIO &&
	    access(out.path, F_OK) == -1,
	    "update: a removed item is not brought back");
	dm_err_clear(&err);
	ok(drain(&out, 100, &len) == NULL && err.code == DM_EIO,
	    "stream: a removed item cannot be opened");
	dm_outbox_item_release(&out);
}

static void
test_binary(const char *dir)
{
	struct dm_outbox_item m, out, *v;
	char *big, *got, aside[PATH_MAX];
	size_t i, n, len, bad;
	uint32_t x = 12345;
	static const char bin[] = "Subject: b\r\n\r\n\0\xff\r\n.\r\n"
	    "\nX-Docmail-Size: 1\r\nX-Docmail-Rcpt: evil@example.test\r\n";

	meta_init(&m, 1700000100);
	ok(add(dir, &m, bin, sizeof bin - 1, 0, &out) == 0,
	    "binary: stored");
	got = drain(&out, 3, &len);
	ok(got != NULL && len == sizeof bin - 1 &&
	    memcmp(got, bin, len) == 0,
	    "binary: NUL, bare LF and X-Docmail- lines in the body come back exactly");
	free(got);
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 1 && v[0].nrcpt == 2 && v[0].size == sizeof bin - 1,
	    "binary: body lines do not leak into the envelope");
	dm_outbox_list_free(v, n);
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);

	/* 1 MB of pseudo-random bytes, fed in odd-sized pieces. */
	if ((big = malloc(1024 * 1024)) == NULL)
		abort();
	for (i = 0; i < 1024 * 1024; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)(x >> 16);
	}
	memcpy(big, "Subject: big\r\n\r\n", 16);
	ok(add(dir, &m, big, 1024 * 1024, 65521, &out) == 0 &&
	    out.size == 1024 * 1024, "1 MB: stored");
	got = drain(&out, 65536, &len);
	ok(got != NULL && len == 1024 * 1024 &&
	    memcmp(got, big, len) == 0, "1 MB: read back byte for byte");
	free(got);
	got = drain(&out, 1000, &len);
	ok(got != NULL && len == 1024 * 1024 &&
	    memcmp(got, big, len) == 0, "1 MB: again in small reads");
	free(got);
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);
	free(big);

	/* The empty message and a short one. */
	ok(add(dir, &m, "", 0, 0, &out) == 0 && out.size == 0 &&
	    (got = drain(&out, 10, &len)) != NULL && len == 0,
	    "empty message: stored and read back");
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 1 && bad == 0 && v[0].size == 0, "empty message: listed");
	dm_outbox_list_free(v, n);
	free(got);
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);
	ok(add(dir, &m, "X-Doc", 5, 0, &out) == 0 &&
	    (got = drain(&out, 10, &len)) != NULL && len == 5 &&
	    memcmp(got, "X-Doc", 5) == 0,
	    "short message that looks like a prefix: read back");
	free(got);
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);

	/* A batch's removal: set aside in tmp/, deleted by the reaper. */
	ok(add(dir, &m, "Subject: s\r\n\r\nx\r\n", 17, 0, &out) == 0,
	    "aside: stored");
	(void)snprintf(aside, sizeof aside, "%s/tmp/%s.docmail", dir, out.id);
	dm_err_clear(&err);
	ok(dm_outbox_remove(&out, DM_SYNC_LATER, &err) == 0 &&
	    access(out.path, F_OK) == -1 && access(aside, F_OK) == 0,
	    "aside: a later removal moves the file to tmp/");
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 0 && bad == 0, "aside: the outbox no longer lists it");
	dm_outbox_list_free(v, n);
	ok(dm_outbox_sync(&out, &err) == 0 &&
	    dm_outbox_reap(&out) == 0 && access(aside, F_OK) == -1,
	    "aside: reaped, the file is gone");
	ok(dm_outbox_reap(&out) == 0 &&
	    dm_outbox_remove(&out, DM_SYNC_LATER, &err) == 0,
	    "aside: reaping or removing again is no error");
	dm_outbox_item_release(&out);
}

static void
test_find_order(const char *dir)
{
	struct dm_outbox_item m, a, b, c, f, *v;
	size_t n, bad;
	char pre[32];
	int r;

	meta_init(&m, 300);
	m.subject = "third";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &c);
	m.created = 100;
	m.subject = "first";
	r |= add(dir, &m, MSG, sizeof MSG - 1, 0, &a);
	m.created = 200;
	m.subject = "second";
	r |= add(dir, &m, MSG, sizeof MSG - 1, 0, &b);
	is_int(r, 0, "order: three items stored");
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 3 && strcmp(v[0].subject, "first") == 0 &&
	    strcmp(v[1].subject, "second") == 0 &&
	    strcmp(v[2].subject, "third") == 0,
	    "order: listed oldest first by created time");
	dm_outbox_list_free(v, n);

	dm_err_clear(&err);
	r = dm_outbox_find(dir, b.id, &f, &err);
	ok(r == 0 && strcmp(f.id, b.id) == 0 &&
	    strcmp(f.subject, "second") == 0, "find: by exact id");
	dm_outbox_item_release(&f);
	/* The 16 hex digits differ almost surely within 8 of them. */
	snprintf(pre, sizeof pre, "%.*s", 19, c.id);
	r = dm_outbox_find(dir, pre, &f, &err);
	ok(r == 0 && strcmp(f.id, c.id) == 0, "find: by unique prefix");
	dm_outbox_item_release(&f);

	snprintf(pre, sizeof pre, "%.*s", 3, c.id);
	dm_err_clear(&err);
	r = dm_outbox_find(dir, pre, &f, &err);
	ok(r == -1 && err.code == DM_EUSAGE &&
	    strstr(err.msg, "matches several outbox items") != NULL &&
	    strstr(err.hint, "docmail outbox") != NULL,
	    "find: ambiguous prefix is a usage error");
	diag("%s / %s", err.msg, err.hint);
	dm_err_clear(&err);
	r = dm_outbox_find(dir, "999.nothing", &f, &err);
	is_str(err.msg, "no outbox item '999.nothing'",
	    "find: missing id is named");
	ok(r == -1 && err.code == DM_EUSAGE &&
	    strstr(err.hint, "docmail outbox") != NULL,
	    "find: missing id is a usage error with a hint");
	dm_err_clear(&err);
	r = dm_outbox_find(dir, "", &f, &err);
	ok(r == -1 && err.code == DM_EUSAGE, "find: empty id matches nothing");
	dm_err_clear(&err);
	r = dm_outbox_find(dir, "1\x1b[2J", &f, &err);
	ok(r == -1 && strchr(err.msg, '\x1b') == NULL,
	    "find: control characters of the id are not echoed");

	dm_outbox_remove(&a, DM_SYNC_NOW, &err);
	dm_outbox_remove(&b, DM_SYNC_NOW, &err);
	dm_outbox_remove(&c, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&a);
	dm_outbox_item_release(&b);
	dm_outbox_item_release(&c);
}

static void
test_damage(const char *dir)
{
	struct dm_outbox_item m, a, b, *v;
	struct dm_stream s;
	char *file, path[PATH_MAX], buf[64];
	size_t n, bad, flen;
	int r;

	meta_init(&m, 500);
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &a);
	m.created = 600;
	r |= add(dir, &m, MSG, sizeof MSG - 1, 0, &b);
	is_int(r, 0, "damage: two items stored");

	/* A stream opened before the file was cut reports it. */
	dm_err_clear(&err);
	r = dm_outbox_stream_open(&b, &s, &err);
	if (truncate(b.path, (off_t)(b.offset + 10)) == -1)
		abort();
	ok(r == 0 && s.read(s.arg, buf, sizeof buf, &err) == 10 &&
	    s.read(s.arg, buf, sizeof buf, &err) == -1 &&
	    err.code == DM_EIO && strstr(err.msg, "shorter") != NULL,
	    "stream: a file cut while open is an io error, not an end");
	diag("%s", err.msg);
	if (r == 0)
		dm_outbox_stream_close(&s);

	/* Cut a few bytes off the other: counted as bad, not listed. */
	if (truncate(a.path, (off_t)(a.offset + a.size - 3)) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 2,
	    "truncated files: counted bad, not listed");
	dm_outbox_list_free(v, n);
	dm_err_clear(&err);
	ok(drain(&a, 100, &flen) == NULL && err.code == DM_EIO,
	    "truncated file: cannot be streamed");
	dm_err_clear(&err);
	ok(dm_outbox_update(&a, &err) == -1 && err.code == DM_EIO,
	    "truncated file: cannot be updated");

	/* Cut inside the envelope. */
	if (truncate(a.path, 40) == -1)
		abort();
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 2, "file cut inside the envelope: bad");
	dm_outbox_list_free(v, n);
	unlink(a.path);
	unlink(b.path);

	/* Restore b whole, then build variants of it by hand. */
	dm_outbox_item_release(&b);
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &b);
	file = slurp(b.path, &flen);
	unlink(b.path);

	/* A crash before the rename leaves a file in tmp/ only. */
	snprintf(path, sizeof path, "%s/tmp/%s.docmail", dir, b.id);
	spew(path, file, flen);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 0, "a file in tmp/ is not listed");
	dm_outbox_list_free(v, n);
	unlink(path);

	/* A mail reader moved it to cur/ and added flags. */
	snprintf(path, sizeof path, "%s/cur/%s.docmail:2,S", dir, b.id);
	spew(path, file, flen);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0 && strcmp(v[0].id, b.id) == 0 &&
	    strcmp(v[0].path, path) == 0,
	    "an item in cur/ with flags is listed");
	dm_outbox_list_free(v, n);
	unlink(path);

	/* A copy under another name does not match its Id: never sent. */
	snprintf(path, sizeof path, "%s/new/1.0000000000000000.docmail", dir);
	spew(path, file, flen);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 1,
	    "a file whose Id differs from its name is bad");
	dm_outbox_list_free(v, n);
	unlink(path);

	/* Names not ours are bad; hidden files are ignored. */
	snprintf(path, sizeof path, "%s/new/stray.eml", dir);
	spew(path, file, flen);
	snprintf(path, sizeof path, "%s/new/.hidden", dir);
	spew(path, file, flen);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 1,
	    "a stray file counts as bad, a dot file not at all");
	dm_outbox_list_free(v, n);
	snprintf(path, sizeof path, "%s/new/stray.eml", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/new/.hidden", dir);
	unlink(path);

	/* LF instead of CRLF (an editor's save) spoils the envelope. */
	file[strlen("X-Docmail-Id: ") + strlen(b.id)] = ' ';
	spew(b.path, file, flen);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 1,
	    "an envelope line without CRLF is bad");
	dm_outbox_list_free(v, n);
	unlink(b.path);
	free(file);
	dm_outbox_item_release(&a);
	dm_outbox_item_release(&b);
}

static void
test_envelope_edits(const char *dir)
{
	struct dm_outbox_item *v;
	char path[PATH_MAX], file[1024];
	const char *id = "1700000000.00000000000000aa";
	size_t n, bad;
	int len;

	/* Written by hand: an unknown field is skipped, minimal fields. */
	len = snprintf(file, sizeof file,
	    "X-Docmail-Id: %s\r\n"
	    "X-Docmail-Created: 42\r\n"
	    "X-Docmail-State: maybe-sent\r\n"
	    "X-Docmail-Attempts: 7\r\n"
	    "X-Docmail-Future: something new\r\n"
	    "X-Docmail-Profile:\r\n"
	    "X-Docmail-Sender: \"anna m\"@example.test\r\n"
	    "X-Docmail-Rcpt: bob@example.test\r\n"
	    "X-Docmail-Message-Id: a@b\r\n"
	    "X-Docmail-Subject: \r\n"
	    "X-Docmail-Size: 2\r\n"
	    "hi", id);
	snprintf(path, sizeof path, "%s/new/%s.docmail", dir, id);
	spew(path, file, (size_t)len);
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 1 && bad == 0 && v[0].state == DM_OB_MAYBE_SENT &&
	    v[0].attempts == 7 && v[0].created == 42 &&
	    strcmp(v[0].profile, "") == 0 && strcmp(v[0].subject, "") == 0 &&
	    strcmp(v[0].sender, "\"anna m\"@example.test") == 0 &&
	    v[0].document == NULL && v[0].size == 2,
	    "parse: unknown fields skipped, empty values, unpadded size");
	dm_outbox_list_free(v, n);

	/* A duplicated single field is bad. */
	len = snprintf(file, sizeof file,
	    "X-Docmail-Id: %s\r\n"
	    "X-Docmail-Created: 42\r\n"
	    "X-Docmail-State: queued\r\n"
	    "X-Docmail-Attempts: 1\r\n"
	    "X-Docmail-Profile: p\r\n"
	    "X-Docmail-Sender: a@b\r\n"
	    "X-Docmail-Sender: c@d\r\n"
	    "X-Docmail-Rcpt: bob@example.test\r\n"
	    "X-Docmail-Message-Id: a@b\r\n"
	    "X-Docmail-Subject: s\r\n"
	    "X-Docmail-Size: 2\r\n"
	    "hi", id);
	spew(path, file, (size_t)len);
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 0 && bad == 1, "parse: a second Sender makes the item bad");
	dm_outbox_list_free(v, n);

	/* No recipient left, or a missing Size. */
	len = snprintf(file, sizeof file,
	    "X-Docmail-Id: %s\r\n"
	    "X-Docmail-Created: 42\r\n"
	    "X-Docmail-State: queued\r\n"
	    "X-Docmail-Attempts: 1\r\n"
	    "X-Docmail-Profile: p\r\n"
	    "X-Docmail-Sender: a@b\r\n"
	    "X-Docmail-Message-Id: a@b\r\n"
	    "X-Docmail-Subject: s\r\n"
	    "X-Docmail-Size: 2\r\n"
	    "hi", id);
	spew(path, file, (size_t)len);
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 0 && bad == 1, "parse: an item without recipients is bad");
	dm_outbox_list_free(v, n);
	len = snprintf(file, sizeof file,
	    "X-Docmail-Id: %s\r\n"
	    "X-Docmail-Created: 42\r\n"
	    "X-Docmail-State: queued\r\n"
	    "X-Docmail-Attempts: 1\r\n"
	    "X-Docmail-Profile: p\r\n"
	    "X-Docmail-Sender: a@b\r\n"
	    "X-Docmail-Rcpt: b@c\r\n"
	    "X-Docmail-Message-Id: a@b\r\n"
	    "X-Docmail-Subject: s\r\n"
	    "hi", id);
	spew(path, file, (size_t)len);
	dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(n == 0 && bad == 1, "parse: an item without Size is bad");
	dm_outbox_list_free(v, n);
	unlink(path);
}

static void
test_add_errors(const char *dir)
{
	struct dm_outbox_item m, out;
	struct mem mem;
	struct dm_stream s;
	struct rlimit old, lim;
	char *bad_rcpt[] = { "bob@example.test", "eve@example.test\r\nRCPT" };
	char *big;
	int r;

	/* The stream fails midway: its error comes up, no file stays. */
	meta_init(&m, 700);
	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	mem.step = 10;
	mem.failat = 30;
	dm_err_clear(&err);
	memset(&out, 0, sizeof out);
	r = dm_outbox_add(dir, &m, &s, &out, DM_SYNC_NOW, &err);
	ok(r == -1 && err.code == DM_ENOINPUT &&
	    strcmp(err.msg, "cannot read attachment 'x.pdf': it shrank") == 0,
	    "add: the stream's own error is passed up");
	ok(count_files(fx("data/docmail/outbox/tmp")) == 0 &&
	    count_files(fx("data/docmail/outbox/new")) == 0,
	    "add: a failed stream leaves no file in tmp/ or new/");
	ok(out.id == NULL && out.path == NULL, "add: out untouched on failure");

	m.rcpt = bad_rcpt;
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA &&
	    strchr(err.msg, '\r') == NULL && strchr(err.msg, '\n') == NULL,
	    "add: a recipient with CRLF is a data error, not echoed raw");
	diag("%s", err.msg);
	bad_rcpt[1] = "eve <eve@example.test>";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA,
	    "add: a recipient with <> or a space is refused");
	bad_rcpt[1] = "\"eve smith\"@example.test";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == 0 && strcmp(out.rcpt[1], "\"eve smith\"@example.test") == 0,
	    "add: a quoted local part with a space is a valid mailbox");
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);
	meta_init(&m, 700);
	m.nrcpt = 0;
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA, "add: no recipients is refused");
	meta_init(&m, 700);
	m.sender = "";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA, "add: an empty sender is refused");
	meta_init(&m, 700);
	m.message_id = "<a@b>";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA,
	    "add: a Message-ID with brackets is refused");
	meta_init(&m, 700);
	m.profile = "work\nX-Docmail-Rcpt: eve@example.test";
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EDATA,
	    "add: a profile name with a line break is refused");

	meta_init(&m, 700);
	r = add(dir, &m, "X-Docmail-Rcpt: eve@example.test\r\n\r\nhi", 37, 0,
	    &out);
	ok(r == -1 && err.code == DM_EDATA &&
	    strstr(err.msg, "X-Docmail-") != NULL,
	    "add: a message starting with X-Docmail- is refused");
	ok(count_files(fx("data/docmail/outbox/tmp")) == 0 &&
	    count_files(fx("data/docmail/outbox/new")) == 0,
	    "add: refused messages leave no file");

	/* Control characters in listing fields are made harmless. */
	meta_init(&m, 700);
	m.subject = "Rechnung f\xc3\xbcr M\xc3\xa4rz\r\nBcc: eve@example.test";
	m.document = "a\tb.pdf";
	m.created = 0;
	r = add(dir, &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == 0 && strcmp(out.subject,
	    "Rechnung f\xc3\xbcr M\xc3\xa4rz??Bcc: eve@example.test") == 0 &&
	    strcmp(out.document, "a?b.pdf") == 0,
	    "add: UTF-8 kept, CR LF and TAB become '?'");
	ok(out.created > 1600000000, "add: created 0 means now");
	dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);

	/* The disk is full: writes fail with EFBIG under a file size limit. */
	if ((big = calloc(1, 200000)) == NULL)
		abort();
	memcpy(big, "Subject: x\r\n\r\n", 14);
	(void)signal(SIGXFSZ, SIG_IGN);
	(void)getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 100000;
	(void)setrlimit(RLIMIT_FSIZE, &lim);
	meta_init(&m, 700);
	r = add(dir, &m, big, 200000, 0, &out);
	(void)setrlimit(RLIMIT_FSIZE, &old);
	(void)signal(SIGXFSZ, SIG_DFL);
	ok(r == -1 && err.code == DM_EIO &&
	    strncmp(err.msg, "cannot write to the outbox '", 28) == 0 &&
	    strstr(err.msg, strerror(EFBIG)) != NULL &&
	    strstr(err.hint, "free some disk space") != NULL,
	    "add: a failed write is an io error naming the outbox");
	diag("%s / %s", err.msg, err.hint);
	ok(count_files(fx("data/docmail/outbox/tmp")) == 0 &&
	    count_files(fx("data/docmail/outbox/new")) == 0,
	    "add: a failed write leaves no file");
	free(big);

	/* An outbox that was never opened. */
	meta_init(&m, 700);
	r = add(fx("nowhere"), &m, MSG, sizeof MSG - 1, 0, &out);
	ok(r == -1 && err.code == DM_EIO,
	    "add: a missing outbox is an io error");
}

static void
test_sentlog(void)
{
	const char *rc[] = { "bob@example.test", "car\tol@example.test" };
	char *text;
	size_t len;
	struct stat st;
	int r;

	dm_err_clear(&err);
	r = dm_sentlog_append(NULL, 1700000000, "20240101.abc@example.test",
	    "invoice-42.pdf", rc, 2, "250 2.0.0 Ok: queued as 4X1\r\n",
	    DM_SYNC_NOW, &err);
	is_int(r, 0, "sentlog: appends");
	ok(stat(fx("state/docmail/sent.log"), &st) == 0 &&
	    (st.st_mode & 0777) == 0600 &&
	    mode_of(fx("state/docmail")) == 0700,
	    "sentlog: at $XDG_STATE_HOME/docmail/sent.log, 0600 in a 0700 directory");
	r = dm_sentlog_append(NULL, 86399, NULL, NULL, rc, 1,
	    "250 ok\x1b[31m", DM_SYNC_NOW, &err);
	text = slurp(fx("state/docmail/sent.log"), &len);
	is_str(text,
	    "2023-11-14T22:13:20Z\t20240101.abc@example.test\tinvoice-42.pdf\t"
	    "bob@example.test,car ol@example.test\t250 2.0.0 Ok: queued as 4X1  \n"
	    "1970-01-01T23:59:59Z\t-\t-\tbob@example.test\t250 ok [31m\n",
	    "sentlog: exact lines, control characters and tabs as spaces");
	free(text);

	unsetenv("XDG_STATE_HOME");
	r = dm_sentlog_append(NULL, 0, "m@x", "d", rc, 1, "250", DM_SYNC_NOW, &err);
	ok(r == 0 && access(fx(".local/state/docmail/sent.log"), F_OK) == 0,
	    "sentlog: default under ~/.local/state");
	setenv("XDG_STATE_HOME", fx("state"), 1);

	r = dm_sentlog_append(fx("given/sent.log"), 0, "m@x", "d", rc, 1,
	    "250", DM_SYNC_NOW, &err);
	ok(r == 0 && access(fx("given/sent.log"), F_OK) == 0,
	    "sentlog: an explicit path");
	if (symlink(fx("given/sent.log"), fx("given/link.log")) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_sentlog_append(fx("given/link.log"), 0, "m@x", "d", rc, 1,
	    "250", DM_SYNC_NOW, &err);
	ok(r == -1 && err.code == DM_EIO &&
	    strstr(err.msg, "cannot write to the sent log") != NULL,
	    "sentlog: a symlink is not followed");
}

static void
test_sentlog_load(void)
{
	static const char damaged[] =
	    "garbage\n"
	    "2026-01-01T00:00:00Z\tm@x\ta.pdf\tb@x\t250\n"
	    "2026-13-01T00:00:00Z\tm@x\ta.pdf\tb@x\t250\n"
	    "2026-01-01 00:00:00\tm@x\ta.pdf\tb@x\t250\n"
	    "2026-01-02T00:00:00Z\tm@x\ta.pdf\tb@x\n"
	    "2026-01-02T00:00:00Z\tm@x\ta.pdf\tb@x\t250\textra\n"
	    "\n"
	    "2026-01-03T10:20:30Z\tm3@x\tc.pdf\tb@x\t250 ok\n"
	    "2026-01-04T00:00:00Z\tm4@x\td.pdf\tb@x\t250 cut";
	const char *rc[] = { "bob@example.test", "eve@example.test" };
	struct dm_sent *v;
	size_t n, bad;
	char *text;
	int r;

	text = dm_sentlog_path(&err);
	is_str(text, fx("state/docmail/sent.log"),
	    "sentlog path: under $XDG_STATE_HOME");
	free(text);

	/* What test_sentlog() appended reads back. */
	dm_err_clear(&err);
	r = dm_sentlog_load(NULL, &v, &n, &bad, &err);
	is_int(r, 0, "sentlog load: reads $XDG_STATE_HOME/docmail/sent.log");
	ok(r == 0 && n == 2 && bad == 0, "sentlog load: two lines, none bad");
	if (r == 0 && n == 2) {
		ok(v[0].when == 1700000000 && v[1].when == 86399,
		    "sentlog load: the dates as UTC times, in file order");
		is_str(v[0].message_id, "20240101.abc@example.test",
		    "sentlog load: the Message-ID");
		is_str(v[0].document, "invoice-42.pdf",
		    "sentlog load: the document");
		is_str(v[0].rcpt, "bob@example.test,car ol@example.test",
		    "sentlog load: the recipients");
		is_str(v[0].reply, "250 2.0.0 Ok: queued as 4X1  ",
		    "sentlog load: the reply as logged");
		ok(v[1].message_id == NULL && v[1].document == NULL,
		    "sentlog load: \"-\" reads as NULL");
	} else
		for (r = 0; r < 6; r++)
			ok(0, "sentlog load: (skipped)");
	dm_sentlog_free(v, n);

	/* Round trip through an explicit path, empty fields included. */
	r = dm_sentlog_append(fx("rt/sent.log"), 1767225600, "m1@x",
	    "Rechnung \xc3\xa4.pdf", rc, 2, "", DM_SYNC_NOW, &err);
	r |= dm_sentlog_append(fx("rt/sent.log"), 1767225601, "m2@x",
	    "b.pdf", NULL, 0, "250 ok", DM_SYNC_NOW, &err);
	r |= dm_sentlog_load(fx("rt/sent.log"), &v, &n, NULL, &err);
	ok(r == 0 && n == 2 && v[0].when == 1767225600 &&
	    strcmp(v[0].document, "Rechnung \xc3\xa4.pdf") == 0 &&
	    strcmp(v[0].rcpt, "bob@example.test,eve@example.test") == 0 &&
	    strcmp(v[0].reply, "") == 0 && strcmp(v[1].rcpt, "") == 0 &&
	    strcmp(v[1].reply, "250 ok") == 0,
	    "sentlog load: an explicit path, UTF-8 names and empty fields");
	dm_sentlog_free(v, n);

	/* Damaged lines are skipped and counted, the rest is kept. */
	spew(fx("rt/damaged.log"), damaged, sizeof damaged - 1);
	r = dm_sentlog_load(fx("rt/damaged.log"), &v, &n, &bad, &err);
	ok(r == 0 && n == 2 && bad == 7 &&
	    strcmp(v[0].document, "a.pdf") == 0 &&
	    strcmp(v[1].document, "c.pdf") == 0 &&
	    v[1].when == 1767435630,
	    "sentlog load: bad dates, wrong field counts and a cut last line are skipped and counted");
	dm_sentlog_free(v, n);

	/* Nothing sent yet is no error. */
	v = (struct dm_sent *)1;
	r = dm_sentlog_load(fx("rt/none.log"), &v, &n, &bad, &err);
	ok(r == 0 && v == NULL && n == 0 && bad == 0,
	    "sentlog load: a missing log is empty, not an error");

	dm_err_clear(&err);
	r = dm_sentlog_load(fx("rt"), &v, &n, NULL, &err);
	ok(r == -1 && err.code == DM_EIO && v == NULL && n == 0 &&
	    strstr(err.msg, "not a regular file") != NULL,
	    "sentlog load: a directory is an io error");
	dm_sentlog_free(NULL, 0);
}

static void
test_maildir(void)
{
	static const char bcc[] =
	    "bob@example.test, \"M\xc3\xbcller, Hans\" <h@example.test>";
	struct mem mem;
	struct dm_stream s;
	struct dirent *de;
	char path[PATH_MAX], *text = NULL;
	size_t len, hl = sizeof "Bcc: \r\n" - 1 + sizeof bcc - 1;
	DIR *d;
	int r;

	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	mem.step = 4;
	dm_err_clear(&err);
	r = dm_maildir_deliver(fx("Mail/Sent"), bcc, &s, &err);
	is_int(r, 0, "maildir: delivers");
	ok(mode_of(fx("Mail/Sent")) == 0700 &&
	    mode_of(fx("Mail/Sent/cur")) == 0700 &&
	    count_files(fx("Mail/Sent/tmp")) == 0 &&
	    count_files(fx("Mail/Sent/new")) == 1,
	    "maildir: tmp/new/cur made 0700, one file in new/");
	if ((d = opendir(fx("Mail/Sent/new"))) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				snprintf(path, sizeof path, "%s/%s",
				    fx("Mail/Sent/new"), de->d_name);
				text = slurp(path, &len);
				ok(mode_of(path) == 0600,
				    "maildir: file is 0600");
			}
		closedir(d);
	}
	ok(text != NULL && len == hl + sizeof MSG - 1 &&
	    strncmp(text, "Bcc: ", 5) == 0 &&
	    memcmp(text + 5, bcc, sizeof bcc - 1) == 0 &&
	    memcmp(text + hl - 2, "\r\n", 2) == 0 &&
	    memcmp(text + hl, MSG, sizeof MSG - 1) == 0,
	    "maildir: Bcc line first, then the message");
	free(text);
	text = NULL;

	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	r = dm_maildir_deliver(fx("Mail/Plain"), "", &s, &err);
	if ((d = opendir(fx("Mail/Plain/new"))) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				snprintf(path, sizeof path, "%s/%s",
				    fx("Mail/Plain/new"), de->d_name);
				text = slurp(path, &len);
			}
		closedir(d);
	}
	ok(r == 0 && text != NULL && len == sizeof MSG - 1 &&
	    memcmp(text, MSG, len) == 0,
	    "maildir: no Bcc line for an empty bcc");
	free(text);
	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	r = dm_maildir_deliver(fx("Mail/Plain"), NULL, &s, &err);
	ok(r == 0 && count_files(fx("Mail/Plain/new")) == 2,
	    "maildir: NULL bcc, and a second file beside the first");

	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	dm_err_clear(&err);
	r = dm_maildir_deliver(fx("Mail/Inject"), "a@b\r\nSubject: x", &s,
	    &err);
	ok(r == -1 && err.code == DM_EDATA,
	    "maildir: a Bcc with CRLF is refused");

	s = mem_stream(&mem, MSG, sizeof MSG - 1);
	mem.failat = 20;
	dm_err_clear(&err);
	r = dm_maildir_deliver(fx("Mail/Plain"), NULL, &s, &err);
	ok(r == -1 && err.code == DM_ENOINPUT &&
	    count_files(fx("Mail/Plain/new")) == 2 &&
	    count_files(fx("Mail/Plain/tmp")) == 0,
	    "maildir: a failed stream leaves nothing behind");
}

/* dir/tmp/NAME, or the lock of item id when name is NULL. */
static void
tmp_path(char *path, size_t size, const char *dir, const char *name,
    const char *id)
{
	if (name != NULL)
		snprintf(path, size, "%s/tmp/%s", dir, name);
	else
		snprintf(path, size, "%s/tmp/%s.lock", dir, id);
}

/* Old leftovers in tmp/ go when the outbox is read; nothing in use does. */
static void
test_sweep(const char *dir)
{
	struct dm_outbox_item m, out, *v;
	struct timespec old[2];
	char path[PATH_MAX];
	size_t n, bad, i;
	static const char *const names[] = {
		"1.dead.docmail", "1.fresh.docmail", "1.gone.lock",
		"1.fresh.lock", NULL /* the live item's lock */,
		"1.moved.lock"
	};
	static const int old_one[] = { 1, 0, 1, 0, 1, 1 };
	static const int stays[] = { 0, 1, 0, 1, 1, 1 };
	static const char *const what[] = {
		"an old temp file goes", "a fresh temp file stays",
		"an old 0.1.0 lock file of a deleted item goes", "a fresh one stays",
		"an old one of an item in new/ stays",
		"an old one of an item a mail reader moved to cur/ stays"
	};

	meta_init(&m, 1700000900);
	if (add(dir, &m, MSG, sizeof MSG - 1, 0, &out) != 0)
		abort();
	snprintf(path, sizeof path, "%s/cur", dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/cur/1.moved.docmail:2,S", dir);
	spew(path, "x", 1);
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 37 * 60 * 60;
	old[1] = old[0];
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		tmp_path(path, sizeof path, dir, names[i], out.id);
		spew(path, "", 0);
		if (old_one[i] && utimensat(AT_FDCWD, path, old, 0) == -1)
			abort();
	}
	dm_err_clear(&err);
	if (dm_outbox_list(dir, &v, &n, &bad, &err) == 0)
		dm_outbox_list_free(v, n);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		tmp_path(path, sizeof path, dir, names[i], out.id);
		ok((access(path, F_OK) == 0) == stays[i], "sweep: %s",
		    what[i]);
		(void)unlink(path);
	}
	snprintf(path, sizeof path, "%s/cur/1.moved.docmail:2,S", dir);
	(void)unlink(path);
	snprintf(path, sizeof path, "%s/cur", dir);
	(void)rmdir(path);
	dm_err_clear(&err);
	if (dm_outbox_remove(&out, DM_SYNC_NOW, &err) == -1)
		abort();
	dm_outbox_item_release(&out);
}

/* The item's one line "X-Docmail-State: ..." holds want. */
static int
state_line_is(const char *path, const char *want)
{
	char line[64], *file;
	size_t len;
	int r;

	if ((file = slurp(path, &len)) == NULL)
		return 0;
	snprintf(line, sizeof line, "\r\nX-Docmail-State: %-10s\r\n", want);
	r = strstr(file, line) != NULL;
	free(file);
	return r;
}

/* "refused": stored, read back, named; the retry rule for each state. */
static void
test_states(const char *dir)
{
	static const struct {
		enum dm_outbox_state	st;
		int			flags;
		enum dm_outbox_verdict	want;
		const char		*what;
	} rule[] = {
		{ DM_OB_QUEUED, 0, DM_RETRY_SEND,
		    "a plain retry sends a waiting item" },
		{ DM_OB_MAYBE_SENT, 0, DM_RETRY_ASK,
		    "a plain retry asks about one that may have been delivered" },
		{ DM_OB_MAYBE_SENT, DM_RETRY_FORCE, DM_RETRY_SEND,
		    "--force sends one that may have been delivered" },
		{ DM_OB_REFUSED, 0, DM_RETRY_SKIP,
		    "a plain retry skips a refused item, without asking" },
		{ DM_OB_REFUSED, DM_RETRY_FORCE, DM_RETRY_SKIP,
		    "--retry --force without an ID skips a refused item too" },
		{ DM_OB_REFUSED, DM_RETRY_NAMED, DM_RETRY_ASK,
		    "a refused item named by its ID is asked about" },
		{ DM_OB_REFUSED, DM_RETRY_NAMED | DM_RETRY_FORCE, DM_RETRY_SEND,
		    "a refused item named with --force is sent" },
		{ DM_OB_QUEUED, DM_RETRY_NAMED, DM_RETRY_SEND,
		    "a waiting item named by its ID is sent" },
	};
	struct dm_outbox_item m, out, *v;
	size_t n, bad, i, take;
	int r;

	is_str(dm_outbox_state_name(DM_OB_QUEUED), "waiting",
	    "state: queued is shown as waiting");
	is_str(dm_outbox_state_name(DM_OB_MAYBE_SENT),
	    "may have been delivered", "state: maybe-sent is shown as such");
	is_str(dm_outbox_state_name(DM_OB_REFUSED), "refused",
	    "state: refused is shown as refused");
	for (i = 0; i < sizeof rule / sizeof rule[0]; i++)
		is_int(dm_outbox_retry_verdict(rule[i].st, rule[i].flags),
		    rule[i].want, "retry rule: %s", rule[i].what);

	/* Waiting -> refused -> waiting, each durably in the file. */
	meta_init(&m, 1700000500);
	if (add(dir, &m, MSG, sizeof MSG - 1, 0, &out) != 0)
		abort();
	out.state = DM_OB_REFUSED;
	out.attempts = 1;
	out.last_error = strdup("the server did not accept the message: server said: 554 5.7.1 no");
	dm_err_clear(&err);
	r = dm_outbox_update(&out, &err);
	ok(r == 0 && state_line_is(out.path, "refused"),
	    "update: 'refused' is written into the item's file");
	dm_err_clear(&err);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0 && v[0].state == DM_OB_REFUSED &&
	    v[0].last_error != NULL && strstr(v[0].last_error, "554") != NULL,
	    "list: a refused item is read back as refused, with its error");
	/* What a plain retry over the listing takes. */
	for (i = take = 0; r == 0 && i < n; i++)
		take += dm_outbox_retry_verdict(v[i].state, 0) ==
		    DM_RETRY_SEND;
	is_int(take, 0, "list: a plain retry over the outbox takes no refused item");
	dm_outbox_list_free(v, n);
	out.state = DM_OB_QUEUED;
	dm_err_clear(&err);
	ok(dm_outbox_update(&out, &err) == 0 &&
	    state_line_is(out.path, "queued"),
	    "update: a refused item that later failed for a while waits again");
	out.state = (enum dm_outbox_state)7;
	dm_err_clear(&err);
	ok(dm_outbox_update(&out, &err) == -1 && err.code == DM_EINTERNAL &&
	    state_line_is(out.path, "queued"),
	    "update: an unknown state is refused, the file stays as it was");
	out.state = DM_OB_QUEUED;
	dm_err_clear(&err);
	(void)dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);
}

/*
 * DM_SYNC_LATER (a batch): the change is made and visible at once, only
 * its flush waits for dm_outbox_sync() / dm_sentlog_sync().
 */
static void
test_sync_later(const char *dir)
{
	const char *rc[] = { "bob@example.test" };
	struct dm_outbox_item m, out, gone;
	struct mem mem;
	struct dm_stream st = mem_stream(&mem, MSG, sizeof MSG - 1);
	char *text;
	size_t len;
	int r;

	meta_init(&m, 1700000700);
	mem.step = 0;
	dm_err_clear(&err);
	r = dm_outbox_add(dir, &m, &st, &out, DM_SYNC_LATER, &err);
	ok(r == 0 && access(out.path, F_OK) == 0,
	    "sync later: the item is in new/ at once");
	dm_err_clear(&err);
	ok(dm_outbox_sync(&out, &err) == 0 &&
	    access(fx("data/docmail/outbox/cur"), F_OK) == -1,
	    "sync later: the outbox syncs (no cur/ yet is no error)");
	dm_err_clear(&err);
	r = dm_outbox_remove(&out, DM_SYNC_LATER, &err);
	ok(r == 0 && access(out.path, F_OK) == -1 && errno == ENOENT &&
	    dm_outbox_sync(&out, &err) == 0,
	    "sync later: removed at once, synced after");

	/* A file where new/ should be: the sync says so. */
	memset(&gone, 0, sizeof gone);
	gone.path = (char *)fx("notdir/new/1.x.docmail");
	if (mkdir(fx("notdir"), 0700) == -1 ||
	    close(open(fx("notdir/new"), O_CREAT | O_WRONLY, 0600)) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_outbox_sync(&gone, &err);
	ok(r == -1 && err.code == DM_EIO &&
	    strstr(err.msg, "cannot sync the outbox") != NULL,
	    "sync later: an outbox directory that cannot be synced is an io error");
	dm_outbox_item_release(&out);

	dm_err_clear(&err);
	r = dm_sentlog_append(fx("later/sent.log"), 0, "l@x", "d", rc, 1,
	    "250", DM_SYNC_LATER, &err);
	text = slurp(fx("later/sent.log"), &len);
	ok(r == 0 && text != NULL && strstr(text, "\tl@x\td\t") != NULL &&
	    dm_sentlog_sync(fx("later/sent.log"), &err) == 0,
	    "sync later: the sent-log line is there at once, synced after");
	free(text);
	dm_err_clear(&err);
	ok(dm_sentlog_sync(fx("later/none.log"), &err) == 0,
	    "sync later: no sent log yet is nothing to sync");
	if (symlink(fx("later/sent.log"), fx("later/link.log")) == -1 ||
	    mkfifo(fx("later/fifo.log"), 0600) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_sentlog_sync(fx("later/link.log"), &err);
	ok(r == -1 && err.code == DM_EIO &&
	    strstr(err.msg, "cannot write to the sent log") != NULL,
	    "sync later: a symlink in the sent log's place is not followed");
	dm_err_clear(&err);
	ok(dm_sentlog_sync(fx("later/fifo.log"), &err) == -1 &&
	    err.code == DM_EIO, "sync later: nor is a FIFO synced (or waited on)");
}

/* --drop: under the item's lock, only as the caller read it, durably. */
static void
test_drop(const char *dir)
{
	struct dm_outbox_item m, out, stale, *v;
	char tmp[PATH_MAX];
	size_t n, bad;
	int fd, r;

	meta_init(&m, 1700000600);
	if (add(dir, &m, MSG, sizeof MSG - 1, 0, &out) != 0)
		abort();
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);

	/* Another docmail is sending it. */
	dm_err_clear(&err);
	if (dm_outbox_lock(&out, &fd, &err) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_outbox_drop(&out, &err);
	ok(r == -1 && err.code == DM_ETEMP &&
	    strstr(err.msg, "another docmail is sending outbox item") != NULL &&
	    access(out.path, F_OK) == 0,
	    "drop: an item another docmail is sending stays, with a clear error");
	diag("%s / %s", err.msg, err.hint);
	dm_outbox_unlock(fd);

	/* Changed since it was read: the user decided on something else. */
	memset(&stale, 0, sizeof stale);
	dm_err_clear(&err);
	if (dm_outbox_find(dir, out.id, &stale, &err) == -1)
		abort();
	out.state = DM_OB_REFUSED;
	dm_err_clear(&err);
	if (dm_outbox_update(&out, &err) == -1)
		abort();
	dm_err_clear(&err);
	r = dm_outbox_drop(&stale, &err);
	ok(r == -1 && err.code == DM_ETEMP &&
	    strstr(err.msg, "changed meanwhile") != NULL &&
	    access(out.path, F_OK) == 0,
	    "drop: an item that changed since it was read stays");
	dm_outbox_item_release(&stale);

	/* As read: removed, and nothing left behind. */
	dm_err_clear(&err);
	r = dm_outbox_drop(&out, &err);
	ok(r == 0 && access(out.path, F_OK) == -1 && errno == ENOENT,
	    "drop: removes the item's file");
	ok(count_files(tmp) == 0, "drop: and leaves nothing in tmp/");
	dm_err_clear(&err);
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 0 && bad == 0, "drop: the outbox is empty");
	dm_outbox_list_free(v, n);
	dm_err_clear(&err);
	r = dm_outbox_drop(&out, &err);
	ok(r == -1 && err.code == DM_ETEMP && strstr(err.msg, "gone") != NULL,
	    "drop: an item gone meanwhile is an error, not a silent success");
	dm_outbox_item_release(&out);
}

/* Tries to lock it; the error code, 0 when locked (*fd set). */
static int
try_lock(const struct dm_outbox_item *it, int *fd)
{
	dm_err_clear(&err);
	if (dm_outbox_lock(it, fd, &err) == 0)
		return 0;
	*fd = -1;
	return err.code;
}

/*
 * One sender per item: the lock is per descriptor, so it keeps out a
 * second message of the same process as it keeps out another process,
 * and goes with the descriptor or the process, leaving no file.
 */
static void
test_lock(const char *dir)
{
	struct dm_outbox_item m, a, b;
	char path[PATH_MAX], tmp[PATH_MAX];
	int fa, fb, fc, st, r, p[2];
	char c;
	pid_t pid;

	meta_init(&m, 1700000700);
	if (add(dir, &m, MSG, sizeof MSG - 1, 0, &a) != 0 ||
	    add(dir, &m, MSG, sizeof MSG - 1, 0, &b) != 0)
		abort();
	snprintf(path, sizeof path, "%s/lock", dir);
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);

	ok(try_lock(&a, &fa) == 0, "lock: an item is taken");
	ok(try_lock(&a, &fc) == DM_ETEMP &&
	    strstr(err.msg, "being sent by another docmail") != NULL,
	    "lock: taken again by the same process, it is busy");
	ok(try_lock(&b, &fb) == 0, "lock: another item is taken beside it");
	ok(mode_of(path) == 0600 && count_files(tmp) == 0,
	    "lock: one file 'lock' of mode 0600, nothing in tmp/");
	dm_outbox_unlock(fb);
	dm_outbox_unlock(fa);
	ok(try_lock(&a, &fa) == 0, "lock: released by closing, taken again");
	dm_outbox_unlock(fa);

	/* Another process holds it until it dies, however it dies. */
	if (pipe(p) == -1 || (pid = fork()) == -1)
		abort();
	if (pid == 0) {
		close(p[0]);
		if (try_lock(&a, &fa) != 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	r = (int)read(p[0], &c, 1);
	close(p[0]);
	ok(r == 1 && try_lock(&a, &fc) == DM_ETEMP,
	    "lock: held by another process, the item is busy");
	dm_outbox_unlock(fc);
	kill(pid, SIGKILL);
	(void)waitpid(pid, &st, 0);
	ok(try_lock(&a, &fa) == 0, "lock: that process killed, it is free");
	dm_outbox_unlock(fa);

	/* Never through a link planted at its name. */
	unlink(path);
	if (symlink("elsewhere", path) == -1)
		abort();
	ok(try_lock(&a, &fa) == DM_EIO &&
	    strstr(err.msg, "cannot lock the outbox item") != NULL,
	    "lock: a link at the lock file's name is refused");
	unlink(path);

	dm_err_clear(&err);
	if (dm_outbox_remove(&a, DM_SYNC_NOW, &err) == -1 ||
	    dm_outbox_remove(&b, DM_SYNC_NOW, &err) == -1)
		abort();
	dm_outbox_item_release(&a);
	dm_outbox_item_release(&b);
}

/*
 * The mark before the final dot rewrites the State field in place: the
 * same file (inode), the same size, whatever the message's size; a file
 * of an older docmail (an unpadded field) is rewritten whole.
 */
static void
test_state_in_place(const char *dir)
{
	struct dm_outbox_item m, out, *v;
	struct stat a, b;
	size_t n, bad, len, flen;
	char *file, *p, *got;
	int r;

	meta_init(&m, 1700000000);
	r = add(dir, &m, MSG, sizeof MSG - 1, 7, &out);
	is_int(r, 0, "state in place: an item");
	ok(stat(out.path, &a) == 0, "state in place: its file");
	out.state = DM_OB_MAYBE_SENT;
	dm_err_clear(&err);
	ok(dm_outbox_update_state(&out, &err) == 0 && stat(out.path, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_size == b.st_size,
	    "state in place: the same file, the same size");
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0 && v[0].state == DM_OB_MAYBE_SENT &&
	    v[0].offset == out.offset,
	    "state in place: listed as may have been delivered");
	got = n == 1 ? drain(&v[0], 4096, &len) : NULL;
	ok(got != NULL && len == sizeof MSG - 1 && memcmp(got, MSG, len) == 0,
	    "state in place: message bytes unchanged");
	free(got);
	dm_outbox_list_free(v, n);

	/* An older file: "State: queued" unpadded. */
	file = slurp(out.path, &flen);
	p = strstr(file, "State: maybe-sent\r\n");
	if (p != NULL) {
		memcpy(p, "State: queued\r\n", 15);
		memmove(p + 15, p + 19, flen - (size_t)(p + 19 - file) + 1);
		spew(out.path, file, flen - 4);
	}
	free(file);
	out.state = DM_OB_MAYBE_SENT;
	dm_err_clear(&err);
	ok(p != NULL && dm_outbox_update_state(&out, &err) == 0 &&
	    stat(out.path, &b) == 0 && a.st_ino != b.st_ino,
	    "state in place: an older file is rewritten whole");
	r = dm_outbox_list(dir, &v, &n, &bad, &err);
	ok(r == 0 && n == 1 && bad == 0 && v[0].state == DM_OB_MAYBE_SENT,
	    "state in place: and reads as may have been delivered");
	dm_outbox_list_free(v, n);
	(void)dm_outbox_remove(&out, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&out);
}

int
main(void)
{
	char *dir;

	plan(182);
	if (snprintf(top, sizeof top, "/tmp/t-outbox.XXXXXX") >=
	    (int)sizeof top || mkdtemp(top) == NULL)
		return 1;
	setenv("HOME", top, 1);
	setenv("XDG_DATA_HOME", fx("data"), 1);
	setenv("XDG_STATE_HOME", fx("state"), 1);

	test_open();
	dm_err_clear(&err);
	if ((dir = dm_outbox_open(NULL, &err)) == NULL) {
		diag("%s", err.msg);
		return 1;
	}
	test_roundtrip(dir);
	test_binary(dir);
	test_find_order(dir);
	test_damage(dir);
	test_envelope_edits(dir);
	test_add_errors(dir);
	test_sweep(dir);
	test_states(dir);
	test_state_in_place(dir);
	test_drop(dir);
	test_lock(dir);
	test_sync_later(dir);
	test_sentlog();
	test_sentlog_load();
	test_maildir();
	free(dir);
	rmtree(top);
	return done_testing();
}
