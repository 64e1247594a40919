#!/bin/sh
# outbox.sh - a message the server refused for good (5xx) is kept as
# "refused" and never resent by a plain retry.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 39

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
cfg=$T/cfg.ini
box=$XDG_DATA_HOME/docmail/outbox
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }
# Plain SMTP on loopback: no CA needed.
use() {	# use SERVER: the config points at that server
	profile "$cfg" "$1" "$(cat "$T/$1/port")" none "ca_file=" "timeout=5"
}
# id_of SUBJECT: the ID of the outbox item with that subject
id_of() {
	"$DOCMAIL" --config "$cfg" outbox | awk -v s="    subject: $1" '
		/^[^ ]/ { id = $1 }
		$0 == s { print id }'
}
# state_of SUBJECT: its state as listed ("waiting", "refused", ...)
state_of() {
	"$DOCMAIL" --config "$cfg" outbox | awk -v s="    subject: $1" '
		/^[^ ]/ { st = $0; sub(/^[^ ]+  [^ ]+ [^ ]+  /, "", st);
		    sub(/, [0-9]+ attempts?$/, "", st) }
		$0 == s { print st }'
}
items() { find "$box/new" "$box/cur" -type f 2>/dev/null | wc -l; }

start_server good --mode plain --auth-file "$T/auth"
start_server d554 --mode plain --auth-file "$T/auth" --fault data-554
start_server d451 --mode plain --auth-file "$T/auth" --fault data-451
start_server r550 --mode plain --auth-file "$T/auth" \
    --fault rcpt-550:bad@x.test --fault rcpt-451:later@x.test
start_server m553 --mode plain --auth-file "$T/auth" --fault mail-553

# --- 554 after the data: refused, kept, listed as such
use d554
dm send --yes --to a@x.test --subject Refused --body B
is_rc 69 "554 after the data is exit 69"
has "$T/err" "marked refused" "the user is told the message is kept as refused"
has "$T/err" "--retry --force" "and how to resend it deliberately"
id=$(id_of Refused)
[ "$(state_of Refused)" = refused ]; ok $? "the outbox lists it as refused"
dm outbox
has "$T/out" "last error: the server did not accept the message: server said: 554" \
    "with the server's refusal as its last error"
has "$T/out" "refused for good: a plain --retry passes it over" \
    "and a line saying a plain retry passes it over"
grep -q '^X-Docmail-State: refused' "$box/new/$id.docmail"
ok $? "the state is in the item's file, so it survives a crash"

# --- a plain retry skips it, even with --force; naming it needs --force
use good
dm outbox --retry
is_rc 69 "a plain retry with only a refused item is exit 69"
has "$T/out" "skipped $id: the server refused it for good" \
    "it says the refused item was skipped, and why"
has "$T/out" "'docmail outbox --retry --force $id' sends it again" \
    "and how to send it deliberately"
[ "$(delivered good)" -eq 0 ]; ok $? "a plain retry sends nothing"
dm outbox --retry --force
is_rc 69 "--retry --force without an ID skips it too"
[ "$(delivered good)" -eq 0 ]; ok $? "and sends nothing"
run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry "$id"
is_rc 69 "--retry ID without --force and without a terminal skips it"
[ "$(delivered good)" -eq 0 ]; ok $? "and sends nothing"
[ "$(state_of Refused)" = refused ]; ok $? "it stays refused"

# a waiting item goes while the refused one waits for a decision
use d451
dm send --yes --to a@x.test --subject Later --body B
is_rc 75 "451 after the data is exit 75"
[ "$(state_of Later)" = waiting ]; ok $? "a temporary failure is listed as waiting"
use good
dm outbox --retry
is_rc 69 "a plain retry sends the waiting one and skips the refused one: exit 69"
has "$T/out" "outbox: 1 sent, 0 failed, 1 skipped" "the summary counts both"
[ "$(delivered good)" -eq 1 ]; ok $? "the waiting one was delivered"
[ "$(state_of Refused)" = refused ] && [ -z "$(id_of Later)" ]
ok $? "the refused one stays, the waiting one is gone"

# naming it with --force: the user fixed the cause
dm outbox --retry --force "$id"
is_rc 0 "--retry --force ID sends a refused item"
[ "$(delivered good)" -eq 2 ]; ok $? "delivered once"
[ "$(items)" -eq 0 ]; ok $? "and it left the outbox"

# a refused item that meets a temporary failure waits again
use d554
dm send --yes --to a@x.test --subject Again --body B
id=$(id_of Again)
use d451
dm outbox --retry --force "$id"
is_rc 75 "a forced retry of a refused item answered with 451 is exit 75"
[ "$(state_of Again)" = waiting ]; ok $? "and the item waits again"
rm -f "$box/new/$id.docmail"

# --- every recipient refused, a refused sender: refused too
use r550
dm send --yes --to bad@x.test --subject Nobody --body B
is_rc 69 "a message whose every recipient is refused is exit 69"
[ "$(state_of Nobody)" = refused ]; ok $? "and is kept as refused"
use m553
dm send --yes --to a@x.test --subject Sender --body B
is_rc 69 "a sender refused with 553 is exit 69"
[ "$(state_of Sender)" = refused ]; ok $? "and the message is kept as refused"

# partial delivery: the others got it; the rest refused for good
use r550
dm send --yes --to 'a@x.test, bad@x.test' --subject Partial --body B
is_rc 69 "one of two recipients refused: exit 69"
[ "$(delivered r550)" -eq 1 ]; ok $? "the other one got it"
[ "$(state_of Partial)" = refused ]; ok $? "the item is refused"
"$DOCMAIL" --config "$cfg" outbox | grep -A1 "^$(id_of Partial) " |
    grep -qx "    to: bad@x.test"
ok $? "and holds only the refused recipient"
hasnt "$T/err" "'docmail outbox --retry' later sends" \
    "the hint does not send the user to a plain retry"
# one refused for good, one for a while: both wait, as before
dm send --yes --to 'a@x.test, bad@x.test, later@x.test' --subject Mixed --body B
is_rc 75 "one refused for good and one for a while: exit 75"
[ "$(state_of Mixed)" = waiting ]; ok $? "the item waits"
"$DOCMAIL" --config "$cfg" outbox | grep -A1 "^$(id_of Mixed) " |
    grep -qx "    to: bad@x.test, later@x.test"
ok $? "for both recipients not reached"
rm -f "$box/new/"*

done_testing
