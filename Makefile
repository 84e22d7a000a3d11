# credbox: `make run` and `make test` work from a fresh clone; they install the wasm32-wasip2
# target when it is missing. Debug builds throughout, so the two share one wasmtime build.

SHELL := /bin/bash
CARGO ?= cargo
CREDBOX := target/debug/credbox
# Tests and lints cover the optional AWS SDK for Rust provider too (tests/aws_sdk.rs). With the
# feature on, `cargo test` still shares `cargo build`'s wasmtime build (checked with cargo's unit graph).
FEATURES := --features credbox/aws-sdk

.PHONY: run test build setup plugins clients lint fmt bench fuzz component clean install man static \
  check-platforms test-windows

setup:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

build: setup
	$(CARGO) build -p credbox

# Put credbox on the PATH: a release build in $(PREFIX)/bin (replaced atomically) and its man
# pages in $(PREFIX)/share/man/man1. `make install INSTALL_PROFILE=dev` installs the debug build
# that `make test` already made (CI does, to exercise this path without a second build).
PREFIX ?= $(HOME)/.local
INSTALL_PROFILE ?= release
INSTALL_FROM := target/$(if $(filter dev,$(INSTALL_PROFILE)),debug,$(INSTALL_PROFILE))/credbox
install: static
	install -d $(PREFIX)/bin
	install -m 755 $(INSTALL_FROM) $(PREFIX)/bin/.credbox.new
	mv -f $(PREFIX)/bin/.credbox.new $(PREFIX)/bin/credbox
	$(PREFIX)/bin/credbox man --out $(PREFIX)/share/man/man1
	@echo "installed $(PREFIX)/bin/credbox and its man pages; shell completions: credbox completions bash|zsh|fish|powershell|elvish"

# The binary `make install` installs and the benchmarks time, linked static-pie: still
# position-independent (ASLR), but no shared libraries to load, relocate and bind at every start,
# about a third of a cold start and a quarter of a warm one; and, with lld, the functions an export
# runs placed together at the start of the code (docs/PERFORMANCE.md). Only the binary's own link
# differs from `cargo build`'s (host/static-link.sh). (`cargo install` links dynamically; same
# behaviour, slower start.)
static: setup
	host/static-link.sh $(INSTALL_PROFILE)

# The man pages alone, from the debug build, into target/man.
man: build
	$(CREDBOX) man --out target/man

# Export the example profile: the helper runs through the sandboxed guest and prints credentials.
run: build
	PATH="$(CURDIR)/examples/bin:$$PATH" \
	AWS_CONFIG_FILE="$(CURDIR)/examples/aws-config" \
	AWS_SHARED_CREDENTIALS_FILE="$(CURDIR)/examples/no-credentials-file" \
	  $(CREDBOX) export --profile demo

# The example credential plugin and the purpose-built bad plugins and hostile guest that the tests
# load: separate wasm32-wasip2 workspaces sharing one target directory.
COMPONENTS_TARGET := $(CURDIR)/target/components
COMPONENT_CRATES := examples/plugin/Cargo.toml tests/components/Cargo.toml
# Their own workspaces too (apart so as not to change wasmtime's features): fuzz targets, benchmarks.
SIDE_CRATES := fuzz/Cargo.toml bench/Cargo.toml
plugins: setup
	CARGO_TARGET_DIR=$(COMPONENTS_TARGET) $(CARGO) build --release --target wasm32-wasip2 \
	  --manifest-path examples/plugin/Cargo.toml
	cp $(COMPONENTS_TARGET)/wasm32-wasip2/release/credbox_example_plugin.wasm examples/plugin/example-plugin.wasm
	CARGO_TARGET_DIR=$(COMPONENTS_TARGET) $(CARGO) build --release --target wasm32-wasip2 --examples \
	  --manifest-path tests/components/Cargo.toml

# The real SDK clients the endpoint tests use: botocore (PyPI) and, with Node, the JS SDK (npm).
clients:
	tests/clients/setup.sh

test: setup plugins clients
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "make test: running as root: the two-user tests (files and programs given to uid 65534, credbox run as it) run too"; \
	else \
	  echo "make test: not root: the two-user tests report SKIPPED (run as root to include them; CI fails on any skip)"; \
	fi
	$(CARGO) fmt --all -- --check
	for m in $(COMPONENT_CRATES) $(SIDE_CRATES); do $(CARGO) fmt --manifest-path $$m -- --check || exit 1; done
	$(CARGO) test --workspace $(FEATURES)

lint: setup
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	python3 .ci/architecture.py
	python3 .ci/doc-tests.py
	# The fuzz targets live in their own workspace: type-check them here, so that a move in the
	# guest breaks `make lint` rather than the fuzz smoke at the end of CI.
	$(CARGO) clippy --manifest-path fuzz/Cargo.toml --bins -- -D warnings

fmt:
	$(CARGO) fmt --all
	for m in $(COMPONENT_CRATES) $(SIDE_CRATES); do $(CARGO) fmt --manifest-path $$m; done

# Type-check the macOS (aarch64, x86_64) and Windows builds from this machine, guest precompiled
# for each target (platforms/check.sh says what stands in for Apple's SDK).
check-platforms: setup
	platforms/check.sh

# The Windows build under wine (Debian's), with Windows helper binaries: tests/windows.rs.
# Installs mingw-w64 and wine when missing; the wine prefix lives in target/wine.
test-windows: setup
	platforms/windows/test.sh

# Benchmarks (not part of `make test`): criterion for the in-process paths, then credbox side by
# side with the SDKs (peers installed from PyPI, npm and crates.io by bench/compare.sh).
bench: setup plugins
	mkdir -p target/bench-peers
	cc -O2 -o target/bench-peers/helper bench/helper.c
	CREDBOX_BENCH_HELPER="$(CURDIR)/target/bench-peers/helper" CARGO_TARGET_DIR="$(CURDIR)/target/bench" \
	  $(CARGO) bench --manifest-path bench/Cargo.toml
	bench/compare.sh
	bench/plugins.sh

# Fuzz the guest's parsers (cargo-fuzz on the nightly toolchain), FUZZ_SECONDS each, from seed
# corpora built from tests/fixtures/conformance. CI runs a 30-second smoke of each target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := profile_parser command_line output_validator cache_entry
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	fuzz/seed.sh target/fuzz-corpus
	for t in $(FUZZ_TARGETS); do \
	  $(CARGO) +nightly fuzz run $$t target/fuzz-corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    > target/fuzz-$$t.log 2>&1; status=$$?; \
	  grep -E "^(stat::number_of_executed_units|stat::new_units_added)" target/fuzz-$$t.log | sed "s/^/$$t: /"; \
	  if [ $$status -ne 0 ]; then \
	    grep -v "# Uses" target/fuzz-$$t.log | grep -E -A8 "panicked|ERROR|Failing input|^Error" | head -40 | sed "s/^/$$t: /"; \
	    echo "$$t: failed (whole log: target/fuzz-$$t.log)"; exit 1; \
	  fi; \
	done

# The policy component on its own, for other hosts (docs/EMBEDDING.md): the same build the
# credbox binary embeds, copied to target/component/ with the WIT file that describes it.
component: setup
	CARGO_TARGET_DIR=$(CURDIR)/target/guest-wasm $(CARGO) rustc -p credbox-guest --profile guest \
	  --target wasm32-wasip2 --crate-type cdylib
	mkdir -p target/component
	cp target/guest-wasm/wasm32-wasip2/guest/credbox_guest.wasm target/component/credbox.wasm
	cp wit/credbox.wit target/component/credbox.wit
	@echo "target/component/credbox.wasm: the credbox world of target/component/credbox.wit"

clean:
	$(CARGO) clean
