#!/bin/sh
# stress.sh - 200 consecutive sessions per TLS mode, none may hang.
#
# libESMTP's own STARTTLS deadlocks in about a third of TLS 1.3
# sessions; docmail does TLS itself and hands libESMTP plaintext, so
# every session must finish well within its timeout.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

N=${STRESS_SESSIONS:-200}
plan 4
printf 'anna:%s\n' "$PASSWORD" >"$T/auth"

# The servers answer EHLO as Microsoft 365 and Postfix do (CHUNKING
# among the keywords), so that the sessions see what real ones see.
for mode in starttls:ms365 ssl:postfix; do
	p=${mode#*:} mode=${mode%:*}
	start_server "$mode" --mode "$mode" --auth-file "$T/auth" --ehlo-profile "$p"
	# valgrind makes a session up to twenty times slower: the timeout
	# (and so what counts as near it) grows with it
	tmo=5
	[ -z "${DM_VALGRIND:-}" ] || tmo=20
	profile "$T/$mode.ini" "$mode" "$PORT" "$mode" "timeout=$tmo"
	slow=0 failed=0 i=0
	while [ $i -lt "$N" ]; do
		i=$((i + 1))
		t0=$(date +%s%N)
		rc=0
		timeout $((tmo * 6)) "$DOCMAIL" --config "$T/$mode.ini" test \
		    >"$T/out" 2>"$T/err" || rc=$?
		t1=$(date +%s%N)
		[ $rc -eq 0 ] || failed=$((failed + 1))
		# a session near its timeout means something waited on it
		[ $(((t1 - t0) / 1000000)) -lt $((tmo * 800)) ] ||
		    slow=$((slow + 1))
	done
	[ $failed -eq 0 ]; ok $? "$N $mode sessions in a row all pass ($p; $failed failed)"
	[ $slow -eq 0 ]; ok $? "none of the $N $mode sessions stalled ($slow slow)"
	[ $failed -eq 0 ] || diag "last error:" "$(cat "$T/err")"
done
done_testing
