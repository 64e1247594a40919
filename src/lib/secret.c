/*
 * secret.c - the one place a password lives
 *
 * A password is copied only into memory this module owns and is wiped
 * before that memory is given back.  password_command runs through
 * /bin/sh with its output on a pipe, so the password never appears on
 * an argument list, in the environment or in a file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/i18n.h>
#include <docmail/secret.h>

/* Output read after the first line, thrown away, before we stop reading. */
#define DRAIN_MAX	(64 * 1024)

/* How much of a command a message shows. */
#define CMD_SHOW_MAX	120

void
dm_secret_init(struct dm_secret *sec)
{
	sec->s = NULL;
	sec->len = 0;
}

void
dm_secret_release(struct dm_secret *sec)
{
	if (sec->s != NULL) {
		explicit_bzero(sec->s, sec->len + 1);
		free(sec->s);
	}
	dm_secret_init(sec);
}

int
dm_secret_isset(const struct dm_secret *sec)
{
	return sec->s != NULL;
}

/* dm_secret_set() without the password's length limit. */
static int
secret_copy(struct dm_secret *sec, const char *s, size_t len,
    struct dm_err *err)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	dm_secret_release(sec);
	sec->s = p;
	sec->len = len;
	return 0;
}

int
dm_secret_set(struct dm_secret *sec, const char *s, size_t len,
    struct dm_err *err)
{
	if (len > DM_SECRET_MAX)
		return dm_err_set(err, DM_EDATA,
		    _("password too long (more than %d bytes)"), DM_SECRET_MAX);
	return secret_copy(sec, s, len, err);
}

/*
 * The command as messages show it: control characters escaped, so a
 * command from the config file cannot reach the terminal as an escape
 * sequence, and cut so that the message stays readable.
 */
static void
show_cmd(char *dst, size_t dsize, const char *cmd)
{
	struct dm_buf b;
	struct dm_err e;
	size_t n;

	dm_buf_init(&b, 0);
	n = strlen(cmd);
	if (n > CMD_SHOW_MAX)
		n = CMD_SHOW_MAX;
	if (dm_buf_add_printable(&b, cmd, n, &e) == -1 ||
	    (n < strlen(cmd) && dm_buf_addstr(&b, "...", &e) == -1))
		dm_strlcpy(dst, "?", dsize);
	else
		(void)dm_strlcpy(dst, dm_buf_str(&b), dsize);
	dm_buf_release(&b);
}

static ssize_t
read_retry(int fd, char *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * Runs cmd (the value of config key key) and keeps the first line of
 * its output, at most max bytes, as a secret called what in messages.
 */
static int
from_command(struct dm_secret *sec, const char *cmd, const char *key,
    const char *what, size_t max, struct dm_err *err)
{
	char *buf, junk[4096], shown[CMD_SHOW_MAX * 4 + 8];
	size_t len = 0, drained = 0, line;
	int fds[2] = { -1, -1 }, devnull = -1, status, r = -1, saved;
	int toolong = 0, rerr = 0;
	pid_t pid, w;
	ssize_t n;
	char *nl;

	show_cmd(shown, sizeof shown, cmd);
	if ((buf = malloc(max + 2)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		dm_err_set(err, DM_ECONFIG,
		    _("cannot run %s '%s': /dev/null: %s"), key, shown,
		    strerror(errno));
		goto out;
	}
	if (pipe(fds) == -1 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) == -1) {
		dm_err_set(err, DM_ECONFIG,
		    _("cannot run %s '%s': %s"), key, shown,
		    strerror(errno));
		goto out;
	}
	if ((pid = fork()) == -1) {
		dm_err_set(err, DM_ECONFIG,
		    _("cannot run %s '%s': %s"), key, shown,
		    strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/*
		 * Only async-signal-safe calls until exec.  dup2() clears
		 * close-on-exec on the copies; every other descriptor we
		 * opened here has it set.
		 */
		if (dup2(devnull, STDIN_FILENO) == -1 ||
		    dup2(fds[1], STDOUT_FILENO) == -1)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;

	/* One byte more than a password may have, to notice a longer one. */
	while (len < max + 1) {
		n = read_retry(fds[0], buf + len, max + 1 - len);
		if (n == -1) {
			rerr = errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	/*
	 * Keep reading what follows the first line (pass(1) prints notes
	 * after the password), so the command is not killed by SIGPIPE,
	 * but only up to a limit: a command that never stops writing must
	 * not hang us.
	 */
	if (len == max + 1 && rerr == 0) {
		while (drained < DRAIN_MAX &&
		    (n = read_retry(fds[0], junk, sizeof junk)) > 0)
			drained += (size_t)n;
		explicit_bzero(junk, sizeof junk);
	}
	close(fds[0]);
	fds[0] = -1;

	do
		w = waitpid(pid, &status, 0);
	while (w == -1 && errno == EINTR);
	if (w == -1) {
		dm_err_set(err, DM_ECONFIG,
		    _("cannot run %s '%s': %s"), key, shown,
		    strerror(errno));
		goto out;
	}

	if ((nl = memchr(buf, '\n', len)) != NULL)
		line = (size_t)(nl - buf);
	else {
		line = len;
		toolong = len > max;
	}
	if (line > 0 && buf[line - 1] == '\r')
		line--;

	if (WIFSIGNALED(status)) {
		dm_err_set(err, DM_ECONFIG,
		    _("%s '%s' was killed by signal %d"), key, shown,
		    WTERMSIG(status));
		dm_err_hint(err, _("run the command yourself to see why"));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		dm_err_set(err, DM_ECONFIG,
		    _("%s '%s' failed with exit status %d"), key, shown,
		    status);
		if (status == 127)
			dm_err_hint(err, _("the shell did not find the command; check its name and PATH"));
		else
			dm_err_hint(err, _("run the command yourself to see what it says on stderr"));
		goto out;
	}
	if (rerr != 0) {
		dm_err_set(err, DM_ECONFIG,
		    _("cannot read the output of %s '%s': %s"),
		    key, shown, strerror(rerr));
		goto out;
	}
	if (toolong) {
		dm_err_set(err, DM_ECONFIG,
		    _("%s '%s' printed a line longer than %zu bytes"),
		    key, shown, max);
		dm_err_hint(err, _("the %s must be the first line of its output"),
		    what);
		goto out;
	}
	if (line == 0) {
		dm_err_set(err, DM_ECONFIG,
		    _("%s '%s' printed no %s"), key, shown, what);
		dm_err_hint(err, _("the %s must be the first line of its output"),
		    what);
		goto out;
	}
	if (secret_copy(sec, buf, line, err) == -1)
		goto out;
	r = 0;
out:
	saved = errno;
	explicit_bzero(buf, max + 2);
	free(buf);
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	if (devnull != -1)
		close(devnull);
	errno = saved;
	return r;
}

int
dm_secret_from_command(struct dm_secret *sec, const char *cmd,
    struct dm_err *err)
{
	return from_command(sec, cmd, "password_command", _("password"),
	    DM_SECRET_MAX, err);
}

int
dm_secret_from_token_command(struct dm_secret *sec, const char *cmd,
    struct dm_err *err)
{
	if (from_command(sec, cmd, "oauth2_token_command", _("access token"),
	    DM_TOKEN_MAX, err) == 0)
		return 0;
	/* No token is a failed login, not a broken file (contract: 77). */
	if (err->code == DM_ECONFIG)
		err->code = DM_EAUTH;
	return -1;
}
