#!/bin/sh
# diskfault.sh - a full (ENOSPC) or failing (EIO) disk under the config,
# the outbox, the sent log and the sent copy; symbolic links planted
# where docmail creates files; file modes under umask 000.
#
# The faults come from tests/faultshim.so (LD_PRELOAD): the chosen call
# fails for the chosen files only, and DM_FAULT_LOG shows it was hit.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 118

shim=$(preload) || exit 1
printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
# It answers EHLO as Postfix does (CHUNKING among the keywords): the
# "may have been delivered" mark must still come before the final dot.
start_server srv --mode plain --auth-file "$T/auth" --ehlo-profile postfix
cfg=$T/cfg.ini
box=$XDG_DATA_HOME/docmail/outbox
slog=$XDG_STATE_HOME/docmail/sent.log
sent=$T/Sent
profile "$cfg" srv "$PORT" none "sent_maildir=$sent"
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }

# faulty OP GLOB ERRNO AFTER CMD...: runs CMD (see run) with one fault
faulty() {
	_op=$1 _glob=$2 _errno=$3 _after=$4
	shift 4
	rm -f "$T/faults"
	run env LD_PRELOAD="$shim" DM_FAULT_OP="$_op" DM_FAULT_PATH="$_glob" \
	    DM_FAULT_ERRNO="$_errno" DM_FAULT_AFTER="$_after" \
	    DM_FAULT_LOG="$T/faults" DM_FAULT_TARGET="$T/victim" "$@"
}
# injected: the fault library did hit a file
injected() { [ -s "$T/faults" ]; }
cause() { [ "$1" = EIO ] && echo "Input/output error" || echo "No space left on device"; }
# items STATE: outbox items listed in that state
items() { "$DOCMAIL" --config "$cfg" outbox | grep -c "$1"; }
# clean DIR: a Maildir with nothing in tmp/
clean() { [ -z "$(ls "$1/tmp")" ]; }

# --- 1. the config cannot be saved: the TUI says so, the file stays
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
cp "$cfg" "$T/cfg.orig"
for f in "write $T/.cfg.ini.* ENOSPC 0" "write $T/.cfg.ini.* EIO 10" \
    "fsync $T/.cfg.ini.* EIO 0" "close $T/.cfg.ini.* EIO 0" \
    "rename $T/.cfg.ini.* EIO 0"; do
	set -f
	set -- $f
	set +f
	rm -f "$T/faults"
	# wide enough for the whole status line
	term "env $envs LD_PRELOAD='$shim' DM_FAULT_OP=$1 DM_FAULT_PATH='$2' DM_FAULT_ERRNO=$3 DM_FAULT_AFTER=$4 DM_FAULT_LOG='$T/faults' '$DOCMAIL' --config '$cfg' settings" 220 30
	wait_for "SMTP settings"
	keys End
	keys -l " Changed"
	keys C-s
	wait_for "cannot write '$cfg': $(cause "$3")"
	ok $? "config save, $1 fails with $3: the screen names the file and the cause"
	screen | grep -q "the file is as it was"
	ok $? "config save, $1 fails with $3: and says the file is unchanged"
	injected && cmp -s "$cfg" "$T/cfg.orig"
	ok $? "config save, $1 fails with $3: the config is byte for byte as it was"
	[ -z "$(ls -A "$T" | grep '^\.cfg\.ini\.')" ]
	ok $? "config save, $1 fails with $3: no temporary file is left"
	keys Escape d
	wait_for "EXIT=0"
done
# the same save without a fault goes through
term "env $envs '$DOCMAIL' --config '$cfg' settings"
wait_for "SMTP settings"
keys End
keys -l " Changed"
keys C-s
wait_for "saved to"
grep -q "^name = Anna Muster Changed$" "$cfg"
ok $? "without a fault the same save works"
keys C-q
wait_for "EXIT="
# The directory cannot be synced after the rename: saved, but said so.
rm -f "$T/faults"
term "env $envs LD_PRELOAD='$shim' DM_FAULT_OP=fsync DM_FAULT_PATH='$T' DM_FAULT_ERRNO=EIO DM_FAULT_AFTER=0 DM_FAULT_LOG='$T/faults' '$DOCMAIL' --config '$cfg' settings" 220 30
wait_for "SMTP settings"
keys End
keys -l " Durable"
keys C-s
wait_for "was saved, but not made durable: $(cause EIO)"
ok $? "config save, the directory's fsync fails: saved, but not durable, it says"
injected && grep -q "^name = Anna Muster Changed Durable$" "$cfg"
ok $? "config save, the directory's fsync fails: the new file is in place"
keys Escape d
wait_for "EXIT="
profile "$cfg" srv "$PORT" none "sent_maildir=$sent"

# --- 2. the outbox cannot be written: nothing is sent
for f in "write $box/tmp/* ENOSPC 0" "write $box/tmp/* ENOSPC 300" \
    "write $box/tmp/* EIO 0" "fsync $box/tmp/* ENOSPC 0" \
    "fsync $box/tmp/* EIO 0" "close $box/tmp/* EIO 0" \
    "rename $box/tmp/* EIO 0" "fsync $box/new EIO 0"; do
	set -f
	set -- $f
	set +f
	conns=$(grep -c '^connect$' "$T/srv/log")
	faulty "$@" "$DOCMAIL" --config "$cfg" send --yes --to a@x.test \
	    --subject "Outbox $1 $3 $4" --body B
	is_rc 74 "outbox $1 fails with $3 (after $4): exit 74"
	has "$T/err" "cannot write to the outbox '$box': $(cause "$3")" \
	    "outbox $1 fails with $3 (after $4): the error names the outbox and the cause"
	has "$T/err" "nothing was sent" \
	    "outbox $1 fails with $3 (after $4): it says nothing was sent"
	injected && [ "$(grep -c '^connect$' "$T/srv/log")" -eq "$conns" ] &&
	    [ -z "$(ls "$box/new")" ] && clean "$box"
	ok $? "outbox $1 fails with $3 (after $4): no connection, nothing half-written in the outbox"
done
has "$T/err" "the disk reported an error" "after EIO the hint is about the disk, not space"

# The disk fills up at the very end, in the size field written last
# (pwrite): find the file's size by bisection (a fixed message makes
# each try write the same bytes), then leave 10 bytes short of it.  No
# server listens on port 1: a message stored in full is not sent.
profile "$T/dead.ini" srv 1 none
fixed() {
	faulty write "$box/tmp/*" ENOSPC "$1" env SOURCE_DATE_EPOCH=1790000000 \
	    DOCMAIL_MESSAGE_ID=fixed@example.test "$DOCMAIL" \
	    --config "$T/dead.ini" send --yes --to a@x.test --subject Fixed --body B
	rm -f "$box/new/"*
	! grep -q "nothing was sent" "$T/err"
}
lo=0 hi=65536
while [ $((hi - lo)) -gt 1 ]; do
	mid=$(((lo + hi) / 2))
	if fixed $mid; then hi=$mid; else lo=$mid; fi
done
fixed $((hi - 10))
is_rc 74 "the size field cannot be written: exit 74"
has "$T/err" "cannot write to the outbox '$box': No space left on device" \
    "the error names the cause of the short write"

# marking "may have been delivered" (in place, in the stored item)
# fails: the dot is not sent
faulty fsync "$box/new/*.docmail" EIO 0 "$DOCMAIL" --config "$cfg" send --yes \
    --to a@x.test --subject "Mark" --body B
is_rc 74 "the mark before the final dot cannot be written: exit 74"
has "$T/err" "could not record in the outbox that the message is being sent" \
    "saying the message was not finished"
injected && [ "$(delivered srv)" -eq 0 ]
ok $? "the server got no message"
[ "$(items "waiting")" -eq 1 ]; ok $? "the item waits in the outbox as surely unsent"
dm outbox --retry
is_rc 0 "a retry sends it"
[ "$(delivered srv)" -eq 1 ]; ok $? "once"

# --- 3. after the server accepted: told plainly, never sent twice
n=$(delivered srv)
for f in "write $sent/tmp/* ENOSPC 0" "write $sent/tmp/* EIO 0" \
    "fsync $sent/tmp/* EIO 0" "rename $sent/* EIO 0"; do
	set -f
	set -- $f
	set +f
	copies=$(ls "$sent/new" | wc -l)
	faulty "$@" "$DOCMAIL" --config "$cfg" send --yes --to a@x.test \
	    --subject "Copy $1 $3" --body B
	n=$((n + 1))
	is_rc 0 "sent copy, $1 fails with $3: exit 0, the message was sent"
	has "$T/err" "the message was sent, but no copy was kept in sent_maildir: cannot write to the maildir '$sent': $(cause "$3")" \
	    "sent copy, $1 fails with $3: the warning says so, with the cause"
	injected && [ "$(delivered srv)" -eq $n ] && [ -z "$(ls "$box/new")" ] &&
	    clean "$sent" && [ "$(ls "$sent/new" | wc -l)" -eq "$copies" ]
	ok $? "sent copy, $1 fails with $3: delivered once, out of the outbox, no partial copy"
done
dm outbox --retry
[ "$(delivered srv)" -eq $n ]; ok $? "a retry after that sends nothing"

# the sent log cut short by a full disk
faulty write "$slog" ENOSPC 20 "$DOCMAIL" --config "$cfg" send --yes \
    --to a@x.test --subject "Log" --body B
n=$((n + 1))
is_rc 0 "sent log write fails half-way: exit 0"
has "$T/err" "the message was sent, but the sent log was not written: cannot write to the sent log '$slog': No space left on device" \
    "the warning says so"
injected && [ "$(delivered srv)" -eq $n ] && [ -z "$(ls "$box/new")" ]
ok $? "delivered once, out of the outbox" ||
    diag "delivered $(delivered srv), want $n; outbox: $(ls "$box/new")" "$(cat "$T/faults")"
DOCMAIL_MESSAGE_ID=after-full@example.test dm send --yes --to a@x.test \
    --subject "After" --body B
n=$((n + 1))
tail -n 1 "$slog" | grep -q "^[0-9-]*T[0-9:]*Z	after-full@example.test	-	a@x.test	"
ok $? "the next sent-log line is whole, not glued to the cut one" ||
    diag "$(tail -n 2 "$slog" | cat -A)"
faulty write "$slog" EIO 0 "$DOCMAIL" --config "$cfg" send --yes \
    --to a@x.test --subject "Log EIO" --body B
n=$((n + 1))
is_rc 0 "sent log write fails with EIO: exit 0"
has "$T/err" "the sent log was not written: cannot write to the sent log '$slog': Input/output error" \
    "the warning names the cause"

# the item cannot be removed from the outbox
faulty unlink "$box/new/*.docmail" EIO 0 "$DOCMAIL" --config "$cfg" send \
    --yes --to a@x.test --subject "Remove" --body B
n=$((n + 1))
is_rc 0 "outbox removal fails: exit 0, the message was sent"
has "$T/err" "the message was sent, but it stays in the outbox marked 'may have been delivered'" \
    "the warning says where it stays and why"
injected && [ "$(delivered srv)" -eq $n ] &&
    [ "$(items "may have been delivered")" -eq 1 ]
ok $? "delivered once, listed as 'may have been delivered'"
run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
is_rc 75 "a retry without a terminal skips it (exit 75)"
[ "$(delivered srv)" -eq $n ]; ok $? "and does not send it a second time"
rm -f "$box/new/"*

# --- 3b. a batch syncs each directory once, not once a message: the
# outbox's new/ after storing all (all or nothing), the sent log and the
# removals after the session
printf '%s\n' '' '[template note]' 'subject = Note {{number}}' \
    'body = Number {{number}}.' >>"$cfg"
mkdir -p "$T/bdocs"
for i in 1 2 3; do
	printf '%%PDF-1.4 %s\n' "$i" >"$T/bdocs/n$i.pdf"
	printf '[document]\ntemplate = note\nnumber = %s\nto = n%s@x.test\n' \
	    "$i" "$i" >"$T/bdocs/n$i.pdf.ini"
done
conns=$(grep -c '^connect$' "$T/srv/log")
faulty fsync "$box/new" EIO 0 "$DOCMAIL" --config "$cfg" batch --yes \
    "$T/bdocs/n1.pdf" "$T/bdocs/n2.pdf" "$T/bdocs/n3.pdf"
is_rc 74 "batch: the outbox directory cannot be synced after storing: exit 74"
has "$T/err" "cannot sync the outbox '$box/new': Input/output error" \
    "batch: the error names the directory and the cause"
has "$T/err" "nothing was stored or sent" "batch: and says nothing was stored or sent"
injected && [ "$(grep -c '^connect$' "$T/srv/log")" -eq "$conns" ] &&
    [ -z "$(ls "$box/new")" ] && clean "$box"
ok $? "batch: no connection, no item left in the outbox"
faulty fsync "$slog" EIO 0 "$DOCMAIL" --config "$cfg" batch --yes \
    "$T/bdocs/n1.pdf" "$T/bdocs/n2.pdf" "$T/bdocs/n3.pdf"
n=$((n + 3))
is_rc 0 "batch: the sent log cannot be synced: exit 0, the messages were sent"
has "$T/err" "the messages were sent, but the sent log may not be on the disk: cannot write to the sent log '$slog': Input/output error" \
    "batch: the warning says so, with the cause"
injected && [ "$(delivered srv)" -eq $n ] && [ -z "$(ls "$box/new")" ] &&
    [ "$(grep -c "fsync.*$slog" "$T/faults")" -eq 1 ] &&
    [ "$(grep -c "	n[123]@x.test	" "$slog")" -eq 3 ]
ok $? "batch: each delivered once, out of the outbox, three lines, one sync of the log" ||
    diag "delivered $(delivered srv), want $n" "$(cat "$T/faults")"

# --- 4. symbolic links planted where docmail creates files
echo precious >"$T/victim"
faulty plant "$box/tmp/*.docmail" ENOSPC 0 "$DOCMAIL" --config "$cfg" send \
    --yes --to a@x.test --subject "Plant new" --body B
is_rc 74 "a link planted at the new outbox file's name: exit 74"
has "$T/err" "cannot write to the outbox" "with an error about the outbox"
injected && [ "$(cat "$T/victim")" = precious ] && [ -z "$(ls "$box/new")" ] &&
    [ "$(delivered srv)" -eq $n ]
ok $? "the link's target is untouched, nothing is sent"
find "$box/tmp" -type l -delete

# the update after a failed attempt (no server on port 1) writes a new
# file in tmp/ and renames it over the item
faulty plant "$box/tmp/*.docmail" ENOSPC 1 "$DOCMAIL" --config "$T/dead.ini" \
    send --yes --to a@x.test --subject "Plant update" --body B
is_rc 75 "a link planted at the outbox update's temporary name: the send's own exit 75"
has "$T/err" "warning: the outbox item could not be updated" "and a warning about the item"
injected && [ "$(cat "$T/victim")" = precious ] && [ "$(delivered srv)" -eq $n ] &&
    [ "$(items waiting)" -eq 1 ]
ok $? "the target is untouched, the message not sent but waiting"
find "$box/tmp" -type l -delete

rm -f "$box/lock"
faulty plant "$box/lock" ENOSPC 0 "$DOCMAIL" --config "$cfg" outbox --retry
is_rc 74 "a link planted at the outbox lock's name: the retry fails, exit 74"
injected && [ "$(cat "$T/victim")" = precious ] && [ "$(delivered srv)" -eq $n ]
ok $? "the target is untouched, nothing is sent"
grep -q "cannot lock the outbox item" "$T/out" "$T/err"
ok $? "the error names the lock"
rm -f "$box/lock"
dm outbox --retry
n=$((n + 1))
[ "$(delivered srv)" -eq $n ]; ok $? "with the link gone, the retry sends it once"

# an outbox item that is a link (to a valid item elsewhere) is not read
run "$DOCMAIL" --config "$T/dead.ini" send --yes --to a@x.test \
    --subject "Linked item" --body B
item=$(ls "$box/new")
mv "$box/new/$item" "$T/elsewhere"
cp "$T/elsewhere" "$T/elsewhere.orig"
ln -s "$T/elsewhere" "$box/new/$item"
dm outbox
has "$T/err" "could not be read" "a linked outbox item is reported as unreadable"
hasnt "$T/out" "Linked item" "and not listed"
dm outbox --retry
[ "$(delivered srv)" -eq $n ] && cmp -s "$T/elsewhere" "$T/elsewhere.orig"
ok $? "a retry neither sends it nor touches the link's target"
rm -f "$box/new/$item"

faulty plant "$sent/tmp/*" ENOSPC 0 "$DOCMAIL" --config "$cfg" send --yes \
    --to a@x.test --subject "Plant copy" --body B
n=$((n + 1))
is_rc 0 "a link planted at the sent copy's name: the message is sent"
has "$T/err" "no copy was kept in sent_maildir" "and the missing copy is reported"
injected && [ "$(cat "$T/victim")" = precious ] && [ "$(delivered srv)" -eq $n ]
ok $? "the target is untouched"
find "$sent/tmp" -type l -delete

# the config itself a link: replaced by a file, its target untouched
cp "$cfg" "$T/real.ini"
cp "$cfg" "$T/real.orig"
ln -sf "$T/real.ini" "$T/link.ini"
term "env $envs '$DOCMAIL' --config '$T/link.ini' settings"
wait_for "SMTP settings"
keys End
keys -l " Linked"
keys C-s
wait_for "saved to"
ok $? "saving a config that is a symbolic link works"
[ -f "$T/link.ini" ] && [ ! -L "$T/link.ini" ] && cmp -s "$T/real.ini" "$T/real.orig" &&
    grep -q "^name = Anna Muster Linked$" "$T/link.ini"
ok $? "the link is replaced by the new file; nothing is written through it"
keys C-q
wait_for "EXIT="

# --- 5. umask 000: files 0600, directories 0700
u=$T/u
mkdir "$u"
profile "$T/u.ini" srv "$PORT" none "sent_maildir=$u/Mail/Sent"
# the second message stays in the outbox, updated after a 451
start_server r451 --mode plain --auth-file "$T/auth" --fault data-451 \
    --ehlo-profile ms365
profile "$T/u2.ini" r451 "$PORT" none "sent_maildir=$u/Mail/Sent"
(
	umask 000
	export XDG_DATA_HOME="$u/data" XDG_STATE_HOME="$u/state"
	"$DOCMAIL" --config "$T/u.ini" send --yes --to a@x.test --subject U \
	    --body B >/dev/null 2>&1
	"$DOCMAIL" --config "$T/u2.ini" send --yes --to a@x.test --subject U2 \
	    --body B >/dev/null 2>&1
)
[ "$(find "$u/data" -name '*.docmail' | wc -l)" -eq 1 ] &&
    [ -f "$u/state/docmail/sent.log" ] && [ "$(ls "$u/Mail/Sent/new" | wc -l)" -eq 1 ]
ok $? "umask 000: a message sent, one in the outbox"
find "$u/data" "$u/state" "$u/Mail" -type d ! -perm 700 >"$T/bad"
find "$u/data" "$u/state" "$u/Mail" -type f ! -perm 600 >>"$T/bad"
[ ! -s "$T/bad" ]; ok $? "umask 000: every directory docmail made is 0700, every file 0600" ||
    diag "$(cat "$T/bad")"
term "umask 000; env $envs '$DOCMAIL' --config '$u/conf/dir/new.ini' settings"
wait_for "SMTP settings"
keys -l "Anna"
keys Tab
keys -l "anna@example.test"
keys Tab
keys -l "localhost"
keys C-s
wait_for "saved to"
[ "$(stat -c %a "$u/conf/dir/new.ini")" = 600 ] &&
    [ "$(stat -c %a "$u/conf/dir")" = 700 ] && [ "$(stat -c %a "$u/conf")" = 700 ]
ok $? "umask 000: a new config is 0600 in new 0700 directories" ||
    diag "$(ls -ld "$u/conf" "$u/conf/dir" "$u/conf/dir/new.ini")"
keys C-q
wait_for "EXIT="

by_data srv "$(delivered srv)" "every send went by DATA, never BDAT (postfix)"
by_data r451 0 "so did the one refused with 451 (ms365)"

done_testing
