// SPDX-License-Identifier: GPL-2.0
/*
 * Real devices: the iommufd-pci driver, the IOMMU group rules of the RFC
 * and DMA by the QEMU "edu" device through the emulated IOMMU.
 *
 * The VM has one edu alone in its IOMMU group and two edus sharing a
 * group with a PCI bridge and an e1000 that the kernel's e1000 driver
 * drives.  Tests run in order; the group tests change which driver the
 * e1000 has and restore it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <libiommufd.h>
#include <linux/vfio.h>

#include "util.h"
#include "pci_util.h"

/* ------------------------------------------------------------- tests */

TEST(devices_present)
{
	if (!lone_edu[0])
		SKIP("no edu device alone in an IOMMU group (run in the project VM)");
	tap_diag("lone edu %s, pair %s %s, e1000 %s", lone_edu, pair_edu[0],
		 pair_edu[1], e1000);
	CHECK(pair_edu[0][0] && e1000[0]);
}

/* Rule 1: nothing but information before BIND. */
TEST(no_access_before_bind)
{
	__u16 vendor, cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	uint64_t bar0_size;
	uint32_t bar0_flags;
	__u32 pt = 1;
	struct edu e;
	size_t len;
	void *p;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_config_read(e.dev, 0, &vendor, 2));
	CHECK(vendor == EDU_VENDOR);
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_BAR0_REGION,
					 &bar0_size, NULL, &bar0_flags));
	CHECK(bar0_size >= 4096 && (bar0_flags & IOMMUFD_PCI_REGION_MMAP));
	/*
	 * No MMIO, no bus mastering, no reset, no attach.  BAR0 is there
	 * and mmap()able, so the EINVAL of iommufd_pci_mmap_bar() is the
	 * kernel refusing the mmap(), as is that of the config write.
	 */
	CHECK_ERRNO(from_lib(iommufd_pci_mmap_bar(e.dev, IOMMUFD_PCI_BAR0_REGION,
						  &p, &len)), EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd,
						      2)), EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_reset(e.dev)), EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_attach(e.dev, &pt)), EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_unbind(e.dev)), EINVAL);
	/* Not an iommufd. */
	CHECK_ERRNO(from_lib(iommufd_pci_bind(e.dev, 0, NULL)), EBADF);
	edu_close(&e);
}

/* Rule 1: after BIND the group's DMA stays blocked until an attach. */
TEST(dma_blocked_until_attach)
{
	__u32 ioas, dev_id, pt;
	int fd, kmsg;
	struct edu e;
	char *buf;

	if (!lone_edu[0])
		SKIP("no edu device");
	buf = dma_buffer();
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	CHECK(dev_id != 0);
	CHECK_OK(edu_enable(&e));
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_A));

	/* The device writes 0s from its buffer; ours holds 'x'. */
	memset(buf, 'x', EDU_BUFFER_SIZE);
	kmsg = kmsg_open();
	CHECK_OK(edu_store(&e, IOVA_A, 64));
	CHECK(buf[0] == 'x' && buf[63] == 'x');
	CHECK(fault_logged(kmsg, lone_edu));
	close(kmsg);

	/* The same DMA once attached reaches the buffer. */
	pt = ioas;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	CHECK(pt != ioas);
	CHECK_OK(edu_store(&e, IOVA_A, 64));
	CHECK(buf[0] != 'x' || buf[63] != 'x');

	edu_close(&e);
	close(fd);
	buf_free(buf, EDU_BUFFER_SIZE);
}

/* DMA moves the right bytes both ways; unmapped IOVAs never reach memory. */
TEST(dma_roundtrip_and_unmap)
{
	__u32 ioas, pt;
	__u64 unmapped;
	char *src, *dst;
	int fd, kmsg, i;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	src = dma_buffer();
	dst = dma_buffer();
	CHECK(src && dst);
	for (i = 0; i < EDU_BUFFER_SIZE; i++)
		src[i] = (char)(i * 7 + 1);
	memset(dst, 0, EDU_BUFFER_SIZE);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(ioas_alloc(fd, &ioas));
	pt = ioas;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	CHECK_OK(ioas_map_fixed(fd, ioas, src, EDU_BUFFER_SIZE, IOVA_A));
	CHECK_OK(ioas_map_fixed(fd, ioas, dst, EDU_BUFFER_SIZE, IOVA_B));

	CHECK_OK(edu_load(&e, IOVA_A, EDU_DMA_MAX));
	CHECK_OK(edu_store(&e, IOVA_B, EDU_DMA_MAX));
	CHECK(memcmp(src, dst, EDU_DMA_MAX) == 0);

	/* After unmap the device cannot write there any more. */
	CHECK_OK(ioas_unmap(fd, ioas, IOVA_B, EDU_BUFFER_SIZE, &unmapped));
	memset(dst, 'k', EDU_BUFFER_SIZE);
	kmsg = kmsg_open();
	CHECK_OK(edu_store(&e, IOVA_B, EDU_DMA_MAX));
	for (i = 0; i < EDU_DMA_MAX; i++)
		CHECK(dst[i] == 'k');
	CHECK(fault_logged(kmsg, lone_edu));
	close(kmsg);

	/* Nor read from an IOVA that was never mapped. */
	memset(src, 'r', EDU_BUFFER_SIZE);
	CHECK_OK(ioas_map_fixed(fd, ioas, dst, EDU_BUFFER_SIZE, IOVA_B));
	CHECK_OK(edu_load(&e, 0x3000000, EDU_DMA_MAX));
	CHECK_OK(edu_store(&e, IOVA_B, EDU_DMA_MAX));
	CHECK(memcmp(src, dst, EDU_DMA_MAX) != 0);

	edu_close(&e);
	close(fd);
	buf_free(src, EDU_BUFFER_SIZE);
	buf_free(dst, EDU_BUFFER_SIZE);
}

/* Replace switches what the device sees, in one ioctl. */
TEST(replace_switches_address_space)
{
	__u32 ioas1, ioas2, pt, hwpt1;
	char *b1, *b2;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	b1 = dma_buffer();
	b2 = dma_buffer();
	CHECK(b1 && b2);
	memset(b1, '1', EDU_BUFFER_SIZE);
	memset(b2, '2', EDU_BUFFER_SIZE);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioas_map_fixed(fd, ioas1, b1, EDU_BUFFER_SIZE, IOVA_A));
	CHECK_OK(ioas_map_fixed(fd, ioas2, b2, EDU_BUFFER_SIZE, IOVA_A));
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	pt = ioas1;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	hwpt1 = pt;

	/* Load '1's through IOAS 1, then write them out through IOAS 2. */
	CHECK_OK(edu_load(&e, IOVA_A, 16));
	pt = ioas2;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	CHECK(pt != hwpt1);
	/* The automatic HWPT of IOAS 1 went with its last device. */
	CHECK_ERRNO(iommu_destroy(fd, hwpt1), ENOENT);
	CHECK_OK(edu_store(&e, IOVA_A, 16));
	CHECK(b2[0] == '1' && b2[15] == '1' && b2[16] == '2');
	CHECK(b1[0] == '1');

	CHECK_OK(iommufd_pci_detach(e.dev));
	CHECK_ERRNO(from_lib(iommufd_pci_detach(e.dev)), EINVAL);
	edu_close(&e);
	close(fd);
	buf_free(b1, EDU_BUFFER_SIZE);
	buf_free(b2, EDU_BUFFER_SIZE);
}

static unsigned long long sysfs_u64(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return strtoull(buf, NULL, 16);
}

/*
 * Whether the running kernel itself (not a module) has @name: a line of
 * /proc/kallsyms with no "[module]" after the name.
 */
static int kernel_has_builtin_symbol(const char *name)
{
	char line[512], sym[256], mod[128];
	FILE *f = fopen("/proc/kallsyms", "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		mod[0] = 0;
		if (sscanf(line, "%*s %*s %255s %127s", sym, mod) >= 1 &&
		    !strcmp(sym, name) && !mod[0])
			found = 1;
	}
	fclose(f);
	return found;
}

/* GET_HW_INFO describes the real IOMMU; its reserved regions are holes. */
TEST(hw_info_and_reserved_regions)
{
	struct iommu_iova_range ranges[8];
	struct iommu_hw_info_vtd vtd;
	__u32 ioas, dev_id, pt, len = sizeof(vtd), type, n = 8;
	__u64 caps, align;
	bool msi_hole = false;
	struct edu e;
	char *buf;
	int fd;
	__u32 i;

	if (!lone_edu[0])
		SKIP("no edu device");
	buf = dma_buffer();
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	memset(&vtd, 0xff, sizeof(vtd));
	CHECK_OK(get_hw_info(fd, dev_id, &vtd, &len, &type, &caps));
	/*
	 * Kernel IOMMU domains track no dirty pages here: an IOMMU driver
	 * reports the pages it finds dirty only through a built-in
	 * iova_bitmap_set() (CONFIG_IOMMUFD_DRIVER), which Debian's kernels
	 * lack.  A kernel that has it can track: this check then fails, to
	 * say that dirty tracking of kernel domains is due.
	 */
	CHECK(kernel_has_builtin_symbol("iommu_map") == 1);	/* reads */
	CHECK(kernel_has_builtin_symbol("iova_bitmap_set") == 0);
	CHECK(!(caps & IOMMU_HW_CAP_DIRTY_TRACKING));
	if (access("/sys/class/iommu/dmar0", F_OK) == 0) {
		CHECK(type == IOMMU_HW_INFO_TYPE_INTEL_VTD);
		CHECK(len == sizeof(vtd) && vtd.flags == 0);
		CHECK(vtd.cap_reg == sysfs_u64("/sys/class/iommu/dmar0/intel-iommu/cap"));
		CHECK(vtd.ecap_reg == sysfs_u64("/sys/class/iommu/dmar0/intel-iommu/ecap"));
		/* The same from a root with no /sys: nothing is looked up. */
		pid_t pid = fork_flushed();

		CHECK(pid >= 0);
		if (!pid) {
			struct iommu_hw_info_vtd v2 = { 0 };
			__u32 len2 = sizeof(v2), type2 = 0;

			mkdir("/tmp/no-sys", 0700);
			if (chroot("/tmp/no-sys") || chdir("/") ||
			    get_hw_info(fd, dev_id, &v2, &len2, &type2, NULL))
				_exit(2);
			_exit(type2 == IOMMU_HW_INFO_TYPE_INTEL_VTD &&
			      v2.cap_reg == vtd.cap_reg &&
			      v2.ecap_reg == vtd.ecap_reg ? 0 : 1);
		}
		CHECK_OK(wait_child(pid));
	} else {
		CHECK(type == IOMMU_HW_INFO_TYPE_NONE && len == 0);
	}
	{
		/* Asking for its own type works; another one does not. */
		struct iommu_hw_info hi = {
			.size = sizeof(hi),
			.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE,
			.dev_id = dev_id,
			.in_data_type = type,
		};

		CHECK_OK(ioctl(fd, IOMMU_GET_HW_INFO, &hi));
		CHECK(hi.out_data_type == type && hi.data_len == len);
		hi.in_data_type = IOMMU_HW_INFO_TYPE_SELFTEST;
		CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &hi), EOPNOTSUPP);
		hi.in_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
		CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &hi), EOPNOTSUPP);
	}

	CHECK_OK(ioas_alloc(fd, &ioas));
	/* 6.1's IOMMU drivers cannot nest: no nesting parents. */
	CHECK_ERRNO(hwpt_alloc(fd, dev_id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			       &pt), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc(fd, dev_id, ioas,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &pt),
		    EOPNOTSUPP);
	{
		/* Nor take driver data: the mock's is refused too. */
		struct iommu_hwpt_selftest st = { .iotlb = 0 };

		CHECK_ERRNO(hwpt_alloc_data(fd, dev_id, ioas, 0,
					    IOMMU_HWPT_DATA_SELFTEST, &st,
					    sizeof(st), NULL), EOPNOTSUPP);
		CHECK_ERRNO(hwpt_alloc_data(fd, dev_id, ioas, 0,
					    IOMMU_HWPT_DATA_VTD_S1, &st,
					    sizeof(st), NULL), EOPNOTSUPP);
	}
	pt = ioas;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	/* Its automatic HWPT has no dirty tracking to turn on. */
	struct iommu_hwpt_set_dirty_tracking dirty = {
		.size = sizeof(dirty),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
		.hwpt_id = pt,
	};
	CHECK_ERRNO(ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &dirty),
		    EOPNOTSUPP);
	/* The x86 MSI window can never be mapped. */
	CHECK_OK(ioas_iova_ranges(fd, ioas, ranges, &n, &align));
	CHECK(align == PAGE_SIZE);
	for (i = 0; i + 1 < n; i++)
		if (ranges[i].last == 0xfedfffffULL &&
		    ranges[i + 1].start == 0xfef00000ULL)
			msi_hole = true;
	CHECK(msi_hole);
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, 0xfee00000ULL),
		    EINVAL);
	/* After detach the window is free again. */
	CHECK_OK(iommufd_pci_detach(e.dev));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, 0xfee00000ULL));
	/* ... and an attach that would need it back is refused. */
	pt = ioas;
	CHECK_ERRNO(from_lib(iommufd_pci_attach(e.dev, &pt)), EADDRINUSE);
	edu_close(&e);
	close(fd);
	buf_free(buf, EDU_BUFFER_SIZE);
}

/*
 * A HWPT enforces cache coherency when the device's IOMMU can: on VT-d
 * when it has Snoop Control (ecap bit 7; the vtd-sm VM's QEMU IOMMU has
 * snoop-control=on, the vtd VM's not), on AMD-Vi always.
 */
TEST(cache_coherency_follows_iommu)
{
	struct iommu_hw_info_vtd vtd = { 0 };
	__u32 ioas, dev_id, hwpt, pt, len = sizeof(vtd), type;
	struct edu e;
	int fd, expect;

	if (!lone_edu[0])
		SKIP("no edu device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	CHECK_OK(get_hw_info(fd, dev_id, &vtd, &len, &type, NULL));
	expect = type == IOMMU_HW_INFO_TYPE_INTEL_VTD ?
		 (int)(vtd.ecap_reg >> 7 & 1) : 1;
	tap_diag("IOMMU type %u, enforce_cc expected %d", type, expect);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(hwpt_alloc(fd, dev_id, ioas, 0, &hwpt));
	CHECK(hwpt_enforce_cc(hwpt) == expect);
	pt = ioas;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	CHECK(pt != hwpt && hwpt_enforce_cc(pt) == expect);
	pt = hwpt;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));	/* a replace */
	CHECK(pt == hwpt);
	CHECK_OK(iommufd_pci_detach(e.dev));
	edu_close(&e);
	close(fd);
}

/* Rule 2: a group with a kernel DMA-API driver in it cannot be bound. */
TEST(group_with_kernel_driver_refused)
{
	char drv[64];
	struct edu e;
	int fd, kmsg;
	size_t len;
	void *p;

	if (!pair_edu[0][0] || !e1000[0])
		SKIP("no edu sharing a group with an e1000");
	driver_of(e1000, drv, sizeof(drv));
	if (strcmp(drv, "e1000"))
		SKIP("the e1000 driver is not bound to the e1000");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, pair_edu[0]));
	kmsg = kmsg_open();
	CHECK_ERRNO(from_lib(iommufd_pci_bind(e.dev, fd, NULL)), EBUSY);
	/* The kernel log says who is in the way. */
	CHECK(kmsg_saw(kmsg, "cannot bind", "e1000"));
	close(kmsg);
	/* Still nothing before a bind. */
	CHECK(iommufd_pci_mmap_bar(e.dev, IOMMUFD_PCI_BAR0_REGION, &p,
				   &len) < 0);
	edu_close(&e);
	close(fd);
}

/*
 * Rule 2: with the e1000 driverless, the two-edu group binds; both edus
 * share one context (one fd, one domain); unbinding the last gives the
 * group back so the e1000 driver can probe again.
 */
TEST(group_shared_and_returned)
{
	__u32 ioas1, ioas2, pt, pt2;
	struct edu a, b;
	int fd, fd2;
	char drv[64];

	if (!pair_edu[0][0] || !e1000[0])
		SKIP("no edu sharing a group with an e1000");
	CHECK_OK(rebind(e1000, ""));
	fd = dev_iommu_open();
	fd2 = dev_iommu_open();
	CHECK(fd >= 0 && fd2 >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(edu_open(&a, pair_edu[0]));
	CHECK_OK(edu_open(&b, pair_edu[1]));
	CHECK_OK(iommufd_pci_bind(a.dev, fd, NULL));
	/* The group belongs to fd now: another iommufd cannot take part. */
	CHECK_ERRNO(from_lib(iommufd_pci_bind(b.dev, fd2, NULL)), EBUSY);
	CHECK_OK(iommufd_pci_bind(b.dev, fd, NULL));

	/* While we own the group, the kernel driver cannot have the e1000. */
	CHECK(rebind(e1000, "e1000") != 0);
	CHECK_OK(rebind(e1000, ""));

	/* One group, one domain. */
	pt = ioas1;
	CHECK_OK(iommufd_pci_attach(a.dev, &pt));
	pt2 = ioas2;
	CHECK_ERRNO(from_lib(iommufd_pci_attach(b.dev, &pt2)), EINVAL);
	pt2 = ioas1;
	CHECK_OK(iommufd_pci_attach(b.dev, &pt2));
	CHECK(pt2 == pt);

	CHECK_OK(iommufd_pci_unbind(a.dev));
	edu_close(&a);
	edu_close(&b);
	/* The group is the kernel's again. */
	CHECK_OK(rebind(e1000, "e1000"));
	driver_of(e1000, drv, sizeof(drv));
	CHECK(strcmp(drv, "e1000") == 0);
	close(fd);
	close(fd2);
}

/* Two devices in two groups attached to two IOASes cannot reach across. */
TEST(devices_isolated)
{
	__u32 ioas1, ioas2, pt;
	char *b1, *b2;
	struct edu a, b;
	int fd;

	if (!lone_edu[0] || !pair_edu[0][0] || !e1000[0])
		SKIP("needs the lone edu and a paired edu");
	CHECK_OK(rebind(e1000, ""));
	b1 = dma_buffer();
	b2 = dma_buffer();
	CHECK(b1 && b2);
	memset(b1, 'a', EDU_BUFFER_SIZE);
	memset(b2, 'b', EDU_BUFFER_SIZE);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioas_map_fixed(fd, ioas1, b1, EDU_BUFFER_SIZE, IOVA_A));
	CHECK_OK(ioas_map_fixed(fd, ioas2, b2, EDU_BUFFER_SIZE, IOVA_B));
	CHECK_OK(edu_open(&a, lone_edu));
	CHECK_OK(edu_open(&b, pair_edu[0]));
	CHECK_OK(iommufd_pci_bind(a.dev, fd, NULL));
	CHECK_OK(iommufd_pci_bind(b.dev, fd, NULL));
	CHECK_OK(edu_enable(&a));
	CHECK_OK(edu_enable(&b));
	pt = ioas1;
	CHECK_OK(iommufd_pci_attach(a.dev, &pt));
	pt = ioas2;
	CHECK_OK(iommufd_pci_attach(b.dev, &pt));

	/* Each reaches its own buffer ... */
	CHECK_OK(edu_load(&a, IOVA_A, 8));
	CHECK_OK(edu_load(&b, IOVA_B, 8));
	/* ... and not the other's: a writes at b's IOVA, b at a's. */
	CHECK_OK(edu_store(&a, IOVA_B, EDU_DMA_MAX));
	CHECK_OK(edu_store(&b, IOVA_A, EDU_DMA_MAX));
	CHECK(b1[100] == 'a' && b2[100] == 'b');

	edu_close(&a);
	edu_close(&b);
	close(fd);
	CHECK_OK(rebind(e1000, "e1000"));
	buf_free(b1, EDU_BUFFER_SIZE);
	buf_free(b2, EDU_BUFFER_SIZE);
}

/*
 * Rule 3 with a real device: killing the process in the middle of a DMA
 * leaves nothing pinned and the device unable to master the bus.
 */
TEST(kill_during_dma)
{
	struct edu e;
	__u16 cmd;
	pid_t pid;
	int status, pipefd[2];
	char c;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(pipe(pipefd));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		__u32 ioas, pt;
		char *buf = dma_buffer();
		int fd = dev_iommu_open();

		CHILD_CHECK(buf && fd >= 0);
		CHILD_OK(edu_open(&e, lone_edu));
		CHILD_OK(iommufd_pci_bind(e.dev, fd, NULL));
		CHILD_OK(edu_enable(&e));
		CHILD_OK(ioas_alloc(fd, &ioas));
		CHILD_OK(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_A));
		pt = ioas;
		CHILD_OK(iommufd_pci_attach(e.dev, &pt));
		reg64(&e, EDU_DMA_SRC, EDU_BUFFER);
		reg64(&e, EDU_DMA_DST, IOVA_A);
		reg64(&e, EDU_DMA_CNT, EDU_DMA_MAX);
		e.regs[EDU_DMA_CMD / 4] = EDU_CMD_START | EDU_CMD_TO_RAM;
		CHILD_CHECK(write(pipefd[1], "g", 1) == 1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	CHECK(read(pipefd[0], &c, 1) == 1);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	close(pipefd[0]);

	/* The device file was released: it can be opened and bound again. */
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(!(cmd & PCI_COMMAND_MASTER));
	edu_close(&e);
}

/*
 * Closing the iommufd in the middle of a DMA: a bound device keeps the
 * iommufd's objects alive (its DMA keeps working) until the device file
 * goes too; then nothing is pinned and the device cannot master the bus.
 */
TEST(close_iommufd_during_dma)
{
	__u32 ioas, pt;
	__u16 cmd;
	struct edu e;
	char *buf;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	buf = dma_buffer();
	CHECK(buf);
	memset(buf, 'z', EDU_BUFFER_SIZE);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(from_lib(iommufd_pci_bind(e.dev, fd, NULL)));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_A));
	pt = ioas;
	CHECK_OK(from_lib(iommufd_pci_attach(e.dev, &pt)));
	CHECK(module_stat("pinned_pages") == 1);

	/* Start a transfer to memory, and close the iommufd under it. */
	reg64(&e, EDU_DMA_SRC, EDU_BUFFER);
	reg64(&e, EDU_DMA_DST, IOVA_A);
	reg64(&e, EDU_DMA_CNT, 64);
	e.regs[EDU_DMA_CMD / 4] = EDU_CMD_START | EDU_CMD_TO_RAM;
	CHECK_OK(close(fd));
	/* The device still holds the context: the DMA lands, the pin stays. */
	CHECK_OK(edu_dma(&e, EDU_BUFFER, IOVA_A, 64, true));
	CHECK(module_stat("pinned_pages") == 1);

	/* The device file goes: everything goes. */
	edu_close(&e);
	CHECK(module_stat("pinned_pages") == 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(from_lib(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2)));
	CHECK(!(cmd & PCI_COMMAND_MASTER));
	edu_close(&e);
	buf_free(buf, EDU_BUFFER_SIZE);
}

/*
 * One thread's system call on the device file is stuck in a page fault
 * on its user buffer (userfaultfd); another must still get through.
 * STUCK_READ: a config read, then mmap() of a BAR (which holds mmap_lock,
 * which resolving the fault needs).  STUCK_IOCTL: GET_INFO with its
 * argument there, then UNBIND (which the driver's remove also does).
 */
enum stuck_kind { STUCK_READ, STUCK_IOCTL };

struct stuck {
	struct edu *e;
	enum stuck_kind kind;
	void *page;
	volatile bool through;
};

static void *stuck_call(void *arg)
{
	struct stuck *st = arg;
	int fd = iommufd_pci_fd(st->e->dev);

	if (st->kind == STUCK_READ)
		pread(fd, st->page, 4,
		      IOMMUFD_PCI_REGION_OFFSET(IOMMUFD_PCI_CONFIG_REGION));
	else
		ioctl(fd, IOMMUFD_PCI_GET_INFO, st->page);
	return NULL;
}

static void *other_call(void *arg)
{
	struct stuck *st = arg;
	size_t len;
	void *p;

	if (st->kind == STUCK_READ) {
		if (!iommufd_pci_mmap_bar(st->e->dev, IOMMUFD_PCI_BAR0_REGION,
					  &p, &len)) {
			st->through = true;
			iommufd_pci_munmap_bar(st->e->dev, p, len);
		}
	} else if (!iommufd_pci_unbind(st->e->dev)) {
		st->through = true;
	}
	return NULL;
}

/* In a child: 0 if the other call went through within 2 s. */
static int stuck_child(enum stuck_kind kind)
{
	struct stuck st = { .kind = kind };
	pthread_t stuck_th, other_th;
	int fd, uffd, i;
	char *zero;
	struct edu e;
	__u32 dev_id;
	bool in_time;

	fd = dev_iommu_open();
	uffd = uffd_page(&st.page);
	zero = calloc(1, PAGE_SIZE);
	if (fd < 0 || uffd < 0 || !zero)
		return 2;
	if (edu_open(&e, lone_edu) || iommufd_pci_bind(e.dev, fd, &dev_id))
		return 3;

	st.e = &e;
	pthread_create(&stuck_th, NULL, stuck_call, &st);
	if (uffd_wait_fault(uffd, 5000))
		return 4;
	/* The first call is inside the kernel, in the fault. */
	pthread_create(&other_th, NULL, other_call, &st);
	for (i = 0; i < 200 && !st.through; i++)
		usleep(10000);
	in_time = st.through;
	if (!in_time)
		printf("# the second call waits for the one stuck in a fault\n");
	if (kind == STUCK_IOCTL)	/* a plausible GET_INFO argument */
		*(__u32 *)zero = sizeof(struct iommufd_pci_device_info);
	uffd_resolve(uffd, st.page, zero);
	pthread_join(stuck_th, NULL);
	pthread_join(other_th, NULL);
	edu_close(&e);
	return in_time ? 0 : 1;
}

/* Run stuck_child() in a child; a deadlock gets it killed after 10 s. */
static int run_stuck_child(enum stuck_kind kind)
{
	int status = -1, i;
	pid_t pid;

	pid = fork_flushed();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(stuck_child(kind));
	for (i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 1000) {
		tap_diag("the child is stuck: killing it");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		tap_diag("child status %#x", status);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

TEST(mmap_not_blocked_by_stuck_user_copy)
{
	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(run_stuck_child(STUCK_READ));
}

/* A stuck ioctl argument must not hold up unbind (or the driver's remove). */
TEST(unbind_not_blocked_by_stuck_ioctl_argument)
{
	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(run_stuck_child(STUCK_IOCTL));
}

/*
 * The driver goes away while its device file is open and bound: the
 * device is unbound at once (DMA blocked, MMIO gone), the file answers
 * ENODEV, and closing it later is safe (the file keeps the driver's
 * per-device state alive).
 */
TEST(driver_removed_under_open_file)
{
	__u32 dev_id, pt, ioas;
	struct edu e;
	size_t len;
	void *p;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	pt = ioas;
	CHECK_OK(iommufd_pci_attach(e.dev, &pt));
	CHECK_OK(edu_enable(&e));

	CHECK_OK(from_lib(iommufd_pci_driver_unbind(lone_edu)));
	CHECK_ERRNO(from_lib(iommufd_pci_detach(e.dev)), ENODEV);
	CHECK_ERRNO(from_lib(iommufd_pci_mmap_bar(e.dev, IOMMUFD_PCI_BAR0_REGION,
						  &p, &len)), ENODEV);
	/* The device and its automatic HWPT left the iommufd. */
	CHECK_ERRNO(iommu_destroy(fd, dev_id), ENOENT);
	CHECK_OK(iommu_destroy(fd, ioas));
	edu_close(&e);		/* its BAR mapping was already revoked */
	close(fd);
	/* Back to the driver for the tests that follow. */
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
}

/*
 * UNBIND leaves config space as BIND found it: the device's registers
 * (the cache line size) and the view of the virtual ones (the interrupt
 * line).
 */
TEST(unbind_restores_config)
{
	__u8 line0, line, cls0, cls, v = 0x5a, c = 0x10;
	__u32 dev_id;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_INTERRUPT_LINE, &line0, 1));
	CHECK_OK(hw_config_read(lone_edu, PCI_CACHE_LINE_SIZE, &cls0, 1));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	if (line0 == v)
		v = 0xa5;
	if (cls0 == c)
		c = 0x08;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_INTERRUPT_LINE, &v, 1));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_INTERRUPT_LINE, &line, 1));
	CHECK(line == v);
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_CACHE_LINE_SIZE, &c, 1));
	CHECK_OK(hw_config_read(lone_edu, PCI_CACHE_LINE_SIZE, &cls, 1));
	CHECK(cls == c);
	CHECK_OK(iommufd_pci_unbind(e.dev));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_INTERRUPT_LINE, &line, 1));
	CHECK(line == line0);
	CHECK_OK(hw_config_read(lone_edu, PCI_CACHE_LINE_SIZE, &cls, 1));
	CHECK(cls == cls0);
	edu_close(&e);
	close(fd);
}

/*
 * Config space as VFIO-PCI shows it: BAR and ROM registers are the
 * user's copies (they size like hardware and never reach the device),
 * the memory decode goes to the device and gates BAR access, bus
 * mastering is the user's.
 */
TEST(config_space_virtualized)
{
	__u32 bar0, hw0, hw_after, rom, ones = 0xffffffff, dev_id, v;
	uint64_t size;
	__u16 cmd, hw_cmd;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_BAR0_REGION, &size,
					 NULL, NULL));

	/* BAR sizing: all-ones in, the size mask out; the device's BAR stays. */
	CHECK_OK(hw_config_read(lone_edu, PCI_BASE_ADDRESS_0, &hw0, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0, &bar0, 4));
	CHECK((bar0 & ~0xfU) == (hw0 & ~0xfU));
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_BASE_ADDRESS_0, &ones, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0, &v, 4));
	CHECK((v & ~0xfU) == (__u32)~(size - 1));
	CHECK((v & 0xf) == (hw0 & 0xf));
	CHECK_OK(hw_config_read(lone_edu, PCI_BASE_ADDRESS_0, &hw_after, 4));
	CHECK(hw_after == hw0);
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_BASE_ADDRESS_0, &bar0, 4));
	/* A byte at a time, as some guests do. */
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_BASE_ADDRESS_0 + 3,
					  &ones, 1));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0, &v, 4));
	CHECK((v >> 24) == ((__u32)~(size - 1) >> 24));
	/* Unimplemented BARs and the edu's missing ROM read 0, whatever is written. */
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_BASE_ADDRESS_0 + 8,
					  &ones, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0 + 8, &v, 4));
	CHECK(v == 0);
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_ROM_ADDRESS, &ones, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_ROM_ADDRESS, &rom, 4));
	CHECK(rom == 0);

	/* Bus mastering goes to the device; INTx disable is the user's copy. */
	cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(cmd == (PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &hw_cmd, 2));
	CHECK((hw_cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) ==
	      PCI_COMMAND_MEMORY);
	cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &hw_cmd, 2));
	CHECK(hw_cmd & PCI_COMMAND_MASTER);
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);

	edu_close(&e);
	close(fd);
}

struct churn {
	struct edu *e;
	int iommufd;
	volatile bool stop;
	int binds, reads, touches, sigbus;
};

static __thread sigjmp_buf churn_jmp;

static void churn_sigbus(int sig)
{
	(void)sig;
	siglongjmp(churn_jmp, 1);
}

/* Bind and unbind, 100 times, while the others work on the device. */
static void *churn_bind(void *arg)
{
	struct churn *c = arg;
	__u32 dev_id;
	int i;

	for (i = 0; i < 100; i++) {
		if (iommufd_pci_bind(c->e->dev, c->iommufd, &dev_id))
			continue;
		c->binds++;
		iommufd_pci_unbind(c->e->dev);
	}
	c->stop = true;
	return NULL;
}

/* Information and config reads, whatever the binding is. */
static void *churn_read(void *arg)
{
	struct churn *c = arg;
	__u16 vendor;

	while (!c->stop)
		if (!iommufd_pci_config_read(c->e->dev, 0, &vendor, 2) &&
		    vendor == EDU_VENDOR)
			c->reads++;
	return NULL;
}

/* mmap BAR0 when allowed and touch it: a value, or SIGBUS once unbound. */
static void *churn_touch(void *arg)
{
	struct churn *c = arg;
	volatile uint32_t *regs;
	size_t len;
	void *p;

	while (!c->stop) {
		if (iommufd_pci_mmap_bar(c->e->dev, IOMMUFD_PCI_BAR0_REGION,
					 &p, &len))
			continue;
		regs = p;
		if (!sigsetjmp(churn_jmp, 1)) {
			if (regs[EDU_ID / 4] == 0x010000ed)
				c->touches++;
		} else {
			c->sigbus++;
		}
		iommufd_pci_munmap_bar(c->e->dev, p, len);
	}
	return NULL;
}

/*
 * Bind/unbind, config reads and BAR faults on one device from three
 * threads at once: every access either works or gets SIGBUS, the kernel
 * log stays clean (the harness checks), and the device works after.
 */
TEST(bind_map_and_read_concurrently)
{
	struct sigaction sa = { .sa_handler = churn_sigbus };
	struct churn c = { 0 };
	pthread_t th[3];
	__u32 dev_id;
	struct edu e;
	int i;

	if (!lone_edu[0])
		SKIP("no edu device");
	c.iommufd = dev_iommu_open();
	CHECK(c.iommufd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	c.e = &e;
	sigemptyset(&sa.sa_mask);
	CHECK_OK(sigaction(SIGBUS, &sa, NULL));
	CHECK(!pthread_create(&th[0], NULL, churn_bind, &c));
	CHECK(!pthread_create(&th[1], NULL, churn_read, &c));
	CHECK(!pthread_create(&th[2], NULL, churn_touch, &c));
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	signal(SIGBUS, SIG_DFL);
	tap_diag("%d binds, %d config reads, %d BAR reads, %d SIGBUS",
		 c.binds, c.reads, c.touches, c.sigbus);
	CHECK(c.binds == 100 && c.reads > 0);

	/* Still a working device. */
	CHECK_OK(iommufd_pci_bind(e.dev, c.iommufd, &dev_id));
	CHECK_OK(edu_enable(&e));
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	edu_close(&e);
	close(c.iommufd);
}

/* The driver speaks VFIO's device ioctls: same numbers, layouts, flags. */
TEST(uapi_matches_vfio)
{
	CHECK(IOMMUFD_PCI_GET_INFO == VFIO_DEVICE_GET_INFO);
	CHECK(IOMMUFD_PCI_GET_REGION_INFO == VFIO_DEVICE_GET_REGION_INFO);
	CHECK(IOMMUFD_PCI_GET_IRQ_INFO == VFIO_DEVICE_GET_IRQ_INFO);
	CHECK(IOMMUFD_PCI_SET_IRQS == VFIO_DEVICE_SET_IRQS);
	CHECK(IOMMUFD_PCI_RESET == VFIO_DEVICE_RESET);
	/* 6.1's vfio_device_info ends at cap_offset; later ones add a pad. */
	CHECK(offsetof(struct iommufd_pci_device_info, num_irqs) ==
	      offsetof(struct vfio_device_info, num_irqs) &&
	      offsetof(struct iommufd_pci_device_info, cap_offset) ==
	      offsetof(struct vfio_device_info, cap_offset));
	CHECK(sizeof(struct iommufd_pci_region_info) ==
	      sizeof(struct vfio_region_info));
	CHECK(sizeof(struct iommufd_pci_irq_info) ==
	      sizeof(struct vfio_irq_info));
	CHECK(sizeof(struct iommufd_pci_irq_set) ==
	      sizeof(struct vfio_irq_set));
	CHECK(IOMMUFD_PCI_INFO_FLAG_RESET == VFIO_DEVICE_FLAGS_RESET &&
	      IOMMUFD_PCI_INFO_FLAG_PCI == VFIO_DEVICE_FLAGS_PCI);
	CHECK(IOMMUFD_PCI_IRQ_INFO_EVENTFD == VFIO_IRQ_INFO_EVENTFD &&
	      IOMMUFD_PCI_IRQ_INFO_MASKABLE == VFIO_IRQ_INFO_MASKABLE &&
	      IOMMUFD_PCI_IRQ_INFO_AUTOMASKED == VFIO_IRQ_INFO_AUTOMASKED &&
	      IOMMUFD_PCI_IRQ_INFO_NORESIZE == VFIO_IRQ_INFO_NORESIZE);
	CHECK(IOMMUFD_PCI_IRQ_SET_DATA_TYPE_MASK == VFIO_IRQ_SET_DATA_TYPE_MASK &&
	      IOMMUFD_PCI_IRQ_SET_ACTION_TYPE_MASK ==
		      VFIO_IRQ_SET_ACTION_TYPE_MASK &&
	      IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD == VFIO_IRQ_SET_DATA_EVENTFD &&
	      IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK == VFIO_IRQ_SET_ACTION_UNMASK);
	/* (int): the two headers' enums are different types. */
	CHECK((int)IOMMUFD_PCI_INTX_IRQ_INDEX == (int)VFIO_PCI_INTX_IRQ_INDEX &&
	      (int)IOMMUFD_PCI_MSI_IRQ_INDEX == (int)VFIO_PCI_MSI_IRQ_INDEX &&
	      (int)IOMMUFD_PCI_MSIX_IRQ_INDEX == (int)VFIO_PCI_MSIX_IRQ_INDEX &&
	      (int)IOMMUFD_PCI_NUM_IRQS == (int)VFIO_PCI_NUM_IRQS);
	CHECK((int)IOMMUFD_PCI_CONFIG_REGION ==
		      (int)VFIO_PCI_CONFIG_REGION_INDEX &&
	      (int)IOMMUFD_PCI_NUM_REGIONS == (int)VFIO_PCI_NUM_REGIONS);
}

TEST(irq_info_reported)
{
	uint32_t flags, nregions, nirqs, count;
	struct edu e;
	int efd, fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_device_info(e.dev, &flags, &nregions, &nirqs));
	CHECK(nirqs == IOMMUFD_PCI_NUM_IRQS);
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
				      &count, &flags));
	CHECK(count == 1);
	CHECK(flags == (IOMMUFD_PCI_IRQ_INFO_EVENTFD |
			IOMMUFD_PCI_IRQ_INFO_MASKABLE |
			IOMMUFD_PCI_IRQ_INFO_AUTOMASKED));
	/* The edu has one MSI vector and no MSI-X (see msix_signals_eventfd). */
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX,
				      &count, &flags));
	CHECK(count == 1);
	CHECK(flags == (IOMMUFD_PCI_IRQ_INFO_EVENTFD |
			IOMMUFD_PCI_IRQ_INFO_NORESIZE));
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX,
				      &count, NULL));
	CHECK(count == 0);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_NUM_IRQS,
						  &count, NULL)), EINVAL);

	/* Nothing to set before bind. */
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &efd)),
		    EINVAL);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK(!irq_listed(lone_edu));
	close(efd);
	edu_close(&e);
	close(fd);
}

TEST(msi_signals_eventfd)
{
	struct edu e;
	int efd, fd, i, cap;
	uint64_t n = 0;
	uint16_t flags, hw_flags;
	uint32_t addr, addr2, hw_addr;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_MSI_IRQ_INDEX, &efd));
	CHECK(irq_listed(lone_edu));
	/*
	 * The kernel enabled MSI; the user's capability is a virtual copy
	 * (a VMM emulates MSI on it): writes land there, not in the device.
	 */
	cap = find_cap(&e, PCI_CAP_ID_MSI);
	CHECK(cap);
	CHECK_OK(hw_config_read(lone_edu, cap + 2, &hw_flags, 2));
	CHECK(hw_flags & 1);
	CHECK_OK(hw_config_read(lone_edu, cap + 4, &hw_addr, 4));
	addr = 0xfee01000;
	CHECK_OK(iommufd_pci_config_write(e.dev, cap + 4, &addr, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, cap + 4, &addr2, 4));
	CHECK(addr2 == addr);
	CHECK_OK(hw_config_read(lone_edu, cap + 4, &addr2, 4));
	CHECK(addr2 == hw_addr);
	flags = 0;
	CHECK_OK(iommufd_pci_config_write(e.dev, cap + 2, &flags, 2));
	CHECK_OK(hw_config_read(lone_edu, cap + 2, &flags, 2));
	CHECK(flags == hw_flags);

	/* Each raise is one message: three raises, three signals. */
	for (i = 0; i < 3; i++) {
		e.regs[EDU_IRQ_RAISE / 4] = 1;
		n += eventfd_wait(efd, 2000);
		CHECK(e.regs[EDU_IRQ_STATUS / 4] == 1);
		e.regs[EDU_IRQ_ACK / 4] = 1;
	}
	CHECK(n == 3);
	/* The loopback fires the eventfd without the device. */
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER));
	CHECK(eventfd_wait(efd, 0) == 1);

	/* Off: the handler is gone and the device's raise signals nothing. */
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX));
	CHECK(!irq_listed(lone_edu));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 300) == 0);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_ERRNO(from_lib(iommufd_pci_irq_disable(e.dev,
						     IOMMUFD_PCI_MSI_IRQ_INDEX)),
		    EINVAL);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* The device's own DMA-completion interrupt, through the IOMMU. */
TEST(dma_completion_interrupt)
{
	struct edu e;
	int efd, fd, i;
	__u32 ioas;
	char *buf;

	if (!lone_edu[0])
		SKIP("no edu device");
	buf = dma_buffer();
	CHECK(buf);
	CHECK_OK(irq_setup(&e, &fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_A));
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX,
					      0, 1, &efd));

	for (i = 0; i < 64; i++)
		buf[i] = (char)(i + 3);
	reg64(&e, EDU_DMA_SRC, IOVA_A);
	reg64(&e, EDU_DMA_DST, EDU_BUFFER);
	reg64(&e, EDU_DMA_CNT, 64);
	e.regs[EDU_DMA_CMD / 4] = EDU_CMD_START | EDU_CMD_IRQ;
	/* No polling of the device: the interrupt says it is done. */
	CHECK(eventfd_wait(efd, 5000) == 1);
	CHECK(!(e.regs[EDU_DMA_CMD / 4] & EDU_CMD_START));
	CHECK(e.regs[EDU_IRQ_STATUS / 4] == EDU_IRQ_DMA);
	e.regs[EDU_IRQ_ACK / 4] = EDU_IRQ_DMA;
	memset(buf, 0, 64);
	CHECK_OK(edu_store(&e, IOVA_A, 64));
	for (i = 0; i < 64; i++)
		if (buf[i] != (char)(i + 3))
			break;
	CHECK(i == 64);

	close(efd);
	edu_close(&e);
	close(fd);
	buf_free(buf, EDU_BUFFER_SIZE);
}

/* INTx: masked when it fires, until the user services and unmasks. */
TEST(intx_automasked)
{
	struct edu e;
	int efd, fd;
	uint16_t cmd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_INTX_IRQ_INDEX, &efd));
	CHECK(irq_listed(lone_edu));

	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);
	/* Masked in the device: more raises signal nothing, and a command
	 * write with the user's INTx-disable bit clear does not unmask. */
	e.regs[EDU_IRQ_RAISE / 4] = 2;
	cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);
	CHECK(eventfd_wait(efd, 300) == 0);
	/* Unmasked with the line still up: it signals again, stays masked. */
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	CHECK(eventfd_wait(efd, 2000) == 1);
	/* Serviced, then unmasked: quiet until the next raise. */
	e.regs[EDU_IRQ_ACK / 4] = 3;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	CHECK(eventfd_wait(efd, 300) == 0);
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(!(cmd & PCI_COMMAND_INTX_DISABLE));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	/* The user's own mask holds the line too. */
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_MASK));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 300) == 0);
	e.regs[EDU_IRQ_ACK / 4] = 1;

	/* One index at a time. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &efd)),
		    EINVAL);
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX));
	CHECK(!irq_listed(lone_edu));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* SET_IRQS of one eventfd (-1: none) for vectors [start, start+count). */
static int irq_fd_action(struct edu *e, uint32_t index, uint32_t start,
			 uint32_t count, uint32_t action, int32_t efd)
{
	struct {
		struct iommufd_pci_irq_set hdr;
		int32_t fd[2];
	} req;

	memset(&req, 0, sizeof(req));
	req.hdr.argsz = sizeof(req);
	req.hdr.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD | action;
	req.hdr.index = index;
	req.hdr.start = start;
	req.hdr.count = count;
	req.fd[0] = efd;
	req.fd[1] = efd;
	return ioctl(iommufd_pci_fd(e->dev), IOMMUFD_PCI_SET_IRQS, &req);
}

static int intx_unmask_fd(struct edu *e, int32_t efd)
{
	return irq_fd_action(e, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
			     IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, efd);
}

static void efd_write(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Is the device's INTx-disable bit clear within @ms (the unmask is async)? */
static bool intx_open_within(int ms)
{
	uint16_t cmd;

	for (;;) {
		if (hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2))
			return false;
		if (!(cmd & PCI_COMMAND_INTX_DISABLE))
			return true;
		if (ms <= 0)
			return false;
		usleep(10000);
		ms -= 10;
	}
}

/* Raise the edu's INTx; true when it was signalled and left masked. */
static bool intx_fires_and_masks(struct edu *e, int efd)
{
	e->regs[EDU_IRQ_RAISE / 4] = 1;
	if (eventfd_wait(efd, 2000) != 1)
		return false;
	e->regs[EDU_IRQ_ACK / 4] = 1;
	return !intx_open_within(0);
}

/*
 * VFIO's irqfd-style INTx unmask (what QEMU with KVM sets up): an eventfd
 * that, when written, unmasks INTx as UNMASK does.
 */
TEST(intx_unmask_eventfd)
{
	int efd, ufd, ufd2, fd, null_fd, bad = 9999;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_setup(&e, &fd, NULL));
	efd = eventfd(0, EFD_CLOEXEC);
	ufd = eventfd(0, EFD_CLOEXEC);
	ufd2 = eventfd(0, EFD_CLOEXEC);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(efd >= 0 && ufd >= 0 && ufd2 >= 0 && null_fd >= 0);
	/* Only with INTx enabled. */
	CHECK_ERRNO(intx_unmask_fd(&e, ufd), EINVAL);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	/* Vector 0 alone; an open eventfd; no mask eventfd; INTx only. */
	CHECK_ERRNO(irq_fd_action(&e, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 0,
				  IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, ufd),
		    EINVAL);
	CHECK_ERRNO(irq_fd_action(&e, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 2,
				  IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, ufd),
		    EINVAL);
	CHECK_ERRNO(irq_fd_action(&e, IOMMUFD_PCI_INTX_IRQ_INDEX, 1, 1,
				  IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, ufd),
		    EINVAL);
	CHECK_ERRNO(intx_unmask_fd(&e, bad), EBADF);
	CHECK_ERRNO(intx_unmask_fd(&e, null_fd), EINVAL);
	CHECK_ERRNO(irq_fd_action(&e, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
				  IOMMUFD_PCI_IRQ_SET_ACTION_MASK, ufd),
		    ENOTTY);
	CHECK_ERRNO(irq_fd_action(&e, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1,
				  IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, ufd),
		    ENOTTY);
	/* None of that registered anything: writing ufd unmasks nothing. */
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd);
	CHECK(!intx_open_within(300));
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	CHECK(intx_open_within(0));
	eventfd_wait(ufd, 0);

	/* Registered (one at a time, as VFIO): a write unmasks. */
	CHECK_OK(intx_unmask_fd(&e, ufd));
	CHECK_ERRNO(intx_unmask_fd(&e, ufd2), EBUSY);
	CHECK(intx_fires_and_masks(&e, efd));
	CHECK(eventfd_wait(efd, 300) == 0);
	efd_write(ufd);
	CHECK(intx_open_within(2000));
	/* A second interrupt gets through, and a second write opens it. */
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd);
	CHECK(intx_open_within(2000));
	/* Written with the line still raised: signalled again, masked. */
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	efd_write(ufd);
	CHECK(eventfd_wait(efd, 2000) == 1);
	CHECK(!intx_open_within(0));
	e.regs[EDU_IRQ_ACK / 4] = 1;
	efd_write(ufd);
	CHECK(intx_open_within(2000));

	/* -1 unregisters: the old eventfd no longer unmasks. */
	CHECK_OK(intx_unmask_fd(&e, -1));
	CHECK_OK(intx_unmask_fd(&e, -1));	/* none: nothing to do */
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd);
	CHECK(!intx_open_within(300));
	/* Registered again while already signalled: it unmasks at once. */
	CHECK_OK(intx_unmask_fd(&e, ufd));
	CHECK(intx_open_within(2000));

	/* Disabling INTx tears it down: a new one can be registered, the
	 * old one's writes unmask nothing. */
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX));
	CHECK_ERRNO(intx_unmask_fd(&e, ufd), EINVAL);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd);
	CHECK(!intx_open_within(300));
	CHECK_OK(intx_unmask_fd(&e, ufd2));
	efd_write(ufd2);
	CHECK(intx_open_within(2000));
	/* A new INTx trigger keeps it. */
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd2);
	CHECK(intx_open_within(2000));
	/* Closing the eventfd unregisters it, as in VFIO: QEMU closes one
	 * and registers another. */
	close(ufd);
	close(ufd2);
	ufd = eventfd(0, EFD_CLOEXEC);
	CHECK(ufd >= 0);
	CHECK_OK(intx_unmask_fd(&e, ufd));
	CHECK_ERRNO(intx_unmask_fd(&e, efd), EBUSY);
	CHECK(intx_fires_and_masks(&e, efd));
	efd_write(ufd);
	CHECK(intx_open_within(2000));
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX));
	CHECK(!irq_listed(lone_edu));
	close(null_fd);
	close(ufd);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* An unmask eventfd goes with unbind and close: later writes do nothing. */
TEST(intx_unmask_eventfd_unbind_close)
{
	int efd, ufd, fd, round;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	ufd = eventfd(0, EFD_CLOEXEC);
	CHECK(ufd >= 0);
	for (round = 0; round < 2; round++) {
		eventfd_wait(ufd, 0);	/* nothing pending at registration */
		CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_INTX_IRQ_INDEX, &efd));
		CHECK_OK(intx_unmask_fd(&e, ufd));
		CHECK(intx_fires_and_masks(&e, efd));
		if (round == 0)
			CHECK_OK(iommufd_pci_unbind(e.dev));
		edu_close(&e);
		close(fd);
		close(efd);
		CHECK(!irq_listed(lone_edu));
		/* A stale write after the teardown touches nothing. */
		efd_write(ufd);
		usleep(100000);
		/* A new user: masked by the driver, not opened by ufd. */
		CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_INTX_IRQ_INDEX, &efd));
		CHECK(intx_fires_and_masks(&e, efd));
		efd_write(ufd);
		CHECK(!intx_open_within(300));
		CHECK_OK(intx_unmask_fd(&e, ufd));
		CHECK(intx_open_within(2000));
		CHECK_OK(iommufd_pci_irq_disable(e.dev,
						 IOMMUFD_PCI_INTX_IRQ_INDEX));
		edu_close(&e);
		close(fd);
		close(efd);
	}
	close(ufd);
}

/*
 * INTx's disable bit in the device is the kernel's: set while nobody
 * listens; the user's bit is a copy that masks the line.  A new eventfd
 * keeps the line's mask state.
 */
TEST(intx_disable_owned_and_trigger_swapped)
{
	int efd, efd2, none = -1, bad = 9999, fd;
	struct edu e;
	uint16_t cmd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_setup(&e, &fd, NULL));
	/* The user's bit is clear; the device's is set: nobody listens. */
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(!(cmd & PCI_COMMAND_INTX_DISABLE));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);
	/* MSI on and off again: INTx stays off at the device. */
	efd = eventfd(0, EFD_CLOEXEC);
	efd2 = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0 && efd2 >= 0);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);

	/*
	 * The user's INTx-disable bit masks the line as MASK does: while it
	 * is set neither the device nor an UNMASK gets a signal through;
	 * clearing it lets the raised line signal.
	 */
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	cmd |= PCI_COMMAND_INTX_DISABLE;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 300) == 0);
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	CHECK(eventfd_wait(efd, 300) == 0);
	cmd &= ~PCI_COMMAND_INTX_DISABLE;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(eventfd_wait(efd, 2000) == 1);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX));

	/* Fired and masked; a new eventfd, still masked; the old one rests. */
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd2));
	CHECK_OK(hw_config_read(lone_edu, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_INTX_DISABLE);
	CHECK(eventfd_wait(efd2, 300) == 0);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd2, 2000) == 1);
	CHECK(eventfd_wait(efd, 300) == 0);
	/* A bad fd changes nothing; -1 keeps INTx on with nobody told. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1, &bad)),
		    EBADF);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd2, 2000) == 1);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &none));
	CHECK(irq_listed(lone_edu));
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd2, 300) == 0);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX));
	CHECK(!irq_listed(lone_edu));
	close(efd2);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* Malformed SET_IRQS requests get precise errors and change nothing. */
TEST(irq_set_errors)
{
	struct {
		struct iommufd_pci_irq_set hdr;
		int32_t fd[2];
	} req;
	int efd, fd, null_fd, bad = 9999;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_setup(&e, &fd, NULL));
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(null_fd >= 0);

	memset(&req, 0, sizeof(req));
	req.hdr.argsz = sizeof(req);
	req.hdr.index = IOMMUFD_PCI_MSI_IRQ_INDEX;
	req.hdr.count = 1;
	req.fd[0] = efd;
	/* Two data types, two actions, an unknown flag, no flag. */
	req.hdr.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			IOMMUFD_PCI_IRQ_SET_DATA_BOOL |
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER;
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	req.hdr.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER |
			IOMMUFD_PCI_IRQ_SET_ACTION_MASK;
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	req.hdr.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER | (1 << 6);
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	req.hdr.flags = 0;
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	/* Data shorter than count says; more vectors than there are. */
	req.hdr.flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER;
	req.hdr.argsz = sizeof(req.hdr) + 2;
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	req.hdr.argsz = sizeof(req);
	req.hdr.count = 2;
	CHECK_ERRNO(ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req),
		    EINVAL);
	/* Indexes the edu does not have, and one past the last. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX, 0, 1, &efd)),
		    EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_NUM_IRQS, 0, 1, &efd)),
		    EINVAL);
	/* Not an open fd; open but not an eventfd. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &bad)),
		    EBADF);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &null_fd)),
		    EINVAL);
	CHECK(!irq_listed(lone_edu));
	/* MSI cannot be masked here; INTx loopback needs INTx enabled. */
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_ERRNO(from_lib(iommufd_pci_irq_action(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1,
			    IOMMUFD_PCI_IRQ_SET_ACTION_MASK)), ENOTTY);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_action(
			    e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX, 0, 1,
			    IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER)), EINVAL);
	/* A bad fd changes nothing: the old eventfd still hears the device. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &bad)),
		    EBADF);
	CHECK(irq_listed(lone_edu));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX));
	close(null_fd);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* Unbind and close free the interrupts; nothing signals afterwards. */
TEST(unbind_and_close_free_irqs)
{
	struct edu e;
	int efd, fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_MSI_IRQ_INDEX, &efd));
	CHECK(irq_listed(lone_edu));
	CHECK_OK(iommufd_pci_unbind(e.dev));
	CHECK(!irq_listed(lone_edu));
	edu_close(&e);
	close(fd);

	/* INTx left enabled by a closing process. */
	CHECK_OK(irq_setup(&e, &fd, NULL));
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK(irq_listed(lone_edu));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	edu_close(&e);
	close(fd);
	CHECK(!irq_listed(lone_edu));
	CHECK(eventfd_wait(efd, 300) == 0);
	close(efd);
	/* The edu was not reset (it cannot be): clear what it still raises. */
	CHECK_OK(irq_setup(&e, &fd, NULL));
	e.regs[EDU_IRQ_ACK / 4] = ~0U;
	CHECK(e.regs[EDU_IRQ_STATUS / 4] == 0);
	edu_close(&e);
	close(fd);
}

/* The e1000e's registers for making it interrupt (82574 manual). */
#define E1000_ICR 0x00c0	/* cause, write 1 to clear */
#define E1000_ICS 0x00c8	/* cause set */
#define E1000_IMS 0x00d0	/* mask set */
#define E1000_IMC 0x00d8	/* mask clear */
#define E1000_IVAR 0x00e4	/* cause -> MSI-X vector */
#define E1000_ICR_OTHER (1u << 24)
#define E1000_IVAR_OTHER_VEC0 (0x8u << 16)	/* "other": vector 0, valid */

/*
 * Have the e1000e raise its "other" cause on MSI-X vector 0 and clear it
 * again: what eventfd_wait() read from @efd within 2 s.
 */
static uint64_t e1000e_raise_other(struct edu *e, int efd)
{
	uint64_t n;

	e->regs[E1000_IVAR / 4] = E1000_IVAR_OTHER_VEC0;
	e->regs[E1000_IMS / 4] = E1000_ICR_OTHER;
	e->regs[E1000_ICS / 4] = E1000_ICR_OTHER;
	n = eventfd_wait(efd, 2000);
	e->regs[E1000_IMC / 4] = ~0U;
	e->regs[E1000_ICR / 4] = ~0U;
	return n;
}

/* MSI-X: the kernel programs the e1000e's table; its vector 0 signals. */
TEST(msix_signals_eventfd)
{
	uint32_t count, flags;
	struct edu e;
	int efd, fd;

	if (!e1000e[0])
		SKIP("no e1000e (MSI-X) device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, e1000e));
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX,
				      &count, &flags));
	CHECK(count >= 1);
	CHECK(flags == (IOMMUFD_PCI_IRQ_INFO_EVENTFD |
			IOMMUFD_PCI_IRQ_INFO_NORESIZE));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK(irq_listed(e1000e));
	/* One index at a time. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &efd)),
		    EINVAL);

	CHECK(e1000e_raise_other(&e, efd) >= 1);
	/*
	 * QEMU 7.2's e1000e aborts the whole VM when its interrupt
	 * throttling timer, armed by that interrupt, expires after MSI-X
	 * was turned off: let it expire first (it may signal once more).
	 */
	usleep(100000);
	while (eventfd_wait(efd, 0))
		;
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER));
	CHECK(eventfd_wait(efd, 0) == 1);

	/* Off: the device's cause reaches nobody. */
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX));
	CHECK(!irq_listed(e1000e));
	e.regs[E1000_IMS / 4] = E1000_ICR_OTHER;
	e.regs[E1000_ICS / 4] = E1000_ICR_OTHER;
	CHECK(eventfd_wait(efd, 300) == 0);
	e.regs[E1000_IMC / 4] = ~0U;
	e.regs[E1000_ICR / 4] = ~0U;
	close(efd);
	edu_close(&e);
	close(fd);
}

/*
 * MSI-X enabled while the user has Memory Space off: the kernel's writes
 * of the vector's table entry still reach the device (the driver turns
 * decode on for them), so once the user turns memory back on, the vector
 * signals.  The user's command register is as the user left it.
 */
TEST(msix_enabled_with_memory_decode_off)
{
	uint16_t cmd, off;
	struct edu e;
	int efd, fd;

	if (!e1000e[0])
		SKIP("no e1000e (MSI-X) device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, e1000e));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_MEMORY);
	off = cmd & ~PCI_COMMAND_MEMORY;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &off, 2));
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK(cmd == off);
	cmd = off | PCI_COMMAND_MEMORY;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));

	CHECK(e1000e_raise_other(&e, efd) >= 1);
	usleep(100000);	/* QEMU 7.2's throttling timer: see above */
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX));
	close(efd);
	edu_close(&e);
	close(fd);
}

/*
 * Have every CPU we may run on take the interrupts already sent to it.
 * An MSI the device sent just before MSI was disabled may still wait in
 * its target CPU's local APIC -- under TCG for milliseconds, while the
 * other vCPU runs this program -- and be taken once MSI is enabled again
 * on the same vector (the lowest free one, so most often): the new
 * handler signals it, one more than the device sent since.  Taken while
 * the old IRQ is torn down, the kernel drops it ("unexpected IRQ trap at
 * vector" on the console).  Nothing in the kernel waits for such a
 * message at free_irq() or pci_free_irq_vectors(), and vfio-pci frees in
 * the same order as we do.  A CPU this thread has run on, in user space
 * (interrupts on), has taken what was pending there.
 */
static void irqs_settle(void)
{
	unsigned long all[16] = { 0 }, one[16];
	unsigned int cpu;

	if (syscall(SYS_sched_getaffinity, 0, sizeof(all), all) < 0)
		return;
	for (cpu = 0; cpu < sizeof(all) * 8; cpu++) {
		if (!(all[cpu / 64] & 1UL << (cpu % 64)))
			continue;
		memset(one, 0, sizeof(one));
		one[cpu / 64] = 1UL << (cpu % 64);
		syscall(SYS_sched_setaffinity, 0, sizeof(one), one);
	}
	syscall(SYS_sched_setaffinity, 0, sizeof(all), all);
}

/*
 * MSI disabled with the device's message still on its way to a CPU, then
 * enabled again (most often on the same vector): once the CPUs have taken
 * what was pending, each raise is one signal -- none lost, none doubled.
 */
TEST(msi_reenabled_with_message_in_flight)
{
	unsigned int round, counts[3] = { 0 };
	struct edu e;
	int efd, fd;
	uint64_t n;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_listen(&e, &fd, IOMMUFD_PCI_MSI_IRQ_INDEX, &efd));
	for (round = 0; round < 1000; round++) {
		e.regs[EDU_IRQ_RAISE / 4] = 1;
		CHECK_OK(iommufd_pci_irq_disable(e.dev,
						 IOMMUFD_PCI_MSI_IRQ_INDEX));
		e.regs[EDU_IRQ_ACK / 4] = ~0U;
		irqs_settle();
		while (eventfd_wait(efd, 0))
			;
		CHECK_OK(iommufd_pci_irq_set_eventfds(
			e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1, &efd));
		e.regs[EDU_IRQ_RAISE / 4] = 1;
		n = eventfd_wait(efd, 2000);
		counts[n < 2 ? n : 2]++;
		e.regs[EDU_IRQ_ACK / 4] = ~0U;
	}
	if (counts[1] != 1000)
		tap_diag("signals per raise after re-enable: 0: %u, 1: %u, more: %u",
			 counts[0], counts[1], counts[2]);
	CHECK(counts[1] == 1000);
	close(efd);
	edu_close(&e);
	close(fd);
}

/*
 * Random SET_IRQS requests (flags, index, range, size, fds) mixed with
 * device interrupts, unbinds and rebinds: only the documented errors,
 * no kernel warning, nothing left behind, a working device after.
 */
TEST(irq_requests_fuzzed)
{
	struct {
		struct iommufd_pci_irq_set hdr;
		int32_t fd[3];
	} req;
	int fds[4], efd, fd, i, rc, bad = 9999;
	unsigned int seed = 12345, ok = 0;
	__u32 ioas, pt;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(irq_setup(&e, &fd, NULL));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(efd >= 0);
	fds[0] = efd;
	fds[1] = -1;
	fds[2] = bad;
	fds[3] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(fds[3] >= 0);
	for (i = 0; i < 3000; i++) {
		unsigned int r = rand_r(&seed);

		static const uint32_t data[] = {
			IOMMUFD_PCI_IRQ_SET_DATA_NONE,
			IOMMUFD_PCI_IRQ_SET_DATA_BOOL,
			IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD,
			IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD,
		};
		static const uint32_t action[] = {
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER,
			IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER,
			IOMMUFD_PCI_IRQ_SET_ACTION_MASK,
			IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK,
		};

		/* Mostly well-formed, so that the state keeps changing. */
		memset(&req, 0, sizeof(req));
		req.hdr.flags = data[r % 4] | action[(r >> 2) % 4];
		if (!(r % 37))
			req.hdr.flags = rand_r(&seed) & 0x7f;
		req.hdr.index = (r >> 4) % 8 < 4 ? IOMMUFD_PCI_INTX_IRQ_INDEX :
				(r >> 4) % 8 < 7 ? IOMMUFD_PCI_MSI_IRQ_INDEX :
						   2 + rand_r(&seed) % 4;
		req.hdr.start = !((r >> 7) % 8);
		req.hdr.count = (r >> 10) % 8 < 5 ? 1 : (r >> 10) % 8 < 7 ? 0 : 2;
		req.hdr.argsz = sizeof(req) - (((r >> 13) % 9) ? 0 : 10);
		req.fd[0] = fds[(r >> 17) % 8 < 5 ? 0 : (r >> 17) % 4];
		req.fd[1] = fds[(r >> 20) % 4];
		rc = ioctl(iommufd_pci_fd(e.dev), IOMMUFD_PCI_SET_IRQS, &req)
			? -errno : 0;
		/* EBUSY: a second unmask eventfd. */
		if (rc && rc != -EINVAL && rc != -EBADF && rc != -ENOTTY &&
		    rc != -EBUSY) {
			tap_diag("request %d (flags %#x index %u start %u count %u argsz %u): %s",
				 i, req.hdr.flags, req.hdr.index, req.hdr.start,
				 req.hdr.count, req.hdr.argsz, strerror(-rc));
			CHECK(0);
		}
		ok += !rc;
		/* The device raises and is serviced now and then. */
		r = rand_r(&seed);
		if (!(r % 4))
			e.regs[EDU_IRQ_RAISE / 4] = 1;
		if (!((r >> 2) % 4)) {
			e.regs[EDU_IRQ_ACK / 4] = ~0U;
			iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX,
					       0, 1,
					       IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK);
		}
		/* And now and then it is unbound with whatever is enabled. */
		if (!((r >> 4) % 200)) {
			if (e.regs)
				iommufd_pci_munmap_bar(e.dev, (void *)e.regs,
						       e.regs_len);
			e.regs = NULL;
			CHECK_OK(iommufd_pci_unbind(e.dev));
			CHECK(!irq_listed(lone_edu));
			CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
			CHECK_OK(edu_enable(&e));
			CHECK_OK(ioas_alloc(fd, &ioas));
			pt = ioas;
			CHECK_OK(iommufd_pci_attach(e.dev, &pt));
		}
	}
	tap_diag("%u of 3000 requests accepted", ok);
	CHECK(ok > 200);	/* 420 with this seed */
	iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_INTX_IRQ_INDEX);
	iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX);
	CHECK(!irq_listed(lone_edu));
	e.regs[EDU_IRQ_ACK / 4] = ~0U;

	/*
	 * Still a working device: one raise, one signal of the drained
	 * eventfd.  What the loop's last raises sent is taken (and dropped
	 * with the disabled vector) first.
	 */
	irqs_settle();
	while (eventfd_wait(efd, 0))
		;
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSI_IRQ_INDEX,
					      0, 1, &efd));
	e.regs[EDU_IRQ_RAISE / 4] = 1;
	CHECK(eventfd_wait(efd, 2000) == 1);
	e.regs[EDU_IRQ_ACK / 4] = 1;
	close(fds[3]);
	close(efd);
	edu_close(&e);
	close(fd);
}

/* Attach @e to a new IOAS with @src at IOVA_A and @dst at IOVA_B; copy. */
static int dma_round_trip(struct edu *e, int fd, char *src, char *dst)
{
	__u32 ioas, pt;

	if (ioas_alloc(fd, &ioas))
		return -1;
	pt = ioas;
	if (from_lib(iommufd_pci_attach(e->dev, &pt)) ||
	    ioas_map_fixed(fd, ioas, src, EDU_BUFFER_SIZE, IOVA_A) ||
	    ioas_map_fixed(fd, ioas, dst, EDU_BUFFER_SIZE, IOVA_B) ||
	    edu_load(e, IOVA_A, EDU_DMA_MAX) || edu_store(e, IOVA_B, EDU_DMA_MAX))
		return -1;
	return 0;
}
/* The real-device path under the kernel's fault injection. */
static struct kfault_walk kwalk = { .step = -1 };

#define KSTEP(expr) KFAULT_STEP(&kwalk, expr)

static int dev_ioctl(int dfd, unsigned long req, void *arg)
{
	return ioctl(dfd, req, arg) ? -1 : 0;
}

/* A call of the scenario that the walk does not fail. */
#define UNARMED(expr)                                                   \
	do {                                                            \
		if ((expr) != 0)                                        \
			return __LINE__;                                \
	} while (0)

/*
 * What a VMM does with a device, one system call per step: bind, attach
 * to an IOAS (an automatic VT-d/AMD-Vi domain), map, an explicit domain
 * and a replace onto it, a partial unmap, detach, destroy.  The walk
 * fails the kernel's points in the IOAS, map, unmap, HWPT and destroy
 * calls (ours, GUP's, the IOMMU driver's page tables and domains), not in
 * those that change a group's domain or enable the device: 6.1's IOMMU
 * core WARNs by design when a driver fails to attach the blocking (or the
 * previous) domain, and the ACPI interpreter, evaluating _PRT as BIND
 * enables the device, was seen reading freed memory after an injected
 * allocation failure (KASAN) -- the kernel's frailties, not ours.  The
 * module's own fault points on those paths are walked by tests/faults.c.
 */
static int real_scenario(int fd, int dfd, char *buf)
{
	struct iommufd_pci_bind bind = { .argsz = sizeof(bind), .iommufd = fd };
	struct iommufd_pci_attach att = { .argsz = sizeof(att) };
	struct iommufd_pci_detach det = { .argsz = sizeof(det) };
	__u32 ioas, hwpt;

	UNARMED(dev_ioctl(dfd, IOMMUFD_PCI_BIND, &bind));
	KSTEP(ioas_alloc(fd, &ioas));
	att.pt_id = ioas;
	UNARMED(dev_ioctl(dfd, IOMMUFD_PCI_ATTACH, &att));
	KSTEP(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_A));
	KSTEP(hwpt_alloc(fd, bind.out_devid, ioas, 0, &hwpt));
	att.pt_id = hwpt;
	UNARMED(dev_ioctl(dfd, IOMMUFD_PCI_ATTACH, &att));
	KSTEP(ioas_map_fixed(fd, ioas, buf, EDU_BUFFER_SIZE, IOVA_B));
	KSTEP(ioas_unmap(fd, ioas, IOVA_A, EDU_BUFFER_SIZE, NULL));
	UNARMED(dev_ioctl(dfd, IOMMUFD_PCI_DETACH, &det));
	KSTEP(iommu_destroy(fd, hwpt));
	return 0;
}

/* One pass with step @step's @nth point failed; -1 on a defect. */
static int real_walk_once(int step, int nth, char *buf, int *line)
{
	struct iommufd_pci_dev *dev;
	int fd = dev_iommu_open();

	if (fd < 0 || from_lib(iommufd_pci_open(lone_edu, &dev)))
		return -1;
	kwalk = (struct kfault_walk){ .step = step, .nth = nth };
	*line = real_scenario(fd, iommufd_pci_fd(dev), buf);
	kwalk.step = -1;
	iommufd_pci_close(dev);
	close(fd);
	if (kwalk.broken || !module_all_released()) {
		tap_diag("step %d, kernel fault point %d (line %d): %ld objects, %ld pinned pages left%s",
			 step, nth, *line, module_stat("objects"),
			 module_stat("pinned_pages"),
			 kwalk.broken ? "; arming fail-nth failed" : "");
		return -1;
	}
	return 0;
}

/*
 * Every allocation, page allocation and user copy the kernel reaches in
 * each of those calls -- ours, the IOMMU core's and the VT-d driver's
 * page tables, GUP's -- fails in turn (the debug kernel only); each
 * failure unwinds, and the device still does DMA afterwards.
 */
TEST(kernel_failures_unwind_on_real_iommu)
{
	int step, nth, line, steps, total = 0, fd;
	char *buf, *dst;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	if (kfault_setup())
		SKIP("the kernel has no fault injection (Debian's kernels are built without it): the suite's debug-kernel VM runs this");
	buf = dma_buffer();
	CHECK(buf);
	CHECK_OK(real_walk_once(-1, 0, buf, &line));
	CHECK(line == 0);
	steps = kwalk.cur;
	for (step = 0; step < steps; step++) {
		for (nth = 1; nth < 2000; nth++) {
			CHECK_OK(real_walk_once(step, nth, buf, &line));
			if (!kwalk.fired)
				break;
		}
		if (line)
			tap_diag("step %d: no injected failure, yet line %d failed",
				 step, line);
		CHECK(line == 0);
		CHECK(nth > 1);
		total += nth - 1;
	}
	kfault_teardown();
	tap_diag("%d kernel fault points over %d calls, each unwound", total,
		 steps);
	/* The device is whole: a fresh bind, map and DMA round trip. */
	dst = dma_buffer();
	CHECK(dst);
	memset(dst, 0, EDU_BUFFER_SIZE);
	buf_fill(buf, EDU_BUFFER_SIZE, 3);
	CHECK_OK(edu_bind_new(&e, &fd, NULL));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(dma_round_trip(&e, fd, buf, dst));
	CHECK(memcmp(buf, dst, EDU_DMA_MAX) == 0);
	edu_close(&e);
	close(fd);
	buf_free(buf, EDU_BUFFER_SIZE);
	buf_free(dst, EDU_BUFFER_SIZE);
}

/* ------------------------------------------- the module's fault points */

/*
 * The test build fails the N-th fault point (allocation, IRQ vector or
 * handler, BAR mapping, ...) of iommufd.ko and iommufd_pci.ko that this
 * process reaches (debugfs fail_nth).  Each PCI-driver call below is
 * walked: for N = 1, 2, ... a fresh device is brought to the state the
 * call needs, the call runs with the N-th point armed, and a failure must
 * be ENOMEM (or be absorbed by a fallback: the call works) and leave
 * nothing behind -- the module's objects and pins as
 * before, no IRQ, no MSI or MSI-X still enabled, the state the call was
 * to change unchanged -- and the same call must then work; closing
 * everything must leave the module at zero.  The walk of a call ends
 * when it reaches the N-th point no more.
 */

#define FP_REGION(i) ((off_t)IOMMUFD_PCI_REGION_OFFSET(i))
#define FP_MAX_POINTS 200
#define PCI_CAP_ID_MSIX 0x11
#define EDU_LIVENESS 0x04

/* One walk's device, iommufd and whatever its setup made. */
struct fp {
	const char *bdf;
	struct edu e;
	int fd;			/* the iommufd */
	__u32 dev_id, ioas, hwpt;
	int efd[2];
	char *src, *dst;	/* DMA buffers, the walk's */
};

enum fp_state { FP_OPEN, FP_BOUND, FP_ATTACHED };

/*
 * A call to walk.  @setup (optional) goes beyond @state; @call is the
 * system call under test (0, or -1 and errno); @clean says, after a
 * failure, that nothing of the call is left; @works, after a success,
 * that it did what it should.  @want: the errno the call gives with no
 * failure injected (0: none).  @min_points: how many points it has at
 * least (of iommufd_pci.ko's own, unless iommufd.ko's too are known).
 */
struct fp_op {
	const char *name;
	char *bdf;
	enum fp_state state;
	int (*setup)(struct fp *f);
	int (*call)(struct fp *f);
	int (*clean)(struct fp *f);
	int (*works)(struct fp *f);
	int want;
	int min_points;
};

static int fp_fail(const char *why)
{
	tap_diag("%s", why);
	return -1;
}

static int devfd_of(struct fp *f)
{
	return iommufd_pci_fd(f->e.dev);
}

/* Is MSI or MSI-X enabled in @bdf's own config space? */
static bool hw_msi_enabled(const char *bdf)
{
	uint8_t pos = 0, hdr[2];
	uint16_t flags;
	int n = 0;

	if (hw_config_read(bdf, PCI_CAP_LIST, &pos, 1))
		return true;
	while (pos && n++ < 48) {
		if (hw_config_read(bdf, pos, hdr, 2) ||
		    hw_config_read(bdf, pos + 2, &flags, 2))
			return true;
		if (hdr[0] == PCI_CAP_ID_MSI && (flags & 1))
			return true;
		if (hdr[0] == PCI_CAP_ID_MSIX && (flags & 0x8000))
			return true;
		pos = hdr[1];
	}
	return false;
}

/* Does sysfs list MSI or MSI-X vectors allocated for @bdf? */
static bool msi_irqs_listed(const char *bdf)
{
	char path[256];
	struct dirent *de;
	bool any = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	dir = opendir(path);
	if (!dir)
		return false;
	while ((de = readdir(dir)))
		any |= de->d_name[0] != '.';
	closedir(dir);
	return any;
}

/* No handler of ours, no vectors, MSI and MSI-X off at the device. */
static int fp_irqs_off(struct fp *f)
{
	if (irq_listed(f->bdf))
		return fp_fail("an IRQ handler of ours is still listed");
	if (msi_irqs_listed(f->bdf))
		return fp_fail("MSI/MSI-X vectors are still allocated");
	if (hw_msi_enabled(f->bdf))
		return fp_fail("MSI or MSI-X is still enabled at the device");
	return 0;
}

static int fp_bind(struct fp *f)
{
	struct iommufd_pci_bind b = { .argsz = sizeof(b), .iommufd = f->fd };

	if (ioctl(devfd_of(f), IOMMUFD_PCI_BIND, &b))
		return -1;
	f->dev_id = b.out_devid;
	return 0;
}

static int fp_attach_to(struct fp *f, __u32 pt_id)
{
	struct iommufd_pci_attach a = { .argsz = sizeof(a), .pt_id = pt_id };

	return ioctl(devfd_of(f), IOMMUFD_PCI_ATTACH, &a);
}

static int fp_detach(struct fp *f)
{
	struct iommufd_pci_detach d = { .argsz = sizeof(d) };

	return ioctl(devfd_of(f), IOMMUFD_PCI_DETACH, &d);
}

/* SET_IRQS with @count eventfds (or none: DATA_NONE) on @index. */
static int fp_set_irqs(struct fp *f, uint32_t index, uint32_t flags,
		       uint32_t count, const int *fds)
{
	struct {
		struct iommufd_pci_irq_set hdr;
		int32_t fd[2];
	} req;
	uint32_t i;

	memset(&req, 0, sizeof(req));
	req.hdr.argsz = sizeof(req);
	req.hdr.flags = flags;
	req.hdr.index = index;
	req.hdr.count = count;
	for (i = 0; fds && i < count && i < 2; i++)
		req.fd[i] = fds[i];
	return ioctl(devfd_of(f), IOMMUFD_PCI_SET_IRQS, &req);
}

static int fp_trigger(struct fp *f, uint32_t index, uint32_t count)
{
	return fp_set_irqs(f, index, IOMMUFD_PCI_IRQ_SET_DATA_NONE |
			   IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER, count, NULL);
}

static int fp_eventfds(struct fp *f, uint32_t index, uint32_t count)
{
	return fp_set_irqs(f, index, IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			   IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER, count, f->efd);
}

/* ---- BIND */

static int bind_clean(struct fp *f)
{
	__u16 cmd = PCI_COMMAND_MEMORY;

	/* Not bound: no ATTACH, no config write. */
	if (fp_attach_to(f, 0) != -1 || errno != EINVAL)
		return fp_fail("ATTACH after a failed BIND did not say EINVAL");
	if (pwrite(devfd_of(f), &cmd, 2,
		   FP_REGION(IOMMUFD_PCI_CONFIG_REGION) + PCI_COMMAND) != -1 ||
	    errno != EINVAL)
		return fp_fail("a config write after a failed BIND did not say EINVAL");
	return 0;
}

/* The device answers through its BAR: the edu's ID register. */
static int bar_works(struct fp *f)
{
	if (edu_enable(&f->e))
		return fp_fail("the BAR could not be mapped or decoded");
	if (f->e.regs[EDU_ID / 4] != 0x010000ed)
		return fp_fail("the edu's ID register reads wrong");
	return 0;
}

/* ---- ATTACH, replace, DETACH */

static int map_setup(struct fp *f)
{
	if (ioas_alloc(f->fd, &f->ioas) ||
	    ioas_map_fixed(f->fd, f->ioas, f->src, EDU_BUFFER_SIZE, IOVA_A) ||
	    ioas_map_fixed(f->fd, f->ioas, f->dst, EDU_BUFFER_SIZE, IOVA_B))
		return fp_fail("the IOAS could not be set up");
	return 0;
}

static int attach_call(struct fp *f)
{
	return fp_attach_to(f, f->ioas);
}

static int attach_clean(struct fp *f)
{
	if (fp_detach(f) != -1 || errno != EINVAL)
		return fp_fail("DETACH after a failed ATTACH did not say EINVAL");
	return 0;
}

/* The device copies src to dst through the IOMMU. */
static int dma_works(struct fp *f)
{
	buf_fill(f->src, EDU_BUFFER_SIZE, 5);
	memset(f->dst, 0, EDU_BUFFER_SIZE);
	if (!f->e.regs && edu_enable(&f->e))
		return fp_fail("the BAR could not be mapped");
	if (edu_load(&f->e, IOVA_A, EDU_DMA_MAX) ||
	    edu_store(&f->e, IOVA_B, EDU_DMA_MAX) ||
	    memcmp(f->src, f->dst, EDU_DMA_MAX))
		return fp_fail("the DMA round trip failed");
	return 0;
}

static int replace_setup(struct fp *f)
{
	if (map_setup(f) || attach_call(f) ||
	    hwpt_alloc(f->fd, f->dev_id, f->ioas, 0, &f->hwpt))
		return fp_fail("the replace could not be set up");
	return 0;
}

static int replace_call(struct fp *f)
{
	return fp_attach_to(f, f->hwpt);
}

/* Still attached (to one of the two: both map the buffers). */
static int replace_clean(struct fp *f)
{
	return dma_works(f);
}

static int detach_setup(struct fp *f)
{
	if (map_setup(f) || attach_call(f))
		return fp_fail("the attach could not be set up");
	return 0;
}

static int detach_works(struct fp *f)
{
	return attach_clean(f);
}

static int unbind_call(struct fp *f)
{
	return ioctl(devfd_of(f), IOMMUFD_PCI_UNBIND);
}

static int unbind_works(struct fp *f)
{
	return bind_clean(f);
}

/* ---- information */

static int get_info_call(struct fp *f)
{
	struct iommufd_pci_device_info i = { .argsz = sizeof(i) };

	return ioctl(devfd_of(f), IOMMUFD_PCI_GET_INFO, &i);
}

/* The region with a capability (the MSI-X BAR), else BAR0. */
static int region_info_call(struct fp *f)
{
	struct {
		struct iommufd_pci_region_info info;
		char caps[64];
	} r;
	uint32_t i;
	int rc = 0;

	for (i = 0; i <= IOMMUFD_PCI_BAR5_REGION; i++) {
		memset(&r, 0, sizeof(r));
		r.info.argsz = sizeof(r);
		r.info.index = i;
		rc = ioctl(devfd_of(f), IOMMUFD_PCI_GET_REGION_INFO, &r);
		if (rc || (r.info.flags & IOMMUFD_PCI_REGION_CAPS))
			break;
	}
	return rc;
}

static int irq_info_call(struct fp *f)
{
	struct iommufd_pci_irq_info i = {
		.argsz = sizeof(i), .index = IOMMUFD_PCI_MSI_IRQ_INDEX,
	};

	return ioctl(devfd_of(f), IOMMUFD_PCI_GET_IRQ_INFO, &i);
}

static int feature_call(struct fp *f)
{
	struct iommufd_pci_device_feature ft = {
		.argsz = sizeof(ft),
		.flags = IOMMUFD_PCI_FEATURE_PROBE | IOMMUFD_PCI_FEATURE_GET | 1,
	};

	return ioctl(devfd_of(f), IOMMUFD_PCI_DEVICE_FEATURE, &ft);
}

static int reset_call(struct fp *f)
{
	return ioctl(devfd_of(f), IOMMUFD_PCI_RESET);
}

/* ---- SET_IRQS */

static int msi_call(struct fp *f)
{
	return fp_eventfds(f, IOMMUFD_PCI_MSI_IRQ_INDEX, 1);
}

/* Our handler is in, and the loopback signals each eventfd once. */
static int irq_works(struct fp *f, uint32_t index, uint32_t count)
{
	uint32_t i;

	if (!irq_listed(f->bdf))
		return fp_fail("no handler of ours is listed");
	if (fp_trigger(f, index, count))
		return fp_fail("the loopback trigger failed");
	for (i = 0; i < count; i++)
		if (eventfd_wait(f->efd[i], 1000) != 1)
			return fp_fail("an eventfd was not signalled");
	return 0;
}

static int msi_works(struct fp *f)
{
	return irq_works(f, IOMMUFD_PCI_MSI_IRQ_INDEX, 1);
}

/* Two vectors: a failed request of the second frees the first. */
static int msix_call(struct fp *f)
{
	return fp_eventfds(f, IOMMUFD_PCI_MSIX_IRQ_INDEX, 2);
}

static int msix_works(struct fp *f)
{
	return irq_works(f, IOMMUFD_PCI_MSIX_IRQ_INDEX, 2);
}

static int intx_call(struct fp *f)
{
	return fp_eventfds(f, IOMMUFD_PCI_INTX_IRQ_INDEX, 1);
}

static int intx_works(struct fp *f)
{
	return irq_works(f, IOMMUFD_PCI_INTX_IRQ_INDEX, 1);
}

static int unmaskfd_setup(struct fp *f)
{
	if (intx_call(f))
		return fp_fail("INTx could not be enabled");
	return 0;
}

static int unmaskfd_call(struct fp *f)
{
	return fp_set_irqs(f, IOMMUFD_PCI_INTX_IRQ_INDEX,
			   IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
			   IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK, 1, &f->efd[1]);
}

/* Registered: a second one is refused until it is unregistered. */
static int unmaskfd_works(struct fp *f)
{
	if (unmaskfd_call(f) != -1 || errno != EBUSY)
		return fp_fail("a second unmask eventfd was not refused (EBUSY)");
	return intx_works(f);
}

static int req_call(struct fp *f)
{
	return fp_eventfds(f, IOMMUFD_PCI_REQ_IRQ_INDEX, 1);
}

static int req_works(struct fp *f)
{
	if (fp_trigger(f, IOMMUFD_PCI_REQ_IRQ_INDEX, 1) ||
	    eventfd_wait(f->efd[0], 1000) != 1)
		return fp_fail("the request eventfd was not signalled");
	return 0;
}

/* ---- read and write */

static int config_read_call(struct fp *f)
{
	uint8_t cfg[64];

	return pread(devfd_of(f), cfg, sizeof(cfg),
		     FP_REGION(IOMMUFD_PCI_CONFIG_REGION)) == sizeof(cfg) ?
		       0 : -1;
}

/* BIND left the memory decode on, as the device had it: turn it off. */
static int config_write_call(struct fp *f)
{
	__u16 cmd = 0;

	return pwrite(devfd_of(f), &cmd, 2,
		      FP_REGION(IOMMUFD_PCI_CONFIG_REGION) + PCI_COMMAND) == 2 ?
		       0 : -1;
}

/* The user's command register says what was written. */
static int config_write_works(struct fp *f)
{
	__u16 cmd = 0;

	if (iommufd_pci_config_read(f->e.dev, PCI_COMMAND, &cmd, 2) ||
	    (cmd & PCI_COMMAND_MEMORY))
		return fp_fail("the command register did not take the write");
	return 0;
}

/* As before the write: the memory decode still on. */
static int config_write_clean(struct fp *f)
{
	__u16 cmd = 0;

	if (iommufd_pci_config_read(f->e.dev, PCI_COMMAND, &cmd, 2) ||
	    !(cmd & PCI_COMMAND_MEMORY))
		return fp_fail("a failed config write changed the command register");
	return 0;
}

static int bar_setup(struct fp *f)
{
	__u16 cmd = PCI_COMMAND_MEMORY;

	return iommufd_pci_config_write(f->e.dev, PCI_COMMAND, &cmd, 2) ?
		       fp_fail("the memory decode could not be enabled") : 0;
}

static int bar_read_call(struct fp *f)
{
	uint32_t id = 0;

	if (pread(devfd_of(f), &id, 4, FP_REGION(IOMMUFD_PCI_BAR0_REGION)) != 4)
		return -1;
	if (id != 0x010000ed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* The edu's liveness register answers the complement of what it got. */
static int bar_write_call(struct fp *f)
{
	uint32_t v = 0x12345678;

	return pwrite(devfd_of(f), &v, 4, FP_REGION(IOMMUFD_PCI_BAR0_REGION) +
		      EDU_LIVENESS) == 4 ? 0 : -1;
}

static int bar_write_works(struct fp *f)
{
	uint32_t v = 0;

	if (pread(devfd_of(f), &v, 4, FP_REGION(IOMMUFD_PCI_BAR0_REGION) +
		  EDU_LIVENESS) != 4 || v != ~0x12345678u)
		return fp_fail("the liveness register did not take the write");
	return 0;
}

/* ---- hot reset (the edu pair behind the bridge, with the e1000) */

struct fp_hot_reset_info {
	struct iommufd_pci_hot_reset_info hdr;
	struct iommufd_pci_dependent_device dev[8];
};

static int hot_reset_info_call(struct fp *f)
{
	struct fp_hot_reset_info i;

	memset(&i, 0, sizeof(i));
	i.hdr.argsz = sizeof(i);
	if (ioctl(devfd_of(f), IOMMUFD_PCI_GET_HOT_RESET_INFO, &i))
		return -1;
	if (i.hdr.count != 3) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

static int hot_reset_call(struct fp *f)
{
	struct iommufd_pci_hot_reset r = { .argsz = sizeof(r) };

	return ioctl(devfd_of(f), IOMMUFD_PCI_HOT_RESET, &r);
}

/* ---- the walk */

static const struct fp_op fp_ops[] = {
	{ "BIND", lone_edu, FP_OPEN, NULL, fp_bind, bind_clean, bar_works,
	  0, 2 },
	{ "ATTACH (IOAS, automatic domain)", lone_edu, FP_BOUND, map_setup,
	  attach_call, attach_clean, dma_works, 0, 3 },
	{ "ATTACH (replace with a HWPT)", lone_edu, FP_BOUND, replace_setup,
	  replace_call, replace_clean, dma_works, 0, 0 },
	{ "DETACH", lone_edu, FP_BOUND, detach_setup, fp_detach, NULL,
	  detach_works, 0, 0 },
	{ "UNBIND", lone_edu, FP_BOUND, NULL, unbind_call, NULL, unbind_works,
	  0, 0 },
	{ "GET_INFO", lone_edu, FP_OPEN, NULL, get_info_call, NULL, NULL, 0,
	  0 },
	{ "GET_REGION_INFO (MSI-X BAR, with its capability)", e1000e, FP_OPEN,
	  NULL, region_info_call, NULL, NULL, 0, 0 },
	{ "GET_IRQ_INFO", lone_edu, FP_OPEN, NULL, irq_info_call, NULL, NULL,
	  0, 0 },
	{ "DEVICE_FEATURE", lone_edu, FP_BOUND, NULL, feature_call, NULL, NULL,
	  ENOTTY, 0 },
	{ "RESET (the edu has none)", lone_edu, FP_BOUND, NULL, reset_call,
	  NULL, NULL, EINVAL, 0 },
	{ "SET_IRQS MSI eventfd", lone_edu, FP_BOUND, NULL, msi_call,
	  fp_irqs_off, msi_works, 0, 5 },
	{ "SET_IRQS MSI-X eventfds (2 vectors)", e1000e, FP_BOUND, NULL,
	  msix_call, fp_irqs_off, msix_works, 0, 6 },
	{ "SET_IRQS INTx eventfd", lone_edu, FP_BOUND, NULL, intx_call,
	  fp_irqs_off, intx_works, 0, 3 },
	{ "SET_IRQS INTx unmask eventfd", lone_edu, FP_BOUND, unmaskfd_setup,
	  unmaskfd_call, NULL, unmaskfd_works, 0, 2 },
	{ "SET_IRQS request eventfd", lone_edu, FP_BOUND, NULL, req_call, NULL,
	  req_works, 0, 1 },
	{ "config read", lone_edu, FP_OPEN, NULL, config_read_call, NULL, NULL,
	  0, 1 },
	{ "config write", lone_edu, FP_BOUND, NULL, config_write_call,
	  config_write_clean, config_write_works, 0, 1 },
	{ "BAR0 read", lone_edu, FP_BOUND, bar_setup, bar_read_call, NULL,
	  NULL, 0, 1 },
	{ "BAR0 write", lone_edu, FP_BOUND, bar_setup, bar_write_call, NULL,
	  bar_write_works, 0, 1 },
	{ "GET_HOT_RESET_INFO", pair_edu[0], FP_BOUND, NULL,
	  hot_reset_info_call, NULL, NULL, 0, 2 },
	{ "HOT_RESET", pair_edu[0], FP_BOUND, NULL, hot_reset_call, NULL,
	  bar_works, 0, 1 },
};

/* A fresh iommufd and device, brought to @op's state (unarmed). */
static int fp_open(struct fp *f, const struct fp_op *op)
{
	f->bdf = op->bdf;
	f->fd = dev_iommu_open();
	f->efd[0] = eventfd(0, EFD_CLOEXEC);
	f->efd[1] = eventfd(0, EFD_CLOEXEC);
	if (f->fd < 0 || f->efd[0] < 0 || f->efd[1] < 0 ||
	    edu_open(&f->e, op->bdf))
		return fp_fail("the device could not be opened");
	if (op->state >= FP_BOUND && fp_bind(f))
		return fp_fail("the device could not be bound");
	if (op->setup && op->setup(f))
		return -1;
	return 0;
}

/* Close everything: nothing of the module may be left. */
static int fp_close(struct fp *f)
{
	if (f->e.dev)
		edu_close(&f->e);
	if (f->fd >= 0)
		close(f->fd);
	if (f->efd[0] >= 0)
		close(f->efd[0]);
	if (f->efd[1] >= 0)
		close(f->efd[1]);
	if (!module_all_released())
		return fp_fail("objects or pins left after close");
	if (fp_irqs_off(f))
		return fp_fail("interrupts left after close");
	return 0;
}

/* Points whose failure the call absorbed, in the walk of one call. */
static int fp_absorbed;

/* Did the call give what it gives unarmed? */
static int fp_as_wanted(const struct fp_op *op, int rc, int err)
{
	if (op->want ? rc == -1 && err == op->want : rc == 0)
		return 0;
	tap_diag("%s: returned %d, errno %d (%s); wanted %s", op->name, rc,
		 err, strerror(err), op->want ? strerror(op->want) : "success");
	return -1;
}

/*
 * Fail point @n of @op's call: 1 when it fired and was unwound, 0 when the
 * call reached fewer points (and worked), -1 on a defect.
 */
static int fp_walk_once(const struct fp_op *op, int n, struct fp *f)
{
	long objects, pinned;
	int rc, err, ret = -1;
	bool fired;
	char *src = f->src, *dst = f->dst;

	memset(f, 0, sizeof(*f));
	f->src = src;
	f->dst = dst;
	f->fd = -1;
	f->efd[0] = -1;
	f->efd[1] = -1;
	if (fp_open(f, op))
		goto out;
	objects = module_stat("objects");
	pinned = module_stat("pinned_pages");
	if (modfault_arm(n)) {
		fp_fail("cannot arm fail_nth");
		goto out;
	}
	errno = 0;
	rc = op->call(f);
	err = errno;
	fired = modfault_fired();
	modfault_arm(0);
	if (fired && rc == -1 && err == ENOMEM) {
		/* Unwound: nothing of the call is left, and it works now. */
		if (module_stat("objects") != objects ||
		    module_stat("pinned_pages") != pinned) {
			tap_diag("%s: objects %ld -> %ld, pinned pages %ld -> %ld",
				 op->name, objects, module_stat("objects"),
				 pinned, module_stat("pinned_pages"));
			goto out;
		}
		if (op->clean && op->clean(f))
			goto out;
		errno = 0;
		rc = op->call(f);
		err = errno;
	} else if (fired && rc) {
		tap_diag("%s: the failed point gave errno %d (%s), not ENOMEM",
			 op->name, err, strerror(err));
		goto out;
	} else if (fired) {
		/* A fallback took over (a pin retried later): it worked. */
		fp_absorbed++;
	}
	if (fp_as_wanted(op, rc, err) || (!rc && op->works && op->works(f)))
		goto out;
	ret = fired;
out:
	if (fp_close(f))
		ret = -1;
	if (ret < 0)
		tap_diag("%s: at fault point %d", op->name, n);
	return ret;
}

/* The points @op's call reaches, each failed and unwound; -1: a defect. */
static int fp_walk(const struct fp_op *op, char *src, char *dst)
{
	struct fp f = { .src = src, .dst = dst };
	int n, rc;

	fp_absorbed = 0;
	for (n = 1; n <= FP_MAX_POINTS; n++) {
		rc = fp_walk_once(op, n, &f);
		if (rc < 0)
			return -1;
		if (!rc)
			return n - 1;
	}
	tap_diag("%s: more than %d fault points", op->name, FP_MAX_POINTS);
	return -1;
}

/* Walk the ops on @bdf; returns the points walked, -1 on a defect. */
static int fp_walk_device(const char *bdf, char *src, char *dst)
{
	int total = 0, points;
	size_t i;

	for (i = 0; i < sizeof(fp_ops) / sizeof(fp_ops[0]); i++) {
		if (fp_ops[i].bdf != bdf)
			continue;
		points = fp_walk(&fp_ops[i], src, dst);
		if (points < 0)
			return -1;
		tap_diag("%s: %d fault points, each unwound", fp_ops[i].name,
			 points);
		if (fp_absorbed)
			tap_diag("  (%d of them absorbed by a fallback: the call still worked)",
				 fp_absorbed);
		if (points < fp_ops[i].min_points) {
			tap_diag("%s: fewer than the %d points it has", fp_ops[i].name,
				 fp_ops[i].min_points);
			return -1;
		}
		total += points;
	}
	return total;
}

/*
 * Every fault point of both modules along each PCI-driver call the suite
 * can drive on the lone edu and (MSI-X, region capability) the e1000e.
 */
TEST(module_failures_unwind_in_pci_calls)
{
	char *src, *dst;
	int total, more;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth: the production build (or selftest=0) has no fault injection");
	if (!lone_edu[0])
		SKIP("no edu device");
	src = dma_buffer();
	dst = dma_buffer();
	CHECK(src && dst);
	total = fp_walk_device(lone_edu, src, dst);
	CHECK(total > 0);
	if (e1000e[0]) {
		more = fp_walk_device(e1000e, src, dst);
		CHECK(more > 0);
		total += more;
	} else {
		tap_diag("no e1000e: MSI-X and region capabilities not walked");
	}
	tap_diag("%d fault points in all", total);
	buf_free(src, EDU_BUFFER_SIZE);
	buf_free(dst, EDU_BUFFER_SIZE);
}

/* The hot reset calls, with the whole bus the caller's. */
TEST(module_failures_unwind_in_hot_reset)
{
	int points;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth: the production build (or selftest=0) has no fault injection");
	if (!pair_edu[0][0] || !e1000[0])
		SKIP("no edu pair with an e1000 behind the bridge");
	CHECK_OK(rebind(e1000, "iommufd-pci"));
	CHECK_OK(from_lib(iommufd_pci_driver_bind(pair_edu[1])));
	points = fp_walk_device(pair_edu[0], NULL, NULL);
	CHECK_OK(rebind(e1000, "e1000"));
	CHECK(points > 0);
}

/* The N of @bdf's /dev/vfio/devices/vfioN; -1 when it has none. */
static int vfio_index(const char *bdf)
{
	char path[256];
	struct dirent *de;
	int n = -1;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4) && de->d_name[4] >= '0' &&
		    de->d_name[4] <= '9')
			n = atoi(de->d_name + 4);
	closedir(dir);
	return n;
}

/*
 * The driver's probe (a user's bind through sysfs): each point fails the
 * bind with ENOMEM and leaves the device driverless; the next bind works
 * and gets the same device number (none was leaked).
 */
TEST(module_failures_unwind_in_probe)
{
	const char *unbind = "/sys/bus/pci/drivers/iommufd-pci/unbind";
	const char *bind = "/sys/bus/pci/drivers/iommufd-pci/bind";
	int n, rc, err, fd, devno;
	struct edu e;
	char drv[64];
	bool fired;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth: the production build (or selftest=0) has no fault injection");
	if (!lone_edu[0])
		SKIP("no edu device");
	/* Ours, with the override naming us: unbind and bind again. */
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
	devno = vfio_index(lone_edu);
	CHECK(devno >= 0);
	for (n = 1; n <= FP_MAX_POINTS; n++) {
		CHECK_OK(sysfs_write(unbind, lone_edu));
		CHECK_OK(modfault_arm(n));
		errno = 0;
		rc = sysfs_write(bind, lone_edu);
		err = errno;
		fired = modfault_fired();
		CHECK_OK(modfault_arm(0));
		driver_of(lone_edu, drv, sizeof(drv));
		if (!fired) {
			CHECK_OK(rc);
			CHECK(!strcmp(drv, "iommufd-pci"));
			CHECK(vfio_index(lone_edu) == devno);
			break;
		}
		if (rc != -1 || err != ENOMEM)
			tap_diag("probe point %d: %d, errno %d (%s)", n, rc,
				 err, strerror(err));
		CHECK(rc == -1 && err == ENOMEM);
		CHECK(drv[0] == 0 && vfio_index(lone_edu) == -1);
		CHECK_OK(sysfs_write(bind, lone_edu));
		if (vfio_index(lone_edu) != devno)
			tap_diag("probe point %d: vfio%d after, vfio%d before", n,
				 vfio_index(lone_edu), devno);
		CHECK(vfio_index(lone_edu) == devno);
	}
	tap_diag("probe: %d fault points, each unwound", n - 1);
	/* The device, its config view (2), its number and its directory. */
	CHECK(n - 1 >= 5);
	/* Whole again: open, bind, the BAR answers. */
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(from_lib(iommufd_pci_bind(e.dev, fd, NULL)));
	CHECK_OK(edu_enable(&e));
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	edu_close(&e);
	close(fd);
}

int main(void)
{
	find_devices();
	return tap_run();
}
