#include "ufq/require.hpp"

#include <bpf/btf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "errno_text.hpp"
#include "ufq/error.hpp"

namespace ufq {

void require_root() {
    if (::geteuid() != 0)
        throw Error("ufqctl needs root to manage policies, maps and elevators (try sudo)");
}

void require_ufq_kernel(const std::filesystem::path& vmlinux_btf) {
    btf* vmlinux = btf__parse_raw(vmlinux_btf.c_str());
    if (!vmlinux)
        throw Error(fmt::format("cannot read the kernel's BTF ({}: {}): the running kernel "
                                "needs CONFIG_DEBUG_INFO_BTF and the ufq patches",
                                vmlinux_btf.string(), errno_text(errno)));
    const bool found = btf__find_by_name_kind(vmlinux, "ufq_ops", BTF_KIND_STRUCT) >= 0;
    btf__free(vmlinux);
    if (!found)
        throw Error("the running kernel has no ufq scheduler (no struct ufq_ops in its BTF); boot "
                    "a kernel built with the ufq patches and CONFIG_IOSCHED_UFQ=y");
}

} // namespace ufq
