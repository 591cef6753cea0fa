// SPDX-License-Identifier: GPL-2.0
/*
 * abort_on_cue under another name: a second policy with the same cues and
 * maps of its own, for tests/vm/057-failure-isolation.sh.
 */
#define AOC_NAME abort_on_cue2
#include "abort_on_cue.bpf.c"
