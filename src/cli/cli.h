/*
 * cli.h - the command-line front end: shared state and helpers
 */
#ifndef DOCMAIL_CLI_H
#define DOCMAIL_CLI_H

#include <stdio.h>

#include <docmail/err.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

/* Global options, given before the command. */
struct cli {
	const char	*config_path;	/* --config, or NULL */
	const char	*profile;	/* --profile, or NULL */
	const char	*progname;
	char		 note[512];	/* printed after an error, if set */
};

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* options after the command name */
	int		(*exec)(struct cli *, int, char **, struct dm_err *);
};

extern const struct cmd_entry cmd_send_entry;
extern const struct cmd_entry cmd_test_entry;
extern const struct cmd_entry cmd_outbox_entry;
extern const struct cmd_entry cmd_login_entry;
extern const struct cmd_entry cmd_logout_entry;
extern const struct cmd_entry cmd_batch_entry;

/* The sysexits code for an error class (exitcode.c). */
int	cli_exitcode(const struct dm_err *);

/* "docmail: msg" and "hint: hint" on stderr, control characters escaped. */
void	cli_print_error(const struct dm_err *);
/* "docmail: warning: ..." on stderr, control characters escaped. */
void	cli_warn(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Loads the config named by the global options and picks the profile.
 * Errors: DM_ECONFIG, DM_ENOMEM.
 */
int	cli_load_profile(struct cli *, struct dm_config *,
	    const struct dm_profile **, struct dm_err *);

/*
 * The password for p's login: from the config, password_command, or
 * asked on the terminal.  Leaves out unset when p has no user.
 * Errors: DM_ECONFIG (command failed, no terminal), DM_EAUTH, DM_ENOMEM.
 */
int	cli_password(const struct dm_profile *, struct dm_secret *,
	    struct dm_err *);

struct dm_outbox_item;

/*
 * Sends outbox item it with profile p and settles it: per-recipient
 * results on stdout; when accepted, the sent log, the sent copy (with
 * a Bcc line when bcc is not NULL) and removal from the outbox (or only
 * the recipients still to reach are kept); otherwise the outbox item
 * is updated with the reason, and cli->note says where it is.
 * Errors: those of dm_smtp_send.
 */
int	cli_deliver(struct cli *, const struct dm_profile *,
	    const struct dm_secret *, struct dm_outbox_item *,
	    const char *bcc, int verbose, struct dm_err *);

/* What a batch did with its messages. */
struct cli_batch_count {
	size_t	 sent, kept, refused;
};

/*
 * Sends outbox items[0..n-1] over one session (batch.h), pacing to rate
 * messages a minute (0: none): a line per message on stdout as its
 * result arrives, a progress line on stderr when that is a terminal,
 * and the summary "batch: N sent, M kept in the outbox, K refused", or
 * instead the counts in *count when count is not NULL.  bcc[i] (bcc
 * may be NULL) is item i's Bcc line for the sent copy.  Ctrl-C stops
 * after the message in flight.
 * Errors: those of dm_batch_send.
 */
int	cli_batch_send(const struct dm_profile *, const struct dm_secret *,
	    struct dm_outbox_item *items, char **bcc, size_t n, int rate,
	    int verbose, struct cli_batch_count *count, struct dm_err *);

/* label, then blanks up to column col (one at least): aligned by width. */
void	cli_label(FILE *, const char *label, int col);
/* The terminal to talk to, whatever stdin is; NULL when there is none. */
FILE	*cli_tty_open(void);
/* Asks "question [y/N]" on tty and closes it; 1 when the answer is yes. */
int	cli_tty_ask(FILE *tty, const char *question);

/* The usage text, as in the man page's SYNOPSIS. */
void	cli_usage(FILE *);
/* docmail's version, and those of the libraries it runs with. */
void	cli_version(void);

#endif /* DOCMAIL_CLI_H */
