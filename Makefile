# Vigil build. `make run` and `make test` do all set-up on a fresh Debian machine.
SHELL := /bin/bash
SWIFT ?= swift
CLANG ?= $(shell dirname $$(command -v swift))/clang
BUILD_DIR := build
BPF_OBJ := $(BUILD_DIR)/bpf/vigil.bpf.o

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev \
	bpftool pkg-config rsyslog openssl python3-venv

.PHONY: all deps build bpf run test bench clean

all: build

# Installs missing Debian packages (only when something is missing).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "error: missing Debian packages:$$missing (run as root or install them)" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

bpf: deps

build: deps bpf
	$(SWIFT) build -c release

run: build
	./.build/release/vigil run -r rules/

test: deps bpf
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: build

clean:
	rm -rf $(BUILD_DIR) .build
