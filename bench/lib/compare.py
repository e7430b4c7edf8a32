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
  worker threads (sipd): with server.workers=1 and =2, each on a fresh
    sipd, the highest sustained rate of message_noauth and reg_auth: the
    offered rate climbs in steps (short runs) until a step fails; server
    and SIPp CPU from /proc tell whether SIPp was the limit
    (--workers-only runs just this part)
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

# worker threads: the highest sustained rate with server.workers = 1 and 2
WORKERS_SCENARIOS = ("message_noauth", "reg_auth")
WORKERS_COUNTS = (1, 2)
# 2-core VM, commit 62e578a: message_noauth passes 32,000/s with sipd at half a
# core, reg_auth stops near 32,000/s with the caller SIPp at its core; steps to
# 12,000/s would find no limit at all (bench/README.md)
WORKERS_RATES = (2000, 4000, 8000, 16000, 24000, 32000, 48000, 64000)
WORKERS_RATES_QUICK = (4000, 8000, 16000, 32000, 48000)
WORKERS_STEP_S = 8.0         # seconds of load per step (quick: 5)
WORKERS_STEP_S_QUICK = 5.0
WORKERS_SOCKETS = 16         # source sockets of the load SIPp (1 = a single port)
SUSTAINED_SHARE = 0.97       # achieved / offered for a step to count as sustained
SATURATED_PCT = 90.0         # % of one core: a SIPp process or a server thread at its limit
CORES_FULL_IDLE_PCT = 10.0   # machine idle below this % of one core: every core was busy
WINDOW_SKIP_S = 1.0          # CPU window: from this long after the load starts...
WINDOW_TAIL_S = 0.5          # ...to this long before its last scheduled call
STEP_GRACE_S = 10.0          # a step still running this long after its last call is stopped
DISTURBED_PCT = 25.0         # % of a core used by the rest of the machine: a failed step
                             # is run once more

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


def git_commit(binary=None):
    """The commit of the tree the sipd binary was built in (a worktree or
    copy elsewhere, e.g. SIPD_BINARY), else of this repository; -dirty
    when its src/ or build files have uncommitted changes."""
    repo = REPO
    if binary:
        top = cmd_output(["git", "-C", os.path.dirname(os.path.abspath(binary)),
                          "rev-parse", "--show-toplevel"])
        if top and os.path.isdir(top):
            repo = top
    commit = cmd_output(["git", "-C", repo, "rev-parse", "--short", "HEAD"]) or "unknown"
    dirty = cmd_output(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no",
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
        self.workers_result = None  # the worker-threads part, filled as it goes

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

    def client(self, server, scenario, port, rate, count, d, name, extra=(), sockets=1):
        argv = sipp.client_argv(self.a.sipp, server.port, sipp.SCENARIOS[scenario][0],
                                self.injection, servers.DOMAIN, port, rate, count, extra,
                                sockets=sockets)
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

    def start_callee(self, server, callee_file, rate, count, d):
        """The callee SIPp of a run (None, None when the scenario has none),
        once its port is bound."""
        if not callee_file:
            return None, None
        callee_dir = os.path.join(d, "callee")
        os.makedirs(callee_dir)
        argv = sipp.callee_argv(self.a.sipp, callee_file, sipp.timeout_s(rate, count) + 60)
        callee = start_child(argv, callee_dir, "callee")
        end = time.monotonic() + 5
        while not procs.udp_port_bound(sipp.ADDR, sipp.CALLEE_PORT):
            if callee.poll() is not None or time.monotonic() > end:
                finish_child(callee, None)
                raise RunFailure(f"callee SIPp did not start (exit {callee.rc})",
                                 self.evidence(server, [callee_dir]))
            time.sleep(0.02)
        return callee, callee_dir

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
        callee, callee_dir = self.start_callee(server, callee_file, rate, count, d)
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
        achieved = sipp.completion_rate(load_dir)
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

    # -- worker threads ---------------------------------------------------------
    def workers(self):
        """For each scenario of --workers-scenarios and each worker count: a
        fresh sipd with server.workers=N (callees registered when the
        scenario has one), then the offered rate in ascending steps until
        a step is not sustained. Returns the part of the result file."""
        a = self.a
        out = {"scenarios": [], "settings": {
            "rates": list(a.workers_rates), "step_s": a.workers_duration,
            "counts": list(a.workers_counts), "load_sockets": a.workers_sockets,
            "sustained_share": SUSTAINED_SHARE, "saturated_pct": SATURATED_PCT,
            "cores_full_idle_pct": CORES_FULL_IDLE_PCT, "disturbed_pct": DISTURBED_PCT,
            "window_s": [WINDOW_SKIP_S, -WINDOW_TAIL_S], "step_grace_s": STEP_GRACE_S}}
        self.workers_result = out  # kept by main() even when a signal cuts this short
        for scenario in a.workers_scenarios:
            row = {"scenario": scenario, "series": []}
            out["scenarios"].append(row)
            for n in a.workers_counts:
                self.workers_series(scenario, n, row["series"])
            row["conclusion"] = workers_conclusion(scenario, row["series"])
            log(f"worker threads, {scenario}: {row['conclusion']}")
        return out

    def workers_series(self, scenario, workers, into):
        """One worker count: a fresh sipd, the steps until one fails. The
        series is appended to `into` first, so what was measured stays when
        a signal ends the run."""
        global _server
        callee_file = sipp.SCENARIOS[scenario][1]
        server = servers.Sipd(self.workdir, binary=self.a.sipd, workers=workers)
        ser = {"workers": workers, "steps": [], "highest_sustained": None,
               "highest_sustained_achieved": None, "first_failed": None,
               "server_warnings": []}
        into.append(ser)
        log(f"worker threads: sipd workers={workers}, {scenario}: starting")
        _server = server
        problems_before = len(self.problems)
        try:
            server.start()
            ser["server_warnings"] = [ln for ln in server.stderr_tail(20).splitlines()
                                      if ln.strip()][:5]
            if callee_file:
                self.setup_callees(server)
            for rate, attempt in _step_plan(self.a.workers_rates, ser["steps"]):
                time.sleep(PAUSE_S)
                st = self.workers_step(server, scenario, rate, self.a.workers_duration,
                                       workers)
                st["attempt"] = attempt
                ser["steps"].append(st)
                log(f"  workers={workers} {scenario} {rate:g}/s: achieved {st['achieved']}, "
                    f"failures {st['failures']}, server {st['server_cpu_pct']} % "
                    f"(busiest thread {st['busiest_thread_pct']} %), SIPp caller "
                    f"{st['sipp_caller_cpu_pct']} % callee {st['sipp_callee_cpu_pct']} %, "
                    f"idle {st['machine_idle_pct']} %, ksoftirqd {st.get('ksoftirqd_pct')} %, "
                    f"steal {st.get('steal_pct')} %, softirq {st.get('softirq_pct')} %, "
                    f"other {st['other_pct']} %, p99 {st['p99_ms']} ms"
                    f"{', ' + ', '.join(st['flags']) if st['flags'] else ''}"
                    f"{'' if st['sustained'] else ' -> not sustained'}")
                if not st["sustained"] and "disturbed" in st["flags"] and attempt == 1 \
                        and server.alive():
                    st["retried"] = True
                    log("    the rest of the machine was busy: once more")
                    continue
                if not st["sustained"]:
                    ser["first_failed"] = rate
                    break
                ser["highest_sustained"] = rate
                ser["highest_sustained_achieved"] = st["achieved"]
            ser["complete"] = True
            if not server.alive():
                raise RunFailure(f"sipd (workers={workers}) exited during {scenario}",
                                 self.evidence(server, []))
        except (RunFailure, RuntimeError) as e:
            ev = e.evidence if isinstance(e, RunFailure) else {
                "server_stderr_tail": server.stderr_tail(40)}
            log(f"  worker threads, workers={workers} {scenario}: {e}")
            ser["error"] = str(e)
            self.problems.append({"server": "sipd", "phase": f"workers={workers}",
                                  "scenario": scenario, "what": str(e), "evidence": ev})
            self.a.keep = True
        finally:
            server.stop(remove=not (self.a.keep or len(self.problems) > problems_before))
            _server = None

    def window_sample(self, server, children):
        """CPU counters for the step's window: the server's processes and
        each of its threads, each SIPp, the machine's idle time."""
        return {"t": time.monotonic(),
                "server": procs.cpu_sample(server.pids()),
                "threads": procs.thread_ticks(server.pid) if server.pid else {},
                "sipp": {name: (procs.cpu_ticks(c.pid) if c is not None and c.poll() is None
                                else None) for name, c in children.items()},
                "idle": procs.idle_seconds(),
                "times": procs.cpu_times(),
                "ksoftirqd": procs.kernel_thread_ticks("ksoftirqd")}

    def workers_step(self, server, scenario, rate, seconds, workers):
        """One step: the scenario at `rate` for `seconds`, no probe, no
        warm-up. CPU figures are % of one core over the window from
        WINDOW_SKIP_S after the load starts to WINDOW_TAIL_S before its last
        scheduled call (SIPp's start-up and the last answers left out)."""
        callee_file = sipp.SCENARIOS[scenario][1]
        self.need_ports([sipp.CALLER_PORT] + ([sipp.CALLEE_PORT] if callee_file else []))
        d = self.new_dir(f"sipd-w{workers}-{scenario}-{rate:g}")
        load_dir = os.path.join(d, "load")
        os.makedirs(load_dir)
        count = int(round(rate * seconds))
        callee, callee_dir = self.start_callee(server, callee_file, rate, count, d)
        load = None
        stopped = False
        a = b = None
        try:
            drops0 = procs.udp_drops(server.port)
            t0 = time.monotonic()
            load = self.client(server, scenario, sipp.CALLER_PORT, rate, count, load_dir, "load",
                               ["-trace_rtt", "-rtt_freq", "1"], sockets=self.a.workers_sockets)
            children = {"caller": load, "callee": callee}
            _wait_while_running(load, t0 + WINDOW_SKIP_S)
            if load.poll() is None:
                a = self.window_sample(server, children)
                _wait_while_running(load, t0 + seconds - WINDOW_TAIL_S)
                if load.poll() is None:
                    b = self.window_sample(server, children)
            _wait_while_running(load, t0 + seconds + STEP_GRACE_S)
            if load.poll() is None:
                stopped = True
            finish_child(load, None, first=signal.SIGUSR1)
            drops1 = procs.udp_drops(server.port)
        finally:
            if load is not None and load in _children:
                finish_child(load, None, first=signal.SIGUSR1)
            if callee is not None:
                finish_child(callee, None, first=signal.SIGUSR1)

        st = sipp.read_stat(os.path.join(load_dir, "stat.csv"))
        ok = sipp.stat_int(st, "SuccessfulCall(C)")
        achieved = sipp.completion_rate(load_dir)
        coarse = sorted(v for _, v in sipp.read_rtt(load_dir))
        r = {"rate": rate, "seconds": seconds, "count": count, "successful": ok,
             "failures": count - ok, "stopped_after_grace": stopped,
             "achieved": round(achieved, 1) if achieved else None,
             "timeouts": sipp.stat_int(st, "FailedTimeoutOnRecv(C)") +
             sipp.stat_int(st, "FailedMaxUDPRetrans(C)"),
             "unexpected": sipp.stat_int(st, "FailedUnexpectedMessage(C)"),
             "retransmissions": sipp.stat_int(st, "Retransmissions(C)"),
             "server_udp_drops": drops1 - drops0,
             "p50_ms": sipp.percentile(coarse, 0.50), "p99_ms": sipp.percentile(coarse, 0.99),
             # whole life of the caller SIPp, from wait4: a cross-check of the window
             "sipp_caller_cpu_pct_run": round(100 * load.cpu_s / load.wall_s, 1)
             if load.cpu_s is not None and load.wall_s else None,
             "server_cpu_pct": None, "busiest_thread_pct": None, "busiest_thread": None,
             "threads": [], "sipp_caller_cpu_pct": None, "sipp_callee_cpu_pct": None,
             "machine_idle_pct": None, "other_pct": None, "window_s": None, "dir": d}
        if a and b and b["t"] > a["t"]:
            dt = b["t"] - a["t"]

            def pct(ticks):
                return round(100.0 * ticks / procs.CLK_TCK / dt, 1)
            cpu_s, _ = procs.cpu_seconds(a["server"], b["server"])
            r["server_cpu_pct"] = round(100.0 * cpu_s / dt, 1)
            # threads that share a name (unnamed ones are all "sipd") get their
            # number in creation (tid) order, sipd#1 being the main thread
            threads = []
            names = [b["threads"][tid][0] for tid in b["threads"]]
            for n, tid in enumerate(sorted(b["threads"]), 1):
                name, ticks = b["threads"][tid]
                if tid in a["threads"]:
                    label = f"{name}#{n}" if names.count(name) > 1 else name
                    threads.append({"tid": tid, "name": label,
                                    "cpu_pct": pct(ticks - a["threads"][tid][1])})
            threads.sort(key=lambda t: -t["cpu_pct"])
            r["threads"] = threads
            if threads:
                r["busiest_thread_pct"] = threads[0]["cpu_pct"]
                r["busiest_thread"] = threads[0]["name"]
            for name in ("caller", "callee"):
                t_a, t_b = a["sipp"].get(name), b["sipp"].get(name)
                if t_a is not None and t_b is not None:
                    r[f"sipp_{name}_cpu_pct"] = pct(t_b - t_a)
            r["machine_idle_pct"] = round(100.0 * (b["idle"] - a["idle"]) / dt, 1)
            # the kernel's deferred network work (ksoftirqd threads), time the
            # hypervisor gave to others (steal), the machine's softirq time
            # (with tick accounting, mostly already inside the processes' figures)
            r["ksoftirqd_pct"] = pct(b["ksoftirqd"] - a["ksoftirqd"])
            for kind in ("steal", "softirq"):
                r[f"{kind}_pct"] = round(100.0 * (b["times"].get(kind, 0) -
                                                  a["times"].get(kind, 0)) / dt, 1)
            # the rest of the machine: busy time that is neither sipd, SIPp,
            # ksoftirqd nor steal (other processes; softirq run on an idle CPU)
            busy = (os.cpu_count() or 1) * 100.0 - r["machine_idle_pct"]
            r["other_pct"] = round(max(0.0, busy - r["server_cpu_pct"] -
                                       (r["sipp_caller_cpu_pct"] or 0) -
                                       (r["sipp_callee_cpu_pct"] or 0) -
                                       r["ksoftirqd_pct"] - r["steal_pct"]), 1)
            r["window_s"] = round(dt, 2)
        short = achieved is None or achieved < SUSTAINED_SHARE * rate
        r["sustained"] = (r["failures"] == 0 and not short and not stopped and server.alive())
        r["flags"] = step_flags(r, short)
        if not r["sustained"]:
            r["evidence"] = {k: v for k, v in self.evidence(
                server, [load_dir] + ([callee_dir] if callee_dir else [])).items()
                if k.endswith("errors.log") or k == "server_stderr_tail"}
        return r

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


def _wait_while_running(child, until):
    """Sleep until the monotonic time `until` or until child ends, whichever
    comes first (bounded by `until`)."""
    while child.poll() is None:
        left = until - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.02, left))


def _step_plan(rates, steps):
    """(rate, attempt) in order: each rate once, once more (attempt 2) when
    its first attempt is marked retried. At most 2 x len(rates) steps."""
    for rate in rates:
        yield rate, 1
        if steps and steps[-1]["rate"] == rate and steps[-1].get("retried"):
            yield rate, 2


def step_flags(r, short):
    """Why a step may have been limited, from its window figures:
    SIPp-limited  a SIPp process at >= SATURATED_PCT of one core, or the
                  rate fell short while no server thread was at that limit
                  and the machine still had idle CPU (so the server could
                  have used more: the generator did not deliver);
    server thread saturated  a sipd thread at >= SATURATED_PCT of one core;
    cores full    the machine's idle time under CORES_FULL_IDLE_PCT of one
                  core: server and SIPp together used every core;
    disturbed     the rest of the machine (neither sipd nor SIPp) used at
                  least DISTURBED_PCT of one core."""
    flags = []
    gen = max([v for v in (r["sipp_caller_cpu_pct"], r["sipp_callee_cpu_pct"]) if v is not None],
              default=None)
    busiest = r["busiest_thread_pct"]
    full = r["machine_idle_pct"] is not None and r["machine_idle_pct"] < CORES_FULL_IDLE_PCT
    if (gen is not None and gen >= SATURATED_PCT) or \
            (short and busiest is not None and busiest < SATURATED_PCT and not full):
        flags.append("SIPp-limited")
    if busiest is not None and busiest >= SATURATED_PCT:
        flags.append("server thread saturated")
    if full:
        flags.append("cores full")
    if r.get("other_pct") is not None and r["other_pct"] >= DISTURBED_PCT:
        flags.append("disturbed")
    return flags


def workers_conclusion(scenario, series):
    """One or two sentences: did more workers sustain a higher rate, and was
    SIPp the limit."""
    by = {s["workers"]: s for s in series}
    parts = []

    def top(s):
        if s.get("error"):
            return f"no result ({s['error']})"
        if s["highest_sustained"] is None:
            return f"none (the first step, {s['steps'][0]['rate']:g}/s, failed)" \
                if s["steps"] else "none"
        above = "" if s["first_failed"] is not None else " or more (every step passed)"
        return f"{s['highest_sustained']:,}/s{above}"
    parts.append(", ".join(f"{w} worker{'s' if w > 1 else ''}: {top(s)}"
                           for w, s in sorted(by.items())))
    one, two = by.get(1), by.get(max(by)) if by else None
    if one and two and two is not one and not one.get("error") and not two.get("error"):
        h1, h2 = one["highest_sustained"] or 0, two["highest_sustained"] or 0
        if h2 > h1:
            verdict = f"{two['workers']} workers sustained a higher rate than 1"
        elif h2 == h1:
            verdict = f"{two['workers']} workers sustained no higher rate than 1"
        else:
            verdict = f"{two['workers']} workers sustained a lower rate than 1"
        last = two["steps"][-1] if two["steps"] else None
        if last and two["first_failed"] is None:
            verdict += " (no limit found: every step passed)"
        elif last and "server thread saturated" not in last["flags"] and \
                ("SIPp-limited" in last["flags"] or "cores full" in last["flags"]):
            verdict += (" - but the generator had no headroom: "
                        + ("SIPp" if "SIPp-limited" in last["flags"] else "the two cores")
                        + f" stopped the {two['workers']}-worker climb, not sipd")
        parts.append(verdict)
    for w, s in sorted(by.items()):
        if not s["steps"]:
            continue
        last = s["steps"][-1]
        where = (f"at the failed step ({last['rate']:g}/s)" if not last["sustained"]
                 else f"at the top step ({last['rate']:g}/s)")
        gen = max([v for v in (last["sipp_caller_cpu_pct"], last["sipp_callee_cpu_pct"])
                   if v is not None], default=None)
        failed = not last["sustained"]
        if "SIPp-limited" in last["flags"]:
            what = "SIPp was the limit" if failed else "SIPp was at its limit"
        elif failed and "cores full" in last["flags"] and \
                "server thread saturated" not in last["flags"]:
            sipp_pct = f"SIPp caller {last['sipp_caller_cpu_pct'] or 0:g} %"
            if last["sipp_callee_cpu_pct"] is not None:
                sipp_pct += f" + callee {last['sipp_callee_cpu_pct']:g} %"
            what = (f"the two cores were the limit (sipd {last['server_cpu_pct']:g} %, "
                    f"{sipp_pct}, idle {last['machine_idle_pct']:g} %), neither SIPp nor a "
                    "sipd thread at its own ceiling")
        elif failed and "server thread saturated" in last["flags"]:
            what = (f"sipd was the limit (thread {last['busiest_thread']} at "
                    f"{last['busiest_thread_pct']:g} % of a core)")
        elif failed:
            what = "neither SIPp nor a sipd thread was at its limit"
        else:
            what = "SIPp was not the limit"
        extra = []
        if gen is not None and not what.startswith("the two cores"):
            extra.append(f"SIPp {gen:g} % of a core")
        if "cores full" in last["flags"] and not what.startswith("the two cores"):
            extra.append("both cores busy")
        if "disturbed" in last["flags"]:
            extra.append(f"disturbed: other processes at {last['other_pct']:g} %")
        parts.append(f"workers={w} {where}: {what}" + (f" ({', '.join(extra)})" if extra else ""))
    return "; ".join(parts) + "."


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
    ap.add_argument("--workers-only", action="store_true",
                    help="run only the worker-threads part (sipd with server.workers=1 and 2, "
                    "highest sustained rate); a few minutes")
    ap.add_argument("--no-workers", action="store_true",
                    help="skip the worker-threads part")
    ap.add_argument("--workers-rates",
                    help="offered rates of its steps, ascending (full: " +
                    ",".join(map(str, WORKERS_RATES)) + "; quick: " +
                    ",".join(map(str, WORKERS_RATES_QUICK)) + ")")
    ap.add_argument("--workers-duration", type=float,
                    help=f"seconds of load per step (full: {WORKERS_STEP_S:g}; "
                    f"quick: {WORKERS_STEP_S_QUICK:g})")
    ap.add_argument("--workers-counts", default=",".join(map(str, WORKERS_COUNTS)),
                    help="server.workers values to compare (default 1,2)")
    ap.add_argument("--workers-scenarios", default=",".join(WORKERS_SCENARIOS),
                    help="scenarios of the worker-threads part (default "
                    + ",".join(WORKERS_SCENARIOS) + ")")
    ap.add_argument("--workers-sockets", type=int, default=WORKERS_SOCKETS,
                    help="source sockets of its load SIPp (-t un -max_socket N); 1 = one "
                    f"socket, as in the comparison (default {WORKERS_SOCKETS})")
    ap.add_argument("--sipd", default=os.environ.get("SIPD_BINARY") or
                    os.path.join(REPO, "build", "sipd"),
                    help="the sipd binary (default $SIPD_BINARY, else build/sipd)")
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
    if a.workers_only and a.no_workers:
        ap.error("--workers-only and --no-workers exclude each other")
    a.workers_rates = ([float(x) for x in a.workers_rates.split(",") if x] if a.workers_rates
                       else list(WORKERS_RATES_QUICK if a.quick else WORKERS_RATES))
    a.workers_rates = [int(x) if float(x).is_integer() else x for x in a.workers_rates]
    if not a.workers_rates or a.workers_rates != sorted(set(a.workers_rates)) or \
            a.workers_rates[0] <= 0:
        ap.error("--workers-rates takes positive rates in ascending order")
    a.workers_duration = a.workers_duration or (WORKERS_STEP_S_QUICK if a.quick
                                                else WORKERS_STEP_S)
    if a.workers_duration < WINDOW_SKIP_S + WINDOW_TAIL_S + 1:
        ap.error(f"--workers-duration must be at least {WINDOW_SKIP_S + WINDOW_TAIL_S + 1:g} s")
    a.workers_counts = [int(x) for x in a.workers_counts.split(",") if x]
    if not a.workers_counts or min(a.workers_counts) < 1 or max(a.workers_counts) > 64:
        ap.error("--workers-counts takes server.workers values from 1 to 64")
    a.workers_scenarios = [x for x in a.workers_scenarios.split(",") if x]
    bad = set(a.workers_scenarios) - set(sipp.SCENARIOS)
    if bad or not a.workers_scenarios:
        ap.error(f"--workers-scenarios: unknown scenario(s) {', '.join(sorted(bad))}")
    if a.workers_sockets < 1:
        ap.error("--workers-sockets must be at least 1")
    a.run_workers = not a.no_workers and (a.workers_only or "sipd" in a.server_names)
    if not os.access(a.sipd, os.X_OK):
        ap.error(f"{a.sipd} is not an executable (run make)")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    own_workdir = a.workdir is None
    workdir = a.workdir or tempfile.mkdtemp(prefix="sipd-bench.")
    os.makedirs(workdir, exist_ok=True)
    started = time.time()
    result = {
        "kind": "sipd-workers" if a.workers_only else "sipd-vs-kamailio",
        "mode": "quick" if a.quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "commit": git_commit(a.sipd),
        "machine": procs.machine(),
        "versions": {
            "sipd": cmd_output([a.sipd, "--version"]),
            "kamailio": (cmd_output(["/usr/sbin/kamailio", "-v"]).splitlines() or [""])[0]
            .replace("version:", "").strip()
            if "kamailio" in a.server_names and not a.workers_only else None,
            "sipp": next((ln.strip() for ln in cmd_output([a.sipp, "-v"]).splitlines()
                          if "SIPp v" in ln), ""),
        },
        "settings": {
            "rounds": a.rounds, "duration_s": a.duration, "warmup_s": a.warmup,
            "rates": a.rates, "users": servers.USERS, "domain": servers.DOMAIN,
            "probe_rate": sipp.PROBE_RATE, "call_hold_ms": sipp.HOLD_MS,
            "sipd_workers": 1,
            "sipd_binary": os.path.abspath(a.sipd),
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
        if a.workers_only:
            log(f"work directory {workdir}; {result['commit']}; worker threads only")
            bench.need_ports(list(sipp.PORTS) + [servers.SIPD_PORT])
        else:
            log(f"work directory {workdir}; {result['commit']}; {a.rounds} round(s) of "
                f"{a.duration:g} s runs at {a.rates}")
            bench.need_ports(list(sipp.PORTS) + [servers.SIPD_PORT, servers.KAMAILIO_PORT])
        for round_no in range(1, 0 if a.workers_only else a.rounds + 1):
            order = a.server_names if round_no % 2 else list(reversed(a.server_names))
            for phase, scenarios in PHASES:
                todo = [s for s in scenarios if s in wanted]
                if not todo:
                    continue
                for name in order:
                    bench.server_phase(name, phase, todo, round_no)
        if a.run_workers:
            bench.workers()
        if a.memory_sizes and "sipd" in a.server_names and not a.workers_only:
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

    if bench.workers_result:
        result["workers"] = bench.workers_result
    result["elapsed_s"] = round(time.time() - started, 1)
    result["summary"] = aggregate(bench.runs)
    result["ratios"] = ratios(result["summary"])
    result["runs"] = bench.runs
    result["problems"] = bench.problems
    if a.keep or bench.problems:
        result["workdir"] = workdir
    if bench.runs or result.get("memory") or result.get("workers"):
        base = report.result_basename(a.results, started, result["commit"], a.quick,
                                      "workers" if a.workers_only else None)
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
