#include "ublk_ctrl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "error.hpp"

namespace ssdsim {

namespace {
constexpr const char* kControlPath = "/dev/ublk-control";
}

Control::Control() {
    fd_ = ::open(kControlPath, O_RDWR | O_CLOEXEC);
    if (fd_ < 0) {
        const int err = errno;
        if (err == ENOENT)
            throw Error(fmt::format("no ublk control device {} (kernel without "
                                    "CONFIG_BLK_DEV_UBLK, or modprobe ublk_drv)",
                                    kControlPath));
        fail_errno(fmt::format("cannot open {}", kControlPath), err);
    }
    if (int ret = io_uring_queue_init(4, &ring_, IORING_SETUP_SQE128); ret < 0) {
        ::close(fd_);
        fail_errno("cannot set up the io_uring for ublk control commands", ret);
    }
}

Control::~Control() {
    io_uring_queue_exit(&ring_);
    ::close(fd_);
}

int Control::command(unsigned op, const char* what, unsigned dev_id, void* buf, unsigned len,
                     unsigned long long data) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    // One command at a time on a ring of four: a free entry is always there.
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd_, nullptr, 0, 0);
    sqe->cmd_op = op;
    ublksrv_ctrl_cmd cmd{};
    cmd.dev_id = dev_id;
    cmd.queue_id = static_cast<__u16>(-1); // not a queue's command
    cmd.addr = reinterpret_cast<__u64>(buf);
    cmd.len = static_cast<__u16>(len);
    cmd.data[0] = data;
    std::memcpy(sqe->cmd, &cmd, sizeof(cmd));

    int ret = io_uring_submit(&ring_);
    if (ret < 0)
        fail_errno(fmt::format("ublk {}: submitting the command", what), ret);
    io_uring_cqe* cqe = nullptr;
    // START_DEV waits for the disk to be added; a signal must not make us forget its result.
    do
        ret = io_uring_wait_cqe(&ring_, &cqe);
    while (ret == -EINTR);
    if (ret < 0)
        fail_errno(fmt::format("ublk {}: waiting for the command", what), ret);
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (res < 0)
        fail_errno(fmt::format("ublk {} of device {}", what, static_cast<int>(dev_id)), res);
    return res;
}

ublksrv_ctrl_dev_info Control::add(ublksrv_ctrl_dev_info info) {
    command(UBLK_U_CMD_ADD_DEV, "ADD_DEV", info.dev_id, &info, sizeof(info));
    return info;
}

void Control::set_params(unsigned dev_id, ublk_params params) {
    params.len = sizeof(params);
    command(UBLK_U_CMD_SET_PARAMS, "SET_PARAMS", dev_id, &params, sizeof(params));
}

void Control::start(unsigned dev_id, pid_t server) {
    command(UBLK_U_CMD_START_DEV, "START_DEV", dev_id, nullptr, 0,
            static_cast<unsigned long long>(server));
}

void Control::stop(unsigned dev_id) { command(UBLK_U_CMD_STOP_DEV, "STOP_DEV", dev_id, nullptr, 0); }

// DEL_DEV_ASYNC, not DEL_DEV: DEL_DEV waits, with our stop signals blocked, until nobody
// holds /dev/ublkcN; the asynchronous one returns at once and the driver frees the device
// when the last holder lets go.
void Control::remove(unsigned dev_id) {
    command(UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC", dev_id, nullptr, 0);
}

ublksrv_ctrl_dev_info Control::info(unsigned dev_id) {
    ublksrv_ctrl_dev_info info{};
    command(UBLK_U_CMD_GET_DEV_INFO, "GET_DEV_INFO", dev_id, &info, sizeof(info));
    return info;
}

} // namespace ssdsim
