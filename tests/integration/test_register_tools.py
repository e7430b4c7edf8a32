#!/usr/bin/env python3
"""test_register_tools.py - real SIP clients registering with digest
authentication at the real sipd.

    test_register_tools.py PATH/TO/sipd        (prints TAP)

sipsak (package sipsak) in usrloc mode (-U) registers alice@localhost
with a password, through sipd as outbound proxy (-p), over UDP and TCP,
and must exit 0 (a 200 came back). sipd serves a second domain,
"localhost", for it: sipsak resolves the host of its -s URI (example.com
does not resolve here), and with an address and a 5-digit port in -s it
cuts the port short in From and To. -u names the digest user (sipsak would
send "alice@").

Neither sipsak 0.9.8 nor SIPp 3.6 can answer a challenge whose first line
is not MD5 (each reads only the first WWW-Authenticate), so this sipd runs
with auth.algorithms = MD5: one challenge line, MD5. The default (SHA-256
then MD5) is tested with the test's own client in test_register.py. SIPp (package sip-tester) runs
scenarios/reg_auth_1000.xml with the injection file
scenarios/reg_auth_1000_users.csv: 1000 users (created with `sipd user
import`, or `sipd user add` one by one when import is missing) register
at 200 per second, each answering the 401 with [authentication], and no
call may fail; afterwards the store lists 1000 bindings. A client that is
not installed is a SKIP.
"""

import os
import re
import shutil
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (Skip, Tap, binary_from_argv, expect, expect_sipp_success,  # noqa: E402
                          need_tool, run_tool)
from sip_auth import DOMAIN, Db, Ua, bindings  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "scenarios", "reg_auth_1000.xml")
USERS_CSV = os.path.join(HERE, "scenarios", "reg_auth_1000_users.csv")
CLIENT_TIMEOUT = 120  # s: a hung client fails its test, it does not hang the suite
LISTEN = ("udp:127.0.0.1:0", "tcp:127.0.0.1:0")


def run(cmd, cwd=None, timeout=CLIENT_TIMEOUT):
    return run_tool(cmd, cwd=cwd, timeout=timeout)


need = need_tool


def kernel_port(proto):
    """A port the kernel picks as free on 127.0.0.1 (see test_sipsak.py)."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csv_users():
    """(user, password) of every line of the SIPp injection file."""
    out = []
    with open(USERS_CSV) as f:
        for line in f:
            m = re.match(r"^([^;]+);[^;]+;\[authentication username=(\S+) password=([^\]\s]+)\]", line)
            if m:
                out.append((m.group(2), m.group(3)))
    return out


class Env:
    def __init__(self, binary):
        self.binary = binary
        self.db = Db()
        self.sipd = None
        self.how = None

    def setup(self, users):
        self.how = self.db.import_users(self.binary, users)
        self.db.add_user(self.binary, "alice", "secret", domain="localhost")
        self.sipd = self.db.sipd(self.binary, LISTEN, {"timers.t1": "500ms", "auth.algorithms": "MD5"},
                                 domains=(DOMAIN, "localhost")).start()

    def remove(self):
        if self.sipd:
            self.sipd.stop()
        self.db.remove()


def sipsak_register(env, proto):
    tool = need("sipsak")
    host, port = env.sipd.addr(proto)
    cmd = [tool, "-U", "-C", "sip:alice@127.0.0.1:%d" % kernel_port(proto),
           "-s", "sip:alice@localhost", "-p", "%s:%d" % (host, port), "-u", "alice", "-a", "secret",
           "-x", "60", "-vv"]
    if proto == "tcp":
        cmd[1:1] = ["-E", "tcp"]
    status, out = run(cmd)
    expect(status == 0, "%s exited %d (0 = registered):\n%s" % (" ".join(cmd), status, out[-3000:]))
    # the binding is there: alice queries with her own credentials
    with Ua(env.sipd, "udp", user="alice", password="secret", domain="localhost") as ua:
        r = ua.register(None)
        expect(r is not None and r.status == 200, "query after sipsak: %s" % (r and r.start_line), r)
        expect(any("127.0.0.1" in u for u in bindings(r)), "no binding after sipsak: %r" % bindings(r), r)


def sipp_register_1000(env, transport):
    tool = need("sipp")
    proto = "udp" if transport == "u1" else "tcp"
    host, port = env.sipd.addr(proto)
    work = tempfile.mkdtemp(prefix="sipd-sipp-")
    total = len(csv_users())
    try:
        cmd = [tool, "-sf", SCENARIO, "-inf", USERS_CSV, "-m", str(total), "-r", "200",
               "-t", transport, "-i", "127.0.0.1", "-p", str(kernel_port(proto)), "-nostdin",
               "-timeout", "90s", "-timeout_error", "-trace_err", "-trace_stat",
               "%s:%d" % (host, port)]
        expect_sipp_success(cmd, work, total, CLIENT_TIMEOUT)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    listed = env.db.reg_list(env.binary)
    users = {u for u, _ in csv_users()}
    seen = {u for u in users if re.search(r"\b%s\b" % re.escape(u), listed)}
    expect(len(seen) == len(users), "reg list shows %d of the %d registered users" % (len(seen), len(users)),
           listed[-2000:])


def main():
    binary = binary_from_argv()
    tap = Tap()
    env = Env(binary)
    try:
        try:
            env.setup([("alice", "secret")] + csv_users())
        except Exception as e:
            tap.ok(False, "create 1001 users and start sipd", str(e))
            return tap.finish()
        print("# users created with `sipd user %s`" % env.how, flush=True)
        for name, fn, args in (
                ("sipsak -U registers alice with a password over UDP, exits 0", sipsak_register, ("udp",)),
                ("sipsak -U -E tcp registers alice with a password over TCP, exits 0", sipsak_register,
                 ("tcp",)),
                ("SIPp: 1000 users REGISTER with digest at 200/s over UDP, no failed call",
                 sipp_register_1000, ("u1",)),
                ("SIPp: 1000 users REGISTER with digest at 200/s over TCP, no failed call",
                 sipp_register_1000, ("t1",))):
            tap.run(name, lambda: (fn(env, *args), env.sipd.ping("udp")))
    finally:
        env.remove()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
