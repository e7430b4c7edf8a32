#!/usr/bin/env python3
"""Hostile peers against the real sipd: the attacks that once worked.

1. A remote crash before authentication: an OPTIONS (and INVITE, MESSAGE)
   whose Request-URI user part and Call-ID are long enough that the loop
   hash's field copy once wrapped past its stack buffer. sipd must answer
   every one and still answer afterwards.
2. An open relay through a forged Route: a request with a To tag and
   `Route: <sip:SIPD;lr>` (and a second Route, or an IP-literal
   Request-URI) aimed at a loopback sink that must receive nothing, from a
   foreign From (403) and from a local From (407), with no token, a forged
   token and a token of another dialog; an ACK along a forged route is
   dropped.
3. Unauthenticated in-dialog requests impersonating a local user: a
   MESSAGE with `From: <sip:A@DOMAIN>` and a forged To tag, with and
   without a forged Route, is challenged (407) and never reaches the
   callee's phone; inside a real Record-Routed dialog the same MESSAGE is
   relayed without a challenge, in both directions.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import Tap, UdpClient, binary_from_argv, expect, expect_response  # noqa: E402
from sip_auth import DOMAIN, Callee, Caller, EventLog, Plan, env_started, \
    shared_env_runner  # noqa: E402
from test_proxy import CALL_TIMEOUT, QUIET, Env, aor, no_errors  # noqa: E402

FOREIGN = "sip:mallory@evil.example.org"
TOKEN = re.compile(r";dlg=([0-9a-f]{24})>")


def sipd_route(env, token=None):
    host, port = env.sipd.addr("udp")
    return "<sip:%s:%d;lr%s>" % (host, port, ";dlg=%s" % token if token else "")


class Sink(UdpClient):
    """A UDP socket on loopback that must receive nothing."""

    def uri(self, user="victim"):
        return "sip:%s@%s:%d" % (user, self.local[0], self.local[1])

    def quiet(self, what):
        got = self.recv_raw(QUIET)
        expect(got is None, "%s reached the sink" % what, *([got[0]] if got else []))


def forged(ca, method, ruri, routes, to_uri=None, to_tag="forged1", call_id=None, from_tag=None,
           body=b""):
    """An in-dialog-looking request nobody started: a To tag, the given
    Route lines. Returns the Call; its response with ca.response."""
    call = ca.new_call(method, ruri, to_uri)
    call.to_tag, call.target, call.route = to_tag, ruri, list(routes)
    if call_id:
        call.call_id = call_id
    if from_tag:
        call.from_tag = from_tag
    call.branch = None
    data = ca._in_dialog(call, method, call.cseq, body=body)
    m = ca.send(data)
    call.branch = m.top_via()["params"].get("branch")
    return call


# ---------------------------------------------------------------------------
# 1: long fields


def long_fields(env):
    """Request-URI users of 2100 to 6000 bytes and Call-IDs of 200 to 2000
    bytes, to a served domain and to an IP: an answer every time, and an
    OPTIONS to sipd still answered 200 at the end."""
    host, port = env.sipd.addr("udp")
    client = UdpClient()
    try:
        n = 0
        for method in ("OPTIONS", "INVITE", "MESSAGE"):
            for ulen, clen in ((2100, 200), (2040, 8), (4000, 2000), (6000, 1000)):
                for target in (DOMAIN, "%s:%d" % (host, port), "127.0.0.1:9"):
                    n += 1
                    ruri = "sip:%s@%s" % ("u" * ulen, target)
                    lines = ["%s %s SIP/2.0" % (method, ruri),
                             "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-long%d;rport"
                             % (client.local[0], client.local[1], n),
                             "Max-Forwards: 70",
                             "From: <%s>;tag=%s" % (FOREIGN, "t" * 64),
                             "To: <%s>" % ruri,
                             "Call-ID: %s" % ("c" * clen),
                             "CSeq: 1 %s" % method,
                             "Content-Length: 0", "", ""]
                    client.send("\r\n".join(lines), (host, port))
                    r = client.recv(CALL_TIMEOUT)
                    expect(r is not None and r.is_response,
                           "no answer to a %s with a %d-byte user part and a %d-byte Call-ID to %s"
                           % (method, ulen, clen, target))
        lines = ["OPTIONS sip:%s SIP/2.0" % DOMAIN,
                 "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-after;rport" % client.local,
                 "Max-Forwards: 70", "From: <%s>;tag=a" % FOREIGN, "To: <sip:%s>" % DOMAIN,
                 "Call-ID: after-long", "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""]
        client.send("\r\n".join(lines), (host, port))
        expect_response(client.recv(CALL_TIMEOUT), 200, "OPTIONS to sipd after the long requests")
    finally:
        client.close()
    expect(env.sipd.alive(), "sipd exited after the long requests")


# ---------------------------------------------------------------------------
# 2: forged routes


def forged_routes(env):
    """A foreign From with a To tag and sipd's Route (no token, a forged
    one), to an IP-literal Request-URI or a second Route at the sink: 403
    each, nothing at the sink; the same ACK is dropped."""
    ev = EventLog()
    with Sink() as sink, Caller(env.sipd, "mallory", None, from_uri=FOREIGN, events=ev) as ca:
        sink_route = "<sip:%s:%d;lr>" % sink.local
        for token in (None, "0" * 24, "deadbeef" * 3):
            for method in ("MESSAGE", "INVITE", "BYE", "OPTIONS"):
                for ruri, routes in ((sink.uri(), [sipd_route(env, token)]),
                                     ("sip:victim@far.example.net",
                                      [sipd_route(env, token), sink_route])):
                    call = forged(ca, method, ruri, routes, body=b"relay me" if method == "MESSAGE" else b"")
                    what = "%s from %s along %r (token %s)" % (method, FOREIGN, routes, token)
                    expect_response(ca.response(call, CALL_TIMEOUT), 403, what)
                    sink.quiet(what)
            ack = forged(ca, "ACK", sink.uri(), [sipd_route(env, token)])
            sink.quiet("an ACK along a forged route (token %s)" % token)
            expect(ack is not None, "ACK not built")
        no_errors()


def forged_routes_local_from(env):
    """The same from a local user's From without credentials: 407 (it is
    challenged like a request out of a dialog), nothing at the sink."""
    a, _ = env.user()
    with Sink() as sink, Caller(env.sipd, a, None) as ca:
        for token in (None, "1" * 24):
            call = forged(ca, "MESSAGE", sink.uri(), [sipd_route(env, token)], body=b"relay me")
            what = "MESSAGE from %s along sipd's route to the sink (token %s)" % (aor(a), token)
            r = expect_response(ca.response(call, CALL_TIMEOUT), 407, what)
            expect(r.headers.get("Proxy-Authenticate"), "407 without a challenge", r)
            sink.quiet(what)


def token_of_another_dialog(env):
    """A real call between two users gives the caller a token; a request
    with that token but another Call-ID, or another From tag, is not in
    that dialog: 403 from a foreign From, nothing at the sink."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Sink() as sink, Callee(env.sipd, b, bpw, events=ev, plan=Plan(200)) as cb, \
            Caller(env.sipd, a, apw, events=ev) as ca, \
            Caller(env.sipd, "mallory", None, from_uri=FOREIGN, events=ev) as evil:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        r = expect_response(call.final, 200, "INVITE")
        ca.ack(call)
        tokens = [t for v in r.headers.values("Record-Route") for t in TOKEN.findall(v)]
        expect(len(tokens) == 1, "Record-Route %r: expected one dialog token"
               % r.headers.values("Record-Route"), r)
        route = [sipd_route(env, tokens[0])]
        for call_id, from_tag in (("other-" + call.call_id, call.from_tag), (call.call_id, "other")):
            c = forged(evil, "MESSAGE", sink.uri(), route, call_id=call_id, from_tag=from_tag,
                       body=b"relay me")
            what = "MESSAGE with the token of Call-ID %s, sent with Call-ID %s and From tag %s" % (
                call.call_id, call_id, from_tag)
            expect_response(evil.response(c, CALL_TIMEOUT), 403, what)
            sink.quiet(what)
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE of the real call")
        no_errors(cb)


# ---------------------------------------------------------------------------
# 3: forged in-dialog requests to a local phone


def forged_in_dialog_message(env):
    """MESSAGE From a local user with a forged To tag to another local
    user's registered phone, without Route, with sipd's Route and with a
    forged token: 407 each time, and the phone receives no MESSAGE."""
    a, _ = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev) as cb, Caller(env.sipd, a, None, events=ev) as ca:
        cb.register()
        cb.start()
        for routes in ([], [sipd_route(env)], [sipd_route(env, "ab" * 12)]):
            call = forged(ca, "MESSAGE", aor(b), routes, body=b"I am %s" % a.encode())
            what = "forged in-dialog MESSAGE from %s to %s with Route %r" % (aor(a), aor(b), routes)
            expect_response(ca.response(call, CALL_TIMEOUT), 407, what)
        expect(cb.wait_for("MESSAGE", QUIET) is None, "a forged MESSAGE reached the phone", ev.text())
        no_errors(cb)


def in_dialog_message_relayed(env):
    """Inside a real Record-Routed dialog a MESSAGE from either side is
    relayed without a challenge."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev, plan=Plan(200)) as cb, \
            Caller(env.sipd, a, apw, events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.final, 200, "INVITE")
        ca.ack(call)
        expect_response(ca.in_dialog(call, "MESSAGE", CALL_TIMEOUT), 200,
                        "MESSAGE in the dialog, caller to callee")
        expect(cb.wait_for("MESSAGE") is not None, "the in-dialog MESSAGE did not arrive", ev.text())
        cb.bye(call.call_id)
        got = ca.wait_request("BYE", CALL_TIMEOUT)
        expect(got is not None, "the callee's BYE (To tag = the caller's tag) did not arrive", ev.text())
        ca.reply(got, 200)
        no_errors(cb)


def main():
    binary = binary_from_argv()
    tap = Tap()
    env = Env(binary, users=20, settings={"proxy.foreign_callers": "true"})
    try:
        if not env_started(tap, env, env.setup):
            return tap.finish()
        on_env = shared_env_runner(env)
        tests = [
            ("long Request-URI user parts and Call-IDs (the loop-hash crash): answered, sipd alive",
             on_env(long_fields)),
            ("forged Route from a foreign From (no token, forged tokens): 403, the sink gets nothing",
             on_env(forged_routes)),
            ("forged Route from a local From: 407, the sink gets nothing",
             on_env(forged_routes_local_from)),
            ("a real dialog's token with another Call-ID or From tag: 403, the sink gets nothing",
             on_env(token_of_another_dialog)),
            ("forged in-dialog MESSAGE as a local user: 407, the phone gets nothing",
             on_env(forged_in_dialog_message)),
            ("MESSAGE inside a real dialog: relayed without a challenge; the callee's BYE too",
             on_env(in_dialog_message_relayed)),
        ]
        for name, fn in tests:
            tap.run(name, fn)
    finally:
        env.remove()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
