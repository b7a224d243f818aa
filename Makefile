# Top-level build: the kernel module and the static test programs.
# KVER selects the kernel to build against (scripts/ detect it).
KVER ?= $(shell uname -r)

all: module tools tests demo

module:
	$(MAKE) -C kmod KVER=$(KVER)

tools:
	$(MAKE) -C tools

tests:
	$(MAKE) -C tests

demo:
	$(MAKE) -C demo

clean:
	$(MAKE) -C kmod KVER=$(KVER) clean
	$(MAKE) -C tests clean
	$(MAKE) -C tools clean
	$(MAKE) -C demo clean
	rm -rf out

.PHONY: all module tools tests demo clean
