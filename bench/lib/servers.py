#!/usr/bin/env python3
"""servers.py - start and stop the two servers of the comparison.

Both serve the domain bench.test with the same users, 10000..19999, password
pw<user>, on 127.0.0.1 only, UDP and TCP on one port, each from a fresh
temporary run directory (created under a work directory, removed on stop):

  sipd      build/sipd with its users imported by `sipd user import` into
            RUNDIR/sipd.db; "ready" on its standard output means up.
  kamailio  /usr/sbin/kamailio with bench/kamailio/kamailio.cfg and its
            users in RUNDIR/users.sqlite (Kamailio's own schema from
            /usr/share/kamailio/db_sqlite, ha1 = MD5(user:bench.test:pw));
            up when it answers an OPTIONS.

Every server runs in a session of its own; RUNDIR/server.pid holds its PID
and start time, and stop() signals that process group only (SIGTERM, then
SIGKILL after 10 s), after checking the start time, so a reused PID is never
hit. `stop-all WORKDIR` does that for every run directory left in WORKDIR:
compare.sh's exit trap.

Command line (for trying a server by hand; compare.py imports this file):
  servers.py start sipd|kamailio [--noauth] [--port N] [--workdir DIR]
      prints SERVER_PID=... RUNDIR=... once the server is up
  servers.py stop RUNDIR...
  servers.py stop-all WORKDIR
"""

import argparse
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import procs  # noqa: E402

BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)

ADDR = "127.0.0.1"
DOMAIN = "bench.test"
FIRST_USER = 10000
USERS = 10000
PW_PREFIX = "pw"
SIPD_PORT = 5080
KAMAILIO_PORT = 5070

SIPD_READY_TIMEOUT = 120.0  # s: a million bindings load in a few seconds
KAMAILIO_READY_TIMEOUT = 20.0
STOP_GRACE = 10.0  # s from SIGTERM to SIGKILL

KAMAILIO_SCHEMA_DIR = "/usr/share/kamailio/db_sqlite"


def users(first=FIRST_USER, count=USERS):
    """(user, password) of every benchmark user."""
    for u in range(first, first + count):
        yield str(u), f"{PW_PREFIX}{u}"


def write_sipd_users_csv(path, first=FIRST_USER, count=USERS):
    with open(path, "w") as f:
        for user, pw in users(first, count):
            f.write(f"{user}@{DOMAIN},{pw}\n")


def sipd_import(binary, csv_path, db_path, log_path):
    with open(log_path, "ab") as log:
        rc = subprocess.run([binary, "user", "import", csv_path, "--db", f"sqlite:{db_path}"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=600).returncode
    if rc != 0:
        raise RuntimeError(f"sipd user import failed (exit {rc}); see {log_path}")


def sip_options_answered(port, timeout=0.3):
    """Send one OPTIONS to ADDR:port over UDP; True when any response comes."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ADDR, 0))
        lport = s.getsockname()[1]
        tag = os.urandom(4).hex()
        msg = (f"OPTIONS sip:{ADDR}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {ADDR}:{lport};branch=z9hG4bK{tag};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:probe@{ADDR}:{lport}>;tag={tag}\r\n"
               f"To: <sip:{ADDR}:{port}>\r\n"
               f"Call-ID: probe-{tag}@{ADDR}\r\n"
               f"CSeq: 1 OPTIONS\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.settimeout(timeout)
        s.sendto(msg.encode(), (ADDR, port))
        data, _ = s.recvfrom(65535)
        return data.startswith(b"SIP/2.0 ")
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------------------
# stopping, also from another process (the exit trap)

def _record(rundir, pid):
    with open(os.path.join(rundir, "server.pid"), "w") as f:
        f.write(f"{pid} {procs.start_time(pid)}\n")


def stop_rundir(rundir, remove=True, popen=None):
    """Stop the server recorded in rundir/server.pid: SIGTERM to its process
    group, SIGKILL after STOP_GRACE. Only when the PID still has the start
    time recorded at launch. Then remove rundir (unless remove is false)."""
    try:
        with open(os.path.join(rundir, "server.pid")) as f:
            pid_text, start_text = f.read().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        pid = None
    if pid and str(procs.start_time(pid)) == start_text:
        for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if popen is not None:
                    popen.poll()
                if not procs.group_alive(pid):
                    break
                time.sleep(0.05)
            if not procs.group_alive(pid):
                break
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.unlink(os.path.join(rundir, "server.pid"))
    except OSError:
        pass
    if remove:
        shutil.rmtree(rundir, ignore_errors=True)


def stop_all(workdir):
    """Stop every server whose run directory is in workdir (not removed)."""
    try:
        names = os.listdir(workdir)
    except OSError:
        return
    for name in names:
        rundir = os.path.join(workdir, name)
        if os.path.exists(os.path.join(rundir, "server.pid")):
            stop_rundir(rundir, remove=False)


# ---------------------------------------------------------------------------

class Server:
    name = "?"

    def __init__(self, workdir, port):
        self.workdir = workdir
        self.port = port
        self.rundir = None
        self.popen = None
        self.pid = None
        self.ready_s = None  # s from exec to up

    def pids(self):
        return procs.server_pids(self.pid) if self.pid else []

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def stderr_path(self):
        return os.path.join(self.rundir, "stderr.txt") if self.rundir else None

    def stderr_tail(self, lines=40):
        path = self.stderr_path()
        text = procs.read_text(path) if path else None
        return "\n".join((text or "").splitlines()[-lines:])

    def _launch(self, argv):
        if not procs.port_free(ADDR, self.port):
            raise RuntimeError(f"{self.name}: port {ADDR}:{self.port} (UDP or TCP) is busy")
        out = open(os.path.join(self.rundir, "stdout.txt"), "wb")
        err = open(os.path.join(self.rundir, "stderr.txt"), "wb")
        with open(os.path.join(self.rundir, "cmd.txt"), "w") as f:
            f.write(" ".join(argv) + "\n")
        t0 = time.monotonic()
        try:
            self.popen = subprocess.Popen(argv, cwd=self.rundir, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, start_new_session=True)
        finally:
            out.close()
            err.close()
        self.pid = self.popen.pid
        _record(self.rundir, self.pid)
        return t0

    def stop(self, remove=True):
        if self.rundir:
            stop_rundir(self.rundir, remove=remove, popen=self.popen)
        self.popen = None
        self.pid = None


class Sipd(Server):
    name = "sipd"

    def __init__(self, workdir, port=SIPD_PORT, binary=None, workers=1):
        super().__init__(workdir, port)
        self.binary = binary or os.path.join(REPO, "build", "sipd")
        self.workers = workers

    def argv(self, db_path):
        return [self.binary,
                "-l", f"udp:{ADDR}:{self.port}", "-l", f"tcp:{ADDR}:{self.port}",
                "-d", DOMAIN, "--db", f"sqlite:{db_path}", "--http", "off",
                "--log-level", "warn",
                # SIPp 3.6 answers the first challenge only; sipd offers
                # SHA-256 first by default
                "--set", "auth.algorithms=MD5",
                "--set", "registrar.max_expires=1h",
                "--set", f"server.workers={self.workers}"]

    def start(self, db_path=None):
        """Start on db_path (a prepared database, used as is) or on a new
        database with the benchmark users."""
        self.rundir = tempfile.mkdtemp(prefix="sipd-", dir=self.workdir)
        if db_path is None:
            db_path = os.path.join(self.rundir, "sipd.db")
            csv_path = os.path.join(self.rundir, "users.csv")
            write_sipd_users_csv(csv_path)
            sipd_import(self.binary, csv_path, db_path, os.path.join(self.rundir, "import.txt"))
        t0 = self._launch(self.argv(db_path))
        stdout = os.path.join(self.rundir, "stdout.txt")
        deadline = t0 + SIPD_READY_TIMEOUT
        while True:
            text = procs.read_text(stdout) or ""
            if "ready" in text.splitlines():
                self.ready_s = time.monotonic() - t0
                return self
            rc = self.popen.poll()
            if rc is not None or time.monotonic() > deadline:
                tail = self.stderr_tail(10)
                self.stop(remove=False)
                why = f"exited with status {rc}" if rc is not None else "timed out"
                raise RuntimeError(f"sipd did not become ready ({why}); run directory "
                                   f"{self.rundir}; stderr:\n{tail}")
            time.sleep(0.005)


class Kamailio(Server):
    name = "kamailio"

    # process sizing (bench/README.md says why)
    UDP_WORKERS = 4
    TCP_WORKERS = 2
    SHM_MB = 2048
    PKG_MB = 16
    SOCKET_BUFFER = 4194304
    MEMORY_MANAGER = "tlsf"

    def __init__(self, workdir, port=KAMAILIO_PORT, caller_auth=True, binary="/usr/sbin/kamailio"):
        super().__init__(workdir, port)
        self.caller_auth = caller_auth
        self.binary = binary
        self.config = os.path.join(BENCH, "kamailio", "kamailio.cfg")

    def make_users_db(self, path):
        db = sqlite3.connect(path)
        try:
            for name in ("standard-create.sql", "auth_db-create.sql"):
                with open(os.path.join(KAMAILIO_SCHEMA_DIR, name)) as f:
                    db.executescript(f.read())

            def md5(text):
                return hashlib.md5(text.encode()).hexdigest()
            rows = ((u, DOMAIN, "", md5(f"{u}:{DOMAIN}:{pw}"), md5(f"{u}@{DOMAIN}:{DOMAIN}:{pw}"))
                    for u, pw in users())
            with db:
                db.executemany("INSERT INTO subscriber (username, domain, password, ha1, ha1b)"
                               " VALUES (?, ?, ?, ?, ?)", rows)
        finally:
            db.close()

    def argv(self, db_path):
        a = [self.binary, "-f", self.config,
             "-P", os.path.join(self.rundir, "kamailio.pid"),
             "-Y", self.rundir, "-w", self.rundir,
             "-n", str(self.UDP_WORKERS), "-N", str(self.TCP_WORKERS),
             "-m", str(self.SHM_MB), "-M", str(self.PKG_MB),
             "-b", str(self.SOCKET_BUFFER),
             "-x", self.MEMORY_MANAGER, "-X", self.MEMORY_MANAGER,
             "-A", f"BENCH_ADDR={ADDR}", "-A", f"BENCH_PORT={self.port}",
             "-A", f'BENCH_DOMAIN="{DOMAIN}"',
             "-A", f'BENCH_DB="sqlite:///{db_path}"']
        if self.caller_auth:
            a += ["-A", "CALLER_AUTH"]
        return a + ["-DD", "-E"]

    def start(self):
        self.rundir = tempfile.mkdtemp(prefix="kamailio-", dir=self.workdir)
        db_path = os.path.join(self.rundir, "users.sqlite")
        self.make_users_db(db_path)
        argv = self.argv(db_path)
        check = subprocess.run([argv[0], "-c"] + argv[1:], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if check.returncode != 0:
            raise RuntimeError("kamailio -c rejected the configuration:\n" +
                               check.stdout.decode(errors="replace")[-3000:])
        t0 = self._launch(argv)
        deadline = t0 + KAMAILIO_READY_TIMEOUT
        while not sip_options_answered(self.port):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                tail = self.stderr_tail(10)
                self.stop(remove=False)
                raise RuntimeError(f"kamailio did not come up; run directory {self.rundir}; "
                                   f"stderr:\n{tail}")
            time.sleep(0.1)
        self.ready_s = time.monotonic() - t0
        return self


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start")
    st.add_argument("server", choices=["sipd", "kamailio"])
    st.add_argument("--noauth", action="store_true",
                    help="kamailio: no 407 for INVITE/MESSAGE (sipd has one configuration)")
    st.add_argument("--port", type=int)
    st.add_argument("--workdir", default=tempfile.gettempdir())
    sp = sub.add_parser("stop")
    sp.add_argument("rundir", nargs="+")
    sa = sub.add_parser("stop-all")
    sa.add_argument("workdir")
    a = ap.parse_args(argv)
    if a.cmd == "start":
        if a.server == "sipd":
            s = Sipd(a.workdir, a.port or SIPD_PORT)
        else:
            s = Kamailio(a.workdir, a.port or KAMAILIO_PORT, caller_auth=not a.noauth)
        try:
            s.start()
        except RuntimeError as e:
            print(f"servers.py: {e}", file=sys.stderr)
            return 1
        print(f"SERVER_PID={s.pid} RUNDIR={s.rundir} PORT={s.port}")
        return 0
    if a.cmd == "stop":
        for d in a.rundir:
            stop_rundir(d)
        return 0
    stop_all(a.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
