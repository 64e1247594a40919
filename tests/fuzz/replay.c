/*
 * replay.c - runs a fuzz target over its inputs as a TAP test
 *
 * Without arguments the inputs are the files in tests/fuzz/corpus/NAME
 * (the seeds) and tests/fuzz/regress/NAME (inputs that once failed)
 * under $top_srcdir, NAME being the target this program was built for.
 * Arguments name other files or directories, e.g. a crash to retry.
 * A failing input aborts the program; the file is named first.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FZ_NAME
#error FZ_NAME must name the target
#endif

static const char *current;
static int count;

static void
on_abort(int sig)
{
	static const char pre[] = "# failed on input: ";

	/* Only what is safe in a signal handler. */
	if (current != NULL) {
		(void)!write(STDOUT_FILENO, pre, sizeof pre - 1);
		(void)!write(STDOUT_FILENO, current, strlen(current));
		(void)!write(STDOUT_FILENO, "\n", 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
run_file(const char *path)
{
	uint8_t *data = NULL, *p;
	size_t n = 0, cap = 0;
	size_t r;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
		return 1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((p = realloc(data, cap)) == NULL)
				abort();
			data = p;
		}
		if ((r = fread(data + n, 1, cap - n, fp)) == 0)
			break;
		n += r;
	}
	fclose(fp);
	fflush(stdout);
	current = path;
	(void)LLVMFuzzerTestOneInput(data, n);
	current = NULL;
	free(data);
	printf("ok %d - %s\n", ++count, path);
	return 0;
}

static int
skip_dot(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* A file, or every file in a directory; a missing directory is empty. */
static int
run_path(const char *path, int must_exist)
{
	struct dirent **ents;
	struct stat sb;
	char sub[4096];
	int i, n, bad = 0;

	if (stat(path, &sb) == -1) {
		if (!must_exist && errno == ENOENT)
			return 0;
		printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(sb.st_mode))
		return run_file(path);
	if ((n = scandir(path, &ents, skip_dot, alphasort)) == -1) {
		printf("not ok %d - %s: %s\n", ++count, path, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path,
		    ents[i]->d_name) >= sizeof sub)
			abort();
		bad |= run_path(sub, 1);
		free(ents[i]);
	}
	free(ents);
	return bad;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char dir[4096];
	int i, bad = 0;

	signal(SIGABRT, on_abort);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			bad |= run_path(argv[i], 1);
	} else {
		if (top == NULL || *top == '\0')
			top = ".";
		if ((size_t)snprintf(dir, sizeof dir,
		    "%s/tests/fuzz/corpus/%s", top, FZ_NAME) >= sizeof dir)
			abort();
		bad |= run_path(dir, 1);
		if ((size_t)snprintf(dir, sizeof dir,
		    "%s/tests/fuzz/regress/%s", top, FZ_NAME) >= sizeof dir)
			abort();
		bad |= run_path(dir, 0);
	}
	if (count == 0)
		printf("not ok 1 - no inputs for %s\n", FZ_NAME);
	printf("1..%d\n", count == 0 ? 1 : count);
	return bad || count == 0;
}
