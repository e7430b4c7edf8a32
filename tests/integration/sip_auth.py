"""sip_auth.py - digest authentication and REGISTER helpers for the
integration tests, on top of sipd_harness.py.

Python 3 standard library only. Three parts:

  Digest      HA1/HA2/response and rspauth for MD5 and SHA-256 (RFC 2617,
              RFC 7616, RFC 8760), parsing WWW-Authenticate and
              Authentication-Info, building Authorization values.
  CLI         sipd's subcommands (user add, user import, reg list) on a
              test database: the registrar tests create their users with
              them.
  Ua          a registering user agent over one UDP socket or TCP
              connection: keeps Call-ID, From tag and CSeq like a phone,
              answers 401 challenges, can reuse a nonce with a growing nc.

and, for the proxy tests, the two ends of a call through sipd:

  Callee      a phone that registers (digest) from its own socket, then
              answers in a thread what sipd forwards to it, as told by its
              plan (100, 180, a final status after a delay, or silence),
              answers CANCEL (200 + 487), BYE, MESSAGE, and records every
              message it receives or sends in an EventLog shared with
              other phones, so a test can check the order of events.
  Caller      a phone that sends INVITE/MESSAGE/... to sipd, answers a 407
              with Proxy-Authorization, ACKs, CANCELs, and sends ACK, BYE
              and re-INVITE along the route set of the dialog.
"""

import hashlib
import itertools
import os
import re
import subprocess
import tempfile
import shutil
import threading
import time

from sipd_harness import (REPLY_TIMEOUT, Closing, Sipd, TcpClient, UdpClient, expect, hostport,  # noqa: F401
                          new_branch, new_call_id, new_tag, parse_message)
from sipd_harness import build_ack, build_response, response_dest

DOMAIN = "example.com"
CLI_TIMEOUT = 60  # s

# ---------------------------------------------------------------------------
# digest

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def H(alg, text):
    return HASHES[alg](text.encode()).hexdigest()


def ha1(alg, user, realm, password):
    return H(alg, "%s:%s:%s" % (user, realm, password))


def digest_response(alg, user, realm, password, method, uri, nonce, nc=None, cnonce=None,
                    qop="auth"):
    """response= of RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1 (qop=auth or none)."""
    a1 = ha1(alg, user, realm, password)
    a2 = H(alg, "%s:%s" % (method, uri))
    if qop:
        return H(alg, "%s:%s:%s:%s:%s:%s" % (a1, nonce, nc, cnonce, qop, a2))
    return H(alg, "%s:%s:%s" % (a1, nonce, a2))


def rspauth(alg, user, realm, password, uri, nonce, nc, cnonce, qop="auth"):
    """rspauth= of Authentication-Info: A2 is ":" + uri (no method)."""
    a1 = ha1(alg, user, realm, password)
    return H(alg, "%s:%s:%s:%s:%s:%s" % (a1, nonce, nc, cnonce, qop, H(alg, ":" + uri)))


_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_params(text):
    """key=value, key="value" list → dict (keys lower case, quotes removed)."""
    out = {}
    pos = 0
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if not m:
            break
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[m.group(1).lower()] = v
        pos = m.end()
    return out


def parse_challenge(value):
    """'Digest realm="x", nonce=...' → dict with 'scheme' and the params."""
    m = re.match(r"^\s*(\S+)\s+(.*)$", value, re.S)
    if not m:
        return {"scheme": value.strip()}
    d = parse_params(m.group(2))
    d["scheme"] = m.group(1)
    return d


def challenges(resp, header="WWW-Authenticate"):
    """Every challenge of the response, in order (one per header line)."""
    return [parse_challenge(v) for v in resp.headers.get_all(header)]


def pick(chals, alg):
    for c in chals:
        if c.get("scheme", "").lower() == "digest" and \
                c.get("algorithm", "MD5").upper() == alg.upper():
            return c
    return None


def authorization(alg, user, password, chal, method, uri, nc=1, cnonce=None, username=None,
                  qop="auth", response=None, realm=None):
    """An Authorization value answering chal (a dict from parse_challenge)."""
    realm = realm if realm is not None else chal.get("realm", "")
    cnonce = cnonce or new_tag()
    ncs = "%08x" % nc
    resp = response or digest_response(alg, user, realm, password, method, uri, chal["nonce"],
                                       ncs, cnonce, qop)
    parts = ['username="%s"' % (username or user), 'realm="%s"' % realm,
             'nonce="%s"' % chal["nonce"], 'uri="%s"' % uri, 'response="%s"' % resp,
             "algorithm=%s" % alg]
    if qop:
        parts += ["qop=%s" % qop, "nc=%s" % ncs, 'cnonce="%s"' % cnonce]
    if "opaque" in chal:
        parts.append('opaque="%s"' % chal["opaque"])
    return "Digest " + ", ".join(parts), cnonce, ncs


# ---------------------------------------------------------------------------
# CLI


def cli(binary, *args, check=True):
    """Run `sipd ARGS`; (status, stdout+stderr). check: fail on non-zero."""
    cmd = [binary] + list(args)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not finish in %d s" % (" ".join(cmd), CLI_TIMEOUT))
    out = p.stdout.decode("utf-8", "replace")
    if check:
        expect(p.returncode == 0, "%s exited %d:\n%s" % (" ".join(cmd), p.returncode, out[-2000:]))
    return p.returncode, out


class Db:
    """A temporary SQLite database for sipd and its CLI."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sipd-reg-")
        self.path = os.path.join(self.dir, "sipd.db")
        self.url = "sqlite:" + self.path

    def remove(self):
        if not os.environ.get("SIPD_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def add_user(self, binary, user, password, domain=DOMAIN):
        cli(binary, "user", "add", "%s@%s" % (user, domain), "--password", password, "--db", self.url)

    def import_users(self, binary, pairs, domain=DOMAIN):
        """pairs: (user, password). `sipd user import` when it works, else
        `user add` one by one. Returns which was used."""
        path = os.path.join(self.dir, "users.csv")
        with open(path, "w") as f:
            for u, pw in pairs:
                f.write("%s@%s,%s\n" % (u, domain, pw))
        status, _ = cli(binary, "user", "import", path, "--db", self.url, check=False)
        if status == 0:
            return "import"
        for u, pw in pairs:
            self.add_user(binary, u, pw, domain)
        return "add"

    def reg_list(self, binary):
        return cli(binary, "reg", "list", "--db", self.url)[1]

    def sipd(self, binary, listen, settings=None, domains=(DOMAIN,)):
        args = []
        for d in domains:
            args += ["--domain", d]
        return Sipd(binary, listen=listen, settings=settings, args=args, db=self.url)


def env_started(tap, env, setup):
    """Run setup() (create users, start the shared sipd); on failure report
    one failed test, remove env and return False."""
    try:
        setup()
        return True
    except Exception as e:
        tap.ok(False, "create users and start sipd", str(e))
        env.remove()
        return False


def shared_env_runner(env):
    """on_env(fn, *args) -> a test body over env's shared sipd: sipd is
    restarted first when an earlier test left it dead, and pinged after the
    test (so a test that crashes sipd fails)."""
    def on_env(fn, *args):
        def run():
            if not env.sipd.alive():
                env.sipd.stop()
                env.start()
            fn(env, *args)
            env.sipd.ping("udp")
        return run
    return on_env


# ---------------------------------------------------------------------------
# bindings in a 200


def contact_uri(value):
    v = value.strip()
    if "<" in v:
        return v[v.find("<") + 1:v.find(">")]
    return v.split(";")[0].strip()


def bindings(resp):
    """{contact URI: expires (int or None)} of a REGISTER response."""
    out = {}
    for v in resp.headers.values("Contact"):
        if v.strip() == "*":
            out["*"] = None
            continue
        rest = v[v.find(">") + 1:] if "<" in v else v[len(contact_uri(v)):]
        exp = None
        for p in rest.split(";"):
            k, _, val = p.partition("=")
            if k.strip().lower() == "expires":
                try:
                    exp = int(val.strip())
                except ValueError:
                    exp = val.strip()
        out[contact_uri(v)] = exp
    return out


def find_binding(resp, uri):
    """expires of the binding whose URI is uri (compared case-insensitively,
    sipd may normalise), or KeyError."""
    for k, v in bindings(resp).items():
        if k.lower() == uri.lower():
            return v
    raise KeyError(uri)


# ---------------------------------------------------------------------------
# a registering user agent


class Ua(Closing):
    """One registering phone: one socket (UDP) or connection (TCP), one
    Call-ID and From tag, CSeq counting up. register() answers a 401 with
    credentials unless told not to."""

    def __init__(self, sipd, proto="udp", family=4, user="alice", password="secret",
                 domain=DOMAIN, aor_user=None, aor_domain=None, ruri=None, alg="MD5"):
        self.dest = sipd.addr(proto, family)
        self.proto = proto
        self.transport = proto.upper()
        self.client = UdpClient(family) if proto == "udp" else TcpClient(self.dest)
        self.local = self.client.local
        self.user, self.password, self.domain = user, password, domain
        self.aor = "sip:%s@%s" % (aor_user or user, aor_domain or domain)
        self.ruri = ruri or "sip:%s" % (aor_domain or domain)
        self.alg = alg
        self.call_id = new_call_id()
        self.from_tag = new_tag()
        self.cseq = 0
        self.chal = None  # the last challenge answered (dict)
        self.nc = 0
        self.last_auth = None  # (cnonce, nc) of the last Authorization sent
        self.history = []  # (request bytes, response) pairs

    def close(self):
        self.client.close()

    def contact(self, tag=""):
        """A Contact URI for this phone (tag makes distinct ones)."""
        return "sip:%s%s@%s" % (self.user, tag, hostport(self.local))

    def build(self, contacts=None, expires=None, headers=(), auth=None, cseq=None, call_id=None,
              branch=None, compact=False):
        """REGISTER bytes. contacts: list of Contact values (full header
        values, e.g. '<sip:..>;expires=60' or '*'); None: no Contact."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        n = (lambda full, short: short if compact else full)
        lines = ["REGISTER %s SIP/2.0" % self.ruri,
                 "%s: SIP/2.0/%s %s;branch=%s;rport" % (n("Via", "v"), self.transport,
                                                        hostport(self.local), branch or new_branch()),
                 "Max-Forwards: 70",
                 "%s: <%s>;tag=%s" % (n("From", "f"), self.aor, self.from_tag),
                 "%s: <%s>" % (n("To", "t"), self.aor),
                 "%s: %s" % (n("Call-ID", "i"), call_id or self.call_id),
                 "CSeq: %d REGISTER" % cseq]
        for c in contacts or ():
            lines.append("%s: %s" % (n("Contact", "m"), c))
        if expires is not None:
            lines.append("Expires: %s" % expires)
        if auth:
            lines.append("Authorization: %s" % auth)
        lines += ["%s: %s" % hv for hv in headers]
        lines.append("%s: 0" % n("Content-Length", "l"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, data, timeout=REPLY_TIMEOUT):
        if self.proto == "udp":
            r = self.client.request(data, self.dest, timeout)
        else:
            r = self.client.request(data, timeout)
        self.history.append((data, r))
        return r

    def credentials(self, chal=None, password=None, alg=None, nc=None, user=None, uri=None):
        chal = chal or self.chal
        if nc is None:
            self.nc += 1
            nc = self.nc
        value, cnonce, ncs = authorization(alg or self.alg, user or self.user,
                                           password or self.password, chal, "REGISTER",
                                           uri or self.ruri, nc=nc)
        self.last_auth = (cnonce, ncs)
        return value

    def register(self, contacts=None, expires=None, headers=(), password=None, alg=None,
                 reuse=False, compact=False, **kw):
        """REGISTER; on a 401 answer the challenge (alg, default self.alg)
        and send again with CSeq+1. reuse: send credentials for the last
        challenge right away (nc+1). Returns the final response."""
        alg = alg or self.alg
        auth = self.credentials(password=password, alg=alg) if reuse and self.chal else None
        r = self.send(self.build(contacts, expires, headers, auth=auth, compact=compact, **kw))
        if r is None or r.status != 401 or auth is not None:
            return r
        chal = pick(challenges(r), alg)
        expect(chal is not None, "401 offers no %s challenge" % alg, r)
        self.chal, self.nc = chal, 0
        auth = self.credentials(password=password, alg=alg)
        return self.send(self.build(contacts, expires, headers, auth=auth, compact=compact))

    def check_rspauth(self, r, alg=None):
        """Authentication-Info of r carries qop=auth, our cnonce and nc, and
        the rspauth computed for the last credentials sent."""
        alg = alg or self.alg
        info = r.headers.get("Authentication-Info")
        expect(info is not None, "200 without Authentication-Info", r)
        p = parse_params(info)
        cnonce, ncs = self.last_auth
        expect(p.get("qop") == "auth", "Authentication-Info qop=%r" % p.get("qop"), r)
        expect(p.get("cnonce") == cnonce, "Authentication-Info cnonce=%r, sent %r"
               % (p.get("cnonce"), cnonce), r)
        expect(p.get("nc", "").lower() == ncs, "Authentication-Info nc=%r, sent %s"
               % (p.get("nc"), ncs), r)
        want = rspauth(alg, self.user, self.chal.get("realm", ""), self.password, self.ruri,
                       self.chal["nonce"], ncs, cnonce)
        expect(p.get("rspauth", "").lower() == want, "rspauth=%r, expected %s"
               % (p.get("rspauth"), want), r)
        return p


# ---------------------------------------------------------------------------
# the two ends of a call through the proxy

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").encode()


class EventLog:
    """Everything some phones received and sent, in one order: a shared
    sequence number is taken under a lock when the event is recorded. A
    message is recorded before it is sent and after it is received, so
    whatever a sent message causes (at sipd, then at another phone) has a
    larger number than the sending. Entries: (seq, who, kind, what, msg),
    kind "recv", "sent" or "retrans", what the method or the status."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.entries = []

    def add(self, who, kind, what, msg):
        with self._lock:
            e = (next(self._seq), who, kind, what, msg)
            self.entries.append(e)
            return e

    def find(self, who=None, kind=None, what=None, pred=None):
        with self._lock:
            items = list(self.entries)
        return [e for e in items if (who is None or e[1] == who) and (kind is None or e[2] == kind)
                and (what is None or e[3] == what) and (pred is None or pred(e[4]))]

    def first(self, who=None, kind=None, what=None, pred=None):
        found = self.find(who, kind, what, pred)
        return found[0] if found else None

    def wait(self, timeout, who=None, kind=None, what=None, pred=None):
        """The first matching event, polling up to timeout s; None if none."""
        deadline = time.monotonic() + timeout
        while True:
            e = self.first(who, kind, what, pred)
            if e is not None or time.monotonic() >= deadline:
                return e
            time.sleep(0.02)

    def text(self, last=60):
        with self._lock:
            items = list(self.entries)[-last:]
        return "\n".join("%4d %-24s %-7s %s" % (seq, who, kind, what) for seq, who, kind, what, _ in items)


def _status_line(data):
    line = data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
    parts = line.split(" ")
    return int(parts[1]) if line.startswith("SIP/2.0 ") and parts[1].isdigit() else parts[0]


class Plan:
    """How a Callee answers an INVITE: trying (100 at once), ring (180 at
    once), final (a status, or None: never), after delay seconds, with extra
    headers on the final response. Plan.silent(): not a byte back."""

    def __init__(self, final=200, delay=0.0, ring=True, trying=True, headers=()):
        self.final, self.delay, self.ring, self.trying = final, delay, ring, trying
        self.headers = list(headers)

    @classmethod
    def silent(cls):
        return cls(final=None, ring=False, trying=False)


class _InviteState:
    def __init__(self, req, src, to_tag):
        self.req, self.src, self.to_tag = req, src, to_tag
        self.final = None  # the status sent, once sent
        self.last = None  # bytes of the last response, resent on a retransmission


class Callee(Closing):
    """A registered phone behind sipd. register() sends the REGISTER (with
    digest) from the socket or connection it then listens on, because sipd
    sends requests where the REGISTER came from; start() runs the answering
    thread; stop() ends it. The plan says how INVITEs are answered; CANCEL
    gets 200 and the INVITE 487 (if not answered yet); BYE, MESSAGE,
    OPTIONS and the rest get 200; ACK nothing. Retransmissions are not
    recorded as "recv" (kind "retrans") and get the last response again.
    Responses go where the top Via says (UDP) or back on the connection."""

    def __init__(self, sipd, user, password, proto="udp", events=None, name=None, plan=None,
                 domain=DOMAIN):
        self.ua = Ua(sipd, proto, user=user, password=password, domain=domain)
        self.user, self.proto, self.domain = user, proto, domain
        self.sipd_addr = self.ua.dest
        self.local = self.ua.local
        self.transport = proto.upper()
        self.name = name or "%s@%s/%s" % (user, hostport(self.local), proto)
        self.events = events if events is not None else EventLog()
        self.plan = plan or Plan()
        self.contact_uri = "sip:%s@%s%s" % (user, hostport(self.local),
                                            ";transport=tcp" if proto == "tcp" else "")
        self.invites = {}  # top Via branch of the INVITE -> _InviteState
        self.dialogs = {}  # Call-ID -> dict(route, target, local, remote, cseq)
        self._answered = {}  # (branch, method, cseq) -> bytes of the last response
        self._timers = []  # (due, function), run by the thread; under _timer_lock
        self._timer_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.errors = []  # exceptions in the thread, as text
        self.closed = False  # the TCP connection was closed by sipd

    # -- set-up --

    def register(self, q=None, expires=600, contact=None, params=""):
        """REGISTER this phone's contact (or contact) with ;q=q; the 200."""
        value = "<%s>%s%s" % (contact or self.contact_uri, params, ";q=%s" % q if q is not None else "")
        r = self.ua.register([value], expires)
        expect(r is not None and r.status == 200, "%s: REGISTER %s: %s"
               % (self.name, value, r.start_line if r is not None else "no answer"), r)
        return r

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def close(self):
        self.stop()
        self.ua.close()

    # -- what happened --

    def received(self, what=None):
        """Messages received (not retransmissions), optionally only one
        method or status."""
        return [e[4] for e in self.events.find(self.name, "recv", what)]

    def sent(self, what=None):
        return [e[4] for e in self.events.find(self.name, "sent", what)]

    def wait_for(self, what, timeout=REPLY_TIMEOUT, kind="recv", pred=None):
        e = self.events.wait(timeout, self.name, kind, what, pred)
        return e[4] if e else None

    # -- the thread --

    def _run(self):
        while not self._stop.is_set():
            try:
                self._run_timers()
                got = self._recv(0.02)
                if got is not None:
                    self._handle(*got)
            except Exception as e:  # recorded; the test reports it
                import traceback
                self.errors.append("%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
                time.sleep(0.05)

    def _recv(self, timeout):
        if self.proto == "udp":
            got = self.ua.client.recv_raw(timeout)
            if got is None:
                return None
            return parse_message(got[0]), got[1]
        if self.closed:
            time.sleep(timeout)
            return None
        m = self.ua.client.recv_message(timeout)
        if m is None:
            self.closed = self.ua.client.closed
            return None
        return m, None

    def _run_timers(self):
        now = time.monotonic()
        with self._timer_lock:
            due = [t for t in self._timers if t[0] <= now]
            self._timers = [t for t in self._timers if t[0] > now]
        for _, fn in due:
            fn()

    def _later(self, delay, fn):
        with self._timer_lock:
            self._timers.append((time.monotonic() + delay, fn))

    def _send(self, data, dest=None):
        with self._send_lock:
            if self.proto == "udp":
                self.ua.client.send(data, dest or self.sipd_addr)
            else:
                self.ua.client.send(data)

    def _respond(self, req, src, status, key=None, **kw):
        data = build_response(req, status, **kw)
        # recorded before it leaves: what it causes is recorded after it
        self.events.add(self.name, "sent", status, parse_message(data))
        self._send(data, response_dest(req, src) if self.proto == "udp" else None)
        if key is not None:
            self._answered[key] = data
        return data

    def _handle(self, m, src):
        if m.is_response:
            self.events.add(self.name, "recv", m.status, m)
            return
        via = m.top_via() or {"params": {}}
        cseq = m.cseq() or (0, m.method)
        key = (via["params"].get("branch"), m.method, cseq[0])
        if key in self._answered or (m.method == "ACK" and self.events.first(
                self.name, "recv", "ACK", lambda x: _same_request(x, m))):
            self.events.add(self.name, "retrans", m.method, m)
            if key in self._answered and m.method != "ACK":
                self._send(self._answered[key], response_dest(m, src) if self.proto == "udp" else None)
            return
        self.events.add(self.name, "recv", m.method, m)
        if m.method == "INVITE" and m.to_tag() is None:
            self._on_invite(m, src, key)
        elif m.method == "CANCEL":
            self._on_cancel(m, src, key)
        elif m.method == "ACK":
            return
        elif m.method == "INVITE":  # re-INVITE
            self._respond(m, src, 200, key, contact=self.contact_uri, body=SDP,
                          headers=[("Content-Type", "application/sdp")])
        else:
            self._respond(m, src, 200, key, to_tag=new_tag())

    def _on_invite(self, m, src, key):
        st = _InviteState(m, src, new_tag())
        self.invites[key[0]] = st
        plan = self.plan
        if plan.trying:
            st.last = self._respond(m, src, 100, key)
        if plan.ring:
            st.last = self._respond(m, src, 180, key, to_tag=st.to_tag, record_route=True,
                                    contact=self.contact_uri)
        if plan.final is not None:
            self._later(plan.delay, lambda: self._final(st, key, plan.final, plan.headers))

    def _final(self, st, key, status, headers=()):
        if st.final is not None:
            return
        st.final = status
        if 200 <= status < 300:
            st.last = self._respond(st.req, st.src, status, key, to_tag=st.to_tag, record_route=True,
                                    contact=self.contact_uri, body=SDP,
                                    headers=[("Content-Type", "application/sdp")] + list(headers))
            self.dialogs[st.req["Call-ID"]] = {
                "route": st.req.headers.values("Record-Route"),
                "target": contact_uri(st.req.headers.get("Contact", "")),
                "local": "%s;tag=%s" % (st.req.headers.get("To"), st.to_tag),
                "remote": st.req.headers.get("From"), "cseq": 100}
        else:
            st.last = self._respond(st.req, st.src, status, key, to_tag=st.to_tag,
                                    headers=list(headers))

    def answer(self, branch, status, headers=()):
        """Send the final answer to a pending INVITE now (from the test
        thread; the plan had final=None)."""
        st = self.invites[branch]
        key = (branch, "INVITE", st.req.cseq()[0])
        self._later(0, lambda: self._final(st, key, status, headers))

    def _on_cancel(self, m, src, key):
        branch = key[0]
        st = self.invites.get(branch)
        if st is None:
            self._respond(m, src, 481, key, to_tag=new_tag())
            return
        self._respond(m, src, 200, key, to_tag=st.to_tag)
        if st.final is None:
            ikey = (branch, "INVITE", st.req.cseq()[0])
            self._final(st, ikey, 487)

    # -- requests of its own --

    def bye(self, call_id):
        """BYE in the dialog of call_id (after a 2xx), along its route set
        (the Record-Route of the INVITE, top first), sent to sipd. Returns
        the request; the response arrives as a "recv" event."""
        d = self.dialogs[call_id]
        d["cseq"] += 1
        lines = ["BYE %s SIP/2.0" % d["target"],
                 "Via: SIP/2.0/%s %s;branch=%s;rport" % (self.transport, hostport(self.local),
                                                         new_branch())]
        lines += ["Route: %s" % r for r in d["route"]]
        lines += ["Max-Forwards: 70", "From: %s" % d["local"], "To: %s" % d["remote"],
                  "Call-ID: %s" % call_id, "CSeq: %d BYE" % d["cseq"], "Content-Length: 0"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        m = parse_message(data)
        self.events.add(self.name, "sent", "BYE", m)
        self._send(data)
        return m


def _same_request(a, b):
    va, vb = a.top_via(), b.top_via()
    return (va and vb and va["params"].get("branch") == vb["params"].get("branch")
            and a.cseq() == b.cseq() and a.method == b.method)


class Call:
    """One request a Caller sent and what came back: provisional
    responses, the final one, and for an INVITE answered 2xx the dialog
    (remote tag, remote target, route set)."""

    def __init__(self, method, ruri, to_uri, call_id, from_tag, cseq):
        self.method, self.ruri, self.to_uri = method, ruri, to_uri
        self.call_id, self.from_tag, self.cseq = call_id, from_tag, cseq
        self.branch = None
        self.request = None  # the last request sent (parsed)
        self.provisional = []
        self.final = None
        self.challenge = None  # the 407 answered, if any
        self.to_tag = None
        self.target = None
        self.route = []


class Caller(Closing):
    """A phone that calls through sipd over one UDP socket or TCP
    connection. Every message it receives is recorded in events (as
    "recv") and kept in an inbox until a wait takes it, so responses of
    different transactions may arrive in any order."""

    def __init__(self, sipd, user=None, password=None, proto="udp", domain=DOMAIN, from_uri=None,
                 events=None, name=None, alg="MD5"):
        self.dest = sipd.addr(proto)
        self.proto, self.transport = proto, proto.upper()
        self.client = UdpClient() if proto == "udp" else TcpClient(self.dest)
        self.local = self.client.local
        self.user, self.password, self.domain, self.alg = user, password, domain, alg
        self.from_uri = from_uri or "sip:%s@%s" % (user, domain)
        self.contact_uri = "sip:%s@%s%s" % (user or "caller", hostport(self.local),
                                            ";transport=tcp" if proto == "tcp" else "")
        self.name = name or "caller %s/%s" % (user, proto)
        self.events = events if events is not None else EventLog()
        self.inbox = []  # (message, source) not taken yet

    def close(self):
        self.client.close()

    # -- sockets --

    def send(self, data):
        m = parse_message(data)
        self.events.add(self.name, "sent", m.method or m.status, m)  # before it leaves
        if self.proto == "udp":
            self.client.send(data, self.dest)
        else:
            self.client.send(data)
        return m

    def _recv(self, timeout):
        if self.proto == "udp":
            got = self.client.recv_raw(timeout)
            if got is None:
                return None
            m, src = parse_message(got[0]), got[1]
        else:
            m, src = self.client.recv_message(timeout), None
            if m is None:
                return None
        self.events.add(self.name, "recv", m.status if m.is_response else m.method, m)
        return m, src

    def take(self, pred, timeout=REPLY_TIMEOUT):
        """The first message (inbox first) for which pred is true, or None
        when none came within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (m, _) in enumerate(self.inbox):
                if pred(m):
                    del self.inbox[i]
                    return m
            got = self._recv(max(0, deadline - time.monotonic()))
            if got is None:
                if time.monotonic() >= deadline:
                    return None
                continue
            self.inbox.append(got)

    def collect(self, pred, seconds):
        """Every message for which pred is true within seconds (inbox
        included): for checks that something does NOT arrive."""
        out = []
        while True:
            m = self.take(pred, seconds)
            if m is None:
                return out
            out.append(m)
            seconds = 0.05

    # -- requests --

    def new_call(self, method, ruri, to_uri=None):
        return Call(method, ruri, to_uri or ruri.split(";")[0], new_call_id(), new_tag(), 1)

    def build(self, call, headers=(), body=b"", max_forwards=70, auth=None, branch=None,
              content_type=None):
        call.branch = branch or new_branch()
        lines = ["%s %s SIP/2.0" % (call.method, call.ruri),
                 "Via: SIP/2.0/%s %s;branch=%s;rport" % (self.transport, hostport(self.local),
                                                         call.branch)]
        if max_forwards is not None:
            lines.append("Max-Forwards: %d" % max_forwards)
        lines += ["From: <%s>;tag=%s" % (self.from_uri, call.from_tag),
                  "To: <%s>" % call.to_uri,
                  "Call-ID: %s" % call.call_id,
                  "CSeq: %d %s" % (call.cseq, call.method)]
        if call.method in ("INVITE", "SUBSCRIBE"):
            lines.append("Contact: <%s>" % self.contact_uri)
        if auth:
            lines.append("Proxy-Authorization: %s" % auth)
        lines += ["%s: %s" % hv for hv in headers]
        if body:
            if isinstance(body, str):
                body = body.encode()
            lines.append("Content-Type: %s" % (content_type or (
                "application/sdp" if call.method == "INVITE" else "text/plain")))
        lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    def _is_response_to(self, call, method=None):
        method = method or call.method

        def pred(m):
            via = m.top_via()
            return (m.is_response and m.cseq() == (call.cseq, method) and via is not None
                    and via["params"].get("branch") == call.branch)
        return pred

    def response(self, call, timeout=REPLY_TIMEOUT, method=None):
        """The final response to call's request (provisional ones appended
        to call.provisional); None on timeout. An INVITE's non-2xx final is
        ACKed at once (RFC 3261 §17.1.1.3)."""
        pred = self._is_response_to(call, method)
        deadline = time.monotonic() + timeout
        while True:
            m = self.take(pred, max(0, deadline - time.monotonic()))
            if m is None:
                return None
            if m.status < 200:
                call.provisional.append(m)
                continue
            if (method or call.method) == "INVITE" and m.status >= 300:
                self.send(build_ack(call.ruri, m, self.local, self.transport))
            return m

    def start(self, method, ruri, to_uri=None, body=b"", headers=(), max_forwards=70,
              content_type=None):
        """Send a new out-of-dialog request; the Call (no waiting)."""
        call = self.new_call(method, ruri, to_uri)
        call.request = self.send(self.build(call, headers, body, max_forwards,
                                            content_type=content_type))
        call.body, call.headers, call.max_forwards = body, headers, max_forwards
        call.content_type = content_type
        return call

    def credentials(self, call, challenge_response, user=None, password=None, alg=None):
        alg = alg or self.alg
        chal = pick(challenges(challenge_response, "Proxy-Authenticate"), alg)
        expect(chal is not None, "407 offers no %s Proxy-Authenticate" % alg, challenge_response)
        value, _, _ = authorization(alg, user or self.user, password or self.password, chal,
                                    call.method, call.ruri)
        return value

    def resend_with_credentials(self, call, challenge_response, **kw):
        """The same request with Proxy-Authorization answering the 407,
        CSeq + 1, a new branch (RFC 3261 §22.2)."""
        call.challenge = challenge_response
        auth = self.credentials(call, challenge_response, **kw)
        call.cseq += 1
        call.provisional = []
        call.request = self.send(self.build(call, call.headers, call.body, call.max_forwards,
                                            auth=auth, content_type=call.content_type))
        return call

    def begin(self, method, ruri, to_uri=None, body=b"", headers=(), max_forwards=70,
              timeout=REPLY_TIMEOUT, content_type=None, **cred):
        """Send the request; if sipd answers 407, answer the challenge and
        send it again, without waiting for that second answer. The Call;
        call.first is the first final response (the 407, or whatever came
        instead; then nothing is resent)."""
        call = self.start(method, ruri, to_uri, body, headers, max_forwards, content_type)
        call.first = r = self.response(call, timeout)
        if r is not None and r.status == 407:
            self.resend_with_credentials(call, r, **cred)
        else:
            call.final = r
        return call

    def finish(self, call, timeout=REPLY_TIMEOUT):
        """Wait for the final response of call (after begin); for an INVITE
        answered 2xx, learn the dialog. Returns the final response."""
        if call.final is None:
            call.final = self.response(call, timeout)
        r = call.final
        if r is not None and call.method == "INVITE" and 200 <= r.status < 300:
            call.to_tag = r.to_tag()
            call.target = contact_uri(r.headers.get("Contact", "")) or call.ruri
            call.route = list(reversed(r.headers.values("Record-Route")))
        return r

    def request(self, method, ruri, to_uri=None, body=b"", headers=(), max_forwards=70,
                timeout=REPLY_TIMEOUT, content_type=None, **cred):
        """begin + finish: the Call with .first and .final."""
        call = self.begin(method, ruri, to_uri, body, headers, max_forwards, timeout, content_type,
                          **cred)
        self.finish(call, timeout)
        return call

    def invite(self, ruri, timeout=REPLY_TIMEOUT, **kw):
        return self.request("INVITE", ruri, body=kw.pop("body", SDP), timeout=timeout, **kw)

    # -- in the dialog --

    def _in_dialog(self, call, method, cseq, branch=None, body=b""):
        lines = ["%s %s SIP/2.0" % (method, call.target),
                 "Via: SIP/2.0/%s %s;branch=%s;rport" % (self.transport, hostport(self.local),
                                                         branch or new_branch())]
        lines += ["Route: %s" % r for r in call.route]
        lines += ["Max-Forwards: 70",
                  "From: <%s>;tag=%s" % (self.from_uri, call.from_tag),
                  "To: <%s>;tag=%s" % (call.to_uri, call.to_tag),
                  "Call-ID: %s" % call.call_id,
                  "CSeq: %d %s" % (cseq, method)]
        if method == "INVITE":
            lines.append("Contact: <%s>" % self.contact_uri)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def ack(self, call):
        """ACK for the 2xx: to the remote target along the route set."""
        return self.send(self._in_dialog(call, "ACK", call.cseq))

    def in_dialog(self, call, method, timeout=REPLY_TIMEOUT, body=b""):
        """A request in the dialog (BYE, re-INVITE, ...) and its final
        response (None on timeout); a re-INVITE's 2xx is ACKed."""
        call.cseq += 1
        branch = new_branch()
        self.send(self._in_dialog(call, method, call.cseq, branch, body))
        sub = Call(method, call.target, call.to_uri, call.call_id, call.from_tag, call.cseq)
        sub.branch = branch
        r = self.response(sub, timeout)
        if r is not None and method == "INVITE" and 200 <= r.status < 300:
            self.ack(call)
        return r

    def bye(self, call, timeout=REPLY_TIMEOUT):
        return self.in_dialog(call, "BYE", timeout)

    def cancel(self, call, timeout=REPLY_TIMEOUT):
        """CANCEL the pending INVITE of call (same Request-URI, branch and
        CSeq number, RFC 3261 §9.1); the response to the CANCEL."""
        lines = ["CANCEL %s SIP/2.0" % call.ruri,
                 "Via: SIP/2.0/%s %s;branch=%s;rport" % (self.transport, hostport(self.local),
                                                         call.branch),
                 "Max-Forwards: 70",
                 "From: <%s>;tag=%s" % (self.from_uri, call.from_tag),
                 "To: <%s>" % call.to_uri,
                 "Call-ID: %s" % call.call_id,
                 "CSeq: %d CANCEL" % call.cseq,
                 "Content-Length: 0"]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.take(self._is_response_to(call, "CANCEL"), timeout)

    def wait_request(self, method, timeout=REPLY_TIMEOUT):
        """The next request of that method sent to this phone (or None)."""
        return self.take(lambda m: not m.is_response and m.method == method, timeout)

    def reply(self, req, status, **kw):
        """Answer a request sipd forwarded to this phone."""
        data = build_response(req, status, **kw)
        self.events.add(self.name, "sent", status, parse_message(data))  # before it leaves
        if self.proto == "udp":
            self.client.send(data, response_dest(req, self.dest))
        else:
            self.client.send(data)
        return data
