#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tables and the gnuplot plot of bench/containers from its samples.

    containers_report.py DIR    # reads DIR/samples.tsv and DIR/meta.tsv,
                                # writes DIR/results.md, plot.dat, plot.gp,
                                # cpu_per_read.png (if gnuplot is there)

samples.tsv: round K mode rep reader cpu_us rss_kb
meta.tsv:    round K mode key value   ("-" where a field does not apply)
"""
import collections
import os
import shutil
import statistics
import subprocess
import sys

MODES = ("shared", "private")
PORTS = "80,443,8080,9100"
# reader -> the start cost subtracted from it (same netns, same collectd)
BASE = {"multi_default": "base", "multi_port443": "base",
        "multi_default_init": "base_init", "upstream1": "base1",
        "diag1": "base1"}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(ms):
    if ms != ms:
        return "–"
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def main(d):
    # (k, mode, reader) -> [us]; (k, mode, reader, round) -> [us];
    # (k, round, rep) -> {(mode, reader): us}
    samples = collections.defaultdict(list)
    by_round = collections.defaultdict(list)
    by_rep = collections.defaultdict(dict)
    cell_cpu = collections.Counter()  # (round, k) -> us of all measured runs
    for line in open(os.path.join(d, "samples.tsv")):
        if line.startswith("#"):
            continue
        r, k, mode, rep, reader, cpu, _rss = line.rstrip("\n").split("\t")
        r, k, rep, cpu = int(r), int(k), int(rep), float(cpu)
        samples[(k, mode, reader)].append(cpu)
        by_round[(k, mode, reader, r)].append(cpu)
        by_rep[(k, r, rep)][(mode, reader)] = cpu
        cell_cpu[(r, k)] += cpu
    meta = {}  # (round, k, mode, key) -> value
    glob = {}
    for line in open(os.path.join(d, "meta.tsv")):
        if line.startswith("#"):
            continue
        r, k, mode, key, val = line.rstrip("\n").split("\t", 4)
        if k == "-":
            glob[key] = val
        else:
            meta[(int(r), int(k), mode, key)] = val
    ks = sorted({k for (k, _m, _r) in samples})
    rounds = sorted({r for (_k, _m, _x, r) in by_round})
    total = int(glob.get("total", "0"))

    def ms(k, mode, reader):
        """Median ms of a reader, minus its start cost (median)."""
        v = med(samples[(k, mode, reader)]) / 1000.0
        if reader in BASE:
            v -= med(samples[(k, mode, BASE[reader])]) / 1000.0
        return v

    def paired_ratio(k, reader):
        """Median over repetitions of shared ÷ private (same repetition)."""
        bs = {m: med(samples[(k, m, BASE[reader])]) for m in MODES}
        rs = []
        for (kk, _r, _rep), x in by_rep.items():
            if kk == k and ("shared", reader) in x and ("private", reader) in x:
                rs.append((x[("shared", reader)] - bs["shared"]) /
                          (x[("private", reader)] - bs["private"]))
        return med(rs)

    def first(k, mode, key):
        for r in rounds:
            if (r, k, mode, key) in meta:
                return meta[(r, k, mode, key)]
        return "?"

    res = {(k, m): {x: ms(k, m, x) for x in
                    ("multi_default", "multi_port443", "upstream1", "diag1",
                     "raw1", "base", "base1")} for k in ks for m in MODES}
    nsamp = len(samples[(ks[0], "shared", "multi_default")]) if ks else 0

    out = []
    w = out.append
    w("<!-- SPDX-License-Identifier: MIT -->")
    w("# tcpconns_diag on a container host: one read over K network namespaces\n")
    w(f"Run {glob.get('date', '?')} to {glob.get('end', '?')} at commit "
      f"{glob.get('commit', '?')}: {glob.get('host', '?')}. TCP sockets "
      f"outside the benchmark when it started: {glob.get('baseline_tcp', '?')}.\n")
    w(f"**Load.** {total:,} TCP sockets spread evenly over K network "
      "namespaces (`bench/loadgen -n TOTAL/K -i 0` in each: listeners on 80, "
      "443, 8080 and 9100, connections to them over IPv4 and IPv6, 2% "
      "TIME_WAIT; half the sockets are server-side on the listening ports), "
      "in each of two hash modes, built side by side: **shared**, K "
      "namespaces created as by default, sharing the host's established hash "
      "(`net.ipv4.tcp_ehash_entries` negative inside them); **private**, K "
      "namespaces created while `net.ipv4.tcp_child_ehash_entries` was set "
      "(to the power of two ≥ the namespace's sockets, at least 4096), each "
      "with its own hash. A private namespace's sockets are not in the shared "
      "hash and the reverse, so both sets can be held at once and their reads "
      "alternated (only the global listening hash holds both sets' few "
      "hundred listeners).\n")
    w("**Read.** `collectd -C CONF -T` with `tcpconns_diag` and one "
      "`<Namespace \"nsI\">` block (`Path \"/var/run/netns/nsI\"`) for each of "
      "the K namespaces of a mode, CPU time user+sys (wait4 rusage), minus the "
      "median of `collectd -T` with no read plugin. The plugin also reads "
      "collectd's own namespace, so collectd runs in a stand-in for the host "
      "namespace, one per mode, holding one idle listener as a host holds "
      "sshd: in shared mode a namespace that shares the global hash (its dump "
      "walks the same hash as the host's would), in private mode one with its "
      "own hash (as the host's walk is when every container has its own). "
      "The shared-mode read was also run from the real host namespace as a "
      "check (below). Blocks: *default* (each namespace's listening ports) "
      "and *LocalPort 443*. The first read of `collectd -T` also opens one "
      "sock_diag socket per namespace (a short-lived thread and `setns`), "
      "which a running daemon does once.\n")
    w(f"**Statistics.** {len(rounds)} rounds; each builds every K once (in "
      f"random order) and runs repetitions in which every reader of both modes "
      f"runs once, in random order: {nsamp} samples per value. Values are "
      "medians; *shared ÷ private* is the median of per-repetition ratios.\n")

    def cpu_table(title, reader, ehash):
        """Shared against private hashes for one reader, per K."""
        w(f"## CPU per read (ms), {title}\n")
        w("| K | sockets per namespace | shared hash | per namespace | private hashes | per namespace | shared ÷ private |"
          + (" private ehash buckets |" if ehash else ""))
        w("|---|---|---|---|---|---|---|" + ("---|" if ehash else ""))
        for k in ks:
            s, p = res[(k, "shared")][reader], res[(k, "private")][reader]
            w(f"| {k} | {total // k:,} | {fmt(s)} | {fmt(s / k)} | {fmt(p)} | "
              f"{fmt(p / k)} | {paired_ratio(k, reader):.1f}× |"
              + (f" {first(k, 'private', 'ehash')} |" if ehash else ""))
        w("")

    cpu_table("default block (listening ports)", "multi_default", True)
    cpu_table("`LocalPort \"443\"` in every namespace", "multi_port443", False)

    if any(samples[(k, m, "daemon_default")] for k in ks for m in MODES):
        w("## Steady state: a running collectd (ms per read, default block)\n")
        w("`collectd -f` with the same K-block configuration and `Interval 10`, "
          "in the same stand-in namespace; its CPU (all threads, "
          "/proc/PID/stat, 10 ms ticks) sampled every 0.1 s; each read is a "
          "burst, and the bursts after the first (start-up and first read, "
          "which opens the sockets) are taken: no start cost to subtract, no "
          "socket to open. First round only.\n")
        w("| K | shared hash | per namespace | private hashes | per namespace | reads (shared / private) |")
        w("|---|---|---|---|---|---|")
        for k in ks:
            s_, p_ = (samples[(k, m, "daemon_default")] for m in MODES)
            sm, pm = med(s_) / 1000, med(p_) / 1000
            w(f"| {k} | {fmt(sm)} | {fmt(sm / k)} | {fmt(pm)} | {fmt(pm / k)} | "
              f"{len(s_)} / {len(p_)} |")
        w("")

    w("## Where the shared-hash cost comes from\n")
    w("In shared mode each of the K + 1 dumps (K namespaces and the host) "
      "walks the whole shared hash: every socket of every namespace, skipping "
      "the foreign ones one by one. Against private hashes, one read visits "
      "K × (all sockets) more sockets: the host's walk visits all of them, "
      "each namespace's walk the other namespaces' ones. Extra CPU per "
      "foreign socket visited = (shared − private) ÷ (K × sockets), default "
      "block:\n")
    w("| K | extra ms per read | foreign sockets visited per read | ns per foreign socket |")
    w("|---|---|---|---|")
    for k in ks:
        extra = res[(k, "shared")]["multi_default"] - res[(k, "private")]["multi_default"]
        visits = k * total
        w(f"| {k} | {fmt(extra)} | {visits:,} | {extra * 1e6 / visits:.0f} |")
    w("")

    w("## One namespace read on its own (ms)\n")
    w("One namespace of the K (a different one in every repetition) read from "
      "inside it, as one collectd per container would: `tcpconns_diag` with "
      "no `<Namespace>` block, and upstream `tcpconns`, which reads "
      "`/proc/net/tcp` and `tcp6` of its own namespace and cannot read any "
      "other; each `ip netns exec NS collectd -T` minus the same with no read "
      "plugin. The raw floor: `bench/rawdump -l "
      f"{PORTS}`, one dump with the default block's filter, its own CPU. "
      "*upstream × K*: the CPU of one upstream collectd per namespace (K × "
      "the single read) against one `tcpconns_diag` read of all K.\n")
    w("| K | mode | sockets in the namespace | raw floor | tcpconns_diag | upstream | upstream × K | tcpconns_diag, K blocks |")
    w("|---|---|---|---|---|---|---|---|")
    for k in ks:
        for m in MODES:
            x = res[(k, m)]
            w(f"| {k} | {m} | {total // k:,} | {fmt(x['raw1'])} | {fmt(x['diag1'])} | "
              f"{fmt(x['upstream1'])} | {fmt(x['upstream1'] * k)} | {fmt(x['multi_default'])} |")
    w("")

    w("## Check: the shared-mode read from the real host namespace (ms)\n")
    w("The same K-block read, collectd in the host's own namespace (which "
      "holds a few other sockets and listeners of this machine), against the "
      "stand-in:\n")
    w("| K | from the host namespace | from the stand-in |")
    w("|---|---|---|")
    for k in ks:
        w(f"| {k} | {fmt(ms(k, 'shared', 'multi_default_init'))} | "
          f"{fmt(res[(k, 'shared')]['multi_default'])} |")
    w("")

    w("## Stability: median per round, default block (ms)\n")
    w("| K | mode | " + " | ".join(f"round {r}" for r in rounds) +
      " | min–max of all samples | samples |")
    w("|---|---|" + "---|" * len(rounds) + "---|---|")
    for k in ks:
        for m in MODES:
            b = med(samples[(k, m, "base")]) / 1000
            cells = []
            for r in rounds:
                xs = by_round.get((k, m, "multi_default", r), [])
                cells.append(fmt(med(xs) / 1000 - b) if xs else "–")
            xs = samples[(k, m, "multi_default")]
            w(f"| {k} | {m} | " + " | ".join(cells) +
              f" | {fmt(min(xs) / 1000 - b)}–{fmt(max(xs) / 1000 - b)} | {len(xs)} |")
    w("")
    w("Start costs subtracted (median ms, collectd -T with no read plugin): " +
      "; ".join(f"K={k}: stand-ins {res[(k, 'shared')]['base']:.2f} / "
                f"{res[(k, 'private')]['base']:.2f}, in a namespace "
                f"{res[(k, 'shared')]['base1']:.2f} / {res[(k, 'private')]['base1']:.2f}"
                for k in ks) + ".\n")

    w("## Conditions of every cell\n")
    w("Load average before → after the repetitions (the machine has 2 CPUs "
      "and was shared with other work); CPU of the whole machine meanwhile "
      "(/proc/stat: busy, steal) and the part the measured commands used; "
      "the processes that used most CPU meanwhile (alive at the end, with the "
      "children they reaped, whose CPU counts when reaped and may predate the "
      "cell; this script excluded; `loadgen` is the benchmark's load "
      "refreshing its TIME_WAIT); full TCP sockets allocated in all "
      "namespaces (sockstat `alloc`: the benchmark's two sets hold 588k, more "
      "is someone else's) before → after.\n")
    w("| round | K | sockets (shared + private) | built in | load average | wall s | busy CPU s | of which measured | steal s | top processes | TCP alloc (all netns) |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rounds:
        for k in ks:
            def g(key, mode="-"):
                return meta.get((r, k, mode, key), "?")
            if g("build_s") == "?":
                continue
            w(f"| {r} | {k} | {int(g('sockets', 'shared')):,} + "
              f"{int(g('sockets', 'private')):,} | {g('build_s')} s | "
              f"{g('loadavg_before')} → {g('loadavg_after')} | {g('wall_s')} | "
              f"{g('busy_cpu_s')} | {cell_cpu[(r, k)] / 1e6:.1f} | "
              f"{g('steal_cpu_s')} | {g('top_procs')} | "
              f"{g('tcp_alloc_before')} → {g('tcp_alloc_after')} |")
    w("")
    w("![CPU per read against K](cpu_per_read.png)\n")
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(out))

    with open(os.path.join(d, "plot.dat"), "w") as f:
        f.write("# SPDX-License-Identifier: MIT\n")
        f.write("# K shared_default private_default shared_443 private_443 "
                "upstreamK_shared upstreamK_private daemon_shared daemon_private\n")
        for k in ks:
            s, p = res[(k, "shared")], res[(k, "private")]
            dm = [med(samples[(k, m, "daemon_default")]) / 1000 for m in MODES]
            f.write(f"{k} {s['multi_default']:.3f} {p['multi_default']:.3f} "
                    f"{s['multi_port443']:.3f} {p['multi_port443']:.3f} "
                    f"{s['upstream1'] * k:.3f} {p['upstream1'] * k:.3f} "
                    f"{dm[0]:.3f} {dm[1]:.3f}\n")
    kmax = max(ks)
    gp = f"""# SPDX-License-Identifier: MIT
set terminal pngcairo noenhanced size 1400,600 font 'DejaVu Sans,11'
set output 'cpu_per_read.png'
set multiplot layout 1,2 title 'One read over K network namespaces, {total:,} TCP sockets in all — {glob.get('date', '')}'
set logscale xy
set grid
set key top left Left reverse samplen 3
set xrange [0.8:{kmax * 1.25}]
set xtics ({', '.join(str(k) for k in ks)})
set xlabel 'namespaces read (<Namespace> blocks)'
set ylabel 'CPU ms per read (user+sys)'
set title 'CPU per read (collectd -T, minus its start cost)'
set yrange [100:100000]
plot 'plot.dat' using 1:2 with linespoints lw 2 lc rgb '#d62728' pt 7 title 'tcpconns_diag, shared hash, default block', \\
  'plot.dat' using 1:4 with linespoints lw 2 lc rgb '#d62728' pt 6 dt 2 title 'tcpconns_diag, shared hash, LocalPort 443', \\
  'plot.dat' using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'tcpconns_diag, private hashes, default block', \\
  'plot.dat' using 1:5 with linespoints lw 2 lc rgb '#1f77b4' pt 4 dt 2 title 'tcpconns_diag, private hashes, LocalPort 443', \\
  'plot.dat' using 1:6 with linespoints lw 1 lc rgb '#7f7f7f' pt 9 dt 3 title 'upstream, one collectd per namespace (K x one read), shared', \\
  'plot.dat' using 1:7 with linespoints lw 1 lc rgb '#7f7f7f' pt 8 dt 4 title 'upstream, one collectd per namespace (K x one read), private', \\
  'plot.dat' using 1:8 with points lc rgb '#d62728' pt 3 ps 1.5 title 'running collectd (steady state), shared hash, default block', \\
  'plot.dat' using 1:9 with points lc rgb '#1f77b4' pt 3 ps 1.5 title 'running collectd (steady state), private hashes, default block'
set title 'CPU per namespace (read / K)'
set ylabel 'CPU ms per namespace'
set yrange [1:10000]
plot 'plot.dat' using 1:($2/$1) with linespoints lw 2 lc rgb '#d62728' pt 7 title 'shared hash, default block', \\
  'plot.dat' using 1:($4/$1) with linespoints lw 2 lc rgb '#d62728' pt 6 dt 2 title 'shared hash, LocalPort 443', \\
  'plot.dat' using 1:($3/$1) with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'private hashes, default block', \\
  'plot.dat' using 1:($5/$1) with linespoints lw 2 lc rgb '#1f77b4' pt 4 dt 2 title 'private hashes, LocalPort 443', \\
  'plot.dat' using 1:($8/$1) with points lc rgb '#d62728' pt 3 ps 1.5 title 'running collectd, shared hash, default block', \\
  'plot.dat' using 1:($9/$1) with points lc rgb '#1f77b4' pt 3 ps 1.5 title 'running collectd, private hashes, default block'
unset multiplot
"""
    with open(os.path.join(d, "plot.gp"), "w") as f:
        f.write(gp)
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", "plot.gp"], cwd=d, check=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
