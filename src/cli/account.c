/*
 * account.c - from a profile to what the SMTP engine needs: the
 * password (config, password_command or a prompt) and the parameters
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <docmail/i18n.h>

#include "cli.h"

/* Asks on the terminal without echo; no terminal is a config error. */
static int
prompt_password(const struct dm_profile *p, struct dm_secret *out,
    struct dm_err *err)
{
	struct termios old, quiet;
	char line[DM_SECRET_MAX + 2];
	size_t n = 0;
	ssize_t r;
	char c;
	int fd, ret = -1;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1) {
		dm_err_set(err, DM_ECONFIG,
		    _("profile '%s' has no password and there is no terminal to ask for it"),
		    p->id);
		return dm_err_hint(err, _("set password_command (e.g. 'pass show mail/anna') or password in the config"));
	}
	if (tcgetattr(fd, &old) == -1) {
		close(fd);
		return dm_err_set(err, DM_ECONFIG,
		    _("cannot ask for the password: %s"), strerror(errno));
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off before the prompt, so nothing typed early is shown. */
	(void)tcsetattr(fd, TCSANOW, &quiet);
	(void)dprintf(fd, _("Password for %s at %s: "), p->user, p->host);
	for (;;) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n < sizeof line - 1)
			line[n++] = c;
	}
	(void)tcsetattr(fd, TCSANOW, &old);
	/* The newline the hidden Enter did not echo; cosmetic if lost. */
	if (write(fd, "\n", 1) == -1)
		(void)0;
	close(fd);
	if (n == 0) {
		dm_err_set(err, DM_EAUTH, _("no password given"));
		dm_err_hint(err, _("type the password (or app password) of %s"),
		    p->user);
	} else if (n > DM_SECRET_MAX)
		dm_err_set(err, DM_EDATA, _("the password is too long"));
	else
		ret = dm_secret_set(out, line, n, err);
	explicit_bzero(line, sizeof line);
	return ret;
}

int
cli_password(const struct dm_profile *p, struct dm_secret *out,
    struct dm_err *err)
{
	int need_prompt = 0;

	if (p->user == NULL || p->user[0] == '\0')
		return 0;	/* no login configured */
	if (dm_profile_password(p, out, &need_prompt, err) == -1)
		return -1;
	if (need_prompt)
		return prompt_password(p, out, err);
	return 0;
}

