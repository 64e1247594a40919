/*
 * deliver.c - send one outbox item and settle it
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <docmail/deliver.h>
#include <docmail/i18n.h>

void
dm_delivery_release(struct dm_delivery *d)
{
	size_t i;

	int n;

	for (i = 0; d->mailbox != NULL && i < d->nrcpt; i++)
		free(d->mailbox[i]);
	free(d->mailbox);
	free(d->rcpt);
	for (n = 0; n < d->nwarn; n++)
		free(d->warn[n]);
	memset(d, 0, sizeof *d);
}

void
dm_delivery_warn(struct dm_delivery *d, const char *what,
    const struct dm_err *e)
{
	char *w;

	if (d->nwarn >= DM_DELIVER_WARN_MAX ||
	    (w = malloc(DM_ERR_MSG_MAX)) == NULL)
		return;
	/* Cut if need be: a warning's gist is at its start. */
	dm_strlcpy(w, what, DM_ERR_MSG_MAX);
	dm_strlcpy(w + strlen(w), ": ", DM_ERR_MSG_MAX - strlen(w));
	dm_strlcpy(w + strlen(w), e->msg, DM_ERR_MSG_MAX - strlen(w));
	d->warn[d->nwarn++] = w;
}

/* The accepted message: sent log, sent copy.  Failures only warn. */
static void
record_sent(const struct dm_profile *p, const struct dm_outbox_item *it,
    const char *bcc, struct dm_delivery *d)
{
	struct dm_stream st = { NULL, NULL, NULL };
	struct dm_err e;
	const char **ok;
	size_t i, n = 0;

	if ((ok = calloc(d->nrcpt + 1, sizeof *ok)) != NULL) {
		for (i = 0; i < d->nrcpt; i++)
			if (d->rcpt[i].status == DM_RCPT_OK)
				ok[n++] = d->rcpt[i].mailbox;
		if (dm_sentlog_append(NULL, time(NULL), it->message_id,
		    it->document, ok, n, d->mail.reply, d->sync, &e) == -1)
			dm_delivery_warn(d, _("the message was sent, but the sent log was not written"), &e);
		free(ok);
	}
	if (p->sent_maildir == NULL || p->sent_maildir[0] == '\0')
		return;
	if (dm_outbox_stream_open(it, &st, &e) == -1 ||
	    dm_maildir_deliver(p->sent_maildir, bcc, &st, &e) == -1)
		dm_delivery_warn(d, _("the message was sent, but no copy was kept in sent_maildir"), &e);
	dm_outbox_stream_close(&st);
}

struct dot_ctx {
	const struct dm_smtp_params	*sp;	/* the caller's, for its event */
	struct dm_outbox_item		*it;
	struct dm_delivery		*d;
};

/* Notes which step failed, and forwards the caller's events. */
static void
forward_event(void *arg, const struct dm_smtp_event *ev)
{
	struct dot_ctx *c = arg;

	if (ev->kind == DM_EV_STEP && !ev->ok && c->d->failed_step == -1)
		c->d->failed_step = (int)ev->step;
	if (c->sp->event != NULL)
		c->sp->event(c->sp->arg, ev);
}

enum dm_outbox_state
dm_delivery_state(const struct dm_delivery *d, const struct dm_err *err)
{
	size_t i;

	if (d->mail.maybe_delivered)
		return DM_OB_MAYBE_SENT;
	if (err == NULL || err->code != DM_EREJECT)
		return DM_OB_QUEUED;
	/*
	 * Only what the server said about this message counts: the
	 * answer to the data, to a recipient (DM_EREJECT then means every
	 * one not reached was refused with 5xx), to MAIL FROM or the SIZE
	 * check.  Allow-listed, so a new kind of refusal waits rather
	 * than being buried as refused.
	 */
	if (d->mail.code >= 500 || d->failed_step == DM_STEP_SENDER)
		return DM_OB_REFUSED;
	for (i = 0; i < d->nrcpt; i++)
		if (d->rcpt != NULL && d->rcpt[i].status == DM_RCPT_PERM)
			return DM_OB_REFUSED;
	return DM_OB_QUEUED;
}

/*
 * Before the final dot: the outbox item says "may have been delivered",
 * durably, so that a crash or a kill from here on never leads to a
 * resend without the user's confirmation.  The settled state is
 * written again when the server's answer is known.
 */
static int
mark_maybe(void *arg)
{
	struct dot_ctx *c = arg;
	struct dm_err e;

	c->it->state = DM_OB_MAYBE_SENT;
	return dm_outbox_update_state(c->it, &e);
}

int
dm_deliver_oauth2_conf(const struct dm_profile *p, struct dm_oauth2_conf *c,
    struct dm_err *err)
{
	memset(c, 0, sizeof *c);
	c->provider = DM_OAUTH2_MICROSOFT;
	if (p->oauth2_provider != NULL && *p->oauth2_provider != '\0' &&
	    dm_oauth2_provider_parse(p->oauth2_provider, &c->provider,
	    err) == -1)
		return -1;
	c->client_id = p->oauth2_client_id;
	c->client_secret = p->oauth2_client_secret;
	c->tenant = p->oauth2_tenant;
	c->scope = p->oauth2_scope;
	c->device_url = p->oauth2_device_url;
	c->auth_url = p->oauth2_auth_url;
	c->token_url = p->oauth2_token_url;
	c->ca_file = p->ca_file;
	if (!dm_oauth2_profile_valid(p->id)) {
		dm_err_set(err, DM_ECONFIG,
		    _("profile name '%s' cannot name a sign-in"), p->id);
		return dm_err_hint(err, _("rename the profile to letters, digits, '.', '_' and '-' (at most %d), not starting with '.'"),
		    DM_OAUTH2_PROFILE_MAX);
	}
	return 0;
}

/*
 * The access token of an OAuth2 profile: its oauth2_token_command (run
 * again for a refresh: pizauth and oama refresh when asked), else the
 * token store that 'docmail login' filled, refreshed when it is about
 * to expire or the server refused it.
 */
int
dm_deliver_token(void *arg, int refresh, struct dm_secret *out, char *how,
    size_t howsize, struct dm_err *err)
{
	const struct dm_profile *p = arg;
	struct dm_oauth2_conf c;
	char *tok = NULL;
	int refreshed = 0, r;

	if (p->oauth2_token_command != NULL &&
	    *p->oauth2_token_command != '\0') {
		if (dm_secret_from_token_command(out,
		    p->oauth2_token_command, err) == -1)
			return -1;
		dm_strlcpy(how, "command", howsize);
		return 0;
	}
	if (dm_deliver_oauth2_conf(p, &c, err) == -1)
		return -1;
	r = refresh ? dm_oauth2_refresh(&c, p->id, NULL, &tok, &refreshed,
	    err) : dm_oauth2_access_token(&c, p->id, &tok, &refreshed, err);
	if (r == 0)
		r = dm_secret_set(out, tok, strlen(tok), err);
	dm_oauth2_secret_free(tok);
	if (r == 0)
		dm_strlcpy(how, refreshed ? "refreshed" : "cached", howsize);
	return r;
}

void
dm_deliver_params(const struct dm_profile *p, const struct dm_secret *pw,
    struct dm_smtp_params *sp)
{
	memset(sp, 0, sizeof *sp);
	sp->host = p->host;
	sp->port = dm_profile_port(p);
	sp->security = p->security;
	sp->ca_file = p->ca_file;
	sp->fingerprint = p->tls_fingerprint;
	sp->timeout = p->timeout > 0 ? p->timeout : DM_TIMEOUT_DEFAULT;
	switch (dm_profile_auth(p)) {
	case DM_AUTH_OAUTH2:
		sp->user = p->user;
		sp->token = dm_deliver_token;
		sp->token_arg = (void *)p;
		/* NULL: the relay's own, "sign in again: docmail login". */
		if (p->oauth2_token_command != NULL &&
		    *p->oauth2_token_command != '\0')
			sp->token_hint = _("check oauth2_token_command: it must print a current access token for this user, with the scope for SMTP (run it yourself to see)");
		break;
	case DM_AUTH_PASSWORD:
		if (p->user != NULL && p->user[0] != '\0' &&
		    dm_secret_isset(pw)) {
			sp->user = p->user;
			sp->password = pw->s;
		}
		break;
	default:
		break;
	}
}

int
dm_delivery_init(const struct dm_outbox_item *it, struct dm_delivery *d,
    struct dm_err *err)
{
	size_t i;

	memset(d, 0, sizeof *d);
	d->failed_step = -1;
	if ((d->rcpt = calloc(it->nrcpt + 1, sizeof *d->rcpt)) == NULL ||
	    (d->mailbox = calloc(it->nrcpt + 1, sizeof *d->mailbox)) == NULL)
		return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	d->nrcpt = it->nrcpt;
	for (i = 0; i < it->nrcpt; i++) {
		if ((d->mailbox[i] = strdup(it->rcpt[i])) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
		d->rcpt[i].mailbox = d->mailbox[i];
	}
	d->mail.sender = it->sender;
	d->mail.rcpt = d->rcpt;
	d->mail.nrcpt = d->nrcpt;
	d->mail.size = it->size;
	return 0;
}

int
dm_deliver(const struct dm_profile *p, const struct dm_smtp_params *sp,
    struct dm_outbox_item *it, const char *bcc, struct dm_delivery *d,
    struct dm_err *err)
{
	struct dm_stream st = { NULL, NULL, NULL };
	struct dm_smtp_params own;
	struct dot_ctx dc;
	int r = -1, lockfd = -1;

	if (dm_delivery_init(it, d, err) == -1)
		return -1;
	if (dm_outbox_lock(it, &lockfd, err) == -1)
		return -1;
	if (dm_outbox_stream_open(it, &st, err) == -1) {
		dm_outbox_unlock(lockfd);
		return -1;
	}
	d->mail.read = st.read;
	d->mail.rewind = st.rewind;
	d->mail.arg = st.arg;
	own = *sp;
	own.event = forward_event;
	own.arg = &dc;
	own.before_dot = mark_maybe;
	dc.sp = sp;
	dc.it = it;
	dc.d = d;
	r = dm_smtp_send(&own, &d->mail, NULL, err);
	dm_outbox_stream_close(&st);
	r = dm_delivery_settle(p, it, bcc, d, r, err);
	dm_outbox_unlock(lockfd);
	return r;
}

int
dm_delivery_settle(const struct dm_profile *p, struct dm_outbox_item *it,
    const char *bcc, struct dm_delivery *d, int r, struct dm_err *err)
{
	struct dm_err e;
	size_t i, left;

	if (d->mail.accepted) {
		record_sent(p, it, bcc, d);
		/* Keep only the recipients that did not get it. */
		for (i = left = 0; i < it->nrcpt; i++) {
			if (d->rcpt[i].status == DM_RCPT_OK) {
				free(it->rcpt[i]);
				continue;
			}
			it->rcpt[left++] = it->rcpt[i];
		}
		it->nrcpt = left;
		if (left == 0) {
			/*
			 * The item on disk says "may have been delivered"
			 * (mark_maybe wrote it before the dot), so a retry
			 * passes it over unless forced.
			 */
			if (dm_outbox_remove(it, d->sync, &e) == -1)
				dm_delivery_warn(d, _("the message was sent, but it stays in the outbox marked 'may have been delivered' (a retry skips it; delete the file)"), &e);
			else
				d->removed = 1;
			return r;
		}
	}
	it->attempts++;
	it->state = dm_delivery_state(d, r == -1 ? err : NULL);
	if (it->state == DM_OB_REFUSED && d->mail.accepted)
		/* smtp's hint would send the user to a plain --retry. */
		dm_err_hint(err, _("the others received it; the refused recipients stay in the outbox as refused, not resent by a plain retry"));
	free(it->last_error);
	it->last_error = strdup(r == -1 ? err->msg : "");
	if (dm_outbox_update(it, &e) == -1)
		dm_delivery_warn(d, d->mail.accepted ?
		    _("the message reached some recipients, but its outbox item still lists them all, marked 'may have been delivered'") :
		    _("the outbox item could not be updated"), &e);
	return r;
}
