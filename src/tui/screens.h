/*
 * screens.h - the screens other screens push
 *
 * Each screen is one file exporting one const struct dm_screen (see
 * tui.h); a screen that takes an argument declares its struct here.
 */
#ifndef DOCMAIL_TUI_SCREENS_H
#define DOCMAIL_TUI_SCREENS_H

#include <stddef.h>

#include "tui.h"

/* The send dialog (scr-send.c) for the documents files[0..nfiles-1]. */
struct scr_send_arg {
	char *const	*files;		/* borrowed for the call to enter() */
	int		 nfiles;
};

/*
 * A batch (scr-batch.c): one email per document of paths[0..n-1], the
 * list's.  When it ends, finished is set and stored[i] (n entries, the
 * caller's, may be NULL) says that paths[i] is now sent or waits in the
 * outbox; both outlive the screen.
 */
struct scr_batch_arg {
	char *const	*paths;		/* borrowed for the call to enter() */
	size_t		 n;
	int		*stored;
	int		 finished;
};

extern const struct dm_screen scr_send;
extern const struct dm_screen scr_batch;
extern const struct dm_screen scr_settings;	/* scr-settings.c */
extern const struct dm_screen scr_list;		/* scr-list.c: the documents */
extern const struct dm_screen scr_outbox;	/* scr-outbox.c */

#endif /* DOCMAIL_TUI_SCREENS_H */
