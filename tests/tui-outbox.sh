#!/bin/sh
# tui-outbox.sh - cleaning the outbox on its screen in a real terminal
# (tmux, 80x24): refused items labelled apart from waiting ones, retry
# all passing over refused ones, r asking before resending a refused
# one, d removing an item after asking, and not while another docmail
# sends it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 24

command -v tmux >/dev/null 2>&1 || { echo "1..0 # SKIP tmux is missing"; exit 77; }

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server good --mode plain --auth-file "$T/auth"
good=$PORT
start_server d554 --mode plain --auth-file "$T/auth" --fault data-554
d554=$PORT
start_server d451 --mode plain --auth-file "$T/auth" --fault data-451
d451=$PORT
# greets after 60 s: a send to it holds its item's lock until stopped
start_server late --mode plain --auth-file "$T/auth" --fault delay-greeting:60
late=$PORT

box=$XDG_DATA_HOME/docmail/outbox
mkdir -p "$T/docs"
mkcfg() {	# mkcfg FILE PORT [KEY=VALUE...]
	_f=$1 _p=$2
	shift 2
	profile "$_f" good "$_p" none "ca_file=" "documents_dir=$T/docs" "$@"
}
mkcfg "$T/d554.ini" "$d554"
mkcfg "$T/d451.ini" "$d451"
mkcfg "$T/late.ini" "$late" "timeout=90"
mkcfg "$T/tui.ini" "$good"
items() { find "$box/new" "$box/cur" -type f 2>/dev/null | wc -l; }
id_of() {	# id_of SUBJECT
	"$DOCMAIL" --config "$T/tui.ini" outbox | awk -v s="    subject: $1" '
		/^[^ ]/ { id = $1 }
		$0 == s { print id }'
}

run "$DOCMAIL" --config "$T/d554.ini" send --yes --to k@x.test \
    --subject 'Refused one' --body B
is_rc 69 "a message answered with 554 is refused (exit 69)"
for s in 'Waiting one' 'Drop one' 'Busy one'; do
	"$DOCMAIL" --config "$T/d451.ini" send --yes --to k@x.test \
	    --subject "$s" --body B >/dev/null 2>&1
done
[ "$(items)" -eq 4 ]; ok $? "four messages wait in the outbox"

envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
term "cd '$T' && env $envs '$DOCMAIL' --config '$T/tui.ini'"
row() { screen | grep -F -- "$1"; }
# pick SUBJECT: selects that item, by its place in the listing (the
# screen lists in the same order), with the keys sent in one go: a slow
# docmail (valgrind) takes them in order.  Fails unless its detail shows.
pick() {
	_at=$("$DOCMAIL" --config "$T/tui.ini" outbox |
	    awk -v s="    subject: $1" '/^[^ ]/ { n++ } $0 == s { print n }')
	[ -n "$_at" ] || return 1
	keys Home
	while [ "$_at" -gt 1 ]; do
		keys Down
		_at=$((_at - 1))
	done
	wait_for "Subject   $1" 20
}

wait_for "Documents" && keys o
wait_for "4 messages not accepted"
ok $? "o opens the outbox with the four messages"
row "Refused one" | grep -q " refused "
ok $? "the refused one is labelled refused"
row "Waiting one" | grep -q " waiting "
ok $? "a waiting one is labelled waiting"
pick "Refused one" && wait_for "refused for good by the server"
ok $? "its detail says the server refused it for good"
wait_for "a retry all"
ok $? "the key bar shows retry all"

# r on the refused one asks first; n sends nothing
keys r
wait_for "the server refused this message for good -- send it again anyway? (y/n)"
ok $? "r on a refused message asks first"
keys n
wait_for "not sent again"
[ "$(delivered good)" -eq 0 ]; ok $? "n sends nothing"

# d asks, naming the message; n keeps it, y removes it
pick "Drop one" && keys d &&
    wait_for "remove 'Drop one' (k@x.test) from the outbox? It will not be sent. (y/n)"
ok $? "d asks before removing, naming subject and recipient"
keys n
wait_for "kept"
[ "$(items)" -eq 4 ]; ok $? "n keeps it"
keys d
wait_for "It will not be sent. (y/n)" && keys y
wait_for "removed "
ok $? "y removes it"
wait_for "3 messages not accepted"
row "Drop one"
[ $? -ne 0 ] && [ "$(items)" -eq 3 ]
ok $? "it is gone from the screen and from the outbox"

# d on an item another docmail is sending right now: it stays
busy=$(id_of "Busy one")
"$DOCMAIL" --config "$T/late.ini" outbox --retry "$busy" >/dev/null 2>&1 &
bg=$!
wait_locked "$box"; ok $? "another docmail sending one item holds its lock"
pick "Busy one" && keys d && wait_for "It will not be sent. (y/n)" &&
    keys y && wait_for "another docmail is sending outbox item" &&
    keys F1 && wait_for "The last message, in full:" &&
    wait_joined "another docmail is sending outbox item '$busy'"
ok $? "d on an item being sent elsewhere says so (all of it under F1)"
keys Escape
[ -f "$box/new/$busy.docmail" ]; ok $? "and does not remove it"
kill -INT $bg
wait $bg
[ "$(delivered late)" -eq 0 ] && [ -f "$box/new/$busy.docmail" ]
ok $? "stopped, the other docmail leaves it waiting"

# a: retry all sends the waiting one and passes over the refused one
keys a
wait_for "retry all: 2 sent, 0 failed, 1 skipped" 30
ok $? "retry all reports two sent and one skipped"
[ "$(delivered good)" -eq 2 ]; ok $? "the waiting ones reached the server, once each"
row "Refused one" | grep -q " refused "
ok $? "the refused one is still listed as refused"
row "Waiting one" || row "Busy one"
[ $? -ne 0 ]; ok $? "the waiting ones left the list"

keys Escape
wait_for "Documents" && keys q
wait_for "EXIT=0"
term_stop

# --- the send screen: a refusal for good says so, and r asks first
cp "$SAMPLES/invoice-2026-001.pdf" "$T/inv.pdf"
term "cd '$T' && env $envs '$DOCMAIL' --config '$T/d554.ini' '$T/inv.pdf'"
wait_for "Subject ["
keys -l 'k@x.test'
keys Tab Tab Tab Tab
keys -l 'Dialog refused'
keys F3
wait_for "Send this email to 1 recipient? (y/n)" && keys y
wait_for "The server refused it for good. The message is in the outbox as" 20 &&
    wait_for "marked refused: a plain retry passes it" 1
ok $? "a send refused for good says the message is kept as refused"
keys r
wait_for "The server refused it for good. Send it again anyway? (y/n)"
ok $? "r there asks before sending it again"
keys n
sleep 0.5
[ "$(delivered d554)" -eq 0 ] && [ "$(id_of 'Dialog refused')" != "" ] &&
    [ "$(items)" -eq 2 ]
ok $? "n sends nothing and keeps the one refused item"
term_stop

done_testing
