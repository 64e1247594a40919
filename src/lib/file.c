/*
 * file.c - the one durable-file writer (see file.h)
 *
 * Moved here from outbox.c unchanged, so that the OAuth2 token store
 * writes its files the same way instead of through a second copy.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/file.h>

int
dm_file_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
dm_file_fsync_dir(const char *path)
{
	int fd, r, e;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	e = errno;
	(void)close(fd);
	/* Some file systems cannot sync a directory; rename is all there is. */
	if (r == -1 && e == EINVAL)
		r = 0;
	errno = e;
	return r;
}

/*
 * Starts a temporary file for dm_file_publish(): created (never through a link,
 * never over a file), *made set, head written.  Returns -1 with errno;
 * *fd is left for the caller to close, as is tmp to remove.
 */
int
dm_file_begin_tmp(int *fd, const char *tmp, const void *head, size_t len,
    int *made)
{
	*fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (*fd == -1)
		return -1;
	*made = 1;
	/* 0600 whatever the umask: one like 0277 would leave it 0400. */
	if (fchmod(*fd, 0600) == -1)
		return -1;
	return dm_file_write_all(*fd, head, len);
}

/*
 * Makes a finished temporary file visible under its final name, and
 * durably so: fsync, close, rename, fsync of the directory.  *fd is
 * closed; *made is cleared once tmp is gone.  Returns -1 with errno.
 */
int
dm_file_publish(int *fd, const char *tmp, const char *path, const char *dir,
    int *made)
{
	int c;

	if (fsync(*fd) == -1)
		return -1;
	c = close(*fd);
	*fd = -1;
	if (c == -1 || rename(tmp, path) == -1)
		return -1;
	*made = 0;
	return dir != NULL ? dm_file_fsync_dir(dir) : 0;
}

void
dm_file_abandon(int *fd, const char *tmp, int *made)
{
	int e = errno;

	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
	if (*made)
		(void)unlink(tmp);
	*made = 0;
	errno = e;
}

/*
 * Creates path and its missing parents with mode 0700 whatever the
 * umask.  Existing directories keep their mode.  Sets errno on failure.
 */
int
dm_file_mkdirs(const char *path)
{
	struct stat st;
	char *p, *s;
	int r = -1, e = 0;

	if (path[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if ((p = strdup(path)) == NULL)
		return -1;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (s[-1] != '/') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0700) == 0) {
				if (chmod(p, 0700) == -1) {
					e = errno;
					goto out;
				}
			} else if (errno != EEXIST &&
			    (stat(p, &st) == -1 || !S_ISDIR(st.st_mode))) {
				/* EACCES on an existing parent is fine. */
				e = errno == 0 ? ENOTDIR : errno;
				goto out;
			}
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	r = 0;
out:
	free(p);
	errno = e;
	return r;
}

int
dm_file_read(const char *path, int nofollow, struct dm_buf *b)
{
	struct dm_err err;
	struct stat sb;
	char chunk[4096];
	ssize_t n;
	int fd, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    (nofollow ? O_NOFOLLOW : 0))) == -1)
		return -1;
	if (fstat(fd, &sb) == -1)
		e = errno;
	else if (!S_ISREG(sb.st_mode))
		e = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
	while (e == 0) {
		if ((n = read(fd, chunk, sizeof chunk)) == -1) {
			if (errno != EINTR)
				e = errno;
			continue;
		}
		if (n == 0)
			break;
		if (dm_buf_add(b, chunk, (size_t)n, &err) == -1)
			e = err.code == DM_EDATA ? EFBIG : ENOMEM;
	}
	explicit_bzero(chunk, sizeof chunk);
	close(fd);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}
