#!/bin/sh
# crash.sh - "docmail send" killed with SIGKILL at random points of the
# send, 200 times against slow servers that answer EHLO as Microsoft
# 365 (the first half of the runs) and Postfix (the second half) do,
# CHUNKING included: every message is then either
# delivered once or in the outbox (or, killed before it reached the
# server, nowhere), and "outbox --retry" never delivers one twice.
#
# Each run picks a phase (before connecting, during AUTH, in the middle
# of the data, after the final dot), waits until the server's log shows
# that phase began and kills docmail a random few milliseconds later.
# Where the kill really landed is read back from the server's log.
# DM_CRASH_RUNS and DM_CRASH_SEED repeat a run with other numbers.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

N=${DM_CRASH_RUNS:-200}
SEED=${DM_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
plan 19
diag "$N runs, seed $SEED"

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
# 20 ms before every reply, the data 4 KB per 2 ms; one server per
# profile, each with its own config
servers=
for p in $DATA_PROFILES; do
	start_server "slow-$p" --mode plain --auth-file "$T/auth" --fault slow:20 \
	    --ehlo-profile "$p"
	profile "$T/cfg-$p.ini" "slow-$p" "$PORT" none "timeout=20"
	servers="${servers:+$servers }$T/slow-$p/log:$T/cfg-$p.ini"
done
start_server fast --mode plain --auth-file "$T/auth" --ehlo-profile ms365
fast_port=$PORT
cfg=$T/cfg.ini
profile "$cfg" fast "$fast_port" none "timeout=20"
# About 400 KB of base64: ~200 ms of data at the slow server's pace.
# docmail's last bytes fit into buffers after ~140 ms: its own 64 KB,
# the server's 16 KB, and a send buffer kept small with the fault
# library (the kernel would let it grow to megabytes).
head -c 300000 /dev/urandom >"$T/doc.bin"
shim=$(preload) || exit 1

# One line per run: the phase to aim at (each in turn) and how long to
# wait once it began, a random part of its length: docmail reaches the
# server within about 10 ms, AUTH waits 20 ms for its answer, the data
# takes about 200 ms, the end (250, QUIT, bookkeeping) about 50 ms; up
# to 70 ms after the dot also hits the bookkeeping, or finds it done.
# Park-Miller numbers: exact in awk's doubles, the same with every awk.
awk -v n="$N" -v seed="$SEED" 'BEGIN {
	split("10 20 200 70", len, " ")
	x = seed % 2147483646 + 1
	for (i = 1; i <= n; i++) {
		x = (x * 16807) % 2147483647
		printf "%d %.4f\n", i % 4, x / 2147483647 * len[i % 4 + 1] / 1000
	}
}' >"$T/plan"

# The loop needs millisecond timing, which a shell polling with grep
# cannot give: python runs it.  The runs are split into equal parts, one
# per server (LOG:CONFIG) in turn.  For each run it starts docmail, waits
# until the server's log shows that the aimed-at phase began, waits the
# planned time, kills docmail, waits until the server saw the session
# end, and writes "RUN PHASE" to the phases file, PHASE being where the
# server's log says the kill landed.
cat >"$T/driver.py" <<'EOF'
import os, re, signal, subprocess, sys, time

plan, out, docmail, doc, shim = sys.argv[1:6]
servers = [a.split(":") for a in sys.argv[6:]]
env = dict(os.environ, LD_PRELOAD=shim, DM_SHIM_SNDBUF="16384")
# The data begins with the 354 to DATA, or, from a client that uses
# CHUNKING, with the first BDAT (so that the loop keeps its pace with
# such a client; the script then fails on the BDAT).
MARK = {1: r"^AUTH ", 2: r"^(354 |BDAT )", 3: r"^data-end "}
stuck = finished = 0


def since(start):
    with open(log, "rb") as f:
        f.seek(start)
        return f.read().decode("utf-8", "replace")


def has(pattern, text):
    return re.search(pattern, text, re.M) is not None


def phase(text):
    if not has(r"^connect$", text):
        return "startup"
    for name, pattern in (("after_dot", r"^data-end "),
                          ("data", r"^(354 |BDAT )"),
                          ("envelope", r"^MAIL "), ("auth", r"^AUTH ")):
        if has(pattern, text):
            return name
    return "greeting"


with open(plan) as f, open(out, "w") as o:
    lines = f.readlines()
    for i, line in enumerate(lines, 1):
        log, cfg = servers[(i - 1) * len(servers) // len(lines)]
        target, wait = int(line.split()[0]), float(line.split()[1])
        start = os.path.getsize(log)
        p = subprocess.Popen(
            [docmail, "--config", cfg, "send", "--yes", "--to", f"r{i}@x.test",
             "--subject", f"crash-{i}", "--body", f"message {i}", doc],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env)
        if target in MARK:
            limit = time.monotonic() + 10
            while (not has(MARK[target], since(start)) and p.poll() is None
                   and time.monotonic() < limit):
                time.sleep(0.0005)
        time.sleep(wait)
        p.send_signal(signal.SIGKILL)
        if p.wait() != -signal.SIGKILL:
            finished += 1
        # the server sees the session end before the next one starts
        time.sleep(0.01)
        limit = time.monotonic() + 10
        while True:
            text = since(start)
            if (len(re.findall(r"^connect$", text, re.M)) ==
                    len(re.findall(r"^disconnect$", text, re.M))):
                break
            if time.monotonic() > limit:
                stuck += 1
                break
            time.sleep(0.002)
        print(i, phase(text), file=o, flush=True)
print(stuck, finished)
EOF
t0=$(date +%s)
read -r stuck finished <<EOF
$("$PYTHON3" "$T/driver.py" "$T/plan" "$T/phases" "$DOCMAIL" "$T/doc.bin" \
    "$shim" $servers)
EOF
t1=$(date +%s)
diag "kill loop: $((t1 - t0)) s; $finished of $N runs had finished before the kill"
[ "$(wc -l <"$T/phases")" -eq "$N" ] && [ "${stuck:-1}" -eq 0 ]
ok $? "$N sends killed, the server saw each session end (${stuck:-?} did not)"

for p in startup greeting auth envelope data after_dot; do
	eval "hits_$p=$(grep -c " $p\$" "$T/phases")"
done
diag "kills per phase (server's view): before connect $hits_startup," \
    "greeting/EHLO $hits_greeting, AUTH $hits_auth," \
    "MAIL/RCPT $hits_envelope, mid-DATA $hits_data, after the dot $hits_after_dot"
for p in startup auth data after_dot; do
	eval "h=\$hits_$p"
	[ "$h" -ge 5 ]; ok $? "at least 5 kills landed in phase $p ($h)"
done

# delivered: "N COUNT" per message the servers accepted
delivered_list() {
	cat "$T/slow-"*/mail/*.eml "$T/fast/mail/"*.eml 2>/dev/null |
	    sed -n 's/^Subject: crash-\([0-9]*\)\r*$/\1/p' | sort -n | uniq -c |
	    awk '{ print $2, $1 }'
}
# outbox_list: "N STATE ID" per outbox item (STATE waiting or maybe)
outbox_list() {
	"$DOCMAIL" --config "$cfg" outbox 2>"$T/ob.err" | awk '
		/^[^ ]/ { id = $1; st = /may have been delivered/ ? "maybe" : "waiting" }
		/^    subject: crash-/ { sub(/^    subject: crash-/, ""); print $0, st, id }
	' | sort -n
}
# table: "N PHASE DELIVERED OUTBOX-STATE" for every run
table() {
	delivered_list >"$T/dl"
	outbox_list >"$T/ol"
	awk -v dl="$T/dl" -v ol="$T/ol" '
		BEGIN {
			while ((getline l < dl) > 0) { split(l, f, " "); d[f[1]] = f[2] }
			while ((getline l < ol) > 0) { split(l, f, " "); o[f[1]] = f[2] }
		}
		{ print $1, $2, ($1 in d) ? d[$1] : 0, ($1 in o) ? o[$1] : "-" }
	' "$T/phases"
}

table >"$T/t1"
[ ! -s "$T/ob.err" ]; ok $? "the outbox has no damaged or half-written item" ||
    diag "$(cat "$T/ob.err")"
awk '$3 > 1' "$T/t1" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "no message was delivered twice by the killed sends" ||
    diag "$(head "$T/bad")"
# stored before connecting: a message the server heard of is never lost
awk '$3 == 0 && $4 == "-" && $2 != "startup"' "$T/t1" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "no message is lost: each that reached the server is delivered or in the outbox" ||
    diag "$(head "$T/bad")"
awk '$3 == 1 && $4 == "waiting"' "$T/t1" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "no delivered message waits in the outbox as surely unsent" ||
    diag "$(head "$T/bad")"
mid=$(awk '$2 == "data" && $4 == "waiting"' "$T/t1" | wc -l)
diag "of the $hits_data kills in the middle of the data, $mid came before docmail had passed on its last byte"
d_only=$(awk '$3 == 1 && $4 == "-"' "$T/t1" | wc -l)
o_only=$(awk '$3 == 0 && $4 != "-"' "$T/t1" | wc -l)
both=$(awk '$3 == 1 && $4 == "maybe"' "$T/t1" | wc -l)
none=$(awk '$3 == 0 && $4 == "-"' "$T/t1" | wc -l)
diag "after the kills: $d_only delivered, $o_only in the outbox," \
    "$both delivered and in the outbox as 'may have been delivered'," \
    "$none killed before they were stored"
[ $((d_only + o_only + both + none)) -eq "$N" ] &&
    [ $((d_only + both)) -eq $(($(delivered slow-ms365) + $(delivered slow-postfix))) ]
ok $? "delivered once + in the outbox + never stored = $N"
for p in $DATA_PROFILES; do
	by_data "slow-$p" "$(delivered "slow-$p")" \
	    "$p: every killed send that reached the data used DATA, never BDAT"
done

# --- the retry, against a fast server (Microsoft 365's EHLO): waiting
# items go, the others (may have been delivered) are skipped without a
# terminal
run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
maybe=$(awk '$4 == "maybe"' "$T/t1" | wc -l)
is_rc "$([ "$maybe" -gt 0 ] && echo 75 || echo 0)" \
    "outbox --retry without a terminal (exit 75 when it skipped some)"
table >"$T/t2"
awk '$3 > 1' "$T/t2" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "the retry delivered no message a second time" ||
    diag "$(head "$T/bad")"
awk '$4 == "waiting" { print $1 }' "$T/t1" >"$T/w1"
awk -v w="$T/w1" 'BEGIN { while ((getline l < w) > 0) want[l] = 1 }
    $4 == "waiting" || (($1 in want) && $3 != 1)' "$T/t2" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "every waiting message was delivered once by the retry ($(wc -l <"$T/w1"))" ||
    diag "$(head "$T/bad")"
awk '$4 == "maybe"' "$T/t1" | cut -d' ' -f1 >"$T/m1"
awk '$4 == "maybe"' "$T/t2" | cut -d' ' -f1 >"$T/m2"
cmp -s "$T/m1" "$T/m2"
ok $? "the items that may have been delivered were all skipped ($maybe)"

# --- confirmation: the user learns which of those never arrived and
# resends just these with --force
awk '$4 == "maybe" && $3 == 0' "$T/t2" >"$T/resend"
resent=0 failed=0
while read -r n _ _ _; do
	id=$(awk -v n="$n" '$1 == n { print $3 }' "$T/ol")
	if "$DOCMAIL" --config "$cfg" outbox --retry --force "$id" \
	    >/dev/null 2>&1; then
		resent=$((resent + 1))
	else
		failed=$((failed + 1))
	fi
done <"$T/resend"
[ $failed -eq 0 ]
ok $? "--force resends the $resent that never arrived ($failed failed)"
table >"$T/t3"
awk '$3 == 0 && $4 == "-" { print $1 }' "$T/t1" >"$T/unstored"
awk -v u="$T/unstored" 'BEGIN { while ((getline l < u) > 0) never[l] = 1 }
    ($1 in never) ? $3 != 0 : $3 != 1' "$T/t3" >"$T/bad"
[ ! -s "$T/bad" ]; ok $? "in the end every stored message was delivered exactly once" ||
    diag "$(head "$T/bad")"
by_data fast "$(delivered fast)" "the retries went by DATA, never BDAT (ms365)"

done_testing
