// The latency model of ssdsim: when a request to the modelled SSD completes.
//
// Pure arithmetic on a simulated clock, no I/O: the ublk server (ublk_queue.cpp) asks it for
// each request's completion time, `ssdsim predict` (workload.cpp) drives it with a simulated
// fio job, and tests/unit/ssdsim_model_test.cpp checks it. docs/ssdsim.md gives the formulas.
//
//   die d          serves one page operation at a time; logical page p lives on die p % dies
//   read           command time, then each page read on its die and its bytes moved over the
//                  die's channel (after whatever the die is doing); done when all pages are
//   write          command time, the bytes moved into the write-back buffer (one write after
//                  the other), admitted page by page as the buffer has room; the request
//                  completes when its last page is in the buffer
//   buffer drain   pages leave the buffer in FIFO order, one every page / drain rate x GC
//                  factor, each one programming its die (program time x GC factor), which
//                  delays the reads that meet that die
//   GC factor      1 + (max - 1) x min(1, V / window), V the recent write volume: bytes
//                  written, forgotten at the recover rate
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "profile.hpp"

namespace ssdsim {

enum class Op { read, write };

// Nanoseconds on the caller's monotonic clock.
using Nanos = std::uint64_t;

class Model {
public:
    explicit Model(const Profile& p);

    // The completion time of a request of `bytes` (> 0) at byte `offset` arriving at `now`.
    // Calls must come with nondecreasing `now`: the model's state (die timelines, buffer,
    // write volume) moves forward with them.
    Nanos submit(Nanos now, Op op, std::uint64_t offset, std::uint64_t bytes);

    // The GC factor as of the last submit.
    double gc_factor() const;
    // Pages accepted into the write buffer and not yet drained to their die, as of the last
    // submit (may exceed the buffer's size by the pages of writes waiting for room).
    std::size_t pending_pages() const { return pending_.size(); }
    unsigned die_of(std::uint64_t offset) const {
        return static_cast<unsigned>((offset / page_bytes_) % die_free_.size());
    }

private:
    struct BufferedPage {
        Nanos drain;      // when it leaves the buffer and starts programming
        unsigned die;
        double program_ns; // with the GC factor of when it was written
    };

    Nanos read(Nanos t, std::uint64_t first, std::uint64_t last, std::uint64_t offset,
               std::uint64_t bytes);
    Nanos write(Nanos t, std::uint64_t first, std::uint64_t last, std::uint64_t bytes);
    // Starts the programs of every buffered page due by `t`, in buffer order.
    void drain_until(Nanos t);
    // Forgets the write volume recovered since the last call.
    void recover_until(Nanos t);
    // Occupies `die` for `ns` (with noise) from `ready` or when it is free; returns the end.
    Nanos die_op(unsigned die, Nanos ready, double ns);
    // Moves a write's bytes into the buffer, one write after the other; returns the end.
    Nanos transfer_in(Nanos ready, std::uint64_t bytes);

    // Scaled constants.
    std::uint32_t page_bytes_;
    double read_ns_, program_ns_, command_ns_, transfer_ns_per_byte_, drain_ns_per_page_;
    std::size_t buffer_pages_;
    double gc_window_bytes_, gc_recover_bytes_per_ns_, gc_max_factor_, noise_;

    std::vector<Nanos> die_free_; // when each die finishes what it was given
    Nanos buffer_port_free_ = 0;
    std::deque<BufferedPage> pending_;
    Nanos next_drain_ = 0;        // the earliest the drain may take the next page
    double volume_ = 0;           // recent write volume, bytes
    Nanos volume_time_ = 0;
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> unit_{-1.0, 1.0};
};

} // namespace ssdsim
