#!/usr/bin/env python3
"""test_workers.py - sipd with server.workers = 2: two event loops on two
threads, each with its own SO_REUSEPORT socket per listener.

    test_workers.py PATH/TO/sipd        (prints TAP)

The kernel spreads UDP peers over the two sockets by address, so a request
sipd forwards from one loop is often answered on the other one's socket:
that loop must hand the response to the loop that owns the client
transaction. A callee registered over TCP has its connection on one loop;
a caller whose datagrams land on the other loop must still reach it on
that connection. Many callers and callees on their own ports make both
cases certain (each peer lands on either loop by a hash of its address);
sipd's debug log names every hand-over, which the tests count.

Also: both loops and the store writer run as threads of their own; a
second sipd with workers cannot take a port in use (SO_REUSEPORT would
otherwise let it share the port silently). The registrar, proxy, SIPp and
softphone suites run a second time with 2 workers (SIPD_TEST_WORKERS in
meson.build).
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sipd_harness import Tap, binary_from_argv, expect, poll  # noqa: E402
from sip_auth import DOMAIN, Caller, Callee, Db, EventLog, Plan, env_started  # noqa: E402
from test_proxy import Env  # noqa: E402  (users 100.., the shared sipd)

SETTINGS = {"server.workers": "2"}
PEERS = 12  # callees and callers each: 2^-12 that every one lands on one loop
USERS = 4 * PEERS + 8
CALL_TIMEOUT = 10  # s
LOG_WAIT = 5  # s: for the debug lines of what already happened


def aor(user):
    return "sip:%s@%s" % (user, DOMAIN)


def count_in_log(sipd, text):
    return sipd.stderr().count(text)


def threads(env):
    """The sipd process runs worker 1 and the store writer as threads beside
    the main one (worker 0), and says it runs 2 workers."""
    pid = env.sipd.proc.pid
    names = sorted(open("/proc/%d/task/%s/comm" % (pid, t)).read().strip()
                   for t in os.listdir("/proc/%d/task" % pid))
    expect(len(names) >= 3, "sipd has %d threads (%s), expected at least 3" % (len(names), names))
    expect("sipd-worker-1" in names, "no thread named sipd-worker-1: %s" % names)
    expect("sipd-store" in names, "no thread named sipd-store: %s" % names)
    expect(poll(lambda: "2 worker(s)" in env.sipd.stderr(), LOG_WAIT),
           "the ready log line does not say 2 worker(s)", env.sipd.stderr_tail())


def messages_cross_loops(env, proto):
    """PEERS callees (over proto) and PEERS callers (UDP), each on its own
    port: every MESSAGE, after its 407, reaches its callee and the caller
    gets the callee's 200; and sipd handed responses (UDP) or sends (TCP)
    from one loop to the other."""
    ev = EventLog()
    callees, callers = [], []
    before_resp = count_in_log(env.sipd, "handed to worker")
    before_send = count_in_log(env.sipd, "tcp send handed to the loop of its connection")
    try:
        for _ in range(PEERS):
            b, bpw = env.user()
            c = Callee(env.sipd, b, bpw, proto, events=ev, plan=Plan(200))
            callees.append((b, c))
            c.register()
            c.start()
            a, apw = env.user()
            callers.append(Caller(env.sipd, a, apw, "udp", events=ev))
        for i, ((b, cb), ca) in enumerate(zip(callees, callers)):
            text = "message %d over %s" % (i, proto)
            call = ca.begin("MESSAGE", aor(b), body=text, content_type="text/plain")
            expect(call.first is not None and call.first.status == 407,
                   "MESSAGE %d: first answer %s, expected 407" % (i, call.first and call.first.status),
                   ev.text())
            r = ca.finish(call, CALL_TIMEOUT)
            expect(r is not None and r.status == 200,
                   "MESSAGE %d to %s: final %s, expected 200" % (i, b, r and r.status), ev.text())
            got = cb.wait_for("MESSAGE", CALL_TIMEOUT)
            expect(got is not None, "callee %s got no MESSAGE" % b, ev.text())
            body = got.body if isinstance(got.body, str) else got.body.decode()
            expect(body == text, "callee %s got %r, expected %r" % (b, body, text), got)
    finally:
        for _, c in callees:
            c.close()
        for c in callers:
            c.close()
    if proto == "udp":
        ok = poll(lambda: count_in_log(env.sipd, "handed to worker") > before_resp, LOG_WAIT)
        expect(ok, "no response was handed from one loop to the other over %d peers" % PEERS,
               env.sipd.stderr_tail(40))
    else:
        ok = poll(lambda: count_in_log(env.sipd, "tcp send handed to the loop of its connection")
                  > before_send, LOG_WAIT)
        expect(ok, "no send was handed to the loop that owns the TCP connection over %d callers"
               % PEERS, env.sipd.stderr_tail(40))


def port_in_use(env):
    """A second sipd with 2 workers on the first one's UDP port: exit 2 with
    'cannot listen on', not a silent share of the port."""
    host, port = env.sipd.addr("udp")
    db = Db()
    try:
        cmd = [env.binary, "--listen", "udp:%s:%d" % (host, port), "--db", db.url, "--http", "off",
               "--set", "server.workers=2"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=20)
        expect(p.returncode == 2, "second sipd on a port in use: exit %s, expected 2" % p.returncode,
               p.stderr)
        lines = [line for line in p.stderr.splitlines() if line.startswith("sipd:")]
        expect(len(lines) == 1 and "cannot listen on udp:%s:%d" % (host, port) in lines[0],
               "stderr %r" % p.stderr)
        expect("Address already in use" in lines[0], "stderr %r" % p.stderr)
    finally:
        db.remove()


def main():
    binary = binary_from_argv()
    tap = Tap()
    os.environ["SIPD_TEST_LOG_LEVEL"] = "debug"  # the hand-overs are logged at debug
    env = Env(binary, users=USERS, settings=SETTINGS)
    try:
        if not env_started(tap, env, env.setup):
            return tap.finish()
        tap.run("two workers: two loop threads and the store writer", threads, env)
        tap.run("UDP callees: responses arriving on the other loop reach their transaction",
                messages_cross_loops, env, "udp")
        tap.run("TCP callees: a request from the other loop goes out on the callee's connection",
                messages_cross_loops, env, "tcp")
        tap.run("a port in use is refused with workers (SO_REUSEPORT does not share it)",
                port_in_use, env)
    finally:
        env.remove()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
