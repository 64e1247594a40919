/*
 * fz-addr.c - fuzz target for the address-list parser
 *
 * The input is one address list as typed into To, Cc or From.  Beyond
 * not crashing: a failed parse leaves the list as it was and explains
 * itself in printable text; what parses is a set of distinct, valid
 * mailboxes the mime module accepts for a header, and each address
 * reads back the same from its display form.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <docmail/addr.h>
#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/limits.h>
#include <docmail/mime.h>

#include "fuzz.h"

static void
check_mailbox(const char *mb)
{
	const char *at;
	size_t i, n;

	FZ_CHECK(mb != NULL);
	n = strlen(mb);
	FZ_CHECK(n >= 3 && n <= DM_MAILBOX_MAX);
	at = strrchr(mb, '@');
	FZ_CHECK(at != NULL && at > mb && at[1] != '\0');
	FZ_CHECK((size_t)(at - mb) <= DM_LOCALPART_MAX);
	for (i = 0; i < n; i++)
		FZ_CHECK(mb[i] >= 0x20 && mb[i] < 0x7f);
	/* The domain is a host name or a literal, never quoted. */
	FZ_CHECK(strchr(at + 1, '"') == NULL && strchr(at + 1, ' ') == NULL);
}

static void
check_name(const char *name)
{
	size_t n;

	if (name == NULL)
		return;
	n = strlen(name);
	FZ_CHECK(n > 0);
	FZ_CHECK(dm_utf8_valid(name, n));
	FZ_CHECK(name[0] != ' ' && name[0] != '\t');
	FZ_CHECK(name[n - 1] != ' ' && name[n - 1] != '\t');
	FZ_CHECK(strchr(name, '\r') == NULL && strchr(name, '\n') == NULL);
}

/* Each header line CRLF-terminated, ASCII, at most 998 octets. */
static void
check_header(const char *h, size_t n)
{
	size_t i, col = 0;

	FZ_CHECK(n >= 2 && h[n - 2] == '\r' && h[n - 1] == '\n');
	for (i = 0; i < n; i++) {
		if (h[i] == '\r') {
			FZ_CHECK(h[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		FZ_CHECK(h[i] != '\n' && (unsigned char)h[i] < 0x80);
		FZ_CHECK(++col <= DM_LINE_MAX);
	}
}

/* A copy of s with runs of spaces made one. */
static char *
squeeze(const char *s)
{
	char *out = fz_malloc(strlen(s) + 1);
	size_t o = 0;

	for (; *s != '\0'; s++)
		if (*s != ' ' || o == 0 || out[o - 1] != ' ')
			out[o++] = *s;
	out[o] = '\0';
	return out;
}

/*
 * The display form of a, parsed again, gives a back: the same mailbox
 * and, but for runs of spaces (unquoted words are joined by one), the
 * same name.
 */
static void
check_display(const struct dm_addr *a)
{
	struct dm_addr back = { NULL, NULL };
	struct dm_buf b;
	struct dm_err err;
	char *n1, *n2;

	/* Control characters are shown escaped, so they cannot come back. */
	if (a->name != NULL && !fz_printable(a->name))
		return;
	dm_buf_init(&b, 0);
	FZ_CHECK(dm_addr_format_display(a, &b, &err) == 0);
	FZ_CHECK(dm_addr_parse_one(&back, dm_buf_str(&b), &err) == 0);
	FZ_CHECK(strcmp(back.mailbox, a->mailbox) == 0);
	FZ_CHECK((back.name == NULL) == (a->name == NULL));
	if (a->name != NULL) {
		n1 = squeeze(a->name);
		n2 = squeeze(back.name);
		FZ_CHECK(strcmp(n1, n2) == 0);
		free(n1);
		free(n2);
	}
	dm_addr_release(&back);
	dm_buf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dm_addrlist l, fresh, seen;
	struct dm_addr one = { NULL, NULL };
	struct dm_buf h;
	struct dm_err err;
	char *in = fz_strndup(data, size);
	size_t i;
	int r, r1;

	dm_addrlist_init(&l);
	dm_addrlist_init(&fresh);
	dm_err_clear(&err);
	FZ_CHECK(dm_addr_parse_list(&l, "Keep <keep@x.test>", &err) == 0);
	r = dm_addr_parse_list(&l, in, &err);
	if (r == -1) {
		FZ_CHECK(err.code == DM_EDATA || err.code == DM_ENOMEM);
		FZ_CHECK(err.msg[0] != '\0' && fz_printable(err.msg));
		FZ_CHECK(fz_printable(err.hint));
		FZ_CHECK(l.n == 1 &&
		    strcmp(l.v[0].mailbox, "keep@x.test") == 0 &&
		    strcmp(l.v[0].name, "Keep") == 0);
		FZ_CHECK(dm_addr_parse_one(&one, in, &err) == -1);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		check_mailbox(l.v[i].mailbox);
		check_name(l.v[i].name);
		/* No mailbox twice, by the module's own comparison. */
		seen.v = l.v;
		seen.n = seen.cap = i;
		FZ_CHECK(!dm_addrlist_contains(&seen, l.v[i].mailbox));
		FZ_CHECK(*dm_addr_domain(l.v[i].mailbox) != '\0');
		check_display(&l.v[i]);
	}

	/* Whatever parses must make a header. */
	dm_buf_init(&h, 0);
	FZ_CHECK(dm_mime_encode_addr_header(&h, "To", l.v, l.n, &err) == 0);
	check_header(h.data, h.len);
	dm_buf_release(&h);

	/* parse_one takes exactly the lists of one address. */
	FZ_CHECK(dm_addr_parse_list(&fresh, in, &err) == 0);
	r1 = dm_addr_parse_one(&one, in, &err);
	if (r1 == 0) {
		FZ_CHECK(fresh.n == 1);
		FZ_CHECK(strcmp(one.mailbox, fresh.v[0].mailbox) == 0);
		FZ_CHECK((one.name == NULL) == (fresh.v[0].name == NULL));
		FZ_CHECK(one.name == NULL ||
		    strcmp(one.name, fresh.v[0].name) == 0);
	} else
		FZ_CHECK(fresh.n != 1 || err.code == DM_EDATA);
out:
	dm_addr_release(&one);
	dm_addrlist_release(&l);
	dm_addrlist_release(&fresh);
	free(in);
	return 0;
}
