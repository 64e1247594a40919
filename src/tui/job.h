/*
 * job.h - one background job of a screen: a worker on its own thread
 *
 * A Test connection, a send, a retry, a batch and a sign-in each run a
 * worker function on a thread so that the screen stays responsive.
 * The worker posts what the screen shows into the screen's own struct
 * under job_lock() and calls job_wake(), which wakes the main loop
 * (tui_wake(), the loop's self-pipe); it polls job_cancelled(), or
 * hands job_cancel_flag() to the engine's cancel hook.  The screen
 * reads what was posted under job_lock(), sees job_done() when the
 * worker returned, and job_join()s it.  One copy of this, not one per
 * screen: a second that differs slightly is where bugs hide.
 *
 * No curses here: the wake-up is a function the screen passes (tui_wake
 * through tui_waker()), so tests/t-job.c drives this alone.
 */
#ifndef DOCMAIL_TUI_JOB_H
#define DOCMAIL_TUI_JOB_H

#include <pthread.h>
#include <stdatomic.h>

struct job {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	atomic_int	 cancel;
	int		 joinable;	/* the main thread's: a thread to join */
	int		 done;		/* under mu: the worker returned */
	void		(*fn)(void *);
	void		*arg;
	void		(*wake)(void *);
	void		*wake_arg;
};

/*
 * Sets j up, not started; wake(wake_arg) wakes the main loop (NULL: no
 * wake-ups).  Every other function may follow, in any order;
 * job_release() ends it.
 */
void	job_init(struct job *j, void (*wake)(void *), void *wake_arg);

/*
 * Runs fn(arg) on a new thread, with the cancel flag and done cleared.
 * A job that ran before is joined first, so a screen may start its job
 * again (a resend).  When fn returns, done is set under the lock and
 * the loop is woken.  Returns -1 when no thread could be started (fn
 * never runs; the job stays not started).
 */
int	job_start(struct job *j, void (*fn)(void *), void *arg);

/* The lock over what the worker posts and the screen reads. */
void	job_lock(struct job *j);
void	job_unlock(struct job *j);
/* From the worker: something to show; a full pipe drops nothing. */
void	job_wake(struct job *j);

/* Asks the worker to stop; it sees it at its next poll. */
void	job_cancel(struct job *j);
int	job_cancelled(struct job *j);
/* For the engine's cancel hooks (dm_smtp_params.cancel, oauth2 waits). */
atomic_int *job_cancel_flag(struct job *j);

/* 1 when the worker returned (its thread may still want a join). */
int	job_done(struct job *j);
/* 1 between a job_start() that succeeded and its job_join(). */
int	job_running(const struct job *j);

/*
 * Waits for the worker to return.  A no-op when it never started or
 * was joined already: safe to call in every state.
 */
void	job_join(struct job *j);

/*
 * Cancels, joins and frees what job_init() set up.  Safe in every
 * state after job_init(); j may be set up again with job_init().
 */
void	job_release(struct job *j);

#endif
