"""report.py - the results of compare.py as markdown.

The JSON file holds everything (every run, the medians, the ratios, the
evidence of failures); the markdown file is the readable part of it.
"""

import os
import time

SCENARIO_ORDER = ("reg_auth", "message", "call", "message_noauth", "call_noauth")


def result_basename(results_dir, started, commit, quick):
    """results_dir/<date>-<commit>[-quick], with -2, -3... when taken."""
    os.makedirs(results_dir, exist_ok=True)
    stem = time.strftime("%Y-%m-%d", time.localtime(started)) + f"-{commit}"
    if quick:
        stem += "-quick"
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
    mode = ("quick (1 round of short runs: indicative only)" if res["mode"] == "quick"
            else f"full ({s['rounds']} rounds, median)")
    out.append(f"# sipd vs Kamailio: {res['date']}, commit {res['commit']}, {mode}\n")
    out.append(f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
               f"Linux {m['kernel']}")
    out.append(f"- sipd: {v['sipd']} (1 worker); Kamailio: {v.get('kamailio') or '-'}; "
               f"SIPp: {v['sipp']}")
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
