#!/bin/sh
# tui-send.sh - the send dialog, its preview and the sending screen in
# a real terminal (tmux, 80x24) against the loopback SMTP server.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v tmux >/dev/null 2>&1 || { echo "1..0 # SKIP tmux not installed"; exit 77; }

plan 83

# Every screen the tests look at is kept, to check that the password
# never appears on any of them.
screen() { tmux -L "$TMUX_SOCK" capture-pane -p -S -100 | tee -a "$T/screens"; }
# row TEXT: the screen line that starts with TEXT (after blanks)
row() { screen | grep -m1 "^ *$1"; }
# gone TEXT [SECONDS]: waits until TEXT is no longer on the screen
gone() {
	_n=$(( ${2:-10} * 20 ))
	while [ $_n -gt 0 ]; do
		screen | grep -qF -- "$1" || return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "'$1' is still on the screen:" "$(screen)"
	return 1
}
# field_is LABEL TEXT: the field LABEL shows TEXT
field_is() { row "$1 *\[" | grep -qF -- "$2"; }

# mail N FIELD: a field of the N-th message server tls received,
# decoded by python's email package
mail() {
	"$PYTHON3" - "$T/tls/mail/$(printf %04d "$1").eml" "$2" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"),
    policy=email.policy.default)
what = sys.argv[2]
if what == "attachments":
    print(" ".join("%s:%s" % (p.get_filename(), p.get_content_type())
        for p in m.iter_attachments()))
elif what == "body":
    print(m.get_body(("plain",)).get_content())
elif what == "headers":
    print("\n".join(m.keys()))
else:
    print(m[what] if m[what] is not None else "")
EOF
}

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
# The servers answer EHLO as Microsoft 365 and Postfix do (CHUNKING
# among the keywords); docmail must send by DATA all the same.
start_server tls --mode starttls --auth-file "$T/auth" --ehlo-profile ms365
PORT_OK=$PORT
start_server bad --mode starttls --auth-file "$T/auth" --fault data-451 \
    --ehlo-profile postfix
PORT_BAD=$PORT

cfg=$T/cfg.ini
template() {
	cat >>"$cfg" <<'EOF'

[template invoice]
subject = Invoice {{number}} from {{sender.name}}
body = Dear {{contact}},\n\nplease find attached invoice {{number}}.
    \nKind regards,\n{{sender.name}}
EOF
}
profile "$cfg" tls "$PORT_OK" starttls
template

mkdir -p "$T/doc"
doc=$T/doc/invoice-2026-001.pdf
cp "$SAMPLES/invoice-2026-001.pdf" "$SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"
printf 'a note\n' >"$T/doc/extra-notes.txt"

# An "editor" that replaces a placeholder and notes the file's mode.
cat >"$T/editor" <<EOF
#!/bin/sh
stat -c %a "\$1" >"$T/editor-mode"
sed -i 's/{{contact}}/Herr Beispiel/' "\$1"
EOF
chmod +x "$T/editor"

envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
SUBJ='Rechnung Nr. 7 für Sie – 5 € 請求書'

# --- the dialog, filled from the template and the document's data ----
term "env $envs '$DOCMAIL' --config '$cfg' '$doc'"
wait_for "Subject [Invoice 2026-001 from Anna Muster"
ok $? "'docmail FILE' opens the send dialog with the template's subject"
screen | grep -q "Dear Frau Keller,"
ok $? "the text is the template filled from the sidecar"
screen | grep -q "invoice-2026-001.pdf  (1.3 KB)"
ok $? "the attachment is listed with its size"
row "From *\[" | grep -q "empty: anna@example.test"
ok $? "beside an empty From: the profile's address"

# an invalid address: an error beside the field, when leaving it
keys -l 'bad-address'
keys Tab
wait_for "missing '@'"
row "To *\[" | grep -q "\] invalid"
ok $? "an invalid address shows an error beside the field"
screen | grep -q "To: invalid address 'bad-address': missing '@' -- "
ok $? "and the message with its hint in the status line"
keys F3
sleep 0.3
screen | grep -q "Send this email" && r=1 || r=0
ok $r "an invalid address blocks the preview"
row "To *\[" >/dev/null
keys End
for i in 1 2 3 4 5 6 7 8 9 10 11; do keys BSpace; done

keys -l 'Kunde <k@x.test>, "Müller, Hans" <hans@y.test>'
keys Tab Tab Tab
keys -l 'h@hidden.test'
keys Tab End
for i in $(seq 40); do keys BSpace; done
keys -l "$SUBJ"
wait_for "$SUBJ"
ok $? "a UTF-8 subject is typed and shown"
# Left over the three wide characters, then Backspace: the blank before
# them goes, and only it (the cursor is where the screen shows it).
keys Left Left Left BSpace
wait_for "Subject [Rechnung Nr. 7 für Sie – 5 €請求書 "
ok $? "Left steps over wide characters whole, Backspace deletes before them"
keys Space End
# The note is redrawn with the field; under valgrind that may lag the
# subject, so wait for it rather than sample once.
r=1
for i in $(seq 100); do
	row "To *\[" | grep -q "invalid" || { r=0; break; }
	sleep 0.05
done
[ $r = 0 ] || diag "the To field still shows an error:" "$(screen)"
ok $r "a fixed address clears the error"
keys Tab
keys -l '請求書 '
wait_for "[請求書 Dear Frau Keller,"
ok $? "Tab goes on into the text, where wide characters are typed"
tmux -L "$TMUX_SOCK" capture-pane -p -e | grep -qF "$(printf '\033[7m')Text" &&
    ! tmux -L "$TMUX_SOCK" capture-pane -p -e | grep -qF "$(printf '\033[7m')Subject"
ok $? "the Text label is highlighted, Subject's no longer"

# --- resize keeps what was typed ---------------------------------------
tmux -L "$TMUX_SOCK" resize-window -x 100 -y 30
sleep 0.3
wait_for "$SUBJ" && field_is Bcc h@hidden.test
ok $? "at 100x30 the typed text is kept"
tmux -L "$TMUX_SOCK" resize-window -x 60 -y 20
wait_for "terminal too small"
ok $? "at 60x20: terminal too small"
keys -l 'Q7'
tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24
wait_for "$SUBJ" && field_is Bcc h@hidden.test && field_is To 'Kunde <k@x.test>'
ok $? "back at 80x24 the typed text is still there"
wait_for "Q7"
ok $? "and what was typed while it was too small arrives"
keys BSpace BSpace

# --- preview -------------------------------------------------------------
keys F3
wait_for "Send this email to 3 recipients? (y/n)"
ok $? "F3 shows the preview and asks before sending to 3 recipients"
screen | grep -q "Bcc (invisible to the other recipients): h@hidden.test"
ok $? "the preview marks Bcc as invisible"
screen | grep -q "Bounces return to: anna@example.test"
ok $? "the preview names the bounce address"
screen | grep -q "Subject: *$SUBJ"
ok $? "the preview shows the decoded subject"
screen | grep -q "Attached: invoice-2026-001.pdf  (1.3 KB, application/pdf)"
ok $? "the preview lists the attachment with size and type"
screen | grep -q "^ *Date: "
ok $? "the preview shows the date"
keys n
wait_for "Subject [$SUBJ"
ok $? "n goes back to the dialog"
field_is To 'Kunde <k@x.test>' && field_is Bcc h@hidden.test
ok $? "with every field kept"
[ "$(delivered tls)" -eq 0 ]
ok $? "nothing was sent"

# --- sending --------------------------------------------------------------
keys C-p
wait_for "Send this email to 3 recipients?"
ok $? "Ctrl-P is the preview too"
pdate=$(screen | sed -n 's/^ *Date: *//p' | head -n 1)
keys y
wait_for "Sent." 20
ok $? "y sends"
screen | grep -q "ok  *h@hidden.test: 250"
ok $? "the result lists each recipient with the server's reply"
screen | grep -q "Server said: 250"
ok $? "and the server's receipt"
screen | grep -q "^  Done: \.\.\., .*, QUIT *$"
ok $? "the steps done, the latest whole after '...', not cut at the edge" ||
    diag "$(screen | grep 'Done:')"
[ "$(delivered tls)" -eq 1 ]
ok $? "the server received one message"
[ "$(rcpts "$T/tls/mail/0001.json")" = "k@x.test,hans@y.test,h@hidden.test" ]
ok $? "to the To and Bcc envelope recipients" || diag "$(rcpts "$T/tls/mail/0001.json")"
[ "$(mail 1 Subject)" = "$SUBJ" ]
ok $? "with the UTF-8 subject" || diag "$(mail 1 Subject)"
[ "$(mail 1 attachments)" = "invoice-2026-001.pdf:application/pdf" ]
ok $? "with the PDF attached" || diag "$(mail 1 attachments)"
mail 1 body >"$T/body"
grep -q "^請求書 Dear Frau Keller,$" "$T/body" && grep -q "^Kind regards,$" "$T/body"
ok $? "with the text as typed, every line of it" || diag "$(cat "$T/body")"
mail 1 headers | grep -qi '^bcc$' && r=1 || r=0
ok $r "and no Bcc header"
sdate=$(sed -n 's/^Date: //p' "$T/tls/mail/0001.eml" | tr -d '\r' | head -n 1)
[ -n "$pdate" ] && [ "$sdate" = "$pdate" ]
ok $? "the preview's Date is the very header sent" || diag "preview '$pdate', sent '$sdate'"
keys Enter
wait_for "EXIT=0"
ok $? "Enter after sending leaves (exit 0)"

# --- an unresolved placeholder blocks; the editor fixes it ----------------
grep -v '^contact' "$SAMPLES/invoice-2026-001.pdf.ini" >"$T/doc/invoice-2026-001.pdf.ini"
term "env $envs EDITOR=false VISUAL= '$DOCMAIL' --config '$cfg' '$doc'"
wait_for "Unresolved: {{contact}}"
ok $? "an unresolved placeholder is named under the text"
# capture-pane -e keeps the attributes: the placeholder is bold/underlined
tmux -L "$TMUX_SOCK" capture-pane -p -e | grep "Dear " |
    grep -q "$(printf '\033')\[[0-9;]*[14][0-9;]*m{{contact}}"
ok $? "and highlighted in the text" ||
    diag "$(tmux -L "$TMUX_SOCK" capture-pane -p -e | grep 'Dear ' | od -c | head -4)"
keys -l k@x.test
keys F3
wait_for "unresolved placeholder {{contact}}"
ok $? "it blocks the preview with a message naming it"
screen | grep -q "Send this email" && r=1 || r=0
ok $r "no preview is shown"
# In a one-line field Ctrl-E is End, as in a shell; in the text, the editor.
keys Home C-e
keys -l '.de'
wait_for "[k@x.test.de "
ok $? "Ctrl-E in a field goes to the end of its value"
keys BSpace BSpace BSpace Tab Tab Tab Tab Tab
wait_for " ^E Editor "
keys C-e
wait_for "the editor 'false' failed"
ok $? "a failing editor is reported"
screen | grep -q "Dear {{contact}}," && screen | grep -q "F3/^P Preview"
ok $? "the screen and the text are restored"
keys Escape
wait_for "Discard this email? (y/n)"
ok $? "Esc asks when something was typed"
keys y
wait_for "EXIT=0"

term "env $envs EDITOR='$T/editor' VISUAL= '$DOCMAIL' --config '$cfg' '$doc'"
wait_for "Unresolved: {{contact}}"
keys BTab BTab
wait_for " ^E Editor "
keys C-e
wait_for "Dear Herr Beispiel,"
ok $? "Ctrl-E takes the text back from the editor"
gone "Unresolved:"
ok $? "and the placeholder is no longer unresolved"
[ "$(cat "$T/editor-mode" 2>/dev/null)" = 600 ]
ok $? "the editor's file had mode 0600" || diag "mode $(cat "$T/editor-mode" 2>/dev/null)"

# --- attachments: add with Tab completion, remove -----------------------
keys Tab Tab	# from the text over the list back to To
keys C-o
wait_for "Add file:"
keys -l "$T/doc/ext"
keys Tab
wait_for "extra-notes.txt"
keys Enter
wait_for "extra-notes.txt  (7 bytes)"
ok $? "Ctrl-O attaches a file, Tab completes its name"
screen | grep -q "Attachments (2,"
ok $? "the list has two files"
keys BTab
wait_for "> $T/doc/extra-notes.txt"
keys Delete
gone "extra-notes.txt  (7 bytes)"
ok $? "Del removes the selected file"
keys Tab
keys -l 'k@x.test'
keys F3
wait_for "Send this email to 1 recipient? (y/n)"
screen | grep -q "Dear Herr Beispiel," && ! screen | grep -q "extra-notes"
ok $? "the preview has the edited text and one attachment"
keys Escape
wait_for "F3/^P Preview"
keys Escape
wait_for "Discard this email?"
keys y
wait_for "EXIT=0"
cp "$SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"

# --- a failing send: the message stays in the outbox ----------------------
profile "$cfg" bad "$PORT_BAD" starttls allow_from_override=no
template
term "env $envs '$DOCMAIL' --config '$cfg' '$doc'"
wait_for "Subject [Invoice"
row "From *\[" | grep -q "\] typed: becomes Reply-To"
ok $? "when the profile forbids other From addresses, the field says so"
keys -l 'k@x.test'
keys Tab
keys -l 'Büro <office@other.test>'
keys F3
wait_for "Send this email to 1 recipient?"
screen | grep -q "^  From: *Anna Muster <anna@example.test>" &&
    screen | grep -q "^  Reply-To: *Büro <office@other.test>"
ok $? "and the preview shows the typed From as Reply-To"
keys y
wait_for "Not sent" 20
ok $? "a send refused with 451 shows the error"
screen | grep -q "451"
ok $? "with the server's reply"
screen | grep -q "The message is in the outbox as '"
ok $? "and says the message is in the outbox"
[ "$(ls "$XDG_DATA_HOME/docmail/outbox/new/" | wc -l)" -eq 1 ]
ok $? "where it is"
keys r
sleep 0.5
wait_for "Not sent" 20
[ "$(ls "$XDG_DATA_HOME/docmail/outbox/new/" "$XDG_DATA_HOME/docmail/outbox/cur/" 2>/dev/null | grep -vc ':$\|^$')" -eq 1 ]
ok $? "r tries again with the same outbox item"

# A retry from the command line races the screen: the item goes once.
profile "$T/cfg-ok.ini" tls "$PORT_OK" starttls
sent_ok=$(delivered tls)
data_bad=$(grep -c '^DATA$' "$T/bad/log")
run "$DOCMAIL" --config "$T/cfg-ok.ini" outbox --retry
is_rc 0 "meanwhile 'docmail outbox --retry' sends the waiting item"
[ "$(delivered tls)" -eq $((sent_ok + 1)) ]; ok $? "once"
keys r
wait_for "It is not in the outbox any more: another docmail sent or" 20
ok $? "then r on the screen says another docmail sent it"
screen | grep -q "r Retry" && r=1 || r=0
ok $r "and offers no retry any more"
[ "$(delivered tls)" -eq $((sent_ok + 1)) ] &&
    [ "$(grep -c '^DATA$' "$T/bad/log")" -eq "$data_bad" ]
ok $? "and sends nothing"
keys Escape
wait_for "Subject [Invoice"
ok $? "Esc goes back to the dialog"
# Sending the email again would replace the failed try's outbox item,
# which is no longer there: sent by the other docmail, so not again.
keys F3
wait_for "Send this email to 1 recipient?"
keys y
wait_for "It is not in the outbox any more: another docmail sent or" 20
ok $? "sending it again from the dialog is refused the same way"
[ "$(delivered tls)" -eq $((sent_ok + 1)) ] &&
    [ "$(grep -c '^DATA$' "$T/bad/log")" -eq "$data_bad" ] &&
    [ -z "$(ls "$XDG_DATA_HOME/docmail/outbox/new/" "$XDG_DATA_HOME/docmail/outbox/cur/" 2>/dev/null | grep -v ':$\|^$')" ]
ok $? "nothing is sent and no new copy waits in the outbox"
keys Escape
wait_for "Subject [Invoice"
keys Escape
wait_for "Discard this email?"
keys y
wait_for "EXIT="

# --- Esc cancels a send that hangs --------------------------------------
# (the server stops reading after DATA; the engine notices a cancel
# within its 200 ms poll while it waits to write)
start_server slow --mode starttls --auth-file "$T/auth" --fault stall-data \
    --ehlo-profile postfix
profile "$cfg" slow "$PORT" starttls timeout=30
template
{ printf '%%PDF-1.4\n'; head -c 6000000 /dev/urandom; } >"$T/doc/big.pdf"
term "env $envs '$DOCMAIL' --config '$cfg' '$doc' '$T/doc/big.pdf'"
wait_for "Subject [Invoice"
keys -l 'k@x.test'
keys F3
wait_for "Send this email to 1 recipient?"
keys y
wait_for "Now: data (sending the message)" 10
ok $? "while sending, the screen shows the current step"
screen | grep -q "^  \[#*\.*\] *[0-9]*%  .* of 7.8 MB"
ok $? "and a progress bar with bytes sent of the total" || diag "$(screen)"
screen | grep -q "Esc Cancel sending"
ok $? "the key bar offers to cancel"
keys Escape
wait_for "Cancel sending? (y/n)"
ok $? "Esc asks before cancelling"
keys y
wait_for "Not sent" 10
ok $? "y cancels the send at once"
screen | grep -q "The message is in the outbox as '"
ok $? "and the message stays in the outbox"
keys Escape
wait_for "Subject [Invoice"
keys Escape
wait_for "Close this email? It stays in the outbox for 'docmail outbox --retry'. (y/n)"
ok $? "leaving then says the email stays in the outbox, not that it is discarded"
keys y
wait_for "EXIT="

# --- the password asked in the screen; TERM=vt100 -------------------------
profile "$cfg" tls "$PORT_OK" starttls "password="
template
term "env $envs TERM=vt100 '$DOCMAIL' --config '$cfg' '$doc'"
wait_for "Subject [Invoice"
keys -l 'k@x.test'
keys C-p
wait_for "Send this email to 1 recipient?"
keys y
wait_for "Password for anna at localhost"
ok $? "without a password in the profile it is asked in the screen"
keys -l "$PASSWORD"
wait_for "[$(printf '%s' "$PASSWORD" | tr -c '' '*') "
ok $? "the typed password shows as one '*' a character"
keys Enter
wait_for "Sent." 20
ok $? "the typed password is used (TERM=vt100)"
[ "$(delivered tls)" -eq 3 ]
ok $? "and the server received the message"
keys Enter
wait_for "EXIT=0"

# the sidecar's to, cc and bcc address the email, as a batch does
mkdir -p "$T/real"
cp "$REAL_SAMPLES/invoice-2026-003.pdf" "$REAL_SAMPLES/invoice-2026-003.pdf.ini" "$T/real/"
term "env $envs '$DOCMAIL' --config '$cfg' '$T/real/invoice-2026-003.pdf'"
wait_for "Subject [Invoice 2026-003"
field_is "To" "claire@dupont.example" &&
    [ -n "$(grep '^cc' "$T/real/invoice-2026-003.pdf.ini")" ] &&
    field_is "Cc" "compta@dupont.example"
ok $? "the sidecar's to and cc fill To and Cc" || diag "$(screen)" "$(cat "$T/real/invoice-2026-003.pdf.ini")"
keys Escape
wait_for "Close this email?" && keys y
wait_for "EXIT="

grep -qF "$PASSWORD" "$T/screens" && r=1 || r=0
ok $r "the password never appeared on any captured screen"
by_data tls 3 "the sends went by DATA, never BDAT (ms365)"
by_data bad 0 "the refused send went by DATA, never BDAT (postfix)"

done_testing
