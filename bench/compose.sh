#!/bin/sh
# compose.sh - how fast and how lean is composing a message?
#
# Runs "docmail send --dry-run > /dev/null" with a 50 MB PDF and with a
# 1 KB PDF (the baseline), several times each, and reports whole-process
# wall time and peak resident memory (GNU time), the memory above the
# baseline and the attachment throughput.  A measurement, not a test: it
# never fails on numbers.      usage: bench/compose.sh [BUILDDIR] [RUNS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
runs=${2:-5}
docmail=$build/src/docmail
[ -x "$docmail" ] || { echo "build docmail first ($docmail)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
printf '[profile default]\nname = Bench\nemail = bench@example.test\nhost = localhost\n' >"$w/config.ini"
{ printf '%%PDF-1.4\n'; head -c 1000 /dev/urandom; } >"$w/small.pdf"
{ printf '%%PDF-1.4\n'; head -c 52428800 /dev/urandom; } >"$w/big.pdf"

# best WALL and RSS (KiB) of $runs runs of a dry-run with file $1
measure() {
	best_wall= best_rss=
	i=0
	while [ $i -lt "$runs" ]; do
		i=$((i + 1))
		t0=$(date +%s%N)
		/usr/bin/time -f '%M' -o "$w/time" "$docmail" --config \
		    "$w/config.ini" send --dry-run --to a@example.test \
		    --subject Bench "$1" >/dev/null 2>"$w/err"
		t1=$(date +%s%N)
		wall=$(((t1 - t0) / 1000))	# microseconds
		read -r rss <"$w/time"
		if [ -z "$best_wall" ] || [ "$wall" -lt "$best_wall" ]; then
			best_wall=$wall
		fi
		if [ -z "$best_rss" ] || [ "$rss" -lt "$best_rss" ]; then
			best_rss=$rss
		fi
	done
}

measure "$w/small.pdf"
sw=$best_wall srss=$best_rss
measure "$w/big.pdf"
bw=$best_wall brss=$best_rss
echo "compose, best of $runs runs (wall includes starting GNU time):"
echo "  1 KB PDF : wall $((sw / 1000)) ms, peak RSS $srss KiB (baseline)"
echo "  50 MB PDF: wall $((bw / 1000)) ms, peak RSS $brss KiB, $((brss - srss)) KiB above baseline"
echo "  throughput: $((52428800 / (bw - sw))) MB/s of attachment"
