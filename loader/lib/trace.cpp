#include "ufq/trace.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/pinned_map.hpp"
#include "ufq/require.hpp"
#include "ufq/state.hpp"
#include "ufq/status.hpp"
#include "ufq/trace.h"

namespace fs = std::filesystem;

namespace ufq {
namespace {

// Owns the recording switch in ufq_trace_ctl: on while this lives, off afterwards. The switch
// is read and written under the policy's lock, so two recorders cannot both find it off and
// both switch it on.
class Recording {
public:
    Recording(const PinnedMap& ctl, std::uint32_t kdev, const Paths& paths,
              const std::string& policy)
        : ctl_(ctl), paths_(paths), policy_(policy) {
        if (ctl.info().value_size != sizeof(ufq_trace_ctl))
            throw Error("map ufq_trace_ctl is not the SDK's trace switch (rebuild the policy "
                        "against this ufqctl's SDK)");
        const LockFile lock = lock_policy(paths_, policy_);
        ufq_trace_ctl c = get();
        // A recorder that died leaves the switch on: take over then.
        if (c.on && c.pid && static_cast<pid_t>(c.pid) != getpid() &&
            (kill(static_cast<pid_t>(c.pid), 0) == 0 || errno == EPERM))
            throw Error(fmt::format("a trace is already being recorded from policy {} by "
                                    "process {}; one recording at a time",
                                    policy_, c.pid));
        c = ufq_trace_ctl{};
        c.dev = kdev;
        c.on = 1;
        c.pid = static_cast<std::uint32_t>(getpid());
        set(c);
    }
    ~Recording() {
        try {
            stop();
        } catch (const Error&) { // nothing better to do in a destructor
        }
    }
    Recording(const Recording&) = delete;
    Recording& operator=(const Recording&) = delete;

    // Switches recording off; returns how many events the kernel dropped.
    std::uint64_t stop() {
        if (stopped_)
            return dropped_;
        const LockFile lock = lock_policy(paths_, policy_);
        ufq_trace_ctl c = get();
        dropped_ = c.dropped;
        stopped_ = true;
        if (c.pid == static_cast<std::uint32_t>(getpid())) // still ours
            set(ufq_trace_ctl{});
        return dropped_;
    }

private:
    ufq_trace_ctl get() const {
        const auto bytes = ctl_.lookup(0);
        ufq_trace_ctl c{};
        std::memcpy(&c, bytes.data(), sizeof(c));
        return c;
    }
    void set(const ufq_trace_ctl& c) {
        std::vector<std::uint8_t> bytes(sizeof(c));
        std::memcpy(bytes.data(), &c, sizeof(c));
        ctl_.update(0, bytes);
    }
    const PinnedMap& ctl_;
    const Paths& paths_;
    std::string policy_;
    bool stopped_ = false;
    std::uint64_t dropped_ = 0;
};

struct Sink {
    std::FILE* file = nullptr;
    std::uint64_t events = 0;
    bool write_failed = false;
};

int on_event(void* ctx, void* data, size_t size) {
    auto* sink = static_cast<Sink*>(ctx);
    if (size < sizeof(ufq_trace_event))
        return 0;
    ufq_trace_event ev;
    std::memcpy(&ev, data, sizeof(ev));
    const std::string line = trace_csv_line(ev);
    if (std::fwrite(line.data(), 1, line.size(), sink->file) != line.size()) {
        sink->write_failed = true;
        return -EIO;
    }
    ++sink->events;
    return 0;
}

struct RingBufferCloser {
    void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

} // namespace

std::string trace_csv_header() {
    return "complete_ns,dev,sector,bytes,write,flags,ioprio,cgroup_id,nr_waiting,alloc_ns,"
           "insert_ns,wait_ns,service_ns,latency_ns\n";
}

std::string trace_csv_line(const ufq_trace_event& ev) {
    // Insertion to completion as the SDK's histogram measures it (see ufq_sdk_completed()).
    std::uint64_t latency = ev.wait_ns + ev.service_ns;
    if (ev.insert_ns && ev.insert_ns < ev.complete_ns)
        latency = std::max(latency, ev.complete_ns - ev.insert_ns);
    return fmt::format("{},{}:{},{},{},{},{:#x},{},{},{},{},{},{},{},{}\n", ev.complete_ns,
                       ev.dev >> 20, ev.dev & 0xfffff, ev.sector, ev.bytes, ev.flags & 1,
                       ev.flags, ev.ioprio, ev.cgroup_id, ev.nr_waiting, ev.alloc_ns,
                       ev.insert_ns, ev.wait_ns, ev.service_ns, latency);
}

TraceResult record_trace(const BlockDevice& dev, double seconds, const fs::path& out,
                         const std::atomic<bool>& stop, const Paths& paths) {
    require_root();
    if (!(seconds > 0))
        throw Error("the trace duration must be more than 0 seconds");
    const DeviceStatus st = read_device_status(dev, paths.sys);
    if (!st.on_ufq || st.policy == "none")
        throw Error(fmt::format("{} is not served by a ufq policy (ufqctl status {}); nothing "
                                "to trace",
                                dev.name, dev.name));
    TraceResult result{st.policy, 0, 0};
    const std::string purpose = "it does not record completions (call ufq_sdk_completed() "
                                "from its completed callback, see bpf/ufq_stats.bpf.h)";
    const PinnedMap ctl(policy_map_pin(paths, st.policy, "ufq_trace_ctl", purpose));
    const PinnedMap ring(policy_map_pin(paths, st.policy, "ufq_trace", purpose));

    Sink sink;
    // A new file under a unique name beside `out` (never one an attacker placed there, since
    // this runs as root), renamed to `out` when complete.
    std::string tmp_name = out.string() + ".XXXXXX";
    const int fd = ::mkstemp(tmp_name.data());
    if (fd < 0)
        throw Error(fmt::format("cannot write {}: {}", out.string(), errno_text(errno)));
    const fs::path tmp = tmp_name;
    const mode_t mask = ::umask(0);
    ::umask(mask);
    (void)::fchmod(fd, 0666 & ~mask); // what fopen would have created
    sink.file = ::fdopen(fd, "w");
    if (!sink.file) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Error(fmt::format("cannot write {}: {}", out.string(), errno_text(err)));
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(sink.file, std::fclose);
    auto discard = [&] {
        std::error_code ec;
        fs::remove(tmp, ec);
    };
    try {
        std::unique_ptr<ring_buffer, RingBufferCloser> rb(
            ring_buffer__new(ring.fd(), on_event, &sink, nullptr));
        if (!rb)
            throw Error(fmt::format("cannot read the ring buffer of policy {}: {}", st.policy,
                                    errno_text(errno)));
        const std::string header = trace_csv_header();
        if (std::fwrite(header.data(), 1, header.size(), sink.file) != header.size())
            sink.write_failed = true;

        Recording recording(ctl, kernel_dev(dev), paths, st.policy);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration<double>(seconds);
        while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
            const int rc = ring_buffer__poll(rb.get(), 100);
            if (rc < 0 && rc != -EINTR)
                throw Error(fmt::format("reading the trace ring buffer failed: {}",
                                        sink.write_failed ? "cannot write " + tmp.string()
                                                          : errno_text(-rc)));
        }
        result.dropped = recording.stop();
        ring_buffer__consume(rb.get()); // what arrived before the switch went off
        if (sink.write_failed || std::fflush(sink.file) != 0)
            throw Error(fmt::format("cannot write {}: {}", tmp.string(), errno_text(errno)));
    } catch (...) {
        file.reset();
        discard();
        throw;
    }
    if (std::fclose(file.release()) != 0) {
        discard();
        throw Error(fmt::format("cannot write {}: {}", tmp.string(), errno_text(errno)));
    }
    if (::rename(tmp.c_str(), out.c_str()) != 0) {
        const int err = errno;
        discard();
        throw Error(fmt::format("cannot write {}: {}", out.string(), errno_text(err)));
    }
    result.events = sink.events;
    return result;
}

} // namespace ufq
