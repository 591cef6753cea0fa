#include "server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "error.hpp"
#include "model.hpp"
#include "store.hpp"
#include "ublk_ctrl.hpp"
#include "ublk_queue.hpp"

namespace ssdsim {

namespace {

// A file descriptor closed on scope exit.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

// The driver creates /dev/ublkcN when the device is added; devtmpfs shows it at once, but
// udev may still be setting it up: retry for a few seconds.
int open_char_device(unsigned dev_id) {
    const std::string path = fmt::format("/dev/ublkc{}", dev_id);
    for (int i = 0;; ++i) {
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        if ((errno != ENOENT && errno != EACCES) || i == 50)
            fail_errno(fmt::format("cannot open {}", path), errno);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// `max_io_bytes`: what the driver granted of the profile's largest request.
ublk_params device_params(const Profile& p, std::uint32_t max_io_bytes) {
    ublk_params params{};
    params.types = UBLK_PARAM_TYPE_BASIC;
    auto& b = params.basic;
    b.logical_bs_shift = 9;
    b.physical_bs_shift = 12;
    b.io_min_shift = 12;
    b.io_opt_shift = 12;
    b.max_sectors = max_io_bytes >> 9;
    b.dev_sectors = p.capacity_bytes >> 9;
    return params;
}

// Waits for a stop signal or for the queue thread to end (it ends by itself only on an
// error, or when the device was stopped by someone else). Returns the signal, or 0.
int wait_for_stop(int sigfd, int queue_done) {
    pollfd fds[2] = {{sigfd, POLLIN, 0}, {queue_done, POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail_errno("poll", errno);
        }
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si{};
            if (::read(sigfd, &si, sizeof(si)) == sizeof(si))
                return static_cast<int>(si.ssi_signo);
        }
        if (fds[1].revents & POLLIN)
            return 0;
    }
}

} // namespace

int serve(const Profile& profile, const ServeOptions& opts) {
    // The stop signals are taken from a signalfd by this thread alone; the queue thread,
    // started below, inherits the blocked mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int s : {SIGTERM, SIGINT, SIGHUP})
        sigaddset(&stop_signals, s);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0)
        throw Error("cannot block the stop signals");
    Fd sigfd(::signalfd(-1, &stop_signals, SFD_CLOEXEC));
    Fd queue_done(::eventfd(0, EFD_CLOEXEC));
    if (sigfd.fd < 0 || queue_done.fd < 0)
        fail_errno("cannot create the signalfd or eventfd", errno);

    Store store(profile.capacity_bytes);
    Model model(profile);
    Control ctrl;

    ublksrv_ctrl_dev_info want{};
    want.nr_hw_queues = 1;
    want.queue_depth = static_cast<__u16>(profile.queue_depth);
    want.max_io_buf_bytes = profile.max_io_bytes;
    want.dev_id = static_cast<__u32>(opts.dev_id);
    want.flags = UBLK_F_CMD_IOCTL_ENCODE;
    const ublksrv_ctrl_dev_info info = ctrl.add(want);
    const unsigned id = info.dev_id;

    // From here on the device exists: every way out removes it.
    std::unique_ptr<Fd> cdev;
    std::unique_ptr<Queue> queue;
    std::thread queue_thread;
    std::exception_ptr queue_error;
    std::promise<void> fetched;
    QueueStats stats;
    // STOP_DEV deletes the disk once its requests are done and aborts the queue's fetches
    // (also those of a device never started), which ends the queue thread. DEL_DEV waits
    // until nobody holds /dev/ublkcN, so the queue's mapping and our descriptor of it go
    // first.
    auto teardown = [&]() -> bool {
        if (queue_thread.joinable()) {
            queue->hurry();
            try {
                ctrl.stop(id);
            } catch (const Error& e) {
                // The queue thread would wait for requests forever, and it uses what
                // returning from here destroys. The kernel stops and removes the device of
                // a server that is gone (ublk's abort on the daemon's exit).
                std::fprintf(stderr, "ssdsim: %s; exiting, the kernel removes the device\n",
                             e.what());
                std::_Exit(1);
            }
            queue_thread.join();
        }
        if (queue)
            stats = queue->stats();
        queue.reset();
        cdev.reset();
        try {
            ctrl.remove(id);
            return true;
        } catch (const Error& e) {
            std::fprintf(stderr, "ssdsim: %s\n", e.what());
            return false;
        }
    };

    try {
        ctrl.set_params(id, device_params(profile, info.max_io_buf_bytes));
        cdev = std::make_unique<Fd>(open_char_device(id));
        queue = std::make_unique<Queue>(cdev->fd, info.queue_depth, info.max_io_buf_bytes,
                                        model, store);
        auto fetched_future = fetched.get_future();
        queue_thread = std::thread([&] {
            bool told = false;
            try {
                queue->run([&] {
                    told = true;
                    fetched.set_value();
                });
            } catch (...) {
                queue_error = std::current_exception();
                if (!told)
                    fetched.set_exception(queue_error);
            }
            const std::uint64_t one = 1;
            (void)!::write(queue_done.fd, &one, sizeof(one));
        });
        fetched_future.get();
        ctrl.start(id, ::getpid());
    } catch (...) {
        teardown();
        throw;
    }

    std::printf("/dev/ublkb%u\n", id);
    std::fflush(stdout);

    const int sig = wait_for_stop(sigfd.fd, queue_done.fd);
    const bool removed = teardown();
    fmt::print(stderr, "ssdsim: /dev/ublkb{} {}{}; served {} reads, {} writes, {} other, "
               "{} errors; completed {:.0f} us later than modelled on average (at most {} us)\n",
               id, removed ? "removed" : "NOT removed",
               sig ? fmt::format(" on signal {}", sig) : std::string(), stats.reads,
               stats.writes, stats.other, stats.errors,
               stats.commits ? static_cast<double>(stats.late_ns_total) / stats.commits / 1e3 : 0.0,
               stats.late_ns_max / 1000);
    if (queue_error)
        std::rethrow_exception(queue_error);
    // Without a signal the queue ended by itself: someone else stopped the device.
    return sig && removed ? 0 : 1;
}

void remove_device(unsigned dev_id) {
    Control ctrl;
    ublksrv_ctrl_dev_info info{};
    try {
        info = ctrl.info(dev_id);
    } catch (const Error&) {
        throw Error(fmt::format("no ublk device {} (see /sys/class/ublk-char/)", dev_id));
    }
    // Only what a dead server left: deleting a served device would pull it out from under
    // its server and the server's openers alike.
    if (info.state == UBLK_S_DEV_LIVE && info.ublksrv_pid > 0 &&
        (kill(info.ublksrv_pid, 0) == 0 || errno == EPERM))
        throw Error(fmt::format("ublk device {} is served by process {}: stop that server "
                                "(ssdsim stop ublkb{}) instead of removing its device",
                                dev_id, info.ublksrv_pid, dev_id));
    try {
        ctrl.stop(dev_id);
    } catch (const Error&) {
        // A killed server's device is usually stopped already (ublk's abort path).
    }
    ctrl.remove(dev_id);
}

} // namespace ssdsim
