/*
 * fz-oauth2.c - fuzz target for the OAuth2 parsers
 *
 * Input: a selector byte, then the bytes.  An even selector sends them
 * to the token-response parser (a body from the identity provider), an
 * odd one to the pasted-redirect parser, with the state "st4te".
 *
 * Beyond not crashing: a token that parses is 1 to DM_OAUTH2_TOKEN_MAX
 * printable characters without spaces (the store's line format relies
 * on it) and occurs in the body; a failure has a class the caller
 * knows, printable text, and never quotes a token; a code that parses
 * comes from an address whose state was the one expected.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <docmail/err.h>
#include <docmail/oauth2.h>

#include "fuzz.h"

static void
check_token(const char *t)
{
	size_t i, n;

	if (t == NULL)
		return;
	n = strlen(t);
	FZ_CHECK(n >= 1 && n <= DM_OAUTH2_TOKEN_MAX);
	for (i = 0; i < n; i++)
		FZ_CHECK(t[i] > 0x20 && t[i] < 0x7f);
}

static void
fuzz_token(const char *body, size_t n)
{
	struct dm_oauth2_token tok;
	enum dm_oauth2_oerr oe = DM_OAUTH2_E_NONE;
	struct dm_err err;

	dm_err_clear(&err);
	if (dm_oauth2_parse_token(body, n, 1000, &tok, &oe, &err) == 0) {
		FZ_CHECK(tok.access != NULL);
		check_token(tok.access);
		check_token(tok.refresh);
		FZ_CHECK(tok.expires >= 1000);
		FZ_CHECK(memmem(body, n, tok.access, strlen(tok.access)) !=
		    NULL || memchr(body, '\\', n) != NULL);
		dm_oauth2_token_release(&tok);
		return;
	}
	FZ_CHECK(tok.access == NULL && tok.refresh == NULL);
	FZ_CHECK(err.code == DM_EPROTO || err.code == DM_EAUTH ||
	    err.code == DM_ETEMP || err.code == DM_ENOMEM);
	FZ_CHECK((err.code == DM_EPROTO) == (oe == DM_OAUTH2_E_NONE) ||
	    err.code == DM_ENOMEM);
	FZ_CHECK(err.msg[0] != '\0' && fz_printable(err.msg));
	FZ_CHECK(fz_printable(err.hint));
}

static void
fuzz_redirect(const char *text, size_t n)
{
	struct dm_err err;
	char *code = NULL;

	dm_err_clear(&err);
	if (dm_oauth2_parse_redirect(text, n, "st4te", &code, &err) == 0) {
		FZ_CHECK(code != NULL && code[0] != '\0');
		FZ_CHECK(memmem(text, n, "state=", 6) != NULL);
		dm_oauth2_secret_free(code);
		return;
	}
	FZ_CHECK(code == NULL);
	FZ_CHECK(err.code == DM_EDATA || err.code == DM_EAUTH ||
	    err.code == DM_ENOMEM);
	FZ_CHECK(err.msg[0] != '\0' && fz_printable(err.msg));
	FZ_CHECK(fz_printable(err.hint));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	unsigned int sel = fz_byte(&in);
	size_t n;
	char *rest = fz_rest(&in, &n);

	if (sel % 2 == 0)
		fuzz_token(rest, n);
	else
		fuzz_redirect(rest, n);
	free(rest);
	return 0;
}
