#!/bin/sh
# tui-wait.sh - a step that hangs shows its name and the seconds it has
# waited, against the timeout: Test connection in the settings and the
# sending screen, with a server that accepts and never greets.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 8

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server silent --mode starttls --fault no-greeting
cfg=$XDG_CONFIG_HOME/docmail/config.ini
mkdir -p "$(dirname "$cfg")"
profile "$cfg" silent "$PORT" starttls timeout=9
printf '\n[template invoice]\nsubject = Invoice {{number}}\nbody = Dear {{contact}}\n' >>"$cfg"
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
mkdir -p "$T/doc"
cp "$SAMPLES/invoice-2026-001.pdf" "$SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"

# Test connection: the step and its seconds, counting on their own.
term "env $envs '$DOCMAIL' settings"
wait_for "Test connection"
keys F5
wait_for "greeting ... 3 s (timeout 9 s)" 10
ok $? "Test connection shows the step that hangs and its seconds"
wait_for "greeting ... 5 s (timeout 9 s)" 10
ok $? "and the seconds go on without any event"
# The timeout's message and hint do not fit the status line: it says
# so, and F1 shows all of it.
wait_for "... F1: all" 20
ok $? "a message longer than the status line says F1 shows all of it"
keys F1
wait_for "The last message, in full:"
wait_joined "try again later"
ok $? "F1 shows the message with its whole hint"
keys Escape
# Esc cancels a test that waits: said plainly, with no hint that blames
# host or port
keys F5
wait_for "greeting ... 2 s (timeout 9 s)" 10
keys Escape
wait_for "cancelled by the user" 15 && ! screen | grep -q "check host"
ok $? "Esc cancels a waiting test and says so, blaming nothing"
keys Escape
wait_for "EXIT="

# Sending: the same on the progress screen.
term "env $envs '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
wait_for "Subject [Invoice"
keys -l 'k@x.test'
keys F3
wait_for "Send this email to 1 recipient?"
keys y
wait_for "Now: greeting ... 3 s (timeout 9 s)" 10
ok $? "sending shows the step that hangs and its seconds"
wait_for "Not sent" 30
ok $? "until the step times out and the result says so"
wait_for "did not answer within"
ok $? "naming the silence as the cause"
keys Escape
wait_for "Subject [Invoice"
keys Escape
wait_for "Close this email?"
keys y
wait_for "EXIT="

done_testing
