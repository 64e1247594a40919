/*
 * err.c - the error value
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/i18n.h>

void
dm_err_clear(struct dm_err *err)
{
	err->code = DM_EOK;
	err->smtp_code = 0;
	err->msg[0] = '\0';
	err->hint[0] = '\0';
}

int
dm_err_set(struct dm_err *err, enum dm_errcode code, const char *fmt, ...)
{
	char msg[DM_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	/*
	 * Format first: callers may pass err->msg or err->hint as an
	 * argument to reword an error.  A cut message is still a message.
	 */
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err->code = code;
	err->smtp_code = 0;
	err->hint[0] = '\0';
	memcpy(err->msg, msg, sizeof msg);
	return -1;
}

int
dm_err_hint(struct dm_err *err, const char *fmt, ...)
{
	char hint[DM_ERR_HINT_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(hint, sizeof hint, fmt, ap);
	va_end(ap);
	memcpy(err->hint, hint, sizeof hint);
	return -1;
}

int
dm_err_prefix(struct dm_err *err, const char *fmt, ...)
{
	char prefix[DM_ERR_MSG_MAX], old[DM_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	dm_strlcpy(old, err->msg, sizeof old);
	/* Cut pieces are fine: the message stays a readable prefix. */
	dm_strlcpy(err->msg, prefix, sizeof err->msg);
	dm_strlcpy(err->msg + strlen(err->msg), ": ",
	    sizeof err->msg - strlen(err->msg));
	dm_strlcpy(err->msg + strlen(err->msg), old,
	    sizeof err->msg - strlen(err->msg));
	return -1;
}

#define ELLIPSIS	"..."	/* ASCII: messages reach terminals without UTF-8 */

/* Where the component before the one starting at t starts (t > 0). */
static size_t
comp_before(const char *p, size_t t)
{
	size_t i = t - 1;		/* the slash ending that component */

	while (i > 0 && p[i - 1] != '/')
		i--;
	return i;
}

/* Where the component after the head p[0..h) ends, its slash included. */
static size_t
comp_after(const char *p, size_t len, size_t h)
{
	const char *s = memchr(p + h, '/', len - h);

	return s == NULL ? len : (size_t)(s - p) + 1;
}

/* Moves i forward to the start of a UTF-8 sequence in p[0..len). */
static size_t
u8_next(const char *p, size_t len, size_t i)
{
	while (i < len && ((unsigned char)p[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/*
 * Keeps the start and the end of the name p[t..len) with ELLIPSIS
 * between, after the head p[0..h) and a dropped middle if t > h, so
 * that all of it fits out.
 */
static void
cut_name(const char *p, size_t len, size_t h, size_t t, char *out,
    size_t size)
{
	const char *mid = t > h ? ELLIPSIS "/" : "";
	size_t keep, a, z;

	keep = size - 1 - h - strlen(mid) - strlen(ELLIPSIS);
	/* a: the name's first bytes, z: where its last ones begin. */
	for (a = keep / 2; a > 0 && ((unsigned char)p[t + a] & 0xc0) == 0x80;
	    a--)
		;
	z = u8_next(p, len, len - (keep - keep / 2));
	(void)snprintf(out, size, "%.*s%s%.*s" ELLIPSIS "%.*s", (int)h, p,
	    mid, (int)a, p + t, (int)(len - z), p + z);
}

/*
 * The printable path p (len bytes, more than width) as head, ".../",
 * tail into out: the base name whole, then directories taken in turn
 * from the end and from the start while the whole stays within width.
 */
static void
shorten(const char *p, size_t len, size_t width, char *out, size_t size)
{
	const size_t el = strlen(ELLIPSIS "/");
	size_t t, h, n;
	int more;

	/* The base name starts after the last slash but a trailing one. */
	for (t = len - 1; t > 0 && p[t - 1] != '/'; t--)
		;
	h = p[0] == '/' ? 1 : 0;
	if (t <= h) {
		/* Nothing to drop before the name. */
		if (len < size)
			dm_strlcpy(out, p, size);
		else
			cut_name(p, len, 0, 0, out, size);
		return;
	}
	if (h + el + (len - t) >= size) {
		cut_name(p, len, h, t, out, size);
		return;
	}
	do {
		more = 0;
		if ((n = comp_before(p, t)) > h &&
		    h + el + (len - n) <= width) {
			t = n;
			more = 1;
		}
		if ((n = comp_after(p, len, h)) < t &&
		    n + el + (len - t) <= width) {
			h = n;
			more = 1;
		}
	} while (more);
	(void)snprintf(out, size, "%.*s" ELLIPSIS "/%.*s", (int)h, p,
	    (int)(len - t), p + t);
}

const char *
dm_err_path(const char *path, char *out, size_t size)
{
	struct dm_buf b;
	struct dm_err e;
	size_t width = DM_ERR_PATH_SHOWN;
	int saved = errno;

	if (width > size - 1)
		width = size - 1;
	dm_buf_init(&b, 0);
	if (path == NULL)
		path = "";
	if (dm_buf_add_printable(&b, path, strlen(path), &e) == -1)
		dm_strlcpy(out, _("(a path too long to show)"), size);
	else if (b.len <= width)
		dm_strlcpy(out, dm_buf_str(&b), size);
	else
		shorten(b.data, b.len, width, out, size);
	dm_buf_release(&b);
	errno = saved;
	return out;
}

const char *
dm_err_name(enum dm_errcode code)
{
	static const char *const names[] = {
		[DM_EOK] = "ok",
		[DM_EUSAGE] = "usage",
		[DM_EDATA] = "data",
		[DM_ENOINPUT] = "noinput",
		[DM_ECONFIG] = "config",
		[DM_ECONN] = "conn",
		[DM_ETEMP] = "temp",
		[DM_EREJECT] = "reject",
		[DM_EAUTH] = "auth",
		[DM_ETLS] = "tls",
		[DM_EPROTO] = "proto",
		[DM_EIO] = "io",
		[DM_ENOMEM] = "nomem",
		[DM_EINTERNAL] = "internal",
	};

	if ((size_t)code >= sizeof names / sizeof names[0])
		return "unknown";
	return names[code];
}
