// The ssdsim server: a ublk device whose requests complete when the model says.
#pragma once

#include "profile.hpp"

namespace ssdsim {

struct ServeOptions {
    int dev_id = -1; // ublk device number; -1: the driver picks one
};

// Adds and starts /dev/ublkbN, prints its path on stdout once it is usable, and serves it
// until SIGTERM, SIGINT or SIGHUP, then stops and removes the device. Returns the exit
// status; throws Error on a failure before the device is started.
int serve(const Profile& profile, const ServeOptions& opts);

// Removes a ublk device a killed server left behind.
void remove_device(unsigned dev_id);

} // namespace ssdsim
