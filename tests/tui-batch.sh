#!/bin/sh
# tui-batch.sh - a batch from the document list in a real terminal
# (tmux, 80x24) against the loopback SMTP server: Space marks only what
# can be sent and says why not, F9 shows the table, Enter one message in
# full, n sends nothing, y sends each exactly once over one connection
# with a line per message and the summary; Esc in the middle stops after
# the message in flight with the rest in the outbox; a 550 for one
# recipient is reported on its message's line; vt100 without colours,
# and a resize on each screen.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v tmux >/dev/null 2>&1 || { echo "1..0 # SKIP tmux is missing"; exit 77; }

plan 84

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server good --mode plain --auth-file "$T/auth" --ehlo-profile ms365
# Every reply 400 ms late: a batch of four takes seconds, long enough
# to stop it in the middle.
start_server slow --mode plain --auth-file "$T/auth" --fault slow:400
start_server r550 --mode plain --auth-file "$T/auth" \
    --fault rcpt-550:nobody@x.test

box=$XDG_DATA_HOME/docmail/outbox
log=$XDG_STATE_HOME/docmail/sent.log
items() { find "$box/new" "$box/cur" -type f 2>/dev/null | wc -l; }
# count SERVER PATTERN: lines of its log starting with PATTERN
count() { grep -c "^$2" "$T/$1/log"; }
row() { screen | grep -F -- "$1"; }
# shown TEXT [SECONDS]: as wait_for, on what is on the screen now, not
# what scrolled off (after a resize, old lines are rewrapped above)
shown() {
	_n=$(( ${2:-10} * 20 ))
	while [ $_n -gt 0 ]; do
		tmux -L "$TMUX_SOCK" capture-pane -p | grep -qF -- "$1" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "timed out waiting for '$1'; the screen:" "$(tmux -L "$TMUX_SOCK" capture-pane -p)"
	return 1
}
today=$(date +%Y-%m-%d)

# The quickstart's sample invoices as shipped (REAL_SAMPLES: their
# sidecars name recipients and the template invoice), oldest first, and
# one without a "to", newest.
docs=$T/docs
mkdir -p "$docs"
i=0
for s in 001 002 003 004; do
	i=$((i + 1))
	cp "$REAL_SAMPLES/invoice-2026-$s.pdf" "$REAL_SAMPLES/invoice-2026-$s.pdf.ini" \
	    "$docs/"
	touch -d "2001-01-0$i 12:00" "$docs/invoice-2026-$s.pdf"
done
cp "$REAL_SAMPLES/invoice-2026-001.pdf" "$docs/noto.pdf"
sed '/^to = /d' "$REAL_SAMPLES/invoice-2026-001.pdf.ini" >"$docs/noto.pdf.ini"
touch -d "2001-01-09 12:00" "$docs/noto.pdf"

# mkcfg FILE SERVER [KEY=VALUE...]: a profile for SERVER with the
# documents and the samples' invoice template
mkcfg() {
	_f=$1 _s=$2
	shift 2
	profile "$_f" "$_s" "$(cat "$T/$_s/port")" none "ca_file=" \
	    "documents_dir=$docs" "$@"
	sed -n '/^\[template invoice\]/,$p' "$REAL_SAMPLES/demo.ini" >>"$_f"
}
mkcfg "$T/good.ini" good "password="
mkcfg "$T/slow.ini" slow
mkcfg "$T/r550.ini" r550 "max_per_minute=120"

envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
start() {	# start CONFIG [ENV...]: docmail's list on CONFIG
	_c=$1
	shift
	term "cd '$T' && env $envs $* '$DOCMAIL' --config '$_c'"
	wait_for "documents" 30
}

# --- marking
start "$T/good.ini"
wait_for "5 documents" 30
ok $? "the list shows the four samples and the document without a to"
_i=0
until row "invoice-2026-001" | grep -q "2026-11-25" || [ $_i -ge 200 ]; do
	sleep 0.05
	_i=$((_i + 1))
done
keys '?'
wait_for "F9 or b      a batch: each marked document (or the selected" 10
ok $? "the list's help names F9 and its alternative b"
keys Escape
wait_for "5 documents" 10
# Without marks, F9 takes the selected document, or says why not.
keys Home F9
wait_joined "has no 'to' in its sidecar" 30
ok $? "F9 without marks on a document without a to says why"
screen | grep -q "docmail .* -- Documents"
ok $? "and stays in the list"
keys Down F9
wait_for "Send 1 email to 2 recipients? (y/n)" 30
ok $? "F9 without marks on a good document: a batch of that one (to and bcc)"
keys F1
wait_for "A batch: each document becomes its own email" 10
ok $? "F1 in the table explains it"
keys Escape
wait_for "Send 1 email to 2 recipients? (y/n)" 10
keys n
wait_for "not sent: nothing was stored in the outbox" 10
keys Home Space
wait_joined "has no 'to' in its sidecar" 30
ok $? "Space on a document without a to says why it cannot be sent"
screen | grep -q "5 documents, 1 marked"
[ $? -ne 0 ]; ok $? "and does not mark it"
row "noto" | grep -q '^\*'
[ $? -ne 0 ]; ok $? "no mark is shown on its row"
keys Down Space Space Space
wait_for "5 documents, 3 marked" 30
ok $? "Space marks three sendable documents (the count in the list)"
wait_for "3 marked: F9 sends each as its own email" 10
ok $? "the status line counts the marks and says what F9 does"
[ "$(screen | grep -c '^\* ')" -eq 3 ]
ok $? "each marked row starts with a * (no colour needed)" || diag "$(screen)"
row "invoice-2026-001" | grep -q '^\*'
[ $? -ne 0 ]; ok $? "the unmarked sample has no *"

# --- the table
keys F9
wait_for "Send 3 emails to 5 recipients? (y/n)" 30
ok $? "F9 opens the table and asks about 3 emails to 5 recipients (cc and bcc count)"
screen | grep -q "docmail .* -- Batch"
ok $? "the screen is called Batch"
row "invoice-2026-004" | grep -q "Nordlicht Verlag <bu.*Invoice 2026-004"
ok $? "a row shows the document, its To and its Subject" || diag "$(screen)"
row "invoice-2026-004" | grep -q "[0-9.]* KB *$"
ok $? "and its size"
row "invoice-2026-003" | grep -q "Claire Dupont" &&
    row "invoice-2026-002" | grep -q "Alpenblick AG"
ok $? "every marked document has its row"
row "invoice-2026-001" >/dev/null || row "noto" >/dev/null
[ $? -ne 0 ]; ok $? "the unmarked ones have none"
row "invoice-2026-004" | grep -q "^>"
ok $? "the selected row is marked with > (no colour needed)"
keys Down
wait_for "To: Claire Dupont <claire@dupont.example>" 10
ok $? "the line under the table shows the selected row's To in full"

# --- one message in full, and back
keys Enter
wait_for "One email of the batch, to 2 recipients" 30
ok $? "Enter opens the full preview of the selected message"
screen | grep -q "Subject: *Invoice 2026-003 from Anna Muster" &&
    screen | grep -q "Dear Madame Dupont" &&
    screen | grep -q "Cc: *compta@dupont.example"
ok $? "with its Subject, Cc and text" || diag "$(screen)"
keys y
sleep 0.3
screen | grep -q "One email of the batch"
ok $? "y in that preview sends nothing and stays"
keys Escape
wait_for "Send 3 emails to 5 recipients? (y/n)" 10
ok $? "Esc goes back to the table"

# --- n: nothing sent
keys n
wait_for "not sent: nothing was stored in the outbox" 10
ok $? "n goes back to the list and says nothing was sent"
[ "$(items)" -eq 0 ] && [ "$(count good connect)" -eq 0 ]
ok $? "nothing stored, no connection"
wait_for "5 documents, 3 marked"
ok $? "the marks stay"

# --- y: the password, then all three over one connection
keys b
wait_for "Send 3 emails to 5 recipients? (y/n)" 30
ok $? "b opens the table too (where F9 does not arrive)"
keys y
wait_for "Password for anna" 30 && keys Escape
wait_for "Send 3 emails to 5 recipients? (y/n)" 10
ok $? "Esc at the password goes back to the table"
[ "$(items)" -eq 0 ] && [ "$(count good connect)" -eq 0 ]
ok $? "having stored nothing"
keys y
wait_for "Password for anna" 30 && keys -l "$PASSWORD" && keys Enter
wait_for "batch: 3 sent, 0 kept in the outbox, 0 refused" 60
ok $? "y asks for the password, sends and shows the summary"
[ "$(screen | grep -c '^ *ok  ')" -eq 3 ]
ok $? "one ok line per message" || diag "$(screen)"
row "ok       invoice-2026-002.pdf  rechnungen@alpenblick.example  250 2.0.0 " >/dev/null
ok $? "a line names the document, its recipients and the server's reply" ||
    diag "$(screen)"
row "ok       invoice-2026-003.pdf  claire@dupont.example, compta@dupont.examp..." >/dev/null
ok $? "a line longer than the screen ends in ..." || diag "$(screen)"
screen | grep -q '\[#*\] 100%  3 of 3'
ok $? "the bar is full"
[ "$(count good connect)" -eq 1 ] && [ "$(count good auth-ok)" -eq 1 ]
ok $? "over one connection and one login"
[ "$(delivered good)" -eq 3 ]
ok $? "the server stored three messages"
n=0
for f in "$T/good"/mail/*.json; do
	case "$(rcpts "$f")" in
	rechnungen@alpenblick.example) n=$((n + 1)) ;;
	claire@dupont.example,compta@dupont.example) n=$((n + 1)) ;;
	buchhaltung@nordlicht.example,archiv@muster-consulting.example)
		n=$((n + 1)) ;;
	esac
done
[ "$n" -eq 3 ]; ok $? "each exactly once, to its own recipients"
[ "$(items)" -eq 0 ]; ok $? "the outbox is empty again"
screen | grep -qF "$PASSWORD"
[ $? -ne 0 ]; ok $? "the password is not shown"

# --- back in the list
keys Enter
wait_for "5 documents" 10
ok $? "Enter goes back to the list"
screen | grep -q "marked"
[ $? -ne 0 ]; ok $? "the sent documents are no longer marked"
row "invoice-2026-004" | grep -q "$today" &&
    row "invoice-2026-003" | grep -q "$today" &&
    row "invoice-2026-002" | grep -q "$today"
ok $? "and show the day they were sent" || diag "$(screen)"
row "invoice-2026-001" | grep -q "$today"
[ $? -ne 0 ]; ok $? "the one not in the batch does not"
keys q
wait_for "EXIT=0" 30
ok $? "q quits with exit 0"

# --- Esc in the middle: the rest waits in the outbox
rm -f "$log"
start "$T/slow.ini"
wait_for "5 documents" 30
keys Home Down Space Space Space Space
wait_for "5 documents, 4 marked" 30
keys F9
wait_for "Send 4 emails to 6 recipients? (y/n)" 30
keys y
wait_for "ok       invoice-2026-" 90
keys Escape
wait_for "stopping after the current message" 10
ok $? "Esc while sending says it stops after the current message"
wait_for "kept in the outbox" 90
ok $? "the run ends"
sent=$(delivered slow)
kept=$(items)
[ "$sent" -ge 1 ] && [ "$kept" -ge 1 ] && [ $((sent + kept)) -eq 4 ]
ok $? "some were sent, the rest ($kept) waits in the outbox" ||
    diag "sent $sent, kept $kept"
screen | grep -q "batch: $sent sent, $kept kept in the outbox, 0 refused"
ok $? "the summary counts them" || diag "$(screen)"
[ "$(screen | grep -c '^ *kept     invoice-2026-00')" -eq "$kept" ]
ok $? "each kept message has its line" || diag "$(screen)"
tmux -L "$TMUX_SOCK" resize-window -x 160 -y 30
shown "kept     invoice-2026-001.pdf  buchhaltung@beispiel.test  not sent: the batch stopped before it" 10
ok $? "wider, the lines show in full, with why a message was kept"
tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24
shown "kept     invoice-2026-001.pdf  buchhaltung@beispiel.test  not sent: the b..." 10 &&
    shown "batch: $sent sent, $kept kept in the outbox, 0 refused" 10
ok $? "and back at 80x24 they are cut again, the summary still there"
[ "$(count slow connect)" -eq 1 ]
ok $? "over one connection"
keys Escape
wait_for "5 documents" 10
screen | grep -q "marked"
[ $? -ne 0 ]; ok $? "the documents now in the outbox are not marked again"
keys q
wait_for "EXIT=0" 30

# --- what an earlier run dealt with is skipped; a 550 for one
# recipient; vt100 without colours; resizing.  invoice-2026-004 went
# out in the stopped run above and invoice-2026-001 waits in the outbox
# from it (it was last): both are skipped.
for d in nobody fresh; do
	cp "$REAL_SAMPLES/invoice-2026-001.pdf" "$docs/$d.pdf"
	sed "s/^to = .*/to = $d@x.test/" "$REAL_SAMPLES/invoice-2026-001.pdf.ini" \
	    >"$docs/$d.pdf.ini"
done
touch -d "2001-01-10 12:00" "$docs/nobody.pdf"
touch -d "2001-01-11 12:00" "$docs/fresh.pdf"
waiting=$(items)
start "$T/r550.ini" "TERM=vt100 NO_COLOR=1"
wait_for "7 documents" 30
keys Home Space Space Down Space End Space
wait_for "7 documents, 4 marked" 30
ok $? "marks work with TERM=vt100 and NO_COLOR"
[ "$(screen | grep -c '^\* ')" -eq 4 ]
ok $? "and show as * there"
keys F9
wait_for "Send 2 emails to 2 recipients? (y/n)" 30
ok $? "the two an earlier run dealt with are not counted"
screen | grep -q "4 documents, 2 skipped, via localhost:[0-9]* (none), at most 120 a minute"
ok $? "the table says so, and that max_per_minute paces the run" ||
    diag "$(screen)"
row "invoice-2026-004.pdf" | grep -q "skipped: sent to buchhaltung@nordlicht.example"
ok $? "a document in the sent log is skipped, saying to whom it was sent" ||
    diag "$(screen)"
row "invoice-2026-001.pdf" | grep -q "skipped: waits in the outbox for"
ok $? "one waiting in the outbox is skipped, saying so"
keys End
wait_joined "Skipped: waits in the outbox for buchhaltung@beispiel.test, from an earlier run:" 10
ok $? "selected, the line under the table says it in full"
# the one in the sent log says how to send it again here (no --resend)
n=$(screen | grep -oE '^[ *>]*[a-z0-9-]+\.pdf' | sed 's/^[ *>]*//' |
    grep -n '^invoice-2026-004\.pdf$' | cut -d: -f1)
keys Home
i=1
while [ $i -lt "${n:-1}" ]; do keys Down; i=$((i + 1)); done
wait_joined "open it alone with Enter in the list" 10
ok $? "selected, a sent one says how to send it again in the TUI" ||
    diag "row $n" "$(screen)"
keys Home
tmux -L "$TMUX_SOCK" resize-window -x 120 -y 30
shown "nobody@x.test                               Invoice 2026-001 from Anna Muster" 10 &&
    tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24 &&
    shown "nobody@x.test           Invoice 2026-001 fro...   2.6 KB" 10 &&
    shown "Send 2 emails to 2 recipients? (y/n)" 10
ok $? "the table is laid out again for a larger terminal and back"
keys y
wait_for "batch: 1 sent, 0 kept in the outbox, 1 refused, 2 skipped" 60
ok $? "a refused message is counted as refused, the skipped ones apart"
screen | grep -q "2 emails via localhost:[0-9]* (none), at most 120 a minute"
ok $? "the run sends two, paced"
[ "$(delivered r550)" -eq 1 ] && [ "$(count r550 connect)" -eq 1 ]
ok $? "the server got one message over one connection: no skipped one"
[ "$(items)" -eq $((waiting + 1)) ]
ok $? "the refused one stays in the outbox beside the earlier run's"
row "refused  nobody.pdf  nobody@x.test  " | grep -q "^> "
ok $? "its line names the document and the recipient, selected" ||
    diag "$(screen)"
wait_joined "refused nobody.pdf nobody@x.test every recipient was refused" 10 &&
    wait_joined "550 5.1.1" 10
ok $? "and under the lines it is shown in full, with the 550"
screen | grep -q "^ *ok       fresh.pdf  fresh@x.test  250 "
ok $? "the other message went out" || diag "$(screen)"
[ "$(screen | grep -c '^ *skipped  invoice-2026-00[14].pdf  ')" -eq 2 ]
ok $? "each skipped document has its line"
keys Up
wait_joined "ok fresh.pdf fresh@x.test 250 2.0.0" 10
ok $? "Up shows the line above in full"
tmux -L "$TMUX_SOCK" resize-window -x 60 -y 20
shown "terminal too small" 10 &&
    tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24 &&
    shown "batch: 1 sent, 0 kept in the outbox, 1 refused, 2 skipped" 10
ok $? "the result survives a resize too small and back"
keys Escape
wait_for "7 documents" 10
screen | grep -q "marked"
[ $? -ne 0 ]; ok $? "no document stays marked: each was sent, refused or skipped"
keys Home F9
wait_joined "Nothing to send: an earlier run dealt with every document" 30
ok $? "a document sent by the run before is skipped at once"
row "fresh.pdf" | grep -q "skipped: sent to fresh@x.test on "
ok $? "with when and to whom it was sent"
keys y
wait_joined "nothing to send: an earlier run sent every document" 10
ok $? "and y says there is nothing to send"
keys Escape
wait_for "7 documents" 10
keys q
wait_for "EXIT=" 30
screen | grep -q "EXIT=0"
ok $? "and docmail still quits with exit 0"

# --- a second Esc cancels the message in flight too: the server stops
# reading in the data (8 MiB fill the socket buffers), so the dot never
# leaves and the message stays in the outbox as surely unsent
start_server stall --mode plain --auth-file "$T/auth" --fault stall-data
docs2=$T/docs2
mkdir -p "$docs2"
{ printf '%%PDF-1.4\n'; head -c 8388608 /dev/urandom; } >"$docs2/big.pdf"
sed 's/^to = .*/to = big@x.test/' "$REAL_SAMPLES/invoice-2026-001.pdf.ini" \
    >"$docs2/big.pdf.ini"
cp "$REAL_SAMPLES/invoice-2026-002.pdf" "$REAL_SAMPLES/invoice-2026-002.pdf.ini" \
    "$docs2/"
mkcfg "$T/stall.ini" stall "documents_dir=$docs2" "timeout=60"
rm -rf "$box" "$log"
start "$T/stall.ini"
wait_for "2 documents" 30
keys Home Space Space
wait_for "2 documents, 2 marked" 30
keys F9
wait_for "Send 2 emails to 2 recipients? (y/n)" 30
keys y
wait_log stall "fault stall-data"
keys Escape
wait_for "stopping after the current message: the rest stays in the outbox" 10 &&
    wait_for "Esc Cancel this message too" 10
ok $? "a first Esc says a second one cancels the message in flight"
keys Escape
# The status says so until the run ends, which can be within the relay's
# next 200 ms wake-up: then the summary gives the reason in its place.
wait_for "cancelling the current message: it stays in the outbox
the batch stopped: cancelled by the user" 10
ok $? "a second Esc says it cancels it"
wait_for "batch: 0 sent, 2 kept in the outbox, 0 refused" 30
ok $? "the run ends at once, both kept" || diag "$(screen)"
"$DOCMAIL" --config "$T/stall.ini" outbox >"$T/ob" 2>&1
[ "$(delivered stall)" -eq 0 ] && [ "$(grep -c 'waiting' "$T/ob")" -eq 2 ] &&
    ! grep -q "may have been delivered" "$T/ob"
ok $? "nothing delivered; both wait in the outbox as surely unsent" ||
    diag "$(cat "$T/ob")"
keys Escape
wait_for "2 documents" 10

# --- F9 reads the config as it is now: a template changed on disk
# while docmail runs is the one the table shows
rm -rf "$box"
sed -i 's/^subject = .*/subject = Changed {{number}}/' "$T/stall.ini"
keys Home Space Space
wait_for "2 documents, 2 marked" 30
keys F9
wait_for "Send 2 emails to 2 recipients? (y/n)" 30
row "invoice-2026-002.pdf" | grep -q "Changed 2026-002"
ok $? "the table's Subject comes from the config as changed on disk" ||
    diag "$(screen)"
keys n
wait_for "2 documents" 10
keys q
wait_for "EXIT=" 30

done_testing
