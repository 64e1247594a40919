/*
 * deliver.h - send one outbox item and settle it
 *
 * The shared tail of "send", "outbox --retry" and the TUI's send
 * screen: the stored message goes out byte for byte; when the server
 * accepted it, a sent-log line and the sent copy are written and the
 * item leaves the outbox (or keeps only the recipients still to reach);
 * otherwise the item records the attempt, the reason and whether it may
 * already have been delivered.
 */
#ifndef DOCMAIL_DELIVER_H
#define DOCMAIL_DELIVER_H

#include <stddef.h>

#include <docmail/err.h>
#include <docmail/oauth2.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

#define DM_DELIVER_WARN_MAX	3

struct dm_delivery {
	struct dm_smtp_mail	 mail;		/* accepted, maybe_delivered, code, reply */
	struct dm_smtp_rcpt	*rcpt;		/* one per recipient tried */
	size_t			 nrcpt;
	char			**mailbox;	/* owned copies behind rcpt[i].mailbox */
	int			 removed;	/* the item left the outbox */
	/*
	 * When settling reaches the disk: DM_SYNC_LATER (a batch) leaves
	 * the sent-log line and the removal to dm_sentlog_sync() and
	 * dm_outbox_sync().  dm_delivery_init() sets DM_SYNC_NOW.
	 */
	enum dm_sync		 sync;
	int			 failed_step;	/* enum dm_smtp_step, -1: none */
	/* What went wrong after the server accepted (sent log, copy). */
	/*
	 * Each a malloc'd string, made when a warning happens (a batch holds
	 * one struct a message: no room kept for warnings that never come).
	 */
	char			*warn[DM_DELIVER_WARN_MAX];
	int			 nwarn;
};

void	dm_delivery_release(struct dm_delivery *);

/*
 * The state an attempt that ended with err leaves its item in, when
 * the item stays: "may have been delivered" when the dot went out
 * unanswered; "refused" when the server refused this message for good
 * (DM_EREJECT for the sender, the size, the data, or every recipient
 * still to reach, whether or not others got it before); else waiting.
 * A refusal of the whole session (a 554 greeting) is not the
 * message's: the item waits.  err may be NULL (no error).
 */
enum dm_outbox_state dm_delivery_state(const struct dm_delivery *,
	    const struct dm_err *err);

/*
 * The connection parameters of profile p: host, port, TLS, timeout
 * (the default when unset) and, when p has a user and pw is set, the
 * login; for auth = oauth2 the user and dm_deliver_token() with p as
 * its argument; pw and p are borrowed (p must outlive the
 * session).  event, arg and cancel are left NULL.
 */
void	dm_deliver_params(const struct dm_profile *p,
	    const struct dm_secret *pw, struct dm_smtp_params *sp);

/*
 * The OAuth2 settings of profile p as the oauth2 module takes them
 * (strings borrowed from p; store_dir NULL, the XDG location).
 * Errors: DM_ECONFIG (an unknown oauth2_provider; a profile name that
 *         cannot name a token store file).
 */
int	dm_deliver_oauth2_conf(const struct dm_profile *p,
	    struct dm_oauth2_conf *, struct dm_err *);

/*
 * A dm_smtp_params token callback for the struct dm_profile at arg:
 * its oauth2_token_command when set (run again for a refresh; how =
 * "command"), else the token store of 'docmail login' (how = "cached"
 * or "refreshed"; refresh = 1 refreshes even a token that looks valid).
 * Errors: DM_EAUTH (the command failed or printed nothing; not signed
 *         in; the refresh was refused), as dm_oauth2_access_token().
 */
int	dm_deliver_token(void *arg, int refresh, struct dm_secret *out,
	    char *how, size_t howsize, struct dm_err *err);

/*
 * Sends item it with the connection parameters sp (host, TLS, login,
 * event callback and cancel flag are the caller's); p supplies
 * sent_maildir.  bcc, when not NULL, is written as a Bcc line into the
 * sent copy.  d receives the results whatever the outcome and must be
 * released.  it is updated (recipients, state, attempts, last error)
 * to match the outbox; its state is dm_delivery_state()'s.
 * Errors: those of dm_smtp_send; DM_EIO / DM_ENOMEM when the item
 *         cannot be read.
 */
int	dm_deliver(const struct dm_profile *p,
	    const struct dm_smtp_params *sp, struct dm_outbox_item *it,
	    const char *bcc, struct dm_delivery *d, struct dm_err *err);

/*
 * The parts of dm_deliver(), for a caller that sends several items over
 * one session (batch.h).  dm_delivery_init() prepares d for item it:
 * recipients copied, d->mail's sender, recipients and size set; the
 * caller locks the item, opens its stream and sets d->mail's read,
 * rewind and arg, and marks the item DM_OB_MAYBE_SENT before the dot.
 * d must be released even on error.  Errors: DM_ENOMEM.
 */
int	dm_delivery_init(const struct dm_outbox_item *it,
	    struct dm_delivery *d, struct dm_err *err);

/*
 * Settles item it after its attempt ended with r (0, or -1 and err):
 * accepted, the sent log and sent copy are written and it leaves the
 * outbox (or keeps the recipients still to reach); otherwise its state,
 * attempts and last error are updated.  Warnings go into d->warn.  The
 * caller still holds the lock and closes the stream.  Returns r; may
 * change err's hint.
 */
int	dm_delivery_settle(const struct dm_profile *p,
	    struct dm_outbox_item *it, const char *bcc, struct dm_delivery *d,
	    int r, struct dm_err *err);

/*
 * Adds "what: e's message" to d's warnings (at most
 * DM_DELIVER_WARN_MAX; a warning that finds no room is dropped).
 */
void	dm_delivery_warn(struct dm_delivery *d, const char *what,
	    const struct dm_err *e);

#endif /* DOCMAIL_DELIVER_H */
