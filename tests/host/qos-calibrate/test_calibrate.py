"""Host tests of tools/qos/calibrate: the fio-report arithmetic, the checks that
keep it off a device in use, and its command line. Run by ctest (qos_calibrate).

fio-sweep.json, fio-sustained.json and fio-curve.json are fio 3.33's reports
of calibrate's own three runs (--quick, 1 s each) against a 256 MiB file on
ext4, with the job keys calibrate never reads (latency_*, iodepth_submit,
iodepth_complete, trim, sync, disk_util) taken out.
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import nullcontext, redirect_stderr, redirect_stdout
from io import StringIO
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL_DIR = os.path.join(HERE, "..", "..", "..", "tools", "qos")
CALIBRATE = os.path.join(TOOL_DIR, "calibrate")
sys.path.insert(0, TOOL_DIR)

import qos_device  # noqa: E402
import qos_model as qm  # noqa: E402
from qos_device import DeviceError  # noqa: E402
from qos_model import ModelError  # noqa: E402


def fixture(name):
    with open(os.path.join(HERE, f"fio-{name}.json")) as f:
        return json.load(f)


def with_iops(doc, **iops):
    """A copy of fio report DOC whose jobs (read_4k means read-4k) report these IOPS."""
    doc = copy.deepcopy(doc)
    for key, value in iops.items():
        name = key.replace("_", "-")
        job = qm.job(doc, name)
        d = job["write" if name.startswith(("write", "sustain")) else "read"]
        d["iops"] = value
        d["bw_bytes"] = value * (qm.SUSTAIN_BS if name.startswith("sustain") else 4096)
    return doc


def with_p99(doc, **p99_us):
    doc = copy.deepcopy(doc)
    for key, value in p99_us.items():
        pct = qm.job(doc, key.replace("_", "-"))["read"]["clat_ns"]["percentile"]
        pct["99.000000"] = value * 1000
    return doc


SWEEP, SUSTAINED, CURVE = fixture("sweep"), fixture("sustained"), fixture("curve")
# 4k reads at 10000/s; each size twice the time of the one before from 16k on.
EVEN_SWEEP = with_iops(SWEEP, read_4k=10000, read_8k=8000, read_16k=5000, read_32k=2500,
                       read_64k=1250, read_128k=625, write_4k=2500, write_8k=2000,
                       write_16k=1250, write_32k=625, write_64k=312.5, write_128k=156.25)


def curve_for(viops, loads, p99s):
    """The curve fixture answering each point with LOADS (IOPS) and P99S (us)."""
    names = [n for n, _ in qm.curve_jobs(viops)]
    doc = with_iops(CURVE, **{n.replace("-", "_"): v for n, v in zip(names, loads)})
    return with_p99(doc, **{n.replace("-", "_"): v for n, v in zip(names, p99s)})


class ModelFromRealReports(unittest.TestCase):
    def test_fixtures_give_a_valid_push_file(self):
        m = qm.build_model(SWEEP, SUSTAINED, CURVE)
        self.assertEqual(qm.check_model(m), [])
        self.assertEqual(list(m), list(qm.MEMBERS))
        self.assertEqual(m["read_cost"][0], 1024)
        self.assertEqual(m["device_viops"], round(qm.iops(SWEEP, "read-4k")))
        for costs in (m["read_cost"], m["write_cost"]):
            self.assertEqual(costs, sorted(costs))
        used = [v for v in m["curve_viops"] if v]
        self.assertGreaterEqual(len(used), 2)
        self.assertEqual(used, sorted(set(used)))
        self.assertEqual(m["curve_viops"][len(used):], [0] * (8 - len(used)))
        self.assertEqual(m["curve_p99_us"][len(used):], [0] * (8 - len(used)))
        self.assertTrue(all(p >= 1 for p in m["curve_p99_us"][:len(used)]))

    def test_fixture_jobs_are_the_ones_calibrate_runs(self):
        self.assertEqual([j["jobname"] for j in SWEEP["jobs"]], [n for n, _, _ in qm.sweep_jobs()])
        self.assertEqual([j["jobname"] for j in SUSTAINED["jobs"]], qm.sustain_jobs())
        self.assertEqual([j["jobname"] for j in CURVE["jobs"]],
                         [n for n, _ in qm.curve_jobs(qm.size_costs(SWEEP)[0])])

    def test_summary_is_one_paragraph(self):
        s = qm.summary("nvme0n1", qm.build_model(SWEEP, SUSTAINED, CURVE))
        self.assertNotIn("\n", s)
        self.assertTrue(s.startswith("nvme0n1: "))


class Costs(unittest.TestCase):
    def test_costs_relative_to_4k_reads(self):
        viops, r, w = qm.size_costs(EVEN_SWEEP)
        self.assertEqual(viops, 10000)
        self.assertEqual(r, [1024, 1280, 2048, 4096, 8192, 16384])
        self.assertEqual(w, [4096, 5120, 8192, 16384, 32768, 65536])

    def test_costs_round_to_nearest(self):
        _, r, _ = qm.size_costs(with_iops(EVEN_SWEEP, read_8k=3000))  # 1024 * 10/3 = 3413.33
        self.assertEqual(r[1], 3413)

    def test_larger_request_never_cheaper(self):
        _, r, w = qm.size_costs(with_iops(EVEN_SWEEP, read_16k=9000, write_64k=2500))
        self.assertEqual(r[:3], [1024, 1280, 1280])
        self.assertEqual(w[3:], [16384, 16384, 65536])

    def test_costs_clamped_to_range(self):
        viops, r, w = qm.size_costs(with_iops(EVEN_SWEEP, read_4k=1e9, read_8k=1e9, read_128k=1,
                                              write_4k=1e12))
        self.assertEqual(viops, 100000000)
        self.assertEqual(r[0], 1024)
        self.assertEqual(r[5], 16777216)  # 1024 * 1e9 would be far above
        self.assertEqual(w[0], 1)  # 1024 * 1e9 / 1e12 rounds to 0

    def test_slow_4k_reads_still_cost_1024(self):
        _, r, _ = qm.size_costs(with_iops(EVEN_SWEEP, read_4k=0.5, read_8k=1e6))
        self.assertEqual(r[:2], [1024, 1024])


class SustainedWrites(unittest.TestCase):
    def windows(self, *iops):
        return with_iops(SUSTAINED, **{f"sustain_{i + 1}": v for i, v in enumerate(iops)})

    def test_late_cost_over_early_cost(self):
        # 64k writes: 1000/s first, 250/s in the last two windows: 4x the cost, 15.6 MiB/s.
        wmax, ramp = qm.write_ramp(self.windows(1000, 800, 500, 300, 250, 250))
        self.assertEqual(wmax, 4096)
        self.assertEqual(ramp, 16)

    def test_factor_clamped(self):
        self.assertEqual(qm.write_ramp(self.windows(1000, 1000, 1000, 1000, 1100, 1200))[0], 1024)
        self.assertEqual(qm.write_ramp(self.windows(64000, 9, 9, 9, 2, 2))[0], 16384)

    def test_ramp_at_least_1_mib(self):
        self.assertEqual(qm.write_ramp(self.windows(1, 1, 1, 1, 1, 1))[1], 1)


class Curve(unittest.TestCase):
    def test_points_are_measured_loads(self):
        loads = [100, 250, 400, 550, 700, 800, 900, 1000]
        c, p = qm.latency_curve(curve_for(1000, loads, [50, 60, 70, 80, 100, 150, 300, 900]), 1000)
        self.assertEqual(c, loads)
        self.assertEqual(p, [50, 60, 70, 80, 100, 150, 300, 900])

    def test_saturated_points_merge_keeping_higher_latency(self):
        # The device gives 700/s at most: 80..100% are the 70% point again, slower.
        c, p = qm.latency_curve(curve_for(1000, [100, 250, 400, 550, 700, 705, 702, 706],
                                          [50, 60, 70, 80, 100, 400, 2000, 900]), 1000)
        self.assertEqual(c, [100, 250, 400, 550, 700, 0, 0, 0])
        self.assertEqual(p, [50, 60, 70, 80, 2000, 0, 0, 0])

    def test_latency_made_nondecreasing_and_at_least_1us(self):
        c, p = qm.latency_curve(curve_for(1000, [100, 250, 400, 550, 700, 800, 900, 1000],
                                          [0.2, 90, 70, 80, 100, 95, 300, 900]), 1000)
        self.assertEqual(p, [1, 90, 90, 90, 100, 100, 300, 900])

    def test_loads_out_of_order_still_ascend(self):
        # A host stall made the 55% run fall behind the 40% one.
        c, _ = qm.latency_curve(curve_for(1000, [100, 250, 400, 380, 700, 800, 900, 1000],
                                          [1, 2, 3, 4, 5, 6, 7, 8]), 1000)
        self.assertEqual(c, [100, 250, 400, 700, 800, 900, 1000, 0])


class BadReports(unittest.TestCase):
    def test_missing_job(self):
        doc = copy.deepcopy(SWEEP)
        doc["jobs"] = [j for j in doc["jobs"] if j["jobname"] != "write-32k"]
        with self.assertRaisesRegex(ModelError, "no job write-32k"):
            qm.size_costs(doc)

    def test_failed_job(self):
        doc = copy.deepcopy(SWEEP)
        qm.job(doc, "read-64k")["error"] = 5
        with self.assertRaisesRegex(ModelError, "read-64k failed with error 5"):
            qm.size_costs(doc)

    def test_job_without_io(self):
        with self.assertRaisesRegex(ModelError, "sustain-1 completed no writes"):
            qm.write_ramp(with_iops(SUSTAINED, sustain_1=0))

    def test_check_model_names_problems(self):
        m = qm.build_model(EVEN_SWEEP, SUSTAINED, CURVE)
        m["write_weight_max"] = 99
        m["curve_viops"] = m["curve_viops"][:7]
        problems = qm.check_model(m)
        self.assertIn("write_weight_max: 99 not an integer in 1024..16384", problems)
        self.assertIn("curve_viops: 7 elements, expected 8", problems)


class FakeSysfs(unittest.TestCase):
    """sdx (8:16) with partitions sdx1 (8:17), sdx2 (8:18); sdy (8:32) beside it."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="qos-calibrate-sys-")
        self.addCleanup(shutil.rmtree, self.root)
        for disk, devno, parts in (("sdx", "8:16", ("sdx1", "sdx2")), ("sdy", "8:32", ())):
            base = os.path.join(self.root, "devices", disk)
            self.write(os.path.join(base, "dev"), devno)
            os.makedirs(os.path.join(base, "holders"))
            os.makedirs(os.path.join(self.root, "block"), exist_ok=True)
            os.makedirs(os.path.join(self.root, "class", "block"), exist_ok=True)
            os.symlink(base, os.path.join(self.root, "block", disk))
            os.symlink(base, os.path.join(self.root, "class", "block", disk))
            for i, p in enumerate(parts, 1):
                self.write(os.path.join(base, p, "dev"), f"{devno.split(':')[0]}:{int(devno.split(':')[1]) + i}")
                self.write(os.path.join(base, p, "partition"), str(i))
                os.makedirs(os.path.join(base, p, "holders"))
                os.symlink(os.path.join(base, p), os.path.join(self.root, "class", "block", p))
        self.sdx = qos_device.Device("sdx", "8:16", "/dev/sdx")

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text + "\n")

    def users(self, mountinfo="", swaps="Filename Type Size Used Priority\n"):
        return qos_device.users(self.sdx, mountinfo, swaps, self.root)


MOUNTINFO = """\
22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
"""


class InUse(FakeSysfs):
    def test_partitions(self):
        self.assertEqual(qos_device.partitions(self.sdx, self.root),
                         {"sdx": "8:16", "sdx1": "8:17", "sdx2": "8:18"})

    def test_idle_device(self):
        other = MOUNTINFO + "40 22 8:32 / /mnt/y rw - xfs /dev/sdy rw\n"
        self.assertEqual(self.users(other), [])

    def test_mounted_partition(self):
        mi = MOUNTINFO + "40 22 8:18 / /srv/data\\040disk rw shared:30 - ext4 /dev/sdx2 rw\n"
        self.assertEqual(self.users(mi), ["sdx2 is mounted on /srv/data disk"])

    def test_mounted_whole_disk(self):
        mi = MOUNTINFO + "41 22 8:16 /sub /mnt rw - ext4 /dev/disk/by-label/x rw\n"
        self.assertEqual(self.users(mi), ["sdx is mounted on /mnt"])

    def test_mount_with_anonymous_devno_found_by_source(self):
        mi = MOUNTINFO + "42 22 0:45 / /home rw shared:2 - btrfs /dev/sdx1 rw,subvol=/\n"
        self.assertEqual(self.users(mi), ["sdx1 is mounted on /home"])

    def test_swap(self):
        swaps = "Filename Type Size Used Priority\n/dev/sdx1 partition 1048572 0 -2\n"
        self.assertEqual(self.users(swaps=swaps), ["sdx1 is in use as swap"])

    def test_holders(self):
        os.makedirs(os.path.join(self.root, "block", "sdx", "holders", "dm-0"))
        os.makedirs(os.path.join(self.root, "block", "sdx", "sdx2", "holders", "md127"))
        self.assertEqual(self.users(), ["sdx is held by dm-0", "sdx2 is held by md127"])

    def test_every_reason(self):
        os.makedirs(os.path.join(self.root, "block", "sdx", "holders", "dm-3"))
        mi = MOUNTINFO + "40 22 8:17 / /boot rw - vfat /dev/sdx1 rw\n"
        swaps = "Filename Type Size Used Priority\n/dev/sdx2 partition 1 0 -2\n"
        self.assertEqual(self.users(mi, swaps), ["sdx1 is mounted on /boot",
                                                 "sdx2 is in use as swap", "sdx is held by dm-3"])


class Resolve(FakeSysfs):
    def test_no_such_device(self):
        with self.assertRaisesRegex(DeviceError, "^no block device sdz$"):
            qos_device.resolve("sdz", self.root)

    def test_partition_refused(self):
        with self.assertRaisesRegex(DeviceError, "^sdx1 is a partition of sdx: calibrate the whole disk"):
            qos_device.resolve("sdx1", self.root)

    def test_not_a_block_device(self):
        with self.assertRaisesRegex(DeviceError, "^/dev/null is not a block device$"):
            qos_device.resolve("/dev/null", self.root)

    def test_missing_path(self):
        with self.assertRaisesRegex(DeviceError, "^/dev/nonexistent-calibrate: no such file or directory$"):
            qos_device.resolve("/dev/nonexistent-calibrate", self.root)

    def test_no_node(self):
        with self.assertRaisesRegex(DeviceError, "^sdx has no device node .*/dev/sdx$"):
            qos_device.resolve("sdx", self.root, os.path.join(self.root, "dev"))


@unittest.skipUnless(shutil.which("blkid") and shutil.which("mkfs.ext4"), "needs blkid and mkfs.ext4")
class Signature(unittest.TestCase):
    def test_empty_and_ext4(self):
        with tempfile.NamedTemporaryFile() as img:
            img.truncate(8 * 2**20)
            img.flush()
            self.assertIsNone(qos_device.signature(img.name))
            subprocess.run(["mkfs.ext4", "-q", "-F", img.name], check=True)
            self.assertEqual(qos_device.signature(img.name), "ext4 filesystem")


def load_calibrate():
    """tools/qos/calibrate as a module (it has no .py suffix)."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("calibrate", CALIBRATE)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("calibrate", loader))
    loader.exec_module(module)
    return module


@unittest.skipUnless(shutil.which("fio"), "needs fio")
class FioRuns(unittest.TestCase):
    def test_fio_failure_is_one_line(self):
        cal = load_calibrate()
        # fio cannot do I/O on a directory.
        with tempfile.TemporaryDirectory() as d, self.assertRaises(cal.CalibrateError) as e:
            cal.fio("the size sweep", qos_device.Device("d", "0:0", d), ["--runtime=1"],
                    [["--name=read-4k", "--rw=randread", "--bs=4k", "--size=1M"]])
        self.assertRegex(str(e.exception), r"^fio failed on the size sweep \(exit 1\): .+")
        self.assertNotIn("\n", str(e.exception))

    def test_report_has_the_jobs_asked_for(self):
        cal = load_calibrate()
        with tempfile.NamedTemporaryFile() as f:
            f.truncate(4 * 2**20)
            f.flush()
            dev = qos_device.Device("f", "0:0", f.name)
            doc = cal.fio("a test", dev, ["--runtime=1", "--rw=randread", "--bs=4k"],
                          [[f"--name=curve-{p}", f"--rate_iops={r}"] for p, r in ((10, 50), (25, 100))])
        self.assertEqual([j["jobname"] for j in doc["jobs"]], ["curve-10", "curve-25"])
        self.assertGreater(qm.iops(doc, "curve-25"), qm.iops(doc, "curve-10"))
        self.assertGreater(qm.p99_us(doc, "curve-10"), 0)


class Refusals(FakeSysfs):
    """calibrate's own refusals (check_device, through main), over the fake sysfs, mount table
    and swaps and a stubbed blkid: one line, exit status 1, nothing written, --force past
    them. The VM test (tests/vm/195-qos-calibrate.sh) refuses a device a ufq policy serves,
    whose state only a real kernel shows; a mounted device and a filesystem are refused here
    (mountinfo as the kernel writes it: InUse; blkid on a real ext4 image: Signature)."""

    def setUp(self):
        super().setUp()
        self.cal = load_calibrate()
        self.dir = tempfile.mkdtemp(prefix="qos-calibrate-refused-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.out = os.path.join(self.dir, "model.json")
        sysfs = self.sdx.sysfs()
        self.files = {"/proc/self/mountinfo": MOUNTINFO,
                      "/proc/swaps": "Filename Type Size Used Priority\n",
                      os.path.join(sysfs, "size"): "2097152\n",  # 1 GiB
                      os.path.join(sysfs, "queue", "logical_block_size"): "512\n",
                      os.path.join(sysfs, "queue", "iosched", "state"): "none\n"}
        self.sig = None
        users = qos_device.users
        for target, attr, fake in (
                (self.cal, "read_text", lambda path: self.files.get(path, "")),
                (qos_device, "resolve", lambda spec: self.sdx),
                (qos_device, "users", lambda dev, mi, sw: users(dev, mi, sw, self.root)),
                (qos_device, "signature", lambda path: self.sig),
                (self.cal.shutil, "which", lambda name: "/usr/bin/" + name),
                (self.cal.os, "geteuid", lambda: 0),
                (self.cal, "QueueSettings", lambda dev: nullcontext()),
                (self.cal, "measure", self.measured)):
            p = mock.patch.object(target, attr, fake)
            p.start()
            self.addCleanup(p.stop)

    def measured(self, dev, size, a):
        raise AssertionError(f"{dev.name} was measured")

    def refused(self, pattern):
        err = StringIO()
        with redirect_stderr(err):
            rc = self.cal.main(["--dev", "sdx", "-o", self.out, "--quick"])
        self.assertEqual(rc, 1, err.getvalue())
        self.assertEqual(len(err.getvalue().splitlines()), 1, err.getvalue())
        self.assertRegex(err.getvalue(), "^calibrate: " + pattern)
        self.assertEqual(os.listdir(self.dir), [], "a refused run wrote a file")

    def test_mounted(self):
        self.files["/proc/self/mountinfo"] += "40 22 8:18 / /srv rw shared:30 - ext4 /dev/sdx2 rw\n"
        self.refused(r"sdx is in use \(sdx2 is mounted on /srv\); calibrating writes over the whole "
                     r"device; --force to do it anyway$")

    def test_served_by_a_policy(self):
        self.files[os.path.join(self.sdx.sysfs(), "queue", "iosched", "state")] = "active\n"
        self.refused(r"sdx is served by a ufq policy; unbind it first \(ufqctl unbind --dev sdx\), "
                     r"or --force$")

    def test_holds_data(self):
        self.sig = "ext4 filesystem"
        self.refused(r"sdx holds data \(ext4 filesystem\), which calibrating destroys; --force to do "
                     r"it anyway$")

    def test_force_measures_anyway(self):
        self.files["/proc/self/mountinfo"] += "40 22 8:16 / /mnt rw - ext4 /dev/sdx rw\n"
        self.files[os.path.join(self.sdx.sysfs(), "queue", "iosched", "state")] = "active\n"
        self.sig = "ext4 filesystem"
        with self.assertRaisesRegex(AssertionError, "^sdx was measured$"), redirect_stdout(StringIO()):
            self.cal.main(["--dev", "sdx", "-o", self.out, "--quick", "--force"])
        self.assertEqual(os.listdir(self.dir), [], "the temporary file was left")

    def test_idle_device_is_measured(self):
        with self.assertRaisesRegex(AssertionError, "^sdx was measured$"), redirect_stdout(StringIO()):
            self.cal.main(["--dev", "sdx", "-o", self.out, "--quick"])
        self.assertEqual(os.listdir(self.dir), [], "the temporary file was left")


class CommandLine(unittest.TestCase):
    def run_tool(self, *args, path=None):
        env = dict(os.environ)
        if path is not None:
            env["PATH"] = path
        return subprocess.run([sys.executable, CALIBRATE, *args], capture_output=True, text=True,
                              env=env, check=False)

    def assert_one_line_error(self, r, rc, pattern):
        self.assertEqual(r.returncode, rc, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertRegex(r.stderr, "^calibrate: " + pattern)
        self.assertEqual(r.stdout, "")

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qos-calibrate-out-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.out = os.path.join(self.dir, "model.json")

    def tearDown(self):
        self.assertEqual(os.listdir(self.dir), [], "a failed run left files behind")

    def test_help_is_a_manual(self):
        r = self.run_tool("--help")
        self.assertEqual(r.returncode, 0)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "WARNING", "OPTIONS", "EXIT STATUS"):
            self.assertRegex(r.stdout, f"(?m)^{section}$")
        self.assertIn("destroy every byte", r.stdout)

    def test_usage_errors(self):
        self.assert_one_line_error(self.run_tool("-o", self.out), 2, "--dev DEV is required")
        self.assert_one_line_error(self.run_tool("--dev", "sda"), 2, "-o FILE is required")
        self.assert_one_line_error(self.run_tool("--dev", "sda", "-o", self.out, "--runtime", "0"),
                                   2, "--runtime must be 1..3600")
        self.assert_one_line_error(self.run_tool("--dev", "sda", "-o", self.out, "--bogus"),
                                   2, "unrecognized arguments: --bogus")

    def test_fio_missing(self):
        empty = os.path.join(self.dir, "bin")
        os.mkdir(empty)
        r = self.run_tool("--dev", "sda", "-o", self.out, path=empty)
        os.rmdir(empty)
        self.assert_one_line_error(r, 1, "fio is not installed")

    @unittest.skipUnless(shutil.which("fio"), "needs fio")
    def test_missing_device(self):
        self.assert_one_line_error(self.run_tool("--dev", "nosuchdisk0", "-o", self.out), 1,
                                   "no block device nosuchdisk0$")

    @unittest.skipUnless(shutil.which("fio"), "needs fio")
    def test_not_a_block_device(self):
        self.assert_one_line_error(self.run_tool("--dev", "/dev/null", "-o", self.out), 1,
                                   "/dev/null is not a block device$")


if __name__ == "__main__":
    unittest.main()
