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

/* The class's name, for tests and diagnostics ("data", "config", ...). */
const char *dm_err_name(enum dm_errcode);

#endif /* DOCMAIL_ERR_H */
