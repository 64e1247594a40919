#!/bin/sh
# hostile.sh - docmail against hostile and broken SMTP servers
# (tests/smtpd.py faults): over-long, endless, unterminated, mixed and
# unasked replies, 8-bit text and terminal escapes, plain text injected
# after STARTTLS, TLS renegotiation and KeyUpdate, long certificate
# chains, replies trickling one byte a second.  Each must end in time,
# with the cause in plain words, a hint and the right exit status; the
# message stays in the outbox, nothing is delivered twice, and no byte
# of the server's text reaches the terminal raw.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 240

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
cfg=$T/cfg.ini
prof=		# extra profile keys
verbose=	# --verbose, or not
ehlo=		# the server's --ehlo-profile; empty: ms365 and postfix by turns
turn=0

# clean DESCRIPTION FILE...: no byte of the files is a control character
# (but newline) or 8-bit.  Every subject and address here is ASCII, so
# such a byte could only come from the server.
clean() {
	_d=$1
	shift
	if LC_ALL=C grep -naP '[^\n\x20-\x7e]' "$@" >"$T/raw"; then
		ok 1 "$_d"
		diag "raw bytes:" "$(od -c "$T/raw" | head -8)"
	else
		ok 0 "$_d"
	fi
}

# hostile NAME MODE RC WHAT [--to ADDRS] [SERVER-ARGS...]: runs "docmail
# send" (WHAT = send) or "docmail test" (WHAT = test) against a new
# server NAME started with MODE and SERVER-ARGS, under timeout 30.
# The server answers EHLO as a real one does (CHUNKING among it all):
# as $ehlo, or else as Microsoft 365 and Postfix by turns.
# Checks the exit status RC, that docmail ended by itself and within
# $limit seconds, that the output is clean, and for a failure that
# there is a hint.  The subject is "Hostile NAME".
limit=12
hostile() {
	_name=$1 _mode=$2 _rc=$3 _what=$4
	shift 4
	_to=a@x.test
	if [ "$1" = --to ]; then
		_to=$2
		shift 2
	fi
	if [ -n "$ehlo" ]; then
		_ehlo=$ehlo
	else
		turn=$((turn + 1))
		_ehlo=$([ $((turn % 2)) -eq 1 ] && echo ms365 || echo postfix)
	fi
	start_server "$_name" --mode "$_mode" --auth-file "$T/auth" \
	    --ehlo-profile "$_ehlo" "$@"
	profile "$cfg" "$_name" "$PORT" \
	    "$([ "$_mode" = plain ] && echo none || echo "$_mode")" $prof
	_t0=$(date +%s%N)
	if [ "$_what" = test ]; then
		run timeout 30 "$DOCMAIL" --config "$cfg" test $verbose
	else
		run timeout 30 "$DOCMAIL" --config "$cfg" send --yes \
		    --to "$_to" --subject "Hostile $_name" --body B $verbose
	fi
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	_t=$((_ms / 1000))
	is_rc "$_rc" "$_name: exit $_rc"
	[ "$rc" -ne 124 ] && [ "$_t" -le "$limit" ]
	ok $? "$_name: ends by itself, in $_t s"
	clean "$_name: nothing raw from the server on stdout or stderr" \
	    "$T/out" "$T/err"
	if [ "$_rc" -ne 0 ]; then
		grep -q '^hint: .' "$T/err"
		ok $? "$_name: with a hint" || diag "$(cat "$T/err")"
	fi
}

# kept NAME STATE: the message of "hostile NAME" is in the outbox, as
# STATE ("waiting" or "may have been delivered")
kept() {
	"$DOCMAIL" --config "$cfg" outbox >"$T/outbox" 2>&1
	grep -B2 "subject: Hostile $1\$" "$T/outbox" | head -1 | grep -qF "$2"
	ok $? "$1: the message is in the outbox, $2" ||
	    diag "$(cat "$T/outbox")"
}

# none NAME: the server NAME stored no message
none() {
	[ "$(delivered "$1")" -eq 0 ]
	ok $? "$1: nothing was delivered"
}

# --- over-long, endless and unterminated replies
hostile longgreet starttls 76 send --fault long-line:greeting
has "$T/err" "over-long reply line (more than 4096 bytes)" \
    "a 1 MiB greeting line is named (read before TLS)"
kept longgreet waiting
hostile longehlo ssl 76 send --fault long-line:ehlo
has "$T/err" "over-long reply line (more than 4096 bytes)" \
    "a 1 MiB EHLO line is named (inside TLS)"
kept longehlo waiting
# two recipients: libESMTP waits for several pipelined replies
hostile longrcpt ssl 76 send --to 'a@x.test, b@x.test' --fault long-line:rcpt
has "$T/err" "over-long reply line" "a 1 MiB RCPT reply line is named"
none longrcpt
kept longrcpt waiting
hostile endless starttls 76 send --fault endless-reply:ehlo
has "$T/err" "over-long reply (more than 65536 bytes)" \
    "an EHLO reply that never ends is stopped at 64 KiB (before TLS)"
kept endless waiting
hostile endless2 ssl 76 send --fault endless-reply:greeting
has "$T/err" "over-long reply (more than 65536 bytes)" \
    "a greeting that never ends is stopped at 64 KiB (inside TLS)"
hostile nocrlf starttls 75 send --fault no-crlf:greeting
has "$T/err" "only part of a reply" "a greeting without a line end times out, said so"
kept nocrlf waiting
hostile nocrlf2 ssl 75 send --to 'a@x.test, b@x.test' --fault no-crlf:rcpt
has "$T/err" "only part of its reply to RCPT TO" \
    "a RCPT reply without a line end times out, said so"
none nocrlf2
kept nocrlf2 waiting
# LF alone is unambiguous: accepted, as most clients do
for ehlo in $DATA_PROFILES; do
	hostile "barelf-$ehlo" starttls 0 send --fault bare-lf
	[ "$(delivered "barelf-$ehlo")" -eq 1 ]; ok $? "$ehlo: replies ending in LF alone are accepted"
	by_data "barelf-$ehlo" 1 "$ehlo: by DATA, never BDAT, stored once"
done
ehlo=

# --- 8-bit text, invalid UTF-8 and terminal escapes in the server's words
verbose=--verbose
hostile esc ssl 0 test --fault 8bit-reply:greeting --fault 8bit-reply:ehlo
has "$T/out" "?[2J?[31mred?[0m ?]0;owned? caf??" \
    "the greeting is shown with every control and 8-bit byte as '?'"
has "$T/err" "X-?[2J?[31mred" "so is the EHLO reply in the transcript"
hostile esc2 starttls 69 send --fault 8bit-reply:greeting \
    --fault 8bit-reply:ehlo --fault 8bit-reply:mail
has "$T/err" "S: 220-?[2J?[31mred" "the greeting read before TLS is escaped in the transcript"
has "$T/err" "refused the sender 'anna@example.test': server said: 553 5.7.1 ?[2J" \
    "the refusal of MAIL is shown escaped"
kept esc2 refused
verbose=
hostile esc3 ssl 69 send --fault 8bit-reply:rcpt
has "$T/out" "refused  a@x.test: 550 5.7.1 ?[2J?[31mred" \
    "a refused recipient's reply is shown escaped"
kept esc3 refused
grep -A3 "subject: Hostile esc3" "$T/outbox" >"$T/note"
clean "the outbox keeps the error escaped too" "$T/note"
for ehlo in $DATA_PROFILES; do
	hostile "esc4-$ehlo" starttls 69 send --fault 8bit-reply:dot
	has "$T/err" "did not accept the message: server said: 554 5.7.1 ?[2J" \
	    "$ehlo: the refusal of the message is shown escaped"
	none "esc4-$ehlo"
	kept "esc4-$ehlo" refused
	by_data "esc4-$ehlo" 0 "esc4-$ehlo: the message went by DATA, never BDAT"
done
ehlo=
# libESMTP, cut off while it waits for replies, would sit out its own
# timeout (the profile's): with 20 seconds, ending in less than half of
# that shows it was wound down, however slow the machine.
prof=timeout=20
hostile esc5 ssl 77 send --fault 8bit-reply:auth
prof=
has "$T/err" "server said: 535 5.7.1 ?[2J" "a failed login's reply is shown escaped"
[ "$_ms" -lt 10000 ]
ok $? "a refusal ends well within the timeout ($_ms ms): libESMTP is wound down, not waited for"
kept esc5 waiting

# --- replies out of turn, mixed codes
hostile early starttls 76 send --fault early-talk:greeting
has "$T/err" "sent data nobody asked for before docmail's EHLO" \
    "data behind the greeting, before EHLO, is refused (before TLS)"
kept early waiting
hostile early2 ssl 76 send --fault early-talk:greeting
has "$T/err" "sent a reply before docmail's command" \
    "a reply behind the greeting is refused (inside TLS)"
hostile early3 ssl 76 send --fault early-talk:mail
has "$T/err" "sent a reply before docmail's command" \
    "a reply nobody asked for amid pipelined commands is refused"
none early3
kept early3 waiting
hostile mixed starttls 76 send --fault mixed-reply:greeting
has "$T/err" "mixed reply codes in one reply: '554-interjected" \
    "a greeting with lines of another code is refused (before TLS)"
hostile mixed2 ssl 76 send --to 'a@x.test, b@x.test' --fault mixed-reply:rcpt
has "$T/err" "mixed reply codes in one reply" \
    "a RCPT reply with lines of another code is refused (inside TLS)"
none mixed2
kept mixed2 waiting

# --- STARTTLS: plain text injected behind the 220 is never read as a reply
hostile inject starttls 76 send --fault starttls-inject
has "$T/err" "sent plain text after agreeing to STARTTLS" \
    "plain text behind the STARTTLS 220 is named"
hasnt "$T/err" "injected in clear" "and never shown as a reply"
if grep -q -e '^AUTH' -e '^MAIL' "$T/inject/log"; then r=1; else r=0; fi
ok $r "nothing followed: no AUTH, no MAIL"
kept inject waiting

# --- TLS renegotiation is refused, a TLS 1.3 KeyUpdate is fine
hostile reneg ssl 77 send --fault renegotiate
has "$T/err" "asked to renegotiate TLS" "a renegotiation request is named"
has "$T/reneg/log" "fault renegotiate requested" "the server did ask"
hasnt "$T/reneg/log" "renegotiation done" "and did not get it"
none reneg
kept reneg waiting
hostile reneg2 starttls 77 test --fault renegotiate
has "$T/err" "asked to renegotiate TLS" "after STARTTLS too"
for ehlo in $DATA_PROFILES; do
	hostile "keyupd-$ehlo" ssl 0 send --fault key-update
	has "$T/keyupd-$ehlo/log" "fault key-update requested" "$ehlo: the server sent a KeyUpdate"
	[ "$(delivered "keyupd-$ehlo")" -eq 1 ]; ok $? "$ehlo: and the message went through once"
	by_data "keyupd-$ehlo" 1 "$ehlo: by DATA, never BDAT"
done
ehlo=

# --- certificate chains: 20 intermediates are fine, over 100 are not
for ehlo in $DATA_PROFILES; do
	hostile "chain20-$ehlo" ssl 0 send --fault chain:20
	[ "$(delivered "chain20-$ehlo")" -eq 1 ]; ok $? "$ehlo: a chain of 20 intermediate CAs is verified, the message sent"
	by_data "chain20-$ehlo" 1 "$ehlo: by DATA, never BDAT"
done
ehlo=
hostile chain101 ssl 77 test --fault chain:101
has "$T/err" "chain of more than 100 intermediate certificates" \
    "a chain of 101 intermediate CAs is refused, said so"

# --- one byte a second: the per-step timeout holds for the whole reply
prof=timeout=2
limit=8
hostile trickle starttls 75 send --fault trickle-reply:ehlo
has "$T/err" "only part of a reply within 2 seconds" "a trickling EHLO reply (before TLS) times out"
kept trickle waiting
hostile trickle2 ssl 75 send --fault trickle-reply:ehlo
has "$T/err" "only part of its reply to EHLO within 2 seconds" "a trickling EHLO reply (inside TLS) times out"
for ehlo in $DATA_PROFILES; do
	hostile "trickle3-$ehlo" ssl 75 send --fault trickle-reply:data
	has "$T/err" "only part of its reply to DATA" "$ehlo: a trickling 354 times out"
	none "trickle3-$ehlo"
	kept "trickle3-$ehlo" waiting
	by_data "trickle3-$ehlo" 0 "trickle3-$ehlo: DATA, never BDAT"
	hostile "trickle4-$ehlo" ssl 75 send --fault trickle-reply:dot
	has "$T/err" "only part of its reply to the end of the message" \
	    "$ehlo: a trickling reply to the final dot times out"
	has "$T/err" "may have been delivered" "$ehlo: and the user is told it may have arrived"
	kept "trickle4-$ehlo" "may have been delivered"
	by_data "trickle4-$ehlo" 1 "trickle4-$ehlo: DATA, never BDAT, stored once (only the reply trickled)"
done
ehlo=
prof=
limit=12

# --- pipelining: a hundred recipients, every reply lands on its command
to=$(seq 1 100 | sed 's/.*/r&@x.test/' | paste -sd, -)
for ehlo in $DATA_PROFILES; do
	hostile "many-$ehlo" ssl 0 send --to "$to"
	[ "$(delivered "many-$ehlo")" -eq 1 ] && [ "$(rcpts "$T/many-$ehlo/mail/0001.json" |
	    tr , '\n' | wc -l)" -eq 100 ]
	ok $? "$ehlo: a message to 100 recipients is sent once, to all of them"
	has "$T/out" "ok       r100@x.test: 250" "$ehlo: the last recipient is reported with its reply"
	"$DOCMAIL" --config "$cfg" outbox >"$T/outbox" 2>&1
	hasnt "$T/outbox" "Hostile many-$ehlo" "$ehlo: and it is not left in the outbox"
	by_data "many-$ehlo" 1 "$ehlo: by DATA, never BDAT"
done
ehlo=

# --- a retry to a well-behaved server sends each waiting message once
start_server good --mode ssl --auth-file "$T/auth" --ehlo-profile ms365
profile "$cfg" good "$PORT" ssl
"$DOCMAIL" --config "$cfg" outbox >"$T/before" 2>&1
waiting=$(grep -c '  waiting,' "$T/before")
maybe=$(grep -c 'may have been delivered' "$T/before")
run setsid -w timeout 60 "$DOCMAIL" --config "$cfg" outbox --retry
[ "$(delivered good)" -eq "$waiting" ]
ok $? "the retry delivers the $waiting waiting messages, once each ($(delivered good))"
subjects=$(cat "$T"/good/mail/*.eml | grep '^Subject:' | sort)
[ "$(echo "$subjects" | uniq | wc -l)" -eq "$(echo "$subjects" | wc -l)" ]
ok $? "no subject twice"
by_data good "$waiting" "the retry sent them by DATA, never BDAT (ms365)"
"$DOCMAIL" --config "$cfg" outbox >"$T/after" 2>&1
[ "$(grep -c 'may have been delivered' "$T/after")" -eq "$maybe" ] &&
    [ "$maybe" -ge 1 ]
ok $? "the $maybe maybe-delivered one(s) stay, for the user to decide"

# --- the TUI: an escape sequence in a reply never reaches the terminal
if command -v tmux >/dev/null 2>&1; then
	start_server tui --mode ssl --auth-file "$T/auth" \
	    --fault 8bit-reply:greeting --fault 8bit-reply:auth
	profile "$cfg" tui "$PORT" ssl
	envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
	term "env $envs '$DOCMAIL' --config '$cfg' settings"
	# every byte docmail writes to the terminal
	tmux -L "$TMUX_SOCK" pipe-pane -o "cat >>'$T/tty.raw'"
	wait_for "SMTP settings"
	ok $? "tui: the settings screen opens"
	keys F5
	wait_for "server said: 535" 15
	ok $? "tui: Test connection fails at the login"
	screen >"$T/screen"
	grep -q 'ok   greeting .* ms  *?\[2J?\[31' "$T/screen"
	ok $? "tui: the greeting is shown escaped" || diag "$(cat "$T/screen")"
	has "$T/screen" "server said: 535 5.7.1 ?[2J?[31mred" "tui: so is the login failure"
	keys Escape
	sleep 0.5
	tmux -L "$TMUX_SOCK" pipe-pane
	# the server's bytes (tests/smtpd.py HOSTILE_TEXT), as PCRE
	found=
	for seq in '\x1b\[2J\x1b\[31mred' '\x1b\]0;owned' 'caf\xc3\xa9' \
	    'bad\xc3\x28' '\xff\xfe' '\x9b1m' '\xe2\x80\xae' 'back\x08' \
	    'bell\x07' 'nul\x00' 'cr\rover'; do
		if LC_ALL=C grep -qaP -- "$seq" "$T/tty.raw"; then
			found="$found $seq"
		fi
	done
	[ -s "$T/tty.raw" ] && [ -z "$found" ]
	ok $? "tui: none of the server's escape sequences or raw bytes reach the terminal${found:+:$found}"
	term_stop
else
	for i in 1 2 3 4 5; do
		echo "ok $((tap_n + i)) # SKIP tmux not installed"
	done
	tap_n=$((tap_n + 5))
fi

done_testing
