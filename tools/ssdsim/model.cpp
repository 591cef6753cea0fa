#include "model.hpp"

#include <algorithm>
#include <cmath>

namespace ssdsim {

namespace {

constexpr double kNsPerUs = 1e3;
// x MB/s (10^6 bytes) is x / 1000 bytes per ns.
constexpr double kBytesPerNsPerMBs = 1e-3;
constexpr double kMiB = 1024.0 * 1024.0;

Nanos to_nanos(double ns) { return static_cast<Nanos>(std::llround(ns)); }

} // namespace

Model::Model(const Profile& p)
    : page_bytes_(p.page_bytes), read_ns_(p.read_us * kNsPerUs * p.time_scale),
      program_ns_(p.program_us * kNsPerUs * p.time_scale),
      command_ns_(p.command_us * kNsPerUs * p.time_scale),
      transfer_ns_per_byte_(p.time_scale / (p.transfer_mb_s * kBytesPerNsPerMBs)),
      drain_ns_per_page_(p.page_bytes * p.time_scale / (p.drain_mb_s * kBytesPerNsPerMBs)),
      buffer_pages_(std::max<std::size_t>(1, p.buffer_bytes / p.page_bytes)),
      gc_window_bytes_(p.gc_window_mib * kMiB),
      gc_recover_bytes_per_ns_(p.gc_recover_mb_s * kBytesPerNsPerMBs / p.time_scale),
      gc_max_factor_(p.gc_max_factor), noise_(p.noise), die_free_(p.dies, 0), rng_(p.seed) {}

double Model::gc_factor() const {
    return 1.0 + (gc_max_factor_ - 1.0) * std::min(1.0, volume_ / gc_window_bytes_);
}

Nanos Model::submit(Nanos now, Op op, std::uint64_t offset, std::uint64_t bytes) {
    // Everything below happens after the controller has taken the command; as the command
    // time is the same for all, those times are as ordered as the arrivals.
    const Nanos t = now + to_nanos(command_ns_);
    drain_until(t);
    recover_until(t);
    const std::uint64_t first = offset / page_bytes_;
    const std::uint64_t last = (offset + std::max<std::uint64_t>(bytes, 1) - 1) / page_bytes_;
    return op == Op::read ? read(t, first, last, offset, bytes) : write(t, first, last, bytes);
}

Nanos Model::read(Nanos t, std::uint64_t first, std::uint64_t last, std::uint64_t offset,
                  std::uint64_t bytes) {
    // The pages are read on their dies in parallel (one after the other on a die holding
    // several), each followed by the transfer of its part of the request.
    Nanos done = t;
    for (std::uint64_t page = first; page <= last; ++page) {
        const std::uint64_t from = std::max(offset, page * page_bytes_);
        const std::uint64_t to = std::min(offset + bytes, (page + 1) * page_bytes_);
        const double ns = read_ns_ + transfer_ns_per_byte_ * static_cast<double>(to - from);
        done = std::max(done, die_op(static_cast<unsigned>(page % die_free_.size()), t, ns));
    }
    return done;
}

Nanos Model::write(Nanos t, std::uint64_t first, std::uint64_t last, std::uint64_t bytes) {
    const Nanos arrived = transfer_in(t, bytes);
    // The GC factor of the volume written before this request prices its pages.
    const double gc = gc_factor();
    volume_ += static_cast<double>(bytes);
    Nanos admitted = arrived;
    for (std::uint64_t page = first; page <= last; ++page) {
        // pending_ holds the pages not yet drained, oldest first: with the buffer full, this
        // page gets the slot of the one buffer_pages_ places ahead of it.
        Nanos room = arrived;
        if (pending_.size() >= buffer_pages_)
            room = std::max(room, pending_[pending_.size() - buffer_pages_].drain);
        const Nanos drain = std::max(room, next_drain_);
        next_drain_ = drain + to_nanos(drain_ns_per_page_ * gc);
        pending_.push_back({drain, static_cast<unsigned>(page % die_free_.size()),
                            program_ns_ * gc});
        admitted = std::max(admitted, room);
    }
    return admitted;
}

void Model::drain_until(Nanos t) {
    while (!pending_.empty() && pending_.front().drain <= t) {
        const BufferedPage& page = pending_.front();
        die_op(page.die, page.drain, page.program_ns);
        pending_.pop_front();
    }
}

void Model::recover_until(Nanos t) {
    if (t > volume_time_) {
        volume_ = std::max(0.0, volume_ - gc_recover_bytes_per_ns_ * static_cast<double>(t - volume_time_));
        volume_time_ = t;
    }
}

Nanos Model::die_op(unsigned die, Nanos ready, double ns) {
    if (noise_ > 0)
        ns *= 1.0 + noise_ * unit_(rng_);
    const Nanos start = std::max(ready, die_free_[die]);
    die_free_[die] = start + to_nanos(ns);
    return die_free_[die];
}

Nanos Model::transfer_in(Nanos ready, std::uint64_t bytes) {
    const Nanos start = std::max(ready, buffer_port_free_);
    buffer_port_free_ = start + to_nanos(transfer_ns_per_byte_ * static_cast<double>(bytes));
    return buffer_port_free_;
}

} // namespace ssdsim
