#!/usr/bin/env python3
"""test_transport.py - transport and transaction behaviour of the real sipd.

    test_transport.py PATH/TO/sipd        (prints TAP)

Starts sipd on UDP and TCP, 127.0.0.1 and ::1, port 0, and talks SIP to it:
OPTIONS and the Via rules of RFC 3261 §18.2.1 / RFC 3581; TCP framing
(split at every byte, pipelining, bodies holding CRLFCRLF), RFC 5626 CRLF
keep-alive, the limits (size, message time, idle time, connections per
IP); IPv4 datagrams' don't-fragment and IP ID, and fragments above the MTU
(in a network namespace of the test's own, with a small loopback MTU); transaction behaviour (retransmitted requests answered from the
stored response, INVITE final responses retransmitted over UDP until the
ACK, CANCEL with no transaction); and the statuses the core picks (400
with the problem in the reason phrase, 413, 416, 420, 481, 483, 501,
505). Tests that need other limits start their own sipd. After each test
on the shared sipd, an OPTIONS ping must still be answered.

Timing: never a fixed wait for something that should happen (poll with a
timeout); "nothing arrives" is checked over QUIET_TIME.
"""

import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (QUIET_TIME, REPLY_TIMEOUT, Sipd, Skip, Tap, TcpClient,  # noqa: E402
                          UdpClient, binary_from_argv, build_ack, build_request, expect,
                          expect_response, new_branch, new_call_id, new_tag, parse_message,
                          parse_via, poll, uri_for)

T1 = "50ms"  # fast timers: an unacknowledged INVITE final repeats after 50 ms
ALL_LISTENERS = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0", "udp:[::1]:0", "tcp:[::1]:0")


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = have_ipv6()


class Shared:
    """The sipd most tests share; restarted if a test killed it."""

    def __init__(self, binary):
        self.binary = binary
        self.sipd = None

    def get(self):
        if self.sipd is None or not self.sipd.alive():
            if self.sipd is not None:
                self.sipd.stop()
            listen = ALL_LISTENERS if IPV6 else ALL_LISTENERS[:2]
            self.sipd = Sipd(self.binary, listen=listen, settings={"timers.t1": T1}).start()
        return self.sipd

    def stop(self):
        if self.sipd is not None:
            self.sipd.stop()


def client_for(proto, family, dest):
    return UdpClient(family) if proto == "udp" else TcpClient(dest)


def send(c, data, dest):
    if isinstance(c, UdpClient):
        c.send(data, dest)
    else:
        c.send(data)


# ---------------------------------------------------------------------------
# OPTIONS and Via


def options_basic(s, proto, family):
    if family == 6 and not IPV6:
        raise Skip("no IPv6 loopback")
    dest = s.addr(proto, family)
    transport = proto.upper()
    with client_for(proto, family, dest) as c:
        branch, call_id, tag = new_branch(), new_call_id(), new_tag()
        req = build_request("OPTIONS", uri_for(dest), c.local, transport, branch=branch,
                            call_id=call_id, from_tag=tag, cseq=4711)
        send(c, req, dest)
        r = expect_response(c.recv_final(), 200, "OPTIONS")
        expect(r.version == "SIP/2.0", "version %r" % r.version, r)
        for name in ("Allow", "Accept", "Supported", "Content-Length"):
            expect(name in r.headers, "no %s header" % name, r)
        allow = {m.strip().upper() for m in r.headers.values("Allow")}
        for m in ("OPTIONS", "INVITE", "ACK", "CANCEL"):
            expect(m in allow, "Allow lacks %s" % m, r)
        expect(r["Call-ID"] == call_id, "Call-ID not echoed", r)
        expect(r.cseq() == (4711, "OPTIONS"), "CSeq not echoed", r)
        expect(r.from_tag() == tag, "From tag not echoed", r)
        expect(r.to_tag(), "To has no tag", r)
        vias = r.headers.values("Via")
        expect(len(vias) == 1, "%d Via values, sent 1" % len(vias), r)
        via = parse_via(vias[0])
        expect(via is not None, "unparseable Via", r)
        expect(via["params"].get("branch") == branch, "branch not echoed", r)
        # RFC 3581 §4: a bare rport is filled in, and received= added
        expect(via["params"].get("rport") == str(c.local[1]),
               "rport=%r, expected %d" % (via["params"].get("rport"), c.local[1]), r)
        expect(via["params"].get("received") == c.local[0],
               "received=%r, expected %s" % (via["params"].get("received"), c.local[0]), r)
        expect(via["transport"] == transport, "Via transport changed", r)
        expect(r["Content-Length"] == str(len(r.body)), "Content-Length does not match the body", r)


def via_name_host_no_rport(s):
    """Sent-by is a name that is not our address, no rport: received= is
    added (RFC 3261 §18.2.1), rport is not; over UDP the response goes to the
    source IP at the sent-by port, which is our port."""
    dest = s.addr("udp")
    with UdpClient() as c:
        via = "SIP/2.0/UDP client.sipd-test.invalid:%d;branch=%s" % (c.local[1], new_branch())
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, via=via), dest),
                            200)
        v = r.top_via()
        expect(v["params"].get("received") == "127.0.0.1", "received= missing", r)
        expect("rport" not in v["params"], "rport added though not asked", r)


def via_same_host_no_rport(s):
    """Sent-by is exactly the source IP and port, no rport: nothing added."""
    dest = s.addr("udp")
    with UdpClient() as c:
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, rport=False),
                                      dest), 200)
        v = r.top_via()
        expect("received" not in v["params"], "received= added though sent-by is the source", r)
        expect("rport" not in v["params"], "rport added though not asked", r)


def via_multiple_echoed(s):
    """Every Via comes back, in order (RFC 3261 §8.2.6.2)."""
    dest = s.addr("udp")
    with UdpClient() as c:
        b = new_branch()
        top = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (c.local[1], b)
        req = build_request("OPTIONS", uri_for(dest), c.local, via=top,
                            headers=[("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-lower1"),
                                     ("Via", "SIP/2.0/TCP [2001:db8::1];branch=z9hG4bK-lower2")])
        r = expect_response(c.request(req, dest), 200)
        vias = r.headers.values("Via")
        expect(len(vias) == 3, "%d Via values, sent 3" % len(vias), r)
        expect("z9hG4bK-lower1" in vias[1] and "z9hG4bK-lower2" in vias[2],
               "lower Vias not echoed in order", r)


def tcp_reply_on_connection(s):
    """Over TCP the response comes back on the request's connection even when
    the Via names another host and port (RFC 3261 §18.2.2)."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        via = "SIP/2.0/TCP 192.0.2.77:5099;branch=%s" % new_branch()
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, "TCP",
                                                    via=via)), 200)
        expect(r.top_via()["params"].get("received") == "127.0.0.1", "received= missing", r)


# ---------------------------------------------------------------------------
# statuses chosen by the core


def max_forwards_zero(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        # not sipd itself: 483
        r = c.request(build_request("OPTIONS", "sip:nobody@sipd-test.invalid", c.local,
                                    max_forwards=0), dest)
        expect_response(r, 483, "OPTIONS to another host, Max-Forwards 0")
        r = c.request(build_request("MESSAGE", uri_for(dest), c.local, max_forwards=0,
                                    headers=[("Content-Type", "text/plain")], body="hi"), dest)
        expect_response(r, 483, "MESSAGE to sipd, Max-Forwards 0")
        # OPTIONS to sipd itself: answered (RFC 3261 §16.3 step 3)
        r = c.request(build_request("OPTIONS", uri_for(dest), c.local, max_forwards=0), dest)
        expect_response(r, 200, "OPTIONS to sipd, Max-Forwards 0")


def unknown_method_501(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        r = expect_response(c.request(build_request("FROBNICATE", uri_for(dest), c.local), dest), 501,
                            "unknown method")
        allow = {m.strip().upper() for m in r.headers.values("Allow")}
        expect("OPTIONS" in allow, "501 without an Allow header listing OPTIONS", r)
        expect("FROBNICATE" not in allow, "Allow lists the unknown method", r)


def require_unknown_420(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        req = build_request("OPTIONS", uri_for(dest), c.local,
                            headers=[("Require", "x-sipd-nonesuch, x-other-nonesuch")])
        r = expect_response(c.request(req, dest), 420, "Require with unknown options")
        unsupported = {t.strip().lower() for t in r.headers.values("Unsupported")}
        expect({"x-sipd-nonesuch", "x-other-nonesuch"} <= unsupported,
               "Unsupported does not list both options: %s" % sorted(unsupported), r)


def unknown_scheme_416(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        r = c.request(build_request("OPTIONS", "xyzzy:opaque-content-here", c.local,
                                    to="<sip:somebody@sipd-test.invalid>"), dest)
        expect_response(r, 416, "Request-URI scheme xyzzy")


def bad_version_505(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        r = c.request(build_request("OPTIONS", uri_for(dest), c.local, version="SIP/3.0"), dest)
        expect_response(r, 505, "SIP/3.0 request")


def other_methods_rejected(s):
    """Well-formed requests sipd does not serve: a REGISTER for a domain it
    does not serve, and (no proxy yet) MESSAGE and BYE get a clear 4xx/5xx,
    not a 400."""
    dest = s.addr("udp")
    for method, uri in (("REGISTER", "sip:sipd-test.invalid"), ("MESSAGE", "sip:someone@sipd-test.invalid"),
                        ("BYE", "sip:someone@sipd-test.invalid")):
        with UdpClient() as c:
            r = c.request(build_request(method, uri, c.local, to="<sip:somebody@sipd-test.invalid>",
                                        headers=[("Contact", "<sip:t@%s:%d>" % c.local)]), dest)
            expect_response(r, lambda st: st >= 400 and st != 400, method)


MALFORMED = [
    # (what, expected words in the reason phrase, request keyword arguments / raw edit)
    ("bad CSeq", ("cseq",), dict(cseq="x1")),
    ("CSeq method mismatch", ("cseq",), dict(cseq_method="INVITE")),
    ("missing Call-ID", ("call-id",), dict(omit=("Call-ID",))),
    ("missing From", ("from",), dict(omit=("From",))),
    ("missing To", ("to",), dict(omit=("To",))),
    ("missing CSeq", ("cseq",), dict(omit=("CSeq",))),
    ("bad Max-Forwards", ("max-forwards",), dict(max_forwards="abc")),
    ("bad Content-Length", ("content-length",), dict(content_length="12x")),
]


def malformed_udp(s, what, words, kwargs):
    dest = s.addr("udp")
    with UdpClient() as c:
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, **kwargs), dest),
                            400, what)
        reason = r.reason.lower()
        expect(any(w in reason for w in words), "reason phrase %r does not name %s" % (r.reason, words),
               r)


def malformed_reply_to_tag(s):
    """RFC 3261 §8.2.6.2: a UAS adds a To tag to every response but 100,
    also a 400 to a request whose To is fine but whose CSeq is not."""
    dest = s.addr("udp")
    with UdpClient() as c:
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, cseq="x1"), dest),
                            400, "bad CSeq")
        expect(r.to_tag(), "the 400 has no To tag", r)


def malformed_reply_rport(s):
    """RFC 3581 §4: a bare rport in the top Via is filled in in every
    response, a 400 to a malformed request included."""
    dest = s.addr("udp")
    with UdpClient() as c:
        r = expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local, cseq="x1"), dest),
                            400, "bad CSeq")
        via = r.top_via()
        expect(via and via["params"].get("rport") == str(c.local[1]),
               "rport not filled in: %r" % (via and via["params"].get("rport")), r)
        expect(via["params"].get("received") == "127.0.0.1", "received= missing", r)


def bad_request_uri(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        for uri in ("sip:", "sip:[::1", "sip:user@host:99999999"):
            req = build_request("OPTIONS", uri, c.local, to="<sip:somebody@sipd-test.invalid>")
            r = expect_response(c.request(req, dest), 400,
                                "Request-URI %r" % uri)
            expect("request-uri" in r.reason.lower() or "uri" in r.reason.lower(),
                   "reason phrase %r does not name the Request-URI" % r.reason, r)


def missing_via_tcp(s):
    """No Via: nowhere to route an answer by the RFC, but on a stream the
    connection is there. A 400 naming Via is optional; the stream is closed
    either way, as after any malformed message."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        c.send(build_request("OPTIONS", uri_for(dest), c.local, "TCP", omit=("Via",)))
        r = c.recv_final()
        if r is not None:
            expect_response(r, 400, "request without Via")
            expect("via" in r.reason.lower(), "reason phrase %r does not name Via" % r.reason, r)
        expect(c.wait_closed(2.0), "connection not closed after a request without Via")


MAX_HEADERS = 128  # SIP_MAX_HEADERS: header lines a message may have


def header_lines(s, proto, short):
    """A message's header lines are counted against the limit wherever it
    is kept: short lines (more of them than a received packet has room
    for) and long ones, at the limit answered, one over it 400."""
    dest = s.addr(proto, 4)
    with client_for(proto, 4, dest) as c:
        base = build_request("OPTIONS", uri_for(dest), c.local, proto.upper())
        own = sum(1 for line in base.split(b"\r\n")[1:] if line)  # the builder's lines
        for extra, status in ((MAX_HEADERS - own, 200), (MAX_HEADERS - own + 1, 400)):
            value = "1" if short else "v" * 60
            headers = [("X%d" % i, value) for i in range(extra)]
            req = build_request("OPTIONS", uri_for(dest), c.local, proto.upper(),
                                headers=headers)
            send(c, req, dest)
            r = c.recv_final()
            expect(r is not None and r.status == status,
                   "%d header lines (%s): %s, expected %d" % (
                       own + extra, "short" if short else "long",
                       r.status if r else "no answer", status), r)
            if status == 400:
                expect(r.reason == "Too many headers", "reason %r" % r.reason, r)
                break

def no_reply_to_responses(s):
    """Never answer a response, well formed or not, nor a malformed ACK."""
    dest = s.addr("udp")
    with UdpClient() as c:
        good = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
                "From: <sip:a@sipd-test.invalid>;tag=1\r\nTo: <sip:b@sipd-test.invalid>;tag=2\r\n"
                "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                % (c.local[1], new_branch(), new_call_id()))
        bad = good.replace("SIP/2.0 200 OK", "SIP/2.0 2x0 OK").replace("CSeq: 1 OPTIONS", "CSeq: z")
        c.send(good, dest)
        c.send(bad, dest)
        c.send(build_request("ACK", uri_for(dest), c.local, cseq="bad"), dest)
        c.send(build_request("ACK", uri_for(dest), c.local, omit=("Call-ID",)), dest)
        c.send(build_request("ACK", uri_for(dest), c.local), dest)  # stray, well formed
        got = c.quiet()
        expect(not got, "sipd answered a response or an ACK", *got)


def garbage_udp(s):
    """Datagrams that are not SIP: nothing to answer (or a 400); no crash."""
    dest = s.addr("udp")
    with UdpClient() as c:
        for junk in (b"\x00" * 64, b"hello world", b"\r\n\r\n", b"\r\n", b"OPTIONS\r\n\r\n",
                     bytes(range(256)), b"INVITE sip:x SIP/2.0\r\n" + b"A" * 1000):
            c.send(junk, dest)
        for data in c.quiet():
            r = None
            try:
                r = parse_message(data)
            except ValueError:
                pass
            expect(r is not None and r.is_response and r.status == 400,
                   "unexpected answer to garbage", data)


# ---------------------------------------------------------------------------
# transactions


def retransmission_same_response(s, proto):
    dest = s.addr(proto)
    with client_for(proto, 4, dest) as c:
        req = build_request("OPTIONS", uri_for(dest), c.local, proto.upper())
        send(c, req, dest)
        first = expect_response(c.recv_final(), 200, "first")
        send(c, req, dest)
        second = expect_response(c.recv_final(), 200, "retransmission")
        expect(first.to_tag() == second.to_tag(),
               "To tag differs: the retransmission was not answered from the stored response",
               first, second)
        if proto == "udp":
            expect(first.raw == second.raw, "retransmitted response differs", first, second)


def new_transaction_new_tag(s):
    """Sanity for the test above: a new branch is a new transaction."""
    dest = s.addr("udp")
    with UdpClient() as c:
        call_id, tag = new_call_id(), new_tag()
        a = c.request(build_request("OPTIONS", uri_for(dest), c.local, call_id=call_id, from_tag=tag),
                      dest)
        b = c.request(build_request("OPTIONS", uri_for(dest), c.local, call_id=call_id, from_tag=tag,
                                    cseq=2), dest)
        expect_response(a, 200)
        expect_response(b, 200)
        expect(a.to_tag() != b.to_tag(), "two transactions, same To tag", a, b)


def invite_udp_retransmits_final(s):
    """INVITE answered with a non-2xx final: a 100 Trying may come first; the
    final repeats (Timer G, T1 = 50 ms) until the ACK, then stops; the ACK is
    not answered."""
    dest = s.addr("udp")
    with UdpClient() as c:
        uri = "sip:nobody@sipd-test.invalid"
        c.send(build_request("INVITE", uri, c.local, headers=[("Contact", "<sip:t@%s:%d>" % c.local)]),
               dest)
        msgs = []
        first = c.recv(REPLY_TIMEOUT)
        expect(first is not None, "no answer to INVITE")
        msgs.append(first)
        final = first
        if first.status is not None and first.status < 200:
            expect(first.status == 100, "first provisional is %d, expected 100" % first.status, first)
            final = c.recv_final()
        final = expect_response(final, lambda st: st >= 300, "INVITE final")
        again = c.recv(1.0)
        expect(again is not None, "the final response was not retransmitted within 1 s (T1=50ms)")
        expect(again.raw == final.raw, "retransmission differs from the final response", final, again)
        c.send(build_ack(uri, final, c.local), dest)
        # one may already be on its way; after that, silence
        deadline = time.monotonic() + 0.15
        while c.recv_raw(deadline - time.monotonic()):
            pass
        late = c.quiet(0.6)
        expect(not late, "still retransmitting (or answering the ACK) after the ACK", *late)


def invite_tcp_no_retransmission(s):
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        uri = "sip:nobody@sipd-test.invalid"
        c.send(build_request("INVITE", uri, c.local, "TCP",
                             headers=[("Contact", "<sip:t@%s:%d;transport=tcp>" % c.local)]))
        prov = []
        final = expect_response(c.recv_final(provisional=prov), lambda st: st >= 300, "INVITE final")
        for p in prov:
            expect(p.status == 100, "unexpected provisional", p)
        more = c.recv_message(QUIET_TIME)
        expect(more is None, "response retransmitted over TCP", more)
        c.send(build_ack(uri, final, c.local, "TCP"))
        more = c.recv_message(QUIET_TIME)
        expect(more is None, "ACK answered", more)
        expect(not c.closed, "connection closed")


def cancel_unknown_481(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        r = c.request(build_request("CANCEL", "sip:nobody@sipd-test.invalid", c.local), dest)
        expect_response(r, 481, "CANCEL with no transaction")


# ---------------------------------------------------------------------------
# TCP framing


def options_for(c, dest, cseq, call_id=None):
    return build_request("OPTIONS", uri_for(dest), c.local, "TCP", cseq=cseq,
                         call_id=call_id or new_call_id())


def tcp_byte_by_byte(s):
    """One OPTIONS one byte per send (TCP_NODELAY; a short pause for the first
    20 bytes so they really arrive apart), then the same request in chunks
    of every size 1..len."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        call_id = new_call_id()
        msg = options_for(c, dest, 1, call_id)
        for i in range(len(msg)):
            c.send(msg[i:i + 1])
            if i < 20:
                time.sleep(0.005)
        r = expect_response(c.recv_final(), 200, "byte by byte")
        expect(r.cseq() == (1, "OPTIONS"), "wrong CSeq", r)
        n = len(msg)
        for size in range(1, n + 1):
            msg = options_for(c, dest, size + 1, call_id)
            for i in range(0, len(msg), size):
                c.send(msg[i:i + size])
            r = expect_response(c.recv_final(), 200, "chunks of %d" % size)
            expect(r.cseq() == (size + 1, "OPTIONS"), "chunks of %d: wrong CSeq" % size, r)


def tcp_every_split(s):
    """For every k: msg[:k], a pause, msg[k:] - each answered once."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        call_id = new_call_id()
        n = len(options_for(c, dest, 1, call_id))
        for k in range(1, n):
            msg = options_for(c, dest, k, call_id)
            c.send(msg[:k])
            time.sleep(0.001)
            c.send(msg[k:])
            r = expect_response(c.recv_final(), 200, "split at %d" % k)
            expect(r.cseq() == (k, "OPTIONS"), "split at %d: wrong CSeq" % k, r)


def tcp_pipelined(s):
    """Ten requests in one send: ten responses, in order. Half use compact
    header names (l:, i:, v:)."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        call_id = new_call_id()
        blob = b""
        for n in range(1, 11):
            m = options_for(c, dest, n, call_id)
            if n % 2 == 0:
                m = (m.replace(b"\r\nContent-Length:", b"\r\nl:").replace(b"\r\nCall-ID:", b"\r\ni:")
                     .replace(b"\r\nVia:", b"\r\nv:"))
            blob += m
        c.send(blob)
        for n in range(1, 11):
            r = expect_response(c.recv_final(), 200, "pipelined #%d" % n)
            expect(r.cseq() == (n, "OPTIONS"), "response #%d has CSeq %s" % (n, r.cseq()), r)
        extra = c.recv_message(0.2)
        expect(extra is None, "more than 10 responses", extra)


def tcp_body_framing(s):
    """A body that contains CRLFCRLF and a whole fake request is body, not a
    second message; the request after it is framed right."""
    dest = s.addr("tcp")
    with TcpClient(dest) as c:
        fake = options_for(c, dest, 99)
        body = b"line one\r\n\r\n" + fake + b"\r\n\r\n"
        first = build_request("OPTIONS", uri_for(dest), c.local, "TCP", cseq=1,
                              headers=[("Content-Type", "text/plain")], body=body)
        c.send(first + options_for(c, dest, 2))
        a = expect_response(c.recv_final(), lambda st: st >= 200, "request with body")
        expect(a.cseq() == (1, "OPTIONS"), "first response has CSeq %s" % (a.cseq(),), a)
        b = expect_response(c.recv_final(), 200, "request after the body")
        expect(b.cseq() == (2, "OPTIONS"), "body was taken for a message: CSeq %s" % (b.cseq(),), b)
        extra = c.recv_message(0.2)
        expect(extra is None, "the body was answered as a request", extra)


def tcp_keepalive(s):
    """RFC 5626 §3.5.1: CRLFCRLF → CRLF; also when the ping comes in two
    pieces; the connection keeps working."""
    for family in (4, 6):
        if family == 6 and not IPV6:
            continue
        dest = s.addr("tcp", family)
        with TcpClient(dest) as c:
            c.send(b"\r\n\r\n")
            pong = c.recv_bytes(2)
            expect(pong == b"\r\n", "pong %r, expected CRLF" % pong)
            extra = c.recv_bytes(1, 0.2)
            expect(extra == b"", "more than one CRLF: %r" % extra)
            c.send(b"\r\n")
            time.sleep(0.05)
            c.send(b"\r\n")
            pong = c.recv_bytes(2)
            expect(pong == b"\r\n", "split ping: pong %r" % pong)
            c.send(b"\r\n\r\n" + options_for(c, dest, 1))
            r = expect_response(c.recv_final(), 200, "OPTIONS after a ping")
            expect(c.pongs == 1, "%d pongs before the response, expected 1" % c.pongs, r)


def udp_keepalive_ignored(s):
    dest = s.addr("udp")
    with UdpClient() as c:
        c.send(b"\r\n\r\n", dest)
        c.send(b"\r\n", dest)
        got = c.quiet(0.2)
        expect(not got, "answer to a UDP CRLF", *got)


def tcp_malformed_closes(s):
    """A malformed message on TCP: 400 naming the problem, then the
    connection is closed (the stream cannot be trusted)."""
    dest = s.addr("tcp")
    for what, kwargs, word in (("bad CSeq", dict(cseq="x1"), "cseq"),
                               ("bad Content-Length", dict(content_length="x"), "content-length"),
                               ("negative Content-Length", dict(content_length="-5"), "content-length")):
        with TcpClient(dest) as c:
            c.send(build_request("OPTIONS", uri_for(dest), c.local, "TCP", **kwargs))
            r = expect_response(c.recv_final(), 400, what)
            expect(word in r.reason.lower(), "%s: reason %r" % (what, r.reason), r)
            expect(c.wait_closed(2.0), "%s: connection not closed after the 400" % what)
    with TcpClient(dest) as c:
        c.send(b"THIS IS NOT SIP\r\nat: all\r\n\r\n")
        r = c.recv_message(REPLY_TIMEOUT)
        if r is not None:
            expect_response(r, 400, "garbage start line")
        expect(c.wait_closed(2.0), "garbage start line: connection not closed")


# ---------------------------------------------------------------------------
# limits (own sipd each)


def padded_options(dest, local, transport, size, cseq=1):
    """An OPTIONS of exactly size bytes (padding in an X-Pad header)."""
    base = build_request("OPTIONS", uri_for(dest), local, transport, cseq=cseq,
                         headers=[("X-Pad", "")])
    pad = size - len(base)
    assert pad >= 0
    return build_request("OPTIONS", uri_for(dest), local, transport, cseq=cseq,
                         headers=[("X-Pad", "p" * pad)])


def udp_ip_header(raw_sock, port, timeout=REPLY_TIMEOUT):
    """(DF, MF, IP ID) of the next IPv4 UDP packet from port seen on the raw
    socket, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([raw_sock], [], [], max(deadline - time.monotonic(), 0))
        if not r:
            return None
        frame = raw_sock.recv(70000)
        ip = frame[14:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        frag = struct.unpack("!H", ip[6:8])[0]
        if frag & 0x1fff:
            continue  # a later fragment: no UDP header
        if struct.unpack("!H", ip[ihl:ihl + 2])[0] != port:
            continue
        return bool(frag & 0x4000), bool(frag & 0x2000), struct.unpack("!H", ip[4:6])[0]
    return None


def small_mtu_child(binary):
    """Inside a network namespace of its own whose loopback has an MTU of 1300:
    a small response goes out unfragmentable with IP ID 0 (IP_PMTUDISC_PROBE),
    a response larger than the MTU still arrives, in fragments."""
    subprocess.run(["ip", "link", "set", "lo", "mtu", "1300", "up"], check=True)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    raw.bind(("lo", 0))
    with Sipd(binary, listen=("udp:127.0.0.1:0",)) as s, UdpClient() as c:
        dest = s.addr("udp")
        expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local), dest), 200,
                        "small OPTIONS")
        hdr = udp_ip_header(raw, dest[1])
        expect(hdr is not None, "small response not seen on lo")
        expect(hdr[0] and not hdr[1] and hdr[2] == 0,
               "small response: DF %s, MF %s, IP ID %d (want DF, no MF, ID 0)" % hdr)
        vias = [("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-padding-via-%02d" % i)
                for i in range(40)]
        req = build_request("OPTIONS", uri_for(dest), c.local, headers=vias)
        r = expect_response(c.request(req, dest), 200, "OPTIONS with a 2 KB response")
        expect(len(r.headers.values("Via")) == 41, "Vias lost in the large response", r)
        hdr = udp_ip_header(raw, dest[1])
        expect(hdr is not None and hdr[1], "large response not fragmented: %s" % (hdr,))
        expect_response(c.request(build_request("OPTIONS", uri_for(dest), c.local), dest), 200,
                        "small OPTIONS after the large one")
        hdr = udp_ip_header(raw, dest[1])
        expect(hdr is not None and hdr[0] and hdr[2] == 0,
               "small response after the large one: %s (want DF, ID 0)" % (hdr,))


def small_mtu(binary):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        raise Skip("needs root, unshare and ip for a network namespace")
    p = subprocess.run(["unshare", "--net", "--", sys.executable, os.path.abspath(__file__),
                        binary, "--small-mtu-child"], capture_output=True, text=True,
                       timeout=60)
    expect(p.returncode == 0, "in the namespace: %s%s" % (p.stdout[-2000:], p.stderr[-2000:]))


def limit_size(binary):
    with Sipd(binary, settings={"limits.max_message_size": "2000", "timers.t1": T1}) as s:
        udp, tcp = s.addr("udp"), s.addr("tcp")
        with UdpClient() as c:
            expect_response(c.request(padded_options(udp, c.local, "UDP", 1900), udp), 200,
                            "UDP 1900 bytes")
            c.send(padded_options(udp, c.local, "UDP", 3000), udp)
            got = c.quiet()
            expect(not got, "answer to a 3000-byte datagram (limit 2000)", *got)
            expect_response(c.request(padded_options(udp, c.local, "UDP", 500), udp), 200,
                            "UDP after the oversize datagram")
        with TcpClient(tcp) as c:
            expect_response(c.request(padded_options(tcp, c.local, "TCP", 1900)), 200, "TCP 1900 bytes")
            c.send(padded_options(tcp, c.local, "TCP", 3000, cseq=2))
            r = expect_response(c.recv_final(), 413, "TCP 3000 bytes")
            expect(r.top_via() and r.top_via()["params"].get("rport") == str(c.local[1]),
                   "413: bare rport not filled in (RFC 3581 §4)", r)
            expect(c.wait_closed(2.0), "connection not closed after 413")
        s.ping("tcp")
        s.ping("udp")


def limit_size_declared(binary):
    """The headers fit, the Content-Length they declare does not: 413 at
    once, without waiting for a body that may never come."""
    with Sipd(binary, settings={"limits.max_message_size": "2000"}) as s:
        tcp = s.addr("tcp")
        with TcpClient(tcp) as c:
            c.send(build_request("OPTIONS", uri_for(tcp), c.local, "TCP", content_length=5000,
                                 headers=[("Content-Type", "text/plain")]) + b"x" * 100)
            r = expect_response(c.recv_final(), 413, "Content-Length 5000 (limit 2000)")
            via = r.top_via()
            expect(via and via["params"].get("rport") == str(c.local[1]) and
                   via["params"].get("received") == "127.0.0.1",
                   "413: bare rport not filled in / received= missing (RFC 3581 §4)", r)
            expect(c.wait_closed(2.0), "connection not closed after 413")
        s.ping("tcp")


def limit_message_time(binary):
    with Sipd(binary, settings={"limits.tcp_message_timeout": "1s"}) as s:
        dest = s.addr("tcp")
        with TcpClient(dest) as c:
            msg = options_for(c, dest, 1)
            c.send(msg[:len(msg) // 2])
            start = time.monotonic()
            expect(c.wait_closed(5.0), "half a message: not closed within 5 s (timeout 1s)")
            elapsed = time.monotonic() - start
            expect(elapsed > 0.3, "closed after %.2f s, before the message timeout" % elapsed)
        with TcpClient(dest) as c:
            # a message completed in time is fine, and a slow trickle of
            # complete messages keeps the connection
            msg = options_for(c, dest, 1)
            c.send(msg[:20])
            time.sleep(0.3)
            c.send(msg[20:])
            expect_response(c.recv_final(), 200, "message completed in time")
        s.ping("tcp")


def limit_idle(binary):
    with Sipd(binary, settings={"limits.tcp_idle_timeout": "1s"}) as s:
        dest = s.addr("tcp")
        with TcpClient(dest) as idle, TcpClient(dest) as busy:
            start = time.monotonic()
            # busy sends a request every 0.4 s: it outlives the idle one
            n = 0
            while time.monotonic() - start < 1.6:
                n += 1
                expect_response(busy.request(options_for(busy, dest, n)), 200,
                                "busy connection, request %d" % n)
                if n == 1:
                    # well before the timeout the idle one is still open
                    expect(not idle.wait_closed(0), "idle connection closed at once")
                time.sleep(0.4)
            expect(not busy.closed, "an active connection was closed as idle")
            expect(idle.wait_closed(5.0), "idle connection not closed within 5 s (timeout 1s)")
        s.ping("tcp")


def limit_per_ip(binary):
    listen = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0") + (("tcp:[::1]:0",) if IPV6 else ())
    with Sipd(binary, listen=listen, settings={"limits.max_connections_per_ip": "3"}) as s:
        dest = s.addr("tcp")
        conns = [TcpClient(dest) for _ in range(3)]
        try:
            for i, c in enumerate(conns):
                expect_response(c.request(options_for(c, dest, 1)), 200, "connection %d" % (i + 1))
            fourth = TcpClient(dest)
            try:
                fourth.send(options_for(fourth, dest, 1))
            except OSError:
                pass  # reset before the send: refused, as wanted
            else:
                r = fourth.recv_final(2.0)
                expect(r is None, "the 4th connection from one IP was answered", r)
                expect(fourth.wait_closed(2.0), "the 4th connection from one IP was not closed")
            finally:
                fourth.close()
            for i, c in enumerate(conns):
                expect_response(c.request(options_for(c, dest, 2)), 200,
                                "connection %d after the refusal" % (i + 1))
            if IPV6:
                with TcpClient(s.addr("tcp", 6)) as v6:
                    expect_response(v6.request(options_for(v6, s.addr("tcp", 6), 1)), 200,
                                    "a connection from another IP (::1)")
            # closing one frees its place (sipd sees the FIN asynchronously)
            conns.pop().close()

            def fifth_works():
                try:
                    with TcpClient(dest) as c:
                        r = c.request(options_for(c, dest, 1), 0.5)
                        return r is not None and r.status == 200
                except OSError:
                    return False
            expect(poll(fifth_works, 3.0, 0.1), "a place freed by a close was not reusable")
        finally:
            for c in conns:
                c.close()


def limit_total(binary):
    """limits.max_connections counts every connection, whatever its IP."""
    with Sipd(binary, listen=ALL_LISTENERS if IPV6 else ALL_LISTENERS[:2],
              settings={"limits.max_connections": "2"}) as s:
        v4 = s.addr("tcp")
        other = s.addr("tcp", 6) if IPV6 else v4
        with TcpClient(v4) as a, TcpClient(other) as b:
            for c, d in ((a, v4), (b, other)):
                expect_response(c.request(options_for(c, d, 1)), 200, "connection within the limit")
            with TcpClient(v4) as third:
                try:
                    third.send(options_for(third, v4, 1))
                except OSError:
                    pass
                r = third.recv_final(2.0)
                expect(r is None, "a 3rd connection (limit 2) was answered", r)
                expect(third.wait_closed(2.0), "a 3rd connection (limit 2) was not closed")
            expect_response(a.request(options_for(a, v4, 2)), 200, "first connection after the refusal")
        s.ping("udp")


def clean_exit(binary):
    s = Sipd(binary, settings={"timers.t1": T1}).start()
    try:
        s.ping("udp")
        with TcpClient(s.addr("tcp")):  # an open connection must not block the stop
            status = s.stop()
    finally:
        s.stop()
    expect(status == 0, "sipd exited with status %s on SIGTERM (expected 0)%s"
           % (status, " after SIGKILL" if s.killed else ""), s.stderr_tail())


# ---------------------------------------------------------------------------


def main():
    binary = binary_from_argv()
    if sys.argv[2:] == ["--small-mtu-child"]:
        small_mtu_child(binary)
        return 0
    tap = Tap()
    shared = Shared(binary)

    def on_shared(fn, *args):
        def run():
            s = shared.get()
            fn(s, *args)
            s.ping("udp")  # still answering after the test
            s.ping("tcp")
        return run

    tests = []
    for proto in ("udp", "tcp"):
        for family in (4, 6):
            tests.append(("OPTIONS over %s/IPv%d" % (proto.upper(), family),
                          on_shared(options_basic, proto, family)))
    tests += [
        ("Via: name sent-by without rport gets received=", on_shared(via_name_host_no_rport)),
        ("Via: sent-by = source, no rport: nothing added", on_shared(via_same_host_no_rport)),
        ("Via: every value echoed in order", on_shared(via_multiple_echoed)),
        ("TCP: response on the request's connection", on_shared(tcp_reply_on_connection)),
        ("Max-Forwards 0: 483, OPTIONS to sipd 200", on_shared(max_forwards_zero)),
        ("unknown method: 501 with Allow", on_shared(unknown_method_501)),
        ("unknown Require option: 420 with Unsupported", on_shared(require_unknown_420)),
        ("unknown URI scheme: 416", on_shared(unknown_scheme_416)),
        ("SIP/3.0: 505", on_shared(bad_version_505)),
        ("REGISTER/MESSAGE/BYE: 4xx/5xx, not 400", on_shared(other_methods_rejected)),
    ]
    for what, words, kwargs in MALFORMED:
        tests.append(("malformed over UDP: %s → 400 naming it" % what,
                      on_shared(malformed_udp, what, words, kwargs)))
    tests += [
        ("400 to a malformed request has a To tag", on_shared(malformed_reply_to_tag)),
        ("400 to a malformed request fills in rport", on_shared(malformed_reply_rport)),
        ("bad Request-URI: 400 naming it", on_shared(bad_request_uri)),
        ("missing Via over TCP: closed (400 naming it optional)", on_shared(missing_via_tcp)),
        ("128 short header lines answered, 129 → 400 (UDP)",
         on_shared(header_lines, "udp", True)),
        ("128 long header lines answered, 129 → 400 (UDP)",
         on_shared(header_lines, "udp", False)),
        ("128 short header lines answered, 129 → 400 (TCP)",
         on_shared(header_lines, "tcp", True)),
        ("no answer to responses or ACKs", on_shared(no_reply_to_responses)),
        ("UDP garbage: no answer but 400, no crash", on_shared(garbage_udp)),
        # (not over TCP: there Timer J is 0, RFC 3261 §17.2.2, and a
        # retransmission after the response is a new transaction)
        ("UDP retransmission answered with the stored response",
         on_shared(retransmission_same_response, "udp")),
        ("new branch, new transaction, new To tag", on_shared(new_transaction_new_tag)),
        ("INVITE over UDP: final repeated until ACK", on_shared(invite_udp_retransmits_final)),
        ("INVITE over TCP: no retransmission, ACK absorbed", on_shared(invite_tcp_no_retransmission)),
        ("CANCEL without a transaction: 481", on_shared(cancel_unknown_481)),
        ("TCP: one request byte by byte and in chunks of every size", on_shared(tcp_byte_by_byte)),
        ("TCP: every two-piece split answered", on_shared(tcp_every_split)),
        ("TCP: 10 pipelined requests, 10 responses in order", on_shared(tcp_pipelined)),
        ("TCP: a body holding CRLFCRLF and a request is framed by Content-Length",
         on_shared(tcp_body_framing)),
        ("TCP: CRLFCRLF ping gets one CRLF pong", on_shared(tcp_keepalive)),
        ("UDP: CRLF keep-alive ignored", on_shared(udp_keepalive_ignored)),
        ("TCP: malformed message → 400, then closed", on_shared(tcp_malformed_closes)),
    ]
    try:
        for name, fn in tests:
            tap.run(name, fn)
    finally:
        shared.stop()
    tap.run("UDP/IPv4: small datagrams unfragmentable with IP ID 0, larger than the MTU"
            " fragmented", small_mtu, binary)
    tap.run("limits.max_message_size: UDP dropped, TCP 413 and closed", limit_size, binary)
    tap.run("limits.max_message_size: declared Content-Length over it → 413", limit_size_declared,
            binary)
    tap.run("limits.tcp_message_timeout: half a message, closed", limit_message_time, binary)
    tap.run("limits.tcp_idle_timeout: idle closed, busy kept", limit_idle, binary)
    tap.run("limits.max_connections_per_ip: 4th refused, others work", limit_per_ip, binary)
    tap.run("limits.max_connections: 3rd refused", limit_total, binary)
    tap.run("SIGTERM: exit status 0", clean_exit, binary)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
