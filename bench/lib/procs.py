"""procs.py - what the benchmark reads from /proc, and the processes it starts.

Read-only helpers: CPU time (utime+stime from /proc/PID/stat, and the
nanosecond on-CPU time of every thread from /proc/PID/task/*/schedstat as a
cross-check), memory (VmRSS, and PSS from smaps_rollup), the processes of a
server (its process group, plus descendants), the machine description.

Child: one process the benchmark starts (SIPp, a server), in a session of
its own so that its process group is exactly what we started. It is
stopped by its PID or, for servers, by that process group; nothing here
looks processes up by name. Reaped with wait4 to get its CPU time.

Python 3 standard library only.
"""

import os
import platform
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def stat_fields(pid):
    """(ppid, pgid, utime+stime in ticks, starttime) of pid, or None."""
    text = read_text(f"/proc/{pid}/stat")
    if not text:
        return None
    # the command name (field 2) may hold spaces: split after its ')'
    rest = text[text.rfind(")") + 2:].split()
    # rest[0] is field 3 (state); field N is rest[N - 3]
    return int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]), int(rest[19])


def start_time(pid):
    st = stat_fields(pid)
    return st[3] if st else None


def server_pids(root):
    """root, every process of its process group (a server runs in a session
    of its own: group id = root) and every descendant of root."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = stat_fields(int(name))
            if st:
                table[int(name)] = st
    found = {p for p, st in table.items() if st[1] == root}
    children = {}
    for p, st in table.items():
        children.setdefault(st[0], []).append(p)
    todo = [root] if root in table else []
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        found.add(p)
        todo.extend(children.get(p, []))
    return sorted(found)


def schedstat_ns(pid):
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        text = read_text(f"/proc/{pid}/task/{tid}/schedstat")
        if text:
            total += int(text.split()[0])
    return total


def cpu_ticks(pid):
    """utime+stime of pid in ticks (all its threads, ended ones included),
    or None when it is gone."""
    st = stat_fields(pid)
    return st[2] if st else None


def thread_ticks(pid):
    """{tid: (name, utime+stime ticks)} of every live thread of pid, from
    /proc/PID/task/TID/stat (the name is the thread's comm)."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        text = read_text(f"/proc/{pid}/task/{tid}/stat")
        if not text:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        rest = text[text.rfind(")") + 2:].split()
        out[int(tid)] = (name, int(rest[11]) + int(rest[12]))
    return out


def cpu_sample(pids):
    """{pid: (ticks, schedstat ns)}. A process's ticks include the threads
    that already ended; schedstat covers the live threads only."""
    out = {}
    for p in pids:
        st = stat_fields(p)
        if st:
            out[p] = (st[2], schedstat_ns(p))
    return out


def cpu_seconds(before, after):
    """CPU seconds between two samples, (from stat, from schedstat). A process
    that started in between counts whole; one that ended in between is lost
    (servers do not end processes while they run)."""
    ticks = ns = 0
    for p, (t1, n1) in after.items():
        t0, n0 = before.get(p, (0, 0))
        ticks += max(0, t1 - t0)
        ns += max(0, n1 - n0)
    return ticks / CLK_TCK, ns / 1e9


def memory_kb(pids):
    """(sum of VmRSS, sum of Pss) in kB. RSS counts shared memory once per
    process that maps it (Kamailio's shm in every child); PSS splits it."""
    rss = pss = 0
    for p in pids:
        for line in (read_text(f"/proc/{p}/status") or "").splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
        for line in (read_text(f"/proc/{p}/smaps_rollup") or "").splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
                break
    return rss, pss


def idle_seconds():
    """Idle + iowait time of the whole machine, in seconds."""
    fields = (read_text("/proc/stat") or "cpu 0 0 0 0 0").splitlines()[0].split()
    return (int(fields[4]) + int(fields[5])) / CLK_TCK


def cpu_times():
    """The machine's CPU time by kind, in seconds (first line of /proc/stat):
    user, nice, system, idle, iowait, irq, softirq, steal."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    fields = (read_text("/proc/stat") or "cpu").splitlines()[0].split()[1:]
    return {n: int(v) / CLK_TCK for n, v in zip(names, fields)}


def kernel_thread_ticks(prefix):
    """utime+stime ticks of the kernel threads (children of kthreadd, PID 2)
    whose name starts with prefix, e.g. ksoftirqd: network receive work the
    kernel defers from the interrupted process. Read only."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        text = read_text(f"/proc/{name}/stat")
        if not text:
            continue
        comm = text[text.find("(") + 1:text.rfind(")")]
        rest = text[text.rfind(")") + 2:].split()
        if rest[1] == "2" and comm.startswith(prefix):
            total += int(rest[11]) + int(rest[12])
    return total


def udp_drops(port):
    """Datagrams dropped so far by the UDP sockets bound to local `port`
    (last column of /proc/net/udp: receive buffer full, mostly)."""
    total = 0
    for line in (read_text("/proc/net/udp") or "").splitlines()[1:]:
        f = line.split()
        try:
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                total += int(f[-1])
        except (IndexError, ValueError):
            continue
    return total


def udp_rcvbuf_errors():
    """The machine's count of UDP datagrams dropped for a full receive buffer."""
    rows = [l.split() for l in (read_text("/proc/net/snmp") or "").splitlines()
            if l.startswith("Udp:")]
    if len(rows) < 2 or "RcvbufErrors" not in rows[0]:
        return 0
    return int(rows[1][rows[0].index("RcvbufErrors")])


def _bindable(ip, port, kind, reuse_addr):
    s = socket.socket(socket.AF_INET, kind)
    try:
        if reuse_addr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
    except OSError:
        return False
    finally:
        s.close()
    return True


def port_free(ip, port):
    """True when ip:port can be bound for both UDP and TCP."""
    return all(_bindable(ip, port, kind, True) for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM))


def udp_port_bound(ip, port):
    """True when some process holds ip:port over UDP."""
    return not _bindable(ip, port, socket.SOCK_DGRAM, False)


def machine():
    cpu = "unknown"
    for line in (read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in (read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory_gib": round(mem_kb / 1048576, 1), "hostname": platform.node()}


class Child:
    """A process we started, alone in a new session (its own process group).
    stdout and stderr go to the given files."""

    def __init__(self, argv, cwd, stdout_path, stderr_path=None):
        self.argv = argv
        out = open(stdout_path, "wb")
        err = open(stderr_path, "wb") if stderr_path else subprocess.STDOUT
        try:
            self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True)
        finally:
            out.close()
            if stderr_path:
                err.close()
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.rc = None
        self.cpu_s = None
        self.wall_s = None

    def poll(self):
        if self.rc is None:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.rc = self.proc.returncode if self.proc.returncode is not None else -1
                return self.rc
            if pid:
                self.rc = os.waitstatus_to_exitcode(status)
                self.proc.returncode = self.rc
                self.cpu_s = usage.ru_utime + usage.ru_stime
                self.wall_s = time.monotonic() - self.started
        return self.rc

    def wait(self, deadline):
        """Wait until the process ends or the monotonic deadline passes;
        then stop it. Returns the exit status."""
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.stop()
                break
            time.sleep(0.05)
        return self.rc

    def stop(self, first=signal.SIGTERM, grace=5.0, group=False):
        """first (SIGUSR1 asks SIPp to finish its calls), then SIGTERM, then
        SIGKILL, each after `grace` seconds; to the PID, or to the process
        group this Child leads when group is true."""
        for sig in dict.fromkeys((first, signal.SIGTERM, signal.SIGKILL)):
            if self.poll() is not None and not (group and group_alive(self.pid)):
                break
            try:
                if group:
                    os.killpg(self.pid, sig)
                else:
                    os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            end = time.monotonic() + grace
            while time.monotonic() < end:
                self.poll()
                if self.rc is not None and not (group and group_alive(self.pid)):
                    break
                time.sleep(0.05)
        return self.rc


def group_alive(pgid):
    """True while any process of group pgid lives (a zombie does not count)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            text = read_text(f"/proc/{name}/stat")
            if not text:
                continue
            rest = text[text.rfind(")") + 2:].split()
            if int(rest[2]) == pgid and rest[0] != "Z":
                return True
    return False
