// The ublk control device (/dev/ublk-control): adding, starting, stopping and deleting a ublk
// device. Each command is an IORING_OP_URING_CMD on a ring of 128-byte SQEs, which the driver
// requires for control commands, submitted and waited for one at a time.
#pragma once

#include <linux/ublk_cmd.h>
#include <sys/types.h>

#include <liburing.h>

namespace ssdsim {

class Control {
public:
    // Opens /dev/ublk-control; throws Error when it is missing (no ublk driver) or unusable.
    Control();
    ~Control();
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    // UBLK_U_CMD_ADD_DEV: the driver fills in dev_id (when -1) and may lower other fields.
    ublksrv_ctrl_dev_info add(ublksrv_ctrl_dev_info info);
    void set_params(unsigned dev_id, ublk_params params);
    // Returns once the disk is added, which needs every tag fetched by the queue's thread and
    // that thread serving the partition scan's reads meanwhile.
    void start(unsigned dev_id, pid_t server);
    // Deletes the disk (after its requests complete) and aborts the queue's fetches.
    void stop(unsigned dev_id);
    // Removes the device (its character device too); waits until nobody holds it open.
    void remove(unsigned dev_id);
    ublksrv_ctrl_dev_info info(unsigned dev_id);

private:
    // Returns the command's result (>= 0); throws Error naming `what` otherwise.
    int command(unsigned op, const char* what, unsigned dev_id, void* buf, unsigned len,
                unsigned long long data = 0);

    int fd_ = -1;
    io_uring ring_{};
};

} // namespace ssdsim
