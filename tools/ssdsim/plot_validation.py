#!/usr/bin/env python3
"""Chart of ssdsim's measured against modelled latency (python3-matplotlib).

Usage: plot_validation.py CSV PNG

CSV is what tests/vm/180-ssdsim.sh writes ($UFQ_OUT/180-ssdsim.csv): per
job the latency `ssdsim predict` gives, what fio measured on the device,
the host's own time (the same job on a device whose model takes no time)
and the difference. docs/ssdsim/ keeps a copy and the chart.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"plot_validation: no rows in {sys.argv[1]}", file=sys.stderr)
        return 1
    labels = [f"{r['profile']}\n{r['job'].replace('-', ' ')}\n{r['stat']}" for r in rows]
    pred = [float(r["predicted_us"]) / 1000 for r in rows]
    meas = [float(r["measured_us"]) / 1000 for r in rows]
    host = [float(r["host_us"]) / 1000 for r in rows]
    dev = [m - h for m, h in zip(meas, host)]

    fig, ax = plt.subplots(figsize=(13, 6))
    x = range(len(rows))
    w = 0.27
    ax.bar([i - w for i in x], pred, w, label="model (ssdsim predict)", color="#4c72b0")
    ax.bar(x, meas, w, label="measured by fio", color="#dd8452")
    ax.bar([i + w for i in x], dev, w, label="measured − host's own time", color="#55a868")
    for i, (p, d) in enumerate(zip(pred, dev)):
        ax.annotate(f"{d / p:.2f}×", (i + w, d), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("latency, ms")
    ax.set_title("ssdsim: measured against modelled latency "
                 "(tests/vm/180-ssdsim.sh, QEMU without KVM)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
