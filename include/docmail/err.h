/*
 * err.h - the error value that travels up from the core to main
 *
 * Functions of the core return 0 on success or -1 after filling a
 * struct dm_err.  On success the struct is left untouched, so calls can
 * be chained and checked once.  Only the command-line front end turns
 * the class into an exit code (see src/cli/exitcode.c).
 */
#ifndef DOCMAIL_ERR_H
#define DOCMAIL_ERR_H

#include <stddef.h>

/* What the caller can do about a failure, not where it happened. */
enum dm_errcode {
	DM_EOK = 0,
	DM_EUSAGE,	/* wrong command line */
	DM_EDATA,	/* bad address, placeholder, header value, data */
	DM_ENOINPUT,	/* attachment missing or unreadable */
	DM_ECONFIG,	/* bad or missing configuration */
	DM_ECONN,	/* could not connect, connection dropped */
	DM_ETEMP,	/* temporary failure (4xx, timeout) */
	DM_EREJECT,	/* server refused (5xx), message too large */
	DM_EAUTH,	/* authentication failed */
	DM_ETLS,	/* TLS certificate rejected */
	DM_EPROTO,	/* server speaks no SMTP */
	DM_EIO,		/* local input/output error */
	DM_ENOMEM,	/* out of memory */
	DM_EINTERNAL	/* our own bug */
};

#define DM_ERR_MSG_MAX	512
#define DM_ERR_HINT_MAX	512

struct dm_err {
	enum dm_errcode	 code;
	int		 smtp_code;		/* server reply code, 0 if none */
	char		 msg[DM_ERR_MSG_MAX];	/* what failed, lowercase, no full stop */
	char		 hint[DM_ERR_HINT_MAX];	/* what to do next, may be empty */
};

/* Clears code, smtp_code, msg and hint. */
void	dm_err_clear(struct dm_err *);

/*
 * Sets the class and the message (printf format) and clears the hint.
 * Always returns -1 so that "return dm_err_set(...)" reads naturally.
 * A message longer than DM_ERR_MSG_MAX is cut, never overflowed.
 */
int	dm_err_set(struct dm_err *, enum dm_errcode, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* Sets the hint of an error already set.  Returns -1. */
int	dm_err_hint(struct dm_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Puts "prefix: " in front of the message already set, for context
 * such as a file name ("'config.ini:3: ...").  Returns -1.
 */
int	dm_err_prefix(struct dm_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * A path as it goes into a message: DM_ERR_PATH_MAX is the size of the
 * buffer to give dm_err_path(), DM_ERR_PATH_SHOWN the width a path is
 * shortened to when it is longer.
 */
#define DM_ERR_PATH_MAX		320
#define DM_ERR_PATH_SHOWN	72

/*
 * Writes path into out (of size bytes, at least 16) for a message:
 * control characters and invalid UTF-8 as \xNN, and a path longer than
 * DM_ERR_PATH_SHOWN bytes shortened in the middle, never at its end:
 * "/home/anna/.../Rechnungen-November/invoice-2026-001.pdf".  The base
 * name is kept whole (only one longer than out loses its own middle),
 * with as many directories from either end as fit.  Every path in a
 * message goes through here, so that a long directory never pushes the
 * file's name, or the reason after it, out of the message.  Leaves
 * errno alone, so it can sit in an argument list with strerror(errno).
 * Returns out.
 */
const char *dm_err_path(const char *path, char *out, size_t size);

/*
 * dm_err_path() into a buffer that lives to the end of the enclosing
 * block, for an argument list: dm_err_set(err, DM_EIO,
 * "cannot read '%s': %s", DM_ERR_PATH(path), strerror(errno)).
 */
#define DM_ERR_PATH(p)	\
	dm_err_path((p), (char [DM_ERR_PATH_MAX]){ 0 }, DM_ERR_PATH_MAX)

/* The class's name, for tests and diagnostics ("data", "config", ...). */
const char *dm_err_name(enum dm_errcode);

#endif /* DOCMAIL_ERR_H */
