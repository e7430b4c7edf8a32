#!/usr/bin/env python3
"""test_proxy.py - the stateful forking proxy and redirect server of the real sipd.

    test_proxy.py PATH/TO/sipd        (prints TAP)

sipd runs with --domain example.com on UDP and TCP 127.0.0.1 port 0,
timers.t1 = 100ms (so timer B, 64*T1, is 6.4 s: the 408 test) and
auth.algorithms = MD5 (SIPp reads only the first Proxy-Authenticate). Users
100, 101, 102, ... are created with `sipd user import`; every test takes
users no other test used.

A phone behind sipd must REGISTER from the socket it is called on: sipd
sends a request to the address and transport its REGISTER came from. So
every callee here registers first: the SIPp callee scenarios start with a
REGISTER, the Python Callee (sip_auth.py) registers from its own UDP
socket or TCP connection and then answers in a thread.

SIPp (package sip-tester), UDP and TCP:
  call     scenarios/proxy_caller.xml → sipd → scenarios/proxy_callee.xml:
           INVITE, 407, ACK, INVITE with credentials, 180, 200, ACK, BYE,
           200; the callee checks Record-Route, Max-Forwards and sipd's Via;
           the test reads both -trace_msg logs for the rest (Request-URI =
           the contact, the Route gone from the ACK and BYE, one Via on the
           responses, the SDP unchanged).
  MESSAGE  scenarios/proxy_message_caller.xml → sipd →
           scenarios/proxy_message_callee.xml (seed 001, RFC 3428): 407,
           relayed with the body byte for byte, 200 with sipd's Via gone.
  The caller and the callee are both SIPp clients and SIPp maps a request
  to a call by Call-ID only, so both run with the same -cid_str.

Python callers and callees (sip_auth.py Caller, Callee, Plan, EventLog):
  mixed transports (two Record-Routes), re-INVITE and a callee's BYE in
  the dialog; forking: first 200 wins and the other branch is CANCELled,
  q groups tried in order, busy + 200, the best of failures (6xx wins,
  lowest class, 503 → 500, 401/407 challenges merged), a 6xx CANCELs the
  rest, no answer → 408, the caller's CANCEL → 487; policy: 407 for
  INVITE/MESSAGE/OPTIONS/SUBSCRIBE, wrong password, a spoofed From (403),
  foreign callers let in, no open relay (403), OPTIONS to sipd itself,
  Max-Forwards 0 → 483 and 1 → 0 at the callee, a loop → 482/483; 404 and
  480 for INVITE and MESSAGE; redirect mode (302 with the bindings and
  their q); the log line of a call.

Nothing asserts a duration: every wait is a bounded poll, and "nothing
arrives" is checked by listening QUIET seconds after the event that would
have caused it.
"""

import os
import re
import shutil
import sys
import tempfile
import threading
import hashlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (BackgroundTool, Tap, binary_from_argv, expect,  # noqa: E402
                          expect_response, hostport, kernel_port, need_tool, new_tag,
                          parse_message, parse_sipp_trace, parse_via, poll, run_tool)
from sip_auth import (DOMAIN, SDP, Caller, Callee, Db, EventLog, Plan, Ua, bindings,  # noqa: E402
                      challenges, contact_uri, parse_challenge, env_started,
                      shared_env_runner)

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
LISTEN = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0")
SETTINGS = {"timers.t1": "100ms", "auth.algorithms": "MD5"}
USERS = 120  # 100 .. 219

SIPP_TIMEOUT = 30  # s: SIPp's own -timeout (it then fails with -timeout_error)
TOOL_TIMEOUT = 60  # s: the test's bound on one SIPp run
REGISTERED_TIMEOUT = 10  # s: for a SIPp callee's binding to show
CALL_TIMEOUT = 10  # s: for a final answer that is due
TIMER_B_WAIT = 30  # s: for the 408 (timer B is 64*T1 = 6.4 s here)
LOOP_TIMEOUT = 30  # s: for a loop to end in 482/483
QUIET = 0.5  # s: listening for something that must not come
ANSWER_DELAY = 0.3  # s: a callee answers this long after the INVITE
SLOW_FAILURE = 0.5  # s: the q=1.0 callee fails this late (serial forking)


# ---------------------------------------------------------------------------
# environment


class Env:
    """One database with users 100.. and the sipd on it."""

    def __init__(self, binary, users=USERS, settings=None):
        self.binary = binary
        self.db = Db()
        self.pool = [(str(n), "pw-%d-secret" % n) for n in range(100, 100 + users)]
        self.free = list(self.pool)
        self.settings = dict(SETTINGS, **(settings or {}))
        self.sipd = None

    def setup(self):
        self.db.import_users(self.binary, self.pool)
        self.start()

    def start(self):
        self.sipd = self.db.sipd(self.binary, LISTEN, self.settings).start()
        return self.sipd

    def user(self):
        """(name, password) of a user no other test has used."""
        return self.free.pop(0)

    def remove(self):
        if self.sipd:
            self.sipd.stop()
        self.db.remove()


def aor(user):
    return "sip:%s@%s" % (user, DOMAIN)


def rr_uri(sipd, proto):
    """The Record-Route sipd puts on a leg of that transport, without its
    dialog token (see rr_plain)."""
    host, port = sipd.addr(proto)
    return "<sip:%s:%d%s;lr>" % (host, port, ";transport=tcp" if proto == "tcp" else "")


DIALOG_TOKEN = re.compile(r";dlg=[0-9a-f]{24}>$")


def rr_plain(values):
    """Record-Route values with sipd's dialog token (";dlg=" and 24 hex
    digits, last) cut out; a value of sipd's without one stays as it is,
    so that comparing with rr_uri fails."""
    return [DIALOG_TOKEN.sub(">", v) for v in values]


def branch_of(m):
    via = m.top_via()
    return via["params"].get("branch") if via else None


def vias(m):
    return [parse_via(v) for v in m.headers.values("Via")]


def uri_eq(a, b):
    return a is not None and b is not None and a.strip().lower() == b.strip().lower()


def final_of(caller, call, timeout=CALL_TIMEOUT):
    """call.final, waiting for it if the request is still pending."""
    return caller.finish(call, timeout)


def check_sipd_via(m, sipd, proto, what):
    """The top Via of a request sipd forwarded is sipd's: its transport,
    its listening address and port on that transport (where responses
    reach it), a z9hG4bK branch."""
    v = vias(m)
    expect(v and v[0] is not None, "%s: no Via" % what, m)
    top = v[0]
    expect(top["transport"] == proto.upper(), "%s: top Via transport %s, expected %s"
           % (what, top["transport"], proto.upper()), m)
    host, port = sipd.addr(proto)
    expect(top["host"] == host and top["port"] == port, "%s: top Via sent-by %s:%s, expected sipd's %s:%d"
           % (what, top["host"], top["port"], host, port), m)
    expect((top["params"].get("branch") or "").startswith("z9hG4bK"),
           "%s: top Via branch %r lacks the magic cookie" % (what, top["params"].get("branch")), m)
    return top


def no_forwarded_100(call, ev):
    """A 100 is hop by hop (RFC 3261 §16.7 step 5): the caller gets sipd's
    own (one per transaction; this caller does not retransmit), never the
    callees'."""
    n = len([p for p in call.provisional if p.status == 100])
    expect(n <= 1, "the caller got %d 100 Trying: the callees' were forwarded" % n, ev.text())


def no_errors(*phones):
    for p in phones:
        expect(not p.errors, "%s: its thread failed:\n%s" % (p.name, "\n".join(p.errors)))


def callee_pair(env, user, password, plans, events, proto="udp", qs=(None, None)):
    """Two Callees registered for the same user, each from its own socket."""
    out = []
    try:
        for i, plan in enumerate(plans):
            c = Callee(env.sipd, user, password, proto, events=events, plan=plan,
                       name="callee-%s" % "ab"[i])
            out.append(c)
            c.register(q=qs[i])
            c.start()
    except Exception:
        for c in out:
            c.close()
        raise
    return out


def close_all(*things):
    for t in things:
        try:
            t.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# SIPp


def sipp_errors(work):
    text = ""
    for name in sorted(os.listdir(work)):
        if name.endswith("errors.log"):
            with open(os.path.join(work, name), errors="replace") as f:
                text += "%s:\n%s\n" % (name, f.read()[-3000:])
    return text


def sipp_cmd(scenario, proto, port, work, tag, args, dest):
    """SIPp running one call of scenario from 127.0.0.1:port to dest, its
    message log at WORK/TAG.msg and its error log at WORK/TAG_errors.log."""
    tool = need_tool("sipp")
    return [tool, "-sf", os.path.join(SCENARIOS, scenario), "-m", "1",
            "-t", "u1" if proto == "udp" else "t1", "-i", "127.0.0.1", "-p", str(port),
            "-nostdin", "-timeout", "%ds" % SIPP_TIMEOUT, "-timeout_error",
            "-trace_err", "-error_file", os.path.join(work, tag + "_errors.log"),
            "-trace_msg", "-message_file", os.path.join(work, tag + ".msg")] + list(args) + \
        ["%s:%d" % dest]


def two_ports(proto):
    a = kernel_port(proto)
    b = kernel_port(proto)
    while b == a:
        b = kernel_port(proto)
    return a, b


def wait_registered(env, user, password, port, tool):
    """Poll sipd (a REGISTER query with the user's credentials) until a
    binding from 127.0.0.1:port shows; fail early if the tool exited."""
    def bound():
        if not tool.running():
            return "exited"
        with Ua(env.sipd, "udp", user=user, password=password) as ua:
            r = ua.register(None)
            if r is not None and r.status == 200 and any(":%d" % port in u for u in bindings(r)):
                return "bound"
        return None
    state = poll(bound, REGISTERED_TIMEOUT, 0.1)
    if state != "bound":
        status, out = tool.wait(5) if not tool.running() else (None, tool.output())
        raise AssertionError("the SIPp callee %s: no binding from port %d after %d s (exit status %s)\n%s"
                             % (user, port, REGISTERED_TIMEOUT, status, out[-3000:]))


def run_pair(env, proto, callee_scenario, caller_scenario, caller, cpw, callee, epw, extra_callee=()):
    """Start the SIPp callee, wait for its binding, run the SIPp caller,
    wait for the callee. Both must exit 0. Returns (work dir, caller trace,
    callee trace, caller port, callee port)."""
    host, port = env.sipd.addr(proto)
    cid = "proxy-%s-%s@sipd-test" % (proto, new_tag())
    callee_port, caller_port = two_ports(proto)
    work = tempfile.mkdtemp(prefix="sipd-sipp-proxy-")
    common = ["-key", "domain", DOMAIN, "-cid_str", cid]
    callee_cmd = sipp_cmd(callee_scenario, proto, callee_port, work, "callee",
                          ["-s", callee, "-au", callee, "-ap", epw, "-auth_uri", DOMAIN] + common
                          + list(extra_callee), (host, port))
    caller_cmd = sipp_cmd(caller_scenario, proto, caller_port, work, "caller",
                          ["-s", callee, "-au", caller, "-ap", cpw, "-auth_uri", "%s@%s" % (callee, DOMAIN),
                           "-key", "caller", caller] + common, (host, port))
    try:
        with BackgroundTool(callee_cmd, cwd=work) as bg:
            wait_registered(env, callee, epw, callee_port, bg)
            status, out = run_tool(caller_cmd, cwd=work, timeout=TOOL_TIMEOUT)
            if status != 0:
                bg.kill()  # it would wait for its INVITE until SIPP_TIMEOUT
            cstatus, cout = bg.wait(TOOL_TIMEOUT)
        expect(status == 0, "SIPp caller exited %d (0 = the call succeeded)\n%s\n%s"
               % (status, out[-2500:], sipp_errors(work)))
        expect(cstatus == 0, "SIPp callee exited %d (0 = the call succeeded)\n%s\n%s"
               % (cstatus, cout[-2500:], sipp_errors(work)))
        return (work, parse_sipp_trace(os.path.join(work, "caller.msg")),
                parse_sipp_trace(os.path.join(work, "callee.msg")), caller_port, callee_port)
    except Exception:
        shutil.rmtree(work, ignore_errors=True)
        raise


def trace_find(trace, direction, what, nth=0):
    """The nth message (-1: the last) of a SIPp trace going that direction
    whose method (requests) or "STATUS METHOD" (responses, e.g. "200
    INVITE") is what; retransmissions (same start line, Via branch, CSeq)
    counted once."""
    seen, found = set(), []
    for d, _, m in trace:
        if d != direction:
            continue
        key = m.method if not m.is_response else "%d %s" % (m.status, (m.cseq() or (0, ""))[1])
        if key != what:
            continue
        ident = (m.start_line, branch_of(m), m.headers.get("CSeq"))
        if ident in seen:
            continue
        seen.add(ident)
        found.append(m)
    return found[nth] if -len(found) <= nth < len(found) else None


def trace_text(trace):
    return "\n".join("%-8s %s" % (d, m.start_line) for d, _, m in trace)


def sipp_call(env, proto):
    """SIPp caller → sipd → SIPp callee that registered first."""
    caller, cpw = env.user()
    callee, epw = env.user()
    want_rr = rr_uri(env.sipd, proto)
    work, ct, et, caller_port, callee_port = run_pair(
        env, proto, "proxy_callee.xml", "proxy_caller.xml", caller, cpw, callee, epw,
        ["-set", "rr_want", want_rr[:-1]])
    try:
        T = proto.upper()
        contact = "sip:%s@127.0.0.1:%d;transport=%s" % (callee, callee_port, T)
        # the caller's side
        first = trace_find(ct, "sent", "INVITE", 0)
        second = trace_find(ct, "sent", "INVITE", 1)
        expect(first is not None and second is not None, "the caller did not send two INVITEs\n"
               + trace_text(ct))
        r407 = trace_find(ct, "received", "407 INVITE")
        expect(r407 is not None and r407.headers.get("Proxy-Authenticate"),
               "no 407 with Proxy-Authenticate at the caller\n" + trace_text(ct))
        for what in ("180 INVITE", "200 INVITE", "200 BYE"):
            r = trace_find(ct, "received", what)
            expect(r is not None, "the caller got no %s\n%s" % (what, trace_text(ct)))
            v = vias(r)
            expect(len(v) == 1, "%s at the caller has %d Vias (sipd must remove its own)"
                   % (what, len(v)), r)
        ok = trace_find(ct, "received", "200 INVITE")
        expect(branch_of(ok) == branch_of(second), "the 200's Via is not the caller's", ok)
        expect(rr_plain(ok.headers.values("Record-Route")) == [want_rr], "Record-Route at the caller %r, expected %r"
               % (ok.headers.values("Record-Route"), [want_rr]), ok)
        # the callee's side
        inv = trace_find(et, "received", "INVITE")
        expect(inv is not None, "the callee got no INVITE\n" + trace_text(et))
        expect(uri_eq(inv.uri, contact), "INVITE Request-URI %s, expected the contact %s"
               % (inv.uri, contact), inv)
        v = vias(inv)
        expect(len(v) == 2, "the INVITE at the callee has %d Vias, expected sipd's and the caller's"
               % len(v), inv)
        check_sipd_via(inv, env.sipd, proto, "INVITE at the callee")
        expect(v[1]["params"].get("branch") == branch_of(second),
               "the second Via is not the caller's (branch %s, sent %s)"
               % (v[1]["params"].get("branch"), branch_of(second)), inv)
        expect((inv["Max-Forwards"] or "").strip() == "69", "Max-Forwards %r at the callee, sent 70"
               % inv["Max-Forwards"], inv)
        expect(rr_plain(inv.headers.values("Record-Route")) == [want_rr], "Record-Route at the callee %r, expected %r"
               % (inv.headers.values("Record-Route"), [want_rr]), inv)
        expect(inv.body == second.body, "the SDP changed on the way:\n%r\n%r" % (second.body, inv.body))
        for method in ("ACK", "BYE"):
            m = trace_find(et, "received", method)
            expect(m is not None, "the callee got no %s (sent through sipd with Route)\n%s"
                   % (method, trace_text(et)))
            sent = trace_find(ct, "sent", method, -1)  # the first ACK is the 407's
            expect(sent is not None and rr_plain(sent.headers.values("Route")) == [want_rr],
                   "the caller's %s did not carry Route: %s" % (method, want_rr), sent)
            expect(not m.headers.values("Route"), "%s at the callee still has Route %r (sipd must drop its own)"
                   % (method, m.headers.values("Route")), m)
            expect(uri_eq(m.uri, contact), "%s Request-URI %s, expected %s" % (method, m.uri, contact), m)
            check_sipd_via(m, env.sipd, proto, method + " at the callee")
            expect(len(vias(m)) == 2, "%s at the callee has %d Vias" % (method, len(vias(m))), m)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sipp_message(env, proto):
    """SIPp MESSAGE → sipd → SIPp receiver that registered first (seed 001)."""
    caller, cpw = env.user()
    callee, epw = env.user()
    work, ct, et, caller_port, callee_port = run_pair(
        env, proto, "proxy_message_callee.xml", "proxy_message_caller.xml", caller, cpw, callee, epw)
    try:
        contact = "sip:%s@127.0.0.1:%d;transport=%s" % (callee, callee_port, proto.upper())
        second = trace_find(ct, "sent", "MESSAGE", 1)
        expect(second is not None, "the caller did not send MESSAGE twice\n" + trace_text(ct))
        r407 = trace_find(ct, "received", "407 MESSAGE")
        expect(r407 is not None, "no 407 to the first MESSAGE\n" + trace_text(ct))
        msg = trace_find(et, "received", "MESSAGE")
        expect(msg is not None, "the receiver got no MESSAGE\n" + trace_text(et))
        expect(uri_eq(msg.uri, contact), "MESSAGE Request-URI %s, expected %s" % (msg.uri, contact), msg)
        expect(len(vias(msg)) == 2, "the MESSAGE has %d Vias, expected sipd's on the caller's"
               % len(vias(msg)), msg)
        check_sipd_via(msg, env.sipd, proto, "MESSAGE at the receiver")
        expect(vias(msg)[1]["params"].get("branch") == branch_of(second), "the caller's Via is not second", msg)
        expect((msg["Max-Forwards"] or "").strip() == "69", "Max-Forwards %r, sent 70" % msg["Max-Forwards"], msg)
        expect(msg.body == second.body and len(msg.body) > 0,
               "the body changed on the way:\nsent     %r\nreceived %r" % (second.body, msg.body))
        expect(msg["Content-Type"] == second["Content-Type"], "Content-Type %r, sent %r"
               % (msg["Content-Type"], second["Content-Type"]), msg)
        ok = trace_find(ct, "received", "200 MESSAGE")
        expect(ok is not None, "the caller got no 200\n" + trace_text(ct))
        v = vias(ok)
        expect(len(v) == 1 and v[0]["params"].get("branch") == branch_of(second),
               "the 200 at the caller has Vias %r; expected only the caller's" % ok.headers.values("Via"), ok)
        sent_200 = trace_find(et, "sent", "200 MESSAGE")
        expect(sent_200 is not None and ok.to_tag() == sent_200.to_tag(),
               "the 200's To tag is not the receiver's", ok)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
# one call, Python on both ends


def mixed_transports(env):
    """Caller on UDP, callee on TCP: the callee gets the INVITE on the
    connection it registered from, with two Record-Routes (the TCP one on
    top, facing it); a re-INVITE in the dialog is not challenged; the
    callee's BYE, routed along both, reaches the caller without Route."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    tcp_rr, udp_rr = rr_uri(env.sipd, "tcp"), rr_uri(env.sipd, "udp")
    with Callee(env.sipd, b, bpw, "tcp", events=ev, plan=Plan(200)) as cb, \
            Caller(env.sipd, a, apw, "udp", events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.first, 407, "INVITE without credentials")
        r = expect_response(call.final, 200, "INVITE with credentials")
        inv = cb.wait_for("INVITE")
        expect(inv is not None, "the TCP callee got no INVITE on its REGISTER connection", ev.text())
        expect(uri_eq(inv.uri, cb.contact_uri), "Request-URI %s, expected the contact %s"
               % (inv.uri, cb.contact_uri), inv)
        check_sipd_via(inv, env.sipd, "tcp", "INVITE at the TCP callee")
        rr = rr_plain(inv.headers.values("Record-Route"))
        expect(rr == [tcp_rr, udp_rr], "Record-Route at the callee %r, expected %r" % (rr, [tcp_rr, udp_rr]),
               inv)
        expect(rr_plain(r.headers.values("Record-Route")) == [tcp_rr, udp_rr], "Record-Route at the caller %r"
               % r.headers.values("Record-Route"), r)
        expect(any(p.status == 180 for p in call.provisional), "the 180 was not forwarded", ev.text())
        no_forwarded_100(call, ev)
        ca.ack(call)
        ack = cb.wait_for("ACK")
        expect(ack is not None, "the ACK did not reach the callee", ev.text())
        expect(not ack.headers.values("Route"), "ACK still has Route %r" % ack.headers.values("Route"), ack)
        expect(uri_eq(ack.uri, cb.contact_uri), "ACK Request-URI %s" % ack.uri, ack)
        # re-INVITE, in the dialog: no challenge
        r2 = ca.in_dialog(call, "INVITE", CALL_TIMEOUT, body=SDP)
        expect_response(r2, 200, "re-INVITE in the dialog")
        reinv = cb.wait_for("INVITE", pred=lambda m: m.to_tag() is not None)
        expect(reinv is not None, "the re-INVITE did not reach the callee", ev.text())
        expect(not reinv.headers.values("Route"), "re-INVITE at the callee still has Route %r"
               % reinv.headers.values("Route"), reinv)
        expect(cb.wait_for("ACK", pred=lambda m: m.cseq() == (call.cseq, "ACK")) is not None,
               "the ACK of the re-INVITE did not arrive", ev.text())
        # the callee hangs up
        bye = cb.bye(inv["Call-ID"])
        got = ca.wait_request("BYE", CALL_TIMEOUT)
        expect(got is not None, "the callee's BYE did not reach the caller", ev.text())
        expect(not got.headers.values("Route"), "BYE at the caller still has Route %r"
               % got.headers.values("Route"), got)
        expect(uri_eq(got.uri, ca.contact_uri), "BYE Request-URI %s, expected %s" % (got.uri, ca.contact_uri),
               got)
        check_sipd_via(got, env.sipd, "udp", "BYE at the caller")
        ca.reply(got, 200)
        ok = cb.wait_for(200, pred=lambda m: m.cseq() == bye.cseq(), timeout=CALL_TIMEOUT)
        expect(ok is not None, "the caller's 200 to the BYE did not reach the callee", ev.text())
        no_errors(cb)


def strict_route(env):
    """A strict-routing caller (RFC 2543 style, RFC 3261 §16.4): its BYE
    names sipd in the Request-URI and the callee's contact in the last
    Route; sipd sends it to that contact with the contact as Request-URI
    and no Route left."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, "udp", events=ev, plan=Plan(200)) as cb, \
            Caller(env.sipd, a, apw, "udp", events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.final, 200, "INVITE with credentials")
        ca.ack(call)
        expect(cb.wait_for("ACK") is not None, "the ACK did not reach the callee", ev.text())
        # a strict router puts the first route, sipd's Record-Route URI
        # (with its dialog token), in the Request-URI
        expect(len(call.route) == 1, "route set %r, expected sipd's one Record-Route" % call.route)
        sipd_uri = call.route[0].strip("<>")
        call.route = ["<%s>" % call.target]
        call.target = sipd_uri
        r = ca.bye(call, CALL_TIMEOUT)
        expect_response(r, 200, "strict-routed BYE")
        bye = cb.wait_for("BYE")
        expect(bye is not None, "the strict-routed BYE did not reach the callee", ev.text())
        expect(uri_eq(bye.uri, cb.contact_uri), "BYE Request-URI %s, expected the contact %s"
               % (bye.uri, cb.contact_uri), bye)
        expect(not bye.headers.values("Route"), "BYE at the callee still has Route %r"
               % bye.headers.values("Route"), bye)
        no_errors(cb)


def log_line(env):
    """One line per server transaction on sipd's stderr: the challenged
    INVITE, the answered INVITE and the BYE, each with its status."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, "udp", events=ev) as cb, Caller(env.sipd, a, apw, "udp", events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.final, 200, "INVITE")
        ca.ack(call)
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE")
    head = r"%%s from sip:%s@example\.com to sip:%s@example\.com: " % (a, b)
    wants = [(head % "INVITE") + r"407 Proxy Authentication Required in \d+ ms",
             (head % "INVITE") + r"200 OK in \d+ ms",
             (head % "BYE") + r"200 OK in \d+ ms"]
    for want in wants:
        found = poll(lambda: re.search(r"(?m)%s\s*$" % want, env.sipd.stderr()), 5, 0.1)
        expect(found, "no log line matching %r\n%s" % (want, env.sipd.stderr_tail(12)))


# ---------------------------------------------------------------------------
# forking


def wait_ringing(ca, call, tags, timeout=CALL_TIMEOUT):
    """Poll until the caller has had a 180 from each of the To tags."""
    pred = ca._is_response_to(call)

    def have():
        m = ca.take(lambda x: pred(x) and x.status < 200, 0.05)
        if m is not None:
            call.provisional.append(m)
        return tags <= {p.to_tag() for p in call.provisional if p.status == 180}
    return poll(have, timeout, 0)


def fork_first_200(env):
    """Both contacts ring, the first 200 wins: the caller gets it (and no
    other final), the other branch gets CANCEL, answers 200 and 487, and
    sipd ACKs the 487 without forwarding it; ACK and BYE go to the winner."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(200, delay=ANSWER_DELAY), Plan(None)], ev)
    try:
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        r = expect_response(call.final, 200, "INVITE to two contacts")
        expect(c1.received("INVITE") and c2.received("INVITE"), "not both contacts got the INVITE", ev.text())
        t1 = list(c1.invites.values())[0].to_tag
        t2 = list(c2.invites.values())[0].to_tag
        expect(r.to_tag() == t1, "the 200 came with To tag %s, not the answering contact's %s"
               % (r.to_tag(), t1), r)
        tags = {p.to_tag() for p in call.provisional if p.status == 180}
        expect({t1, t2} <= tags, "the caller saw 180s with tags %r, expected both %r" % (tags, {t1, t2}),
               ev.text())
        no_forwarded_100(call, ev)
        expect(c2.wait_for("CANCEL", CALL_TIMEOUT) is not None, "the ringing contact got no CANCEL",
               ev.text())
        expect(c2.wait_for(487, kind="sent") is not None, "the ringing contact did not answer 487", ev.text())
        expect(c2.wait_for("ACK", CALL_TIMEOUT) is not None, "sipd did not ACK the 487", ev.text())
        others = ca.collect(lambda m: ca._is_response_to(call)(m) and m.status >= 200
                            and m.to_tag() != t1, QUIET)
        expect(not others, "the caller got other finals too: %r" % [m.start_line for m in others], ev.text())
        ca.ack(call)
        expect(c1.wait_for("ACK") is not None, "the ACK did not reach the winner", ev.text())
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE")
        expect(c1.received("BYE") and not c2.received("BYE"), "the BYE went to the wrong contact", ev.text())
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


def serial_q(env, failure):
    """q=1.0 is tried alone first; only when it failed (answered `failure`,
    late) does q=0.5 get the INVITE, and its 200 reaches the caller."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(failure, delay=SLOW_FAILURE), Plan(200)], ev, qs=("1.0", "0.5"))
    try:
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        r = expect_response(call.final, 200, "INVITE to q=1.0 (%d) then q=0.5 (200)" % failure)
        fail = ev.first(c1.name, "sent", failure)
        second = ev.first(c2.name, "recv", "INVITE")
        expect(second is not None, "the q=0.5 contact never got the INVITE", ev.text())
        expect(fail is not None and second[0] > fail[0],
               "the q=0.5 contact got the INVITE (event %d) before the q=1.0 one failed (%s): not serial"
               % (second[0], "event %d" % fail[0] if fail else "it never answered %d" % failure), ev.text())
        expect(r.to_tag() == list(c2.invites.values())[0].to_tag, "the 200 is not the q=0.5 contact's", r)
        failed = ca.collect(lambda m: m.is_response and m.status == failure, 0)
        expect(not failed, "the q=1.0 contact's %d reached the caller" % failure, ev.text())
        ca.ack(call)
        expect(c2.wait_for("ACK") is not None, "the ACK did not reach the q=0.5 contact", ev.text())
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE")
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


def busy_and_200(env):
    """One contact busy (486 at once), the other answers: the caller gets
    the 200 and never the 486."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(486, ring=False), Plan(200, delay=ANSWER_DELAY)], ev)
    try:
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        expect_response(call.final, 200, "INVITE, one contact busy")
        expect(c1.wait_for(486, kind="sent") is not None, "the busy contact did not answer", ev.text())
        busy = ca.collect(lambda m: m.is_response and m.status == 486, QUIET)
        expect(not busy, "the 486 was forwarded although another branch answered", ev.text())
        ca.ack(call)
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE")
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


def best_failure(env, first, second, want, first_headers=(), second_headers=()):
    """Both contacts fail, `first` at once, `second` a little later: the
    caller gets exactly one final, `want` (a status or a set)."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(first, ring=False, headers=first_headers),
                                       Plan(second, delay=ANSWER_DELAY, headers=second_headers)], ev)
    try:
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        r = expect_response(call.final, want, "INVITE, contacts answer %d and %d" % (first, second))
        for c in (c1, c2):
            expect(c.wait_for("ACK", CALL_TIMEOUT) is not None, "%s: sipd did not ACK its final" % c.name,
                   ev.text())
        more = ca.collect(lambda m: m.is_response and m.cseq() == (call.cseq, "INVITE") and m.status >= 200
                          and m.status != r.status, QUIET)
        expect(not more, "more than one final at the caller: %r" % [m.start_line for m in more], ev.text())
        no_errors(c1, c2)
        return r
    finally:
        close_all(ca, c1, c2)


def merged_challenges(env):
    """One contact answers 401, the other 407: the caller gets a 401 or
    407 carrying both challenges (RFC 3261 §16.7 step 6)."""
    r = best_failure(env, 401, 407, {401, 407},
                     [("WWW-Authenticate", 'Digest realm="callee-a.example", nonce="n-a", algorithm=MD5')],
                     [("Proxy-Authenticate", 'Digest realm="callee-b.example", nonce="n-b", algorithm=MD5')])
    www = [parse_challenge(v).get("realm") for v in r.headers.get_all("WWW-Authenticate")]
    prx = [parse_challenge(v).get("realm") for v in r.headers.get_all("Proxy-Authenticate")]
    expect("callee-a.example" in www, "the 401's WWW-Authenticate is missing: %r" % www, r)
    expect("callee-b.example" in prx, "the 407's Proxy-Authenticate is missing: %r" % prx, r)


def six_hundred_cancels(env):
    """A 603 from one contact ends the call at once: the other, ringing,
    gets CANCEL; the caller gets the 603."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(603, delay=ANSWER_DELAY), Plan(None)], ev)
    try:
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        expect_response(call.final, 603, "INVITE, one contact declines, the other rings")
        expect(c2.wait_for("CANCEL", CALL_TIMEOUT) is not None, "the ringing contact got no CANCEL", ev.text())
        expect(c2.wait_for("ACK", CALL_TIMEOUT) is not None, "sipd did not ACK the 487", ev.text())
        more = ca.collect(lambda m: m.is_response and m.status == 487, QUIET)
        expect(not more, "the 487 was forwarded after the 603", ev.text())
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


def server_error(env):
    """A 503 from the only contact becomes 500 at the caller (RFC 3261
    §16.7 step 6: a 503 is not forwarded)."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    with Caller(env.sipd, a, apw, events=ev) as ca, \
            Callee(env.sipd, x, xpw, events=ev, plan=Plan(503, ring=False)) as c:
        c.register()
        c.start()
        call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
        expect_response(call.final, 500, "INVITE answered 503 by the contact")
        expect(c.wait_for("ACK", CALL_TIMEOUT) is not None, "sipd did not ACK the 503", ev.text())
        no_errors(c)


def no_answer(env):
    """Neither contact answers at all (not even 100): timer B (64*T1 =
    6.4 s here) ends both branches and the caller gets 408."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan.silent(), Plan.silent()], ev)
    try:
        call = ca.begin("INVITE", aor(x), body=SDP)
        expect_response(call.first, 407, "INVITE without credentials")
        r = final_of(ca, call, TIMER_B_WAIT)
        expect_response(r, 408, "INVITE nobody answers (waited %d s)" % TIMER_B_WAIT)
        expect(c1.received("INVITE") and c2.received("INVITE"), "not both contacts got the INVITE", ev.text())
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


def caller_cancel(env):
    """The caller CANCELs while both ring: 200 to the CANCEL, 487 to the
    INVITE, and each contact got a CANCEL for its INVITE (answered 487,
    ACKed by sipd)."""
    a, apw = env.user()
    x, xpw = env.user()
    ev = EventLog()
    ca = Caller(env.sipd, a, apw, events=ev)
    c1, c2 = callee_pair(env, x, xpw, [Plan(None), Plan(None)], ev)
    try:
        call = ca.begin("INVITE", aor(x), body=SDP)
        expect_response(call.first, 407, "INVITE without credentials")
        expect(c1.wait_for("INVITE", CALL_TIMEOUT) and c2.wait_for("INVITE", CALL_TIMEOUT),
               "not both contacts got the INVITE", ev.text())
        tags = {list(c.invites.values())[0].to_tag for c in (c1, c2)}
        expect(wait_ringing(ca, call, tags), "the caller did not get both 180s", ev.text())
        expect_response(ca.cancel(call, CALL_TIMEOUT), 200, "CANCEL")
        expect_response(final_of(ca, call), 487, "the INVITE after CANCEL")
        for c in (c1, c2):
            cancel = c.wait_for("CANCEL", CALL_TIMEOUT)
            expect(cancel is not None, "%s got no CANCEL" % c.name, ev.text())
            inv = c.received("INVITE")[0]
            expect(branch_of(cancel) == branch_of(inv), "%s: the CANCEL's branch is not its INVITE's" % c.name,
                   cancel)
            expect(c.wait_for(487, kind="sent") is not None, "%s did not answer 487" % c.name, ev.text())
            expect(c.wait_for("ACK", CALL_TIMEOUT) is not None, "%s: sipd did not ACK the 487" % c.name,
                   ev.text())
        no_errors(c1, c2)
    finally:
        close_all(ca, c1, c2)


# ---------------------------------------------------------------------------
# who may call whom


def challenged(env):
    """Out-of-dialog INVITE, MESSAGE, OPTIONS to a user and SUBSCRIBE from
    a local user, without credentials: 407 with a Digest Proxy-Authenticate
    (realm example.com, MD5, qop auth, a nonce), and nothing is forwarded."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev) as cb, Caller(env.sipd, a, apw, events=ev) as ca:
        cb.register()
        cb.start()
        for method, body, headers in (("INVITE", SDP, ()), ("MESSAGE", "hello", ()), ("OPTIONS", b"", ()),
                                      ("SUBSCRIBE", b"", [("Event", "presence"), ("Expires", "600")])):
            call = ca.start(method, aor(b), body=body, headers=headers)
            r = expect_response(ca.response(call, CALL_TIMEOUT), 407, "%s without credentials" % method)
            chals = challenges(r, "Proxy-Authenticate")
            expect(chals, "407 to %s without Proxy-Authenticate" % method, r)
            c = chals[0]
            expect(c.get("scheme", "").lower() == "digest", "scheme %r" % c.get("scheme"), r)
            expect(c.get("realm") == DOMAIN, "realm %r" % c.get("realm"), r)
            expect(c.get("nonce"), "no nonce", r)
            expect(c.get("algorithm", "MD5").upper() == "MD5", "algorithm %r" % c.get("algorithm"), r)
            expect("auth" in [q.strip() for q in c.get("qop", "").split(",")], "no qop=auth", r)
            expect(r.to_tag(), "407 without To tag", r)
        forwarded = poll(lambda: [e for e in ev.find(cb.name, "recv") if not e[4].is_response], QUIET)
        expect(not forwarded, "challenged requests reached the callee: %r" % [e[3] for e in forwarded],
               ev.text())
        no_errors(cb)


def wrong_password(env):
    """Credentials with a wrong password: 407 again with a fresh nonce;
    nothing forwarded."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev) as cb, Caller(env.sipd, a, apw, events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.begin("INVITE", aor(b), body=SDP, password="not-" + apw)
        first = expect_response(call.first, 407, "INVITE without credentials")
        r = expect_response(final_of(ca, call), 407, "INVITE with a wrong password")
        n1 = challenges(first, "Proxy-Authenticate")[0].get("nonce")
        n2 = (challenges(r, "Proxy-Authenticate") or [{}])[0].get("nonce")
        expect(n2 and n2 != n1, "the second 407 has nonce %r, the first %r" % (n2, n1), r)
        expect(cb.wait_for("INVITE", QUIET) is None, "an INVITE with a wrong password was forwarded", ev.text())
        no_errors(cb)


def spoofed_from(env):
    """Authenticated as one user with another user's From: 403, nothing
    forwarded."""
    a, apw = env.user()
    victim, _ = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev) as cb, \
            Caller(env.sipd, a, apw, from_uri=aor(victim), events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.first, 407, "INVITE From %s without credentials" % victim)
        expect_response(call.final, 403, "INVITE From %s with %s's credentials" % (victim, a))
        expect(cb.wait_for("INVITE", QUIET) is None, "the spoofed INVITE was forwarded", ev.text())
        no_errors(cb)


def foreign_caller(env):
    """From a domain sipd does not serve to a local user: no challenge
    (proxy.foreign_callers defaults to true), the call goes through."""
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev) as cb, \
            Caller(env.sipd, "visitor", None, from_uri="sip:visitor@elsewhere.org", events=ev) as ca:
        cb.register()
        cb.start()
        call = ca.invite(aor(b), timeout=CALL_TIMEOUT)
        expect_response(call.first, 200, "INVITE from sip:visitor@elsewhere.org (no challenge expected)")
        expect(cb.received("INVITE"), "the callee got no INVITE", ev.text())
        ca.ack(call)
        expect_response(ca.bye(call, CALL_TIMEOUT), 200, "BYE")
        no_errors(cb)


def open_relay(env):
    """Foreign to foreign (neither From nor Request-URI served): 403 for
    INVITE and MESSAGE, never a challenge."""
    ev = EventLog()
    with Caller(env.sipd, "stranger", None, from_uri="sip:stranger@elsewhere.org", events=ev) as ca:
        for method, body in (("INVITE", SDP), ("MESSAGE", "relay this")):
            call = ca.start(method, "sip:someone@far-away.example.net", body=body)
            expect_response(ca.response(call, CALL_TIMEOUT), 403, "%s foreign → foreign" % method)


def options_to_sipd(env):
    """OPTIONS to sipd itself (no user part: the domain, or its address
    and port), From a local user: 200 without a challenge, also with
    Max-Forwards 0."""
    a, apw = env.user()
    host, port = env.sipd.addr("udp")
    with Caller(env.sipd, a, apw) as ca:
        for ruri in ("sip:%s" % DOMAIN, "sip:%s:%d" % (host, port)):
            for mf in (70, 0):
                call = ca.start("OPTIONS", ruri, max_forwards=mf)
                expect_response(ca.response(call, CALL_TIMEOUT), 200, "OPTIONS %s, Max-Forwards %d" % (ruri, mf))


def max_forwards(env):
    """Max-Forwards 0 to a user: 483 before any challenge (INVITE and
    MESSAGE); Max-Forwards 1: forwarded with Max-Forwards 0."""
    a, apw = env.user()
    b, bpw = env.user()
    ev = EventLog()
    with Callee(env.sipd, b, bpw, events=ev, plan=Plan(603, ring=False)) as cb, \
            Caller(env.sipd, a, apw, events=ev) as ca:
        cb.register()
        cb.start()
        for method, body in (("INVITE", SDP), ("MESSAGE", "hop")):
            call = ca.start(method, aor(b), body=body, max_forwards=0)
            expect_response(ca.response(call, CALL_TIMEOUT), 483, "%s with Max-Forwards 0" % method)
        expect(cb.wait_for("INVITE", QUIET) is None and not cb.received("MESSAGE"),
               "a request with Max-Forwards 0 was forwarded", ev.text())
        call = ca.invite(aor(b), max_forwards=1, timeout=CALL_TIMEOUT)
        expect_response(call.final, 603, "INVITE with Max-Forwards 1")
        inv = cb.wait_for("INVITE")
        expect(inv is not None, "the INVITE with Max-Forwards 1 was not forwarded", ev.text())
        expect((inv["Max-Forwards"] or "").strip() == "0", "Max-Forwards %r at the callee, sent 1"
               % inv["Max-Forwards"], inv)
        no_errors(cb)


class Reflector:
    """A minimal stateless proxy on one UDP socket (the one a user
    registered from) that sends every request it gets back to sipd, with
    its own Via on top (branch derived from the incoming one, so ACK and
    CANCEL match) and Max-Forwards decremented, and every response back
    along the Via. With a contact that names sipd, this closes a loop
    whichever way sipd routes: to the contact (itself) or to the source
    of the REGISTER (here)."""

    def __init__(self, ua, sipd_addr):
        self.client, self.sipd_addr = ua.client, sipd_addr
        self.local = ua.local
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self):
        while not self._stop.is_set():
            got = self.client.recv_raw(0.05)
            if got is None:
                continue
            data = got[0]
            try:
                m = parse_message(data)
            except Exception:
                continue
            if m.is_response:
                self._response(data, m)
            else:
                self._request(data, m)

    def _request(self, data, m):
        self.requests += 1
        b = hashlib.sha1((branch_of(m) or "").encode()).hexdigest()[:16]
        head, _, rest = data.partition(b"\r\n")
        via = "Via: SIP/2.0/UDP %s;branch=z9hG4bK-refl-%s;rport" % (hostport(self.local), b)
        rest = re.sub(rb"(?im)^(Max-Forwards[ \t]*:[ \t]*)(\d+)",
                      lambda x: x.group(1) + str(max(int(x.group(2)) - 1, 0)).encode(), rest, count=1)
        self.client.send(head + b"\r\n" + via.encode() + b"\r\n" + rest, self.sipd_addr)

    def _response(self, data, m):
        # drop the first Via line (ours) and send to the next Via's sent-by
        lines = data.split(b"\r\n")
        for i, line in enumerate(lines):
            if re.match(rb"(?i)^(via|v)[ \t]*:", line):
                name, _, value = line.partition(b":")
                rest = value.split(b",", 1)
                if len(rest) == 2:
                    lines[i] = name + b":" + rest[1]
                else:
                    del lines[i]
                break
        out = b"\r\n".join(lines)
        nxt = parse_message(out).top_via()
        if nxt is None:
            return
        host = nxt["params"].get("received") or nxt["host"]
        port = int(nxt["params"].get("rport") or 0) or nxt["port"] or 5060
        self.client.send(out, (host, port))


def loop(env):
    """A user whose contact is sipd itself (sip:USER@127.0.0.1:SIPDPORT),
    registered from a socket that reflects requests back to sipd: an
    INVITE to that user ends with 482 Loop Detected or 483 Too Many Hops,
    within LOOP_TIMEOUT, and sipd keeps working. The caller is foreign, so
    no hop is challenged."""
    loop_user, lpw = env.user()
    host, port = env.sipd.addr("udp")
    with Ua(env.sipd, "udp", user=loop_user, password=lpw) as ua, \
            Caller(env.sipd, "looper", None, from_uri="sip:looper@elsewhere.org") as ca:
        r = ua.register(["<sip:%s@%s:%d>" % (loop_user, host, port)], 600)
        expect_response(r, 200, "REGISTER a contact naming sipd itself")
        refl = Reflector(ua, (host, port))
        refl.start()
        try:
            call = ca.start("INVITE", aor(loop_user), body=SDP)
            r = ca.response(call, LOOP_TIMEOUT)
            expect_response(r, {482, 483}, "INVITE into a loop (waited %d s; %d requests came back through "
                            "the registering socket)" % (LOOP_TIMEOUT, refl.requests))
        finally:
            refl.stop()
    env.sipd.ping("udp")


def not_found(env):
    """An unknown user: 404; a user without a binding: 480 (INVITE and
    MESSAGE, after the caller's authentication)."""
    a, apw = env.user()
    idle, _ = env.user()
    with Caller(env.sipd, a, apw) as ca:
        for method, body in (("INVITE", SDP), ("MESSAGE", "anyone there?")):
            for target, status in (("nobody-%s" % new_tag(), 404), (idle, 480)):
                call = ca.request(method, aor(target), body=body, timeout=CALL_TIMEOUT)
                expect_response(call.first, 407, "%s to %s without credentials" % (method, target))
                expect_response(call.final, status, "%s to %s" % (method, target))


# ---------------------------------------------------------------------------
# redirect mode


def redirect(binary):
    """proxy.redirect=all: an INVITE to a user with two bindings, after
    the caller's authentication, gets 302 listing both with their q, and
    no INVITE is forwarded."""
    env = Env(binary, users=4, settings={"proxy.redirect": "all"})
    try:
        env.setup()
        a, apw = env.user()
        x, xpw = env.user()
        with Ua(env.sipd, "udp", user=x, password=xpw) as ua, Caller(env.sipd, a, apw) as ca:
            c1, c2 = ua.contact("-a"), ua.contact("-b")
            expect_response(ua.register(["<%s>;q=1.0" % c1, "<%s>;q=0.5" % c2], 600), 200, "REGISTER two")
            call = ca.invite(aor(x), timeout=CALL_TIMEOUT)
            expect_response(call.first, 407, "INVITE without credentials")
            r = expect_response(call.final, 302, "INVITE in redirect mode")
            got = {}
            for v in r.headers.values("Contact"):
                rest = v[v.find(">") + 1:] if "<" in v else v[len(contact_uri(v)):]
                q = None
                for p in rest.split(";"):
                    k, _, val = p.partition("=")
                    if k.strip().lower() == "q":
                        q = val.strip()
                got[contact_uri(v).lower()] = q
            expect(set(got) == {c1.lower(), c2.lower()}, "302 Contacts %r, expected %s and %s" % (got, c1, c2), r)
            expect(got[c2.lower()] is not None and float(got[c2.lower()]) == 0.5,
                   "q of %s is %r, registered 0.5" % (c2, got[c2.lower()]), r)
            q1 = got[c1.lower()]
            expect(q1 is None or float(q1) == 1.0, "q of %s is %r, registered 1.0" % (c1, q1), r)
            leaked = [d for d in ua.client.quiet(QUIET) if not d.startswith(b"SIP/2.0")]
            expect(not leaked, "an INVITE was forwarded in redirect mode", *leaked)
    finally:
        env.remove()


# ---------------------------------------------------------------------------


def main():
    binary = binary_from_argv()
    tap = Tap()
    env = Env(binary)
    try:
        if not env_started(tap, env, env.setup):
            return tap.finish()

        on_env = shared_env_runner(env)

        tests = []
        for proto in ("udp", "tcp"):
            P = proto.upper()
            tests += [
                ("%s: SIPp call: 407, INVITE with credentials, 180, 200, Record-Route, ACK and BYE "
                 "routed to the registered SIPp callee" % P, on_env(sipp_call, proto)),
                ("%s: SIPp MESSAGE: 407, relayed body byte for byte, Max-Forwards 69, 200 with "
                 "sipd's Via removed" % P, on_env(sipp_message, proto)),
            ]
        tests += [
            ("UDP caller, TCP callee: two Record-Routes, re-INVITE not challenged, callee's BYE routed",
             on_env(mixed_transports)),
            ("log: one line per server transaction, METHOD from .. to ..: STATUS REASON in N ms",
             on_env(log_line)),
            ("strict routing: BYE with sipd as Request-URI and the contact as last Route",
             on_env(strict_route)),
            ("fork: both ring, the first 200 wins, the other gets CANCEL; one final at the caller",
             on_env(fork_first_200)),
            ("fork: q=1.0 answers 486, only then q=0.5 gets the INVITE and answers 200",
             on_env(serial_q, 486)),
            ("fork: q=1.0 answers 480, only then q=0.5 gets the INVITE and answers 200",
             on_env(serial_q, 480)),
            ("fork: 486 on one contact, 200 on the other → 200, the 486 not forwarded",
             on_env(busy_and_200)),
            ("fork: 486 + 603 → 603", on_env(best_failure, 486, 603, 603)),
            ("fork: 603 + 486 → 603", on_env(best_failure, 603, 486, 603)),
            ("fork: 486 + 500 → 486", on_env(best_failure, 486, 500, 486)),
            ("fork: 500 + 404 → 404 (lowest class)", on_env(best_failure, 500, 404, 404)),
            ("fork: 401 + 407 → one response with both challenges", on_env(merged_challenges)),
            ("fork: a 603 CANCELs the ringing contact", on_env(six_hundred_cancels)),
            ("503 from the contact → 500 to the caller", on_env(server_error)),
            ("fork: no answer at all → 408 after timer B", on_env(no_answer)),
            ("fork: caller CANCEL → 200, 487, CANCEL at every contact", on_env(caller_cancel)),
            ("INVITE, MESSAGE, OPTIONS, SUBSCRIBE without credentials → 407, nothing forwarded",
             on_env(challenged)),
            ("wrong password → 407 with a fresh nonce, nothing forwarded", on_env(wrong_password)),
            ("authenticated as one user with another's From → 403", on_env(spoofed_from)),
            ("foreign caller to a local user: no challenge, call connected", on_env(foreign_caller)),
            ("foreign → foreign (open relay) → 403", on_env(open_relay)),
            ("OPTIONS to sipd itself → 200 without challenge, also with Max-Forwards 0",
             on_env(options_to_sipd)),
            ("Max-Forwards 0 → 483 before authentication; 1 → forwarded with 0", on_env(max_forwards)),
            ("contact pointing back at sipd: INVITE ends in 482/483", on_env(loop)),
            ("unknown user → 404, user without binding → 480 (INVITE and MESSAGE)", on_env(not_found)),
        ]
        for name, fn in tests:
            tap.run(name, fn)
    finally:
        env.remove()
    tap.run("proxy.redirect=all: 302 with both bindings and their q, nothing forwarded", redirect, binary)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
