#!/bin/sh
# tty.sh - what docmail asks on a real terminal (tmux): the password
# prompt without echo, the confirmation before sending, and progress.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 18

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth"
cfg=$T/cfg.ini
# env for the tmux shell: the test's HOME and XDG directories
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"

# --- no password in the config: asked on the terminal, not echoed
profile "$cfg" tls "$PORT" starttls "password="
term "env $envs '$DOCMAIL' --config '$cfg' test"
wait_for "Password for anna at localhost:"
ok $? "without a password docmail asks on the terminal"
keys -l "$PASSWORD"
keys Enter
wait_for "EXIT="
screen | grep -q "test passed"
ok $? "the typed password is used"
screen | grep -q "EXIT=0"
ok $? "and the test exits 0"
if screen | grep -qF "$PASSWORD"; then r=1; else r=0; fi
ok $r "the password was not echoed"

# the prompt refuses an empty answer
term "env $envs '$DOCMAIL' --config '$cfg' test"
wait_for "Password for anna"
keys Enter
wait_for "EXIT="
screen | grep -q "EXIT=77"
ok $? "an empty password is refused (exit 77)"

# without a terminal there is no one to ask
run setsid -w "$DOCMAIL" --config "$cfg" test
is_rc 78 "no password and no terminal is a configuration error"
has "$T/err" "password_command" "the hint names password_command"

# --- the confirmation before sending
profile "$cfg" tls "$PORT" starttls
cp "$SAMPLES/invoice-2026-001.pdf" "$T/"	# without its sidecar
term "env $envs '$DOCMAIL' --config '$cfg' send --to 'Kunde <k@x.test>' --bcc h@hidden.test --subject 'Rechnung Nr. 7 für Sie' --body Text '$T/invoice-2026-001.pdf'"
wait_for "Send to 2 recipients? [y/N]"
ok $? "send asks before sending"
screen | grep -q "^Bcc: *h@hidden.test  (invisible to the other recipients)"
ok $? "the summary marks Bcc as invisible"
screen | grep -q "Bounces return to: anna@example.test"
ok $? "the summary names the bounce address"
screen | grep -q "Subject: *Rechnung Nr. 7 für Sie"
ok $? "the summary shows the UTF-8 subject"
screen | grep -q "invoice-2026-001.pdf (.* KB)"
ok $? "the summary lists the document with its size"
[ "$(delivered tls)" -eq 0 ]; ok $? "nothing is sent before the answer"
keys y Enter
wait_for "EXIT="
screen | grep -q "EXIT=0" && [ "$(delivered tls)" -eq 1 ]
ok $? "y sends it"

term "env $envs '$DOCMAIL' --config '$cfg' send --to k@x.test --subject No --body Text"
wait_for "Send to 1 recipient? [y/N]"
keys n Enter
wait_for "EXIT="
screen | grep -q "EXIT=64"
ok $? "n does not send (exit 64)"
[ "$(delivered tls)" -eq 1 ]; ok $? "and nothing reached the server"
[ -z "$(ls "$XDG_DATA_HOME/docmail/outbox/new/" 2>/dev/null)" ]
ok $? "and nothing went to the outbox"

# --- progress for a large message on a terminal
head -c 2000000 /dev/urandom >"$T/big.bin"
term "env $envs '$DOCMAIL' --config '$cfg' send --yes --to k@x.test --subject Big --body B '$T/big.bin'"
wait_for "EXIT=" 30
screen | grep -q "sending: .* MB (100%)"
ok $? "a large message shows its progress" || diag "$(screen)"

done_testing
