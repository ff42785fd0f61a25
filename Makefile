# SPDX-License-Identifier: GPL-2.0
# alttcp
#   make             build module/alttcp.ko and the selftests
#   make run         boot the test VM with the module loaded, run the demo
#   make check       the whole test suite in the VM; ends "N passed, N failed"
#   make check-debug the same suite on a debug kernel (KASAN, lockdep,
#                    kmemleak, ...), built once and kept in build/debug-kernel
#   make bench       benchmarks in the VM, as ratios to Linux TCP
#   make checkpatch  checkpatch.pl --strict over the sources
#   make sparse      sparse over every module source (make C=1 works too)
#   make deb         the alttcp-dkms and alttcp-tools packages, in build/deb
#   make check-deb   installs those in the test VM (an overlay over its root)
#   make dkms        DKMS add, build, install on this machine
# KFLAVOUR=rt or cloud: build for and boot that flavour of Debian's kernel;
# KVER= (or KERNELRELEASE=, as DKMS passes it) names the kernel release.
# Missing Debian packages install themselves (scripts/deps).

ROOT := $(CURDIR)
BUILD := $(ROOT)/build
# Deferred: the kernel may only be installed by the deps step.
KVER = $(shell $(ROOT)/scripts/kver)
ifeq ($(origin KERNELRELEASE),command line)
KVER := $(KERNELRELEASE)
export KVER
endif
KDIR = /lib/modules/$(KVER)/build
KSRC := $(BUILD)/ksrc
KSFT := $(KSRC)/tools/testing/selftests
KSFT_OUT := $(BUILD)/selftests
KSFT_INSTALL := $(BUILD)/kselftest
SELFTEST_MAKE = $(MAKE) -C $(ROOT)/selftests KSFT_DIR=$(KSFT) OUTPUT=$(KSFT_OUT)
SOURCES = $(filter-out %.mod.c,$(wildcard $(ROOT)/module/*.[ch])) $(ROOT)/include/uapi/linux/alttcp.h \
	  $(wildcard $(ROOT)/selftests/*.[ch]) $(ROOT)/scripts/alttcpize.c \
	  $(ROOT)/scripts/manyconns.c
# The LD_PRELOAD library of scripts/alttcpize.
ALTTCPIZE := $(BUILD)/alttcpize/libalttcpize.so
# make bench's many-connections tool.
MANYCONNS := $(BUILD)/bench/manyconns
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(ROOT)/dkms.conf)

.NOTPARALLEL:
.PHONY: all deps ksrc module-kver module selftests run check check-debug bench checkpatch sparse \
	deb check-deb dkms clean distclean

all: module selftests $(ALTTCPIZE) $(MANYCONNS)

$(ALTTCPIZE): $(ROOT)/scripts/alttcpize.c $(ROOT)/include/uapi/linux/alttcp.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -I$(ROOT)/include/uapi -o $@ $< -ldl

$(MANYCONNS): $(ROOT)/scripts/manyconns.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror -o $@ $<

deps:
	@$(ROOT)/scripts/deps

ksrc: deps
	@$(ROOT)/scripts/ksrc $(KSRC)

# Objects built for another kernel look up to date to kbuild (it does not
# even relink for a new vermagic): remove them when the kernel changes.
module-kver: deps
	@kv='$(KVER)'; if [ "$$(cat $(BUILD)/module-kver 2>/dev/null)" != "$$kv" ]; then \
		find $(ROOT)/module -name '*.o' -delete; rm -f $(ROOT)/module/alttcp.ko; \
		mkdir -p $(BUILD); echo "$$kv" >$(BUILD)/module-kver; fi

module: module-kver
	$(MAKE) -C $(KDIR) M=$(ROOT) C=$(C) modules

selftests: ksrc
	@mkdir -p $(KSFT_OUT)
	$(SELFTEST_MAKE)
	@rm -rf $(KSFT_INSTALL)
	@mkdir -p $(KSFT_INSTALL)/kselftest
	@$(SELFTEST_MAKE) -s INSTALL_PATH=$(KSFT_INSTALL)/alttcp install >/dev/null
	@$(SELFTEST_MAKE) -s COLLECTION=alttcp emit_tests >$(KSFT_INSTALL)/kselftest-list.txt
	@cp $(KSFT)/run_kselftest.sh $(KSFT_INSTALL)/
	@cp $(KSFT)/kselftest/runner.sh $(KSFT)/kselftest/prefix.pl $(KSFT_INSTALL)/kselftest/

run: all
	@$(ROOT)/scripts/run

check: all
	@$(ROOT)/scripts/check

check-debug: all
	@$(ROOT)/scripts/check --debug

bench: all
	@$(ROOT)/scripts/bench

deb:
	@$(ROOT)/scripts/deps deb
	@$(ROOT)/scripts/deb $(BUILD)/deb

# Slow (DKMS compiles the module in the VM): not part of make check.
check-deb: deb
	@$(ROOT)/scripts/check-deb $(BUILD)/deb

# Sources under /usr/src as the package would put them, unless the
# package did; `dkms remove` first, as the sources may have changed.
dkms:
	@$(ROOT)/scripts/deps deb
	@if dpkg -S /usr/src/alttcp-$(VERSION) >/dev/null 2>&1; then \
		echo "dkms: /usr/src/alttcp-$(VERSION) belongs to a package (alttcp-dkms)" >&2; exit 1; fi
	@dkms remove alttcp/$(VERSION) --all >/dev/null 2>&1 || true
	rm -rf /usr/src/alttcp-$(VERSION)
	$(ROOT)/scripts/dkms-src /usr/src/alttcp-$(VERSION)
	dkms add alttcp/$(VERSION)
	dkms build alttcp/$(VERSION) -k $(KVER)
	dkms install alttcp/$(VERSION) -k $(KVER)

checkpatch: ksrc
	perl $(KSRC)/scripts/checkpatch.pl --strict --no-tree --quiet \
		--ignore FILE_PATH_CHANGES -f $(SOURCES)

sparse: module-kver
	$(MAKE) -C $(KDIR) M=$(ROOT) C=2 modules

# clean keeps the debug kernel, which takes long to build; distclean not.
clean:
	-$(MAKE) -C $(KDIR) M=$(ROOT) clean
	find $(BUILD) -mindepth 1 -maxdepth 1 ! -name debug-kernel -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(BUILD)
