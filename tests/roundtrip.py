"""Round trip: docmail's dry-run output, parsed by Python's email package
(policy.default), must give back exactly what went in.

usage: roundtrip.py DOCMAIL CONFIG WORKDIR
Prints TAP.
"""
import email
import email.policy
import os
import subprocess
import sys

docmail, config, work = sys.argv[1:4]
n = 0
failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, name))
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print("# " + line)


def text_of(part):
    """A text part's content with its line ends as the user typed them:
    on the wire every line ends in CRLF (RFC 5322), which the parser
    keeps; the body given was written with LF."""
    return part.get_content().replace("\r\n", "\n")


def compose(args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([docmail, "--config", config, "send", "--dry-run"] + args,
                       capture_output=True, env=env)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


# Inputs that exercise every encoding: non-ASCII names, a subject long
# enough to need several encoded words with multi-byte characters at
# their edges, a body with long lines, ".", "From " and trailing blanks,
# a file name with quotes, spaces and umlauts, and binary content.
subject = ("Rechnung 2026-001 für Müller & Söhne — Zahlbar bis 09.12.2026 "
           "(Betrag: € 1 297,20) 請求書 " + "ü€" * 20)
body = ("Grüezi Frau Müller,\n\n"
        "anbei die Rechnung. Bitte beachten Sie:\n"
        ".\n"
        "From here on, everything is quoted.\n"
        "trailing blanks   \n"
        + "x" * 3000 + "\n"
        + "€" * 400 + "\n"
        "Freundliche Grüsse\nAnna\n")
fname = 'Rechnung "Müller, Söhne" 2026 – Nr. 1 ünd ein sehr langer Name dazu.pdf'
payload = b"%PDF-1.4\n" + bytes(range(256)) * 400 + b"\r\n.\r\nFrom x\n%%EOF\n"
path = os.path.join(work, fname)
with open(path, "wb") as f:
    f.write(payload)
bodyfile = os.path.join(work, "body.txt")
with open(bodyfile, "w", encoding="utf-8") as f:
    f.write(body)

to = '"Müller, Hans" <hans@x.test>; Zoë Ångström <zoe@y.test>, plain@z.test'
cc = 'Ünal Çelik <u@c.test>'
rc, out, err = compose(["--to", to, "--cc", cc, "--bcc", "hidden@b.test",
                        "--reply-to", "Büro <buero@x.test>",
                        "--subject", subject, "--body-file", bodyfile, path])
ok(rc == 0, "dry-run succeeds", err)

lines = out.split(b"\r\n")
ok(lines[-1] == b"", "the message ends with CRLF")
ok(all(b"\n" not in l and b"\r" not in l for l in lines), "no bare CR or LF",
   [l for l in lines if b"\n" in l or b"\r" in l][:3])
ok(max(len(l) for l in lines) <= 998, "no line over 998 octets")
head = out.split(b"\r\n\r\n", 1)[0]
ok(all(b < 0x80 for b in head), "no 8-bit byte in the top-level header")
part_heads = [p.split(b"\r\n\r\n", 1)[0] for p in out.split(b"\r\n--")[1:]]
ok(all(all(b < 0x80 for b in h) for h in part_heads), "no 8-bit byte in part headers")
ok(all(len(l) <= 78 for l in head.split(b"\r\n")), "header lines folded under 78 columns",
   [l for l in head.split(b"\r\n") if len(l) > 78][:2])

msg = email.message_from_bytes(out, policy=email.policy.default)
ok(msg.defects == [], "the parser finds no defects", msg.defects)
ok(str(msg["Subject"]) == subject, "Subject decodes to the input",
   "%r\n%r" % (str(msg["Subject"]), subject))
toh = msg["To"]
ok([(a.display_name, a.addr_spec) for a in toh.addresses] ==
   [("Müller, Hans", "hans@x.test"), ("Zoë Ångström", "zoe@y.test"), ("", "plain@z.test")],
   "To decodes to the three recipients", toh.addresses)
ok([(a.display_name, a.addr_spec) for a in msg["Cc"].addresses] == [("Ünal Çelik", "u@c.test")],
   "Cc decodes", msg["Cc"])
ok([(a.display_name, a.addr_spec) for a in msg["Reply-To"].addresses] == [("Büro", "buero@x.test")],
   "Reply-To decodes", msg["Reply-To"])
ok([(a.display_name, a.addr_spec) for a in msg["From"].addresses] == [("Anna Muster", "anna@example.test")],
   "From decodes", msg["From"])
ok(msg["Bcc"] is None and b"hidden@b.test" not in out, "no Bcc header, Bcc address nowhere")
ok("RCPT TO:<hidden@b.test>" in err, "Bcc is in the envelope")
ok(msg["Date"] is not None and msg["Date"].datetime is not None, "Date parses", msg["Date"])
mid = msg["Message-ID"]
ok(mid is not None and mid.startswith("<") and mid.endswith("@example.test>"),
   "Message-ID is on the sender's domain", mid)
ok(msg["MIME-Version"] == "1.0", "MIME-Version 1.0")

text = msg.get_body(("plain",))
ok(text is not None and text_of(text) == body, "the body decodes to the input exactly",
   None if text is None else repr(text_of(text)[:200]))
atts = list(msg.iter_attachments())
ok(len(atts) == 1, "one attachment", len(atts))
if atts:
    a = atts[0]
    ok(a.get_filename() == fname, "file name decodes to the input",
       "%r" % a.get_filename())
    ok(a.get_content_type() == "application/pdf", "the PDF is application/pdf")
    ok(a.get_content() == payload, "attachment bytes round-trip exactly")
    ok(a["Content-Transfer-Encoding"] == "base64", "attachment is base64")
else:
    for i in range(4):
        ok(False, "attachment checks")

# A plain-ASCII short message stays 7bit and still round-trips.
rc, out, err = compose(["--to", "a@x.test", "--subject", "Hello", "--body", "Short text.\n"])
msg = email.message_from_bytes(out, policy=email.policy.default)
ok(rc == 0 and msg.get_content_type() == "text/plain", "a message without documents is text/plain")
ok(msg["Content-Transfer-Encoding"] == "7bit" and text_of(msg) == "Short text.\n",
   "pure ASCII with short lines stays 7bit", msg["Content-Transfer-Encoding"])

# Several documents, one of them empty.
empty = os.path.join(work, "leer.txt")
open(empty, "wb").close()
rc, out, err = compose(["--to", "a@x.test", "--subject", "Zwei", path, empty])
msg = email.message_from_bytes(out, policy=email.policy.default)
atts = list(msg.iter_attachments())
ok(rc == 0 and [a.get_filename() for a in atts] == [fname, "leer.txt"],
   "two documents in order", [a.get_filename() for a in atts])
ok(len(atts) == 2 and atts[1].get_content() in ("", b"") and atts[0].get_content() == payload,
   "an empty document round-trips")

# File names as each kind of reader gets them: Content-Disposition names
# the file once (filename* for anything but short printable ASCII, which
# a duplicate filename= would shadow for some readers); Content-Type's
# name= carries it too, RFC 2047 encoded for readers without RFC 2231.
# Python notes encoded words in a quoted string as a defect of
# Content-Type (RFC 2047 5 does not allow them there): that, and only
# that, is accepted, since old Outlook reads nothing else.
EW_IN_QUOTES = {"encoded word inside quoted string",
                "missing trailing whitespace after encoded-word"}
names = [
    ("plain ASCII", "invoice-2026-001.pdf"),
    ("ASCII with blanks", "Rechnung 2026 Nr 1.pdf"),
    ("quotes, backslash and ';'", 'a "b" c\\d; e.pdf'),
    ("umlauts", "Rechnung Müller.pdf"),
    ("an emoji", "Rechnung \U0001F9FE 2026.pdf"),
    # The longest names a Linux file system takes: 255 bytes.
    ("127 umlauts", "ü" * 125 + ".pdf"),
    ("83 CJK characters", "請求書" * 27 + "請求.pdf"),
    ("a long ASCII name", "a" * 200 + ".pdf"),
]
for what, name in names:
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n" + name.encode())
    rc, out, err = compose(["--to", "a@x.test", "--subject", "Name", path])
    msg = email.message_from_bytes(out, policy=email.policy.default)
    atts = list(msg.iter_attachments())
    a = atts[0] if len(atts) == 1 else None
    ok(rc == 0 and a is not None, what + ": composed", err)
    if a is None:
        continue
    ascii_plain = name.isascii() and len(name) < 60
    ct_defects = [str(d) for d in a["Content-Type"].defects]
    ok(msg.defects == [] and a.defects == [] and
       a["Content-Disposition"].defects == () and
       (ct_defects == [] if ascii_plain else set(ct_defects) <= EW_IN_QUOTES),
       what + ": no defects (but encoded words in name=)",
       "%r %r %r %r" % (msg.defects, a.defects,
                        a["Content-Disposition"].defects, ct_defects))
    ok(a.get_filename() == name, what + ": Content-Disposition gives the name",
       "%r" % a.get_filename())
    ok(a.get_param("name") == name, what + ": Content-Type name= gives it too",
       "%r" % a.get_param("name"))
    cd = a["Content-Disposition"].params
    ok(list(cd) == ["filename"], what + ": one file name parameter", cd)
    ph = out.split(b"\r\n--")[2].split(b"\r\n\r\n", 1)[0]
    raw_cd = ph.split(b"Content-Disposition:")[1].split(b"Content-Transfer")[0]
    ok((b" filename=" in raw_cd) == ascii_plain and
       (b"filename*" in raw_cd) != ascii_plain,
       what + (": plain filename=" if ascii_plain else ": filename* alone"),
       raw_cd)
    ok(all(len(l) <= 78 and max(l, default=0) < 0x80 for l in ph.split(b"\r\n")),
       what + ": part header lines under 78, 7-bit", ph)

print("1..%d" % n)
sys.exit(1 if failed else 0)
