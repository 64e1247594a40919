/*
 * exitcode.c - the one table from error class to sysexits(3) code
 */
#include "config.h"

#include <sysexits.h>

#include "cli.h"

int
cli_exitcode(const struct dm_err *err)
{
	switch (err->code) {
	case DM_EOK:
		return EX_OK;
	case DM_EUSAGE:
		return EX_USAGE;
	case DM_EDATA:
		return EX_DATAERR;
	case DM_ENOINPUT:
		return EX_NOINPUT;
	case DM_ECONFIG:
		return EX_CONFIG;
	case DM_ECONN:
	case DM_ETEMP:
		return EX_TEMPFAIL;
	case DM_EREJECT:
		return EX_UNAVAILABLE;
	case DM_EAUTH:
	case DM_ETLS:
		return EX_NOPERM;
	case DM_EPROTO:
		return EX_PROTOCOL;
	case DM_EIO:
		return EX_IOERR;
	case DM_ENOMEM:
		return EX_OSERR;
	case DM_EINTERNAL:
		break;
	}
	return EX_SOFTWARE;
}
