#!/bin/sh
# oauth2-smtp.sh - OAuth2 logins (XOAUTH2, OAUTHBEARER) with
# oauth2_token_command against tests/smtpd.py's Microsoft 365 and Gmail
# models; Microsoft's refusals of passwords; no token anywhere it must
# not be.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 72

cfg=$T/cfg.ini
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }
# A short token goes on the AUTH line; a long one (Microsoft's are
# several KB) must wait for the 334.
SHORT=eyJ0eXAiOiJKV1QiLCJub25jZSI6InNob3J0In0.short-token_ok
LONG=eyJ$(head -c 4000 /dev/zero | tr '\0' 'L' | head -c 2997)
BAD=eyJ-expired-token
printf 'anna:%s\nanna:%s\n' "$SHORT" "$LONG" >"$T/tokens"
printf 'anna:%s\n' "$PASSWORD" >"$T/auth"

# The token command prints line N of $T/toks on its Nth run (the last
# line from then on) and counts its runs in $T/calls.
cat >"$T/tokcmd" <<EOS
#!/bin/sh
echo run >>"$T/calls"
n=\$(wc -l <"$T/calls")
t=\$(sed -n "\${n}p" "$T/toks")
[ -n "\$t" ] || t=\$(tail -n 1 "$T/toks")
printf '%s\n' "\$t"
EOS
chmod +x "$T/tokcmd"
toks() { printf '%s\n' "$@" >"$T/toks"; : >"$T/calls"; }
calls() { wc -l <"$T/calls" | tr -d ' '; }
oprofile() {	# oprofile SERVER PORT [KEY=VALUE...]
	_srv=$1 _port=$2
	shift 2
	profile "$cfg" "$_srv" "$_port" starttls password= user=anna \
	    auth=oauth2 "oauth2_token_command=$T/tokcmd" "$@"
}
# Every output of every run is kept for the leak check at the end.
keep() { cat "$T/out" "$T/err" >>"$T/all-output"; }
auths() { grep -c '^AUTH' "$T/$1/log"; }

# --- Microsoft 365: a short token inline, a long one after the 334
start_server ms --mode starttls --ehlo-profile ms365 --token-file "$T/tokens" \
    --fault auth-line-512
ms_port=$PORT
oprofile ms "$ms_port"
toks "$SHORT"
dm test --verbose; keep
is_rc 0 "test passes with a token from oauth2_token_command (ms365)"
has "$T/out" "token" "docmail test shows the token step"
grep -q '^  token  *ok .* ms  command$' "$T/out"; ok $? "as 'token ok N ms command', before AUTH"
line_tok=$(grep -n '^  token ' "$T/out" | cut -d: -f1)
line_auth=$(grep -n '^  AUTH ' "$T/out" | cut -d: -f1)
[ -n "$line_tok" ] && [ -n "$line_auth" ] && [ "$line_tok" -lt "$line_auth" ]
ok $? "the token step comes before AUTH"
has "$T/out" "login with XOAUTH2" "the test names XOAUTH2"
has "$T/ms/log" "auth-ok anna XOAUTH2" "the server took the token"
has "$T/ms/log" "oauth-initial inline" "a short token goes on the AUTH line"
has "$T/err" "C: AUTH XOAUTH2 [redacted]" "the transcript redacts the AUTH line"
[ "$(calls)" -eq 1 ]; ok $? "the token command ran once"
hasnt "$T/ms/log" "mail-before-auth" "no MAIL before the 235"

: >"$T/ms/log"
toks "$LONG"
dm test --verbose; keep
is_rc 0 "a 3000-character token logs in"
hasnt "$T/ms/log" "fault auth-line-512" "the AUTH line never passed 512 octets"
hasnt "$T/ms/log" "oauth-initial inline" "the long token waited for the 334"
n=$(sed -n 's/^auth-line-length //p' "$T/ms/log" | head -1)
[ -n "$n" ] && [ "$n" -le 512 ]; ok $? "the AUTH line is $n octets (<= 512)"
grep -q '^\[redacted\] 4[0-9][0-9][0-9] octets$' "$T/ms/log"
ok $? "the response followed on its own line, whole"
has "$T/err" "C: [redacted]" "the transcript redacts the response line"

# --- send and outbox --retry use the token
: >"$T/ms/log"
toks "$SHORT"
dm send --yes --to k@x.test --subject OAuth --body B; keep
is_rc 0 "send with a token"
[ "$(delivered ms)" -eq 1 ]; ok $? "the server stored it"
has "$T/ms/log" "auth-ok anna XOAUTH2" "after an XOAUTH2 login"

start_server ms451 --mode starttls --ehlo-profile ms365 \
    --token-file "$T/tokens" --fault data-451
oprofile ms451 "$PORT"
dm send --yes --to k@x.test --subject Later --body B; keep
is_rc 75 "a 451 after the data keeps the message"
oprofile ms "$ms_port"
toks "$SHORT"
dm outbox --retry; keep
is_rc 0 "outbox --retry sends it with a token"
[ "$(delivered ms)" -eq 2 ]; ok $? "the server stored the retried message"
[ "$(calls)" -eq 1 ]; ok $? "the retry ran the token command"

# --- Gmail: XOAUTH2 preferred; OAUTHBEARER only where XOAUTH2 is not
start_server gm --mode starttls --ehlo-profile gmail --token-file "$T/tokens"
gm_port=$PORT
oprofile gm "$gm_port"
toks "$SHORT"
dm send --yes --to k@x.test --subject Gmail --body B; keep
is_rc 0 "send through the Gmail model"
has "$T/gm/log" "auth-ok anna XOAUTH2" "XOAUTH2 is preferred over OAUTHBEARER"

start_server ob --mode starttls --ehlo-profile ms365 --token-file "$T/tokens" \
    --fault oauthbearer-only
oprofile ob "$PORT"
toks "$LONG"
dm test --verbose; keep
is_rc 0 "a server offering OAUTHBEARER but not XOAUTH2"
has "$T/ob/log" "auth-ok anna OAUTHBEARER" "gets OAUTHBEARER"
has "$T/out" "login with OAUTHBEARER" "and the test says so"

# --- a refused token: one more run of the command, one more AUTH
: >"$T/ms/log"
oprofile ms "$ms_port"
toks "$BAD" "$SHORT"
dm test; keep
is_rc 0 "a refused token is replaced and the second one logs in"
[ "$(calls)" -eq 2 ]; ok $? "the token command ran twice"
[ "$(auths ms)" -eq 2 ]; ok $? "two AUTH commands in one session"
[ "$(grep -c '^connect$' "$T/ms/log")" -eq 1 ]; ok $? "on the same connection"

: >"$T/ms/log"
toks "$BAD"
dm test; keep
is_rc 77 "a token refused twice is exit 77"
[ "$(calls)" -eq 2 ]; ok $? "after exactly one more run of the command"
[ "$(auths ms)" -eq 2 ]; ok $? "and exactly one more AUTH"
has "$T/err" "refused the access token" "the message says the token was refused"
has "$T/err" "535 5.7.3" "with the server's words"
has "$T/err" "hint: check oauth2_token_command" "the hint names oauth2_token_command"
hasnt "$T/ms/log" "MAIL" "no MAIL after the refusal"

: >"$T/gm/log"
oprofile gm "$gm_port"
toks "$BAD"
dm test --verbose; keep
is_rc 77 "Gmail: a refused token is exit 77"
n=$(grep -c '^oauth-error-answer empty$' "$T/gm/log")
[ "$n" -eq 2 ]; ok $? "each 334 JSON challenge was answered with an empty line ($n)"
has "$T/err" "535 5.7.8" "the final 535 is shown"
has "$T/err" "S: 334 " "the challenge is in the transcript"

start_server obg --mode starttls --ehlo-profile gmail --token-file "$T/tokens" \
    --fault oauthbearer-only
oprofile obg "$PORT"
toks "$BAD"
dm test; keep
is_rc 77 "Gmail OAUTHBEARER: a refused token is exit 77"
has "$T/obg/log" "oauth-error-answer AQ==" "the challenge was answered with AQ=="

# --- the token command fails or prints nothing
oprofile ms "$ms_port" "oauth2_token_command=exit 3"
: >"$T/ms/log"
dm test; keep
is_rc 77 "a failing token command is exit 77"
has "$T/err" "oauth2_token_command 'exit 3' failed with exit status 3" "the message names it"
has "$T/out" "token" "the token step is reported"
[ "$(auths ms)" -eq 0 ]; ok $? "no AUTH without a token"
oprofile ms "$ms_port" "oauth2_token_command=true"
dm test; keep
is_rc 77 "a token command printing nothing is exit 77"
has "$T/err" "printed no access token" "the message says so"

# --- never a token through PLAIN or LOGIN
start_server pf --mode starttls --ehlo-profile postfix --token-file "$T/tokens" \
    --auth-file "$T/auth"
oprofile pf "$PORT"
toks "$SHORT"
dm test; keep
is_rc 77 "a server offering neither XOAUTH2 nor OAUTHBEARER is exit 77"
has "$T/err" "offers no OAuth2 login" "the message says so"
no_auth=$(grep -c '^AUTH' "$T/pf/log")
[ "$no_auth" -eq 0 ]; ok $? "no AUTH was sent at all"
[ "$(calls)" -eq 0 ]; ok $? "the token command did not even run"

# --- configuration
oprofile ms "$ms_port" oauth2_token_command=
dm test; keep
is_rc 78 "auth = oauth2 without a token command or client id is exit 78"
has "$T/err" "oauth2_client_id is not set" "and names the missing key"
has "$T/err" "Allow public client flows" "with the steps to register one"
hasnt "$T/err" "not available" "login is no longer said to be missing"
oprofile ms "$ms_port" "password=$PASSWORD"
dm test; keep
is_rc 78 "auth = oauth2 with a password is exit 78"
has "$T/err" "auth = oauth2 and also a password" "and says why"

# --- Microsoft's refusals of passwords
start_server off --mode starttls --ehlo-profile ms365 --auth-file "$T/auth" \
    --fault basic-auth-off
profile "$cfg" off "$PORT" starttls
dm test; keep
is_rc 77 "550 5.7.30 (basic authentication off) is exit 77"
has "$T/err" "5.7.30" "the server's words are shown"
has "$T/err" "set auth = oauth2" "the hint says to switch to OAuth2"
start_server t139 --mode starttls --ehlo-profile ms365 --auth-file "$T/auth" \
    --fault auth-139
profile "$cfg" t139 "$PORT" starttls
dm test; keep
is_rc 77 "535 5.7.139 is exit 77"
has "$T/err" "Set-CASMailbox" "the hint names the administrator's switch"
start_server o139 --mode starttls --ehlo-profile ms365 --token-file "$T/tokens" \
    --fault auth-139
oprofile o139 "$PORT"
toks "$SHORT"
dm test; keep
is_rc 77 "5.7.139 on an OAuth2 login is exit 77"
[ "$(calls)" -eq 1 ]; ok $? "not a token problem: no second token"
has "$T/err" "Set-CASMailbox" "the same hint"

# --- no token, nor its base64, anywhere it must not be
leak=0
for tk in "$SHORT" "$LONG" "$BAD"; do
	b1=$(printf 'user=anna\001auth=Bearer %s\001\001' "$tk" | base64 -w0)
	b2=$(printf '%s' "$tk" | base64 -w0)
	for pat in "$tk" "$b1" "$(printf '%s' "$b1" | cut -c1-60)" "$b2"; do
		if grep -qF -- "$pat" "$T/all-output"; then
			leak=1
			diag "found in the output: $(printf '%s' "$pat" | cut -c1-40)"
		fi
		if grep -rlF -- "$pat" "$HOME" >"$T/leaks" 2>/dev/null; then
			leak=1
			diag "found in: $(cat "$T/leaks")"
		fi
	done
done
ok $leak "no token nor its base64 in stdout, stderr, --verbose, outbox, sent log"
[ -s "$XDG_STATE_HOME/docmail/sent.log" ]; ok $? "(the sent log was written)"
grep -q 'Bearer' "$T/all-output"; [ $? -ne 0 ]; ok $? "no 'Bearer' in any output"

done_testing
