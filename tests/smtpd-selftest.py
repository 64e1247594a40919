#!/usr/bin/python3
"""smtpd-selftest.py - check that tests/smtpd.py behaves as documented.

Starts the server (Debian's /usr/bin/python3, a private temporary directory,
127.0.0.1 only) once per case and talks to it with smtplib, ssl and raw
sockets.  Prints TAP; exits 0 only when every case passed.

    /usr/bin/python3 tests/smtpd-selftest.py [-v] [NAME-SUBSTRING]
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SMTPD = os.path.join(HERE, "smtpd.py")
PYTHON = "/usr/bin/python3"
USER, PASSWORD = "anna@example.test", "s3cret:with colon"
MESSAGE = (b"From: Anna <anna@example.test>\r\n"
           b"To: bob@example.test\r\n"
           b"Subject: test\r\n"
           b"\r\n"
           b".a line that starts with a dot\r\n"
           b"..two dots\r\n"
           b".\r\n"                 # never sent as is: smtplib stuffs it
           b"last line\r\n")


class Server:
    """One smtpd.py process with its own directory."""

    def __init__(self, *args, auth=False, tokens=None, expect_exit=False):
        self.tmp = tempfile.mkdtemp(prefix="smtpd-selftest.")
        self.dir = os.path.join(self.tmp, "srv")
        cmd = [PYTHON, SMTPD, "--dir", self.dir, "--lifetime", "60", *args]
        if tokens:
            token_file = os.path.join(self.tmp, "tokens")
            with open(token_file, "w") as f:
                f.write("".join(f"{USER}:{t}\n" for t in tokens))
            cmd += ["--token-file", token_file]
        if auth:
            # Outside DIR, so "the password is in no file of DIR" is testable.
            auth_file = os.path.join(self.tmp, "auth")
            with open(auth_file, "w") as f:
                f.write(f"{USER}:{PASSWORD}\n")
            cmd += ["--auth-file", auth_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if expect_exit:
            return
        deadline = time.monotonic() + 15
        while not os.path.exists(self.path("port")):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " +
                                   self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                raise RuntimeError("server did not write DIR/port")
            time.sleep(0.02)
        self.port = int(open(self.path("port")).read())

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def log(self):
        with open(self.path("log")) as f:
            return f.read().splitlines()

    def mails(self):
        """[(eml bytes, json dict)] in order."""
        out = []
        for j in sorted(glob.glob(self.path("mail", "*.json"))):
            with open(j[:-5] + ".eml", "rb") as f:
                eml = f.read()
            with open(j) as f:
                out.append((eml, json.load(f)))
        return out

    def delivered(self):
        return int(open(self.path("delivered")).read())

    def secrets_in_dir(self):
        """Files in DIR holding the password in clear or in base64 form."""
        forms = [PASSWORD.encode(),
                 base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()),
                 base64.b64encode(PASSWORD.encode())]
        found = []
        for root, _, files in os.walk(self.dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                if any(form in data for form in forms):
                    found.append(name)
        return found

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- client helpers

def verifying_context(srv):
    ctx = ssl.create_default_context(cafile=srv.path("ca.pem"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def smtp(srv, name="localhost"):
    """smtplib over 127.0.0.1, but verifying and sending SNI for `name`.
    smtplib takes the TLS server name from the host given to __init__,
    and would otherwise resolve "localhost" (maybe to ::1)."""
    s = smtplib.SMTP(local_hostname="localhost", timeout=10)
    s._host = name
    s.connect("127.0.0.1", srv.port)
    return s


def smtps(srv, name="localhost", context=None):
    s = smtplib.SMTP_SSL(local_hostname="localhost", timeout=10,
                         context=context or verifying_context(srv))
    s._host = name
    s.connect("127.0.0.1", srv.port)
    return s


def raw(srv, timeout=5):
    return socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)


def read_reply(sock):
    """One complete (multi-line) reply as text."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and any(len(l) >= 4 and l[3:4] == b" "
                                  for l in lines[:-1]):
            return data.decode()


def chat(sock, line):
    sock.sendall(line.encode() + b"\r\n")
    return read_reply(sock)


def to_data(sock):
    """Raw session up to the 354 (plain mode, no auth)."""
    assert read_reply(sock).startswith("220")
    assert chat(sock, "EHLO localhost").startswith("250")
    assert chat(sock, "MAIL FROM:<a@example.test>").startswith("250")
    assert chat(sock, "RCPT TO:<b@example.test>").startswith("250")
    assert chat(sock, "DATA").startswith("354")


def closed_without_reply(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not raise "
                         f"{exc_type.__name__}")


# ---- the cases

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


@case
def starttls_auth_plain_send():
    """starttls: STARTTLS required, AUTH after TLS only, mail stored exactly"""
    with Server("--mode", "starttls", auth=True) as srv:
        s = smtp(srv)
        s.ehlo()
        expect(s.has_extn("starttls"), "STARTTLS not offered")
        expect(not s.has_extn("auth"), "AUTH offered before TLS")
        code, msg = s.mail(USER)
        expect(code == 530 and b"5.7.0" in msg, f"MAIL before TLS: {code} {msg}")
        s.starttls(context=verifying_context(srv))
        s.ehlo()
        expect(not s.has_extn("starttls"), "STARTTLS offered again inside TLS")
        expect(s.has_extn("auth"), "AUTH not offered after TLS")
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("PLAIN", s.auth_plain)
        expect(code == 235, f"AUTH PLAIN: {code}")
        s.mail(USER)
        s.rcpt("bob@example.test")
        code, msg = s.data(MESSAGE)
        expect(code == 250 and msg.startswith(b"2.0.0 Ok: queued as "),
               f"DATA: {code} {msg}")
        s.quit()
        time.sleep(0.1)
        (eml, meta), = srv.mails()
        expect(eml == MESSAGE, f"stored bytes differ: {eml!r}")
        expect(meta["tls"] is True and meta["sni"] == "localhost"
               and meta["auth_user"] == USER and meta["mail_from"] == USER
               and meta["rcpt_tos"] == ["bob@example.test"]
               and meta["size"] == len(MESSAGE)
               and msg.decode().endswith(meta["queue_id"]), f"json: {meta}")
        expect(srv.delivered() == 1, "delivered counter")
        expect(meta["data_command"] == "DATA" and meta["chunks"] == 0,
               f"json: {meta}")
        log = srv.log()
        expect(f"data-end {len(MESSAGE)} bytes via DATA" in log,
               "no 'data-end N bytes via DATA'")
        for want in ("connect", "sni localhost", "STARTTLS", "tls-at-auth yes",
                     f"auth-ok {USER}", "AUTH PLAIN [redacted]", "disconnect",
                     "mail-before-tls"):
            expect(want in log, f"log lacks {want!r}")
        expect(any(l.startswith("tls TLSv1.3 ") for l in log), "no tls line")
        expect(not srv.secrets_in_dir(),
               f"password in {srv.secrets_in_dir()}")


@case
def auth_login_and_cram_md5():
    """AUTH LOGIN and CRAM-MD5 succeed with the right password"""
    with Server("--mode", "starttls", auth=True) as srv:
        for mech in ("LOGIN", "CRAM-MD5"):
            s = smtp(srv)
            s.starttls(context=verifying_context(srv))
            s.ehlo()
            s.user, s.password = USER, PASSWORD
            method = s.auth_login if mech == "LOGIN" else s.auth_cram_md5
            code, _ = s.auth(mech, method, initial_response_ok=False)
            expect(code == 235, f"{mech}: {code}")
            s.quit()
        expect(not srv.secrets_in_dir(), "password written")
        expect(srv.log().count("[redacted]") >= 3, "continuations not redacted")


@case
def wrong_password():
    """wrong password gives 535 5.7.8, MAIL then 530 Authentication required"""
    with Server("--mode", "starttls", auth=True) as srv:
        s = smtp(srv)
        s.starttls(context=verifying_context(srv))
        s.ehlo()
        e = expect_raises(smtplib.SMTPAuthenticationError, s.login, USER, "nope")
        expect(e.smtp_code == 535 and b"5.7.8" in e.smtp_error, str(e))
        code, msg = s.mail(USER)
        expect(code == 530 and msg == b"5.7.0 Authentication required",
               f"MAIL: {code} {msg}")
        s.quit()
        log = srv.log()
        expect("auth-fail" in log and "mail-before-auth" in log, "log events")


@case
def ssl_mode():
    """ssl: implicit TLS from the first byte, SNI logged, mail stored"""
    with Server("--mode", "ssl", auth=True) as srv:
        s = smtps(srv)
        s.login(USER, PASSWORD)
        refused = s.sendmail(USER, ["bob@example.test"], MESSAGE)
        expect(refused == {}, f"refused {refused}")
        s.quit()
        time.sleep(0.1)
        (eml, meta), = srv.mails()
        expect(eml == MESSAGE and meta["tls"] and meta["sni"] == "localhost"
               and meta["auth_user"] == USER, f"json: {meta}")
        log = srv.log()
        expect(log[:2] == ["connect", "sni localhost"], f"log starts {log[:3]}")
        expect(log[2].startswith("tls TLSv1.3"), log[2])
        expect(log[3].startswith("220 "), "greeting after TLS")


@case
def ssl_mode_ip_literal_no_sni():
    """ssl to an IP literal: no SNI ("sni -"), certificate valid for 127.0.0.1"""
    with Server("--mode", "ssl") as srv:
        s = smtps(srv, name="127.0.0.1")
        s.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        s.quit()
        time.sleep(0.1)
        (_, meta), = srv.mails()
        expect(meta["sni"] is None, f"sni {meta['sni']}")
        expect("sni -" in srv.log(), "no 'sni -' line")


@case
def plain_mode():
    """plain: no STARTTLS offered, mail stored with tls false"""
    with Server("--mode", "plain") as srv:
        s = smtp(srv)
        s.ehlo()
        expect(not s.has_extn("starttls"), "STARTTLS offered in plain mode")
        code, _ = s.docmd("STARTTLS")
        expect(code == 502, f"STARTTLS: {code}")
        s.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        s.quit()
        time.sleep(0.1)
        (eml, meta), = srv.mails()
        expect(eml == MESSAGE and meta["tls"] is False and meta["sni"] is None
               and meta["auth_user"] is None, f"json: {meta}")


@case
def plain_mode_auth_logs_plaintext_auth():
    """plain + auth: AUTH offered without TLS and logged as tls-at-auth no"""
    with Server("--mode", "plain", auth=True) as srv:
        s = smtp(srv)
        s.ehlo()
        expect(s.has_extn("auth"), "AUTH not offered")
        s.login(USER, PASSWORD)
        s.quit()
        log = srv.log()
        expect("tls-at-auth no" in log and f"auth-ok {USER}" in log, "log")
        expect(not srv.secrets_in_dir(), "password written")


@case
def fault_no_starttls():
    """no-starttls: STARTTLS not offered, 502 to it"""
    with Server("--mode", "starttls", "--fault", "no-starttls") as srv:
        s = smtp(srv)
        s.ehlo()
        expect(not s.has_extn("starttls"), "STARTTLS offered")
        code, _ = s.docmd("STARTTLS")
        expect(code == 502, f"STARTTLS: {code}")
        s.quit()


@case
def fault_starttls_454():
    """starttls-454: STARTTLS offered but answered 454 4.7.0"""
    with Server("--mode", "starttls", "--fault", "starttls-454") as srv:
        s = smtp(srv)
        s.ehlo()
        expect(s.has_extn("starttls"), "STARTTLS not offered")
        code, msg = s.docmd("STARTTLS")
        expect(code == 454 and msg.startswith(b"4.7.0"), f"{code} {msg}")
        s.quit()


@case
def starttls_pipelined_plaintext_discarded():
    """plaintext pipelined after STARTTLS is discarded, not run inside TLS"""
    with Server("--mode", "starttls") as srv:
        sock = raw(srv)
        read_reply(sock)
        chat(sock, "EHLO localhost")
        sock.sendall(b"STARTTLS\r\nNOOP\r\n")
        expect(read_reply(sock).startswith("220 2.0.0"), "no 220")
        tls = verifying_context(srv).wrap_socket(sock,
                                                 server_hostname="localhost")
        expect(chat(tls, "NOOP").startswith("250"), "NOOP inside TLS")
        tls.close()
        time.sleep(0.1)
        log = srv.log()
        expect("starttls-pipelined-data-discarded" in log, "not discarded")
        expect(log.count("250 2.0.0 Ok") == 1, "injected NOOP answered")


@case
def pipelining_and_rcpt_550():
    """rcpt-550: one of two recipients refused; pipelined commands all answered"""
    bad = "nobody@example.test"
    with Server("--mode", "plain", "--fault", f"rcpt-550:{bad}") as srv:
        s = smtp(srv)
        refused = s.sendmail("a@example.test", ["bob@example.test", bad], MESSAGE)
        expect(list(refused) == [bad] and refused[bad][0] == 550
               and b"5.1.1 <nobody@example.test>: Recipient address rejected: "
                   b"User unknown" == refused[bad][1], f"refused {refused}")
        s.quit()
        # Pipelined MAIL/RCPT/DATA in one write must get three replies.
        sock = raw(srv)
        read_reply(sock)
        chat(sock, "EHLO localhost")
        sock.sendall(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<c@example.test>"
                     b"\r\nDATA\r\n")
        got = ""
        while got.count("\r\n") < 3:
            got += read_reply(sock)
        expect(got.startswith("250 2.1.0") and "354 " in got, got)
        sock.sendall(b"x\r\n.\r\nQUIT\r\n")
        got = read_reply(sock)
        while "221" not in got:
            got += read_reply(sock)
        sock.close()
        time.sleep(0.1)
        mails = srv.mails()
        expect(len(mails) == 2 and mails[0][1]["rcpt_tos"] == ["bob@example.test"]
               and mails[1][0] == b"x\r\n", f"{mails}")


@case
def data_bytes_strict():
    """DATA: only CRLF.CRLF ends it, stuffed dots removed, bare LF kept as is"""
    with Server("--mode", "plain") as srv:
        sock = raw(srv)
        to_data(sock)
        sock.sendall(b"a\r\n..b\r\n.c\r\nbare\n.\nstill in\r\n")
        sock.sendall(b".\r\n")
        expect(read_reply(sock).startswith("250 2.0.0 Ok: queued as"), "no 250")
        chat(sock, "MAIL FROM:<>")
        chat(sock, "RCPT TO:<b@example.test>")
        chat(sock, "DATA")
        sock.sendall(b".\r\nQUIT\r\n")          # an empty message
        expect(read_reply(sock).startswith("250"), "empty message refused")
        sock.close()
        time.sleep(0.1)
        (m1, j1), (m2, j2) = srv.mails()
        expect(m1 == b"a\r\n.b\r\nc\r\nbare\n.\nstill in\r\n", repr(m1))
        expect(m2 == b"" and j2["mail_from"] == "" and j2["size"] == 0, repr(m2))


@case
def fault_rcpt_451_and_mail_553():
    """rcpt-451 refuses temporarily; mail-553 refuses the sender"""
    with Server("--mode", "plain", "--fault", "rcpt-451:Bob@Example.test") as srv:
        s = smtp(srv)
        s.ehlo()
        s.mail("a@example.test")
        code, msg = s.rcpt("bob@example.test")
        expect(code == 451 and msg.startswith(b"4.7.1"), f"{code} {msg}")
        s.quit()
    with Server("--mode", "plain", "--fault", "mail-553") as srv:
        s = smtp(srv)
        s.ehlo()
        code, msg = s.mail("a@example.test")
        expect(code == 553 and msg == b"5.7.1 Sender address rejected: "
               b"not owned by user", f"{code} {msg}")
        s.quit()


@case
def fault_data_451_and_554():
    """data-451 / data-554 answer the final dot and store nothing"""
    for fault, code in (("data-451", 451), ("data-554", 554)):
        with Server("--mode", "plain", "--fault", fault) as srv:
            s = smtp(srv)
            e = expect_raises(smtplib.SMTPDataError, s.sendmail,
                              "a@example.test", ["b@example.test"], MESSAGE)
            expect(e.smtp_code == code, f"{fault}: {e}")
            s.quit()
            expect(srv.mails() == [] and srv.delivered() == 0, "stored")


@case
def size_limit():
    """size: SIZE advertised, 552 5.3.4 at MAIL SIZE= and after DATA"""
    with Server("--mode", "plain", "--size", "1000") as srv:
        s = smtp(srv)
        s.ehlo()
        expect(s.esmtp_features.get("size") == "1000", "SIZE 1000 not offered")
        code, msg = s.mail("a@example.test", ["SIZE=2000"])
        expect(code == 552 and msg.startswith(b"5.3.4"), f"MAIL: {code} {msg}")
        s.rset()
        s.mail("a@example.test")        # no SIZE= given: refused after DATA
        s.rcpt("b@example.test")
        code, msg = s.data(b"x" * 1500 + b"\r\n")
        expect(code == 552 and msg.startswith(b"5.3.4"), f"DATA: {code} {msg}")
        s.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        s.quit()
        expect(len(srv.mails()) == 1, "small message not stored")


@case
def fault_greeting_421():
    """greeting-421: 421 4.3.2 instead of 220, then closed"""
    with Server("--mode", "plain", "--fault", "greeting-421") as srv:
        s = smtplib.SMTP(local_hostname="localhost", timeout=10)
        code, msg = s.connect("127.0.0.1", srv.port)
        expect(code == 421 and msg == b"4.3.2 Service not available, try later",
               f"{code} {msg}")
        expect(closed_without_reply(s.sock), "not closed after 421")


@case
def fault_garbage():
    """garbage: an HTTP error instead of a greeting, then closed"""
    with Server("--mode", "plain", "--fault", "garbage") as srv:
        sock = raw(srv)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        expect(data == b"HTTP/1.1 400 Bad Request\r\n\r\n", repr(data))


@case
def fault_no_greeting_and_delay():
    """no-greeting holds the connection silently; delay-greeting:1 waits"""
    with Server("--mode", "plain", "--fault", "no-greeting") as srv:
        sock = raw(srv, timeout=1)
        expect_raises(socket.timeout, sock.recv, 1)
        sock.close()
    with Server("--mode", "plain", "--fault", "delay-greeting:1") as srv:
        t = time.monotonic()
        sock = raw(srv)
        expect(read_reply(sock).startswith("220"), "no greeting")
        expect(time.monotonic() - t >= 0.95, "greeting came early")


@case
def fault_trickle():
    """trickle: one byte per second"""
    with Server("--mode", "plain", "--fault", "trickle") as srv:
        sock = raw(srv)
        t = time.monotonic()
        got = b""
        while len(got) < 3:
            got += sock.recv(1)
        dt = time.monotonic() - t
        expect(got == b"220" and 1.8 <= dt < 3.5, f"{got!r} in {dt:.2f}s")


@case
def fault_auth_replies():
    """auth-535/534/139 refuse even the right password; no-auth hides AUTH"""
    for fault, code, enh in (("auth-535", 535, b"5.7.8"),
                             ("auth-534", 534, b"5.7.9"),
                             ("auth-139", 535, b"5.7.139")):
        with Server("--mode", "ssl", "--fault", fault, auth=True) as srv:
            s = smtps(srv)
            e = expect_raises(smtplib.SMTPAuthenticationError, s.login,
                              USER, PASSWORD)
            expect(e.smtp_code == code and e.smtp_error.startswith(enh), str(e))
            s.close()
    with Server("--mode", "ssl", "--fault", "no-auth", auth=True) as srv:
        s = smtps(srv)
        s.ehlo()
        expect(not s.has_extn("auth"), "AUTH offered")
        code, msg = s.mail(USER)
        expect(code == 530 and msg == b"5.7.0 Authentication required", msg)
        s.close()


@case
def fault_drop_mid_data():
    """drop-mid-data: connection closed during DATA, no reply, nothing stored"""
    with Server("--mode", "plain", "--fault", "drop-mid-data") as srv:
        sock = raw(srv)
        to_data(sock)
        try:
            for _ in range(50):
                sock.sendall(b"y" * 998 + b"\r\n")
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect(closed_without_reply(sock), "not closed")
        expect(srv.mails() == [] and "fault drop-mid-data" in srv.log(), "log")


@case
def fault_drop_and_silent_after_dot():
    """drop-after-dot closes, silent-after-dot keeps quiet; nothing stored"""
    with Server("--mode", "plain", "--fault", "drop-after-dot") as srv:
        sock = raw(srv)
        to_data(sock)
        sock.sendall(b"x\r\n.\r\n")
        expect(closed_without_reply(sock), "not closed")
        expect(srv.mails() == [], "stored")
    with Server("--mode", "plain", "--fault", "silent-after-dot") as srv:
        sock = raw(srv)
        to_data(sock)
        sock.sendall(b"x\r\n.\r\n")
        sock.settimeout(1.5)
        expect_raises(socket.timeout, sock.recv, 1)
        expect(srv.mails() == [], "stored")


@case
def fault_stall_data():
    """stall-data: after 354 the server stops reading, client writes block"""
    with Server("--mode", "plain", "--fault", "stall-data") as srv:
        sock = raw(srv)
        to_data(sock)
        sock.setblocking(False)
        chunk = b"z" * 998 + b"\r\n"
        sent = 0
        deadline = time.monotonic() + 3
        while sent < 5_000_000 and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.05)        # let the server read, if it would
                try:
                    sent += sock.send(chunk)
                except BlockingIOError:
                    break
        expect(sent < 1_000_000, f"server took {sent} bytes")
        sock.close()


# What 8bit-reply's text starts with (smtpd.py HOSTILE_TEXT).
HOSTILE = b"\x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07 caf\xc3\xa9 bad\xc3\x28"


def recv_all(sock, want, timeout=5):
    """At least `want` bytes, or what came before a close or the timeout."""
    sock.settimeout(timeout)
    data = b""
    try:
        while len(data) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def raw_reply(sock):
    """One complete reply as bytes (read_reply() for 8-bit text)."""
    data = b""
    while not any(len(l) >= 4 and l[3:4] == b" "
                  for l in data.split(b"\r\n")[:-1]):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def wait_log(srv, line, seconds=5):
    deadline = time.monotonic() + seconds
    while line not in srv.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@case
def fault_long_endless_no_crlf():
    """long-line, endless-reply, no-crlf break the reply to the step named"""
    with Server("--mode", "plain", "--fault", "long-line:greeting") as srv:
        data = recv_all(raw(srv), (1 << 20) + 6)
        expect(data == b"220 " + b"x" * (1 << 20) + b"\r\n",
               f"{len(data)} bytes")
    with Server("--mode", "plain", "--fault", "endless-reply:ehlo") as srv:
        sock = raw(srv)
        expect(read_reply(sock).startswith("220 "), "no greeting")
        sock.sendall(b"EHLO localhost\r\n")
        data = recv_all(sock, 300_000)
        lines = data.split(b"\r\n")[:-1]
        expect(len(data) >= 300_000 and
               all(l.startswith(b"250-") for l in lines), "it ended")
        sock.close()
        expect(wait_log(srv, "disconnect"), "no end after the client left")
    with Server("--mode", "plain", "--fault", "no-crlf:mail") as srv:
        sock = raw(srv)
        read_reply(sock)
        chat(sock, "EHLO localhost")
        sock.sendall(b"MAIL FROM:<a@example.test>\r\n")
        data = recv_all(sock, 100, timeout=1.5)
        expect(data == b"250 no line end follows", repr(data))


@case
def fault_8bit_reply():
    """8bit-reply: hostile bytes in the greeting, RCPT refused with them"""
    with Server("--mode", "plain", "--fault", "8bit-reply:greeting",
                "--fault", "8bit-reply:rcpt") as srv:
        sock = raw(srv)
        greeting = raw_reply(sock)
        expect(greeting.startswith(b"220-" + HOSTILE) and
               b"\r\n220 " + HOSTILE in greeting, repr(greeting))
        chat(sock, "EHLO localhost")
        chat(sock, "MAIL FROM:<a@example.test>")
        sock.sendall(b"RCPT TO:<b@example.test>\r\n")
        r = raw_reply(sock)
        expect(r.startswith(b"550-" + HOSTILE) and
               b"\r\n550 5.7.1 " + HOSTILE in r, repr(r))
        expect(chat(sock, "DATA").startswith("503"), "DATA without RCPT")
        expect(srv.mails() == [], "stored")


@case
def fault_early_talk_mixed_bare_lf():
    """early-talk adds an unasked reply, mixed-reply another code, bare-lf LF"""
    greeting = b"220 localhost ESMTP docmail test server"
    with Server("--mode", "plain", "--fault", "early-talk:greeting") as srv:
        data = recv_all(raw(srv), 200, timeout=1)
        expect(data == greeting + b"\r\n250 2.0.0 Ok (nobody asked)\r\n",
               repr(data))
    with Server("--mode", "plain", "--fault", "mixed-reply:greeting") as srv:
        data = recv_all(raw(srv), 200, timeout=1)
        expect(data == b"220-" + greeting[4:] + b"\r\n554-interjected with "
               b"another code\r\n220 the end\r\n", repr(data))
    with Server("--mode", "plain", "--fault", "bare-lf") as srv:
        sock = raw(srv)
        expect(recv_all(sock, 200, timeout=1) == greeting + b"\n", "greeting")
        sock.sendall(b"EHLO localhost\r\n")
        data = recv_all(sock, 200, timeout=1)
        expect(b"\r" not in data and data.endswith(b"\n250 SMTPUTF8\n"),
               repr(data))


@case
def fault_trickle_reply():
    """trickle-reply:ehlo: the greeting at once, EHLO's reply a byte a second"""
    with Server("--mode", "plain", "--fault", "trickle-reply:ehlo") as srv:
        sock = raw(srv)
        t = time.monotonic()
        read_reply(sock)
        expect(time.monotonic() - t < 0.9, "greeting trickled")
        sock.sendall(b"EHLO localhost\r\n")
        t = time.monotonic()
        got = b""
        while len(got) < 3:
            got += sock.recv(1)
        dt = time.monotonic() - t
        expect(got == b"250" and 1.8 <= dt < 3.5, f"{got!r} in {dt:.2f}s")


@case
def fault_starttls_inject():
    """starttls-inject: plain text right behind the 220 to STARTTLS"""
    with Server("--mode", "starttls", "--fault", "starttls-inject") as srv:
        sock = raw(srv)
        read_reply(sock)
        chat(sock, "EHLO localhost")
        sock.sendall(b"STARTTLS\r\n")
        data = recv_all(sock, 200, timeout=1)
        expect(data == b"220 2.0.0 Ready to start TLS\r\n250-injected in "
               b"clear\r\n250 AUTH PLAIN\r\n", repr(data))


@case
def fault_renegotiate_key_update():
    """renegotiate: TLS 1.2 renegotiation at MAIL; key-update: TLS 1.3 KeyUpdate"""
    with Server("--mode", "ssl", "--fault", "renegotiate") as srv:
        ctx = verifying_context(srv)
        ctx.options &= ~ssl.OP_NO_RENEGOTIATION     # a willing client
        s = smtps(srv, context=ctx)
        expect(s.sock.version() == "TLSv1.2", s.sock.version())
        s.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        s.quit()
        log = srv.log()
        expect("fault renegotiate requested" in log and
               "renegotiation done" in log, "not renegotiated")
        expect(log.count("sni localhost") == 2, "no second handshake")
    with Server("--mode", "ssl", "--fault", "key-update") as srv:
        s = smtps(srv)
        expect(s.sock.version() == "TLSv1.3", s.sock.version())
        s.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        s.quit()
        expect("fault key-update requested" in srv.log(), "no KeyUpdate")
        time.sleep(0.1)
        expect(len(srv.mails()) == 1, "not stored")


@case
def fault_chain():
    """chain:20 serves the certificate through 20 intermediate CAs"""
    with Server("--mode", "ssl", "--fault", "chain:20") as srv:
        with open(srv.path("server.pem")) as f:
            n = f.read().count("BEGIN CERTIFICATE")
        expect(n == 21, f"{n} certificates in server.pem")
        s = smtps(srv)          # verified against ca.pem
        s.quit()
    with Server("--cert", "expired", "--fault", "chain:2",
                expect_exit=True) as srv:
        expect(srv.proc.wait(10) == 2, "chain with another --cert accepted")


@case
def certificate_kinds():
    """cert modes fail verification as intended; fingerprint matches"""
    want = {"wrongname": (62, "Hostname mismatch"),
            "expired": (10, "certificate has expired"),
            "selfsigned": (18, "self-signed certificate"),
            "untrusted": (20, "unable to get local issuer certificate")}
    for kind, (code, text) in want.items():
        with Server("--mode", "ssl", "--cert", kind) as srv:
            e = expect_raises(ssl.SSLCertVerificationError, smtps, srv)
            expect(e.verify_code == code and text in e.verify_message,
                   f"{kind}: {e.verify_code} {e.verify_message}")
            # Unverified, the handshake works and the pin names the cert.
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(raw(srv), server_hostname="localhost") as t:
                der = t.getpeercert(binary_form=True)
            fp = "sha256:" + ":".join(f"{b:02X}"
                                      for b in hashlib.sha256(der).digest())
            expect(open(srv.path("fingerprint")).read().strip() == fp,
                   f"{kind}: fingerprint")
            expect(any(l.startswith("tls-fail") for l in srv.log()),
                   f"{kind}: handshake failure not logged")


@case
def tls_max_12():
    """tls-max 1.2 caps the protocol version"""
    with Server("--mode", "starttls", "--tls-max", "1.2") as srv:
        s = smtp(srv)
        s.starttls(context=verifying_context(srv))
        expect(s.sock.version() == "TLSv1.2", s.sock.version())
        s.quit()
        expect(any(l.startswith("tls TLSv1.2 ") for l in srv.log()), "log")


@case
def ipv6_loopback():
    """--host ::1 listens on ::1 (good certificate holds IP ::1)"""
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        return "SKIP no IPv6 loopback"
    with Server("--mode", "ssl", "--host", "::1") as srv:
        ctx = verifying_context(srv)
        with socket.create_connection(("::1", srv.port), timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname="::1") as t:
                expect(read_reply(t).startswith("220"), "no greeting")


@case
def refuses_non_loopback():
    """--host 0.0.0.0 is refused before anything listens"""
    with Server("--host", "0.0.0.0", expect_exit=True) as srv:
        rc = srv.proc.wait(10)
        expect(rc == 2 and not os.path.exists(srv.path("port")), f"rc {rc}")


@case
def sigterm_once_lifetime():
    """SIGTERM / --once / --lifetime end the server cleanly, port file removed"""
    with Server("--mode", "plain") as srv:
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(5)
        expect(rc == 0 and not os.path.exists(srv.path("port"))
               and not os.path.exists(srv.path("pid")), f"SIGTERM rc {rc}")
    with Server("--mode", "plain", "--once") as srv:
        s = smtp(srv)
        s.quit()
        expect(srv.proc.wait(5) == 0, "--once did not exit")
    with Server("--mode", "plain", "--lifetime", "1") as srv:
        expect(srv.proc.wait(5) == 0, "--lifetime did not exit")


# ---- real servers' EHLO replies (--ehlo-profile) and BDAT

# Each profile's keywords before and after STARTTLS, exactly and in order
# (NOTES-real-servers.md), and the AUTH mechanisms really accepted.
PROFILE_EHLO = {
    "ms365": (["SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
               "STARTTLS", "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8"],
              ["SIZE 157286400", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
               "AUTH LOGIN XOAUTH2", "8BITMIME", "BINARYMIME", "CHUNKING",
               "SMTPUTF8"],
              ["LOGIN"]),
    "gmail": (["SIZE 35882577", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES",
               "PIPELINING", "CHUNKING", "SMTPUTF8"],
              ["SIZE 35882577", "8BITMIME", "AUTH LOGIN PLAIN XOAUTH2 "
               "PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "ENHANCEDSTATUSCODES",
               "PIPELINING", "CHUNKING", "SMTPUTF8"],
              ["LOGIN", "PLAIN"]),
    "postfix": (["PIPELINING", "SIZE 10240000", "ETRN", "STARTTLS",
                 "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                 "CHUNKING"],
                ["PIPELINING", "SIZE 10240000", "ETRN", "AUTH PLAIN LOGIN",
                 "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                 "CHUNKING"],
                ["PLAIN", "LOGIN"]),
    "exim": (["SIZE 52428800", "8BITMIME", "PIPELINING", "CHUNKING",
              "STARTTLS", "PRDR", "HELP"],
             ["SIZE 52428800", "8BITMIME", "PIPELINING", "AUTH PLAIN LOGIN",
              "CHUNKING", "PRDR", "HELP"],
             ["PLAIN", "LOGIN"]),
    "opensmtpd": (["8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 36700160", "DSN",
                   "STARTTLS", "HELP"],
                  ["8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 36700160", "DSN",
                   "AUTH PLAIN LOGIN", "HELP"],
                  ["PLAIN", "LOGIN"]),
}


def ehlo_keywords(sock):
    """The keyword lines of an EHLO reply (its first line is the name)."""
    lines = chat(sock, "EHLO localhost").split("\r\n")[:-1]
    expect(all(l[:4] == "250-" for l in lines[:-1]) and
           lines[-1][:4] == "250 ", repr(lines))
    return [l[4:] for l in lines[1:]]


def auth_code(sock, mech):
    """Try AUTH MECH with the right password; the final reply code."""
    if mech == "PLAIN":
        cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        return chat(sock, f"AUTH PLAIN {cred}")[:3]
    r = chat(sock, f"AUTH {mech}")
    if not r.startswith("334"):
        return r[:3]
    chat(sock, base64.b64encode(USER.encode()).decode())
    return chat(sock, base64.b64encode(PASSWORD.encode()).decode())[:3]


@case
def ehlo_profiles_exact():
    """--ehlo-profile: each real server's EHLO keywords, before and after TLS"""
    for name, (before, after, mechs) in PROFILE_EHLO.items():
        with Server("--mode", "starttls", "--ehlo-profile", name,
                    auth=True) as srv:
            sock = raw(srv)
            read_reply(sock)
            got = ehlo_keywords(sock)
            expect(got == before, f"{name} before TLS: {got}")
            chat(sock, "STARTTLS")
            tls = verifying_context(srv).wrap_socket(
                sock, server_hostname="localhost")
            got = ehlo_keywords(tls)
            expect(got == after, f"{name} after TLS: {got}")
            # Only what is advertised and implemented logs in.
            accepted = []
            for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"):
                code = auth_code(tls, mech)
                expect(code in ("235", "504"), f"{name} {mech}: {code}")
                if code == "235":
                    accepted.append(mech)
                    tls.close()
                    sock = raw(srv)
                    read_reply(sock)
                    chat(sock, "EHLO localhost")
                    chat(sock, "STARTTLS")
                    tls = verifying_context(srv).wrap_socket(
                        sock, server_hostname="localhost")
                    chat(tls, "EHLO localhost")
            expect(sorted(accepted) == sorted(mechs),
                   f"{name}: AUTH took {accepted}")
            tls.close()
    # Implicit TLS: no STARTTLS, AUTH at once; --size replaces SIZE.
    with Server("--mode", "ssl", "--ehlo-profile", "ms365", "--size", "5000",
                auth=True) as srv:
        tls = verifying_context(srv).wrap_socket(raw(srv),
                                                 server_hostname="localhost")
        read_reply(tls)
        got = ehlo_keywords(tls)
        want = ["SIZE 5000"] + PROFILE_EHLO["ms365"][1][1:]
        expect(got == want, f"ssl: {got}")
        tls.close()


TOKEN = "tok-" + "A" * 2990


def xoauth2(user, token):
    return base64.b64encode(
        f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def oauthbearer(user, token):
    return base64.b64encode(
        f"n,a={user},\x01host=localhost\x01port=1\x01auth=Bearer "
        f"{token}\x01\x01".encode()).decode()


def tls_session(srv):
    """Raw TLS session after EHLO; (socket, keywords)."""
    sock = raw(srv)
    read_reply(sock)
    chat(sock, "EHLO localhost")
    chat(sock, "STARTTLS")
    tls = verifying_context(srv).wrap_socket(sock, server_hostname="localhost")
    return tls, ehlo_keywords(tls)


@case
def oauth2_xoauth2_and_oauthbearer():
    """--token-file: XOAUTH2, OAUTHBEARER; ms365 and gmail refusals"""
    with Server("--ehlo-profile", "ms365", tokens=[TOKEN, "short"]) as srv:
        tls, kw = tls_session(srv)
        expect("AUTH LOGIN XOAUTH2" in kw, f"ms365 EHLO: {kw}")
        expect(chat(tls, "MAIL FROM:<a@example.test>").startswith("530"),
               "MAIL before AUTH")
        # Long token: AUTH alone, 334, the response on its own line.
        expect(chat(tls, "AUTH XOAUTH2").startswith("334"), "no 334")
        r = chat(tls, xoauth2(USER, TOKEN))
        expect(r.startswith("235"), f"long token: {r}")
        tls.close()
        tls, _ = tls_session(srv)
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, "wrong"))
        expect(r.startswith("535 5.7.3"), f"ms365 refusal: {r}")
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, "short"))
        expect(r.startswith("235"), f"retry in the same session: {r}")
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, "short"))
        expect(r.startswith("503"), f"second login: {r}")
        tls.close()
        tls, _ = tls_session(srv)
        # LOGIN is advertised but no password is configured.
        expect(chat(tls, "AUTH LOGIN").startswith("504"), "LOGIN taken")
        tls.close()
        log = srv.log()
        expect(f"auth-ok {USER} XOAUTH2" in log, "no auth-ok")
        expect("auth-fail XOAUTH2" in log, "no auth-fail")
        expect(any(l.startswith("[redacted] ") and l.endswith(" octets")
                   for l in log), "no continuation length")
        expect(not any(TOKEN in l for l in log), "token in the log")
    with Server("--ehlo-profile", "gmail", tokens=["good"]) as srv:
        tls, kw = tls_session(srv)
        r = chat(tls, "AUTH OAUTHBEARER " + oauthbearer(USER, "good"))
        expect(r.startswith("235"), f"OAUTHBEARER: {r}")
        tls.close()
        tls, _ = tls_session(srv)
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, "bad"))
        expect(r.startswith("334 "), f"gmail refusal: {r}")
        err = json.loads(base64.b64decode(r[4:].strip()))
        expect(err["status"] == "401", f"json: {err}")
        r = chat(tls, "")
        expect(r.startswith("535 5.7.8"), f"after the empty line: {r}")
        r = chat(tls, "AUTH OAUTHBEARER " + oauthbearer(USER, "bad"))
        expect(r.startswith("334 "), f"gmail OAUTHBEARER refusal: {r}")
        expect(chat(tls, "AQ==").startswith("535"), "no 535 after AQ==")
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2("other@example.test", "good"))
        expect(r.startswith("334 "), f"wrong user taken: {r}")
        chat(tls, "")
        tls.close()
        log = srv.log()
        expect("oauth-error-answer empty" in log, "no empty answer logged")
        expect("oauth-error-answer AQ==" in log, "no AQ== logged")


@case
def oauth2_faults():
    """oauthbearer-only, auth-line-512, basic-auth-off"""
    with Server("--ehlo-profile", "ms365", "--fault", "oauthbearer-only",
                tokens=["t"]) as srv:
        tls, kw = tls_session(srv)
        expect("AUTH LOGIN OAUTHBEARER" in kw, f"EHLO: {kw}")
        expect(chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, "t"))
               .startswith("504"), "XOAUTH2 taken")
        expect(chat(tls, "AUTH OAUTHBEARER " + oauthbearer(USER, "t"))
               .startswith("235"), "OAUTHBEARER refused")
        tls.close()
    with Server("--ehlo-profile", "ms365", "--fault", "auth-line-512",
                tokens=[TOKEN]) as srv:
        tls, _ = tls_session(srv)
        r = chat(tls, "AUTH XOAUTH2 " + xoauth2(USER, TOKEN))
        expect(r.startswith("500 5.5.6"), f"long line: {r}")
        expect(chat(tls, "AUTH XOAUTH2").startswith("334"), "no 334")
        expect(chat(tls, xoauth2(USER, TOKEN)).startswith("235"), "no 235")
        tls.close()
        expect("fault auth-line-512" in srv.log(), "fault not logged")
    with Server("--ehlo-profile", "ms365", "--fault", "basic-auth-off",
                auth=True) as srv:
        tls, _ = tls_session(srv)
        r = chat(tls, "AUTH LOGIN")
        expect(r.startswith("550 5.7.30 Basic authentication is not "
                            "supported"), f"basic-auth-off: {r}")
        tls.close()


def to_bdat(sock, mail="MAIL FROM:<a@example.test>"):
    """Raw session up to BDAT (plain mode, no auth)."""
    expect(read_reply(sock).startswith("220"), "no greeting")
    chat(sock, "EHLO localhost")
    expect(chat(sock, mail).startswith("250"), "MAIL")
    expect(chat(sock, "RCPT TO:<b@example.test>").startswith("250"), "RCPT")


# Bytes that DATA would change or end on: taken as they are by BDAT.
BINARY = (b"first\r\n.\r\n..stuffed?\r\n.\r\nbare\n.\nnul\x00\xff\xfe\r"
          b"\r\n.")


@case
def bdat_chunks_stored_exactly():
    """BDAT: chunks, pipelined chunks, LAST, 0 LAST; bytes stored exactly"""
    with Server("--mode", "plain", "--ehlo-profile", "postfix") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT 20\r\n" + BINARY[:20])
        expect(read_reply(sock) == "250 2.0.0 Ok: 20 octets received\r\n",
               "first chunk")
        # Two chunks and the end in one write, as a pipelining client does.
        rest = BINARY[20:]
        sock.sendall(b"BDAT 7\r\n" + rest[:7] +
                     b"BDAT %d\r\n" % len(rest[7:]) + rest[7:] +
                     b"BDAT 0 LAST\r\n")
        got = ""
        while got.count("\r\n") < 3:
            got += read_reply(sock)
        expect(got.split("\r\n")[2].startswith("250 2.0.0 Ok: queued as "),
               repr(got))
        # One chunk carrying all, LAST on it; then an empty message.
        sock.sendall(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<c@example.test>"
                     b"\r\nBDAT %d LAST\r\n" % len(BINARY) + BINARY)
        got = ""
        while got.count("\r\n") < 3:
            got += read_reply(sock)
        expect("queued as" in got, repr(got))
        to = "RCPT TO:<d@example.test>"
        chat(sock, "MAIL FROM:<>")
        chat(sock, to)
        expect(chat(sock, "BDAT 0 LAST").startswith("250 2.0.0 Ok: queued"),
               "BDAT 0 LAST refused")
        expect(chat(sock, "QUIT").startswith("221"), "QUIT")
        sock.close()
        time.sleep(0.1)
        (m1, j1), (m2, j2), (m3, j3) = srv.mails()
        expect(m1 == BINARY and m2 == BINARY, f"{m1!r} / {m2!r}")
        expect(m3 == b"" and j3["size"] == 0 and j3["mail_from"] == "", j3)
        expect([j["data_command"] for j in (j1, j2, j3)] == ["BDAT"] * 3 and
               [j["chunks"] for j in (j1, j2, j3)] == [4, 1, 1],
               f"{j1} {j2} {j3}")
        log = srv.log()
        expect(f"data-end {len(BINARY)} bytes via BDAT" in log and
               "data-end 0 bytes via BDAT" in log, "log lacks data-end")
        expect("DATA" not in log and not any("via DATA" in l for l in log),
               "DATA in the log")
        # The chunks' bytes are data, never logged as commands.
        expect(not any(l.startswith(("first", "bare", "nul")) for l in log),
               "chunk bytes read as commands")


@case
def bdat_sequence_errors():
    """BDAT: 503 without MAIL/RCPT (chunk skipped), no DATA after BDAT"""
    with Server("--mode", "plain", "--ehlo-profile", "ms365") as srv:
        sock = raw(srv)
        expect(read_reply(sock).startswith("220"), "no greeting")
        chat(sock, "EHLO localhost")
        # The refused chunk's bytes are skipped, not run as commands.
        sock.sendall(b"BDAT 6\r\nQUIT\r\n")
        expect(read_reply(sock) == "503 5.5.1 Error: need MAIL command\r\n",
               "BDAT without MAIL")
        expect(chat(sock, "NOOP").startswith("250"), "chunk read as QUIT")
        chat(sock, "MAIL FROM:<a@example.test>")
        sock.sendall(b"BDAT 4 LAST\r\nRSET")
        expect(read_reply(sock) == "503 5.5.1 Error: need RCPT command\r\n",
               "BDAT without RCPT")
        expect(chat(sock, "RCPT TO:<b@example.test>").startswith("250"),
               "RCPT after a refused BDAT")
        sock.sendall(b"BDAT 3\r\nabc")
        expect(read_reply(sock).startswith("250"), "chunk")
        expect(chat(sock, "DATA") == "503 5.5.1 Error: DATA after BDAT\r\n",
               "DATA after BDAT")
        expect(chat(sock, "RCPT TO:<c@example.test>").startswith("503"),
               "RCPT after BDAT")
        expect(chat(sock, "BDAT x").startswith("501"), "bad count")
        expect(chat(sock, "BDAT 1 LAST MORE").startswith("501"), "bad LAST")
        # RSET forgets the chunks: nothing stored.
        expect(chat(sock, "RSET").startswith("250"), "RSET")
        sock.sendall(b"BDAT 1 LAST\r\nz")
        expect(read_reply(sock).startswith("503"), "BDAT after RSET")
        # BODY=BINARYMIME (offered by ms365): BDAT only.
        chat(sock, "MAIL FROM:<a@example.test> BODY=BINARYMIME")
        chat(sock, "RCPT TO:<b@example.test>")
        expect(chat(sock, "DATA").startswith("503 5.5.1"),
               "DATA with BINARYMIME")
        sock.sendall(b"BDAT 2 LAST\r\n\x00\x01")
        expect("queued as" in read_reply(sock), "BINARYMIME by BDAT")
        sock.close()
        time.sleep(0.1)
        (eml, meta), = srv.mails()
        expect(eml == b"\x00\x01" and meta["body"] == "BINARYMIME", meta)
    # Servers that do not offer CHUNKING do not know BDAT.
    for args in ((), ("--ehlo-profile", "opensmtpd")):
        with Server("--mode", "plain", *args) as srv:
            sock = raw(srv)
            to_bdat(sock)
            expect(chat(sock, "BDAT 0 LAST").startswith("502"), f"{args}")
            expect("bdat-not-offered" in srv.log(), "not logged")
            code = chat(sock, "MAIL FROM:<a@example.test> BODY=BINARYMIME")
            expect(code.startswith("503"), code)    # nested MAIL
            chat(sock, "RSET")
            code = chat(sock, "MAIL FROM:<a@example.test> BODY=BINARYMIME")
            expect(code.startswith("555"), f"BINARYMIME not offered: {code}")


@case
def bdat_faults():
    """BDAT: data-451/silent/drop-after-dot hit LAST; drop-mid-data; 552"""
    body = b"x" * 600 + b"\r\n"
    with Server("--mode", "plain", "--ehlo-profile", "postfix",
                "--fault", "data-451") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT %d\r\n" % len(body) + body)
        expect(read_reply(sock).startswith("250"), "chunk")
        expect(chat(sock, "BDAT 0 LAST").startswith("451 4.3.0"), "LAST")
        expect(srv.mails() == [], "stored")
    with Server("--mode", "plain", "--ehlo-profile", "postfix",
                "--fault", "drop-after-dot") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT %d LAST\r\n" % len(body) + body)
        expect(closed_without_reply(sock), "not closed")
        expect(srv.mails() == [] and
               f"data-end {len(body)} bytes via BDAT" in srv.log(), "log")
    with Server("--mode", "plain", "--ehlo-profile", "postfix",
                "--fault", "silent-after-dot") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT %d LAST\r\n" % len(body) + body)
        sock.settimeout(1.5)
        expect_raises(socket.timeout, sock.recv, 1)
        expect(srv.mails() == [], "stored")
    with Server("--mode", "plain", "--ehlo-profile", "postfix",
                "--fault", "drop-mid-data") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT %d\r\n" % len(body) + body)
        expect(read_reply(sock).startswith("250"), "first chunk")
        try:
            sock.sendall(b"BDAT %d\r\n" % len(body) + body)
            sock.sendall(b"BDAT %d LAST\r\n" % len(body) + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect(closed_without_reply(sock), "not closed")
        expect(srv.mails() == [] and "fault drop-mid-data" in srv.log(), "log")
    with Server("--mode", "plain", "--ehlo-profile", "postfix",
                "--size", "1000") as srv:
        sock = raw(srv)
        to_bdat(sock)
        sock.sendall(b"BDAT %d\r\n" % len(body) + body)
        expect(read_reply(sock).startswith("250"), "first chunk")
        sock.sendall(b"BDAT %d\r\n" % len(body) + body)
        expect(read_reply(sock).startswith("552 5.3.4"), "over SIZE")
        expect(chat(sock, "BDAT 0 LAST").startswith("503"), "after 552")
        expect(srv.mails() == [], "stored")


def main():
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv
    cases = [c for c in CASES if not only or any(o in c.__name__ for o in only)]
    start = time.monotonic()
    print(f"1..{len(cases)}")
    failed = 0
    for n, fn in enumerate(cases, 1):
        t = time.monotonic()
        title = fn.__doc__.strip()
        try:
            result = fn()
        except Exception as e:
            failed += 1
            print(f"not ok {n} - {title}")
            for line in (traceback.format_exc() if verbose
                         else f"{type(e).__name__}: {e}").splitlines():
                print(f"# {line}")
            continue
        skip = f" # {result}" if isinstance(result, str) else ""
        print(f"ok {n} - {title}{skip}")
        if verbose:
            print(f"# {time.monotonic() - t:.2f}s")
    print(f"# {len(cases) - failed}/{len(cases)} passed in "
          f"{time.monotonic() - start:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
