#!/bin/sh
# tui-keys.sh - keys whose sequences the terminal description lacks:
# with TERM=vt100 (no End, Home, Delete or F5 in its terminfo) and the
# other common TERMs inside tmux, which sends xterm's sequences, End,
# Home, Delete and F5 do what they say and never act as Esc; a sequence
# nobody knows is dropped; a bare Esc still goes back.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

TERMS="vt100 linux screen-256color tmux-256color xterm-256color"
plan 34

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth"
cfg=$XDG_CONFIG_HOME/docmail/config.ini
mkdir -p "$(dirname "$cfg")"
profile "$cfg" tls "$PORT" starttls
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
mkdir -p "$T/doc"
cp "$SAMPLES/invoice-2026-001.pdf" "$SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"
printf '\n[template invoice]\nsubject = Invoice {{number}}\nbody = Dear {{contact}}\n' >>"$cfg"
row() { screen | grep -m1 "^ *$1"; }

for tt in $TERMS; do
	# The settings screen: End and Home move, F5 tests the connection.
	term "env $envs TERM=$tt '$DOCMAIL' settings"
	wait_for "Test connection"
	keys End
	keys Home
	keys F5
	wait_for "Test connection passed" 15
	ok $? "$tt: End and Home stay in the screen, F5 tests the connection"
	screen | grep -q "EXIT=" && r=1 || r=0
	ok $r "$tt: the screen was not left"
	# An unknown sequence is dropped; a bare Esc still leaves.
	keys -l "$(printf '\033[99~')"
	keys Escape
	wait_for "EXIT=0"
	ok $? "$tt: an unknown sequence is dropped, a bare Esc leaves"

	# The send dialog: Home, End and Delete edit the To field.
	term "env $envs TERM=$tt '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
	wait_for "Subject [Invoice 2026-001"
	keys -l 'bc@x.test'
	keys Home
	keys -l 'a'
	keys End
	keys -l 'y'
	keys Home
	keys DC
	wait_for "[bc@x.testy"
	row "To *\[" | grep -q "\[bc@x.testy "
	ok $? "$tt: Home, End and Delete edit the field"
	screen | grep -q "Discard this email?" && r=1 || r=0
	ok $r "$tt: and none of them asked to discard the email"
	keys C-c
	wait_for "Discard this email?"
	keys y
	wait_for "EXIT="
	ok $? "$tt: the dialog leaves as it should"
done

# A long To, seen from another field: whole addresses, then "+N more".
term "env $envs '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
wait_for "Subject [Invoice 2026-001"
keys -l 'Buchhaltung Beispiel <buchhaltung@beispiel.test>, "Keller, Anna" <anna.keller@beispiel.test>, ap@kunde.test, einkauf@kunde.test'
keys Tab
wait_for "+3 more"
row "To *\[" | grep -q '\[Buchhaltung Beispiel <buchhaltung@beispiel.test> +3 more *\]'
ok $? "a long To shows whole addresses and how many more when not focused" || diag "$(row "To *\[")"
keys BTab
wait_for "einkauf@kunde.test"
ok $? "focused again, it shows the text being edited"
# help taller than 80x24 scrolls, and says there is more
keys F1
wait_for "-- more: PgDn or Space --"
ok $? "a help taller than the screen says there is more"
keys NPage
wait_for "Every F-key has a Ctrl alternative"
ok $? "and PgDn shows the rest"
keys Escape
wait_for "Subject [Invoice 2026-001"
keys C-c
wait_for "Discard this email?"
keys y
wait_for "EXIT="

done_testing
