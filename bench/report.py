#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turns bench/run's samples into results.md and a gnuplot PNG.

usage: report.py RESULTS_DIR   (reads samples.tsv and meta.tsv there)

samples.tsv: N, block, reader, rep, cpu_us, rss_kb, recvmsg
  readers: base (collectd with no read plugin), true (process start),
  upstream / diag (collectd -T with the plugin), raw (rawdump's own CPU for
  its dump), ss, proc (cat /proc/net/tcp /proc/net/tcp6).
upstream and diag are charged minus the median of base; ss and proc minus
the median of true. Ratios are taken pair by pair (same N, block and
repetition) and their median is reported.
"""
import collections
import os
import statistics
import subprocess
import sys

ALL_BLOCKS = ["default", "ports", "rare", "all"]
BLOCK_DESC = {
    "default": "default (listening ports)",
    "ports": "LocalPort 80 + LocalPort 443 + RemotePort 8080",
    "rare": "LocalPort 9100 (~1% of sockets)",
    "all": "AllPortsSummary true",
}
READERS = ["upstream", "diag", "core", "raw", "ss", "proc"]
READER_DESC = {
    "upstream": "upstream tcpconns",
    "diag": "tcpconns_diag",
    "core": "tcpconns_diag collector alone",
    "raw": "raw sock_diag floor",
    "ss": "ss (same filter)",
    "proc": "/proc/net/tcp+tcp6",
}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ms(us):
    if us != us:
        return "–"
    ms = us / 1000.0
    if ms >= 100:
        return "%.0f" % ms
    if ms >= 10:
        return "%.1f" % ms
    return "%.2f" % ms


def fmt_x(r):
    return "–" if r != r else "%.2f×" % r


def main():
    out = sys.argv[1]
    samples = collections.defaultdict(dict)  # (n, block, reader) -> rep -> cpu
    rss = collections.defaultdict(list)
    raw_recv = collections.defaultdict(list)
    with open(os.path.join(out, "samples.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 7:
                continue
            n, block, reader, rep, cpu, rk, rv = p
            n = int(n)
            samples[(n, block, reader)][int(rep)] = float(cpu)
            if rk not in ("-", ""):
                rss[(n, block, reader)].append(int(rk))
            if rv not in ("-", ""):
                raw_recv[(n, block)].append(int(rv))
    # The option blocks this run read (BENCH_BLOCKS may leave some out).
    BLOCKS = [b for b in ALL_BLOCKS if any(k[1] == b for k in samples)]
    meta = {}
    nmeta = collections.defaultdict(dict)
    with open(os.path.join(out, "meta.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "n":
                nmeta[int(p[1])][p[2]] = p[3]
            else:
                meta[p[0]] = p[1]
    ns = sorted(nmeta)

    def start_cost(n, reader):
        return med(list(samples[(n, "-", "base" if reader in ("upstream", "diag") else "true")].values()))

    def net(n, block, reader):
        key_block = "-" if reader == "proc" else block
        d = samples.get((n, key_block, reader), {})
        if reader in ("raw", "core"):
            return dict(d)
        sc = start_cost(n, reader)
        return {k: max(v - sc, 0.0) for k, v in d.items()}

    def pair_ratio(a, b):
        rs = [a[k] / b[k] for k in a if k in b and b[k] > 0]
        return med(rs)

    lines = []
    w = lines.append
    w("# tcpconns_diag benchmark: CPU time of one read")
    w("")
    w("Run on %s, %s." % (meta.get("date", "?"), meta.get("host", "?")))
    w("")
    w("Each N runs in its own network namespace with a **private established hash** "
      "(`tcp_child_ehash_entries` set while creating it), loaded by `bench/loadgen`. "
      "CPU is user+sys of one read, the median of interleaved repetitions: "
      "collectd `-T` with the plugin minus collectd `-T` with no read plugin; "
      "the raw floor's own CPU for its one dump; ss and cat minus a `true` process. "
      "Ratios are medians of per-repetition ratios to upstream (same N, block and repetition).")
    w("")
    w("## Load")
    w("")
    w("| N asked | sockets in netns | built in | ehash buckets (private?) | listening ports | host TCP sockets (/proc/net/sockstat) |")
    w("|---|---|---|---|---|---|")
    for n in ns:
        m = nmeta[n]
        w("| %d | %s | %s s | %s (%s) | %s | %s |" % (
            n, m.get("sockets", "?"), m.get("build_s", "?"), m.get("ehash", "?"),
            m.get("private", "?"), m.get("listening_ports", "?"), m.get("host_sockstat", "?")))
    w("")
    w("Sockets each block's kernel filter keeps (raw dump count): " + "; ".join(
        "N=%d: %s" % (n, ", ".join("%s %s" % (b, nmeta[n].get("matched_" + b, "?")) for b in BLOCKS))
        for n in ns) + ".")
    w("")
    w("## CPU per read (ms) and ratio to upstream")
    w("")
    w("| N | block | upstream | tcpconns_diag | collector alone | raw floor | ss | /proc | diag ÷ floor |")
    w("|---|---|---|---|---|---|---|---|---|")
    table = {}
    for n in ns:
        for b in BLOCKS:
            up = net(n, b, "upstream")
            row = ["%d" % int(nmeta[n].get("sockets", n)), BLOCK_DESC[b], fmt_ms(med(list(up.values())))]
            for r in ["diag", "core", "raw", "ss", "proc"]:
                d = net(n, b, r)
                m = med(list(d.values()))
                table[(n, b, r)] = (m, pair_ratio(d, up))
                row.append("%s (%s)" % (fmt_ms(m), fmt_x(pair_ratio(d, up))))
            table[(n, b, "upstream")] = (med(list(up.values())), 1.0)
            dr = pair_ratio(net(n, b, "diag"), net(n, b, "raw"))
            table[(n, b, "diag/raw")] = (dr, dr)
            row.append(fmt_x(dr))
            w("| " + " | ".join(row) + " |")
    w("")
    w("Start costs subtracted (median): " + "; ".join(
        "N=%d: collectd %.2f ms, process %.2f ms" % (n, start_cost(n, "diag") / 1000, start_cost(n, "ss") / 1000)
        for n in ns) + ".")
    w("")
    w("*collector alone*: `bench/coreread`, the plugin's core (`tc_read`) without collectd, "
      "CPU of its second read (steady state: no probe, filter already built), no dispatch.")
    w("")
    w("## recvmsg calls per read")
    w("")
    w("Upstream and tcpconns_diag: `strace -c` of one `collectd -T` (for tcpconns_diag this first read "
      "includes its LISTEN-only probe and discovery dumps, one recvmsg each). Raw: the floor's one dump, 32 KiB buffer.")
    w("")
    w("| N | block | upstream | tcpconns_diag | raw floor |")
    w("|---|---|---|---|---|")
    for n in ns:
        for b in BLOCKS:
            rr = raw_recv.get((n, b), [])
            w("| %d | %s | %s | %s | %s |" % (
                n, b, nmeta[n].get("recvmsg_upstream_" + b, "?"), nmeta[n].get("recvmsg_diag_" + b, "?"),
                int(med(rr)) if rr else "?"))
    w("")
    w("## Peak RSS of collectd (KiB, median)")
    w("")
    w("| N | " + " | ".join("diag %s" % b for b in BLOCKS) + " | upstream default | collectd alone |")
    w("|---|" + "---|" * (len(BLOCKS) + 2))
    rss_diag = {}
    for n in ns:
        vals = [med(rss[(n, b, "diag")]) for b in BLOCKS]
        rss_diag[n] = vals
        w("| %d | %s | %s | %s |" % (n, " | ".join("%.0f" % v for v in vals),
                                     "%.0f" % med(rss[(n, "default", "upstream")]),
                                     "%.0f" % med(rss[(n, "-", "base")])))
    w("")
    w("## Many listening ports (default block)")
    w("")
    w("| N | reader | %s ports (ms) | many ports (ms) | ratio (median of pairs) |" % "few")
    w("|---|---|---|---|---|")
    many = {}
    for n in ns:
        for r in ["diag", "core", "raw", "upstream"]:
            few = net(n, "fewports", r)
            mn = net(n, "manyports", r)
            if not few or not mn:
                continue
            ratio = pair_ratio(mn, few)
            many[(n, r)] = ratio
            w("| %d | %s | %s (%s ports) | %s (%s ports) | %s |" % (
                n, READER_DESC[r], fmt_ms(med(list(few.values()))), nmeta[n].get("listening_ports", "?"),
                fmt_ms(med(list(mn.values()))), nmeta[n].get("many_ports", "?"), fmt_x(ratio)))
    w("")

    # <Connections> rows: tcpconns_diag and the collector alone only.
    CONNS_DESC = {
        "conns10": "default + ten blocks, each a local port and a remote network (server sockets)",
        "conns10c": "default + ten blocks, three of them on client sockets the default does not return",
        "conns1": "ListeningPorts false + one block (LocalPort 9100, RemoteAddress 127.1.0.0/16: ~1%)",
        "addrnone": "ListeningPorts false + one block, an address only (matches none)",
        "portnone": "ListeningPorts false + one block, a port only (matches none)",
    }
    conns_rows = {}
    if any((n, "conns10", "diag") in samples for n in ns):
        w("## <Connections> blocks")
        w("")
        w("tcpconns_diag (collectd `-T`) and the collector alone; ratios are medians of "
          "per-repetition ratios to the default block's reads of the same repetition.")
        w("")
        w("| N | configuration | tcpconns_diag ms | ÷ diag default | ÷ upstream default | collector alone ms | "
          "collector ÷ collector default | sockets received | collector ns per walked socket |")
        w("|---|---|---|---|---|---|---|---|---|")
        for n in ns:
            nsock = float(nmeta[n].get("sockets", n))
            for b in ["conns10", "conns10c", "conns1", "addrnone", "portnone"]:
                d = net(n, b, "diag")
                c = net(n, b, "core")
                if not d:
                    continue
                rd = pair_ratio(d, net(n, "default", "diag"))
                ru = pair_ratio(d, net(n, "default", "upstream"))
                rc = pair_ratio(c, net(n, "default", "core"))
                cm = med(list(c.values()))
                conns_rows[(n, b)] = (rd, ru, rc, cm / nsock * 1000.0)
                w("| %d | %s | %s | %s | %s | %s | %s | %s | %.0f |" % (
                    int(nsock), CONNS_DESC[b], fmt_ms(med(list(d.values()))), fmt_x(rd), fmt_x(ru),
                    fmt_ms(cm), fmt_x(rc), nmeta[n].get("core_sockets_" + b, "?"), cm / nsock * 1000.0))
        w("")
        w("*ns per walked socket*: the collector's CPU for one read divided by the sockets in the "
          "namespace (every one is walked by the kernel; with addrnone/portnone none is emitted, so "
          "this is the walk plus one program run per socket). addrnone − portnone is what the address "
          "test adds over a port test.")
        w("")

    # Targets, at the largest N.
    top = ns[-1]
    checks = []

    def chk(name, value, limit, ok):
        checks.append((name, value, limit, ok))

    r = table[(top, "default", "diag")][1]
    chk("default block ≤ 0.70× upstream", fmt_x(r), "0.70×", r <= 0.70)
    r = table[(top, "rare", "diag")][1]
    chk("1%-port LocalPort ≤ 0.20× upstream", fmt_x(r), "0.20×", r <= 0.20)
    worst = max(table[(top, b, "diag")][1] for b in BLOCKS)
    chk("every block ≤ 1.0× upstream (worst)", fmt_x(worst), "1.00×", worst <= 1.0)
    worst = max(table[(top, b, "diag/raw")][1] for b in BLOCKS)
    chk("every block ≤ 1.15× raw floor (worst)", fmt_x(worst), "1.15×", worst <= 1.15)
    for rd, what in (("diag", "collectd read"), ("core", "collector alone")):
        if (top, rd) in many:
            r = many[(top, rd)]
            chk("%s listening ports ≤ 1.2× the read with %s (%s)" % (
                nmeta[top].get("many_ports", "?"), nmeta[top].get("listening_ports", "?"), what),
                fmt_x(r), "1.20×", r <= 1.2)
    if (top, "conns10") in conns_rows:
        r = conns_rows[(top, "conns10")][0]
        chk("ten <Connections> blocks (server sockets) ≤ 1.15× the default read", fmt_x(r), "1.15×", r <= 1.15)
        r = conns_rows[(top, "conns1")][1]
        chk("one block matching ~1% ≤ 0.20× upstream's default read", fmt_x(r), "0.20×", r <= 0.20)
    allrss = [v for n in ns for v in rss_diag[n]]
    spread = max(allrss) - min(allrss)
    chk("collectd RSS flat from N=%d to N=%d (max−min over all blocks)" % (ns[0], top),
        "%.0f KiB" % spread, "1024 KiB", spread <= 1024)
    w("## Targets (at N = %d, sockets %s)" % (top, nmeta[top].get("sockets", "?")))
    w("")
    w("| target | measured | limit | met |")
    w("|---|---|---|---|")
    for name, value, limit, ok in checks:
        w("| %s | %s | %s | %s |" % (name, value, limit, "yes" if ok else "**no**"))
    w("")
    w("![CPU per read against N](cpu_per_read.png)")
    w("")

    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))

    # Plot: one panel per block, one line per reader, log-log.
    dat = os.path.join(out, "plot.dat")
    with open(dat, "w") as f:
        for b in BLOCKS:
            f.write("# block %s\n# sockets %s\n" % (b, " ".join(READERS)))
            for n in ns:
                vals = []
                for r in READERS:
                    m = table[(n, b, r)][0] / 1000.0
                    vals.append("%.4f" % max(m, 0.001))
                f.write("%s %s\n" % (nmeta[n].get("sockets", n), " ".join(vals)))
            f.write("\n\n")
    gp = os.path.join(out, "plot.gp")
    styles = ["lc rgb '#d62728' pt 7", "lc rgb '#1f77b4' pt 5", "lc rgb '#ff7f0e' pt 6 dt 4", "lc rgb '#2ca02c' pt 9 dt 2",
              "lc rgb '#9467bd' pt 11", "lc rgb '#7f7f7f' pt 13 dt 3"]
    with open(gp, "w") as f:
        f.write("set terminal pngcairo noenhanced size 1400,1000 font 'DejaVu Sans,11'\n")
        f.write("set output 'cpu_per_read.png'\n")
        f.write("set multiplot layout 2,2 title 'CPU time (user+sys) of one read vs sockets in the namespace — %s'\n"
                % meta.get("date", ""))
        f.write("set logscale xy\nset grid\nset key top left\nset format x '%.0s%c'\n")
        f.write("set xlabel 'TCP sockets'\nset ylabel 'CPU ms per read'\n")
        for i, b in enumerate(BLOCKS):
            f.write("set title '%s'\n" % BLOCK_DESC[b])
            plots = []
            for j, r in enumerate(READERS):
                plots.append("'plot.dat' index %d using 1:%d with linespoints lw 2 %s title '%s'" % (
                    i, j + 2, styles[j], READER_DESC[r]))
            f.write("plot " + ", \\\n  ".join(plots) + "\n")
        f.write("unset multiplot\n")
    subprocess.run(["gnuplot", "plot.gp"], check=True, cwd=out)


if __name__ == "__main__":
    main()
