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
"""

import hashlib
import os
import re
import subprocess
import tempfile
import shutil

from sipd_harness import (REPLY_TIMEOUT, Sipd, TcpClient, UdpClient, expect, hostport,  # noqa: F401
                          new_branch, new_call_id, new_tag, parse_message)

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


class Ua:
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

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
