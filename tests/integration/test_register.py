#!/usr/bin/env python3
"""test_register.py - the registrar and digest authentication of the real sipd.

    test_register.py PATH/TO/sipd        (prints TAP)

Users are created with the CLI (`sipd user add USER@example.com --password
PW --db sqlite:TMP/sipd.db`); sipd runs with --domain example.com on UDP
and TCP, 127.0.0.1 and ::1, port 0, on that database.

The flows of the source documents (docs: /work/shared/seeds):
  000  REGISTER → 401 → REGISTER with Authorization → 200; refresh; query
       (no Contact); remove all (Contact: *, Expires: 0); a wrong password
       gets a second 401 with a fresh nonce.
  001  qop=auth with nc and cnonce, response = H(HA1:nonce:nc:cnonce:auth:HA2),
       rspauth in Authentication-Info checked.
  002  IMS: compact header forms over IPv6 with an IPv6 Contact, Path and
       Supported: path (MD5 digest instead of AKA): Path echoed,
       P-Associated-URI present.
  003  X-Lite: rport (rport= and received= in the 200's Via), Expires 120,
       Request-URI and To naming sipd by its address.
and the registrar's rules: SHA-256 offered first, then MD5; remove one
binding; `*` only alone with Expires 0 (else 400); 423 with Min-Expires;
expires above the maximum lowered; a bounded number of bindings per AOR;
Call-ID/CSeq ordering; stale nonces (stale=true); nonce-count replay;
unknown user and wrong password indistinguishable; 403 for another's AOR;
a domain not served refused; bindings durable across kill -9; expired
bindings gone.

Timing: nothing depends on a tight delay; waits are polls with generous
timeouts.
"""

import hashlib
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (Skip, Tap, binary_from_argv, expect, expect_response,  # noqa: E402
                          hostport, new_branch, new_tag, poll)
from sip_auth import (DOMAIN, Db, Ua, authorization, bindings, challenges, cli, find_binding,  # noqa: E402
                      parse_challenge, parse_params, pick, env_started,
                      shared_env_runner)

ALL_LISTENERS = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0", "udp:[::1]:0", "tcp:[::1]:0")
MAX_EXPIRES = 3600
DEFAULT_MIN_EXPIRES = 60


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = have_ipv6()
LISTEN = ALL_LISTENERS if IPV6 else ALL_LISTENERS[:2]


class Env:
    """One database with a pool of users and the sipd on it."""

    def __init__(self, binary, users=40):
        self.binary = binary
        self.db = Db()
        self.pool = [("user%02d" % i, "pw-%02d-secret" % i) for i in range(users)]
        self.free = list(self.pool)
        self.sipd = None

    def create_users(self, extra=()):
        how = self.db.import_users(self.binary, self.pool + list(extra))
        return how

    def start(self, settings=None):
        self.sipd = self.db.sipd(self.binary, LISTEN, settings).start()
        return self.sipd

    def user(self):
        """A user no other test has used: (name, password)."""
        return self.free.pop(0)

    def ua(self, proto="udp", family=4, **kw):
        if family == 6 and not IPV6:
            raise Skip("no IPv6 loopback")
        name, pw = self.user()
        return Ua(self.sipd, proto, family, user=name, password=pw, **kw)

    def stop(self):
        if self.sipd:
            self.sipd.stop()

    def remove(self):
        self.stop()
        self.db.remove()


def ok200(r, what):
    return expect_response(r, 200, what)


# ---------------------------------------------------------------------------
# seed 000: the four flows of RFC 3665 §2


def challenge_shape(env, proto):
    """401 to a REGISTER without credentials: SHA-256 then MD5, qop auth,
    opaque, one nonce, the same realm; To gets a tag."""
    with env.ua(proto) as ua:
        r = expect_response(ua.send(ua.build([("<%s>" % ua.contact())], 60)), 401, "first REGISTER")
        chals = challenges(r)
        expect(len(chals) >= 2, "%d WWW-Authenticate lines, expected SHA-256 and MD5" % len(chals), r)
        algs = [c.get("algorithm", "MD5").upper() for c in chals]
        expect(algs[:2] == ["SHA-256", "MD5"], "algorithms offered in order %r" % algs, r)
        for c in chals:
            expect(c["scheme"].lower() == "digest", "scheme %r" % c["scheme"], r)
            expect(c.get("realm") == DOMAIN, "realm=%r, expected %s" % (c.get("realm"), DOMAIN), r)
            expect("auth" in [q.strip() for q in c.get("qop", "").split(",")], "no qop=auth", r)
            expect(c.get("nonce"), "no nonce", r)
            expect("opaque" in c, "no opaque", r)
            expect(c.get("stale", "false").lower() == "false", "stale on a first challenge", r)
        expect(len({c["nonce"] for c in chals}) == 1, "the lines carry different nonces", r)
        expect(r.to_tag(), "401 without To tag", r)
        expect(r["Call-ID"] == ua.call_id, "Call-ID not echoed", r)


def seed000_register(env, proto):
    """F1 REGISTER → F2 401 → F3 REGISTER with Authorization → F4 200 with
    the binding and its expires."""
    with env.ua(proto) as ua:
        c = ua.contact()
        r = expect_response(ua.send(ua.build(["<%s>" % c], 3600)), 401, "F1 → F2")
        ua.chal = pick(challenges(r), "MD5")
        expect(ua.chal, "no MD5 challenge", r)
        ua.nc = 0
        r = ok200(ua.send(ua.build(["<%s>" % c], 3600, auth=ua.credentials())), "F3 → F4")
        expect(r.cseq() == (2, "REGISTER"), "CSeq %r" % (r.cseq(),), r)
        b = bindings(r)
        expect(len(b) == 1, "bindings in the 200: %r" % b, r)
        exp = find_binding(r, c)
        expect(isinstance(exp, int) and 0 < exp <= 3600, "expires=%r" % exp, r)
        expect(r.to_tag(), "200 without To tag", r)
        ua.check_rspauth(r)


def seed000_refresh(env, proto):
    """Updating a registration: same Call-ID, higher CSeq, new expires:
    one binding, the new expires."""
    with env.ua(proto) as ua:
        c = ua.contact()
        r = ok200(ua.register(["<%s>" % c], 3600), "register")
        expect(find_binding(r, c) > 1800, "expires %r" % find_binding(r, c), r)
        r = ok200(ua.register(["<%s>;expires=300" % c]), "refresh")
        b = bindings(r)
        expect(len(b) == 1, "refresh added a binding: %r" % b, r)
        exp = find_binding(r, c)
        expect(isinstance(exp, int) and 250 <= exp <= 300, "refreshed expires=%r, sent 300" % exp, r)


def seed000_query(env, proto):
    """Two bindings, then a REGISTER without Contact: 200 listing both,
    nothing changed."""
    with env.ua(proto) as ua:
        c1, c2 = ua.contact("-a"), ua.contact("-b")
        ok200(ua.register(["<%s>" % c1], 600), "register c1")
        ok200(ua.register(["<%s>;expires=900" % c2]), "register c2")
        r = ok200(ua.register(None), "query")
        b = bindings(r)
        expect(len(b) == 2, "query lists %r" % b, r)
        e1, e2 = find_binding(r, c1), find_binding(r, c2)
        expect(500 <= e1 <= 600 and 800 <= e2 <= 900, "expires %r %r" % (e1, e2), r)
        # a query from another Call-ID (another device of the same user) sees the same
        with Ua(env.sipd, proto, user=ua.user, password=ua.password) as other:
            r = ok200(other.register(None), "query from a second device")
            expect(len(bindings(r)) == 2, "second device sees %r" % bindings(r), r)


def seed000_remove_all(env, proto):
    """Contact: *, Expires: 0 removes every binding; 200 without Contact."""
    with env.ua(proto) as ua:
        ok200(ua.register(["<%s>" % ua.contact("-a"), "<%s>" % ua.contact("-b")], 600), "register")
        r = ok200(ua.register(["*"], 0), "remove all")
        expect(not bindings(r), "bindings after Contact: *: %r" % bindings(r), r)
        r = ok200(ua.register(None), "query")
        expect(not bindings(r), "query after removal: %r" % bindings(r), r)


def seed000_wrong_password(env, proto):
    """A wrong password: 401 again, with a fresh nonce (the reader comments
    of seed 000); then the right one works."""
    with env.ua(proto) as ua:
        c = "<%s>" % ua.contact()
        r1 = expect_response(ua.send(ua.build([c], 60 * 10)), 401, "F1")
        ua.chal, ua.nc = pick(challenges(r1), "MD5"), 0
        r2 = expect_response(ua.send(ua.build([c], 600, auth=ua.credentials(password="wrong"))), 401,
                             "wrong password")
        ch2 = pick(challenges(r2), "MD5")
        expect(ch2 and ch2["nonce"] != ua.chal["nonce"], "second 401 reuses the nonce", r2)
        expect(ch2.get("stale", "false").lower() == "false", "wrong password answered stale=true", r2)
        ua.chal, ua.nc = ch2, 0
        r3 = expect_response(ua.send(ua.build([c], 600, auth=ua.credentials(password="wrong2"))), 401,
                             "wrong password again")
        ch3 = pick(challenges(r3), "MD5")
        expect(ch3 and ch3["nonce"] != ch2["nonce"], "third 401 reuses the nonce", r3)
        r = ok200(ua.register([c], 600), "then the right password")
        expect(len(bindings(r)) == 1, "bindings %r" % bindings(r), r)


# ---------------------------------------------------------------------------
# seed 001 and SHA-256


def seed001_qop(env, proto):
    """The FreeSWITCH example's exchange with qop=auth, nc and cnonce,
    computed by hand; rspauth checked."""
    with env.ua(proto) as ua:
        c = '<%s>;methods="INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER"' \
            % ua.contact()
        r = expect_response(ua.send(ua.build([c], 3600)), 401, "first REGISTER")
        chal = pick(challenges(r), "MD5")
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
        realm, nonce, nc, cnonce = chal["realm"], chal["nonce"], "00000001", "12660455546344082314666316435946"
        HA1 = md5("%s:%s:%s" % (ua.user, realm, ua.password))
        HA2 = md5("REGISTER:%s" % ua.ruri)
        resp = md5("%s:%s:%s:%s:auth:%s" % (HA1, nonce, nc, cnonce, HA2))
        auth = ('Digest username="%s", realm="%s", qop=auth, algorithm=MD5, uri="%s", nonce="%s", '
                'nc=%s, cnonce="%s", response="%s", opaque="%s"'
                % (ua.user, realm, ua.ruri, nonce, nc, cnonce, resp, chal.get("opaque", "")))
        r = ok200(ua.send(ua.build([c], 3600, auth=auth)), "REGISTER with Authorization")
        info = r.headers.get("Authentication-Info")
        expect(info, "no Authentication-Info", r)
        p = parse_params(info)
        want = md5("%s:%s:%s:%s:auth:%s" % (HA1, nonce, nc, cnonce, md5(":" + ua.ruri)))
        expect(p.get("rspauth") == want, "rspauth=%r, expected %s" % (p.get("rspauth"), want), r)
        expect(p.get("qop") == "auth" and p.get("cnonce") == cnonce and p.get("nc") == nc,
               "Authentication-Info %r" % info, r)
        expect(len(bindings(r)) == 1, "bindings %r" % bindings(r), r)


def sha256_register(env, proto):
    """SHA-256 digest (RFC 8760), rspauth with SHA-256."""
    with env.ua(proto, alg="SHA-256") as ua:
        c = ua.contact()
        r = ok200(ua.register(["<%s>" % c], 600), "SHA-256 REGISTER")
        ua.check_rspauth(r, "SHA-256")
        expect(len(bindings(r)) == 1, "bindings %r" % bindings(r), r)


# ---------------------------------------------------------------------------
# seed 002: IMS style over IPv6


def seed002_ims_ipv6(env, proto):
    with env.ua(proto, family=6) as ua:
        c = "sip:%s@%s" % (ua.user, hostport(ua.local))
        headers = [("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=3114800102FFFFFFF"),
                   ("Path", "<sip:term@pcscf.example.net;lr>"),
                   ("k", "path"),
                   ("Allow", "INVITE,BYE,CANCEL,ACK,NOTIFY,UPDATE,REFER,PRACK,INFO,MESSAGE,OPTIONS")]
        ua.cseq = 575513372
        r = ua.register(["<%s>" % c], 7200, headers=headers, compact=True)
        r = ok200(r, "compact REGISTER over IPv6")
        exp = find_binding(r, c)
        expect(isinstance(exp, int) and 0 < exp <= MAX_EXPIRES, "expires=%r (asked 7200)" % exp, r)
        ua.check_rspauth(r)
        pau = r.headers.values("P-Associated-URI")
        expect(pau, "no P-Associated-URI", r)
        expect(any(ua.aor.lower() in v.lower() for v in pau), "P-Associated-URI %r lacks %s"
               % (pau, ua.aor), r)
        paths = r.headers.values("Path")
        expect(paths and "pcscf.example.net" in paths[0], "Path not echoed: %r" % paths, r)
        expect(r.cseq() == (575513374, "REGISTER"), "CSeq %r" % (r.cseq(),), r)


# ---------------------------------------------------------------------------
# seed 003: X-Lite


def seed003_xlite(env, proto):
    """X-Lite: Request-URI and To name sipd by address and port (DESIGN §4:
    the default domain), Via with rport, Contact with rinstance, Expires
    120: 200 with rport= and received= and expires=120."""
    host, port = env.sipd.addr(proto)
    ruri = "sip:%s:%d" % (host, port)
    with env.ua(proto, ruri=ruri) as ua:
        ua.aor = "sip:%s@%s:%d" % (ua.user, host, port)
        c = "sip:%s@%s;rinstance=82948d058fa12715" % (ua.user, hostport(ua.local))
        headers = [("Allow", "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO"),
                   ("User-Agent", "X-Lite 4 release 4.1 stamp 63214")]
        r = ok200(ua.register(["<%s>" % c], 120, headers=headers), "X-Lite REGISTER")
        via = r.top_via()
        if proto == "udp":
            expect(via["params"].get("rport") == str(ua.local[1]), "rport=%r" % via["params"].get("rport"), r)
            expect(via["params"].get("received") == ua.local[0], "received=%r"
                   % via["params"].get("received"), r)
        exp = find_binding(r, c)
        expect(exp == 120 or (isinstance(exp, int) and 110 <= exp <= 120), "expires=%r, asked 120" % exp, r)
        # the same user through the domain name sees the binding: same AOR
        with Ua(env.sipd, proto, user=ua.user, password=ua.password) as other:
            r = ok200(other.register(None), "query via sip:%s" % DOMAIN)
            expect(len(bindings(r)) == 1, "sip:%s:%d and sip:%s are not the same AOR: %r"
                   % (host, port, DOMAIN, bindings(r)), r)


# ---------------------------------------------------------------------------
# registrar rules


def remove_one(env, proto):
    with env.ua(proto) as ua:
        c1, c2 = ua.contact("-a"), ua.contact("-b")
        ok200(ua.register(["<%s>" % c1, "<%s>" % c2], 600), "register two")
        r = ok200(ua.register(["<%s>;expires=0" % c1]), "remove one")
        b = bindings(r)
        expect(len(b) == 1, "after removing one: %r" % b, r)
        find_binding(r, c2)


def star_rules(env, proto):
    """'*' with Expires other than 0, without Expires, or with other
    Contacts: 400; bindings untouched."""
    with env.ua(proto) as ua:
        c = ua.contact()
        ok200(ua.register(["<%s>" % c], 600), "register")
        for contacts, expires, what in ((["*"], 60, "* with Expires 60"),
                                        (["*"], None, "* without Expires"),
                                        (["*", "<%s>" % c], 0, "* with another Contact"),
                                        (["*;expires=0"], 60, "*;expires=0 with Expires 60")):
            r = expect_response(ua.register(contacts, expires), 400, what)
        r = ok200(ua.register(None), "query")
        expect(len(bindings(r)) == 1, "binding changed by a refused *: %r" % bindings(r), r)


def too_brief_423(env, proto):
    with env.ua(proto) as ua:
        c = ua.contact()
        r = expect_response(ua.register(["<%s>" % c], DEFAULT_MIN_EXPIRES // 2), 423, "Expires 30")
        me = r.headers.get("Min-Expires")
        expect(me is not None and me.strip() == str(DEFAULT_MIN_EXPIRES), "Min-Expires=%r" % me, r)
        r = expect_response(ua.register(["<%s>;expires=1" % c]), 423, "expires=1")
        r = ok200(ua.register(None), "query")
        expect(not bindings(r), "a 423 left a binding: %r" % bindings(r), r)
        r = ok200(ua.register(["<%s>" % c], DEFAULT_MIN_EXPIRES), "Expires = Min-Expires")


def max_expires(env, proto):
    with env.ua(proto) as ua:
        c1, c2 = ua.contact("-a"), ua.contact("-b")
        r = ok200(ua.register(["<%s>" % c1, "<%s>;expires=100000" % c2], 7200), "long expires")
        for c in (c1, c2):
            e = find_binding(r, c)
            expect(isinstance(e, int) and 0 < e <= MAX_EXPIRES, "expires=%r for %s" % (e, c), r)


def max_bindings(env, proto):
    """Distinct Contacts one REGISTER each: at some point one is refused
    (not 401, not 200), and the AOR then holds exactly the accepted ones."""
    with env.ua(proto) as ua:
        accepted = 0
        refused = None
        for i in range(200):
            r = ua.register(["<%s>" % ua.contact("-%d" % i)], 600, reuse=True)
            expect(r is not None, "no answer to REGISTER %d" % i)
            if r.status == 200:
                accepted += 1
                expect(len(bindings(r)) == accepted, "200 #%d lists %d bindings" % (i, len(bindings(r))), r)
                continue
            refused = r
            break
        expect(refused is not None, "200 bindings accepted for one AOR, no limit")
        expect(400 <= refused.status < 600 and refused.status not in (401, 407),
               "binding %d refused with %s" % (accepted + 1, refused.status), refused)
        r = ok200(ua.register(None, reuse=True), "query")
        expect(len(bindings(r)) == accepted, "%d bindings after the refusal, %d accepted"
               % (len(bindings(r)), accepted), r)
        # refreshing an existing one still works at the limit
        r = ok200(ua.register(["<%s>" % ua.contact("-0")], 300, reuse=True), "refresh at the limit")
        return accepted


def cseq_order(env, proto):
    """Same Call-ID, CSeq not higher than the last accepted one: 400/500 and
    the binding untouched (RFC 3261 §10.3 step 7)."""
    with env.ua(proto) as ua:
        c = ua.contact()
        r = ok200(ua.register(["<%s>" % c], 900), "register")
        last = ua.cseq
        for cseq in (last, last - 1):
            auth = ua.credentials()
            r = ua.send(ua.build(["<%s>" % c], 0, auth=auth, cseq=cseq))
            expect_response(r, {400, 500}, "CSeq %d after %d" % (cseq, last))
        with Ua(env.sipd, proto, user=ua.user, password=ua.password) as other:
            r = ok200(other.register(None), "query")
            e = find_binding(r, c)
            expect(isinstance(e, int) and e > 800, "binding touched by the out-of-order REGISTER: %r"
                   % e, r)


def nc_replay(env, proto):
    """A nonce-count not higher than one already accepted is refused (401);
    a higher one is taken."""
    with env.ua(proto) as ua:
        c = ua.contact()
        ok200(ua.register(["<%s>" % c], 600), "register")
        used = ua.nc
        auth = ua.credentials(nc=used)
        r = expect_response(ua.send(ua.build(["<%s>" % c], 600, auth=auth)), 401, "nc replayed")
        r = ok200(ua.send(ua.build(["<%s>" % c], 600, auth=ua.credentials(nc=used + 1))), "nc+1")
        # the very same request bytes again, on a new branch, are a replay too
        auth = ua.credentials(nc=used + 1)
        r = expect_response(ua.send(ua.build(["<%s>" % c], 600, auth=auth)), 401, "nc replayed again")


def _normalise_401(r):
    out = []
    for name, canon, value in r.headers.items:
        if canon in ("call-id", "via", "from", "to", "cseq", "date"):
            continue
        if canon == "www-authenticate":
            value = re.sub(r'nonce="[^"]*"', 'nonce="N"', value)
        out.append((canon, value))
    return r.status, r.reason, out


def unknown_vs_wrong(env, proto):
    """Unknown user and wrong password: 401s that differ only in the nonce;
    the same for the first, credential-less REGISTER."""
    name, pw = env.user()
    answers = {}
    for who, user, password in (("wrong password", name, "not-" + pw),
                                ("unknown user", "nobody-" + new_tag(), "whatever")):
        with Ua(env.sipd, proto, user=user, password=password) as ua:
            c = ["<%s>" % ua.contact()]
            r0 = expect_response(ua.send(ua.build(c, 600)), 401, who + ": first")
            ua.chal, ua.nc = pick(challenges(r0), "MD5"), 0
            r1 = expect_response(ua.send(ua.build(c, 600, auth=ua.credentials())), 401, who)
            answers[who] = (r0, r1)
    a, b = answers["wrong password"], answers["unknown user"]
    for i, what in ((0, "first 401"), (1, "401 to credentials")):
        na, nb = _normalise_401(a[i]), _normalise_401(b[i])
        expect(na == nb, "%s differs between a wrong password and an unknown user:\n%r\n%r"
               % (what, na, nb), a[i], b[i])


def other_aor_403(env, proto):
    """Authenticated as one user, registering another's AOR: 403."""
    victim, _ = env.user()
    with env.ua(proto, aor_user=victim) as ua:
        r = expect_response(ua.register(["<%s>" % ua.contact()], 600), 403, "REGISTER for " + victim)
    with Ua(env.sipd, proto, user=victim, password=dict(env.pool)[victim]) as v:
        r = ok200(v.register(None), "victim's query")
        expect(not bindings(r), "a binding was added to another's AOR: %r" % bindings(r), r)


def foreign_domain(env, proto):
    """A REGISTER for a domain sipd does not serve: 403 or 404 (after
    authentication if sipd challenges first)."""
    with env.ua(proto, aor_domain="not-served.example.org") as ua:
        r = ua.register(["<%s>" % ua.contact()], 600)
        expect_response(r, {403, 404}, "REGISTER sip:not-served.example.org")


def unauthenticated_no_binding(env, proto):
    """A 401 never creates a binding."""
    with env.ua(proto) as ua:
        c = ua.contact()
        expect_response(ua.send(ua.build(["<%s>" % c], 600)), 401, "no credentials")
        r = ok200(ua.register(None), "query")
        expect(not bindings(r), "binding without authentication: %r" % bindings(r), r)


def seed004_default_expires(env, proto):
    """Seed 004: REGISTER without Expires (header or parameter), 401, the
    same with MD5 credentials, 200 whose Contact carries expires=3600."""
    with env.ua(proto) as ua:
        c = ua.contact()
        r = ok200(ua.register(["<%s>" % c]), "REGISTER without Expires")
        e = find_binding(r, c)
        expect(isinstance(e, int) and 3590 <= e <= 3600, "expires=%r, expected the default 3600" % e, r)


def failure_logged(env, proto):
    """A failed authentication leaves a log line with the user, the source
    address and the reason."""
    with env.ua(proto) as ua:
        c = "<%s>" % ua.contact()
        ua.register([c], 600, password="not-the-password")
        want = "user '%s' from %s:127.0.0.1:%d: wrong password" % (ua.user, proto, ua.local[1])

        def logged():
            return want in env.sipd._read_stderr()
        expect(poll(logged, 5, 0.1), "no log line with %r\n%s" % (want, env.sipd.stderr_tail(5)))


def source_kept(env, proto):
    """A phone behind NAT: a private Contact, and sipd keeps where the
    REGISTER really came from (reg list shows it)."""
    with env.ua(proto) as ua:
        c = "sip:%s@10.11.12.13:5060" % ua.user
        ok200(ua.register(["<%s>" % c], 600), "REGISTER with a private Contact")
        line = [ln for ln in env.db.reg_list(env.binary).splitlines() if c in ln]
        expect(len(line) == 1, "reg list lines for %s: %r" % (c, line))
        want = "source=%s:127.0.0.1:%d" % (proto, ua.local[1])
        expect(want in line[0], "reg list line lacks %s: %r" % (want, line[0]))


# ---------------------------------------------------------------------------
# tests with their own sipd


def live_user_changes(binary):
    """Users added and deleted with the CLI while sipd runs take effect
    without a restart."""
    env = Env(binary, users=1)
    try:
        env.create_users()
        env.start()
        env.db.add_user(binary, "latecomer", "late-secret")

        def registered():
            with Ua(env.sipd, "udp", user="latecomer", password="late-secret") as ua:
                r = ua.register(None)
                return r is not None and r.status == 200 and r
        expect(poll(registered, 10, 0.3), "a user added while sipd runs cannot register after 10 s")
        cli(binary, "user", "del", "latecomer@" + DOMAIN, "--db", env.db.url)

        def refused():
            with Ua(env.sipd, "udp", user="latecomer", password="late-secret") as ua:
                r = ua.register(None)
                return r is not None and r.status == 401 and r
        expect(poll(refused, 10, 0.3), "a deleted user still registers after 10 s")
    finally:
        env.remove()


def first_start(binary):
    """An empty database: sipd creates 100 and 101, prints their passwords,
    the domain and where to register, and they can register; a second start
    creates nobody."""
    db = Db()
    try:
        sipd = db.sipd(binary, ("udp:127.0.0.1:0",)).start()
        try:
            text = "\n".join(sipd.stdout_lines)
            users = dict(re.findall(r"user (\d+)\s+domain %s\s+password (\S+)" % re.escape(DOMAIN), text))
            expect(sorted(users) == ["100", "101"], "first start printed users %r:\n%s" % (users, text))
            host, port = sipd.addr("udp")
            expect("%s:%d" % (host, port) in text, "no address to register to in:\n" + text)
            for user, password in sorted(users.items()):
                with Ua(sipd, "udp", user=user, password=password) as ua:
                    ok200(ua.register(["<%s>" % ua.contact()], 600), "REGISTER as %s" % user)
        finally:
            sipd.stop()
        sipd = db.sipd(binary, ("udp:127.0.0.1:0",)).start()
        try:
            text = "\n".join(sipd.stdout_lines)
            expect("password" not in text, "second start printed passwords:\n" + text)
        finally:
            sipd.stop()
        listed = cli(binary, "user", "list", "--db", db.url)[1].split()
        expect(listed == ["100@" + DOMAIN, "101@" + DOMAIN], "users after two starts: %r" % listed)
    finally:
        db.remove()



def durable(binary, proto):
    """kill -9 right after the 200: the binding is in the database (reg
    list) and a restarted sipd lists it."""
    env = Env(binary, users=2)
    try:
        env.create_users()
        env.start()
        with env.ua(proto) as ua:
            c = ua.contact()
            ok200(ua.register(["<%s>" % c], 3600), "register")
            status = env.sipd.kill9()
            expect(status == -9, "sipd exit status %s after SIGKILL" % status)
            user, pw = ua.user, ua.password
        out = env.db.reg_list(binary)
        expect(c.lower() in out.lower(), "reg list after kill -9 lacks %s:\n%s" % (c, out))
        expect(ua.user in out, "reg list does not name the user %s:\n%s" % (ua.user, out))
        env.start()
        with Ua(env.sipd, proto, user=user, password=pw) as ua2:
            r = ok200(ua2.register(None), "query after restart")
            e = find_binding(r, c)
            expect(isinstance(e, int) and e > 3000, "expires after restart %r" % e, r)
    finally:
        env.remove()


def expiry(binary):
    """registrar.min_expires=1s, a binding with expires=2: gone (query and
    reg list) within a generous time. Min-Expires follows the setting."""
    env = Env(binary, users=2)
    try:
        env.create_users()
        env.start({"registrar.min_expires": "1s"})
        with env.ua("udp") as ua:
            c = ua.contact()
            r = ok200(ua.register(["<%s>" % c], 2), "register expires=2")
            e = find_binding(r, c)
            expect(isinstance(e, int) and 1 <= e <= 2, "expires=%r" % e, r)

            def gone():
                r = ua.register(None, reuse=True)
                return r is not None and r.status == 200 and not bindings(r) and r
            r = poll(gone, 20, 0.3)
            expect(r, "binding still there 20 s after expires=2", ua.history[-1][1])
            out = env.db.reg_list(binary)
            expect(c.lower() not in out.lower(), "reg list still shows the expired binding:\n" + out)
            r = expect_response(ua.register(["<%s>;expires=0" % ua.contact("-x")]), 200,
                                "expires=0 of an unknown contact")
    finally:
        env.remove()


def min_expires_setting(binary):
    env = Env(binary, users=1)
    try:
        env.create_users()
        env.start({"registrar.min_expires": "120"})
        with env.ua("udp") as ua:
            r = expect_response(ua.register(["<%s>" % ua.contact()], 90), 423, "Expires 90")
            expect((r["Min-Expires"] or "").strip() == "120", "Min-Expires=%r" % r["Min-Expires"], r)
    finally:
        env.remove()


def ip_literal_domain(binary):
    """A domain configured as an IP address is served by that address in
    any spelling (192.0.2.7 = 192.000.002.007), and a name that is not it
    is still refused."""
    env = Env(binary, users=1)
    try:
        (name, pw), = env.pool
        env.db.import_users(binary, env.pool, domain="192.0.2.7")
        env.sipd = env.db.sipd(binary, LISTEN, domains=("192.0.2.7",)).start()
        with Ua(env.sipd, "udp", user=name, password=pw, domain="192.000.002.007") as ua:
            r = ok200(ua.register(["<%s>" % ua.contact()], 600), "REGISTER sip:192.000.002.007")
            expect(find_binding(r, ua.contact()) is not None, "no binding in the 200", r)
        with Ua(env.sipd, "udp", user=name, password=pw, domain="192.0.2.8") as ua:
            expect_response(ua.register(["<%s>" % ua.contact()], 600), {403, 404},
                            "REGISTER sip:192.0.2.8")
    finally:
        env.remove()


def stale_nonce(binary, proto):
    """auth.nonce_lifetime=2s: credentials on an old nonce get 401 with
    stale=true; answering that challenge works."""
    env = Env(binary, users=1)
    try:
        env.create_users()
        env.start({"auth.nonce_lifetime": "2s"})
        with env.ua(proto) as ua:
            c = "<%s>" % ua.contact()
            ok200(ua.register([c], 600), "register")
            time.sleep(2.2)

            def stale():
                r = ua.send(ua.build([c], 600, auth=ua.credentials()))
                if r is not None and r.status == 200:
                    return None  # clock granularity: not stale yet
                return r or "no answer"
            r = poll(stale, 10, 0.5)
            expect(r and r != "no answer", "old nonce accepted for 12 s with a 2 s lifetime")
            expect_response(r, 401, "old nonce")
            ch = pick(challenges(r), "MD5")
            expect(ch and ch.get("stale", "").lower() == "true", "no stale=true", r)
            ua.chal, ua.nc = ch, 0
            ok200(ua.send(ua.build([c], 600, auth=ua.credentials())), "answer to the stale challenge")
    finally:
        env.remove()


def main():
    binary = binary_from_argv()
    tap = Tap()
    env = Env(binary, users=60)
    try:
        if not env_started(tap, env, lambda: (env.create_users(), env.start())):
            return tap.finish()

        on_env = shared_env_runner(env)

        tests = []
        for proto in ("udp", "tcp"):
            P = proto.upper()
            tests += [
                ("%s: 401 offers SHA-256 then MD5, qop=auth, opaque" % P, on_env(challenge_shape, proto)),
                ("%s: seed 000 REGISTER → 401 → REGISTER → 200 with binding" % P,
                 on_env(seed000_register, proto)),
                ("%s: seed 000 refresh updates expires, one binding" % P, on_env(seed000_refresh, proto)),
                ("%s: seed 000 query without Contact lists bindings" % P, on_env(seed000_query, proto)),
                ("%s: seed 000 Contact: * Expires: 0 removes all" % P, on_env(seed000_remove_all, proto)),
                ("%s: seed 000 wrong password → 401 with a fresh nonce" % P,
                 on_env(seed000_wrong_password, proto)),
                ("%s: seed 001 qop=auth by hand, rspauth checked" % P, on_env(seed001_qop, proto)),
                ("%s: SHA-256 digest, rspauth checked" % P, on_env(sha256_register, proto)),
                ("%s: seed 002 compact form over IPv6, Path echoed, P-Associated-URI" % P,
                 on_env(seed002_ims_ipv6, proto)),
                ("%s: seed 003 X-Lite, rport/received, Expires 120, sip:ADDR:PORT" % P,
                 on_env(seed003_xlite, proto)),
                ("%s: expires=0 removes one binding" % P, on_env(remove_one, proto)),
                ("%s: * with Expires ≠ 0 or other Contacts → 400" % P, on_env(star_rules, proto)),
                ("%s: Expires below 60 → 423 Min-Expires: 60" % P, on_env(too_brief_423, proto)),
                ("%s: expires above 3600 lowered" % P, on_env(max_expires, proto)),
                ("%s: same Call-ID, CSeq not higher → 400/500, binding kept" % P, on_env(cseq_order, proto)),
                ("%s: nonce-count replay → 401" % P, on_env(nc_replay, proto)),
                ("%s: unknown user and wrong password indistinguishable" % P,
                 on_env(unknown_vs_wrong, proto)),
                ("%s: another user's AOR → 403" % P, on_env(other_aor_403, proto)),
                ("%s: domain not served → 403/404" % P, on_env(foreign_domain, proto)),
                ("%s: 401 creates no binding" % P, on_env(unauthenticated_no_binding, proto)),
                ("%s: seed 004 no Expires → expires=3600" % P, on_env(seed004_default_expires, proto)),
                ("%s: failed authentication logged with user, source, reason" % P,
                 on_env(failure_logged, proto)),
                ("%s: source address and transport of a binding kept (NAT)" % P,
                 on_env(source_kept, proto)),
            ]
        tests.append(("UDP: bindings per AOR are bounded", on_env(max_bindings, "udp")))
        for name, fn in tests:
            tap.run(name, fn)
    finally:
        env.remove()
    for proto in ("udp", "tcp"):
        tap.run("%s: binding survives kill -9 right after the 200" % proto.upper(), durable, binary, proto)
    tap.run("registrar.min_expires=1s: expires=2 binding expires", expiry, binary)
    tap.run("user add/del while sipd runs take effect without a restart", live_user_changes, binary)
    tap.run("first start: users 100 and 101 created, printed, able to register", first_start, binary)
    tap.run("registrar.min_expires=120: 423 with Min-Expires: 120", min_expires_setting, binary)
    tap.run("a domain written as an IP address, in another spelling", ip_literal_domain, binary)
    for proto in ("udp", "tcp"):
        tap.run("%s: auth.nonce_lifetime=2s: old nonce → 401 stale=true" % proto.upper(),
                stale_nonce, binary, proto)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
