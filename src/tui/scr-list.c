/*
 * scr-list.c - the document list: the PDFs in documents_dir with their
 * sidecar data and whether and when each was sent
 *
 * Newest first (modification time, then name): the invoice just made
 * is the one on top.  Only the visible rows are drawn, and moving the
 * selection inside the page repaints two rows, so a directory of
 * thousands of documents stays quick, also over SSH.  The sent log and
 * the directory are looked at again (one stat each) whenever the whole
 * screen is drawn, e.g. on coming back from the send dialog.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include <docmail/batch.h>
#include <docmail/buf.h>
#include <docmail/i18n.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/tmpl.h>

#include "screens.h"
#include "tui.h"

#define FILTER_MAX	128

/* Rows: info line, column header, the list, the detail line. */
#define ROW_INFO	1
#define ROW_HEAD	2
#define ROW_FIRST	3
#define ROWS_VISIBLE	(LINES - 3 - ROW_FIRST)	/* down to LINES-4 */
#define ROW_DETAIL	(LINES - 3)

struct doc {
	char		*name;		/* file name, as on disk */
	char		*path;		/* dir/name, for the send dialog */
	time_t		 mtime;
	/* Escaped for the terminal; "" when the sidecar lacks them. */
	char		*shown;		/* the name */
	char		*stem;		/* the name without ".pdf" */
	char		*number, *customer, *amount, *date;
	char		*sidecar_err;	/* escaped, NULL when it parsed */
	int		 has_sidecar;
	wchar_t		*key;		/* lower case, for the filter */
	const struct dm_sent *sent;	/* the latest send, or NULL */
	time_t		 sent_when;	/* its time, kept over a reload */
	int		 marked;
};

/* What a stat said about a file, to notice when it changed. */
struct fstamp {
	int		 exists;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
};

struct list {
	char		*dir;		/* documents_dir, or "." */
	char		*dir_shown;	/* escaped, for the info line */
	struct doc	*docs;
	size_t		 n;
	size_t		*view;		/* docs the filter lets through */
	size_t		 nview;
	size_t		 sel;		/* index into view */
	size_t		 top;		/* first visible index into view */
	size_t		 nmarked;
	wchar_t		 filter[FILTER_MAX + 1];	/* as typed */
	size_t		 flen;
	int		 typing;	/* "/" was pressed: keys go to the filter */
	char		*log_path;
	struct dm_sent	*log;
	size_t		 nlog;
	struct fstamp	 log_stamp, dir_stamp;
	/* The batch last opened: its documents' names, what it stored. */
	struct scr_batch_arg batch;
	char		**bnames;
};

/* --- text helpers ----------------------------------------------------- */

/* s with control characters escaped, malloc'd; never NULL unless OOM. */
static char *
escaped(const char *s)
{
	struct dm_buf b;
	struct dm_err err;

	dm_buf_init(&b, 4096);
	if (s != NULL && dm_buf_add_printable(&b, s, strlen(s), &err) == -1) {
		/* Past the cap: better no value than a part of it. */
		dm_buf_reset(&b);
		(void)dm_buf_addstr(&b, _("(too long)"), &err);
	}
	return dm_buf_detach(&b);
}

/* Appends s, lower-cased, to the wide string w of *len (cap chars). */
static void
add_key(wchar_t *w, size_t *len, size_t cap, const char *s)
{
	mbstate_t st;
	size_t r;
	wchar_t c;

	memset(&st, 0, sizeof st);
	while (s != NULL && *s != '\0' && *len + 2 < cap) {
		r = mbrtowc(&c, s, strlen(s), &st);
		if (r == (size_t)-1 || r == (size_t)-2) {
			memset(&st, 0, sizeof st);
			c = L'?';
			r = 1;
		}
		w[(*len)++] = (wchar_t)towlower((wint_t)c);
		s += r;
	}
	/* A separator no typed filter can hold. */
	w[(*len)++] = L'\n';
	w[*len] = L'\0';
}

static void
stamp(const char *path, struct fstamp *fs)
{
	struct stat st;

	memset(fs, 0, sizeof *fs);
	if (path == NULL || stat(path, &st) == -1)
		return;
	fs->exists = 1;
	fs->dev = st.st_dev;
	fs->ino = st.st_ino;
	fs->size = st.st_size;
	fs->mtim = st.st_mtim;
}

static int
stamp_same(const struct fstamp *a, const struct fstamp *b)
{
	return a->exists == b->exists && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec;
}

/* --- documents -------------------------------------------------------- */

static void
doc_release(struct doc *d)
{
	free(d->name);
	free(d->path);
	free(d->shown);
	free(d->stem);
	free(d->number);
	free(d->customer);
	free(d->amount);
	free(d->date);
	free(d->sidecar_err);
	free(d->key);
}

static void
docs_free(struct doc *docs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		doc_release(&docs[i]);
	free(docs);
}

static int
is_pdf_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 &&
	    strcasecmp(name + n - 4, ".pdf") == 0;
}

/* Reads d's sidecar and builds what is shown and searched. */
static int
doc_fill(struct doc *d)
{
	struct dm_vars vars;
	struct dm_err err;
	char *tmpl = NULL, *side = NULL, *stem = NULL;
	size_t klen = 0, kcap;
	const char *v[4];
	int i;

	dm_vars_init(&vars);
	if (dm_sidecar_load(d->path, &vars, &tmpl, &side, &err) == -1) {
		d->has_sidecar = 1;
		if ((d->sidecar_err = escaped(err.msg)) == NULL)
			goto fail;
	} else
		d->has_sidecar = side != NULL;
	v[0] = dm_vars_get(&vars, "number");
	v[1] = dm_vars_get(&vars, "customer");
	v[2] = dm_vars_get(&vars, "amount");
	v[3] = dm_vars_get(&vars, "date");
	/* All of them are PDFs: the extension would only take room. */
	if ((stem = strndup(d->name, strlen(d->name) - 4)) == NULL ||
	    (d->stem = escaped(stem)) == NULL ||
	    (d->shown = escaped(d->name)) == NULL ||
	    (d->number = escaped(v[0])) == NULL ||
	    (d->customer = escaped(v[1])) == NULL ||
	    (d->amount = escaped(v[2])) == NULL ||
	    (d->date = escaped(v[3])) == NULL)
		goto fail;
	kcap = strlen(d->name) + 5;
	for (i = 0; i < 4; i++)
		kcap += v[i] != NULL ? strlen(v[i]) + 1 : 1;
	if ((d->key = calloc(kcap, sizeof *d->key)) == NULL)
		goto fail;
	add_key(d->key, &klen, kcap, d->name);
	for (i = 0; i < 4; i++)
		add_key(d->key, &klen, kcap, v[i]);
	dm_vars_release(&vars);
	free(tmpl);
	free(side);
	free(stem);
	return 0;
fail:
	dm_vars_release(&vars);
	free(tmpl);
	free(side);
	free(stem);
	return -1;
}

static int
doc_cmp(const void *a, const void *b)
{
	const struct doc *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * The PDFs of dir, newest first.  Errors: DM_EIO (cannot read the
 * directory), DM_ENOMEM.
 */
static int
scan(const char *dir, struct doc **out, size_t *nout, struct dm_err *err)
{
	struct doc *docs = NULL, *nd;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0;
	DIR *d;
	int dfd;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		dm_err_set(err, DM_EIO, _("cannot read the documents directory '%s': %s"),
		    DM_ERR_PATH(dir), strerror(errno));
		return dm_err_hint(err, _("set documents_dir in the profile (docmail.ini(5)), or start docmail in the directory of your invoices"));
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (!is_pdf_name(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nd = reallocarray(docs, cap, sizeof *nd)) == NULL)
				goto nomem;
			docs = nd;
		}
		memset(&docs[n], 0, sizeof docs[n]);
		docs[n].mtime = st.st_mtime;
		if ((docs[n].name = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
		if (asprintf(&docs[n - 1].path, "%s/%s", dir, de->d_name) == -1) {
			docs[n - 1].path = NULL;
			goto nomem;
		}
		if (doc_fill(&docs[n - 1]) == -1)
			goto nomem;
	}
	closedir(d);
	if (n > 1)
		qsort(docs, n, sizeof *docs, doc_cmp);
	*out = docs;
	*nout = n;
	return 0;
nomem:
	closedir(d);
	docs_free(docs, n);
	return dm_err_set(err, DM_ENOMEM, _("out of memory"));
}

/* --- the sent log ------------------------------------------------------ */

static int
sent_cmp(const void *a, const void *b)
{
	const struct dm_sent *x = a, *y = b;
	int c;

	if (x->document == NULL || y->document == NULL)
		return (x->document == NULL) - (y->document == NULL);
	if ((c = strcmp(x->document, y->document)) != 0)
		return c;
	return x->when < y->when ? -1 : x->when > y->when;
}

/* Points every document at its latest send (the log is sorted). */
static void
match_sent(struct list *l)
{
	struct doc *d;
	size_t i, lo, hi, mid;

	for (i = 0; i < l->n; i++) {
		d = &l->docs[i];
		d->sent = NULL;
		/* The last entry for this document is the latest. */
		lo = 0;
		hi = l->nlog;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (strcmp(l->log[mid].document, d->name) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0 && strcmp(l->log[lo - 1].document, d->name) == 0)
			d->sent = &l->log[lo - 1];
		/* Just sent: its mark has done its job. */
		if (d->sent != NULL && d->sent->when > d->sent_when &&
		    d->marked) {
			d->marked = 0;
			l->nmarked--;
		}
		d->sent_when = d->sent != NULL ? d->sent->when : 0;
	}
}

/* Reloads the sent log when it changed; 1 when it did. */
static int
split_documents(struct dm_sent **pv, size_t *pn)
{
	struct dm_sent *v = *pv, *nv, *e;
	size_t n = *pn, extra = 0, i, o;
	char *p, *slash;

	for (i = 0; i < n; i++)
		for (p = v[i].document; (p = strchr(p, '/')) != NULL; p++)
			extra++;
	if (extra == 0)
		return 0;
	if ((nv = realloc(v, (n + extra) * sizeof *v)) == NULL)
		return -1;
	v = nv;
	*pv = v;
	for (i = 0, o = n; i < n; i++) {
		while ((slash = strrchr(v[i].document, '/')) != NULL) {
			e = &v[o];
			memset(e, 0, sizeof *e);
			e->when = v[i].when;
			e->document = strdup(slash + 1);
			e->message_id = v[i].message_id != NULL ?
			    strdup(v[i].message_id) : NULL;
			e->rcpt = v[i].rcpt != NULL ? strdup(v[i].rcpt) : NULL;
			e->reply = v[i].reply != NULL ? strdup(v[i].reply) :
			    NULL;
			*slash = '\0';
			o++;
			*pn = o;
			if (e->document == NULL ||
			    (v[i].message_id != NULL && e->message_id == NULL) ||
			    (v[i].rcpt != NULL && e->rcpt == NULL) ||
			    (v[i].reply != NULL && e->reply == NULL))
				return -1;
		}
	}
	return 0;
}

static int
refresh_log(struct tui *t, struct list *l, int force)
{
	struct fstamp fs;
	struct dm_sent *v;
	struct dm_err err;
	size_t n, i, keep;

	if (l->log_path == NULL)
		return 0;
	stamp(l->log_path, &fs);
	if (!force && stamp_same(&fs, &l->log_stamp))
		return 0;
	l->log_stamp = fs;
	if (dm_sentlog_load(l->log_path, &v, &n, NULL, &err) == -1) {
		tui_error(t, &err);
		return 0;
	}
	/* Lines without a document cannot mark one. */
	for (i = keep = 0; i < n; i++) {
		if (v[i].document == NULL) {
			free(v[i].message_id);
			free(v[i].rcpt);
			free(v[i].reply);
			continue;
		}
		v[keep++] = v[i];
	}
	/*
	 * One message can carry several documents, logged '/'-separated
	 * (no file name holds a '/'): each gets its own entry.
	 */
	if (split_documents(&v, &keep) == -1) {
		dm_sentlog_free(v, keep);
		return 0;
	}
	if (keep > 1)
		qsort(v, keep, sizeof *v, sent_cmp);
	/* The docs point into the old log until match_sent(). */
	dm_sentlog_free(l->log, l->nlog);
	l->log = v;
	l->nlog = keep;
	match_sent(l);
	return 1;
}

/* --- the view: what the filter lets through ---------------------------- */

static size_t
selected_doc(const struct list *l)
{
	return l->nview > 0 ? l->view[l->sel] : (size_t)-1;
}

static void
rebuild_view(struct list *l, size_t keep_doc)
{
	wchar_t low[FILTER_MAX + 1];
	size_t i;

	for (i = 0; i < l->flen; i++)
		low[i] = (wchar_t)towlower((wint_t)l->filter[i]);
	low[l->flen] = L'\0';
	l->nview = 0;
	l->sel = 0;
	for (i = 0; i < l->n; i++) {
		if (l->flen > 0 && wcsstr(l->docs[i].key, low) == NULL)
			continue;
		if (i == keep_doc)
			l->sel = l->nview;
		l->view[l->nview++] = i;
	}
	if (l->top > l->sel || l->sel >= l->top + (size_t)ROWS_VISIBLE)
		l->top = l->sel >= (size_t)ROWS_VISIBLE / 2 ?
		    l->sel - (size_t)ROWS_VISIBLE / 2 : 0;
	if (l->nview == 0)
		l->top = 0;
}

static int
name_cmp(const void *a, const void *b)
{
	const struct doc *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Reads the directory again, keeping marks and the selection. */
static int
rescan(struct tui *t, struct list *l)
{
	struct doc *docs, **old = NULL, key, *kp, **hit;
	size_t n, i, *view, sel = (size_t)-1;
	struct dm_err err;
	const char *sel_name = NULL;

	stamp(l->dir, &l->dir_stamp);
	if (scan(l->dir, &docs, &n, &err) == -1) {
		tui_error(t, &err);
		return -1;
	}
	view = calloc(n + 1, sizeof *view);
	if (l->n > 0)
		old = calloc(l->n, sizeof *old);
	if (view == NULL || (l->n > 0 && old == NULL)) {
		free(view);
		free(old);
		docs_free(docs, n);
		return -1;
	}
	if (l->nview > 0)
		sel_name = l->docs[selected_doc(l)].name;
	for (i = 0; i < l->n; i++)
		old[i] = &l->docs[i];
	if (l->n > 1)
		qsort(old, l->n, sizeof *old, name_cmp);
	l->nmarked = 0;
	for (i = 0; i < n; i++) {
		key.name = docs[i].name;
		kp = &key;
		hit = l->n > 0 ? bsearch(&kp, old, l->n, sizeof *old,
		    name_cmp) : NULL;
		if (hit != NULL) {
			docs[i].marked = (*hit)->marked;
			docs[i].sent_when = (*hit)->sent_when;
			l->nmarked += (size_t)docs[i].marked;
		}
		if (sel_name != NULL && strcmp(docs[i].name, sel_name) == 0)
			sel = i;
	}
	free(old);
	docs_free(l->docs, l->n);
	free(l->view);
	l->docs = docs;
	l->n = n;
	l->view = view;
	match_sent(l);
	rebuild_view(l, sel);
	return 0;
}

/* --- a batch ---------------------------------------------------------- */

static void
batch_forget(struct list *l)
{
	size_t i;

	for (i = 0; l->bnames != NULL && i < l->batch.n; i++)
		free(l->bnames[i]);
	free(l->bnames);
	free(l->batch.stored);
	l->bnames = NULL;
	memset(&l->batch, 0, sizeof l->batch);
}

/*
 * Back from a batch: what it sent or left in the outbox is no longer
 * marked (marked again and sent, it would go twice); the rest keeps
 * its mark.  The sent log shows what went out.
 */
static void
batch_done(struct list *l)
{
	size_t i, k;

	for (i = 0; l->batch.finished && i < l->batch.n; i++) {
		if (!l->batch.stored[i])
			continue;
		for (k = 0; k < l->n; k++)
			if (l->docs[k].marked &&
			    strcmp(l->docs[k].name, l->bnames[i]) == 0) {
				l->docs[k].marked = 0;
				l->nmarked--;
			}
	}
	batch_forget(l);
}

/* --- drawing ------------------------------------------------------------ */

/* Columns for the current size: name, number, customer, amount, date, sent. */
struct cols {
	int	x[6];
	int	w[6];
};

static void
columns(struct cols *c)
{
	static const int base[6] = { 17, 9, 14, 11, 10, 10 };
	int extra = COLS - 80, i, x = 2;

	for (i = 0; i < 6; i++)
		c->w[i] = base[i];
	if (extra > 0) {
		/* The sent time of day first, then names get the room. */
		if (extra >= 6) {
			c->w[5] += 6;
			extra -= 6;
		}
		c->w[0] += extra / 2;
		c->w[2] += extra - extra / 2;
	}
	for (i = 0; i < 6; i++) {
		c->x[i] = x;
		x += c->w[i] + 1;
	}
}

static void
put_right(int row, int col, int width, const char *s, attr_t a)
{
	int w = dm_text_width(s), i;

	if (w >= width) {
		tui_put(row, col, width, s, a);
		return;
	}
	attron(a);
	for (i = 0; i < width - w; i++)
		mvaddch(row, col + i, ' ');
	attroff(a);
	tui_put(row, col + width - w, w, s, a);
}

static void
fmt_time(time_t t, int with_time, char *buf, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, with_time ? "%Y-%m-%d %H:%M" : "%Y-%m-%d",
	    &tm) == 0)
		(void)snprintf(buf, size, "?");
}

static void
draw_row(struct tui *t, struct list *l, size_t vi)
{
	struct cols c;
	const struct doc *d;
	char sent[32];
	int row = ROW_FIRST + (int)(vi - l->top), i;
	attr_t a, mark;

	if (vi < l->top || row > ROW_DETAIL - 1)
		return;
	if (vi >= l->nview) {
		move(row, 0);
		clrtoeol();
		return;
	}
	d = &l->docs[l->view[vi]];
	columns(&c);
	a = vi == l->sel ? A_REVERSE : A_NORMAL;
	mark = d->marked ? a | tui_attr(t, TC_MARK) : a;
	attron(a);
	for (i = 0; i < COLS; i++)
		mvaddch(row, i, ' ');
	attroff(a);
	tui_put(row, 0, 2, d->marked ? "*" : "", mark);
	tui_put(row, c.x[0], c.w[0], d->stem, mark);
	if (d->sidecar_err != NULL)
		/* TRANSLATORS: in the Number column, cut to its width (9). */
		tui_put(row, c.x[1], c.w[1], _("bad .ini"), a | tui_attr(t,
		    TC_ERROR));
	else
		tui_put(row, c.x[1], c.w[1], d->number, a);
	tui_put(row, c.x[2], c.w[2], d->customer, a);
	put_right(row, c.x[3], c.w[3], d->amount, a);
	tui_put(row, c.x[4], c.w[4], d->date, a);
	if (d->sent != NULL) {
		fmt_time(d->sent->when, c.w[5] >= 16, sent, sizeof sent);
		tui_put(row, c.x[5], c.w[5], sent, a | tui_attr(t, TC_OK));
	}
}

static void
draw_detail(struct tui *t, struct list *l)
{
	struct dm_buf b;
	struct dm_err err;
	const struct doc *d;
	char when[32];
	char *rc = NULL;

	if (l->nview == 0) {
		tui_put(ROW_DETAIL, 0, COLS, "", A_NORMAL);
		return;
	}
	d = &l->docs[selected_doc(l)];
	dm_buf_init(&b, 4096);
	(void)dm_buf_addf(&b, &err, " %s: ", d->shown);
	if (d->sent != NULL) {
		fmt_time(d->sent->when, 1, when, sizeof when);
		rc = escaped(d->sent->rcpt);
		(void)dm_buf_addf(&b, &err, _("sent %s to %s"), when,
		    rc != NULL ? rc : "");
		free(rc);
	} else
		(void)dm_buf_addstr(&b, _("not sent yet"), &err);
	if (d->sidecar_err != NULL)
		(void)dm_buf_addf(&b, &err, "; %s", d->sidecar_err);
	else if (!d->has_sidecar)
		(void)dm_buf_addstr(&b, _("; no sidecar (.ini) with its data"),
		    &err);
	tui_put(ROW_DETAIL, 0, COLS, dm_buf_str(&b),
	    d->sidecar_err != NULL ? tui_attr(t, TC_ERROR) : A_NORMAL);
	dm_buf_release(&b);
}

static void
draw_info(struct tui *t, struct list *l)
{
	char right[FILTER_MAX * 4 + 128], ftext[FILTER_MAX * 4 + 1];
	char marks[48] = "";
	int half = COLS / 2;
	size_t start;

	(void)t;
	if (l->nmarked > 0)
		(void)snprintf(marks, sizeof marks, ngettext(", %zu marked",
		    ", %zu marked", l->nmarked), l->nmarked);
	if (l->flen > 0 || l->typing) {
		/* While typing, the end of a long filter is what matters. */
		start = 0;
		while (start < l->flen && wcswidth(l->filter + start,
		    l->flen - start) > COLS - half - 24)
			start++;
		if (wcstombs(ftext, l->filter + start, sizeof ftext) ==
		    (size_t)-1)
			ftext[0] = '\0';
		/*
		 * TRANSLATORS: shown of all documents, ", 2 marked" and the
		 * filter after "/"; keep "%s  /%s" at the end.
		 */
		(void)snprintf(right, sizeof right, _("%zu of %zu%s  /%s"),
		    l->nview, l->n, marks, ftext);
	} else
		(void)snprintf(right, sizeof right,
		    ngettext("%zu document%s", "%zu documents%s", l->n),
		    l->n, marks);
	tui_put(ROW_INFO, 0, half, l->dir_shown, A_NORMAL);
	/* The last column stays free for the cursor while typing. */
	put_right(ROW_INFO, half, COLS - half - 1, right, A_NORMAL);
	tui_put(ROW_INFO, COLS - 1, 1, "", A_NORMAL);
}

static void
draw_list(struct tui *t, struct list *l)
{
	size_t vi;

	for (vi = l->top; vi < l->top + (size_t)ROWS_VISIBLE; vi++)
		draw_row(t, l, vi);
	draw_detail(t, l);
}

static void
list_draw(struct tui *t, void *state)
{
	struct list *l = state;
	struct fstamp fs;
	struct cols c;
	char msg[512];

	/* Back from sending or settings: what changed in the meantime. */
	if (l->bnames != NULL)
		batch_done(l);
	stamp(l->dir, &fs);
	if (!stamp_same(&fs, &l->dir_stamp))
		(void)rescan(t, l);
	(void)refresh_log(t, l, 0);

	draw_info(t, l);
	columns(&c);
	/*
	 * TRANSLATORS: column heads of the document list, cut to the
	 * column's width (at 80 columns: Document 17, Number 9, Customer
	 * 14, Amount 11, Date 10, Sent 10).
	 */
	tui_put(ROW_HEAD, c.x[0], c.w[0], _("Document"), tui_attr(t, TC_LABEL) |
	    A_BOLD);
	tui_put(ROW_HEAD, c.x[1], c.w[1], _("Number"), A_BOLD);
	tui_put(ROW_HEAD, c.x[2], c.w[2], _("Customer"), A_BOLD);
	put_right(ROW_HEAD, c.x[3], c.w[3], _("Amount"), A_BOLD);
	tui_put(ROW_HEAD, c.x[4], c.w[4], _("Date"), A_BOLD);
	tui_put(ROW_HEAD, c.x[5], c.w[5], _("Sent"), A_BOLD);
	if (l->n == 0) {
		(void)snprintf(msg, sizeof msg, "%s",
		    _("No PDF documents here.  Put invoices (with their .ini sidecars) into this directory, or set documents_dir in the profile."));
		tui_put(ROW_FIRST + 1, 2, COLS - 4, msg, A_NORMAL);
		return;
	}
	if (l->nview == 0) {
		tui_put(ROW_FIRST + 1, 2, COLS - 4,
		    _("No document matches the filter (Esc clears it)."),
		    A_NORMAL);
		return;
	}
	draw_list(t, l);
}

/* --- keys ----------------------------------------------------------------- */

/* Moves the selection to vi; repaints only what changed when it can. */
static int
move_to(struct tui *t, struct list *l, long vi)
{
	size_t old = l->sel, page = (size_t)ROWS_VISIBLE;

	if (l->nview == 0)
		return SCR_HANDLED;
	if (vi < 0)
		vi = 0;
	if ((size_t)vi >= l->nview)
		vi = (long)l->nview - 1;
	if ((size_t)vi == old)
		return SCR_HANDLED;
	l->sel = (size_t)vi;
	if (l->sel >= l->top && l->sel < l->top + page) {
		draw_row(t, l, old);
		draw_row(t, l, l->sel);
		draw_detail(t, l);
		return SCR_HANDLED;
	}
	if (l->sel < l->top)
		l->top = l->sel;
	else
		l->top = l->sel - page + 1;
	draw_list(t, l);
	return SCR_HANDLED;
}

static int
filter_changed(struct tui *t, struct list *l)
{
	size_t keep = selected_doc(l);

	(void)t;
	l->filter[l->flen] = L'\0';
	rebuild_view(l, keep);
	return SCR_HANDLED | SCR_REDRAW;
}

static int
open_send(struct tui *t, struct list *l)
{
	struct scr_send_arg arg;
	char **files;
	size_t i;
	int n = 0;

	if (l->nview == 0 && l->nmarked == 0) {
		tui_status(t, "%s", _("no document to send"));
		return SCR_HANDLED;
	}
	if ((files = calloc(l->nmarked > 0 ? l->nmarked : 1,
	    sizeof *files)) == NULL)
		return SCR_HANDLED;
	if (l->nmarked > 0) {
		for (i = 0; i < l->n; i++)
			if (l->docs[i].marked)
				files[n++] = l->docs[i].path;
	} else
		files[n++] = l->docs[selected_doc(l)].path;
	arg.files = files;
	arg.nfiles = n;
	tui_status_clear(t);
	/* The send dialog copies what it keeps; enter() reports a refusal. */
	(void)tui_push(t, &scr_send, &arg);
	free(files);
	return SCR_HANDLED | SCR_REDRAW;
}

/*
 * Whether d can go out in a batch (dm_batch_check: a sidecar with to,
 * a template, every placeholder, the file); when not, the status line
 * says why.
 */
static int
can_batch(struct tui *t, const struct doc *d)
{
	const struct dm_profile *p;
	struct dm_batch_opts bo;
	struct dm_batch_doc bd;
	struct dm_err err;
	int r;

	/* A template or profile fixed by hand counts without a restart. */
	(void)tui_reload_if_changed(t);
	if ((p = tui_profile(t)) == NULL) {
		dm_err_set(&err, DM_ECONFIG, _("there is no profile to send with"));
		dm_err_hint(&err, _("set up the account first: s opens the settings"));
		tui_error(t, &err);
		return 0;
	}
	memset(&bo, 0, sizeof bo);
	memset(&bd, 0, sizeof bd);
	bd.path = d->path;
	r = dm_batch_check(&t->cfg, p, &bo, &bd, 1, &err);
	if (r == -1)
		tui_error(t, bd.err != NULL ? bd.err : &err);
	dm_batch_doc_release(&bd);
	return r == 0;
}

static void
say_marked(struct tui *t, const struct list *l)
{
	if (l->nmarked == 0)
		tui_status(t, "%s", _("no document marked"));
	else
		tui_status(t, ngettext("%zu marked: F9 sends it as its own email, Enter attaches it to one",
		    "%zu marked: F9 sends each as its own email, Enter attaches them all to one",
		    l->nmarked), l->nmarked);
}

static int
toggle_mark(struct tui *t, struct list *l)
{
	struct doc *d;

	if (l->nview == 0)
		return SCR_HANDLED;
	d = &l->docs[selected_doc(l)];
	/* Only what a batch can send: the reason now, not at F9. */
	if (!d->marked && !can_batch(t, d))
		return SCR_HANDLED;
	d->marked = !d->marked;
	if (d->marked)
		l->nmarked++;
	else
		l->nmarked--;
	say_marked(t, l);
	draw_info(t, l);
	/* Space marks and moves on, so a run of documents is quick. */
	if (l->sel + 1 < l->nview)
		return move_to(t, l, (long)l->sel + 1);
	draw_row(t, l, l->sel);
	return SCR_HANDLED;
}

/* F9: the marked documents, else the selected one, as a batch. */
static int
open_batch(struct tui *t, struct list *l)
{
	char **paths;
	size_t i, n = 0, want = l->nmarked > 0 ? l->nmarked : 1;

	if (l->nmarked == 0 && l->nview == 0) {
		tui_status(t, "%s", _("no document to send: mark documents with Space, then F9 sends each as its own email"));
		return SCR_HANDLED;
	}
	if (l->nmarked == 0 && !can_batch(t, &l->docs[selected_doc(l)]))
		return SCR_HANDLED | SCR_REDRAW;
	batch_forget(l);
	paths = calloc(want, sizeof *paths);
	l->bnames = calloc(want, sizeof *l->bnames);
	l->batch.stored = calloc(want, sizeof *l->batch.stored);
	if (paths == NULL || l->bnames == NULL || l->batch.stored == NULL)
		goto out;
	for (i = 0; i < l->n && n < want; i++) {
		if (l->nmarked > 0 ? !l->docs[i].marked :
		    i != selected_doc(l))
			continue;
		paths[n] = l->docs[i].path;
		if ((l->bnames[n++] = strdup(l->docs[i].name)) == NULL)
			goto out;
	}
	l->batch.paths = paths;
	l->batch.n = n;
	/* Every message is built once to check it: that takes a moment. */
	if (n > 1) {
		tui_status(t, ngettext("checking %zu document...",
		    "checking %zu documents...", n), n);
		tui_status_flush(t);
	}
	tui_status_clear(t);
	/* The screen copies the paths; enter() reports a refusal. */
	if (tui_push(t, &scr_batch, &l->batch) == -1)
		batch_forget(l);
	free(paths);
	l->batch.paths = NULL;
	return SCR_HANDLED | SCR_REDRAW;
out:
	l->batch.n = n;
	batch_forget(l);
	free(paths);
	return SCR_HANDLED;
}

static int
list_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct list *l = state;
	long page = ROWS_VISIBLE > 1 ? ROWS_VISIBLE - 1 : 1;

	if (is_key) {
		switch (ch) {
		case KEY_UP:
			return move_to(t, l, (long)l->sel - 1);
		case KEY_DOWN:
			return move_to(t, l, (long)l->sel + 1);
		case KEY_PPAGE:
			return move_to(t, l, (long)l->sel - page);
		case KEY_NPAGE:
			return move_to(t, l, (long)l->sel + page);
		case KEY_HOME:
			return move_to(t, l, 0);
		case KEY_END:
			return move_to(t, l, (long)l->nview - 1);
		case KEY_ENTER:
			if (l->typing) {
				l->typing = 0;
				return SCR_HANDLED | SCR_REDRAW;
			}
			return open_send(t, l);
		case KEY_F(9):
			l->typing = 0;
			return open_batch(t, l);
		case KEY_BACKSPACE:
			if (l->typing && l->flen > 0) {
				l->flen--;
				return filter_changed(t, l);
			}
			return SCR_HANDLED;
		}
		return 0;
	}
	if (ch == 27) {		/* Esc: the filter goes, then the marks */
		if (l->typing || l->flen > 0) {
			l->typing = 0;
			l->flen = 0;
			return filter_changed(t, l);
		}
		if (l->nmarked > 0) {
			size_t i;

			for (i = 0; i < l->n; i++)
				l->docs[i].marked = 0;
			l->nmarked = 0;
			tui_status(t, "%s", _("marks cleared"));
			return SCR_HANDLED | SCR_REDRAW;
		}
		return SCR_HANDLED;
	}
	if (ch == 3 || ch == 17)	/* Ctrl-C, Ctrl-Q */
		return SCR_HANDLED | SCR_QUIT;
	if (ch == '\r' || ch == '\n') {
		if (l->typing) {
			l->typing = 0;
			return SCR_HANDLED | SCR_REDRAW;
		}
		return open_send(t, l);
	}
	if (l->typing) {
		if (ch == 127 || ch == 8) {
			if (l->flen > 0)
				l->flen--;
			return filter_changed(t, l);
		}
		if (ch < 0x20 || ch == 0x7f || l->flen >= FILTER_MAX)
			return SCR_HANDLED;
		l->filter[l->flen++] = (wchar_t)ch;
		return filter_changed(t, l);
	}
	switch (ch) {
	case ' ':
		return toggle_mark(t, l);
	case 'b':	/* F9 where F-keys do not arrive */
		return open_batch(t, l);
	case '/':
		l->typing = 1;
		return SCR_HANDLED | SCR_REDRAW;
	case 's':
		tui_status_clear(t);
		(void)tui_push(t, &scr_settings, NULL);
		return SCR_HANDLED | SCR_REDRAW;
	case 'o':
		tui_status_clear(t);
		(void)tui_push(t, &scr_outbox, NULL);
		return SCR_HANDLED | SCR_REDRAW;
	case 'q':
		return SCR_HANDLED | SCR_QUIT;
	case 'k':
		return move_to(t, l, (long)l->sel - 1);
	case 'j':
		return move_to(t, l, (long)l->sel + 1);
	}
	return 0;
}

/* --- the screen --------------------------------------------------------- */

static void
list_leave(struct tui *t, void *state)
{
	struct list *l = state;

	(void)t;
	batch_forget(l);
	docs_free(l->docs, l->n);
	free(l->view);
	free(l->dir);
	free(l->dir_shown);
	free(l->log_path);
	dm_sentlog_free(l->log, l->nlog);
	free(l);
}

static int
list_enter(struct tui *t, void *arg, void **state)
{
	const struct dm_profile *p = tui_profile(t);
	struct dm_err err;
	struct list *l;
	char *cwd = NULL;

	(void)arg;
	if ((l = calloc(1, sizeof *l)) == NULL)
		return -1;
	l->dir = strdup(p != NULL && p->documents_dir != NULL &&
	    p->documents_dir[0] != '\0' ? p->documents_dir : ".");
	if (l->dir != NULL && strcmp(l->dir, ".") == 0)
		cwd = getcwd(NULL, 0);
	l->dir_shown = escaped(cwd != NULL ? cwd : l->dir);
	free(cwd);
	/* Without HOME there is no log: nothing is marked as sent. */
	l->log_path = dm_sentlog_path(&err);
	l->view = calloc(1, sizeof *l->view);
	if (l->dir == NULL || l->dir_shown == NULL || l->view == NULL) {
		list_leave(t, l);
		return -1;
	}
	(void)rescan(t, l);
	(void)refresh_log(t, l, 1);
	*state = l;
	return 0;
}

static void
list_resize(struct tui *t, void *state)
{
	struct list *l = state;

	(void)t;
	rebuild_view(l, selected_doc(l));
}

static const char *
list_keybar(struct tui *t, void *state)
{
	struct list *l = state;

	(void)t;
	if (l->typing)
		return _(" type to filter  Enter done  Esc clear  Up/Down move");
	/*
	 * At 80 columns "? help" gives way; F1 and ? work all the same.
	 * TRANSLATORS: key bars: the first at most 84 columns, the
	 * second at most 80; b, o, s, q are keys.
	 */
	return COLS >= 84 ?
	    _(" Enter send  Space mark  F9/b batch  / filter  o outbox  s settings  ? help  q quit") :
	    _(" Enter send  Space mark  F9/b batch  / filter  o outbox  s settings  q quit");
}

static void
list_cursor(struct tui *t, void *state)
{
	struct list *l = state;

	(void)t;
	if (!l->typing) {
		curs_set(0);
		return;
	}
	move(ROW_INFO, COLS - 1);
	wnoutrefresh(stdscr);
}

const struct dm_screen scr_list = {
	.name = N_("Documents"),
	.help = N_("Documents: the PDFs in documents_dir (default: the current\n"
	"  directory), newest first, with the number, customer, amount and\n"
	"  date from each one's sidecar (invoice.pdf.ini or invoice.ini) and\n"
	"  the date it was last sent (from the sent log).\n"
	"  Up/Down PgUp/PgDn Home/End  move\n"
	"  Space        mark documents (only those a batch can send: a\n"
	"               sidecar with to, a template, every placeholder)\n"
	"  F9 or b      a batch: each marked document (or the selected\n"
	"               one) as its own email, over one connection\n"
	"  Enter        one email with the marked documents attached, or\n"
	"               the selected one\n"
	"  /            filter by text (number, customer, ...); Esc clears\n"
	"  o            the outbox: what could not be sent yet\n"
	"  s            SMTP settings\n"
	"  q            quit\n\n"),
	.enter = list_enter,
	.key = list_key,
	.draw = list_draw,
	.resize = list_resize,
	.leave = list_leave,
	.keybar = list_keybar,
	.cursor = list_cursor,
};
