#include "store.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "error.hpp"

namespace ssdsim {

Store::Store(std::uint64_t bytes) : size_(bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        fail_errno(fmt::format("cannot map {} MiB for the device's data", bytes >> 20), errno);
    data_ = static_cast<unsigned char*>(p);
}

Store::~Store() { ::munmap(data_, size_); }

void Store::read(std::uint64_t offset, void* to, std::size_t len) const {
    std::memcpy(to, data_ + offset, len);
}

void Store::write(std::uint64_t offset, const void* from, std::size_t len) {
    std::memcpy(data_ + offset, from, len);
}

} // namespace ssdsim
