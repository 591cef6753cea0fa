#!/usr/bin/env bash
# make demo: boot the ufq kernel, put ufq on a null_blk device, run fio
# through it and show what happened.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
exec "$repo/tools/vm/run" --out "$repo/build/vm-out/demo" --timeout 600 -- tools/vm/demo-guest
