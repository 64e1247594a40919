/*
 * smtp-net.c - connecting with a deadline, and the plain dialogue
 * before TLS (greeting, EHLO, STARTTLS) that docmail does itself
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <docmail/i18n.h>

#include "smtp-int.h"

/* Waits for events on fd; returns >0 ready, 0 timeout, -1 error. */
int
smtpi_net_wait(int fd, short events, int ms)
{
	struct pollfd pfd = { fd, events, 0 };
	int r;

	do
		r = poll(&pfd, 1, ms);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * Like smtpi_net_wait(), in slices, so that a cancel (Esc in the screens) is
 * seen within a fifth of a second, not only at the deadline.  Returns
 * -2 when cancelled.
 */
int
smtpi_net_wait_cancellable(const struct sess *s, int fd, short events, int ms)
{
	struct timespec t0;
	int left, r;

	dm_clock_now(&t0);
	for (;;) {
		if (smtpi_sess_cancelled(s))
			return -2;
		left = ms - (int)dm_clock_ms_since(&t0);
		if (left <= 0)
			return 0;
		r = smtpi_net_wait(fd, events, left < 200 ? left : 200);
		if (r != 0)
			return r;
	}
}

/* Connects one address, giving up at the deadline; returns the fd or -1. */
static int
connect_one(const struct sess *s, const struct addrinfo *ai, int ms,
    int *eno)
{
	socklen_t len = sizeof *eno;
	int fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*eno = errno;
		return -1;
	}
	/* Nagle plus delayed ACKs costs ~40 ms per small TLS write. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*eno = errno;
		close(fd);
		return -1;
	}
	switch (smtpi_net_wait_cancellable(s, fd, POLLOUT, ms)) {
	case 0:
		*eno = ETIMEDOUT;
		close(fd);
		return -1;
	case -2:
		*eno = ECANCELED;
		close(fd);
		return -1;
	case -1:
		*eno = errno;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, eno, &len) == -1)
		*eno = errno;
	if (*eno != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
smtpi_net_connect(struct sess *s, struct dm_err *err)
{
	const struct dm_smtp_params *p = s->p;
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], where[300];
	int r, eno = 0, ms;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	(void)snprintf(port, sizeof port, "%d", p->port);
	/* TRANSLATORS: "localhost port 587", quoted in connection errors. */
	(void)snprintf(where, sizeof where, _("%s port %d"), p->host, p->port);
	r = getaddrinfo(p->host, port, &hints, &res);
	if (r != 0) {
		dm_err_set(err, DM_ECONN, _("cannot find the server '%s': %s"),
		    p->host, gai_strerror(r));
		dm_err_hint(err, _("check the host name in the settings, and that this machine can resolve names"));
		smtpi_sess_step(s, DM_STEP_RESOLVE, 0, err->msg);
		return -1;
	}
	smtpi_sess_step(s, DM_STEP_RESOLVE, 1, NULL);

	/* Every address in turn (IPv6 and IPv4), each with the full timeout. */
	ms = p->timeout * 1000;
	s->fd = -1;
	for (ai = res; ai != NULL && s->fd == -1; ai = ai->ai_next) {
		if (smtpi_sess_cancelled(s)) {
			eno = ECANCELED;
			break;
		}
		s->fd = connect_one(s, ai, ms, &eno);
	}
	freeaddrinfo(res);
	if (s->fd != -1) {
		smtpi_sess_step(s, DM_STEP_CONNECT, 1, NULL);
		return 0;
	}
	switch (eno) {
	case ECONNREFUSED:
		dm_err_set(err, DM_ECONN, _("cannot connect to %s: connection refused"),
		    where);
		dm_err_hint(err, _("nothing listens there: check host and port (465 uses security = ssl, 587 uses starttls)"));
		break;
	case ETIMEDOUT:
		dm_err_set(err, DM_ECONN, _("cannot connect to %s: no answer within %d seconds"),
		    where, p->timeout);
		dm_err_hint(err, _("check host and port; a firewall may drop the connection"));
		break;
	case ECANCELED:
		dm_err_set(err, DM_ETEMP, _("cancelled while connecting to %s"),
		    where);
		break;
	default:
		dm_err_set(err, DM_ECONN, _("cannot connect to %s: %s"), where,
		    strerror(eno));
		dm_err_hint(err, _("check host and port, and the network"));
	}
	smtpi_sess_step(s, DM_STEP_CONNECT, 0, err->msg);
	return -1;
}

int
smtpi_net_write(struct sess *s, const char *p, size_t n, struct dm_err *err)
{
	ssize_t w;

	while (n > 0) {
		switch (smtpi_net_wait_cancellable(s, s->fd, POLLOUT,
		    s->p->timeout * 1000)) {
		case 0:
		case -1:
			return dm_err_set(err, DM_ETEMP,
			    _("timeout writing to the server"));
		case -2:
			return dm_err_set(err, DM_ETEMP, _("cancelled by the user"));
		}
		w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w == -1)
			return dm_err_set(err, DM_ECONN,
			    _("connection to the server lost: %s"),
			    strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
smtpi_net_pending(struct sess *s)
{
	char c;

	return smtpi_net_wait(s->fd, POLLIN, 0) > 0 &&
	    recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

int
smtpi_bad_reply(struct dm_err *err, const char *what, const char *l, size_t n)
{
	char txt[80];

	smtpi_sanitize(txt, sizeof txt, l, n);
	dm_err_set(err, DM_EPROTO, _("the server %s: '%s'"), what, txt);
	return dm_err_hint(err, "%s", HINT_BROKEN_SERVER);
}

/*
 * Reads byte by byte up to the end of one whole reply: before TLS, no
 * byte after the reply may be consumed, since it belongs to the TLS
 * handshake (and bytes a server injects there must not be trusted).
 */
int
smtpi_net_read_reply(struct sess *s, struct dm_buf *out, int *code,
    struct dm_err *err)
{
	return smtpi_net_read_reply_ms(s, out, code, s->p->timeout * 1000, err);
}

int
smtpi_net_read_reply_ms(struct sess *s, struct dm_buf *out, int *code, int ms,
    struct dm_err *err)
{
	struct timespec t0;
	size_t start;
	char c;
	ssize_t n;
	int r, left, first = 0;

	dm_buf_reset(out);
	dm_clock_now(&t0);
	for (;;) {
		start = out->len;
		for (;;) {
			/* The whole reply within the timeout: a trickle too. */
			left = ms - (int)dm_clock_ms_since(&t0);
			r = left <= 0 ? 0 : smtpi_net_wait_cancellable(s, s->fd,
			    POLLIN, left);
			if (r == -2)
				return dm_err_set(err, DM_ETEMP, _("cancelled by the user"));
			if (r == 0 && out->len > 0) {
				/* A trickle: the clock is for the whole reply. */
				dm_err_set(err, DM_ETEMP,
				    _("timeout: the server sent only part of a reply within %d seconds"),
				    s->p->timeout);
				return dm_err_hint(err, _("the server answers far too slowly; try again later (the message stays in the outbox), or raise timeout in the settings"));
			}
			if (r == 0)
				return dm_err_set(err, DM_ETEMP,
				    _("no reply from the server within %d seconds"),
				    (ms + 999) / 1000);
			if (r == -1)
				return dm_err_set(err, DM_ECONN, _("poll: %s"),
				    strerror(errno));
			n = recv(s->fd, &c, 1, 0);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n == -1)
				return dm_err_set(err, DM_ECONN,
				    _("connection to the server lost: %s"),
				    strerror(errno));
			if (n == 0)
				return dm_err_set(err, DM_ECONN,
				    _("the server closed the connection"));
			if (dm_buf_addc(out, c, err) == -1 ||
			    out->len - start > 4096)
				return smtpi_bad_reply(err,
				    _("sent an over-long reply line (more than 4096 bytes)"),
				    out->data + start, 40);
			if (c == '\n')
				break;
		}
		*code = smtpi_reply_code(out->data + start, out->len - start);
		if (*code == 0) {
			smtpi_bad_reply(err, _("does not speak SMTP"),
			    out->data + start, out->len - start);
			return dm_err_hint(err, _("check host and port: this is not a mail server's SMTP port"));
		}
		/* Every line of one reply has the same code (RFC 5321 4.2.1). */
		if (first != 0 && *code != first)
			return smtpi_bad_reply(err,
			    _("sent mixed reply codes in one reply"),
			    out->data + start, out->len - start);
		first = *code;
		if (out->len > 64 * 1024)
			return smtpi_bad_reply(err,
			    _("sent an over-long reply (more than 65536 bytes)"),
			    out->data, 40);
		/* "250-" goes on, "250 " (or a bare "250") ends the reply. */
		if (out->len - start < 4 || out->data[start + 3] != '-')
			return 0;
	}
}
