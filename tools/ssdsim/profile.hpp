// ssdsim profiles: the parameters of a modelled SSD, as read from a JSON file.
//
// A profile states the device it imitates in that device's own units (microseconds, MB/s) and
// a time scale: every time of the model is multiplied by it, every rate divided by it, so
// that a device slowed down N times stays the bottleneck of a VM without KVM. Sizes (pages,
// the write buffer, capacity) are not scaled.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace ssdsim {

// A profile that cannot be used; what() is one line naming the file and the field.
class ProfileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Profile {
    std::string name;        // file name without .json
    std::string description; // one line, for humans
    double time_scale = 1;   // modelled times = real times x time_scale

    std::uint64_t capacity_bytes = 0;
    unsigned queue_depth = 0;       // ublk tags (requests in flight)
    std::uint32_t max_io_bytes = 0; // largest request the device accepts

    unsigned dies = 0;             // independent dies; page p is on die p % dies
    std::uint32_t page_bytes = 0;  // mapping and program unit
    double read_us = 0;            // array read time of one page (tR)
    double program_us = 0;         // program time of one page (tPROG), before the GC factor
    double command_us = 0;         // controller time added to every request
    double transfer_mb_s = 0;      // a die channel, and the buffer port (MB = 10^6 bytes)
    std::uint64_t buffer_bytes = 0; // write-back buffer
    double drain_mb_s = 0;         // rate the buffer drains to the dies, before the GC factor

    double gc_window_mib = 0;  // recent write volume at which the GC factor peaks
    double gc_recover_mb_s = 0; // how fast that volume is forgotten
    double gc_max_factor = 1;  // program time and drain interval multiplier at the peak

    double noise = 0;          // each die operation takes its time x (1 + noise * U(-1, 1))
    std::uint64_t seed = 1;    // of the noise
};

// Reads and checks a profile; throws ProfileError.
Profile load_profile(const std::filesystem::path& file);

// Parses and checks a profile from JSON text (`name` is used in messages); throws ProfileError.
Profile parse_profile(const std::string& text, const std::string& name);

// Checks the ranges and the consistency of a profile (also after changing its time scale);
// throws ProfileError.
void validate(const Profile& p);

} // namespace ssdsim
