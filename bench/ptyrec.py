#!/usr/bin/python3
"""ptyrec.py - count the bytes a full-screen program writes to its terminal.

usage: ptyrec.py [options] -- PROGRAM [ARG...]

Starts PROGRAM in a new pseudo-terminal of --rows x --cols (set with
TIOCSWINSZ before the program runs) with TERM=--term, and reads and
counts everything it writes.  The phases:

  A     from the start until the output has been quiet for --quiet
        seconds (and at least one byte came): the first screen;
  pre   the --pre keys, if any (e.g. the key that opens a prompt), one
        at a time, then quiet again: not counted;
  B     the --type text is written one character at a time, --pause
        seconds apart, while the output is read; then quiet again: the
        bytes the typing cost.  After the first --split characters it
        also waits for quiet and notes the bytes so far (S), to tell a
        field's plain typing from its horizontal scrolling;
  quit  the --quit keys, --quit-pause seconds apart (an Esc followed
        too soon by a letter would read as Alt-letter); if the program
        is still there --grace seconds later its process group gets
        SIGTERM, then SIGKILL.  Its process group is killed in any
        case, so nothing is left behind.

Prints one line "A B S STATE": byte counts, and STATE "running" when the
program was still there after B (as it should be), "exited" when it
ended before or during B (its numbers then mean nothing).  --raw-a and
--raw-b save the bytes of A and of pre+B, to check what was drawn (did
the typed text really land in the field?) and to read the escape
sequences.  Python standard library only.
"""
import argparse
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import time


def keys(s):
    """--pre/--quit: C-style escapes (\\x1b, \\r, \\t) into bytes."""
    return s.encode("utf-8").decode("unicode_escape").encode("latin-1")


class Pty:
    def __init__(self, fd):
        self.fd = fd
        self.eof = False

    def read_some(self, timeout, sink):
        """One read of whatever is there within timeout; bytes read."""
        if self.eof:
            return 0
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return 0
        try:
            b = os.read(self.fd, 65536)
        except OSError:  # EIO: the program's side was closed
            b = b""
        if not b:
            self.eof = True
            return 0
        if sink is not None:
            sink.append(b)
        return len(b)

    def drain(self, seconds, sink):
        """Read for that long, whatever comes; bytes read."""
        n = 0
        end = time.monotonic() + seconds
        while not self.eof:
            left = end - time.monotonic()
            if left <= 0:
                break
            n += self.read_some(left, sink)
        return n

    def until_quiet(self, quiet, longest, sink, need_first=False):
        """Read until nothing came for `quiet` s (after a first byte when
        need_first), or `longest` s in all; bytes read."""
        n = 0
        start = last = time.monotonic()
        while not self.eof:
            now = time.monotonic()
            if now - start >= longest:
                break
            if now - last >= quiet and (n > 0 or not need_first):
                break
            idle = now - last
            wait = quiet - idle if idle < quiet else 0.05
            got = self.read_some(min(wait, longest - (now - start)), sink)
            if got:
                n += got
                last = time.monotonic()
        return n

    def write(self, b):
        try:
            os.write(self.fd, b)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--cols", type=int, default=80)
    ap.add_argument("--term", default="xterm-256color")
    ap.add_argument("--quiet", type=float, default=0.3)
    ap.add_argument("--pause", type=float, default=0.02)
    ap.add_argument("--max", type=float, default=20.0)
    ap.add_argument("--pre", default="")
    ap.add_argument("--type", dest="text", default="x" * 50)
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--quit", default="\\x1b")
    ap.add_argument("--quit-pause", type=float, default=0.3)
    ap.add_argument("--grace", type=float, default=2.0)
    ap.add_argument("--raw-a")
    ap.add_argument("--raw-b")
    ap.add_argument("cmd", nargs="+")
    o = ap.parse_args()

    winsz = struct.pack("HHHH", o.rows, o.cols, 0, 0)
    pid, fd = os.forkpty()
    if pid == 0:
        # the child: the pty's slave side is its controlling terminal,
        # it leads a new session (and so a process group of its own)
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, winsz)
            os.environ["TERM"] = o.term
            os.environ.pop("LINES", None)
            os.environ.pop("COLUMNS", None)
            os.execvp(o.cmd[0], o.cmd)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, winsz)
    p = Pty(fd)
    a_out, b_out = [], []
    try:
        a = p.until_quiet(o.quiet, o.max, a_out, need_first=True)
        for k in keys(o.pre):
            p.write(bytes([k]))
            p.drain(o.pause, b_out)
        if o.pre:
            p.until_quiet(o.quiet, o.max, b_out)
        b = s = 0
        for i, ch in enumerate(o.text):
            if o.split and i == o.split:
                b += p.until_quiet(o.quiet, o.max, b_out)
                s = b
            p.write(ch.encode("utf-8"))
            b += p.drain(o.pause, b_out)
        b += p.until_quiet(o.quiet, o.max, b_out)
        state = "exited" if p.eof else "running"
        if o.raw_a:
            with open(o.raw_a, "wb") as f:
                f.write(b"".join(a_out))
        if o.raw_b:
            with open(o.raw_b, "wb") as f:
                f.write(b"".join(b_out))
        print(a, b, s, state, flush=True)
        for k in keys(o.quit):
            p.write(bytes([k]))
            p.drain(o.quit_pause, None)
    finally:
        # the program's own way out first, then signals to its group
        status = None
        end = time.monotonic() + o.grace
        while status is None and time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0]:
                status = 0
            else:
                p.drain(0.05, None)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if status is not None:
                break
            print("ptyrec: %s did not end, sending signal %d"
                  % (o.cmd[0], sig), file=sys.stderr)
            try:
                os.killpg(pid, sig)
            except OSError:
                pass
            end = time.monotonic() + 1.0
            while status is None and time.monotonic() < end:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    status = 0
                else:
                    p.drain(0.05, None)
        # whatever else it started in its process group goes as well
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if status is None:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
        os.close(fd)


if __name__ == "__main__":
    main()
