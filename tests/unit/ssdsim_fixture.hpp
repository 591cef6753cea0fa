// A small ssdsim profile with round numbers for the model and workload tests: no noise, time
// scale 1, so that times in ns are easy to write down.
#pragma once

#include "profile.hpp"

namespace ssdsim::test {

inline Profile round_profile() {
    Profile p;
    p.name = "test";
    p.time_scale = 1;
    p.capacity_bytes = 64ull << 20;
    p.queue_depth = 8;
    p.max_io_bytes = 1 << 20;
    p.dies = 4;
    p.page_bytes = 4096;
    p.read_us = 50;
    p.program_us = 200;
    p.command_us = 10;
    p.transfer_mb_s = 4096;      // 4096 bytes per us: 1 us per page
    p.buffer_bytes = 4 * 4096;   // four pages
    p.drain_mb_s = 4096.0 / 100; // one page per 100 us
    p.gc_window_mib = 1;
    p.gc_recover_mb_s = 0;
    p.gc_max_factor = 1;
    p.noise = 0;
    return p;
}

} // namespace ssdsim::test
