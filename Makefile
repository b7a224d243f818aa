# Top-level build: the kernel module and the static test programs.
# KVER selects the kernel to build against (scripts/ detect it).
KVER ?= $(shell uname -r)

all: module tests

module:
	$(MAKE) -C kmod KVER=$(KVER)

tests:
	$(MAKE) -C tests

clean:
	$(MAKE) -C kmod KVER=$(KVER) clean
	$(MAKE) -C tests clean
	rm -rf out

.PHONY: all module tests clean
