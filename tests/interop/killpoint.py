#!/usr/bin/python3
"""killpoint.py - runs one "docmail send" through a TCP relay to a real
mail server and kills it with SIGKILL at a chosen point of the session.

    killpoint.py POINT LISTEN_PORT SERVER_PORT SIZE LOG -- DOCMAIL ARGS...

The session is TLS, so the relay cannot read it; it knows where docmail
is from the bytes it passed on and from docmail's --verbose transcript
(ARGS must include --verbose), which goes to LOG as well:

    connect   the relay accepts and never connects on: killed before the
              server heard of the message
    auth      killed once docmail wrote its AUTH command
    data      the relay stops passing on docmail's bytes half way through
              the message (SIZE bytes, the dry run's), then the kill
    dot       all of docmail's bytes are passed on, the server's replies
              from the moment SIZE bytes went by are held back; once
              docmail has been quiet for a while (it sent everything and
              waits for the verdict on the final dot) the kill

The relay's receive buffer and docmail's send buffer (tests/faultshim.so,
DM_SHIM_SNDBUF, set by the caller) are small, so that holding the relay
back holds docmail back too instead of the kernel buffering the whole
message.  Prints "killed" or, when docmail ended before the kill point,
"finished N" with its exit status.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 30
QUIET = 0.5

point, listen_port, server_port, size, log = sys.argv[1:6]
listen_port, server_port, size = int(listen_port), int(server_port), int(size)
cmd = sys.argv[7:]

lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
lsock.bind(("127.0.0.1", listen_port))
lsock.listen(1)

logf = open(log, "wb")
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                     stderr=subprocess.PIPE)
deadline = time.monotonic() + TIMEOUT


def finish(killed):
    if killed and p.poll() is None:
        p.send_signal(signal.SIGKILL)
    os.set_blocking(p.stderr.fileno(), True)
    logf.write(p.stderr.read())
    status = p.wait()
    print("killed" if status == -signal.SIGKILL else f"finished {status}")
    sys.exit(0)


# Wait for docmail to connect (it stores the message first).
client = None
while client is None:
    if p.poll() is not None or time.monotonic() > deadline:
        finish(False)
    r, _, _ = select.select([lsock], [], [], 0.05)
    if r:
        client, _ = lsock.accept()
if point == "connect":
    finish(True)

server = socket.create_connection(("127.0.0.1", server_port))
errfd = p.stderr.fileno()
os.set_blocking(errfd, False)
errbuf = b""
c2s = 0             # bytes of docmail's passed on to the server
hold_c2s = hold_s2c = False
last_c2s = time.monotonic()
while True:
    if time.monotonic() > deadline:
        finish(True)
    watch = [errfd]
    if not hold_c2s:
        watch.append(client)
    if not hold_s2c:
        watch.append(server)
    r, _, _ = select.select(watch, [], [], 0.01)
    if errfd in r:
        data = os.read(errfd, 65536)
        if not data:
            finish(False)
        logf.write(data)
        errbuf = (errbuf + data)[-4096:]
        if point == "auth" and b"\nC: AUTH " in b"\n" + errbuf:
            finish(True)
    if client in r:
        data = client.recv(4096)
        if not data:
            finish(False)
        server.sendall(data)
        c2s += len(data)
        last_c2s = time.monotonic()
        if point == "data" and c2s >= size // 2:
            hold_c2s = True
        if point == "dot" and c2s >= size:
            hold_s2c = True
    if server in r:
        data = server.recv(4096)
        if not data:
            finish(False)
        client.sendall(data)
    if hold_c2s and time.monotonic() - last_c2s > QUIET:
        finish(True)
    if hold_s2c and time.monotonic() - last_c2s > QUIET:
        finish(True)
