/*
 * smtp-int.h - what the files of the smtp module share
 *
 * smtp.c drives libESMTP; smtp-net.c connects; smtp-tls.c does TLS and
 * verification; smtp-pump.c relays between libESMTP and the server and
 * watches the dialogue.  Nothing here is public.
 */
#ifndef DOCMAIL_SMTP_INT_H
#define DOCMAIL_SMTP_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/smtp.h>

/* What the relay expects the next server reply to answer. */
enum pend {
	PEND_GREETING,
	PEND_EHLO,
	PEND_AUTH,
	PEND_MAIL,
	PEND_RCPT,
	PEND_DATA,
	PEND_DOT,
	PEND_RSET,
	PEND_QUIT,
	PEND_OTHER,
	/*
	 * The relay's own AUTH, never libESMTP's.  Last, so that the fuzz
	 * corpus keeps naming the others by the same numbers.
	 */
	PEND_OAUTH
};

/*
 * Where the relay's dialogue is, as one value (OpenSMTPD's smtp_client.c
 * keeps its client the same way); the names are state_names[] in
 * smtp-pump.c, shown in internal errors and the OAuth2 transcript
 * lines.  Which reply answers which command is the queue above, not
 * this: with PIPELINING several are due at once, in any state.
 *
 *  DIALOGUE --AUTH--> AUTH --235--> DIALOGUE (authed)
 *      |  (the relay's OAuth2 login, libESMTP held:)
 *      +--> OAUTH_334 --334--> OAUTH_RESULT --235--> DIALOGUE (authed)
 *      |                          |--334--> OAUTH_FINAL
 *      |                          +--refused, second token--> OAUTH_*
 *      +--354--> DATA --dot seen--> DOT_QUEUED --written--> DOT_SENT
 *      |                                 (either) --its reply--> DIALOGUE
 *      +--QUIT--> QUIT --221, test--> DONE
 *      +--before_mail says stop--> STOPPING --221--> DONE
 *
 * Whether the login succeeded (authed) is a fact of the session, not a
 * phase: the session goes on through DATA and back for each message.
 */
enum relay_state {
	RS_DIALOGUE = 0,	/* commands and replies; no exchange open */
	RS_AUTH,		/* libESMTP's AUTH: its lines continue it */
	RS_OAUTH_334,		/* "AUTH MECH" alone sent, payload to follow */
	RS_OAUTH_RESULT,	/* payload sent: 235, 334 or a refusal */
	RS_OAUTH_FINAL,		/* error challenge answered: refusal */
	RS_DATA,		/* 354 seen: libESMTP sends the message */
	RS_DOT_QUEUED,		/* the final dot is in c2s */
	RS_DOT_SENT,		/* ...and left for the server, unanswered */
	RS_QUIT,		/* QUIT sent (libESMTP's, or the test's) */
	RS_STOPPING,		/* before_mail said stop: the relay's QUIT */
	RS_DONE,		/* the relay's QUIT answered: session over */
	RS_LAST
};

#define IOBUF_SIZE	(64 * 1024)

struct iobuf {
	char	*data;
	size_t	 off;		/* first unconsumed byte */
	size_t	 len;		/* end of the data */
};

struct sess {
	const struct dm_smtp_params	*p;
	/*
	 * The message the reply or command being handled belongs to; NULL
	 * only before run() set up the test's empty one.
	 */
	struct dm_smtp_mail		*mail;
	/*
	 * Every message of the session, in libESMTP's order: each MAIL
	 * from libESMTP begins the next one, and each pending reply keeps
	 * the number of the message its command was for (pend_msg), so
	 * replies land on the right message even when pipelined.
	 */
	struct dm_smtp_mail		*mails;
	size_t				 nmails;
	size_t				 cmd_msg;	/* SIZE_MAX before the first MAIL */
	size_t				 begun;		/* messages begun */
	size_t				 ndone;		/* 0..ndone-1 reported done */
	size_t				 dot_msg;	/* whose final dot is queued */
	struct dm_smtp_report		*rep;
	struct dm_err			 err;	/* first failure */
	int				 failed;
	pthread_mutex_t			 lock;	/* err, failed */

	int				 fd;	/* the TCP connection */
	SSL_CTX				*ctx;
	SSL				*ssl;	/* NULL in mode none */
	int				 app;	/* relay's end of the socketpair */
	pthread_t			 thread;
	int				 thread_running;

	/* The relay's view of the dialogue. */
	int				 testing;	/* stop after MAIL, RCPT */
	int				 need_auth;	/* credentials given */
	enum relay_state		 state;
	int				 authed;	/* 235 seen */
	int				 auth_offered;
	char				 auth_offer[128];	/* server's list */
	int				 oauth;	/* relay logs in, token */
	const char			*oa_mech;	/* XOAUTH2, OAUTHBEARER */
	int				 oa_tries;	/* AUTH commands sent */
	int				 oa_challenged;	/* error 334 seen */
	char				*oa_payload;	/* base64; wiped */
	size_t				 oa_payload_len;
	struct dm_buf			 held;	/* EHLO reply, until 235 */
	char				 auth_reply[DM_SMTP_TEXT_MAX];
	uint64_t			 size_limit;	/* EHLO SIZE, 0 = none */
	int				 ehlo_count;
	int				 dot_match;	/* RS_DATA: finds the dot */
	uint64_t			 data_sent;
	/*
	 * RS_DOT_QUEUED, before before_dot: the end of the final dot (up
	 * to its last three bytes) is held back and what libESMTP sent
	 * after it kept, while the data before it goes out.  The server
	 * reads the message's tail during the mark's disk flush, yet
	 * cannot end the message before the mark is on the disk.
	 */
	int				 dot_held;
	char				 dot_tail[3];
	size_t				 dot_tail_len;
	struct dm_buf			 after_dot;
	int				 dropped;	/* test: commands kept back */
	/*
	 * Grown as needed: with PIPELINING libESMTP sends MAIL, every RCPT
	 * and DATA at once, so a fixed size capped the recipients.
	 */
	enum pend			*pend;
	size_t				*pend_msg;	/* same length as pend */
	size_t				 npend, pend_cap;
	char				**rcpt_q;	/* RCPT mailboxes */
	size_t				 nrcpt_q, rcpt_cap;
	int				 rcpt_left;
	int				 rcpt_refused;	/* non-2xx RCPT replies */

	struct iobuf			 c2s;	/* libESMTP -> server */
	struct iobuf			 s2c;	/* server -> libESMTP */
	struct dm_buf			 cline;	/* client line being read */
	struct dm_buf			 sline;	/* server reply lines */

	struct timespec			 t_step;	/* start of this step */
	struct timespec			 t_io;		/* last progress */
};


/* Reports a finished step through params->event and restarts the clock. */
void	smtpi_sess_step(struct sess *, enum dm_smtp_step, int ok, const char *);
/* A transcript line (already redacted) through params->event. */
void	smtpi_sess_log(struct sess *, const char *dir, const char *, size_t);
/*
 * dm_smtp_send_many(): reports messages ndone..upto-1 done through
 * params->done, each with failed when not NULL, else with its own
 * verdict.  Does nothing for dm_smtp_send().
 */
void	smtpi_sess_done(struct sess *, size_t upto,
	    const struct dm_err *failed);
/* Records the first failure; later ones are dropped.  Returns -1. */
int	smtpi_sess_fail(struct sess *, const struct dm_err *);
int	smtpi_sess_cancelled(const struct sess *);

/*
 * Whether a refusal (code, sanitized text) says that the login may not
 * use this sender address, however the server words it: Postfix's
 * "Sender address rejected: not owned by user" (at RCPT under its
 * default smtpd_delay_reject = yes), Exim's ACL 550, OpenSMTPD's "530
 * Sender rejected" after a successful login, Microsoft 365's "5.2.252
 * SendAsDenied" after the data.
 */
int	smtpi_sender_refused(int code, const char *text);
/* Sets the hint for a smtpi_sender_refused() refusal of addr.  Returns -1. */
int	smtpi_hint_sender(struct dm_err *, const char *addr);

/* smtp-net.c */
int	smtpi_net_connect(struct sess *, struct dm_err *);
/* Reads one whole reply (all its lines) into out, waiting up to timeout. */
int	smtpi_net_read_reply(struct sess *, struct dm_buf *out, int *code,
	    struct dm_err *);
/* The same, waiting up to ms milliseconds rather than the timeout. */
int	smtpi_net_read_reply_ms(struct sess *, struct dm_buf *out, int *code,
	    int ms, struct dm_err *);
int	smtpi_net_write(struct sess *, const char *, size_t, struct dm_err *);
int	smtpi_net_wait(int fd, short events, int ms);
/* smtpi_net_wait() in slices that end early, -2, when the user cancels. */
int	smtpi_net_wait_cancellable(const struct sess *, int fd, short events,
	    int ms);
/*
 * A reply that breaks the protocol: DM_EPROTO naming what the server
 * did and quoting line l (n bytes) escaped, with HINT_BROKEN_SERVER.
 * Returns -1.
 */
int	smtpi_bad_reply(struct dm_err *, const char *what, const char *l,
	    size_t n);
#define HINT_BROKEN_SERVER \
	_("this server breaks the SMTP protocol, or something on the way tampers with the connection; check host and port")
/* 1 when bytes from the server wait unread (none should, before a command). */
int	smtpi_net_pending(struct sess *);

/* smtp-tls.c */
int	smtpi_tls_setup(struct sess *, struct dm_err *);
int	smtpi_tls_handshake(struct sess *, struct dm_err *);
/* 1 when host:port answers a TLS handshake within ms (1 to 5 s). */
int	smtpi_tls_probe(struct sess *, int ms);
/* 1 when the server asked to renegotiate, which docmail refuses. */
int	smtpi_tls_renegotiation_asked(const struct sess *);
void	smtpi_tls_free(struct sess *);

/* smtp-pump.c */
/* The name of state st, for internal errors and the transcript. */
const char *smtpi_state_name(enum relay_state st);
int	smtpi_pump_start(struct sess *, const char *greeting, size_t,
	    struct dm_err *);
void	smtpi_pump_join(struct sess *);
/* Parses a reply code from a line; 0 if the line is no reply line. */
int	smtpi_reply_code(const char *, size_t);
/*
 * Bytes from the server: whole replies are acted on and queued for
 * libESMTP in s2c.  Returns -1 when the session must end.  Not static
 * so that the fuzz target can feed it without a connection.
 */
int	smtpi_from_server(struct sess *, const char *, size_t);
/*
 * Bytes from libESMTP: commands are checked and queued for the server
 * in c2s, message data is passed up to the final dot, which is held
 * (see dot_held) until smtpi_dot_release() sets dot_at to where it
 * ends.  Returns -1 when the session must end.  Not static for the
 * tests.
 */
int	smtpi_from_client(struct sess *, const char *, size_t,
	    uint64_t *dot_at);
/*
 * With the dot held (dot_held): calls before_dot, then queues the rest
 * of the dot and what libESMTP sent after it; tx_total is what left for
 * the server so far.  -1 when the mark failed (the session is failed)
 * or the relay could not take it.
 */
int	smtpi_dot_release(struct sess *, uint64_t *tx_total, uint64_t *dot_at);

/* Strips control characters and the line ends of server text into dst. */
void	smtpi_sanitize(char *dst, size_t dsize, const char *src, size_t n);

#endif /* DOCMAIL_SMTP_INT_H */
