"""The qos policy's cost model from fio's JSON reports (used by tools/qos/calibrate).

Everything here is arithmetic on parsed fio reports: no devices, no
processes, so tests/host/qos-calibrate/ checks it on canned reports.

The model is `struct qos_weights` of policies/qos.bpf.c, written as the JSON
object `ufqctl model push qos FILE` takes: every member by name, arrays of
exactly their declared length, integers within their UFQ_RANGE. Costs are in
VIO units, Q10: 1024 is one 4 KiB random read.

Three fio runs feed it, each a sequence of stonewalled jobs named as below:

  sweep      read-4k ... read-128k, write-4k ... write-128k: random I/O at
             QD 32 for the IOPS of each size bucket;
  sustained  sustain-1 ... sustain-N: sequential 64 KiB writes at QD 32, one
             window after another over consecutive parts of the device;
  curve      curve-10 ... curve-100: 4 KiB random reads paced by rate_iops to
             that percentage of device_viops, for the p99 completion latency
             at each load.
"""

NR_SIZES = 6
CURVE_POINTS = 8
# The size buckets' upper bounds; the last bucket (>64k) is costed at 128k.
SIZES = (4096, 8192, 16384, 32768, 65536, 131072)
SUSTAIN_BS = 65536
SUSTAIN_WINDOWS = 6
# Loads of the curve, in percent of device_viops.
CURVE_PERCENT = (10, 25, 40, 55, 70, 80, 90, 100)
Q10 = 1024

# UFQ_RANGE of each member of struct qos_weights.
RANGES = {
    "read_cost": (1, 16777216),
    "write_cost": (1, 16777216),
    "write_weight_max": (1024, 16384),
    "write_ramp_mib": (1, 1048576),
    "device_viops": (1, 100000000),
    "curve_viops": (0, 100000000),
    "curve_p99_us": (0, 100000000),
}
# Member order of struct qos_weights (the order model.json lists them in).
MEMBERS = tuple(RANGES)
# A curve point must carry at least this much more load than the one before,
# or it is the same point measured twice (the device was already saturated).
CURVE_MIN_STEP = 1.02


class ModelError(Exception):
    """A report that cannot give a model: missing job, failed job, no I/O."""


def size_label(size):
    return f"{size // 1024}k"


def sweep_jobs():
    """(name, fio rw, block size) of the sweep's jobs, in the order they run."""
    return [(f"{d}-{size_label(s)}", "rand" + d, s) for d in ("read", "write") for s in SIZES]


def sustain_jobs(windows=SUSTAIN_WINDOWS):
    return [f"sustain-{i}" for i in range(1, windows + 1)]


def curve_jobs(device_viops):
    """(name, rate_iops) of the curve's jobs: CURVE_PERCENT of device_viops, at least 1."""
    return [(f"curve-{p}", max(1, round(device_viops * p / 100))) for p in CURVE_PERCENT]


def clamp(member, value):
    lo, hi = RANGES[member]
    return min(hi, max(lo, int(value)))


def job(doc, name):
    """The job called NAME in fio report DOC; a failed or missing job is a ModelError."""
    for j in doc.get("jobs", []):
        if j.get("jobname") == name:
            if j.get("error"):
                raise ModelError(f"fio job {name} failed with error {j['error']}")
            return j
    raise ModelError(f"fio's report has no job {name}")


def _direction(doc, name):
    j = job(doc, name)
    d = "write" if name.startswith(("write", "sustain")) else "read"
    stats = j.get(d)
    if not stats or stats.get("total_ios", 0) <= 0 or stats.get("iops", 0) <= 0:
        raise ModelError(f"fio job {name} completed no {d}s")
    return stats


def iops(doc, name):
    return float(_direction(doc, name)["iops"])


def p99_us(doc, name):
    """p99 completion latency (fio's clat, submission to completion) of job NAME, in us."""
    pct = _direction(doc, name).get("clat_ns", {}).get("percentile", {})
    for k, v in pct.items():
        if abs(float(k) - 99.0) < 1e-6:
            return v / 1000.0
    raise ModelError(f"fio job {name} reports no p99 completion latency")


def nondecreasing(values):
    out, top = [], None
    for v in values:
        top = v if top is None else max(top, v)
        out.append(top)
    return out


def size_costs(sweep):
    """device_viops, read_cost and write_cost from the sweep's report.

    Each cost is how many 4k random reads the device gives up for one request
    of that bucket (IOPS of 4k reads over IOPS of the bucket, Q10), so
    read_cost[0] is 1024. Costs are made non-decreasing in size: a larger
    request measured cheaper than a smaller one is noise, and a policy must
    never gain by merging.
    """
    base = iops(sweep, "read-4k")
    costs = {}
    for d in ("read", "write"):
        raw = [round(Q10 * base / iops(sweep, f"{d}-{size_label(s)}")) for s in SIZES]
        costs[d] = [clamp(f"{d}_cost", c) for c in nondecreasing(raw)]
    costs["read"][0] = Q10
    return clamp("device_viops", round(base)), costs["read"], costs["write"]


def write_ramp(sustained, windows=SUSTAIN_WINDOWS):
    """write_weight_max and write_ramp_mib from the sustained-write windows.

    The first window is the device fresh, the last third (at least one
    window) the device under writes it has had to absorb for a while. How
    much more each write costs late than early is write_weight_max (Q10,
    at least 1: writes never get cheaper by being sustained); the write
    rate the device holds late, in MiB/s, is write_ramp_mib.
    """
    names = sustain_jobs(windows)
    early = iops(sustained, names[0])
    tail = names[-max(1, windows // 3):]
    late = sum(iops(sustained, n) for n in tail) / len(tail)
    late_bw = sum(_direction(sustained, n)["bw_bytes"] for n in tail) / len(tail)
    return (clamp("write_weight_max", round(Q10 * early / late)),
            clamp("write_ramp_mib", round(late_bw / 2**20)))


def latency_curve(curve, device_viops):
    """curve_viops and curve_p99_us, CURVE_POINTS long, unused points 0.

    A point's load is the IOPS fio achieved, not the rate it asked for.
    Loads strictly ascend: a point no more than CURVE_MIN_STEP above the one
    before is that load again (the device saturated), and the higher of the
    two latencies stays. Latencies are made non-decreasing in load, so a
    policy can look up the load that keeps a p99 target.
    """
    points = []
    for name, _ in curve_jobs(device_viops):
        load, p99 = iops(curve, name), p99_us(curve, name)
        if points and load <= points[-1][0] * CURVE_MIN_STEP:
            points[-1][1] = max(points[-1][1], p99)
            continue
        points.append([load, p99])
    loads, lat = [], []
    for load, p99 in zip((p[0] for p in points), nondecreasing(p[1] for p in points)):
        load = clamp("curve_viops", max(1, round(load)))
        if loads and load <= loads[-1]:
            continue
        loads.append(load)
        lat.append(clamp("curve_p99_us", max(1, round(p99))))
    pad = [0] * (CURVE_POINTS - len(loads))
    return loads + pad, lat + pad


def build_model(sweep, sustained, curve, windows=SUSTAIN_WINDOWS):
    """struct qos_weights as a dict, members in declaration order."""
    viops, read_cost, write_cost = size_costs(sweep)
    wmax, ramp = write_ramp(sustained, windows)
    curve_viops, curve_p99 = latency_curve(curve, viops)
    return {
        "read_cost": read_cost,
        "write_cost": write_cost,
        "write_weight_max": wmax,
        "write_ramp_mib": ramp,
        "device_viops": viops,
        "curve_viops": curve_viops,
        "curve_p99_us": curve_p99,
    }


def check_model(model):
    """Problems with MODEL as a push file (empty when it is one): shape and ranges."""
    problems = []
    if list(model) != list(MEMBERS):
        problems.append(f"members are {list(model)}, expected {list(MEMBERS)}")
        return problems
    lengths = {"read_cost": NR_SIZES, "write_cost": NR_SIZES,
               "curve_viops": CURVE_POINTS, "curve_p99_us": CURVE_POINTS}
    for name, value in model.items():
        values = value if name in lengths else [value]
        if name in lengths and len(value) != lengths[name]:
            problems.append(f"{name}: {len(value)} elements, expected {lengths[name]}")
        lo, hi = RANGES[name]
        for v in values:
            if not isinstance(v, int) or not lo <= v <= hi:
                problems.append(f"{name}: {v} not an integer in {lo}..{hi}")
    return problems


def summary(dev, model):
    """One paragraph on what MODEL says about DEV."""
    r, w = model["read_cost"], model["write_cost"]
    used = [(v, p) for v, p in zip(model["curve_viops"], model["curve_p99_us"]) if v]
    curve = ", ".join(f"{p} us at {v}" for v, p in used)
    return (f"{dev}: {model['device_viops']} 4k random reads/s at QD 32 (device_viops). "
            f"Relative to one of them, a 4k/64k/128k read costs "
            f"{r[0] / Q10:.2f}/{r[4] / Q10:.2f}/{r[5] / Q10:.2f} and a write "
            f"{w[0] / Q10:.2f}/{w[4] / Q10:.2f}/{w[5] / Q10:.2f}. Sustained 64k writes "
            f"settle at {model['write_ramp_mib']} MiB/s, each costing "
            f"{model['write_weight_max'] / Q10:.2f}x what it did at first. "
            f"4k read p99 by load (reads/s): {curve}.")
