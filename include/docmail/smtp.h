/*
 * smtp.h - one SMTP session: "Test connection" or sending one message
 *
 * The only module that uses libESMTP and OpenSSL.  docmail owns the
 * connection (its own connect with a deadline, its own TLS for ssl and
 * starttls, certificate and host name verification, SNI) and hands
 * libESMTP a plaintext stream through a relay thread; the relay also
 * enforces the per-step timeout, keeps the transcript (with AUTH
 * redacted), refuses MAIL when credentials were configured but no 235
 * was seen, and notices whether the final dot was sent.
 */
#ifndef DOCMAIL_SMTP_H
#define DOCMAIL_SMTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <docmail/err.h>
#include <docmail/profile.h>
#include <docmail/secret.h>

/* libESMTP's PLAIN plugin copies user and password into 513 bytes. */
#define DM_SMTP_CRED_MAX	255
#define DM_SMTP_TEXT_MAX	256

enum dm_smtp_step {
	DM_STEP_RESOLVE,
	DM_STEP_CONNECT,
	DM_STEP_GREETING,
	DM_STEP_EHLO,
	DM_STEP_TLS,
	DM_STEP_TOKEN,		/* OAuth2: the access token was fetched */
	DM_STEP_AUTH,
	DM_STEP_SENDER,		/* MAIL FROM */
	DM_STEP_RCPT,
	DM_STEP_DATA,
	DM_STEP_QUIT,
	DM_STEP_COUNT
};

/* Names for output: "resolve", "connect", ... */
const char *dm_smtp_step_name(enum dm_smtp_step);
/* The same in the user's language, for screens; scripts read the name. */
const char *dm_smtp_step_label(enum dm_smtp_step);

enum dm_smtp_event_kind {
	DM_EV_STEP,		/* a step finished (ok or not) */
	DM_EV_PROGRESS,		/* bytes of the message sent so far */
	DM_EV_LOG		/* a transcript line, AUTH redacted */
};

struct dm_smtp_event {
	enum dm_smtp_event_kind	 kind;
	enum dm_smtp_step	 step;
	int			 ok;
	long			 ms;		/* duration of the step */
	const char		*text;		/* detail or transcript line */
	uint64_t		 done;		/* DM_EV_PROGRESS */
	uint64_t		 total;
	size_t			 msg;		/* dm_smtp_send_many: which message */
};

struct dm_smtp_params {
	const char		*host;
	int			 port;
	enum dm_security	 security;
	const char		*ca_file;	/* NULL: the system store */
	const char		*fingerprint;	/* "sha256:AB:..." or NULL */
	int			 timeout;	/* seconds per step */
	const char		*user;		/* NULL: no AUTH */
	const char		*password;	/* borrowed; NULL: no AUTH */
	/*
	 * OAuth2 (SASL XOAUTH2 or OAUTHBEARER, run by docmail itself, not
	 * libESMTP): set token and user, leave password NULL.  The relay
	 * calls token once before AUTH and, after the server refused that
	 * token, at most once more with refresh = 1 (run the helper again;
	 * a token store refreshes).  On success it fills out (which it may
	 * assume unset) and may put in how what to show after "token ok"
	 * ("command", "cached", "refreshed"); on failure it fills err,
	 * normally DM_EAUTH with a hint, and returns -1.  Called on the
	 * relay thread; must not call back into this module.
	 */
	int			(*token)(void *arg, int refresh,
				    struct dm_secret *out, char *how,
				    size_t howsize, struct dm_err *err);
	void			*token_arg;
	/*
	 * The hint for a token the server refused even after a refresh;
	 * NULL: "sign in again: docmail login".
	 */
	const char		*token_hint;
	const char		*helo;		/* NULL: "localhost" */
	/*
	 * Called from the session's threads (never concurrently); must
	 * not call back into this module.  May be NULL.
	 */
	void			(*event)(void *, const struct dm_smtp_event *);
	void			*arg;
	atomic_int		*cancel;	/* set to 1 to stop; may be NULL */
	/*
	 * Called on the relay thread just before the final dot of the
	 * message leaves, so the caller can record durably that it may be
	 * delivered from now on (a crash after this point must not lead to
	 * a blind resend).  Returning -1 stops without the dot.  May be NULL.
	 */
	int			(*before_dot)(void *);
	/*
	 * dm_smtp_send_many() only; both called on the relay thread with
	 * arg.  before_mail runs as message msg is about to begin, before
	 * its MAIL FROM leaves: it may wait there (pacing) and returns 0
	 * to send the message, 1 to end the session cleanly instead (QUIT;
	 * msg and those after it are not begun).  done runs once for each
	 * message begun, as soon as its fate is known and before libESMTP
	 * hears of it: err NULL when every recipient accepted it, else why
	 * not (mail->accepted tells whether some did).  The relay waits
	 * while they run.  May be NULL.
	 */
	int			(*before_mail)(void *, size_t msg);
	void			(*done)(void *, size_t msg,
				    const struct dm_err *err);
};

enum dm_rcpt_status {
	DM_RCPT_PENDING = 0,	/* not tried, or the session ended first */
	DM_RCPT_OK,		/* accepted by RCPT (delivery needs the dot too) */
	DM_RCPT_TEMP,		/* 4xx */
	DM_RCPT_PERM		/* 5xx */
};

/* "ok", "later", "refused", "not sent": for per-recipient reports. */
const char *dm_smtp_rcpt_status_name(enum dm_rcpt_status);

struct dm_smtp_rcpt {
	const char		*mailbox;	/* borrowed */
	enum dm_rcpt_status	 status;
	int			 code;
	char			 text[DM_SMTP_TEXT_MAX];	/* sanitised */
};

struct dm_smtp_mail {
	const char		*sender;	/* MAIL FROM, borrowed */
	struct dm_smtp_rcpt	*rcpt;
	size_t			 nrcpt;
	uint64_t		 size;		/* exact size of the message */
	/* The message, strict CRLF, as a stream (see dm_mime_read). */
	ssize_t			(*read)(void *, char *, size_t, struct dm_err *);
	int			(*rewind)(void *, struct dm_err *);
	void			*arg;

	/* Results. */
	int			 accepted;	/* 250 after the final dot */
	int			 maybe_delivered; /* dot sent, no reply seen */
	int			 code;		/* reply to the dot, 0 if none */
	char			 reply[DM_SMTP_TEXT_MAX]; /* its text (queue id) */
};

struct dm_smtp_report {
	char	greeting[DM_SMTP_TEXT_MAX];
	char	extensions[512];	/* EHLO keywords, space-separated */
	char	tls_version[32];
	char	tls_cipher[64];
	char	cert_subject[DM_SMTP_TEXT_MAX];
	char	cert_issuer[DM_SMTP_TEXT_MAX];
	char	cert_expiry[64];
	char	auth_mech[32];	/* incl. XOAUTH2, OAUTHBEARER */
	char	sender_reply[DM_SMTP_TEXT_MAX];	/* reply to MAIL FROM */
};

/*
 * Checks what can be checked before connecting: host, port, user and
 * password lengths (libESMTP's PLAIN plugin overflows past 255 bytes),
 * AUTH in clear only to a loopback address.
 * Errors: DM_ECONFIG.
 */
int	dm_smtp_check_params(const struct dm_smtp_params *, struct dm_err *);

/*
 * Sets OpenSSL up now, in the calling thread: a front end that runs
 * sessions in threads calls it before starting any.
 * Errors: DM_EINTERNAL.
 */
int	dm_smtp_init(struct dm_err *);

/*
 * "Test connection": resolve, connect, greeting, EHLO, TLS, AUTH,
 * MAIL FROM:<sender> then RSET, QUIT.  Sends nothing.  Each step is
 * reported through params->event.  report may be NULL.
 * Errors: DM_ECONN, DM_ETEMP, DM_EREJECT, DM_EAUTH, DM_ETLS, DM_EPROTO,
 *         DM_ECONFIG, DM_ENOMEM; the hint says what to do.
 */
int	dm_smtp_test(const struct dm_smtp_params *, const char *sender,
	    struct dm_smtp_report *, struct dm_err *);

/*
 * Sends one message.  Returns 0 when the server accepted it (250 after
 * the dot) for at least one recipient; per-recipient results are in
 * mail->rcpt, and a partial failure is reported as an error too
 * (DM_EREJECT or DM_ETEMP) after mail->accepted is set.
 * Errors: as dm_smtp_test, plus DM_EREJECT for a refused or too large
 *         message, DM_EIO when the message cannot be read.
 */
int	dm_smtp_send(const struct dm_smtp_params *, struct dm_smtp_mail *,
	    struct dm_smtp_report *, struct dm_err *);

/*
 * Sends mails[0..n-1] in order over one connection and one login
 * (several messages in one libESMTP session), with params->before_mail
 * and params->done called per message (see above); a message refused
 * (5xx for it or a recipient) does not stop the others.  Returns 0 when
 * the session ran to its end, or ended because before_mail asked; -1
 * when it broke off (a 421, a 4xx for the session, a timeout, a dropped
 * connection, a refused login ...): err says why, and the message in
 * flight, if any, got done() with that error.  *begun (may be NULL) is
 * the number of messages begun.
 * Errors: as dm_smtp_send.
 */
int	dm_smtp_send_many(const struct dm_smtp_params *,
	    struct dm_smtp_mail *mails, size_t n, size_t *begun,
	    struct dm_err *);

#endif /* DOCMAIL_SMTP_H */
