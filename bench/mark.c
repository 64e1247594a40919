/*
 * mark.c - how long does the "may have been delivered" mark take?
 *
 * That mark is written between a message's last byte and its final
 * dot, so the server waits for it.  Stores a message of SIZE bytes in a
 * scratch outbox under DIR and times, best of RUNS, the mark written in
 * place (dm_outbox_update_state, what docmail does) and the whole item
 * rewritten (dm_outbox_update, what it did before), both made durable.
 *      usage: mark DIR SIZE RUNS      prints: SIZE IN_PLACE_US REWRITE_US
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docmail/outbox.h>

struct src {
	size_t	 left;
	char	 buf[65536];
};

static ssize_t
src_read(void *arg, char *buf, size_t len, struct dm_err *err)
{
	struct src *s = arg;

	(void)err;
	if (len > s->left)
		len = s->left;
	if (len > sizeof s->buf)
		len = sizeof s->buf;
	memcpy(buf, s->buf, len);
	s->left -= len;
	return (ssize_t)len;
}

static size_t total;

static int
src_rewind(void *arg, struct dm_err *err)
{
	struct src *s = arg;

	(void)err;
	s->left = total;
	return 0;
}

static long
us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000L +
	    (t.tv_nsec - t0->tv_nsec) / 1000L;
}

int
main(int argc, char **argv)
{
	static struct src s;
	char *rcpt[] = { "bob@example.test" };
	struct dm_outbox_item meta, it;
	struct dm_stream st = { src_read, src_rewind, &s };
	struct timespec t0;
	struct dm_err err;
	long best_in = -1, best_rw = -1, us;
	char *dir;
	int i, runs;

	if (argc != 4)
		return 2;
	runs = atoi(argv[3]);
	memset(s.buf, 'x', sizeof s.buf);
	for (i = 0; i < (int)sizeof s.buf; i += 78)
		s.buf[i] = '\n';
	total = strtoull(argv[2], NULL, 10);
	memset(&meta, 0, sizeof meta);
	meta.sender = "anna@example.test";
	meta.rcpt = rcpt;
	meta.nrcpt = 1;
	meta.message_id = "bench@example.test";
	meta.subject = "Bench";
	if ((dir = dm_outbox_open(argv[1], &err)) == NULL ||
	    dm_outbox_add(dir, &meta, &st, &it, DM_SYNC_NOW, &err) == -1) {
		fprintf(stderr, "mark: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < runs; i++) {
		it.state = i % 2 ? DM_OB_QUEUED : DM_OB_MAYBE_SENT;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dm_outbox_update_state(&it, &err) == -1)
			break;
		us = us_since(&t0);
		if (best_in < 0 || us < best_in)
			best_in = us;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dm_outbox_update(&it, &err) == -1)
			break;
		us = us_since(&t0);
		if (best_rw < 0 || us < best_rw)
			best_rw = us;
	}
	if (i < runs) {
		fprintf(stderr, "mark: %s\n", err.msg);
		return 1;
	}
	printf("%s %ld %ld\n", argv[2], best_in, best_rw);
	(void)dm_outbox_remove(&it, DM_SYNC_NOW, &err);
	dm_outbox_item_release(&it);
	free(dir);
	return 0;
}
