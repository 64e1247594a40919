#!/bin/bash
# oauth2.sh - does an OAuth2 login cost more than a password?
#
# "docmail test" against one loopback server (tests/smtpd.py with
# Microsoft 365's EHLO, STARTTLS, AUTH with a password or with the tokens
# tests/idp.py issued), three ways: (a) a password, (b) a stored access token (no request to the
# identity provider), (c) a token that ends within 5 minutes, renewed at
# tests/idp.py before each login.  For each: whole-process wall time
# (best and median of RUNS) and peak RSS (GNU time %M).  A measurement,
# not a test: it never fails on numbers, but each timed run must say
# "test passed", and (b) must have made no request to the provider.
#                                   usage: bench/oauth2.sh [BUILDDIR] [RUNS]
set -eu

unset SSL_CERT_FILE SSL_CERT_DIR
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
runs=${2:-${RUNS:-10}}
docmail=$build/src/docmail
python=/usr/bin/python3
[ -x "$docmail" ] || { echo "build docmail first ($docmail)" >&2; exit 1; }
case $runs in '' | *[!0-9]* | 0) echo "RUNS must be a positive number" >&2; exit 64 ;; esac

. "$top/bench/lib.sh"
have /usr/bin/time time || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }

w=$(mktemp -d "${TMPDIR:-/tmp}/docmail-bench.XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	for p in $pids; do wait "$p" 2>/dev/null || :; done
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export HOME=$w/home XDG_CONFIG_HOME=$w/home/.config \
    XDG_DATA_HOME=$w/home/.local/share XDG_STATE_HOME=$w/home/.local/state
export LC_ALL=C.UTF-8
mkdir -p "$HOME"

# daemon SCRIPT DIR ARGS...: starts tests/SCRIPT, waits for DIR/port.
daemon() {
	local script=$1 dir=$2 i=0
	shift 2
	mkdir -p "$dir"
	"$python" "$top/tests/$script" --dir "$dir" --lifetime 900 "$@" \
	    >"$dir/err" 2>&1 &
	pids="$pids $!"
	while [ ! -s "$dir/port" ]; do
		i=$((i + 1))
		[ $i -le 400 ] || { echo "$script did not start:" >&2;
			cat "$dir/err" >&2; exit 1; }
		sleep 0.05
	done
}

pass=bench-Pa55w0rd
echo "anna:$pass" >"$w/auth"
echo "nobody:none" >"$w/tokens"
daemon idp.py "$w/idp" --issued "$w/tokens"
daemon smtpd.py "$w/srv" --mode starttls --ehlo-profile ms365 --auth-file "$w/auth" \
    --token-file "$w/tokens"
idp=https://127.0.0.1:$(cat "$w/idp/port")
cat "$w/srv/ca.pem" "$w/idp/ca.pem" >"$w/ca.pem"

# config NAME AUTH-LINES: a profile for the server.
config() {
	printf '[profile default]\nemail = anna@example.test\nhost = localhost\nport = %s\nsecurity = starttls\nuser = anna\nca_file = %s\n%s\n' \
	    "$(cat "$w/srv/port")" "$w/ca.pem" "$2" >"$w/$1.ini"
	chmod 600 "$w/$1.ini"
}
config password "password = $pass"
config oauth2 "auth = oauth2
oauth2_provider = custom
oauth2_client_id = docmail-test
oauth2_scope = https://outlook.office.com/SMTP.Send offline_access
oauth2_token_url = $idp/token
oauth2_device_url = $idp/devicecode"

# Sign in once, as a user would: the device code approved at idp.py.
"$docmail" --config "$w/oauth2.ini" login >"$w/login.out" 2>&1 &
lp=$!
for _ in $(seq 200); do
	code=$(awk '/enter the code/ { f = 1; next } f && NF { print $1; exit }' "$w/login.out")
	[ -n "$code" ] && break
	sleep 0.05
done
"$python" - "$w/idp" "$code" <<'EOF'
import ssl, sys, urllib.parse, urllib.request
d, code = sys.argv[1:3]
port = open(d + "/port").read().strip()
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
urllib.request.urlopen(f"https://127.0.0.1:{port}/approve",
    urllib.parse.urlencode({"user_code": code, "action": "approve"}).encode(),
    context=ctx).read()
EOF
wait "$lp" || { echo "the sign-in failed:" >&2; cat "$w/login.out" >&2; exit 1; }
store=$XDG_DATA_HOME/docmail/oauth2/default

# measure NAME CONFIG [near]: RUNS timed runs; "near" makes the stored
# token end within the renewal margin before each run.
measure() {
	local name=$1 cfg=$2 near=${3:-} i t0 t1 ms list= rss=0 r
	for i in $(seq "$runs"); do
		[ -z "$near" ] || sed -i "s/^expires .*/expires $(( $(date +%s) + 60 ))/" "$store"
		t0=$EPOCHREALTIME
		/usr/bin/time -f %M -o "$w/rss" "$docmail" --config "$w/$cfg.ini" \
		    test >"$w/out" 2>&1 || { echo "$name: run $i failed:" >&2;
			cat "$w/out" >&2; exit 1; }
		t1=$EPOCHREALTIME
		grep -q "^test passed" "$w/out" || { echo "$name: no 'test passed'" >&2; exit 1; }
		ms=$(echo "$t0 $t1" | awk '{ printf "%.1f", ($2 - $1) * 1000 }')
		list="$list $ms"
		r=$(cat "$w/rss")
		[ "$r" -le "$rss" ] || rss=$r
	done
	echo "$list" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk -v n="$name" -v rss="$rss" '
		{ v[NR] = $1 }
		END { printf "%-34s best %7.1f ms  median %7.1f ms  peak RSS %6d KB\n",
		      n, v[1], v[int((NR + 1) / 2)], rss }'
}

echo "docmail test, $runs runs each (loopback, STARTTLS):"
measure "password" password
before=$(grep -c 'token refresh' "$w/idp/log" || :)
measure "oauth2, stored token" oauth2
after=$(grep -c 'token refresh' "$w/idp/log" || :)
[ "$before" = "$after" ] || { echo "a stored token made requests" >&2; exit 1; }
echo "  (stored token: $((after - before)) requests to the identity provider)"
measure "oauth2, renewed before each run" oauth2 near
[ -z "$notes" ] || printf '%s' "$notes"
