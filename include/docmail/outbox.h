/*
 * outbox.h - messages that have not been accepted yet, and the record
 * of those that were
 *
 * Every message is written to the outbox, with fsync, before its first
 * byte goes to a server; it leaves the outbox only after the server
 * accepted it (250 after the final dot).  The outbox is a Maildir
 * ($XDG_DATA_HOME/docmail/outbox/{tmp,new,cur}); each file is the exact
 * message with docmail's envelope prepended as "X-Docmail-*:" header
 * lines, so a mail reader can open it and a retry can send the message
 * after those lines byte for byte.
 *
 * Accepted messages get a line in the sent log
 * ($XDG_STATE_HOME/docmail/sent.log) and, when the profile has
 * sent_maildir, a copy there.
 */
#ifndef DOCMAIL_OUTBOX_H
#define DOCMAIL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <docmail/err.h>

/*
 * Kept in the item's file (X-Docmail-State: queued, maybe-sent,
 * refused), so it survives crashes and is written only through
 * dm_outbox_update().  A docmail older than "refused" counts such an
 * item as damaged and leaves it alone, which never resends it.
 */
enum dm_outbox_state {
	DM_OB_QUEUED = 0,	/* surely not delivered: retry freely */
	DM_OB_MAYBE_SENT,	/* the dot went out, no reply came back */
	DM_OB_REFUSED		/* the server refused it for good (5xx) */
};

/*
 * When a change reaches the disk.  A batch makes hundreds in a row; each
 * waiting for its directory (and the sent log) to sync would cost a
 * disk flush a message.  With DM_SYNC_LATER the file itself is synced
 * but its directory entry (a new item, a removal) or a sent-log line is
 * not, until dm_outbox_sync() and dm_sentlog_sync().  Safe for a removal
 * because the item on disk already says "may have been delivered"
 * (written before the dot): lost to a power cut, it comes back as that,
 * which a retry never resends unasked.
 */
enum dm_sync {
	DM_SYNC_NOW = 0,	/* durable when the call returns */
	DM_SYNC_LATER		/* durable after dm_outbox_sync() / dm_sentlog_sync() */
};

/* "waiting", "may have been delivered", "refused": for listings. */
const char *dm_outbox_state_name(enum dm_outbox_state);

enum dm_outbox_retry_flags {
	DM_RETRY_NAMED = 1 << 0,	/* the user named this item */
	DM_RETRY_FORCE = 1 << 1		/* --force */
};

enum dm_outbox_verdict {
	DM_RETRY_SEND,		/* send it */
	DM_RETRY_ASK,		/* ask on a terminal; skip without one */
	DM_RETRY_SKIP		/* skip it and say why */
};

/*
 * What a retry does with an item in state st, one rule for the command
 * line and the screens: a waiting item is sent; one that may have been
 * delivered is sent with DM_RETRY_FORCE, else asked about; a refused
 * one is passed over unless named (DM_RETRY_NAMED), then sent with
 * DM_RETRY_FORCE and else asked about, so that only a deliberate
 * choice sends it again.
 */
enum dm_outbox_verdict dm_outbox_retry_verdict(enum dm_outbox_state st,
	    int flags);

struct dm_outbox_item {
	char			*id;		/* unique, safe in a file name */
	char			*path;		/* the file */
	time_t			 created;
	enum dm_outbox_state	 state;
	int			 attempts;
	char			*profile;	/* profile it was sent with */
	char			*sender;	/* envelope sender */
	char			**rcpt;		/* recipients still to reach */
	size_t			 nrcpt;
	char			*message_id;	/* without brackets */
	char			*subject;	/* UTF-8, for listings */
	char			*document;	/* first attachment's name, or NULL */
	char			*last_error;	/* NULL when none */
	uint64_t		 size;		/* bytes of the message proper */
	off_t			 offset;	/* where it starts in the file */
};

/* The reader of a message: like dm_mime_read / dm_mime_rewind. */
struct dm_stream {
	ssize_t	(*read)(void *, char *, size_t, struct dm_err *);
	int	(*rewind)(void *, struct dm_err *);
	void	*arg;
};

/*
 * $XDG_DATA_HOME/docmail/outbox (default ~/.local/share/...), or dir
 * when not NULL.  Creates it (and tmp/new/cur) with mode 0700.
 * Returns a malloc'd path.  Errors: DM_EIO (also: dir is not a
 * directory, or a symbolic link owned by another user), DM_ECONFIG
 * (no HOME), DM_ENOMEM.
 */
char	*dm_outbox_open(const char *dir, struct dm_err *);

/*
 * Stores a new message: tmp/ID, fsync, rename into new/ID, fsync the
 * directory (with DM_SYNC_LATER: at dm_outbox_sync()).  meta supplies
 * the envelope and listing fields (its id, path, offset and size are
 * ignored and set in out, which may be NULL; created 0 means now).
 * The stream is read from its start to its end.  out holds the fields
 * as stored: control characters in subject, document and last_error
 * become '?'.
 * Errors: DM_EIO (with the path and errno text; no partial file is left
 *         behind), DM_EDATA (a sender, recipient or Message-ID that is
 *         not printable ASCII without <> and unquoted spaces, no
 *         recipient, a profile name with control characters, or a
 *         message that starts with "X-Docmail-"), DM_ENOMEM, or what
 *         the stream reports.
 */
int	dm_outbox_add(const char *dir, const struct dm_outbox_item *meta,
	    const struct dm_stream *msg, struct dm_outbox_item *out,
	    enum dm_sync, struct dm_err *);

/*
 * Syncs the directories (new/ and cur/) of the outbox that holds item:
 * what changes made there with DM_SYNC_LATER left to the disk (one that
 * does not exist holds no change).  Errors: DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_sync(const struct dm_outbox_item *item, struct dm_err *);

/*
 * Lists the items in new/ and cur/, oldest first (created, then id).
 * *items is a malloc'd array to free
 * with dm_outbox_list_free().  A file that cannot be parsed, or whose
 * message is shorter or longer than its X-Docmail-Size, is skipped and
 * counted in *bad (may be NULL).
 * Errors: DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_list(const char *dir, struct dm_outbox_item **items,
	    size_t *n, size_t *bad, struct dm_err *);
void	dm_outbox_list_free(struct dm_outbox_item *, size_t);

/*
 * Finds one item by id (or a unique prefix of it).
 * Errors: DM_EUSAGE (none or several match), DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_find(const char *dir, const char *id,
	    struct dm_outbox_item *out, struct dm_err *);

/*
 * Rewrites the envelope of item (state, attempts, rcpt, last_error)
 * atomically; the message bytes stay as they are.  The other envelope
 * fields are written from item too; item's offset may be stale after
 * this (dm_outbox_stream_open() does not rely on it).
 * Errors: DM_EIO (also: the file is gone or damaged), DM_EDATA (as for
 *         dm_outbox_add), DM_ENOMEM.
 */
int	dm_outbox_update(const struct dm_outbox_item *, struct dm_err *);

/*
 * Writes item's state into its file in place (the State field has a
 * fixed width: pwrite and fdatasync), so that the mark made between a
 * message's last byte and its final dot costs the same for 30 MiB as
 * for 30 KiB; a file written by an older docmail, whose field is
 * narrower, is rewritten whole by dm_outbox_update().
 * Errors: as dm_outbox_update().
 */
int	dm_outbox_update_state(const struct dm_outbox_item *,
	    struct dm_err *);

/*
 * Removes the item's file (after the server accepted it); a file
 * already gone is no error.  The removal is durable at once, or with
 * DM_SYNC_LATER at dm_outbox_sync(): then the file is only set aside in
 * the outbox's tmp/, out of every listing, until dm_outbox_reap().
 * Errors: DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_remove(const struct dm_outbox_item *, enum dm_sync,
	    struct dm_err *);

/*
 * Deletes the file of an item that dm_outbox_remove() set aside; gone
 * already is no error.  Best effort (-1 on failure): tmp/ is swept of
 * what is older than 36 hours.  Safe from several threads at once.
 */
int	dm_outbox_reap(const struct dm_outbox_item *);

/*
 * Removes the item at the user's request, so that it is never sent:
 * under its lock, as dm_outbox_lock() takes it, and only while it is
 * still as the caller read it (state and recipients); then the file
 * goes and the directory is synced.
 * Errors: DM_ETEMP (another docmail is sending it right now, or it
 *         changed or went meanwhile: look again), DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_drop(const struct dm_outbox_item *, struct dm_err *);

/*
 * A stream over the message bytes of an item (after the envelope, whose
 * length is read from the file again).  Its read fails with DM_EIO when
 * the file turns out shorter than its X-Docmail-Size.
 * dm_outbox_stream_close() frees it.  Errors: DM_EIO, DM_ENOMEM.
 */
int	dm_outbox_stream_open(const struct dm_outbox_item *,
	    struct dm_stream *, struct dm_err *);
void	dm_outbox_stream_close(struct dm_stream *);

void	dm_outbox_item_release(struct dm_outbox_item *);

/*
 * Takes the item for sending: an exclusive lock (on a byte of the
 * outbox's file "lock", one descriptor per item), then checks on disk
 * that the item is still there and in the state the caller read, so
 * that two docmail processes, or two messages of one batch, never send
 * the same message twice.  *fd is for dm_outbox_unlock().
 * Errors: DM_ETEMP (another process holds it, or it was sent or changed
 *         meanwhile); DM_EIO; DM_ENOMEM.
 */
int	dm_outbox_lock(const struct dm_outbox_item *, int *fd,
	    struct dm_err *);
void	dm_outbox_unlock(int fd);

/*
 * Appends one line to the sent log ($XDG_STATE_HOME/docmail/sent.log,
 * or path when not NULL): ISO date, Message-ID, document, recipients,
 * server reply, tab-separated, control characters and tabs replaced by
 * spaces; "-" for a NULL or empty Message-ID or document.  A last line
 * left without its newline (a full disk) is ended first, so only that
 * one reads as damaged.
 * Errors: DM_EIO (also: not a regular file), DM_ECONFIG (path NULL, no
 *         HOME), DM_ENOMEM.
 */
int	dm_sentlog_append(const char *path, time_t when,
	    const char *message_id, const char *document,
	    const char *const *rcpt, size_t nrcpt, const char *reply,
	    enum dm_sync, struct dm_err *);

/*
 * Syncs the sent log (path, or the default when NULL): the lines written
 * with DM_SYNC_LATER.  A log that does not exist is no error.
 * Errors: DM_EIO, DM_ECONFIG (no HOME), DM_ENOMEM.
 */
int	dm_sentlog_sync(const char *path, struct dm_err *);

/*
 * The sent log's path: $XDG_STATE_HOME/docmail/sent.log, else
 * ~/.local/state/docmail/sent.log (for a caller that watches it for
 * changes).  Malloc'd.  Errors: DM_ECONFIG (no HOME), DM_ENOMEM.
 */
char	*dm_sentlog_path(struct dm_err *);

/* One line of the sent log. */
struct dm_sent {
	time_t	 when;		/* from the logged UTC date */
	char	*message_id;	/* NULL when logged as "-" */
	char	*document;	/* file name without directory; NULL for "-" */
	char	*rcpt;		/* comma-separated, as logged */
	char	*reply;		/* the server's reply, as logged */
};

/*
 * Reads the sent log ($XDG_STATE_HOME/docmail/sent.log, or path when
 * not NULL) into *out, a malloc'd array in file order (oldest first) to
 * free with dm_sentlog_free(); *n is its length.  A missing log is no
 * error: *out is NULL and *n 0.  A line that does not have the five
 * fields or a valid date (a damaged or half-written line) is skipped
 * and counted in *bad, which may be NULL; so is a line longer than
 * 64 KB.  The text fields are returned as logged (the writer already
 * turned control characters into spaces; callers drawing them on a
 * terminal still escape them, the file may have been edited).
 * Errors: DM_EIO (cannot read it, also: not a regular file),
 *         DM_ECONFIG (path NULL, no HOME), DM_ENOMEM.
 */
int	dm_sentlog_load(const char *path, struct dm_sent **out, size_t *n,
	    size_t *bad, struct dm_err *);
void	dm_sentlog_free(struct dm_sent *, size_t);

/*
 * Delivers a copy of the message into the Maildir dir (tmp, fsync,
 * rename into new), with the line "Bcc: ..." added first when bcc is
 * not NULL or empty, so the user sees whom the message really went to.
 * Creates dir and dir/{tmp,new,cur} with mode 0700 when missing.
 * Errors: DM_EIO, DM_EDATA (bcc holds CR or LF), DM_ENOMEM, or what the
 *         stream reports.
 */
int	dm_maildir_deliver(const char *dir, const char *bcc,
	    const struct dm_stream *msg, struct dm_err *);

#endif /* DOCMAIL_OUTBOX_H */
