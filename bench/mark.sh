#!/bin/sh
# mark.sh - the silence before the final dot: how long the "may have
# been delivered" mark takes, for a 100 KiB and a 30 MiB message.
#
# docmail marks an outbox item durably between a message's last byte
# and its final dot, and the server waits meanwhile.  bench/mark.c times
# the mark as docmail writes it (the State field in place) and the
# whole item rewritten (as before), best of RUNS, on the disk that holds
# DIR (default: a scratch directory under the build tree, the disk the
# user's outbox is likely on; /tmp may be memory).  A measurement, not a
# test: it never fails on numbers.     usage: bench/mark.sh [BUILDDIR] [RUNS] [DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
runs=${2:-9}
lib=$build/src/lib/libdocmail.a
[ -f "$lib" ] || { echo "build docmail first ($lib)" >&2; exit 1; }
w=$(mktemp -d "${3:-$build}/mark.XXXXXX")
trap 'rm -rf "$w"' EXIT
${CC:-cc} -O2 -I"$top/include" -o "$w/mark" "$top/bench/mark.c" "$lib"
printf '%-10s %12s %12s\n' size "in place" "rewritten"
for size in 102400 31457280; do
	"$w/mark" "$w/outbox" "$size" "$runs" | awk '{
		printf "%-10s %9.2f ms %9.2f ms\n",
		    ($1 >= 1048576 ? $1 / 1048576 " MiB" : $1 / 1024 " KiB"),
		    $2 / 1000, $3 / 1000 }'
done
