/*
 * t-batch.c - a batch's checks and its all-or-nothing store
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <docmail/batch.h>

#include "tap.h"

static char dir[] = "/tmp/t-batch.XXXXXX";

/* A document's verdict: DM_EOK and "" when it can be sent. */
static int
code(const struct dm_batch_doc *d)
{
	return d->err != NULL ? (int)d->err->code : DM_EOK;
}

static const char *
msg(const struct dm_batch_doc *d)
{
	return d->err != NULL ? d->err->msg : "";
}

static const char *
fx(const char *name)
{
	/* Enough for every path a check holds at once. */
	static char path[16][512];
	static int i;

	i = (i + 1) % 16;
	(void)snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
	return path[i];
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

/* doc NAME with a sidecar holding the text side (NULL: none). */
static void
doc(const char *name, const char *side)
{
	char path[512];

	write_file(fx(name), "%PDF-1.4\n% a tiny test document\n%%EOF\n");
	if (side == NULL)
		return;
	(void)snprintf(path, sizeof path, "%s.ini", fx(name));
	write_file(path, side);
}

/* Files in the outbox's new/ directory. */
static int
stored(const char *box)
{
	char path[600];
	struct dirent *e;
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof path, "%s/new", box);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
main(void)
{
	struct dm_config cfg;
	struct dm_batch_opts o;
	struct dm_batch_doc docs[6];
	struct dm_outbox_item items[3];
	char *bcc[3], *box;
	const struct dm_profile *p;
	struct dm_err err;
	size_t i;

	plan(34);
	if (mkdtemp(dir) == NULL)
		return 1;
	write_file(fx("config.ini"),
	    "[profile default]\n"
	    "name = Anna Muster\n"
	    "email = anna@example.test\n"
	    "host = mail.example.test\n"
	    "[template invoice]\n"
	    "subject = Invoice {{number}}\n"
	    "body = Dear {{contact}}\n");
	dm_config_init(&cfg);
	if (dm_config_load(&cfg, fx("config.ini"), &err) == -1 ||
	    (p = dm_config_profile(&cfg, NULL, &err)) == NULL) {
		diag("%s", err.msg);
		return 1;
	}
	doc("a.pdf", "[document]\ntemplate = invoice\nnumber = 1\n"
	    "contact = A\nto = \"Kunde, A\" <a@x.test>\n");
	doc("b.pdf", "[document]\ntemplate = invoice\nnumber = 2\n"
	    "contact = B\nto = b@x.test\ncc = c@x.test\n"
	    "bcc = audit@x.test, b@x.test\n");
	doc("noto.pdf", "[document]\ntemplate = invoice\nnumber = 3\n"
	    "contact = C\ncc = c@x.test\n");
	doc("none.pdf", NULL);
	doc("unres.pdf", "[document]\ntemplate = invoice\ncontact = D\n"
	    "to = d@x.test\n");

	/* Two good documents: the table's columns and the envelope. */
	memset(&o, 0, sizeof o);
	memset(docs, 0, sizeof docs);
	docs[0].path = fx("a.pdf");
	docs[1].path = fx("b.pdf");
	is_int(dm_batch_check(&cfg, p, &o, docs, 2, &err), 0,
	    "two good documents pass");
	is_str(docs[0].to, "\"Kunde, A\" <a@x.test>", "To as displayed");
	is_str(docs[0].subject, "Invoice 1", "the subject is expanded");
	ok(docs[0].size > 100, "the size is known");
	ok(docs[1].nrcpt == 3 && strcmp(docs[1].rcpt[0], "b@x.test") == 0 &&
	    strcmp(docs[1].rcpt[1], "c@x.test") == 0 &&
	    strcmp(docs[1].rcpt[2], "audit@x.test") == 0,
	    "envelope: To, Cc, Bcc, each address once");
	is_str(docs[1].sender, "anna@example.test", "the envelope sender");

	/* --set beats the sidecar; --template beats its template. */
	{
		struct dm_vars vars;

		dm_vars_init(&vars);
		(void)dm_vars_add_assignment(&vars, "number=99", &err);
		(void)dm_vars_add_assignment(&vars, "to=evil@x.test", &err);
		o.vars = &vars;
		dm_batch_doc_release(&docs[0]);
		is_int(dm_batch_check(&cfg, p, &o, docs, 1, &err), 0,
		    "with --set");
		is_str(docs[0].subject, "Invoice 99", "--set beats the sidecar");
		ok(docs[0].nrcpt == 1 && strcmp(docs[0].rcpt[0],
		    "a@x.test") == 0, "but never names the recipients");
		o.vars = NULL;
		dm_vars_release(&vars);
		o.template_id = "nosuch";
		dm_batch_doc_release(&docs[0]);
		ok(dm_batch_check(&cfg, p, &o, docs, 1, &err) == -1 &&
		    err.code == DM_EUSAGE, "an unknown --template is refused");
		o.template_id = NULL;
	}
	for (i = 0; i < 2; i++)
		dm_batch_doc_release(&docs[i]);

	/* Bad ones: every one named, the first one's class. */
	memset(docs, 0, sizeof docs);
	docs[0].path = fx("a.pdf");
	docs[1].path = fx("noto.pdf");
	docs[2].path = fx("none.pdf");
	docs[3].path = fx("unres.pdf");
	docs[4].path = fx("missing.pdf");
	docs[5].path = fx("b.pdf");
	ok(dm_batch_check(&cfg, p, &o, docs, 6, &err) == -1 &&
	    err.code == DM_EDATA, "bad documents: DM_EDATA, the first's class");
	ok(strstr(err.msg, "4 of 6 documents") != NULL,
	    "the summary counts them: %s", err.msg);
	ok(docs[0].err == NULL, "a good one stays good: %s", msg(&docs[0]));
	ok(code(&docs[1]) == DM_EDATA &&
	    strstr(msg(&docs[1]), "noto.pdf") != NULL &&
	    strstr(msg(&docs[1]), "no 'to'") != NULL,
	    "only cc: refused, naming it: %s", msg(&docs[1]));
	ok(code(&docs[2]) == DM_EDATA &&
	    strstr(msg(&docs[2]), "none.pdf' has no sidecar") != NULL,
	    "no sidecar: %s", msg(&docs[2]));
	ok(code(&docs[3]) == DM_EDATA &&
	    strstr(msg(&docs[3]), "unres.pdf") != NULL &&
	    strstr(msg(&docs[3]), "{{number}}") != NULL,
	    "unresolved placeholder named with its document: %s",
	    msg(&docs[3]));
	ok(code(&docs[4]) == DM_ENOINPUT &&
	    strstr(msg(&docs[4]), "missing.pdf") != NULL,
	    "a missing file is DM_ENOINPUT: %s", msg(&docs[4]));
	ok(docs[1].to == NULL && docs[1].rcpt == NULL,
	    "a bad one has no table fields");
	for (i = 0; i < 6; i++)
		dm_batch_doc_release(&docs[i]);
	memset(docs, 0, sizeof docs);
	docs[0].path = fx("missing.pdf");
	docs[1].path = fx("noto.pdf");
	ok(dm_batch_check(&cfg, p, &o, docs, 2, &err) == -1 &&
	    err.code == DM_ENOINPUT, "a missing file first: DM_ENOINPUT");
	for (i = 0; i < 2; i++)
		dm_batch_doc_release(&docs[i]);

	/* Storing: all of them, fsync'd, Bcc lines for the sent copy. */
	if ((box = dm_outbox_open(fx("outbox"), &err)) == NULL) {
		diag("%s", err.msg);
		return 1;
	}
	memset(docs, 0, sizeof docs);
	docs[0].path = fx("a.pdf");
	docs[1].path = fx("b.pdf");
	is_int(dm_batch_store(box, &cfg, p, &o, docs, 2, items, bcc, &err), 0,
	    "two messages stored");
	is_int(stored(box), 2, "both are in the outbox");
	ok(bcc[0] == NULL && bcc[1] != NULL &&
	    strcmp(bcc[1], "audit@x.test, b@x.test") == 0,
	    "the Bcc line of each, for the sent copy");
	ok(items[1].nrcpt == 3 && items[1].document != NULL &&
	    strcmp(items[1].document, "b.pdf") == 0,
	    "the item has its recipients and its document");
	for (i = 0; i < 2; i++) {
		(void)dm_outbox_remove(&items[i], DM_SYNC_NOW, &err);
		dm_outbox_item_release(&items[i]);
		free(bcc[i]);
	}

	/* One that cannot be built any more: none is kept. */
	docs[2].path = fx("b.pdf");
	docs[1].path = fx("vanished.pdf");
	ok(dm_batch_store(box, &cfg, p, &o, docs, 3, items, bcc, &err) == -1 &&
	    strstr(err.msg, "vanished.pdf") != NULL,
	    "a document gone since the check fails the store: %s", err.msg);
	is_int(stored(box), 0, "and what was stored before it is removed");

	/*
	 * An earlier run: a.pdf waits in the outbox, b.pdf went to B (the
	 * sent log), c.pdf to someone else.  Running it again skips a and
	 * b, and sends b again only with resend; c is not theirs.
	 */
	{
		const char *to_b[] = { "B@X.test" }, *to_z[] = { "z@x.test" };
		struct dm_batch_doc again[3];
		size_t nskip = 9;

		memset(again, 0, sizeof again);
		again[0].path = fx("a.pdf");
		is_int(dm_batch_store(box, &cfg, p, &o, again, 1, items, bcc,
		    &err), 0, "an earlier run stored a.pdf");
		dm_outbox_item_release(&items[0]);
		free(bcc[0]);
		ok(dm_sentlog_append(fx("sent.log"), 1764000000, "id1@x",
		    "b.pdf", to_b, 1, "250 ok", DM_SYNC_NOW, &err) == 0 &&
		    dm_sentlog_append(fx("sent.log"), 1764000000, "id2@x",
		    "a.pdf", to_z, 1, "250 ok", DM_SYNC_NOW, &err) == 0,
		    "and the sent log has b.pdf");
		again[1].path = fx("b.pdf");
		doc("c.pdf", "[document]\ntemplate = invoice\nnumber = 4\n"
		    "contact = C\nto = c@x.test\n");
		again[2].path = fx("c.pdf");
		again[0].path = fx("a.pdf");
		is_int(dm_batch_check(&cfg, p, &o, again, 3, &err), 0,
		    "the documents are good");
		is_int(dm_batch_earlier(box, fx("sent.log"), again, 3, 0,
		    &nskip, &err), 0, "what an earlier run did is found");
		ok(nskip == 2 && again[0].skip == DM_BATCH_SKIP_OUTBOX &&
		    again[1].skip == DM_BATCH_SKIP_SENT &&
		    again[2].skip == DM_BATCH_NEW,
		    "a waits, b was sent (any case of the address), c is new");
		ok(again[0].skip_why != NULL &&
		    strstr(again[0].skip_why, "docmail outbox --retry") != NULL,
		    "the waiting one says what sends it: %s", again[0].skip_why);
		ok(again[1].skip_why != NULL &&
		    strstr(again[1].skip_why, "sent to B@X.test on ") != NULL &&
		    strstr(again[1].skip_why, "(sent log)") != NULL,
		    "the sent one says to whom and when (the CLI and the TUI add how to resend): %s",
		    again[1].skip_why);
		for (i = 0; i < 3; i++)
			dm_batch_doc_release(&again[i]);
		(void)dm_batch_check(&cfg, p, &o, again, 3, &err);
		is_int(dm_batch_earlier(box, fx("sent.log"), again, 3, 1,
		    &nskip, &err), 0, "with resend");
		ok(nskip == 1 && again[0].skip == DM_BATCH_SKIP_OUTBOX &&
		    again[1].skip == DM_BATCH_NEW,
		    "the sent one goes again, the waiting one never");
		for (i = 0; i < 3; i++)
			dm_batch_doc_release(&again[i]);
	}

	free(box);
	dm_config_release(&cfg);
	{
		char cmd[600];

		(void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		(void)system(cmd);
	}
	return done_testing();
}
