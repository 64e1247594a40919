#!/bin/sh
# diagnose.sh - what docmail says, and how fast, when a server is slow,
# silent, on the wrong security mode or refuses the sender: the cause
# and a hint that fits it, never a hint that contradicts another line.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 25

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
cfg=$T/cfg.ini
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }

# --- starttls against an implicit-TLS port: said at once, not after the
# whole timeout (30 s): a second connection asks whether TLS answers
start_server ssl --mode ssl --auth-file "$T/auth"
profile "$cfg" ssl "$PORT" starttls "timeout=30"
t0=$(date +%s)
dm test
t1=$(date +%s)
is_rc 78 "starttls against an implicit-TLS port is a configuration error"
has "$T/err" "speaks TLS from the first byte: set security = ssl" "saying what to set"
[ $((t1 - t0)) -lt 10 ]; ok $? "within seconds, not the 30 s timeout ($((t1 - t0)) s)"

# --- a plain server that greets late is still waited for: the probe's
# ClientHello goes to a second connection, not this one
start_server late --mode starttls --auth-file "$T/auth" --fault delay-greeting:3
profile "$cfg" late "$PORT" starttls "timeout=6"
dm test
is_rc 0 "a greeting 3 s late passes with timeout = 6"
hasnt "$T/err" "TLS from the first byte" "and is not taken for a TLS port"

# --- up but silent: busy, not a wrong host or port
start_server silent --mode starttls --fault no-greeting
profile "$cfg" silent "$PORT" starttls "timeout=3"
dm test
is_rc 75 "no greeting at all is a temporary failure, exit 75"
has "$T/err" "did not answer within 3 seconds: it may be busy" "said as a busy server"
has "$T/err" "try again later" "with the advice to try again later"
hasnt "$T/err" "check host and port" "not 'check host and port'"
# the same behind a working TLS handshake (security = ssl)
start_server silentssl --mode ssl --fault no-greeting
profile "$cfg" silentssl "$PORT" ssl "timeout=3"
dm test
is_rc 75 "no greeting after the TLS handshake is exit 75"
has "$T/err" "it may be busy" "said as a busy server too"
hasnt "$T/err" "TLS from the first byte" "without the implicit-TLS hint, which TLS disproves"

# --- no reply to the final dot: "may have been delivered", never also
# "try again later, the message stays in the outbox"
start_server sad --mode starttls --auth-file "$T/auth" --fault silent-after-dot
profile "$cfg" sad "$PORT" starttls "timeout=2"
dm send --yes --to a@x.test --subject Maybe --body B
is_rc 75 "no reply to the final dot is exit 75"
has "$T/err" "may have been delivered" "the user is told it may have arrived"
hasnt "$T/err" "stays in the outbox" "and not invited to simply try again"
start_server dad --mode starttls --auth-file "$T/auth" --fault drop-after-dot
profile "$cfg" dad "$PORT" starttls
dm send --yes --to a@x.test --subject Dropped --body B
is_rc 75 "a connection closed after the final dot is exit 75"
hasnt "$T/err" "stays in the outbox" "nor after a close"
rm -rf "$T/home/.local/share/docmail/outbox"

# --- the test's sender check is MAIL plus a RCPT to the sender itself,
# then RSET: no DATA, no message data
start_server tls --mode starttls --auth-file "$T/auth"
profile "$cfg" tls "$PORT" starttls
dm test
is_rc 0 "test passes"
has "$T/tls/log" "RCPT TO:<anna@example.test>" "its sender check ends in a RCPT to its own address"
grep -q "^RSET" "$T/tls/log"; ok $? "then RSET"
if grep -q "^DATA\|^BDAT" "$T/tls/log"; then ok 1 "no DATA or BDAT"; else ok 0 "no DATA or BDAT"; fi

# --- a refused sender: exit 69 with the address, from the test too
start_server m553 --mode starttls --auth-file "$T/auth" --fault mail-553
profile "$cfg" m553 "$PORT" starttls
dm test
is_rc 69 "test: a sender the login does not own is exit 69"
has "$T/err" "may not send as anna@example.test" "naming the address"

# --- --verbose: no 'recipients ok' after a refusal
start_server r550 --mode starttls --auth-file "$T/auth" --fault rcpt-550:bad@x.test
profile "$cfg" r550 "$PORT" starttls
dm send --yes --verbose --to bad@x.test --subject Refused --body B
is_rc 69 "a refused recipient is exit 69"
hasnt "$T/err" "recipients ok" "--verbose does not say 'recipients ok' after it"

done_testing
