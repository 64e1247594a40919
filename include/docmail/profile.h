/*
 * profile.h - the configuration file: profiles, templates, sidecars
 *
 * The only module that uses inih.  Loading validates everything and
 * reports the first problem as "FILE:LINE: ..." (DM_ECONFIG).  Saving
 * rewrites one profile section in place, atomically, with mode 0600,
 * keeping every other line of the file (comments, other sections).
 */
#ifndef DOCMAIL_PROFILE_H
#define DOCMAIL_PROFILE_H

#include <stddef.h>

#include <docmail/err.h>
#include <docmail/secret.h>
#include <docmail/tmpl.h>

/* inih as Debian builds it cuts longer lines (see INI_MAX_LINE). */
#define DM_INI_LINE_MAX		200

#define DM_TIMEOUT_DEFAULT	30
/* max_per_minute: beyond this, pacing would be no pacing at all. */
#define DM_MAX_PER_MINUTE_MAX	6000

enum dm_security {
	DM_SEC_STARTTLS = 0,
	DM_SEC_SSL,
	DM_SEC_NONE
};

/* How a profile logs in: the auth key. */
enum dm_auth {
	DM_AUTH_DEFAULT = 0,	/* not in the file: password if user is set */
	DM_AUTH_PASSWORD,
	DM_AUTH_OAUTH2,
	DM_AUTH_NONE
};

struct dm_profile {
	char			*id;		/* section name: [profile ID] */
	int			 line;		/* line of the section header, 0 if new */
	char			*name;		/* display name in From; may be NULL */
	char			*email;		/* From address and envelope sender */
	char			*host;
	int			 port;		/* 0 = default for security */
	enum dm_security	 security;
	char			*user;		/* may be NULL */
	struct dm_secret	 password;	/* unset when not in the file */
	char			*password_command;	/* may be NULL */
	char			*ca_file;	/* may be NULL; ~ expanded */
	char			*tls_fingerprint;	/* "sha256:AB:CD:..." or NULL */
	int			 timeout;	/* seconds per protocol step */
	int			 max_per_minute; /* batch pacing; 0 = none */
	int			 allow_from_override;	/* 1 = yes (default) */
	char			*sent_maildir;	/* may be NULL; ~ expanded */
	char			*documents_dir;	/* may be NULL; ~ expanded */
	enum dm_auth		 auth;	/* see dm_profile_auth() */
	/*
	 * OAuth2 (all may be NULL): what 'docmail login' signs in with,
	 * or oauth2_token_command, an outside helper that gives the token.
	 */
	char			*oauth2_provider; /* microsoft, google, custom */
	char			*oauth2_client_id;
	char			*oauth2_client_secret;
	char			*oauth2_tenant;
	char			*oauth2_scope;
	char			*oauth2_device_url;
	char			*oauth2_auth_url;
	char			*oauth2_token_url;
	char			*oauth2_token_command;
};

struct dm_template {
	char	*id;		/* [template ID] */
	char	*subject;	/* may be NULL; \n and \\ already decoded */
	char	*body;		/* may be NULL; \n and \\ already decoded */
};

struct dm_config {
	char			*path;
	struct dm_profile	*profiles;
	size_t			 nprofiles;
	struct dm_template	*templates;
	size_t			 ntemplates;
};

/*
 * The config path: explicit if not NULL, else
 * $XDG_CONFIG_HOME/docmail/config.ini, else ~/.config/docmail/config.ini.
 * Returns a malloc'd string.
 * Errors: DM_ECONFIG when neither XDG_CONFIG_HOME nor HOME is set; DM_ENOMEM.
 */
char	*dm_config_default_path(const char *explicit, struct dm_err *);

void	dm_config_init(struct dm_config *);
/* Frees everything, wiping passwords. */
void	dm_config_release(struct dm_config *);

/*
 * Loads and validates path into cfg (which must be initialised; its old
 * contents are released on success and kept on error).
 * Refuses a file that holds a password and is readable by group or
 * others, with the chmod command in the hint.  A key with an empty
 * value counts as not set.  Indented lines continue only a template's
 * subject or body (joined with "\n"; after "body =" alone the text
 * starts on the next line); inih skips blank lines, so a blank line
 * inside a template is written "\n".
 * Errors: DM_ECONFIG (missing file: message says so and the hint
 *         names "docmail settings"; syntax, unknown section or key with
 *         a "did you mean" hint, duplicate key, line too long, invalid
 *         value, missing host or email, permissions); DM_ENOMEM.
 */
int	dm_config_load(struct dm_config *cfg, const char *path,
	    struct dm_err *);

/*
 * The profile to use: id if not NULL, else "default", else the only
 * one.  Borrowed from cfg.
 * Errors: DM_ECONFIG for an unknown id (listing the ones there are) or
 *         when there is no profile, or several and none is "default".
 */
const struct dm_profile *dm_config_profile(const struct dm_config *,
	    const char *id, struct dm_err *);

/* The template with that id, or NULL (no error is set). */
const struct dm_template *dm_config_template(const struct dm_config *,
	    const char *id);

/*
 * Checks that a profile is complete and that every value would be read
 * back identically by inih (no leading or trailing space, no " ;", no
 * control characters, lines under DM_INI_LINE_MAX).
 * Errors: DM_ECONFIG naming the key and why; the hint suggests
 *         password_command for a password that cannot be stored.
 */
int	dm_profile_validate(const struct dm_profile *, struct dm_err *);

/*
 * Writes p as section [profile p->id] of the file at path: an existing
 * section's keys are updated in place (their inline comments kept),
 * keys it lacks are added at its end, keys p leaves unset are removed;
 * a missing section is appended; a missing file (and its directory,
 * mode 0700) is created.  Temporary file in the same directory, fsync,
 * rename, mode 0600.  On any error the old file is untouched.
 * A line whose value did not change is kept byte for byte.  New keys
 * are written in a fixed order, leaving out unset strings, port 0,
 * timeout 30 and allow_from_override yes unless the section already
 * had the key; security is always written.  Continuation lines and
 * repeats of a rewritten key are removed.
 * Errors: DM_ECONFIG (value cannot be stored, see dm_profile_validate);
 *         DM_EIO (cannot write, with the path and errno text); DM_ENOMEM.
 */
int	dm_profile_save(const char *path, const struct dm_profile *p,
	    struct dm_err *);

/*
 * Adds template t as a [template ID] section at the end of the file at
 * path (under the same lock as dm_profile_save(), atomically, 0600),
 * unless the file has that template already (then nothing changes).
 * Multi-line text is written as indented continuation lines, which
 * dm_config_load() reads back as the same text (leading line breaks
 * dropped).
 * Errors: DM_ECONFIG (invalid name; a line that starts with ';', '#',
 *         '[' or a blank, holds a control character or is too long;
 *         the file does not load), DM_EIO, DM_ENOMEM.
 */
int	dm_template_add(const char *path, const struct dm_template *t,
	    struct dm_err *);

/*
 * A built-in template: "invoice", "offer" or "reminder" (English, with
 * {{number}}, {{contact}} and {{sender.name}}); NULL for other names.
 */
const struct dm_template *dm_template_builtin(const char *name);

/* Frees the members of a profile (wiping the password). */
void	dm_profile_release(struct dm_profile *);
/* Sets defaults: port 0, starttls, timeout 30, allow_from_override 1. */
void	dm_profile_init(struct dm_profile *);

/* The port to use: p->port, or 465 for ssl, 587 for starttls, 25 for none. */
int	dm_profile_port(const struct dm_profile *);

/* "ssl", "starttls", "none". */
const char *dm_security_name(enum dm_security);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int	dm_security_parse(const char *, enum dm_security *out);

/*
 * How p logs in: its auth key, else password when user is set, else
 * none.  Never DM_AUTH_DEFAULT.
 */
enum dm_auth dm_profile_auth(const struct dm_profile *);

/*
 * A deep copy of src into dst (uninitialised), for a job that outlives
 * the config src came from; dst is released with dm_profile_release().
 * Errors: DM_ENOMEM (dst is then released).
 */
int	dm_profile_copy(struct dm_profile *dst, const struct dm_profile *src,
	    struct dm_err *);

/* "password", "oauth2", "none"; parse returns -1 for an unknown name. */
const char *dm_auth_name(enum dm_auth);
int	dm_auth_parse(const char *, enum dm_auth *out);

/*
 * Fills out with the password: the profile's own, else the output of
 * password_command.  Sets *need_prompt to 1 and returns 0 when neither
 * is configured (the front end then asks on the terminal).  A profile
 * that logs in without a password (auth = none or oauth2) gets none and
 * no prompt (its token comes at AUTH: dm_deliver_token()).
 * Errors: DM_ECONFIG (password_command failed); DM_ENOMEM.
 */
int	dm_profile_password(const struct dm_profile *, struct dm_secret *out,
	    int *need_prompt, struct dm_err *);

/*
 * Reads the sidecar of a document: DOC.ini, else DOC-without-extension.ini
 * ("invoice.pdf" -> "invoice.pdf.ini", then "invoice.ini").  Adds every
 * key of its [document] section to vars (first value wins, source
 * "FILE:LINE") and sets *template to a malloc'd copy of its "template"
 * key, or NULL ("template" is not added to vars).  Indented lines
 * continue a value (joined with "\n"); a key given twice is an error.  A missing sidecar is not an error (returns 0, adds
 * nothing).  *sidecar_path, if not NULL, receives the path read (malloc'd)
 * or NULL.
 * Errors: DM_EDATA for a sidecar that cannot be parsed (FILE:LINE),
 *         a key outside [document], an invalid name; DM_ENOMEM.
 */
int	dm_sidecar_load(const char *docpath, struct dm_vars *vars,
	    char **template, char **sidecar_path, struct dm_err *);

/* What a provider preset fills in (data/providers.ini). */
struct dm_preset {
	char			host[256];
	int			port;
	enum dm_security	security;
	enum dm_auth		auth;		/* DM_AUTH_DEFAULT when not said */
	char			oauth2_provider[16];	/* "" when not said */
	char			note[256];	/* e.g. about app passwords */
	int			max_per_minute;	/* the provider's limit, 0 = none */
};

/*
 * Looks up the section [domain] of the preset file at path, else that
 * of its nearest parent domain (a tenant's "firma.onmicrosoft.com"
 * finds [onmicrosoft.com]).
 * Returns 1 and fills out when found, 0 when not.
 * Errors: DM_ECONFIG (file missing or malformed).
 */
int	dm_preset_find(const char *path, const char *domain,
	    struct dm_preset *out, struct dm_err *);

#endif /* DOCMAIL_PROFILE_H */
