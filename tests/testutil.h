/*
 * testutil.h - what the unit tests of files on disk share
 *
 * A scratch directory top (the test fills it with mkdtemp()), fx() for
 * paths in it, rmtree() to remove it, and an in-memory struct
 * dm_stream.  Static, like tap.h: include it once, in the test; each
 * test takes what it needs of it, so none is an unused function.
 */
#ifndef DOCMAIL_TESTUTIL_H
#define DOCMAIL_TESTUTIL_H

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/err.h>
#include <docmail/outbox.h>

static char top[64];

/* An in-memory message that hands out step bytes per read. */
struct mem {
	const char	*data;
	size_t		 len;
	size_t		 pos;
	size_t		 step;		/* 0: as much as asked */
	size_t		 failat;	/* fail at this pos; 0: never */
	int		 rewinds;
};

static __attribute__((unused)) ssize_t
mem_read(void *arg, char *buf, size_t len, struct dm_err *e)
{
	struct mem *m = arg;
	size_t n;

	if (m->failat != 0 && m->pos >= m->failat)
		return dm_err_set(e, DM_ENOINPUT,
		    "cannot read attachment 'x.pdf': it shrank");
	n = m->len - m->pos;
	if (n > len)
		n = len;
	if (m->step != 0 && n > m->step)
		n = m->step;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static __attribute__((unused)) int
mem_rewind(void *arg, struct dm_err *e)
{
	struct mem *m = arg;

	(void)e;
	m->pos = 0;
	m->rewinds++;
	return 0;
}

static __attribute__((unused)) struct dm_stream
mem_stream(struct mem *m, const char *data, size_t len)
{
	struct dm_stream s;

	memset(m, 0, sizeof *m);
	m->data = data;
	m->len = len;
	s.read = mem_read;
	s.rewind = mem_rewind;
	s.arg = m;
	return s;
}

/* top/name in one of a few rotating buffers. */
static __attribute__((unused)) const char *
fx(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	if (snprintf(b, PATH_MAX, "%s/%s", top, name) >= PATH_MAX)
		abort();
	return b;
}

static __attribute__((unused)) void
rmtree(const char *path)
{
	struct dirent *de;
	struct stat st;
	char sub[PATH_MAX];
	DIR *d;

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof sub, "%s/%s", path,
			    de->d_name) >= (int)sizeof sub)
				abort();
			rmtree(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

#endif /* DOCMAIL_TESTUTIL_H */
