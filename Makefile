# ufq: programmable I/O scheduling for Linux.
#
#   make demo            boot the VM and run fio through ufq (start here)
#   make test            host unit tests + VM tests (also on a lockdep kernel),
#                        ending in "N passed, N failed"
#   make deps            install what the project needs (Debian 12, root)
#   make kernel          build (or fetch from cache) the patched VM kernel
#   make kernel-debug    the same kernel with lockdep and debug checks
#   make test-kasan      the load-bearing VM tests again on a KASAN kernel (slow)
#   make kernel-patches  export build/linux commits to kernel-patches/
#   make kernel-series-check  build every prefix of the series (about 1 min a
#                        patch with a warm ccache; SERIES_CHECK_ARGS=--quick)
#   make bench           compare all schedulers side by side (BENCH_ARGS=--quick ...)
#   make build           host build: BPF policies, loader, unit tests
#   make clean           remove host build output (keeps the kernel tree)
#
# UFQ_CACHE_DIR (default ~/.cache/ufq) holds built kernels and ccache.

SHELL := /bin/bash
REPO := $(CURDIR)
BUILD := $(REPO)/build
HOSTBUILD := $(BUILD)/host
KERNEL_LINK := $(BUILD)/kernel-default
DEBUG_KERNEL_LINK := $(BUILD)/kernel-debug
KASAN_KERNEL_LINK := $(BUILD)/kernel-kasan

.PHONY: all deps kernel kernel-debug kernel-kasan kernel-patches kernel-series-check build test \
	test-kasan demo bench \
	clean distclean

all: build

deps:
	@bash tools/deps.sh

kernel: deps
	@mkdir -p $(BUILD)
	@dir=$$(bash tools/kernel/build.sh default) && ln -sfn "$$dir" $(KERNEL_LINK)

kernel-debug: deps
	@mkdir -p $(BUILD)
	@dir=$$(bash tools/kernel/build.sh debug) && ln -sfn "$$dir" $(DEBUG_KERNEL_LINK)

kernel-kasan: deps
	@mkdir -p $(BUILD)
	@dir=$$(bash tools/kernel/build.sh kasan) && ln -sfn "$$dir" $(KASAN_KERNEL_LINK)

kernel-patches:
	@bash tools/kernel/export-patches.sh

# Not part of make test: it builds the kernel once per patch.
kernel-series-check:
	@bash tools/kernel/series-check.sh $(SERIES_CHECK_ARGS)

build: kernel
	@cmake -S $(REPO) -B $(HOSTBUILD) -DUFQ_VMLINUX_H=$(KERNEL_LINK)/vmlinux.h >/dev/null
	@cmake --build $(HOSTBUILD) -j$$(nproc) -- --no-print-directory

test: build
	@[ "$${UFQ_SKIP_LOCKDEP:-0}" = 1 ] || $(MAKE) --no-print-directory kernel-debug
	@bash tools/test.sh

# Not part of make test: under TCG, KASAN makes these tests 5-20 times slower.
test-kasan: build kernel-kasan
	@bash tools/test.sh --kasan

demo: build
	@bash tools/demo.sh

bench: build
	@bash tools/bench/run $(BENCH_ARGS)

clean:
	rm -rf $(HOSTBUILD) $(BUILD)/vm-out

distclean:
	rm -rf $(BUILD)

# make install [PREFIX=/usr] [DESTDIR=...]: ufqctl, the shipped policies (policies/*.bpf.c, not
# the test ones) under $(PREFIX)/lib/ufq/policies, the man page, the systemd template unit
# ufq@.service (see docs/ufqctl.8, section SYSTEMD) and the policy SDK (install-sdk).
PREFIX ?= /usr
SYSCONFDIR ?= /etc
BINDIR := $(PREFIX)/sbin
POLICYDIR := $(PREFIX)/lib/ufq/policies
UNITDIR := $(PREFIX)/lib/systemd/system
MANDIR := $(PREFIX)/share/man

.PHONY: install
install: build
	install -D -m 0755 $(HOSTBUILD)/bin/ufqctl $(DESTDIR)$(BINDIR)/ufqctl
	install -d $(DESTDIR)$(POLICYDIR)
	for src in policies/*.bpf.c; do \
		obj=$(HOSTBUILD)/policies/$$(basename $$src .c).o; \
		install -m 0644 $$obj $(DESTDIR)$(POLICYDIR)/ || exit 1; \
	done
	install -D -m 0644 docs/ufqctl.8 $(DESTDIR)$(MANDIR)/man8/ufqctl.8
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@POLICYDIR@|$(POLICYDIR)|g' \
		-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' loader/systemd/ufq@.service.in \
		>$(DESTDIR)$(UNITDIR)/ufq@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ufq@.service
	@$(MAKE) --no-print-directory install-sdk

# The policy SDK alone (headers, the ufq kernel's vmlinux.h, ufq.pc), from a finished make build;
# see docs/writing-a-policy.md.
.PHONY: install-sdk
install-sdk:
	@bash tools/sdk/install.sh "$(DESTDIR)" "$(PREFIX)" $(HOSTBUILD)/vmlinux/vmlinux.h
