/*
 * screens.h - the screens other screens push
 *
 * Each screen is one file exporting one const struct dm_screen (see
 * tui.h); a screen that takes an argument declares its struct here.
 */
#ifndef DOCMAIL_TUI_SCREENS_H
#define DOCMAIL_TUI_SCREENS_H

#include "tui.h"

/* The send dialog (scr-send.c) for the documents files[0..nfiles-1]. */
struct scr_send_arg {
	char *const	*files;		/* borrowed for the call to enter() */
	int		 nfiles;
};

extern const struct dm_screen scr_send;
extern const struct dm_screen scr_settings;	/* scr-settings.c */
extern const struct dm_screen scr_list;		/* scr-list.c: the documents */
extern const struct dm_screen scr_outbox;	/* scr-outbox.c */

#endif /* DOCMAIL_TUI_SCREENS_H */
