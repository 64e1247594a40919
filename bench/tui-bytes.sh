#!/bin/bash
# tui-bytes.sh - how many bytes does the TUI cost over SSH?
#
# Issue 5, "Cheap over SSH": counts the bytes written to an 80x24
# terminal (TERM=xterm-256color, UTF-8) for
#  (a) the first screen: everything written from the start until the
#      output has been quiet for 300 ms, and
#  (b) typing 50 characters into a field, one every 20 ms: everything
#      written from the first typed character until quiet again,
# for docmail's settings screen, docmail's send dialog, mutt's compose
# screen and dialog --form, each RUNS times (the median is shown); and
# (b) once more for a long value, 200 characters into docmail's Sender
# name, which scrolls it sideways six times (issue 12: a long value
# scrolls by half a field, under 3 bytes a character).
# bench/ptyrec.py is the pty recorder; see there for the phases.
#
# What is typed where:
#  - docmail settings: "docmail --config NEW.ini settings" (a config
#    that does not exist yet), into the first field, Sender name
#    (52 columns wide); left with Esc, then d(iscard).  The long value:
#    the same, with the 50 characters four times over.
#  - docmail send: "docmail --config CFG FILE.pdf" with a minimal
#    profile and a small PDF, into To, which has the focus first
#    (40 columns wide); left with Esc, then y (discard).
#  - mutt: "mutt -F /dev/null -n" with editor=true, autoedit and
#    edit_headers, given -s, -a and a recipient, goes straight to its
#    compose menu; (a) is everything until that menu is drawn (the
#    start, the no-op editor's leaving and re-entering curses, then the
#    menu).  mutt's compose menu has no fields to type in: "t" opens
#    its line editor on the last line ("To: a@example.test") and Ctrl-U
#    empties it -- neither counted -- and (b) is the 50 characters typed
#    into that empty "To: " prompt (76 columns, so it never scrolls).
#    Left with Ctrl-G, then q (postpone=no: discarded).
#  - dialog: "dialog --form" with five fields (Sender name, Email,
#    Host, Port, User name; 40 columns, up to 100 characters), into
#    the first; left with Esc.
# A 50-character text does not fit in a 36- or 40-column field, so in
# docmail and dialog the last characters scroll the field sideways; the
# "first 30" column is the cost per character of the first 30
# characters alone (read until quiet before the 31st), which fit.
#
# A measurement, not a test: it never fails on numbers.  It does check
# that each program was still running after the typing and, on a
# replay of the recorded bytes in tmux (80x24), that the first screen is
# the one meant and that the typed text is on the screen afterwards, so
# that a program that ignored the keys never reads as cheap; rows that
# fail a check are marked.  dialog and mutt are installed with apt-get
# as root, else skipped.        usage: bench/tui-bytes.sh [BUILDDIR] [RUNS]
# TUI_BYTES_KEEP=DIR keeps the recorded bytes and the replayed screens.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top}" && pwd)
runs=${2:-${RUNS:-5}}
docmail=$build/src/docmail
python=/usr/bin/python3
rec=$here/ptyrec.py
[ -x "$docmail" ] || { echo "build docmail first ($docmail)" >&2; exit 1; }
[ -x "$python" ] || { echo "needs $python" >&2; exit 1; }
case $runs in '' | *[!0-9]* | 0) echo "RUNS must be a positive number" >&2; exit 64 ;; esac

# --- tools ------------------------------------------------------------

. "$here/lib.sh"

tools="docmail_settings docmail_long docmail_send"
have mutt mutt && tools="$tools mutt"
have dialog dialog && tools="$tools dialog"
replay=
if command -v tmux >/dev/null 2>&1; then
	replay=1
else
	note "tmux is not installed: the screens are not checked (apt-get install tmux)"
fi

# --- the place --------------------------------------------------------

w=$(mktemp -d "${TMPDIR:-/tmp}/docmail-tui-bytes.XXXXXX")
sock=tui-bytes-$$
cleanup() {
	[ -z "$replay" ] || tmux -L "$sock" kill-server 2>/dev/null || :
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
keep=${TUI_BYTES_KEEP:-}
[ -z "$keep" ] || mkdir -p "$keep"

# Nothing any program writes may land in the user's home.
export HOME=$w/home XDG_CONFIG_HOME=$w/home/.config \
    XDG_DATA_HOME=$w/home/.local/share XDG_STATE_HOME=$w/home/.local/state \
    XDG_CACHE_HOME=$w/home/.cache MAIL=$w/home/mbox TMPDIR=$w/tmp
unset NO_COLOR VISUAL EDITOR DIALOGRC MUTT_CONFIG 2>/dev/null || :
export LC_ALL=C.UTF-8	# one locale for every program, whatever the caller's
mkdir -p "$HOME/Mail" "$TMPDIR"
: >"$MAIL"

printf '[profile default]\nemail = a@example.test\nhost = localhost\n' \
    >"$w/send.ini"
{ printf '%%PDF-1.4\n'; head -c 1000 /dev/zero | tr '\0' x; printf '\n%%%%EOF\n'; } \
    >"$w/invoice.pdf"

text=bench-typing-0123456789-abcdefghijklmnopqrstuvwxyz	# 50 characters
cd "$w"	# the document is named as a user would: invoice.pdf
[ ${#text} -eq 50 ] || { echo "the typed text must be 50 characters" >&2; exit 1; }
split=30
long=$text$text$text$text	# 200 characters

# --- one program ------------------------------------------------------

# The recorder's arguments for each program: its keys (--pre, --quit),
# a text its first screen must show, and its command line.
setup() {
	ttext=$text
	case $1 in
	docmail_long)
		label="docmail settings, 200 chars"; marker="Sender name"
		ttext=$long
		rm -f "$w/settings.ini"
		keys=(--quit '\x1bd')
		cmd=("$docmail" --config "$w/settings.ini" settings) ;;
	docmail_settings)
		label="docmail settings"; marker="Sender name"
		rm -f "$w/settings.ini"
		keys=(--quit '\x1bd')
		cmd=("$docmail" --config "$w/settings.ini" settings) ;;
	docmail_send)
		label="docmail send dialog"; marker="invoice.pdf"
		keys=(--quit '\x1by')
		cmd=("$docmail" --config "$w/send.ini" invoice.pdf) ;;
	mutt)
		label="mutt compose, To: prompt"; marker="Mutt: Compose"
		keys=(--pre 't\x15' --quit '\x07q')
		cmd=(mutt -F /dev/null -n
		    -e "set editor=true abort_unmodified=no autoedit edit_headers"
		    -e "set postpone=no record='' folder='$HOME/Mail' tmpdir='$TMPDIR'"
		    -e "set hostname=bench.example.test from=a@example.test"
		    -s Bench -a invoice.pdf -- a@example.test) ;;
	dialog)
		label="dialog --form"; marker="Sender name:"
		keys=(--quit '\x1b')
		cmd=(dialog --form "SMTP account" 0 0 0
		    "Sender name:" 1 1 "" 1 14 40 100
		    "Email:" 2 1 "" 2 14 40 100
		    "Host:" 3 1 "" 3 14 40 100
		    "Port:" 4 1 "587" 4 14 6 5
		    "User name:" 5 1 "" 5 14 40 100) ;;
	esac
}

# show FILE...: the 80x24 screen after the bytes of FILE... (tmux).
show() {
	rm -f "$w/shown"
	tmux -L "$sock" -f /dev/null new-session -d -x 80 -y 24 \
	    "stty -opost; cat $*; : >'$w/shown'; exec sleep 60"
	_i=0
	while [ ! -e "$w/shown" ] && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	sleep 0.1
	tmux -L "$sock" capture-pane -p
	tmux -L "$sock" kill-server 2>/dev/null || :
}

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# lo-hi of the numbers on stdin, or just one number when all equal
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 }
    END { print (lo == hi) ? lo : lo "-" hi }'; }

rows=
run_tool() {
	local t=$1 i a b s state flag='' out
	setup "$t"
	: >"$w/$t.runs"
	for i in $(seq 1 "$runs"); do
		out=$("$python" "$rec" --rows 24 --cols 80 --term xterm-256color \
		    --quiet 0.3 --pause 0.02 --split "$split" --type "$ttext" \
		    --raw-a "$w/$t.a" --raw-b "$w/$t.b" "${keys[@]}" \
		    -- "${cmd[@]}" 2>>"$w/$t.err") || out="0 0 0 failed"
		read -r a b s state <<<"$out"
		echo "$a $b $s $state" >>"$w/$t.runs"
		[ "$state" = running ] || flag="!"
		echo "  $label, run $i: first screen $a, typing $b ($s for the first $split), $state" >&2
	done
	if [ -n "$flag" ]; then
		note "$label ended before the typing was over: its figures mean nothing"
	fi
	# The last run's bytes, replayed: the first screen must be the
	# one meant, and the typed text must be on the screen afterwards
	# (at least its last 20 characters: every field here is wider
	# than 20 + half of it, which is what scrolling may hide).
	if [ -n "$replay" ]; then
		show "$w/$t.a" >"$w/$t.screen-a"
		show "$w/$t.a" "$w/$t.b" >"$w/$t.screen-b"
		if ! grep -qF -- "$marker" "$w/$t.screen-a"; then
			flag="!"
			note "$label: the first screen does not show '$marker' (see TUI_BYTES_KEEP)"
		fi
		if ! grep -qF -- "${ttext: -20}" "$w/$t.screen-b"; then
			flag="!"
			note "$label: the typed text is not on the screen after typing (see TUI_BYTES_KEEP)"
		fi
	fi
	[ -z "$keep" ] || cp "$w/$t".* "$keep/" 2>/dev/null || :
	a=$(awk '{ print $1 }' "$w/$t.runs" | median)
	b=$(awk '{ print $2 }' "$w/$t.runs" | median)
	s=$(awk '{ print $3 }' "$w/$t.runs" | median)
	rows="$rows$label$flag|${#ttext}|$a|$b|$s|$(awk '{ print $1 }' "$w/$t.runs" | spread)|$(awk '{ print $2 }' "$w/$t.runs" | spread)"$'\n'
}

for t in $tools; do
	run_tool "$t"
done

# --- the table --------------------------------------------------------

echo
echo "Bytes written to the terminal at 80x24, TERM=xterm-256color, median of $runs runs"
echo "(typing: 50 characters unless said, one every 20 ms; 'first $split': the first $split of them alone)"
echo
printf '%-27s %12s %12s %10s %10s   %s\n' program "first screen" "typing" "bytes/char" \
    "first $split" "spread (first screen; typing)"
printf '%s' "$rows" | while IFS='|' read -r label n a b s sa sb; do
	printf '%-27s %12s %12s %10s %10s   %s; %s\n' "$label" "$a" "$b" \
	    "$(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", b / n }')" \
	    "$(awk -v s="$s" -v n="$split" 'BEGIN { printf "%.1f", s / n }')" \
	    "$sa" "$sb"
done
echo
echo "Targets (issues 5 and 12): first screen under 2 KB (2048 bytes), typing under 3 bytes per character."
printf '%s' "$rows" | while IFS='|' read -r label n a b s sa sb; do
	case $label in docmail*) ;; *) continue ;; esac
	case $label in *!)
		echo "  $label: no verdict, it failed a check"
		continue ;;
	esac
	printf '  %s: first screen %s (%s), typing %s bytes/char (%s)\n' \
	    "$label" "$a" "$([ "$a" -lt 2048 ] && echo met || echo missed)" \
	    "$(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", b / n }')" \
	    "$([ $((b * 10 / n)) -lt 30 ] && echo met || echo missed)"
done
if printf '%s' "$rows" | grep -q '^[^|]*!|'; then
	echo "Rows marked ! failed a check (see the notes): their figures mean nothing."
fi
if [ -n "$notes" ]; then
	echo
	printf '%s' "$notes" | sed 's/^/note: /'
fi
