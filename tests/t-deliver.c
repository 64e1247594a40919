/*
 * t-deliver.c - what deliver.c decides without a network
 *
 * The state an attempt leaves its item in, the connection parameters
 * of a profile, the OAuth2 settings and token command, the delivery's
 * own memory, and how an attempt is settled in a real outbox (under a
 * fresh directory in /tmp, which serves as HOME, XDG_DATA_HOME and
 * XDG_STATE_HOME, removed at the end).  The sending itself,
 * dm_deliver(), is proven by the script tests against a server
 * (smtp.sh, outbox.sh, crash.sh).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/buf.h>
#include <docmail/deliver.h>
#include <docmail/err.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/secret.h>

#include "tap.h"
#include "testutil.h"

static const char MSG[] =
    "From: Anna <anna@example.test>\r\n"
    "To: bob@example.test, carl@example.test\r\n"
    "Subject: Invoice 42\r\n"
    "\r\n"
    "Please find the invoice attached.\r\n";

/* Stores MSG for two recipients in the outbox dir; fills it. */
static int
add_item(const char *dir, struct dm_outbox_item *it)
{
	static char *rcpt[] = { "bob@example.test", "carl@example.test" };
	struct dm_outbox_item m;
	struct mem mem;
	struct dm_stream s = mem_stream(&mem, MSG, sizeof MSG - 1);
	struct dm_err e;

	memset(&m, 0, sizeof m);
	m.state = DM_OB_QUEUED;
	m.profile = "default";
	m.sender = "anna@example.test";
	m.rcpt = rcpt;
	m.nrcpt = 2;
	m.message_id = "20240101.abc@example.test";
	m.subject = "Invoice 42";
	m.document = "invoice-42.pdf";
	dm_err_clear(&e);
	if (dm_outbox_add(dir, &m, &s, it, DM_SYNC_NOW, &e) == -1) {
		diag("%s", e.msg);
		return -1;
	}
	return 0;
}

/*
 * The state an attempt leaves its item in (dm_delivery_state), one
 * case each.  Moved here from t-outbox.c: it is deliver.c's decision.
 */
static void
test_delivery_state(void)
{
	struct dm_smtp_rcpt rc[2];
	struct dm_delivery d;
	struct dm_err e;

#define RESET() do {							\
	memset(&d, 0, sizeof d);					\
	memset(rc, 0, sizeof rc);					\
	d.rcpt = rc;							\
	d.nrcpt = 2;							\
	d.failed_step = -1;						\
	dm_err_clear(&e);						\
} while (0)

	RESET();
	is_int(dm_delivery_state(&d, NULL), DM_OB_QUEUED,
	    "attempt: no error leaves the rest waiting");
	RESET();
	d.mail.code = 554;
	dm_err_set(&e, DM_EREJECT, "the server did not accept the message");
	is_int(dm_delivery_state(&d, &e), DM_OB_REFUSED,
	    "attempt: 554 to the data is refused");
	RESET();
	d.mail.code = 451;
	dm_err_set(&e, DM_ETEMP, "451");
	is_int(dm_delivery_state(&d, &e), DM_OB_QUEUED,
	    "attempt: 451 to the data is waiting");
	RESET();
	d.failed_step = DM_STEP_SENDER;
	dm_err_set(&e, DM_EREJECT, "the server refused the sender");
	is_int(dm_delivery_state(&d, &e), DM_OB_REFUSED,
	    "attempt: a sender refused with 5xx (or over SIZE) is refused");
	RESET();
	rc[0].status = rc[1].status = DM_RCPT_PERM;
	dm_err_set(&e, DM_EREJECT, "every recipient was refused");
	is_int(dm_delivery_state(&d, &e), DM_OB_REFUSED,
	    "attempt: every recipient refused with 5xx is refused");
	RESET();
	d.mail.accepted = 1;
	rc[0].status = DM_RCPT_OK;
	rc[1].status = DM_RCPT_PERM;
	dm_err_set(&e, DM_EREJECT, "not delivered to 1 of 2 recipients");
	is_int(dm_delivery_state(&d, &e), DM_OB_REFUSED,
	    "attempt: others got it, the rest refused with 5xx: refused");
	RESET();
	d.mail.accepted = 1;
	rc[0].status = DM_RCPT_PERM;
	rc[1].status = DM_RCPT_TEMP;
	dm_err_set(&e, DM_ETEMP, "not delivered to 2 of 2 recipients");
	is_int(dm_delivery_state(&d, &e), DM_OB_QUEUED,
	    "attempt: one of the rest refused for a while: all of them wait");
	RESET();
	d.failed_step = DM_STEP_GREETING;
	dm_err_set(&e, DM_EREJECT, "the server is not accepting mail");
	is_int(dm_delivery_state(&d, &e), DM_OB_QUEUED,
	    "attempt: a 554 greeting refuses the session, not the message: waiting");
	RESET();
	d.mail.maybe_delivered = 1;
	d.mail.code = 554;
	dm_err_set(&e, DM_EREJECT, "x");
	is_int(dm_delivery_state(&d, &e), DM_OB_MAYBE_SENT,
	    "attempt: an unanswered dot stays 'may have been delivered'");
	RESET();
	d.mail.code = 550;
	dm_err_set(&e, DM_EAUTH, "the server refused the login");
	is_int(dm_delivery_state(&d, &e), DM_OB_QUEUED,
	    "attempt: only DM_EREJECT can make an item refused");
	RESET();
	d.rcpt = NULL;
	dm_err_set(&e, DM_EREJECT, "every recipient was refused");
	is_int(dm_delivery_state(&d, &e), DM_OB_QUEUED,
	    "attempt: no recipient results (init failed) is no refusal");
#undef RESET
}

/* dm_deliver_params(): what a profile turns into for dm_smtp_send(). */
static void
test_params(void)
{
	struct dm_smtp_params sp;
	struct dm_profile p;
	struct dm_secret pw;
	struct dm_err e;

	dm_profile_init(&p);
	dm_secret_init(&pw);
	p.id = "work";
	p.host = "mail.example.test";
	p.security = DM_SEC_SSL;
	p.ca_file = "/etc/ca.pem";
	p.tls_fingerprint = "sha256:AB";
	p.timeout = 0;
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.host == p.host && sp.port == 465 &&
	    sp.security == DM_SEC_SSL && sp.ca_file == p.ca_file &&
	    sp.fingerprint == p.tls_fingerprint,
	    "params: host, the security's port, TLS settings borrowed");
	is_int(sp.timeout, DM_TIMEOUT_DEFAULT,
	    "params: timeout 0 means the default");
	ok(sp.user == NULL && sp.password == NULL && sp.token == NULL,
	    "params: no user, no login");
	ok(sp.event == NULL && sp.arg == NULL && sp.cancel == NULL &&
	    sp.before_dot == NULL, "params: callbacks left to the caller");

	p.port = 2525;
	p.timeout = 7;
	p.user = "anna";
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.port == 2525 && sp.timeout == 7,
	    "params: port and timeout of the profile");
	ok(sp.user == NULL && sp.password == NULL,
	    "params: a user without a password sends no login");
	dm_err_clear(&e);
	if (dm_secret_set(&pw, "s3cret", 6, &e) == -1)
		abort();
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.user == p.user && sp.password == pw.s && sp.token == NULL,
	    "params: user and password lent for the login");
	p.auth = DM_AUTH_NONE;
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.user == NULL && sp.password == NULL,
	    "params: auth = none sends no login, password or not");

	p.auth = DM_AUTH_OAUTH2;
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.user == p.user && sp.password == NULL &&
	    sp.token == dm_deliver_token && sp.token_arg == &p,
	    "params: oauth2 logs in with a token from the profile");
	ok(sp.token_hint == NULL,
	    "params: oauth2 from the store keeps the relay's own hint");
	p.oauth2_token_command = "printf tok";
	dm_deliver_params(&p, &pw, &sp);
	ok(sp.token_hint != NULL &&
	    strstr(sp.token_hint, "oauth2_token_command") != NULL,
	    "params: a refused command token's hint names the command");
	dm_secret_release(&pw);
}

/* dm_deliver_oauth2_conf() and the token command of dm_deliver_token(). */
static void
test_oauth2(void)
{
	struct dm_oauth2_conf c;
	struct dm_profile p;
	struct dm_secret tok;
	struct dm_err e;
	char how[16];
	int r;

	dm_profile_init(&p);
	p.id = "work";
	p.oauth2_client_id = "cid";
	p.oauth2_tenant = "contoso";
	p.ca_file = "/etc/ca.pem";
	dm_err_clear(&e);
	r = dm_deliver_oauth2_conf(&p, &c, &e);
	ok(r == 0 && c.provider == DM_OAUTH2_MICROSOFT,
	    "oauth2 conf: no provider means Microsoft");
	ok(c.client_id == p.oauth2_client_id && c.tenant == p.oauth2_tenant &&
	    c.ca_file == p.ca_file && c.scope == NULL,
	    "oauth2 conf: settings borrowed from the profile");
	p.oauth2_provider = "google";
	r = dm_deliver_oauth2_conf(&p, &c, &e);
	ok(r == 0 && c.provider == DM_OAUTH2_GOOGLE,
	    "oauth2 conf: the provider named");
	p.oauth2_provider = "yahoo";
	dm_err_clear(&e);
	r = dm_deliver_oauth2_conf(&p, &c, &e);
	ok(r == -1 && e.code == DM_ECONFIG,
	    "oauth2 conf: an unknown provider is a config error");
	p.oauth2_provider = NULL;
	p.id = ".hidden";
	dm_err_clear(&e);
	r = dm_deliver_oauth2_conf(&p, &c, &e);
	ok(r == -1 && e.code == DM_ECONFIG && e.hint[0] != '\0' &&
	    strstr(e.msg, ".hidden") != NULL,
	    "oauth2 conf: a profile name that cannot name a file is refused, with a hint");

	p.id = "work";
	p.oauth2_token_command = "printf 'tok-1\\nignored'";
	dm_secret_init(&tok);
	dm_err_clear(&e);
	r = dm_deliver_token(&p, 0, &tok, how, sizeof how, &e);
	ok(r == 0 && tok.s != NULL && strcmp(tok.s, "tok-1") == 0,
	    "token: the command's first line");
	is_str(how, "command", "token: said to come from the command");
	dm_secret_release(&tok);
	p.oauth2_token_command = "exit 3";
	dm_err_clear(&e);
	r = dm_deliver_token(&p, 1, &tok, how, sizeof how, &e);
	ok(r == -1 && e.code == DM_EAUTH && !dm_secret_isset(&tok),
	    "token: a failing command is an auth error, no token");
	dm_secret_release(&tok);
}

/* dm_delivery_init() and dm_delivery_release(). */
static void
test_init_release(void)
{
	static char *rcpt[] = { "bob@example.test", "carl@example.test" };
	struct dm_outbox_item it;
	struct dm_delivery d;
	struct dm_err e;
	int r;

	memset(&it, 0, sizeof it);
	it.sender = "anna@example.test";
	it.rcpt = rcpt;
	it.nrcpt = 2;
	it.size = 1234;
	dm_err_clear(&e);
	r = dm_delivery_init(&it, &d, &e);
	is_int(r, 0, "init: succeeds");
	ok(d.nrcpt == 2 && d.mail.nrcpt == 2 && d.mail.rcpt == d.rcpt &&
	    d.mail.sender == it.sender && d.mail.size == 1234,
	    "init: the mail is the item's envelope");
	ok(d.mailbox[0] != rcpt[0] && strcmp(d.mailbox[0], rcpt[0]) == 0 &&
	    strcmp(d.mailbox[1], rcpt[1]) == 0 &&
	    d.rcpt[0].mailbox == d.mailbox[0] &&
	    d.rcpt[1].mailbox == d.mailbox[1],
	    "init: recipients are the delivery's own copies");
	ok(d.rcpt[0].status == DM_RCPT_PENDING &&
	    d.rcpt[1].status == DM_RCPT_PENDING && d.failed_step == -1 && d.nwarn == 0 && !d.removed &&
	    !d.mail.accepted && !d.mail.maybe_delivered,
	    "init: no step failed, no warning, nothing accepted yet");
	/* The copies survive the item changing under them (settle does). */
	it.rcpt = NULL;
	it.nrcpt = 0;
	ok(strcmp(d.rcpt[1].mailbox, "carl@example.test") == 0,
	    "init: the recipients do not borrow the item's");
	d.warn[d.nwarn++] = strdup("a warning");
	dm_delivery_release(&d);
	ok(d.rcpt == NULL && d.mailbox == NULL && d.nrcpt == 0 &&
	    d.nwarn == 0 && d.warn[0] == NULL,
	    "release: everything freed and cleared (valgrind: no leak)");

	/* An item without recipients (a batch may hold one). */
	memset(&it, 0, sizeof it);
	it.sender = "anna@example.test";
	r = dm_delivery_init(&it, &d, &e);
	ok(r == 0 && d.nrcpt == 0 && d.rcpt != NULL,
	    "init: no recipients is no error");
	dm_delivery_release(&d);
	dm_delivery_release(&d);
	ok(d.rcpt == NULL, "release: twice is harmless");
}

/*
 * dm_delivery_settle(): an accepted message leaves the outbox, even
 * when the sent log and the sent copy cannot be written, which only
 * warn; the warnings stop at DM_DELIVER_WARN_MAX.
 */
static void
test_settle_accepted(const char *dir)
{
	struct dm_outbox_item it, again;
	struct dm_profile p;
	struct dm_delivery d;
	struct dm_err e;
	int r, fd;

	/* A file where the sent log's and the copy's directories go. */
	if ((fd = open(fx("notadir"), O_WRONLY | O_CREAT, 0600)) == -1)
		abort();
	close(fd);
	setenv("XDG_STATE_HOME", fx("notadir"), 1);
	dm_profile_init(&p);
	p.id = "default";
	if ((p.sent_maildir = strdup(fx("notadir/Sent"))) == NULL)
		abort();

	if (add_item(dir, &it) == -1)
		abort();
	dm_err_clear(&e);
	if (dm_delivery_init(&it, &d, &e) == -1)
		abort();
	d.mail.accepted = 1;
	d.rcpt[0].status = d.rcpt[1].status = DM_RCPT_OK;
	r = dm_delivery_settle(&p, &it, NULL, &d, 0, &e);
	is_int(r, 0, "settle: accepted is success even when records fail");
	is_int(d.nwarn, 2, "settle: the sent log and the copy each warn");
	ok(d.nwarn == 2 &&
	    strstr(d.warn[0], "sent log was not written: ") != NULL &&
	    strstr(d.warn[1], "no copy was kept in sent_maildir: ") != NULL,
	    "settle: each warning says what was lost, then why");
	ok(d.removed && dm_outbox_find(dir, it.id, &again, &e) == -1,
	    "settle: the item left the outbox");
	dm_delivery_release(&d);
	dm_outbox_item_release(&it);

	/* Warnings already at the cap: nothing more is kept or leaked. */
	if (add_item(dir, &it) == -1)
		abort();
	if (dm_delivery_init(&it, &d, &e) == -1)
		abort();
	while (d.nwarn < DM_DELIVER_WARN_MAX - 1)
		d.warn[d.nwarn++] = strdup("earlier");
	d.mail.accepted = 1;
	d.rcpt[0].status = d.rcpt[1].status = DM_RCPT_OK;
	r = dm_delivery_settle(&p, &it, NULL, &d, 0, &e);
	ok(r == 0 && d.nwarn == DM_DELIVER_WARN_MAX &&
	    strstr(d.warn[DM_DELIVER_WARN_MAX - 1], "sent log") != NULL,
	    "settle: warnings stop at DM_DELIVER_WARN_MAX, the first kept");
	dm_delivery_release(&d);
	dm_outbox_item_release(&it);

	setenv("XDG_STATE_HOME", fx("state"), 1);
	free(p.sent_maildir);
}

/* dm_delivery_settle(): attempts that leave the item in the outbox. */
static void
test_settle_stays(const char *dir)
{
	struct dm_outbox_item it, again;
	struct dm_profile p;
	struct dm_delivery d;
	struct dm_err e;
	int r;

	dm_profile_init(&p);
	p.id = "default";

	/* Refused for good. */
	if (add_item(dir, &it) == -1)
		abort();
	dm_err_clear(&e);
	if (dm_delivery_init(&it, &d, &e) == -1)
		abort();
	d.mail.code = 554;
	dm_err_set(&e, DM_EREJECT, "the server did not accept the message");
	r = dm_delivery_settle(&p, &it, NULL, &d, -1, &e);
	ok(r == -1 && it.state == DM_OB_REFUSED && it.attempts == 1 &&
	    strcmp(it.last_error, e.msg) == 0 && d.nwarn == 0 && !d.removed,
	    "settle: a refused message stays, refused, attempt counted");
	ok(dm_outbox_find(dir, it.id, &again, &e) == 0 &&
	    again.state == DM_OB_REFUSED && again.attempts == 1 &&
	    again.nrcpt == 2,
	    "settle: and so it reads on disk");
	dm_outbox_item_release(&again);
	dm_delivery_release(&d);
	dm_outbox_remove(&it, DM_SYNC_NOW, &e);
	dm_outbox_item_release(&it);

	/* Half accepted: the others got it, the rest refused. */
	if (add_item(dir, &it) == -1)
		abort();
	dm_err_clear(&e);
	if (dm_delivery_init(&it, &d, &e) == -1)
		abort();
	d.mail.accepted = 1;
	d.rcpt[0].status = DM_RCPT_OK;
	d.rcpt[1].status = DM_RCPT_PERM;
	dm_err_set(&e, DM_EREJECT, "not delivered to 1 of 2 recipients");
	r = dm_delivery_settle(&p, &it, NULL, &d, -1, &e);
	ok(r == -1 && it.nrcpt == 1 &&
	    strcmp(it.rcpt[0], "carl@example.test") == 0 &&
	    it.state == DM_OB_REFUSED && !d.removed,
	    "settle: only the refused recipient stays");
	ok(strstr(e.hint, "others received it") != NULL,
	    "settle: the hint says the others got it, no plain retry");
	ok(dm_outbox_find(dir, it.id, &again, &e) == 0 && again.nrcpt == 1 &&
	    strcmp(again.rcpt[0], "carl@example.test") == 0,
	    "settle: and so it reads on disk");
	dm_outbox_item_release(&again);
	dm_delivery_release(&d);
	dm_outbox_remove(&it, DM_SYNC_NOW, &e);
	dm_outbox_item_release(&it);

	/* Unanswered dot. */
	if (add_item(dir, &it) == -1)
		abort();
	dm_err_clear(&e);
	if (dm_delivery_init(&it, &d, &e) == -1)
		abort();
	d.mail.maybe_delivered = 1;
	dm_err_set(&e, DM_ETEMP, "the connection was lost after the dot");
	r = dm_delivery_settle(&p, &it, NULL, &d, -1, &e);
	ok(r == -1 && it.state == DM_OB_MAYBE_SENT && it.nrcpt == 2 &&
	    dm_outbox_find(dir, it.id, &again, &e) == 0 &&
	    again.state == DM_OB_MAYBE_SENT,
	    "settle: an unanswered dot stays 'may have been delivered'");
	dm_outbox_item_release(&again);
	dm_delivery_release(&d);
	dm_outbox_remove(&it, DM_SYNC_NOW, &e);
	dm_outbox_item_release(&it);
}

int
main(void)
{
	struct dm_err e;
	char *dir;

	plan(49);
	if (snprintf(top, sizeof top, "/tmp/t-deliver.XXXXXX") >=
	    (int)sizeof top || mkdtemp(top) == NULL)
		return 1;
	setenv("HOME", top, 1);
	setenv("XDG_DATA_HOME", fx("data"), 1);
	setenv("XDG_STATE_HOME", fx("state"), 1);

	test_delivery_state();
	test_params();
	test_oauth2();
	test_init_release();
	dm_err_clear(&e);
	if ((dir = dm_outbox_open(NULL, &e)) == NULL) {
		diag("%s", e.msg);
		return 1;
	}
	test_settle_accepted(dir);
	test_settle_stays(dir);
	free(dir);
	rmtree(top);
	return done_testing();
}
