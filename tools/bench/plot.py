#!/usr/bin/env python3
"""Charts for a benchmark result directory (python3-matplotlib).

Usage: plot.py DIR

Reads DIR/summary.csv and meta.txt and writes, for the scenarios present:
  iops.png                IOPS per overhead workload, grouped by scheduler,
                          absolute and relative to none
  contention-latency.png  the 4k reader's latency (p50/p99/p99.9) against the
                          write flood, and both jobs' IOPS
  tenants.png             the latency-critical tenant's tail latency and every
                          tenant's IOPS, per scheduler and cgroup variant
  mixed.png               the mixed scenario's throughput per stream (MiB/s,
                          stacked) and the random reader's p99
  ssd-contention-latency.png, ssd-mixed.png, ssd-tenants.png
                          the same on the ssdsim device
Bars are medians over the repetitions, whiskers span min to max.
"""
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import MIXED_JOBS, load, med, read_kv, schedulers, scen_key  # noqa: E402

PALETTE = {
    "none": "#8c8c8c",
    "mq-deadline": "#4c72b0",
    "kyber": "#55a868",
    "bfq": "#c44e52",
    "ufq": "#dd8452",
}
EXTRA = ["#8172b3", "#937860", "#da8bc3", "#ccb974", "#64b5cd"]


def sched_colors(scheds):
    """A fixed colour per scheduler: the in-kernel ones and plain ufq have
    their own, the ufq policies take the extra colours in order, so a
    scheduler keeps its colour in every chart of a run."""
    colors, k = {}, 0
    for s in scheds:
        if s in PALETTE:
            colors[s] = PALETTE[s]
        else:
            colors[s] = EXTRA[k % len(EXTRA)]
            k += 1
    return colors


def spread(d, s, m, scale=1.0):
    v = d.get(s, {}).get(m)
    if not v:
        return None, (0, 0)
    mid = med(d, s, m)
    return mid / scale, ((mid - min(v)) / scale, (max(v) - mid) / scale)


def subtitle(meta):
    if not meta:
        return ""
    return (f"{meta.get('date', '')}, {meta.get('mode', '')} mode, {meta.get('reps', '?')} rep(s); "
            f"QEMU VM ({meta.get('accel', '?').upper()}), {meta.get('cpus', '?')} vCPUs; "
            f"medians, whiskers min–max")


def kfmt(x, _pos):
    return f"{x / 1000:.0f}k" if x >= 1000 else f"{x:.0f}"


def bar_labels(ax, bars, vals, fmt, fontsize=7, tops=None):
    """Label each bar with its value, above the bar or its whisker (tops)."""
    for k, (b, v) in enumerate(zip(bars, vals)):
        if v is None:
            continue
        y = tops[k] if tops else b.get_height()
        ax.annotate(fmt(v), (b.get_x() + b.get_width() / 2, y),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=fontsize, rotation=90)


def plot_iops(data, scheds, colors, meta, path):
    jobs = [j for (sc, j) in data if sc == "overhead"]
    if not jobs:
        return False
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(13, 9), sharex=True)
    n = len(scheds)
    width = 0.8 / n
    for i, s in enumerate(scheds):
        xs, ys, errs, rel = [], [], [[], []], []
        for k, j in enumerate(jobs):
            d = data[("overhead", j)]
            y, e = spread(d, s, "iops")
            if y is None:
                continue
            xs.append(k - 0.4 + width * (i + 0.5))
            ys.append(y)
            errs[0].append(e[0])
            errs[1].append(e[1])
            base = med(d, "none", "iops")
            rel.append(y / base if base else 0)
        ax1.bar(xs, ys, width, yerr=errs, capsize=2, label=s, color=colors[s],
                error_kw={"elinewidth": 0.8})
        bars = ax2.bar(xs, rel, width, color=colors[s])
        bar_labels(ax2, bars, rel, lambda v: f"{v:.2f}", fontsize=8)
    ax1.set_ylabel("IOPS (median)")
    ax1.yaxis.set_major_formatter(FuncFormatter(kfmt))
    ax1.set_title("IOPS per workload — higher is better")
    ax1.grid(axis="y", alpha=0.3)
    ax2.axhline(1.0, color="black", lw=0.8, ls="--")
    ax2.set_ylabel("IOPS relative to none (×)")
    ax2.set_title("Relative to none (dashed line = none)")
    ax2.set_ylim(0, max(1.25, ax2.get_ylim()[1] * 1.12))
    ax2.grid(axis="y", alpha=0.3)
    ax2.set_xticks(range(len(jobs)))
    ax2.set_xticklabels(jobs)
    ax1.legend(ncol=n, loc="upper center", bbox_to_anchor=(0.5, -0.02 + 1.22), frameon=False,
               fontsize=9)
    dev = meta.get("fast_dev", "null_blk").replace("null_blk", "").strip()
    fig.suptitle(f"Scheduler overhead: fio on null_blk ({dev}, completing at once)\n"
                 + subtitle(meta), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def latency_panel(ax, d, scheds, colors, title):
    pcts = [("lat_p50_us", "p50", 0.35), ("lat_p99_us", "p99", 0.7), ("lat_p999_us", "p99.9", 1.0)]
    width = 0.8 / len(pcts)
    allv = []
    for k, (m, label, alpha) in enumerate(pcts):
        xs, ys, errs = [], [[], []], []
        vals = []
        for i, s in enumerate(scheds):
            y, e = spread(d, s, m, 1000.0)
            if y is None:
                continue
            xs.append(i - 0.4 + width * (k + 0.5))
            vals.append(y)
            ys[0].append(e[0])
            ys[1].append(e[1])
            errs.append(colors[s])
        bars = ax.bar(xs, vals, width, yerr=ys, capsize=2, color=errs, alpha=alpha,
                      edgecolor="black", linewidth=0.4, error_kw={"elinewidth": 0.8})
        if label != "p50":
            bar_labels(ax, bars, vals, lambda v: f"{v:.1f}" if v < 100 else f"{v:.0f}",
                       tops=[v + e for v, e in zip(vals, ys[1])])
        allv += vals
    ax.set_xticks(range(len(scheds)))
    if any("\n" in s for s in scheds):
        ax.set_xticklabels(scheds, fontsize=8)
    else:
        ax.set_xticklabels(scheds, rotation=25, ha="right")
    ax.set_ylabel("latency (ms), log scale")
    ax.set_yscale("log")
    if allv:
        ax.set_ylim(min(allv) / 1.5, max(allv) * 4)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3, which="both")
    # A legend for the shades (the colours are the schedulers).
    handles = [plt.Rectangle((0, 0), 1, 1, color="#555555", alpha=a) for _, _, a in pcts]
    ax.legend(handles, [lab for _, lab, _ in pcts], title="bars, left to right",
              title_fontsize=8, loc="upper left", fontsize=8, ncol=3)


def stacked_iops(ax, parts, labels, cap, alone, title):
    """parts: [(job label, [median per x])]; cap: the nominal capacity;
    alone: what the device did alone (calibration), or None."""
    bottom = [0.0] * len(labels)
    # Greys and hatches, so that the jobs are not mistaken for the
    # schedulers' colours of the latency panel.
    shades = [("#303030", ""), ("#a0a0a0", "//"), ("#dcdcdc", "..")]
    for k, (name, vals) in enumerate(parts):
        v = [x or 0 for x in vals]
        fill, hatch = shades[k % len(shades)]
        ax.bar(range(len(labels)), v, 0.6, bottom=bottom, label=name, color=fill, hatch=hatch,
               edgecolor="black", linewidth=0.5)
        bottom = [b + x for b, x in zip(bottom, v)]
    if cap:
        ax.axhline(cap, color="black", ls="--", lw=0.9,
                   label=f"nominal capacity ({cap:.0f} IOPS)")
    if alone:
        ax.axhline(alone, color="black", ls=":", lw=1.2,
                   label=f"device alone in this VM ({alone:.0f} IOPS)")
    ax.set_xticks(range(len(labels)))
    if any("\n" in s for s in labels):
        ax.set_xticklabels(labels, fontsize=8)
    else:
        ax.set_xticklabels(labels, rotation=25, ha="right")
    ax.set_ylabel("IOPS (median)")
    ax.yaxis.set_major_formatter(FuncFormatter(kfmt))
    ax.set_ylim(0, max(bottom + [cap or 0]) * 1.3)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)


def device_alone(data, prefix=""):
    return med(data.get((prefix + "calibration", "alone-read-4k-qd16"), {}), "none", "iops")


def slow_dev(meta, prefix=""):
    if prefix:
        return f"{meta.get('ssd_dev', 'ssdsim')}, {meta.get('ssd_depth', '?')} tags"
    ms = float(meta.get("slow_completion_ns", 1e6) or 1e6) / 1e6
    return f"null_blk with {ms:g} ms completions, {meta.get('slow_depth', '?')} tags"


def nominal(meta, prefix=""):
    return float(meta.get("ssd_cap_iops" if prefix else "slow_cap_iops", 0) or 0)


def plot_contention(data, scheds, colors, meta, path, prefix=""):
    rd = data.get((prefix + "contention", "read-4k-qd2"))
    wr = data.get((prefix + "contention", "write-64k-qd32"), {})
    if not rd:
        return False
    ss = [s for s in scheds if s in rd]
    cap = nominal(meta, prefix)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [3, 2]})
    latency_panel(ax1, rd, ss, colors, "4k random reader (QD2): latency — lower is better")
    stacked_iops(ax2, [("reader 4k QD2", [med(rd, s, "iops") for s in ss]),
                       ("writer 64k QD32", [med(wr, s, "iops") for s in ss])],
                 ss, cap, device_alone(data, prefix), "Throughput of both jobs — higher is better")
    fig.suptitle("Contention: a 4k random reader against a 64k random write flood on "
                 + slow_dev(meta, prefix) + "\n" + subtitle(meta), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_mixed(data, scheds, colors, meta, path, prefix=""):
    sc = prefix + "mixed"
    d = {j: data.get((sc, j), {}) for j in MIXED_JOBS}
    ss = [s for s in scheds if any(s in d[j] for j in MIXED_JOBS)]
    if not ss:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [3, 2]})
    bottom = [0.0] * len(ss)
    shades = [("#303030", ""), ("#a0a0a0", "//"), ("#dcdcdc", "..")]
    for k, j in enumerate(MIXED_JOBS):
        v = [(med(d[j], s, "bw_kib") or 0) / 1024 for s in ss]
        fill, hatch = shades[k % len(shades)]
        ax1.bar(range(len(ss)), v, 0.6, bottom=bottom, label=j, color=fill, hatch=hatch,
                edgecolor="black", linewidth=0.5)
        bottom = [b + x for b, x in zip(bottom, v)]
    base = ss.index("mq-deadline") if "mq-deadline" in ss else None
    if base is not None:
        ax1.axhline(bottom[base], color="black", ls="--", lw=0.9, label="mq-deadline's total")
    ax1.set_xticks(range(len(ss)))
    ax1.set_xticklabels(ss, rotation=25, ha="right")
    ax1.set_ylabel("MiB/s (median)")
    ax1.set_ylim(0, max(bottom) * 1.3 if max(bottom) > 0 else 1)
    ax1.set_title("Throughput of the three streams — higher is better")
    ax1.grid(axis="y", alpha=0.3)
    ax1.legend(loc="upper right", fontsize=8)
    rr = d["randread-4k-qd4"]
    vals = [spread(rr, s, "lat_p99_us", 1000.0) for s in ss]
    ys = [v[0] or 0 for v in vals]
    errs = [[v[1][0] for v in vals], [v[1][1] for v in vals]]
    ax2.bar(range(len(ss)), ys, 0.6, yerr=errs, capsize=2, color=[colors[s] for s in ss],
            error_kw={"elinewidth": 0.8})
    ax2.set_xticks(range(len(ss)))
    ax2.set_xticklabels(ss, rotation=25, ha="right")
    ax2.set_ylabel("p99 latency, ms (median)")
    ax2.set_title("4k random reader (QD4): p99 — lower is better")
    ax2.grid(axis="y", alpha=0.3)
    fig.suptitle("Mixed: sequential 4k reads and 16k writes beside 4k random reads on "
                 + slow_dev(meta, prefix) + "\n" + subtitle(meta), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_tenants(data, scheds, colors, meta, path, prefix=""):
    tscen = sorted({sc for (sc, _) in data if sc.startswith(prefix + "tenants")}, key=scen_key)
    if not tscen:
        return False
    labels, crit, be1, be2 = [], {}, [], []
    target = float(meta.get("iolatency_target_us", "nan"))
    # The qos and io.cost targets: the median of the repetitions' SLOs.
    slos = [float(v) for k, v in meta.items()
            if k.startswith(f"slo_us.{prefix}tenants.rep")]
    slo = statistics.median(slos) / 1000 if slos else float("nan")
    names = {"tenants": "", "tenants-bfq-weight": "\n+ bfq\nweights",
             "tenants-io.latency": f"\n+ io.latency\n{target / 1000:g} ms",
             "tenants-io.cost": f"\n+ io.cost\nrlat {slo:.2f} ms",
             "tenants-qos": f"\n+ tenants\nSLO {slo:.2f} ms"}
    keyed = [(sc, s) for s in scheds for sc in tscen
             if s in data.get((sc, "crit-read-4k-qd2"), {})]
    for sc, s in keyed:
        lab = s + names.get(sc.removeprefix(prefix), f" ({sc})")
        labels.append(lab)
        c = data[(sc, "crit-read-4k-qd2")]
        for m in ("iops", "lat_p50_us", "lat_p99_us", "lat_p999_us"):
            crit.setdefault(lab, {})[m] = c[s].get(m, [])
        be1.append(med(data.get((sc, "be-write-64k-qd16"), {}), s, "iops"))
        be2.append(med(data.get((sc, "be-read-64k-qd16"), {}), s, "iops"))
    cap = nominal(meta, prefix)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(14, 11.5))
    # Each configuration in its scheduler's colour.
    conf_colors = {lab: colors[s] for (_, s), lab in zip(keyed, labels)}
    latency_panel(ax1, crit, labels, conf_colors,
                  "Latency-critical 4k reader (QD2) — lower is better")
    stacked_iops(ax2, [("critical reader 4k QD2", [med(crit, lab, "iops") for lab in labels]),
                       ("best-effort writer 64k QD16", be1),
                       ("best-effort reader 64k QD16", be2)],
                 labels, cap, device_alone(data, prefix), "Throughput per tenant — higher is better")
    fig.suptitle("Tenants: three cgroups on " + slow_dev(meta, prefix) + "\n" + subtitle(meta),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=3.0)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    meta = read_kv(os.path.join(out, "meta.txt"))
    data = load(os.path.join(out, "summary.csv"))
    scheds = schedulers(data)
    colors = sched_colors(scheds)
    charts = [("iops.png", plot_iops, ()), ("contention-latency.png", plot_contention, ()),
              ("mixed.png", plot_mixed, ()), ("tenants.png", plot_tenants, ()),
              ("ssd-contention-latency.png", plot_contention, ("ssd-",)),
              ("ssd-mixed.png", plot_mixed, ("ssd-",)),
              ("ssd-tenants.png", plot_tenants, ("ssd-",))]
    for fn, f, extra in charts:
        if f(data, scheds, colors, meta, os.path.join(out, fn), *extra):
            print(f"plot: {os.path.join(out, fn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
