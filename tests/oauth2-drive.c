/*
 * oauth2-drive.c - runs one OAuth2 operation of the core, for
 * tests/oauth2.sh
 *
 *	oauth2-drive [-u URL] [-f device|code] [-c CAFILE] [-p PROFILE]
 *	    [-i CLIENT_ID] [-s SCOPE] [-t SECONDS] [-o FILE] OP
 *
 * URL is the identity provider's base (tests/idp.py): its /devicecode,
 * /token and /authorize are used, the device flow with -f device (the
 * default), the code flow with -f code.  OP is one of:
 *
 *	device-login	start, write the user code to FILE, wait (SIGTERM
 *			cancels), store
 *	code-login	start, write the address to FILE, wait for the
 *			browser's redirect on the loopback listener, store
 *	code-paste	start, write the address to FILE, read the pasted
 *			address from stdin, store
 *	token		print "cached" or "refreshed", the token's length
 *			and a sha256 prefix of it (never the token)
 *	logout		remove the stored tokens
 *
 * Errors go to stderr as the CLI prints them, and the exit status is
 * the CLI's (src/cli/exitcode.c is linked in).
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <docmail/err.h>
#include <docmail/oauth2.h>

#include "../src/cli/cli.h"

static atomic_int cancel;

static void
on_term(int sig)
{
	(void)sig;
	atomic_store(&cancel, 1);
}

static int
write_file(const char *path, const char *s, struct dm_err *err)
{
	char tmp[4096];
	FILE *fp;

	if (path == NULL)
		return 0;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL || fprintf(fp, "%s\n", s) < 0 ||
	    fclose(fp) != 0 || rename(tmp, path) != 0)
		return dm_err_set(err, DM_EIO, "cannot write '%s'", path);
	return 0;
}

static void
show_hash(const char *tok)
{
	unsigned char h[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)tok, strlen(tok), h);
	printf("len=%zu h:%02x%02x%02x%02x\n", strlen(tok), h[0], h[1], h[2],
	    h[3]);
}

int
main(int argc, char **argv)
{
	struct dm_oauth2_conf c;
	struct dm_oauth2_device dev;
	struct dm_oauth2_auth a;
	struct dm_err err;
	struct sigaction sa;
	const char *base = NULL, *flow = "device", *profile = "work";
	const char *out = NULL, *op;
	char dev_url[512], tok_url[512], auth_url[512], line[8192], *code = NULL;
	char *tok = NULL;
	int ch, r = -1, refreshed = 0;

	memset(&c, 0, sizeof c);
	memset(&a, 0, sizeof a);
	a.fd = -1;
	memset(&dev, 0, sizeof dev);
	dm_err_clear(&err);
	c.provider = DM_OAUTH2_CUSTOM;
	c.client_id = "docmail-test";
	c.scope = "https://outlook.office.com/SMTP.Send offline_access";
	while ((ch = getopt(argc, argv, "u:f:c:p:i:s:t:o:")) != -1) {
		switch (ch) {
		case 'u': base = optarg; break;
		case 'f': flow = optarg; break;
		case 'c': c.ca_file = optarg; break;
		case 'p': profile = optarg; break;
		case 'i': c.client_id = optarg; break;
		case 's': c.scope = optarg; break;
		case 't': c.timeout = atoi(optarg); break;
		case 'o': out = optarg; break;
		default:
			fprintf(stderr, "usage: oauth2-drive [-u URL] [-f device|code] [-c CAFILE] [-p PROFILE] [-i ID] [-s SCOPE] [-t SEC] [-o FILE] OP\n");
			return 64;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "oauth2-drive: one operation\n");
		return 64;
	}
	op = argv[optind];
	if (base != NULL) {
		snprintf(dev_url, sizeof dev_url, "%s/devicecode", base);
		snprintf(tok_url, sizeof tok_url, "%s/token", base);
		snprintf(auth_url, sizeof auth_url, "%s/authorize", base);
		c.token_url = tok_url;
		if (strcmp(flow, "device") == 0)
			c.device_url = dev_url;
		else
			c.auth_url = auth_url;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (strcmp(op, "device-login") == 0) {
		if (dm_oauth2_device_start(&c, &dev, &err) == -1 ||
		    write_file(out, dev.user_code, &err) == -1 ||
		    dm_oauth2_device_wait(&c, profile, &dev, &cancel,
		    &err) == -1)
			goto out;
		printf("signed in\n");
	} else if (strcmp(op, "code-login") == 0 ||
	    strcmp(op, "code-paste") == 0) {
		if (dm_oauth2_auth_start(&c, &a, &err) == -1 ||
		    write_file(out, a.url, &err) == -1)
			goto out;
		if (op[5] == 'l') {
			if (dm_oauth2_auth_wait(&a, 20000, &cancel, &code,
			    &err) == -1)
				goto out;
		} else {
			if (fgets(line, sizeof line, stdin) == NULL) {
				dm_err_set(&err, DM_ENOINPUT, "nothing pasted");
				goto out;
			}
			if (dm_oauth2_parse_redirect(line, strlen(line),
			    a.state, &code, &err) == -1)
				goto out;
		}
		if (dm_oauth2_auth_finish(&c, profile, &a, code, &err) == -1)
			goto out;
		printf("signed in\n");
	} else if (strcmp(op, "token") == 0) {
		if (dm_oauth2_access_token(&c, profile, &tok, &refreshed,
		    &err) == -1)
			goto out;
		printf("%s ", refreshed ? "refreshed" : "cached");
		show_hash(tok);
	} else if (strcmp(op, "logout") == 0) {
		if (dm_oauth2_store_remove(NULL, profile, &err) == -1)
			goto out;
	} else {
		fprintf(stderr, "oauth2-drive: unknown operation '%s'\n", op);
		return 64;
	}
	r = 0;
out:
	dm_oauth2_secret_free(tok);
	dm_oauth2_secret_free(code);
	dm_oauth2_device_release(&dev);
	dm_oauth2_auth_release(&a);
	if (r == -1) {
		fprintf(stderr, "oauth2-drive: %s\n", err.msg);
		if (err.hint[0] != '\0')
			fprintf(stderr, "hint: %s\n", err.hint);
		return cli_exitcode(&err);
	}
	return 0;
}
