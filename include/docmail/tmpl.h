/*
 * tmpl.h - {{placeholder}} filling for subjects and bodies
 *
 * A placeholder is "{{" name "}}" with optional spaces inside the braces;
 * a name is letters, digits, '_', '-' and '.', e.g. {{number}},
 * {{ sender.name }}.  Values come from a struct dm_vars in which the
 * first value given for a name wins: callers add --set values first,
 * then the document's sidecar, then the profile's sender.* values.
 */
#ifndef DOCMAIL_TMPL_H
#define DOCMAIL_TMPL_H

#include <stddef.h>

#include <docmail/buf.h>
#include <docmail/err.h>

#define DM_VAR_NAME_MAX	64
/* Longest value in bytes: far above any invoice field, far below the cap. */
#define DM_VAR_VALUE_MAX	(64u * 1024)

struct dm_var {
	char	*name;
	char	*value;
	char	*source;	/* where it came from, e.g. "--set", "a.pdf.ini:3" */
};

struct dm_vars {
	struct dm_var	*v;
	size_t		 n;
	size_t		 cap;
};

/* Initialises an empty set (no allocation). */
void	dm_vars_init(struct dm_vars *);
/* Frees every entry; the set is then empty and can be used again. */
void	dm_vars_release(struct dm_vars *);

/*
 * Adds name = value unless name is already set (the first source wins).
 * Returns 1 when added, 0 when name was already set, -1 on error.
 * Names are compared exactly (case matters).  The value may hold any
 * byte but NUL, newlines included.  All strings are copied; source may
 * be NULL.
 * Errors: DM_EDATA for an invalid name or a value longer than
 *         DM_VAR_VALUE_MAX; DM_ENOMEM.
 */
int	dm_vars_add(struct dm_vars *, const char *name, const char *value,
	    const char *source, struct dm_err *);

/*
 * Parses "KEY=VALUE" (as given to --set) and adds it with source "--set".
 * The name ends at the first '='; the value is the rest, maybe empty.
 * Returns as dm_vars_add().
 * Errors: DM_EUSAGE when there is no '=' or the name is invalid;
 *         DM_EDATA for a value longer than DM_VAR_VALUE_MAX; DM_ENOMEM.
 */
int	dm_vars_add_assignment(struct dm_vars *, const char *arg,
	    struct dm_err *);

/* The value of name, or NULL.  Borrowed. */
const char *dm_vars_get(const struct dm_vars *, const char *name);
/* The matching entry, or NULL.  Borrowed. */
const struct dm_var *dm_vars_find(const struct dm_vars *, const char *name);

/* 1 when name is a valid placeholder name. */
int	dm_tmpl_name_valid(const char *name);

/*
 * Appends tmpl with every placeholder replaced by its value.
 * what names the text in messages ("subject", "body").  Values are put
 * in as they are, never expanded again.  In a run of more than two '{'
 * the last two open the placeholder; a lone '{' or '}' is text.  On
 * error out is left as it was before the call.
 * Errors: DM_EDATA for an unresolved placeholder (the message names it,
 *         the hint says where values come from), an unterminated "{{",
 *         an invalid name, or output past out's cap; DM_ENOMEM.
 */
int	dm_tmpl_expand(const char *tmpl, const struct dm_vars *,
	    const char *what, struct dm_buf *out, struct dm_err *);

/*
 * Calls fn for every placeholder name in tmpl, in order (for the TUI,
 * which highlights unresolved ones).  off is the offset of the "{{" in
 * tmpl and len runs through the "}}"; name is borrowed for the call.
 * Stops and returns fn's value when it is non-zero; returns 0 otherwise.
 * Malformed placeholders are skipped; nothing after an unterminated
 * "{{" is reported.
 */
int	dm_tmpl_each(const char *tmpl,
	    int (*fn)(const char *name, size_t off, size_t len, void *),
	    void *arg);

/*
 * tmpl with the placeholders that have a value filled in and the others
 * left as they are (the send dialog's starting text, where the user
 * fills the rest); malloc'd, NULL only without memory.
 * NEEDSWORK: a value that itself holds "{{x}}" is filled again when the
 * message is built from the text.
 */
char	*dm_tmpl_fill_known(const char *tmpl, const struct dm_vars *);

#endif /* DOCMAIL_TMPL_H */
