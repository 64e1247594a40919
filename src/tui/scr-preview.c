/*
 * scr-preview.c - the message as the recipient will see it, and the
 * question before sending
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <wchar.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/compose.h>
#include <docmail/i18n.h>
#include <docmail/mime.h>

#include "send.h"

#define LABEL_W		10	/* "Reply-To: ", the least a label gets */

/* --- lines: shared with the sending screen -------------------------- */

void
tlines_free(struct tlines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->attr);
	memset(l, 0, sizeof *l);
}

static int
push_line(struct tlines *l, const char *s, attr_t a)
{
	char **v;
	attr_t *at;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap == 0 ? 32 : l->cap * 2;
		if ((v = realloc(l->v, ncap * sizeof *v)) == NULL)
			return -1;
		l->v = v;
		if ((at = realloc(l->attr, ncap * sizeof *at)) == NULL)
			return -1;
		l->attr = at;
		l->cap = ncap;
	}
	if ((l->v[l->n] = strdup(s)) == NULL)
		return -1;
	l->attr[l->n++] = a;
	return 0;
}

/* One line of text (no newline in it), wrapped. */
static int
add_wrapped(struct tlines *l, const char *label, int indent,
    const wchar_t *w, size_t n, int width, attr_t a)
{
	char out[4096], *p;
	size_t i, start = 0, brk, k;
	int pos, cw, first = 1, avail = width - indent;
	mbstate_t st;
	size_t m;

	if (avail < 10)
		avail = 10;
	do {
		pos = 0;
		brk = 0;
		for (i = start; i < n; i++) {
			cw = wcwidth(w[i]);
			if (cw < 0)
				cw = 1;
			if (pos + cw > avail)
				break;
			pos += cw;
			if (w[i] == L' ')
				brk = i + 1;
		}
		if (i < n && brk > start)
			i = brk;
		if (i == start)
			i = start + 1;	/* a char wider than the line */
		(void)snprintf(out, sizeof out, "%-*s", indent,
		    first ? label : "");
		p = out + strlen(out);
		memset(&st, 0, sizeof st);
		for (k = start; k < i && k < n; k++) {
			if ((size_t)(p - out) + MB_CUR_MAX + 1 >= sizeof out)
				break;
			m = wcrtomb(p, w[k], &st);
			if (m != (size_t)-1)
				p += m;
		}
		*p = '\0';
		if (push_line(l, out, a) == -1)
			return -1;
		first = 0;
		start = i;
	} while (start < n);
	return 0;
}

int
tlines_add(struct tlines *l, const char *label, int indent, const char *text,
    int width, attr_t a)
{
	struct dm_buf b;
	struct dm_err err;
	const char *s = text, *nl, *p;
	char *seg;
	wchar_t *w;
	mbstate_t st;
	size_t n, len, k;
	int r = 0, first = 1;

	do {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		if ((seg = malloc(len + 1)) == NULL)
			return -1;
		/* Tabs would come out as \x09: a blank reads better. */
		for (k = 0; k < len; k++)
			seg[k] = s[k] == '\t' ? ' ' : s[k];
		dm_buf_init(&b, 0);
		(void)dm_buf_add_printable(&b, seg, len, &err);
		free(seg);
		p = dm_buf_str(&b);
		memset(&st, 0, sizeof st);
		n = mbsrtowcs(NULL, &p, 0, &st);
		if (n == (size_t)-1 || (w = calloc(n + 1, sizeof *w)) == NULL) {
			dm_buf_release(&b);
			return -1;
		}
		p = dm_buf_str(&b);
		memset(&st, 0, sizeof st);
		(void)mbsrtowcs(w, &p, n + 1, &st);
		if (add_wrapped(l, first ? label : "", indent, w, n, width,
		    a) == -1)
			r = -1;
		free(w);
		dm_buf_release(&b);
		first = 0;
		s = nl != NULL ? nl + 1 : NULL;
	} while (s != NULL && r == 0);
	return r;
}

void
send_size(char *out, size_t sz, unsigned long long n)
{
	if (n < 1024)
		(void)snprintf(out, sz, ngettext("%llu byte", "%llu bytes",
		    (unsigned long)n), n);
	else if (n < 1024 * 1024)
		(void)snprintf(out, sz, _("%.1f KB"), n / 1024.0);
	else
		(void)snprintf(out, sz, _("%.1f MB"), n / (1024.0 * 1024.0));
}

/* --- the preview ------------------------------------------------------ */

struct preview {
	struct send_job	*job;
	struct tlines	 l;
	size_t		 top;
};

/*
 * The labels' column: the widest label of this language and a space,
 * at least LABEL_W (the English "Reply-To: ").
 */
static int
label_w(void)
{
	/* TRANSLATORS: the preview's labels (From: ... Attached:). */
	const char *labels[] = { _("From:"), _("To:"), _("Cc:"), _("Reply-To:"),
	    _("Subject:"), _("Date:"), _("Attached:") };
	int w = dm_text_widest(labels, sizeof labels / sizeof labels[0]) + 1;

	return w > LABEL_W ? w : LABEL_W;
}

static int
add_list(struct tlines *l, const char *label, int lw,
    const struct dm_addrlist *al, int width, attr_t a)
{
	struct dm_buf b;
	struct dm_err err;
	size_t i;
	int r;

	if (al->n == 0)
		return 0;
	dm_buf_init(&b, 0);
	for (i = 0; i < al->n; i++) {
		if (i > 0)
			(void)dm_buf_addstr(&b, ", ", &err);
		(void)dm_addr_format_display(&al->v[i], &b, &err);
	}
	r = tlines_add(l, label, lw, dm_buf_str(&b), width, a);
	dm_buf_release(&b);
	return r;
}

const char *
send_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL && s[1] != '\0' ? s + 1 : path;
}

/* "---- Text -----..." across the width. */
static int
rule(struct tlines *l, const char *title, int width)
{
	char line[512];
	size_t n = strlen(title);

	if (width < (int)n || width >= (int)sizeof line)
		width = (int)n;
	memcpy(line, title, n);
	memset(line + n, '-', (size_t)width - n);
	line[width] = '\0';
	return tlines_add(l, "", 0, line, width, A_NORMAL);
}

static int
build(struct preview *pv, int width)
{
	const struct dm_compose *c = &pv->job->c;
	struct tlines *l = &pv->l;
	struct dm_addrlist one;
	struct dm_buf b;
	struct dm_err err;
	struct stat st;
	char line[1024], size[32], date[64];
	const char *type;
	size_t i;
	attr_t mark = A_BOLD;
	int lw = label_w();

	tlines_free(l);
	dm_buf_init(&b, 0);
	one.v = (struct dm_addr *)&c->from;
	one.n = one.cap = 1;
	if (add_list(l, _("From:"), lw, &one, width, A_NORMAL) == -1 ||
	    add_list(l, _("To:"), lw, &c->to, width, A_NORMAL) == -1 ||
	    add_list(l, _("Cc:"), lw, &c->cc, width, A_NORMAL) == -1 ||
	    add_list(l, _("Reply-To:"), lw, &c->reply_to, width, A_NORMAL) == -1 ||
	    tlines_add(l, _("Subject:"), lw, c->subject, width,
	    A_BOLD) == -1)
		goto fail;
	/* The header's own text: the locale's names would not be sent. */
	if (dm_mime_format_date(pv->job->date, date, sizeof date, &err) == 0 &&
	    tlines_add(l, _("Date:"), lw, date, width, A_NORMAL) == -1)
		goto fail;
	for (i = 0; i < pv->job->nfiles; i++) {
		type = dm_mime_attachment_type(c->mime, i);
		if (stat(pv->job->files[i], &st) == 0)
			send_size(size, sizeof size,
			    (unsigned long long)st.st_size);
		else
			(void)snprintf(size, sizeof size, "%s", _("missing"));
		(void)snprintf(line, sizeof line, "%s  (%s, %s)",
		    send_base_name(pv->job->files[i]), size,
		    type != NULL ? type : "?");
		if (tlines_add(l, i == 0 ? _("Attached:") : "", lw, line,
		    width, A_NORMAL) == -1)
			goto fail;
	}
	if (c->from_moved && tlines_add(l, "", lw,
	    _("(the From you typed is the Reply-To: this profile does not allow other From addresses)"),
	    width, A_NORMAL) == -1)
		goto fail;
	if (c->from_foreign && tlines_add(l, "", lw,
	    _("(From is not your account's domain: receiving servers may reject or flag it)"),
	    width, A_NORMAL) == -1)
		goto fail;
	/* Set apart: what the recipients do not see. */
	if (tlines_add(l, "", 0, "", width, A_NORMAL) == -1)
		goto fail;
	for (i = 0; i < c->bcc.n; i++) {
		if (i > 0)
			(void)dm_buf_addstr(&b, ", ", &err);
		(void)dm_addr_format_display(&c->bcc.v[i], &b, &err);
	}
	if (c->bcc.n > 0 && tlines_add(l,
	    _("  Bcc (invisible to the other recipients): "), 0, dm_buf_str(&b),
	    width, mark) == -1)
		goto fail;
	if (tlines_add(l, _("  Bounces return to: "), 0, c->sender, width,
	    mark) == -1)
		goto fail;
	/* TRANSLATORS: a rule of '-' follows to the right edge. */
	if (rule(l, _("---- Text "), width) == -1 ||
	    tlines_add(l, "", 0, c->body, width, A_NORMAL) == -1 ||
	    rule(l, _("---- End "), width) == -1)
		goto fail;
	dm_buf_release(&b);
	return 0;
fail:
	dm_buf_release(&b);
	return -1;
}

static int
page_rows(void)
{
	/* Rows 2 .. LINES-5; the question sits on LINES-3. */
	return LINES - 6 > 1 ? LINES - 6 : 1;
}

static int
pv_enter(struct tui *t, void *arg, void **state)
{
	struct preview *pv;

	(void)t;
	if ((pv = calloc(1, sizeof *pv)) == NULL)
		return -1;
	pv->job = arg;
	if (build(pv, COLS - 4) == -1) {
		tlines_free(&pv->l);
		free(pv);
		return -1;
	}
	*state = pv;
	return 0;
}

static void
pv_leave(struct tui *t, void *state)
{
	struct preview *pv = state;

	/* The dialog starts sending when it wakes up. */
	if (pv->job->action == SEND_GO)
		tui_wake(t);
	tlines_free(&pv->l);
	free(pv);
}

static void
pv_resize(struct tui *t, void *state)
{
	struct preview *pv = state;

	(void)t;
	(void)build(pv, COLS - 4);
	if (pv->top + page_rows() > pv->l.n)
		pv->top = pv->l.n > (size_t)page_rows() ?
		    pv->l.n - page_rows() : 0;
}

static void
pv_draw(struct tui *t, void *state)
{
	struct preview *pv = state;
	char q[128];
	size_t i;
	int row = 2, rows = page_rows();

	for (i = pv->top; i < pv->l.n && row < 2 + rows; i++, row++)
		tui_put(row, 2, COLS - 4, pv->l.v[i], pv->l.attr[i]);
	if (pv->l.n > (size_t)rows)
		tui_put(LINES - 4, 2, COLS - 4, pv->top + rows < pv->l.n ?
		    _("(more below: Down / PgDn)") : _("(end)"), A_NORMAL);
	if (pv->job->view_only)
		(void)snprintf(q, sizeof q,
		    ngettext("One email of the batch, to %zu recipient: Esc goes back to the table",
		    "One email of the batch, to %zu recipients: Esc goes back to the table",
		    pv->job->c.rcpt.n), pv->job->c.rcpt.n);
	else
		(void)snprintf(q, sizeof q,
		    ngettext("Send this email to %zu recipient? (y/n)",
		    "Send this email to %zu recipients? (y/n)",
		    pv->job->c.rcpt.n), pv->job->c.rcpt.n);
	tui_put(LINES - 3, 2, COLS - 4, q, tui_attr(t, TC_MARK) | A_BOLD);
}

static int
pv_key(struct tui *t, void *state, int is_key, wint_t ch)
{
	struct preview *pv = state;
	size_t rows = (size_t)page_rows(), max;

	(void)t;
	max = pv->l.n > rows ? pv->l.n - rows : 0;
	if (!is_key) {
		/* The question's answer keys, also in the user's language. */
		switch (ch = tui_yn(ch)) {
		case 'y':
		case 'Y':
			if (pv->job->view_only)
				return SCR_HANDLED;
			pv->job->action = SEND_GO;
			return SCR_HANDLED | SCR_CLOSE;
		case 'q':
		case '\r':
		case '\n':
			/* Back, in a batch's; the question's keys are y and n. */
			return pv->job->view_only ? SCR_HANDLED | SCR_CLOSE : 0;
		case 'n':
		case 'N':
		case 27:
		case 3:		/* Ctrl-C */
			return SCR_HANDLED | SCR_CLOSE;
		case ' ':
			ch = KEY_NPAGE;
			break;
		default:
			return 0;
		}
	}
	switch (ch) {
	case KEY_ENTER:
		return pv->job->view_only ? SCR_HANDLED | SCR_CLOSE : 0;
	case KEY_UP:
		if (pv->top > 0)
			pv->top--;
		break;
	case KEY_DOWN:
		if (pv->top < max)
			pv->top++;
		break;
	case KEY_PPAGE:
		pv->top = pv->top > rows ? pv->top - rows : 0;
		break;
	case KEY_NPAGE:
		pv->top = pv->top + rows < max ? pv->top + rows : max;
		break;
	case KEY_HOME:
		pv->top = 0;
		break;
	case KEY_END:
		pv->top = max;
		break;
	default:
		return 0;
	}
	return SCR_HANDLED | SCR_REDRAW;
}

static const char *
pv_keybar(struct tui *t, void *state)
{
	struct preview *pv = state;

	(void)t;
	if (pv->job->view_only)
		return _(" Esc Back to the batch  Up/Down PgUp/PgDn Scroll  F1 Help");
	return _(" y Send  n/Esc Back to the email  Up/Down PgUp/PgDn Scroll  F1 Help");
}

const struct dm_screen scr_preview = {
	.name = N_("Preview"),
	.help = N_("The email as the recipients will see it.  Bcc recipients get it\n"
	"too, but nobody sees them; bounces come back to your profile's\n"
	"address.\n"
	"  y                 send it\n"
	"  n or Esc          back to the email, nothing lost\n"
	"  Up/Down PgUp/PgDn scroll\n\n"),
	.enter = pv_enter,
	.key = pv_key,
	.draw = pv_draw,
	.resize = pv_resize,
	.leave = pv_leave,
	.keybar = pv_keybar,
};
