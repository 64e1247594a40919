#!/bin/sh
# tui-oauth2.sh - OAuth2 on the settings screen in a real terminal
# (tmux), against the loopback identity provider (tests/idp.py) and SMTP
# server (tests/smtpd.py): the Authentication choice, Sign in with the
# device code read off the screen, Test connection with the stored
# token, Save; denial, expiry, cancel and a missing client id; the
# browser sign-in with a pasted address; no token ever on the screen.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 53

cfg=$XDG_CONFIG_HOME/docmail/config.ini
STORE=$XDG_DATA_HOME/docmail/oauth2
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"
mkdir -p "$XDG_CONFIG_HOME/docmail"
# Under valgrind every step is many times slower: generous waits, which
# cost nothing when things go right.
W=60
# leave: quits the settings and waits until docmail has exited, so that
# the next session's start never kills one still exiting (under valgrind
# a process killed in its exit handlers shows half-freed memory).
leave() {
	keys C-q
	_i=0
	while [ $_i -lt $((W * 20)) ]; do
		screen | grep -q "EXIT=" && return 0
		screen | grep -q "unsaved changes" && keys d
		sleep 0.05
		_i=$((_i + 1))
	done
	diag "docmail did not leave; the screen:" "$(screen)"
	return 1
}

# config IDP [KEY=VALUE...]: the profile anna, port still unknown,
# with the endpoints of idp IDP (as tests do instead of Microsoft's)
# and ca_file $T/cas.pem, which trusts the idp and later the server.
config() {
	_idp=$1
	shift
	cat "$T/$_idp/ca.pem" >"$T/cas.pem"
	profile "$cfg" "$_idp" 9 starttls "ca_file=$T/cas.pem" password= \
	    "oauth2_device_url=https://127.0.0.1:$(cat "$T/$_idp/port")/devicecode" \
	    "oauth2_token_url=https://127.0.0.1:$(cat "$T/$_idp/port")/token" "$@"
}

# code_on_screen: the user code the Sign in box shows.
code_on_screen() {
	screen | sed -n '/Enter this code/,/Sign in with/p' |
	    grep -oE '[A-Z]{8}' | head -n 1
}

# screen_url: the address the Sign in box shows; it fills whole rows,
# edge to edge, so joined it is one line.
screen_url() {
	screen | sed -n '/Open this address/,/^ *$/p' | sed '1d;$d' | tr -d '\n'
}

# no_token_shown DESCRIPTION: neither token of profile default's store
# is on the screen.
no_token_shown() {
	_acc=$(sed -n 's/^access //p' "$STORE/default")
	_ref=$(sed -n 's/^refresh //p' "$STORE/default")
	_scr=$(screen | tr -d '\n')
	case $_scr in
	*"$_acc"*|*"$_ref"*) ok 1 "$1" ;;
	*) ok "$([ -n "$_acc" ]; echo $?)" "$1" ;;
	esac
}

# --- first run: an address of a Microsoft 365 tenant picks its preset ----

term "env $envs DOCMAIL_DATADIR='$top_srcdir/data' '$DOCMAIL'"
wait_for "no configuration yet" $W
keys Tab
keys -l "anna@firma.onmicrosoft.com"
keys Tab
wait_for "smtp.office365.com" $W
ok $? "a tenant's onmicrosoft.com address fills in Microsoft 365's server"
wait_for "Authentication [Microsoft 365" $W
ok $? "... and Authentication: Microsoft 365"
wait_for "Client id" $W
ok $? "... with its Client id field"
keys F2
wait_for "saved to" $W
grep -q "^max_per_minute = 30$" "$XDG_CONFIG_HOME/docmail/config.ini"
ok $? "... and saving keeps the preset's batch limit (max_per_minute = 30)"
keys Escape	# after the first Save, on to the document list
wait_for "Documents" $W
keys q
wait_for "EXIT=0" $W

# --- the device flow, chosen as Microsoft 365 ------------------------------

start_idp idp
config idp
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings" $W
wait_for "Authentication [Password" $W
ok $? "a password profile shows Authentication: Password"
keys Tab Tab Tab Tab Tab	# to Authentication
keys Space
wait_for "Client id" $W
ok $? "Microsoft 365 shows Client id"
wait_for "Authentication [Microsoft 365" $W
ok $? "the choice reads Microsoft 365"
wait_for "Tenant" $W
ok $? "... and Tenant"
wait_for "custom endpoints" $W
ok $? "endpoints set in the file are pointed out"
if screen | grep -q "Password"; then r=1; else r=0; fi
ok $r "... and no Password field"
wait_for "F6/^G Sign in" $W
ok $? "the key bar offers F6 and its alternative"

# F6 before a client id: the steps to register one
keys F6
wait_for "oauth2_client_id is not set" $W
ok $? "Sign in without a client id says so"
wait_for "Allow public client flows" $W
ok $? "... with the registration steps"

# the focus is on Client id now
keys -l "docmail-test"
keys F6
wait_for "Enter this code" $W
ok $? "Sign in shows the box with the code"
screen | grep -qF "https://127.0.0.1:$(cat "$T/idp/port")/device"
ok $? "... and the address to open"
wait_for "the code expires in" $W
ok $? "... and how long the code lasts"
uc=$(code_on_screen)
grep -q "devicecode user_code=$uc " "$T/idp/log"
ok $? "the code on the screen is the provider's ($uc)"
approve idp "$uc"
wait_for "Signed in" $W
ok $? "approved at the provider: signed in"
ok "$([ -s "$STORE/default" ]; echo $?)" "the token is stored for the profile"
no_token_shown "no token on the screen after signing in"

# Test connection takes the stored token
printf 'anna:%s\n' "$(sed -n 's/^access //p' "$STORE/default")" >"$T/tokens"
start_server smtp --mode starttls --ehlo-profile ms365 --token-file "$T/tokens"
cat "$T/smtp/ca.pem" >>"$T/cas.pem"
keys BTab BTab BTab BTab	# Client id -> Port
type_field "$PORT"
keys F5
wait_for "Test connection passed" $W
ok $? "Test connection passes with the stored token"
grep -q "^auth-ok anna XOAUTH2$" "$T/smtp/log"
ok $? "the server saw an XOAUTH2 login"
wait_for "cached" $W && screen | grep -qE "ok +token .*cached"
ok $? "the steps show the token step (cached)"
no_token_shown "no token on the screen after the test"

keys C-s
wait_for "saved to" $W
ok $? "the Microsoft 365 profile saves"
grep -q "^auth = oauth2$" "$cfg" && grep -q "^oauth2_provider = microsoft$" "$cfg" &&
    grep -q "^oauth2_client_id = docmail-test$" "$cfg" &&
    grep -q "^oauth2_device_url = " "$cfg"
ok $? "with auth, provider, client id, and the endpoints kept" || diag "$(cat "$cfg")"
if grep -q "^password" "$cfg"; then r=1; else r=0; fi
ok $r "and no password key"
if grep -qF -e "$(sed -n 's/^access //p' "$STORE/default")" "$cfg"; then r=1; else r=0; fi
ok $r "and no token in the file"
keys C-q
wait_for "EXIT=0" $W
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings" $W
wait_for "Authentication [Microsoft 365" $W
ok $? "opened again, the profile shows Microsoft 365"
leave

# --- denied, expired, cancelled; TERM=vt100 and NO_COLOR with ^G ---------

start_idp denied --fault access_denied
config denied auth=oauth2 oauth2_provider=microsoft oauth2_client_id=docmail-test
term "env $envs TERM=vt100 NO_COLOR=1 '$DOCMAIL' settings"
wait_for "SMTP settings" $W
keys C-g
wait_for "sign-in was denied" $W
ok $? "vt100, ^G: a denied sign-in says so"
wait_for "F6" $W
ok $? "... and says how to sign in again"
if screen | grep -q "Enter this code"; then r=1; else r=0; fi
ok $r "... and the box is closed"
leave

start_idp expired --fault expired_token
config expired auth=oauth2 oauth2_provider=microsoft oauth2_client_id=docmail-test
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings" $W
keys F6
wait_for "the sign-in code expired" $W
ok $? "an expired code says so"
wait_for "sign in again" $W
ok $? "... and what to do"
leave

config idp auth=oauth2 oauth2_provider=microsoft oauth2_client_id=docmail-test
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings" $W
keys F6
wait_for "Enter this code" $W
keys Escape
wait_for "sign-in cancelled" $W
ok $? "Esc cancels the sign-in"
if screen | grep -q "Enter this code"; then r=1; else r=0; fi
ok $r "... and closes the box"
keys C-q
wait_for "EXIT=0" $W
ok $? "and the screen is left normally afterwards"

# --- a profile of its own endpoints shows as Custom OAuth2 ---------------

config idp auth=oauth2 oauth2_provider=custom oauth2_client_id=docmail-test
term "env $envs '$DOCMAIL' settings"
wait_for "SMTP settings" $W
wait_for "Authentication [Custom OAuth2" $W
ok $? "oauth2_provider = custom shows as Custom OAuth2"
leave

# --- the browser sign-in (Google): the address pasted ----------------------

start_idp code
start_server gmail --mode starttls --ehlo-profile gmail --token-file "$T/tokens"
cat "$T/code/ca.pem" "$T/gmail/ca.pem" >"$T/cas.pem"
profile "$cfg" code "$PORT" starttls "ca_file=$T/cas.pem" password= \
    auth=oauth2 oauth2_provider=google oauth2_client_id=docmail-test \
    "oauth2_auth_url=$URL/authorize" "oauth2_token_url=$URL/token"
rm -f "$STORE/default"
term "env $envs '$DOCMAIL' settings" 100 30
wait_for "SMTP settings" $W
wait_for "Authentication [Google" $W
ok $? "a google profile shows Authentication: Google"
wait_for "Client secret" $W
ok $? "Google shows Client secret"
# Test connection before any sign-in
keys F5
wait_for "not signed in" $W
ok $? "Test connection before signing in says not signed in"
wait_for "press F6 (Sign in)" $W
ok $? "... and to press F6, not a command"
if screen | grep -q "docmail login"; then r=1; else r=0; fi
ok $r "... naming no command line"
keys F6
# The paste field is painted after the address: then the address is whole.
wait_for "Address [" $W
ok $? "Sign in shows the address to open"
url=$(screen_url)
case $url in
"$URL/authorize?"*) ok 0 "the whole address is on the screen" ;;
*) ok 1 "the whole address is on the screen"; diag "read: $url" ;;
esac
loc=$(browse code "$url")
case $loc in
http://127.0.0.1:*code=*) ok 0 "the provider redirects to the loopback listener" ;;
*) ok 1 "the provider redirects to the loopback listener"; diag "$loc" ;;
esac
keys -l "http://127.0.0.1:1/?code=abc&state=not-this-one"
keys Enter
wait_for "state does not match" $W
ok $? "a pasted address of another sign-in says why"
wait_for "Open this address" $W
ok $? "... and the box stays for another paste"
# A resize moves the paste field under the rewrapped address.
tmux -L "$TMUX_SOCK" resize-window -x 80 -y 24
n=0
until [ "$(screen_url)" = "$url" ] || [ $n -ge $((W * 20)) ]; do
	sleep 0.05
	n=$((n + 1))
done
[ "$(screen_url)" = "$url" ]
ok $? "after a resize the whole address is still on the screen"
keys -l "$loc"
keys Enter
wait_for "Signed in" $W
ok $? "the pasted address signs in (after the resize)"
grep -q "token authorization_code pkce=ok" "$T/code/log"
ok $? "the provider checked the PKCE verifier"
no_token_shown "no token on the screen after the browser sign-in"
leave

# The browser on this machine reaches the listener itself.
rm -f "$STORE/default"
term "env $envs '$DOCMAIL' settings" 100 30
wait_for "SMTP settings" $W
keys F6
wait_for "Address [" $W
url=$(screen_url)
"$PYTHON3" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=30).read()' "$(browse code "$url")" \
    >/dev/null 2>&1
wait_for "Signed in" $W
ok $? "the loopback listener catches a local browser's redirect"
keys C-q
wait_for "EXIT=0" $W

done_testing
