#!/bin/sh
# completion.sh - the shell completions, bash (completion/bash/docmail)
# and zsh (completion/zsh/_docmail), asked the same questions: commands,
# options, profile and template names from the config, outbox IDs and
# documents.  bash: sourced, its function fills COMPREPLY.  zsh: a real
# interactive zsh on a pseudo-terminal (the zpty module) with compinit
# and the completion on its fpath gets the line and a Tab, and every
# match offered is recorded.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

if ! command -v bash >/dev/null 2>&1; then
	echo "1..0 # SKIP bash not installed"
	exit 77
fi
# CI installs zsh (quickstart): there its tests must run.
zsh=$(command -v zsh) || zsh=

plan 41

# A config with two profiles and two templates, one of them given with
# CRLF line ends, and another one for --config.
mkdir -p "$XDG_CONFIG_HOME/docmail" "$T/docs/sub"
cat >"$XDG_CONFIG_HOME/docmail/config.ini" <<'INI'
[profile default]
name = Anna Muster
email = anna@example.test
host = 127.0.0.1
port = 1
security = starttls
user = anna
password = secret
timeout = 3

[profile work]
name = Anna Muster
email = anna@work.example.test
host = 127.0.0.1
; [profile commented-out]

[template invoice]
subject = Invoice {{number}}
body = Dear customer,
    [profile not-a-profile] is a line of the text, not a section
INI
printf '[template reminder ]\r\nsubject = Reminder\r\n' \
    >>"$XDG_CONFIG_HOME/docmail/config.ini"
chmod 600 "$XDG_CONFIG_HOME/docmail/config.ini"
printf '[profile other]\n[template offer]\n' >"$T/other.ini"
: >"$T/docs/invoice-1.pdf"
: >"$T/docs/INVOICE-2.PDF"
: >"$T/docs/invoice-1.pdf.ini"
: >"$T/docs/notes.txt"

# An outbox item: a send to a closed port on loopback stays there.
(cd "$T/docs" && "$DOCMAIL_BIN" send --yes --to b@example.test \
    --subject hi invoice-1.pdf) >"$T/send.out" 2>&1
id=$("$DOCMAIL_BIN" outbox | sed -n 's/^\([^ ]*\)  [0-9].*/\1/p')
[ -n "$id" ]
ok $? "a message waits in the outbox" || diag "$(cat "$T/send.out")"
: "${id:=no-outbox-id}"

# complete WORDS...: the completions of the last word (give '' to
# complete an empty word), one per line and sorted, in $T/out.
complete_words() {
	(cd "$T/docs" && PATH=$top_builddir/src:$PATH bash --norc --noprofile \
	    -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
	    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _docmail docmail;
	    printf "%s\n" "${COMPREPLY[@]}" | sort' \
	    "$top_srcdir/completion/bash/docmail" "$@") >"$T/out" 2>"$T/err"
}

# The zsh side: capture.zsh FPATH-DIR OUT LINE types LINE and a Tab
# into an interactive zsh and writes each match that any compadd of the
# completion offers to OUT.
cat >"$T/capture.zsh" <<'ZSH'
zmodload zsh/zpty || exit 2
dir=$1 out=$2 line=$3
: >$out
rm -f $out.done
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; fpath=(${(q)dir} \$fpath)"
zpty -w z "autoload -U compinit && compinit -u -D"
zpty -w z "zstyle ':completion:*' insert-tab false"
zpty -w z "compadd() { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi; local -a h; builtin compadd -A h \"\$@\"; (( \$#h )) && print -rl -- \$h >>${(q)out}; builtin compadd \"\$@\"; }"
zpty -w z "_dm_done() { : >${(q)out}.done; }; comppostfuncs=(_dm_done)"
zpty -w z "bindkey '^I' complete-word"
zpty -w -n z "$line"$'\t'
integer i
for (( i = 0; i < 200; i++ )); do
	[[ -e $out.done ]] && break
	zpty -r -t z junk 2>/dev/null
	sleep 0.05
done
zpty -d z
rm -f $out.done
(( i < 200 ))
ZSH

# complete_zsh WORDS...: as complete_words, in zsh: the words make the
# line ("--opt" "=" "value", bash's split, is "--opt=value" again).
complete_zsh() {
	_line=$(printf '%s ' "$@" | sed 's/ = /=/g')
	_line=${_line% }
	(cd "$T/docs" && PATH=$top_builddir/src:$PATH "$zsh" -f \
	    "$T/capture.zsh" "$top_srcdir/completion/zsh" "$T/zout" "$_line") \
	    >"$T/err" 2>&1 || echo "no completion finished" >>"$T/err"
	sort -u "$T/zout" >"$T/out"
}

# expect WANT DESCRIPTION WORDS...: the completions are exactly WANT
# (space-separated), in bash and in zsh.
expect() {
	_want=$(printf '%s\n' $1 | sort)
	_desc=$2
	shift 2
	for _sh in bash zsh; do
		if [ $_sh = zsh ] && [ -z "$zsh" ]; then
			ok 0 "zsh: $_desc # SKIP zsh not installed"
			continue
		fi
		if [ $_sh = bash ]; then
			complete_words "$@"
		else
			complete_zsh "$@"
		fi
		if [ "$(cat "$T/out")" = "$_want" ] && [ ! -s "$T/err" ]; then
			ok 0 "$_sh: $_desc"
		else
			ok 1 "$_sh: $_desc"
			diag "completing: $*" "want:" "$_want" "got:" "$(cat "$T/out" "$T/err")"
		fi
	done
}

expect "send settings sub" "the commands (and files) starting with s" \
    docmail s
expect "login logout" "the commands starting with lo" docmail lo
expect "--config --profile --help --version" "the global options" docmail -
expect "--bcc --body --body-file" "options of send starting with --b" \
    docmail send --b
expect "--retry --force --drop --yes --verbose --help" \
    "the options of outbox" docmail outbox ''
expect "--rate" "batch has --rate" docmail batch --ra
expect "default work" "profile names from the config" docmail --profile ''
expect "work" "a profile name, typed in part" docmail --profile w
expect "work" "a profile name after --profile=" docmail --profile = w
expect "work" "a profile name after --profile=, one word" \
    docmail --profile=w
expect "other" "profile names from the file after --config" \
    docmail --config "$T/other.ini" --profile ''
expect "default work" "the profile of login" docmail login --profile ''
expect "invoice reminder" "template names (one with CRLF line ends)" \
    docmail send --template ''
expect "offer" "template names of batch from --config" \
    docmail --config "$T/other.ini" batch --template ''
expect "$id" "outbox IDs after --drop" docmail outbox --drop ''
expect "$id" "outbox IDs after --retry" docmail outbox --retry ''
expect "INVOICE-2.PDF invoice-1.pdf sub" \
    "PDF files (and directories) are offered, not other files" \
    docmail send --to a@b.test ''
expect "notes.txt" "any file when no PDF matches" docmail send n
expect "INVOICE-2.PDF invoice-1.pdf sub send batch test outbox settings login logout" \
    "after docmail alone: the commands and PDF files" docmail ''
expect "INVOICE-2.PDF invoice-1.pdf sub" "after a document: only documents" \
    docmail invoice-1.pdf ''
done_testing
