/*
 * addr.h - RFC 5322 address lists
 *
 * Parses what a user types or pastes into To/Cc/Bcc/From/Reply-To:
 *   a@x.test, "Müller, Hans" <hans@x.test>; b@y.test (work)
 * Commas and semicolons separate addresses (semicolons because other
 * mail programs copy lists that way); quoted strings, comments, angle
 * addresses and quoted local parts are understood.  Group syntax
 * ("team: a@x, b@y;") is not accepted.  Display names are kept as
 * UTF-8 text; encoding them for a header is the mime module's job.
 */
#ifndef DOCMAIL_ADDR_H
#define DOCMAIL_ADDR_H

#include <stddef.h>

#include <docmail/buf.h>
#include <docmail/err.h>

struct dm_addr {
	char	*name;		/* display name, UTF-8, unquoted; NULL if none */
	char	*mailbox;	/* local@domain; local part quoted if it must be */
};

struct dm_addrlist {
	struct dm_addr	*v;
	size_t		 n;
	size_t		 cap;
};

void	dm_addrlist_init(struct dm_addrlist *);
/* Frees every address and the array; the list is empty afterwards. */
void	dm_addrlist_release(struct dm_addrlist *);

/*
 * Parses input and appends its addresses to list.  An address whose
 * mailbox is already in list (local part compared exactly, domain
 * without regard to case) is dropped.  Empty input, or input with only
 * separators, adds nothing and is not an error: use
 * dm_addr_require_nonempty() where a list is required.
 * On error nothing is appended.
 * Errors: DM_EDATA with a message that quotes the bad part (missing @,
 *         unbalanced quote, bracket or parenthesis, CR/LF/NUL, control
 *         characters, non-ASCII in the mailbox, over-long parts,
 *         invalid UTF-8 in a display name); DM_ENOMEM.
 */
int	dm_addr_parse_list(struct dm_addrlist *list, const char *input,
	    struct dm_err *err);

/*
 * Parses exactly one address (for From).  Errors as above; DM_EDATA
 * when input holds none or more than one.
 */
int	dm_addr_parse_one(struct dm_addr *out, const char *input,
	    struct dm_err *err);

/* Frees the members of one address (not the struct). */
void	dm_addr_release(struct dm_addr *);

/* Deep copy.  Errors: DM_ENOMEM. */
int	dm_addr_copy(struct dm_addr *dst, const struct dm_addr *src,
	    struct dm_err *err);

/*
 * DM_EDATA "no address in <what>" when list is empty.  what names the
 * field for the message, e.g. "--to".
 */
int	dm_addr_require_nonempty(const struct dm_addrlist *list,
	    const char *what, struct dm_err *err);

/* 1 when list holds mailbox (same comparison as the duplicate check). */
int	dm_addrlist_contains(const struct dm_addrlist *list,
	    const char *mailbox);

/* The domain part of a mailbox (after the last @); borrowed. */
const char *dm_addr_domain(const char *mailbox);

/*
 * Appends a human-readable form, "Name <local@domain>" or
 * "local@domain", UTF-8, unencoded: for terminals and previews, never
 * for headers.  Control characters in the name are escaped.
 */
int	dm_addr_format_display(const struct dm_addr *, struct dm_buf *,
	    struct dm_err *);

#endif /* DOCMAIL_ADDR_H */
