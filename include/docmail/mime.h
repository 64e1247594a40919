/*
 * mime.h - the exact RFC 5322 / MIME message, produced as a stream
 *
 * The builder collects headers, a text body and attachments, then
 * dm_mime_finish() renders the headers and computes the exact size.
 * dm_mime_read() then yields the message in pieces, reading attachments
 * from disk as it goes: a 50 MB PDF is never held in memory.
 *
 * Output is CRLF throughout, with no line over 998 octets and no raw
 * 8-bit byte in any header: header text is RFC 2047 encoded; a file
 * name that is not short printable ASCII is in filename* alone (RFC
 * 2231, continued over lines when long) and RFC 2047 encoded in the
 * Content-Type's name= for readers that know no RFC 2231.  A CR, LF or
 * NUL in any header value is refused (DM_EDATA), never written.  There
 * is never a Bcc header: Bcc recipients belong to the envelope only.
 *
 * This is the only module that writes header lines.
 */
#ifndef DOCMAIL_MIME_H
#define DOCMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/err.h>

struct dm_mime;

enum dm_mime_hdr {
	DM_HDR_TO,
	DM_HDR_CC,
	DM_HDR_REPLY_TO
};

/* Errors: DM_ENOMEM.  Returns NULL on error. */
struct dm_mime	*dm_mime_new(struct dm_err *);
/* Closes any open attachment and frees everything; NULL is a no-op. */
void		 dm_mime_free(struct dm_mime *);

/* From: one address (name may be NULL).  Errors: DM_EDATA, DM_ENOMEM. */
int	dm_mime_set_from(struct dm_mime *, const struct dm_addr *,
	    struct dm_err *);

/* Appends the addresses of list to To, Cc or Reply-To.  Errors as above. */
int	dm_mime_add_addrs(struct dm_mime *, enum dm_mime_hdr,
	    const struct dm_addrlist *, struct dm_err *);

/* Subject, UTF-8.  Errors: DM_EDATA (CR/LF/NUL, invalid UTF-8), DM_ENOMEM. */
int	dm_mime_set_subject(struct dm_mime *, const char *, struct dm_err *);

/*
 * Body text, UTF-8.  Line ends may be LF, CRLF or CR; they become CRLF.
 * Errors: DM_EDATA (NUL or invalid UTF-8), DM_ENOMEM.
 */
int	dm_mime_set_body(struct dm_mime *, const char *, size_t,
	    struct dm_err *);

/* Date header; without it, the time of dm_mime_finish(). */
void	dm_mime_set_date(struct dm_mime *, time_t);
/*
 * t as the Date header writes it (RFC 5322, English names whatever the
 * locale), into out.  Errors: DM_EDATA (a date it cannot represent).
 */
int	dm_mime_format_date(time_t t, char *out, size_t sz, struct dm_err *);

/*
 * Message-ID without the brackets ("x@y"); without it one is made:
 * "<time>.<random>@<domain of the From address>".
 * Errors: DM_EDATA (not id-left@id-right, spaces, brackets, control
 *         characters, too long), DM_ENOMEM.
 */
int	dm_mime_set_message_id(struct dm_mime *, const char *,
	    struct dm_err *);

/*
 * Attaches the file at path under display name (NULL = the path's last
 * component).  The file must be a readable regular file; its type is
 * application/pdf when it starts with "%PDF-", else guessed from the
 * name's extension, else application/octet-stream.
 * Errors: DM_ENOINPUT (missing, unreadable, a directory, not a regular
 *         file: the message names the path and the reason);
 *         DM_EDATA (name with control characters or invalid UTF-8);
 *         DM_ENOMEM.
 */
int	dm_mime_add_file(struct dm_mime *, const char *path,
	    const char *name, struct dm_err *);

/* The number of attachments added so far. */
size_t	dm_mime_attachment_count(const struct dm_mime *);

/*
 * The Content-Type chosen for attachment i (0-based, in the order
 * added), e.g. "application/pdf", for previews; NULL when i is out of
 * range.  Static string.
 */
const char *dm_mime_attachment_type(const struct dm_mime *, size_t i);

/*
 * Renders the headers and computes the size.  Needs a From.
 * Errors: DM_EDATA (no From), DM_ENOMEM.
 */
int	dm_mime_finish(struct dm_mime *, struct dm_err *);

/* After finish: the exact size of the message in octets. */
uint64_t dm_mime_size(const struct dm_mime *);
/* After finish: the Message-ID without brackets.  Borrowed. */
const char *dm_mime_message_id(const struct dm_mime *);

/*
 * After finish: copies up to len bytes of the message into buf.
 * Returns the number of bytes (0 at the end), or -1 on error.
 * Errors: DM_ENOINPUT / DM_EIO when an attachment cannot be read or
 *         changed size since it was added.
 */
ssize_t	dm_mime_read(struct dm_mime *, char *buf, size_t len,
	    struct dm_err *);

/* Starts the stream again from the first byte.  Errors: DM_EIO. */
int	dm_mime_rewind(struct dm_mime *, struct dm_err *);

/*
 * Header-encoding helpers, exposed for tests and for the TUI preview.
 * dm_mime_encode_header() appends "Name: value" folded under 78 columns
 * with CRLF line ends, RFC 2047 encoded words (UTF-8, Q or B, whichever
 * is shorter) for non-ASCII text; encoded words never split a UTF-8
 * sequence.  Errors: DM_EDATA (CR/LF/NUL, invalid UTF-8), DM_ENOMEM.
 */
int	dm_mime_encode_header(struct dm_buf *, const char *name,
	    const char *value, struct dm_err *);

/* Appends "Name: addr, addr" folded, display names encoded.  Errors as above. */
int	dm_mime_encode_addr_header(struct dm_buf *, const char *name,
	    const struct dm_addr *, size_t n, struct dm_err *);

#endif /* DOCMAIL_MIME_H */
