/*
 * scr-settings.c - the SMTP settings screen: fields, Test connection in
 * the background, Save
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/deliver.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/smtp.h>

#include "tform.h"
#include "tui.h"

enum {
	SF_NAME, SF_EMAIL, SF_HOST, SF_PORT, SF_SECURITY, SF_USER, SF_PASSWORD,
	SF_CAFILE, SF_TEST, SF_SAVE, SF_COUNT
};

static const char *const securities[] = { "starttls", "ssl", "none", NULL };

static const struct tf_spec spec[SF_COUNT] = {
	/*
	 * Wide enough that most values never scroll (each keystroke in a
	 * scrolling field repaints it), narrow enough for a note beside.
	 */
	{ "Sender name", TF_TEXT, 52, 0, NULL },
	{ "Email", TF_TEXT, 52, 0, NULL },
	{ "Host", TF_TEXT, 52, 0, NULL },
	{ "Port", TF_TEXT, 6, 0, NULL },
	{ "Security", TF_CHOICE, 10, 0, securities },
	{ "User name", TF_TEXT, 52, 0, NULL },
	{ "Password", TF_SECRET, 36, 0, NULL },
	{ "CA file", TF_TEXT, 52, 0, NULL },
	{ "Test connection", TF_BUTTON, 0, 0, NULL },
	{ "Save", TF_BUTTON, 0, 0, NULL },
};

#define STEP_LINES	12

/* A Test connection running in its own thread. */
struct test_job {
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	atomic_int		 cancel;
	int			 done;		/* under lock */
	int			 result;
	struct dm_err		 err;
	struct dm_smtp_report	 rep;
	char			 lines[STEP_LINES][120];
	int			 nlines;
	unsigned		 steps;		/* 1 << step, done */
	struct timespec		 since;		/* the last step's end */
	struct tui		*t;
	/* Owned copies of everything the thread reads. */
	struct dm_smtp_params	 p;	/* points into prof and pw */
	struct dm_secret	 pw;
	struct dm_profile	 prof;	/* from the fields */
};

struct settings {
	struct tform		*form;
	char			*id;		/* profile section */
	int			 dirty;
	int			 saved_pw;	/* the file has a password */
	char			*pw_command;	/* kept as it is */
	struct test_job		*job;
	int			 spin;
	char			 result[2][DM_ERR_MSG_MAX];
	char			 steps[STEP_LINES][120];	/* of the last test */
	int			 nsteps;
	int			 result_ok;
};

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

static void
fill(struct settings *st, const struct dm_profile *p)
{
	char port[16];

	tform_set(st->form, SF_NAME, p->name ? p->name : "");
	tform_set(st->form, SF_EMAIL, p->email ? p->email : "");
	tform_set(st->form, SF_HOST, p->host ? p->host : "");
	(void)snprintf(port, sizeof port, "%d", dm_profile_port(p));
	tform_set(st->form, SF_PORT, p->host ? port : "587");
	tform_set(st->form, SF_SECURITY, dm_security_name(p->security));
	tform_set(st->form, SF_USER, p->user ? p->user : "");
	tform_set(st->form, SF_CAFILE, p->ca_file ? p->ca_file : "");
	/* Never the password itself, not even its length. */
	st->saved_pw = dm_secret_isset(&p->password) && p->password.len > 0;
	if (st->saved_pw)
		tform_note(st->form, SF_PASSWORD, "saved (type to replace)", 0);
	else if (p->password_command != NULL) {
		tform_note(st->form, SF_PASSWORD, "from password_command", 0);
		st->pw_command = strdup(p->password_command);
	}
}

static int
settings_enter(struct tui *t, void *arg, void **state)
{
	struct settings *st;
	const struct dm_profile *p;

	(void)arg;
	if ((st = calloc(1, sizeof *st)) == NULL)
		return -1;
	if ((st->form = tform_new(spec, SF_COUNT, 2)) == NULL) {
		free(st);
		return -1;
	}
	p = tui_profile(t);
	if (p != NULL) {
		st->id = strdup(p->id);
		fill(st, p);
		tui_status(t, "profile '%s' of %s", p->id, t->config_path);
	} else {
		st->id = strdup(t->opts->profile != NULL ? t->opts->profile :
		    "default");
		tform_set(st->form, SF_PORT, "587");
		tform_set(st->form, SF_SECURITY, "starttls");
		tui_status(t, "no configuration yet: fill in your SMTP account, then F5 to test and F2 to save");
	}
	tform_focus(st->form, SF_NAME);
	*state = st;
	return 0;
}

static char *
get(struct settings *st, int f)
{
	return tform_get(st->form, f);
}

/* A profile from the fields; the password is added by the caller. */
/* The profile as the file has it now, if it is the one edited here. */
static const struct dm_profile *
loaded(struct tui *t, const struct settings *st)
{
	const struct dm_profile *p = tui_profile(t);

	return p != NULL && strcmp(p->id, st->id) == 0 ? p : NULL;
}

/* What the file has and this screen does not show must survive a save. */
static void
keep_hidden(struct dm_profile *p, const struct dm_profile *old)
{
	if (old == NULL)
		return;
	p->timeout = old->timeout;
	p->allow_from_override = old->allow_from_override;
	if (old->tls_fingerprint != NULL)
		p->tls_fingerprint = strdup(old->tls_fingerprint);
	if (old->sent_maildir != NULL)
		p->sent_maildir = strdup(old->sent_maildir);
	if (old->documents_dir != NULL)
		p->documents_dir = strdup(old->documents_dir);
	/* No fields for these yet: a save must keep them as they are. */
	p->auth = old->auth;
#define KEEP(f) do { if (old->f != NULL) p->f = strdup(old->f); } while (0)
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
}

static int
profile_from_fields(struct tui *t, struct settings *st, struct dm_profile *p,
    struct dm_err *err)
{
	char *port = get(st, SF_PORT), *sec = get(st, SF_SECURITY);
	long long v;
	int r = -1;

	dm_profile_init(p);
	p->id = strdup(st->id);
	p->name = get(st, SF_NAME);
	p->email = get(st, SF_EMAIL);
	p->host = get(st, SF_HOST);
	p->user = get(st, SF_USER);
	p->ca_file = get(st, SF_CAFILE);
	if (st->pw_command != NULL)
		p->password_command = strdup(st->pw_command);
	keep_hidden(p, loaded(t, st));
	if (p->email == NULL || p->email[0] == '\0') {
		dm_err_set(err, DM_ECONFIG, "Email is empty");
		dm_err_hint(err, "type the address you send from, e.g. anna@example.com");
		tform_focus(st->form, SF_EMAIL);
		goto out;
	}
	if (p->host == NULL || p->host[0] == '\0') {
		dm_err_set(err, DM_ECONFIG, "Host is empty");
		dm_err_hint(err, "type your provider's SMTP server, e.g. smtp.example.com");
		tform_focus(st->form, SF_HOST);
		goto out;
	}
	if (dm_strtonum(port, 1, 65535, &v) == -1) {
		dm_err_set(err, DM_ECONFIG, "invalid port '%s'", port);
		dm_err_hint(err, "465 for ssl, 587 for starttls");
		tform_focus(st->form, SF_PORT);
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
	if (typed != NULL) {
		explicit_bzero(typed, strlen(typed));
		free(typed);
	}
	return r;
}

static void
on_event(void *arg, const struct dm_smtp_event *ev)
{
	struct test_job *j = arg;
	char line[120];

	if (ev->kind != DM_EV_STEP)
		return;
	(void)snprintf(line, sizeof line, "%-4s %-12s %5ld ms  %.40s",
	    ev->ok ? "ok" : "FAIL", dm_smtp_step_name(ev->step), ev->ms,
	    ev->ok && ev->text != NULL ? ev->text : "");
	pthread_mutex_lock(&j->lock);
	if (j->nlines < STEP_LINES)
		memcpy(j->lines[j->nlines++], line, sizeof line);
	j->steps |= 1u << ev->step;
	(void)clock_gettime(CLOCK_MONOTONIC, &j->since);
	pthread_mutex_unlock(&j->lock);
	tui_wake(j->t);
}

static void *
test_thread(void *arg)
{
	struct test_job *j = arg;
	struct dm_err err;
	int r;

	dm_err_clear(&err);
	r = dm_smtp_test(&j->p, j->prof.email, &j->rep, &err);
	dm_secret_release(&j->pw);
	pthread_mutex_lock(&j->lock);
	j->result = r;
	j->err = err;
	j->done = 1;
	pthread_mutex_unlock(&j->lock);
	tui_wake(j->t);
	return NULL;
}

static void
job_free(struct test_job *j)
{
	if (j == NULL)
		return;
	atomic_store(&j->cancel, 1);
	pthread_join(j->thread, NULL);
	pthread_mutex_destroy(&j->lock);
	dm_secret_release(&j->pw);
	dm_profile_release(&j->prof);
	free(j);
}

/* Frees a job whose thread never started. */
static void
job_discard(struct test_job *j)
{
	pthread_mutex_destroy(&j->lock);
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

	if (st->job != NULL)
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
	pthread_mutex_init(&j->lock, NULL);
	dm_secret_init(&j->pw);
	j->t = t;
	/* The job owns the profile from here; its thread reads it. */
	j->prof = p;
	if (dm_profile_auth(&j->prof) == DM_AUTH_PASSWORD &&
	    j->prof.user != NULL) {
		if (password(t, st, &j->pw, &err) == -1) {
			job_discard(j);
			tui_error(t, &err);
			return SCR_HANDLED | SCR_REDRAW;
		}
		if (!dm_secret_isset(&j->pw)) {
			job_discard(j);
			tform_focus(st->form, SF_PASSWORD);
			tui_status(t, "type the password (or app password) first");
			t->status_error = 1;
			return SCR_HANDLED | SCR_REDRAW;
		}
	}
	/* OAuth2: the token command or the stored sign-in, in the test. */
	dm_deliver_params(&j->prof, &j->pw, &j->p);
	j->p.event = on_event;
	j->p.arg = j;
	j->p.cancel = &j->cancel;
	(void)clock_gettime(CLOCK_MONOTONIC, &j->since);
	if (pthread_create(&j->thread, NULL, test_thread, j) != 0) {
		job_discard(j);
		return SCR_HANDLED;
	}
	st->job = j;
	st->result[0][0] = st->result[1][0] = '\0';
	st->nsteps = 0;
	tui_status(t, "testing the connection... (Esc cancels)");
	return SCR_HANDLED | SCR_REDRAW;
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
	typed = get(st, SF_PASSWORD);
	if (typed != NULL && typed[0] != '\0')
		r = dm_secret_set(&p.password, typed, strlen(typed), &err);
	else if (st->saved_pw) {
		const struct dm_profile *old = loaded(t, st);

		r = old != NULL ? dm_secret_set(&p.password, old->password.s,
		    old->password.len, &err) : 0;
	} else
		r = 0;
	if (typed != NULL) {
		explicit_bzero(typed, strlen(typed));
		free(typed);
	}
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
	tform_set(st->form, SF_PASSWORD, "");
	if (st->saved_pw)
		tform_note(st->form, SF_PASSWORD, "saved (type to replace)", 0);
	tui_status(t, "saved to %s (mode 0600)%s", t->config_path,
	    starter ? ", with a template 'invoice' to start from" : "");
	return SCR_HANDLED | SCR_REDRAW;
fail:
	dm_profile_release(&p);
	tui_error(t, &err);
	return SCR_HANDLED | SCR_REDRAW;
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
			tform_note(st->form, SF_EMAIL, "invalid", 1);
			tui_error(t, &err);
			goto out;
		}
		tform_note(st->form, SF_EMAIL, NULL, 0);
		host = get(st, SF_HOST);
		/* Fill in a known provider, only into an empty Host. */
		if (host != NULL && host[0] == '\0' &&
		    dm_preset_find(preset_path(), dm_addr_domain(a.mailbox),
		    &pre, &err) == 1) {
			tform_set(st->form, SF_HOST, pre.host);
			(void)snprintf(port, sizeof port, "%d", pre.port);
			tform_set(st->form, SF_PORT, port);
			tform_set(st->form, SF_SECURITY,
			    dm_security_name(pre.security));
			tui_status(t, "%s", pre.note);
		}
		free(host);
		host = get(st, SF_USER);
		if (host != NULL && host[0] == '\0')
			tform_set(st->form, SF_USER, a.mailbox);
		free(host);
	} else if (f == SF_PORT && v != NULL) {
		if (dm_strtonum(v, 1, 65535, &n) == -1) {
			tform_note(st->form, SF_PORT, "1 to 65535", 1);
			goto out;
		}
		tform_note(st->form, SF_PORT, NULL, 0);
		/* The port says which TLS mode it uses. */
		if (n == 465 && tform_choice(st->form, SF_SECURITY) != 1) {
			tform_set(st->form, SF_SECURITY, "ssl");
			tform_note(st->form, SF_SECURITY, "465 uses ssl", 0);
		} else if (n == 587 && tform_choice(st->form, SF_SECURITY) != 0) {
			tform_set(st->form, SF_SECURITY, "starttls");
			tform_note(st->form, SF_SECURITY, "587 uses starttls", 0);
		}
	}
out:
	dm_addr_release(&a);
	free(v);
}

static int
leave_screen(struct tui *t, struct settings *st)
{
	int a;

	if (st->job != NULL) {
		atomic_store(&st->job->cancel, 1);
		tui_status(t, "cancelling the test...");
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (!st->dirty)
		return SCR_HANDLED | SCR_CLOSE;
	a = tui_ask(t, "unsaved changes: (s)ave, (d)iscard or (c)ancel?",
	    "sdc");
	if (a == 's') {
		save(t, st);
		return st->dirty ? SCR_HANDLED | SCR_REDRAW :
		    SCR_HANDLED | SCR_CLOSE;
	}
	if (a == 'd')
		return SCR_HANDLED | SCR_CLOSE;
	return SCR_HANDLED;
}

static int
settings_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct settings *st = state;
	int r;

	if ((is_key && ch == KEY_F(5)) || (!is_key && ch == 20))  /* ^T */
		return start_test(t, st);
	if ((is_key && ch == KEY_F(2)) || (!is_key && ch == 19))  /* ^S */
		return save(t, st);
	if (!is_key && (ch == 27 || ch == 17 || ch == 3))  /* Esc ^Q ^C */
		return leave_screen(t, st);
	r = tform_key(st->form, is_key, ch);
	if (r & TF_ACTIVATE)
		return tform_current(st->form) == SF_TEST ? start_test(t, st) :
		    save(t, st);
	if (r & TF_CHANGED) {
		st->dirty = 1;
		if (tform_current(st->form) == SF_PASSWORD)
			tform_note(st->form, SF_PASSWORD, "new password", 0);
		else if (tform_current(st->form) == SF_SECURITY)
			tform_note(st->form, SF_SECURITY, NULL, 0);
	}
	if (r & TF_LEFT) {
		left_field(t, st, tform_left(st->form));
		r |= SCR_REDRAW;
	}
	return r;
}

static int settings_tick(struct tui *, void *);

/* Steps in two columns of four: all eight fit above the result at 80x24. */
static void
draw_steps(struct tui *t, char (*lines)[120], int n)
{
	int i, w = (COLS - 8) / 2;

	for (i = 0; i < n && i < 8; i++)
		tui_put(13 + i % 4, 4 + (i / 4) * (w + 2), w, lines[i],
		    strncmp(lines[i], "FAIL", 4) == 0 ?
		    tui_attr(t, TC_ERROR) : tui_attr(t, TC_OK));
}

static void
settings_draw(struct tui *t, void *state)
{
	struct settings *st = state;
	struct test_job *j = st->job;
	static const char spinner[] = "|/-\\";
	int i;

	/*
	 * A test that ended while another screen (help) was on top: its
	 * wake-up went there, so it is settled here.
	 */
	if (j != NULL) {
		int done;

		pthread_mutex_lock(&j->lock);
		done = j->done;
		pthread_mutex_unlock(&j->lock);
		if (done) {
			(void)settings_tick(t, st);
			j = NULL;
		}
	}
	tform_draw(t, st->form);
	if (j != NULL) {
		struct timespec since;
		unsigned steps;
		char now[96], sp[2] = { spinner[st->spin % 4], '\0' };
		int col, w = (COLS - 8) / 2;

		pthread_mutex_lock(&j->lock);
		draw_steps(t, j->lines, j->nlines);
		i = j->nlines;
		steps = j->steps;
		since = j->since;
		pthread_mutex_unlock(&j->lock);
		if (i < 8) {
			/* The step under way, and how long it has waited. */
			tui_step_wait(now, sizeof now, dm_smtp_step_name(
			    tui_next_step(steps, j->prof.security,
			    j->p.token != NULL)), &since, j->p.timeout);
			col = 2 + (i / 4) * (w + 2);
			tui_put(13 + i % 4, col, 1, sp, A_NORMAL);
			tui_put(13 + i % 4, col + 7, w - 5, now, A_NORMAL);
		}
		return;
	}
	draw_steps(t, st->steps, st->nsteps);
	/* What failed, then what to do: two lines each at most. */
	i = tui_put_wrap(18, 4, COLS - 6, 2, st->result[0],
	    st->result_ok ? tui_attr(t, TC_OK) : tui_attr(t, TC_ERROR));
	(void)tui_put_wrap(18 + i, 4, COLS - 6, 4 - i, st->result[1],
	    st->result_ok ? tui_attr(t, TC_OK) : A_NORMAL);
}

static int
settings_tick(struct tui *t, void *state)
{
	struct settings *st = state;
	struct test_job *j = st->job;
	int done;

	if (j == NULL)
		return 0;
	st->spin++;
	pthread_mutex_lock(&j->lock);
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return SCR_REDRAW;
	st->result_ok = j->result == 0;
	if (j->result == 0) {
		(void)snprintf(st->result[0], sizeof st->result[0],
		    "Test connection passed (%s%s%s): nothing was sent.",
		    j->rep.tls_version[0] ? j->rep.tls_version : "no TLS",
		    j->rep.auth_mech[0] ? ", login " : "", j->rep.auth_mech);
		(void)snprintf(st->result[1], sizeof st->result[1],
		    "%s can send through this server. F2 saves.", j->prof.email);
		tui_status(t, "test passed");
	} else {
		dm_strlcpy(st->result[0], j->err.msg, sizeof st->result[0]);
		dm_strlcpy(st->result[1], j->err.hint, sizeof st->result[1]);
		tui_error(t, &j->err);
	}
	memcpy(st->steps, j->lines, sizeof st->steps);
	st->nsteps = j->nlines;
	job_free(j);
	st->job = NULL;
	return SCR_REDRAW;
}

static void
settings_resize(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	(void)tform_resize(st->form);
}

static void
settings_leave(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	job_free(st->job);
	tform_free(st->form);
	free(st->pw_command);
	free(st->id);
	free(st);
}

static const char *
settings_keybar(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	if (st->job != NULL)
		return " Esc cancel test";
	return " F2/^S Save  F5/^T Test  Tab Next  Space Choose  F1 Help  Esc Back";
}

static void
settings_cursor(struct tui *t, void *state)
{
	struct settings *st = state;

	(void)t;
	tform_cursor(st->form);
}

const struct dm_screen scr_settings = {
	"SMTP settings",
	"SMTP settings: the account docmail sends through.\n"
	"  Port 465 uses security ssl (TLS from the first byte),\n"
	"  port 587 uses starttls; none is for this machine only.\n"
	"  With two-factor authentication, the provider wants an app\n"
	"  password in Password.\n"
	"  F5 / Ctrl-T  Test connection (nothing is sent)\n"
	"  F2 / Ctrl-S  Save (the file is written with mode 0600)\n"
	"  Space, Left/Right  change Security\n\n",
	settings_enter,
	settings_key,
	settings_draw,
	settings_resize,
	settings_tick,
	settings_leave,
	settings_keybar,
	settings_cursor,
};
