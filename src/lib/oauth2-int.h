/*
 * oauth2-int.h - what the oauth2 files share, not part of the API
 */
#ifndef DOCMAIL_OAUTH2_INT_H
#define DOCMAIL_OAUTH2_INT_H

#include <stddef.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/oauth2.h>

/* How much of a provider's error text a message quotes. */
#define OAUTH2_SHOW_MAX	200

/*
 * Appends s (n bytes) to b made safe to show: control characters
 * escaped, cut after OAUTH2_SHOW_MAX bytes with "...".  The one
 * quoting of provider text in the module.
 */
int	oauth2_show(struct dm_buf *b, const char *s, size_t n,
	    struct dm_err *);

/* Appends "&name=value" (form-urlencoded; no '&' when b is empty). */
int	oauth2_form_add(struct dm_buf *b, const char *name, const char *value,
	    struct dm_err *);

/*
 * POSTs form (application/x-www-form-urlencoded) to the https url and
 * puts the body in body (a buffer the caller wipes).  Succeeds for
 * HTTP 200 and 4xx (where OAuth2 errors come); *status gets the code.
 * Errors: DM_ECONN, DM_ETEMP (timeout, 5xx, 429), DM_ETLS, DM_EPROTO
 *         (body over DM_OAUTH2_BODY_MAX, a redirect, other statuses),
 *         DM_ECONFIG (not https), DM_ENOMEM.
 */
int	oauth2_http_post(const struct dm_oauth2_conf *, const char *url,
	    const struct dm_buf *form, struct dm_buf *body, long *status,
	    struct dm_err *);

/*
 * Parses body as a JSON object of string/number members, the only
 * shape a token or device endpoint answers with.  oauth2_json_str()
 * returns a member's string (borrowed from j, NULL when absent or not
 * a string); oauth2_json_int() a member's integer (-1 when absent).
 * oauth2_json_free() wipes the strings before freeing: they hold
 * tokens.
 */
struct json_object;
int	oauth2_json_parse(const char *body, size_t len,
	    struct json_object **j, struct dm_err *);
const char *oauth2_json_str(struct json_object *, const char *name,
	    size_t *len);
long long oauth2_json_int(struct json_object *, const char *name);
void	oauth2_json_free(struct json_object *);

/*
 * Sets err from an OAuth2 error response j (its "error" member is
 * set), quoting error and error_description safely; *oerr says which.
 */
int	oauth2_error(struct json_object *j, enum dm_oauth2_oerr *oerr,
	    struct dm_err *);

#endif /* DOCMAIL_OAUTH2_INT_H */
