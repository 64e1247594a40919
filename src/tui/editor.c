/*
 * editor.c - the text of an email in the user's own editor: $VISUAL,
 * else $EDITOR, else vi, run on the terminal curses has left, and the
 * file read back as text fit for a message
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/file.h>
#include <docmail/i18n.h>

#include "editor.h"

int
tui_editor_read(const char *path, size_t max, char **out,
    struct dm_err *err)
{
	struct dm_buf b;
	char *p, *q;
	int r = -1;

	dm_buf_init(&b, max);
	if (dm_file_read(path, 0, &b) == -1) {
		if (errno == EFBIG)
			dm_err_set(err, DM_EDATA,
			    _("the edited text is larger than %d KB"),
			    (int)(max / 1024));
		else if (errno == ENOMEM)
			dm_err_set(err, DM_ENOMEM, _("out of memory"));
		else
			dm_err_set(err, DM_EIO,
			    _("cannot read the edited text: %s"), strerror(errno));
		goto out;
	}
	if (memchr(dm_buf_str(&b), '\0', b.len) != NULL ||
	    !dm_utf8_valid(dm_buf_str(&b), b.len)) {
		dm_err_set(err, DM_EDATA, _("the edited text is not UTF-8 text"));
		dm_err_hint(err, _("save it as UTF-8; the text is unchanged"));
		goto out;
	}
	if ((p = dm_buf_detach(&b)) == NULL) {
		dm_err_set(err, DM_ENOMEM, _("out of memory"));
		goto out;
	}
	/* CRs go, tabs become blanks, other control characters '?'. */
	for (q = *out = p; *p != '\0'; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\t')
			*p = ' ';
		else if (*p != '\n' && ((unsigned char)*p < 0x20 || *p == 0x7f))
			*p = '?';
		*q++ = *p;
	}
	*q = '\0';
	while (q > *out && q[-1] == '\n')
		*--q = '\0';
	r = 0;
out:
	dm_buf_release(&b);
	return r;
}

int
tui_editor_run(const char *path, struct dm_err *err)
{
	const char *ed = getenv("VISUAL");
	struct sigaction ign, oint, oquit;
	char cmd[1024];
	pid_t pid;
	int status;

	if (ed == NULL || ed[0] == '\0')
		ed = getenv("EDITOR");
	if (ed == NULL || ed[0] == '\0')
		ed = "vi";
	/* Like git: the variable may hold arguments, the shell splits it. */
	if (snprintf(cmd, sizeof cmd, "%s \"$@\"", ed) >= (int)sizeof cmd)
		return dm_err_set(err, DM_EUSAGE, _("$VISUAL or $EDITOR is too long"));
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	(void)sigaction(SIGINT, &ign, &oint);
	(void)sigaction(SIGQUIT, &ign, &oquit);
	if ((pid = fork()) == -1) {
		status = errno;
		(void)sigaction(SIGINT, &oint, NULL);
		(void)sigaction(SIGQUIT, &oquit, NULL);
		return dm_err_set(err, DM_EIO, _("cannot start the editor: %s"),
		    strerror(status));
	}
	if (pid == 0) {
		(void)signal(SIGINT, SIG_DFL);
		(void)signal(SIGQUIT, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, ed, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	(void)sigaction(SIGINT, &oint, NULL);
	(void)sigaction(SIGQUIT, &oquit, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dm_err_set(err, DM_EUSAGE, _("the editor '%s' failed (%s %d)"), ed,
		    WIFEXITED(status) ? _("exit status") : _("signal"),
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return dm_err_hint(err, _("the text is unchanged; set VISUAL or EDITOR to an editor that works"));
	}
	return 0;
}
