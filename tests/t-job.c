/*
 * t-job.c - tests for the screens' background-job helper (src/tui/job.c):
 * a worker posts under the lock and wakes the loop, sees a cancel, is
 * joined once, and join and release are safe in every state
 */
#include "config.h"

#include <stdatomic.h>
#include <time.h>

#include "../src/tui/job.h"

#include "tap.h"

static atomic_int wakes;

static void
count_wake(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

struct work {
	struct job	 job;
	int		 posted;	/* under the job's lock */
	int		 saw_cancel;
	atomic_int	 ran;
};

/* Posts three values, as a send posts its steps. */
static void
poster(void *arg)
{
	struct work *w = arg;
	int i;

	atomic_fetch_add(&w->ran, 1);
	for (i = 1; i <= 3; i++) {
		job_lock(&w->job);
		w->posted = i;
		job_unlock(&w->job);
		job_wake(&w->job);
	}
}

/* Runs until cancelled, through the flag an engine would poll. */
static void
waiter(void *arg)
{
	struct work *w = arg;
	struct timespec ts = { 0, 1000000L };

	atomic_fetch_add(&w->ran, 1);
	while (!atomic_load(job_cancel_flag(&w->job)))
		nanosleep(&ts, NULL);
	w->saw_cancel = 1;
}

static void
setup(struct work *w)
{
	w->posted = 0;
	w->saw_cancel = 0;
	atomic_init(&w->ran, 0);
	atomic_store(&wakes, 0);
	job_init(&w->job, count_wake, &wakes);
}

int
main(void)
{
	struct work w;

	plan(19);

	/* Never started: nothing to join, nothing to wake. */
	setup(&w);
	ok(!job_running(&w.job) && !job_done(&w.job),
	    "a new job is neither running nor done");
	job_join(&w.job);
	job_join(&w.job);
	ok(!job_running(&w.job), "joining a job never started is a no-op");
	job_cancel(&w.job);
	ok(job_cancelled(&w.job), "a job not started can be cancelled");
	job_release(&w.job);
	is_int(atomic_load(&wakes), 0, "... and released, without a wake-up");

	/* Started: posts arrive, the end wakes the loop once more. */
	setup(&w);
	job_cancel(&w.job);
	is_int(job_start(&w.job, poster, &w), 0, "start");
	ok(job_running(&w.job), "running after start");
	job_join(&w.job);
	ok(!job_cancelled(&w.job), "start clears an earlier cancel");
	ok(job_done(&w.job), "done once the worker returned");
	ok(!job_running(&w.job), "not running once joined");
	job_lock(&w.job);
	is_int(w.posted, 3, "what the worker posted is there");
	job_unlock(&w.job);
	is_int(atomic_load(&wakes), 4, "a wake-up per post and one at the end");
	job_join(&w.job);
	ok(!job_running(&w.job), "a second join is a no-op");

	/* Started again without a join in between: the old one is joined. */
	atomic_store(&wakes, 0);
	is_int(job_start(&w.job, poster, &w), 0, "start again");
	while (!job_done(&w.job))
		;
	is_int(job_start(&w.job, poster, &w), 0,
	    "start once more, the last one not joined yet");
	job_release(&w.job);
	is_int(atomic_load(&w.ran), 3, "each start ran the worker once");

	/* Running until cancelled: cancel and join, or release at once. */
	setup(&w);
	is_int(job_start(&w.job, waiter, &w), 0, "start a worker that waits");
	job_cancel(&w.job);
	job_join(&w.job);
	ok(w.saw_cancel && job_done(&w.job),
	    "the worker saw the cancel through the engine's flag");
	job_release(&w.job);

	setup(&w);
	is_int(job_start(&w.job, waiter, &w), 0, "start it again");
	/* As a screen left while the job runs: release cancels and joins. */
	job_release(&w.job);
	ok(w.saw_cancel, "release of a running job stops and joins it");

	return done_testing();
}
