#!/bin/sh
# install.sh DIR - makes sure what tests/interop/run.sh needs is on this
# Debian machine, installing it with apt-get when missing (root only):
# Postfix and dovecot-core as packages, and Exim, whose package conflicts
# with Postfix's (both are the mail-transport-agent), downloaded with
# "apt-get download" and unpacked into DIR/exim-root.  Prints the reason
# and exits 1 when something cannot be had.
set -u
dir=$1
export DEBIAN_FRONTEND=noninteractive
say() { printf '%s\n' "$*" >&2; }

# Exim's runtime libraries (the unpacked binary needs them; as libraries
# they conflict with nothing).
exim_libs="libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libcrypt1"

missing=
command -v postfix >/dev/null 2>&1 || missing="$missing postfix"
command -v dovecot >/dev/null 2>&1 || missing="$missing dovecot-core"
for p in python3-cryptography $exim_libs; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		say "not installed:$missing (root installs them)"
		exit 1
	fi
	# Postfix unconfigured (no /etc/postfix/main.cf, so no system
	# instance can start), and no service started by the packages' scripts:
	# a policy-rc.d that denies every start, only for this install and
	# only where the machine has none of its own.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	policy=
	trap '[ -z "$policy" ] || rm -f "$policy"' EXIT
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	apt-get update -q >"$dir/apt.log" 2>&1
	apt-get install -y -q --no-install-recommends $missing \
	    >>"$dir/apt.log" 2>&1
	r=$?
	[ -z "$policy" ] || rm -f "$policy"
	policy=
	if [ $r -ne 0 ]; then
		say "apt-get install$missing failed:"
		tail -n 20 "$dir/apt.log" >&2
		exit 1
	fi
	# A system Dovecot set up by its package would hold port 143/993
	# from the next boot on; this test never wants it.
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now dovecot.service dovecot.socket \
		    >/dev/null 2>&1
	fi
fi

# Exim: the Debian binary refuses to start unless its compiled-in user
# exists; exim4-base's postinst would create it the same way.
if ! getent passwd Debian-exim >/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		say "user Debian-exim is missing (root creates it)"
		exit 1
	fi
	adduser --system --group --quiet --home /var/spool/exim4 \
	    --no-create-home --disabled-login --force-badname Debian-exim ||
	    { say "cannot create user Debian-exim"; exit 1; }
fi
mkdir -p "$dir/exim-debs" "$dir/exim-root"
if ! (cd "$dir/exim-debs" &&
    apt-get download exim4-daemon-light exim4-base exim4-config) \
    >"$dir/exim-download.log" 2>&1; then
	say "apt-get download exim4-daemon-light failed:"
	tail -n 20 "$dir/exim-download.log" >&2
	exit 1
fi
for deb in "$dir"/exim-debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/exim-root" ||
	    { say "cannot unpack $deb"; exit 1; }
done
exit 0
