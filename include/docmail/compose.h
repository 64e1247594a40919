/*
 * compose.h - from what the user asked for to a message and its envelope
 *
 * The one place that applies the rules shared by the command line and
 * the TUI: which From and Reply-To (allow_from_override), where
 * placeholder values come from (--set, then the first document's
 * sidecar, then the profile), which template, who gets the message
 * (To + Cc + Bcc, duplicates dropped) and that Bcc never reaches a
 * header.  The envelope sender is always the profile's email, so
 * bounces come back to the user.
 */
#ifndef DOCMAIL_COMPOSE_H
#define DOCMAIL_COMPOSE_H

#include <stddef.h>
#include <time.h>

#include <docmail/addr.h>
#include <docmail/err.h>
#include <docmail/mime.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/tmpl.h>

/* What the user gave; NULL means "not given". */
struct dm_compose_opts {
	const char		*to;
	const char		*cc;
	const char		*bcc;
	const char		*from;
	const char		*reply_to;
	const char		*subject;
	const char		*body;
	const char		*template_id;
	const struct dm_vars	*vars;		/* --set values; may be NULL */
	const char *const	*files;
	size_t			 nfiles;
	time_t			 date;		/* 0 = now */
	const char		*message_id;	/* NULL = made up */
	/*
	 * A batch: to, cc and bcc above are ignored; the recipients come
	 * from the first file's sidecar keys to, cc and bcc, and a sidecar
	 * without to is an error (DM_EDATA).
	 */
	int			 sidecar_rcpt;
};

struct dm_compose {
	struct dm_mime		*mime;		/* finished, ready to read */
	char			*sender;	/* envelope sender (MAIL FROM) */
	struct dm_addr		 from;
	struct dm_addrlist	 to;
	struct dm_addrlist	 cc;
	struct dm_addrlist	 bcc;
	struct dm_addrlist	 reply_to;
	struct dm_addrlist	 rcpt;		/* every envelope recipient */
	char			*subject;	/* expanded, UTF-8 */
	char			*body;		/* expanded, UTF-8 */
	char			*template_id;	/* the template used, or NULL */
	/*
	 * The documents' file names, '/'-separated (a file name cannot hold
	 * a '/'), for the outbox and the sent log; NULL without documents.
	 */
	char			*documents;
	int			 from_moved;	/* --from became Reply-To */
	int			 from_foreign;	/* From's domain differs from the sender's */
};

void	dm_compose_init(struct dm_compose *);
void	dm_compose_release(struct dm_compose *);

/*
 * Builds the message for profile p (cfg supplies templates).
 * Errors: DM_EUSAGE (no recipient at all, no subject, unknown
 *         --template); DM_EDATA (bad address, unresolved placeholder,
 *         header injection, bad sidecar, unknown template named by a
 *         sidecar); DM_ENOINPUT (attachment missing or unreadable);
 *         DM_ENOMEM.
 */
int	dm_compose_build(struct dm_compose *out, const struct dm_config *cfg,
	    const struct dm_profile *p, const struct dm_compose_opts *o,
	    struct dm_err *err);

/*
 * Stores the built message c of profile p as a new item of the outbox
 * dir (dm_outbox_add: fsync before it returns; its directory with sync
 * DM_SYNC_LATER only at dm_outbox_sync()), its envelope and listing
 * fields taken from c; out as for dm_outbox_add.
 * Errors: those of dm_outbox_add.
 */
int	dm_compose_store(const struct dm_compose *c,
	    const struct dm_profile *p, const char *dir,
	    struct dm_outbox_item *out, enum dm_sync sync,
	    struct dm_err *err);

/*
 * The Bcc recipients as "a@x, b@y" for the sent copy (malloc'd), or
 * NULL without Bcc or on error (DM_ENOMEM).
 */
char	*dm_compose_bcc(const struct dm_compose *c, struct dm_err *err);

#endif /* DOCMAIL_COMPOSE_H */
