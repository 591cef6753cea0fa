#include "ublk_queue.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "error.hpp"

namespace ssdsim {

namespace {

Nanos monotonic_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000ull + static_cast<Nanos>(ts.tv_nsec);
}

// Queue 0's descriptors start at the beginning of the character device's command area.
constexpr off_t kQueue0Descs = UBLKSRV_CMD_BUF_OFFSET;

} // namespace

Queue::Queue(int cdev, unsigned depth, std::uint32_t max_io_bytes, Model& model, Store& store)
    : cdev_(cdev), depth_(depth), max_io_bytes_(max_io_bytes), model_(model), store_(store) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    descs_len_ = (depth * sizeof(ublksrv_io_desc) + page - 1) / page * page;
    void* d = ::mmap(nullptr, descs_len_, PROT_READ, MAP_SHARED | MAP_POPULATE, cdev_, kQueue0Descs);
    if (d == MAP_FAILED)
        fail_errno("cannot map the ublk request descriptors", errno);
    descs_ = static_cast<const ublksrv_io_desc*>(d);

    buffers_len_ = static_cast<std::size_t>(depth) * max_io_bytes;
    void* b = ::mmap(nullptr, buffers_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (b == MAP_FAILED) {
        const int err = errno;
        ::munmap(const_cast<ublksrv_io_desc*>(descs_), descs_len_);
        fail_errno("cannot allocate the request buffers", err);
    }
    buffers_ = static_cast<unsigned char*>(b);
}

Queue::~Queue() {
    ::munmap(buffers_, buffers_len_);
    ::munmap(const_cast<ublksrv_io_desc*>(descs_), descs_len_);
}

void Queue::submit_io(unsigned op, std::uint16_t tag, std::int32_t result) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
        // The ring has two entries per tag and each tag has at most one command queued, so
        // this only happens with a batch larger than the ring: make room.
        if (int ret = io_uring_submit(&ring_); ret < 0)
            fail_errno("io_uring_submit", ret);
        sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr)
            throw Error("no free io_uring submission entry");
    }
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, cdev_, nullptr, 0, 0);
    sqe->cmd_op = op;
    ublksrv_io_cmd cmd{};
    cmd.q_id = 0;
    cmd.tag = tag;
    cmd.result = result;
    cmd.addr = reinterpret_cast<__u64>(buffer(tag));
    std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
    io_uring_sqe_set_data64(sqe, tag);
}

void Queue::handle(std::uint16_t tag, Nanos now) {
    // The descriptor is shared with the driver: read it once.
    ublksrv_io_desc iod;
    std::memcpy(&iod, &descs_[tag], sizeof(iod));
    const std::uint64_t offset = iod.start_sector << 9;
    const std::uint64_t bytes = static_cast<std::uint64_t>(iod.nr_sectors) << 9;

    Due due{now, tag, 0};
    switch (ublksrv_get_op(&iod)) {
    case UBLK_IO_OP_READ:
    case UBLK_IO_OP_WRITE: {
        const bool read = ublksrv_get_op(&iod) == UBLK_IO_OP_READ;
        if (bytes == 0 || bytes > max_io_bytes_ || !store_.contains(offset, bytes)) {
            ++stats_.errors;
            due.result = -EIO;
            break;
        }
        // The data moves now; the request completes when the model says. A read that
        // overlaps a write still in flight may see either data, as on a real device.
        if (read)
            store_.read(offset, buffer(tag), bytes);
        else
            store_.write(offset, buffer(tag), bytes);
        due.when = model_.submit(now, read ? Op::read : Op::write, offset, bytes);
        due.result = static_cast<std::int32_t>(bytes);
        ++(read ? stats_.reads : stats_.writes);
        break;
    }
    case UBLK_IO_OP_FLUSH:
        // No volatile cache is advertised, so the block layer sends no flushes; one that
        // comes anyway has nothing to do.
        ++stats_.other;
        break;
    default:
        ++stats_.other;
        due.result = -EOPNOTSUPP;
        break;
    }
    due_.push(due);
}

void Queue::commit_due(Nanos now, bool all) {
    while (!due_.empty() && (all || due_.top().when <= now)) {
        const Due d = due_.top();
        due_.pop();
        submit_io(UBLK_U_IO_COMMIT_AND_FETCH_REQ, d.tag, d.result);
        ++stats_.commits;
        // Requests committed early by hurry() were not late.
        const Nanos late = now > d.when ? now - d.when : 0;
        stats_.late_ns_total += late;
        stats_.late_ns_max = std::max(stats_.late_ns_max, late);
    }
}

void Queue::run(const std::function<void()>& ready) {
    // Completions are timed to the model's nanosecond: no 50 us of timer slack on top of them.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (int ret = io_uring_queue_init(depth_ * 2, &ring_, 0); ret < 0)
        fail_errno("cannot set up the io_uring of the ublk queue", ret);
    struct RingGuard {
        io_uring* r;
        ~RingGuard() { io_uring_queue_exit(r); }
    } guard{&ring_};

    for (unsigned tag = 0; tag < depth_; ++tag)
        submit_io(UBLK_U_IO_FETCH_REQ, static_cast<std::uint16_t>(tag), 0);
    // FETCH_REQ is taken at submission, so the driver knows every tag once this returns. One
    // the driver refused completes at once, and no request can complete before START_DEV: any
    // completion now is a refusal. Starting the device anyway would wait forever for that tag.
    if (int ret = io_uring_submit(&ring_); ret < 0)
        fail_errno("cannot submit the ublk fetch commands", ret);
    if (io_uring_cqe* cqe = nullptr; io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe)
        fail_errno(fmt::format("the ublk driver refused the fetch of tag {}",
                               io_uring_cqe_get_data64(cqe)),
                   cqe->res < 0 ? cqe->res : -EPROTO);
    ready();

    while (aborted_ < depth_) {
        __kernel_timespec wait{};
        __kernel_timespec* timeout = nullptr;
        if (!due_.empty()) {
            const Nanos now = monotonic_now();
            Nanos left = due_.top().when > now ? due_.top().when - now : 0;
            // Wake up now and then to see whether hurry() was called.
            left = std::min<Nanos>(left, kHurryCheck);
            wait.tv_sec = static_cast<long long>(left / 1'000'000'000ull);
            wait.tv_nsec = static_cast<long long>(left % 1'000'000'000ull);
            timeout = &wait;
        }
        io_uring_cqe* cqe = nullptr;
        int ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout, nullptr);
        if (ret < 0 && ret != -ETIME && ret != -EINTR)
            fail_errno("waiting for ublk requests", ret);

        const Nanos now = monotonic_now();
        unsigned seen = 0, head;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            const auto tag = static_cast<std::uint16_t>(io_uring_cqe_get_data64(cqe));
            if (tag >= depth_)
                throw Error(fmt::format("ublk completion for tag {} of {}", tag, depth_));
            if (cqe->res == UBLK_IO_RES_OK)
                handle(tag, now);
            else if (cqe->res == UBLK_IO_RES_ABORT)
                ++aborted_; // the device is going away: this tag gets no more requests
            else
                fail_errno(fmt::format("ublk command for tag {} failed", tag), cqe->res);
        }
        io_uring_cq_advance(&ring_, seen);
        commit_due(now, hurry_.load(std::memory_order_relaxed));
    }
}

} // namespace ssdsim
