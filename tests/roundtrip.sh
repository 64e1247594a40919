#!/bin/sh
# roundtrip.sh - Python's email package must read back exactly what went
# into "send --dry-run" (headers, body, file name, attachment bytes).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

cat >"$T/config.ini" <<'INI'
[profile default]
name = Anna Muster
email = anna@example.test
host = localhost
INI
rc=0
"$PYTHON3" "$top_srcdir/tests/roundtrip.py" "$DOCMAIL" "$T/config.ini" "$T" || rc=$?
[ "$rc" -eq 0 ] || tap_failed=1
done_testing
