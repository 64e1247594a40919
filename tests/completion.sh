#!/bin/sh
# completion.sh - the bash completion (completion/bash/docmail): sourced
# in bash, its function fills COMPREPLY for commands, options, profile
# and template names from the config, outbox IDs and documents.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

if ! command -v bash >/dev/null 2>&1; then
	echo "1..0 # SKIP bash not installed"
	exit 77
fi

plan 20

# A config with two profiles and two templates, one of them given with
# CRLF line ends, and another one for --config.
mkdir -p "$XDG_CONFIG_HOME/docmail" "$T/docs/sub"
cat >"$XDG_CONFIG_HOME/docmail/config.ini" <<'INI'
[profile default]
name = Anna Muster
email = anna@example.test
host = 127.0.0.1
port = 1
security = starttls
user = anna
password = secret
timeout = 3

[profile work]
name = Anna Muster
email = anna@work.example.test
host = 127.0.0.1
; [profile commented-out]

[template invoice]
subject = Invoice {{number}}
body = Dear customer,
    [profile not-a-profile] is a line of the text, not a section
INI
printf '[template reminder ]\r\nsubject = Reminder\r\n' \
    >>"$XDG_CONFIG_HOME/docmail/config.ini"
chmod 600 "$XDG_CONFIG_HOME/docmail/config.ini"
printf '[profile other]\n[template offer]\n' >"$T/other.ini"
: >"$T/docs/invoice-1.pdf"
: >"$T/docs/INVOICE-2.PDF"
: >"$T/docs/invoice-1.pdf.ini"
: >"$T/docs/notes.txt"

# An outbox item: a send to a closed port on loopback stays there.
(cd "$T/docs" && "$DOCMAIL_BIN" send --yes --to b@example.test \
    --subject hi invoice-1.pdf) >"$T/send.out" 2>&1
id=$("$DOCMAIL_BIN" outbox | sed -n 's/^\([^ ]*\)  [0-9].*/\1/p')
[ -n "$id" ]
ok $? "a message waits in the outbox" || diag "$(cat "$T/send.out")"
: "${id:=no-outbox-id}"

# complete WORDS...: the completions of the last word (give '' to
# complete an empty word), one per line and sorted, in $T/out.
complete_words() {
	(cd "$T/docs" && PATH=$top_builddir/src:$PATH bash --norc --noprofile \
	    -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
	    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _docmail docmail;
	    printf "%s\n" "${COMPREPLY[@]}" | sort' \
	    "$top_srcdir/completion/bash/docmail" "$@") >"$T/out" 2>"$T/err"
}

# expect WANT DESCRIPTION WORDS...: the completions are exactly WANT
# (space-separated).
expect() {
	_want=$(printf '%s\n' $1 | sort)
	_desc=$2
	shift 2
	complete_words "$@"
	if [ "$(cat "$T/out")" = "$_want" ] && [ ! -s "$T/err" ]; then
		ok 0 "$_desc"
	else
		ok 1 "$_desc"
		diag "completing: $*" "want:" "$_want" "got:" "$(cat "$T/out" "$T/err")"
	fi
}

expect "send settings sub" "the commands (and files) starting with s" \
    docmail s
expect "login logout" "the commands starting with lo" docmail lo
expect "--config --profile --help --version" "the global options" docmail -
expect "--bcc --body --body-file" "options of send starting with --b" \
    docmail send --b
expect "--retry --force --drop --yes --verbose --help" \
    "the options of outbox" docmail outbox ''
expect "--rate" "batch has --rate" docmail batch --ra
expect "default work" "profile names from the config" docmail --profile ''
expect "work" "a profile name, typed in part" docmail --profile w
expect "work" "a profile name after --profile=" docmail --profile = w
expect "other" "profile names from the file after --config" \
    docmail --config "$T/other.ini" --profile ''
expect "default work" "the profile of login" docmail login --profile ''
expect "invoice reminder" "template names (one with CRLF line ends)" \
    docmail send --template ''
expect "offer" "template names of batch from --config" \
    docmail --config "$T/other.ini" batch --template ''
expect "$id" "outbox IDs after --drop" docmail outbox --drop ''
expect "$id" "outbox IDs after --retry" docmail outbox --retry ''
expect "INVOICE-2.PDF invoice-1.pdf sub" \
    "PDF files (and directories) are offered, not other files" \
    docmail send --to a@b.test ''
expect "notes.txt" "any file when no PDF matches" docmail send n
expect "INVOICE-2.PDF invoice-1.pdf sub send batch test outbox settings login logout" \
    "after docmail alone: the commands and PDF files" docmail ''
expect "INVOICE-2.PDF invoice-1.pdf sub" "after a document: only documents" \
    docmail invoice-1.pdf ''
done_testing
