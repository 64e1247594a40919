/*
 * clock.h - elapsed time on the monotonic clock
 *
 * Timeouts, pacing and the seconds a screen shows a step waiting all
 * measure from a CLOCK_MONOTONIC instant, which no change of the
 * wall clock moves.
 */
#ifndef DOCMAIL_CLOCK_H
#define DOCMAIL_CLOCK_H

#include <time.h>

/* The monotonic clock's now. */
void	dm_clock_now(struct timespec *);

/* Milliseconds since t (a dm_clock_now() instant). */
long	dm_clock_ms_since(const struct timespec *t);

#endif /* DOCMAIL_CLOCK_H */
