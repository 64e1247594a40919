/*
 * buf.h - bounded, growing byte buffer and string helpers
 *
 * A struct dm_buf grows on demand up to a hard cap.  Its data is always
 * NUL-terminated (the NUL is not counted in len), so dm_buf_str() can be
 * passed to string functions.  Every append can fail with DM_ENOMEM
 * (allocation failed) or DM_EDATA (the cap would be exceeded).
 */
#ifndef DOCMAIL_BUF_H
#define DOCMAIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include <docmail/err.h>

/* Default cap: far above any header, template or config value. */
#define DM_BUF_DEFAULT_MAX	(16u * 1024 * 1024)

struct dm_buf {
	char	*data;		/* owned; NULL until the first append */
	size_t	 len;		/* bytes in use, without the NUL */
	size_t	 cap;		/* bytes allocated */
	size_t	 max;		/* hard cap on len */
};

/* Initialises an empty buffer; max 0 means DM_BUF_DEFAULT_MAX. */
void	 dm_buf_init(struct dm_buf *, size_t max);
/* Frees the data and re-initialises the buffer with the same cap. */
void	 dm_buf_release(struct dm_buf *);
/* Empties the buffer, keeping its memory. */
void	 dm_buf_reset(struct dm_buf *);
/* Overwrites the contents with zero bytes, then releases (for secrets). */
void	 dm_buf_wipe(struct dm_buf *);

int	 dm_buf_add(struct dm_buf *, const void *, size_t, struct dm_err *);
int	 dm_buf_addstr(struct dm_buf *, const char *, struct dm_err *);
int	 dm_buf_addc(struct dm_buf *, char, struct dm_err *);
int	 dm_buf_addf(struct dm_buf *, struct dm_err *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 dm_buf_vaddf(struct dm_buf *, struct dm_err *, const char *,
	    va_list);

/* The contents as a string; "" for an empty buffer.  Borrowed. */
const char *dm_buf_str(const struct dm_buf *);

/*
 * Hands the data to the caller (to free()) and empties the buffer.
 * Returns a malloc'd "" for an empty buffer, NULL only when out of memory.
 */
char	*dm_buf_detach(struct dm_buf *);

/*
 * Copies src into dst of size dsize, always NUL-terminating when dsize > 0.
 * Returns strlen(src): a result >= dsize means the copy was cut.
 */
size_t	 dm_strlcpy(char *, const char *, size_t);

/*
 * Parses a decimal integer in [min, max] (the whole string, no sign for
 * unsigned ranges, no spaces).  Returns 0 and sets *out, or -1 when s is
 * not a number or is out of range.
 */
int	 dm_strtonum(const char *, long long min, long long max,
	    long long *out);

/* strdup that returns NULL and sets DM_ENOMEM on failure; NULL in, NULL out. */
char	*dm_strdup(const char *, struct dm_err *);

/* The value of hexadecimal digit c (either case), or -1. */
int	 dm_hexval(int c);

/* 1 when s is valid UTF-8 of len bytes (no overlongs, no surrogates). */
int	 dm_utf8_valid(const char *, size_t);

/*
 * Appends s to b with every control character (C0, DEL, C1 and invalid
 * UTF-8) shown as \xNN, so that text from files or servers can never
 * reach a terminal as an escape sequence.
 */
int	 dm_buf_add_printable(struct dm_buf *, const char *, size_t,
	    struct dm_err *);

/*
 * The one way docmail quotes untrusted text (addresses, file names,
 * values from files, server replies) inside a message: s (n bytes)
 * as dm_buf_add_printable() shows it, at most max bytes of s (cut
 * between characters, "..." added), into dst (always terminated, cut
 * to fit between characters).  Returns dst.
 */
const char *dm_quote(char *dst, size_t dsize, const char *s, size_t n,
	    size_t max);

#endif /* DOCMAIL_BUF_H */
