/*
 * secret.h - the one place a password lives
 *
 * A secret is wiped (explicit_bzero) before its memory is freed, on
 * every path.  Nothing prints a secret; nothing passes it on argv or in
 * the environment.
 */
#ifndef DOCMAIL_SECRET_H
#define DOCMAIL_SECRET_H

#include <stddef.h>

#include <docmail/err.h>

#define DM_SECRET_MAX	1024
/* Microsoft's access tokens run to several KB. */
#define DM_TOKEN_MAX	(16 * 1024)

struct dm_secret {
	char	*s;	/* NUL-terminated; NULL when unset */
	size_t	 len;
};

void	dm_secret_init(struct dm_secret *);
/* Wipes and frees; the secret is unset afterwards. */
void	dm_secret_release(struct dm_secret *);
/* 1 when set (even to ""). */
int	dm_secret_isset(const struct dm_secret *);

/* Copies len bytes of s.  Errors: DM_EDATA over DM_SECRET_MAX; DM_ENOMEM. */
int	dm_secret_set(struct dm_secret *, const char *s, size_t len,
	    struct dm_err *);

/*
 * Runs cmd through /bin/sh -c with stdin from /dev/null and stdout on a
 * pipe (stderr is passed through, so the command can prompt or explain)
 * and keeps the first line of its output, without the line end.
 * Errors: DM_ECONFIG when the command cannot run, exits non-zero, is
 *         killed, or prints nothing (messages name the command, never
 *         its output); DM_ENOMEM.
 */
int	dm_secret_from_command(struct dm_secret *, const char *cmd,
	    struct dm_err *);

/*
 * The same for oauth2_token_command: the first line of the output is an
 * OAuth2 access token of up to DM_TOKEN_MAX bytes.  Since no token means
 * no login, failures are DM_EAUTH rather than DM_ECONFIG.
 * Errors: DM_EAUTH (as above, messages name oauth2_token_command and
 *         never its output); DM_ENOMEM.
 */
int	dm_secret_from_token_command(struct dm_secret *, const char *cmd,
	    struct dm_err *);

#endif /* DOCMAIL_SECRET_H */
