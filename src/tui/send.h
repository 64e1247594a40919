/*
 * send.h - what the send dialog, its preview and the sending screen share
 *
 * The dialog (scr-send.c) owns a struct send_job: it builds the message
 * with dm_compose_build() and pushes the preview with the job; the
 * preview's "y" sets action SEND_GO and closes, which wakes the dialog
 * to push the sending screen (so "back" from there is the dialog, not
 * the preview); a sent message sets SEND_DONE and the dialog closes.
 */
#ifndef DOCMAIL_TUI_SEND_H
#define DOCMAIL_TUI_SEND_H

#include <stddef.h>
#include <time.h>

#include <docmail/compose.h>
#include <docmail/outbox.h>
#include <docmail/profile.h>
#include <docmail/secret.h>

#include "tui.h"

enum send_action {
	SEND_NONE = 0,
	SEND_GO,		/* the preview said y: start sending */
	SEND_DONE		/* sent: the dialog closes too */
};

struct send_job {
	const struct dm_profile	*profile;	/* the tui's */
	struct dm_compose	 c;		/* built by the dialog */
	char *const		*files;		/* the dialog's */
	size_t			 nfiles;
	time_t			 date;		/* as the preview shows */
	/*
	 * One message of a batch (scr-batch.c): the preview only shows it,
	 * the batch's table asks and sends.
	 */
	int			 view_only;
	enum send_action	 action;
	/*
	 * The last attempt that did not go out: it is in the outbox, and
	 * a new send from the dialog replaces it (when surely unsent).
	 */
	struct dm_outbox_item	 item;
	int			 have_item;
	/*
	 * That item vanished under us: another docmail sent or removed
	 * it.  This email is then not sent again from this dialog.
	 */
	int			 item_gone;
};

extern const struct dm_screen scr_preview;	/* arg: struct send_job * */
extern const struct dm_screen scr_progress;	/* arg: struct send_job * */

/* Lines of text for a screen, already escaped and wrapped. */
struct tlines {
	char		**v;
	attr_t		 *attr;
	size_t		  n;
	size_t		  cap;
};

void	tlines_free(struct tlines *);
/*
 * Adds text (UTF-8; control characters are escaped, a newline starts a
 * new line) wrapped at words to width columns; the first line starts
 * with label, padded to indent columns, the others with indent blanks.
 * Returns -1 when out of memory.
 */
int	tlines_add(struct tlines *, const char *label, int indent,
	    const char *text, int width, attr_t);

/*
 * The password for sending with p into pw: typed earlier in this
 * session, the profile's, or its password_command's (which gets the
 * terminal); *ask 1 when none of them has one and it must be asked.
 * Errors go to the status line (-1).
 */
int	send_password(struct tui *, const struct dm_profile *p,
	    struct dm_secret *pw, int *ask);
/* A typed password is kept for the session, for p... */
void	send_password_keep(struct tui *, const struct dm_profile *p,
	    const struct dm_secret *pw);
/* ...and forgotten when the server refused the login. */
void	send_password_forget(struct tui *);

/* The file name of path (borrowed from it), or path when it ends in '/'. */
const char *send_base_name(const char *path);

/* "12.3 KB" and the like. */
void	send_size(char *, size_t, unsigned long long);

#endif /* DOCMAIL_TUI_SEND_H */
