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

.PHONY: all build release deps lint check msrv deny test suite unit demo bench fleet fleet-small vmtest vm-scenarios package install install-tree

PREFIX ?= /usr
DESTDIR ?=

all: build

build:
	cargo build

release:
	cargo build --release

deps:
	tests/setup/install-deps

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The fast tier, for the edit loop and first in CI: formatting, clippy,
# the unit and table tests (no root, no rig) and the MSRV check.
check: lint msrv
	cargo test --lib

# The declared rust-version against the locked tree (scripts/msrv.py says
# what it can and cannot prove with one toolchain).
msrv:
	python3 scripts/msrv.py

# Licences, bans and sources of the dependency tree (deny.toml); errors
# only (`cargo deny check bans` lists the crates built in two versions). The
# RustSec advisories need their database from its git repository, which
# the build machines cannot reach: `cargo deny check advisories` where it can.
deny:
	cargo deny --log-level error check licenses bans sources
	@echo "make deny: advisories not checked here (no RustSec database on this machine)" >&2

# Everything: install what the tests need, the fast tier, the dependency
# checks, the packages (the install tests use them), the rig suite, a
# small fleet and the VM tier.
test: deps check deny package suite fleet-small vm-scenarios

# The integration suite against the rig (one test binary; root).
suite:
	@if [ "$$(id -u)" != 0 ]; then echo "make suite: the tests need root (loop devices, mounts, namespaces)" >&2; exit 1; fi
	$(CLEAN_AWS_ENV) cargo test --test suite

# make fleet's scenarios with 40 instances, on the packages' program: the
# invariants and the calls against the minimum must hold (times are only
# reported: bench/FLEET.md measures them).
fleet-small:
	$(CLEAN_AWS_ENV) FLEET_N=40 FLEET_CHART=0 $${MOORING_VENV:-/var/tmp/mooring-venv}/bin/python3 \
		scripts/fleet.py $(CARGO_TARGET_DIR)/fleet-small.md

# The VM tier: the .deb in a booted Debian guest (systemd as PID 1, udev,
# NVMe disks hot-plugged by the rig). The guest image is built once and
# cached in /var/tmp/mooring-vm (MOORING_VM_CACHE). VMTEST="name ..."
# picks scenarios. make test runs them all (vm-scenarios: no rebuild).
vmtest: deps package vm-scenarios

vm-scenarios:
	$(CLEAN_AWS_ENV) $(MOORING_TEST_PYTHON) scripts/vmtest.py $(VMTEST)

# Only the tests that need neither root nor the rig.
unit:
	cargo test --lib

# The five tools on the local stand-ins (TOOL=ebs-grow|etcd|smilodon|px|ecs
# picks one). It installs only what it needs (not the VM tier's qemu, nor
# the packagers).
TOOL ?=
demo:
	tests/setup/install-deps --demo
	cargo build --bins
	python3 scripts/demo.py $(TOOL)

# Wall time, peak RSS, EC2 calls and IMDS requests per run of the shipped
# program, as a table (bench/RESULTS.md).
bench: deps
	cargo build --release --bin mooring
	python3 scripts/bench.py bench/RESULTS.md

# A whole Auto Scaling group at once against EC2's throttling (FLEET_N
# instances, 100 by default, 300 possible): bench/FLEET.md and the chart
# bench/FLEET.png.
fleet: deps
	cargo build --release --bin mooring
	$(CLEAN_AWS_ENV) $${MOORING_VENV:-/var/tmp/mooring-venv}/bin/python3 scripts/fleet.py bench/FLEET.md

# The Debian package and the RPM (Amazon Linux 2023), from one release
# build of the multi-call program: $(CARGO_TARGET_DIR)/debian/*.deb and
# $(CARGO_TARGET_DIR)/generate-rpm/*.rpm. `make deps` installs the packagers.
package:
	cargo build --release --bin mooring
	cargo deb --no-build --no-strip
	cargo generate-rpm --target-dir $(CARGO_TARGET_DIR)
	@ls -l $(CARGO_TARGET_DIR)/debian/*.deb $(CARGO_TARGET_DIR)/generate-rpm/*.rpm

TOOLS = ebs-grow etcd-member-prepare smilodon-attach px-volume-claim ecs-node-guard mooring-leave

# The package's tree without a package manager (an AMI script's
# install.sh): make install DESTDIR=/tmp/root PREFIX=/usr
install:
	cargo build --release --bin mooring
	$(MAKE) install-tree

# The tree from the existing release build (install's second half; the
# packaging test checks it against the .deb without building again).
install-tree:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/mooring/iam \
		$(DESTDIR)$(PREFIX)/share/doc/mooring/examples/cloud-init $(DESTDIR)$(PREFIX)/share/doc/mooring/examples/ami \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(CARGO_TARGET_DIR)/release/mooring $(DESTDIR)$(PREFIX)/bin/
	for b in $(TOOLS); do ln -sf mooring $(DESTDIR)$(PREFIX)/bin/$$b; done
	install -m 644 units/* $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -D -m 644 packaging/tmpfiles/mooring.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/mooring.conf
	install -D -m 644 packaging/preset/90-mooring.preset $(DESTDIR)$(PREFIX)/lib/systemd/system-preset/90-mooring.preset
	for d in etcd.service.d/mooring-etcd-member-prepare.conf zookeeper.service.d/mooring-smilodon-attach.conf \
		portworx.service.d/mooring-px-volume-claim.conf ecs.service.d/mooring-ecs-node-guard.conf; do \
		install -D -m 644 dropins/$$d $(DESTDIR)$(PREFIX)/lib/systemd/system/$$d; done
	install -D -m 644 dropins/etcd.service.d/mooring-smilodon-attach.conf \
		$(DESTDIR)$(PREFIX)/share/doc/mooring/examples/etcd.service.d/mooring-smilodon-attach.conf
	install -D -m 644 dropins/zookeeper.service.d/mooring-smilodon-attach-spare.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/mooring/examples/zookeeper.service.d/mooring-smilodon-attach-spare.conf.example
	install -D -m 644 dropins/portworx.service.d/mooring-px-env.conf.example \
		$(DESTDIR)$(PREFIX)/share/doc/mooring/examples/portworx.service.d/mooring-px-env.conf.example
	install -m 644 packaging/cloud-init/* $(DESTDIR)$(PREFIX)/share/doc/mooring/examples/cloud-init/
	install -m 644 packaging/ami/* $(DESTDIR)$(PREFIX)/share/doc/mooring/examples/ami/
	install -m 644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 completions/bash/* $(DESTDIR)$(PREFIX)/share/bash-completion/completions/
	install -m 644 completions/zsh/* $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/
	install -m 644 completions/fish/* $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/
	install -m 644 packaging/iam/*.json $(DESTDIR)$(PREFIX)/share/doc/mooring/iam/
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/mooring/
