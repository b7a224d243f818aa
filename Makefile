# Top-level build: the kernel module and the static test programs.
# KVER selects the kernel to build against (scripts/ detect it).
# IOMMUFD_TEST=1 builds the modules the suite loads (with IOMMU_TEST_CMD,
# the mock IOMMU and fault injection); without it, the modules users install.
KVER ?= $(shell uname -r)
IOMMUFD_TEST ?= 0
PREFIX ?= /usr/local

all: module lib tools tests demo

module:
	$(MAKE) -C kmod KVER=$(KVER) IOMMUFD_TEST=$(IOMMUFD_TEST)

lib:
	$(MAKE) -C lib

tools:
	$(MAKE) -C tools

tests: lib
	$(MAKE) -C tests

demo: lib
	$(MAKE) -C demo

# The modules, into /lib/modules/$(KVER)/updates (then modprobe iommufd).
modules_install:
	$(MAKE) -C kmod KVER=$(KVER) IOMMUFD_TEST=$(IOMMUFD_TEST) modules_install

install: lib tools
	$(MAKE) -C lib install
	install -D -m 0755 tools/build/iommufd-inspect $(DESTDIR)$(PREFIX)/bin/iommufd-inspect

# The Debian packages (iommufd-dkms, libiommufd0, libiommufd-dev,
# iommufd-tools) into out/deb; scripts/test-packages tests them.
deb:
	./scripts/build-debs

clean:
	$(MAKE) -C kmod KVER=$(KVER) clean
	$(MAKE) -C tests clean
	$(MAKE) -C tools clean
	$(MAKE) -C demo clean
	$(MAKE) -C lib clean
	rm -rf out

.PHONY: all module lib tools tests demo install modules_install deb clean
