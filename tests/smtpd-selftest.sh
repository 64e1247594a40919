#!/bin/sh
# smtpd-selftest.sh - the test server itself behaves as the tests assume.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
exec "${PYTHON3:-/usr/bin/python3}" "$top_srcdir/tests/smtpd-selftest.py"
