#!/bin/sh
# tests/interop/run.sh - docmail against real mail servers: Postfix with
# Dovecot SASL and Exim, from Debian's packages, stock in what they
# advertise (CHUNKING, PIPELINING, SIZE, 8BITMIME, ...), on 127.0.0.1 only.
# Each one gets "docmail test", "send" of a PDF to To/Cc/Bcc with
# non-ASCII names (delivered Maildir files compared byte for byte with the
# dry run, each message exactly once), "outbox --retry", sends killed at
# chosen points, and a sender the login does not own.
#
# Needs root: it installs what is missing (install.sh) and runs the
# servers.  Elsewhere it skips (exit 77) with the reason; with
# DM_INTEROP_REQUIRE=1 (CI) a skip is a failure.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.sh"
here=$top_srcdir/tests/interop

skip() {
	if [ "${DM_INTEROP_REQUIRE:-0}" = 1 ]; then
		echo "Bail out! cannot run, and DM_INTEROP_REQUIRE=1: $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 77
}
[ "$(id -u)" = 0 ] ||
    skip "needs root to install and run Postfix, Dovecot and Exim"
sh "$here/install.sh" "$T" 2>"$T/install.err" ||
    skip "$(tr '\n' ' ' <"$T/install.err")"

# The servers' own users (postfix, Debian-exim) must reach their files
# under $T, which mktemp made 0700.
chmod 711 "$T"
EXIM=$T/exim-root/usr/sbin/exim4
MAILUID=$(id -u mail) MAILGID=$(id -g mail)

# Stop everything started here, whatever happens; then lib.sh's cleanup.
cleanup() {
	[ ! -f "$T/postfix/etc/main.cf" ] ||
	    postfix -c "$T/postfix/etc" stop >/dev/null 2>&1
	[ ! -f "$T/dovecot/dovecot.conf" ] ||
	    dovecot -c "$T/dovecot/dovecot.conf" stop >/dev/null 2>&1
	if [ -s "$T/exim/exim.pid" ]; then
		kill "$(cat "$T/exim/exim.pid")" 2>/dev/null
	fi
	# Wait for them to be gone, so nothing is left running and $T can go
	# (Postfix's processes do not show the directory on their command
	# line; "postfix status" fails once its master is gone).
	_i=0
	while [ $_i -lt 100 ] && { pgrep -f "$T/" >/dev/null 2>&1 ||
	    postfix -c "$T/postfix/etc" status >/dev/null 2>&1; }; do
		sleep 0.1
		_i=$((_i + 1))
	done
	stop_servers
	rm -rf "$T"
}
trap cleanup EXIT

# free_ports N: N unused TCP ports of 127.0.0.1.
free_ports() {
	"$PYTHON3" -c 'import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# fill TEMPLATE OUT NAME=VALUE...: the template with each @NAME@ replaced.
fill() {
	_in=$1 _out=$2
	shift 2
	cp "$_in" "$_out.tmp"
	for _kv in "$@"; do
		_k=${_kv%%=*} _v=${_kv#*=}
		_v=$(printf '%s' "$_v" | sed 's/[&|\\]/\\&/g')
		sed -i "s|@$_k@|$_v|g" "$_out.tmp"
	done
	mv "$_out.tmp" "$_out"
}

# The run's CA and the certificate for localhost and 127.0.0.1, made by the
# test server's own helper (tests/smtpd.py make_certificates).
mkdir -p "$T/pki"
"$PYTHON3" -c 'import importlib.util, sys
spec = importlib.util.spec_from_file_location("dm_smtpd", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
m.make_certificates(sys.argv[2], "good")' "$top_srcdir/tests/smtpd.py" "$T/pki" ||
    { echo "Bail out! cannot make the test certificates"; exit 1; }

# The mailboxes both servers have; "anna" also gets their bounces.
MAILBOXES="anna@example.test hans@example.test joerg@x.test h@hidden.test k@x.test"

set -- $(free_ports 4)
pf_sub=$1 pf_ssl=$2 ex_sub=$3 ex_ssl=$4

# --- Dovecot (auth only) and Postfix
start_postfix() {
	_d=$T/postfix
	mkdir -p "$_d/etc" "$_d/queue" "$_d/data" "$_d/mail" "$T/dovecot"
	chown postfix "$_d/data"
	chown "$MAILUID:$MAILGID" "$_d/mail"
	sasl=$T/dovecot/auth-postfix
	fill "$here/dovecot.conf.in" "$T/dovecot/dovecot.conf" \
	    "DIR=$T/dovecot" "SASL=$sasl" "MAILUID=$MAILUID" "MAILGID=$MAILGID"
	printf 'anna:{PLAIN}%s\n' "$PASSWORD" >"$T/dovecot/users"
	# read by the auth process, which runs as the dovecot user
	chown dovecot "$T/dovecot/users"
	chmod 600 "$T/dovecot/users"
	dovecot -c "$T/dovecot/dovecot.conf" 2>"$T/dovecot/start.err" || {
		diag "$(cat "$T/dovecot/start.err")"
		return 1
	}
	fill "$here/postfix-main.cf.in" "$_d/etc/main.cf" "DIR=$_d" \
	    "PKI=$T/pki" "SASL=$sasl" "MAILUID=$MAILUID" "MAILGID=$MAILGID"
	fill "$here/postfix-master.cf.in" "$_d/etc/master.cf" \
	    "SUBMISSION=127.0.0.1:$pf_sub" "SMTPS=127.0.0.1:$pf_ssl"
	# virtual(8) takes no regexp substitution: one line per mailbox,
	# DOMAIN/USER/ (the slash asks for a Maildir)
	for _a in $MAILBOXES; do
		echo "$_a ${_a#*@}/${_a%@*}/"
	done >"$_d/etc/vmailbox"
	echo 'anna@example.test anna' >"$_d/etc/senders"
	# Postfix logs its errors to maillog, not to the terminal.
	postfix -c "$_d/etc" start >"$_d/start.log" 2>&1 || {
		diag "$(cat "$_d/start.log"; tail -n 20 "$_d/maillog")"
		return 1
	}
}

# --- Exim, Debian's binary unpacked into $T/exim-root (install.sh)
start_exim() {
	_d=$T/exim
	mkdir -p "$_d/spool" "$_d/log" "$_d/mail"
	# The daemon runs as root but receives and delivers as Debian-exim
	# (deliver_drop_privilege), which must reach these and read the key.
	cp "$T/pki/server.pem" "$T/pki/server.key" "$_d/"
	chown Debian-exim "$_d/spool" "$_d/log" "$_d/mail" "$_d/server.key"
	for _a in $MAILBOXES; do
		echo "${_a%@*}: ${_a%@*}"
	done >"$_d/users"
	fill "$here/exim.conf.in" "$_d/exim.conf" "DIR=$_d" "EXIM=$EXIM" \
	    "PKI=$_d" "SUBMISSION=$ex_sub" "SMTPS=$ex_ssl" "PASSWORD=$PASSWORD"
	# Exim takes a -C file only when no one but root can change it.
	chmod 644 "$_d/exim.conf"
	"$EXIM" -C "$_d/exim.conf" -bd -q30m >"$_d/start.log" 2>&1 || {
		diag "$(cat "$_d/start.log" "$_d/log/paniclog" \
		    "$_d/log/mainlog" 2>/dev/null)"
		return 1
	}
}

# --- checks on what the servers delivered

# settle: waits (10 s at most) until the server $srv has delivered what
# it accepted: its queue holds no message.
settle() {
	case $srv in
	postfix) _q="$T/postfix/queue/incoming $T/postfix/queue/active $T/postfix/queue/maildrop" ;;
	exim) _q=$T/exim/spool/input ;;
	esac
	_i=0
	while [ $_i -lt 200 ] && [ -n "$(find $_q -type f 2>/dev/null)" ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
}

# copies ADDR ID: how many messages with Message-ID ID the mailbox of ADDR
# holds, in the server's Maildir tree $mail.
copies() {
	_box=$mail/${1#*@}/${1%@*}
	find "$_box/new" "$_box/cur" -type f 2>/dev/null |
	    while read -r _f; do
		grep -il "^Message-ID: <$2>" "$_f"
	done | wc -l
}
# file_of ADDR ID: the file in ADDR's mailbox holding message ID
file_of() {
	_box=$mail/${1#*@}/${1%@*}
	grep -il "^Message-ID: <$2>" "$_box"/new/* "$_box"/cur/* 2>/dev/null |
	    head -n 1
}
# same_as DELIVERED DRYRUN: the delivered file is the dry run's bytes, in
# LF line ends, behind trace headers the server put in front (and nothing
# else added, removed or changed).
same_as() {
	sed 's/\r$//' "$2" >"$T/want"
	_n=$(wc -c <"$T/want") _all=$(wc -c <"$1")
	[ "$_all" -ge "$_n" ] || return 1
	tail -c "$_n" "$1" | cmp -s - "$T/want" || return 1
	head -c $((_all - _n)) "$1" | awk '
		/^[ \t]/ { next }
		{ name = tolower($0); sub(/:.*/, "", name) }
		name ~ /^(return-path|received|delivered-to|x-original-to|envelope-to|delivery-date)$/ { next }
		{ bad = 1; print "unexpected line: " $0 }
		END { exit bad }
	' >&2
}
# outbox_state ID: "waiting", "may have been delivered", or "-" when the
# message with Message-ID ID is not in the outbox.
outbox_state() {
	_f=$(grep -l "^Message-ID: <$1>" "$XDG_DATA_HOME"/docmail/outbox/new/* \
	    2>/dev/null | head -n 1)
	if [ -z "$_f" ]; then
		echo -
		return
	fi
	"$DOCMAIL" --config "$cfg" outbox 2>/dev/null |
	    awk -v id="$(basename "$_f" .docmail)" '
		$1 == id { print (/may have been delivered/ ? "maybe" : "waiting"); f = 1 }
		END { if (!f) print "unlisted" }'
}
dm() { run "$DOCMAIL" --config "$cfg" "$@"; }

# A PDF with a non-ASCII name, and a big attachment for the kill points
# (about 400 KB of base64, far more than the buffers on the way).
pdf=$T/Rechnung-Müller.pdf
cp "$SAMPLES/invoice-2026-001.pdf" "$pdf"
head -c 300000 /dev/urandom >"$T/Lieferschein.pdf"
export SOURCE_DATE_EPOCH=1790000000

# interop NAME SUBMISSION-PORT SMTPS-PORT: everything against one server.
interop() {
	srv=$1 sub=$2 ssl=$3
	mail=$T/$srv/mail
	# an outbox of its own, so that one server's leftovers are not
	# retried against the other
	export XDG_DATA_HOME="$T/home/$srv/data" XDG_STATE_HOME="$T/home/$srv/state"
	cfg=$T/$srv.ini
	profile "$cfg" pki "$sub" starttls "timeout=10"

	# --- docmail test, both TLS modes
	dm test --verbose
	is_rc 0 "$srv: test passes over STARTTLS"
	grep -Eq '^S: 250[- ]CHUNKING' "$T/err"
	ok $? "$srv: the stock server advertises CHUNKING"
	profile "$cfg" pki "$ssl" ssl "timeout=10"
	dm test
	is_rc 0 "$srv: test passes over implicit TLS"

	# --- the wrong security for the port, both ways: said within
	# seconds, not after the 30 s timeout
	profile "$cfg" pki "$ssl" starttls "timeout=30"
	t0=$(date +%s)
	dm test
	t1=$(date +%s)
	is_rc 78 "$srv: starttls on the implicit-TLS port is a configuration error"
	has "$T/err" "set security = ssl" "$srv: saying to set security = ssl"
	[ $((t1 - t0)) -lt 10 ]
	ok $? "$srv: within seconds, not the 30 s timeout ($((t1 - t0)) s)"
	profile "$cfg" pki "$sub" ssl "timeout=30"
	dm test
	is_rc 78 "$srv: ssl on the STARTTLS port is a configuration error"

	# --- a PDF to To, Cc and Bcc with non-ASCII names, byte for byte
	profile "$cfg" pki "$sub" starttls "timeout=10"
	id=invoice-$srv@example.test
	set -- --to '"Müller, Hans" <hans@example.test>' \
	    --cc 'Jörg Weiß <joerg@x.test>' --bcc 'Geheim <h@hidden.test>' \
	    --subject 'Rechnung für Sie' \
	    --body "$(printf 'Guten Tag,\n.\n..\nfreundliche Grüße')" "$pdf"
	DOCMAIL_MESSAGE_ID=$id dm send --dry-run "$@"
	cp "$T/out" "$T/dry.eml"
	DOCMAIL_MESSAGE_ID=$id dm send --yes "$@"
	is_rc 0 "$srv: send of a PDF to To, Cc and Bcc succeeds"
	settle
	for a in hans@example.test joerg@x.test h@hidden.test; do
		[ "$(copies "$a" "$id")" -eq 1 ]
		ok $? "$srv: $a got the message exactly once ($(copies "$a" "$id"))"
		f=$(file_of "$a" "$id")
		if [ -n "$f" ] && same_as "$f" "$T/dry.eml" 2>"$T/cmp.err"; then
			ok 0 "$srv: $a's copy is the dry run byte for byte"
		else
			ok 1 "$srv: $a's copy is the dry run byte for byte"
			diag "$(cat "$T/cmp.err")" "${f:-no file}"
		fi
	done
	f=$(file_of h@hidden.test "$id")
	if [ -n "$f" ] && ! grep -qi '^bcc:\|hidden\.test>' "$f"; then
		r=0
	else
		r=1
	fi
	ok $r "$srv: the Bcc recipient appears nowhere in the message"
	[ "$(outbox_state "$id")" = - ]
	ok $? "$srv: the outbox is empty after the send ($(outbox_state "$id"))"

	# --- a retry after a successful send sends nothing
	run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
	is_rc 0 "$srv: outbox --retry after the send"
	has "$T/out" "nothing to send" "$srv: finds nothing to send"
	settle
	[ "$(copies hans@example.test "$id")" -eq 1 ]
	ok $? "$srv: and sent nothing again"

	# --- implicit TLS
	profile "$cfg" pki "$ssl" ssl "timeout=10"
	DOCMAIL_MESSAGE_ID=ssl-$srv@example.test dm send --yes \
	    --to k@x.test --subject 'Über TLS' --body B "$pdf"
	is_rc 0 "$srv: send over implicit TLS succeeds"
	settle
	[ "$(copies k@x.test "ssl-$srv@example.test")" -eq 1 ]
	ok $? "$srv: delivered once over implicit TLS"

	# --- kept in the outbox (server unreachable), then one retry sends it
	set -- $(free_ports 1)
	profile "$cfg" pki "$1" starttls "timeout=10"
	id=kept-$srv@example.test
	DOCMAIL_MESSAGE_ID=$id dm send --yes --to k@x.test --subject Kept \
	    --body B "$pdf"
	is_rc 75 "$srv: send to a closed port is kept in the outbox"
	profile "$cfg" pki "$sub" starttls "timeout=10"
	run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
	is_rc 0 "$srv: outbox --retry sends it"
	run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
	is_rc 0 "$srv: a second outbox --retry"
	has "$T/out" "nothing to send" "$srv: finds nothing to send"
	settle
	[ "$(copies k@x.test "$id")" -eq 1 ]
	ok $? "$srv: the kept message arrived exactly once ($(copies k@x.test "$id"))"
	[ "$(outbox_state "$id")" = - ]
	ok $? "$srv: and left the outbox ($(outbox_state "$id"))"

	kill_points
	sender_mismatch
}

# kill_points: "send" killed with SIGKILL at four points of the session
# (tests/interop/killpoint.py relays it), then "outbox --retry": each
# message arrives exactly once, and the one whose final dot went out is
# kept as "may have been delivered", not sent a second time.
kill_points() {
	set -- $(free_ports 1)
	relay=$1
	rcfg=$T/$srv-relay.ini
	profile "$rcfg" pki "$relay" starttls "timeout=10"
	for point in connect auth data dot; do
		id=kill-$point-$srv@example.test
		set -- --to k@x.test --subject "Killed at $point" --body B \
		    "$T/Lieferschein.pdf"
		DOCMAIL_MESSAGE_ID=$id dm send --dry-run "$@"
		size=$(wc -c <"$T/out")
		res=$(DOCMAIL_MESSAGE_ID=$id "$PYTHON3" "$here/killpoint.py" \
		    "$point" "$relay" "$sub" "$size" "$T/kill-$point.log" -- \
		    env LD_PRELOAD="$shim" DM_SHIM_SNDBUF=16384 \
		    "$DOCMAIL" --config "$rcfg" send --verbose --yes "$@")
		[ "$res" = killed ]
		ok $? "$srv: send killed at '$point' ($res)" ||
		    diag "$(tail -n 5 "$T/kill-$point.log")"
	done
	settle
	# before the final dot: never reached the server's mailboxes, waiting
	for point in connect auth data; do
		id=kill-$point-$srv@example.test
		n=$(copies k@x.test "$id") st=$(outbox_state "$id")
		[ "$n" -eq 0 ] && [ "$st" = waiting ]
		ok $? "$srv: killed at '$point': not delivered, waiting in the outbox ($n, $st)"
	done
	id=kill-dot-$srv@example.test
	n=$(copies k@x.test "$id") st=$(outbox_state "$id")
	[ "$n" -eq 1 ] && [ "$st" = maybe ]
	ok $? "$srv: killed after the final dot: delivered, kept as 'may have been delivered' ($n, $st)"

	# without a terminal the retry skips what may have been delivered
	run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
	is_rc 75 "$srv: outbox --retry sends the waiting ones, skips the other (exit 75)"
	run setsid -w "$DOCMAIL" --config "$cfg" outbox --retry
	is_rc 75 "$srv: a second outbox --retry"
	has "$T/out" "outbox: 0 sent, 0 failed, 1 skipped" \
	    "$srv: sends nothing more, skips the one that may have been delivered"
	settle
	for point in connect auth data dot; do
		id=kill-$point-$srv@example.test
		n=$(copies k@x.test "$id")
		[ "$n" -eq 1 ]
		ok $? "$srv: the message killed at '$point' arrived exactly once ($n)"
	done
	left=
	for point in connect auth data; do
		[ "$(outbox_state "kill-$point-$srv@example.test")" = - ] ||
		    left="$left $point"
	done
	[ -z "$left" ]
	ok $? "$srv: the retried ones left the outbox (still there:${left:- none})"
	# the user saw it arrived: drop it, so the next checks start empty
	f=$(grep -l "^Message-ID: <kill-dot-$srv@example.test>" \
	    "$XDG_DATA_HOME"/docmail/outbox/new/* 2>/dev/null | head -n 1)
	[ -z "$f" ] || "$DOCMAIL" --config "$cfg" outbox --drop \
	    "$(basename "$f" .docmail)" --yes >/dev/null 2>&1
}

# sender_mismatch: the login (anna) may not send as other@example.test.
# Postfix refuses it at RCPT (553 5.7.1 ... not owned by user anna), Exim
# at MAIL (550): both "docmail test" and "send" must say so, exit 69.
sender_mismatch() {
	profile "$cfg" pki "$sub" starttls "timeout=10" \
	    "email=other@example.test"
	dm test
	is_rc 69 "$srv: test with a sender the login does not own is refused"
	has "$T/err" "may not send as other@example.test" \
	    "$srv: and says the account may not send as that address"
	id=mismatch-$srv@example.test
	DOCMAIL_MESSAGE_ID=$id dm send --yes --to k@x.test --subject Mismatch \
	    --body B "$pdf"
	is_rc 69 "$srv: send with that sender is refused"
	has "$T/err" "may not send as other@example.test" \
	    "$srv: with the hint that the account may not send as it"
	settle
	[ "$(copies k@x.test "$id")" -eq 0 ]
	ok $? "$srv: nothing was delivered"
}

shim=$(preload) || exit 1

plan 96
start_postfix || { echo "Bail out! Postfix did not start"; exit 1; }
interop postfix "$pf_sub" "$pf_ssl"
start_exim || { echo "Bail out! Exim did not start"; exit 1; }
interop exim "$ex_sub" "$ex_ssl"
done_testing
