#!/bin/sh
# tui-settings.sh - the SMTP settings screen in a real terminal (tmux):
# first run, Test connection against a loopback server, Save, the
# questions on leaving, resize, and that the password is never shown.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 62

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth"
cfg=$XDG_CONFIG_HOME/docmail/config.ini
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"

# --- first run: no config, "docmail" opens the settings
term "env $envs '$DOCMAIL'"
wait_for "SMTP settings"
ok $? "the first run opens the settings screen"
# The title may come before the body under valgrind: wait for each.
wait_for "no configuration yet"
ok $? "saying there is no configuration yet"
for l in "Host" "Port" "Security" "User name" "Password" "Test connection" "Save"; do
	wait_for "$l"
	ok $? "the screen has '$l'"
done

keys -l "Anna Müller"
keys Tab
keys -l "anna@example.test"
keys Tab
type_field localhost
keys Tab
type_field 465
keys Tab
wait_for "465 uses ssl"
ok $? "port 465 proposes security ssl"
keys BTab
type_field "$PORT"
keys Tab Space Space
keys Tab Tab	# past Authentication: Password
wait_for "User name: the Email address, offered; typing replaces it"
ok $? "the user name is the email address, offered as such"
keys -l anna
sleep 0.3
screen | grep -q "User name *\[anna  *\]"
ok $? "typing a user name over it replaces it, not appends" ||
    diag "$(screen | grep 'User name')"
type_field anna
keys Tab
keys -l "wrong-password"
keys Tab
type_field "$T/tls/ca.pem"
keys F5
wait_for "app password" 15
ok $? "a wrong password shows the 535 hint"
if screen | grep -qF "wrong-password"; then r=1; else r=0; fi
ok $r "the typed password is never drawn"

# the right password, Test connection again
keys Up
type_field "$PASSWORD"
keys F5
wait_for "Test connection passed" 15
ok $? "Test connection with the right password passes"
screen | grep -q "ok   greeting  *[0-9]* ms localhost~"
ok $? "the greeting's host is shown whole, and the cut marked"
grep -q "tls-at-auth yes" "$T/tls/log"
ok $? "the server saw AUTH over TLS"
if screen | grep -qF "$PASSWORD"; then r=1; else r=0; fi
ok $r "the password is not on the screen"
[ ! -f "$cfg" ]; ok $? "nothing is written before Save"

# Save with Ctrl-S
keys C-s
wait_for "saved to"
ok $? "Ctrl-S saves"
[ "$(stat -c %a "$cfg" 2>/dev/null)" = 600 ]
ok $? "the config is written with mode 0600"
grep -q "^host = localhost$" "$cfg" && grep -q "^port = $PORT$" "$cfg" &&
    grep -q "^security = starttls$" "$cfg" && grep -q "^name = Anna Müller$" "$cfg"
ok $? "with the values typed" || diag "$(cat "$cfg")"
run "$DOCMAIL" test
is_rc 0 "the saved profile passes 'docmail test'"

# A first run goes on to the documents once saved (issue 12, item 2)
keys Escape
wait_for "-- Documents"
ok $? "after the first Save, Esc goes on to the document list"
keys q
wait_for "EXIT=0"
ok $? "where q leaves, exit 0"

# "docmail FILE" on a first run goes on to the send dialog for FILE
term "env $envs '$DOCMAIL' --config '$T/first.ini' '$SAMPLES/invoice-2026-001.pdf'"
wait_for "no configuration yet"
keys -l "Anna"
keys Tab
keys -l "anna@example.test"
keys Tab
type_field localhost
keys C-s
wait_for "saved to"
keys Escape
wait_for "-- Send" && wait_for "invoice-2026-001.pdf"
ok $? "a first run with a document goes on to its send dialog once saved"
keys Escape
wait_for "EXIT=0"

# --- reopen: the saved password shows as a placeholder only
term "env $envs '$DOCMAIL' settings"
wait_for "saved (type to replace)"
ok $? "a saved password shows a fixed placeholder"
if screen | grep -qF "$PASSWORD"; then r=1; else r=0; fi
ok $r "and never the password"
keys -l "X"
keys Escape
wait_for "unsaved changes"
ok $? "Esc with unsaved changes asks"
keys c
keys Escape
wait_for "unsaved changes"
keys d
wait_for "EXIT=0"
ok $? "d discards and leaves, exit 0"
grep -q "^name = Anna Müller$" "$cfg"
ok $? "the file is as saved"

# --- resize keeps the typed text; too small shows a note
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings"
keys End
keys -l " Ärger"
tmux -L "$TMUX_SOCK" resize-window -x 60 -y 20
wait_for "terminal too small"
ok $? "a 60x20 terminal shows 'terminal too small'"
tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24
wait_for "Anna Müller Ärger"
ok $? "back at 80x24 the typed text is still there"
keys Escape d

# --- a field shows its true value (issue 12, item 4)
# shows LABEL TEXT: the field LABEL reads TEXT, its brackets (or the
# '<' '>' marks of hidden text) included; waits for it.
shows() {
	_n=200
	while [ $_n -gt 0 ]; do
		screen | grep -m1 "^  $1  *[[<]" | sed "s/^  $1  *//" |
		    grep -qF -- "$2" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "the field $1 does not show '$2':" "$(screen)"
	return 1
}
# focused TEXT: TEXT (a label or a button) is drawn in reverse video
focused() {
	_n=200
	while [ $_n -gt 0 ]; do
		tmux -L "$TMUX_SOCK" capture-pane -p -e |
		    grep -qF -- "$(printf '\033[7m')$1" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "'$1' is not highlighted:" "$(tmux -L "$TMUX_SOCK" capture-pane -p -e | cat -v)"
	return 1
}
fcfg=$T/field.ini
profile "$fcfg" tls 587 starttls "name=Anna Muster" "user=anna@example.test"
LONG=anna.maria.mustermann-mit-einem-langen-namen@buchhaltung.example.test
term "env $envs '$DOCMAIL' --config '$fcfg' settings"
wait_for "SMTP settings"
focused "Sender name"
ok $? "the focused field's label is highlighted"
keys Tab Tab Tab
focused "Port" && ! focused "Sender name" 2>/dev/null >/dev/null
ok $? "the highlight moves with the focus"
shows Port "[587   ]"
keys -l 25
shows Port "[58725 ]"
ok $? "typing into a prefilled Port appends at the end, in sight"
keys -l 587
shows Port "<25587 ]"
ok $? "a value longer than the field marks its hidden start with '<'"
keys Right Right Right
keys BSpace
shows Port "<2558  ]"
ok $? "Right stops at the end: Backspace deletes the last digit, not a blank"
keys C-u
shows Port "[      ]"
ok $? "Ctrl-U clears the field"
keys -l 2525
shows Port "[2525  ]"
keys BTab
keys C-a
keys -l mail.
keys C-e
keys -l x
shows Host "[mail.localhostx "
ok $? "Ctrl-A and Ctrl-E go to the start and the end"
keys C-w
shows Host "[      "
keys -l localhost
keys C-a C-k
shows Host "[      "
ok $? "Ctrl-W and Ctrl-K delete"
keys -l localhost
keys Tab Tab Tab Tab	# Port, Security, Authentication, User name
keys C-u
keys -l "$LONG"
shows "User name" "<einem-langen-namen@buchhaltung.example.test         ]"
ok $? "a long value scrolls by half a field, its hidden start marked"
keys Home
shows "User name" "[anna.maria.mustermann-mit-einem-langen-namen@buchhal>"
ok $? "Home shows its start, the hidden end marked with '>'"
keys Tab
keys -l "Xy1"
shows Password "[***  "
ok $? "the password shows one '*' a character"
keys C-u
shows Password "[     "
keys Tab Tab Tab
focused " Save "
ok $? "the focused button is highlighted"
keys Enter
wait_for "saved to"
grep -q "^port = 2525$" "$fcfg" && grep -q "^host = localhost$" "$fcfg" &&
    grep -q "^user = $LONG$" "$fcfg" &&
    grep -q "^password = $PASSWORD$" "$fcfg"
ok $? "what is saved is what the fields showed" || diag "$(cat "$fcfg")"
keys Escape
wait_for "EXIT=0"

# --- a test that ends while the help is open is shown on return
start_server late --mode starttls --auth-file "$T/auth" --fault delay-greeting:2
sed -i "s/^port = .*/port = $PORT/; s|^ca_file = .*|ca_file = $T/late/ca.pem|" "$cfg"
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings"
keys F5
wait_for "testing the connection"
keys F1
wait_for "Keys that work everywhere"
sleep 3
keys Escape
wait_for "Test connection passed" 5
ok $? "a test that finished under the help screen shows its result"
keys Escape
wait_for "EXIT=0"
ok $? "'docmail settings': Esc without unsaved changes leaves, exit 0"

# --- other terminals: each draws the screen and leaves cleanly
for tt in vt100 linux screen-256color tmux-256color xterm-256color; do
	term "env $envs TERM=$tt '$DOCMAIL' settings"
	wait_for "Test connection" && focused "Sender name" && keys Up &&
	    focused " Save " && keys C-q && wait_for "EXIT=0"
	ok $? "TERM=$tt works, the focus highlighted"
done

# --- NO_COLOR: not a single colour sequence reaches the terminal
rm -f "$T/tty.raw"
term "env $envs NO_COLOR=1 TERM=xterm-256color script -qfec '$DOCMAIL settings' '$T/tty.raw'"
wait_for "Test connection"
focused "Sender name"
ok $? "NO_COLOR: the focused field is highlighted all the same"
keys C-q
wait_for "EXIT="
if grep -qaE "$(printf '\033')\\[[0-9;]*(3[0-7]|4[0-7]|38;5|48;5)[;m]" "$T/tty.raw"; then r=1; else r=0; fi
ok $r "NO_COLOR: no colour escape sequences" || diag "$(od -c "$T/tty.raw" | head -5)"

# --- an OAuth2 profile: Test connection runs its token command, and
# Save keeps auth and the oauth2_* keys the screen has no fields for
printf 'anna:tok-tui-1\n' >"$T/tokens"
# The command is on the screen (Authentication: Token command), so it
# must not hold the token itself.
printf 'tok-tui-1\n' >"$T/tok1"
start_server otls --mode starttls --ehlo-profile ms365 --token-file "$T/tokens"
cat >"$cfg" <<EOF
[profile default]
name = Anna Muster
email = anna@example.test
host = localhost
port = $PORT
security = starttls
user = anna
ca_file = $T/otls/ca.pem
auth = oauth2
oauth2_provider = microsoft
oauth2_client_id = 0f1e2d
oauth2_tenant = organizations
oauth2_token_command = cat $T/tok1
EOF
chmod 600 "$cfg"
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings"
keys F5
wait_for "Test connection passed" 15
ok $? "Test connection of an OAuth2 profile passes with its token command"
grep -q "^auth-ok anna XOAUTH2$" "$T/otls/log"
ok $? "the server saw an XOAUTH2 login"
if screen | grep -qF "tok-tui-1"; then r=1; else r=0; fi
ok $r "the token is not on the screen"
# nine steps with the token's: every one shown at 80x24, QUIT too
screen >"$T/steps"
r=0
for st in resolve connect greeting EHLO TLS token AUTH "sender check" QUIT; do
	grep -q "ok   $st " "$T/steps" || r=1
done
[ $r -eq 0 ] || diag "$(cat "$T/steps")"
ok $r "all nine steps of an OAuth2 test are shown at 80x24, QUIT included"
keys End
keys -l " X"
keys C-s
wait_for "saved to"
ok $? "the OAuth2 profile saves"
grep -q "^name = Anna Muster X$" "$cfg" && grep -q "^auth = oauth2$" "$cfg" &&
    grep -q "^oauth2_provider = microsoft$" "$cfg" &&
    grep -q "^oauth2_client_id = 0f1e2d$" "$cfg" &&
    grep -q "^oauth2_tenant = organizations$" "$cfg" &&
    grep -q "^oauth2_token_command = cat $T/tok1$" "$cfg"
ok $? "with auth and every oauth2_* key kept" || diag "$(cat "$cfg")"
keys C-q
wait_for "EXIT="

# --- the terminal is restored when docmail is killed
term "env $envs '$DOCMAIL' settings"
wait_for "Test connection"
# Only this pane's docmail: tests running beside this one have theirs.
pkill -TERM -P "$(tmux -L "$TMUX_SOCK" display -p '#{pane_pid}')" \
    -f "$DOCMAIL_BIN settings"
wait_for "EXIT="
if screen | grep -q "Test connection"; then r=1; else r=0; fi
ok $r "after a TERM signal the terminal is back to the shell"

done_testing
