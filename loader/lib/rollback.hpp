#pragma once

#include <exception>
#include <functional>
#include <vector>

namespace ufq {

// Undo actions run in reverse unless dismissed: what makes every failure leave nothing behind.
class Rollback {
public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
            try {
                (*it)();
            } catch (const std::exception&) { // best effort: the original error matters more
            }
        }
    }
    void add(std::function<void()> fn) { undo_.push_back(std::move(fn)); }
    void dismiss() { undo_.clear(); }

private:
    std::vector<std::function<void()>> undo_;
};

} // namespace ufq
