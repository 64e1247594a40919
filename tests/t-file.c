/*
 * t-file.c - tests for file.c: dm_file_read() reads a whole regular
 * file into a bounded buffer and says what went wrong in errno;
 * dm_file_abandon() cleans up after a write that failed
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/file.h>

#include "tap.h"
#include "testutil.h"

/* Writes n bytes of data to path.  Returns 0 or -1. */
static int
put(const char *path, const char *data, size_t n)
{
	FILE *fp;
	int r;

	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	r = fwrite(data, 1, n, fp) == n ? 0 : -1;
	return fclose(fp) == 0 ? r : -1;
}

static void
test_read(void)
{
	struct dm_buf b;
	struct dm_err err;
	char big[10000];

	dm_buf_init(&b, 0);
	ok(put(fx("a"), "one\ntwo\n", 8) == 0, "fixture written");
	is_int(dm_file_read(fx("a"), 0, &b), 0, "a file is read");
	is_str(dm_buf_str(&b), "one\ntwo\n", "all of it");
	is_int(dm_file_read(fx("a"), 1, &b), 0, "read again");
	is_int(b.len, 16, "appended to what the buffer held");
	dm_buf_release(&b);

	/* Larger than one read, with a NUL inside: every byte counts. */
	memset(big, 'x', sizeof big);
	big[5000] = '\0';
	dm_buf_init(&b, sizeof big);
	ok(put(fx("big"), big, sizeof big) == 0, "large fixture written");
	is_int(dm_file_read(fx("big"), 0, &b), 0, "a file of several chunks");
	ok(b.len == sizeof big && memcmp(b.data, big, sizeof big) == 0,
	    "every byte, in order");
	dm_buf_release(&b);

	dm_buf_init(&b, 0);
	ok(put(fx("empty"), "", 0) == 0, "empty fixture written");
	is_int(dm_file_read(fx("empty"), 0, &b), 0, "an empty file is read");
	is_int(b.len, 0, "nothing added");
	dm_buf_release(&b);

	/* The cap: one byte over is EFBIG, the file's size exactly is not. */
	dm_buf_init(&b, sizeof big - 1);
	errno = 0;
	is_int(dm_file_read(fx("big"), 0, &b), -1, "a file over the cap");
	is_int(errno, EFBIG, "is EFBIG");
	dm_buf_release(&b);
	dm_buf_init(&b, 0);
	ok(dm_buf_add(&b, "x", 1, &err) == 0, "one byte in the buffer");
	b.max = sizeof big;
	errno = 0;
	is_int(dm_file_read(fx("big"), 0, &b), -1,
	    "what the buffer holds counts towards the cap");
	is_int(errno, EFBIG, "is EFBIG too");
	dm_buf_release(&b);
}

static void
test_refused(void)
{
	struct dm_buf b;

	dm_buf_init(&b, 0);
	errno = 0;
	is_int(dm_file_read(fx("none"), 0, &b), -1, "a missing file");
	is_int(errno, ENOENT, "is ENOENT");

	ok(mkdir(fx("dir"), 0700) == 0, "directory made");
	errno = 0;
	is_int(dm_file_read(fx("dir"), 0, &b), -1, "a directory");
	is_int(errno, EISDIR, "is EISDIR");

	/* A device would read on forever (/dev/zero) or lie (/dev/null). */
	errno = 0;
	is_int(dm_file_read("/dev/null", 0, &b), -1, "a device");
	is_int(errno, EINVAL, "is EINVAL");
	is_int(b.len, 0, "nothing read so far");

	ok(symlink("a", fx("link")) == 0, "symbolic link made");
	errno = 0;
	is_int(dm_file_read(fx("link"), 1, &b), -1, "nofollow: a link");
	is_int(errno, ELOOP, "is ELOOP");
	is_int(dm_file_read(fx("link"), 0, &b), 0,
	    "without nofollow: read through the link");
	is_str(dm_buf_str(&b), "one\ntwo\n", "the target's text");
	dm_buf_release(&b);
}

static void
test_abandon(void)
{
	struct stat st;
	int fd = -1, made = 0;

	ok(dm_file_begin_tmp(&fd, fx("tmp"), "x", 1, &made) == 0 &&
	    fd != -1 && made, "a temporary file begun");
	errno = ENOSPC;
	dm_file_abandon(&fd, fx("tmp"), &made);
	ok(fd == -1 && !made, "abandon: closed and cleared");
	ok(lstat(fx("tmp"), &st) == -1 && errno == ENOENT, "and removed");
	errno = ENOSPC;
	dm_file_abandon(&fd, fx("tmp"), &made);
	is_int(errno, ENOSPC, "again: nothing to do, errno kept");
	/* A file not made by us (EEXIST) is not removed. */
	ok(dm_file_begin_tmp(&fd, fx("a"), "", 0, &made) == -1 && !made,
	    "an existing name is not taken over");
	dm_file_abandon(&fd, fx("a"), &made);
	ok(lstat(fx("a"), &st) == 0, "nor removed by abandon");
}

int
main(void)
{
	if (snprintf(top, sizeof top, "/tmp/t-file.XXXXXX") >=
	    (int)sizeof top || mkdtemp(top) == NULL)
		return 1;
	plan(35);
	test_read();
	test_refused();
	test_abandon();
	rmtree(top);
	return done_testing();
}
