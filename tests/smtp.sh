#!/bin/sh
# smtp.sh - "docmail test" and "docmail send" against real SMTP servers
# on loopback (tests/smtpd.py): TLS modes, verification, AUTH, faults,
# the outbox, and what must never leak.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 235

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
# the sample without its sidecar, which names a template these configs lack
cp "$SAMPLES/invoice-2026-001.pdf" "$T/invoice.pdf"
pdf=$T/invoice.pdf
cfg=$T/cfg.ini
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }
# no line of the server's log may be a MAIL/RCPT/AUTH command
no_cmd() {	# no_cmd SERVER VERB DESCRIPTION
	if grep -q "^$2" "$T/$1/log"; then
		ok 1 "$3"
		diag "$(grep "^$2" "$T/$1/log" | head -3)"
	else
		ok 0 "$3"
	fi
}

# --- the three security modes succeed, against real servers' EHLO
# replies (CHUNKING among them): Postfix on STARTTLS and without TLS,
# Microsoft 365 on implicit TLS
start_server tls --mode starttls --auth-file "$T/auth" --ehlo-profile postfix
tls_port=$PORT
profile "$cfg" tls "$PORT" starttls
dm test
is_rc 0 "test passes over STARTTLS"
has "$T/out" "test passed" "and says so"
has "$T/out" "TLSv1." "the TLS version is shown"
has "$T/out" "docmail test CA" "the certificate's issuer is shown"
has "$T/tls/log" "sni localhost" "the server saw SNI for the configured name"
has "$T/tls/log" "tls-at-auth yes" "AUTH happened inside TLS"
has "$T/tls/log" "RSET" "the sender check ends with RSET"
[ "$(delivered tls)" -eq 0 ]; ok $? "test sends nothing"

start_server ssl --mode ssl --auth-file "$T/auth" --ehlo-profile ms365
ssl_port=$PORT
profile "$cfg" ssl "$PORT" ssl
dm test
is_rc 0 "test passes over implicit TLS (ssl)"
has "$T/ssl/log" "sni localhost" "SNI is sent over implicit TLS too"

start_server plain --mode plain --auth-file "$T/auth" --ehlo-profile postfix
plain_port=$PORT
profile "$cfg" plain "$PORT" none
dm test
is_rc 0 "test passes without TLS to loopback (security = none)"

# IP literal: verified against the certificate's IP address, no SNI.
profile "$cfg" tls "$tls_port" starttls
sed -i 's/^host = .*/host = 127.0.0.1/' "$cfg"
: >"$T/tls/log"
dm test
is_rc 0 "an IP literal host is verified against the certificate's IP SAN"
has "$T/tls/log" "sni -" "and no SNI is sent for an IP literal"

# --- authentication failures: exit 77, the hint, nothing after AUTH
profile "$cfg" tls "$tls_port" starttls "password=wrong"
: >"$T/tls/log"
dm test
is_rc 77 "a wrong password is exit 77"
has "$T/err" "535" "the server's code is shown"
has "$T/err" "app password" "the hint names app passwords"
has "$T/err" "check the user name (often the full e-mail address) and the password" \
    "and the user name, the commonest cause after the password"
no_cmd tls "MAIL" "no MAIL after a failed AUTH"
n=$(grep -c '^AUTH' "$T/tls/log")
[ "$n" -eq 1 ]; ok $? "exactly one login attempt, not one per mechanism (got $n)"

start_server a534 --mode starttls --auth-file "$T/auth" --fault auth-534
profile "$cfg" a534 "$PORT" starttls
dm test
is_rc 77 "534 5.7.9 is exit 77"
has "$T/err" "application-specific password" "with the app-password hint"
start_server a139 --mode starttls --auth-file "$T/auth" --fault auth-139
profile "$cfg" a139 "$PORT" starttls
dm test
is_rc 77 "535 5.7.139 is exit 77"
has "$T/err" "switched off" "with the SMTP-AUTH-disabled hint"
start_server noauth --mode starttls --auth-file "$T/auth" --fault no-auth
profile "$cfg" noauth "$PORT" starttls
dm test
is_rc 77 "credentials but no AUTH offered is exit 77"
no_cmd noauth "MAIL" "and MAIL is not sent"

long=$(printf '%0300d' 0)
profile "$cfg" tls "$tls_port" starttls "password=$long"
: >"$T/tls/log"
dm test
is_rc 78 "a password over 255 bytes is refused before connecting"
[ ! -s "$T/tls/log" ]; ok $? "the server saw no connection"

# --- certificates: exit 77 with the reason, no credentials sent
for c in wrongname selfsigned expired untrusted; do
	start_server "cert-$c" --mode starttls --auth-file "$T/auth" --cert "$c"
	profile "$cfg" "cert-$c" "$PORT" starttls
	dm test
	is_rc 77 "certificate '$c' is rejected with exit 77"
	no_cmd "cert-$c" "AUTH" "no credentials were sent to the '$c' server"
	eval "err_$c=\$(cat \"\$T/err\")"
done
echo "$err_wrongname" | grep -q "other names: DNS:wrong.example.test"
ok $? "a name mismatch lists the certificate's names"
echo "$err_selfsigned" | grep -q "self-signed"
ok $? "a self-signed certificate is named so"
echo "$err_selfsigned" | grep -q "tls_fingerprint = sha256:"
ok $? "with the fingerprint to pin it"
echo "$err_expired" | grep -q "expired on"
ok $? "an expired certificate gives its date"
echo "$err_untrusted" | grep -q "unknown authority"
ok $? "an unknown issuer is named so"
# ca_file is what made "good" work: without it the test CA is unknown.
profile "$cfg" tls "$tls_port" starttls "ca_file="
dm test
is_rc 77 "without ca_file the test CA is not trusted"
# SSL_CERT_FILE (set by some systems and containers) is honoured, but
# parsed only when the hash directory has no anchor for the chain.
cat "$T/cert-wrongname/ca.pem" "$T/tls/ca.pem" >"$T/bundle-with.pem"
cp "$T/cert-wrongname/ca.pem" "$T/bundle-without.pem"
echo "no certificate here" >"$T/bundle-none.pem"
mkdir "$T/hashdir"
cp "$T/tls/ca.pem" "$T/hashdir/test-ca.pem"
openssl rehash "$T/hashdir" 2>/dev/null ||
    ln -s test-ca.pem "$T/hashdir/$(openssl x509 -hash -noout -in "$T/tls/ca.pem").0"
run env SSL_CERT_FILE="$T/bundle-with.pem" "$DOCMAIL" --config "$cfg" test
is_rc 0 "SSL_CERT_FILE holding the test CA: the server is trusted"
run env SSL_CERT_FILE="$T/bundle-without.pem" "$DOCMAIL" --config "$cfg" test
is_rc 77 "SSL_CERT_FILE without it: verification still fails"
has "$T/err" "unknown authority" "... as an unknown issuer"
run env SSL_CERT_FILE="$T/missing.pem" "$DOCMAIL" --config "$cfg" test
is_rc 77 "SSL_CERT_FILE naming no file: not trusted"
run env SSL_CERT_DIR="$T/hashdir" SSL_CERT_FILE="$T/bundle-none.pem" \
    "$DOCMAIL" --config "$cfg" test
is_rc 0 "the hash directory answers first: the bundle is not even parsed"
run env SSL_CERT_DIR="$T/hashdir" SSL_CERT_FILE="$T/bundle-without.pem" \
    "$DOCMAIL" --config "$cfg" test
is_rc 0 "the hash directory and a bundle without the CA: trusted"
run env SSL_CERT_DIR="$T/bundle-none.pem" SSL_CERT_FILE="$T/bundle-with.pem" \
    "$DOCMAIL" --config "$cfg" test
is_rc 0 "no hash directory: the bundle is loaded as before"
# A pin trusts exactly that certificate.
fp=$(cat "$T/cert-selfsigned/fingerprint")
profile "$cfg" cert-selfsigned "$(cat "$T/cert-selfsigned/port")" starttls \
    "tls_fingerprint=$fp"
dm test
is_rc 0 "a pinned self-signed certificate is accepted"
profile "$cfg" tls "$tls_port" starttls \
    "tls_fingerprint=sha256:$(echo "$fp" | cut -d: -f2- | tr 'A-F0-9' '0-9A-F')"
dm test
is_rc 77 "a valid chain with another fingerprint is rejected"
has "$T/err" "does not match tls_fingerprint" "saying the pin does not match"

# --- STARTTLS: required, never skipped
start_server nostls --mode starttls --auth-file "$T/auth" --fault no-starttls
profile "$cfg" nostls "$PORT" starttls
dm test
is_rc 77 "a server without STARTTLS is refused (exit 77)"
has "$T/err" "does not offer STARTTLS" "saying so"
no_cmd nostls "AUTH" "no AUTH in clear"
no_cmd nostls "MAIL" "no MAIL in clear"
start_server s454 --mode starttls --auth-file "$T/auth" --fault starttls-454
profile "$cfg" s454 "$PORT" starttls
dm test
is_rc 75 "STARTTLS answered with 454 is a temporary failure"
no_cmd s454 "AUTH" "and nothing follows in clear"
# "250- STARTTLS": a blank after the dash still offers STARTTLS.
start_server ehloblank --mode starttls --auth-file "$T/auth" --fault ehlo-blank
profile "$cfg" ehloblank "$PORT" starttls
dm test
is_rc 0 "'250- STARTTLS' with a blank is recognised"

# --- wrong security for the port, both ways
profile "$cfg" tls "$tls_port" ssl
dm test
is_rc 78 "ssl against a STARTTLS port is a configuration error"
has "$T/err" "port 465 uses security = ssl, 587 uses starttls" "with the port hint"
profile "$cfg" ssl "$ssl_port" starttls
dm test
is_rc 78 "starttls against an implicit-TLS port is a configuration error"
has "$T/err" "expects TLS from the first byte" "recognised, not a bare timeout"
has "$T/err" "port 465 uses security = ssl, 587 uses starttls" "with the port hint"

# --- connection faults
profile "$cfg" tls 1 starttls
dm test
is_rc 75 "connection refused is exit 75"
has "$T/err" "check host and port" "with the host/port hint"
start_server g421 --mode starttls --fault greeting-421
profile "$cfg" g421 "$PORT" starttls
dm test
is_rc 75 "a 421 greeting is exit 75"
has "$T/err" "421" "showing the server's reply"
start_server garbage --mode starttls --fault garbage
profile "$cfg" garbage "$PORT" starttls
dm test
is_rc 76 "a server that speaks no SMTP is exit 76"
start_server silent --mode starttls --fault no-greeting
profile "$cfg" silent "$PORT" starttls "timeout=2"
t0=$(date +%s)
dm test
t1=$(date +%s)
is_rc 75 "no greeting is a timeout, exit 75"
[ $((t1 - t0)) -lt 10 ]; ok $? "and ends after the timeout, not later ($((t1 - t0)) s)"
# a server that takes its time (2 s to greet) is waited for
for m in plain:ms365 ssl:postfix; do
	p=${m#*:} m=${m%:*}
	start_server "slow$m" --mode "$m" --auth-file "$T/auth" --fault delay-greeting:2 \
	    --ehlo-profile "$p"
	profile "$cfg" "slow$m" "$PORT" "$([ $m = plain ] && echo none || echo ssl)"
	dm send --yes --to k@x.test --subject Slow --body B
	is_rc 0 "a greeting 2 s late is waited for ($m, $p)"
	by_data "slow$m" 1 "sent by DATA, never BDAT, stored once ($m, $p)"
done
rm -rf "$T/home/.local/share/docmail/outbox"
start_server trickle --mode starttls --fault trickle
profile "$cfg" trickle "$PORT" starttls "timeout=2"
t0=$(date +%s)
dm test
t1=$(date +%s)
is_rc 75 "a greeting trickling one byte a second times out, exit 75"
[ $((t1 - t0)) -lt 8 ]; ok $? "the timeout bounds the whole reply, not each byte ($((t1 - t0)) s)"
start_server s553 --mode starttls --auth-file "$T/auth" --fault mail-553
profile "$cfg" s553 "$PORT" starttls
dm test
is_rc 69 "a refused sender is exit 69"
has "$T/err" "refused the sender" "named as the sender check"

# --- the transcript hides credentials
profile "$cfg" tls "$tls_port" starttls
dm test --verbose
is_rc 0 "test --verbose passes"
has "$T/err" "AUTH PLAIN [redacted]" "the transcript shows AUTH redacted"
b64=$(printf '\0anna\0%s' "$PASSWORD" | base64)
if grep -qF -e "$PASSWORD" -e "$b64" "$T/out" "$T/err"; then r=1; else r=0; fi
ok $r "neither the password nor its base64 appears in the output"

# --- sending
export SOURCE_DATE_EPOCH=1790000000
profile "$cfg" tls "$tls_port" starttls
DOCMAIL_MESSAGE_ID=m1@example.test dm send --dry-run --to 'Kunde <k@x.test>' \
    --cc c@x.test --bcc 'Hidden <h@hidden.test>' --subject 'Rechnung für Sie' \
    --body "$(printf 'Text\n.\n..\nend')" "$pdf"
cp "$T/out" "$T/dry.eml"
DOCMAIL_MESSAGE_ID=m1@example.test dm send --yes --to 'Kunde <k@x.test>' \
    --cc c@x.test --bcc 'Hidden <h@hidden.test>' --subject 'Rechnung für Sie' \
    --body "$(printf 'Text\n.\n..\nend')" "$pdf"
is_rc 0 "send --yes over STARTTLS succeeds"
has "$T/out" "queued as" "the server's receipt (queue id) is shown"
has "$T/out" "ok       h@hidden.test" "each recipient is reported"
[ "$(delivered tls)" -eq 1 ]; ok $? "the server received one message"
eml=$(ls "$T/tls/mail/"*.eml | head -1)
cmp -s "$eml" "$T/dry.eml"; ok $? "the received bytes equal the dry-run output (dot-stuffing undone exactly)"
json=$(ls "$T/tls/mail/"*.json | head -1)
has "$json" '"h@hidden.test"' "Bcc is an envelope recipient"
hasnt "$eml" "hidden.test" "and appears nowhere in the message"
has "$json" '"mail_from": "anna@example.test"' "the envelope sender is the profile's"
has "$T/home/.local/state/docmail/sent.log" "m1@example.test" "the sent log has the message"
[ -z "$(ls "$T/home/.local/share/docmail/outbox/new/")" ]; ok $? "the outbox is empty after success"
by_data tls 1 "the message went by DATA, never BDAT (Postfix offers CHUNKING)"

# --- servers that advertise CHUNKING (all real ones but OpenSMTPD):
# docmail sends by DATA, says it sent, keeps nothing in the outbox and
# never sends twice.  libESMTP used BDAT with such servers, which the
# relay did not model: the message arrived, docmail reported failure
# (exit 75), kept it, and each "outbox --retry" delivered it again.
for p in ms365 postfix gmail exim; do
	s=chunk-$p
	if [ $p = gmail ]; then
		start_server "$s" --mode ssl --auth-file "$T/auth" --ehlo-profile $p
		profile "$cfg" "$s" "$PORT" ssl
	else
		start_server "$s" --mode starttls --auth-file "$T/auth" --ehlo-profile $p
		profile "$cfg" "$s" "$PORT" starttls
	fi
	DOCMAIL_MESSAGE_ID=m1@example.test dm send --yes --to 'Kunde <k@x.test>' \
	    --cc c@x.test --bcc 'Hidden <h@hidden.test>' --subject 'Rechnung für Sie' \
	    --body "$(printf 'Text\n.\n..\nend')" "$pdf"
	is_rc 0 "$p (CHUNKING offered): send exits 0"
	by_data "$s" 1 "$p: the message went by DATA, never BDAT, and arrived once"
	cmp -s "$T/$s/mail/0001.eml" "$T/dry.eml"
	ok $? "$p: the received bytes equal the dry-run output"
	dm outbox
	has "$T/out" "empty" "$p: the outbox is empty afterwards"
	dm outbox --retry
	[ "$(delivered "$s")" -eq 1 ]; ok $? "$p: outbox --retry sends nothing ($(delivered "$s") stored)"
	rm -rf "$T/home/.local/share/docmail/outbox"
done

# --- "docmail test" against each real server's EHLO: it logs in and
# checks the sender, and sends no message: no DATA, no BDAT, no data
for p in ms365 gmail postfix exim opensmtpd; do
	s=test-$p
	start_server "$s" --mode starttls --auth-file "$T/auth" --ehlo-profile $p
	profile "$cfg" "$s" "$PORT" starttls
	dm test
	is_rc 0 "$p: test passes"
	# every line of the log is a reply, an event of the server's, or one
	# of these commands
	grep -v -E -e '^[0-9]{3}[ -]' -e '^(connect|disconnect|\[redacted\])$' \
	    -e '^(sni|tls|tls-at-auth|auth-ok) ' \
	    -e '^(EHLO|STARTTLS|AUTH|MAIL|RCPT|RSET|QUIT)( |$)' "$T/$s/log" >"$T/other"
	[ ! -s "$T/other" ] && grep -q '^MAIL FROM:' "$T/$s/log"
	ok $? "$p: the server saw only EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT: no DATA, BDAT or message data" ||
	    diag "$(head -5 "$T/other")"
	[ "$(delivered "$s")" -eq 0 ]; ok $? "$p: test stored nothing"
done

# implicit TLS and plain as well
profile "$cfg" ssl "$ssl_port" ssl
dm send --yes --to k@x.test --subject S --body B
is_rc 0 "send over implicit TLS"
by_data ssl 1 "by DATA, never BDAT, stored once (ms365, implicit TLS)"
profile "$cfg" plain "$plain_port" none
dm send --yes --to k@x.test --subject S --body B
is_rc 0 "send without TLS to loopback"
by_data plain 1 "by DATA, never BDAT, stored once (postfix, no TLS)"

# sent_maildir keeps a copy with the Bcc line
profile "$cfg" tls "$tls_port" starttls "sent_maildir=$T/Sent"
dm send --yes --to k@x.test --bcc b@x.test --subject Copy --body B
is_rc 0 "send with sent_maildir"
copy=$(ls "$T/Sent/new/"* 2>/dev/null | head -1)
[ -n "$copy" ] && grep -q '^Bcc: b@x.test' "$copy"
ok $? "the sent copy holds the Bcc line"

# one of three recipients refused
start_server r550 --mode starttls --auth-file "$T/auth" --fault rcpt-550:bad@x.test \
    --ehlo-profile ms365
profile "$cfg" r550 "$PORT" starttls
dm send --yes --to 'a@x.test, bad@x.test' --cc c@x.test --subject S --body B
is_rc 69 "a refused recipient makes the exit status 69"
has "$T/out" "refused  bad@x.test: 550" "the refused recipient is reported with the reply"
has "$T/out" "ok       a@x.test" "the others are reported ok"
[ "$(delivered r550)" -eq 1 ]; ok $? "the others received it"
has "$(ls "$T/r550/mail/"*.json)" '"c@x.test"' "including the Cc recipient"
by_data r550 1 "by DATA, never BDAT (ms365)"
dm outbox
has "$T/out" "bad@x.test" "the outbox keeps the message for the refused recipient only"
hasnt "$T/out" "a@x.test," "not for those who got it"
has "$T/out" "refused, 1 attempt" "kept as refused: 550 is for good"
id=$(awk 'NR == 1 { print $1 }' "$T/out")
profile "$cfg" tls "$tls_port" starttls
before=$(delivered tls)
dm outbox --retry --force "$id"
is_rc 0 "the retry (now to a server that takes bad@x.test) succeeds"
json=$(ls -t "$T/tls/mail/"*.json | head -1)
[ "$(delivered tls)" -eq $((before + 1)) ] && [ "$(rcpts "$json")" = bad@x.test ]
ok $? "and goes only to the recipient that did not get it"
by_data tls $((before + 1)) "the retry went by DATA, never BDAT (postfix)"

# --- faults in the data phase, against each of $DATA_PROFILES (real
# servers' EHLO replies, CHUNKING among them): every one of these must
# go by DATA, never BDAT.  Retries go to a well-behaved server of the
# same profile, good-PROFILE.
head -c 3000000 /dev/urandom >"$T/big.bin"
for p in $DATA_PROFILES; do
start_server "good-$p" --mode starttls --auth-file "$T/auth" --ehlo-profile $p
good_port=$PORT

# 451 after the data: kept, retried exactly once
rm -rf "$T/home/.local/share/docmail/outbox"
start_server "d451-$p" --mode starttls --auth-file "$T/auth" --fault data-451 \
    --ehlo-profile $p
profile "$cfg" "d451-$p" "$PORT" starttls
dm send --yes --to a@x.test --subject Retry --body B "$pdf"
is_rc 75 "$p: 451 after the data is exit 75"
has "$T/err" "kept in the outbox" "$p: the message says where it is"
by_data "d451-$p" 0 "$p: the refused message went by DATA, never BDAT"
dm outbox
is_rc 0 "$p: outbox lists"
has "$T/out" "Retry" "$p: the waiting message is listed with its subject"
has "$T/out" "451" "$p: and its last error"
profile "$cfg" "good-$p" "$good_port" starttls
before=$(delivered "good-$p")
dm outbox --retry
is_rc 0 "$p: outbox --retry sends it"
[ "$(delivered "good-$p")" -eq $((before + 1)) ]; ok $? "$p: delivered exactly once"
dm outbox --retry
[ "$(delivered "good-$p")" -eq $((before + 1)) ]; ok $? "$p: a second retry sends nothing"
has "$T/out" "empty" "$p: the outbox is empty"
by_data "good-$p" $((before + 1)) "$p: the retry went by DATA, never BDAT"

# two retries at once: the message goes out once
profile "$cfg" "d451-$p" "$(cat "$T/d451-$p/port")" starttls
dm send --yes --to a@x.test --subject Twice --body B
is_rc 75 "$p: another message waits after a 451"
start_server "slowgood-$p" --mode starttls --auth-file "$T/auth" \
    --fault delay-greeting:2 --ehlo-profile $p
profile "$cfg" "slowgood-$p" "$PORT" starttls
"$DOCMAIL" --config "$cfg" outbox --retry >"$T/r1.out" 2>"$T/r1.err" &
p1=$!
"$DOCMAIL" --config "$cfg" outbox --retry >"$T/r2.out" 2>"$T/r2.err" &
p2=$!
wait $p1 $p2
[ "$(delivered "slowgood-$p")" -eq 1 ]; ok $? "$p: two concurrent retries deliver it exactly once ($(delivered "slowgood-$p"))"
cat "$T/r1.err" "$T/r2.err" >"$T/err"
has "$T/err" "being sent by another docmail" "$p: the second says another docmail is sending it"
by_data "slowgood-$p" 1 "$p: by DATA, never BDAT"
rm -rf "$T/home/.local/share/docmail/outbox"

# dropped mid-data: surely not delivered (a large message, so that the
# final dot cannot have left docmail before the server hung up)
start_server "drop-$p" --mode starttls --auth-file "$T/auth" --fault drop-mid-data \
    --ehlo-profile $p
profile "$cfg" "drop-$p" "$PORT" starttls
dm send --yes --to a@x.test --subject Dropped --body B "$T/big.bin"
is_rc 75 "$p: a connection dropped during the data is exit 75"
by_data "drop-$p" 0 "$p: it was dropped during DATA, not BDAT"
dm outbox
has "$T/out" "waiting" "$p: the item is waiting, not 'may have been delivered'"
rm -rf "$T/home/.local/share/docmail/outbox"

# no reply after the final dot: may have been delivered
start_server "sad-$p" --mode starttls --auth-file "$T/auth" --fault silent-after-dot \
    --ehlo-profile $p
profile "$cfg" "sad-$p" "$PORT" starttls "timeout=2"
dm send --yes --to a@x.test --subject Maybe --body B
is_rc 75 "$p: no reply to the final dot is exit 75"
has "$T/err" "may have been delivered" "$p: the user is told it may have arrived"
by_data "sad-$p" 0 "$p: the unanswered message went by DATA, never BDAT"
profile "$cfg" "good-$p" "$good_port" starttls
before=$(delivered "good-$p")
run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
is_rc 75 "$p: retry without a terminal skips it"
[ "$(delivered "good-$p")" -eq "$before" ]; ok $? "$p: and does not send it again"
dm outbox --retry --force
is_rc 0 "$p: --force sends it"
[ "$(delivered "good-$p")" -eq $((before + 1)) ]; ok $? "$p: once"
by_data "good-$p" $((before + 1)) "$p: by DATA, never BDAT"

# killed (SIGKILL) after the final dot, before the answer: the outbox
# must already say "may have been delivered", never "waiting"
rm -rf "$T/home/.local/share/docmail/outbox"
profile "$cfg" "sad-$p" "$(cat "$T/sad-$p/port")" starttls "timeout=20"
dots=$(grep -c "silent-after-dot" "$T/sad-$p/log")
"$DOCMAIL" --config "$cfg" send --yes --to a@x.test --subject Killed \
    --body B >/dev/null 2>&1 &
pid=$!
n=0
while [ "$(grep -c "silent-after-dot" "$T/sad-$p/log")" -le "$dots" ] &&
    [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
dm outbox
has "$T/out" "Killed" "$p: a send killed after the dot leaves the message in the outbox"
has "$T/out" "may have been delivered" "$p: marked as maybe delivered, so no blind resend"
by_data "sad-$p" 0 "$p: the killed send's message went by DATA, never BDAT"
rm -rf "$T/home/.local/share/docmail/outbox"

# SIZE: refused before the upload
start_server "small-$p" --mode starttls --auth-file "$T/auth" --size 1000 \
    --ehlo-profile $p
profile "$cfg" "small-$p" "$PORT" starttls
dm send --yes --to a@x.test --subject Big --body B "$pdf"
is_rc 69 "$p: a message over the server's SIZE is exit 69"
has "$T/err" "at most 1000" "$p: naming the limit"
no_cmd "small-$p" "DATA" "$p: nothing was uploaded"
no_cmd "small-$p" "BDAT" "$p: not by BDAT either"
rm -rf "$T/home/.local/share/docmail/outbox"

# a server that stops reading: the watchdog ends it
start_server "stall-$p" --mode starttls --auth-file "$T/auth" --fault stall-data \
    --ehlo-profile $p
profile "$cfg" "stall-$p" "$PORT" starttls "timeout=2"
t0=$(date +%s)
dm send --yes --to a@x.test --subject Stall --body B "$T/big.bin"
t1=$(date +%s)
is_rc 75 "$p: a stalled upload is exit 75"
[ $((t1 - t0)) -lt 15 ]; ok $? "$p: ended by the watchdog ($((t1 - t0)) s), not hanging"
by_data "stall-$p" 0 "$p: the stalled upload was by DATA, never BDAT"
rm -rf "$T/home/.local/share/docmail/outbox"
done

# confirmation
run setsid -w "$DOCMAIL" --config "$cfg" send --to a@x.test --subject S --body B
is_rc 64 "send without --yes and without a terminal refuses"

# From on another domain is warned about
profile "$cfg" tls "$tls_port" starttls
dm send --yes --to a@x.test --from 'Office <office@other.test>' --subject S --body B
is_rc 0 "send with a foreign From"
has "$T/err" "DMARC" "warns about DMARC"
json=$(ls -t "$T/tls/mail/"*.json | head -1)
has "$json" '"mail_from": "anna@example.test"' "bounces still go to the profile's address"

# Ctrl-C while sending: nothing delivered, the message stays waiting
start_server slowint --mode starttls --auth-file "$T/auth" --fault trickle
profile "$cfg" slowint "$PORT" starttls "timeout=20"
"$DOCMAIL" --config "$cfg" send --yes --to a@x.test --subject Interrupted \
    --body B >"$T/int.out" 2>"$T/int.err" &
pid=$!
# in the session (the greeting trickles in for seconds): a signal before
# docmail set its handler would be ignored, as sh starts & jobs so
wait_log slowint "^connect$"
sleep 0.5
kill -INT $pid
rc=0
wait $pid || rc=$?
cp "$T/int.err" "$T/err"
is_rc 75 "Ctrl-C while sending is exit 75"
has "$T/err" "cancelled by the user" "saying it was cancelled"
hasnt "$T/err" "hint:" "with no hint blaming host or port"
dm outbox
has "$T/out" "Interrupted" "the message is in the outbox"
has "$T/out" "waiting" "as surely not delivered"
rm -rf "$T/home/.local/share/docmail/outbox"

# 530 "must issue STARTTLS first": the hint says to use TLS
profile "$cfg" tls "$tls_port" none "user=" "password="
dm send --yes --to a@x.test --subject S --body B
is_rc 77 "530 5.7.0 at MAIL is exit 77"
has "$T/err" "encryption first" "with the hint to use starttls or ssl"
rm -rf "$T/home/.local/share/docmail/outbox"

# IPv6 loopback, verified against the certificate's ::1
start_server v6 --host ::1 --mode ssl --auth-file "$T/auth"
profile "$cfg" v6 "$PORT" ssl "host=::1"
dm test
is_rc 0 "a server on ::1 is reached and verified"

# the password is in no file but the config, and not in the process
start_server slow --mode starttls --auth-file "$T/auth" --fault trickle
profile "$cfg" slow "$PORT" starttls "timeout=10"
"$DOCMAIL" --config "$cfg" send --yes --to a@x.test --subject S --body B \
    >"$T/slow.out" 2>&1 &
pid=$!
wait_log slow "^connect$"
leak=0
for p in $pid $(pgrep -P $pid); do
	for f in cmdline environ; do
		if tr '\0' '\n' <"/proc/$p/$f" 2>/dev/null | grep -qF "$PASSWORD"; then
			leak=1
		fi
	done
done
ok $leak "the password is not in /proc/PID/cmdline or environ while sending"
# libESMTP's plaintext side is a socketpair: no port another user could reach
if ss -ltnpH 2>/dev/null | grep -q "pid=$pid,"; then r=1; else r=0; fi
ok $r "docmail listens on no TCP port while sending"
kill $pid 2>/dev/null
wait $pid 2>/dev/null

# No core dump can hold the password: the core size limit is 0 and the
# process is not dumpable, which also covers a core_pattern pipe (that
# ignores the limit).  Not dumpable shows as /proc/PID owned by root, so
# as root the program runs as nobody from a copy in a directory of its own.
nb=$(mktemp -d "${TMPDIR:-/tmp}/docmail-nobody.XXXXXX")
cp "$DOCMAIL_BIN" "$nb/docmail"
cp "$T/slow/ca.pem" "$nb/ca.pem"
profile "$nb/c.ini" slow "$PORT" starttls "timeout=10" "ca_file=$nb/ca.pem"
chmod 755 "$nb"
asuser=
if [ "$(id -u)" -eq 0 ]; then
	chown -R 65534:65534 "$nb"
	asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
HOME=$nb $asuser "$nb/docmail" --config "$nb/c.ini" test >/dev/null 2>&1 &
pid=$!
wait_log slow "^connect$" 2 && sleep 0.5
owner=$(stat -c %u "/proc/$pid/environ" 2>/dev/null)
core=$(awk '/^Max core file size/ { print $5 $6 }' "/proc/$pid/limits")
kill $pid 2>/dev/null
wait $pid 2>/dev/null
rm -rf "$nb"
[ "$owner" = 0 ] && [ "$(id -u)" -ne 0 -o -n "$asuser" ]
ok $? "docmail is not dumpable: no core, no ptrace, /proc/PID/environ private" ||
    diag "/proc/$pid/environ owned by uid '$owner'"
[ "$core" = 00 ]
ok $? "and its core size limit is 0" || diag "core limit '$core'"

# ...nor in any file docmail wrote (outbox, sent log, sent copies) or any
# output a test kept, in clear or base64 as AUTH PLAIN and LOGIN send it
b64=$(printf '\0anna\0%s' "$PASSWORD" | base64)
b64l=$(printf '%s' "$PASSWORD" | base64)
ls "$HOME/.local/share/docmail/outbox/new/"*.docmail >/dev/null 2>&1 &&
    [ -s "$HOME/.local/state/docmail/sent.log" ]
ok $? "the search below covers an outbox item and the sent log"
if grep -rlF -e "$PASSWORD" -e "$b64" -e "$b64l" "$T" 2>/dev/null |
    grep -v -e '\.ini$' -e "$T/auth$" -e "$T/[a-z0-9-]*/log$" >"$T/leaks"; then
	ok 1 "the password is in no file but the config"
	diag "$(cat "$T/leaks")"
else
	ok 0 "the password is in no file but the config"
fi

done_testing
