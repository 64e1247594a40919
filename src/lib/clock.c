/*
 * clock.c - elapsed time on the monotonic clock
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <docmail/clock.h>

void
dm_clock_now(struct timespec *t)
{
	(void)clock_gettime(CLOCK_MONOTONIC, t);
}

long
dm_clock_ms_since(const struct timespec *t)
{
	struct timespec now;

	dm_clock_now(&now);
	return (long)(now.tv_sec - t->tv_sec) * 1000L +
	    (now.tv_nsec - t->tv_nsec) / 1000000L;
}
