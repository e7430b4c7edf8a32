#!/usr/bin/env python3
"""test_sipsak.py - real SIP clients against the real sipd.

    test_sipsak.py PATH/TO/sipd            (prints TAP)

sipsak (Debian package sipsak) sends an OPTIONS and exits 0 only on a
200: over UDP, with -vv, and over TCP (-E tcp). SIPp (package
sip-tester, binary sipp) runs scenarios/options.xml as a UAC, 50 calls at
20 per second, over UDP and TCP, and must end with no failed call. A
client that is not installed is a SKIP; tools/deps.sh check installs them.
"""

import os
import re
import shutil
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipd_harness import (Sipd, SipdError, Skip, Tap, binary_from_argv, expect,  # noqa: E402
                          expect_sipp_success, need_tool, run_tool, uri_for)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TIMEOUT = 40  # s: a hung client fails its test, it does not hang the suite


def run(cmd, cwd=None):
    return run_tool(cmd, cwd=cwd, timeout=CLIENT_TIMEOUT)


need = need_tool


def sipsak(s, proto, *flags):
    tool = need("sipsak")
    dest = s.addr(proto)
    cmd = [tool] + list(flags) + ["-s", uri_for(dest)]
    if proto == "tcp":
        cmd[1:1] = ["-E", "tcp"]
    status, out = run(cmd)
    expect(status == 0, "%s exited %d (0 = a 200 came back):\n%s" % (" ".join(cmd), status, out[-3000:]))
    return out


def sipsak_udp(s):
    sipsak(s, "udp")


def sipsak_verbose(s):
    out = sipsak(s, "udp", "-vv")
    expect(re.search(r"SIP/2\.0 200", out), "no 200 in sipsak -vv output:\n" + out[-3000:])


def sipsak_tcp(s):
    sipsak(s, "tcp", "-vv")


def kernel_port(proto):
    """A port the kernel picks as free on 127.0.0.1. SIPp without -p tries
    5060 first; this keeps it off fixed ports (the port is free again by
    the time SIPp binds it; the race is harmless on a test box)."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sipp(s, transport):
    tool = need("sipp")
    proto = "udp" if transport == "u1" else "tcp"
    host, port = s.addr(proto)
    work = tempfile.mkdtemp(prefix="sipd-sipp-")
    try:
        cmd = [tool, "-sf", os.path.join(HERE, "scenarios", "options.xml"), "-m", "50", "-r", "20",
               "-t", transport, "-i", "127.0.0.1", "-p", str(kernel_port(proto)), "-nostdin",
               "-timeout", "30s", "-timeout_error",
               "-trace_err", "-trace_stat", "%s:%d" % (host, port)]
        expect_sipp_success(cmd, work, 50, CLIENT_TIMEOUT)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    binary = binary_from_argv()
    tap = Tap()
    s = Sipd(binary, settings={"timers.t1": "50ms"})
    try:
        s.start()
    except SipdError as e:
        tap.ok(False, "start sipd", str(e))
        return tap.finish()
    try:
        def alive():
            s.ping("udp")

        for name, fn, args in (
                ("sipsak OPTIONS over UDP exits 0", sipsak_udp, ()),
                ("sipsak -vv OPTIONS over UDP shows the 200", sipsak_verbose, ()),
                ("sipsak -E tcp OPTIONS over TCP exits 0", sipsak_tcp, ()),
                ("SIPp 50 OPTIONS at 20/s over UDP, no failed call", sipp, ("u1",)),
                ("SIPp 50 OPTIONS at 20/s over TCP, no failed call", sipp, ("t1",))):
            tap.run(name, lambda: (fn(s, *args), alive()))
    finally:
        status = s.stop()
    tap.ok(status == 0, "sipd exits 0 on SIGTERM", "exit status %s" % status)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
