// The device's data, in anonymous memory so that fio can verify what it wrote. The mapping
// is lazy (MAP_NORESERVE): blocks never written read as zeros and cost nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ssdsim {

class Store {
public:
    explicit Store(std::uint64_t bytes);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    std::uint64_t size() const { return size_; }
    // False when [offset, offset + len) is not inside the device.
    bool contains(std::uint64_t offset, std::uint64_t len) const {
        return offset <= size_ && len <= size_ - offset;
    }
    void read(std::uint64_t offset, void* to, std::size_t len) const;
    void write(std::uint64_t offset, const void* from, std::size_t len);

private:
    std::uint64_t size_;
    unsigned char* data_;
};

} // namespace ssdsim
