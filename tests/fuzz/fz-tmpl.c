/*
 * fz-tmpl.c - fuzz target for the template engine
 *
 * Input: a byte choosing the output cap, the template, then NUL-
 * separated KEY=VALUE assignments as given to --set.  Beyond not
 * crashing: the first value of a name wins; a failed expansion leaves
 * the output as it was and explains itself in printable text; a good
 * one equals the template rebuilt from what dm_tmpl_each() reports.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <docmail/buf.h>
#include <docmail/err.h>
#include <docmail/tmpl.h>

#include "fuzz.h"

#define PREFIX	"pre:"

struct rebuild {
	const char		*tmpl;
	const struct dm_vars	*vars;
	struct dm_buf		 out;
	size_t			 pos;	/* end of the last placeholder */
	int			 unresolved;
};

static int
each_cb(const char *name, size_t off, size_t len, void *arg)
{
	struct rebuild *rb = arg;
	const char *t = rb->tmpl, *v;
	struct dm_err err;
	size_t i;

	FZ_CHECK(dm_tmpl_name_valid(name));
	FZ_CHECK(off >= rb->pos && len >= 4 + strlen(name));
	FZ_CHECK(off + len <= strlen(t));
	FZ_CHECK(t[off] == '{' && t[off + 1] == '{');
	FZ_CHECK(t[off + len - 2] == '}' && t[off + len - 1] == '}');
	/* Between the braces: the name with blanks around it only. */
	for (i = off + 2; t[i] == ' ' || t[i] == '\t'; i++)
		;
	FZ_CHECK(strncmp(t + i, name, strlen(name)) == 0);
	for (i += strlen(name); i < off + len - 2; i++)
		FZ_CHECK(t[i] == ' ' || t[i] == '\t');
	if ((v = dm_vars_get(rb->vars, name)) == NULL) {
		rb->unresolved = 1;
		v = "";
	}
	FZ_CHECK(dm_buf_add(&rb->out, t + rb->pos, off - rb->pos, &err) == 0);
	FZ_CHECK(dm_buf_addstr(&rb->out, v, &err) == 0);
	rb->pos = off + len;
	return 0;
}

/* A callback's non-zero value stops the walk and comes back. */
static int
stop_cb(const char *name, size_t off, size_t len, void *arg)
{
	(void)name;
	(void)off;
	(void)len;
	(*(int *)arg)++;
	return 7;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct dm_vars vars;
	struct dm_buf out;
	struct dm_err err;
	struct rebuild rb;
	const char *eq, *got;
	char *tmpl, *a, *name;
	unsigned int cap;
	int r, calls = 0;

	dm_vars_init(&vars);
	cap = fz_byte(&in);
	tmpl = fz_field(&in);
	while (in.n > 0) {
		a = fz_field(&in);
		dm_err_clear(&err);
		r = dm_vars_add_assignment(&vars, a, &err);
		if (r == -1) {
			FZ_CHECK(err.code == DM_EUSAGE || err.code == DM_EDATA);
			FZ_CHECK(fz_printable(err.msg) && fz_printable(err.hint));
		} else if ((eq = strchr(a, '=')) != NULL) {
			/* The first value given for a name stays. */
			name = fz_strndup(a, (size_t)(eq - a));
			FZ_CHECK(dm_tmpl_name_valid(name));
			got = dm_vars_get(&vars, name);
			FZ_CHECK(got != NULL);
			FZ_CHECK(r == 0 || strcmp(got, eq + 1) == 0);
			free(name);
		} else
			FZ_CHECK(0);
		free(a);
	}

	dm_buf_init(&out, cap == 0 ? 0 : 4 + cap * 8);
	FZ_CHECK(dm_buf_addstr(&out, PREFIX, &err) == 0);
	dm_err_clear(&err);
	r = dm_tmpl_expand(tmpl, &vars, "body", &out, &err);

	memset(&rb, 0, sizeof rb);
	rb.tmpl = tmpl;
	rb.vars = &vars;
	dm_buf_init(&rb.out, 0);
	FZ_CHECK(dm_buf_addstr(&rb.out, PREFIX, &err) == 0);
	FZ_CHECK(dm_tmpl_each(tmpl, each_cb, &rb) == 0);
	FZ_CHECK(dm_buf_addstr(&rb.out, tmpl + rb.pos, &err) == 0);

	if (r == -1) {
		FZ_CHECK(err.code == DM_EDATA || err.code == DM_ENOMEM);
		FZ_CHECK(err.msg[0] != '\0' && fz_printable(err.msg));
		FZ_CHECK(fz_printable(err.hint));
		FZ_CHECK(strcmp(dm_buf_str(&out), PREFIX) == 0);
	} else {
		FZ_CHECK(!rb.unresolved);
		FZ_CHECK(out.len == rb.out.len && memcmp(dm_buf_str(&out),
		    dm_buf_str(&rb.out), out.len) == 0);
	}
	if (rb.pos > 0) {
		FZ_CHECK(dm_tmpl_each(tmpl, stop_cb, &calls) == 7);
		FZ_CHECK(calls == 1);
	}

	dm_buf_release(&rb.out);
	dm_buf_release(&out);
	dm_vars_release(&vars);
	free(tmpl);
	return 0;
}
