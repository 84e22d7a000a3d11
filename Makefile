# credbox: `make run` and `make test` work from a fresh clone; they install the wasm32-wasip2
# target when it is missing. Debug builds throughout, so the two share one wasmtime build.

CARGO ?= cargo
CREDBOX := target/debug/credbox

.PHONY: run test build setup lint fmt bench component clean

setup:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

build: setup
	$(CARGO) build -p credbox

# Export the example profile: the helper runs through the sandboxed guest and prints credentials.
run: build
	PATH="$(CURDIR)/examples/bin:$$PATH" \
	AWS_CONFIG_FILE="$(CURDIR)/examples/aws-config" \
	AWS_SHARED_CREDENTIALS_FILE="$(CURDIR)/examples/no-credentials-file" \
	  $(CREDBOX) export --profile demo

test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) test --workspace

lint: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Benchmarks (not part of `make test`): criterion for the in-process paths, then credbox side by
# side with the SDKs (peers installed from PyPI, npm and crates.io by bench/compare.sh).
bench: setup
	mkdir -p target/bench-peers
	cc -O2 -o target/bench-peers/helper bench/helper.c
	CREDBOX_BENCH_HELPER="$(CURDIR)/target/bench-peers/helper" CARGO_TARGET_DIR="$(CURDIR)/target/bench" \
	  $(CARGO) bench --manifest-path bench/Cargo.toml
	bench/compare.sh

clean:
	$(CARGO) clean
