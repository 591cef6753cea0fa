#!/usr/bin/env python3
"""Turn fio JSON reports into rows of the benchmark's summary.csv.

Usage: fio2csv.py --sched S --rep N [--scenario SC] [--total] JSON...
       fio2csv.py --header

One row per fio job: scheduler,scenario,job,repetition,iops,bw_kib,
lat_mean_us,lat_p50_us,lat_p99_us,lat_p999_us. A job named SCENARIO/JOB
(as tools/bench/guest names them) gives its scenario and job columns;
other jobs take --scenario. Latency is fio's total
latency (submission + completion; the jobs run with lat_percentiles=1).
A job that both reads and writes is reported with unified_rw_reporting
("mixed"); without it its directions are added up (percentiles then come
from the direction with more I/Os). With --total, prints only the summed
IOPS of all jobs of all reports. Standard library only (runs in the VM).
"""
import argparse
import json
import sys

COLUMNS = ["scheduler", "scenario", "job", "repetition", "iops", "bw_kib",
           "lat_mean_us", "lat_p50_us", "lat_p99_us", "lat_p999_us"]


def load(path):
    with open(path) as f:
        text = f.read()
    # fio may print warnings before the JSON document.
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{path}: no JSON in fio's output")
    return json.loads(text[start:])


def pct(lat, key):
    p = lat.get("percentile") or {}
    for k, v in p.items():
        if abs(float(k) - key) < 1e-6:
            return v / 1000.0
    return None


def job_stats(job):
    """(iops, bw_kib, mean_us, p50_us, p99_us, p999_us) of one fio job."""
    dirs = [job[d] for d in ("mixed",) if d in job and job[d].get("total_ios", 0) > 0]
    if not dirs:
        dirs = [job[d] for d in ("read", "write", "trim")
                if d in job and job[d].get("total_ios", 0) > 0]
    if not dirs:
        return (0.0, 0.0, None, None, None, None)
    iops = sum(d["iops"] for d in dirs)
    bw = sum(d["bw"] for d in dirs)  # KiB/s
    n = sum(d["lat_ns"]["N"] for d in dirs)
    mean = sum(d["lat_ns"]["mean"] * d["lat_ns"]["N"] for d in dirs) / n / 1000.0 if n else None
    main = max(dirs, key=lambda d: d["total_ios"])["lat_ns"]
    return (iops, bw, mean, pct(main, 50), pct(main, 99), pct(main, 99.9))


def fmt(v):
    if v is None:
        return ""
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sched")
    ap.add_argument("--scenario")
    ap.add_argument("--rep")
    ap.add_argument("--total", action="store_true")
    ap.add_argument("--header", action="store_true", help="print the CSV header and exit")
    ap.add_argument("json", nargs="*")
    a = ap.parse_args()
    if a.header:
        print(",".join(COLUMNS))
        return 0
    rows, total = [], 0.0
    for path in a.json:
        try:
            doc = load(path)
        except (OSError, ValueError) as e:
            print(f"fio2csv: {path}: {e}", file=sys.stderr)
            return 1
        for job in doc.get("jobs", []):
            if job.get("error"):
                print(f"fio2csv: {path}: job {job.get('jobname')} reports error {job['error']}",
                      file=sys.stderr)
                return 1
            s = job_stats(job)
            total += s[0]
            scenario, _, name = job["jobname"].rpartition("/")
            scenario = scenario or a.scenario
            if not scenario:
                print(f"fio2csv: {path}: job {name} has no scenario (name it SCENARIO/JOB "
                      "or give --scenario)", file=sys.stderr)
                return 1
            rows.append([a.sched, scenario, name, a.rep] + [fmt(x) for x in s])
    if a.total:
        print(f"{total:.0f}")
        return 0
    for r in rows:
        print(",".join(str(x) for x in r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
