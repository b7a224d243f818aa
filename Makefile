# Top-level build: the kernel module and the static test programs.
# KVER selects the kernel to build against (scripts/ detect it).
KVER ?= $(shell uname -r)
PREFIX ?= /usr/local

all: module lib tools tests demo

module:
	$(MAKE) -C kmod KVER=$(KVER)

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
	$(MAKE) -C kmod KVER=$(KVER) modules_install

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
