#!/usr/bin/env python3
"""Chart of the ml policy's predicted against measured service time.

Usage: plot_predictions.py PREDICTIONS.csv OUT.png [--title TEXT]

PREDICTIONS.csv is what `ufqctl model train ml --predictions FILE` writes:
the held-out requests of the training traces, each with its measured
service time and what the pushed weights (through the policy's own integer
code) and the policy's running mean (its prediction before a push)
predicted for it. Writes OUT.png with two panels:
  left   predicted against measured service time, log-log, reads and
         writes apart, with the diagonal and a +-20% band around it;
  right  the distribution (CDF) of the relative error |pred - meas| / meas
         of the model and of the running mean, per direction, with the
         medians in the legend.
"""
import argparse
import csv
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {0: "#4c72b0", 1: "#dd8452"}  # read, write
NAMES = {0: "reads", 1: "writes"}


def load(path):
    rows = {0: [], 1: []}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"write", "measured_us", "predicted_us", "running_mean_us"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            sys.exit(f"{path}: not a predictions file (columns {sorted(need)} expected): "
                     "write one with ufqctl model train ml --predictions FILE")
        for r in reader:
            meas = float(r["measured_us"])
            if meas <= 0:
                continue
            rows[int(r["write"])].append(
                (meas, float(r["predicted_us"]), float(r["running_mean_us"])))
    if not rows[0] and not rows[1]:
        sys.exit(f"{path}: no requests with a measured service time")
    return rows


def rel_err(pred, meas):
    return abs(pred - meas) * 100 / meas


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("predictions")
    ap.add_argument("out")
    ap.add_argument("--title", default="ml: predicted vs measured service time (held out)")
    a = ap.parse_args()
    rows = load(a.predictions)

    fig, (sc, cdf) = plt.subplots(1, 2, figsize=(12, 5.2))
    lo, hi = float("inf"), 0.0
    for d in (0, 1):
        if not rows[d]:
            continue
        meas = [r[0] for r in rows[d]]
        pred = [r[1] for r in rows[d]]
        lo, hi = min(lo, *meas, *pred), max(hi, *meas, *pred)
        sc.scatter(meas, pred, s=6, alpha=0.45, color=COLOURS[d],
                   label=f"{NAMES[d]} ({len(meas)})")
    line = [lo, hi]
    sc.plot(line, line, color="black", linewidth=1, label="predicted = measured")
    sc.fill_between(line, [v * 0.8 for v in line], [v * 1.2 for v in line],
                    color="grey", alpha=0.2, label="±20%")
    sc.set_xscale("log")
    sc.set_yscale("log")
    sc.set_xlabel("measured service time (µs)")
    sc.set_ylabel("predicted by the pushed model (µs)")
    sc.legend(loc="upper left", fontsize=8)
    sc.grid(True, which="both", alpha=0.3)

    for d in (0, 1):
        if not rows[d]:
            continue
        for idx, style, who in ((1, "-", "model"), (2, ":", "running mean")):
            errs = sorted(rel_err(r[idx], r[0]) for r in rows[d])
            ys = [(i + 1) / len(errs) for i in range(len(errs))]
            cdf.plot(errs, ys, style, color=COLOURS[d],
                     label=f"{NAMES[d]}, {who}: median {statistics.median(errs):.0f}%")
    cdf.axvline(20, color="grey", linewidth=1, linestyle="--")
    cdf.set_xscale("symlog", linthresh=10)
    cdf.set_xlim(left=0)
    cdf.set_xlabel("relative error |predicted − measured| / measured (%)")
    cdf.set_ylabel("share of requests")
    cdf.legend(loc="lower right", fontsize=8)
    cdf.grid(True, alpha=0.3)

    fig.suptitle(a.title, fontsize=11)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
