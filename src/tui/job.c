/*
 * job.c - one background job of a screen (see job.h)
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "job.h"

void
job_init(struct job *j, void (*wake)(void *), void *wake_arg)
{
	pthread_mutex_init(&j->mu, NULL);
	atomic_init(&j->cancel, 0);
	j->joinable = 0;
	j->done = 0;
	j->fn = NULL;
	j->arg = NULL;
	j->wake = wake;
	j->wake_arg = wake_arg;
}

static void *
trampoline(void *arg)
{
	struct job *j = arg;

	j->fn(j->arg);
	job_lock(j);
	j->done = 1;
	job_unlock(j);
	/* The screen settles the job at this wake-up. */
	job_wake(j);
	return NULL;
}

int
job_start(struct job *j, void (*fn)(void *), void *arg)
{
	job_join(j);
	atomic_store(&j->cancel, 0);
	j->done = 0;
	j->fn = fn;
	j->arg = arg;
	if (pthread_create(&j->thread, NULL, trampoline, j) != 0)
		return -1;
	j->joinable = 1;
	return 0;
}

void
job_lock(struct job *j)
{
	pthread_mutex_lock(&j->mu);
}

void
job_unlock(struct job *j)
{
	pthread_mutex_unlock(&j->mu);
}

void
job_wake(struct job *j)
{
	if (j->wake != NULL)
		j->wake(j->wake_arg);
}

void
job_cancel(struct job *j)
{
	atomic_store(&j->cancel, 1);
}

int
job_cancelled(struct job *j)
{
	return atomic_load(&j->cancel);
}

atomic_int *
job_cancel_flag(struct job *j)
{
	return &j->cancel;
}

int
job_done(struct job *j)
{
	int done;

	job_lock(j);
	done = j->done;
	job_unlock(j);
	return done;
}

int
job_running(const struct job *j)
{
	return j->joinable;
}

void
job_join(struct job *j)
{
	if (!j->joinable)
		return;
	pthread_join(j->thread, NULL);
	j->joinable = 0;
}

void
job_release(struct job *j)
{
	job_cancel(j);
	job_join(j);
	pthread_mutex_destroy(&j->mu);
}
