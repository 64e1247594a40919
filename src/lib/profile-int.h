/*
 * profile-int.h - what the configuration modules share: the keys of a
 * profile and a template, inih's line classification, the reader that
 * feeds inih, and the value checks that loading, validating and saving
 * must apply alike.  Not a public header: src/lib only.
 */
#ifndef DOCMAIL_PROFILE_INT_H
#define DOCMAIL_PROFILE_INT_H

#include <stdio.h>

#include <ini.h>

#include <docmail/err.h>
#include <docmail/profile.h>

/* Longest line inih reads whole, without its line end. */
#define LINE_MAX_CHARS	(DM_INI_LINE_MAX - 1)

/* Profile and template names, as in [profile NAME]. */
#define ID_MAX		64

/* A config file is small; this only stops a runaway file. */
#define FILE_MAX	(1024 * 1024)

/* "sha256:" and 32 hex pairs separated by ':'. */
#define FPR_LEN		(7 + 32 * 3 - 1)

/* The keys of [profile NAME], in the order a save writes new ones. */
enum pkey {
	K_NAME,
	K_EMAIL,
	K_HOST,
	K_PORT,
	K_SECURITY,
	K_USER,
	K_PASSWORD,
	K_PASSWORD_COMMAND,
	K_CA_FILE,
	K_TLS_FINGERPRINT,
	K_TIMEOUT,
	K_ALLOW_FROM_OVERRIDE,
	K_SENT_MAILDIR,
	K_DOCUMENTS_DIR,
	K_AUTH,
	K_OAUTH2_PROVIDER,
	K_OAUTH2_CLIENT_ID,
	K_OAUTH2_CLIENT_SECRET,
	K_OAUTH2_TENANT,
	K_OAUTH2_SCOPE,
	K_OAUTH2_DEVICE_URL,
	K_OAUTH2_AUTH_URL,
	K_OAUTH2_TOKEN_URL,
	K_OAUTH2_TOKEN_COMMAND,
	K_MAX_PER_MINUTE,
	NPKEYS
};

extern const char *const pkeys[NPKEYS + 1];

enum tkey {
	T_SUBJECT,
	T_BODY,
	NTKEYS
};

extern const char *const tkeys[NTKEYS + 1];

extern const char *const kinds[];

/*
 * Line classification, mirroring inih's ini_parse_stream() (version 55):
 * the BOM is skipped on the first line; the line is stripped; ';' or
 * '#' first is a comment; an indented non-empty line after a key line
 * of the same section continues that key; '[' starts a section that
 * needs its ']' before any inline comment; anything else needs '=' or
 * ':'.  An inline comment is ';' after whitespace.
 */
enum lkind {
	L_BLANK,
	L_COMMENT,
	L_CONT,
	L_SECTION,
	L_KEY,
	L_BADSECTION,		/* '[' without ']' */
	L_NOEQ			/* neither '=' nor ':' */
};

struct lparse {
	enum lkind	 kind;
	size_t		 ns, ne;	/* key name, or section text */
	size_t		 vs, ve;	/* value of a key line */
};

/*
 * The reader handed to ini_parse_stream(): one line of the file per
 * call, refused (parsing stops) when inih would cut it or misread it.
 */
struct src {
	FILE			*fp;
	const char		*path;
	enum dm_errcode		 code;	/* DM_EDATA for a sidecar */
	int			 lineno;
	int			 have_prev;
	struct lparse		 lp;	/* the current line */
	char			 line[DM_INI_LINE_MAX + 2];
	int			 failed;
	struct dm_err		*err;
	/* Called for each section line; -1 stops the parse. */
	int			(*section)(void *, const char *, size_t);
	void			*arg;
};

/* isspace() in the C locale, as inih's. */
int	pf_is_ws(int c);
/* The kind of line s[0..n-1], as inih sees it (see enum lkind). */
void	pf_classify(const char *s, size_t n, int first, int *have_prev,
	    struct lparse *lp);
/* A profile or template name: [A-Za-z0-9_.-]+, at most ID_MAX. */
int	pf_id_valid(const char *s, size_t n);
/* "profile NAME": where kind and name are; kind's index in kinds[]. */
int	pf_split_section(const char *s, size_t n, size_t *ks, size_t *ke,
	    size_t *ns, size_t *ne);
/* An error at the reader's current line; returns -1. */
int	pf_src_err(struct src *src, enum dm_errcode code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* Runs inih over src's file with handler; 0, or -1 with src->err set. */
int	pf_parse(struct src *src, ini_handler handler, void *arg);
/* A copy of v with a leading "~/" replaced by $HOME. */
char	*pf_expand_home(const char *v, struct dm_err *err);
int	pf_fingerprint_norm(const char *v, char out[FPR_LEN + 1]);
int	pf_bool_parse(const char *v, int *out);
int	pf_email_ok(const char *v);
int	pf_host_ok(const char *v);
int	pf_oauth2_url_ok(const char *v);
int	pf_oauth2_provider_ok(const char *v);
/* auth against the keys that go with it; -1 with err set. */
int	pf_auth_conflict(const struct dm_profile *p, struct dm_err *err);
/*
 * Why value v of key cannot be saved so that inih reads it back the
 * same (NULL: it can); *fix says what to do.
 */
const char *pf_unstorable(const char *key, const char *v, size_t len,
	    const char **fix, char *tmp, size_t tmpsize);

#endif /* DOCMAIL_PROFILE_INT_H */
