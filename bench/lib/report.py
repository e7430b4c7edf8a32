"""report.py - the results of compare.py as markdown.

The JSON file holds everything (every run, the medians, the ratios, the
evidence of failures); the markdown file is the readable part of it.
"""

import os
import time

SCENARIO_ORDER = ("reg_auth", "message", "call", "message_noauth", "call_noauth")


def result_basename(results_dir, started, commit, quick, tag=None):
    """results_dir/<date>-<commit>[-quick][-tag], with -2, -3... when taken."""
    os.makedirs(results_dir, exist_ok=True)
    stem = time.strftime("%Y-%m-%d", time.localtime(started)) + f"-{commit}"
    if quick:
        stem += "-quick"
    if tag:
        stem += f"-{tag}"
    base = os.path.join(results_dir, stem)
    n = 2
    while os.path.exists(base + ".json") or os.path.exists(base + ".md"):
        base = os.path.join(results_dir, f"{stem}-{n}")
        n += 1
    return base


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}"


def mib(kb):
    return None if kb is None else kb / 1024.0


SERVER_ORDER = ("sipd", "kamailio")


def _order(row):
    sc = row["scenario"]
    server = row.get("server", "")
    return (SCENARIO_ORDER.index(sc) if sc in SCENARIO_ORDER else 99, row["rate"],
            SERVER_ORDER.index(server) if server in SERVER_ORDER else 9)


def markdown(res):
    s = res["settings"]
    m = res["machine"]
    v = res["versions"]
    out = []
    workers_only = res.get("kind") == "sipd-workers"
    if workers_only:
        mode = "quick" if res["mode"] == "quick" else "full steps"
        out.append(f"# sipd worker threads: {res['date']}, commit {res['commit']}, {mode}\n")
    else:
        mode = ("quick (1 round of short runs: indicative only)" if res["mode"] == "quick"
                else f"full ({s['rounds']} rounds, median)")
        out.append(f"# sipd vs Kamailio: {res['date']}, commit {res['commit']}, {mode}\n")
    out.append(f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
               f"Linux {m['kernel']}")
    out.append(f"- sipd: {v['sipd']} ({'see below for workers' if workers_only else '1 worker'}"
               f"{', ' + s['sipd_binary'] if s.get('sipd_binary') else ''}); "
               f"Kamailio: {v.get('kamailio') or '-'}; SIPp: {v['sipp']}")
    if not workers_only:
        out.append(f"- load: {s['users']} users of {s['domain']} on 127.0.0.1, UDP; "
                   f"{s['duration_s']:g} s per run after {s['warmup_s']:g} s of warm-up; "
                   f"call hold {s['call_hold_ms']} ms; response times from a "
                   f"{s['probe_rate']}/s probe beside the load")
    out.append(f"- run time: {res.get('elapsed_s', 0) / 60:.1f} min\n")

    summary = sorted(res.get("summary", []), key=_order)
    if summary:
        out.append("## Per scenario and offered rate\n")
        out.append("CPU = server utime+stime (all processes and threads) over the run "
                   "/ successful iterations. Failures = failed / attempted iterations "
                   "(all rounds). p50/p99 = first request to final 200, from the probe "
                   "(µs time stamps). RSS summed over the server's processes (Kamailio's "
                   "shared memory counts once per process); PSS shares it out.\n")
        out.append("| scenario | rate/s | server | CPU µs/iter | achieved/s | failures | "
                   "p50 ms | p99 ms | RSS MiB | PSS MiB | server cores |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in summary:
            cpu = fmt(r["cpu_us_per_iter"])
            if r["rounds"] > 1 and r.get("cpu_us_per_iter_min") is not None:
                cpu += f" [{fmt(r['cpu_us_per_iter_min'])}..{fmt(r['cpu_us_per_iter_max'])}]"
            out.append(f"| {r['scenario']} | {r['rate']:g} | {r['server']} | {cpu} | "
                       f"{fmt(r['achieved'], 0)} | {r['failures']}/{r['iterations']} | "
                       f"{fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | "
                       f"{fmt(mib(r['rss_kb']))} | {fmt(mib(r['pss_kb']))} | "
                       f"{fmt(r['server_cores'], 2)} |")
        out.append("")

    rat = sorted(res.get("ratios", []), key=_order)
    if rat:
        out.append("## sipd / Kamailio\n")
        out.append("Below 1: sipd uses less (CPU, memory) or answers sooner. "
                   "Failures: sipd/Kamailio counts.\n")
        out.append("| scenario | rate/s | CPU | achieved | failures | p50 | p99 | RSS | PSS |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in rat:
            out.append(f"| {r['scenario']} | {r['rate']:g} | {fmt(r['cpu_us_per_iter'], 2)} | "
                       f"{fmt(r['achieved'], 2)} | {r['failures']} | {fmt(r['p50_ms'], 2)} | "
                       f"{fmt(r['p99_ms'], 2)} | {fmt(r['rss_kb'], 2)} | "
                       f"{fmt(r['pss_kb'], 2)} |")
        out.append("")

    mem = res.get("memory")
    if mem:
        out.append("## sipd memory and start-up\n")
        out.append("Bindings written straight into sipd's SQLite database (one per user, "
                   "expiring in a day); RSS (VmRSS) 1 s after \"ready\"; start = exec to "
                   "\"ready\" on standard output. Bytes per binding = RSS difference from "
                   "the same users without bindings / bindings.\n")
        out.append("| users | bindings | RSS MiB | peak RSS MiB | start s | bytes/binding |")
        out.append("|---|---|---|---|---|---|")
        for r in mem:
            out.append(f"| {r['users']:,} | {r['bindings']:,} | {fmt(mib(r['rss_kb']))} | "
                       f"{fmt(mib(r['peak_rss_kb']))} | {fmt(r['ready_s'], 2)} | "
                       f"{fmt(r.get('bytes_per_binding'), 0)} |")
        out.append("")

    out.extend(workers_markdown(res.get("workers")))

    runs = res.get("runs", [])
    if runs:
        out.append("## Every run\n")
        out.append("retrans = SIPp caller retransmissions; drops = datagrams the server's "
                   "socket dropped (receive buffer full); SIPp/other cores = the load "
                   "generators' CPU and the rest of the machine's, in cores, over the run.\n")
        out.append("| round | server | scenario | rate/s | CPU µs/iter | achieved/s | "
                   "failures | p50 ms | p99 ms | retrans | drops | server cores | SIPp cores | "
                   "other cores |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted(runs, key=lambda r: (r.get("round", 0),) + _order(r)):
            out.append(f"| {r.get('round', '-')} | {r['server']} | {r['scenario']} | "
                       f"{r['rate']:g} | {fmt(r['cpu_us_per_iter'])} | "
                       f"{fmt(r['achieved'], 0)} | "
                       f"{r['failures'] + r['probe_failures']} | {fmt(r['p50_ms'], 2)} | "
                       f"{fmt(r['p99_ms'], 2)} | {r['retransmissions']} | "
                       f"{r.get('server_udp_drops', '-')} | {fmt(r['server_cores'], 2)} | {fmt(r['sipp_cores'], 2)} | "
                       f"{fmt(r['other_cores'], 2)} |")
        out.append("")

    problems = res.get("problems", [])
    if problems:
        out.append("## Problems\n")
        for p in problems:
            where = " ".join(str(p[k]) for k in ("server", "phase", "scenario", "rate", "round")
                             if p.get(k) is not None)
            out.append(f"- {where}: {p['what']}")
        out.append(f"\nEvidence (SIPp error logs, server stderr) in the JSON file and in "
                   f"{res.get('workdir', 'the work directory')}.\n")
    return "\n".join(out).rstrip("\n") + "\n"


def workers_markdown(w):
    """The "Worker threads" section: per scenario, the highest sustained rate
    for each server.workers value, then every step."""
    if not w or not w.get("scenarios"):
        return []
    st = w["settings"]
    out = ["## Worker threads\n"]
    sockets = st.get("load_sockets", 1)
    out.append(
        f"sipd alone, fresh for each scenario and `server.workers` value, 10,000 users "
        f"(callees registered first when the scenario has one). The offered rate climbs in "
        f"steps of {st['step_s']:g} s ({', '.join(f'{r:g}' for r in st['rates'])}/s), no "
        f"warm-up, no probe, and stops at the first step that is not sustained. Sustained = "
        f"no failed iteration and achieved ≥ {st['sustained_share'] * 100:g} % of offered. "
        f"The load SIPp sends from "
        + (f"up to {sockets} sockets (one per call, `-t un -max_socket {sockets}`) so that "
           "SO_REUSEPORT can spread its datagrams over the workers' sockets"
           if sockets > 1 else "one socket (`-t u1`): one source port, which SO_REUSEPORT "
           "hashes to a single worker")
        + "; the callee SIPp answers from one port.\n")
    out.append(
        "CPU in % of one core (100 = one core; the machine has "
        "its cores × 100), from /proc over the step's window (from "
        f"{st['window_s'][0]:g} s after the load starts to {-st['window_s'][1]:g} s before "
        "its last call): server = every sipd thread together, busiest thread = the "
        "busiest single sipd thread (an event loop cannot use more than 100), SIPp caller "
        "and callee = each SIPp process (single-threaded: 100 is its ceiling), idle = the "
        "machine's idle time, other = the rest of the machine: busy time that is neither "
        "sipd, SIPp, the kernel's ksoftirqd threads nor steal (the JSON has those two). p99 is SIPp's own (first request to final 200, on its 4 ms "
        "clock). Flags: **SIPp-limited** = a SIPp process at ≥ "
        f"{st['saturated_pct']:g} % of a core, or the achieved rate fell short while no sipd "
        f"thread reached {st['saturated_pct']:g} % and the machine had idle CPU (the server "
        "could have done more); "
        f"**server thread saturated** = a sipd thread at ≥ {st['saturated_pct']:g} %; "
        f"**cores full** = machine idle < {st['cores_full_idle_pct']:g} % of a core; "
        f"**disturbed** = other ≥ {st.get('disturbed_pct', 25):g} % of a core (a failed "
        "step that was disturbed runs once more; both attempts are listed).\n")
    if w.get("note"):
        out.append(f"Note: {w['note']}.\n")
    for sc in w["scenarios"]:
        out.append(f"### {sc['scenario']}\n")
        if sc.get("conclusion"):
            out.append(sc["conclusion"] + "\n")
        out.append("| workers | highest sustained/s | achieved/s there | first failed step/s |")
        out.append("|---|---|---|---|")
        for ser in sc["series"]:
            if ser.get("error"):
                hs = f"error: {ser['error']}"
            elif ser["highest_sustained"] is None:
                hs = "none"
            else:
                hs = f"{ser['highest_sustained']:,}" + \
                    ("" if ser["first_failed"] is not None else
                     " (top step)" if ser.get("complete", True) else " (run interrupted)")
            out.append(f"| {ser['workers']} | {hs} | {fmt(ser['highest_sustained_achieved'], 0)} "
                       f"| {fmt(ser['first_failed'], 0) if ser['first_failed'] else '-'} |")
        out.append("")
        out.append("| workers | offered/s | achieved/s | failures | server CPU % | busiest "
                   "thread % | SIPp caller % | SIPp callee % | idle % | other % | p99 ms | "
                   "retrans | sustained | flags |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for ser in sc["series"]:
            for r in ser["steps"]:
                busiest = fmt(r["busiest_thread_pct"], 0)
                if r.get("busiest_thread"):
                    busiest += f" ({r['busiest_thread']})"
                failures = f"{r['failures']}/{r['count']}"
                if r.get("stopped_after_grace"):
                    failures += " (stopped)"
                offered = f"{r['rate']:,}" + (" (again)" if r.get("attempt", 1) > 1 else "")
                out.append(
                    f"| {ser['workers']} | {offered} | {fmt(r['achieved'], 0)} | "
                    f"{failures} | {fmt(r['server_cpu_pct'], 0)} | {busiest} | "
                    f"{fmt(r['sipp_caller_cpu_pct'], 0)} | {fmt(r['sipp_callee_cpu_pct'], 0)} | "
                    f"{fmt(r['machine_idle_pct'], 0)} | {fmt(r.get('other_pct'), 0)} | "
                    f"{fmt(r['p99_ms'], 0)} | "
                    f"{r['retransmissions']} | {'yes' if r['sustained'] else 'no'} | "
                    f"{', '.join(r['flags']) or '-'} |")
        out.append("")
        warned = sorted({ln for ser in sc["series"] for ln in ser.get("server_warnings", [])
                         if "worker" in ln})
        if warned:
            out.append("sipd said at start: " + " / ".join(f"`{ln.strip()}`" for ln in warned)
                       + "\n")
    return out
