#!/usr/bin/env python3
"""compare.py - sipd beside Kamailio, same users, same load, same run.

What it does (bench/README.md has the why of each choice):

  for each round (--rounds; the first server alternates between rounds):
    phase "auth":   each server in turn, fresh: register every callee, then
                    reg_auth, message, call at each rate (--rates)
    phase "noauth": each server in turn, fresh (Kamailio without caller
                    challenge): register every callee, then
                    message_noauth, call_noauth at each rate
  memory (sipd): RSS and time to "ready" with 0, 100,000 and 1,000,000
    bindings, written straight into its SQLite database
  report: median over the rounds of each figure, the sipd/Kamailio ratio of
    each, in bench/results/<date>-<commit>[-quick].{md,json}

One measured run: the callee SIPp (for message and call), then the load
SIPp (rate x duration iterations) and the probe SIPp (response times) side
by side; the server's CPU is utime+stime of all its processes and threads
from /proc/PID/stat, read before the load starts and 0.5 s after it ends,
divided by the iterations that succeeded (load + probe).

Python 3 standard library only. Every process it starts is stopped by PID
or by the process group it created, on any exit (signals included).
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import procs  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import sipp  # noqa: E402

BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)

PHASES = (("auth", ("reg_auth", "message", "call")),
          ("noauth", ("message_noauth", "call_noauth")))
SETUP_RATE = 2000      # registrations/s of the setup pass
SETTLE_S = 0.5         # CPU window extends this far past the end of the load
PAUSE_S = 1.0          # idle time between runs
MEMORY_SETTLE_S = 1.0  # from "ready" to the RSS reading

_children = []         # every SIPp still running, for the exit path
_server = None         # the server currently running


def log(*words):
    print(time.strftime("[%H:%M:%S]"), *words, file=sys.stderr, flush=True)


def _on_signal(signo, frame):
    raise SystemExit(128 + signo)


def stop_everything():
    for child in list(_children):
        child.stop(first=signal.SIGUSR1, grace=2.0)
        _children.remove(child)
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def start_child(argv, cwd, name):
    child = procs.Child(argv, cwd, os.path.join(cwd, f"{name}.out"))
    _children.append(child)
    return child


def finish_child(child, deadline, first=signal.SIGTERM):
    if deadline is None:
        child.stop(first=first, grace=3.0)
    else:
        child.wait(deadline)
    if child in _children:
        _children.remove(child)
    return child.rc


def cmd_output(argv):
    try:
        out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30).stdout
        return out.decode(errors="replace").strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_commit():
    commit = cmd_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = cmd_output(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
                        "--", "src", "meson.build", "meson_options.txt"])
    return commit + ("-dirty" if dirty else "")


class Bench:
    def __init__(self, a, workdir):
        self.a = a
        self.workdir = workdir
        self.runs_dir = os.path.join(workdir, "runs")
        os.makedirs(self.runs_dir, exist_ok=True)
        self.injection = os.path.join(workdir, "callers.csv")
        sipp.write_injection(self.injection, servers.FIRST_USER, servers.USERS,
                             servers.PW_PREFIX)
        self.seq = 0
        self.runs = []
        self.problems = []

    # -- pieces -------------------------------------------------------------
    def new_dir(self, tag):
        self.seq += 1
        d = os.path.join(self.runs_dir, f"{self.seq:03d}-{tag}")
        os.makedirs(d)
        return d

    def need_ports(self, ports):
        busy = [p for p in ports if not procs.port_free(sipp.ADDR, p)]
        if busy:
            raise RuntimeError(f"local port(s) {busy} on {sipp.ADDR} are busy")

    def client(self, server, scenario, port, rate, count, d, name, extra=()):
        argv = sipp.client_argv(self.a.sipp, server.port, sipp.SCENARIOS[scenario][0],
                                self.injection, servers.DOMAIN, port, rate, count, extra)
        with open(os.path.join(d, f"{name}.cmd"), "w") as f:
            f.write(" ".join(argv) + "\n")
        return start_child(argv, d, name)

    def setup_callees(self, server):
        """Register every user with Contact at the callee port; all must succeed."""
        self.need_ports([sipp.SETUP_PORT])
        d = self.new_dir(f"{server.name}-setup")
        count = servers.USERS
        log(f"{server.name}: registering {count} callees at {SETUP_RATE}/s")
        child = self.client(server, "reg_auth", sipp.SETUP_PORT, SETUP_RATE, count, d, "setup")
        finish_child(child, time.monotonic() + sipp.timeout_s(SETUP_RATE, count) + 15)
        ok = sipp.stat_int(sipp.read_stat(os.path.join(d, "stat.csv")), "SuccessfulCall(C)")
        if ok != count:
            raise RunFailure(f"{server.name}: setup registered {ok}/{count} users",
                             self.evidence(server, [d]))

    def evidence(self, server, dirs):
        """What to look at when a run failed: SIPp's error logs and the end
        of the server's standard error."""
        ev = {"server_stderr_tail": server.stderr_tail(40), "dirs": dirs}
        for d in dirs:
            for name in ("errors.log", "load.out", "probe.out", "setup.out", "callee.out"):
                path = os.path.join(d, name)
                if os.path.exists(path) and os.path.getsize(path):
                    # the first errors; the last screen of SIPp's display
                    ev[os.path.basename(d) + "/" + name] = sipp.error_excerpt(
                        path, 25, tail=name.endswith(".out"))
        return ev

    # -- one measured run ---------------------------------------------------
    def measure(self, server, scenario, rate, seconds, probe=True):
        caller_file, callee_file, method = sipp.SCENARIOS[scenario]
        ports = [sipp.CALLER_PORT] + ([sipp.PROBE_PORT] if probe else []) + \
            ([sipp.CALLEE_PORT] if callee_file else [])
        self.need_ports(ports)
        d = self.new_dir(f"{server.name}-{scenario}-{rate:g}{'' if probe else '-warmup'}")
        load_dir, probe_dir = os.path.join(d, "load"), os.path.join(d, "probe")
        os.makedirs(load_dir)
        count = int(round(rate * seconds))
        probe_count = int(round(sipp.PROBE_RATE * seconds)) if probe else 0
        callee = None
        callee_dir = None
        if callee_file:
            callee_dir = os.path.join(d, "callee")
            os.makedirs(callee_dir)
            argv = sipp.callee_argv(self.a.sipp, callee_file, sipp.timeout_s(rate, count) + 60)
            callee = start_child(argv, callee_dir, "callee")
            end = time.monotonic() + 5
            while not procs.udp_port_bound(sipp.ADDR, sipp.CALLEE_PORT):
                if callee.poll() is not None or time.monotonic() > end:
                    raise RunFailure(f"callee SIPp did not start (exit {callee.rc})",
                                     self.evidence(server, [callee_dir]))
                time.sleep(0.02)
        try:
            pids0 = server.pids()
            cpu0 = procs.cpu_sample(pids0)
            idle0 = procs.idle_seconds()
            drops0 = procs.udp_drops(server.port)
            rcvbuf0 = procs.udp_rcvbuf_errors()
            t0 = time.monotonic()
            load = self.client(server, scenario, sipp.CALLER_PORT, rate, count, load_dir, "load",
                               ["-trace_rtt", "-rtt_freq", "1"])
            prober = None
            if probe:
                os.makedirs(probe_dir)
                prober = self.client(server, scenario, sipp.PROBE_PORT, sipp.PROBE_RATE,
                                     probe_count, probe_dir, "probe",
                                     ["-trace_msg", "-message_file", "messages.log"])
            deadline = time.monotonic() + sipp.timeout_s(rate, count) + 15
            finish_child(load, deadline)
            if prober:
                finish_child(prober, deadline)
            time.sleep(SETTLE_S)
            t1 = time.monotonic()
            pids1 = server.pids()
            cpu1 = procs.cpu_sample(sorted(set(pids0) | set(pids1)))
            idle1 = procs.idle_seconds()
            drops1 = procs.udp_drops(server.port)
            rcvbuf1 = procs.udp_rcvbuf_errors()
            rss_kb, pss_kb = procs.memory_kb(pids1)
        finally:
            if callee is not None:
                finish_child(callee, None, first=signal.SIGUSR1)
        wall = t1 - t0
        cpu_s, cpu_sched_s = procs.cpu_seconds(cpu0, cpu1)

        st = sipp.read_stat(os.path.join(load_dir, "stat.csv"))
        ok = sipp.stat_int(st, "SuccessfulCall(C)")
        done_at = sorted(t for t, _ in sipp.read_rtt(load_dir))
        achieved = None
        if len(done_at) >= 2 and done_at[-1] > done_at[0]:
            achieved = (len(done_at) - 1) * 1000.0 / (done_at[-1] - done_at[0])
        coarse = sorted(v for _, v in sipp.read_rtt(load_dir))
        probe_ok = 0
        latencies = []
        if probe:
            pst = sipp.read_stat(os.path.join(probe_dir, "stat.csv"))
            probe_ok = sipp.stat_int(pst, "SuccessfulCall(C)")
            latencies = sorted(sipp.read_trace_latencies(
                os.path.join(probe_dir, "messages.log"), method))
        callee_st = sipp.read_stat(os.path.join(callee_dir, "stat.csv")) if callee_dir else {}
        iterations = ok + probe_ok
        sipp_cpu = sum(c.cpu_s or 0 for c in (load, prober, callee) if c is not None)
        busy = max(0.0, (os.cpu_count() or 1) * wall - (idle1 - idle0))
        r = {
            "server": server.name, "scenario": scenario, "rate": rate, "seconds": seconds,
            "count": count, "successful": ok, "failures": count - ok,
            "sipp_failed": sipp.stat_int(st, "FailedCall(C)"),
            "timeouts": sipp.stat_int(st, "FailedTimeoutOnRecv(C)") +
            sipp.stat_int(st, "FailedMaxUDPRetrans(C)"),
            "unexpected": sipp.stat_int(st, "FailedUnexpectedMessage(C)"),
            "retransmissions": sipp.stat_int(st, "Retransmissions(C)"),
            "callee_retransmissions": sipp.stat_int(callee_st, "Retransmissions(C)"),
            "callee_failed": sipp.stat_int(callee_st, "FailedCall(C)"),
            "callee_dead_call_msgs": sipp.stat_int(callee_st, "DeadCallMsgs(C)"),
            # datagrams the server's socket dropped (full receive buffer), and
            # all UDP sockets of the machine together (SIPp's included)
            "server_udp_drops": drops1 - drops0,
            "udp_rcvbuf_errors": rcvbuf1 - rcvbuf0,
            "probe_count": probe_count, "probe_successful": probe_ok,
            "probe_failures": probe_count - probe_ok,
            "achieved": round(achieved, 1) if achieved else None,
            "server_cpu_s": round(cpu_s, 3),
            "cpu_us_per_iter": round(cpu_s * 1e6 / iterations, 1) if iterations else None,
            "cpu_us_per_iter_schedstat": round(cpu_sched_s * 1e6 / iterations, 1)
            if iterations else None,
            "server_cores": round(cpu_s / wall, 3),
            "p50_ms": _r(sipp.percentile(latencies, 0.50), 3),
            "p90_ms": _r(sipp.percentile(latencies, 0.90), 3),
            "p99_ms": _r(sipp.percentile(latencies, 0.99), 3),
            "max_ms": _r(latencies[-1] if latencies else None, 3),
            "latency_samples": len(latencies),
            "sipp_p50_ms": sipp.percentile(coarse, 0.50),
            "sipp_p99_ms": sipp.percentile(coarse, 0.99),
            "rss_kb": rss_kb, "pss_kb": pss_kb, "processes": len(pids1),
            "sipp_cores": round(sipp_cpu / wall, 3),
            "other_cores": round(max(0.0, busy - cpu_s - sipp_cpu) / wall, 3),
            "wall_s": round(wall, 2),
            "sipp_exit": load.rc,
            "dir": d,
        }
        if not server.alive():
            r["server_exited"] = server.popen.returncode if server.popen else None
        if r["failures"] or r["probe_failures"] or not server.alive():
            r["evidence"] = self.evidence(server, [load_dir] + ([probe_dir] if probe else []) +
                                          ([callee_dir] if callee_dir else []))
        return r

    # -- phases ---------------------------------------------------------------
    def make_server(self, name, phase):
        if name == "sipd":
            return servers.Sipd(self.workdir, binary=self.a.sipd)
        return servers.Kamailio(self.workdir, caller_auth=(phase == "auth"))

    def server_phase(self, name, phase, scenarios, round_no):
        global _server
        server = self.make_server(name, phase)
        log(f"round {round_no}: {name}, phase {phase}: starting")
        _server = server
        problems_before = len(self.problems)
        try:
            server.start()
            self.setup_callees(server)
            for scenario in scenarios:
                for rate in self.a.rates:
                    if self.a.warmup > 0:
                        w = self.measure(server, scenario, rate, self.a.warmup, probe=False)
                        if w["failures"]:
                            log(f"  warm-up {scenario} {rate:g}/s: {w['failures']} failures, "
                                f"{w['server_udp_drops']} datagrams dropped by {name}")
                            self.problems.append({
                                "server": name, "scenario": scenario + " (warm-up)",
                                "rate": rate, "round": round_no,
                                "what": f"{w['failures']} failed iterations; the server's "
                                f"socket dropped {w['server_udp_drops']} datagrams",
                                "evidence": w.get("evidence", {})})
                        time.sleep(PAUSE_S)
                    r = self.measure(server, scenario, rate, self.a.duration,
                                     probe=not self.a.no_probe)
                    r["round"] = round_no
                    r["phase"] = phase
                    self.runs.append(r)
                    log(f"  {name} {scenario} {rate:g}/s: {r['cpu_us_per_iter']} us/iter, "
                        f"achieved {r['achieved']}, failures {r['failures']}+"
                        f"{r['probe_failures']}, p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
                        f"rss {r['rss_kb']} kB, udp drops {r['server_udp_drops']}")
                    if "evidence" in r:
                        self.problems.append({"server": name, "scenario": scenario,
                                              "rate": rate, "round": round_no,
                                              "what": f"{r['failures']} failed iterations, "
                                              f"{r['probe_failures']} failed probes; the "
                                              f"server's socket dropped "
                                              f"{r['server_udp_drops']} datagrams",
                                              "evidence": r["evidence"]})
                    if not server.alive():
                        raise RunFailure(f"{name} exited during {scenario} at {rate:g}/s",
                                         r.get("evidence", {}))
                    time.sleep(PAUSE_S)
        except (RunFailure, RuntimeError) as e:
            ev = e.evidence if isinstance(e, RunFailure) else {
                "server_stderr_tail": server.stderr_tail(40)}
            log(f"  {name} phase {phase}: {e}")
            self.problems.append({"server": name, "phase": phase, "round": round_no,
                                  "what": str(e), "evidence": ev})
            self.a.keep = True
        finally:
            # a phase that went wrong keeps its run directory (server stderr)
            server.stop(remove=not (self.a.keep or len(self.problems) > problems_before))
            _server = None

    def memory(self):
        """sipd's RSS once ready, and the time to ready, with the benchmark's
        10,000 users and no binding, and with N users with no binding and
        with one binding each, for every N of --memory-sizes."""
        out = []
        d = self.new_dir("memory")
        rows = [(servers.USERS, False)]
        for n in self.a.memory_sizes:
            rows += [(n, False), (n, True)]
        db = None
        for users, with_bindings in rows:
            if not with_bindings:
                db = os.path.join(d, f"users-{users}.db")
                csv_path = os.path.join(d, f"users-{users}.csv")
                log(f"memory: importing {users} users")
                servers.write_sipd_users_csv(csv_path, count=users)
                t = time.monotonic()
                servers.sipd_import(self.a.sipd, csv_path, db, os.path.join(d, "import.txt"))
                import_s = time.monotonic() - t
                os.unlink(csv_path)
            else:
                log(f"memory: writing {users} bindings")
                add_bindings(db, users)
                import_s = None
            r = self.memory_sample(db)
            r.update({"users": users, "bindings": users if with_bindings else 0})
            if import_s is not None:
                r["user_import_s"] = round(import_s, 2)
            log(f"  {users} users, {r['bindings']} bindings: RSS {r['rss_kb']} kB, "
                f"ready in {r['ready_s']} s")
            out.append(r)
            if with_bindings:
                os.unlink(db)
        by_key = {(r["users"], r["bindings"]): r for r in out}
        for r in out:
            base = by_key.get((r["users"], 0))
            if r["bindings"] and base:
                r["bytes_per_binding"] = round((r["rss_kb"] - base["rss_kb"]) * 1024 / r["bindings"])
        return out

    def memory_sample(self, db):
        global _server
        server = servers.Sipd(self.workdir, binary=self.a.sipd)
        _server = server
        try:
            server.start(db_path=db)
            time.sleep(MEMORY_SETTLE_S)
            rss_kb, _ = procs.memory_kb([server.pid])
            hwm_kb = 0
            for line in (procs.read_text(f"/proc/{server.pid}/status") or "").splitlines():
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
            return {"rss_kb": rss_kb, "peak_rss_kb": hwm_kb, "ready_s": round(server.ready_s, 3)}
        finally:
            server.stop()
            _server = None


class RunFailure(Exception):
    def __init__(self, what, evidence):
        super().__init__(what)
        self.evidence = evidence


def _r(v, digits):
    return None if v is None else round(v, digits)


def add_bindings(db_path, count, first=servers.FIRST_USER):
    """One binding per user first..first+count-1, as a registration from the
    benchmark's callee address would leave it, valid for a day."""
    expires_at = int(time.time()) + 86400
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        with db:
            db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
                " INSERT INTO bindings (aor, contact, path, instance, reg_id, q, expires_at,"
                " call_id, cseq, source, user_agent)"
                " SELECT (? + i) || '@' || ?, 'sip:' || (? + i) || '@127.0.0.1:5190;transport=UDP',"
                " '', '', 0, 1000, ?, i || '-4242@127.0.0.1', 2, 'udp:127.0.0.1:5190',"
                " 'sipd-bench' FROM n",
                (count, first, servers.DOMAIN, first, expires_at))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def aggregate(runs):
    """Median over the rounds of each figure, per (server, scenario, rate)."""
    groups = {}
    for r in runs:
        groups.setdefault((r["server"], r["scenario"], r["rate"]), []).append(r)
    out = []
    for (server, scenario, rate), rs in groups.items():
        row = {"server": server, "scenario": scenario, "rate": rate, "rounds": len(rs),
               "iterations": sum(r["count"] + r["probe_count"] for r in rs),
               "failures": sum(r["failures"] + r["probe_failures"] for r in rs)}
        for key in ("cpu_us_per_iter", "cpu_us_per_iter_schedstat", "achieved", "p50_ms",
                    "p99_ms", "rss_kb", "pss_kb", "server_cores", "sipp_cores", "other_cores",
                    "retransmissions"):
            vals = [r[key] for r in rs if isinstance(r.get(key), (int, float))]
            row[key] = statistics.median(vals) if vals else None
            if key == "cpu_us_per_iter" and vals:
                row["cpu_us_per_iter_min"] = min(vals)
                row["cpu_us_per_iter_max"] = max(vals)
        out.append(row)
    return out


RATIO_KEYS = ("cpu_us_per_iter", "achieved", "p50_ms", "p99_ms", "rss_kb", "pss_kb")


def ratios(summary):
    by = {(r["server"], r["scenario"], r["rate"]): r for r in summary}
    out = []
    for (server, scenario, rate), s in sorted(by.items(), key=lambda kv: kv[0][1:]):
        if server != "sipd":
            continue
        k = by.get(("kamailio", scenario, rate))
        if not k:
            continue
        row = {"scenario": scenario, "rate": rate,
               "failures": f"{s['failures']}/{k['failures']}"}
        for key in RATIO_KEYS:
            a, b = s.get(key), k.get(key)
            row[key] = round(a / b, 3) if a is not None and b else None
        out.append(row)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="bench/compare.sh",
        description="sipd beside Kamailio on loopback (bench/README.md).")
    ap.add_argument("--quick", action="store_true",
                    help="smoke pass: 1 round of 5 s runs, 1 s warm-up (indicative figures)")
    ap.add_argument("--rounds", type=int, help="repeats of the whole matrix (full: 3)")
    ap.add_argument("--duration", type=float, help="seconds of load per run (full: 15)")
    ap.add_argument("--warmup", type=float, help="unreported seconds before each run (full: 2)")
    ap.add_argument("--rates", default="1000,3000", help="offered iterations/s, comma separated")
    ap.add_argument("--scenarios", default="all",
                    help="comma separated subset of " + ",".join(sipp.SCENARIOS))
    ap.add_argument("--servers", default="sipd,kamailio", help="sipd,kamailio or one of them")
    ap.add_argument("--memory-sizes", default="100000,1000000",
                    help="binding counts for the memory figures; 'none' skips them")
    ap.add_argument("--no-probe", action="store_true",
                    help="no response-time probe: the p50/p99 columns show '-'")
    ap.add_argument("--sipd", default=os.path.join(REPO, "build", "sipd"),
                    help="the sipd binary (default build/sipd)")
    ap.add_argument("--sipp", default="sipp", help="the SIPp binary")
    ap.add_argument("--results", default=os.path.join(BENCH, "results"),
                    help="where the .md and .json files go (default bench/results)")
    ap.add_argument("--workdir", help="where run directories go (default: a new /tmp dir)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (kept anyway when something failed)")
    a = ap.parse_args(argv)
    a.rounds = a.rounds or (1 if a.quick else 3)
    a.duration = a.duration or (5.0 if a.quick else 15.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if a.quick else 2.0)
    a.rates = [float(x) for x in a.rates.split(",") if x]
    a.rates = [int(x) if x.is_integer() else x for x in a.rates]
    wanted = set(sipp.SCENARIOS) if a.scenarios == "all" else set(a.scenarios.split(","))
    if wanted - set(sipp.SCENARIOS):
        ap.error(f"unknown scenario(s): {', '.join(sorted(wanted - set(sipp.SCENARIOS)))}")
    a.server_names = [s for s in a.servers.split(",") if s]
    if set(a.server_names) - {"sipd", "kamailio"} or not a.server_names:
        ap.error("--servers takes sipd, kamailio or both")
    a.memory_sizes = [] if a.memory_sizes == "none" else \
        [int(x) for x in a.memory_sizes.split(",") if x]
    if not os.access(a.sipd, os.X_OK):
        ap.error(f"{a.sipd} is not an executable (run make)")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    own_workdir = a.workdir is None
    workdir = a.workdir or tempfile.mkdtemp(prefix="sipd-bench.")
    os.makedirs(workdir, exist_ok=True)
    started = time.time()
    result = {
        "kind": "sipd-vs-kamailio",
        "mode": "quick" if a.quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "commit": git_commit(),
        "machine": procs.machine(),
        "versions": {
            "sipd": cmd_output([a.sipd, "--version"]),
            "kamailio": (cmd_output(["/usr/sbin/kamailio", "-v"]).splitlines() or [""])[0]
            .replace("version:", "").strip() if "kamailio" in a.server_names else None,
            "sipp": next((ln.strip() for ln in cmd_output([a.sipp, "-v"]).splitlines()
                          if "SIPp v" in ln), ""),
        },
        "settings": {
            "rounds": a.rounds, "duration_s": a.duration, "warmup_s": a.warmup,
            "rates": a.rates, "users": servers.USERS, "domain": servers.DOMAIN,
            "probe_rate": sipp.PROBE_RATE, "call_hold_ms": sipp.HOLD_MS,
            "sipd_workers": 1,
            "sipd_argv": servers.Sipd(workdir, binary=a.sipd).argv("DIR/sipd.db"),
            "kamailio_processes": {"udp_workers": servers.Kamailio.UDP_WORKERS,
                                   "tcp_workers": servers.Kamailio.TCP_WORKERS,
                                   "shm_mb": servers.Kamailio.SHM_MB,
                                   "pkg_mb": servers.Kamailio.PKG_MB,
                                   "memory_manager": servers.Kamailio.MEMORY_MANAGER},
        },
    }
    bench = Bench(a, workdir)
    status = 0
    try:
        log(f"work directory {workdir}; {result['commit']}; {a.rounds} round(s) of "
            f"{a.duration:g} s runs at {a.rates}")
        bench.need_ports(list(sipp.PORTS) + [servers.SIPD_PORT, servers.KAMAILIO_PORT])
        for round_no in range(1, a.rounds + 1):
            order = a.server_names if round_no % 2 else list(reversed(a.server_names))
            for phase, scenarios in PHASES:
                todo = [s for s in scenarios if s in wanted]
                if not todo:
                    continue
                for name in order:
                    bench.server_phase(name, phase, todo, round_no)
        if a.memory_sizes and "sipd" in a.server_names:
            try:
                result["memory"] = bench.memory()
            except RuntimeError as e:
                bench.problems.append({"server": "sipd", "phase": "memory", "what": str(e),
                                       "evidence": {}})
                a.keep = True
    except SystemExit as e:
        log(f"stopped (status {e.code})")
        status = e.code if isinstance(e.code, int) else 1
        a.keep = True
    except RuntimeError as e:
        log(f"error: {e}")
        status = 1
    finally:
        stop_everything()

    result["elapsed_s"] = round(time.time() - started, 1)
    result["summary"] = aggregate(bench.runs)
    result["ratios"] = ratios(result["summary"])
    result["runs"] = bench.runs
    result["problems"] = bench.problems
    if a.keep or bench.problems:
        result["workdir"] = workdir
    if bench.runs or result.get("memory"):
        base = report.result_basename(a.results, started, result["commit"], a.quick)
        with open(base + ".json", "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        with open(base + ".md", "w") as f:
            f.write(report.markdown(result))
        log(f"results: {base}.md and {base}.json")
        print(report.markdown(result))
    if bench.problems:
        log(f"{len(bench.problems)} problem(s); evidence kept in {workdir}")
        status = status or 1
    if a.keep or bench.problems:
        # compare.sh removes its work directory on exit unless this is there
        open(os.path.join(workdir, "KEEP"), "w").close()
    elif own_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
