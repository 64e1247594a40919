#!/usr/bin/python3
"""idp.py - a loopback OAuth2 identity provider for docmail's tests.

Standard library only (http.server + ssl), HTTPS with the throwaway CA
that tests/smtpd.py's make_certificates() makes (python3-cryptography).

    /usr/bin/python3 tests/idp.py --dir DIR [--token-len N]
        [--expires-in SEC] [--interval SEC] [--client-id ID]
        [--fault NAME[:N]]... [--delay SEC] [--lifetime SEC]

Listens on 127.0.0.1 only.  Writes into DIR:

    port            once listening (atomically)
    ca.pem          the CA to trust (ca_file); server.pem/.key
    log             one event per line; tokens appear only as sha256
                    prefixes ("h:1a2b3c4d"), never whole
    refresh         the sha256 prefix of the one refresh token that is
                    valid now (rotation: each refresh issues a new one
                    and invalidates the old)

With --issued FILE each access token issued is also appended to FILE as
"USER:TOKEN" (--issued-user, default anna), the form of tests/smtpd.py's
--token-file, so that the SMTP server takes exactly the tokens issued.

Endpoints:

    POST /devicecode   client_id, scope -> device_code, user_code, ...
    POST /token        grant_type device_code | refresh_token |
                       authorization_code (PKCE S256 verified, the
                       redirect_uri must be the authorization's)
    GET  /authorize    302 to redirect_uri with code and state (or
                       error=access_denied under --fault deny)
    POST /approve      test only: user_code=..&action=approve|deny

Faults (--fault, repeatable), on /token unless said otherwise:

    pending:N       authorization_pending for the first N device polls
                    even after approval
    slow_down       slow_down on the first device poll
    access_denied   the device grant answers access_denied
    expired_token   the device grant answers expired_token
    invalid_grant   every refresh answers invalid_grant
    deny            /authorize redirects with error=access_denied
    garbage         a body that is not JSON
    html            an HTML page (as a captive portal sends)
    huge            a 2 MB body
    noaccess        JSON without access_token
    status500       HTTP 500
    hang            no answer at all (the connection stays open)
"""

import argparse
import base64
import hashlib
import http.server
import importlib.util
import json
import os
import secrets
import ssl
import string
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))

# tests/smtpd.py is imported by path: Python before 3.12 has a module
# of the same name in its standard library.
_spec = importlib.util.spec_from_file_location(
    "docmail_smtpd", os.path.join(HERE, "smtpd.py"))
smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smtpd)

FAULTS = ("pending", "slow_down", "access_denied", "expired_token",
          "invalid_grant", "deny", "garbage", "html", "huge", "noaccess",
          "status500", "hang")
BODY_FAULTS = ("garbage", "html", "huge", "noaccess", "status500", "hang")


def h(token):
    """What the log shows of a token."""
    return "h:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def parse_args(argv):
    p = argparse.ArgumentParser(description="loopback OAuth2 provider")
    p.add_argument("--dir", required=True)
    p.add_argument("--token-len", type=int, default=40)
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--interval", type=int, default=1)
    p.add_argument("--client-id", default="docmail-test")
    p.add_argument("--issued", metavar="FILE",
                   help="append USER:ACCESS_TOKEN for each token issued, "
                   "as tests/smtpd.py's --token-file reads it")
    p.add_argument("--issued-user", default="anna")
    p.add_argument("--fault", action="append", default=[])
    p.add_argument("--delay", type=float, default=0,
                   help="seconds /token waits before answering")
    p.add_argument("--lifetime", type=float, default=300)
    args = p.parse_args(argv)
    args.faults = {}
    for f in args.fault:
        name, _, n = f.partition(":")
        if name not in FAULTS:
            p.error(f"unknown fault '{name}'")
        args.faults[name] = int(n) if n else 1
    return args


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.devices = {}       # device_code -> dict
        self.codes = {}         # authorization code -> dict
        self.refresh = None     # the one valid refresh token
        self.log_f = open(os.path.join(args.dir, "log"), "a",
                          encoding="utf-8")
        self.pending_left = args.faults.get("pending", 0)
        self.slow_left = 1 if "slow_down" in args.faults else 0

    def log(self, line):
        with self.lock:
            self.log_f.write(line + "\n")
            self.log_f.flush()

    def token(self, prefix):
        alphabet = string.ascii_letters + string.digits + "-._~"
        n = max(self.args.token_len - len(prefix), 1)
        return prefix + "".join(secrets.choice(alphabet) for _ in range(n))

    def issue(self, old=None):
        """A new access token and a new refresh token, which from now
        on is the only valid one (caller holds the lock)."""
        access = self.token("at-")
        refresh = self.token("rt-")
        self.refresh = refresh
        smtpd.write_atomic(os.path.join(self.args.dir, "refresh"),
                           (h(refresh) + "\n").encode())
        if self.args.issued:
            with open(self.args.issued, "a", encoding="utf-8") as f:
                f.write(f"{self.args.issued_user}:{access}\n")
        return {"access_token": access, "refresh_token": refresh,
                "token_type": "Bearer", "expires_in": self.args.expires_in,
                "scope": "test"}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "idp.py"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass    # the request line may hold a code: our own log only

    @property
    def st(self):
        return self.server.state

    def send(self, status, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def oerror(self, error, desc=None):
        body = {"error": error}
        if desc:
            body["error_description"] = desc
        self.st.log(f"token error {error}")
        self.send(400, body)

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 65536:
            return None
        raw = self.rfile.read(n).decode("ascii", "replace")
        return {k: v[0] for k, v in urllib.parse.parse_qs(
            raw, keep_blank_values=True).items()}

    def body_fault(self):
        f = self.st.args.faults
        if "hang" in f:
            self.st.log("fault hang")
            time.sleep(self.st.args.lifetime)
            return True
        if "garbage" in f:
            self.st.log("fault garbage")
            self.send(200, b"\x00\x01this is {not json", "text/plain")
        elif "html" in f:
            self.st.log("fault html")
            self.send(200, "<!DOCTYPE html><html><body>Please sign in to "
                      "the Wi-Fi</body></html>", "text/html")
        elif "huge" in f:
            self.st.log("fault huge")
            self.send(200, b'{"access_token":"' + b"a" * (2 << 20) + b'"}')
        elif "noaccess" in f:
            self.st.log("fault noaccess")
            self.send(200, {"token_type": "Bearer", "expires_in": 3600})
        elif "status500" in f:
            self.st.log("fault status500")
            self.send(500, {"error": "server_error"})
        else:
            return False
        return True

    # --- endpoints ----------------------------------------------------

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        f = self.form()
        if f is None:
            self.send(413, {"error": "invalid_request"})
            return
        if path == "/devicecode":
            self.devicecode(f)
        elif path == "/token":
            # Lets two clients' refreshes overlap for sure.
            time.sleep(self.st.args.delay)
            if self.body_fault():
                return
            self.token(f)
        elif path == "/approve":
            self.approve(f)
        else:
            self.send(404, {"error": "not_found"})

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/authorize":
            self.send(404, {"error": "not_found"})
            return
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        ru = q.get("redirect_uri", "")
        if (q.get("client_id") != self.st.args.client_id or
                not ru.startswith("http://127.0.0.1:") or
                q.get("response_type") != "code" or
                q.get("code_challenge_method") != "S256" or
                len(q.get("code_challenge", "")) != 43 or
                not q.get("state")):
            self.st.log("authorize refused: bad request")
            self.send(400, "bad authorization request", "text/plain")
            return
        if "deny" in self.st.args.faults:
            loc = ru + "?" + urllib.parse.urlencode(
                {"error": "access_denied",
                 "error_description": "The user said no",
                 "state": q["state"]})
            self.st.log("authorize denied")
        else:
            code = self.st.token("ac-")
            with self.st.lock:
                self.st.codes[code] = {"challenge": q["code_challenge"],
                                       "redirect_uri": ru,
                                       "scope": q.get("scope", "")}
            loc = ru + "?" + urllib.parse.urlencode(
                {"code": code, "state": q["state"]})
            self.st.log(f"authorize code {h(code)} scope={q.get('scope')}")
        self.send(302, "", "text/plain", headers=[("Location", loc)])

    def devicecode(self, f):
        if f.get("client_id") != self.st.args.client_id:
            self.send(400, {"error": "invalid_client",
                            "error_description": "unknown client"})
            return
        dc = self.st.token("dc-")
        uc = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ")
                     for _ in range(8))
        with self.st.lock:
            self.st.devices[dc] = {"user_code": uc, "status": "pending",
                                   "scope": f.get("scope", "")}
        port = self.server.server_address[1]
        self.st.log(f"devicecode user_code={uc} scope={f.get('scope')}")
        self.send(200, {"device_code": dc, "user_code": uc,
                        "verification_uri": f"https://127.0.0.1:{port}/device",
                        "expires_in": 600,
                        "interval": self.st.args.interval})

    def approve(self, f):
        uc, action = f.get("user_code"), f.get("action", "approve")
        with self.st.lock:
            for d in self.st.devices.values():
                if d["user_code"] == uc:
                    d["status"] = "approved" if action == "approve" \
                        else "denied"
                    break
            else:
                uc = None
        if uc is None:
            self.send(404, {"error": "unknown user_code"})
            return
        self.st.log(f"approve {f.get('user_code')} {action}")
        self.send(200, {"ok": True})

    def token(self, f):
        st, faults = self.st, self.st.args.faults
        if f.get("client_id") != st.args.client_id:
            self.oerror("invalid_client", "unknown client")
            return
        gt = f.get("grant_type")
        if gt == "urn:ietf:params:oauth:grant-type:device_code":
            self.device_grant(f)
        elif gt == "refresh_token":
            if "invalid_grant" in faults:
                self.oerror("invalid_grant",
                            "AADSTS700082: The refresh token has expired")
                return
            # Microsoft wants the scope again (AADSTS900144).
            if not f.get("scope"):
                self.oerror("invalid_request",
                            "AADSTS900144: scope is missing")
                return
            rt = f.get("refresh_token", "")
            with st.lock:
                if rt != st.refresh:
                    valid = False
                else:
                    valid = True
                    body = st.issue()
            if not valid:
                self.oerror("invalid_grant",
                            "AADSTS50173: the refresh token was used "
                            "already (rotated)")
                return
            st.log(f"token refresh old={h(rt)} "
                   f"new={h(body['refresh_token'])}")
            self.send(200, body)
        elif gt == "authorization_code":
            code = f.get("code", "")
            with st.lock:
                c = st.codes.pop(code, None)
            if c is None:
                self.oerror("invalid_grant", "unknown or used code")
                return
            if f.get("redirect_uri") != c["redirect_uri"]:
                self.oerror("invalid_grant", "redirect_uri mismatch")
                return
            v = f.get("code_verifier", "")
            chal = base64.urlsafe_b64encode(
                hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
            if not 43 <= len(v) <= 128 or chal != c["challenge"]:
                self.oerror("invalid_grant", "PKCE verification failed")
                return
            with st.lock:
                body = st.issue()
            st.log(f"token authorization_code pkce=ok "
                   f"new={h(body['refresh_token'])}")
            self.send(200, body)
        else:
            self.oerror("unsupported_grant_type")

    def device_grant(self, f):
        st, faults = self.st, self.st.args.faults
        with st.lock:
            d = st.devices.get(f.get("device_code", ""))
        if d is None:
            self.oerror("invalid_grant", "unknown device_code")
            return
        if "access_denied" in faults:
            self.oerror("access_denied", "The user declined")
            return
        if "expired_token" in faults:
            self.oerror("expired_token", "The code expired")
            return
        with st.lock:
            slow = st.slow_left > 0
            if slow:
                st.slow_left -= 1
        if slow:
            self.oerror("slow_down")
            return
        if d["status"] == "denied":
            self.oerror("access_denied", "The user declined")
            return
        with st.lock:
            forced = d["status"] == "approved" and st.pending_left > 0
            if forced:
                st.pending_left -= 1
        if d["status"] == "pending" or forced:
            self.oerror("authorization_pending")
            return
        with st.lock:
            body = st.issue()
            del st.devices[f["device_code"]]
        st.log(f"token device_code new={h(body['refresh_token'])}")
        self.send(200, body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    smtpd.remove_quietly(os.path.join(args.dir, "port"))
    cert, key = smtpd.make_certificates(args.dir, "good")
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    smtpd.write_atomic(os.path.join(args.dir, "port"), f"{port}\n".encode())
    srv.state.log(f"listening port={port} faults={sorted(args.faults)}")
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        time.sleep(args.lifetime)
    except KeyboardInterrupt:
        pass
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
