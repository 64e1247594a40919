# lib.sh - TAP helpers for the script tests; source it, then call plan.
#
# The tests run the real binary ($DOCMAIL) in a private directory ($T)
# that is removed on exit, with HOME and the XDG directories inside it,
# so no user configuration is ever read or written.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
DOCMAIL_BIN=$top_builddir/src/docmail
DOCMAIL=$DOCMAIL_BIN
REAL_SAMPLES=$top_srcdir/samples

T=$(mktemp -d "${TMPDIR:-/tmp}/docmail-test.XXXXXX")
# The tests type their own recipients: their samples' sidecars lack the
# to, cc and bcc that would prefill the send dialog (REAL_SAMPLES has
# them, for the tests of that).
SAMPLES=$T/samples
mkdir -p "$SAMPLES"
for _f in "$REAL_SAMPLES"/*; do
	case $_f in
	*.pdf.ini) grep -v '^\(to\|cc\|bcc\) *=' "$_f" >"$SAMPLES/${_f##*/}" ;;
	*) cp "$_f" "$SAMPLES/" ;;
	esac
done
trap 'rm -rf "$T"' EXIT

# DM_VALGRIND=DIR: every docmail a test runs goes through valgrind, one
# log per process in DIR; done_testing fails the script if a log shows an
# error or a definite leak.  Exit codes are left alone, so each test still
# checks what it checks.
if [ -n "${DM_VALGRIND:-}" ]; then
	mkdir -p "$DM_VALGRIND"
	vg_tag=$(basename "$0" .sh)
	vg_supp=$(cd "$top_srcdir" && pwd)/tests/valgrind.supp
	DOCMAIL=$T/docmail-vg
	printf '%s\n' '#!/bin/sh' \
	    "exec valgrind -q --suppressions='$vg_supp' --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file='$DM_VALGRIND/$vg_tag.%p.log' '$DOCMAIL_BIN' \"\$@\"" \
	    >"$DOCMAIL"
	chmod +x "$DOCMAIL"
fi
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" \
    XDG_DATA_HOME="$T/home/.local/share" XDG_STATE_HOME="$T/home/.local/state"
mkdir -p "$HOME"
unset SOURCE_DATE_EPOCH DOCMAIL_MESSAGE_ID
# The tests read docmail's English text, whatever the caller's language:
# C.UTF-8 has no catalogue, and an empty LANGUAGE is no choice at all (a
# caller's LC_ALL=de_CH.UTF-8 would have given German messages).
LC_ALL=C.UTF-8
LANGUAGE=
export LC_ALL LANGUAGE

tap_n=0
tap_failed=0

plan() { echo "1..$1"; }

ok() {	# ok STATUS DESCRIPTION; returns STATUS
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
	return "$1"
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# run CMD...: runs it, keeping stdout in $T/out, stderr in $T/err and
# the exit status in $rc.
run() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
}

# is_rc WANT DESCRIPTION: checks $rc from the last run.
is_rc() {
	if [ "$rc" -eq "$1" ]; then
		ok 0 "$2"
	else
		ok 1 "$2"
		diag "exit status $rc, want $1" "stderr:" "$(head -c 2000 "$T/err")"
	fi
}

# has FILE PATTERN DESCRIPTION: FILE has a line matching the fixed string.
has() {
	if grep -qF -- "$2" "$1"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "'$2' not found in:" "$(head -c 2000 "$1")"
	fi
}

# hasnt FILE PATTERN DESCRIPTION
hasnt() {
	if grep -qF -- "$2" "$1"; then
		ok 1 "$3"
		diag "'$2' unexpectedly found in:" "$(grep -F -- "$2" "$1" | head -5)"
	else
		ok 0 "$3"
	fi
}

done_testing() {
	if [ -n "${DM_VALGRIND:-}" ]; then
		for _l in "$DM_VALGRIND/$vg_tag".*.log; do
			[ -s "$_l" ] || continue
			echo "# valgrind found errors: $_l"
			sed 's/^/# /' "$_l" | head -n 80
			tap_failed=$((tap_failed + 1))
		done
	fi
	if [ "$tap_failed" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

# --- loopback SMTP servers (tests/smtpd.py) -------------------------

SERVERS=

# start_daemon SCRIPT WHAT NAME ARGS...: starts tests/SCRIPT with its
# files in $T/NAME, waits until it listens and sets $PORT.  Stopped at
# exit; WHAT names it if it does not start.  Its variables have a prefix
# of their own: the callers' _what, _name ... are theirs.  The lifetime
# only bounds a server left behind: smtp.sh under valgrind takes about
# 280 s on two CPUs, and its first server must last to the end.
start_daemon() {
	_sd_script=$1 _sd_what=$2 _name=$3
	shift 3
	mkdir -p "$T/$_name"
	"$PYTHON3" "$top_srcdir/tests/$_sd_script" --dir "$T/$_name" \
	    --lifetime 900 "$@" >"$T/$_name/stderr" 2>&1 &
	SERVERS="$SERVERS $!"
	_sd_i=0
	while [ ! -s "$T/$_name/port" ]; do
		_sd_i=$((_sd_i + 1))
		if [ $_sd_i -gt 200 ]; then
			echo "Bail out! $_sd_what '$_name' did not start"
			cat "$T/$_name/stderr" >&2
			exit 1
		fi
		sleep 0.05
	done
	PORT=$(cat "$T/$_name/port")
}

# start_server NAME ARGS...: a test SMTP server (tests/smtpd.py).
start_server() {
	start_daemon smtpd.py "test server" "$@"
}

stop_servers() {
	for _p in $SERVERS; do
		kill "$_p" 2>/dev/null
	done
	for _p in $SERVERS; do
		wait "$_p" 2>/dev/null
	done
	SERVERS=
}
trap 'term_stop 2>/dev/null; stop_servers; rm -rf "$T"' EXIT

# fetch URL: GET a loopback http:// address (the listener), print the body.
fetch() {
	"$PYTHON3" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"
}

# profile FILE SERVER PORT SECURITY [KEY=VALUE...]: writes a 0600 config
# for the demo account anna with the password in $PASSWORD, trusting
# SERVER's CA.  KEY=VALUE replaces a key (an empty VALUE removes it) or
# adds one.
PASSWORD='Pa55-w0rd!x'
profile() {
	_f=$1 _srv=$2 _port=$3 _sec=$4
	shift 4
	{
		echo "[profile default]"
		for _kv in "name=Anna Muster" "email=anna@example.test" \
		    "host=localhost" "port=$_port" "security=$_sec" "user=anna" \
		    "password=$PASSWORD" "ca_file=$T/$_srv/ca.pem" "timeout=3" \
		    "$@"; do
			echo "$_kv"
		done
	} | awk -F= '
		NR == 1 { print; next }
		{ k = $1; v = substr($0, length(k) + 2)
		  if (!(k in val)) order[++n] = k
		  val[k] = v }
		END { for (i = 1; i <= n; i++)
			if (val[order[i]] != "") print order[i] " = " val[order[i]] }
	' >"$_f"
	chmod 600 "$_f"
}

# delivered NAME: how many messages server NAME accepted.
delivered() {
	ls "$T/$1/mail/" 2>/dev/null | grep -c '\.json$'
}

# wait_log NAME TEXT [N]: wait (up to 60 s) until server NAME's log has
# N (default 1) lines with TEXT: a test that signals a running docmail
# waits until it is talking to the server, however slowly it started
# (valgrind).
wait_log() {
	_wl_i=0
	while [ "$(grep -c "$2" "$T/$1/log" 2>/dev/null)" -lt "${3:-1}" ]; do
		_wl_i=$((_wl_i + 1))
		[ $_wl_i -gt 600 ] && return 1
		sleep 0.1
	done
	return 0
}

# wait_locked BOX: wait (up to 30 s) until some docmail holds the lock
# of an item in outbox BOX (a byte of BOX/lock, as dm_outbox_lock()
# takes it): it has taken the item to send it.
wait_locked() {
	"$PYTHON3" - "$1/lock" <<'PY'
import fcntl, os, struct, sys, time
# struct flock: l_type, l_whence, l_start, l_len, l_pid (Linux, 64-bit off_t)
want = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
for _ in range(300):
    try:
        fd = os.open(sys.argv[1], os.O_RDONLY)
    except FileNotFoundError:
        time.sleep(0.1)
        continue
    got = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, want)
    os.close(fd)
    if struct.unpack("hhqqi4x", got)[0] != fcntl.F_UNLCK:
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
}

# The real servers' EHLO replies (smtpd.py --ehlo-profile) that every
# scenario reaching the data phase runs against: both advertise
# CHUNKING, Microsoft 365 BINARYMIME too, and docmail must still send
# by DATA.  A script loops over them where a scenario is cheap, and
# alternates them where it waits out timeouts.
DATA_PROFILES="ms365 postfix"

# by_data NAME N DESCRIPTION: server NAME's log shows that docmail sent
# by DATA (at least once) and never by BDAT, and NAME stored N messages.
by_data() {
	_bdat=$(grep -c -e '^BDAT' -e '^bdat-' -e ' via BDAT$' "$T/$1/log")
	_data=$(grep -c '^DATA$' "$T/$1/log")
	_n=$(delivered "$1")
	if [ "$_bdat" -eq 0 ] && [ "$_data" -ge 1 ] && [ "$_n" -eq "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "$_bdat BDAT lines, $_data DATA commands, $_n stored (want $2):" \
		    "$(grep -e '^BDAT' -e '^DATA' -e '^data-end' "$T/$1/log" | head -6)"
	fi
}

# rcpts JSON: the envelope recipients the server stored, comma-separated.
rcpts() {
	"$PYTHON3" -c 'import json, sys
print(",".join(json.load(open(sys.argv[1]))["rcpt_tos"]))' "$1"
}

# --- the loopback identity provider (tests/idp.py) ------------------

# start_idp NAME ARGS...: starts tests/idp.py in $T/NAME; sets $URL, $CA.
start_idp() {
	start_daemon idp.py "identity provider" "$@"
	URL=https://127.0.0.1:$PORT
	CA=$T/$1/ca.pem
}

# approve NAME CODE: the user approves the device code at idp NAME.
approve() {
	"$PYTHON3" - "$T/$1" "$2" "${3:-approve}" <<'EOF'
import ssl, sys, urllib.parse, urllib.request
d, code, action = sys.argv[1:4]
port = open(d + "/port").read().strip()
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
data = urllib.parse.urlencode({"user_code": code, "action": action})
urllib.request.urlopen(f"https://127.0.0.1:{port}/approve",
                       data.encode(), context=ctx).read()
EOF
}

# browse NAME URL: plays the browser: GET the authorization URL at idp
# NAME, print where its redirect points (not followed).
browse() {
	"$PYTHON3" - "$T/$1" "$2" <<'EOF'
import http.client, ssl, sys, urllib.parse
d, url = sys.argv[1:3]
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
c.request("GET", u.path + "?" + u.query)
r = c.getresponse()
print(r.getheader("Location", ""))
EOF
}

# --- a real terminal: tmux on a private socket ------------------------

TMUX_SOCK=
tmux_n=0
# term CMD [COLS ROWS]: runs CMD (a shell string) in a new tmux session,
# 80x24 unless given, on a socket of its own (a killed server may
# linger); when CMD ends, "EXIT=<status>" is shown and the pane stays.
term() {
	term_stop
	tmux_n=$((tmux_n + 1))
	TMUX_SOCK=dm-$$-$tmux_n
	tmux -L "$TMUX_SOCK" -f /dev/null new-session -d -x "${2:-80}" \
	    -y "${3:-24}" "$1; echo EXIT=\$?; sleep 600"
}
screen() { tmux -L "$TMUX_SOCK" capture-pane -p -S -100; }
keys() { tmux -L "$TMUX_SOCK" send-keys "$@"; }
# wait_for TEXT [SECONDS]: polls the screen for TEXT; returns 1 on timeout.
# A TEXT of several lines waits for any one of them (grep -F's list).
wait_for() {
	_n=$(( ${2:-10} * 20 ))
	while [ $_n -gt 0 ]; do
		if screen | grep -qF -- "$1"; then
			return 0
		fi
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "timed out waiting for '$1'; the screen:" "$(screen)"
	return 1
}
# type_field TEXT: types into the current field, replacing its value
type_field() {
	keys End
	keys -N 60 BSpace
	keys -l "$1"
}
# wait_joined TEXT [SECONDS]: as wait_for, with the screen's lines and
# runs of blanks joined into one line (for text a field or a message wraps)
wait_joined() {
	_n=$(( ${2:-10} * 20 ))
	while [ $_n -gt 0 ]; do
		screen | tr -s ' \n' ' ' | grep -qF -- "$1" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	diag "timed out waiting for '$1' (lines joined); the screen:" "$(screen)"
	return 1
}
term_stop() {
	[ -z "$TMUX_SOCK" ] || tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	TMUX_SOCK=
}

# --- the fault library (tests/faultshim.c) ----------------------------

# preload: the LD_PRELOAD value that loads tests/faultshim.so into
# docmail; a sanitizer runtime docmail links must come first.
preload() {
	_shim=$top_builddir/tests/faultshim.so
	if [ ! -f "$_shim" ]; then
		echo "Bail out! $_shim is missing ('make check' builds it)"
		exit 1
	fi
	_asan=$(ldd "$DOCMAIL" 2>/dev/null | awk '/libasan/ { print $3 }')
	echo "${_asan:+$_asan }$_shim"
}
