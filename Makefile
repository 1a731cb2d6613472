# Vigil build. `make run` and `make test` do all set-up on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
CLANG ?= $(shell dirname $$(command -v swift))/clang
BUILD_DIR := build
BPF_OBJ := $(BUILD_DIR)/bpf/vigil.bpf.o

# Debian packages the build, the tests and the benchmarks need (the live detection and
# noise tests run gcc, make, git, logrotate, debugfs, mke2fs, ssh and losetup for real).
DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev \
	bpftool pkg-config rsyslog openssl python3-venv \
	gcc libc6-dev make git logrotate e2fsprogs openssh-client util-linux iproute2

.PHONY: all deps build bpf run test bench clean bench-deps bench-capture bench-enrich bench-rules bench-alerts bench-enforce bench-hostile bench-noise bench-kernel bench-filter bench-exec-rss test-kernels kernel-matrix-deps

all: build

# Installs missing Debian packages (only when something is missing).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "error: missing Debian packages:$$missing (run as root or install them)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Kernel architecture for the BPF target (bpf_tracing.h register layout).
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
BPF_CFLAGS := -target bpf -O2 -g -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Wno-unused-function -Wno-default-const-init-var-unsafe \
	-I$(BUILD_DIR) -ISources/VigilABI/include -I/usr/include/$(shell uname -m)-linux-gnu

# vmlinux.h: the running kernel's types, for CO-RE (BTF from /sys/kernel/btf/vmlinux).
$(BUILD_DIR)/vmlinux.h:
	@mkdir -p $(BUILD_DIR)
	@test -r /sys/kernel/btf/vmlinux || { echo "error: /sys/kernel/btf/vmlinux missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is required)" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OBJ): bpf/vigil.bpf.c $(wildcard bpf/*.bpf.h) Sources/VigilABI/include/vigil_abi.h $(BUILD_DIR)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c bpf/vigil.bpf.c -o $@

# A program the verifier rejects (the load-failure test of Tests/VigilCaptureTests).
$(BUILD_DIR)/bpf/reject.bpf.o: Tests/Fixtures/bpf/reject.bpf.c $(BUILD_DIR)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Small static programs the kernel tests run: an ia32 open (int 0x80, non-PIE so the path is
# below 4 GiB), an io_uring open, an open_by_handle_at read, and failed openat/openat2 calls.
TEST_PROGS := $(BUILD_DIR)/progs/km_ia32 $(BUILD_DIR)/progs/km_uring $(BUILD_DIR)/progs/open_by_handle $(BUILD_DIR)/progs/failed_opens
$(BUILD_DIR)/progs/km_%: Tests/KernelMatrix/progs/km_%.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -static -no-pie -o $@ $<
$(BUILD_DIR)/progs/open_by_handle: Tests/Fixtures/progs/open_by_handle.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -static -o $@ $<
$(BUILD_DIR)/progs/failed_opens: Tests/Fixtures/progs/failed_opens.c
	@mkdir -p $(dir $@)
	gcc -O2 -Wall -static -o $@ $<

bpf: deps $(BPF_OBJ) $(BUILD_DIR)/bpf/reject.bpf.o $(TEST_PROGS)

build: deps bpf
	$(SWIFT) build -c release

run: build
	./.build/release/vigil run -c rules/vigil.yaml -r rules/

test: deps bpf deploy-tools
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Kernel matrix (Tests/KernelMatrix/README.md): boots the newest Debian cloud kernels of 5.10,
# 6.1 and 6.12 under QEMU (TCG) with vigil, its libraries, the BPF object and the rules in an
# initramfs, and runs the capture and rule checks inside; the host's kernel is checked natively
# when no image of it can be booted. One line per kernel and check, then "N passed, N failed".
# Kernels are downloaded once into build/kernels (private apt state; /boot and the system's
# sources are not touched).
#   make test-kernels KERNELS="6.1 host" CHECKS="load exec" SKIP="5.10:ia32 *:uring"
KERNELS ?= 5.10 6.1 6.12 host
CHECKS ?= load exec open connect fork fork-ids ia32 uring rule ia32-rule uring-rule
SKIP ?=
KERNEL_MATRIX_PACKAGES := qemu-system-x86 busybox-static cpio gcc libc6-dev

kernel-matrix-deps:
	@missing=""; for p in $(KERNEL_MATRIX_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "error: missing Debian packages:$$missing (run as root or install them)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test-kernels: deps bpf kernel-matrix-deps
	$(SWIFT) build --product vigil
	Tests/KernelMatrix/selftest.sh
	KERNELS="$(KERNELS)" CHECKS="$(CHECKS)" SKIP="$(SKIP)" VIGIL_BIN="$$($(SWIFT) build --show-bin-path)/vigil" \
		BPF_OBJ=$(BPF_OBJ) RULES_DIR=rules Tests/KernelMatrix/run.sh

# Capture benchmarks: open storm, exec storm (vs bare, bpftrace, opensnoop, execsnoop), decode loop.
BENCH_PACKAGES := bpftrace libbpf-tools
BENCH_CC ?= cc

bench-deps:
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "error: missing Debian packages:$$missing (run as root or install them)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD_DIR)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(BENCH_CC) -O2 -Wall -o $@ $<

bench-capture: build bench-deps $(BUILD_DIR)/bench/open_storm $(BUILD_DIR)/bench/exec_storm
	python3 bench/capture_bench.py

# Kernel cost (bench/README.md): per-program BPF time (bpf_stats), the getppid storm against
# an empty tp_btf/sys_exit program (the floor), the open and exec storms against bare,
# bpftrace, opensnoop and execsnoop, the agent's peak RSS; interleaved rounds, medians.
#   make bench-kernel BENCH_ROUNDS=1 BENCH_OPENS=200000 BENCH_PARTS=getppid,open
$(BUILD_DIR)/bench/floor.bpf.o: bench/floor.bpf.c $(BUILD_DIR)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD_DIR)/bench/floor_loader: bench/floor_loader.c
	@mkdir -p $(dir $@)
	$(BENCH_CC) -O2 -Wall -o $@ $< -lbpf

KERNEL_BENCH_TOOLS := $(addprefix $(BUILD_DIR)/bench/,getppid_storm open_storm exec_storm floor.bpf.o floor_loader)
bench-kernel: build bench-deps $(KERNEL_BENCH_TOOLS)
	python3 bench/kernel_cost.py

# What the in-kernel filter of failed calls saves: the failed-open storm under a rule that needs
# failed opens, a success-only rule, the default rules and drop_failed_exit (bench/failed_filter.py).
#   make bench-filter BENCH_OPENS=300000
bench-filter: build $(KERNEL_BENCH_TOOLS)
	VIGIL_BIN=$(CURDIR)/.build/release/vigil python3 bench/failed_filter.py

# The agent's peak RSS, CPU per exec and kept exited processes under a short and a sustained
# exec storm (bench/exec_rss.py; EXEC_RSS_BINS compares builds).
bench-exec-rss: build $(BUILD_DIR)/bench/exec_storm
	python3 bench/exec_rss.py

# Container lookup cost on the decoding thread (enricher and front cache vs a bare Dictionary).
bench-enrich: deps
	$(SWIFT) build -c release --product vigil-bench-enrich
	./.build/release/vigil-bench-enrich 100
	./.build/release/vigil-bench-enrich 1000

# Alert path: JSON formatting, dispatcher submit, file sink, folding (each against a baseline).
bench-alerts: deps
	$(SWIFT) build -c release --product vigil-bench-alerts
	./.build/release/vigil-bench-alerts

# Rule evaluation throughput on one core (stable Falco rules + rules/).
bench-rules: build
	bench/rules/run.sh

# Alerts raised by everyday work (compilers, make, git, tar, pip, apt-get, a web server,
# logrotate, cron-style jobs, container entrypoints) under the default rules, by workload,
# rule and priority. Needs root (BPF).
bench-noise: build
	python3 Tests/Live/noise.py --vigil .build/release/vigil --repo . --report

# libFuzzer targets (fuzz/): rule YAML, condition grammar, configuration, capture files.
# FUZZ_SECONDS per target (default 60); corpus in fuzz/corpus; crashes in build/fuzz/crashes.
.PHONY: fuzz fuzz-build
fuzz-build: deps
	fuzz/build.sh

fuzz: fuzz-build
	fuzz/run.sh

# Hostile rules and configuration files (issue 11): each fails (or loads) within a time bound.
bench-hostile: build
	python3 bench/hostile/hostile_bench.py --vigil ./.build/release/vigil

# Enforcement (issue 13): exec storm with an in-kernel enforcing rule matching nothing vs
# enforcement off; user-space kill latency p50/p99 under ~100k events/s of background load.
bench-enforce: build $(BUILD_DIR)/bench/exec_storm $(BUILD_DIR)/bench/load_storm
	$(SWIFT) build -c release --product vigil
	VIGIL=./.build/release/vigil python3 bench/enforce/enforce_bench.py

bench: build bench-kernel bench-capture bench-enrich bench-rules bench-alerts bench-hostile bench-enforce

clean:
	rm -rf $(BUILD_DIR) .build

# Python tools for Tests/DeployTests (Kubernetes schema validation and checkov), in build/venv.
# A failed install does not stop `make test`: the deploy tests then fail under VIGIL_CI=1 and skip otherwise.
DEPLOY_VENV := $(BUILD_DIR)/venv
DEPLOY_PY_TOOLS := kubernetes-validate==1.37.0 checkov==3.3.30 jsonschema PyYAML

.PHONY: deploy-tools deploy-sync
deploy-tools:
	@if [ "$$(cat $(DEPLOY_VENV)/.tools 2>/dev/null)" != "$(DEPLOY_PY_TOOLS)" ]; then \
		echo "installing $(DEPLOY_PY_TOOLS) into $(DEPLOY_VENV)"; \
		if python3 -m venv $(DEPLOY_VENV) && $(DEPLOY_VENV)/bin/pip install -q --disable-pip-version-check $(DEPLOY_PY_TOOLS); then \
			echo "$(DEPLOY_PY_TOOLS)" > $(DEPLOY_VENV)/.tools; \
		else echo "warning: could not install $(DEPLOY_PY_TOOLS); the deploy tests will skip (or fail under VIGIL_CI=1)" >&2; fi; \
	fi

# Regenerates the ConfigMap (deploy/kubernetes and the Helm chart) from rules/*.yaml.
deploy-sync:
	python3 deploy/tools/sync-config.py

# Container image and container-runtime tests (deploy/Containerfile, Tests/ContainerTests).
# Everything comes from Debian's registry: podman/buildah/containerd/runc to build and run, mmdebstrap
# for the base root filesystem (cached in build/image/; `rm build/image/*.tar` rebuilds it).
IMAGE ?= localhost/vigil:dev
BASE_IMAGE ?= localhost/vigil-base:bookworm
WORKLOAD_IMAGE ?= localhost/vigil-test/workload:v1
IMAGE_DIR := $(BUILD_DIR)/image
CONTAINER_PACKAGES := podman buildah containerd runc mmdebstrap

.PHONY: container-deps image test-containers
container-deps:
	@missing=""; for p in $(CONTAINER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "error: missing Debian packages:$$missing (run as root or install them)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(IMAGE_DIR)/%-rootfs.tar: deploy/image/rootfs.sh
	deploy/image/rootfs.sh $* $@

# Imports a root filesystem tarball as an image unless that image already holds this tarball
# (the stamp records the tarball's checksum and the image id it became).
define import_rootfs
	@sum=$$(sha256sum $(1) | cut -c1-64); \
	if ! podman image exists $(2) || [ "$$(cat $(1).imported 2>/dev/null)" != "$$sum $$(podman image inspect --format '{{.Id}}' $(2))" ]; then \
		podman import --quiet $(3) $(1) $(2) >/dev/null && echo "imported $(1) as $(2)" && \
		echo "$$sum $$(podman image inspect --format '{{.Id}}' $(2))" > $(1).imported; \
	fi
endef

image: container-deps bpf $(IMAGE_DIR)/base-rootfs.tar
	$(SWIFT) build -c release --static-swift-stdlib --product vigil
	strip -o $(IMAGE_DIR)/vigil .build/release/vigil
	cp $(BPF_OBJ) $(IMAGE_DIR)/vigil.bpf.o
	$(call import_rootfs,$(IMAGE_DIR)/base-rootfs.tar,$(BASE_IMAGE),)
	buildah build --quiet --pull=never -f deploy/Containerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) . >/dev/null
	@podman image inspect --format '{{.Id}}' $(IMAGE) | cut -c1-12 | xargs -I{} echo "built $(IMAGE) ({})"; \
	podman image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "image size: %.1f MB\n", $$1/1e6}'

# Runs Vigil's image under containerd (ctr, k8s.io namespace) and podman with the DaemonSet's
# privileges, and checks alerts for real containers of both runtimes (Tests/ContainerTests).
test-containers: image $(IMAGE_DIR)/workload-rootfs.tar
	$(call import_rootfs,$(IMAGE_DIR)/workload-rootfs.tar,$(WORKLOAD_IMAGE),--change 'CMD ["/bin/sh"]')
	$(SWIFT) build --build-tests
	VIGIL_CONTAINER_TESTS=1 VIGIL_IMAGE=$(IMAGE) VIGIL_WORKLOAD_IMAGE=$(WORKLOAD_IMAGE) $(SWIFT) test --skip-build --filter ContainerTests
