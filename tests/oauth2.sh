#!/bin/sh
# oauth2.sh - the OAuth2 core against a loopback identity provider
# (tests/idp.py), driven one operation at a time by tests/oauth2-drive:
# device and browser sign-in, refresh with rotation, two processes
# refreshing at once, invalid_grant, every bad answer, no token shown.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 77

DRIVE_BIN=$top_builddir/tests/oauth2-drive
DRIVE=$DRIVE_BIN
if [ ! -x "$DRIVE_BIN" ]; then
	echo "Bail out! $DRIVE_BIN is missing ('make check' builds it)"
	exit 1
fi
# Under DM_VALGRIND the driver runs through valgrind as docmail does
# (lib.sh): same log directory and tag, so done_testing reports it.
if [ -n "${DM_VALGRIND:-}" ]; then
	DRIVE=$T/drive-vg
	printf '%s\n' '#!/bin/sh' \
	    "exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file='$DM_VALGRIND/$vg_tag.%p.log' '$DRIVE_BIN' \"\$@\"" \
	    >"$DRIVE"
	chmod +x "$DRIVE"
fi
STORE=$XDG_DATA_HOME/docmail/oauth2
ALL=$T/all-output	# everything the driver printed, checked for tokens
: >"$ALL"

# drive [ARGS...] OP: runs the driver against $URL with $CA.
drive() {
	run "$DRIVE" -u "$URL" -c "$CA" "$@"
	cat "$T/out" "$T/err" >>"$ALL"
}

# wait_file FILE: waits up to 10 s for FILE to exist and not be empty.
wait_file() {
	_i=0
	while [ ! -s "$1" ] && [ $_i -lt 200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -s "$1" ]
}

# field PROFILE KEY: a line's value in the profile's store file.
field() { sed -n "s/^$2 //p" "$STORE/$1"; }
hashof() {
	printf 'h:%s\n' "$(printf '%s' "$1" | sha256sum | cut -c1-8)"
}

# device_login NAME PROFILE: a full device sign-in at idp NAME.
device_login() {
	rm -f "$T/uc"
	"$DRIVE" -u "$URL" -c "$CA" -p "$2" -o "$T/uc" device-login \
	    >"$T/dl.out" 2>"$T/dl.err" &
	_dp=$!
	wait_file "$T/uc" && approve "$1" "$(cat "$T/uc")"
	rc=0
	wait "$_dp" || rc=$?
	cat "$T/dl.out" "$T/dl.err" >>"$ALL"
}

# elapsed: seconds since the last "t0=$(date +%s)"
elapsed() { echo $(( $(date +%s) - t0 )); }

# --- device flow, store, cached token ----------------------------------

start_idp idp --token-len 3000
device_login idp work
is_rc 0 "device flow: approved sign-in succeeds"
has "$T/dl.out" "signed in" "device flow: says signed in"
ok "$([ "$(stat -c %a "$STORE/work")" = 600 ]; echo $?)" \
    "store: the token file is 0600"
ok "$([ "$(stat -c %a "$STORE")" = 700 ]; echo $?)" \
    "store: its directory is 0700"
ok "$([ "$(field work refresh | tr -d '\n' | wc -c)" -eq 3000 ]; echo $?)" \
    "store: a 3000-character refresh token is kept whole"
ok "$([ "$(hashof "$(field work refresh)")" = "$(cat "$T/idp/refresh")" ]; echo $?)" \
    "store: holds the refresh token the provider issued"
drive token
is_rc 0 "token: a fresh token is handed out"
has "$T/out" "cached len=3000" "token: cached, 3000 characters intact"
ok "$([ "$(grep -c 'token refresh' "$T/idp/log")" -eq 0 ]; echo $?)" \
    "token: a cached token makes no request"
drive logout
is_rc 0 "logout: succeeds"
ok "$([ ! -e "$STORE/work" ]; echo $?)" "logout: the token file is gone"
drive token
is_rc 77 "token: after logout, exit 77"
has "$T/err" "not signed in: run docmail login" "token: says not signed in"

# --- refresh, rotation, invalid_grant ------------------------------------

# Tokens that live 200 s are always within the 5-minute margin: each
# call refreshes.
start_idp short --expires-in 200 --token-len 3000
device_login short r
is_rc 0 "refresh: signed in"
old=$(field r refresh)
cp "$STORE/r" "$T/r.before"
drive -p r token
is_rc 0 "refresh: a token about to expire is refreshed"
has "$T/out" "refreshed len=3000" "refresh: says refreshed, token whole"
has "$T/short/log" "token refresh old=$(hashof "$old")" \
    "refresh: the stored refresh token was sent"
ok "$([ "$(hashof "$(field r refresh)")" = "$(cat "$T/short/refresh")" ]; echo $?)" \
    "refresh: the rotated refresh token is stored at once"
ok "$([ "$(hashof "$(field r access)")" = "$(sed -n 's/.* //p' "$T/out")" ]; echo $?)" \
    "refresh: the new access token is stored"
hasnt "$T/short/log" "AADSTS900144" "refresh: the scope is sent again"
drive -p r token
is_rc 0 "refresh: again, with the rotated token"
# A client that lost the rotated token: the provider refuses the old one.
cp "$T/r.before" "$STORE/r"
drive -p r token
is_rc 77 "invalid_grant: a used refresh token gives exit 77"
has "$T/err" "sign in again: docmail login" "invalid_grant: says sign in again"
has "$T/err" "AADSTS50173" "invalid_grant: quotes the provider"

# --- two processes refreshing at once ----------------------------------

start_idp slow --expires-in 200 --delay 0.5
device_login slow two
is_rc 0 "concurrent: signed in"
for round in 1 2 3; do
	"$DRIVE" -u "$URL" -c "$CA" -p two token >"$T/c1" 2>&1 &
	p1=$!
	"$DRIVE" -u "$URL" -c "$CA" -p two token >"$T/c2" 2>&1 &
	p2=$!
	r1=0 r2=0
	wait $p1 || r1=$?
	wait $p2 || r2=$?
	cat "$T/c1" "$T/c2" >>"$ALL"
	ok "$([ $r1 -eq 0 ] && [ $r2 -eq 0 ]; echo $?)" \
	    "concurrent: round $round, both processes get a token"
	[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || diag "$(cat "$T/c1" "$T/c2")"
done
ok "$([ "$(hashof "$(field two refresh)")" = "$(cat "$T/slow/refresh")" ]; echo $?)" \
    "concurrent: the store ends with the newest refresh token"
hasnt "$T/slow/log" "invalid_grant" "concurrent: no refresh token was lost"

# The second process finds the first one's fresh token under the lock
# and makes no request (long-lived tokens; the stored one made stale).
start_idp long --delay 0.5
device_login long three
sed -i 's/^expires .*/expires 1/' "$STORE/three"
"$DRIVE" -u "$URL" -c "$CA" -p three token >"$T/c1" 2>&1 &
p1=$!
"$DRIVE" -u "$URL" -c "$CA" -p three token >"$T/c2" 2>&1 &
p2=$!
r1=0 r2=0
wait $p1 || r1=$?
wait $p2 || r2=$?
cat "$T/c1" "$T/c2" >>"$ALL"
ok "$([ $r1 -eq 0 ] && [ $r2 -eq 0 ]; echo $?)" \
    "concurrent: both succeed with a long-lived token"
ok "$([ "$(grep -c 'token refresh' "$T/long/log")" -eq 1 ]; echo $?)" \
    "concurrent: one refresh request, the other process reused it"
ok "$(cat "$T/c1" "$T/c2" | grep -c '^cached' | grep -qx 1; echo $?)" \
    "concurrent: the process that waited reports cached"

# --- device flow faults --------------------------------------------------

start_idp pend --fault pending:2
t0=$(date +%s)
device_login pend p
is_rc 0 "authorization_pending: polling goes on until signed in"
ok "$([ "$(grep -c 'token error authorization_pending' "$T/pend/log")" -ge 2 ]; echo $?)" \
    "authorization_pending: polled through the pending answers"
start_idp slowdown --fault slow_down
t0=$(date +%s)
device_login slowdown p
is_rc 0 "slow_down: still signs in"
ok "$([ "$(elapsed)" -ge 5 ]; echo $?)" "slow_down: the interval grew by 5 s"
start_idp denied --fault access_denied
device_login denied p
is_rc 77 "access_denied: exit 77"
has "$T/dl.err" "sign-in was denied" "access_denied: says so"
start_idp expired --fault expired_token
device_login expired p
is_rc 77 "expired_token: exit 77"
has "$T/dl.err" "the sign-in code expired" "expired_token: says so"
# Cancelled by the user (SIGTERM sets the cancel flag).
URL=https://127.0.0.1:$(cat "$T/idp/port") CA=$T/idp/ca.pem
rm -f "$T/uc"
"$DRIVE" -u "$URL" -c "$CA" -p c -o "$T/uc" device-login \
    >"$T/dl.out" 2>"$T/dl.err" &
dp=$!
wait_file "$T/uc"
t0=$(date +%s)
kill -TERM $dp
rc=0
wait $dp || rc=$?
is_rc 75 "cancel: a cancelled device sign-in exits 75"
ok "$([ "$(elapsed)" -le 3 ]; echo $?)" "cancel: within moments"

# --- authorization code + PKCE ---------------------------------------------

start_idp code
rm -f "$T/url"
"$DRIVE" -u "$URL" -c "$CA" -f code -p g -o "$T/url" code-login \
    >"$T/cl.out" 2>"$T/cl.err" &
dp=$!
wait_file "$T/url"
has "$T/url" "code_challenge_method=S256" "code flow: the address asks for PKCE S256"
has "$T/url" "redirect_uri=http%3A%2F%2F127.0.0.1%3A" \
    "code flow: the redirect goes to 127.0.0.1"
loc=$(browse code "$(cat "$T/url")")
fetch "$loc" >"$T/page"
rc=0
wait $dp || rc=$?
cat "$T/cl.out" "$T/cl.err" >>"$ALL"
is_rc 0 "code flow: the loopback listener catches the redirect"
has "$T/page" "You can close this window" "code flow: the browser is told to close"
has "$T/code/log" "token authorization_code pkce=ok" \
    "code flow: the provider verified the PKCE verifier"
ok "$([ -s "$STORE/g" ]; echo $?)" "code flow: tokens stored"

# The SSH case: the address the browser ended on is pasted.
rm -f "$T/url" "$T/in"
mkfifo "$T/in"
"$DRIVE" -u "$URL" -c "$CA" -f code -p g2 -o "$T/url" code-paste \
    <"$T/in" >"$T/cl.out" 2>"$T/cl.err" &
dp=$!
exec 7>"$T/in"
wait_file "$T/url"
browse code "$(cat "$T/url")" >&7
exec 7>&-
rc=0
wait $dp || rc=$?
cat "$T/cl.out" "$T/cl.err" >>"$ALL"
is_rc 0 "code flow: a pasted address signs in"
# A pasted address from another sign-in (wrong state).
rm -f "$T/url" "$T/in"
mkfifo "$T/in"
"$DRIVE" -u "$URL" -c "$CA" -f code -p g3 -o "$T/url" code-paste \
    <"$T/in" >"$T/cl.out" 2>"$T/cl.err" &
dp=$!
exec 7>"$T/in"
wait_file "$T/url"
echo "http://127.0.0.1:1/?code=abc&state=not-this-one" >&7
exec 7>&-
rc=0
wait $dp || rc=$?
is_rc 65 "code flow: a pasted address with a wrong state is exit 65"
has "$T/cl.err" "state does not match" "code flow: says the state is wrong"
# The user denies in the browser.
start_idp deny --fault deny
rm -f "$T/url"
"$DRIVE" -u "$URL" -c "$CA" -f code -p g4 -o "$T/url" code-login \
    >"$T/cl.out" 2>"$T/cl.err" &
dp=$!
wait_file "$T/url"
fetch "$(browse deny "$(cat "$T/url")")" >/dev/null 2>&1
rc=0
wait $dp || rc=$?
is_rc 77 "code flow: a denied sign-in is exit 77"
has "$T/cl.err" "sign-in was denied" "code flow: says denied"

# --- bad answers: each within bounded time ----------------------------

# A stale token with some refresh token: the next call must refresh.
stale() {
	mkdir -p "$STORE"
	printf 'docmail-oauth2 1\nexpires 1\naccess old\nrefresh rt-x\n' \
	    >"$STORE/bad"
	chmod 600 "$STORE/bad"
}
for f in garbage:76:"not JSON" html:76:"HTML" huge:76:"too large" \
    noaccess:76:"no access_token" status500:75:"HTTP 500" \
    hang:75:"did not answer in time"; do
	name=${f%%:*} rest=${f#*:}
	want=${rest%%:*} text=${rest#*:}
	start_idp "f-$name" --fault "$name"
	stale
	t0=$(date +%s)
	drive -p bad -t 3 token
	is_rc "$want" "fault $name: exit $want"
	ok "$([ "$(elapsed)" -le 15 ]; echo $?)" "fault $name: within bounded time"
	has "$T/err" "$text" "fault $name: says '$text'"
done
start_idp ig --fault invalid_grant
stale
drive -p bad token
is_rc 77 "fault invalid_grant: exit 77"

# Connection refused: a port nobody listens on.
URL=https://127.0.0.1:1
stale
drive -p bad -t 3 token
is_rc 75 "connection refused: exit 75"
# The provider's certificate is not trusted without its CA.
URL=https://127.0.0.1:$(cat "$T/idp/port")
run "$DRIVE" -u "$URL" -p bad -t 3 token
is_rc 77 "untrusted certificate: exit 77"
run "$DRIVE" -u "http://127.0.0.1:1" -p bad token
is_rc 78 "an http:// provider is a configuration error"

# --- no token anywhere -------------------------------------------------

leak=0
for f in "$STORE"/*; do
	[ -f "$f" ] || continue
	for tkn in $(sed -n 's/^access //p; s/^refresh //p' "$f"); do
		[ "${#tkn}" -ge 20 ] || continue
		if grep -qF -- "$tkn" "$ALL" "$T"/*/log; then
			leak=1
			diag "a token of $(basename "$f") shows in output or log"
		fi
	done
done
ok "$leak" "no token in any output or provider log"

stop_servers
done_testing
