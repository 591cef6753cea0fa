#include "ufq/require.hpp"

#include <bpf/btf.h>
#include <unistd.h>

#include "ufq/error.hpp"

namespace ufq {

void require_root() {
    if (::geteuid() != 0)
        throw Error("ufqctl needs root to manage policies, maps and elevators (try sudo)");
}

void require_ufq_kernel() {
    btf* vmlinux = btf__load_vmlinux_btf();
    if (!vmlinux)
        throw Error("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): the running kernel "
                    "needs CONFIG_DEBUG_INFO_BTF and the ufq patches");
    const bool found = btf__find_by_name_kind(vmlinux, "ufq_ops", BTF_KIND_STRUCT) >= 0;
    btf__free(vmlinux);
    if (!found)
        throw Error("the running kernel has no ufq scheduler (no struct ufq_ops in its BTF); boot "
                    "a kernel built with the ufq patches and CONFIG_IOSCHED_UFQ=y");
}

} // namespace ufq
