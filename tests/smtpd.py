#!/usr/bin/python3
"""smtpd.py - a local SMTP server for docmail's integration tests and demo.

Run it with Debian's interpreter (/usr/bin/python3): it needs the Debian
package python3-cryptography to make its throwaway certificates.

    /usr/bin/python3 tests/smtpd.py --dir DIR [--host 127.0.0.1] [--port 0]
        [--mode starttls|ssl|plain] [--tls-optional] [--auth-file FILE]
        [--cert good|selfsigned|expired|wrongname|untrusted] [--tls-max 1.2|1.3]
        [--size N] [--ehlo-profile NAME] [--fault NAME[:ARG]]... [--once]
        [--lifetime SEC]

It listens on a loopback address only.  Everything a test needs to look at
is written into DIR:

    pid, port           written once listening (port atomically); removed at exit
    ca.pem              the per-run test CA ("docmail test CA")
    server.pem/.key     the server certificate chosen by --cert, and its key
    fingerprint         sha256:AB:CD:... of the server certificate (DER)
    log                 transcript, one event per line (credentials redacted)
    mail/NNNN.eml       each accepted message, exactly as received (un-stuffed)
    mail/NNNN.json      its envelope and session facts, among them
                        "data_command": "DATA" or "BDAT", whichever
                        carried the message, "session" (1 for the
                        first connection, ...) and "received_at" (the
                        time, for pacing)
    delivered           number of messages accepted by this run

The SMTP protocol is implemented here on plain asyncio streams rather than
on aiosmtpd: the faults below must control the wire byte by byte (no
greeting, replies one byte per second, stop reading mid-DATA, implicit TLS
with SNI logging before the greeting), which aiosmtpd only allows through
its private internals.  See --help for the list of faults.

--ehlo-profile makes the EHLO reply that of a real server (Microsoft 365,
Gmail, Postfix, Exim, OpenSMTPD; PROFILES below says where each comes
from), and the server then honours what it advertises: BDAT (RFC 3030
CHUNKING) with BODY=BINARYMIME, DSN parameters, the real SIZE.
Without a profile the server offers what it always did and no CHUNKING.
The log records which command carried each message: "data-end N bytes
via DATA" or "via BDAT".
"""

import argparse
import asyncio
import base64
import binascii
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import time
import weakref

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # the pyenv python on PATH has no Debian packages
    sys.exit("smtpd.py: python3-cryptography is missing; "
             "run with /usr/bin/python3 (apt-get install python3-cryptography)")

HOSTNAME = "localhost"

# Longest command line accepted (RFC 5321 allows 512; be generous so a
# client's oversized line is answered instead of being cut).
MAX_LINE = 4096

# How long an idle client may keep a session open between commands.
IDLE_TIMEOUT = 300

FAULT_HELP = {
    "greeting-421": "greet with 421 and close",
    "no-greeting": "accept and never send anything",
    "garbage": "greet with an HTTP error and close",
    "no-starttls": "do not offer STARTTLS (502 to it; plaintext then allowed)",
    "starttls-454": "offer STARTTLS but answer 454",
    "ehlo-blank": "a blank after the dash of each EHLO keyword line "
                  "before TLS (\"250- STARTTLS\"), as some servers send",
    "auth-535": "every AUTH fails with 535 5.7.8",
    "auth-534": "every AUTH fails with 534 5.7.9 (app password required)",
    "auth-139": "every AUTH fails with 535 5.7.139 (tenant disabled)",
    "no-auth": "do not offer AUTH (still required with --auth-file)",
    "basic-auth-off": "refuse PLAIN, LOGIN and CRAM-MD5 with 550 5.7.30 "
                      "(Microsoft 365 with basic authentication off)",
    "oauthbearer-only": "offer OAUTHBEARER but not XOAUTH2 (the AUTH "
                        "keyword without XOAUTH2 and XOAUTH, OAUTHBEARER "
                        "added)",
    "auth-line-512": "refuse an AUTH command line longer than 512 octets "
                     "with 500 5.5.6 (an initial response that should "
                     "have waited for the 334)",
    "rcpt-550": "ADDR: refuse that recipient with 550 5.1.1 (repeatable)",
    "rcpt-451": "ADDR: refuse that recipient with 451 4.7.1 (repeatable)",
    "mail-553": "refuse MAIL FROM with 553 5.7.1",
    # The data faults hit BDAT as they hit DATA: "the final dot" is
    # then the last chunk (BDAT n LAST), "after 354" the first BDAT.
    "data-451": "answer the final dot with 451 4.3.0, store nothing",
    "data-554": "answer the final dot with 554 5.7.1, store nothing",
    "drop-mid-data": "close the connection after ~1000 bytes of DATA",
    "drop-after-dot": "read the whole message, close without reply",
    "silent-after-dot": "read the whole message, never reply",
    "stall-data": "after 354 (or at the first BDAT) stop reading from "
                  "the socket",
    "trickle": "send every reply one byte per second",
    "delay-greeting": "SEC: wait SEC seconds before the greeting",
    "slow": "MS: wait MS milliseconds before every reply, and take the "
            "message data 4 KB at a time, MS/10 milliseconds apart",
    # Hostile servers.  STEP is one of greeting, ehlo, auth, mail, rcpt,
    # data (the reply to DATA, or to each BDAT chunk but the last) or dot
    # (the reply after the message: to the final dot or to BDAT ... LAST);
    # these faults are repeatable with different steps.
    "long-line": "STEP: answer STEP with one reply line of 1 MiB",
    "no-crlf": "STEP: answer STEP without a line end, then keep quiet",
    "endless-reply": "STEP: answer STEP with a multi-line reply that never ends",
    "8bit-reply": "STEP: 8-bit bytes, invalid UTF-8 and terminal escape "
                  "sequences in STEP's reply text; auth, mail, rcpt, data "
                  "and dot are then refused (535/553/550/554/554)",
    "trickle-reply": "STEP: send only STEP's reply one byte per second",
    "early-talk": "STEP: send an extra reply nobody asked for right behind "
                  "STEP's reply, in the same write",
    "mixed-reply": "STEP: a multi-line reply to STEP whose middle line "
                   "carries another code",
    "bare-lf": "end every reply line with LF alone instead of CRLF",
    "starttls-inject": "write a plaintext reply right behind the 220 to "
                       "STARTTLS, before the TLS handshake",
    "renegotiate": "serve TLS 1.2 at most and ask for a TLS renegotiation "
                   "before answering MAIL",
    "key-update": "TLS 1.3: send a KeyUpdate (update requested) before "
                  "answering MAIL",
    "chain": "N: issue the good certificate through N intermediate CAs, "
             "all served with it",
    # Faults of a session that carries several messages; N counts the
    # messages of the session (finished, whatever their reply).
    "rcpt-421-after": "N: after N messages, answer the next RCPT with "
                      "421 4.7.0 and close (a 421 in the middle of a "
                      "message)",
    "session-limit": "N: after N messages, answer the next MAIL with "
                     "421 4.7.0 and close (a limit of messages per "
                     "session, as between two messages)",
    "dot-550-nth": "N: answer the final dot of the Nth message of each "
                   "session with 550 5.7.1, store nothing",
    "drop-after-dot-nth": "N: read the whole Nth message of the first "
                          "session, close without reply",
}
FAULTS_WITH_ADDR = {"rcpt-550", "rcpt-451"}
FAULTS_WITH_NUMBER = {"delay-greeting", "slow", "chain"}
FAULTS_WITH_COUNT = {"rcpt-421-after", "session-limit", "dot-550-nth",
                     "drop-after-dot-nth"}
FAULTS_WITH_STEP = {"long-line", "no-crlf", "endless-reply", "8bit-reply",
                    "trickle-reply", "early-talk", "mixed-reply"}
STEPS = ("greeting", "ehlo", "auth", "mail", "rcpt", "data", "dot")

# What 8bit-reply puts into a reply: raw 8-bit bytes, invalid UTF-8, a
# C1 CSI byte, CSI and OSC escape sequences (clear screen, colour, window
# title), a right-to-left override, backspaces, DEL, BEL, NUL and a bare
# CR.  A client must never pass any of it to a terminal.
HOSTILE_TEXT = (b"\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07 caf\xc3\xa9 "
                b"bad\xc3\x28 \xff\xfe \x9b1m \xe2\x80\xae esrever "
                b"back\x08\x08\x7f bell\x07 nul\x00 cr\rover")
# The codes 8bit-reply refuses these steps with.
HOSTILE_CODES = {"greeting": b"220", "ehlo": b"250", "auth": b"535",
                 "mail": b"553", "rcpt": b"550", "data": b"554",
                 "dot": b"554"}

# EHLO replies of real servers, keyword by keyword and in their order,
# from public transcripts (openssl s_client -starttls smtp) and the
# servers' defaults: Microsoft 365 (smtp.office365.com:587) and Gmail
# (smtp.gmail.com:587 or 465) as their submission ports show them,
# Postfix 3.4+ (CHUNKING since 3.4) and Exim 4.9x (CHUNKING by default
# since 4.88) as Debian installs them with SASL, OpenSMTPD 7.x.
# "STARTTLS" appears only before TLS, "AUTH ..." only where offers_auth
# says (after TLS unless --tls-optional).  AUTH lists the real server's
# mechanisms; of those this server implements PLAIN, LOGIN and CRAM-MD5
# and refuses the others (XOAUTH2 and friends) with 504.  SIZE is the
# real default (--size overrides it).  Postfix's VRFY and Exim's
# PIPE_CONNECT are left out, as deployments usually hide them and the
# notes do.  All but OpenSMTPD advertise CHUNKING: a client then may use
# BDAT, and this server takes it.
PROFILES = {
    "ms365": {
        "hello": "{host} Hello [{ip}]",
        "keywords": ["SIZE 157286400", "PIPELINING", "DSN",
                     "ENHANCEDSTATUSCODES", "STARTTLS", "AUTH LOGIN XOAUTH2",
                     "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"],
    },
    "gmail": {
        "hello": "{host} at your service, [{ip}]",
        "keywords": ["SIZE 35882577", "8BITMIME", "STARTTLS",
                     "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN "
                     "OAUTHBEARER XOAUTH",
                     "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING",
                     "SMTPUTF8"],
    },
    "postfix": {
        "hello": "{host}",
        "keywords": ["PIPELINING", "SIZE 10240000", "ETRN", "STARTTLS",
                     "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME",
                     "DSN", "SMTPUTF8", "CHUNKING"],
    },
    "exim": {
        "hello": "{host} Hello {helo} [{ip}]",
        "keywords": ["SIZE 52428800", "8BITMIME", "PIPELINING",
                     "AUTH PLAIN LOGIN", "CHUNKING", "STARTTLS", "PRDR",
                     "HELP"],
    },
    "opensmtpd": {
        "hello": "{host} Hello {helo} [{ip}], pleased to meet you",
        "keywords": ["8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 36700160",
                     "DSN", "STARTTLS", "AUTH PLAIN LOGIN", "HELP"],
    },
}
# What the server answers EHLO with when no profile is chosen.
DEFAULT_KEYWORDS = ["PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                    "SMTPUTF8", "STARTTLS", "AUTH PLAIN LOGIN CRAM-MD5"]
# The AUTH mechanisms this server can check.  XOAUTH2 and OAUTHBEARER
# check the user and access token against --token-file; a refused token
# is answered as the profile's real server does: gmail with a 334 whose
# text is base64 JSON, then (after the client's answer) 535 5.7.8;
# everyone else as Microsoft 365 does, 535 5.7.3 at once.
AUTH_IMPLEMENTED = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")
# The client's answer to an OAuth2 continuation may be long: Microsoft's
# tokens run to several KB.
AUTH_LINE_MAX = 64 * 1024
GMAIL_TOKEN_ERROR = (b'{"status":"401","schemes":"bearer",'
                     b'"scope":"https://mail.google.com/"}')

AUTH_FAULT_REPLIES = {
    "auth-535": "535 5.7.8 Authentication credentials invalid",
    "auth-534": "534 5.7.9 Application-specific password required",
    "auth-139": "535 5.7.139 Authentication unsuccessful, "
                "SmtpClientAuthentication is disabled for the Tenant.",
}


def parse_oauth2(mech, data):
    """(user, token) from a decoded XOAUTH2 or OAUTHBEARER (RFC 7628)
    initial response; None for what is missing or malformed."""
    fields = data.split(b"\x01")
    if len(fields) < 3 or fields[-1] != b"" or fields[-2] != b"":
        return None, None
    user = None
    if mech == "OAUTHBEARER":
        gs2 = fields.pop(0).split(b",")
        if len(gs2) != 3 or gs2[0] != b"n" or not gs2[1].startswith(b"a="):
            return None, None
        user = (gs2[1][2:].replace(b"=2C", b",").replace(b"=3D", b"=")
                .decode("utf-8", "replace"))
    token = None
    for f in fields:
        key, sep, value = f.partition(b"=")
        if mech == "XOAUTH2" and key == b"user" and sep:
            user = value.decode("utf-8", "replace")
        elif key == b"auth" and value.startswith(b"Bearer "):
            token = value[7:].decode("utf-8", "replace")
    return user, token


# --------------------------------------------------------------------------
# Command line

class Faults:
    """The --fault options, parsed once."""

    def __init__(self, specs):
        self.flags = set()
        self.rcpt_550 = set()
        self.rcpt_451 = set()
        self.greeting_delay = 0.0
        self.slow = 0.0          # seconds before each reply
        self.chain = 0
        self.steps = {}
        self.counts = {}         # FAULTS_WITH_COUNT: name -> N
        for spec in specs:
            name, _, arg = spec.partition(":")
            if name not in FAULT_HELP:
                raise argparse.ArgumentTypeError(f"unknown fault '{name}'")
            if name in FAULTS_WITH_ADDR:
                if not arg:
                    raise argparse.ArgumentTypeError(f"{name} needs :ADDRESS")
                # Mailbox names are compared case-insensitively, as a
                # postfix lookup table would.
                (self.rcpt_550 if name == "rcpt-550" else
                 self.rcpt_451).add(arg.strip("<>").lower())
            elif name in FAULTS_WITH_COUNT:
                if not arg.isdigit() or not 1 <= int(arg) <= 100000:
                    raise argparse.ArgumentTypeError(f"{name} needs :N")
                self.counts[name] = int(arg)
            elif name == "chain":
                if not arg.isdigit() or not 1 <= int(arg) <= 200:
                    raise argparse.ArgumentTypeError(f"{name} needs :N (1-200)")
                self.chain = int(arg)
            elif name in FAULTS_WITH_NUMBER:
                try:
                    value = float(arg)
                except ValueError:
                    raise argparse.ArgumentTypeError(
                        f"{name} needs :{'MS' if name == 'slow' else 'SECONDS'}")
                if name == "slow":
                    self.slow = value / 1000
                else:
                    self.greeting_delay = value
            elif name in FAULTS_WITH_STEP:
                if arg not in STEPS:
                    raise argparse.ArgumentTypeError(
                        f"{name} needs :STEP ({', '.join(STEPS)})")
                self.steps.setdefault(name, set()).add(arg)
            elif arg:
                raise argparse.ArgumentTypeError(f"{name} takes no argument")
            self.flags.add(name)

    def __contains__(self, name):
        return name in self.flags

    def at(self, name, step):
        """Does fault NAME apply to the reply to STEP?"""
        return step in self.steps.get(name, ())


def loopback_host(value):
    """Only loopback addresses: this server must never be reachable from
    another machine, whatever a test passes."""
    if value == "localhost":
        value = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not an IP address")
    if not addr.is_loopback:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a loopback address (use 127.0.0.1 or ::1)")
    return str(addr)


def read_tokens(path):
    """--token-file: lines user:token, as {user: {token, ...}}."""
    tokens = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            user, sep, token = line.rstrip("\r\n").partition(":")
            if sep and user and token:
                tokens.setdefault(user, set()).add(token)
    return tokens


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Local SMTP test server for docmail (loopback only).",
        epilog="faults: " + "; ".join(f"{k}: {v}" for k, v in FAULT_HELP.items()))
    p.add_argument("--dir", required=True,
                   help="directory for certificates, port, log and mail")
    p.add_argument("--host", type=loopback_host, default="127.0.0.1",
                   help="loopback address to listen on (127.0.0.1 or ::1)")
    p.add_argument("--port", type=int, default=0,
                   help="port (0: any free port; see DIR/port)")
    p.add_argument("--mode", choices=("starttls", "ssl", "plain"),
                   default="starttls")
    p.add_argument("--tls-optional", action="store_true",
                   help="starttls mode: allow AUTH/MAIL without STARTTLS "
                        "(AUTH is then offered before TLS too)")
    p.add_argument("--auth-file",
                   help="file with one line user:password; AUTH is then required")
    p.add_argument("--token-file",
                   help="file with lines user:access-token (several per "
                        "user allowed) for XOAUTH2 and OAUTHBEARER, read "
                        "again at each AUTH; AUTH is then required")
    p.add_argument("--cert", default="good",
                   choices=("good", "selfsigned", "expired", "wrongname",
                            "untrusted"))
    p.add_argument("--tls-max", choices=("1.2", "1.3"))
    p.add_argument("--size", type=int, metavar="N",
                   help="advertise SIZE N and refuse bigger messages (552)")
    p.add_argument("--ehlo-profile", choices=sorted(PROFILES),
                   help="answer EHLO as that real server does (its keywords; "
                        "CHUNKING for all but opensmtpd) and honour what it "
                        "advertises, BDAT included")
    p.add_argument("--fault", action="append", default=[],
                   metavar="NAME[:ARG]", help="misbehave; repeatable")
    p.add_argument("--once", action="store_true",
                   help="exit after the first session")
    p.add_argument("--lifetime", type=float, default=600,
                   help="exit after this many seconds (default 600)")
    args = p.parse_args(argv)
    try:
        args.faults = Faults(args.fault)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.faults.chain and args.cert != "good":
        p.error("--fault chain works with --cert good only")
    if ({"renegotiate", "key-update", "starttls-inject"} & args.faults.flags
            and args.mode == "plain"):
        p.error("renegotiate, key-update and starttls-inject need TLS")
    args.keywords = (PROFILES[args.ehlo_profile]["keywords"]
                     if args.ehlo_profile else DEFAULT_KEYWORDS)
    # SIZE: --size wins; else the profile's value; else none.
    if args.size is None:
        for kw in args.keywords:
            if kw.startswith("SIZE "):
                args.size = int(kw[5:])
    args.keywords = [(f"SIZE {args.size}" if k.split()[0] == "SIZE" else k)
                     for k in args.keywords
                     if k != "SIZE" or args.size is not None]
    args.extensions = {k.split()[0] for k in args.keywords}
    args.credentials = None
    if args.auth_file:
        try:
            with open(args.auth_file, encoding="utf-8") as f:
                line = f.readline().rstrip("\r\n")
        except OSError as e:
            p.error(f"--auth-file: {e}")
        user, sep, password = line.partition(":")
        if not sep or not user:
            p.error("--auth-file must hold one line user:password")
        args.credentials = (user, password)
    args.tokens = None
    if args.token_file:
        try:
            args.tokens = read_tokens(args.token_file)
        except OSError as e:
            p.error(f"--token-file: {e}")
        if not args.tokens:
            p.error("--token-file must hold lines user:token")
    if "oauthbearer-only" in args.faults:
        args.keywords = [
            ("AUTH " + " ".join([m for m in k.split()[1:]
                                 if m not in ("XOAUTH2", "XOAUTH")] +
                                ["OAUTHBEARER"] * ("OAUTHBEARER" not in k))
             if k.startswith("AUTH ") else k) for k in args.keywords]
    return args


# --------------------------------------------------------------------------
# Files

def write_atomic(path, data, mode=0o644):
    """Readers poll for these files, so they must never see a partial one:
    write a hidden temporary file in the same directory, then rename."""
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Transcript:
    """DIR/log: one event per line, flushed at once so a test can read it
    while the server runs (or after it was killed)."""

    _control = re.compile(r"[\x00-\x1f\x7f]")

    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")

    def __call__(self, line):
        # Keep one event per line even if a client sends control bytes.
        line = self._control.sub(lambda m: f"\\x{ord(m.group()):02x}", line)
        self.f.write(line + "\n")
        self.f.flush()


class MailStore:
    """DIR/mail/NNNN.eml + NNNN.json and the DIR/delivered counter."""

    def __init__(self, dirpath):
        self.dir = os.path.join(dirpath, "mail")
        self.counter_path = os.path.join(dirpath, "delivered")
        os.makedirs(self.dir, exist_ok=True)
        # A reused DIR keeps its older messages; number after them rather
        # than overwrite anything.
        numbers = [int(n[:4]) for n in os.listdir(self.dir)
                   if re.fullmatch(r"\d{4}\.(eml|json)", n)]
        self.next = max(numbers, default=0) + 1
        self.delivered = 0
        write_atomic(self.counter_path, b"0\n")

    def store(self, body, meta):
        n = self.next
        self.next += 1
        base = os.path.join(self.dir, f"{n:04d}")
        # .eml before .json: a reader that sees the .json may rely on the .eml.
        write_atomic(base + ".eml", body)
        write_atomic(base + ".json",
                     (json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
                     .encode("utf-8"))
        self.delivered += 1
        write_atomic(self.counter_path, f"{self.delivered}\n".encode())
        return n


# --------------------------------------------------------------------------
# Certificates

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, not_before, not_after,
          ca=False, dns=(), ips=()):
    """One X.509 certificate with the extensions OpenSSL's strict checks
    expect, so a verification failure is only ever the one we intend."""
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(
        issuer_key.public_key())
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject))
         .issuer_name(_name(issuer))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                        critical=True)
         .add_extension(ski, critical=False)
         .add_extension(aki, critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        sans = [x509.DNSName(d) for d in dns] + \
               [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_certificates(dirpath, kind, chain=0):
    """Write ca.pem, server.pem, server.key and fingerprint; return the
    paths of the server certificate and key.  Fresh keys every run: nothing
    here is worth protecting beyond the run.  With chain N, the good
    certificate is issued through N intermediate CAs, and server.pem holds
    them after it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    hour, day = datetime.timedelta(hours=1), datetime.timedelta(days=1)
    local_dns, local_ips = ["localhost"], ["127.0.0.1", "::1"]

    # EC P-256 keys: generated in milliseconds, understood by every client.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("docmail test CA", ca_key, "docmail test CA", ca_key,
               now - day, now + 30 * day, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())

    intermediates = []
    if kind == "good":
        issuer, issuer_key = "docmail test CA", ca_key
        for i in range(1, chain + 1):
            ikey = ec.generate_private_key(ec.SECP256R1())
            name = f"docmail test intermediate {i}"
            intermediates.insert(0, _cert(name, ikey, issuer, issuer_key,
                                          now - day, now + 30 * day, ca=True))
            issuer, issuer_key = name, ikey
        cert = _cert("localhost", key, issuer, issuer_key,
                     now - hour, now + 30 * day, dns=local_dns, ips=local_ips)
    elif kind == "wrongname":
        cert = _cert("wrong.example.test", key, "docmail test CA", ca_key,
                     now - hour, now + 30 * day, dns=["wrong.example.test"])
    elif kind == "expired":
        cert = _cert("localhost", key, "docmail test CA", ca_key,
                     now - 60 * day, now - day, dns=local_dns, ips=local_ips)
    elif kind == "selfsigned":
        cert = _cert("localhost", key, "localhost", key,
                     now - hour, now + 30 * day, dns=local_dns, ips=local_ips)
    elif kind == "untrusted":
        # Issued by a second CA that the client is never told about; only
        # the leaf is served, so the client reports an unknown issuer.
        other_key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert("localhost", key, "docmail untrusted CA", other_key,
                     now - hour, now + 30 * day, dns=local_dns, ips=local_ips)
    else:
        raise ValueError(kind)

    pem = serialization.Encoding.PEM
    write_atomic(os.path.join(dirpath, "ca.pem"), ca.public_bytes(pem))
    cert_path = os.path.join(dirpath, "server.pem")
    key_path = os.path.join(dirpath, "server.key")
    write_atomic(cert_path, b"".join(c.public_bytes(pem)
                                     for c in [cert] + intermediates))
    write_atomic(key_path, key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), mode=0o600)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER))
    fp = ":".join(f"{b:02X}" for b in digest.digest())
    write_atomic(os.path.join(dirpath, "fingerprint"),
                 f"sha256:{fp}\n".encode())
    return cert_path, key_path


# --------------------------------------------------------------------------
# What Python's ssl module cannot do

class OpenSSL:
    """TLS renegotiation and KeyUpdate, which Python's ssl module does not
    offer, called through ctypes on the OpenSSL object behind an asyncio
    TLS transport.  Test code only: it relies on CPython's layout of its
    _ssl socket object, and checks that it found the right thing."""

    _lib = None

    @classmethod
    def lib(cls):
        if cls._lib is None:
            import ctypes
            # The libssl that Python's _ssl module already loaded.
            with open("/proc/self/maps") as f:
                paths = {l.split()[-1] for l in f
                         if "/libssl.so" in l.split()[-1]}
            if len(paths) != 1:
                raise RuntimeError(f"libssl not found: {paths}")
            lib = ctypes.CDLL(paths.pop())
            vp, i = ctypes.c_void_p, ctypes.c_int
            for name, res, argt in (
                    ("SSL_get_version", ctypes.c_char_p, [vp]),
                    ("SSL_renegotiate", i, [vp]),
                    ("SSL_renegotiate_pending", i, [vp]),
                    ("SSL_do_handshake", i, [vp]),
                    ("SSL_key_update", i, [vp, i])):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = res, argt
            cls._lib = lib
        return cls._lib

    @classmethod
    def pointer(cls, sslobj):
        """The SSL * of an ssl.SSLObject: in CPython's PySSLSocket it
        follows the object header and one pointer."""
        import ctypes
        inner = sslobj._sslobj
        size = ctypes.sizeof(ctypes.c_void_p)
        ptr = ctypes.c_void_p.from_address(id(inner) + 3 * size).value
        version = cls.lib().SSL_get_version(ptr)
        if version is None or version.decode() != sslobj.version():
            raise RuntimeError("cannot find the OpenSSL object")
        return ptr


# --------------------------------------------------------------------------
# One SMTP session

class Closed(Exception):
    """The session is over (client gone, or a fault ended it on purpose)."""


class Session:
    def __init__(self, server, reader, writer):
        self.server = server
        self.args = server.args
        self.faults = server.args.faults
        self.log = server.log
        self.reader = reader
        self.writer = writer
        # The plain socket transport; kept because after TLS is started the
        # writer only knows the TLS layer, and stall-data must stop the
        # socket itself from being read.
        self.raw_transport = writer.transport
        self.buf = bytearray()     # bytes read from the stream, not yet used
        self.tls = False
        self.sni = None
        self.helo = None
        self.auth_user = None
        self.tls_fault_done = False
        self.renegotiating = None  # SSL * while a renegotiation is pending
        self.messages = 0          # messages finished in this session
        self.server.sessions_begun += 1
        self.number = self.server.sessions_begun
        self.reset_transaction()

    def reset_transaction(self):
        self.mail_from = None
        self.rcpt_tos = []
        self.body_type = None
        self.chunks = None         # BDAT: the message so far, once begun
        self.chunk_count = 0

    # ---- wire helpers

    async def _fill(self):
        try:
            data = await asyncio.wait_for(self.reader.read(65536), IDLE_TIMEOUT)
        except asyncio.TimeoutError:
            await self.reply("421 4.4.2 localhost Error: timeout exceeded")
            raise Closed()
        if not data:
            raise Closed()
        self.buf += data

    async def readline(self, limit=MAX_LINE):
        """One line, terminator included.  LF alone also ends a command
        line (as postfix accepts); DATA is parsed separately and strictly."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                await self.reply("500 5.5.2 Error: line too long")
                raise Closed()
            await self._fill()

    async def send_raw(self, data, trickle=False):
        if trickle or "trickle" in self.faults:
            # Sleep between bytes, not after the last: after a 220 to
            # STARTTLS the TLS layer must take over before anything else runs.
            for i in range(len(data)):
                if i:
                    await asyncio.sleep(1)
                self.writer.write(data[i:i + 1])
                await self.writer.drain()
        else:
            self.writer.write(data)
            await self.writer.drain()

    async def reply(self, *lines):
        """Send a reply; several lines make a multi-line reply (each given
        as "CODE text", the separators are filled in here).  The transcript
        gets the first line as it goes on the wire."""
        if self.faults.slow:
            await asyncio.sleep(self.faults.slow)
        self.log(lines[0][:3] + (" " if len(lines) == 1 else "-") +
                 lines[0][4:])
        await self.send_raw(self.encode_reply(lines))

    def encode_reply(self, lines):
        """The wire form of a reply given as reply() takes it."""
        out = [line[:3] + ("-" if i < len(lines) - 1 else " ") + line[4:]
               for i, line in enumerate(lines)]
        eol = "\n" if "bare-lf" in self.faults else "\r\n"
        return (eol.join(out) + eol).encode("utf-8")

    async def step_reply(self, step, *lines):
        """The reply to STEP (see STEPS), or what a hostile fault sends
        in its place; the normal reply's code is kept unless 8bit-reply
        refuses the step.  Returns False when the reply was a refusal."""
        f = self.faults
        code = lines[0][:3].encode()
        if f.at("8bit-reply", step):
            self.log(f"fault 8bit-reply {step}")
            code = HOSTILE_CODES[step]
            if step == "ehlo":
                # A hostile name and a hostile keyword; the rest as usual.
                body = [b"250 " + HOSTILE_TEXT] + \
                       [l.encode() for l in lines[1:]] + \
                       [b"250 X-" + HOSTILE_TEXT]
            else:
                enh = b" 5.7.1" if code[:1] in (b"4", b"5") else b""
                body = [code + b" " + HOSTILE_TEXT,
                        code + enh + b" " + HOSTILE_TEXT]
            out = [l[:3] + (b"-" if i < len(body) - 1 else b" ") + l[4:]
                   for i, l in enumerate(body)]
            await self.send_raw(b"\r\n".join(out) + b"\r\n")
            return code[:1] in (b"2", b"3")
        if f.at("long-line", step):
            self.log(f"fault long-line {step}")
            await self.send_raw(code + b" " + b"x" * (1 << 20) + b"\r\n")
            return True
        if f.at("no-crlf", step):
            self.log(f"fault no-crlf {step}")
            await self.send_raw(code + b" no line end follows")
            await self.discard_until_eof()
        if f.at("endless-reply", step):
            self.log(f"fault endless-reply {step}")
            line = code + b"-" + b"this reply goes on and on" * 3 + b"\r\n"
            while True:
                await self.send_raw(line * 100)
                # Writes to a TLS transport whose peer is gone are dropped
                # without an error: look for the hang-up, and let the loop
                # run so that it can be seen (and a stop request too).
                await asyncio.sleep(0)
                if self.reader.at_eof() or self.writer.is_closing():
                    raise Closed()
        if f.at("mixed-reply", step):
            self.log(f"fault mixed-reply {step}")
            other = "554" if code != b"250" else "452"
            lines = (lines[0], other + " interjected with another code",
                     *lines[1:], lines[0][:3] + " the end")
        data = self.encode_reply(lines)
        if f.at("early-talk", step):
            self.log(f"fault early-talk {step}")
            data += b"250 2.0.0 Ok (nobody asked)\r\n"
        if f.slow:
            await asyncio.sleep(f.slow)
        trickle = f.at("trickle-reply", step)
        if trickle:
            self.log(f"fault trickle-reply {step}")
        self.log(lines[0][:3] + (" " if len(lines) == 1 else "-") +
                 lines[0][4:])
        await self.send_raw(data, trickle)
        return True

    async def discard_until_eof(self):
        """Hold the connection and never answer, not even with a timeout
        reply (--lifetime bounds it); log each line the client sends."""
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise Closed()
            self.buf += data
            *lines, rest = self.buf.split(b"\n")
            for line in lines:
                self.log_client(line)
            self.buf = bytearray(rest[-MAX_LINE:])

    def log_client(self, line):
        text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
        words = text.split(None, 2)
        if words and words[0].upper() == "AUTH":
            # The mechanism is no secret; an initial response is.
            text = " ".join(words[:2] + ["[redacted]"])
        self.log(text)

    def close(self):
        if not self.writer.is_closing():
            self.writer.close()

    # ---- TLS

    async def start_tls(self):
        """Handshake as server; False (already logged) when it failed."""
        try:
            await self.writer.start_tls(self.server.ssl_context,
                                        ssl_handshake_timeout=30)
        except (OSError, asyncio.TimeoutError) as e:
            reason = getattr(e, "reason", None) or str(e) or type(e).__name__
            self.log(f"tls-fail {reason}")
            return False
        obj = self.writer.get_extra_info("ssl_object")
        self.sni = self.server.sni_names.pop(obj, None)
        self.tls = True
        self.log(f"tls {obj.version()} {obj.cipher()[0]}")
        return True

    async def tls_fault(self):
        """renegotiate or key-update, once, before the reply to MAIL: the
        request goes out in front of that reply."""
        if not self.tls or self.tls_fault_done:
            return
        for name in ("renegotiate", "key-update"):
            if name not in self.faults:
                continue
            self.tls_fault_done = True
            lib = OpenSSL.lib()
            ptr = OpenSSL.pointer(self.writer.get_extra_info("ssl_object"))
            if name == "renegotiate":
                ok = lib.SSL_renegotiate(ptr) == 1
                # Writes the HelloRequest; the client's answer is read by
                # the transport as it reads everything else.
                lib.SSL_do_handshake(ptr)
                self.renegotiating = ptr if ok else None
            else:
                ok = lib.SSL_key_update(ptr, 1) == 1  # update requested
            self.log(f"fault {name} {'requested' if ok else 'failed'}")

    def check_renegotiation(self):
        if (self.renegotiating is not None and
                OpenSSL.lib().SSL_renegotiate_pending(self.renegotiating) == 0):
            self.log("renegotiation done")
            self.renegotiating = None

    # ---- session

    async def run(self):
        self.log("connect")
        try:
            if self.args.mode == "ssl" and not await self.start_tls():
                return
            await self.greet()
            while True:
                line = await self.readline()
                self.log_client(line)
                await self.command(line.rstrip(b"\r\n"))
        except Closed:
            pass
        except OSError as e:            # reset, broken pipe, TLS alerts
            self.log(f"connection-error {type(e).__name__}")
        except Exception as e:
            # A bug here must show in the transcript a test reads, not only
            # on stderr.
            self.log(f"internal-error {type(e).__name__}: {e}")
            raise
        finally:
            self.close()
            self.log("disconnect")

    async def greet(self):
        if self.faults.greeting_delay:
            await asyncio.sleep(self.faults.greeting_delay)
        if "no-greeting" in self.faults:
            self.log("fault no-greeting")
            await self.discard_until_eof()
        if "garbage" in self.faults:
            self.log("HTTP/1.1 400 Bad Request")
            await self.send_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            raise Closed()
        if "greeting-421" in self.faults:
            await self.reply("421 4.3.2 Service not available, try later")
            raise Closed()
        await self.step_reply("greeting",
                              f"220 {HOSTNAME} ESMTP docmail test server")

    # Properties of the current state that several commands consult.

    @property
    def tls_required(self):
        # With STARTTLS withheld or failing, a real server takes plaintext;
        # doing the same lets a test see a client that wrongly carries on.
        return (self.args.mode == "starttls" and not self.tls
                and not self.args.tls_optional
                and "no-starttls" not in self.faults
                and "starttls-454" not in self.faults)

    @property
    def offers_starttls(self):
        return (self.args.mode == "starttls" and not self.tls
                and "no-starttls" not in self.faults)

    @property
    def offers_auth(self):
        # Like postfix with smtpd_tls_auth_only: no AUTH before TLS when
        # TLS is required.
        return (self.auth_required
                and "no-auth" not in self.faults and not self.tls_required)

    @property
    def auth_required(self):
        return (self.args.credentials is not None or
                self.args.tokens is not None)

    async def command(self, line):
        self.check_renegotiation()
        # backslashreplace: whatever a client sends must stay printable
        # and encodable into the .json.
        text = line.decode("utf-8", "backslashreplace")
        verb, _, arg = text.partition(" ")
        handler = getattr(self, "smtp_" + verb.upper(), None)
        if not verb:
            await self.reply("500 5.5.2 Error: bad syntax")
        elif handler is None:
            await self.reply("502 5.5.2 Error: command not recognized")
        else:
            await handler(arg.strip())

    async def smtp_EHLO(self, arg):
        if not arg:
            return await self.reply("501 5.5.4 Syntax: EHLO hostname")
        self.helo = arg
        self.reset_transaction()
        hello = HOSTNAME
        if self.args.ehlo_profile:
            peer = self.writer.get_extra_info("peername") or ("?",)
            hello = PROFILES[self.args.ehlo_profile]["hello"].format(
                host=HOSTNAME, helo=arg.split()[0], ip=peer[0])
        lines = [f"250 {hello}"]
        blank = " " if ("ehlo-blank" in self.faults and
                        not self.tls) else ""
        for kw in self.args.keywords:
            if kw == "STARTTLS" and not self.offers_starttls:
                continue
            if kw.startswith("AUTH ") and not self.offers_auth:
                continue
            lines.append(f"250 {blank}{kw}")
        await self.step_reply("ehlo", *lines)

    def offers(self, keyword):
        """Whether this server's EHLO advertises KEYWORD (STARTTLS and
        AUTH aside, which depend on the session)."""
        return keyword in self.args.extensions

    async def smtp_HELO(self, arg):
        if not arg:
            return await self.reply("501 5.5.4 Syntax: HELO hostname")
        self.helo = arg
        self.reset_transaction()
        await self.reply(f"250 {HOSTNAME}")

    async def smtp_NOOP(self, arg):
        await self.reply("250 2.0.0 Ok")

    async def smtp_RSET(self, arg):
        self.reset_transaction()
        await self.reply("250 2.0.0 Ok")

    async def smtp_VRFY(self, arg):
        await self.reply("252 2.0.0 Cannot VRFY user")

    async def smtp_HELP(self, arg):
        await self.reply("214 2.0.0 See RFC 5321 and RFC 3030")

    async def smtp_QUIT(self, arg):
        await self.reply("221 2.0.0 Bye")
        raise Closed()

    async def smtp_STARTTLS(self, arg):
        if self.args.mode != "starttls" or "no-starttls" in self.faults:
            return await self.reply("502 5.5.1 Error: command not implemented")
        if self.tls:
            return await self.reply("554 5.5.1 Error: TLS already active")
        if arg:
            return await self.reply("501 5.5.4 Syntax: STARTTLS")
        if "starttls-454" in self.faults:
            return await self.reply(
                "454 4.7.0 TLS not available due to temporary reason")
        if self.buf:
            # Plaintext pipelined after STARTTLS must not be taken as if
            # it came through TLS (the CVE-2011-0411 class of bug).
            self.log("starttls-pipelined-data-discarded")
            self.buf.clear()
        if "starttls-inject" in self.faults:
            # What a man in the middle would add: a reply in clear that a
            # client must not take as the first reply inside TLS.
            self.log("fault starttls-inject")
            self.log("220 2.0.0 Ready to start TLS")
            await self.send_raw(b"220 2.0.0 Ready to start TLS\r\n"
                                b"250-injected in clear\r\n"
                                b"250 AUTH PLAIN\r\n")
        else:
            await self.reply("220 2.0.0 Ready to start TLS")
        if not await self.start_tls():
            raise Closed()
        # RFC 3207: forget everything learnt before TLS.
        self.helo = None
        self.auth_user = None
        self.reset_transaction()

    # ---- AUTH

    async def smtp_AUTH(self, arg):
        self.log("tls-at-auth " + ("yes" if self.tls else "no"))
        if not self.auth_required or "no-auth" in self.faults:
            return await self.reply("503 5.5.1 Error: authentication not enabled")
        if self.tls_required:
            return await self.reply("530 5.7.0 Must issue a STARTTLS command first")
        if self.helo is None:
            return await self.reply("503 5.5.1 Error: send HELO/EHLO first")
        if self.auth_user is not None:
            return await self.reply("503 5.5.1 Error: already authenticated")
        if self.mail_from is not None:
            return await self.reply("503 5.5.1 Error: MAIL transaction in progress")
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        # The whole command line: "AUTH " and the CRLF included.
        if mech in ("XOAUTH2", "OAUTHBEARER"):
            self.log(f"auth-line-length {len(arg) + 7}")
        if "auth-line-512" in self.faults and len(arg) + 7 > 512:
            self.log("fault auth-line-512")
            return await self.reply("500 5.5.6 line too long")
        if mech in ("XOAUTH2", "OAUTHBEARER") and mech in self.auth_mechanisms:
            return await self.auth_oauth2(mech, initial.strip())
        if ("basic-auth-off" in self.faults and
                mech in ("PLAIN", "LOGIN", "CRAM-MD5")):
            self.log("auth-fail")
            return await self.reply("550 5.7.30 Basic authentication is not "
                                    "supported for Client Submission")
        method = {"PLAIN": self.auth_plain, "LOGIN": self.auth_login,
                  "CRAM-MD5": self.auth_cram_md5}.get(mech)
        if mech not in self.auth_mechanisms:
            method = None
        if method is None:
            self.log(f"auth-mech-refused {mech[:32]}")
            return await self.reply("504 5.5.4 Unrecognized authentication type")
        if mech == "CRAM-MD5" and initial:
            return await self.reply("501 5.5.4 Syntax error in parameters")
        try:
            user, ok = await method(initial.strip())
        except AuthAbort as e:
            self.log("auth-fail")
            return await self.reply(str(e))
        for fault, text in AUTH_FAULT_REPLIES.items():
            if fault in self.faults:
                self.log("auth-fail")
                return await self.reply(text)
        if ok and not self.faults.at("8bit-reply", "auth"):
            self.auth_user = user
            self.log(f"auth-ok {user}")
            await self.step_reply("auth", "235 2.7.0 Authentication successful")
        elif ok:
            self.log("auth-fail")           # refused with hostile text
            await self.step_reply("auth", "235 2.7.0 Authentication successful")
        else:
            self.log("auth-fail")
            await self.reply("535 5.7.8 Authentication credentials invalid")

    async def auth_oauth2(self, mech, initial):
        """XOAUTH2 or OAUTHBEARER against --token-file."""
        if initial:
            data = self.decode_response(initial.encode())
            self.log("oauth-initial inline")
        else:
            await self.reply("334 ")
            line = (await self.readline(AUTH_LINE_MAX)).rstrip(b"\r\n")
            self.log(f"[redacted] {len(line) + 2} octets")
            data = self.decode_response(line)
        user, token = parse_oauth2(mech, data)
        # Read again: tests/idp.py adds each token it issues (--issued).
        try:
            self.args.tokens = read_tokens(self.args.token_file)
        except OSError:
            pass
        tokens = (self.args.tokens or {}).get(user, set())
        ok = user is not None and token is not None and any(
            hmac.compare_digest(token.encode(), t.encode()) for t in tokens)
        for fault, text in AUTH_FAULT_REPLIES.items():
            if fault in self.faults:
                self.log("auth-fail")
                return await self.reply(text)
        if ok:
            self.auth_user = user
            self.log(f"auth-ok {user} {mech}")
            return await self.step_reply("auth",
                                         "235 2.7.0 Authentication successful")
        self.log(f"auth-fail {mech}")
        if self.args.ehlo_profile == "gmail":
            await self.reply("334 " + base64.b64encode(
                GMAIL_TOKEN_ERROR).decode())
            answer = (await self.readline()).rstrip(b"\r\n")
            self.log("oauth-error-answer " +
                     ("empty" if not answer else
                      answer.decode("ascii", "replace")[:8]))
            return await self.reply("535 5.7.8 Username and Password not "
                                    "accepted. For more information, go to "
                                    "https://support.google.com/mail/?p="
                                    "BadCredentials")
        await self.reply("535 5.7.3 Authentication unsuccessful")

    @property
    def auth_mechanisms(self):
        """What AUTH really accepts: the advertised mechanisms that this
        server can check: a password's only with --auth-file, a token's
        only with --token-file."""
        for kw in self.args.keywords:
            if kw.startswith("AUTH "):
                return [m for m in kw.split()[1:] if m in AUTH_IMPLEMENTED
                        and (self.args.tokens is not None
                             if m in ("XOAUTH2", "OAUTHBEARER")
                             else self.args.credentials is not None)]
        return []

    async def challenge(self, prompt):
        """Send a 334 and return the client's decoded answer."""
        await self.reply(f"334 {base64.b64encode(prompt).decode()}"
                         if prompt else "334 ")
        line = (await self.readline()).rstrip(b"\r\n")
        self.log("[redacted]")
        return self.decode_response(line)

    def decode_response(self, data):
        if data == b"*":
            raise AuthAbort("501 5.7.0 Authentication aborted")
        if data == b"=":
            return b""
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise AuthAbort("501 5.5.2 Cannot decode response")

    def check_password(self, user, password):
        if self.args.credentials is None:
            return False
        want_user, want_password = self.args.credentials
        return (hmac.compare_digest(user.encode(), want_user.encode()) and
                hmac.compare_digest(password, want_password.encode()))

    async def auth_plain(self, initial):
        data = (self.decode_response(initial.encode()) if initial
                else await self.challenge(b""))
        parts = data.split(b"\0")
        if len(parts) != 3:
            raise AuthAbort("501 5.5.2 Invalid AUTH PLAIN response")
        authzid, user, password = parts
        user = user.decode("utf-8", "replace")
        ok = (authzid in (b"", user.encode())) and self.check_password(user, password)
        return user, ok

    async def auth_login(self, initial):
        user = (self.decode_response(initial.encode()) if initial
                else await self.challenge(b"Username:"))
        password = await self.challenge(b"Password:")
        user = user.decode("utf-8", "replace")
        return user, self.check_password(user, password)

    async def auth_cram_md5(self, initial):
        nonce = f"<{secrets.randbelow(10**10)}.{int(time.time())}@{HOSTNAME}>"
        answer = await self.challenge(nonce.encode())
        user, _, digest = answer.decode("utf-8", "replace").rpartition(" ")
        want_user, want_password = self.args.credentials
        want = hmac.new(want_password.encode(), nonce.encode(),
                        hashlib.md5).hexdigest()
        ok = (hmac.compare_digest(user.encode(), want_user.encode()) and
              hmac.compare_digest(digest.lower().encode(), want.encode()))
        return user, ok

    # ---- mail transaction

    def transaction_refusal(self, what):
        """The reply refusing MAIL/RCPT/DATA/BDAT in this session state,
        or None when the session may go on."""
        if self.helo is None:
            return "503 5.5.1 Error: send HELO/EHLO first"
        if self.tls_required:
            if what == "MAIL":
                self.log("mail-before-tls")
            return "530 5.7.0 Must issue a STARTTLS command first"
        if self.auth_required and self.auth_user is None:
            if what == "MAIL":
                self.log("mail-before-auth")
            return "530 5.7.0 Authentication required"
        return None

    async def transaction_allowed(self, what):
        """Checks shared by MAIL/RCPT/DATA; False after replying."""
        refusal = self.transaction_refusal(what)
        if refusal is not None:
            await self.reply(refusal)
            return False
        return True

    async def smtp_MAIL(self, arg):
        if not await self.transaction_allowed("MAIL"):
            return
        if self.mail_from is not None:
            return await self.reply("503 5.5.1 Error: nested MAIL command")
        m = re.fullmatch(r"(?i)FROM:\s*<([^<>]*)>(?:\s+(.*))?", arg)
        if not m:
            return await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        if "mail-553" in self.faults:
            return await self.reply(
                "553 5.7.1 Sender address rejected: not owned by user")
        limit = self.faults.counts.get("session-limit")
        if limit is not None and self.messages >= limit:
            self.log("fault session-limit")
            await self.reply("421 4.7.0 Too many messages in this session, "
                             "closing transmission channel")
            raise Closed()
        body = "7BIT"
        for param in (m.group(2) or "").split():
            key, _, value = param.partition("=")
            key = key.upper()
            if key == "SIZE":
                if not value.isdigit():
                    return await self.reply("501 5.5.4 Bad SIZE parameter")
                if self.args.size is not None and int(value) > self.args.size:
                    return await self.reply(
                        "552 5.3.4 Message size exceeds fixed limit")
            elif key == "BODY" and (value.upper() in ("7BIT", "8BITMIME") or
                                    value.upper() == "BINARYMIME" and
                                    self.offers("BINARYMIME")):
                body = value.upper()
            elif key in ("SMTPUTF8", "AUTH"):
                pass
            elif key in ("RET", "ENVID") and self.offers("DSN"):
                pass
            elif key == "PRDR" and self.offers("PRDR"):
                pass
            else:
                return await self.reply(f"555 5.5.4 Unsupported option: {param}")
        await self.tls_fault()
        if await self.step_reply("mail", "250 2.1.0 Ok"):
            self.mail_from = m.group(1)
            self.body_type = body

    async def smtp_RCPT(self, arg):
        if not await self.transaction_allowed("RCPT"):
            return
        if self.mail_from is None:
            return await self.reply("503 5.5.1 Error: need MAIL command")
        if self.chunks is not None:
            return await self.reply("503 5.5.1 Error: BDAT in progress")
        m = re.fullmatch(r"(?i)TO:\s*<([^<>]+)>(?:\s+(.*))?", arg)
        if not m:
            return await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        for param in (m.group(2) or "").split():
            key = param.partition("=")[0].upper()
            if not (key in ("NOTIFY", "ORCPT") and self.offers("DSN")):
                return await self.reply(
                    f"555 5.5.4 Unsupported option: {param}")
        addr = m.group(1)
        after = self.faults.counts.get("rcpt-421-after")
        if after is not None and self.messages >= after:
            self.log("fault rcpt-421-after")
            await self.reply("421 4.7.0 Temporary server error, "
                             "closing transmission channel")
            raise Closed()
        if addr.lower() in self.faults.rcpt_550:
            return await self.reply(f"550 5.1.1 <{addr}>: Recipient address "
                                    "rejected: User unknown")
        if addr.lower() in self.faults.rcpt_451:
            return await self.reply(f"451 4.7.1 <{addr}>: Recipient address "
                                    "rejected: Try again later")
        if await self.step_reply("rcpt", "250 2.1.5 Ok"):
            self.rcpt_tos.append(addr)

    async def stall(self):
        """stall-data: stop reading from the socket for good."""
        self.log("fault stall-data")
        self.writer.transport.pause_reading()
        self.raw_transport.pause_reading()
        await asyncio.Event().wait()        # until the server shuts down

    async def smtp_DATA(self, arg):
        if not await self.transaction_allowed("DATA"):
            return
        if arg:
            return await self.reply("501 5.5.4 Syntax: DATA")
        if self.mail_from is None:
            return await self.reply("503 5.5.1 Error: need MAIL command")
        if not self.rcpt_tos:
            return await self.reply("503 5.5.1 Error: need RCPT command")
        # RFC 3030 2 and 3: no DATA in a transaction that used BDAT or
        # declared a binary body.
        if self.chunks is not None:
            return await self.reply("503 5.5.1 Error: DATA after BDAT")
        if self.body_type == "BINARYMIME":
            return await self.reply(
                "503 5.5.1 Error: BODY=BINARYMIME requires BDAT")
        if not await self.step_reply("data",
                                     "354 End data with <CR><LF>.<CR><LF>"):
            return

        if "stall-data" in self.faults:
            await self.stall()

        body = await self.read_data()
        self.log(f"data-end {len(body)} bytes via DATA")
        await self.finish_message(body, "DATA")

    async def smtp_BDAT(self, arg):
        """RFC 3030: BDAT SIZE [LAST], then exactly SIZE octets, taken as
        they are (binary, no dot-stuffing).  Every chunk is answered, the
        last one with the fate of the whole message."""
        if not self.offers("CHUNKING"):
            # As a server without CHUNKING: the octets that follow are
            # then read as commands, which is what such a client deserves.
            self.log("bdat-not-offered")
            return await self.reply("502 5.5.2 Error: command not recognized")
        m = re.fullmatch(r"(?i)(\d{1,15})(?:[ \t]+(LAST))?", arg)
        if not m:
            # Without a valid count the chunk cannot be skipped.
            return await self.reply("501 5.5.4 Syntax: BDAT count [LAST]")
        size, last = int(m.group(1)), m.group(2) is not None
        # The chunk follows the command without waiting for a reply, so
        # it is read (and thrown away) even when the command is refused:
        # its bytes must never be taken for commands (Postfix does so).
        refusal = self.transaction_refusal("BDAT")
        if refusal is None and self.mail_from is None:
            refusal = "503 5.5.1 Error: need MAIL command"
        if refusal is None and not self.rcpt_tos:
            refusal = "503 5.5.1 Error: need RCPT command"
        if refusal is not None:
            await self.read_octets(size, faults=False)
            self.log(f"bdat-discarded {size} bytes")
            return await self.reply(refusal)

        if self.chunks is None:
            if "stall-data" in self.faults:
                await self.stall()
            self.chunks = bytearray()
        self.chunks += await self.read_octets(size)
        self.chunk_count += 1
        self.log(f"bdat-chunk {size} bytes{' last' if last else ''}")
        if "drop-mid-data" in self.faults and (last or len(self.chunks) >= 1000):
            # Past ~1000 bytes, or the whole message was smaller: drop.
            self.log("fault drop-mid-data")
            raise Closed()
        if (not last and self.args.size is not None and
                len(self.chunks) > self.args.size):
            self.reset_transaction()
            return await self.reply("552 5.3.4 Message size exceeds fixed limit")
        if not last:
            if not await self.step_reply(
                    "data", f"250 2.0.0 Ok: {size} octets received"):
                self.reset_transaction()        # refused: nothing stored
            return
        body = bytes(self.chunks)
        self.log(f"data-end {len(body)} bytes via BDAT")
        await self.finish_message(body, "BDAT")

    async def finish_message(self, body, command):
        """The reply after the whole message (final dot or BDAT LAST):
        the faults that hit it, the size check, or the message stored."""
        self.messages += 1
        if "drop-after-dot" in self.faults:
            self.log("fault drop-after-dot")
            raise Closed()
        if (self.faults.counts.get("drop-after-dot-nth") == self.messages
                and self.number == 1):
            self.log("fault drop-after-dot-nth")
            raise Closed()
        if self.faults.counts.get("dot-550-nth") == self.messages:
            self.log("fault dot-550-nth")
            self.reset_transaction()
            return await self.reply("550 5.7.1 Message rejected by policy")
        if "silent-after-dot" in self.faults:
            self.log("fault silent-after-dot")
            await self.discard_until_eof()
        for fault, text in (("data-451", "451 4.3.0 Error: queue file write error"),
                            ("data-554", "554 5.7.1 Message rejected as spam")):
            if fault in self.faults:
                self.reset_transaction()
                return await self.reply(text)
        if self.args.size is not None and len(body) > self.args.size:
            self.reset_transaction()
            return await self.reply("552 5.3.4 Message size exceeds fixed limit")
        if self.faults.at("8bit-reply", "dot"):
            self.reset_transaction()        # refused: nothing stored
            return await self.step_reply("dot", "250 2.0.0 Ok")

        queue_id = secrets.token_hex(5).upper()
        self.server.store.store(body, {
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "tls": self.tls,
            "sni": self.sni,
            "auth_user": self.auth_user,
            "size": len(body),
            "queue_id": queue_id,
            "helo": self.helo,
            "data_command": command,
            "chunks": self.chunk_count,
            "body": self.body_type,
            "session": self.number,
            "received_at": time.time(),
        })
        self.reset_transaction()
        await self.step_reply("dot", f"250 2.0.0 Ok: queued as {queue_id}")

    async def read_octets(self, n, faults=True):
        """Exactly N octets of a BDAT chunk, nothing undone or checked.
        With FAULTS, drop-mid-data and slow apply as in read_data()."""
        out = bytearray()
        while len(out) < n:
            if not self.buf:
                if (faults and "drop-mid-data" in self.faults and
                        len(self.chunks) + len(out) >= 1000):
                    self.log("fault drop-mid-data")
                    raise Closed()
                if faults and self.faults.slow:
                    await asyncio.sleep(self.faults.slow / 10)
                try:
                    data = await asyncio.wait_for(
                        self.reader.read(
                            4096 if faults and self.faults.slow else 65536),
                        IDLE_TIMEOUT)
                except asyncio.TimeoutError:
                    raise Closed()
                if not data:
                    raise Closed()
                self.buf += data
            take = min(len(self.buf), n - len(out))
            out += self.buf[:take]
            del self.buf[:take]
        return out

    async def read_data(self):
        """The message up to CRLF.CRLF, un-dot-stuffed, CRLFs kept.

        Only CRLF ends a line here (RFC 5321 4.1.1.4): a bare LF followed
        by "." neither ends the message nor is un-stuffed, so a client that
        sends bare LFs shows up in the stored bytes instead of being fixed."""
        raw, self.buf = self.buf, bytearray()
        scan = 0
        while True:
            if raw[:3] == b".\r\n":             # empty message
                end, rest = 0, raw[3:]
                break
            i = raw.find(b"\r\n.\r\n", scan)
            if i >= 0:
                end, rest = i + 2, raw[i + 5:]
                break
            if "drop-mid-data" in self.faults and len(raw) >= 1000:
                self.log("fault drop-mid-data")
                raise Closed()
            scan = max(0, len(raw) - 4)
            if self.faults.slow:
                # A client must spend a while in the middle of the data.
                await asyncio.sleep(self.faults.slow / 10)
            try:
                data = await asyncio.wait_for(
                    self.reader.read(4096 if self.faults.slow else 65536),
                    IDLE_TIMEOUT)
            except asyncio.TimeoutError:
                raise Closed()
            if not data:
                raise Closed()
            raw += data
        if "drop-mid-data" in self.faults:
            # The whole message fitted in under ~1000 bytes: still drop.
            self.log("fault drop-mid-data")
            raise Closed()
        self.buf = bytearray(rest)             # pipelined commands after the dot
        body = bytes(raw[:end])
        # A leading dot on any line is removed (RFC 5321 4.5.2); the
        # terminator is gone already, so every "\r\n." is a stuffed line.
        if body.startswith(b"."):
            body = body[1:]
        return body.replace(b"\r\n.", b"\r\n")


class AuthAbort(Exception):
    """AUTH ended with a syntax-level reply (cancel, bad base64)."""



# --------------------------------------------------------------------------
# The server

class Server:
    def __init__(self, args, cert_path, key_path):
        self.args = args
        self.log = Transcript(os.path.join(args.dir, "log"))
        self.store = MailStore(args.dir)
        # SNI arrives in a callback during the handshake, before the session
        # can see the TLS object; park it here keyed by that object.
        self.sni_names = weakref.WeakKeyDictionary()
        self.sessions = set()
        self.sessions_begun = 0
        self.stop = None
        self.ssl_context = None
        if args.mode != "plain":
            self.ssl_context = self.make_ssl_context(cert_path, key_path)

    def make_ssl_context(self, cert_path, key_path):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.args.tls_max == "1.2" or "renegotiate" in self.args.faults:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if "renegotiate" in self.args.faults:
            ctx.options &= ~ssl.OP_NO_RENEGOTIATION
        ctx.load_cert_chain(cert_path, key_path)
        ctx.sni_callback = self.on_sni
        return ctx

    def on_sni(self, sslobj, name, ctx):
        # OpenSSL calls this for every ClientHello, with None when the
        # client sent no server name (as it must for an IP literal).
        self.log(f"sni {name if name else '-'}")
        self.sni_names[sslobj] = name
        return None

    async def handle(self, reader, writer):
        task = asyncio.current_task()
        self.sessions.add(task)
        try:
            await Session(self, reader, writer).run()
        finally:
            self.sessions.discard(task)
            if self.args.once:
                self.stop.set()

    def listening_socket(self):
        host = self.args.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets whose
        # protocol says TCP, and Nagle with delayed ACKs stalls small
        # replies by ~40 ms, which would distort every client's timings.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if "stall-data" in self.args.faults or self.args.faults.slow:
            # A small receive buffer, inherited by accepted sockets, makes a
            # client's writes block after kilobytes rather than megabytes
            # once the server stops reading.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # On loopback the MSS is ~64 KB and Linux sizes the client's send
            # buffer from the peer's MSS (about 20 segments): megabytes would
            # vanish into it.  An Ethernet-sized MSS keeps that to ~50 KB.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
        sock.bind((host, self.args.port))
        sock.listen(64)
        sock.setblocking(False)
        return sock

    async def serve(self):
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        sock = self.listening_socket()
        # slow: no large buffer in the stream either, so that a client
        # really waits in the middle of its data.
        server = await asyncio.start_server(
            self.handle, sock=sock,
            limit=8192 if self.args.faults.slow else 2 ** 16)
        port = sock.getsockname()[1]
        port_path = os.path.join(self.args.dir, "port")
        write_atomic(port_path, f"{port}\n".encode())
        print(f"smtpd.py: listening on {self.args.host} port {port} "
              f"({self.args.mode})", file=sys.stderr, flush=True)
        try:
            await asyncio.wait_for(self.stop.wait(), self.args.lifetime)
        except asyncio.TimeoutError:
            print("smtpd.py: lifetime over, exiting", file=sys.stderr)
        finally:
            remove_quietly(port_path)
            server.close()
            for task in list(self.sessions):
                task.cancel()
            await asyncio.gather(*self.sessions, return_exceptions=True)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    pid_path = os.path.join(args.dir, "pid")
    # A port file left by a killed earlier run would send pollers to a
    # dead port.
    remove_quietly(os.path.join(args.dir, "port"))
    write_atomic(pid_path, f"{os.getpid()}\n".encode())
    try:
        cert_path, key_path = make_certificates(args.dir, args.cert,
                                                args.faults.chain)
        asyncio.run(Server(args, cert_path, key_path).serve())
    except OSError as e:
        print(f"smtpd.py: {e}", file=sys.stderr)
        return 1
    finally:
        remove_quietly(pid_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
