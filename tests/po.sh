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
plan $((3 + 2 * $(echo $langs | wc -w) + 2 * $(echo $complete | wc -w)))

[ -s "$po/docmail.pot" ]
ok $? "po/docmail.pot is there (make update-po makes it)"

# every source with a translatable string is in POTFILES.in, or its
# strings never reach a catalogue
missing=
for f in $(cd "$top_srcdir" && ls src/*/*.c src/*/*.h include/docmail/*.h); do
	# code lines only: not comments, not the macros themselves
	grep -v -e '^[[:space:]]*\*' -e '/\*' -e '^#define' "$top_srcdir/$f" |
	    grep -q -e '_("' -e 'ngettext(' || continue
	grep -qx "$f" "$po/POTFILES.in" || missing="$missing $f"
done
[ -z "$missing" ]; ok $? "po/POTFILES.in lists every file with messages" ||
    diag "missing:$missing"

# the messages as the sources hold them now (xgettext, as make update-po
# runs it): a string wrapped since the last update-po has no
# translation, and a finished language must not miss one
(cd "$top_srcdir" && xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ \
    --keyword=ngettext:1,2 -o "$T/now.pot" $(grep -v '^#' po/POTFILES.in)) \
    2>"$T/xg.err"
ok $? "xgettext reads every file of POTFILES.in" || diag "$(head "$T/xg.err")"

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
	run msgcmp --use-untranslated "$po/$l.po" "$T/now.pot"
	ok "$rc" "$l.po: has every message the sources hold now" ||
	    diag "$(grep -m5 'this message is used but not defined' "$T/err")" \
	        "run 'make update-po' and translate what is new"
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
