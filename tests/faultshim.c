/*
 * faultshim.c - an LD_PRELOAD library for the tests: a full or failing
 * disk under chosen files, a symbolic link planted where a file is about
 * to be created, and a small TCP send buffer.
 *
 *   DM_FAULT_PATH    glob (fnmatch(3), '*' also matches '/') of the files
 *                    to fail; for descriptors the path comes from
 *                    /proc/self/fd, for path arguments it is taken as given
 *   DM_FAULT_OP      write (write, pwrite), fsync (fsync, fdatasync),
 *                    close, rename (either name), unlink, or plant
 *   DM_FAULT_ERRNO   ENOSPC (the default) or EIO
 *   DM_FAULT_AFTER   write: bytes that still go through (a write across
 *                    the limit is cut short); the others: calls that still
 *                    succeed (plant: creations left alone).  Default 0.
 *                    From then on every call fails, as on a full disk.
 *   DM_FAULT_TARGET  plant: an open(2) with O_CREAT of a matching path
 *                    first makes a symbolic link there pointing to this
 *                    (the attacker winning the race)
 *   DM_FAULT_LOG     a file that gets one line "OP PATH" per fault injected,
 *                    so a test can tell the fault was hit
 *   DM_SHIM_SNDBUF   bytes: SO_SNDBUF of every TCP socket before connect(2),
 *                    so that a killed sender really had data left to send
 *
 * Built with the compiler alone (tests/faultshim.so), not part of docmail.
 */
#define _GNU_SOURCE

#include <sys/socket.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As glibc decides whether open(2) has a mode argument. */
#define NEEDS_MODE(f)	(((f) & O_CREAT) != 0 || \
	((f) & __O_TMPFILE) == __O_TMPFILE)

enum op { OP_NONE, OP_WRITE, OP_FSYNC, OP_CLOSE, OP_RENAME, OP_UNLINK,
    OP_PLANT };

static const char	*glob;
static const char	*target;
static const char	*logpath;
static enum op		 fault_op;
static int		 fault_errno = ENOSPC;
static long long	 budget;
static int		 sndbuf;
static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (real_##name == NULL) \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void
init(void)
{
	const char *s;

	glob = getenv("DM_FAULT_PATH");
	target = getenv("DM_FAULT_TARGET");
	logpath = getenv("DM_FAULT_LOG");
	if ((s = getenv("DM_FAULT_OP")) != NULL) {
		if (strcmp(s, "write") == 0)
			fault_op = OP_WRITE;
		else if (strcmp(s, "fsync") == 0)
			fault_op = OP_FSYNC;
		else if (strcmp(s, "close") == 0)
			fault_op = OP_CLOSE;
		else if (strcmp(s, "rename") == 0)
			fault_op = OP_RENAME;
		else if (strcmp(s, "unlink") == 0)
			fault_op = OP_UNLINK;
		else if (strcmp(s, "plant") == 0)
			fault_op = OP_PLANT;
	}
	if ((s = getenv("DM_FAULT_ERRNO")) != NULL && strcmp(s, "EIO") == 0)
		fault_errno = EIO;
	if ((s = getenv("DM_FAULT_AFTER")) != NULL)
		budget = strtoll(s, NULL, 10);
	if ((s = getenv("DM_SHIM_SNDBUF")) != NULL)
		sndbuf = atoi(s);
	if (glob == NULL)
		fault_op = OP_NONE;
}

static void
note(const char *what, const char *path)
{
	char line[PATH_MAX + 32];
	int fd, n;

	REAL(open);
	REAL(write);
	REAL(close);
	if (logpath == NULL)
		return;
	n = snprintf(line, sizeof line, "%s %s\n", what, path);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	if ((fd = real_open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1)
		return;
	(void)real_write(fd, line, (size_t)n);
	(void)real_close(fd);
}

static int
matches(const char *path)
{
	return glob != NULL && path != NULL && fnmatch(glob, path, 0) == 0;
}

/* 1 when fd is a file under the pattern; its path goes to buf. */
static int
fd_matches(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	(void)snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, size - 1)) == -1)
		return 0;
	buf[n] = '\0';
	return matches(buf);
}

/*
 * How much of a request of n bytes (n = 1 for a call) may go through:
 * n, less than n, or 0 for a failure.
 */
static size_t
allow(size_t n)
{
	size_t ok;

	pthread_mutex_lock(&lock);
	ok = budget <= 0 ? 0 : (unsigned long long)budget < n ?
	    (size_t)budget : n;
	budget -= (long long)ok;
	pthread_mutex_unlock(&lock);
	return ok;
}

/* Common part of write and pwrite: -2 means "do the real call with n". */
static ssize_t
write_fault(int fd, size_t *n)
{
	char path[PATH_MAX];
	size_t ok;

	if (fault_op != OP_WRITE || *n == 0 || !fd_matches(fd, path,
	    sizeof path))
		return -2;
	if ((ok = allow(*n)) == 0) {
		note("write", path);
		errno = fault_errno;
		return -1;
	}
	if (ok < *n)
		note("write-short", path);
	*n = ok;
	return -2;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	ssize_t r;

	REAL(write);
	if ((r = write_fault(fd, &n)) != -2)
		return r;
	return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r;

	REAL(pwrite);
	if ((r = write_fault(fd, &n)) != -2)
		return r;
	return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	ssize_t r;

	REAL(pwrite64);
	if ((r = write_fault(fd, &n)) != -2)
		return r;
	return real_pwrite64(fd, buf, n, off);
}

/* 1 when a call of kind op on fd must fail (errno set). */
static int
fd_fault(enum op op, const char *name, int fd)
{
	char path[PATH_MAX];

	if (fault_op != op || !fd_matches(fd, path, sizeof path) ||
	    allow(1) == 1)
		return 0;
	note(name, path);
	errno = fault_errno;
	return 1;
}

int
fsync(int fd)
{
	REAL(fsync);
	if (fd_fault(OP_FSYNC, "fsync", fd))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	if (fd_fault(OP_FSYNC, "fdatasync", fd))
		return -1;
	return real_fdatasync(fd);
}

int
close(int fd)
{
	int fail;

	REAL(close);
	fail = fd_fault(OP_CLOSE, "close", fd);
	/* As on NFS: the descriptor is gone, the error is reported. */
	if (real_close(fd) == -1 || fail) {
		if (fail)
			errno = fault_errno;
		return -1;
	}
	return 0;
}

/* 1 when a call of kind op on path must fail (errno set). */
static int
path_fault(enum op op, const char *name, const char *path)
{
	if (fault_op != op || !matches(path) || allow(1) == 1)
		return 0;
	note(name, path);
	errno = fault_errno;
	return 1;
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	if (path_fault(OP_RENAME, "rename", matches(from) ? from : to))
		return -1;
	return real_rename(from, to);
}

int
unlink(const char *path)
{
	REAL(unlink);
	if (path_fault(OP_UNLINK, "unlink", path))
		return -1;
	return real_unlink(path);
}

/* The attacker's link, just before a file is created at path. */
static void
plant(const char *path, int flags)
{
	if (fault_op != OP_PLANT || target == NULL || !(flags & O_CREAT) ||
	    !matches(path) || allow(1) == 1)
		return;
	if (symlink(target, path) == 0)
		note("plant", path);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	REAL(open);
	if (NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	plant(path, flags);
	return real_open(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	REAL(open64);
	if (NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	plant(path, flags);
	return real_open64(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	REAL(openat);
	if (NEEDS_MODE(flags)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (path[0] == '/' || dirfd == AT_FDCWD)
		plant(path, flags);
	return real_openat(dirfd, path, flags, mode);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	REAL(connect);
	if (sndbuf > 0 && sa != NULL &&
	    (sa->sa_family == AF_INET || sa->sa_family == AF_INET6))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof sndbuf);
	return real_connect(fd, sa, len);
}
