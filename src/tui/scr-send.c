/*
 * scr-send.c - the send dialog: recipients, subject, text, attachments
 *
 * Subject and Text start from the template (the first document's
 * sidecar names it, else [template default]) with every placeholder
 * the document's data or the profile can fill already filled in, so
 * the fields show what the recipient will read; a placeholder nothing
 * fills stays as {{name}}, is named in red under the text, and blocks
 * the preview.  Addresses are checked when the focus leaves a field.
 * The message itself is built by dm_compose_build(), as for "send".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/compose.h>
#include <docmail/i18n.h>
#include <docmail/profile.h>
#include <docmail/tmpl.h>

#include "editor.h"
#include "pathprompt.h"
#include "screens.h"
#include "send.h"
#include "tarea.h"
#include "tform.h"

#define CTRL(c)		((c) & 0x1f)

/* The form's fields, then the text area (not a libform field). */
enum { F_TO, F_FROM, F_CC, F_BCC, F_SUBJECT, F_NFORM, F_TEXT = F_NFORM,
    F_COUNT };

#define ADDR_W		40	/* room for a note beside, at 80 columns */
#define LIST_W		58	/* To, Cc, Bcc: room for a short error */
#define TEXT_ROWS	8
#define ROW_INFO	1
#define ROW_FORM	2
#define ROW_TEXT	(ROW_FORM + F_NFORM)
#define ROW_UNRESOLVED	(ROW_TEXT + TEXT_ROWS)
#define ROW_LIST	(ROW_UNRESOLVED + 1)
#define LIST_ROWS	4
#define ROW_MATCHES	(ROW_LIST + 1 + LIST_ROWS)

/* A text from the editor larger than this is surely the wrong file. */
#define TEXT_MAX	(256 * 1024)

enum zone { Z_FORM, Z_TEXT, Z_LIST };

static const struct tf_spec fields[F_NFORM] = {
	/*
	 * Address lists get long and a scrolling field repaints itself at
	 * every key; their errors also go to the status line.  From keeps
	 * room for its note.
	 */
	/* TRANSLATORS: the send form's labels; the widest sets the column. */
	{ N_("To"), TF_ADDRS, LIST_W, 0, NULL },
	{ N_("From"), TF_TEXT, ADDR_W, 0, NULL },
	{ N_("Cc"), TF_ADDRS, LIST_W, 0, NULL },
	{ N_("Bcc"), TF_ADDRS, LIST_W, 0, NULL },
	{ N_("Subject"), TF_TEXT, 0, 0, NULL },
};

struct send {
	struct tform	*tf;
	struct tarea	*text;
	char		**path;		/* attachments, owned */
	long long	*size;		/* -1 when it cannot be read */
	size_t		 natt;
	size_t		 attcap;
	size_t		 sel;
	size_t		 top;
	enum zone	 zone;
	int		 dirty;		/* something was typed */
	struct dm_vars	 vars;		/* sidecar, then profile */
	char		*sidecar;	/* the sidecar read, or NULL */
	char		*tmpl_id;	/* the template used, or NULL */
	char		*tmpl_missing;	/* the sidecar's, not in the config */
	char		 unresolved[256];	/* "{{a}}, {{b}}" */
	int		 from_empty;
	/* The "Add file" prompt in the status line. */
	int		 prompting;
	struct pathprompt pp;
	struct send_job	 job;
};

/* --- values ------------------------------------------------------------ */

/* Field i's text, the text area's for F_TEXT; malloc'd. */
static char *
get_value(struct send *s, int i)
{
	return i == F_TEXT ? tarea_get(s->text) : tform_get(s->tf, i);
}

static int
set_value(struct send *s, int i, const char *v)
{
	return i == F_TEXT ? tarea_set(s->text, v) : tform_set(s->tf, i, v);
}

/* The text area lines up with Subject, on the rows after it. */
static void
place_text(struct send *s)
{
	int row, col, width;

	tform_where(s->tf, F_SUBJECT, &row, &col, &width);
	tarea_place(s->text, row + 1, col, width, TEXT_ROWS);
}

/* --- attachments ------------------------------------------------------- */

static int
att_add(struct send *s, const char *path, struct dm_err *err)
{
	struct stat st;
	char **p;
	long long *z;
	size_t ncap;

	if (stat(path, &st) == -1) {
		dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		return dm_err_hint(err, _("check the path"));
	}
	if (!S_ISREG(st.st_mode)) {
		dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': not a file"),
		    DM_ERR_PATH(path));
		return dm_err_hint(err, _("give the path of a document, not of a directory"));
	}
	if (access(path, R_OK) == -1) {
		dm_err_set(err, DM_ENOINPUT, _("cannot attach '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		return dm_err_hint(err, _("check the file's permissions"));
	}
	if (s->natt == s->attcap) {
		ncap = s->attcap == 0 ? 4 : s->attcap * 2;
		if ((p = realloc(s->path, ncap * sizeof *p)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		s->path = p;
		if ((z = realloc(s->size, ncap * sizeof *z)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		s->size = z;
		s->attcap = ncap;
	}
	if ((s->path[s->natt] = dm_strdup(path, err)) == NULL)
		return -1;
	s->size[s->natt++] = (long long)st.st_size;
	return 0;
}

static void
att_remove(struct send *s, size_t i)
{
	if (i >= s->natt)
		return;
	free(s->path[i]);
	memmove(&s->path[i], &s->path[i + 1], (s->natt - i - 1) *
	    sizeof *s->path);
	memmove(&s->size[i], &s->size[i + 1], (s->natt - i - 1) *
	    sizeof *s->size);
	s->natt--;
	if (s->sel >= s->natt && s->sel > 0)
		s->sel--;
}

/* --- placeholders ------------------------------------------------------ */

static int
note_unknown(const char *name, size_t off, size_t len, void *arg)
{
	struct send *s = arg;
	char ph[DM_VAR_NAME_MAX + 8];
	size_t n = strlen(s->unresolved);

	(void)off;
	(void)len;
	if (dm_vars_get(&s->vars, name) != NULL)
		return 0;
	(void)snprintf(ph, sizeof ph, "{{%s}}", name);
	if (strstr(s->unresolved, ph) != NULL)
		return 0;
	(void)snprintf(s->unresolved + n, sizeof s->unresolved - n, "%s%s",
	    n > 0 ? ", " : "", ph);
	return 0;
}

/* Recomputes the unresolved names; 1 when they changed. */
static int
scan_unresolved(struct send *s)
{
	char old[sizeof s->unresolved], *v;
	int i;

	memcpy(old, s->unresolved, sizeof old);
	s->unresolved[0] = '\0';
	for (i = F_SUBJECT; i <= F_TEXT; i++) {
		if ((v = get_value(s, i)) == NULL)
			continue;
		(void)dm_tmpl_each(v, note_unknown, s);
		free(v);
	}
	return strcmp(old, s->unresolved) != 0;
}

static void
draw_unresolved(struct tui *t, struct send *s)
{
	char line[512];

	if (s->unresolved[0] == '\0') {
		tui_put(ROW_UNRESOLVED, 2, COLS - 4, "", A_NORMAL);
		return;
	}
	(void)snprintf(line, sizeof line,
	    _("Unresolved: %s -- not in %s; type the text instead"), s->unresolved,
	    s->sidecar != NULL ? s->sidecar : _("the document's data (no .ini)"));
	tui_put(ROW_UNRESOLVED, 2, COLS - 4, line, tui_attr(t, TC_ERROR));
}

/* Fills placeholders typed into field i that now have a value. */
static int
fill_field(struct send *s, int i)
{
	char *v, *f;
	int changed = 0;

	if ((v = get_value(s, i)) == NULL)
		return 0;
	if ((f = dm_tmpl_fill_known(v, &s->vars)) != NULL && strcmp(f, v) != 0) {
		(void)set_value(s, i, f);
		changed = 1;
	}
	free(f);
	free(v);
	return changed;
}

/* Remembers the template the fields come from, for the info line. */
static int
set_tmpl_id(struct send *s, const char *id, struct dm_err *err)
{
	char *c;

	if ((c = dm_strdup(id, err)) == NULL)
		return -1;
	free(s->tmpl_id);
	s->tmpl_id = c;
	return 0;
}

/*
 * Subject and Text from template tp, known placeholders filled.  -1
 * when the info line cannot name it (DM_ENOMEM); the fields are filled
 * all the same.
 */
static int
apply_template(struct send *s, const struct dm_template *tp,
    struct dm_err *err)
{
	char *v;
	int r = set_tmpl_id(s, tp->id, err);

	if (tp->subject != NULL && (v = dm_tmpl_fill_known(tp->subject,
	    &s->vars)) != NULL) {
		(void)tform_set(s->tf, F_SUBJECT, v);
		free(v);
	}
	if (tp->body != NULL && (v = dm_tmpl_fill_known(tp->body, &s->vars)) != NULL) {
		(void)tarea_set(s->text, v);
		free(v);
	}
	return r;
}

/*
 * The sidecar's to, cc and bcc (as a batch takes them) fill the fields
 * nothing was given for: the sample invoice opens addressed.
 */
static void
prefill_rcpts(struct send *s)
{
	static const struct {
		int		 field;
		const char	*key;
	} rk[] = { { F_TO, "to" }, { F_CC, "cc" }, { F_BCC, "bcc" } };
	const char *v;
	char *cur;
	size_t i;

	for (i = 0; i < sizeof rk / sizeof rk[0]; i++) {
		if ((v = dm_vars_get(&s->vars, rk[i].key)) == NULL ||
		    v[0] == '\0')
			continue;
		cur = tform_get(s->tf, rk[i].field);
		if (cur != NULL && cur[0] == '\0')
			(void)tform_set(s->tf, rk[i].field, v);
		free(cur);
	}
}

static void
load_template(struct tui *t, struct send *s)
{
	const struct dm_profile *p = s->job.profile;
	const struct dm_template *tp;
	struct dm_err err;
	const char *base;
	char *named = NULL;

	if (s->natt > 0 && dm_sidecar_load(s->path[0], &s->vars, &named,
	    &s->sidecar, &err) == -1)
		tui_error(t, &err);
	prefill_rcpts(s);
	if (p->name != NULL && p->name[0] != '\0')
		(void)dm_vars_add(&s->vars, "sender.name", p->name, "profile",
		    &err);
	(void)dm_vars_add(&s->vars, "sender.email", p->email, "profile", &err);
	tp = dm_config_template(&t->cfg, named != NULL ? named : "default");
	if (named != NULL && tp == NULL) {
		/* Not a dead end: typed text sends, and ^N adds one. */
		base = strrchr(s->sidecar, '/');
		dm_err_set(&err, DM_EDATA,
		    _("no template '%s' in the config (%s names it)"), named,
		    base != NULL ? base + 1 : s->sidecar);
		dm_err_hint(&err, _("^N adds a ready-made one; or type Subject and Text"));
		tui_error(t, &err);
		s->tmpl_missing = named;
		named = NULL;
	}
	free(named);
	if (tp != NULL && apply_template(s, tp, &err) == -1)
		tui_error(t, &err);
}

/*
 * ^N: the missing template is added to the config, ready-made (the
 * built-in of that name, else the invoice one under that name), and
 * fills Subject and Text unless something was typed there.
 */
static int
add_template(struct tui *t, struct send *s)
{
	const struct dm_template *b, *tp;
	struct dm_template nt;
	struct dm_err err;
	char *subj, *text;
	int typed;

	if (s->tmpl_missing == NULL)
		return SCR_HANDLED;
	if ((b = dm_template_builtin(s->tmpl_missing)) == NULL)
		b = dm_template_builtin("invoice");
	nt = *b;
	nt.id = s->tmpl_missing;
	if (dm_template_add(t->config_path, &nt, &err) == -1) {
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	/*
	 * The profile is re-read with the file: point at the new copy.  A
	 * reload that fails keeps the old config (and says why).
	 */
	if (tui_reload(t) == -1)
		return SCR_HANDLED | SCR_REDRAW;
	if ((s->job.profile = tui_profile(t)) == NULL)
		return SCR_HANDLED | SCR_CLOSE;	/* its profile is gone */
	subj = tform_get(s->tf, F_SUBJECT);
	text = tarea_get(s->text);
	typed = (subj != NULL && strspn(subj, " ") != strlen(subj)) ||
	    (text != NULL && text[0] != '\0');
	free(subj);
	free(text);
	/* It is the sidecar's template now; typed text stays. */
	if ((tp = dm_config_template(&t->cfg, s->tmpl_missing)) != NULL &&
	    (typed ? set_tmpl_id(s, tp->id, &err) :
	    apply_template(s, tp, &err)) == -1)
		tui_error(t, &err);
	else
		tui_status(t, _("template '%s' added%s to %s"),
		    s->tmpl_missing, typed ? _(" (what you typed is kept)") :
		    "", t->config_path);
	free(s->tmpl_missing);
	s->tmpl_missing = NULL;
	return SCR_HANDLED | SCR_REDRAW;
}

/* --- addresses --------------------------------------------------------- */

static void
from_note(struct send *s)
{
	const struct dm_profile *p = s->job.profile;
	char note[160];

	if (!p->allow_from_override)
		tform_note(s->tf, F_FROM, _("typed: becomes Reply-To"), 0);
	else if (s->from_empty) {
		(void)snprintf(note, sizeof note, _("empty: %s"), p->email);
		tform_note(s->tf, F_FROM, note, 0);
	} else
		tform_note(s->tf, F_FROM, NULL, 0);
}

/*
 * Checks the address field i; an error goes beside it and into the
 * status line.  *n receives the number of addresses.
 */
static int
check_addr(struct tui *t, struct send *s, int i, size_t *n)
{
	struct dm_addrlist l;
	struct dm_addr a = { NULL, NULL };
	struct dm_err err;
	char *v;
	int r;

	*n = 0;
	if ((v = tform_get(s->tf, i)) == NULL)
		return -1;
	dm_addrlist_init(&l);
	if (i == F_FROM) {
		s->from_empty = strspn(v, " ") == strlen(v);
		r = s->from_empty ? 0 : dm_addr_parse_one(&a, v, &err);
		*n = s->from_empty ? 0 : 1;
	} else {
		r = dm_addr_parse_list(&l, v, &err);
		*n = l.n;
	}
	free(v);
	dm_addr_release(&a);
	dm_addrlist_release(&l);
	if (r == -1) {
		tform_note(s->tf, i, err.msg, 1);
		(void)dm_err_prefix(&err, "%s", fields[i].label);
		tui_error(t, &err);
		return -1;
	}
	if (i == F_FROM)
		from_note(s);
	else
		tform_note(s->tf, i, NULL, 0);
	return 0;
}

/* The focus left field i: check it.  Returns SCR_* flags. */
static int
left_field(struct tui *t, struct send *s, int i)
{
	size_t n;

	switch (i) {
	case F_TO:
	case F_FROM:
	case F_CC:
	case F_BCC:
		if (check_addr(t, s, i, &n) == 0 && t->status_error)
			tui_status_clear(t);
		return SCR_REDRAW;	/* the note beside it may change */
	case F_SUBJECT:
	case F_TEXT:
		if (fill_field(s, i)) {
			(void)scan_unresolved(s);
			return SCR_REDRAW;
		}
		return 0;
	}
	return 0;
}

/* --- drawing ----------------------------------------------------------- */

/* The Text label, highlighted as the form's are when the text has the focus. */
static void
text_label(struct tui *t, struct send *s)
{
	/* TRANSLATORS: the label above the email's text. */
	const char *l = _("Text");

	tui_put(ROW_TEXT, 2, dm_text_width(l), l,
	    s->zone == Z_TEXT && !s->prompting ?
	    A_REVERSE : tui_attr(t, TC_LABEL));
}

static void
draw_list(struct tui *t, struct send *s)
{
	struct dm_buf b;
	struct dm_err err;
	char head[128], size[32];
	unsigned long long total = 0;
	size_t i;
	int row;
	attr_t a;

	for (i = 0; i < s->natt; i++)
		total += s->size[i] > 0 ? (unsigned long long)s->size[i] : 0;
	send_size(size, sizeof size, total);
	(void)snprintf(head, sizeof head, _("Attachments (%zu, %s)%s"), s->natt,
	    size, s->zone == Z_LIST ?
	    _("  -- Del removes, Ctrl-O adds, Tab back to the fields") : "");
	tui_put(ROW_LIST, 2, COLS - 4, head, tui_attr(t, TC_LABEL) | A_BOLD);
	if (s->sel < s->top)
		s->top = s->sel;
	if (s->sel >= s->top + LIST_ROWS)
		s->top = s->sel - LIST_ROWS + 1;
	for (row = 0; row < LIST_ROWS; row++) {
		i = s->top + (size_t)row;
		if (i >= s->natt) {
			tui_put(ROW_LIST + 1 + row, 2, COLS - 4,
			    row == 0 && s->natt == 0 ?
			    _("  (none -- Ctrl-O adds a file)") : "", A_NORMAL);
			continue;
		}
		dm_buf_init(&b, 0);
		send_size(size, sizeof size, s->size[i] >= 0 ?
		    (unsigned long long)s->size[i] : 0);
		(void)dm_buf_addstr(&b, i == s->sel && s->zone == Z_LIST ?
		    "> " : "  ", &err);
		(void)dm_buf_add_printable(&b, s->path[i], strlen(s->path[i]),
		    &err);
		(void)dm_buf_addf(&b, &err, "  (%s)", size);
		a = i == s->sel && s->zone == Z_LIST ? A_REVERSE : A_NORMAL;
		tui_put(ROW_LIST + 1 + row, 2, COLS - 4, dm_buf_str(&b), a);
		dm_buf_release(&b);
	}
}

static void
draw_matches(struct tui *t, struct send *s)
{
	tui_put(ROW_MATCHES, 2, COLS - 4, s->prompting ? s->pp.note : "",
	    s->pp.note_err ? tui_attr(t, TC_ERROR) : A_NORMAL);
}

static void
send_draw(struct tui *t, void *state)
{
	struct send *s = state;
	struct dm_buf b;
	struct dm_err err;

	/* The template first: a long path may be cut, it may not. */
	dm_buf_init(&b, 0);
	if (s->tmpl_missing != NULL)
		(void)dm_buf_addf(&b, &err, _("Template: none ('%s' missing: ^N); "),
		    s->tmpl_missing);
	else
		(void)dm_buf_addf(&b, &err, _("Template: %s; "), s->tmpl_id != NULL ?
		    s->tmpl_id : _("none"));
	if (s->natt == 0)
		(void)dm_buf_addstr(&b, _("no document attached"), &err);
	else if (s->sidecar != NULL) {
		(void)dm_buf_addstr(&b, _("data from "), &err);
		(void)dm_buf_add_printable(&b, s->sidecar, strlen(s->sidecar),
		    &err);
	} else
		(void)dm_buf_addstr(&b, _("no data file (.ini) for the document"),
		    &err);
	tui_put(ROW_INFO, 2, COLS - 4, dm_buf_str(&b), A_NORMAL);
	dm_buf_release(&b);
	tform_draw(t, s->tf);
	text_label(t, s);
	tarea_draw(s->text);
	draw_unresolved(t, s);
	draw_list(t, s);
	draw_matches(t, s);
}

/* --- the "Add file" prompt (pathprompt.c) --------------------------- */

/* Columns of the prompt's label, in the language shown. */
static int
prompt_label_w(void)
{
	char label[256];

	(void)snprintf(label, sizeof label, _("Add file: %s%ls"), "", L"");
	return dm_text_width(label);
}

/* What of the path the status line shows; returns the cursor's column. */
static int
prompt_view(struct send *s, const wchar_t **tail, int *cut)
{
	int lw = prompt_label_w();

	/* One column left for the cursor. */
	return lw + pathprompt_view(&s->pp, COLS - lw - 1, tail, cut);
}

static void
prompt_show(struct tui *t, struct send *s)
{
	const wchar_t *tail;
	int cut;

	(void)prompt_view(s, &tail, &cut);
	tui_status(t, _("Add file: %s%ls"), cut ? "..." : "", tail);
}

static int
prompt_key(struct tui *t, struct send *s, int is_key, wint_t ch)
{
	struct dm_err err;
	char *path;

	if (!is_key && (ch == 27 || ch == 3)) {
		s->prompting = 0;
		tui_status_clear(t);
		draw_matches(t, s);
		return SCR_HANDLED;
	}
	if ((!is_key && (ch == '\r' || ch == '\n')) ||
	    (is_key && ch == KEY_ENTER)) {
		/* Nothing typed, or no memory: the prompt stays. */
		if ((path = pathprompt_path(&s->pp)) == NULL)
			return SCR_HANDLED;
		if (att_add(s, path, &err) == -1)
			pathprompt_fail(&s->pp, &err);
		else {
			s->prompting = 0;
			s->dirty = 1;
			s->sel = s->natt - 1;
			tui_status(t, _("attached '%s'"), path);
			draw_list(t, s);
		}
		free(path);
		draw_matches(t, s);
		return SCR_HANDLED;
	}
	if (!is_key && ch == '\t')
		pathprompt_complete(&s->pp);
	else if ((!is_key && (ch == 127 || ch == 8)) ||
	    (is_key && ch == KEY_BACKSPACE))
		pathprompt_backspace(&s->pp);
	else if (is_key || !pathprompt_type(&s->pp, ch))
		return SCR_HANDLED;
	prompt_show(t, s);
	draw_matches(t, s);
	return SCR_HANDLED;
}

static int
prompt_start(struct tui *t, struct send *s)
{
	s->prompting = 1;
	pathprompt_start(&s->pp);
	prompt_show(t, s);
	draw_matches(t, s);
	return SCR_HANDLED;
}

static int
edit_text(struct tui *t, struct send *s)
{
	struct dm_err err;
	const char *tmp = getenv("TMPDIR");
	char path[1024], *text = NULL, *now;
	mode_t old;
	size_t len;
	int fd, ok = -1;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (snprintf(path, sizeof path, "%s/docmail-text-XXXXXX.txt", tmp) >=
	    (int)sizeof path)
		return SCR_HANDLED;
	/* mkstemps makes it 0600; the umask makes sure of it. */
	old = umask(077);
	fd = mkstemps(path, 4);
	umask(old);
	if (fd == -1) {
		dm_err_set(&err, DM_EIO, _("cannot create a file for the editor in '%s': %s"),
		    DM_ERR_PATH(tmp), strerror(errno));
		tui_error(t, &err);
		return SCR_HANDLED;
	}
	if ((now = tarea_get(s->text)) != NULL) {
		len = strlen(now);
		if (write(fd, now, len) != (ssize_t)len ||
		    write(fd, "\n", 1) != 1) {
			dm_err_set(&err, DM_EIO, _("cannot write '%s': %s"),
			    DM_ERR_PATH(path), strerror(errno));
			close(fd);
			(void)unlink(path);
			free(now);
			tui_error(t, &err);
			return SCR_HANDLED;
		}
	}
	close(fd);
	def_prog_mode();
	endwin();
	if (tui_editor_run(path, &err) == 0 &&
	    tui_editor_read(path, TEXT_MAX, &text, &err) == 0)
		ok = 0;
	(void)unlink(path);
	/* Whatever the editor did, the screen comes back. */
	reset_prog_mode();
	clearok(curscr, TRUE);
	if (ok == -1)
		tui_error(t, &err);
	else {
		if (now == NULL || strcmp(now, text) != 0) {
			(void)tarea_set(s->text, text);
			(void)fill_field(s, F_TEXT);
			s->dirty = 1;
		}
		(void)scan_unresolved(s);
		tui_status(t, _("text taken from the editor"));
	}
	free(now);
	free(text);
	return SCR_HANDLED | SCR_REDRAW;
}

/* --- preview ----------------------------------------------------------- */

static int
to_preview(struct tui *t, struct send *s)
{
	struct dm_compose_opts o;
	struct dm_err err;
	char *v[F_COUNT];
	size_t n[F_COUNT], i;
	int k, bad = -1;

	memset(v, 0, sizeof v);
	memset(n, 0, sizeof n);
	for (k = F_BCC; k >= F_TO; k--)
		if (check_addr(t, s, k, &n[k]) == -1)
			bad = k;
	if (bad != -1) {
		tform_focus(s->tf, bad);
		s->zone = Z_FORM;
		return SCR_HANDLED | SCR_REDRAW;
	}
	if (n[F_TO] + n[F_CC] + n[F_BCC] == 0) {
		dm_err_set(&err, DM_EUSAGE, _("no recipient"));
		dm_err_hint(&err, _("type at least one address in To, Cc or Bcc"));
		tui_error(t, &err);
		tform_focus(s->tf, F_TO);
		s->zone = Z_FORM;
		return SCR_HANDLED | SCR_REDRAW;
	}
	(void)fill_field(s, F_SUBJECT);
	(void)fill_field(s, F_TEXT);
	(void)scan_unresolved(s);
	if (s->unresolved[0] != '\0') {
		dm_err_set(&err, DM_EDATA, _("unresolved placeholder %s"),
		    s->unresolved);
		dm_err_hint(&err, _("add it to %s under [document], or type the text instead"),
		    s->sidecar != NULL ? s->sidecar : _("the document's .ini"));
		tui_error(t, &err);
		return SCR_HANDLED | SCR_REDRAW;
	}
	for (k = 0; k < F_COUNT; k++)
		if ((v[k] = get_value(s, k)) == NULL)
			goto out;
	if (v[F_SUBJECT][0] == '\0') {
		dm_err_set(&err, DM_EUSAGE, _("no subject"));
		dm_err_hint(&err, _("type a subject"));
		tui_error(t, &err);
		tform_focus(s->tf, F_SUBJECT);
		s->zone = Z_FORM;
		goto out;
	}
	memset(&o, 0, sizeof o);
	o.to = n[F_TO] > 0 ? v[F_TO] : NULL;
	o.cc = n[F_CC] > 0 ? v[F_CC] : NULL;
	o.bcc = n[F_BCC] > 0 ? v[F_BCC] : NULL;
	o.from = n[F_FROM] > 0 ? v[F_FROM] : NULL;
	o.subject = v[F_SUBJECT];
	o.body = v[F_TEXT];
	o.files = (const char *const *)s->path;
	o.nfiles = s->natt;
	s->job.date = time(NULL);
	o.date = s->job.date;
	dm_compose_release(&s->job.c);
	if (dm_compose_build(&s->job.c, &t->cfg, s->job.profile, &o,
	    &err) == -1) {
		tui_error(t, &err);
		goto out;
	}
	s->job.files = s->path;
	s->job.nfiles = s->natt;
	s->job.action = SEND_NONE;
	tui_status_clear(t);
	(void)tui_push(t, &scr_preview, &s->job);
out:
	for (i = 0; i < F_COUNT; i++)
		free(v[i]);
	return SCR_HANDLED | SCR_REDRAW;
}

/* --- the screen -------------------------------------------------------- */

static int
send_enter(struct tui *t, void *arg, void **state)
{
	const struct scr_send_arg *a = arg;
	const struct dm_profile *p;
	struct send *s;
	struct dm_err err;
	int i;

	/* A template added by hand meanwhile is there without a restart. */
	(void)tui_reload_if_changed(t);
	if ((p = tui_profile(t)) == NULL) {
		dm_err_set(&err, DM_ECONFIG, _("there is no profile to send with"));
		dm_err_hint(&err, _("set up the account first: docmail settings"));
		tui_error(t, &err);
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return -1;
	dm_vars_init(&s->vars);
	dm_compose_init(&s->job.c);
	s->job.profile = p;
	s->from_empty = 1;
	for (i = 0; a != NULL && i < a->nfiles; i++)
		if (att_add(s, a->files[i], &err) == -1)
			tui_error(t, &err);
	if ((s->tf = tform_new(fields, F_NFORM, ROW_FORM)) == NULL ||
	    (s->text = tarea_new(ROW_TEXT, 12, 60, TEXT_ROWS)) == NULL) {
		dm_err_set(&err, DM_ENOMEM, _("cannot build the send dialog"));
		tui_error(t, &err);
		tform_free(s->tf);
		dm_vars_release(&s->vars);
		for (i = 0; i < (int)s->natt; i++)
			free(s->path[i]);
		free(s->path);
		free(s->size);
		free(s);
		return -1;
	}
	place_text(s);
	load_template(t, s);
	(void)scan_unresolved(s);
	from_note(s);
	tform_focus(s->tf, F_TO);
	*state = s;
	return 0;
}

static void
send_leave(struct tui *t, void *state)
{
	struct send *s = state;
	size_t i;

	(void)t;
	tform_free(s->tf);
	tarea_free(s->text);
	for (i = 0; i < s->natt; i++)
		free(s->path[i]);
	free(s->path);
	free(s->size);
	dm_vars_release(&s->vars);
	free(s->sidecar);
	free(s->tmpl_id);
	free(s->tmpl_missing);
	dm_compose_release(&s->job.c);
	if (s->job.have_item)
		dm_outbox_item_release(&s->job.item);
	free(s);
}

static int
list_key(struct tui *t, struct send *s, int is_key, wint_t ch)
{
	if (is_key) {
		switch (ch) {
		case KEY_UP:
			if (s->sel > 0 && s->natt > 0) {
				s->sel--;
				break;
			}
			/* FALLTHROUGH */
		case KEY_BTAB:
			s->zone = Z_TEXT;
			tarea_draw(s->text);
			break;
		case KEY_DOWN:
			if (s->sel + 1 < s->natt) {
				s->sel++;
				break;
			}
			s->zone = Z_FORM;
			tform_focus(s->tf, F_TO);
			break;
		case KEY_DC:
			if (s->natt == 0)
				return SCR_HANDLED;
			att_remove(s, s->sel);
			s->dirty = 1;
			tui_status(t, ngettext("removed; %zu attachment left",
			    "removed; %zu attachments left", s->natt), s->natt);
			break;
		case KEY_IC:
			return prompt_start(t, s);
		default:
			return 0;
		}
		draw_list(t, s);
		return SCR_HANDLED;
	}
	switch (ch) {
	case '\t':
		s->zone = Z_FORM;
		tform_focus(s->tf, F_TO);
		break;
	case 'd':
	case '-':
		return list_key(t, s, 1, KEY_DC);
	case 'a':
	case '+':
	case '\r':
	case '\n':
		return prompt_start(t, s);
	default:
		return 0;
	}
	draw_list(t, s);
	return SCR_HANDLED;
}

/* Keys for the text area. */
static int
text_key(struct tui *t, struct send *s, int is_key, wint_t ch)
{
	int r = tarea_key(s->text, is_key, ch), out = 0;

	if (r & TA_CHANGED) {
		s->dirty = 1;
		if (scan_unresolved(s))
			draw_unresolved(t, s);
	}
	if (r & TA_UP) {
		s->zone = Z_FORM;
		tform_focus(s->tf, F_SUBJECT);
		out = left_field(t, s, F_TEXT);
	} else if (r & TA_DOWN) {
		s->zone = Z_LIST;
		s->sel = 0;
		out = left_field(t, s, F_TEXT);
		draw_list(t, s);
	}
	if (!(out & SCR_REDRAW))
		tarea_draw(s->text);
	return (r & SCR_HANDLED) | out;
}

/*
 * Leaving with Esc: an email whose failed try waits in the outbox is
 * not discarded, and the question says so.
 */
static const char *
close_question(const struct send *s)
{
	if (!s->job.have_item || s->job.item_gone)
		return _("Discard this email? (y/n)");
	switch (s->job.item.state) {
	case DM_OB_MAYBE_SENT:
		return _("Close this email? It stays in the outbox as 'may have been delivered'. (y/n)");
	case DM_OB_REFUSED:
		return _("Close this email? It stays in the outbox, marked refused. (y/n)");
	default:
		return _("Close this email? It stays in the outbox for 'docmail outbox --retry'. (y/n)");
	}
}

static int
send_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct send *s = state;
	int r, cur, left;

	if (s->prompting)
		return prompt_key(t, s, is_key, ch);
	if ((is_key && ch == KEY_F(3)) || (!is_key && ch == CTRL('P'))) {
		if (s->zone == Z_FORM)
			(void)left_field(t, s, tform_current(s->tf));
		else if (s->zone == Z_TEXT)
			(void)left_field(t, s, F_TEXT);
		return to_preview(t, s);
	}
	/* In a field, Ctrl-E goes to the end of the line, as in a shell. */
	if (!is_key && ch == CTRL('E') && s->zone != Z_FORM)
		return edit_text(t, s);
	if (!is_key && ch == CTRL('N') && s->tmpl_missing != NULL)
		return add_template(t, s);
	if (!is_key && ch == CTRL('O'))
		return prompt_start(t, s);
	if (!is_key && (ch == 27 || ch == 3)) {
		if (s->dirty && tui_ask(t, close_question(s), "yn") != 'y')
			return SCR_HANDLED;
		return SCR_HANDLED | SCR_CLOSE;
	}
	if (s->zone == Z_LIST)
		return list_key(t, s, is_key, ch);
	if (s->zone == Z_TEXT)
		return text_key(t, s, is_key, ch);

	cur = tform_current(s->tf);
	r = tform_key(s->tf, is_key, ch);
	if (r & TF_CHANGED) {
		s->dirty = 1;
		if (cur == F_SUBJECT && scan_unresolved(s))
			draw_unresolved(t, s);
		if (cur == F_FROM) {
			char *v = tform_get(s->tf, F_FROM);
			int empty = v == NULL || v[strspn(v, " ")] == '\0';

			free(v);
			if (empty != s->from_empty) {
				s->from_empty = empty;
				from_note(s);
				r |= SCR_REDRAW;
			}
		}
	}
	if (r & TF_LEFT) {
		left = tform_left(s->tf);
		/* Past Subject: the text; before To: the attachments. */
		if (left == F_SUBJECT && tform_current(s->tf) == F_TO) {
			tform_focus(s->tf, left);
			s->zone = Z_TEXT;
		} else if (left == F_TO && tform_current(s->tf) == F_SUBJECT) {
			tform_focus(s->tf, left);
			s->zone = Z_LIST;
			s->sel = s->natt > 0 ? s->natt - 1 : 0;
			draw_list(t, s);
		}
		r |= left_field(t, s, left);
	}
	return r & (SCR_HANDLED | SCR_REDRAW);
}

static void
send_resize(struct tui *t, void *state)
{
	struct send *s = state;

	(void)tform_resize(s->tf);
	place_text(s);
	if (s->prompting)
		prompt_show(t, s);
}

static int
send_tick(struct tui *t, void *state)
{
	struct send *s = state;

	switch (s->job.action) {
	case SEND_GO:
		s->job.action = SEND_NONE;
		(void)tui_push(t, &scr_progress, &s->job);
		return SCR_HANDLED | SCR_REDRAW;
	case SEND_DONE:
		return SCR_HANDLED | SCR_CLOSE;
	default:
		return 0;
	}
}

static const char *
send_keybar(struct tui *t, void *state)
{
	struct send *s = state;

	(void)t;
	if (s->prompting)
		return _(" Tab Complete  Enter Attach  Esc Cancel");
	if (s->zone == Z_LIST)
		return _(" F3/^P Preview  Del Remove  ^O/a Add file  Tab Fields  Esc Back  F1 Help");
	if (s->tmpl_missing != NULL)
		return s->zone == Z_FORM ?
		    _(" F3/^P Preview  ^N Add template  ^O Add file  Tab Next  Esc Back  F1 Help") :
		    _(" F3/^P Preview  ^N Add template  ^E Editor  ^O Add file  Esc Back  F1 Help");
	if (s->zone == Z_FORM)
		return _(" F3/^P Preview  ^O Add file  Tab Next  Esc Back  F1 Help");
	return _(" F3/^P Preview  ^E Editor  ^O Add file  Tab Next  Esc Back  F1 Help");
}

static void
send_cursor(struct tui *t, void *state)
{
	struct send *s = state;
	const wchar_t *tail;
	int w, cut;

	/* Only what has the focus is highlighted. */
	tform_active(s->tf, s->zone == Z_FORM && !s->prompting);
	text_label(t, s);
	if (s->prompting) {
		w = prompt_view(s, &tail, &cut);
		move(LINES - 2, w < COLS ? w : COLS - 1);
		wnoutrefresh(stdscr);
	} else if (s->zone == Z_LIST) {
		move(ROW_LIST + 1 + (int)(s->sel - s->top), 2);
		wnoutrefresh(stdscr);
	} else if (s->zone == Z_TEXT)
		tarea_cursor(s->text);
	else
		tform_cursor(s->tf);
}

const struct dm_screen scr_send = {
	.name = N_("Send"),
	.help = N_("Write the email for the documents, then look at it with F3.\n"
	"  To, Cc, Bcc   addresses, separated by commas; Bcc recipients\n"
	"                are invisible to the others\n"
	"  From          empty: your profile's address; a typed one\n"
	"                becomes Reply-To when the profile says so\n"
	"  Subject/Text  filled from the template; {{name}} placeholders\n"
	"                come from the document's .ini and the profile\n"
	"  F3 or Ctrl-P  preview, then y sends\n"
	"  Ctrl-E        in Text: edit it in $VISUAL / $EDITOR\n"
	"  Ctrl-O        attach a file (Tab completes the path)\n"
	"  Del           in the attachment list: remove the file\n"
	"  Esc           back (asks when something was typed)\n\n"),
	.enter = send_enter,
	.key = send_key,
	.draw = send_draw,
	.resize = send_resize,
	.tick = send_tick,
	.leave = send_leave,
	.keybar = send_keybar,
	.cursor = send_cursor,
};
