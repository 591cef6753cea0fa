#!/usr/bin/env python3
"""Write summary.md for a benchmark result directory.

Usage: summarize.py DIR

Reads DIR/summary.csv (and meta.txt, notes.txt, capacity.csv, *.png when
present) and writes DIR/summary.md: an overview, the notes, and per
(scenario, job, scheduler) medians over the repetitions, min-max, and ratios
to `none` and to the best in-kernel scheduler. Standard library only (runs
in the VM).
"""
import csv
import os
import statistics
import sys

INKERNEL = ["none", "mq-deadline", "kyber", "bfq"]
SCENARIOS = ["overhead", "calibration", "contention", "mixed", "tenants", "tenants-bfq-weight",
             "tenants-io.latency", "tenants-io.cost", "tenants-qos", "ssd-calibration",
             "ssd-contention", "ssd-mixed", "ssd-tenants", "ssd-tenants-bfq-weight", "ssd-tenants-io.latency",
             "ssd-tenants-io.cost", "ssd-tenants-qos"]
METRICS = ["iops", "bw_kib", "lat_mean_us", "lat_p50_us", "lat_p99_us", "lat_p999_us"]
CHARTS = [
    ("iops.png", "IOPS per workload on the default null_blk (overhead scenario)"),
    ("contention-latency.png", "Read tail latency against a write flood (contention scenario)"),
    ("mixed.png", "Mixed sequential and random streams: throughput (mixed scenario)"),
    ("tenants.png", "Tenants: latency-critical reader and best-effort throughput"),
    ("ssd-contention-latency.png", "The same contention on the ssdsim device"),
    ("ssd-mixed.png", "The same mixed streams on the ssdsim device"),
    ("ssd-tenants.png", "The same tenants on the ssdsim device"),
]


def sched_key(s):
    order = INKERNEL + ["ufq"]
    return (order.index(s), "") if s in order else (len(order), s)


def scen_key(s):
    return (SCENARIOS.index(s), "") if s in SCENARIOS else (len(SCENARIOS), s)


def read_kv(path):
    kv = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    kv[k] = v
    return kv


def load(path):
    """{(scenario, job): {scheduler: {metric: [values by repetition]}}}"""
    data = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            d = data.setdefault((row["scenario"], row["job"]), {}).setdefault(row["scheduler"], {})
            for m in METRICS:
                if row.get(m) not in (None, ""):
                    d.setdefault(m, []).append(float(row[m]))
    return data


def load_capacity(path):
    """{(scenario, scheduler): [total IOPS by repetition]} and the nominal
    capacity, from the guest's capacity.csv (absent: empty, None), for the
    device-bound null_blk; the ssdsim device's rows (ssd-*), with their own
    nominal capacity, are left to the caller (read_kv of meta.txt)."""
    totals, nominal = {}, None
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["scenario"].startswith("ssd-"):
                    continue
                totals.setdefault((row["scenario"], row["scheduler"]), []).append(
                    float(row["total_iops"]))
                nominal = float(row["nominal_iops"])
    return totals, nominal


def load_ssd_capacity(path):
    """[(total IOPS, nominal IOPS)] of the ssdsim device's calibration runs,
    from the guest's capacity.csv."""
    runs = []
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                if row["scenario"] == "ssd-calibration":
                    runs.append((float(row["total_iops"]), float(row["nominal_iops"])))
    return runs


def schedulers(data):
    """The schedulers compared, in display order (the calibration run, always
    under none, does not add one)."""
    return sorted({s for (sc, _), v in data.items() if sc != "calibration" for s in v},
                  key=sched_key)


def med(d, s, m):
    v = d.get(s, {}).get(m)
    return statistics.median(v) if v else None


def fmt_iops(v):
    if v is None:
        return "—"
    return f"{v / 1000:.1f}k" if v >= 10000 else f"{v:.0f}"


def fmt_us(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def fmt_ms(v):
    return "—" if v is None else f"{v / 1000:.2f}"


def fmt_pct(a, b):
    return "—" if a is None or not b else f"{100 * a / b:.0f}%"


def fmt_ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}"


def fmt_range(vals, f):
    if not vals:
        return "—"
    lo, hi = min(vals), max(vals)
    return f(lo) if len(vals) == 1 else f"{f(lo)}–{f(hi)}"


def best_inkernel(d, m, higher):
    cands = [(med(d, s, m), s) for s in INKERNEL if med(d, s, m) is not None]
    if not cands:
        return None, None
    v, s = (max if higher else min)(cands)
    return s, v


def slo_us(meta, tscen):
    """The median of the repetitions' latency targets of the qos and io.cost
    variants of tscen (tenants or ssd-tenants), from meta.txt, or None."""
    v = [float(x) for k, x in meta.items() if k.startswith(f"slo_us.{tscen}.rep")]
    return statistics.median(v) if v else None


def tenant_config(scenario, sched, meta):
    tscen = "ssd-tenants" if scenario.startswith("ssd-") else "tenants"
    slo = slo_us(meta, tscen)
    slo = "?" if slo is None else f"{slo:.0f}"
    scenario = scenario.removeprefix("ssd-")
    if scenario == "tenants-qos":
        return f"{sched} + tenants (lc SLO {slo} µs)"
    if scenario == "tenants-io.cost":
        return f"{sched} + io.cost (rlat {slo} µs)"
    if scenario == "tenants":
        return sched
    if scenario == "tenants-bfq-weight":
        return f"{sched} + bfq weights 1000/100/100"
    if scenario == "tenants-io.latency":
        t = meta.get("iolatency_target_us", "?")
        return f"{sched} + io.latency {t} µs"
    return f"{sched} ({scenario})"


def contention_section(w, data, scheds, prefix, devname, alone):
    rd = data.get((prefix + "contention", "read-4k-qd2"))
    wr = data.get((prefix + "contention", "write-64k-qd32"))
    if not rd:
        return
    w(f"### Contention{' (ssdsim)' if prefix else ''}: 4k reader (QD2) against a 64k write "
      f"flood (QD32) on {devname}\n")
    w("| scheduler | reader IOPS | reader p50 ms | reader p99 ms | reader p99.9 ms | "
      "writer IOPS | total IOPS | total ÷ device alone |")
    w("|---|---|---|---|---|---|---|---|")
    for s in scheds:
        if s not in rd:
            continue
        ri, wi = med(rd, s, "iops"), med(wr or {}, s, "iops")
        tot = (ri or 0) + (wi or 0)
        w(f"| {s} | {fmt_iops(ri)} | {fmt_ms(med(rd, s, 'lat_p50_us'))} | "
          f"{fmt_ms(med(rd, s, 'lat_p99_us'))} | {fmt_ms(med(rd, s, 'lat_p999_us'))} | "
          f"{fmt_iops(wi)} | {fmt_iops(tot)} | {fmt_pct(tot, alone)} |")
    w("\nA total well below what the device does alone means the scheduler held the "
      "device back (throttling, idling, or its own CPU cost).\n")


MIXED_JOBS = ["seqread-4k-qd16", "randread-4k-qd4", "seqwrite-16k-qd8"]


def mixed_mib_s(data, sc, s):
    """Per-job and total MiB/s medians of scheduler s in mixed scenario sc."""
    per = [med(data.get((sc, j), {}), s, "bw_kib") for j in MIXED_JOBS]
    if all(v is None for v in per):
        return None
    per = [v / 1024 if v is not None else None for v in per]
    return per, sum(v or 0 for v in per)


def mixed_section(w, data, scheds, prefix, devname):
    sc = prefix + "mixed"
    if not any((sc, j) in data for j in MIXED_JOBS):
        return
    w(f"### Mixed{' (ssdsim)' if prefix else ''}: sequential 4k reads (QD16) and 16k writes "
      f"(QD8) beside 4k random reads (QD4) on {devname}\n")
    w("| scheduler | seq read MiB/s | random read MiB/s | random read p99 ms | "
      "seq write MiB/s | total MiB/s | total ×mq-deadline |")
    w("|---|---|---|---|---|---|---|")
    base = mixed_mib_s(data, sc, "mq-deadline")
    for s in scheds:
        got = mixed_mib_s(data, sc, s)
        if got is None:
            continue
        (r, rr, wr), tot = got
        rp99 = med(data.get((sc, "randread-4k-qd4"), {}), s, "lat_p99_us")
        mib = (lambda v: "—" if v is None else f"{v:.1f}")
        w(f"| {s} | {mib(r)} | {mib(rr)} | {fmt_ms(rp99)} | {mib(wr)} | {tot:.1f} | "
          f"{fmt_ratio(tot, base[1] if base else None)} |")
    w("\nThe total counts bytes: merged and batched sequential requests move more of them "
      "per device slot, which is what a scheduler that keeps the streams in order gains.\n")


# The tenants scenarios' controls of the latency-critical group, other than
# qos: the in-kernel ones qos is compared with.
CONTROLS = ["tenants-bfq-weight", "tenants-io.latency", "tenants-io.cost"]


def tenant_figures(data, sc, s):
    """(critical IOPS, critical p99 µs, critical p99.9 µs, BE writer IOPS,
    BE reader IOPS) medians of scheduler s in tenants scenario sc, or None."""
    c = data.get((sc, "crit-read-4k-qd2"), {})
    if s not in c:
        return None
    return (med(c, s, "iops"), med(c, s, "lat_p99_us"), med(c, s, "lat_p999_us"),
            med(data.get((sc, "be-write-64k-qd16"), {}), s, "iops"),
            med(data.get((sc, "be-read-64k-qd16"), {}), s, "iops"))


def tenants_section(w, data, scheds, prefix, devname, alone, meta):
    tscen = sorted([sc for sc in {sc for (sc, _) in data} if sc.startswith(prefix + "tenants")],
                   key=scen_key)
    if not tscen:
        return
    base = prefix + "tenants"
    slo = slo_us(meta, base)
    # none with no control: what the best-effort tenants and the device do
    # when nothing holds anyone back, the reference of the ratios.
    ref = tenant_figures(data, base, "none")
    ref_be = (ref[3] or 0) + (ref[4] or 0) if ref else None
    ref_total = ref_be + (ref[0] or 0) if ref else None
    w(f"### Tenants{' (ssdsim)' if prefix else ''}: three cgroups on {devname}\n")
    w("| configuration | critical reader IOPS | critical p99 ms | critical p99 ÷ SLO | "
      "critical p99.9 ms | best-effort writer IOPS | best-effort reader IOPS | BE ÷ none's | "
      "total IOPS | total ÷ none's | total ÷ device alone |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = {}
    for s in scheds:
        for sc in tscen:
            f = tenant_figures(data, sc, s)
            if f is None:
                continue
            rows[(sc, s)] = f
            be = (f[3] or 0) + (f[4] or 0)
            total = be + (f[0] or 0)
            w(f"| {tenant_config(sc, s, meta)} | {fmt_iops(f[0])} | {fmt_ms(f[1])} | "
              f"{fmt_ratio(f[1], slo)} | {fmt_ms(f[2])} | {fmt_iops(f[3])} | {fmt_iops(f[4])} | "
              f"{fmt_ratio(be, ref_be)} | {fmt_iops(total)} | {fmt_ratio(total, ref_total)} | "
              f"{fmt_pct(total, alone)} |")
    w("")
    if slo is not None:
        w(f"SLO: {meta.get('slo_factor', '?')} × the critical reader's p99 when it runs alone "
          f"on the device, measured in every repetition (median {slo:.0f} µs; "
          f"{', '.join(v for k, v in sorted(meta.items()) if k.startswith(f'slo_us.{base}.rep'))} "
          "µs); qos's target and io.cost's rlat/wlat. BE = both best-effort jobs; "
          "none's = under none with no control (the first row of none).\n")
    # The targets for qos, read off the medians above (reported,
    # never enforced).
    q = [(sc, s) for (sc, s) in rows if sc == prefix + "tenants-qos"]
    ctrl = [(rows[k][1], k) for k in rows if k[0].removeprefix(prefix) in CONTROLS
            and rows[k][1] is not None]
    for sc, s in q:
        f = rows[(sc, s)]
        be = (f[3] or 0) + (f[4] or 0)
        total = be + (f[0] or 0)
        w(f"Targets for {s} (medians):\n")
        if slo is not None and f[1] is not None:
            w(f"- critical p99 ≤ SLO: {fmt_ms(f[1])} ms vs {fmt_ms(slo)} ms — "
              f"{'met' if f[1] <= slo else 'not met'}")
        if ctrl and f[1] is not None:
            best, (bsc, bs) = min(ctrl)
            w(f"- critical p99 ≤ the best of bfq weights, io.latency and io.cost: "
              f"{fmt_ms(f[1])} ms vs {fmt_ms(best)} ms ({tenant_config(bsc, bs, meta)}) — "
              f"{'met' if f[1] <= best else 'not met'}")
        if ref_be:
            w(f"- best-effort throughput ≥ 0.9 × none's: {fmt_ratio(be, ref_be)} — "
              f"{'met' if be >= 0.9 * ref_be else 'not met'}")
        if ref_total:
            w(f"- total throughput ≥ 0.95 × none's: {fmt_ratio(total, ref_total)} — "
              f"{'met' if total >= 0.95 * ref_total else 'not met'}")
        w("")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    meta = read_kv(os.path.join(out, "meta.txt"))
    data = load(os.path.join(out, "summary.csv"))
    cap_totals, nominal = load_capacity(os.path.join(out, "capacity.csv"))
    scheds = schedulers(data)
    L = []
    w = L.append

    w("# ufq benchmark results\n")
    if meta:
        w(f"Run {meta.get('date', '?')}, {meta.get('mode', '?')} mode, "
          f"{meta.get('reps', '?')} repetition(s) in a QEMU VM under "
          f"{meta.get('accel', '?').upper()}; the scheduler order rotates between "
          f"repetitions. Kernel {meta.get('kernel', '?')}, {meta.get('cpus', '?')} vCPUs "
          f"({meta.get('cpu_model', '?')}), {meta.get('mem_mib', '?')} MiB; {meta.get('fio', 'fio')}.\n")
        w(f"- overhead device: {meta.get('fast_dev', '?')} (other parameters default: "
          f"completes at once); runs of {meta.get('runtime_fast', '?')}")
        w(f"- contention and tenants device: {meta.get('slow_dev', '?')}, capacity "
          f"{meta.get('slow_cap_iops', '?')} IOPS; runs of {meta.get('runtime_slow', '?')}")
        if "ssd_dev" in meta:
            w(f"- ssd-contention and ssd-tenants device: {meta['ssd_dev']} "
              f"({meta.get('ssd_desc', '?')}), "
              f"{meta.get('ssd_depth', '?')} tags; nominal capacity (the model's prediction "
              f"for 4k random reads at QD16) {meta.get('ssd_cap_iops', '?')} IOPS; runs of "
              f"{meta.get('runtime_slow', '?')}")
        for k in ("tenants", "ssd-tenants"):
            if f"qos_model.{k}" in meta:
                w(f"- {k} device's cost model (tools/qos/calibrate; qos's, and io.cost's "
                  f"derived from it): `{meta[f'qos_model.{k}']}`")
        nr = meta.get("nr_requests", "default")
        w("- scheduler tags: "
          + ("the kernel's default nr_requests (twice the hardware depth)" if nr == "default"
             else f"nr_requests raised to at least {nr} under every elevator (none keeps "
                  "the driver's depth)"))
        w("- fio: libaio, O_DIRECT, time_based; latency is fio's total latency "
          "(submission to completion).\n")
    w("Values are medians over the repetitions; min–max is the spread across them. "
      "**IOPS: higher is better. Latency: lower is better.** ×none = median ÷ none's median; "
      "×best = median ÷ the best in-kernel scheduler's median (of none, mq-deadline, kyber, "
      "bfq: the highest IOPS, the lowest latency), so ×best < 1 for IOPS and ×best > 1 for "
      "latency mean worse than the best in-kernel scheduler.\n")

    charts = [(f, t) for f, t in CHARTS if os.path.exists(os.path.join(out, f))]
    if charts:
        w("## Charts\n")
        for f, t in charts:
            w(f"![{t}]({f})\n")

    w("## Overview\n")
    # Overhead: IOPS per workload.
    jobs = [j for (sc, j) in data if sc == "overhead"]  # in the order they ran
    if jobs:
        w("### Overhead: IOPS, median (×none)\n")
        w("| scheduler | " + " | ".join(jobs) + " |")
        w("|---" * (len(jobs) + 1) + "|")
        for s in scheds:
            cells = []
            for j in jobs:
                d = data[("overhead", j)]
                v = med(d, s, "iops")
                cells.append("—" if v is None else f"{fmt_iops(v)} ({fmt_ratio(v, med(d, 'none', 'iops'))})")
            w(f"| {s} | " + " | ".join(cells) + " |")
        w("")
    # The device-bound null_blk alone: the ceiling of the next two tables.
    cal = data.get(("calibration", "alone-read-4k-qd16"), {})
    alone = med(cal, "none", "iops")
    if alone is not None:
        w("### The device-bound null_blk alone\n")
        w(f"With no scheduler and 16 reads in flight it did {fmt_iops(alone)} IOPS "
          f"(median; {fmt_range(cal['none'].get('iops'), fmt_iops)}), "
          f"{fmt_pct(alone, nominal or float(meta.get('slow_cap_iops', 0) or 0))} of its nominal "
          f"capacity of {meta.get('slow_cap_iops', '?')} IOPS (tags ÷ completion time); "
          f"median read latency {fmt_ms(med(cal, 'none', 'lat_p50_us'))} ms for a "
          f"{int(meta.get('slow_completion_ns', 0) or 0) / 1e6:g} ms completion time. "
          "The difference is the emulated machine's timer and CPU cost per request; it is "
          "the same for every scheduler, and the tables below compare totals with this "
          "measured ceiling.\n")
    # Contention and tenants, on the null_blk and on the ssdsim device.
    for prefix, devname in (("", "the device-bound null_blk"), ("ssd-", "the ssdsim device")):
        if prefix:
            scal = data.get(("ssd-calibration", "alone-read-4k-qd16"), {})
            alone = med(scal, "none", "iops")
            if alone is not None:
                cap = float(meta.get("ssd_cap_iops", 0) or 0)
                w("### The ssdsim device alone\n")
                w(f"With no scheduler and 16 reads in flight it did {fmt_iops(alone)} IOPS "
                  f"(median; {fmt_range(scal['none'].get('iops'), fmt_iops)}), "
                  f"{fmt_pct(alone, cap)} of the {fmt_iops(cap) if cap else '?'} IOPS its model "
                  f"predicts for that job (its nominal capacity: "
                  f"{'within' if cap and abs(alone / cap - 1) <= 0.1 else 'not within'} 10%); "
                  f"median read latency "
                  f"{fmt_ms(med(scal, 'none', 'lat_p50_us'))} ms. The ssd tables compare "
                  "totals with this measured ceiling; a mix of reads and writes has a capacity "
                  "of its own, which depends on the mix.\n")
        contention_section(w, data, scheds, prefix, devname, alone)
        mixed_section(w, data, scheds, prefix, devname)
        tenants_section(w, data, scheds, prefix, devname, alone, meta)

    notes_path = os.path.join(out, "notes.txt")
    notes = []
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            notes = [n.strip() for n in f if n.strip()]
    # Device-bound runs away from the nominal capacity (the check):
    # one line for all of them rather than one note per run.
    if nominal:
        off = sorted(t / nominal for k, v in cap_totals.items() for t in v
                     if abs(t / nominal - 1) > 0.1)
        n_all = sum(len(v) for v in cap_totals.values())
        if off:
            notes.append(f"{len(off)} of {n_all} device-bound runs (calibration, contention, "
                         f"tenants) were not within 10% of the nominal capacity of "
                         f"{nominal:.0f} IOPS ({100 * off[0]:.0f}%–{100 * off[-1]:.0f}% of it): "
                         "the device was not the only bottleneck (see the device alone, above, "
                         "for what this machine can do at all).")
    ssd_runs = load_ssd_capacity(os.path.join(out, "capacity.csv"))
    ssd_off = sorted(t / c for t, c in ssd_runs if c and abs(t / c - 1) > 0.1)
    if ssd_off:
        notes.append(f"{len(ssd_off)} of {len(ssd_runs)} calibration runs of the ssdsim device "
                     f"were not within 10% of the capacity its model predicts "
                     f"({100 * ssd_off[0]:.0f}%–{100 * ssd_off[-1]:.0f}% of it): the device "
                     "was not the only bottleneck.")
    w("## Notes\n")
    if notes:
        for n in dict.fromkeys(notes):
            w(f"- {n}")
    else:
        w("None: every run was done, and every device-bound run kept the device within 10% "
          "of its capacity.")
    w("")

    w("## Details\n")
    for key in sorted(data, key=lambda k: (scen_key(k[0]), list(data).index(k))):
        sc, j = key
        d = data[key]
        bi_s, _ = best_inkernel(d, "iops", True)
        bl_s, _ = best_inkernel(d, "lat_p99_us", False)
        w(f"### {sc} / {j}\n")
        w(f"Best in-kernel: IOPS {bi_s or '—'}, p99 latency {bl_s or '—'}.\n")
        w("| scheduler | IOPS | IOPS min–max | IOPS ×none | IOPS ×best | mean µs | p50 µs | "
          "p99 µs | p99 min–max | p99 ×none | p99 ×best | p99.9 µs |")
        w("|---" * 12 + "|")
        for s in scheds:
            if s not in d:
                continue
            iops = med(d, s, "iops")
            p99 = med(d, s, "lat_p99_us")
            w(f"| {s} | {fmt_iops(iops)} | {fmt_range(d[s].get('iops'), fmt_iops)} | "
              f"{fmt_ratio(iops, med(d, 'none', 'iops'))} | "
              f"{fmt_ratio(iops, med(d, bi_s, 'iops') if bi_s else None)} | "
              f"{fmt_us(med(d, s, 'lat_mean_us'))} | {fmt_us(med(d, s, 'lat_p50_us'))} | "
              f"{fmt_us(p99)} | {fmt_range(d[s].get('lat_p99_us'), fmt_us)} | "
              f"{fmt_ratio(p99, med(d, 'none', 'lat_p99_us'))} | "
              f"{fmt_ratio(p99, med(d, bl_s, 'lat_p99_us') if bl_s else None)} | "
              f"{fmt_us(med(d, s, 'lat_p999_us'))} |")
        w("")

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
