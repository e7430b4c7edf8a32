"""sipp.py - SIPp as the benchmark's callers and callee, and what SIPp writes.

Three kinds of SIPp process take part in a measured run (ports on 127.0.0.1):

  load    the scenario at the offered rate, -m iterations: the traffic the
          server's CPU is divided by (port 5191)
  probe   the same scenario at PROBE_RATE with -trace_msg: its message log
          has microsecond time stamps, from which the response times come.
          SIPp's own response-time figures use a 4 ms clock on this kind of
          kernel (CLOCK_MONOTONIC_COARSE), too coarse for p50 (port 5193)
  callee  one SIPp UAS (uas_message.xml or uas_call.xml) that plays every
          callee; every user is registered with its Contact here (port 5190)

and before the message and call runs a setup pass registers every user
with reg_auth.xml (port 5192). Every client runs with -m and -timeout
(-timeout_error), and the caller of this module also enforces a deadline:
nothing runs unbounded.

Injection file (one line per user, SEQUENTIAL): field0 the user, field1 the
whole [authentication username=U password=P] keyword (SIPp 3.6 does not
expand a field inside that keyword, so the line carries it ready-made),
field2 the callee: user i calls user (i + N/2) mod N.

Python 3 standard library only.
"""

import datetime
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(os.path.dirname(HERE), "scenarios")

# name -> (caller scenario, callee scenario or None, method of the first request)
SCENARIOS = {
    "reg_auth": ("reg_auth.xml", None, "REGISTER"),
    "message": ("message.xml", "uas_message.xml", "MESSAGE"),
    "call": ("call.xml", "uas_call.xml", "INVITE"),
    "message_noauth": ("message_noauth.xml", "uas_message.xml", "MESSAGE"),
    "call_noauth": ("call_noauth.xml", "uas_call.xml", "INVITE"),
}

ADDR = "127.0.0.1"
CALLEE_PORT = 5190
CALLER_PORT = 5191
SETUP_PORT = 5192
PROBE_PORT = 5193
PORTS = (CALLEE_PORT, CALLER_PORT, SETUP_PORT, PROBE_PORT)

CALLER_DOMAIN = "caller.test"  # the *_noauth callers: a domain neither server serves
HOLD_MS = 500                  # call: ACK to BYE
RECV_TIMEOUT_MS = 5000         # a call waiting longer than this for a message fails
REG_EXPIRES = 3600
PROBE_RATE = 50                # iterations/s of the probe
SOCKET_BUFFER = 4194304        # SIPp's 64 KiB default drops answers in its 10 ms bursts
GRACE_S = 30                   # SIPp -timeout = load time + hold + this


def write_injection(path, first, count, pw_prefix):
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(count):
            user = first + i
            callee = first + (i + count // 2) % count
            f.write(f"{user};[authentication username={user} password={pw_prefix}{user}];"
                    f"{callee}\n")


def timeout_s(rate, count):
    return count / rate + HOLD_MS / 1000.0 + GRACE_S


def client_argv(sipp, server_port, scenario_file, injection, domain, port, rate, count,
                extra=(), sockets=1):
    """sockets: 1 = every message from the one socket on `port` (-t u1);
    N > 1 = one socket per call, at most N of them, reused in turn once N
    are open (-t un -max_socket N): N source ports instead of one."""
    # most calls open at once: far above rate x call length, below SIPp's
    # open-files warning (20,000 here)
    limit = max(2000, int(rate * (HOLD_MS / 1000.0 + 2) * 2))
    transport = ["-t", "u1"] if sockets <= 1 else ["-t", "un", "-max_socket", str(sockets)]
    return [sipp, f"{ADDR}:{server_port}",
            "-sf", os.path.join(SCENARIO_DIR, scenario_file),
            "-inf", injection,
            "-i", ADDR, "-p", str(port)] + transport + [
            "-key", "sip_domain", domain,
            "-key", "caller_domain", CALLER_DOMAIN,
            "-key", "callee_addr", ADDR,
            "-key", "callee_port", str(CALLEE_PORT),
            "-key", "reg_expires", str(REG_EXPIRES),
            "-auth_uri", domain,
            "-r", f"{rate:g}", "-rp", "1000", "-m", str(count), "-l", str(limit),
            "-d", str(HOLD_MS),
            "-recv_timeout", str(RECV_TIMEOUT_MS),
            "-timeout", f"{int(timeout_s(rate, count))}s", "-timeout_error",
            "-buff_size", str(SOCKET_BUFFER),
            "-nostdin", "-f", "1",
            "-trace_stat", "-stf", "stat.csv", "-fd", "1",
            "-trace_err", "-error_file", "errors.log",
            "-pause_msg_ign", "-timer_resol", "10"] + list(extra)


def callee_argv(sipp, scenario_file, lifetime_s):
    return [sipp, "-sf", os.path.join(SCENARIO_DIR, scenario_file),
            "-i", ADDR, "-p", str(CALLEE_PORT), "-t", "u1",
            "-buff_size", str(SOCKET_BUFFER),
            "-timeout", f"{int(lifetime_s)}s",
            "-nostdin", "-f", "1",
            "-trace_stat", "-stf", "stat.csv", "-fd", "1",
            "-trace_err", "-error_file", "errors.log"]


# ---------------------------------------------------------------------------
# what SIPp wrote

def read_stat(path):
    """The last row of a -trace_stat file as {column: value}."""
    try:
        with open(path) as f:
            rows = [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0].split(";"), rows[-1].split(";")))


def stat_int(stat, key):
    try:
        return int(stat.get(key) or 0)
    except ValueError:
        return 0


def read_rtt(directory, rtd=1):
    """[(date_ms, response_ms)] of one response-time counter, from the
    -trace_rtt files in directory (both columns on SIPp's coarse clock)."""
    out = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith("_rtt.csv"):
            continue
        with open(os.path.join(directory, name)) as f:
            for line in f:
                parts = line.strip().split(";")
                if len(parts) >= 3 and parts[2] == str(rtd):
                    try:
                        out.append((float(parts[0]), float(parts[1])))
                    except ValueError:
                        pass
    return out


def completion_rate(directory):
    """Completed iterations per second, from the first to the last completion
    time of a -trace_rtt run (None with fewer than two completions)."""
    done_at = sorted(t for t, _ in read_rtt(directory))
    if len(done_at) >= 2 and done_at[-1] > done_at[0]:
        return (len(done_at) - 1) * 1000.0 / (done_at[-1] - done_at[0])
    return None


def _stamp(text):
    return datetime.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def read_trace_latencies(path, method):
    """Response times in ms, one per completed iteration, from a -trace_msg
    log: from the first message SIPp sent for a Call-ID to the first 200 it
    received for `method` (so both challenge round trips are included)."""
    first_sent = {}
    done = {}
    stamp = direction = None
    lines = []

    def block():
        if stamp is None or not lines:
            return
        call_id = cseq = None
        for line in lines:
            low = line[:8].lower()
            if low.startswith("call-id:") or low.startswith("i:"):
                call_id = line.split(":", 1)[1].strip()
            elif low.startswith("cseq:"):
                cseq = line.split(":", 1)[1].split()
            if call_id and cseq:
                break
        if not call_id:
            return
        if direction == "sent":
            first_sent.setdefault(call_id, stamp)
        elif (call_id not in done and lines[0].startswith("SIP/2.0 200")
              and cseq and cseq[-1] == method and call_id in first_sent):
            done[call_id] = stamp - first_sent[call_id]

    try:
        f = open(path, errors="replace")
    except OSError:
        return []
    with f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if line.startswith("----------------------------------------------- "):
                block()
                stamp, lines = _stamp(line.split(" ", 1)[1]), []
                direction = None
            elif direction is None and stamp is not None and " message " in line:
                direction = "sent" if " sent" in line else "received"
            elif direction is not None and (line or lines):
                lines.append(line)
        block()
    return [v * 1000.0 for v in done.values()]


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 1)))  # ceil(q * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def error_excerpt(path, lines=30, tail=False):
    """The first (or last) lines of a SIPp file, for the evidence of a failure."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    rows = text.splitlines()
    return "\n".join(rows[-lines:] if tail else rows[:lines])
