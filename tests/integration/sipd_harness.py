"""sipd_harness.py - run the real build/sipd and talk SIP to it over loopback.

Python 3 standard library only. Three parts:

  Sipd        starts sipd as a subprocess on port 0 listeners, waits for the
              "listening PROTO ADDR:PORT" lines and "ready" (DESIGN.md §5),
              and stops it: SIGTERM, then SIGKILL after 5 s. Always stopped,
              also when a test fails or the test process is killed (context
              manager, atexit, SIGTERM/SIGINT handler). Its stderr goes to a
              file, so failure messages can quote it.
  SIP helpers build requests with a fresh branch, Call-ID and tag; parse
              messages (headers as a case-insensitive multidict, compact
              forms expanded); send and receive over UDP (one socket per
              test) and TCP (framing by Content-Length, CRLF pongs counted).
  Tap         a tiny TAP producer: one "ok N - name" / "not ok N - name"
              per test with "# " diagnostics, "1..N" at the end, exit
              status 1 when anything failed.

Nothing here uses a fixed port or talks to anything but 127.0.0.1 and ::1.
"""

import atexit
import os
import queue
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

READY_TIMEOUT = 10.0  # s: from exec to "ready"
STOP_GRACE = 5.0  # s: SIGTERM to SIGKILL
REPLY_TIMEOUT = 2.0  # s: how long a test waits for an answer it expects
QUIET_TIME = 0.4  # s: how long a test listens to assert "no answer"

LOOPBACK = {4: "127.0.0.1", 6: "::1"}

# ---------------------------------------------------------------------------
# processes

_running = []  # every Sipd started and not yet stopped, for the exit hooks


def _stop_all():
    for s in list(_running):
        s.stop()


def _on_signal(signo, frame):
    # meson's timeout sends SIGTERM: unwind so every finally/with runs
    raise SystemExit(128 + signo)


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_signal)


class SipdError(Exception):
    pass


class Sipd:
    """One sipd process. Use as a context manager:

    with Sipd(binary, listen=["udp:127.0.0.1:0"], settings={"timers.t1": "50ms"}) as s:
        host, port = s.addr("udp")
    """

    DEFAULT_LISTEN = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0")
    last = None  # the most recently started, for failure diagnostics

    def __init__(self, binary, listen=DEFAULT_LISTEN, settings=None, args=(), env=None, db=None):
        self.binary = os.path.abspath(binary)  # sipd runs in its own directory
        self.db = db  # a --db URL; None: sqlite:TMPDIR/sipd.db, removed with TMPDIR
        self.listen = list(listen)
        self.settings = dict(settings or {})
        self.args = list(args)
        self.env = env
        self.proc = None
        self.tmpdir = None
        self.listeners = {}  # (proto, host) -> (host, port); host without brackets
        self.listen_lines = []
        self.stdout_lines = []
        self.returncode = None
        self.killed = False
        self._lines = queue.Queue()
        self._reader = None
        self._stderr_file = None

    # -- lifecycle --

    def command(self):
        cmd = [self.binary]
        for spec in self.listen:
            cmd += ["--listen", spec]
        cmd += ["--db", self.db or "sqlite:" + os.path.join(self.tmpdir, "sipd.db"), "--http", "off"]
        for key, value in self.settings.items():
            cmd += ["--set", "%s=%s" % (key, value)]
        # the suites that run again with several worker loops (meson.build)
        workers = os.environ.get("SIPD_TEST_WORKERS")
        if workers and "server.workers" not in self.settings:
            cmd += ["--set", "server.workers=" + workers]
        level = os.environ.get("SIPD_TEST_LOG_LEVEL")
        if level:
            cmd += ["--log-level", level]
        return cmd + self.args

    def start(self):
        Sipd.last = self
        self.tmpdir = tempfile.mkdtemp(prefix="sipd-test-")
        self._stderr_file = open(os.path.join(self.tmpdir, "stderr"), "w+b")
        cmd = self.command()
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self._stderr_file, cwd=self.tmpdir, env=self.env)
        except OSError as e:
            self._stderr_file.close()
            self._stderr_file = None
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise SipdError("cannot run %s: %s" % (cmd[0], e))
        _running.append(self)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise SipdError("sipd not ready within %.0f s: %s\n%s"
                                % (READY_TIMEOUT, " ".join(cmd), self.stderr_tail()))
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                raise SipdError("sipd exited (status %s) before ready: %s\n%s"
                                % (self.returncode, " ".join(cmd), self.stderr_tail()))
            if line == "ready":
                break
            m = re.match(r"^listening (udp|tcp|tls|ws|wss) (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)$",
                         line)
            if not m:
                continue  # other output is allowed before ready
            host = m.group(2).strip("[]")
            port = int(m.group(3))
            if port == 0:
                self.stop()
                raise SipdError("listener reported port 0: %r" % line)
            self.listeners[(m.group(1), host)] = (host, port)
            self.listen_lines.append(line)
        if len(self.listen_lines) != len(self.listen):
            self.stop()
            raise SipdError("%d listeners asked, %d listening lines: %r"
                            % (len(self.listen), len(self.listen_lines), self.listen_lines))
        return self

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stop(self):
        """SIGTERM, SIGKILL after STOP_GRACE. Returns the exit status
        (negative: killed by that signal). Idempotent."""
        if self.proc is None:
            return self.returncode
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except ProcessLookupError:
                pass
        self.returncode = proc.returncode
        self.killed = self.returncode == -signal.SIGKILL
        if self._reader:
            self._reader.join(timeout=2)
        if proc.stdout:
            proc.stdout.close()
        if self in _running:
            _running.remove(self)
        self._stderr_text = self._read_stderr()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        if self.tmpdir and not os.environ.get("SIPD_TEST_KEEP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return self.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- state --

    def kill9(self):
        """SIGKILL now (no clean shutdown), then collect the process as stop() does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        return self.stop()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _read_stderr(self):
        f = self._stderr_file
        if f is None:
            return getattr(self, "_stderr_text", "")
        f.flush()
        f.seek(0)
        data = f.read()
        f.seek(0, os.SEEK_END)
        return data.decode("utf-8", "replace")

    def stderr(self):
        return self._read_stderr()

    def stderr_tail(self, lines=30):
        text = self._read_stderr().rstrip("\n")
        if not text:
            return "(sipd stderr is empty)"
        tail = text.split("\n")[-lines:]
        return "sipd stderr (last %d lines):\n%s" % (len(tail), "\n".join(tail))

    def addr(self, proto="udp", family=4):
        """(host, port) of the listener for proto on 127.0.0.1 (family 4) or ::1 (6)."""
        key = (proto, LOOPBACK[family])
        if key not in self.listeners:
            raise SipdError("no %s listener on %s (have %s)" % (proto, key[1], sorted(self.listeners)))
        return self.listeners[key]

    def ping(self, proto="udp", family=4, timeout=REPLY_TIMEOUT):
        """OPTIONS to sipd itself must get a 200. Raises AssertionError."""
        if not self.alive():
            raise AssertionError("sipd is not running (status %s)"
                                 % (self.proc.returncode if self.proc else self.returncode))
        dest = self.addr(proto, family)
        if proto == "udp":
            with UdpClient(family) as c:
                c.send(build_request("OPTIONS", uri_for(dest), c.local, "UDP"), dest)
                r = c.recv_final(timeout)
        else:
            with TcpClient(dest) as c:
                c.send(build_request("OPTIONS", uri_for(dest), c.local, "TCP"))
                r = c.recv_final(timeout)
        if r is None:
            raise AssertionError("sipd did not answer an OPTIONS ping over %s/IPv%d" % (proto, family))
        if r.status != 200:
            raise AssertionError("OPTIONS ping over %s got %s" % (proto, r.start_line))
        return r


# ---------------------------------------------------------------------------
# SIP messages

COMPACT = {
    "a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
    "e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact", "k": "supported",
    "l": "content-length", "m": "contact", "n": "identity-info", "o": "event", "r": "refer-to",
    "s": "subject", "t": "to", "u": "allow-events", "v": "via", "x": "session-expires",
    "y": "identity",
}


def canonical_name(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


def split_commas(value):
    """Split a header value at commas outside quotes and <>."""
    out, cur, quoted, angle, i = [], [], False, False, 0
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\" and i + 1 < len(value):
            cur.append(value[i:i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            angle = True
        elif not quoted and ch == ">":
            angle = False
        elif ch == "," and not quoted and not angle:
            out.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur).strip())
    return [v for v in out if v]


class Headers:
    """Case-insensitive multidict in wire order; compact names expanded."""

    def __init__(self):
        self.items = []  # (name as sent, canonical name, value)

    def add(self, name, value):
        self.items.append((name, canonical_name(name), value))

    def get(self, name, default=None):
        key = canonical_name(name)
        for _, n, v in self.items:
            if n == key:
                return v
        return default

    def get_all(self, name):
        """Every header line of that name (comma lists not split)."""
        key = canonical_name(name)
        return [v for _, n, v in self.items if n == key]

    def values(self, name):
        """Every value, comma-separated lists split."""
        out = []
        for v in self.get_all(name):
            out += split_commas(v)
        return out

    def __contains__(self, name):
        return self.get(name) is not None

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return "Headers(%r)" % [(a, v) for a, _, v in self.items]


class SipMessage:
    def __init__(self, raw):
        self.raw = raw
        self.start_line = ""
        self.is_response = False
        self.version = None
        self.status = None
        self.reason = None
        self.method = None
        self.uri = None
        self.headers = Headers()
        self.body = b""

    def __getitem__(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<SipMessage %s>" % self.start_line

    def cseq(self):
        """(number, method) or None."""
        v = self.headers.get("CSeq")
        if v is None:
            return None
        parts = v.split()
        if len(parts) != 2 or not parts[0].isdigit():
            return None
        return int(parts[0]), parts[1]

    def top_via(self):
        vias = self.headers.values("Via")
        return parse_via(vias[0]) if vias else None

    def to_tag(self):
        return header_params(self.headers.get("To", "")).get("tag")

    def from_tag(self):
        return header_params(self.headers.get("From", "")).get("tag")


class ParseError(ValueError):
    pass


def parse_message(data, body_from_content_length=False):
    """Parse one SIP message (bytes). Header folding is undone. The body is
    everything after the empty line, or Content-Length bytes of it."""
    msg = SipMessage(data)
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = data.find(b"\n\n")
        sep = 2
    if end < 0:
        raise ParseError("no end of headers in %r" % data[:200])
    head = data[:end].decode("utf-8", "replace")
    body = data[end + sep:]
    lines = re.split(r"\r?\n", head)
    msg.start_line = lines[0]
    m = re.match(r"^SIP/(\d+\.\d+) (\d{3}) ?(.*)$", lines[0])
    if m:
        msg.is_response = True
        msg.version = "SIP/" + m.group(1)
        msg.status = int(m.group(2))
        msg.reason = m.group(3)
    else:
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise ParseError("bad start line %r" % lines[0])
        msg.method, msg.uri, msg.version = parts
    logical = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and logical:
            logical[-1] += " " + line.strip()
        else:
            logical.append(line)
    for line in logical:
        if ":" not in line:
            raise ParseError("bad header line %r" % line)
        name, value = line.split(":", 1)
        msg.headers.add(name.strip(), value.strip())
    if body_from_content_length:
        cl = msg.headers.get("Content-Length")
        body = body[:int(cl)] if cl and cl.isdigit() else b""
    msg.body = body
    return msg


def header_params(value):
    """Parameters of a name-addr/addr-spec header value (after the URI)."""
    if "<" in value:
        value = value[value.find(">") + 1:] if ">" in value else ""
    else:
        value = value[value.find(";"):] if ";" in value else ""
    out = {}
    for p in value.split(";"):
        p = p.strip()
        if not p:
            continue
        k, _, v = p.partition("=")
        out[k.strip().lower()] = v.strip() if _ else None
    return out


def parse_via(value):
    """A Via value → dict(protocol, transport, host, port, params{name: value|None})."""
    m = re.match(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9-]+)\s+(\[[^\]]*\]|[^\s;:]+)(?:\s*:\s*(\d+))?(.*)$",
                 value)
    if not m:
        return None
    params = {}
    for p in m.group(4).split(";"):
        p = p.strip()
        if not p:
            continue
        k, eq, v = p.partition("=")
        params[k.strip().lower()] = v.strip() if eq else None
    return {"transport": m.group(1).upper(), "host": m.group(2),
            "port": int(m.group(3)) if m.group(3) else None, "params": params}


# ---------------------------------------------------------------------------
# building requests


def _token(n=10):
    return "%0*x" % (n, random.getrandbits(4 * n))


def new_branch():
    return "z9hG4bK-t" + _token(16)


def new_call_id():
    return _token(20) + "@sipd-test"


def new_tag():
    return _token(8)


def hostport(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


def uri_for(addr, user=None):
    """sip:[user@]host:port for a listener address."""
    return "sip:%s%s" % (user + "@" if user else "", hostport(addr))


def build_request(method, uri, local, transport="UDP", *, branch=None, call_id=None,
                  from_tag=None, cseq=1, cseq_method=None, max_forwards=70, via=None,
                  rport=True, to=None, from_=None, headers=(), body=b"", content_length=None,
                  version="SIP/2.0", omit=()):
    """A request as bytes. local is the client socket's (host, port), used
    for the Via sent-by. headers: extra (name, value) pairs. omit: header
    names to leave out (to build malformed requests). via replaces the whole
    Via value."""
    if via is None:
        via = "SIP/2.0/%s %s;branch=%s%s" % (transport, hostport(local), branch or new_branch(),
                                             ";rport" if rport else "")
    if isinstance(body, str):
        body = body.encode()
    fields = [
        ("Via", via),
        ("Max-Forwards", None if max_forwards is None else str(max_forwards)),
        ("From", from_ or "<sip:tester@sipd-test.invalid>;tag=%s" % (from_tag or new_tag())),
        ("To", to or ("<%s>" % uri if uri.startswith("sip") else "<sip:somebody@sipd-test.invalid>")),
        ("Call-ID", call_id or new_call_id()),
        ("CSeq", "%s %s" % (cseq, cseq_method or method)),
    ]
    fields += list(headers)
    fields.append(("Content-Length", str(len(body)) if content_length is None else str(content_length)))
    skip = {canonical_name(n) for n in omit}
    lines = ["%s %s %s" % (method, uri, version)]
    lines += ["%s: %s" % (n, v) for n, v in fields if v is not None and canonical_name(n) not in skip]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_ack(request_uri, response, local, transport="UDP"):
    """ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the INVITE's
    Request-URI, top Via (same branch), From, Call-ID and CSeq number, and
    the To of the response."""
    via = response.top_via()
    if via is None:
        raise ParseError("response without a usable Via")
    sent_by = via["host"] + (":%d" % via["port"] if via["port"] else "")
    branch = via["params"].get("branch") or new_branch()
    num = response.cseq()[0] if response.cseq() else 1
    lines = [
        "ACK %s SIP/2.0" % request_uri,
        "Via: SIP/2.0/%s %s;branch=%s;rport" % (transport, sent_by, branch),
        "Max-Forwards: 70",
        "From: %s" % response.headers.get("From", ""),
        "To: %s" % response.headers.get("To", ""),
        "Call-ID: %s" % response.headers.get("Call-ID", ""),
        "CSeq: %d ACK" % num,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# ---------------------------------------------------------------------------
# sockets


class Closing:
    """`with` support for test peers: close() on the way out."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class UdpClient(Closing):
    """A UDP socket bound to 127.0.0.1:0 or [::1]:0."""

    def __init__(self, family=4):
        self.family = family
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.sock = socket.socket(af, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK[family], 0))
        self.local = self.sock.getsockname()[:2]
        self.received = []  # every datagram (bytes, addr), in order

    def close(self):
        self.sock.close()

    def send(self, data, dest):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, dest)

    def recv_raw(self, timeout=REPLY_TIMEOUT):
        """(bytes, addr) or None after timeout."""
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return None
        data, addr = self.sock.recvfrom(65536)
        self.received.append((data, addr))
        return data, addr

    def recv(self, timeout=REPLY_TIMEOUT):
        """The next message, parsed, or None after timeout."""
        got = self.recv_raw(timeout)
        return parse_message(got[0]) if got else None

    def recv_final(self, timeout=REPLY_TIMEOUT, provisional=None):
        """Skip provisional responses (appended to provisional) until a final
        one; None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline - time.monotonic())
            if m is None or not m.is_response or m.status >= 200:
                return m
            if provisional is not None:
                provisional.append(m)

    def drain(self):
        """Discard what is queued; returns it."""
        out = []
        while True:
            got = self.recv_raw(0)
            if not got:
                return out
            out.append(got[0])

    def quiet(self, seconds=QUIET_TIME):
        """Everything that arrives within seconds (normally: nothing)."""
        deadline = time.monotonic() + seconds
        out = []
        while True:
            got = self.recv_raw(deadline - time.monotonic())
            if not got:
                return out
            out.append(got[0])

    def request(self, data, dest, timeout=REPLY_TIMEOUT):
        self.send(data, dest)
        return self.recv_final(timeout)


class ConnectionClosed(Exception):
    pass


class TcpClient(Closing):
    """A TCP connection from 127.0.0.1 or ::1 (the family of dest) with
    TCP_NODELAY; reads messages framed by Content-Length."""

    def __init__(self, dest, timeout=REPLY_TIMEOUT):
        af = socket.AF_INET6 if ":" in dest[0] else socket.AF_INET
        self.sock = socket.socket(af, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.sock.connect(dest)
        self.sock.settimeout(None)
        self.local = self.sock.getsockname()[:2]
        self.buf = b""
        self.pongs = 0  # CRLFs seen between messages
        self.closed = False  # the peer closed (EOF or reset)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        """Read what is there; False on timeout. Sets closed on EOF/reset."""
        if self.closed:
            return False
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def recv_bytes(self, n, timeout=REPLY_TIMEOUT):
        """Exactly n raw bytes, or what came before the timeout/close."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n and self._fill(deadline - time.monotonic()):
            pass
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        while self.buf.startswith(b"\r\n"):
            self.buf = self.buf[2:]
            self.pongs += 1
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", head)
        length = int(m.group(1)) if m else 0
        total = end + 4 + length
        if len(self.buf) < total:
            return None
        raw, self.buf = self.buf[:total], self.buf[total:]
        return parse_message(raw)

    def recv_message(self, timeout=REPLY_TIMEOUT):
        """The next framed message, or None on timeout or close (see .closed)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self._frame()
            if m is not None:
                return m
            if not self._fill(deadline - time.monotonic()):
                return None

    def recv_final(self, timeout=REPLY_TIMEOUT, provisional=None):
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv_message(deadline - time.monotonic())
            if m is None or not m.is_response or m.status >= 200:
                return m
            if provisional is not None:
                provisional.append(m)

    def request(self, data, timeout=REPLY_TIMEOUT):
        self.send(data)
        return self.recv_final(timeout)

    def wait_closed(self, timeout):
        """True when the peer closes within timeout; data that arrives
        meanwhile stays in buf."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            self._fill(max(left, 0))  # at least one look, also for timeout 0
            if left <= 0:
                break
        return self.closed


def poll(predicate, timeout, interval=0.02):
    """Call predicate until it returns true or timeout passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------
# assertions with readable messages


def expect(cond, what, *context):
    if not cond:
        raise AssertionError(what + "".join("\n" + describe(c) for c in context))


def describe(x):
    if isinstance(x, SipMessage):
        return "message:\n" + x.raw.decode("utf-8", "replace").rstrip()
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace").rstrip()
    return str(x)


def expect_response(r, status, what="response"):
    """r is a response whose status is status (an int, a set, or a
    predicate)."""
    expect(r is not None, "%s: no response" % what)
    expect(r.is_response, "%s: got a request, not a response" % what, r)
    ok = status(r.status) if callable(status) else (
        r.status in status if isinstance(status, (set, frozenset, tuple, list)) else r.status == status)
    expect(ok, "%s: status %s, expected %s" % (what, r.status, getattr(status, "__name__", status)), r)
    return r


# ---------------------------------------------------------------------------
# TAP


class Skip(Exception):
    pass


def expect_sipp_success(cmd, work, calls, timeout):
    """Run SIPp (cmd, with -trace_err and -trace_stat) in directory work;
    fail unless it exits 0 with `calls` successful calls and no failed
    one, quoting its error logs. Returns its output."""
    status, out = run_tool(cmd, cwd=work, timeout=timeout)
    logs = ""
    for name in sorted(os.listdir(work)):
        if name.endswith("_errors.log"):
            with open(os.path.join(work, name), errors="replace") as f:
                logs += f.read()[-3000:]
    failed = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    ok = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    expect(status == 0, "sipp exited %d (0 = every call succeeded)\n%s\n%s"
           % (status, out[-3000:], logs))
    if failed:
        expect(int(failed.group(1)) == 0, "failed calls: %s" % failed.group(1), out[-3000:])
    if ok:
        expect(int(ok.group(1)) == calls, "successful calls: %s of %d" % (ok.group(1), calls),
               out[-3000:])
    return out


def run_tool(cmd, cwd=None, timeout=40):
    """Run a client tool (sipsak, sipp, ...) to completion within timeout
    seconds: (exit status, its output). A hung tool fails the test."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        raise AssertionError("%s did not finish within %d s:\n%s"
                             % (" ".join(cmd), timeout, out[-3000:]))
    return p.returncode, p.stdout.decode("utf-8", "replace")


def need_tool(tool):
    """The path of tool, or skip the test when it is not installed."""
    path = shutil.which(tool)
    if not path:
        raise Skip("%s is not installed (tools/deps.sh check)" % tool)
    return path


def last_sipd_stderr():
    return Sipd.last.stderr_tail() if Sipd.last else ""


class Tap:
    """print("ok N - name") per test; finish() prints the plan and returns
    the exit status. context: a callable whose text is added to every
    failure's diagnostics; by default the stderr of the sipd started last."""

    def __init__(self):
        self.count = 0
        self.failed = 0
        self.context = last_sipd_stderr

    def _emit(self, line, diag=None):
        out = [line]
        if diag:
            out += ["# " + d for d in str(diag).rstrip("\n").split("\n")]
        print("\n".join(out), flush=True)

    def ok(self, cond, name, diag=None):
        self.count += 1
        if cond:
            self._emit("ok %d - %s" % (self.count, name))
        else:
            self.failed += 1
            self._emit("not ok %d - %s" % (self.count, name), diag)
        return cond

    def skip(self, name, reason):
        self.count += 1
        self._emit("ok %d - %s # SKIP %s" % (self.count, name, reason))

    def todo(self, name, reason, passed=False, diag=None):
        self.count += 1
        self._emit("%s %d - %s # TODO %s" % ("ok" if passed else "not ok", self.count, name, reason),
                   diag)

    def run(self, name, fn, *args, **kwargs):
        """Run fn; an exception fails the test (traceback as diagnostics),
        Skip skips it. Returns True when it passed."""
        start = time.monotonic()
        try:
            fn(*args, **kwargs)
        except Skip as e:
            self.skip(name, str(e))
            return True
        except Exception as e:
            diag = "%s: %s" % (type(e).__name__, e) if isinstance(e, AssertionError) else \
                traceback.format_exc()
            if not isinstance(e, AssertionError):
                diag = diag.rstrip()
            else:
                tb = traceback.extract_tb(e.__traceback__)
                here = [f for f in tb if not f.filename.endswith("sipd_harness.py")]
                if here:
                    diag += "\nat %s:%d" % (os.path.basename(here[-1].filename), here[-1].lineno)
            if self.context:
                try:
                    diag += "\n" + self.context()
                except Exception as ce:  # never let the context hide the failure
                    diag += "\n(context failed: %s)" % ce
            diag += "\n(%.2f s)" % (time.monotonic() - start)
            return self.ok(False, name, diag)
        return self.ok(True, name)

    def finish(self):
        print("1..%d" % self.count, flush=True)
        return 1 if self.failed else 0


def binary_from_argv():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: %s PATH/TO/sipd\n" % sys.argv[0])
        sys.exit(2)
    return os.path.abspath(sys.argv[1])


# ---------------------------------------------------------------------------
# answering requests (for tests that play the phone behind the proxy)

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    301: "Moved Permanently", 302: "Moved Temporarily", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 407: "Proxy Authentication Required",
    408: "Request Timeout", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 486: "Busy Here", 487: "Request Terminated",
    500: "Server Internal Error", 503: "Service Unavailable", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere",
}


def build_response(req, status, reason=None, *, to_tag=None, headers=(), body=b"",
                   record_route=False, contact=None):
    """A response to req (a parsed request) as bytes (RFC 3261 §8.2.6):
    every Via in order, From, To (with to_tag added when the To has no
    tag), Call-ID, CSeq. record_route copies the Record-Route lines (a UAS
    does so in 1xx/2xx that create a dialog, §12.1.1); contact adds a
    Contact; headers: extra (name, value) pairs."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["SIP/2.0 %d %s" % (status, reason or REASONS.get(status, "Whatever"))]
    lines += ["Via: %s" % v for v in req.headers.get_all("Via")]
    if record_route:
        lines += ["Record-Route: %s" % v for v in req.headers.get_all("Record-Route")]
    lines.append("From: %s" % req.headers.get("From", ""))
    to = req.headers.get("To", "")
    if to_tag and req.to_tag() is None:
        to += ";tag=%s" % to_tag
    lines.append("To: %s" % to)
    lines.append("Call-ID: %s" % req.headers.get("Call-ID", ""))
    lines.append("CSeq: %s" % req.headers.get("CSeq", ""))
    if contact:
        lines.append("Contact: <%s>" % contact)
    lines += ["%s: %s" % hv for hv in headers]
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response_dest(req, src):
    """Where a UDP response to req goes (RFC 3261 §18.2.2, RFC 3581): the
    source address when the top Via asks for rport, else its sent-by
    (received= replacing the host), port 5060 when it has none."""
    via = req.top_via()
    if via is None:
        return src
    if "rport" in via["params"]:
        return src
    host = via["params"].get("received") or via["host"].strip("[]")
    return host, via["port"] or 5060


def kernel_port(proto, family=4):
    """A port the kernel picks as free on the loopback (for a client tool's
    -p): bound, read and released, so there is a small window in which
    another process could take it."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    with socket.socket(af, kind) as sock:
        sock.bind((LOOPBACK[family], 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# client tools in the background

_tools = []  # every BackgroundTool not yet finished, for the exit hook


def _kill_tools():
    for t in list(_tools):
        t.kill()


atexit.register(_kill_tools)


class BackgroundTool(Closing):
    """A client tool (SIPp as a callee, ...) that runs while the test does
    something else. Its output goes to a temporary file. wait() is bounded:
    a tool still running at its deadline is killed and fails the test.
    Killed at exit too, and when used as a context manager, on leaving."""

    def __init__(self, cmd, cwd=None):
        self.cmd = list(cmd)
        self._out = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=subprocess.STDOUT, cwd=cwd)
        except OSError:
            self._out.close()
            raise
        self.returncode = None
        _tools.append(self)

    def close(self):
        """Closing's exit hook: a tool left running is killed."""
        self.kill()

    def running(self):
        return self.proc.poll() is None

    def output(self):
        if self._out.closed:
            return getattr(self, "_text", "")
        self._out.flush()
        self._out.seek(0)
        text = self._out.read().decode("utf-8", "replace")
        self._out.seek(0, os.SEEK_END)
        return text

    def _finish(self):
        self.returncode = self.proc.returncode
        self._text = self.output()
        self._out.close()
        if self in _tools:
            _tools.remove(self)

    def wait(self, timeout):
        """(exit status, output) once it exits within timeout seconds; else
        it is killed and AssertionError raised with its output."""
        if self.returncode is not None:
            return self.returncode, self._text
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not finish within %d s:\n%s"
                                 % (" ".join(self.cmd), timeout, self._text[-3000:]))
        self._finish()
        return self.returncode, self._text

    def kill(self):
        """SIGKILL if still running (this process only), then collect it."""
        if self.returncode is not None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._finish()


def parse_sipp_trace(path):
    """The messages of a SIPp -trace_msg log (-message_file) as a list of
    (direction, transport, SipMessage): direction "sent" or "received",
    transport "UDP" or "TCP". Each entry starts with a line of dashes and a
    date, then "UDP message sent (N bytes):" or "TCP message received [N]
    bytes :", an empty line and the message, CRLF line ends kept."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for chunk in re.split(rb"(?m)^-{20,} \d{4}-\d\d-\d\d [0-9:.]+\r?\n", data):
        m = re.match(rb"(UDP|TCP|TLS|SCTP) message (sent|received)[^\n]*\n\r?\n", chunk)
        if not m:
            continue
        raw = chunk[m.end():]
        try:
            msg = parse_message(raw, body_from_content_length=True)
        except (ParseError, ValueError):
            continue
        out.append((m.group(2).decode(), m.group(1).decode(), msg))
    return out
