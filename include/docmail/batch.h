/*
 * batch.h - one message per document, all over one SMTP session
 *
 * A month's invoices go out in one run: every document is checked
 * first (recipients from its sidecar, template, placeholders, the file
 * itself) and nothing is stored or sent unless all of them can be;
 * then every message is stored in the outbox (fsync) before the
 * session starts, so a crash at any point loses nothing; then one
 * session sends them in order.  Each message is settled (sent log,
 * removal from the outbox, or its state there) the moment its result
 * arrives, before the next one begins, so a kill leaves each message
 * delivered once, waiting, or marked "may have been delivered".
 *
 * No terminal I/O here: results reach the caller through callbacks.
 */
#ifndef DOCMAIL_BATCH_H
#define DOCMAIL_BATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <docmail/buf.h>
#include <docmail/compose.h>
#include <docmail/deliver.h>
#include <docmail/err.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/smtp.h>
#include <docmail/tmpl.h>

/* What applies to every document of a batch. */
struct dm_batch_opts {
	const char		*template_id;	/* --template, or NULL */
	const struct dm_vars	*vars;		/* --set, or NULL */
	time_t			 date;		/* 0 = now */
};

/* Why an earlier run leaves a good document out (dm_batch_earlier). */
enum dm_batch_skip {
	DM_BATCH_NEW = 0,	/* not dealt with before: send it */
	DM_BATCH_SKIP_SENT,	/* the sent log has it, to these recipients */
	DM_BATCH_SKIP_OUTBOX	/* it waits in the outbox already */
};

/* One document: what the check found, and the table's columns. */
struct dm_batch_doc {
	const char	*path;		/* borrowed, as given */
	struct dm_err	*err;		/* NULL when it can be sent, else why not */
	enum dm_batch_skip skip;	/* set by dm_batch_earlier() */
	char		*skip_why;	/* why it is skipped, or NULL */
	char		*to;		/* the To header's addresses, displayed */
	char		*subject;	/* expanded, UTF-8 */
	char		*sender;	/* envelope: MAIL FROM */
	char		**rcpt;		/* envelope: every RCPT TO (Bcc too) */
	size_t		 nrcpt;
	uint64_t	 size;		/* bytes of the message */
};

void	dm_batch_doc_release(struct dm_batch_doc *);

/*
 * Checks every document of docs[0..n-1] (paths set by the caller) by
 * building its message as it would be sent: a sidecar with to (cc, bcc
 * optional), a template with a subject (--template, the sidecar's, or
 * "default"), every placeholder resolved, the file readable.  Each
 * document gets its verdict in err (the message names it) and, when
 * good, the fields above.  Returns 0 when every document can be sent.
 * Errors: the class of the first bad document (DM_EDATA, DM_ENOINPUT,
 *         DM_EUSAGE), with a message counting the bad ones; DM_ENOMEM.
 */
int	dm_batch_check(const struct dm_config *cfg, const struct dm_profile *p,
	    const struct dm_batch_opts *o, struct dm_batch_doc *docs, size_t n,
	    struct dm_err *err);

/*
 * Marks the good documents (err DM_EOK) that an earlier run already
 * dealt with, so that running the same batch again after a crash, a
 * stop or by mistake sends no invoice twice.  A document is matched by
 * its file name (without directory) and any one of its recipients:
 * - one that waits in the outbox dir (in any state: waiting, may have
 *   been delivered, refused) is skipped, always: "docmail outbox
 *   --retry" owns it, and storing it again would send it twice;
 * - one the sent log (sentlog, or the default when NULL) lists as
 *   sent is skipped unless resend.
 * skip and skip_why (what happened, to whom, when, and what to do;
 * not the document's name) are set for each skipped one; *nskip
 * counts them.
 * Errors: DM_EIO (the outbox or the sent log cannot be read: then
 *         nothing can be known, and nothing should be sent), DM_ENOMEM.
 */
int	dm_batch_earlier(const char *dir, const char *sentlog,
	    struct dm_batch_doc *docs, size_t n, int resend, size_t *nskip,
	    struct dm_err *err);

/*
 * Stores the message of every document in the outbox dir (built again,
 * a few at a time on worker threads, so memory holds a few messages,
 * never all of them): items[i] and
 * bcc[i] (the Bcc line for the sent copy, malloc'd, or NULL) for
 * docs[i]; both arrays are the caller's, of n entries.  When one
 * cannot be stored, those stored before it are removed again: all or
 * nothing.
 * Errors: DM_EIO, DM_ENOMEM, or what composing reports.
 */
int	dm_batch_store(const char *dir, const struct dm_config *cfg,
	    const struct dm_profile *p, const struct dm_batch_opts *o,
	    const struct dm_batch_doc *docs, size_t n,
	    struct dm_outbox_item *items, char **bcc, struct dm_err *err);

enum dm_batch_fate {
	DM_BATCH_WAITING = 0,	/* still in the outbox, to be retried */
	DM_BATCH_SENT,		/* accepted for at least one recipient */
	DM_BATCH_REFUSED	/* refused for good (5xx) */
};

/* One message to send: an outbox item, and what became of it. */
struct dm_batch_msg {
	struct dm_outbox_item	*it;	/* borrowed; kept as the outbox */
	const char		*bcc;	/* for the sent copy; may be NULL */
	enum dm_batch_fate	 fate;
	struct dm_delivery	 d;	/* the last attempt's results */
	/*
	 * Why not (all) delivered; NULL when there is nothing to say.
	 * Made only then: a month's batch holds one struct a document.
	 */
	struct dm_err		*err;
	int			 passed;	/* locked by another docmail: not tried */
	/* The engine's own. */
	int			 lockfd;
	struct dm_stream	 st;
};

/* Releases what dm_batch_send() left in m (not m->it). */
void	dm_batch_msg_release(struct dm_batch_msg *);

/*
 * What became of m, for its result line (the CLI's and the TUI's):
 * returns "ok", "refused" or "kept"; who gets the recipients, "a@x,
 * b@y" (those who took it when sent, else all of them), why the
 * server's reply (with each refused recipient) or the reason it was
 * not sent; both reset first, made printable (dm_buf_add_printable),
 * the caller's.  Text that does not fit a buffer's cap is left out.
 */
const char *dm_batch_msg_result(const struct dm_batch_msg *m,
	    struct dm_buf *who, struct dm_buf *why);

struct dm_batch_run {
	int		 rate;		/* messages per minute; 0: no pacing */
	atomic_int	*stop;		/* 1: stop before the next message */
	/*
	 * Called for each message as its result arrives (sent or refused,
	 * from the session's thread), and at the end for each one that
	 * still waits; never concurrently.  i indexes msgs.  May be NULL.
	 */
	void		(*result)(void *arg, size_t i,
			    const struct dm_batch_msg *);
	void		*arg;
};

/*
 * Sends msgs[0..n-1] in order over one session with the connection
 * parameters sp (host, login, event, cancel are the caller's; p gives
 * sent_maildir), paced to run->rate.  A refused message or recipient
 * does not stop the batch; a 421, a 4xx for the session, a timeout, a
 * dropped connection, a refused login or run->stop do, and what was
 * not accepted stays in the outbox.  A server that ends the session
 * between two messages after taking some is connected to again.
 * Every item of a session is locked before it connects (another
 * docmail neither sends nor drops it meanwhile); one that another
 * docmail holds is passed over (passed, err says why) and stays.  As
 * each lock is a file descriptor, a batch larger than the descriptor
 * limit allows goes over one connection per that many messages.
 * msgs come zeroed (calloc) but for it and bcc, or from an earlier
 * call; dm_batch_msg_release() each afterwards.
 * Returns 0 when every message was accepted by every recipient.
 * Errors: DM_ETEMP when some wait in the outbox (the message says why
 *         the batch stopped, if it did; DM_EIO when it stopped because
 *         the outbox could not be written or locked), else DM_EREJECT
 *         when some were refused; DM_ENOMEM.
 */
int	dm_batch_send(const struct dm_profile *p,
	    const struct dm_smtp_params *sp, struct dm_batch_msg *msgs,
	    size_t n, const struct dm_batch_run *run, struct dm_err *err);

#endif /* DOCMAIL_BATCH_H */
