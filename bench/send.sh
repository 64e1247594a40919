#!/bin/bash
# send.sh - how does docmail compare with what a user would use instead?
#
# Against one loopback sink (tests/smtpd.py, STARTTLS required, AUTH
# required, its own test CA), in one run:
#  (a) send one message with a 5 MiB PDF, composing included:
#      docmail send --yes, s-nail -a, mutt -a, and msmtp -- which cannot
#      compose, so it gets the message docmail --dry-run built beforehand
#      and only its sending is timed;
#  (b) "test connection" (connect, STARTTLS, AUTH, QUIT, nothing sent):
#      docmail test against curl.
# For each tool: whole-process wall time (best and median of RUNS) and
# peak RSS (GNU time %M), then docmail's ratio to the best anchor.
# A measurement, not a test: it never fails on numbers.  It does check
# that every timed run really verified the certificate, logged in and
# (for (a)) delivered, so that a quick failure never reads as a quick
# success.  Tools that are missing are installed with apt-get as root,
# else skipped.                usage: bench/send.sh [BUILDDIR] [RUNS]
#
# bash, not sh: $EPOCHREALTIME reads the clock without forking date(1),
# which matters when (b) takes a few milliseconds.
set -eu

# Measure as on a stock Debian system, unless the caller sets
# SSL_CERT_FILE: some systems and containers point OpenSSL at the whole
# CA bundle file, and docmail must stay as fast there (it parses the
# bundle only when the hash directory lacks a CA it needs), so run it
# both ways:  bench/send.sh  and
#   SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt bench/send.sh
unset SSL_CERT_DIR
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top}
runs=${2:-${RUNS:-10}}
docmail=$build/src/docmail
python=/usr/bin/python3	# Debian's: the sink needs python3-cryptography
[ -x "$docmail" ] || { echo "build docmail first ($docmail)" >&2; exit 1; }
case $runs in '' | *[!0-9]* | 0) echo "RUNS must be a positive number" >&2; exit 64 ;; esac

# --- tools ------------------------------------------------------------

. "$top/bench/lib.sh"

have /usr/bin/time time || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
send_tools=docmail test_tools=docmail_test
have s-nail s-nail && send_tools="$send_tools snail"
have msmtp msmtp && send_tools="$send_tools msmtp"
have mutt mutt && send_tools="$send_tools mutt"
have curl curl && test_tools="$test_tools curl"
# docmail trusts ca_file in addition to the system's CAs (docmail.ini(5)),
# so it parses the whole system bundle each run; curl --cacert parses
# the one file.  A second curl row given the same trust shows how much
# of (b)'s difference that is.
sysbundle=/etc/ssl/certs/ca-certificates.crt
case " $test_tools " in
*" curl "*) if [ -s "$sysbundle" ]; then test_tools="$test_tools curl_sys"; fi ;;
esac

# --- the sink ---------------------------------------------------------

w=$(mktemp -d "${TMPDIR:-/tmp}/docmail-bench.XXXXXX")
srv=$w/srv
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || :
		wait "$server_pid" 2>/dev/null || :
	fi
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing the tools write may land in the user's home: docmail's outbox
# and sent log, s-nail's and mutt's files all go below $w.
export HOME=$w/home XDG_CONFIG_HOME=$w/home/.config \
    XDG_DATA_HOME=$w/home/.local/share XDG_STATE_HOME=$w/home/.local/state
unset SOURCE_DATE_EPOCH DOCMAIL_MESSAGE_ID
export LC_ALL=C.UTF-8	# one locale for every tool, whatever the caller's
mkdir -p "$HOME" "$srv"

user=anna
pass=bench-Pa55w0rd	# URL-safe: it goes into s-nail's smtp:// URL as is
echo "$user:$pass" >"$w/auth"

# waitport DIR PID: until DIR/port exists; 0 when it does.
waitport() {
	_i=0
	while [ ! -s "$1/port" ]; do
		kill -0 "$2" 2>/dev/null || return 1
		_i=$((_i + 1))
		[ $_i -le 400 ] || return 1
		sleep 0.05
	done
}

# Its timings are part of every tool's: it decrypts and parses in
# Python, and it writes each reply on its own without TCP_NODELAY, so a
# reply that follows one the client has not acknowledged yet can wait
# for the client's delayed ACK (40 ms on Linux).  How often that happens
# depends on each tool's write pattern and varies from run to run: the
# best of RUNS is the figure least touched by it.
"$python" "$top/tests/smtpd.py" --dir "$srv" --mode starttls \
    --auth-file "$w/auth" --lifetime 600 >"$w/server.err" 2>&1 &
server_pid=$!
waitport "$srv" "$server_pid" || { echo "the test server did not start:" >&2;
	cat "$w/server.err" >&2; exit 1; }
port=$(cat "$srv/port")
ca=$srv/ca.pem

# A CA that did not sign the server's certificate, for the check that
# every tool refuses the server when it is told to trust only that: a
# second server run makes one (its own per-run CA) and is stopped again.
mkdir "$w/other"
"$python" "$top/tests/smtpd.py" --dir "$w/other" --lifetime 30 \
    >"$w/other/err" 2>&1 &
other_pid=$!
waitport "$w/other" "$other_pid" || :
kill "$other_pid" 2>/dev/null || :
wait "$other_pid" 2>/dev/null || :
[ -s "$w/other/ca.pem" ] || { echo "could not make a second CA" >&2; exit 1; }
wrongca=$w/other/ca.pem

# --- inputs and configurations -----------------------------------------

rcpt=ap@beispiel.test
subject='Invoice 2026-001'
pdf=$w/invoice-2026-001.pdf
{ printf '%%PDF-1.4\n'; head -c $((5 * 1048576 - 9)) /dev/urandom; } >"$pdf"
printf 'Dear Beispiel GmbH,\n\nplease find attached invoice 2026-001.\n\nAnna Muster\n' >"$w/body.txt"

# configs SUFFIX CA: every tool's configuration, trusting CA only.
configs() {
	cat >"$w/docmail$1.ini" <<-EOF
	[profile default]
	name = Anna Muster
	email = anna@example.test
	host = localhost
	port = $port
	security = starttls
	user = $user
	password = $pass
	ca_file = $2
	timeout = 30
	EOF
	chmod 600 "$w/docmail$1.ini"
	# msmtp refuses a password file others can read, as docmail does.
	cat >"$w/msmtprc$1" <<-EOF
	account default
	host localhost
	port $port
	from anna@example.test
	auth plain
	user $user
	password $pass
	tls on
	tls_starttls on
	tls_trust_file $2
	timeout 30
	EOF
	chmod 600 "$w/msmtprc$1"
	# certificate_file: mutt would also trust certificates accepted
	# earlier and saved there; an empty one of our own rules that out.
	cat >"$w/muttrc$1" <<-EOF
	set smtp_url="smtp://$user@localhost:$port"
	set smtp_pass="$pass"
	set smtp_authenticators="plain"
	set ssl_starttls=yes
	set ssl_force_tls=yes
	set ssl_ca_certificates_file="$2"
	set certificate_file="$w/mutt_certificates"
	set from="anna@example.test"
	set realname="Anna Muster"
	set use_from=yes
	set copy=no
	set record=""
	set tmpdir="$w"
	set charset="utf-8"
	EOF
}
configs "" "$ca"
configs .bad "$wrongca"
if [ -s "$sysbundle" ]; then
	cat "$sysbundle" "$ca" >"$w/sysca.pem"
	cat "$sysbundle" "$wrongca" >"$w/sysca.bad.pem"
fi
sfx=

# The message msmtp sends: what docmail would send, built once.
"$docmail" --config "$w/docmail.ini" send --dry-run --to "$rcpt" \
    --subject "$subject" "$pdf" >"$w/message.eml" 2>"$w/envelope"

# tool_NAME PREFIX...: one run of a tool, PREFIX (timeout and GNU time)
# in front; $sfx picks the trusted CA (empty) or the wrong one (.bad).
# The auth mechanism is PLAIN everywhere, as docmail picks it, so that
# every tool does the same exchange.
tool_docmail() {
	"$@" "$docmail" --config "$w/docmail$sfx.ini" send --yes \
	    --to "$rcpt" --subject "$subject" "$pdf" </dev/null
}
tool_snail() {
	local tca=$ca
	[ -z "$sfx" ] || tca=$wrongca
	# -:/ reads no rc files; tls-ca-no-defaults trusts the given CA
	# alone; nosave: a failed run leaves no dead.letter (s-nail takes
	# the home from the password file, not from $HOME).
	"$@" s-nail -:/ -Sv15-compat -Snosave -Sttycharset=utf-8 \
	    -Sfrom='Anna Muster <anna@example.test>' \
	    -Smta="smtp://$user:$pass@localhost:$port" -Ssmtp-use-starttls \
	    -Ssmtp-auth=plain -Stls-verify=strict -Stls-ca-file="$tca" \
	    -Stls-ca-no-defaults -s "$subject" -a "$pdf" -. "$rcpt" \
	    <"$w/body.txt"
}
tool_msmtp() {
	"$@" msmtp -C "$w/msmtprc$sfx" "$rcpt" <"$w/message.eml"
}
tool_mutt() {
	# -n: no system Muttrc, only the settings above.
	"$@" mutt -n -F "$w/muttrc$sfx" -s "$subject" -a "$pdf" -- "$rcpt" \
	    <"$w/body.txt"
}
tool_docmail_test() {
	"$@" "$docmail" --config "$w/docmail$sfx.ini" test </dev/null
}
tool_curl() {
	local tca=$ca
	[ -z "$sfx" ] || tca=$wrongca
	# curl's SMTP sends a message only when given --mail-rcpt and an
	# upload; without them it runs one command instead -- VRFY by
	# default, here -X NOOP -- after connect, EHLO, STARTTLS, EHLO and
	# AUTH, then QUIT: exactly a connection test.  (docmail test checks
	# the sender with MAIL FROM + RSET where curl sends NOOP: one
	# loopback round trip more.)  --ssl-reqd fails rather than go on in
	# plain text; AUTH=PLAIN because curl alone would pick CRAM-MD5, one
	# round trip more than docmail's PLAIN.
	"$@" curl -sS --url "smtp://localhost:$port" --ssl-reqd \
	    --cacert "$tca" --user "$user:$pass" --login-options AUTH=PLAIN \
	    -X NOOP --max-time 30 </dev/null
}
tool_curl_sys() {
	"$@" curl -sS --url "smtp://localhost:$port" --ssl-reqd \
	    --cacert "$w/sysca$sfx.pem" --user "$user:$pass" \
	    --login-options AUTH=PLAIN -X NOOP --max-time 30 </dev/null
}
# The floor: timing a process that does nothing.
tool_noop() { "$@" /bin/true; }

# --- checks -------------------------------------------------------------

authed() { grep -c "^auth-ok $user\$" "$srv/log" || :; }
delivered() { cat "$srv/delivered"; }

# accepted N: message N is in the sink as sent after TLS and login, and
# whole (the PDF's base64 alone is 4/3 of its size).
accepted() {
	local m
	m=$srv/mail/$(printf %04d "$1")
	[ -s "$m.json" ] && grep -q '"tls": true' "$m.json" &&
	    grep -q "\"auth_user\": \"$user\"" "$m.json" &&
	    [ "$(stat -c %s "$m.eml")" -gt $((5 * 1048576 * 4 / 3)) ]
}

# once TOOL KIND: one untimed run, then judge it from the sink's side;
# KIND is send or test.  0 when the run did what it should have.
once() {
	local a0 d0 rc=0
	a0=$(authed) d0=$(delivered)
	"tool_$1" timeout 120 >"$w/out.$1" 2>"$w/err.$1" || rc=$?
	check "$2" "$a0" "$d0" "$rc"
}

# check KIND AUTH0 DELIVERED0 RC: the run that followed the counts
# AUTH0, DELIVERED0 and ended with RC logged in once (this sink refuses
# AUTH before TLS, so that was after TLS; refuses below shows the tool
# verified the certificate), and delivered one whole message (send) or
# none (test).
check() {
	[ "$4" -eq 0 ] || return 1
	[ "$(authed)" -eq $(($2 + 1)) ] || return 1
	case $1 in
	send) [ "$(delivered)" -eq $(($3 + 1)) ] && accepted $(($3 + 1)) ;;
	test) [ "$(delivered)" -eq "$3" ] ;;
	esac
}

# refuses TOOL: with the wrong CA the tool fails before logging in and
# delivers nothing -- it does verify the certificate.  Else $why says
# what it did.
refuses() {
	local a0 d0 rc=0
	a0=$(authed) d0=$(delivered)
	sfx=.bad
	"tool_$1" timeout 120 >"$w/out.$1" 2>"$w/err.$1" || rc=$?
	sfx=
	if [ "$(authed)" -ne "$a0" ] || [ "$(delivered)" -ne "$d0" ]; then
		why="logged in through TLS with a CA it was not given"
	elif [ "$rc" -eq 0 ]; then
		why="exited 0 with a CA it was not given, without logging in"
	else
		return 0
	fi
	return 1
}

kind_of() { case $1 in docmail_test | curl*) echo test ;; *) echo send ;; esac; }

# Every tool once with the wrong CA and once with the right one (which
# also warms the page cache); one that fails either is left out.
ok_tools=
for t in $send_tools $test_tools; do
	if ! refuses "$t"; then
		note "$t $why: left out"
		continue
	fi
	if ! once "$t" "$(kind_of "$t")"; then
		note "$t failed its first run: left out; its stderr:"
		sed 's/^/    /' "$w/err.$t" | head -20 >&2
		continue
	fi
	ok_tools="$ok_tools $t"
done

# --- measurement -----------------------------------------------------------

# Round robin rather than tool after tool: drift in the machine's load
# then spreads over all tools instead of landing on one.
for t in noop $ok_tools; do : >"$w/wall.$t"; : >"$w/rss.$t"; echo 0 >"$w/fail.$t"; done
echo "measuring: $runs rounds of:$ok_tools ..." >&2
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	for t in noop $ok_tools; do
		a0=$(authed) d0=$(delivered) rc=0
		t0=$EPOCHREALTIME
		"tool_$t" timeout 120 /usr/bin/time -f %M -o "$w/time" \
		    >"$w/out.$t" 2>"$w/err.$t" || rc=$?
		t1=$EPOCHREALTIME
		if [ "$t" = noop ] || check "$(kind_of "$t")" "$a0" "$d0" "$rc"; then
			# microseconds, without the decimal point
			echo $((${t1/./} - ${t0/./})) >>"$w/wall.$t"
			tail -n 1 "$w/time" >>"$w/rss.$t"
		else
			echo $(($(cat "$w/fail.$t") + 1)) >"$w/fail.$t"
			cp "$w/err.$t" "$w/lasterr.$t"
		fi
	done
done

# --- report ------------------------------------------------------------------

# stats FILE: "best median max" of the numbers in FILE, or "- - -".
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (!NR) { print "- - -"; exit }
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      print v[1], m, v[NR] }'
}
ms() { awk -v u="$1" 'BEGIN { if (u == "-") print "-"; else printf "%.1f", u / 1000 }'; }

label() {
	case $1 in
	noop) echo "(no-op /bin/true: timing floor)" ;;
	docmail) echo "docmail send" ;;
	snail) echo "s-nail -a" ;;
	msmtp) echo "msmtp (prebuilt message)" ;;
	mutt) echo "mutt -a (batch)" ;;
	docmail_test) echo "docmail test" ;;
	curl) echo "curl -X NOOP" ;;
	curl_sys) echo "curl, + system CAs like docmail" ;;
	esac
}

row() {
	local b m rm rx good
	read -r b m _ <<<"$(stats "$w/wall.$1")"
	read -r _ rm rx <<<"$(stats "$w/rss.$1")"
	good=$(wc -l <"$w/wall.$1")
	printf '  %-32s %6s/%-3s %9s %9s %10s %10s\n' "$(label "$1")" \
	    "$good" "$runs" "$(ms "$b")" "$(ms "$m")" "$rm" "$rx"
	eval "best_$1=\$b med_$1=\$m rss_$1=\$rm"
}

echo
echo "$("$docmail" --version 2>&1 | head -n 1), $(nproc) CPUs, sink tests/smtpd.py on 127.0.0.1:$port (STARTTLS + AUTH PLAIN, test CA)"
echo "SSL_CERT_FILE=${SSL_CERT_FILE:-(unset)}"
echo "message: 5 MiB PDF -> $(stat -c %s "$w/message.eml") bytes as docmail composes it; $runs runs each, round robin"
echo
printf '  %-32s %10s %9s %9s %10s %10s\n' "" "verified" "best ms" "median ms" "RSS KiB" "max RSS"
row noop
echo "  (a) send one message with a 5 MiB PDF, STARTTLS + AUTH"
for t in $ok_tools; do if [ "$(kind_of "$t")" = send ]; then row "$t"; fi; done
echo "  (b) test connection: connect, STARTTLS, AUTH, QUIT"
for t in $ok_tools; do if [ "$(kind_of "$t")" = test ]; then row "$t"; fi; done
echo
echo "  verified = runs that exited 0, logged in after verified TLS and (a) delivered"
echo "  the whole message / (b) delivered nothing; only those are timed."
echo "  RSS KiB = median of the runs' peak RSS (GNU time %M)."

for t in $ok_tools; do
	f=$(cat "$w/fail.$t")
	if [ "$f" -ne 0 ]; then
		echo
		echo "  WARNING: $(label "$t") failed $f of $runs runs; last stderr:"
		sed 's/^/    /' "$w/lasterr.$t" | head -10
	fi
done

# ratio A B: A/B with two decimals, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
val() { eval "echo \"\${$1_$2:-}\""; }

# lowest VAR TOOLS...: the tool with the smallest VAR.
lowest() {
	local var=$1 t v best='' who=''
	shift
	for t in "$@"; do
		v=$(val "$var" "$t")
		case $v in '' | -) continue ;; esac
		if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$v who=$t
		fi
	done
	echo "$who"
}

echo
anchors=
for t in snail msmtp mutt; do
	case " $ok_tools " in *" $t "*) anchors="$anchors $t" ;; esac
done
if [ -n "$anchors" ] && [ -n "$(val best docmail)" ] && [ "$(val best docmail)" != - ]; then
	echo "ratios (a), docmail / best anchor (below 1: docmail is faster or leaner):"
	for var in best med rss; do
		# shellcheck disable=SC2086 # a list of words
		who=$(lowest "$var" $anchors)
		[ -n "$who" ] || continue
		case $var in best) what="best wall  " ;; med) what="median wall" ;; rss) what="peak RSS   " ;; esac
		printf '  %s  %s   (best anchor: %s)\n' "$what" \
		    "$(ratio "$(val "$var" docmail)" "$(val "$var" "$who")")" "$(label "$who")"
	done
	printf '  per anchor, median wall:'
	for t in $anchors; do
		printf '  /%s %s' "$t" "$(ratio "$(val med docmail)" "$(val med "$t")")"
	done
	echo
else
	echo "ratios (a): no anchor or no docmail result"
fi
case " $ok_tools " in
*" curl "*)
	echo "ratios (b), docmail test / curl:"
	for c in curl curl_sys; do
		case " $ok_tools " in *" $c "*) ;; *) continue ;; esac
		printf '  /%-9s best wall %s, median wall %s, peak RSS %s\n' "$c" \
		    "$(ratio "$(val best docmail_test)" "$(val best "$c")")" \
		    "$(ratio "$(val med docmail_test)" "$(val med "$c")")" \
		    "$(ratio "$(val rss docmail_test)" "$(val rss "$c")")"
	done
	;;
*) echo "ratios (b): curl not measured" ;;
esac
if [ -n "$notes" ]; then
	echo
	echo "notes:"
	printf '%s' "$notes" | sed 's/^/  /'
fi
