#!/bin/sh
# tui-locale.sh - an SSH login without a UTF-8 locale (LANG=C, LC_ALL
# unset): the screens say so once and work in UTF-8; no line with an
# umlaut goes blank, typed umlauts are kept, and they are sent.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 6

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth"
cfg=$XDG_CONFIG_HOME/docmail/config.ini
mkdir -p "$(dirname "$cfg")"
profile "$cfg" tls "$PORT" starttls "name=Jürg Müller"
printf '\n[template invoice]\nsubject = Rechnung {{number}}\nbody = Grüezi {{contact}}\n' >>"$cfg"
mkdir -p "$T/doc"
cp "$SAMPLES/invoice-2026-001.pdf" "$T/doc/"
sed 's/^contact = .*/contact = Herr Müller/' "$SAMPLES/invoice-2026-001.pdf.ini" \
    >"$T/doc/invoice-2026-001.pdf.ini"
# As an SSH login without locale settings: LANG=C, no LC_*.
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LANG=C"

term "env -u LC_ALL -u LC_CTYPE -u LANGUAGE $envs '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
wait_for "Subject [Rechnung 2026-001"
ok $? "LANG=C: the send dialog opens"
wait_for "locale C is not UTF-8: docmail uses UTF-8"
ok $? "saying once that the locale is not UTF-8"
wait_for "Grüezi Herr Müller"
ok $? "a line with umlauts is shown, not blanked"
keys -l 'Jürg <j@x.test>'
keys F3
wait_for "Send this email to 1 recipient?"
wait_for "Jürg <j@x.test>"
ok $? "typed umlauts are kept (the preview shows them)"
keys y
wait_for "Sent." 20
ok $? "and the email is sent"
grep -q "Grüezi Herr Müller" "$T/tls/mail/0001.eml" ||
    "$PYTHON3" -c 'import email,email.policy,sys
m=email.message_from_binary_file(open(sys.argv[1],"rb"),policy=email.policy.default)
sys.exit(0 if "Grüezi Herr Müller" in m.get_body(("plain",)).get_content() and "Jürg" in str(m["To"]) else 1)' "$T/tls/mail/0001.eml"
ok $? "with the umlauts intact"
keys Enter
wait_for "EXIT="

done_testing
