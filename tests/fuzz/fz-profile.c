/*
 * fz-profile.c - fuzz target for the configuration loader and validator
 *
 * The input is a config file.  It is loaded, each profile validated,
 * changed and saved back into the same file, which must then load
 * with that profile as saved and everything else as it was.  The same
 * bytes are read as a document's sidecar and as a provider list too,
 * since all three go through the same line reader.  The files live in
 * a private directory that is emptied after every input.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <docmail/err.h>
#include <docmail/profile.h>
#include <docmail/secret.h>
#include <docmail/tmpl.h>

#include "fuzz.h"

/* Saving more profiles finds nothing new, only takes longer. */
#define SAVES_MAX	3

static void
put(const char *path, const uint8_t *data, size_t n)
{
	ssize_t w;
	int fd;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		abort();
	while (n > 0) {
		if ((w = write(fd, data, n)) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		data += w;
		n -= (size_t)w;
	}
	if (fchmod(fd, 0600) == -1 || close(fd) == -1)
		abort();
}

/* The saved file, to see what went wrong. */
static void
dump(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return;
	fputs("--- the file as saved:\n", stderr);
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		fwrite(buf, 1, n, stderr);
	fputs("---\n", stderr);
	fclose(fp);
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same_profile(const struct dm_profile *a, const struct dm_profile *b)
{
	return same_str(a->id, b->id) && same_str(a->name, b->name) &&
	    same_str(a->email, b->email) && same_str(a->host, b->host) &&
	    a->port == b->port && a->security == b->security &&
	    same_str(a->user, b->user) &&
	    a->password.len == b->password.len &&
	    same_str(a->password.s, b->password.s) &&
	    same_str(a->password_command, b->password_command) &&
	    same_str(a->ca_file, b->ca_file) &&
	    same_str(a->tls_fingerprint, b->tls_fingerprint) &&
	    a->timeout == b->timeout &&
	    a->allow_from_override == b->allow_from_override &&
	    same_str(a->sent_maildir, b->sent_maildir) &&
	    same_str(a->documents_dir, b->documents_dir);
}

static const struct dm_profile *
find_profile(const struct dm_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->nprofiles; i++)
		if (strcmp(cfg->profiles[i].id, id) == 0)
			return &cfg->profiles[i];
	return NULL;
}

/* What a settings screen would do: change some values, drop others. */
static void
edit(struct dm_profile *p, unsigned int how)
{
	struct dm_err err;

	if (how & 1)
		p->port = p->port == 2525 ? 2526 : 2525;
	if (how & 2)
		p->timeout = p->timeout == 30 ? 31 : 30;
	if (how & 4)
		p->allow_from_override = !p->allow_from_override;
	if (how & 8) {
		free(p->host);
		p->host = fz_strndup("smtp.example.test", 17);
	}
	if (how & 16) {
		free(p->user);
		p->user = NULL;
		dm_secret_release(&p->password);
	} else if (how & 32) {
		free(p->name);
		p->name = fz_strndup("Anna Muster", 11);
		FZ_CHECK(dm_secret_set(&p->password, "pw;#=x", 6, &err) == 0);
	}
	if (how & 64)
		p->security = (enum dm_security)((p->security + 1) % 3);
}

/*
 * Save profile i of cfg (edited) into path and check what loads.
 * Returns -1 when the save was refused: cfg and the file then differ.
 */
static int
save_one(struct dm_config *cfg, size_t i, const char *path,
    unsigned int how)
{
	struct dm_config back;
	struct dm_profile *p = &cfg->profiles[i];
	const struct dm_profile *q;
	struct dm_err err;
	size_t j;

	edit(p, how);
	dm_err_clear(&err);
	if (dm_profile_save(path, p, &err) == -1) {
		/* Only values the validator refuses may fail to save. */
		FZ_CHECK(err.code == DM_ECONFIG);
		FZ_CHECK(dm_profile_validate(p, &err) == -1);
		return -1;
	}
	dm_config_init(&back);
	if (dm_config_load(&back, path, &err) == -1) {
		dump(path);
		fz_fail(__FILE__, __LINE__, err.msg);
	}
	FZ_CHECK(back.nprofiles == cfg->nprofiles);
	FZ_CHECK(back.ntemplates == cfg->ntemplates);
	for (j = 0; j < cfg->nprofiles; j++) {
		q = find_profile(&back, cfg->profiles[j].id);
		if (q == NULL || !same_profile(q, &cfg->profiles[j])) {
			dump(path);
			fz_fail(__FILE__, __LINE__, cfg->profiles[j].id);
		}
	}
	for (j = 0; j < cfg->ntemplates; j++) {
		FZ_CHECK(same_str(back.templates[j].id, cfg->templates[j].id));
		FZ_CHECK(same_str(back.templates[j].subject,
		    cfg->templates[j].subject));
		FZ_CHECK(same_str(back.templates[j].body,
		    cfg->templates[j].body));
	}
	dm_config_release(&back);
	return 0;
}

static void
config(const char *path, size_t size)
{
	struct dm_config cfg;
	const struct dm_profile *p;
	struct dm_err err;
	size_t i;
	int port;

	dm_config_init(&cfg);
	dm_err_clear(&err);
	if (dm_config_load(&cfg, path, &err) == -1) {
		FZ_CHECK(err.code == DM_ECONFIG || err.code == DM_ENOMEM);
		FZ_CHECK(err.msg[0] != '\0');
		FZ_CHECK(cfg.nprofiles == 0 && cfg.path == NULL);
		return;
	}
	for (i = 0; i < cfg.nprofiles; i++) {
		p = &cfg.profiles[i];
		FZ_CHECK(p->id != NULL && p->host != NULL && p->email != NULL);
		FZ_CHECK(p->line >= 1);
		port = dm_profile_port(p);
		FZ_CHECK(port >= 1 && port <= 65535);
		FZ_CHECK(dm_security_name(p->security) != NULL);
		FZ_CHECK(dm_config_profile(&cfg, p->id, &err) == p);
		/*
		 * What loaded can be saved, but for what saving refuses on
		 * purpose though inih would read it: lines that ~ made too
		 * long, tabs inside a value, a value starting with '#'.
		 */
		if (dm_profile_validate(p, &err) == -1)
			FZ_CHECK(strstr(err.msg, "longer than") != NULL ||
			    strstr(err.msg, "control character") != NULL ||
			    strstr(err.msg, "begins with ';'") != NULL);
	}
	for (i = 0; i < cfg.ntemplates; i++)
		FZ_CHECK(dm_config_template(&cfg, cfg.templates[i].id) ==
		    &cfg.templates[i]);
	(void)dm_config_profile(&cfg, NULL, &err);
	for (i = 0; i < cfg.nprofiles && i < SAVES_MAX; i++)
		if (save_one(&cfg, i, path,
		    (unsigned int)(size + i * 37) & 127) == -1)
			break;
	dm_config_release(&cfg);
}

static void
sidecar(const char *doc)
{
	struct dm_vars vars;
	struct dm_err err;
	char *tmpl = NULL, *path = NULL;
	size_t i;

	dm_vars_init(&vars);
	dm_err_clear(&err);
	if (dm_sidecar_load(doc, &vars, &tmpl, &path, &err) == 0) {
		FZ_CHECK(path != NULL);
		for (i = 0; i < vars.n; i++) {
			FZ_CHECK(dm_tmpl_name_valid(vars.v[i].name));
			FZ_CHECK(strcmp(vars.v[i].name, "template") != 0);
		}
	} else {
		FZ_CHECK(err.code == DM_EDATA || err.code == DM_ENOMEM);
		FZ_CHECK(tmpl == NULL && path == NULL);
	}
	free(tmpl);
	free(path);
	dm_vars_release(&vars);
}

/* The first section's name, as a provider list's domain. */
static void
preset(const char *path, const uint8_t *data, size_t size)
{
	struct dm_preset pr;
	struct dm_err err;
	const uint8_t *b, *e;
	char *domain;

	b = memchr(data, '[', size);
	e = b != NULL ? memchr(b, ']', size - (size_t)(b - data)) : NULL;
	domain = b != NULL && e != NULL ? fz_strndup(b + 1,
	    (size_t)(e - b - 1)) : fz_strndup("example.test", 12);
	if (dm_preset_find(path, domain, &pr, &err) == 1)
		FZ_CHECK(pr.host[0] != '\0');
	FZ_CHECK(memchr(pr.host, '\0', sizeof pr.host) != NULL);
	FZ_CHECK(memchr(pr.note, '\0', sizeof pr.note) != NULL);
	free(domain);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cpath[PATH_MAX], spath[PATH_MAX], dpath[PATH_MAX];

	fz_tmppath("c.ini", cpath, sizeof cpath);
	fz_tmppath("doc.pdf.ini", spath, sizeof spath);
	fz_tmppath("doc.pdf", dpath, sizeof dpath);

	put(cpath, data, size);
	preset(cpath, data, size);
	if (link(cpath, spath) == -1)
		abort();
	sidecar(dpath);
	(void)unlink(spath);
	config(cpath, size);
	(void)unlink(cpath);
	return 0;
}
