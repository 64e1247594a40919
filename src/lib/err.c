/*
 * err.c - the error value
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>

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
