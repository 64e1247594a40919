/*
 * fz-util.c - input cutting and scratch files for the fuzz targets
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create() */
#endif

#include <sys/mman.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>

#include "fuzz.h"

void
fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

void *
fz_malloc(size_t n)
{
	void *p;

	/* The harness's own memory: running out is no finding. */
	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
	return p;
}

char *
fz_strndup(const void *s, size_t n)
{
	char *p = fz_malloc(n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

unsigned int
fz_byte(struct fz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

char *
fz_field(struct fz_in *in)
{
	const uint8_t *nul = memchr(in->p, '\0', in->n);
	size_t len = nul != NULL ? (size_t)(nul - in->p) : in->n;
	char *s = fz_strndup(in->p, len);

	if (nul != NULL)
		len++;
	in->p += len;
	in->n -= len;
	return s;
}

char *
fz_rest(struct fz_in *in, size_t *len)
{
	char *s = fz_strndup(in->p, in->n);

	*len = in->n;
	in->p += in->n;
	in->n = 0;
	return s;
}

int
fz_memfile(const void *data, size_t n, char *path, size_t size)
{
	const char *p = data;
	ssize_t w;
	int fd;

	if ((fd = memfd_create("fz", MFD_CLOEXEC)) == -1)
		return -1;
	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += w;
		n -= (size_t)w;
	}
	if ((size_t)snprintf(path, size, "/proc/self/fd/%d", fd) >= size)
		abort();
	return fd;
}

static char tmpdir[4096];

static void
tmp_cleanup(void)
{
	struct dirent *de;
	char path[8192];
	DIR *d;

	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			(void)snprintf(path, sizeof path, "%s/%s", tmpdir,
			    de->d_name);
			(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(tmpdir);
}

const char *
fz_tmppath(const char *name, char *buf, size_t size)
{
	const char *base;

	if (tmpdir[0] == '\0') {
		if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
			base = "/tmp";
		if ((size_t)snprintf(tmpdir, sizeof tmpdir, "%s/fz.XXXXXX",
		    base) >= sizeof tmpdir || mkdtemp(tmpdir) == NULL) {
			perror("fuzz: cannot make a scratch directory");
			abort();
		}
		atexit(tmp_cleanup);
	}
	if ((size_t)snprintf(buf, size, "%s/%s", tmpdir, name) >= size)
		abort();
	return buf;
}

/* Text that can reach a terminal: UTF-8 without control characters. */
int
fz_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n = strlen(s);

	if (!dm_utf8_valid(s, n))
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f))
			return 0;
	return 1;
}
