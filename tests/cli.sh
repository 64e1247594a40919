#!/bin/sh
# cli.sh - the command line as a user and a script see it: options,
# "send --dry-run" output, and the contract's exit code for each failure.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 82

cfg=$T/config.ini
cat >"$cfg" <<'INI'
[profile default]
name = Anna Muster
email = anna@example.test
host = localhost
port = 587
security = starttls

[profile strict]
name = Anna Muster
email = anna@example.test
host = localhost
allow_from_override = no

[template invoice]
subject = Invoice {{number}} from {{sender.name}}
body = Dear {{customer}},\n\nplease find attached invoice {{number}}.
INI
pdf=$SAMPLES/invoice-2026-001.pdf
send() { run "$DOCMAIL" --config "$cfg" send --dry-run "$@"; }

# --- help and version
run "$DOCMAIL" --help
is_rc 0 "--help exits 0"
has "$T/out" "usage: docmail" "--help prints the usage"
run "$DOCMAIL" --version
is_rc 0 "--version exits 0"
has "$T/out" "docmail " "--version prints the name and version"
grep -q "^libESMTP [0-9].*, OpenSSL [0-9].*, ncurses [0-9].*, inih [0-9]*, json-c [0-9]" "$T/out"
ok $? "and the libraries it runs with" || diag "$(cat "$T/out")"
run "$DOCMAIL" --help
[ "$(wc -l <"$T/out")" -le 24 ] && grep -q "man docmail" "$T/out"
ok $? "--help fits 24 lines and points to the manual"
run "$DOCMAIL" --bogus
is_rc 64 "an unknown global option is a usage error"
run "$DOCMAIL" send --help
is_rc 0 "send --help exits 0"

# --- a plain message
send --to 'Beispiel GmbH <buchhaltung@beispiel.test>' --subject 'Hello' \
    --body 'Text' "$pdf"
is_rc 0 "send --dry-run with a document succeeds"
has "$T/out" "From: Anna Muster <anna@example.test>" "From is the profile's"
has "$T/out" "To: Beispiel GmbH <buchhaltung@beispiel.test>" "To header"
has "$T/out" "Content-Type: application/pdf" "the PDF is application/pdf"
has "$T/out" 'filename="invoice-2026-001.pdf"' "the file name is given"
has "$T/err" "MAIL FROM:<anna@example.test>" "envelope sender on stderr"
has "$T/err" "RCPT TO:<buchhaltung@beispiel.test>" "envelope recipient on stderr"
if LC_ALL=C grep -q "$(printf '[^\r]$')" "$T/out"; then r=1; else r=0; fi
ok $r "every line ends in CRLF"

# --- Bcc is in the envelope only
send --to a@x.test --cc c@x.test --bcc 'Secret <s@hidden.test>' \
    --subject S --body B
is_rc 0 "Bcc message composes"
has "$T/err" "RCPT TO:<s@hidden.test>" "Bcc address is an envelope recipient"
has "$T/err" "RCPT TO:<c@x.test>" "Cc address is an envelope recipient"
hasnt "$T/out" "hidden.test" "Bcc address appears nowhere in the message"
if grep -qi '^bcc:' "$T/out"; then r=1; else r=0; fi
ok $r "no Bcc header"

# --- duplicates across To, Cc and Bcc reach the envelope once
send --to 'a@x.test, a@X.TEST' --cc a@X.test --bcc 'a@x.Test' --subject S
is_rc 0 "duplicate recipients compose"
n=$(grep -c '^RCPT TO:' "$T/err")
[ "$n" -eq 1 ]; ok $? "duplicates are one envelope recipient (got $n)"

# --- templates and placeholders
send --to a@x.test --template invoice --set number=7 --set customer=Kunde
is_rc 0 "--template with --set values"
has "$T/out" "Subject: Invoice 7 from Anna Muster" "placeholders filled in the subject"
has "$T/out" "Dear Kunde," "placeholders filled in the body"
send --to a@x.test --template invoice --set number=7
is_rc 65 "an unresolved placeholder is exit 65"
has "$T/err" "{{customer}}" "the message names the placeholder"
has "$T/err" "hint:" "and says where values come from"
send --to a@x.test --template nosuch
is_rc 64 "an unknown --template is a usage error"
cp "$pdf" "$T/inv.pdf"
printf '[document]\ntemplate = invoice\nnumber = 2026-042\ncustomer = Müller AG\n' \
    >"$T/inv.pdf.ini"
send --to a@x.test "$T/inv.pdf"
is_rc 0 "the sidecar picks the template and fills the values"
has "$T/out" "Subject: Invoice 2026-042 from Anna Muster" "sidecar values in the subject"
send --to a@x.test --set number=99 "$T/inv.pdf"
has "$T/out" "Subject: Invoice 99 from Anna Muster" "--set wins over the sidecar"
printf '[document]\ntemplate = gone\n' >"$T/inv.pdf.ini"
send --to a@x.test "$T/inv.pdf"
is_rc 65 "a sidecar naming an unknown template is exit 65"

# --- header injection is refused, never written
send --to a@x.test --subject "$(printf 'Hi\r\nBcc: evil@x.test')" --body B
is_rc 65 "CR/LF in --subject is exit 65"
[ ! -s "$T/out" ]; ok $? "nothing is printed for a refused message"
send --to a@x.test --template invoice --set customer=K \
    --set "number=$(printf '1\nX-Evil: yes')"
is_rc 65 "a line break arriving through a placeholder is exit 65"
send --to "$(printf 'a@x.test\r\nX-Evil: 1')" --subject S
is_rc 65 "CR/LF in --to is exit 65"
send --to a@x.test --from "$(printf 'Eve\n <e@x.test>')" --subject S
is_rc 65 "CR/LF in --from is exit 65"

# --- bad addresses
send --to 'anna.example.test' --subject S
is_rc 65 "an address without @ is exit 65"
has "$T/err" "anna.example.test" "the message quotes the bad address"
send --to '"Müller, Hans <h@x.test>' --subject S
is_rc 65 "an unbalanced quote is exit 65"
send --to '' --subject S
is_rc 65 "an empty --to is exit 65"
send --subject S --body B
is_rc 64 "no recipient at all is a usage error"
send --to a@x.test --body B
is_rc 64 "no subject is a usage error"

# --- From override rules
send --to a@x.test --subject S --from 'Anna <anna@example.test>'
has "$T/out" "From: Anna <anna@example.test>" "--from overrides From"
has "$T/err" "MAIL FROM:<anna@example.test>" "the envelope sender stays the profile's"
send --to a@x.test --subject S --from 'Office <office@elsewhere.test>'
is_rc 0 "a From on another domain is allowed"
has "$T/err" "warning:" "but warned about (DMARC)"
has "$T/err" "MAIL FROM:<anna@example.test>" "bounces still go to the profile's address"
run "$DOCMAIL" --config "$cfg" --profile strict send --dry-run --to a@x.test \
    --subject S --from 'Office <office@elsewhere.test>'
is_rc 0 "allow_from_override = no still composes"
has "$T/out" "From: Anna Muster <anna@example.test>" "From stays the profile's"
has "$T/out" "Reply-To: Office <office@elsewhere.test>" "the given From becomes Reply-To"

# --- attachments
send --to a@x.test --subject S "$T/missing.pdf"
is_rc 66 "a missing attachment is exit 66"
has "$T/err" "missing.pdf" "the message names the file"
send --to a@x.test --subject S "$T"
is_rc 66 "a directory as attachment is exit 66"
: >"$T/empty.bin"
send --to a@x.test --subject S "$T/empty.bin"
is_rc 0 "a zero-byte attachment is fine"
has "$T/out" "Content-Type: application/octet-stream" "unknown content is octet-stream"

# --- a long directory is shortened in the middle, never the file's name
deep=$T/home/anna/Dokumente/Buchhaltung/2026/Kunden/Rechnungen-November
mkdir -p "$deep"
send --to a@x.test --subject S "$deep/invoice-2026-001.pdf"
is_rc 66 "a missing attachment in a deep directory is exit 66"
has "$T/err" "/.../" "the path loses its middle"
has "$T/err" "/Rechnungen-November/invoice-2026-001.pdf': No such file or directory" \
    "the file's name and the reason stay whole"
run "$DOCMAIL" --config "$deep/docmail-config.ini" send --dry-run --to a@x.test --subject S
is_rc 78 "a missing config file in a deep directory is exit 78"
has "$T/err" "/Rechnungen-November/docmail-config.ini': No such file or directory" \
    "its name and the reason stay whole"

# --- configuration errors are exit 78 and name the file
run "$DOCMAIL" --config "$T/nope.ini" send --dry-run --to a@x.test --subject S
is_rc 78 "a missing config file is exit 78"
has "$T/err" "nope.ini" "the message names the file"
run "$DOCMAIL" --config "$cfg" --profile nosuch send --dry-run --to a@x.test --subject S
is_rc 78 "an unknown profile is exit 78"
printf '[profile default]\nemail = a@x.test\nhots = smtp.x.test\n' >"$T/typo.ini"
run "$DOCMAIL" --config "$T/typo.ini" send --dry-run --to a@x.test --subject S
is_rc 78 "an unknown key is exit 78"
has "$T/err" "typo.ini:3" "the message names file and line"
has "$T/err" "host" "and suggests the right key"
printf '[profile default]\nemail = a@x.test\nhost = h\npassword = pw\n' >"$T/open.ini"
chmod 644 "$T/open.ini"
run "$DOCMAIL" --config "$T/open.ini" send --dry-run --to a@x.test --subject S
is_rc 78 "a password in a file others can read is exit 78"
has "$T/err" "chmod 600" "the hint gives the fix"
hasnt "$T/err" "pw" "the password is not shown"

# --- the default config path follows XDG_CONFIG_HOME
mkdir -p "$XDG_CONFIG_HOME/docmail"
cp "$cfg" "$XDG_CONFIG_HOME/docmail/config.ini"
run "$DOCMAIL" send --dry-run --to a@x.test --subject S
is_rc 0 "the config is found under XDG_CONFIG_HOME"

# --- usage errors
send --to a@x.test --subject S --body B --body-file /dev/null
is_rc 64 "--body with --body-file is a usage error"
send --to a@x.test --subject S --set novalue
is_rc 64 "--set without '=' is a usage error"
run setsid -w "$DOCMAIL" --config "$cfg" send --to a@x.test --subject S
is_rc 64 "send without --yes and without a terminal is a usage error"
printf 'Line one\nZeile zwei: Grüße\n' >"$T/body.txt"
send --to a@x.test --subject S --body-file "$T/body.txt"
is_rc 0 "--body-file reads the text"
has "$T/out" "Content-Transfer-Encoding: quoted-printable" "a UTF-8 body is quoted-printable"

# --- fixed Date and Message-ID make the output reproducible
SOURCE_DATE_EPOCH=1790000000 DOCMAIL_MESSAGE_ID=fixed.1@example.test \
    send --to a@x.test --subject S "$pdf"
cp "$T/out" "$T/first"
SOURCE_DATE_EPOCH=1790000000 DOCMAIL_MESSAGE_ID=fixed.1@example.test \
    send --to a@x.test --subject S "$pdf"
cmp -s "$T/first" "$T/out"; ok $? "the same input gives byte-identical output"
has "$T/out" "Message-ID: <fixed.1@example.test>" "DOCMAIL_MESSAGE_ID fixes the Message-ID"

# {{today}}: the message's date, in the language's format (English: ISO)
TZ=UTC SOURCE_DATE_EPOCH=1796515200 run "$DOCMAIL" --config "$cfg" send \
    --dry-run --to a@x.test --subject "Invoice of {{today}}" --body B
has "$T/out" "Subject: Invoice of 2026-12-06" "{{today}} is the message's date"
run "$DOCMAIL" --config "$cfg" send --dry-run --to a@x.test \
    --set today=tomorrow --subject "Invoice of {{today}}" --body B
has "$T/out" "Subject: Invoice of tomorrow" "a --set value stays as given"

done_testing
