#!/bin/sh
# oauth2-login.sh - 'docmail login' and 'logout' end to end: the device
# flow and the browser flow (pasted address, loopback redirect) against
# tests/idp.py, then test and send with the stored token at
# tests/smtpd.py, which takes exactly the tokens idp.py issued; refresh
# before expiry, after a refused token, by two processes at once;
# invalid_grant; Ctrl-C; no token in any output.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 74

cfg=$T/cfg.ini
STORE=$XDG_DATA_HOME/docmail/oauth2
ALL=$T/all-output	# every output, checked for tokens at the end
: >"$ALL"
dm() { run "$DOCMAIL" --config "$cfg" "$@"; cat "$T/out" "$T/err" >>"$ALL"; }

# The SMTP server takes the tokens idp.py issues (--issued); the line
# for "nobody" only makes the file valid before the first sign-in.
echo 'nobody:none' >"$T/tokens"

# after FILE TEXT: waits up to 20 s for TEXT in FILE; prints the line
# after it that is not blank.
after() {
	_i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $_i -lt 400 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	awk -v t="$2" 'f && NF { print $1; exit } index($0, t) { f = 1 }' "$1"
}
# login_bg [ARGS...]: 'docmail login' in the background, stdin from the
# fifo $T/paste, output in $T/li.out and $T/li.err; $lp is its pid.
login_bg() {
	rm -f "$T/paste" "$T/li.out" "$T/li.err"
	mkfifo "$T/paste"
	"$DOCMAIL" --config "$cfg" login "$@" <"$T/paste" >"$T/li.out" \
	    2>"$T/li.err" &
	lp=$!
	exec 7>"$T/paste"	# the writer's end, kept open
}
# login_end: waits for it; $rc is its status.
login_end() {
	rc=0
	wait "$lp" || rc=$?
	exec 7>&-
	cat "$T/li.out" "$T/li.err" >>"$ALL"
}
# expires PROFILE SECONDS: the stored access token ends in SECONDS.
expires() {
	sed -i "s/^expires .*/expires $(( $(date +%s) + $2 ))/" "$STORE/$1"
}
refreshes() { grep -c 'token refresh' "$T/idp/log"; }

start_idp bad --issued "$T/tokens" --fault invalid_grant
URL_BAD=$URL
start_idp idp --issued "$T/tokens"
start_server ms --mode starttls --ehlo-profile ms365 --token-file "$T/tokens"
cat "$T/ms/ca.pem" "$T/idp/ca.pem" "$T/bad/ca.pem" >"$T/ca.pem"
oauth() {	# oauth FLOW [KEY=VALUE...]: the profile for idp.py
	_flow=$1
	shift
	profile "$cfg" ms "$PORT_MS" starttls password= user=anna \
	    "ca_file=$T/ca.pem" auth=oauth2 oauth2_provider=custom \
	    oauth2_client_id=docmail-test "oauth2_token_url=$URL/token" \
	    "oauth2_scope=https://outlook.office.com/SMTP.Send offline_access" \
	    "$@"
	if [ "$_flow" = device ]; then
		echo "oauth2_device_url = $URL/devicecode" >>"$cfg"
	else
		echo "oauth2_auth_url = $URL/authorize" >>"$cfg"
	fi
}
PORT_MS=$PORT
oauth device

# --- before signing in ---------------------------------------------------
dm test
is_rc 77 "test before 'docmail login': exit 77"
has "$T/err" "not signed in" "it says the profile is not signed in"
has "$T/err" "docmail login" "and how to sign in"

# --- the device flow -----------------------------------------------------
login_bg
code=$(after "$T/li.out" "enter the code")
[ -n "$code" ]; ok $? "login prints a code to enter"
has "$T/li.out" "$URL/device" "and the address to open on any device"
has "$T/li.out" "Ctrl-C cancels" "and how to cancel the wait"
approve idp "$code"
login_end
is_rc 0 "the approved sign-in ends with exit 0"
has "$T/li.out" "signed in: profile 'default' sends as anna" "it says who signed in"
[ "$(stat -c %a "$STORE/default")" = 600 ]; ok $? "the token file is 0600"
grep -q "^devicecode .*scope=https://outlook.office.com/SMTP.Send offline_access" "$T/idp/log"
ok $? "the profile's scope was asked for"

dm test
is_rc 0 "test passes with the stored token"
grep -q '^  token  *ok .* ms  cached$' "$T/out"; ok $? "the token step says cached"
has "$T/ms/log" "auth-ok anna XOAUTH2" "the server took the issued token"
[ "$(refreshes)" -eq 0 ]; ok $? "a cached token makes no request"

dm send --yes --to k@x.test --subject "Invoice 7" --body "see attached"
is_rc 0 "send works with the stored token"
[ "$(delivered ms)" -eq 1 ]; ok $? "and the server received the message"

# --- refresh ---------------------------------------------------------------
expires default 120
dm test
is_rc 0 "a token that ends within 5 minutes is refreshed first"
grep -q '^  token  *ok .* ms  refreshed$' "$T/out"; ok $? "the token step says refreshed"
[ "$(refreshes)" -eq 1 ]; ok $? "with one refresh at the provider"
old_rt=$(sed -n 's/^refresh //p' "$STORE/default")
[ "$(printf 'h:%s\n' "$(printf '%s' "$old_rt" | sha256sum | cut -c1-8)")" = "$(cat "$T/idp/refresh")" ]
ok $? "the rotated refresh token was stored at once"

# A token the server refuses although it looks valid: one refresh, one
# more AUTH.
sed -i 's/^access .*/access at-revoked-by-the-server/' "$STORE/default"
expires default 3000
dm test
is_rc 0 "a refused token is refreshed once and the login tried again"
[ "$(grep -c '^auth-fail' "$T/ms/log")" -eq 1 ]; ok $? "the server refused one AUTH"
[ "$(refreshes)" -eq 2 ]; ok $? "and docmail refreshed once"

# Two docmail processes refreshing at once: one refresh, nothing lost.
expires default 60
"$DOCMAIL" --config "$cfg" test >"$T/p1.out" 2>&1 &
p1=$!
"$DOCMAIL" --config "$cfg" test >"$T/p2.out" 2>&1 &
p2=$!
r1=0 r2=0
wait $p1 || r1=$?
wait $p2 || r2=$?
cat "$T/p1.out" "$T/p2.out" >>"$ALL"
[ $r1 -eq 0 ] && [ $r2 -eq 0 ]; ok $? "two processes at once both pass"
[ "$(refreshes)" -eq 3 ]; ok $? "with one refresh between them (the other read the store)"
old_rt=$(sed -n 's/^refresh //p' "$STORE/default")
[ "$(printf 'h:%s\n' "$(printf '%s' "$old_rt" | sha256sum | cut -c1-8)")" = "$(cat "$T/idp/refresh")" ]
ok $? "the store holds the one valid refresh token"

# A refresh the provider refuses for good (revoked, 90 days unused).
oauth device "oauth2_token_url=$URL_BAD/token"
expires default 60
dm test
is_rc 77 "a refresh refused with invalid_grant is exit 77"
has "$T/err" "sign in again: docmail login" "with the hint to sign in again"
oauth device

# --- logout ------------------------------------------------------------------
dm logout
is_rc 0 "logout succeeds"
has "$T/out" "signed out" "and says so"
[ ! -e "$STORE/default" ]; ok $? "the token file is gone"
dm logout
is_rc 0 "a second logout is no error"
dm test
is_rc 77 "after logout, test is exit 77 again"

# --- the device flow's ends: denied, cancelled --------------------------------
login_bg
code=$(after "$T/li.out" "enter the code")
approve idp "$code" deny
login_end
is_rc 77 "a denied sign-in is exit 77"
has "$T/li.err" "denied" "and says it was denied"
[ ! -e "$STORE/default" ]; ok $? "nothing was stored"

login_bg
code=$(after "$T/li.out" "enter the code")
kill -INT "$lp"
login_end
is_rc 75 "Ctrl-C ends the wait (exit 75)"
has "$T/li.err" "sign-in cancelled" "saying the sign-in was cancelled"
[ ! -e "$STORE/default" ]; ok $? "and nothing was stored"

# --- the browser flow: the pasted address over SSH ---------------------------
oauth code
login_bg
url=$(after "$T/li.out" "open this address in a browser")
case $url in "$URL/authorize?"*) r=0 ;; *) r=1 ;; esac
ok $r "the browser flow prints the authorization address"
case $url in *code_challenge_method=S256*state=*|*state=*code_challenge_method=S256*) r=0 ;; *) r=1 ;; esac
ok $r "with PKCE S256 and a state"
loc=$(browse idp "$url")
case $loc in http://127.0.0.1:*code=*) r=0 ;; *) r=1 ;; esac
ok $r "the provider sends the browser to the loopback address"
# A paste from an earlier sign-in (another state) is refused and asked again.
printf '%s\n' "$(printf '%s' "$loc" | sed 's/state=[^&]*/state=not-this-one/')" >&7
printf 'no address at all\n' >&7
printf '%s\n' "$loc" >&7
login_end
is_rc 0 "the right pasted address signs in"
[ "$(grep -c '^docmail: ' "$T/li.err")" -eq 2 ]; ok $? "after two wrong pastes, each with its error"
has "$T/li.err" "state" "a foreign state is named as the cause"
[ "$(grep -o 'address: ' "$T/li.out" | wc -l)" -ge 3 ]; ok $? "the address was asked for again each time"
has "$T/idp/log" "pkce=ok" "the provider checked the verifier"
dm test
is_rc 0 "test passes after the browser sign-in"

# --- the browser flow: the browser on this machine -------------------------
dm logout
login_bg
url=$(after "$T/li.out" "open this address in a browser")
loc=$(browse idp "$url")
fetch "$loc" >"$T/page"
login_end
is_rc 0 "the loopback redirect signs in by itself"
has "$T/page" "close" "the browser is told it can close the window"
has "$T/li.out" "signed in" "and docmail says it signed in"
dm test
is_rc 0 "test passes after it"

# --- --profile, before or after the command --------------------------------
cat >>"$cfg" <<EOF

[profile work]
email = anna@example.test
host = localhost
port = $PORT_MS
security = starttls
user = anna
ca_file = $T/ca.pem
auth = oauth2
oauth2_provider = custom
oauth2_client_id = docmail-test
oauth2_token_url = $URL/token
oauth2_device_url = $URL/devicecode
EOF
login_bg --profile work
code=$(after "$T/li.out" "enter the code")
approve idp "$code"
login_end
is_rc 0 "login --profile work signs in"
[ -f "$STORE/work" ]; ok $? "into the store of profile work"
dm --profile work logout
is_rc 0 "docmail --profile work logout"
[ ! -e "$STORE/work" ] && [ -f "$STORE/default" ]
ok $? "removes that profile's tokens only"

# --- in a real terminal, as over SSH -----------------------------------------
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
# shown LABEL: the first word of the first non-blank line after LABEL,
# wrapped lines joined (an address is longer than the terminal is wide).
shown() {
	tmux -L "$TMUX_SOCK" capture-pane -p -J |
	    awk -v t="$1" 'f && NF { print $1; exit } index($0, t) { f = 1 }'
}
dm logout
term "env $envs '$DOCMAIL' --config '$cfg' login"
wait_for "address: "
loc=$(browse idp "$(shown "open this address in a browser")")
keys -l "$loc"
keys Enter
wait_for "signed in: profile 'default'"
ok $? "in a terminal: the address pasted at the prompt signs in"
wait_for "EXIT=0"
ok $? "and login ends with exit 0"
term "env $envs '$DOCMAIL' --config '$cfg' --profile work login"
wait_for "enter the code"
approve idp "$(shown "enter the code")"
wait_for "signed in: profile 'work'"
ok $? "in a terminal: the device code on the screen signs in"
screen >>"$ALL"
term_stop

# --- profiles docmail does not sign in for --------------------------------
profile "$cfg" ms "$PORT_MS" starttls
dm login
is_rc 78 "login on a password profile is exit 78"
has "$T/err" "logs in with a password, not OAuth2" "it says why"
has "$T/err" "auth = oauth2" "and what to set"
oauth device "oauth2_token_command=/bin/echo tok"
dm login
is_rc 78 "login on a profile with oauth2_token_command is exit 78"
has "$T/err" "oauth2_token_command" "naming the helper that signs in"
oauth device oauth2_client_id=
dm login
is_rc 78 "login without oauth2_client_id is exit 78"
has "$T/err" "oauth2_client_id is not set" "naming the key"
dm login extra
is_rc 64 "login takes no arguments"

# --- libcurl is loaded only for HTTPS: without it a sign-in says what is
# missing, and a password profile still sends (root: a mount namespace
# hides the library behind an empty file)
lib=$(ldconfig -p | awk '/libcurl\.so\.4 / && /x86-64|x32|aarch64|64bit/ { print $NF; exit }')
if [ "$(id -u)" = 0 ] && [ -n "$lib" ] && unshare -m true 2>/dev/null; then
	nocurl() {
		run unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' \
		    sh "$lib" "$DOCMAIL" --config "$cfg" "$@"
	}
	oauth device
	nocurl login
	is_rc 78 "without libcurl, login is exit 78"
	has "$T/err" "needs libcurl, which cannot be loaded" "saying libcurl is missing"
	has "$T/err" "apt-get install libcurl4" "and how to install it"
	printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
	start_server pw --mode starttls --auth-file "$T/auth"
	profile "$cfg" pw "$PORT" starttls
	nocurl send --yes --to a@x.test --subject NoCurl --body B
	is_rc 0 "without libcurl, a profile without OAuth2 still sends"
else
	for d in "without libcurl, login is exit 78" "saying libcurl is missing" \
	    "and how to install it" "without libcurl, a profile without OAuth2 still sends"; do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n # SKIP $d: needs root and unshare"
	done
fi

# --- secrets ------------------------------------------------------------------
leaked=0
while IFS=: read -r _u tok; do
	[ "$tok" = none ] && continue
	grep -qF -- "$tok" "$ALL" && leaked=1
done <"$T/tokens"
[ $leaked -eq 0 ]; ok $? "no issued token appears in any output"
rt=$(sed -n 's/^refresh //p' "$STORE/default")
[ -n "$rt" ] && ! grep -qF -- "$rt" "$ALL"; ok $? "nor the stored refresh token"
leaked=0
while IFS=: read -r _u tok; do
	[ "$tok" = none ] && continue
	grep -rqF -- "$tok" "$XDG_DATA_HOME/docmail/outbox" "$XDG_STATE_HOME" \
	    "$cfg" 2>/dev/null && leaked=1
done <"$T/tokens"
[ $leaked -eq 0 ]; ok $? "no token in the outbox, the sent log or the config"

done_testing
