// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
/*
 * KVM's VFIO pseudo device (KVM_CREATE_DEVICE of KVM_DEV_TYPE_VFIO) and
 * our device files, through the optional iommufd_kvm.ko: QEMU with KVM
 * adds every VFIO device file to it (KVM_DEV_VFIO_FILE_ADD, named
 * KVM_DEV_VFIO_GROUP_ADD before 6.5) and stops when that fails.
 *
 * KVM runs nested: the test VM's TCG CPU is an AMD one with SVM and
 * nested paging, so kvm_amd loads and runs guests.  Without a usable
 * /dev/kvm, or with the kernel's vfio module loaded (this module cannot
 * load beside it), the tests skip saying why.
 *
 * The steps share one process (tap_run_shared): KVM, the edu bound to
 * iommufd-pci, KVM's file check without the module, the module loaded,
 * FILE_ADD/FILE_DEL with our file and with others, the reference KVM
 * keeps to an added file, the kernel's vfio refused while the module is
 * loaded, the module unloaded, and the module refused beside the kernel's
 * vfio.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/kvm.h>

#include "pci_util.h"

/* 6.5 renamed the group; the numbers are the same. */
#ifndef KVM_DEV_VFIO_FILE
#define KVM_DEV_VFIO_FILE KVM_DEV_VFIO_GROUP
#define KVM_DEV_VFIO_FILE_ADD KVM_DEV_VFIO_GROUP_ADD
#define KVM_DEV_VFIO_FILE_DEL KVM_DEV_VFIO_GROUP_DEL
#endif

#define SHIM "iommufd_kvm"

static bool kvm_usable;
static char node[128];		/* the edu's /dev/vfio/devices/vfioN */
static bool shim_loaded;

static bool module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return !access(path, F_OK);
}

/* A new VM and its VFIO device: 0 and both fds, or -1 with errno. */
static int vfio_kvm_device(int *vm, int *dev)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0)
		return -1;
	*vm = ioctl(kvm, KVM_CREATE_VM, 0);
	close(kvm);
	if (*vm < 0)
		return -1;
	if (ioctl(*vm, KVM_CREATE_DEVICE, &cd)) {
		close(*vm);
		return -1;
	}
	*dev = cd.fd;
	return 0;
}

/* KVM_DEV_VFIO_FILE_ADD or _DEL (@attr) of @fd: what the ioctl returned. */
static int vfio_file(int dev, __u64 attr, int fd)
{
	__s32 v = fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = attr,
		.addr = (uintptr_t)&v,
	};

	return ioctl(dev, KVM_SET_DEVICE_ATTR, &a);
}

#define NEED_KVM()                                                      \
	do {                                                            \
		if (!kvm_usable)                                        \
			SKIP("no usable /dev/kvm in this VM");          \
	} while (0)

#define NEED_SHIM()                                                     \
	do {                                                            \
		NEED_KVM();                                             \
		if (!node[0])                                           \
			SKIP("no edu bound to iommufd-pci");            \
		if (!shim_loaded)                                       \
			SKIP(SHIM " not loaded");                       \
	} while (0)

TEST(kvm_is_usable)
{
	int vm, dev;

	if (access("/dev/kvm", F_OK) &&
	    system("modprobe kvm_amd >/dev/null 2>&1") &&
	    system("modprobe kvm_intel >/dev/null 2>&1"))
		SKIP("neither kvm_amd nor kvm_intel loads (no SVM/VMX in this VM's CPU?)");
	if (access("/dev/kvm", F_OK))
		SKIP("no /dev/kvm");
	CHECK_OK(vfio_kvm_device(&vm, &dev));
	close(dev);
	close(vm);
	kvm_usable = true;
}

/*
 * KVM really runs code: a real-mode guest writes 42 and 43 to port 0x10
 * and halts.
 */
TEST(kvm_runs_a_tiny_guest)
{
	static const unsigned char code[] = {
		0xb0, 42,	/* mov al, 42 */
		0xe6, 0x10,	/* out 0x10, al */
		0xfe, 0xc0,	/* inc al */
		0xe6, 0x10,	/* out 0x10, al */
		0xf4,		/* hlt */
	};
	struct kvm_userspace_memory_region reg = { .memory_size = 0x10000 };
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	int kvm, vm, vcpu, mmap_size, i;
	struct kvm_sregs sregs;
	struct kvm_run *run;
	unsigned char *mem;

	NEED_KVM();
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	CHECK(kvm >= 0);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	CHECK(vm >= 0);
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	CHECK(mmap_size > 0);
	mem = mmap(NULL, reg.memory_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	memcpy(mem + 0x1000, code, sizeof(code));
	reg.userspace_addr = (uintptr_t)mem;
	CHECK_OK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg));
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	CHECK(vcpu >= 0);
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	CHECK(run != MAP_FAILED);
	CHECK_OK(ioctl(vcpu, KVM_GET_SREGS, &sregs));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	CHECK_OK(ioctl(vcpu, KVM_SET_SREGS, &sregs));
	CHECK_OK(ioctl(vcpu, KVM_SET_REGS, &regs));
	for (i = 0; i < 2; i++) {
		CHECK_OK(ioctl(vcpu, KVM_RUN, 0));
		CHECK(run->exit_reason == KVM_EXIT_IO);
		CHECK(run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x10);
		CHECK(((unsigned char *)run)[run->io.data_offset] == 42 + i);
	}
	CHECK_OK(ioctl(vcpu, KVM_RUN, 0));
	CHECK(run->exit_reason == KVM_EXIT_HLT);
	munmap(run, mmap_size);
	munmap(mem, reg.memory_size);
	close(vcpu);
	close(vm);
	close(kvm);
}

TEST(edu_bound_to_iommufd_pci)
{
	find_devices();
	if (!lone_edu[0])
		SKIP("no lone edu in this VM");
	CHECK_OK(rebind(lone_edu, "iommufd-pci"));
	CHECK_OK(iommufd_pci_cdev_path(lone_edu, node, sizeof(node)));
	tap_diag("edu %s: %s", lone_edu, node);
}

/* Without the module KVM's VFIO device refuses @fd (EINVAL); @fd closed. */
static void kvm_refuses(int fd)
{
	int vm, dev;

	CHECK(fd >= 0);
	CHECK_OK(vfio_kvm_device(&vm, &dev));
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, fd), EINVAL);
	close(dev);
	close(vm);
	close(fd);
}

/* The gap the module fills: KVM refuses our file without it. */
TEST(file_add_refused_without_the_module)
{
	NEED_KVM();
	if (!node[0])
		SKIP("no edu bound to iommufd-pci");
	if (module_loaded("vfio"))
		SKIP("the kernel's vfio is loaded (" SHIM " cannot load beside it)");
	CHECK(!module_loaded(SHIM));
	CHECK_SUB(kvm_refuses(open(node, O_RDWR | O_CLOEXEC)));
}

TEST(module_loads)
{
	int kmsg = kmsg_open();

	NEED_KVM();
	if (!node[0])
		SKIP("no edu bound to iommufd-pci");
	if (module_loaded("vfio"))
		SKIP("the kernel's vfio is loaded (" SHIM " cannot load beside it)");
	CHECK_OK(kmod_load(SHIM));
	shim_loaded = true;
	CHECK(kmsg_saw(kmsg, SHIM ": KVM's VFIO device now accepts", NULL));
	close(kmsg);
}

TEST(file_add_and_del_of_our_device_file)
{
	int vm, dev, fd;

	NEED_SHIM();
	fd = open(node, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_OK(vfio_kvm_device(&vm, &dev));
	CHECK_OK(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, fd));
	/* KVM's own bookkeeping: once per file. */
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, fd), EEXIST);
	CHECK_OK(vfio_file(dev, KVM_DEV_VFIO_FILE_DEL, fd));
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_DEL, fd), ENOENT);
	/* Added again, and left for the VM's end to drop. */
	CHECK_OK(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, fd));
	close(dev);
	close(vm);
	close(fd);
}

/* Any file but ours: EINVAL (EBADF for no file). */
TEST(file_add_refuses_other_files)
{
	int vm, dev, iommufd, null, p[2];

	NEED_SHIM();
	CHECK_OK(vfio_kvm_device(&vm, &dev));
	iommufd = dev_iommu_open();
	CHECK(iommufd >= 0);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(null >= 0);
	CHECK_OK(pipe2(p, O_CLOEXEC));
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, iommufd), EINVAL);
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, null), EINVAL);
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, p[0]), EINVAL);
	/* KVM's own device file is not a VFIO file either. */
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, dev), EINVAL);
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, -1), EBADF);
	CHECK_ERRNO(vfio_file(dev, KVM_DEV_VFIO_FILE_DEL, null), ENOENT);
	close(p[0]);
	close(p[1]);
	close(null);
	close(iommufd);
	close(dev);
	close(vm);
}

/* Open @node, retrying for up to a second while it is busy. */
static int open_when_free(void)
{
	int fd = -1, i;

	for (i = 0; i < 100; i++) {
		fd = open(node, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EBUSY)
			break;
		usleep(10000);
	}
	return fd;
}

/*
 * KVM holds the added file: the device stays open (one opener at a time)
 * after its fd is closed, until the VM lets go of it.  The device works
 * meanwhile: bound to an iommufd, its BAR0 answers.
 */
TEST(kvm_keeps_the_added_file_open)
{
	struct edu e = { 0 };
	int vm, dev, ictx;
	__u32 dev_id;

	NEED_SHIM();
	CHECK_OK(vfio_kvm_device(&vm, &dev));
	CHECK_OK(edu_bind_new(&e, &ictx, &dev_id));
	CHECK_OK(vfio_file(dev, KVM_DEV_VFIO_FILE_ADD, iommufd_pci_fd(e.dev)));
	CHECK_OK(edu_enable(&e));
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	edu_close(&e);
	close(ictx);
	/* Closed here, still open in KVM. */
	CHECK_ERRNO(open(node, O_RDWR | O_CLOEXEC), EBUSY);
	close(dev);
	close(vm);
	CHECK(module_stat("objects") == 0);
	ictx = open_when_free();
	CHECK(ictx >= 0);
	close(ictx);
}

/* The kernel's vfio exports the same names: it cannot load now. */
TEST(kernel_vfio_refused_while_loaded)
{
	int kmsg = kmsg_open();

	NEED_SHIM();
	if (system("modprobe vfio >/dev/null 2>&1") == 0) {
		tap_diag("the kernel's vfio loaded beside " SHIM);
		system("rmmod vfio_iommu_type1 vfio >/dev/null 2>&1");
		CHECK(0);
	}
	CHECK(!module_loaded("vfio"));
	CHECK(kmsg_saw(kmsg, "exports duplicate symbol", "owned by " SHIM));
	close(kmsg);
}

TEST(module_unloads_and_kvm_refuses_again)
{
	NEED_SHIM();
	CHECK_OK(kmod_unload(SHIM));
	shim_loaded = false;
	CHECK(!module_loaded(SHIM));
	CHECK_SUB(kvm_refuses(open_when_free()));
}

/* And the other way round: with the kernel's vfio loaded, it is refused. */
TEST(module_refused_beside_kernel_vfio)
{
	bool vfio_was_loaded;
	int kmsg;

	NEED_KVM();
	if (module_loaded(SHIM))
		SKIP(SHIM " still loaded");
	vfio_was_loaded = module_loaded("vfio");
	if (!vfio_was_loaded && system("modprobe vfio >/dev/null 2>&1"))
		SKIP("the kernel's vfio is not available in this VM");
	kmsg = kmsg_open();
	CHECK_ERRNO(kmod_load(SHIM), ENOEXEC);
	CHECK(!module_loaded(SHIM));
	CHECK(kmsg_saw(kmsg, "exports duplicate symbol", "owned by vfio"));
	close(kmsg);
	/* Leave the VM as it was: the kernel's vfio unloaded, if it was. */
	if (!vfio_was_loaded) {
		kmod_unload("vfio_iommu_type1");
		CHECK_OK(kmod_unload("vfio"));
	}
}

TEST(edu_unbound)
{
	if (!node[0])
		SKIP("no edu bound to iommufd-pci");
	CHECK_OK(rebind(lone_edu, ""));
}

int main(void)
{
	/* One scenario: each step needs what the previous ones did. */
	return tap_run_shared();
}
