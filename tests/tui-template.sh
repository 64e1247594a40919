#!/bin/sh
# tui-template.sh - a newcomer is never stranded by a missing template:
# the first Save writes one; a sidecar naming a template the config
# lacks still lets typed text be previewed and sent, and ^N adds a
# ready-made template (keeping what was typed).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

plan 15

printf 'anna:%s\n' "$PASSWORD" >"$T/auth"
start_server tls --mode starttls --auth-file "$T/auth"
cfg=$XDG_CONFIG_HOME/docmail/config.ini
envs="HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' LC_ALL=C.UTF-8"

# --- the first Save writes a template to start from
term "env $envs '$DOCMAIL'"
wait_for "SMTP settings"
type_field "Anna Muster"
keys Tab
type_field "anna@example.test"
keys Tab
type_field localhost
keys Tab
type_field "$PORT"
keys F2
wait_for "saved to"
ok $? "the first Save saves"
keys F1
wait_for "The last message, in full:"
wait_joined "with a template 'invoice' to start from"
ok $? "and says it added a template to start from"
keys Escape
grep -q '^\[template invoice\]' "$cfg"
ok $? "the config has [template invoice]"
keys C-q	# after the first Save, on to the document list
wait_for "Documents"
keys q
wait_for "EXIT="

# --- a config without templates, a sidecar naming one -----------------
profile "$cfg" tls "$PORT" starttls
mkdir -p "$T/doc"
cp "$SAMPLES/invoice-2026-001.pdf" "$SAMPLES/invoice-2026-001.pdf.ini" "$T/doc/"
term "env $envs '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
wait_for "no template 'invoice' in the config (invoice-2026-001.pdf.ini"
ok $? "a missing template is said"
wait_for "^N Add template" &&
    wait_for "Template: none ('invoice' missing: ^N); data from "
ok $? "with ^N to add one in the key bar and beside the template's name"
keys -l 'k@x.test'
keys Tab Tab Tab Tab
keys -l 'Typed subject'
keys Tab
keys -l 'Typed text'
keys F3
wait_for "Send this email to 1 recipient?"
ok $? "typed Subject and Text preview although the template is missing"
keys n
wait_for "Subject [Typed subject"
keys C-n
wait_for "template 'invoice' added"
ok $? "^N adds the template"
wait_for "what you typed is kept" && wait_for "Subject [Typed subject" &&
    wait_for "Template: invoice; data from "
ok $? "and keeps what was typed"
grep -q '^\[template invoice\]' "$cfg"
ok $? "the config has it now"
keys F3
wait_for "Send this email to 1 recipient?"
keys y
wait_for "Sent." 20
ok $? "and the typed email is sent"
keys Enter
wait_for "EXIT="

# --- ^N with nothing typed fills Subject and Text from it --------------
sed 's/^template = .*/template = offer/' "$SAMPLES/invoice-2026-001.pdf.ini" \
    >"$T/doc/invoice-2026-001.pdf.ini"
term "env $envs '$DOCMAIL' --config '$cfg' '$T/doc/invoice-2026-001.pdf'"
wait_for "no template 'offer' in the config"
keys C-n
wait_for "Subject [Offer 2026-001 from Anna Muster"
ok $? "^N on an empty dialog fills Subject from the ready-made offer"
wait_for "please find attached our offer 2026-001"
ok $? "and the Text"
"$DOCMAIL" --config "$cfg" send --dry-run --to k@x.test \
    "$T/doc/invoice-2026-001.pdf" >"$T/out" 2>"$T/err"
grep -q "^Subject: Offer 2026-001 from Anna Muster" "$T/out"
ok $? "the command line uses the added template too"
keys Escape
wait_for "EXIT=0"
ok $? "and the dialog leaves cleanly"

# --- a template added by hand while docmail runs is used without a restart
mkdir -p "$T/docs"
cp "$SAMPLES/invoice-2026-001.pdf" "$T/docs/"
sed 's/^template = .*/template = note/' "$SAMPLES/invoice-2026-001.pdf.ini" \
    >"$T/docs/invoice-2026-001.pdf.ini"
profile "$cfg" tls "$PORT" starttls "documents_dir=$T/docs"
term "env $envs '$DOCMAIL' --config '$cfg'"
wait_for "invoice-2026-001.pdf"
printf '\n[template note]\nsubject = Note {{number}} by hand\nbody = Hello\n' >>"$cfg"
keys Enter
wait_for "Subject [Note 2026-001 by hand"
ok $? "the send dialog reads a config changed on disk meanwhile"
keys Escape
wait_for "invoice-2026-001.pdf"
keys q
wait_for "EXIT="

done_testing
