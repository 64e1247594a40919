# lib.sh - what the benchmark scripts share; source it from bash.

notes=
note() { notes="$notes$*"$'\n'; echo "note: $*" >&2; }

# have CMD PACKAGE: CMD is there, or was just installed from PACKAGE.
# Installing needs root; anyone else gets the tool skipped with a note.
apt_updated=
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ]; then
		note "$1 is not installed and this is not root: skipped (apt-get install $2)"
		return 1
	fi
	echo "installing $2 ..." >&2
	# A fresh machine has no package lists yet; update once, on demand.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" \
	    >/dev/null 2>&1; then
		if [ -z "$apt_updated" ]; then
			apt_updated=1
			apt-get update -q >/dev/null 2>&1 || :
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" \
		    >/dev/null 2>&1 || :
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	note "$1: apt-get install $2 failed: skipped"
	return 1
}
