/*
 * file.h - the one durable-file writer of the core
 *
 * Files we own appear only complete: a temporary file in the same
 * directory, created 0600 with O_EXCL and O_NOFOLLOW, is written,
 * synced and renamed over the final name, then the directory is synced
 * (the Maildir and OpenSMTPD's queue_fs.c way).  The outbox and the
 * OAuth2 token store both write through these functions.
 *
 * They report failures through errno, not struct dm_err: each caller
 * words the message for its own file (outbox item, token store).
 *
 * dm_file_read() is the one reader of a whole small file (the config
 * file before a rewrite, the token store, the text from the editor).
 */
#ifndef DOCMAIL_FILE_H
#define DOCMAIL_FILE_H

#include <stddef.h>

struct dm_buf;

/* Writes all n bytes, retrying on EINTR.  Returns 0, or -1 with errno. */
int	dm_file_write_all(int fd, const void *, size_t n);

/*
 * Syncs the directory path (after a rename or unlink in it).  A file
 * system that cannot sync a directory (EINVAL) counts as success.
 * Returns 0, or -1 with errno.
 */
int	dm_file_fsync_dir(const char *path);

/*
 * Starts a temporary file for dm_file_publish(): creates tmp (never
 * through a symbolic link, never over an existing file) with mode
 * 0600, sets *made, writes len bytes of head.  Returns -1 with errno;
 * *fd is then left for the caller to close, as is tmp to remove (when
 * *made is set).
 */
int	dm_file_begin_tmp(int *fd, const char *tmp, const void *head,
	    size_t len, int *made);

/*
 * Makes a finished temporary file visible under its final name, and
 * durably so: fsync, close, rename(tmp, path), fsync of dir.  *fd is
 * closed and set to -1; *made is cleared once tmp is gone.  dir NULL
 * leaves the directory to a later dm_file_fsync_dir() (many files in a
 * row).  Returns 0, or -1 with errno.
 */
int	dm_file_publish(int *fd, const char *tmp, const char *path,
	    const char *dir, int *made);

/*
 * Cleans up after dm_file_begin_tmp() or dm_file_publish() failed, or
 * on any path out of a write: closes *fd unless it is -1 and sets it
 * to -1; removes tmp when *made is set and clears it.  errno is kept.
 */
void	dm_file_abandon(int *fd, const char *tmp, int *made);

/*
 * Creates path and its missing parents with mode 0700 whatever the
 * umask.  Existing directories keep their mode.  Returns 0, or -1 with
 * errno.
 */
int	dm_file_mkdirs(const char *path);

/*
 * Appends the whole of the regular file path to b, whose cap bounds
 * it; with nofollow, never through a symbolic link (ELOOP).  The read
 * chunks are wiped: the file may hold a password or a token.  Returns
 * 0, or -1 with errno: open's and read's, EISDIR or EINVAL when path
 * is a directory or another non-regular file, EFBIG when b's cap would
 * be exceeded, ENOMEM.  On failure b may hold a part of the file.
 */
int	dm_file_read(const char *path, int nofollow, struct dm_buf *b);

#endif /* DOCMAIL_FILE_H */
