/*
 * oauth2-store.c - the token store: one small file per profile
 *
 * The file is lines of "key value":
 *
 *	docmail-oauth2 1
 *	expires 1765000000
 *	access eyJ0...
 *	refresh 0.AX...
 *
 * Tokens are printable ASCII without spaces (the parser checks that
 * before anything is stored), so a line format needs no escaping.  It
 * is written through the file module (temporary file, fsync, rename,
 * directory fsync) and read with O_NOFOLLOW: a symbolic link planted at
 * its place is refused, never followed, and left as it is.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/file.h>
#include <docmail/i18n.h>
#include <docmail/oauth2.h>

#include "oauth2-int.h"

#define MAGIC		"docmail-oauth2 1"
#define STORE_MAX	(3 * DM_OAUTH2_TOKEN_MAX + 256)

int
dm_oauth2_profile_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= DM_OAUTH2_PROFILE_MAX)
			return 0;
		if (!(name[i] >= 'a' && name[i] <= 'z') &&
		    !(name[i] >= 'A' && name[i] <= 'Z') &&
		    !(name[i] >= '0' && name[i] <= '9') &&
		    name[i] != '-' && name[i] != '_' && name[i] != '.')
			return 0;
	}
	return 1;
}

/* The store's directory, malloc'd. */
static char *
store_dir(const char *dir, struct dm_err *err)
{
	struct dm_buf b;
	const char *v, *home;
	int r;

	dm_buf_init(&b, 4096);
	if (dir != NULL)
		r = dm_buf_addstr(&b, dir, err);
	else if ((v = getenv("XDG_DATA_HOME")) != NULL && v[0] == '/')
		r = dm_buf_addf(&b, err, "%s/docmail/oauth2", v);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		r = dm_buf_addf(&b, err, "%s/.local/share/docmail/oauth2",
		    home);
	else {
		dm_err_set(err, DM_ECONFIG, _("cannot find the token store: neither XDG_DATA_HOME nor HOME is set"));
		dm_err_hint(err, _("set HOME, or XDG_DATA_HOME to an absolute directory"));
		return NULL;
	}
	if (r == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

static int
bad_profile(const char *profile, struct dm_err *err)
{
	struct dm_buf b;
	struct dm_err tmp;

	dm_buf_init(&b, 256);
	(void)oauth2_show(&b, profile != NULL ? profile : "",
	    profile != NULL ? strnlen(profile, 64) : 0, &tmp);
	dm_err_set(err, DM_ECONFIG, _("cannot keep tokens for the profile '%s': the name is not usable as a file name"),
	    dm_buf_str(&b));
	dm_buf_release(&b);
	return dm_err_hint(err, _("profile names for OAuth2 sign-in use letters, digits, '.', '-' and '_' only"));
}

/* dir/prefix PROFILE suffix, malloc'd. */
static char *
file_in(const char *dir, const char *prefix, const char *profile,
    const char *suffix, struct dm_err *err)
{
	struct dm_buf b;

	dm_buf_init(&b, 4096 + 256);
	if (dm_buf_addf(&b, err, "%s/%s%s%s", dir, prefix, profile, suffix)
	    == -1) {
		dm_buf_release(&b);
		return NULL;
	}
	return dm_buf_detach(&b);
}

char *
dm_oauth2_store_path(const char *sdir, const char *profile,
    struct dm_err *err)
{
	char *dir, *p;

	if (!dm_oauth2_profile_valid(profile)) {
		bad_profile(profile, err);
		return NULL;
	}
	if ((dir = store_dir(sdir, err)) == NULL)
		return NULL;
	p = file_in(dir, "", profile, "", err);
	free(dir);
	return p;
}

static int
damaged(const char *path, const char *why, struct dm_err *err)
{
	dm_err_set(err, DM_EIO, _("the token store '%s' is damaged: %s"),
	    DM_ERR_PATH(path), why);
	return dm_err_hint(err, _("sign in again: docmail login"));
}

static int
parse_store(const char *path, char *data, size_t len,
    struct dm_oauth2_token *tok, struct dm_err *err)
{
	char *line, *nl, *sp, *end = data + len;
	long long n;
	char **slot;

	if (len < sizeof MAGIC || memcmp(data, MAGIC "\n", sizeof MAGIC) != 0)
		return damaged(path, _("it does not start as a token store does"),
		    err);
	for (line = data + sizeof MAGIC; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			return damaged(path, _("its last line is cut"), err);
		*nl = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			return damaged(path, _("a line has no value"), err);
		*sp++ = '\0';
		if (strcmp(line, "expires") == 0) {
			if (dm_strtonum(sp, 0, 1LL << 40, &n) == -1)
				return damaged(path, _("the expiry is not a time"),
				    err);
			tok->expires = (time_t)n;
			continue;
		}
		if (strcmp(line, "access") == 0)
			slot = &tok->access;
		else if (strcmp(line, "refresh") == 0)
			slot = &tok->refresh;
		else
			continue;	/* a later docmail's key */
		if (*slot != NULL || sp[0] == '\0' || strchr(sp, ' ') != NULL ||
		    strlen(sp) > DM_OAUTH2_TOKEN_MAX)
			return damaged(path, _("a token line is not valid"), err);
		if ((*slot = strdup(sp)) == NULL)
			return dm_err_set(err, DM_ENOMEM, _("out of memory"));
	}
	if (tok->access == NULL && tok->refresh == NULL)
		return damaged(path, _("it holds no token"), err);
	return 0;
}

int
dm_oauth2_store_load(const char *sdir, const char *profile,
    struct dm_oauth2_token *tok, struct dm_err *err)
{
	struct dm_buf b;
	char *path, empty[1] = "";
	int r = -1;

	memset(tok, 0, sizeof *tok);
	dm_buf_init(&b, STORE_MAX);
	if ((path = dm_oauth2_store_path(sdir, profile, err)) == NULL)
		return -1;
	if (dm_file_read(path, 1, &b) == -1) {
		if (errno == ENOENT) {
			dm_err_set(err, DM_EAUTH, _("not signed in: run docmail login"));
			dm_err_hint(err, _("the profile '%s' signs in with OAuth2 and has no sign-in yet: docmail --profile %s login"),
			    profile, profile);
		} else if (errno == ELOOP) {
			dm_err_set(err, DM_EIO, _("refusing to read the token store '%s': it is a symbolic link"),
			    DM_ERR_PATH(path));
			dm_err_hint(err, _("remove the link, then sign in again: docmail login"));
		} else if (errno == EISDIR || errno == EINVAL)
			dm_err_set(err, DM_EIO, _("cannot read the token store '%s': not a regular file"),
			    DM_ERR_PATH(path));
		else if (errno == EFBIG)
			damaged(path, _("it is too large"), err);
		else if (errno == ENOMEM)
			dm_err_set(err, DM_ENOMEM, _("out of memory"));
		else
			dm_err_set(err, DM_EIO, _("cannot read the token store '%s': %s"),
			    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	if (parse_store(path, b.data != NULL ? b.data : empty, b.len, tok,
	    err) == -1) {
		dm_oauth2_token_release(tok);
		goto out;
	}
	r = 0;
out:
	dm_buf_wipe(&b);
	free(path);
	return r;
}

static int
store_failed(struct dm_err *err, const char *path, int e)
{
	dm_err_set(err, DM_EIO, _("cannot write the token store '%s': %s"),
	    DM_ERR_PATH(path), strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		return dm_err_hint(err, _("free some disk space, then sign in again"));
	return dm_err_hint(err, _("check the permissions of '%s' and the directories above it"),
	    path);
}

int
dm_oauth2_store_save(const char *sdir, const char *profile,
    const struct dm_oauth2_token *tok, struct dm_err *err)
{
	char *dir = NULL, *path = NULL, *tmp = NULL;
	char rnd[5 + 12 + 1];
	struct dm_buf b;
	struct stat sb;
	int fd = -1, made = 0, r = -1;

	dm_buf_init(&b, STORE_MAX);
	if ((tok->access != NULL && (tok->access[0] == '\0' ||
	    strpbrk(tok->access, " \n") != NULL)) ||
	    (tok->refresh != NULL && (tok->refresh[0] == '\0' ||
	    strpbrk(tok->refresh, " \n") != NULL)))
		return dm_err_set(err, DM_EDATA, _("refusing to store a token with spaces or line ends"));
	if ((path = dm_oauth2_store_path(sdir, profile, err)) == NULL ||
	    (dir = store_dir(sdir, err)) == NULL)
		goto out;
	if (dm_file_mkdirs(dir) == -1) {
		store_failed(err, dir, errno);
		goto out;
	}
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		dm_err_set(err, DM_EIO, _("refusing to write the token store '%s': it is %s"),
		    path, S_ISLNK(sb.st_mode) ? _("a symbolic link") :
		    _("not a regular file"));
		dm_err_hint(err, _("remove it, then sign in again: docmail login"));
		goto out;
	}
	/* A dot file beside it: never listed as a profile's store. */
	if (dm_oauth2_random(rnd + 5, sizeof rnd - 5, 12, err) == -1)
		goto out;
	memcpy(rnd, ".tmp-", 5);
	if ((tmp = file_in(dir, ".", profile, rnd, err)) == NULL)
		goto out;
	if (dm_buf_addf(&b, err, "%s\nexpires %lld\n", MAGIC,
	    (long long)tok->expires) == -1 ||
	    (tok->access != NULL && dm_buf_addf(&b, err, "access %s\n",
	    tok->access) == -1) ||
	    (tok->refresh != NULL && dm_buf_addf(&b, err, "refresh %s\n",
	    tok->refresh) == -1))
		goto out;
	if (dm_file_begin_tmp(&fd, tmp, b.data, b.len, &made) == -1 ||
	    dm_file_publish(&fd, tmp, path, dir, &made) == -1) {
		store_failed(err, path, errno);
		goto out;
	}
	r = 0;
out:
	dm_file_abandon(&fd, tmp, &made);
	dm_buf_wipe(&b);
	free(tmp);
	free(path);
	free(dir);
	return r;
}

int
dm_oauth2_store_remove(const char *sdir, const char *profile,
    struct dm_err *err)
{
	char *dir = NULL, *path = NULL;
	int r = -1;

	if ((path = dm_oauth2_store_path(sdir, profile, err)) == NULL ||
	    (dir = store_dir(sdir, err)) == NULL)
		goto out;
	if (unlink(path) == -1) {
		if (errno != ENOENT) {
			dm_err_set(err, DM_EIO, _("cannot remove the token store '%s': %s"),
			    DM_ERR_PATH(path), strerror(errno));
			goto out;
		}
	} else
		(void)dm_file_fsync_dir(dir);
	r = 0;
out:
	free(path);
	free(dir);
	return r;
}

int
dm_oauth2_store_lock(const char *sdir, const char *profile, int *fdp,
    struct dm_err *err)
{
	char *dir = NULL, *path = NULL;
	int fd = -1, r = -1;

	*fdp = -1;
	if (!dm_oauth2_profile_valid(profile))
		return bad_profile(profile, err);
	if ((dir = store_dir(sdir, err)) == NULL)
		goto out;
	if (dm_file_mkdirs(dir) == -1) {
		store_failed(err, dir, errno);
		goto out;
	}
	if ((path = file_in(dir, ".", profile, ".lock", err)) == NULL)
		goto out;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY, 0600)) == -1) {
		dm_err_set(err, DM_EIO, _("cannot open the lock '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		dm_err_set(err, DM_EIO, _("cannot lock '%s': %s"),
		    DM_ERR_PATH(path), strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
	*fdp = fd;
	r = 0;
out:
	free(path);
	free(dir);
	return r;
}

void
dm_oauth2_store_unlock(int fd)
{
	if (fd != -1)
		close(fd);	/* releases the lock */
}
