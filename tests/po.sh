#!/bin/sh
# po.sh - the translations: every po/*.po named in po/LINGUAS compiles
# with msgfmt --check (header, plural forms, and printf-style arguments
# that agree with the English), and a language listed in po/COMPLETE
# has every message translated and none fuzzy.  Until a translator
# declares a language complete there, its empty messages show English.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

po=$top_srcdir/po
if ! command -v msgfmt >/dev/null 2>&1 ||
    ! command -v msgattrib >/dev/null 2>&1; then
	echo "1..0 # SKIP msgfmt and msgattrib are missing (Debian: gettext)"
	exit 77
fi

langs=$(sed 's/#.*//' "$po/LINGUAS")
complete=$(sed 's/#.*//' "$po/COMPLETE")
plan $((1 + 2 * $(echo $langs | wc -w) + $(echo $complete | wc -w)))

[ -s "$po/docmail.pot" ]
ok $? "po/docmail.pot is there (make update-po makes it)"

for l in $complete; do
	case " $(echo $langs) " in
	*" $l "*) ok 0 "po/COMPLETE: $l is in po/LINGUAS" ;;
	*) ok 1 "po/COMPLETE: $l is in po/LINGUAS" ;;
	esac
done

for l in $langs; do
	run msgfmt --check --check-format -o /dev/null "$po/$l.po"
	ok "$rc" "$l.po: msgfmt --check --check-format"
	[ "$rc" -eq 0 ] || diag "$(head -c 2000 "$T/err")"

	case " $(echo $complete) " in
	*" $l "*) ;;
	*)
		# Not a TAP skip: CI counts skips as missing tools.
		ok 0 "$l.po: not in po/COMPLETE, completeness not checked yet"
		continue ;;
	esac
	# Untranslated and fuzzy messages, the header aside.
	msgattrib --untranslated --no-obsolete "$po/$l.po" |
	    grep -c '^msgid ' >"$T/untr" || true
	msgattrib --only-fuzzy --no-obsolete "$po/$l.po" |
	    grep -c '^msgid ' >"$T/fuzzy" || true
	n=$(( $(cat "$T/untr") + $(cat "$T/fuzzy") ))
	# msgattrib keeps the header entry (msgid "") in its output.
	[ "$(cat "$T/untr")" -le 1 ] && [ "$(cat "$T/fuzzy")" -le 1 ]
	ok $? "$l.po: every message translated, none fuzzy"
	[ "$n" -le 2 ] || diag "$( (msgattrib --untranslated --no-obsolete \
	    "$po/$l.po"; msgattrib --only-fuzzy --no-obsolete "$po/$l.po") |
	    grep '^msgid ' | head -20)"
done
done_testing
