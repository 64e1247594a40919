/*
 * t-secret.c - passwords in memory and from password_command
 */
#include <stdlib.h>
#include <string.h>

#include <docmail/err.h>
#include <docmail/secret.h>

#include "tap.h"

/*
 * The password the failing commands print: it must never show up.  The
 * commands build it with printf, since messages do show the command.
 */
#define LEAK	"hunter2-leak"
#define PRINT_LEAK	"printf 'hunter%d-leak\\n' 2"

static int
clean(const struct dm_err *err)
{
	return strstr(err->msg, LEAK) == NULL &&
	    strstr(err->hint, LEAK) == NULL;
}

/* Runs cmd; returns the result, the secret in sec. */
static int
run(struct dm_secret *sec, const char *cmd, struct dm_err *err)
{
	dm_err_clear(err);
	return dm_secret_from_command(sec, cmd, err);
}

int
main(void)
{
	struct dm_secret sec;
	struct dm_err err;
	char big[DM_SECRET_MAX + 2];

	plan(50);

	dm_err_clear(&err);
	dm_secret_init(&sec);
	ok(!dm_secret_isset(&sec), "a new secret is unset");
	is_int(dm_secret_set(&sec, "abc", 3, &err), 0, "set");
	ok(dm_secret_isset(&sec) && sec.len == 3, "set: isset, len 3");
	is_str(sec.s, "abc", "set: the value, NUL-terminated");
	is_int(dm_secret_set(&sec, "", 0, &err), 0, "set to empty");
	ok(dm_secret_isset(&sec) && sec.len == 0 && sec.s[0] == '\0',
	    "empty is still set");
	is_int(dm_secret_set(&sec, "ab\0cd", 5, &err), 0,
	    "set copies len bytes");
	ok(sec.len == 5 && memcmp(sec.s, "ab\0cd", 6) == 0,
	    "bytes after a NUL are kept");
	memset(big, 'x', sizeof big);
	is_int(dm_secret_set(&sec, big, DM_SECRET_MAX + 1, &err), -1,
	    "over DM_SECRET_MAX is refused");
	is_int(err.code, DM_EDATA, "... as DM_EDATA");
	ok(sec.len == 5, "... and the old value stays");
	is_int(dm_secret_set(&sec, big, DM_SECRET_MAX, &err), 0,
	    "exactly DM_SECRET_MAX is fine");
	dm_secret_release(&sec);
	ok(!dm_secret_isset(&sec) && sec.s == NULL && sec.len == 0,
	    "release unsets");
	dm_secret_release(&sec);
	ok(1, "release twice is harmless");

	is_int(run(&sec, "echo s3cret", &err), 0, "echo");
	is_str(sec.s, "s3cret", "echo: line end stripped");
	is_int(run(&sec, "printf %s nonl", &err), 0, "printf without newline");
	is_str(sec.s, "nonl", "printf: whole output");
	is_int(run(&sec, "printf 'first\\nsecond\\n'", &err), 0, "two lines");
	is_str(sec.s, "first", "two lines: the first one only");
	is_int(run(&sec, "printf 'crlf\\r\\nx'", &err), 0, "CRLF");
	is_str(sec.s, "crlf", "CRLF: both line end bytes stripped");
	is_int(run(&sec, "printf ' sp ace '", &err), 0, "spaces");
	is_str(sec.s, " sp ace ", "spaces inside the line are kept");
	is_int(run(&sec, "echo pw; head -c 30000 /dev/zero", &err), 0,
	    "long output after the first line");
	is_str(sec.s, "pw", "... the first line wins");
	is_int(run(&sec, "test -t 0 || echo notty", &err), 0, "stdin");
	is_str(sec.s, "notty", "stdin is not the terminal");
	is_int(run(&sec, "echo \"${DOCMAIL_PW-unset}\"", &err), 0,
	    "environment");
	is_str(sec.s, "unset", "no password in the environment");

	dm_secret_release(&sec);
	(void)dm_secret_set(&sec, "keep", 4, &err);
	is_int(run(&sec, PRINT_LEAK "; exit 1", &err), -1, "exit 1 fails");
	is_int(err.code, DM_ECONFIG, "... as DM_ECONFIG");
	ok(strstr(err.msg, "failed with exit status 1") != NULL &&
	    strstr(err.msg, "password_command '") != NULL,
	    "... message names the command and status");
	ok(clean(&err), "... and not the output");
	is_str(sec.s, "keep", "... the old secret stays");

	is_int(run(&sec, "true", &err), -1, "printing nothing fails");
	ok(strstr(err.msg, "printed no password") != NULL,
	    "... printed no password");
	is_int(run(&sec, "echo; " PRINT_LEAK, &err), -1,
	    "an empty first line fails");
	ok(strstr(err.msg, "printed no password") != NULL && clean(&err),
	    "... without showing the rest");
	is_int(run(&sec, "cat", &err), -1, "cat reads /dev/null: nothing");

	is_int(run(&sec, PRINT_LEAK "; kill -9 $$", &err), -1,
	    "a killed command fails");
	ok(strstr(err.msg, "killed by signal 9") != NULL && clean(&err),
	    "... killed by signal 9");

	is_int(run(&sec, "head -c 2000 /dev/zero | tr '\\0' a", &err), -1,
	    "an over-long line fails");
	ok(strstr(err.msg, "longer than 1024") != NULL,
	    "... longer than 1024 bytes");
	is_int(run(&sec, "head -c 1024 /dev/zero | tr '\\0' a; echo", &err),
	    0, "exactly 1024 bytes is fine");
	is_int(sec.len, 1024, "... all of them");

	is_int(run(&sec, "/nonexistent/docmail-pw 2>/dev/null", &err), -1,
	    "a missing command fails");
	ok(strstr(err.msg, "exit status 127") != NULL &&
	    strstr(err.hint, "did not find") != NULL,
	    "... status 127 and a hint");

	is_int(run(&sec, "exit 2 # \033[31m", &err), -1,
	    "a command with an escape sequence");
	ok(strchr(err.msg, '\033') == NULL &&
	    strstr(err.msg, "\\x1b[31m") != NULL,
	    "... is shown escaped");

	dm_secret_release(&sec);
	return done_testing();
}
