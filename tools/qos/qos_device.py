"""Which block device tools/qos/calibrate measures, and whether anything uses it.

Everything takes the sysfs root and the text of /proc/self/mountinfo and
/proc/swaps as arguments, so tests/host/qos-calibrate/ checks it against a
fake sysfs and fake mount tables.
"""
import os
import re
import shutil
import stat
import subprocess


class DeviceError(Exception):
    """The device cannot be calibrated; the message is the whole story, on one line."""


class Device:
    def __init__(self, name, devno, path):
        self.name = name     # kernel name: nvme0n1
        self.devno = devno   # MAJ:MIN
        self.path = path     # its node: /dev/nvme0n1

    def sysfs(self, sys_root="/sys"):
        return os.path.join(sys_root, "block", self.name)


def _read(path):
    with open(path) as f:
        return f.read().strip()


def resolve(spec, sys_root="/sys", dev_root="/dev"):
    """The whole disk SPEC names: NAME, a path to its node (/dev/NAME, /dev/disk/by-id/...) or MAJ:MIN."""
    if re.fullmatch(r"\d+:\d+", spec):
        link = os.path.join(sys_root, "dev", "block", spec)
        if not os.path.exists(link):
            raise DeviceError(f"no block device {spec}")
        name = os.path.basename(os.path.realpath(link))
    elif "/" in spec:
        try:
            st = os.stat(spec)
        except OSError as e:
            raise DeviceError(f"{spec}: {e.strerror.lower()}") from None
        if not stat.S_ISBLK(st.st_mode):
            raise DeviceError(f"{spec} is not a block device")
        link = os.path.join(sys_root, "dev", "block", f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")
        name = os.path.basename(os.path.realpath(link))
    else:
        name = spec
    cls = os.path.join(sys_root, "class", "block", name)
    if not os.path.exists(cls):
        raise DeviceError(f"no block device {spec}")
    if os.path.exists(os.path.join(cls, "partition")):
        disk = os.path.basename(os.path.dirname(os.path.realpath(cls)))
        raise DeviceError(f"{name} is a partition of {disk}: calibrate the whole disk, "
                          "as policies serve whole disks")
    devno = _read(os.path.join(cls, "dev"))
    path = os.path.join(dev_root, name)
    try:
        if not stat.S_ISBLK(os.stat(path).st_mode):
            raise DeviceError(f"{path} is not a block device")
    except FileNotFoundError:
        raise DeviceError(f"{name} has no device node {path}") from None
    return Device(name, devno, path)


def partitions(dev, sys_root="/sys"):
    """{name: MAJ:MIN} of DEV and each of its partitions."""
    out = {dev.name: dev.devno}
    base = dev.sysfs(sys_root)
    for entry in sorted(os.listdir(base)):
        if os.path.exists(os.path.join(base, entry, "partition")):
            out[entry] = _read(os.path.join(base, entry, "dev"))
    return out


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(parts, mountinfo):
    """[(name, mount point)] of the mounts in MOUNTINFO (/proc/self/mountinfo's text) on PARTS."""
    by_devno = {v: k for k, v in parts.items()}
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        source = line.split(" - ", 1)[1].split()
        source = _unescape(source[1]) if len(source) > 1 else ""
        # Btrfs and others report an anonymous MAJ:MIN; their source still names the device.
        name = by_devno.get(fields[2])
        if name is None and source.startswith("/dev/") and os.path.basename(source) in parts:
            name = os.path.basename(source)
        if name is not None:
            found.append((name, _unescape(fields[4])))
    return found


def swaps(parts, swaps_text):
    """Names among PARTS that SWAPS_TEXT (/proc/swaps) lists as swap areas."""
    names = []
    for line in swaps_text.splitlines()[1:]:
        fields = line.split()
        if fields and os.path.basename(_unescape(fields[0])) in parts:
            names.append(os.path.basename(_unescape(fields[0])))
    return names


def holders(dev, parts, sys_root="/sys"):
    """[(name, holder)]: device-mapper, md, bcache... devices built on DEV or a partition."""
    found = []
    base = dev.sysfs(sys_root)
    for name in parts:
        d = os.path.join(base, "holders") if name == dev.name else os.path.join(base, name, "holders")
        if os.path.isdir(d):
            found += [(name, h) for h in sorted(os.listdir(d))]
    return found


def users(dev, mountinfo, swaps_text, sys_root="/sys"):
    """Why DEV is in use, one clause each (empty: nothing uses it)."""
    parts = partitions(dev, sys_root)
    reasons = [f"{n} is mounted on {m}" for n, m in mounts(parts, mountinfo)]
    reasons += [f"{n} is in use as swap" for n in swaps(parts, swaps_text)]
    reasons += [f"{n} is held by {h}" for n, h in holders(dev, parts, sys_root)]
    return reasons


def signature(path):
    """What blkid's low-level probe finds on PATH ("ext4 filesystem", "gpt partition
    table"), None when it finds nothing, or raises DeviceError."""
    if not shutil.which("blkid"):
        raise DeviceError("blkid (util-linux) is missing: cannot check the device for a "
                          "filesystem; install it, or pass --force")
    r = subprocess.run(["blkid", "-p", "-o", "export", "--", path],
                       capture_output=True, text=True, check=False)
    if r.returncode == 2:  # nothing found
        return None
    if r.returncode != 0:
        err = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        raise DeviceError(f"blkid cannot probe {path}: {err}")
    tags = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    if "PTTYPE" in tags and "TYPE" not in tags:
        return f"{tags['PTTYPE']} partition table"
    kind = {"filesystem": "filesystem", "raid": "RAID member", "crypto": "encrypted volume",
            "other": "signature"}.get(tags.get("USAGE", "other"), "signature")
    return f"{tags.get('TYPE', 'unknown')} {kind}"
