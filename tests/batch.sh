#!/bin/sh
# batch.sh - "docmail batch": one message per document, recipients from
# each sidecar, everything checked before anything is stored, all of it
# over one SMTP session; refusals, a 421, a dropped connection and a
# server's limit of messages per session in the middle of a run; pacing.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 109

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
cfg=$T/cfg.ini
box=$XDG_DATA_HOME/docmail/outbox
log=$XDG_STATE_HOME/docmail/sent.log
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }
items() { find "$box/new" "$box/cur" -type f 2>/dev/null | wc -l; }
# use SERVER SECURITY [KEY=VALUE...]: the config points at that server,
# with the invoice template
use() {
	_srv=$1 _sec=$2
	shift 2
	profile "$cfg" "$_srv" "$(cat "$T/$_srv/port")" "$_sec" "$@"
	printf '%s\n' '' '[template invoice]' \
	    'subject = Invoice {{number}} from {{sender.name}}' \
	    'body = Dear {{contact}},\n\nplease find attached invoice {{number}}.' \
	    >>"$cfg"
}
# doc NAME NUMBER [KEY=VALUE...]: $T/docs/NAME.pdf with a sidecar naming
# the template, the number, a contact and to = NAME@x.test unless given
doc() {
	_n=$1 _num=$2
	shift 2
	mkdir -p "$T/docs"
	cp "$SAMPLES/invoice-2026-001.pdf" "$T/docs/$_n.pdf"
	{
		echo "[document]"
		echo "template = invoice"
		echo "number = $_num"
		echo "contact = Contact $_n"
		case " $* " in
		*" to="*|*" -to "*) ;;
		*) echo "to = $_n@x.test" ;;
		esac
		for _kv in "$@"; do
			[ "$_kv" = -to ] || echo "${_kv%%=*} = ${_kv#*=}"
		done
	} >"$T/docs/$_n.pdf.ini"
}
# five invoices a..e; c has a Cc, d a Bcc
five() {
	rm -rf "$T/docs"
	doc a 101
	doc b 102
	doc c 103 "cc=Boss <boss@x.test>"
	doc d 104 "bcc=audit@x.test"
	doc e 105
	set -- a b c d e
	docs=
	for _d; do docs="$docs $T/docs/$_d.pdf"; done
}
# count SERVER PATTERN: lines of its log starting with PATTERN
count() { grep -c "^$2" "$T/$1/log"; }
# ids SERVER: the Message-IDs it stored, one a line
ids() {
	grep -h '^Message-ID:' "$T/$1"/mail/*.eml 2>/dev/null | tr -d '\r'
}
reset_state() { rm -rf "$box" "$log"; }

# --- five documents over one connection, each to its own recipients,
# against the EHLO replies of Microsoft 365 and Postfix over STARTTLS
for prof in $DATA_PROFILES; do
	reset_state
	five
	start_server "one-$prof" --mode starttls --auth-file "$T/auth" \
	    --ehlo-profile "$prof"
	use "one-$prof" starttls
	# shellcheck disable=SC2086
	dm batch --yes $docs
	is_rc 0 "5 documents are sent, exit 0 ($prof)"
	[ "$(count "one-$prof" connect)" -eq 1 ] &&
	    [ "$(count "one-$prof" auth-ok)" -eq 1 ]
	ok $? "over one connection and one login ($prof)"
	by_data "one-$prof" 5 "by DATA, 5 messages stored ($prof)"
	n=0
	for f in "$T/one-$prof"/mail/*.json; do
		case "$(rcpts "$f")" in
		a@x.test|b@x.test|c@x.test,boss@x.test|d@x.test,audit@x.test|e@x.test)
			n=$((n + 1)) ;;
		esac
	done
	[ "$n" -eq 5 ]; ok $? "each to its own recipients, Cc and Bcc included ($prof)"
	! grep -qi '^bcc:' "$T/one-$prof"/mail/*.eml
	ok $? "no message carries a Bcc header ($prof)"
	[ "$(grep -c '^ok ' "$T/out")" -eq 5 ]
	ok $? "one ok line per message ($prof)"
	has "$T/out" "batch: 5 sent, 0 kept in the outbox, 0 refused" \
	    "the summary ($prof)"
	[ "$(items)" -eq 0 ] && [ -z "$(ls "$box/tmp")" ]
	ok $? "the outbox is empty again, its sent files deleted ($prof)"
	[ "$(grep -c 'x.test' "$log")" -eq 5 ] &&
	    grep -q "	c.pdf	c@x.test,boss@x.test	" "$log"
	ok $? "the sent log marks each document ($prof)"
done
grep -q '^ok       c.pdf  c@x.test, boss@x.test  250 2.0.0 Ok: queued as' "$T/out"
ok $? "a line names the document, its recipients and the server's reply"

# --- every kind of invalid document: each named, nothing stored or sent
start_server check --mode plain --auth-file "$T/auth"
use check none
reset_state
five
doc nocc 201 -to "cc=x@x.test"
doc noto 202 -to
doc badaddr 203 "to=not an address"
doc unres 204
sed -i '/^number/d' "$T/docs/unres.pdf.ini"
cp "$SAMPLES/invoice-2026-001.pdf" "$T/docs/nosidecar.pdf"
doc badtmpl 205 "template=nosuch"
sed -i '0,/^template = invoice$/{/^template = invoice$/d}' "$T/docs/badtmpl.pdf.ini"
mkdir -p "$T/docs/dir.pdf"
# shellcheck disable=SC2086
dm batch --yes $docs "$T/docs/nocc.pdf" "$T/docs/noto.pdf" \
    "$T/docs/badaddr.pdf" "$T/docs/unres.pdf" "$T/docs/nosidecar.pdf" \
    "$T/docs/badtmpl.pdf" "$T/docs/missing.pdf" "$T/docs/dir.pdf"
is_rc 65 "invalid documents are exit 65"
for d in nocc noto badaddr unres nosidecar badtmpl missing dir; do
	has "$T/err" "$d.pdf" "the error names $d.pdf"
done
has "$T/err" "8 of 13 documents cannot be sent: nothing was stored or sent" \
    "the summary counts them"
has "$T/err" "unresolved placeholder '{{number}}'" "an unresolved placeholder is named"
[ "$(items)" -eq 0 ]; ok $? "nothing was stored"
[ "$(count check connect)" -eq 0 ]; ok $? "and no server was contacted"
dm batch --yes "$T/docs/missing.pdf" "$T/docs/a.pdf"
is_rc 66 "a missing document first is exit 66"
has "$T/err" "missing.pdf': No such file" "naming the file and why"
dm batch --yes
is_rc 64 "no document is a usage error"
dm batch --yes --rate fast "$T/docs/a.pdf"
is_rc 64 "an invalid --rate is a usage error"

# --- dry run: a line per message, the envelopes on stderr, no server
# shellcheck disable=SC2086
dm batch --dry-run $docs
is_rc 0 "a dry run is exit 0"
[ "$(wc -l <"$T/out")" -eq 5 ]; ok $? "one line per message"
grep -q '^c.pdf  To: c@x.test  Subject: Invoice 103 from Anna Muster  ([0-9.]* KB)$' "$T/out"
ok $? "document, To, Subject and size"
has "$T/err" "d.pdf: RCPT TO:<audit@x.test>" "the envelope shows the Bcc recipient"
has "$T/err" "a.pdf: MAIL FROM:<anna@example.test>" "and the sender"
[ "$(items)" -eq 0 ] && [ "$(count check connect)" -eq 0 ]
ok $? "nothing stored, no server contacted"
dm batch --dry-run --template nosuch "$T/docs/a.pdf"
is_rc 64 "an unknown --template is refused"
dm batch --dry-run --set number=999 "$T/docs/a.pdf"
has "$T/out" "Subject: Invoice 999 from" "--set beats the sidecar"

# --- no --yes and no terminal: refused before anything happens
run setsid -w "$DOCMAIL" --config "$cfg" batch "$T/docs/a.pdf"
is_rc 64 "without --yes and without a terminal: exit 64"
has "$T/err" "no terminal to ask on" "saying why"
[ "$(items)" -eq 0 ]; ok $? "nothing stored"

# --- a refused recipient and a refused message: the batch goes on
start_server ref --mode plain --auth-file "$T/auth" --ehlo-profile postfix \
    --fault rcpt-550:b@x.test --fault rcpt-550:boss@x.test \
    --fault dot-550-nth:3
use ref none
reset_state
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 69 "refusals and nothing waiting: exit 69"
[ "$(count ref connect)" -eq 1 ]; ok $? "one connection still"
[ "$(delivered ref)" -eq 3 ]; ok $? "a, c and e were delivered"
grep -q '^refused  b.pdf  b@x.test  .*550 5.1.1' "$T/out"
ok $? "b, whose only recipient was refused, is reported refused"
grep -q '^ok       c.pdf  c@x.test  250 .*; refused boss@x.test: 550 ' "$T/out"
ok $? "c is sent, its refused recipient reported on its line"
grep -q '^refused  d.pdf  .*550 5.7.1' "$T/out"
ok $? "d, refused after its data, is reported refused"
grep -q '^ok       e.pdf' "$T/out"; ok $? "and e after it was sent"
has "$T/out" "batch: 3 sent, 0 kept in the outbox, 2 refused" "the summary"
[ "$(items)" -eq 3 ]; ok $? "b, d and c's refused recipient stay in the outbox"
dm outbox
[ "$(grep -c '  refused, 1 attempt' "$T/out")" -eq 3 ]
ok $? "all three listed as refused"

# --- a 421 in the middle of the third message: the rest waits, and
# "outbox --retry" sends each remaining one exactly once
start_server r421 --mode plain --auth-file "$T/auth" --ehlo-profile ms365 \
    --fault rcpt-421-after:2
use r421 none
reset_state
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 75 "a 421 mid-run: exit 75"
[ "$(delivered r421)" -eq 2 ]; ok $? "the two before it were delivered"
[ "$(count r421 connect)" -eq 1 ]; ok $? "and the batch stopped: no new connection"
[ "$(grep -c '^kept ' "$T/out")" -eq 3 ]; ok $? "three are reported kept"
has "$T/out" "batch: 2 sent, 3 kept in the outbox, 0 refused" "the summary"
has "$T/err" "421" "the server's 421 is shown"
has "$T/err" "docmail outbox --retry" "with what to do"
[ "$(items)" -eq 3 ]; ok $? "three wait in the outbox"
start_server good --mode plain --auth-file "$T/auth" --ehlo-profile postfix
use good none
# the same batch run again before the retry (as after a crash): the two
# sent are skipped as sent, the three waiting as waiting
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 75 "the same batch again before the retry: exit 75, three wait"
[ "$(grep -c '^skipped  [ab]\.pdf  sent to [ab]@x.test on .* (sent log): add --resend' "$T/out")" -eq 2 ] &&
    [ "$(grep -c "^skipped  [cde]\.pdf  waits in the outbox for [cde]@x.test, from an earlier run: 'docmail outbox --retry' sends it" "$T/out")" -eq 3 ]
ok $? "the two sent are skipped as sent, the three kept as waiting" ||
    diag "$(cat "$T/out")"
[ "$(items)" -eq 3 ] && [ ! -s "$T/good/log" ]
ok $? "nothing was stored twice, no connection made"
has "$T/err" "3 of them wait in the outbox" "it says three wait"
has "$T/err" "docmail outbox --retry" "and what sends them"
dm outbox --retry
is_rc 0 "outbox --retry sends the rest"
[ "$(delivered good)" -eq 3 ] && [ "$(items)" -eq 0 ] &&
    [ -z "$(ls "$box/tmp")" ]
ok $? "each of the three once, and the outbox is empty"
[ "$(count good connect)" -eq 1 ] && [ "$(count good auth-ok)" -eq 1 ]
ok $? "over one connection and one login, as a batch"
has "$T/out" "outbox: 3 sent, 0 failed, 0 skipped" "the retry's summary"
[ "$( (ids r421; ids good) | sort | uniq | wc -l)" -eq 5 ] &&
    [ "$( (ids r421; ids good) | wc -l)" -eq 5 ]
ok $? "five messages in all, no Message-ID twice"
# all five in the sent log now: running the batch again sends nothing
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 0 "the batch once more after everything was sent: exit 0"
[ "$(grep -c '^skipped  .*(sent log): add --resend' "$T/out")" -eq 5 ] &&
    [ "$(delivered good)" -eq 3 ] && [ "$(count good connect)" -eq 1 ]
ok $? "every document skipped as sent, nothing delivered, no connection"
has "$T/out" "nothing to send" "saying there is nothing to send"
dm batch --yes --dry-run $docs
grep -q '^skipped  a.pdf' "$T/out" && ! grep -q 'To: ' "$T/out"
ok $? "the dry run shows the same"
dm batch --yes --resend "$T/docs/a.pdf" "$T/docs/b.pdf"
is_rc 0 "--resend sends sent documents again"
[ "$(delivered good)" -eq 5 ]; ok $? "each once more"

# --- a server that ends each session after two messages: connected to
# again, everything goes
start_server lim --mode plain --auth-file "$T/auth" --ehlo-profile postfix \
    --fault session-limit:2
use lim none
reset_state
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 0 "a limit of messages per session: still exit 0"
[ "$(delivered lim)" -eq 5 ] && [ "$(count lim connect)" -eq 3 ]
ok $? "all 5 delivered over 3 sessions"
[ "$(ids lim | sort -u | wc -l)" -eq 5 ]; ok $? "each once"
[ "$(items)" -eq 0 ]; ok $? "nothing left in the outbox"

# --- the connection drops after the second message's final dot: that
# one "may have been delivered", the rest waits; a retry skips it
start_server drop --mode plain --auth-file "$T/auth" \
    --fault drop-after-dot-nth:2
use drop none
reset_state
# shellcheck disable=SC2086
dm batch --yes $docs
is_rc 75 "a drop after the dot: exit 75"
[ "$(delivered drop)" -eq 1 ]; ok $? "the first was delivered"
grep -q '^kept     b.pdf  .*may have been delivered' "$T/out"
ok $? "the second is reported as may have been delivered"
has "$T/out" "batch: 1 sent, 4 kept in the outbox, 0 refused" "the summary"
dm outbox
[ "$(grep -c 'may have been delivered' "$T/out")" -eq 1 ] &&
    [ "$(grep -c '  waiting, ' "$T/out")" -eq 3 ]
ok $? "the outbox lists one maybe delivered and three waiting"
rm -f "$T/good"/mail/*
use good none
dm outbox --retry
is_rc 75 "a retry without a terminal skips the maybe-delivered one: exit 75"
[ "$(delivered good)" -eq 3 ]; ok $? "and sends the three others once each" ||
    diag "delivered: $(delivered good)" "$(cat "$T/out" "$T/err")"
[ "$(items)" -eq 1 ]; ok $? "the maybe-delivered one stays"

# --- pacing: --rate 60 spaces the messages a second apart
start_server pace --mode plain --auth-file "$T/auth"
use pace none
reset_state
rm -rf "$T/docs"
doc p1 1
doc p2 2
doc p3 3
dm batch --yes --rate 60 "$T/docs/p1.pdf" "$T/docs/p2.pdf" "$T/docs/p3.pdf"
is_rc 0 "a paced batch is sent"
[ "$(count pace connect)" -eq 1 ]; ok $? "over one connection"
spread() {	# spread SERVER: seconds between the first and last message
	"$PYTHON3" -c 'import json, sys
t = sorted(json.load(open(f))["received_at"] for f in sys.argv[1:])
print(int((t[-1] - t[0]) * 10))' "$T/$1"/mail/*.json
}
s=$(spread pace)
[ "$s" -ge 17 ]; ok $? "3 messages at 60 a minute span about 2 s ($((s * 100)) ms)"
# the profile's max_per_minute does the same
start_server pace2 --mode plain --auth-file "$T/auth"
use pace2 none max_per_minute=120
reset_state
dm batch --yes "$T/docs/p1.pdf" "$T/docs/p2.pdf" "$T/docs/p3.pdf"
is_rc 0 "a batch paced by the profile's max_per_minute is sent"
s=$(spread pace2)
[ "$s" -ge 8 ]; ok $? "3 messages at 120 a minute span about 1 s ($((s * 100)) ms)"
dm batch --yes --rate 0 "$T/docs/p1.pdf" "$T/docs/p2.pdf"
is_rc 0 "--rate 0 turns the profile's pacing off"

# --- Ctrl-C stops after the message in flight; the rest waits
start_server intr --mode plain --auth-file "$T/auth"
use intr none
reset_state
five
# shellcheck disable=SC2086
"$DOCMAIL" --config "$cfg" batch --yes --rate 30 $docs >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ "$(delivered intr)" -lt 1 ] && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -INT $pid
rc=0
wait $pid || rc=$?
is_rc 75 "Ctrl-C during a paced batch: exit 75"
sent=$(delivered intr)
[ "$sent" -ge 1 ] && [ "$sent" -lt 5 ] &&
    [ "$(items)" -eq $((5 - sent)) ] &&
    [ "$(grep -c '^kept ' "$T/out")" -eq $((5 - sent)) ]
ok $? "it stopped after the message in flight ($sent sent), the rest waits"
has "$T/err" "the batch was stopped" "saying so"

# --- on a terminal: the table, the question, the progress line
if command -v tmux >/dev/null 2>&1; then
	start_server tty --mode plain --auth-file "$T/auth"
	use tty none
	reset_state
	five
	envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
	term "env $envs '$DOCMAIL' --config '$cfg' batch $docs" 200 40
	wait_for "Send 5 emails to 7 recipients? [y/N]"
	ok $? "on a terminal it asks: Send 5 emails to 7 recipients?"
	screen | grep -q '^c.pdf  To: c@x.test  Subject: Invoice 103 from Anna Muster'
	ok $? "after the table of the messages"
	keys y Enter
	wait_for "EXIT=0" 30
	ok $? "y sends them, exit 0"
	reset_state
	screen | grep -q 'Sending: 100% (5/5)'
	ok $? "with a progress line on the terminal"
	[ "$(delivered tty)" -eq 5 ]; ok $? "all five delivered"
	term "env $envs '$DOCMAIL' --config '$cfg' batch $docs" 200 40
	wait_for "Send 5 emails" && keys n Enter
	wait_for "EXIT=64"
	ok $? "n sends nothing: exit 64"
	[ "$(delivered tty)" -eq 5 ] && [ "$(items)" -eq 0 ]
	ok $? "nothing sent or stored"
	term_stop
else
	for i in 1 2 3 4 5 6 7; do
		echo "ok $((tap_n + 1)) # SKIP tmux not installed"
		tap_n=$((tap_n + 1))
	done
fi

done_testing
