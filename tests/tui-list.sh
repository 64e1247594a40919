#!/bin/sh
# tui-list.sh - the document list and the outbox screen in a real
# terminal (tmux, 80x24): sidecar data, sent marks, filter, the send
# dialog, retry and delete in the outbox, quitting cleanly.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 51

command -v tmux >/dev/null 2>&1 || { echo "1..0 # SKIP tmux is missing"; exit 77; }

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
# Plain SMTP on loopback: one CA-less profile reaches every server.
# They answer EHLO as Microsoft 365 and Postfix do (CHUNKING among the
# keywords); docmail must send by DATA all the same.
start_server good --mode plain --auth-file "$T/auth" --ehlo-profile ms365
good=$PORT
start_server d451 --mode plain --auth-file "$T/auth" --fault data-451 \
    --ehlo-profile postfix
d451=$PORT
start_server drop --mode plain --auth-file "$T/auth" --fault drop-after-dot \
    --ehlo-profile ms365
drop=$PORT

docs=$T/docs
mkdir -p "$docs"
today=$(date +%Y-%m-%d)
n=0
for c in "Alpen AG" "Bergbahn GmbH" "Chäserei Müller"; do
	n=$((n + 1))
	cp "$SAMPLES/invoice-2026-001.pdf" "$docs/inv-00$n.pdf"
	# A to, and the default template below: Space marks only what a
	# batch could send.
	printf '[document]\nnumber = R-00%s\ncustomer = %s\namount = CHF %s00.50\ndate = 2001-01-0%s\nto = c%s@x.test\n' \
	    "$n" "$c" "$n" "$n" "$n" >"$docs/inv-00$n.pdf.ini"
	# Newest first: inv-003 on top.
	touch -d "2001-01-0$n 12:00" "$docs/inv-00$n.pdf"
done

# A config for each server (the command line needs the password) and
# the one the TUI uses: the good server, no password saved.
mkcfg() {	# mkcfg FILE PORT [KEY=VALUE...]
	_f=$1 _p=$2
	shift 2
	profile "$_f" good "$_p" none "ca_file=" "documents_dir=$docs" "$@"
	printf '%s\n' '' '[template default]' 'subject = Invoice {{number}}' \
	    'body = Hello' >>"$_f"
}
mkcfg "$T/good.ini" "$good"
mkcfg "$T/d451.ini" "$d451"
mkcfg "$T/drop.ini" "$drop"
mkcfg "$T/tui.ini" "$good" "password="

dm() { run "$DOCMAIL" --config "$@"; }
dm "$T/good.ini" send --yes --to k@x.test --subject Sent --body B "$docs/inv-002.pdf"
is_rc 0 "inv-002 is sent for real"
dm "$T/d451.ini" send --yes --to k@x.test --subject 'Failed one' --body B "$docs/inv-001.pdf"
is_rc 75 "a send answered with 451 stays in the outbox"
sleep 1		# the outbox lists oldest first, to the second
dm "$T/drop.ini" send --yes --to k@x.test --subject 'Maybe one' --body B "$docs/inv-003.pdf"
is_rc 75 "a send whose reply never came stays in the outbox"

envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
term "cd '$T' && env $envs '$DOCMAIL' --config '$T/tui.ini'"

# --- the list
wait_for "Documents" && wait_for "3 documents"
ok $? "docmail with a config and no files shows the document list"
row() { screen | grep -F -- "$1"; }
# The list is painted row by row: wait for its last row before reading.
_i=0
until row "inv-001" | grep -q "2001-01-01" || [ $_i -ge 200 ]; do
	sleep 0.05
	_i=$((_i + 1))
done
row "inv-001" | grep -q "R-001 *Alpen AG *CHF 100.50 2001-01-01"
ok $? "a row shows number, customer, amount and date from the sidecar" ||
    diag "$(screen)"
row "inv-003" | grep -q "R-003 *Chäserei Mülle *CHF 300.50"
ok $? "UTF-8 sidecar text is shown"
screen | sed -n 4,6p | tr -s ' ' | cut -d' ' -f2 | tr '\n' ' ' |
    grep -q "^inv-003 inv-002 inv-001 $"
ok $? "newest first"
row "inv-002" | grep -q "R-002 .*$today"
ok $? "the sent document is marked with the date it was sent"
row "inv-001" | grep -q "$today"
[ $? -ne 0 ]; ok $? "an unsent document is not marked"
keys Down
wait_for "inv-002.pdf: sent $today"
ok $? "the selected document's line says when and to whom it was sent"
screen | grep -q "inv-002.pdf: sent $today [0-9:]* to k@x.test"
ok $? "with the recipients"

# --- filter
keys /
wait_for "type to filter"
keys -l "bergBAHN"
wait_for "1 of 3"
ok $? "/ filters as you type, ignoring case"
row "inv-002" >/dev/null && ! row "inv-001" >/dev/null &&
    ! row "inv-003" >/dev/null
ok $? "only the matching document is left"
keys Escape
wait_for "3 documents"
row "inv-001" >/dev/null && row "inv-003" >/dev/null
ok $? "Esc clears the filter"

# --- the send dialog
keys Home Space Space
wait_for "3 documents, 2 marked"
ok $? "Space marks documents"
keys Enter
wait_for "Attachments (2"
ok $? "Enter opens the send dialog for the marked documents"
screen | grep -q "inv-003.pdf" && screen | grep -q "inv-002.pdf" &&
    screen | grep -q "^ *To  *\[" && screen | grep -q "^ *Subject  *\["
ok $? "with both attached, and its To and Subject fields" || diag "$(screen)"
keys Escape
wait_for "3 documents, 2 marked"
ok $? "Esc comes back to the list, the marks kept"
keys Escape
wait_for "marks cleared"
ok $? "Esc in the list clears the marks"

# send the selected one for real: the list marks it on coming back
keys Home Enter
wait_for "Attachments (1"
ok $? "without marks, Enter opens the send dialog for the selected document"
# The sidecar's to fills To: the test's own address replaces it.
type_field "k@x.test"
keys Tab Tab Tab Tab
keys -l "From the list"
keys Tab
keys -l "Text"
keys F3
wait_for "Send this email to 1 recipient? (y/n)" && keys y
# No password saved: the send dialog asks for it too.
wait_for "Password for anna" && keys -l "$PASSWORD" && keys Enter
wait_for "Sent." 20 && keys Enter
wait_for "3 documents"
row "inv-003" | grep -q "$today"
ok $? "a document sent from the list is marked as sent on coming back"

# --- the outbox
keys o
wait_for "Outbox" && wait_for "Failed one"
ok $? "o opens the outbox with the failed message"
screen | grep -q "2 messages not accepted"
ok $? "both waiting messages are listed"
row "Failed one" | grep -q "waiting"
ok $? "the 451 one is waiting"
row "Maybe one" | grep -q "may have been delivered"
ok $? "the dropped one may have been delivered"
screen | grep -q "Error .*451"
ok $? "the last error of the selected message is shown"

# retry the one that may have been delivered: asked first, n keeps it
keys Down
wait_for "Subject   Maybe one"
keys r
wait_for "may have been delivered -- send it again? (y/n)"
ok $? "r on a message that may have been delivered asks first"
keys n
wait_for "not sent again"
[ "$(ls "$XDG_DATA_HOME/docmail/outbox/new/" | wc -l)" -eq 2 ]
ok $? "n sends nothing"

# retry the failed one against the good server: the password typed in
# the send dialog earlier in this session is not asked for again
before=$(delivered good)
keys Up r
wait_for "sent: server said: 250" 20
r=$?
screen | grep -q "Password for anna"
[ $? -ne 0 ] && [ $r -eq 0 ]
ok $? "r does not ask again for the password typed earlier in this session"
screen | grep -qF "$PASSWORD"
[ $? -ne 0 ]; ok $? "the password is not shown"
[ $r -eq 0 ]
ok $? "the retry is sent in the background and reports the server's reply"
[ "$(delivered good)" -eq $((before + 1)) ]
ok $? "the server got it"
screen | grep -q "Failed one"
[ $? -ne 0 ]; ok $? "and it left the outbox list"

# delete the other one
keys d
wait_for "from the outbox? It will not be sent. (y/n)"
ok $? "d asks before deleting"
keys y
wait_for "The outbox is empty"
ok $? "y deletes it"
[ "$(find "$XDG_DATA_HOME/docmail/outbox/new" \
    "$XDG_DATA_HOME/docmail/outbox/cur" -type f | wc -l)" -eq 0 ]
ok $? "the outbox directory is empty"
screen | grep -qF "$PASSWORD"
[ $? -ne 0 ]; ok $? "the password never appeared"

# back in the list, the retried document is marked as sent too
keys Escape
wait_for "3 documents"
row "inv-001" | grep -q "$today"
ok $? "back in the list, the document sent from the outbox is marked"

# --- quitting
keys q
wait_for "EXIT="
screen | grep -q "EXIT=0"
ok $? "q quits with exit 0"
screen | grep -q "docmail .* -- Documents\|R-001"
[ $? -ne 0 ]; ok $? "the terminal is restored (the shell is back, no list left)"

# --- one message with two documents marks both as sent
cp "$SAMPLES/invoice-2026-001.pdf" "$docs/two-a.pdf"
cp "$SAMPLES/invoice-2026-001.pdf" "$docs/two-b.pdf"
dm "$T/good.ini" send --yes --to k@x.test --subject Two --body B \
    "$docs/two-a.pdf" "$docs/two-b.pdf"
is_rc 0 "one message with two documents is sent"
term "cd '$T' && env $envs '$DOCMAIL' --config '$T/tui.ini'"
wait_for "5 documents"
row "two-a" | grep -q "$today" && row "two-b" | grep -q "$today"
ok $? "both documents of that message are marked as sent" || diag "$(screen)"
keys q
wait_for "EXIT=0"
rm -f "$docs/two-a.pdf" "$docs/two-b.pdf"

# --- odd and many documents
printf '[document\nbroken\n' >"$docs/broken.pdf.ini"
cp "$SAMPLES/invoice-2026-001.pdf" "$docs/broken.pdf"
esc=$(printf 'evil\033[31m')
cp "$SAMPLES/invoice-2026-001.pdf" "$docs/$esc.pdf"
i=0
while [ $i -lt 1000 ]; do
	: >"$docs/bulk-$(printf %04d $i).pdf"
	i=$((i + 1))
done
touch -d "2000-01-01" "$docs"/bulk-*.pdf
term "cd '$T' && env $envs '$DOCMAIL' --config '$T/tui.ini'"
wait_for "1005 documents"
ok $? "1005 documents are listed"
row "broken" | grep -q "bad .ini"
ok $? "a sidecar that does not parse shows a short marker"
screen | grep -qF 'evil\x1b[31m'
ok $? "control characters in names are shown escaped"
keys End
wait_for "bulk-0999.pdf: not sent yet"
ok $? "End goes to the last of a thousand documents"
keys PPage
wait_for "bulk-0982.pdf"
ok $? "PgUp moves a page up"
keys q
wait_for "EXIT=0"
ok $? "and q quits"
by_data good "$(delivered good)" "every send went by DATA, never BDAT (ms365)"
by_data d451 0 "so did those refused with 451 (postfix)"
by_data drop 0 "and those dropped after the dot (ms365)"

done_testing
