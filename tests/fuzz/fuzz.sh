#!/bin/sh
# fuzz.sh - builds the fuzz targets with libFuzzer and runs each one
#
# "make fuzz" calls this with the compiler and flags.  The core is
# compiled again with the fuzzer's instrumentation and the sanitizers
# (never the gcc-built libdocmail.a) into tests/fuzz/build.  Each target
# starts from a copy of its seed corpus in tests/fuzz/work/NAME, so the
# corpus in the source tree never grows, and runs FUZZ_SECONDS seconds
# on one core.  Inputs that fail go to tests/fuzz/crashes/NAME/; fix
# the bug, then copy the input to tests/fuzz/regress/NAME/ so that
# "make check" replays it from then on.
#
# Environment: FUZZ_CC, FUZZ_SECONDS, FUZZ_TARGETS, FUZZ_SOURCES,
# FUZZ_CPPFLAGS, FUZZ_LIBS, top_srcdir, top_builddir; FUZZ_REQUIRE=1
# turns a missing libFuzzer into a failure rather than a skip.
set -eu

srcdir=$(cd "$top_srcdir" && pwd)
out=$(cd "$top_builddir" && pwd)/tests/fuzz
secs=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-}
flags="-fsanitize=address,undefined -fno-sanitize-recover=all"
flags="$flags -g -O1 -fno-omit-frame-pointer"

skip() {
	echo "make fuzz: $1" >&2
	if [ "${FUZZ_REQUIRE:-0}" = 1 ]; then
		exit 1
	fi
	echo "make fuzz: skipped; on Debian: apt-get install clang libclang-rt-14-dev, then make fuzz FUZZ_CC=clang" >&2
	exit 0
}

# The longest input worth trying per target: a few lines of addresses,
# a config file, a message with attachments, a run of server replies.
max_len() {
	case $1 in
	addr|tmpl)	echo 4096 ;;
	profile|reply)	echo 8192 ;;
	mime)		echo 16384 ;;
	*)		echo 4096 ;;
	esac
}

case $secs in
''|*[!0-9]*)	echo "make fuzz: FUZZ_SECONDS must be a number" >&2; exit 1 ;;
esac
[ -n "$cc" ] || skip "no compiler with libFuzzer was found by configure"
mkdir -p "$out/build"
probe=$out/build/probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *, size_t);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$probe.c"
if ! $cc -fsanitize=fuzzer $flags "$probe.c" -o "$probe" \
    >"$probe.log" 2>&1; then
	skip "'$cc' cannot link with -fsanitize=fuzzer (see $probe.log)"
fi

# The objects: rebuilt when their source or any header is newer.
headers="$srcdir/include/docmail/*.h $srcdir/src/lib/*.h"
headers="$headers $srcdir/tests/fuzz/fuzz.h $out/../../config.h"
compile() {
	obj=$out/build/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')
	stale=0
	if [ ! -f "$obj" ] || [ "$srcdir/$1" -nt "$obj" ]; then
		stale=1
	else
		for h in $headers; do
			if [ "$h" -nt "$obj" ]; then
				stale=1
				break
			fi
		done
	fi
	if [ $stale = 1 ]; then
		echo "  FUZZCC   $1" >&2
		# shellcheck disable=SC2086
		$cc -std=gnu11 -Wall -Wextra -fsanitize=fuzzer-no-link $flags \
		    $FUZZ_CPPFLAGS -c "$srcdir/$1" -o "$obj"
	fi
	echo "$obj"
}

core=
for f in $FUZZ_SOURCES; do
	case $f in
	*.c)	core="$core $(compile "$f")" ;;
	esac
done
util=$(compile tests/fuzz/fz-util.c)

# Scratch directories a crashed target could not remove.
rm -rf "$out"/work/fz.*
failed=
summary=
for t in $FUZZ_TARGETS; do
	obj=$(compile "tests/fuzz/fz-$t.c")
	bin=$out/build/fz-$t
	echo "  FUZZLD   $bin" >&2
	# shellcheck disable=SC2086
	$cc -fsanitize=fuzzer $flags $obj $util $core $FUZZ_LIBS -o "$bin"

	work=$out/work/$t
	rm -rf "$work"
	mkdir -p "$work" "$out/crashes/$t"
	cp "$srcdir/tests/fuzz/corpus/$t"/* "$work/"
	if [ -d "$srcdir/tests/fuzz/regress/$t" ]; then
		cp "$srcdir/tests/fuzz/regress/$t"/* "$work/" 2>/dev/null || :
	fi
	log=$out/work/$t.log
	echo "== fuzzing $t for $secs s (log: $log)"
	# Scratch files of the targets go under the work directory too.
	if (cd "$out/work" && TMPDIR=$out/work "$bin" \
	    -max_total_time="$secs" -max_len="$(max_len "$t")" \
	    -timeout=20 -print_final_stats=1 \
	    -artifact_prefix="$out/crashes/$t/" "$work") >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		summary="$summary
  $t: ${runs:-?} runs in $secs s, corpus $(ls "$work" | wc -l) inputs"
	else
		echo "fuzz target $t failed; the end of $log:" >&2
		tail -n 40 "$log" >&2
		ls -l "$out/crashes/$t" >&2
		failed="$failed $t"
		summary="$summary
  $t: FAILED, input in $out/crashes/$t/"
	fi
done
echo "== fuzzing done:$summary"
if [ -n "$failed" ]; then
	echo "make fuzz: failures in:$failed" >&2
	exit 1
fi
