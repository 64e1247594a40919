/*
 * scr-settings.c - the SMTP settings screen: fields, Test connection in
 * the background, Save
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/clock.h>
#include <docmail/deliver.h>
#include <docmail/i18n.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

#include "job.h"
#include "signin.h"
#include "tform.h"
#include "tui.h"

/*
 * Every field the screen has; which of them the form shows depends on
 * the Authentication choice (see shown()), and the form is rebuilt
 * when it changes.  Values of fields not shown wait in st->val.
 */
enum {
	SF_NAME, SF_EMAIL, SF_HOST, SF_PORT, SF_SECURITY, SF_AUTH, SF_USER,
	SF_PASSWORD, SF_CLIENT_ID, SF_TENANT, SF_CLIENT_SECRET, SF_TOKEN_CMD,
	SF_CAFILE, SF_TEST, SF_SIGNIN, SF_SAVE, SF_COUNT
};

/* The Authentication choice, in the order of its labels. */
enum auth_mode {
	AM_PASSWORD, AM_MICROSOFT, AM_GOOGLE, AM_TOKEN_CMD, AM_CUSTOM
};

/* The values of security: config words, not translated. */
static const char *const securities[] = { "starttls", "ssl", "none", NULL };
static const char *const auths[] = {
	N_("Password"), "Microsoft 365", "Google", N_("Token command"), NULL
};
/*
 * A profile whose endpoints are its own (oauth2_provider = custom) is
 * shown as what it is; the choice is offered only to such a profile.
 */
static const char *const auths_custom[] = {
	N_("Password"), "Microsoft 365", "Google", N_("Token command"),
	N_("Custom OAuth2"), NULL
};

static const struct tf_spec spec_all[SF_COUNT] = {
	/*
	 * Wide enough that most values never scroll (each keystroke in a
	 * scrolling field repaints it), narrow enough for a note beside.
	 */
	/*
	 * TRANSLATORS: the settings form's labels; the widest sets the
	 * column of the fields, which must still fit in 80 columns.
	 */
	{ N_("Sender name"), TF_TEXT, 52, 0, NULL },
	{ N_("Email"), TF_TEXT, 52, 0, NULL },
	{ N_("Host"), TF_TEXT, 52, 0, NULL },
	{ N_("Port"), TF_TEXT, 6, 0, NULL },
	{ N_("Security"), TF_CHOICE, 10, 0, securities },
	{ N_("Authentication"), TF_CHOICE, 15, 0, auths },
	{ N_("User name"), TF_TEXT, 52, 0, NULL },
	{ N_("Password"), TF_SECRET, 36, 0, NULL },
	{ N_("Client id"), TF_TEXT, 44, 0, NULL },
	{ N_("Tenant"), TF_TEXT, 36, 0, NULL },
	{ N_("Client secret"), TF_SECRET, 36, 0, NULL },
	{ N_("Token command"), TF_TEXT, 52, 0, NULL },
	{ N_("CA file"), TF_TEXT, 52, 0, NULL },
	{ N_("Test connection"), TF_BUTTON, 0, 0, NULL },
	{ N_("Sign in"), TF_BUTTON, 0, 0, NULL },
	{ N_("Save"), TF_BUTTON, 0, 0, NULL },
};

/* Form rows start right under the title: ten fields and the results fit. */
#define FORM_ROW	1
#define NOTE_MAX	160

#define STEP_LINES	12

/* A Test connection running in its own thread. */
struct test_job {
	struct job		 job;
	/* Under job's lock. */
	int			 result;
	struct dm_err		 err;
	struct dm_smtp_report	 rep;
	char			 lines[STEP_LINES][120];
	int			 nlines;
	unsigned		 steps;		/* 1 << step, done */
	struct timespec		 since;		/* the last step's end */
	/* Owned copies of everything the thread reads. */
	struct dm_smtp_params	 p;	/* points into prof and pw */
	struct dm_secret	 pw;
	struct dm_profile	 prof;	/* from the fields */
};

struct settings {
	struct tform		*form;
	enum auth_mode		 mode;
	int			 custom;	/* offer "Custom OAuth2" */
	struct tf_spec		 spec[SF_COUNT];	/* the fields shown */
	int			 pos[SF_COUNT];	/* form index, -1: hidden */
	int			 sf[SF_COUNT];	/* form index -> SF_* */
	int			 nshown;
	char			*val[SF_COUNT];	/* of hidden fields */
	char			 note[SF_COUNT][NOTE_MAX];
	int			 note_err[SF_COUNT];
	char			*id;		/* profile section */
	int			 dirty;
	int			 saved_pw;	/* the file has a password */
	int			 saved_secret;	/* ... a client secret */
	int			 preset_rate;	/* a preset's max_per_minute */
	int			 user_offered;	/* User name is Email, as offered */
	char			*pw_command;	/* kept as it is */
	struct test_job		*job;
	struct signin		*signin;
	int			 spin;
	char			 result[2][DM_ERR_MSG_MAX];
	char			 steps[STEP_LINES][120];	/* of the last test */
	int			 nsteps;
	int			 result_ok;
};

/* Is field f part of the form in mode m? */
static int
shown(enum auth_mode m, int f)
{
	switch (f) {
	case SF_PASSWORD:
		return m == AM_PASSWORD;
	case SF_CLIENT_ID:
	case SF_SIGNIN:
		return m == AM_MICROSOFT || m == AM_GOOGLE || m == AM_CUSTOM;
	case SF_TENANT:
		return m == AM_MICROSOFT;
	case SF_CLIENT_SECRET:
		return m == AM_GOOGLE || m == AM_CUSTOM;
	case SF_TOKEN_CMD:
		return m == AM_TOKEN_CMD;
	default:
		return 1;
	}
}

static void
wipe_free(char *v)
{
	if (v != NULL)
		explicit_bzero(v, strlen(v));
	free(v);
}

/*
 * The value of field f, shown or not; malloc'd, "" when empty.  NULL
 * only when out of memory (as tform_get() gives): the save path fails
 * then (take(), profile_from_fields()) rather than store a field unset.
 */
static char *
get(struct settings *st, int f)
{
	if (st->pos[f] >= 0)
		return tform_get(st->form, st->pos[f]);
	return strdup(st->val[f] != NULL ? st->val[f] : "");
}

static void
set(struct settings *st, int f, const char *v)
{
	if (st->pos[f] >= 0) {
		(void)tform_set(st->form, st->pos[f], v);
		return;
	}
	wipe_free(st->val[f]);
	st->val[f] = strdup(v);
}

static void
note(struct settings *st, int f, const char *s, int is_error)
{
	if (s == NULL)
		st->note[f][0] = '\0';
	else
		dm_strlcpy(st->note[f], s, sizeof st->note[f]);
	st->note_err[f] = is_error;
	if (st->pos[f] >= 0)
		tform_note(st->form, st->pos[f], s, is_error);
}

static void
focus(struct settings *st, int f)
{
	if (st->pos[f] >= 0)
		tform_focus(st->form, st->pos[f]);
}

/* The SF_* field the focus is on. */
static int
current(struct settings *st)
{
	return st->sf[tform_current(st->form)];
}

/*
 * Builds the form for mode m, carrying every value, note and (when it
 * is still shown) the focus over from the old one.  The old form stays
 * when the new one cannot be made.
 */
static int
build_form(struct settings *st, enum auth_mode m, int focus_on)
{
	struct tf_spec spec[SF_COUNT], keep[SF_COUNT];
	struct tform *nf;
	int pos[SF_COUNT], sf[SF_COUNT], f, n = 0;
	char *v;

	for (f = 0; f < SF_COUNT; f++) {
		pos[f] = -1;
		if (!shown(m, f))
			continue;
		spec[n] = spec_all[f];
		if (f == SF_AUTH && st->custom)
			spec[n].choices = auths_custom;
		sf[n] = f;
		pos[f] = n++;
	}
	/* tform keeps the spec pointer: the array must stay where it is. */
	if (st->form != NULL)
		for (f = 0; f < SF_COUNT; f++)
			if (st->pos[f] >= 0 && spec_all[f].kind != TF_BUTTON) {
				v = tform_get(st->form, st->pos[f]);
				if (v == NULL)
					return -1;
				wipe_free(st->val[f]);
				st->val[f] = v;
			}
	/* The new form reads its spec from where it will stay. */
	memcpy(keep, st->spec, sizeof keep);
	memcpy(st->spec, spec, sizeof spec);
	if ((nf = tform_new(st->spec, n, FORM_ROW)) == NULL) {
		memcpy(st->spec, keep, sizeof keep);
		return -1;
	}
	tform_free(st->form);
	st->form = nf;
	st->mode = m;
	st->nshown = n;
	memcpy(st->pos, pos, sizeof pos);
	memcpy(st->sf, sf, sizeof sf);
	for (f = 0; f < SF_COUNT; f++) {
		if (pos[f] < 0)
			continue;
		if (st->val[f] != NULL) {
			if (f != SF_AUTH)
				(void)tform_set(st->form, pos[f], st->val[f]);
			wipe_free(st->val[f]);
			st->val[f] = NULL;
		}
		if (st->note[f][0] != '\0')
			tform_note(st->form, pos[f], st->note[f],
			    st->note_err[f]);
	}
	tform_set_choice(st->form, pos[SF_AUTH], (int)m);
	focus(st, pos[focus_on] >= 0 ? focus_on : SF_AUTH);
	return 0;
}

static const char *
preset_path(void)
{
	static char path[PATH_MAX + 32];
	char exe[PATH_MAX], *slash;
	const char *env = getenv("DOCMAIL_DATADIR");
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		(void)snprintf(path, sizeof path, "%s/providers.ini", env);
		return path;
	}
	(void)snprintf(path, sizeof path, "%s/providers.ini", DM_DATADIR);
	if (access(path, R_OK) == 0)
		return path;
	/* Run from the build tree: data/ beside src/. */
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		(void)snprintf(path, sizeof path, "%s/../data/providers.ini",
		    exe);
	}
	return path;
}

/* How profile p signs in, as the Authentication choice shows it. */
static enum auth_mode
mode_of(const struct dm_profile *p)
{
	if (dm_profile_auth(p) != DM_AUTH_OAUTH2)
		return AM_PASSWORD;
	/* As dm_deliver_token() does: a token command comes first. */
	if (p->oauth2_token_command != NULL)
		return AM_TOKEN_CMD;
	if (p->oauth2_provider != NULL &&
	    strcmp(p->oauth2_provider, "google") == 0)
		return AM_GOOGLE;
	if (p->oauth2_provider != NULL &&
	    strcmp(p->oauth2_provider, "custom") == 0)
		return AM_CUSTOM;
	return AM_MICROSOFT;
}

static void
fill(struct settings *st, const struct dm_profile *p)
{
	struct dm_err err;
	char port[16];

	set(st, SF_NAME, p->name ? p->name : "");
	set(st, SF_EMAIL, p->email ? p->email : "");
	set(st, SF_HOST, p->host ? p->host : "");
	(void)snprintf(port, sizeof port, "%d", dm_profile_port(p));
	set(st, SF_PORT, p->host ? port : "587");
	set(st, SF_SECURITY, dm_security_name(p->security));
	set(st, SF_USER, p->user ? p->user : "");
	set(st, SF_CAFILE, p->ca_file ? p->ca_file : "");
	set(st, SF_CLIENT_ID, p->oauth2_client_id ? p->oauth2_client_id : "");
	set(st, SF_TENANT, p->oauth2_tenant ? p->oauth2_tenant : "");
	set(st, SF_TOKEN_CMD, p->oauth2_token_command ?
	    p->oauth2_token_command : "");
	/* Never the password itself, not even its length. */
	st->saved_pw = dm_secret_isset(&p->password) && p->password.len > 0;
	if (st->saved_pw)
		note(st, SF_PASSWORD, _("saved (type to replace)"), 0);
	else if (p->password_command != NULL) {
		note(st, SF_PASSWORD, _("from password_command"), 0);
		/* Out of memory: settings_enter() gives up, see there. */
		st->pw_command = dm_strdup(p->password_command, &err);
	}
	st->saved_secret = p->oauth2_client_secret != NULL;
	if (st->saved_secret)
		note(st, SF_CLIENT_SECRET, _("saved (type to replace)"), 0);
	if (p->oauth2_device_url != NULL || p->oauth2_auth_url != NULL ||
	    p->oauth2_token_url != NULL)
		note(st, SF_CLIENT_ID, _("custom endpoints"), 0);
}

static void	settings_leave(struct tui *, void *);

static int
settings_enter(struct tui *t, void *arg, void **state)
{
	struct settings *st;
	const struct dm_profile *p;
	int f;

	(void)arg;
	if ((st = calloc(1, sizeof *st)) == NULL)
		return -1;
	for (f = 0; f < SF_COUNT; f++)
		st->pos[f] = -1;
	p = tui_profile(t);
	st->mode = p != NULL ? mode_of(p) : AM_PASSWORD;
	st->custom = st->mode == AM_CUSTOM;
	if (build_form(st, st->mode, SF_NAME) == -1) {
		free(st);
		return -1;
	}
	if (p != NULL) {
		st->id = strdup(p->id);
		fill(st, p);
	} else {
		st->id = strdup(t->opts->profile != NULL ? t->opts->profile :
		    "default");
		set(st, SF_PORT, "587");
		set(st, SF_SECURITY, "starttls");
	}
	/*
	 * Without its id the screen cannot save, and without its command
	 * a save would drop password_command from the file.
	 */
	if (st->id == NULL || (p != NULL && p->password_command != NULL &&
	    !st->saved_pw && st->pw_command == NULL)) {
		settings_leave(t, st);
		return -1;
	}
	if (p != NULL)
		tui_status(t, _("profile '%s' of %s"), p->id, t->config_path);
	else
		tui_status(t, _("no configuration yet: fill in your SMTP account, then F5 to test and F2 to save"));
	focus(st, SF_NAME);
	*state = st;
	return 0;
}

/* The profile as the file has it now, if it is the one edited here. */
static const struct dm_profile *
loaded(struct tui *t, const struct settings *st)
{
	const struct dm_profile *p = tui_profile(t);

	return p != NULL && strcmp(p->id, st->id) == 0 ? p : NULL;
}

/*
 * What the file has and this screen does not show must survive a save:
 * a value lost to a lack of memory fails it (DM_ENOMEM) rather than
 * vanish from the file.
 */
static int
keep_hidden(struct dm_profile *p, const struct dm_profile *old,
    struct dm_err *err)
{
	if (old == NULL)
		return 0;
	p->timeout = old->timeout;
	p->allow_from_override = old->allow_from_override;
	p->max_per_minute = old->max_per_minute;
	p->auth = old->auth;
#define KEEP(f) do {							\
	if (old->f != NULL && (p->f = dm_strdup(old->f, err)) == NULL)	\
		return -1;						\
} while (0)
	KEEP(tls_fingerprint);
	KEEP(sent_maildir);
	KEEP(documents_dir);
	/*
	 * The OAuth2 keys a mode has no field for stay as they are (the
	 * endpoints and scope have none at all); set_mode() then writes
	 * the ones the chosen mode shows.
	 */
	KEEP(oauth2_provider);
	KEEP(oauth2_client_id);
	KEEP(oauth2_client_secret);
	KEEP(oauth2_tenant);
	KEEP(oauth2_scope);
	KEEP(oauth2_device_url);
	KEEP(oauth2_auth_url);
	KEEP(oauth2_token_url);
	KEEP(oauth2_token_command);
#undef KEEP
	return 0;
}

/*
 * *slot = the field's value, or unset when it is empty.
 * Errors: DM_ENOMEM (*slot is then unset).
 */
static int
take(struct settings *st, int f, char **slot, struct dm_err *err)
{
	char *v = get(st, f);

	wipe_free(*slot);
	*slot = NULL;
	if (v == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (v[0] == '\0') {
		free(v);
		v = NULL;
	}
	*slot = v;
	return 0;
}

/* Errors: DM_ENOMEM (*slot is then unset). */
static int
set_str(char **slot, const char *v, struct dm_err *err)
{
	free(*slot);
	if ((*slot = dm_strdup(v, err)) == NULL && v != NULL)
		return -1;
	return 0;
}

/*
 * The login keys of the Authentication choice.  OAuth2 takes no
 * password (dm_profile_validate refuses both), and a token command
 * would win over the sign-in (dm_deliver_token), so each mode drops
 * what would contradict it.
 */
static int
set_mode(struct settings *st, struct dm_profile *p, struct dm_err *err)
{
	char *v;

	if (st->mode == AM_PASSWORD) {
		if (p->auth == DM_AUTH_OAUTH2)
			p->auth = DM_AUTH_PASSWORD;
		if (st->pw_command != NULL &&
		    (p->password_command = dm_strdup(st->pw_command, err)) ==
		    NULL)
			return -1;
		return 0;
	}
	p->auth = DM_AUTH_OAUTH2;
	if (p->user == NULL) {
		dm_err_set(err, DM_ECONFIG, _("User name is empty"));
		dm_err_hint(err, _("OAuth2 logs in as the mailbox: type its address, e.g. anna@example.com"));
		focus(st, SF_USER);
		return -1;
	}
	if (st->mode == AM_TOKEN_CMD) {
		if (take(st, SF_TOKEN_CMD, &p->oauth2_token_command, err) == -1)
			return -1;
		if (p->oauth2_token_command == NULL) {
			dm_err_set(err, DM_ECONFIG, _("Token command is empty"));
			dm_err_hint(err, _("type the command that prints an access token, e.g. pizauth show work"));
			focus(st, SF_TOKEN_CMD);
			return -1;
		}
		return 0;
	}
	(void)set_str(&p->oauth2_token_command, NULL, err);
	if (set_str(&p->oauth2_provider, st->mode == AM_MICROSOFT ?
	    "microsoft" : st->mode == AM_GOOGLE ? "google" : "custom",
	    err) == -1)
		return -1;
	if (take(st, SF_CLIENT_ID, &p->oauth2_client_id, err) == -1)
		return -1;
	if (st->mode == AM_MICROSOFT) {
		if (take(st, SF_TENANT, &p->oauth2_tenant, err) == -1)
			return -1;
	} else {
		/* Typed replaces, empty keeps the saved one. */
		if ((v = get(st, SF_CLIENT_SECRET)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		if (v[0] != '\0') {
			wipe_free(p->oauth2_client_secret);
			p->oauth2_client_secret = v;
		} else
			free(v);
	}
	return 0;
}

static int
profile_from_fields(struct tui *t, struct settings *st, struct dm_profile *p,
    struct dm_err *err)
{
	char *port = get(st, SF_PORT), *sec = get(st, SF_SECURITY);
	long long v;
	int r = -1;

	dm_profile_init(p);
	p->id = dm_strdup(st->id, err);
	p->name = get(st, SF_NAME);
	p->email = get(st, SF_EMAIL);
	p->host = get(st, SF_HOST);
	p->user = get(st, SF_USER);
	p->ca_file = get(st, SF_CAFILE);
	if (p->id == NULL || port == NULL || sec == NULL || p->name == NULL ||
	    p->email == NULL || p->host == NULL || p->user == NULL ||
	    p->ca_file == NULL) {
		/* A field read as empty would be saved unset. */
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	if (keep_hidden(p, loaded(t, st), err) == -1)
		goto out;
	/* A provider's limit for batches comes with its preset. */
	if (p->max_per_minute == 0)
		p->max_per_minute = st->preset_rate;
	if (p->email == NULL || p->email[0] == '\0') {
		dm_err_set(err, DM_ECONFIG, _("Email is empty"));
		dm_err_hint(err, _("type the address you send from, e.g. anna@example.com"));
		focus(st, SF_EMAIL);
		goto out;
	}
	if (p->host == NULL || p->host[0] == '\0') {
		dm_err_set(err, DM_ECONFIG, _("Host is empty"));
		dm_err_hint(err, _("type your provider's SMTP server, e.g. smtp.example.com"));
		focus(st, SF_HOST);
		goto out;
	}
	if (dm_strtonum(port, 1, 65535, &v) == -1) {
		dm_err_set(err, DM_ECONFIG, _("invalid port '%s'"), port);
		dm_err_hint(err, _("465 for ssl, 587 for starttls"));
		focus(st, SF_PORT);
		goto out;
	}
	p->port = (int)v;
	(void)dm_security_parse(sec, &p->security);
	/* Empty optional values are "not set". */
	if (p->name != NULL && p->name[0] == '\0') {
		free(p->name);
		p->name = NULL;
	}
	if (p->user != NULL && p->user[0] == '\0') {
		free(p->user);
		p->user = NULL;
	}
	if (p->ca_file != NULL && p->ca_file[0] == '\0') {
		free(p->ca_file);
		p->ca_file = NULL;
	}
	if (set_mode(st, p, err) == -1)
		goto out;
	r = 0;
out:
	free(port);
	free(sec);
	return r;
}

/* The password to use: typed, saved, or from password_command. */
static int
password(struct tui *t, struct settings *st, struct dm_secret *out,
    struct dm_err *err)
{
	const struct dm_profile *p = loaded(t, st);
	char *typed = get(st, SF_PASSWORD);
	int need = 0, r = 0;

	if (typed != NULL && typed[0] != '\0')
		r = dm_secret_set(out, typed, strlen(typed), err);
	else if (p != NULL)
		r = dm_profile_password(p, out, &need, err);
	wipe_free(typed);
	return r;
}

/*
 * s with the command line's sign-in ("docmail login", "docmail
 * --profile NAME login") named as this screen's: F6.
 */
static void
screen_words(char *s, size_t size)
{
	/* TRANSLATORS: replaces "docmail login" in messages on this screen. */
	const char *to = _("F6 (Sign in)");
	/* TRANSLATORS: replaces "run " before "docmail login" here. */
	const char *press = _("press ");
	char rest[DM_ERR_MSG_MAX], *at, *p;
	size_t off = 0;
	int run;

	while ((at = strstr(s + off, "docmail ")) != NULL) {
		p = at + 8;
		if (strncmp(p, "--profile ", 10) == 0 &&
		    (p = strchr(p + 10, ' ')) != NULL)
			p++;
		if (p == NULL || strncmp(p, "login", 5) != 0) {
			off = (size_t)(at - s) + 8;
			continue;
		}
		dm_strlcpy(rest, p + 5, sizeof rest);
		/* "run docmail login" is a key to press here. */
		run = at - s >= 4 && strncmp(at - 4, "run ", 4) == 0;
		if (run)
			at -= 4;
		*at = '\0';
		(void)snprintf(at, size - (size_t)(at - s), "%s%s%s",
		    run ? press : "", to, rest);
		off = (size_t)(at - s) + (run ? strlen(press) : 0) + strlen(to);
		if (off >= size)
			break;
	}
}

/* An error of the core as this screen says it. */
static void
screen_hint(struct dm_err *err)
{
	screen_words(err->msg, sizeof err->msg);
	screen_words(err->hint, sizeof err->hint);
}

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct test_job *j = arg;
	char line[120];

	if (ev->kind != DM_EV_STEP)
		return;
	(void)snprintf(line, sizeof line, "%-4s %-12s %4ld ms %.40s",
	    ev->ok ? "ok" : "FAIL", dm_smtp_step_label(ev->step), ev->ms,
	    ev->ok && ev->text != NULL ? ev->text : "");
	job_lock(&j->job);
	if (j->nlines < STEP_LINES)
		memcpy(j->lines[j->nlines++], line, sizeof line);
	j->steps |= 1u << ev->step;
	dm_clock_now(&j->since);
	job_unlock(&j->job);
	job_wake(&j->job);
}

static void
test_thread(void *arg)
{
	struct test_job *j = arg;
	struct dm_err err;
	int r;

	dm_err_clear(&err);
	r = dm_smtp_test(&j->p, j->prof.email, &j->rep, &err);
	dm_secret_release(&j->pw);
	job_lock(&j->job);
	j->result = r;
	j->err = err;
	job_unlock(&j->job);
}

/* Stops the test if it runs, in any state. */
static void
test_free(struct test_job *j)
{
	if (j == NULL)
		return;
	job_release(&j->job);
	dm_secret_release(&j->pw);
	dm_profile_release(&j->prof);
	free(j);
}

static int
start_test(struct tui *t, struct settings *st)
{
	struct dm_profile p;
	struct test_job *j;
	struct dm_err err;

	if (st->job != NULL || st->signin != NULL)
		return SCR_HANDLED;
	if (profile_from_fields(t, st, &p, &err) == -1) {
		dm_profile_release(&p);
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		dm_profile_release(&p);
		return SCR_HANDLED;
	}
	job_init(&j->job, tui_waker, t);
	dm_secret_init(&j->pw);
	/* The job owns the profile from here; its thread reads it. */
	j->prof = p;
	if (dm_profile_auth(&j->prof) == DM_AUTH_PASSWORD &&
	    j->prof.user != NULL) {
		if (password(t, st, &j->pw, &err) == -1) {
			test_free(j);
			tui_error(t, &err);
			return SCR_HANDLED | SCR_REDRAW;
		}
		if (!dm_secret_isset(&j->pw)) {
			test_free(j);
			focus(st, SF_PASSWORD);
			tui_status(t, _("type the password (or app password) first"));
			t->status_error = 1;
			return SCR_HANDLED | SCR_REDRAW;
		}
	}
	/*
	 * OAuth2: the token command or the stored sign-in, in the test; a
	 * refresh there uses libcurl, set up here in the main thread.
	 */
	if (dm_profile_auth(&j->prof) == DM_AUTH_OAUTH2 &&
	    j->prof.oauth2_token_command == NULL &&
	    dm_oauth2_init(&err) == -1) {
		test_free(j);
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	dm_deliver_params(&j->prof, &j->pw, &j->p);
	j->p.event = on_event;
	j->p.arg = j;
	j->p.cancel = job_cancel_flag(&j->job);
	dm_clock_now(&j->since);
	if (job_start(&j->job, test_thread, j) == -1) {
		test_free(j);
		return SCR_HANDLED;
	}
	st->job = j;
	st->result[0][0] = st->result[1][0] = '\0';
	st->nsteps = 0;
	tui_status(t, _("testing the connection... (Esc cancels)"));
	return SCR_HANDLED | SCR_REDRAW;
}

/* The provider's name for the box's title. */
static const char *
mode_name(enum auth_mode m)
{
	return _(auths_custom[m]);
}

/*
 * Sign in (F6) with the settings as they are on the screen, no save
 * needed: the token goes to the store of this profile's id, which is
 * what Test connection and every send of the profile read.
 */
static int
start_signin(struct tui *t, struct settings *st)
{
	struct dm_profile p;
	struct dm_err err;

	if (st->job != NULL || st->signin != NULL)
		return SCR_HANDLED;
	if (st->mode == AM_PASSWORD || st->mode == AM_TOKEN_CMD) {
		tui_status(t, _("Sign in is for Microsoft 365 and Google: choose one in Authentication first"));
		t->status_error = 1;
		focus(st, SF_AUTH);
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (profile_from_fields(t, st, &p, &err) == -1 ||
	    (st->signin = signin_start(t, &p, mode_name(st->mode),
	    &err)) == NULL) {
		dm_profile_release(&p);
		/* The steps to register a client id are long: the result area. */
		dm_strlcpy(st->result[0], err.msg, sizeof st->result[0]);
		dm_strlcpy(st->result[1], err.hint, sizeof st->result[1]);
		st->result_ok = 0;
		st->nsteps = 0;
		if (strstr(err.msg, "client_id") != NULL)
			focus(st, SF_CLIENT_ID);
		tui_status(t, "%s", err.msg);
		t->status_error = 1;
		return SCR_HANDLED | SCR_REDRAW;
	}
	dm_profile_release(&p);
	st->result[0][0] = st->result[1][0] = '\0';
	st->nsteps = 0;
	tui_status(t, _("signing in as profile '%s'... (Esc cancels)"), st->id);
	return SCR_HANDLED | SCR_REDRAW;
}

/* The sign-in ended: its result goes where a test's goes. */
static void
end_signin(struct tui *t, struct settings *st)
{
	struct dm_err err;

	st->nsteps = 0;
	if (signin_result(st->signin, &err) == 0) {
		st->result_ok = 1;
		(void)snprintf(st->result[0], sizeof st->result[0],
		    _("Signed in: profile '%s' has its token."), st->id);
		(void)snprintf(st->result[1], sizeof st->result[1], "%s",
		    st->dirty ?
		    _("F5 tests the connection with it; F2 saves the settings.") :
		    _("F5 tests the connection with it."));
		tui_status(t, _("signed in"));
	} else {
		st->result_ok = 0;
		screen_hint(&err);
		dm_strlcpy(st->result[0], err.msg, sizeof st->result[0]);
		dm_strlcpy(st->result[1], err.hint[0] != '\0' ? err.hint :
		    _("F6 signs in again"), sizeof st->result[1]);
		tui_error(t, &err);
	}
	signin_free(st->signin);
	st->signin = NULL;
}

static int
save(struct tui *t, struct settings *st)
{
	struct dm_profile p;
	struct dm_err err;
	char *typed;
	int r = -1, starter;

	if (profile_from_fields(t, st, &p, &err) == -1)
		goto fail;
	typed = st->mode == AM_PASSWORD ? get(st, SF_PASSWORD) : NULL;
	if (typed != NULL && typed[0] != '\0')
		r = dm_secret_set(&p.password, typed, strlen(typed), &err);
	else if (st->saved_pw && st->mode == AM_PASSWORD) {
		const struct dm_profile *old = loaded(t, st);

		r = old != NULL ? dm_secret_set(&p.password, old->password.s,
		    old->password.len, &err) : 0;
	} else
		r = 0;
	wipe_free(typed);
	if (r == -1)
		goto fail;
	if (dm_profile_save(t->config_path, &p, &err) == -1)
		goto fail;
	dm_profile_release(&p);
	/* A config without templates gets one, for the first invoice. */
	starter = (!t->have_cfg || t->cfg.ntemplates == 0) &&
	    dm_template_add(t->config_path, dm_template_builtin("invoice"),
	    &err) == 0;
	if (tui_reload(t) == -1)
		return SCR_HANDLED | SCR_REDRAW;
	st->dirty = 0;
	st->saved_pw = dm_secret_isset(&tui_profile(t)->password);
	st->saved_secret = tui_profile(t)->oauth2_client_secret != NULL;
	set(st, SF_PASSWORD, "");
	set(st, SF_CLIENT_SECRET, "");
	note(st, SF_PASSWORD, st->saved_pw ? _("saved (type to replace)") :
	    NULL, 0);
	note(st, SF_CLIENT_SECRET, st->saved_secret ?
	    _("saved (type to replace)") : NULL, 0);
	tui_status(t, _("saved to %s (mode 0600)%s"), t->config_path,
	    starter ? _(", with a template 'invoice' to start from") : "");
	return SCR_HANDLED | SCR_REDRAW;
fail:
	dm_profile_release(&p);
	tui_error(t, &err);
	return SCR_HANDLED | SCR_REDRAW;
}

/*
 * The Authentication choice changed: show its fields, and for a
 * provider fill in its server when Host is still empty.
 */
static void
auth_changed(struct tui *t, struct settings *st)
{
	enum auth_mode m = (enum auth_mode)tform_choice(st->form,
	    st->pos[SF_AUTH]);
	struct dm_preset pre;
	struct dm_err err;
	char *host, port[16];

	if (build_form(st, m, SF_AUTH) == -1) {
		/* The old fields stay: so does the choice they belong to. */
		tform_set_choice(st->form, st->pos[SF_AUTH], (int)st->mode);
		tui_status(t, _("the terminal is too small for these fields"));
		t->status_error = 1;
		return;
	}
	host = get(st, SF_HOST);
	if (host != NULL && host[0] == '\0' && (m == AM_MICROSOFT ||
	    m == AM_GOOGLE) && dm_preset_find(preset_path(),
	    m == AM_MICROSOFT ? "office365.com" : "gmail.com", &pre,
	    &err) == 1) {
		set(st, SF_HOST, pre.host);
		(void)snprintf(port, sizeof port, "%d", pre.port);
		set(st, SF_PORT, port);
		set(st, SF_SECURITY, dm_security_name(pre.security));
		st->preset_rate = pre.max_per_minute;
	}
	free(host);
	if (m == AM_MICROSOFT || m == AM_GOOGLE || m == AM_CUSTOM)
		tui_status(t, _("fill in Client id, then F6 signs in"));
	else if (m == AM_TOKEN_CMD)
		tui_status(t, _("a command that prints an access token (pizauth, oama ...)"));
	else
		tui_status_clear(t);
}

/* The focus left a field: check it, and offer what follows from it. */
static void
left_field(struct tui *t, struct settings *st, int f)
{
	struct dm_preset pre;
	struct dm_addr a = { NULL, NULL };
	struct dm_err err;
	char *v = get(st, f), *host, port[16];
	long long n;

	if (f == SF_EMAIL && v != NULL && v[0] != '\0') {
		if (dm_addr_parse_one(&a, v, &err) == -1) {
			note(st, SF_EMAIL, _("invalid"), 1);
			tui_error(t, &err);
			goto out;
		}
		note(st, SF_EMAIL, NULL, 0);
		host = get(st, SF_HOST);
		/* Fill in a known provider, only into an empty Host. */
		if (host != NULL && host[0] == '\0' &&
		    dm_preset_find(preset_path(), dm_addr_domain(a.mailbox),
		    &pre, &err) == 1) {
			set(st, SF_HOST, pre.host);
			(void)snprintf(port, sizeof port, "%d", pre.port);
			set(st, SF_PORT, port);
			set(st, SF_SECURITY, dm_security_name(pre.security));
			st->preset_rate = pre.max_per_minute;
			tui_status(t, "%s", pre.note);
			/* A provider that takes no passwords: its sign-in. */
			if (pre.auth == DM_AUTH_OAUTH2 && st->mode == AM_PASSWORD) {
				enum auth_mode m = strcmp(pre.oauth2_provider,
				    "google") == 0 ? AM_GOOGLE : AM_MICROSOFT;

				if (build_form(st, m, SF_HOST) == -1)
					tform_note(st->form, st->pos[SF_AUTH],
					    _("terminal too small"), 1);
				st->dirty = 1;
			}
		}
		free(host);
		/*
		 * Most providers log in with the address: offer it, whole,
		 * so that a user name typed over it replaces it rather than
		 * being glued to it ("anna@example.testanna").
		 */
		host = get(st, SF_USER);
		if (host != NULL && (host[0] == '\0' || st->user_offered)) {
			set(st, SF_USER, a.mailbox);
			tform_pick(st->form, st->pos[SF_USER]);
			st->user_offered = 1;
		}
		free(host);
	} else if (f == SF_PORT && v != NULL) {
		if (dm_strtonum(v, 1, 65535, &n) == -1) {
			note(st, SF_PORT, _("1 to 65535"), 1);
			goto out;
		}
		note(st, SF_PORT, NULL, 0);
		/* The port says which TLS mode it uses. */
		if (n == 465 && tform_choice(st->form, st->pos[SF_SECURITY]) != 1) {
			set(st, SF_SECURITY, "ssl");
			note(st, SF_SECURITY, _("465 uses ssl"), 0);
		} else if (n == 587 &&
		    tform_choice(st->form, st->pos[SF_SECURITY]) != 0) {
			set(st, SF_SECURITY, "starttls");
			note(st, SF_SECURITY, _("587 uses starttls"), 0);
		}
	}
out:
	dm_addr_release(&a);
	free(v);
}

/*
 * The keys that answer "(s)ave, (d)iscard or (c)ancel": the
 * translation's letters first, then the English ones it does not use.
 * Returns 0 for save, 1 for discard, 2 for cancel or Esc.
 */
static int
ask_unsaved(struct tui *t)
{
	static const char en[] = "sdc";
	const char *tk, *p;
	char keys[8];
	size_t n = 0, i;
	int a;

	/*
	 * TRANSLATORS: the keys for save, discard and cancel, in this
	 * order, as marked in "(s)ave, (d)iscard or (c)ancel": three
	 * different lower-case ASCII letters.  s, d and c work as well
	 * where your letters do not take them.
	 */
	tk = _("sdc");
	if (strlen(tk) != 3 || tk[0] == tk[1] || tk[0] == tk[2] ||
	    tk[1] == tk[2])
		tk = en;
	for (i = 0; i < 3; i++)
		keys[n++] = tk[i];
	for (i = 0; i < 3; i++)
		if (strchr(tk, en[i]) == NULL)
			keys[n++] = en[i];
	keys[n] = '\0';
	a = tui_ask(t, _("unsaved changes: (s)ave, (d)iscard or (c)ancel?"),
	    keys);
	if (a == 0)
		return 2;
	if ((p = strchr(tk, a)) != NULL)
		return (int)(p - tk);
	return (int)(strchr(en, a) - en);
}

static int
leave_screen(struct tui *t, struct settings *st)
{
	int a;

	if (st->job != NULL) {
		job_cancel(&st->job->job);
		tui_status(t, _("cancelling the test..."));
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (!st->dirty)
		return SCR_HANDLED | SCR_CLOSE;
	a = ask_unsaved(t);
	if (a == 0) {
		save(t, st);
		return st->dirty ? SCR_HANDLED | SCR_REDRAW :
		    SCR_HANDLED | SCR_CLOSE;
	}
	if (a == 1)
		return SCR_HANDLED | SCR_CLOSE;
	return SCR_HANDLED;
}

static int
settings_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct settings *st = state;
	int r, f;

	/* The Sign in box has every key while it is open. */
	if (st->signin != NULL)
		return signin_key(t, st->signin, is_key, ch);
	if ((is_key && ch == KEY_F(5)) || (!is_key && ch == 20))  /* ^T */
		return start_test(t, st);
	if ((is_key && ch == KEY_F(2)) || (!is_key && ch == 19))  /* ^S */
		return save(t, st);
	if ((is_key && ch == KEY_F(6)) || (!is_key && ch == 7))  /* ^G */
		return start_signin(t, st);
	if (!is_key && (ch == 27 || ch == 17 || ch == 3))  /* Esc ^Q ^C */
		return leave_screen(t, st);
	r = tform_key(st->form, is_key, ch);
	/* Typed over or moved in: the offered user name is the user's now. */
	if (st->user_offered && current(st) == SF_USER &&
	    !tform_picked(st->form, st->pos[SF_USER])) {
		st->user_offered = 0;
		tui_status_clear(t);
	}
	if (r & TF_ACTIVATE) {
		f = current(st);
		return f == SF_TEST ? start_test(t, st) : f == SF_SIGNIN ?
		    start_signin(t, st) : save(t, st);
	}
	if (r & TF_CHANGED) {
		st->dirty = 1;
		f = current(st);
		if (f == SF_PASSWORD)
			note(st, SF_PASSWORD, _("new password"), 0);
		else if (f == SF_CLIENT_SECRET)
			note(st, SF_CLIENT_SECRET, _("new secret"), 0);
		else if (f == SF_SECURITY)
			note(st, SF_SECURITY, NULL, 0);
		else if (f == SF_AUTH) {
			auth_changed(t, st);
			return SCR_HANDLED | SCR_REDRAW;
		}
	}
	if (r & TF_LEFT) {
		left_field(t, st, st->sf[tform_left(st->form)]);
		/* Too long for a note beside the field: the status line. */
		if (st->user_offered && current(st) == SF_USER)
			tui_status(t, "%s", _("User name: the Email address, offered; typing replaces it, an arrow key keeps it"));
		r |= SCR_REDRAW;
	}
	return r;
}

static int settings_tick(struct tui *, void *);

/* Where the steps start: under the buttons, wherever they ended up. */
static int
steps_row(struct settings *st)
{
	int row, col, w;

	tform_where(st->form, st->pos[SF_SAVE], &row, &col, &w);
	return row + 2;
}

/*
 * Steps in two columns of four, or of five when there are nine (an
 * OAuth2 login adds the token step): every step, QUIT included, fits
 * above the result at 80x24.
 */
#define STEP_ROWS(n)	((n) > 8 ? 5 : 4)

static void
draw_steps(struct tui *t, int top, char (*lines)[120], int n, int rows)
{
	int i, w = (COLS - 8) / 2;

	for (i = 0; i < n && i < 2 * rows; i++) {
		attr_t a = strncmp(lines[i], "FAIL", 4) == 0 ?
		    tui_attr(t, TC_ERROR) : tui_attr(t, TC_OK);
		int col = 4 + (i / rows) * (w + 2);

		tui_put(top + i % rows, col, w, lines[i], a);
		/* A server's words cut short say so: never "localhos". */
		if (dm_text_width(lines[i]) > w)
			tui_put(top + i % rows, col + w - 1, 1, "~", a);
	}
}

static void
settings_draw(struct tui *t, void *state)
{
	struct settings *st = state;
	struct test_job *j = st->job;
	static const char spinner[] = "|/-\\";
	int i, top = steps_row(st), res = LINES - 6;

	/*
	 * A test or sign-in that ended while another screen (help) was on
	 * top: its wake-up went there, so it is settled here.
	 */
	if ((j != NULL && job_done(&j->job)) ||
	    (st->signin != NULL && signin_done(st->signin))) {
		(void)settings_tick(t, st);
		j = NULL;
	}
	tform_draw(t, st->form);
	if (st->signin != NULL) {
		signin_draw(t, st->signin);
		return;
	}
	if (j != NULL) {
		struct timespec since;
		unsigned steps;
		char now[96], sp[2] = { spinner[st->spin % 4], '\0' };
		int col, w = (COLS - 8) / 2;
		/* With a token step there will be nine. */
		int rows = STEP_ROWS(j->p.token != NULL ? 9 : j->nlines);

		job_lock(&j->job);
		draw_steps(t, top, j->lines, j->nlines, rows);
		i = j->nlines;
		steps = j->steps;
		since = j->since;
		job_unlock(&j->job);
		if (i < 2 * rows) {
			/* The step under way, and how long it has waited. */
			tui_step_wait(now, sizeof now, dm_smtp_step_label(
			    tui_next_step(steps, j->prof.security,
			    j->p.token != NULL)), &since, j->p.timeout);
			col = 2 + (i / rows) * (w + 2);
			tui_put(top + i % rows, col, 1, sp, A_NORMAL);
			tui_put(top + i % rows, col + 7, w - 5, now, A_NORMAL);
		}
		return;
	}
	draw_steps(t, top, st->steps, st->nsteps, STEP_ROWS(st->nsteps));
	/* What failed, then what to do: two lines and the rest at most. */
	if (res < top + (st->nsteps > 0 ? STEP_ROWS(st->nsteps) : 0))
		res = top + (st->nsteps > 0 ? STEP_ROWS(st->nsteps) : 0);
	i = tui_put_wrap(res, 4, COLS - 6, 2, st->result[0],
	    st->result_ok ? tui_attr(t, TC_OK) : tui_attr(t, TC_ERROR));
	(void)tui_put_wrap(res + i, 4, COLS - 6, LINES - 2 - res - i,
	    st->result[1], st->result_ok ? tui_attr(t, TC_OK) : A_NORMAL);
}

static int
settings_tick(struct tui *t, void *state)
{
	struct settings *st = state;
	struct test_job *j = st->job;

	if (st->signin != NULL) {
		if (signin_done(st->signin))
			end_signin(t, st);
		/* The countdown moves on. */
		return SCR_REDRAW;
	}
	if (j == NULL)
		return 0;
	st->spin++;
	if (!job_done(&j->job))
		return SCR_REDRAW;
	job_join(&j->job);
	st->result_ok = j->result == 0;
	if (j->result == 0) {
		(void)snprintf(st->result[0], sizeof st->result[0],
		    _("Test connection passed (%s%s%s): nothing was sent."),
		    j->rep.tls_version[0] ? j->rep.tls_version : _("no TLS"),
		    j->rep.auth_mech[0] ? _(", login ") : "", j->rep.auth_mech);
		(void)snprintf(st->result[1], sizeof st->result[1],
		    _("%s can send through this server. F2 saves."), j->prof.email);
		tui_status(t, _("test passed"));
	} else {
		screen_hint(&j->err);
		dm_strlcpy(st->result[0], j->err.msg, sizeof st->result[0]);
		dm_strlcpy(st->result[1], j->err.hint, sizeof st->result[1]);
		tui_error(t, &j->err);
	}
	memcpy(st->steps, j->lines, sizeof st->steps);
	st->nsteps = j->nlines;
	test_free(j);
	st->job = NULL;
	return SCR_REDRAW;
}

static void
settings_resize(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	(void)tform_resize(st->form);
	if (st->signin != NULL)
		signin_resize(st->signin);
}

static void
settings_leave(struct tui *t, void *state)
{
	struct settings *st = state;
	int f;

	(void)t;
	test_free(st->job);
	signin_free(st->signin);
	tform_free(st->form);
	for (f = 0; f < SF_COUNT; f++)
		wipe_free(st->val[f]);
	free(st->pw_command);
	free(st->id);
	free(st);
}

static const char *
settings_keybar(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	if (st->signin != NULL)
		return signin_keybar(st->signin);
	if (st->job != NULL)
		return _(" Esc cancel test");
	if (st->mode == AM_MICROSOFT || st->mode == AM_GOOGLE ||
	    st->mode == AM_CUSTOM)
		return _(" F2/^S Save  F5/^T Test  F6/^G Sign in  Space Choose  F1 Help  Esc Back");
	return _(" F2/^S Save  F5/^T Test  Tab Next  Space Choose  F1 Help  Esc Back");
}

static void
settings_cursor(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	if (st->signin != NULL)
		signin_cursor(st->signin);
	else
		tform_cursor(st->form);
}

const struct dm_screen scr_settings = {
	.name = N_("SMTP settings"),
	.help = N_("SMTP settings: the account docmail sends through.\n"
	"  Port 465 uses security ssl (TLS from the first byte),\n"
	"  port 587 uses starttls; none is for this machine only.\n"
	"  Authentication: Password (with two-factor authentication,\n"
	"  an app password), Microsoft 365 or Google (OAuth2: fill in\n"
	"  Client id, then Sign in), or Token command (a helper such as\n"
	"  pizauth prints the token).\n"
	"  F5 / Ctrl-T  Test connection (nothing is sent)\n"
	"  F6 / Ctrl-G  Sign in: shows an address and a code to enter\n"
	"               there; no save needed, Esc cancels\n"
	"  F2 / Ctrl-S  Save (the file is written with mode 0600)\n"
	"  Space, Left/Right  change Security and Authentication\n\n"),
	.enter = settings_enter,
	.key = settings_key,
	.draw = settings_draw,
	.resize = settings_resize,
	.tick = settings_tick,
	.leave = settings_leave,
	.keybar = settings_keybar,
	.cursor = settings_cursor,
};
