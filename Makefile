# Builds reuse a target directory outside the clone, so that CI's fresh
# clone does not rebuild the AWS SDK from scratch every time.
export CARGO_TARGET_DIR ?= /var/tmp/mooring-target
export MOORING_VENV ?= /var/tmp/mooring-venv
export MOORING_TEST_PYTHON ?= $(MOORING_VENV)/bin/python3

# The tests get AWS credentials the way the tools do on EC2: from the rig's
# instance metadata. Nothing from the caller's environment may leak in.
CLEAN_AWS_ENV = env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	-u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_ENDPOINT_URL \
	-u AWS_EC2_METADATA_SERVICE_ENDPOINT -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE

.PHONY: all build release deps lint test unit demo bench

all: build

build:
	cargo build

release:
	cargo build --release

deps:
	tests/setup/install-deps

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# Everything: install what the tests need, lint, run every test.
test: deps lint
	@if [ "$$(id -u)" != 0 ]; then echo "make test: the tests need root (loop devices, mounts, namespaces)" >&2; exit 1; fi
	$(CLEAN_AWS_ENV) cargo test --all-targets

# Only the tests that need neither root nor the rig.
unit:
	cargo test --lib

# The main job on the local stand-ins: ebs-grow grows a btrfs mount.
demo: deps build
	python3 scripts/demo.py

# Wall time, peak RSS and EC2 calls per run, as a table (bench/RESULTS.md).
bench: deps release
	python3 scripts/bench.py bench/RESULTS.md
