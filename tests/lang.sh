#!/bin/sh
# lang.sh - docmail in each finished language (po/COMPLETE), as a user
# over SSH gets it: LANG=xx_CH.UTF-8 on a machine where only C.UTF-8 is
# installed.  The expected texts come from the catalogue itself
# (gettext), so a message left in English or a wrong catalogue fails:
# the command line's errors and {{today}}, the settings screen at 80x24
# (every label and the key bar whole, the fields in one column), the
# document list's heads and key bar, the help, the outbox, a batch (its
# table, its progress mid-run, its result lines and bar), the "Add file" prompt and its
# cursor, and a send confirmed with the language's own yes-letter (the
# preview, the result).  Every screen at 80x24: a text cut or
# overwritten by another is not found whole.
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
plan $(($# * 28))

loc=$T/locale
# the test's home for docmail started in tmux (which has its own env)
homes="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME'"
# tr LANG MSGID: the translation, as docmail finds it
tr_() { LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$loc gettext -d docmail -- "$2"; }
# trn LANG SINGULAR PLURAL N
trn() { LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$loc ngettext -d docmail -- "$2" "$3" "$4"; }
# squeeze: runs of blanks and line ends as one blank (text a screen
# wraps is found whole all the same)
squeeze() { tr -s ' \n' '  '; }
# shows LANG WHAT MSGID...: the screen captured in $T/scr shows each
# MSGID's translation whole, and not its English where the two differ
# (as a whole word, for messages of five characters or more: shorter
# English words are parts of other words too).
shows() {
	_l=$1 _what=$2
	shift 2
	_miss=
	squeeze <"$T/scr" >"$T/scr.j"
	for _m; do
		_t=$(tr_ "$_l" "$_m")
		printf '%s' "$_t" | squeeze >"$T/want"
		grep -qF -f "$T/want" "$T/scr.j" || _miss="$_miss '$_t'"
		[ "$_t" != "$_m" ] && [ ${#_m} -ge 5 ] &&
		    printf '%s' "$_m" | squeeze >"$T/want" &&
		    grep -qwF -f "$T/want" "$T/scr.j" && _miss="$_miss English:'$_m'"
	done
	[ -z "$_miss" ]; ok $? "$_l: $_what" || diag "wrong:$_miss" "$(cat "$T/scr")"
}
# po_first LANG TEXT: the first line of the translation of the message
# (of several lines) whose first line starts with TEXT
po_first() {
	awk -v s="\"$2" '
		$0 == "msgid \"\"" { m = 1; next }
		m && index($0, s) == 1 { f = 1 }
		/^msgstr/ { g = f; m = 0; next }
		g && /^"./ { print; exit }
	' "$top_srcdir/po/$1.po" | sed 's/^"//; s/\\n"$//; s/"$//'
}

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth" --ehlo-profile ms365
cfg=$T/cfg.ini
profile "$cfg" tls "$PORT" starttls
printf '%s\n' '' '[template invoice]' 'subject = Invoice {{number}}' \
    'body = Dear {{contact}}' >>"$cfg"
# The list's batch goes to a server that takes 0.3 s for each reply, so
# that the progress screen stays long enough to be read mid-run.
start_server slow --mode starttls --auth-file "$T/auth" --fault slow:300
slowcfg=$T/slow.ini
profile "$slowcfg" slow "$PORT" starttls
printf '%s\n' '' '[template invoice]' 'subject = Invoice {{number}}' \
    'body = Dear {{contact}}' >>"$slowcfg"
mkdir -p "$T/doc"
doc=$T/doc/invoice-2026-001.pdf
cp "$REAL_SAMPLES/invoice-2026-001.pdf" "$REAL_SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"
# A message waiting in the outbox, for the outbox screen: sent to a
# closed port, it stays there.
profile "$T/closed.ini" tls 1 starttls
run "$DOCMAIL" --config "$T/closed.ini" send --yes --to b@x.test \
    --subject Waiting --body B

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

	# --- the document list at 80x24: its heads and key bar whole; a
	# document of its own for each language's batch (the sent log would
	# have the earlier language's batch skip it)
	mkdir -p "$T/b-$l"
	cp "$REAL_SAMPLES/invoice-2026-001.pdf" "$T/b-$l/inv-$l.pdf"
	cp "$REAL_SAMPLES/invoice-2026-001.pdf.ini" "$T/b-$l/inv-$l.pdf.ini"
	term "cd '$T/b-$l' && $lenv $homes '$DOCMAIL' --config '$slowcfg'"
	wait_for "inv-$l.pdf"
	head_line=$(screen | grep -F -- "$(tr_ "$l" "Customer")" | head -1)
	missing=
	for h in Document Number Customer Amount Date Sent; do
		printf '%s\n' "$head_line" | grep -qF -- "$(tr_ "$l" "$h")" ||
		    missing="$missing '$(tr_ "$l" "$h")'"
	done
	[ -n "$head_line" ] && [ -z "$missing" ]
	ok $? "$l: the list's column heads are whole" ||
	    diag "missing:$missing" "$(screen)"
	lbar=$(tr_ "$l" " Enter send  Space mark  F9/b batch  / filter  o outbox  s settings  q quit")
	screen | grep -qF -- "$lbar"
	ok $? "$l: the list's key bar is whole at 80 columns" || diag "$(screen)"

	# --- the help (F1): taller than 80x24, it scrolls
	keys F1
	wait_for "$(tr_ "$l" "-- more: PgDn or Space --")"
	screen >"$T/scr"
	shows "$l" "the help's more line and key bar are whole" \
	    "-- more: PgDn or Space --" \
	    " Up/Down PgUp/PgDn Space: scroll  other keys: back"
	first=$(po_first "$l" "Documents: the PDFs in documents_dir")
	[ -n "$first" ] && squeeze <"$T/scr" | grep -qF -- "$first" &&
	    ! grep -qF "Documents: the PDFs" "$T/scr"
	ok $? "$l: the help's text is in the language: '$first'" ||
	    diag "$(cat "$T/scr")"
	keys Escape
	wait_for "$lbar"

	# --- the outbox (o), with the message waiting in it
	obar=$(tr_ "$l" " r retry  a retry all  d remove  Up/Down move  ? help  Esc back")
	keys o
	wait_for "$obar"
	screen >"$T/scr"
	shows "$l" "the outbox's heads, state and key bar are whole" \
	    Created State Subject waiting \
	    " r retry  a retry all  d remove  Up/Down move  ? help  Esc back"
	keys Escape
	wait_for "$lbar"

	# --- a batch (F9) of the selected document: the table, then the run
	yes=$(tr_ "$l" "y")
	rcpt=$(trn "$l" "%zu recipient" "%zu recipients" 1 | sed 's/%zu/1/')
	q=$(trn "$l" "Send %zu email to %s? (y/n)" "Send %zu emails to %s? (y/n)" 1 |
	    sed "s/%zu/1/; s/%s/$rcpt/")
	keys F9
	wait_for "$q" 30
	ok $? "$l: the batch asks '$q'"
	screen >"$T/scr"
	shows "$l" "the batch table's heads and key bar are whole" \
	    Document Subject Size \
	    " y Send all  n/Esc Back  Enter Show one  Up/Down PgUp/PgDn Move  F1 Help"
	keys "$yes"
	now=$(tr_ "$l" "sending message %zu of %zu" | sed 's/%zu/1/g')
	wait_for "$now" 30
	screen >"$T/scr"
	shows "$l" "the batch's progress line and key bar mid-run are whole" \
	    " Esc Stop after this message  F1 Help"
	grep -qF -- "$now" "$T/scr" && ! grep -qF "sending message" "$T/scr"
	ok $? "$l: mid-run, the batch says '$now'" || diag "$(cat "$T/scr")"
	sum=$(tr_ "$l" "batch: %zu sent, %zu kept in the outbox, %zu refused%s" |
	    sed 's/%zu/1/; s/%zu/0/; s/%zu/0/; s/%s//')
	wait_for "$sum" 30
	screen >"$T/scr"
	bar=$(tr_ "$l" "] %3d%%  %zu of %zu" | sed 's/%3d%%/100%/; s/%zu/1/g')
	grep -qF -- "$bar" "$T/scr"
	ok $? "$l: the batch's bar and summary are whole: '$bar', '$sum'" ||
	    diag "$(cat "$T/scr")"
	shows "$l" "the batch's key bar after the run is whole" \
	    " Enter/Esc Back to the list  Up/Down Show a line in full  F1 Help"
	# The result word, translated; the document after it in the column
	# the widest of the four words sets (8 at least), wherever it is.
	word=$(tr_ "$l" ok)
	col=$(for w in kept ok refused skipped; do tr_ "$l" "$w" | wc -m; done |
	    sort -n | tail -1)
	[ "$col" -ge 8 ] || col=8
	line=$(grep -F -- "inv-$l.pdf  " "$T/scr" | head -1)
	pre=${line%%inv-"$l".pdf*}
	wl=$(printf '%s' "$word" | wc -m)
	[ "$word" != ok ] && [ "${pre#??}" = "$word$(printf "%$((col + 1 - wl))s" '')" ]
	ok $? "$l: the result line starts '$word', the document at column $((col + 3))" ||
	    diag "line: '$line'" "$(cat "$T/scr")"
	keys Escape
	wait_for "$lbar"
	keys q
	wait_for "EXIT="

	# --- sending, confirmed with the language's yes-letter
	[ "$yes" != y ] || [ "$l" = en ]
	ok $? "$l: its yes-letter is its own ('$yes')"
	n0=$(delivered tls)
	term "$lenv $homes '$DOCMAIL' --config '$cfg' '$doc'"
	wait_for "Invoice 2026-001"
	# the "Add file" prompt: its label, and the cursor after the path
	label=$(tr_ "$l" "Add file: %s%ls")
	label=${label%%%s%ls}
	keys C-o
	keys -l "ab"
	wait_for "${label}ab"
	ok $? "$l: the Add file prompt is '$label'"
	x=$(tmux -L "$TMUX_SOCK" display -p '#{cursor_x}')
	w=$(printf '%s' "${label}ab" | LC_ALL=C.UTF-8 wc -m)
	[ "$x" = "$w" ]
	ok $? "$l: the cursor stands after the typed path" ||
	    diag "cursor at column $x, the text ends at $w"
	keys Escape
	wait_for "$(tr_ "$l" " F3/^P Preview  ^O Add file  Tab Next  Esc Back  F1 Help")"
	keys F3
	q=$(trn "$l" "Send this email to %zu recipient? (y/n)" \
	    "Send this email to %zu recipients? (y/n)" 1 | sed 's/%zu/1/')
	wait_for "$q"
	ok $? "$l: the preview asks '$q'"
	screen >"$T/scr"
	shows "$l" "the preview's labels and key bar are whole" \
	    "From:" "To:" "Subject:" "Attached:" \
	    " y Send  n/Esc Back to the email  Up/Down PgUp/PgDn Scroll  F1 Help"
	keys "$yes"
	wait_for "$(tr_ "$l" "Sent.")" 20
	ok $? "$l: '$yes' sends it, and the screen says so"
	screen >"$T/scr"
	shows "$l" "the result's lines and key bar are whole" \
	    "Recorded in the sent log." " Enter/Esc Done  F1 Help"
	[ "$(delivered tls)" -eq $((n0 + 1)) ]
	ok $? "$l: the server got it once"
	keys Escape
	wait_for "EXIT=" 10 || { keys Escape; keys "$yes"; wait_for "EXIT=" 10; }
done

done_testing
