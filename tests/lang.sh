#!/bin/sh
# lang.sh - docmail in each finished language (po/COMPLETE), as a user
# over SSH gets it: LANG=xx_CH.UTF-8 on a machine where only C.UTF-8 is
# installed.  The expected texts come from the catalogue itself
# (gettext), so a message left in English or a wrong catalogue fails:
# the command line's errors and {{today}}, the settings screen at 80x24
# (every label and the key bar whole, the fields in one column), the
# document list's heads and key bar, and a send confirmed with the
# language's own yes-letter.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

langs=$(grep -v '^#' "$top_srcdir/po/COMPLETE" 2>/dev/null | tr '\n' ' ')
if [ -z "${langs% }" ]; then
	echo "1..0 # SKIP no language is listed in po/COMPLETE yet"
	exit 0
fi
for tool in tmux msgfmt gettext ngettext; do
	command -v $tool >/dev/null 2>&1 ||
	    { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done
set -- $langs
plan $(($# * 14))

loc=$T/locale
# the test's home for docmail started in tmux (which has its own env)
homes="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME'"
# tr LANG MSGID: the translation, as docmail finds it
tr_() { LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$loc gettext -d docmail -- "$2"; }
# trn LANG SINGULAR PLURAL N
trn() { LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$loc ngettext -d docmail -- "$2" "$3" "$4"; }

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth" --ehlo-profile ms365
cfg=$T/cfg.ini
profile "$cfg" tls "$PORT" starttls
printf '%s\n' '' '[template invoice]' 'subject = Invoice {{number}}' \
    'body = Dear {{contact}}' >>"$cfg"
mkdir -p "$T/doc"
doc=$T/doc/invoice-2026-001.pdf
cp "$REAL_SAMPLES/invoice-2026-001.pdf" "$REAL_SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"

for l; do
	mkdir -p "$loc/$l/LC_MESSAGES"
	msgfmt -o "$loc/$l/LC_MESSAGES/docmail.mo" "$top_srcdir/po/$l.po"
	# the user's locale, not installed here: docmail speaks it anyway
	lenv="env -u LC_ALL -u LANGUAGE LANG=${l}_CH.UTF-8 TEXTDOMAINDIR=$loc"

	# --- the command line
	run $lenv "$DOCMAIL" --config "$cfg" settings extra
	want=$(tr_ "$l" "'settings' takes no arguments")
	[ "$want" != "'settings' takes no arguments" ] &&
	    grep -qF -- "$want" "$T/err"
	ok $? "$l: a usage error is in the language, with LANG=${l}_CH.UTF-8 not installed" ||
	    diag "want '$want'" "$(cat "$T/err")"
	fmt=$(tr_ "$l" "%Y-%m-%d")
	today=$(TZ=UTC date -d @1796515200 +"$fmt")
	TZ=UTC SOURCE_DATE_EPOCH=1796515200 run $lenv "$DOCMAIL" --config "$cfg" \
	    send --dry-run --to a@x.test --subject "Rechnung vom {{today}}" --body B
	has "$T/out" "Subject: Rechnung vom $today" "$l: {{today}} is $today"

	# --- the settings screen at 80x24
	term "$lenv $homes '$DOCMAIL' --config '$cfg' settings"
	wait_for "$(tr_ "$l" "Test connection")"
	ok $? "$l: the settings screen has its Test connection button"
	screen >"$T/s.$l"
	missing=
	for label in "Sender name" "Email" "Host" "Port" "Security" \
	    "Authentication" "User name" "Password" "CA file" "Save"; do
		grep -qF -- "$(tr_ "$l" "$label")" "$T/s.$l" ||
		    missing="$missing '$(tr_ "$l" "$label")'"
	done
	[ -z "$missing" ]; ok $? "$l: every label is shown whole" ||
	    diag "missing:$missing" "$(cat "$T/s.$l")"
	# the fields' '[' in one column, and room for the widest field
	cols=$(grep -n '\[' "$T/s.$l" | head -9 | while IFS= read -r line; do
		line=${line#*:}
		pre=${line%%\[*}
		printf '%s\n' "$pre" | wc -m
	done | sort -u | wc -l)
	[ "$cols" -eq 1 ]; ok $? "$l: the fields start in one column" ||
	    diag "$(cat "$T/s.$l")"
	awk 'length($0) > 0 && /\[[^]]*$/' "$T/s.$l" >"$T/cut"
	[ ! -s "$T/cut" ]; ok $? "$l: no field runs off the 80 columns" ||
	    diag "$(cat "$T/cut")"
	bar=$(tr_ "$l" " F2/^S Save  F5/^T Test  Tab Next  Space Choose  F1 Help  Esc Back")
	grep -qF -- "$bar" "$T/s.$l"
	ok $? "$l: the key bar is whole: '$bar'"
	[ "$(printf '%s' "$bar" | wc -m)" -le 80 ]
	ok $? "$l: and fits 80 columns"
	keys Escape
	wait_for "EXIT="

	# --- the document list at 80x24: its heads and key bar whole
	term "cd '$T/doc' && $lenv $homes '$DOCMAIL' --config '$cfg'"
	wait_for "invoice-2026-001.pdf"
	head_line=$(screen | grep -F -- "$(tr_ "$l" "Customer")" | head -1)
	missing=
	for h in Document Number Customer Amount Date Sent; do
		printf '%s\n' "$head_line" | grep -qF -- "$(tr_ "$l" "$h")" ||
		    missing="$missing '$(tr_ "$l" "$h")'"
	done
	[ -n "$head_line" ] && [ -z "$missing" ]
	ok $? "$l: the list's column heads are whole" ||
	    diag "missing:$missing" "$(screen)"
	bar=$(tr_ "$l" " Enter send  Space mark  F9/b batch  / filter  o outbox  s settings  q quit")
	screen | grep -qF -- "$bar"
	ok $? "$l: the list's key bar is whole at 80 columns" || diag "$(screen)"
	keys q
	wait_for "EXIT="

	# --- sending, confirmed with the language's yes-letter
	yes=$(tr_ "$l" "y")
	[ "$yes" != y ] || [ "$l" = en ]
	ok $? "$l: its yes-letter is its own ('$yes')"
	n0=$(delivered tls)
	term "$lenv $homes '$DOCMAIL' --config '$cfg' '$doc'"
	wait_for "Invoice 2026-001"
	keys F3
	q=$(trn "$l" "Send this email to %zu recipient? (y/n)" \
	    "Send this email to %zu recipients? (y/n)" 1 | sed 's/%zu/1/')
	wait_for "$q"
	ok $? "$l: the preview asks '$q'"
	keys "$yes"
	wait_for "$(tr_ "$l" "Sent.")" 20
	ok $? "$l: '$yes' sends it, and the screen says so"
	[ "$(delivered tls)" -eq $((n0 + 1)) ]
	ok $? "$l: the server got it once"
	keys Escape
	wait_for "EXIT=" 10 || { keys Escape; keys "$yes"; wait_for "EXIT=" 10; }
done

done_testing
