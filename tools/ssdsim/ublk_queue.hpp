// One ublk queue served by one thread: each request the driver hands over (FETCH_REQ's
// completion) gets its data copied to or from the store at once and its completion time from
// the model; it is committed (COMMIT_AND_FETCH_REQ, which also fetches the tag's next
// request) when that time comes. The thread sleeps in io_uring_submit_and_wait_timeout()
// until the next completion is due or the driver hands over a request: no polling.
#pragma once

#include <linux/ublk_cmd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include <liburing.h>

#include "model.hpp"
#include "store.hpp"

namespace ssdsim {

struct QueueStats {
    std::uint64_t reads = 0, writes = 0, other = 0, errors = 0;
    // How much later than the model said requests were committed: the timer's lateness and
    // the server's own time, which the model does not know about.
    std::uint64_t commits = 0, late_ns_total = 0, late_ns_max = 0;
};

class Queue {
public:
    static constexpr Nanos kHurryCheck = 50'000'000; // 50 ms

    // `cdev` is the open /dev/ublkcN of a device added with one queue of `depth` tags of at
    // most `max_io_bytes` each.
    Queue(int cdev, unsigned depth, std::uint32_t max_io_bytes, Model& model, Store& store);
    ~Queue();
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    // Fetches every tag, calls `ready` (the device may be started from then on), and serves
    // requests until the driver aborts every tag: after STOP_DEV, or when the device goes
    // away. Must run on the thread that serves the queue from start to end. Throws Error.
    void run(const std::function<void()>& ready);

    // From any thread, before STOP_DEV: commit every request at once instead of at its modelled
    // time, so that the disk's removal does not wait out a slowed-down device's queue (seconds
    // at --time-scale 1000). Takes effect within kHurryCheck.
    void hurry() { hurry_.store(true, std::memory_order_relaxed); }

    const QueueStats& stats() const { return stats_; }

private:
    struct Due {
        Nanos when;
        std::uint16_t tag;
        std::int32_t result;
        bool operator>(const Due& o) const { return when > o.when; }
    };

    void submit_io(unsigned op, std::uint16_t tag, std::int32_t result);
    void handle(std::uint16_t tag, Nanos now);
    // Commits the requests due by `now`, or every one with `all`.
    void commit_due(Nanos now, bool all);
    unsigned char* buffer(std::uint16_t tag) const {
        return buffers_ + static_cast<std::size_t>(tag) * max_io_bytes_;
    }

    int cdev_;
    unsigned depth_;
    std::uint32_t max_io_bytes_;
    Model& model_;
    Store& store_;
    io_uring ring_{};
    const ublksrv_io_desc* descs_ = nullptr; // the driver's request descriptors, one per tag
    std::size_t descs_len_ = 0;
    unsigned char* buffers_ = nullptr;       // one data buffer per tag
    std::size_t buffers_len_ = 0;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
    unsigned aborted_ = 0;
    std::atomic<bool> hurry_{false};
    QueueStats stats_;
};

} // namespace ssdsim
