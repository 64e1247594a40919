#!/bin/bash
# batch.sh - a month's invoices: one "docmail batch" against one
# "docmail send" per invoice, and Python's smtplib as the floor.
#
# Against one loopback sink (tests/smtpd.py, STARTTLS and AUTH required,
# its own test CA), N documents of SIZE KiB, each to its own recipient:
#  (a) docmail batch --yes DOC...          (one session, no pacing)
#  (b) docmail send --yes DOC, N times     (one session each)
#  (c) smtplib: the message docmail --dry-run built for the first
#      document, sent N times over one connection (TCP_NODELAY):
#      sending alone, nothing composed or stored.
#  (d) where /dev/shm is: (a) with its outbox and sent log in memory,
#      to tell what this disk's flushes and removals cost from what
#      the engine does.
# They run in turn, RUNS rounds, so that a slow spell of the machine
# falls on all of them alike; (a) and (c) back to back, and their ratio
# is given round by round.  For each: whole-process wall time (best
# and median of RUNS), peak RSS (GNU time %M, for (a) and the largest
# of (b)), and the connections the sink saw.  Then pacing: 31 of them at --rate 30 (PACE=0 skips that minute).
# A measurement, not a test: it never fails on numbers, but it checks
# that every timed run delivered all N messages.
#     usage: bench/batch.sh [BUILDDIR] [N] [SIZE_KIB] [RUNS]
set -eu

unset SSL_CERT_FILE SSL_CERT_DIR
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
n=${2:-100}
kib=${3:-100}
runs=${4:-${RUNS:-3}}
docmail=$build/src/docmail
python=/usr/bin/python3	# Debian's: the sink needs python3-cryptography
[ -x "$docmail" ] || { echo "build docmail first ($docmail)" >&2; exit 1; }
for v in "$n" "$kib" "$runs"; do
	case $v in '' | *[!0-9]* | 0) echo "N, SIZE_KIB and RUNS are positive numbers" >&2; exit 64 ;; esac
done

. "$top/bench/lib.sh"
have /usr/bin/time time || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }

w=$(mktemp -d "${TMPDIR:-/tmp}/docmail-bench.XXXXXX")
# The sink keeps what it receives in memory where it can (/dev/shm):
# on docmail's disk its writes would queue with docmail's flushes (one
# a message, for the outbox), a cost no remote server puts on a sender.
srv=$w/srv
mem=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	srv=$(mktemp -d /dev/shm/docmail-bench-sink.XXXXXX)
fi
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || :
		wait "$server_pid" 2>/dev/null || :
	fi
	rm -rf "$w" "$srv" ${mem:+"$mem"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HOME=$w/home XDG_CONFIG_HOME=$w/home/.config \
    XDG_DATA_HOME=$w/home/.local/share XDG_STATE_HOME=$w/home/.local/state
unset SOURCE_DATE_EPOCH DOCMAIL_MESSAGE_ID
export LC_ALL=C.UTF-8
mkdir -p "$HOME" "$srv" "$w/docs"

user=anna
pass=bench-Pa55w0rd
echo "$user:$pass" >"$w/auth"
"$python" "$top/tests/smtpd.py" --dir "$srv" --mode starttls \
    --auth-file "$w/auth" --lifetime 3600 >"$w/server.err" 2>&1 &
server_pid=$!
i=0
while [ ! -s "$srv/port" ]; do
	i=$((i + 1))
	if [ $i -gt 400 ] || ! kill -0 "$server_pid" 2>/dev/null; then
		echo "the test server did not start:" >&2
		cat "$w/server.err" >&2
		exit 1
	fi
	sleep 0.05
done
port=$(cat "$srv/port")

cat >"$w/docmail.ini" <<EOF
[profile default]
name = Anna Muster
email = anna@example.test
host = localhost
port = $port
security = starttls
user = $user
password = $pass
ca_file = $srv/ca.pem

[template invoice]
subject = Invoice {{number}} from {{sender.name}}
body = Dear {{customer}},\n\nplease find attached invoice {{number}}.
EOF
chmod 600 "$w/docmail.ini"

echo "making $n documents of $kib KiB ..." >&2
i=0
while [ $i -lt "$n" ]; do
	i=$((i + 1))
	d=$w/docs/invoice-$(printf %04d $i).pdf
	{ printf '%%PDF-1.4\n'; head -c $((kib * 1024 - 9)) /dev/urandom; } >"$d"
	printf '[document]\ntemplate = invoice\nnumber = 2026-%04d\ncustomer = Kunde %d\nto = kunde%d@x.test\n' \
	    $i $i $i >"$d.ini"
done
docs=("$w"/docs/invoice-*.pdf)
"$docmail" --config "$w/docmail.ini" send --dry-run --to kunde1@x.test \
    "${docs[0]}" >"$w/message.eml" 2>/dev/null

delivered() { cat "$srv/delivered"; }
connects() { grep -c '^connect$' "$srv/log" || :; }

run_batch() {
	/usr/bin/time -f %M -o "$w/rss" "$docmail" --config "$w/docmail.ini" \
	    batch --yes "${docs[@]}" >"$w/out" 2>"$w/err" </dev/null
}
# The same batch with its outbox and sent log in memory: what the disk's
# flushes and removals cost, apart from the engine.  Not a way to run
# docmail: a power cut there loses the outbox.
run_batchmem() {
	XDG_DATA_HOME=$mem/share XDG_STATE_HOME=$mem/state run_batch
}
run_send() {
	local d max=0 r
	for d in "${docs[@]}"; do
		/usr/bin/time -f %M -o "$w/rss1" "$docmail" \
		    --config "$w/docmail.ini" send --yes \
		    --to "kunde$(basename "$d" .pdf | sed 's/^invoice-0*//')@x.test" \
		    "$d" >"$w/out" 2>"$w/err" </dev/null || return 1
		r=$(tail -n 1 "$w/rss1")
		[ "$r" -le "$max" ] || max=$r
	done
	echo "$max" >"$w/rss"
}
run_smtplib() {
	/usr/bin/time -f %M -o "$w/rss" "$python" - "$port" "$srv/ca.pem" \
	    "$user" "$pass" "$w/message.eml" "$n" <<'PY'
import smtplib, socket, ssl, sys
port, ca, user, pw, path, n = sys.argv[1:7]
msg = open(path, "rb").read()
s = smtplib.SMTP("localhost", int(port))
s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.starttls(context=ssl.create_default_context(cafile=ca))
s.login(user, pw)
for i in range(int(n)):
    s.sendmail("anna@example.test", ["kunde%d@x.test" % (i + 1)], msg)
s.quit()
PY
}

# The batch and smtplib run back to back, and each round compares the
# two: a slow spell of the machine falls on both of a pair alike.
kinds="batch smtplib send"
if [ "$srv" != "$w/srv" ]; then
	mem=$(mktemp -d /dev/shm/docmail-bench-state.XXXXXX)
	kinds="batch smtplib batchmem send"
fi
for t in $kinds; do : >"$w/wall.$t"; : >"$w/rssl.$t"; : >"$w/conn.$t"; done
: >"$w/ratio"
echo "measuring: $runs rounds of batch, send x $n, smtplib ..." >&2
r=0
while [ $r -lt "$runs" ]; do
	r=$((r + 1))
	wb= ws=
	for t in $kinds; do
		rm -rf "$XDG_DATA_HOME" "$XDG_STATE_HOME" ${mem:+"$mem"/*}
		# What the last run left to the disk is not this run's to pay.
		sync
		d0=$(delivered) c0=$(connects) rc=0
		t0=$EPOCHREALTIME
		"run_$t" || rc=$?
		t1=$EPOCHREALTIME
		got=$(($(delivered) - d0))
		if [ "$rc" -ne 0 ] || [ "$got" -ne "$n" ]; then
			note "$t: run $r failed (exit $rc, $got of $n delivered): $(head -c 300 "$w/err")"
			continue
		fi
		echo $((${t1/./} - ${t0/./})) >>"$w/wall.$t"
		tail -n 1 "$w/rss" >>"$w/rssl.$t"
		echo $(($(connects) - c0)) >>"$w/conn.$t"
		case $t in
		batch) wb=$((${t1/./} - ${t0/./})) ;;
		smtplib) ws=$((${t1/./} - ${t0/./})) ;;
		esac
	done
	if [ -n "$wb" ] && [ -n "$ws" ]; then
		awk -v b="$wb" -v s="$ws" 'BEGIN { printf "%.3f\n", b / s }' >>"$w/ratio"
	fi
done

best() { sort -n "$1" | head -n 1; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.0f", u / 1000 }'; }
label() {
	case $1 in
	batch) echo "docmail batch (one session)" ;;
	batchmem) echo "  the same, outbox in memory" ;;
	send) echo "docmail send x $n" ;;
	smtplib) echo "smtplib, prebuilt, 1 connection" ;;
	esac
}
echo
echo "$("$docmail" --version | head -n 1), $(nproc) CPUs, sink tests/smtpd.py on 127.0.0.1 (STARTTLS + AUTH PLAIN)"
echo "$n documents of $kib KiB, one recipient each; $runs runs each"
echo
printf '  %-34s %8s %8s %12s %12s\n' "" "best ms" "median" "peak RSS KiB" "connections"
for t in batch batchmem send smtplib; do
	case " $kinds " in *" $t "*) ;; *) continue ;; esac
	printf '  %-34s %8s %8s %12s %12s\n' "$(label "$t")" "$(ms "$(best "$w/wall.$t")")" \
	    "$(ms "$(median "$w/wall.$t")")" \
	    "$(sort -n "$w/rssl.$t" | tail -n 1)" "$(sort -n "$w/conn.$t" | tail -n 1)"
done
if [ -s "$w/ratio" ]; then
	echo
	echo "  docmail batch / smtplib, each round's pair: median $(median "$w/ratio"), from $(best "$w/ratio") to $(sort -n "$w/ratio" | tail -n 1) ($(wc -l <"$w/ratio") rounds)"
fi

# Pacing: 31 messages at --rate 30 should span 60 s (the k-th starts
# k * 2 s after the first), not 0 s and not 2 minutes.  The span is the
# sink's arrival times of the first and the last.  PACE=0 skips it.
if [ "${PACE:-1}" != 0 ] && [ "$n" -ge 31 ]; then
	echo "measuring pacing: 31 messages at --rate 30 (a minute) ..." >&2
	rm -rf "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$srv/mail"
	mkdir -p "$srv/mail"
	t0=$EPOCHREALTIME
	if "$docmail" --config "$w/docmail.ini" batch --yes --rate 30 \
	    "${docs[@]:0:31}" >"$w/out" 2>"$w/err" </dev/null; then
		t1=$EPOCHREALTIME
		span=$("$python" -c 'import json, sys
t = sorted(json.load(open(f))["received_at"] for f in sys.argv[1:])
print("%d %.3f" % (len(t), t[-1] - t[0]))' "$srv"/mail/*.json)
		echo
		echo "  pacing, --rate 30, 31 messages: ${span#* } s from the first to the last (want 60 +- 1), $(ms $((${t1/./} - ${t0/./}))) ms wall, ${span%% *} received"
	else
		note "pacing: the batch failed: $(head -c 300 "$w/err")"
	fi
fi
if [ -n "$notes" ]; then
	echo
	printf '%s' "$notes" | sed 's/^/  note: /'
fi
