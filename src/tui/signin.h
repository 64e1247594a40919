/*
 * signin.h - the Sign in box of the settings screen: an OAuth2 sign-in
 * running in a background thread
 *
 * The device flow (Microsoft, or any provider with a device endpoint)
 * shows the address and the code and polls at the provider's interval;
 * the authorization-code flow (Google) shows the address to open,
 * waits on the loopback listener, and takes the address the browser
 * ended on, pasted into the box (over SSH the browser cannot reach
 * 127.0.0.1).  Either way the token lands in the store of the
 * profile's id, where Test connection and sending find it.
 */
#ifndef DOCMAIL_TUI_SIGNIN_H
#define DOCMAIL_TUI_SIGNIN_H

#include <docmail/err.h>
#include <docmail/profile.h>

#include "tui.h"

struct signin;

/*
 * Starts signing in profile p (copied: the box outlives the fields it
 * came from) with the title's provider name, e.g. "Microsoft 365".
 * Settings that cannot work (no client id: the hint says how to
 * register one; an endpoint that is no https address) fail here,
 * before anything runs.  Returns NULL with err set.
 * Errors: DM_ECONFIG, DM_EIO (no loopback listener), DM_ENOMEM.
 */
struct signin	*signin_start(struct tui *, const struct dm_profile *p,
		    const char *title, struct dm_err *);

/*
 * Cancels (when still running), waits for the thread and frees; NULL is
 * a no-op.
 */
void		 signin_free(struct signin *);

/* A key while the box is open; Esc asks the thread to stop. */
int		 signin_key(struct tui *, struct signin *, int is_key,
		    wint_t ch);

/* 1 once the sign-in has ended (its result is then final). */
int		 signin_done(struct signin *);

/*
 * The result of an ended sign-in: 0 signed in, else -1 with err (the
 * cause, and a hint for this screen).
 */
int		 signin_result(struct signin *, struct dm_err *);

/* The terminal changed size: the paste field is made again. */
void		 signin_resize(struct signin *);

/* Paints the box over the screen's body. */
void		 signin_draw(struct tui *, struct signin *);
void		 signin_cursor(struct signin *);
const char	*signin_keybar(struct signin *);

#endif /* DOCMAIL_TUI_SIGNIN_H */
