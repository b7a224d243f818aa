// SPDX-License-Identifier: GPL-2.0
/*
 * The iommufd-pci driver as a VFIO device cdev: the names software
 * written for Linux's vfio-pci looks for, regions read and written like
 * VFIO's, the error and request notifications, hot resets and device
 * features -- each against what VFIO-PCI does (issue 10).  pci.c tests
 * the group rules, DMA and interrupts.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "pci_util.h"

#define REGION(i) ((off_t)IOMMUFD_PCI_REGION_OFFSET(i))
#define EDU_LIVENESS 0x04

/* An address no page backs. */
static void *bad_buffer(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int devfd(struct edu *e)
{
	return iommufd_pci_fd(e->dev);
}

/* The cdev's name under <bdf>/vfio-dev, and the device number sysfs gives. */
static int sysfs_cdev(const char *bdf, char *name, size_t n, dev_t *devt)
{
	char path[256], buf[32];
	unsigned int major, minor;
	struct dirent *d;
	int found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "vfio", 4) && !found++)
			snprintf(name, n, "%s", d->d_name);
	closedir(dir);
	snprintf(path, sizeof(path), "vfio-dev/%s/dev", name);
	if (found != 1 || sysfs_read(bdf, path, buf, sizeof(buf)) ||
	    sscanf(buf, "%u:%u", &major, &minor) != 2)
		return -1;
	*devt = makedev(major, minor);
	return 0;
}

/* -------------------------------------------------------------- names */

/*
 * /dev/vfio/devices/vfioN and <bdf>/vfio-dev/vfioN/dev, as QEMU's
 * host= and sysfsdev= look them up; root's alone; one opener.
 */
TEST(cdev_named_as_upstream)
{
	char name[64], path[128], lib_path[128];
	struct edu e, e2;
	struct stat st;
	dev_t devt;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(sysfs_cdev(lone_edu, name, sizeof(name), &devt));
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	CHECK_OK(stat(path, &st));
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == devt);
	CHECK((st.st_mode & 0777) == 0600 && st.st_uid == 0);
	CHECK_OK(iommufd_pci_cdev_path(lone_edu, lib_path, sizeof(lib_path)));
	CHECK(!strcmp(lib_path, path));
	CHECK_ERRNO(from_lib(iommufd_pci_cdev_path(lone_edu, lib_path, 8)),
		    ENAMETOOLONG);
	CHECK_ERRNO(edu_open(&e2, lone_edu), EBUSY);
	/* A device another driver has is no cdev of ours. */
	if (e1000[0])
		CHECK_ERRNO(from_lib(iommufd_pci_cdev_path(e1000, lib_path,
							   sizeof(lib_path))),
			    ENODEV);
	edu_close(&e);
}

/*
 * The kernel's own VFIO (6.1: groups, type1) loads and drives another
 * device beside it; ours still works.
 */
TEST(coexists_with_kernel_vfio)
{
	char drv[64];
	__u32 dev_id, id;
	struct edu e;
	int fd;

	if (!lone_edu[0] || !e1000e[0])
		SKIP("needs the edu and the e1000e");
	if (system("modprobe vfio-pci >/dev/null 2>&1"))
		SKIP("vfio-pci not available in this VM");
	CHECK_OK(rebind(e1000e, "vfio-pci"));
	CHECK(!access("/sys/class/vfio-dev", F_OK) ||
	      !access("/dev/vfio/vfio", F_OK));
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(iommufd_pci_cdev_path(lone_edu, drv, sizeof(drv)));
	CHECK_OK(edu_enable(&e));
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	CHECK_OK(pread(devfd(&e), &id, 4, REGION(0)) == 4 ? 0 : -1);
	CHECK(id == 0x010000ed);
	edu_close(&e);
	close(fd);
	CHECK_OK(rebind(e1000e, ""));
	driver_of(e1000e, drv, sizeof(drv));
	CHECK(!drv[0]);
}

/* ------------------------------------------------------------ regions */

TEST(regions_reported_as_vfio)
{
	struct {
		struct vfio_region_info info;
		struct vfio_info_cap_header cap;
	} r;
	uint64_t size;
	uint32_t flags;
	struct edu e;
	int bar;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_BAR0_REGION, &size,
					 NULL, &flags));
	CHECK(size == 1 << 20);
	CHECK(flags == (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			VFIO_REGION_INFO_FLAG_MMAP));
	CHECK_OK(iommufd_pci_region_info(e.dev, 1, &size, NULL, &flags));
	CHECK(size == 0 && flags == 0);
	/* No ROM; config space of a conventional device; no VGA. */
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_ROM_REGION, &size,
					 NULL, &flags));
	CHECK(size == 0 && flags == 0);
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_CONFIG_REGION,
					 &size, NULL, &flags));
	CHECK(size == 256 && flags == (VFIO_REGION_INFO_FLAG_READ |
				       VFIO_REGION_INFO_FLAG_WRITE));
	CHECK_ERRNO(from_lib(iommufd_pci_region_info(e.dev,
						     IOMMUFD_PCI_VGA_REGION,
						     &size, NULL, &flags)),
		    EINVAL);
	CHECK_ERRNO(from_lib(iommufd_pci_region_info(e.dev,
						     IOMMUFD_PCI_NUM_REGIONS,
						     &size, NULL, &flags)),
		    EINVAL);
	edu_close(&e);

	if (!e1000e[0])
		SKIP("no e1000e: MSI-X BAR not checked");
	CHECK_OK(edu_open(&e, e1000e));
	/* The BAR with the MSI-X table says it may be mapped whole. */
	for (bar = 0; bar < 6; bar++) {
		memset(&r, 0, sizeof(r));
		r.info.argsz = sizeof(r.info);
		r.info.index = bar;
		CHECK_OK(ioctl(devfd(&e), VFIO_DEVICE_GET_REGION_INFO, &r));
		if (r.info.flags & VFIO_REGION_INFO_FLAG_CAPS)
			break;
	}
	CHECK(bar < 6);
	CHECK(r.info.argsz == sizeof(r) && r.info.cap_offset == 0);
	r.info.argsz = sizeof(r);
	CHECK_OK(ioctl(devfd(&e), VFIO_DEVICE_GET_REGION_INFO, &r));
	CHECK(r.info.cap_offset == sizeof(r.info));
	CHECK(r.cap.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE &&
	      r.cap.version == 1 && r.cap.next == 0);
	/* PCIe: 4 KiB of config space. */
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_CONFIG_REGION,
					 &size, NULL, NULL));
	CHECK(size == 4096);
	edu_close(&e);
}

/* BARs by read() and write(): as mmap, and the same errors as VFIO. */
TEST(bar_read_write)
{
	uint32_t v32, live = 0x12345678;
	uint64_t v64, addr = 0x1122334455667000ULL;
	uint8_t buf[16];
	__u32 dev_id;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	/* Nothing before BIND. */
	CHECK_ERRNO(pread(devfd(&e), &v32, 4, REGION(0)), EINVAL);
	CHECK_ERRNO(pwrite(devfd(&e), &v32, 4, REGION(0) + EDU_LIVENESS),
		    EINVAL);
	edu_close(&e);

	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(edu_enable(&e));
	CHECK(pread(devfd(&e), &v32, 4, REGION(0) + EDU_ID) == 4);
	CHECK(v32 == 0x010000ed);
	CHECK(pwrite(devfd(&e), &live, 4, REGION(0) + EDU_LIVENESS) == 4);
	CHECK(pread(devfd(&e), &v32, 4, REGION(0) + EDU_LIVENESS) == 4);
	CHECK(v32 == ~live);
	CHECK(e.regs[EDU_LIVENESS / 4] == ~live);
	/* 8-byte accesses reach the 64-bit DMA registers whole. */
	CHECK(pwrite(devfd(&e), &addr, 8, REGION(0) + EDU_DMA_SRC) == 8);
	CHECK(pread(devfd(&e), &v64, 8, REGION(0) + EDU_DMA_SRC) == 8);
	CHECK(v64 == addr);
	/*
	 * Longer reads split into naturally aligned accesses: 8 bytes at 4
	 * are two 4-byte reads (the edu answers only those below 0x80).
	 */
	CHECK(pread(devfd(&e), buf, 8, REGION(0) + EDU_LIVENESS) == 8);
	memcpy(&v32, buf, 4);
	CHECK(v32 == ~live);
	/* Past the end: EINVAL; across it: cut short. */
	CHECK_ERRNO(pread(devfd(&e), &v32, 4, REGION(0) + (1 << 20)), EINVAL);
	CHECK(pread(devfd(&e), buf, 8, REGION(0) + (1 << 20) - 4) == 4);
	CHECK_ERRNO(pread(devfd(&e), &v32, 4, REGION(1)), EINVAL);
	/* An unmapped buffer (the page past a fresh anonymous map). */
	CHECK_ERRNO(pread(devfd(&e), bad_buffer(), 4, REGION(0)), EFAULT);
	/* The ROM region of a device without one cannot be read. */
	CHECK_ERRNO(pread(devfd(&e), &v32, 4, REGION(IOMMUFD_PCI_ROM_REGION)),
		    EINVAL);
	edu_close(&e);
	close(fd);
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(sigbus_jmp, 1);
}

/*
 * The e1000e's expansion ROM (QEMU's iPXE image): its BAR sizes like
 * hardware in config space, and the ROM region reads the image.
 */
TEST(rom_readable)
{
	uint32_t rom, ones = 0xffffffff, flags;
	uint8_t sig[2], tail[8];
	uint64_t size;
	struct edu e;
	int fd;

	if (!e1000e[0])
		SKIP("no e1000e device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, e1000e));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(iommufd_pci_region_info(e.dev, IOMMUFD_PCI_ROM_REGION, &size,
					 NULL, &flags));
	if (!size) {
		edu_close(&e);
		close(fd);
		SKIP("this QEMU gave the e1000e no ROM image");
	}
	CHECK(flags == VFIO_REGION_INFO_FLAG_READ);
	CHECK(pread(devfd(&e), sig, 2, REGION(IOMMUFD_PCI_ROM_REGION)) == 2);
	CHECK(sig[0] == 0x55 && sig[1] == 0xaa);
	/* The BAR's last bytes read (all-ones past the image); no writes. */
	CHECK(pread(devfd(&e), tail, 8,
		    REGION(IOMMUFD_PCI_ROM_REGION) + size - 8) == 8);
	CHECK_ERRNO(pwrite(devfd(&e), sig, 2, REGION(IOMMUFD_PCI_ROM_REGION)),
		    EINVAL);
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_ROM_ADDRESS, &ones, 4));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_ROM_ADDRESS, &rom, 4));
	CHECK(rom == ((uint32_t)~(size - 1) | 1));
	edu_close(&e);
	close(fd);
}

/* Memory decode off in the user's command register: no BAR access. */
TEST(memory_decode_gates_bar_access)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool faulted = false;
	__u16 cmd, on;
	__u32 dev_id, v;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_COMMAND, &on, 2));
	cmd = on & ~PCI_COMMAND_MEMORY;
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &cmd, 2));
	CHECK_ERRNO(pread(devfd(&e), &v, 4, REGION(0)), EIO);
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(sigbus_jmp, 1))
		v = e.regs[EDU_ID / 4];
	else
		faulted = true;
	sigaction(SIGBUS, &old, NULL);
	CHECK(faulted);
	CHECK_OK(iommufd_pci_config_write(e.dev, PCI_COMMAND, &on, 2));
	CHECK(pread(devfd(&e), &v, 4, REGION(0)) == 4 && v == 0x010000ed);
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	edu_close(&e);
	close(fd);
}

/* The e1000e's MSI-X table is the kernel's: read() sees all-ones, write() drops. */
TEST(msix_table_kept_from_read_write)
{
	uint32_t table, entry[4], ones[4], via_map[4], zero[4] = { 0 };
	volatile uint32_t *map;
	uint64_t size;
	int cap, fd, efd, bir, i;
	size_t len;
	struct edu e;
	void *p;

	if (!e1000e[0])
		SKIP("no e1000e (MSI-X) device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, e1000e));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, NULL));
	CHECK_OK(edu_enable(&e));
	cap = find_cap(&e, 0x11);
	CHECK(cap);
	CHECK_OK(iommufd_pci_config_read(e.dev, cap + 4, &table, 4));
	bir = table & 7;
	table &= ~7U;
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(iommufd_pci_region_info(e.dev, bir, &size, NULL, NULL));
	CHECK_OK(iommufd_pci_mmap_bar(e.dev, bir, &p, &len));
	map = (volatile uint32_t *)((char *)p + table);
	for (i = 0; i < 4; i++)
		via_map[i] = map[i];
	CHECK(pread(devfd(&e), entry, 16, REGION(bir) + table) == 16);
	memset(ones, 0xff, sizeof(ones));
	CHECK(!memcmp(entry, ones, 16));
	CHECK(pwrite(devfd(&e), zero, 16, REGION(bir) + table) == 16);
	for (i = 0; i < 4; i++)
		CHECK(map[i] == via_map[i]);
	iommufd_pci_munmap_bar(e.dev, p, len);
	CHECK_OK(iommufd_pci_irq_disable(e.dev, IOMMUFD_PCI_MSIX_IRQ_INDEX));
	close(efd);
	edu_close(&e);
	close(fd);
}

/* ----------------------------------------------- error and request */

TEST(err_and_req_irq_info)
{
	uint32_t count, flags;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	/* AER is PCIe's: no error index on the (conventional) edu. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_info(e.dev,
						  IOMMUFD_PCI_ERR_IRQ_INDEX,
						  &count, &flags)), EINVAL);
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, &count,
				      &flags));
	CHECK(count == 1 && flags == (VFIO_IRQ_INFO_EVENTFD |
				      VFIO_IRQ_INFO_NORESIZE));
	edu_close(&e);
	if (!e1000e[0])
		SKIP("no e1000e: the PCIe error index not checked");
	CHECK_OK(edu_open(&e, e1000e));
	CHECK_OK(iommufd_pci_irq_info(e.dev, IOMMUFD_PCI_ERR_IRQ_INDEX, &count,
				      &flags));
	CHECK(count == 1 && flags == (VFIO_IRQ_INFO_EVENTFD |
				      VFIO_IRQ_INFO_NORESIZE));
	edu_close(&e);
}

/* SET_IRQS on the request index: VFIO's single-eventfd rules. */
TEST(req_eventfd_set_and_looped_back)
{
	int efd, fd, none = -1;
	__u32 dev_id;
	struct edu e;

	if (!lone_edu[0])
		SKIP("no edu device");
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 0, 1, &efd)),
		    EINVAL);
	edu_close(&e);
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	/* No eventfd yet: a loopback has nothing to signal. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_action(
			    e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 0, 1,
			    IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER)), EINVAL);
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(iommufd_pci_irq_action(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 0, 1,
					IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER));
	CHECK(eventfd_wait(efd, 0) == 1);
	/* Not maskable; one vector only. */
	CHECK_ERRNO(from_lib(iommufd_pci_irq_action(
			    e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 0, 1,
			    IOMMUFD_PCI_IRQ_SET_ACTION_MASK)), ENOTTY);
	CHECK_ERRNO(from_lib(iommufd_pci_irq_set_eventfds(
			    e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 1, 1, &efd)),
		    EINVAL);
	/* -1 clears it. */
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX,
					      0, 1, &none));
	CHECK_ERRNO(from_lib(iommufd_pci_irq_action(
			    e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX, 0, 1,
			    IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER)), EINVAL);
	edu_close(&e);
	close(fd);
	close(efd);
}

struct unbinder {
	const char *bdf;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Take the device from iommufd-pci through sysfs (the driver's remove). */
static void *unbind_driver(void *arg)
{
	struct unbinder *u = arg;
	double t = now();

	sysfs_write("/sys/bus/pci/drivers/iommufd-pci/unbind", u->bdf);
	u->seconds = now() - t;
	return NULL;
}

/*
 * The driver being removed from the device signals the request eventfd
 * and waits for the user to close: a user who answers gets the device
 * taken at once; one who does not loses it after 10 s.
 */
TEST(req_signalled_when_driver_removed)
{
	struct unbinder u = { .bdf = lone_edu };
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool faulted = false;
	__u32 dev_id, v;
	struct edu e;
	pthread_t th;
	int efd, fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	/* A user that answers. */
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(pthread_create(&th, NULL, unbind_driver, &u));
	CHECK(eventfd_wait(efd, 5000) == 1);
	edu_close(&e);
	pthread_join(th, NULL);
	CHECK(u.seconds < 5);
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));

	/* A user that does not: its mappings go after 10 s. */
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_OK(edu_enable(&e));
	CHECK_OK(iommufd_pci_irq_set_eventfds(e.dev, IOMMUFD_PCI_REQ_IRQ_INDEX,
					      0, 1, &efd));
	CHECK_OK(pthread_create(&th, NULL, unbind_driver, &u));
	CHECK(eventfd_wait(efd, 5000) == 1);
	pthread_join(th, NULL);
	CHECK(u.seconds >= 9 && u.seconds < 20);
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(sigbus_jmp, 1))
		v = e.regs[EDU_ID / 4];
	else
		faulted = true;
	sigaction(SIGBUS, &old, NULL);
	CHECK(faulted);
	CHECK_ERRNO(pread(devfd(&e), &v, 4, REGION(0)), EINVAL);
	edu_close(&e);
	close(fd);
	close(efd);
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
}

/* ------------------------------------------------------------- resets */

/* 6.1's <linux/vfio.h> predates the devid form: ours (same layout). */
struct hot_reset_info {
	struct iommufd_pci_hot_reset_info hdr;
	struct iommufd_pci_dependent_device dev[8];
};

static int hot_reset_info(struct edu *e, struct hot_reset_info *info,
			  uint32_t argsz)
{
	memset(info, 0, sizeof(*info));
	info->hdr.argsz = argsz;
	return ioctl(devfd(e), VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
}

static int hot_reset(struct edu *e, uint32_t flags, uint32_t count)
{
	struct vfio_pci_hot_reset r = {
		.argsz = sizeof(r), .flags = flags, .count = count,
	};

	return ioctl(devfd(e), VFIO_DEVICE_PCI_HOT_RESET, &r);
}

/* The devid the info gives @bdf; -2 when it is not listed. */
static int64_t devid_of(const struct hot_reset_info *info, const char *bdf)
{
	unsigned int i, seg, bus, dev, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return -2;
	for (i = 0; i < info->hdr.count && i < 8; i++)
		if (info->dev[i].segment == seg && info->dev[i].bus == bus &&
		    info->dev[i].devfn == (dev << 3 | fn))
			return (int32_t)info->dev[i].devid;
	return -2;
}

/* Devices on the root bus have neither slot nor bus reset. */
TEST(hot_reset_root_bus_device)
{
	struct hot_reset_info info;
	__u32 dev_id;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	CHECK_ERRNO(hot_reset_info(&e, &info, sizeof(info)), EINVAL);
	edu_close(&e);
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_ERRNO(hot_reset_info(&e, &info, 8), EINVAL);
	CHECK_ERRNO(hot_reset_info(&e, &info, sizeof(info)), ENODEV);
	CHECK_ERRNO(hot_reset(&e, 0, 0), ENODEV);
	CHECK_ERRNO(hot_reset(&e, 1, 0), EINVAL);
	CHECK_ERRNO(hot_reset(&e, 0, 1), EINVAL);
	/* No function reset either: no RESET flag, and EINVAL. */
	CHECK_ERRNO(from_lib(iommufd_pci_reset(e.dev)), EINVAL);
	edu_close(&e);
	close(fd);
}

/*
 * Behind the bridge: the bus reset reaches both edus and the e1000.
 * Allowed only once all three are this driver's and the caller's.
 */
TEST(hot_reset_bus_when_all_owned)
{
	struct hot_reset_info info;
	__u32 dev_id, bar0, bar0_after;
	__u16 cmd;
	struct edu e;
	int fd;

	if (!pair_edu[0][0] || !e1000[0])
		SKIP("no edu pair with an e1000 behind the bridge");
	CHECK_OK(rebind(e1000, ""));
	CHECK_OK(from_lib(iommufd_pci_driver_bind(pair_edu[1])));
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(edu_open(&e, pair_edu[0]));
	CHECK_OK(iommufd_pci_bind(e.dev, fd, &dev_id));
	CHECK_OK(edu_enable(&e));

	/* No room: ENOSPC and the count needed. */
	CHECK_ERRNO(hot_reset_info(&e, &info, sizeof(info.hdr)), ENOSPC);
	CHECK(info.hdr.count == 3 && info.hdr.flags == 0);
	/* The driverless e1000 is nobody's here. */
	CHECK_OK(hot_reset_info(&e, &info, sizeof(info)));
	CHECK(info.hdr.count == 3);
	CHECK(info.hdr.flags == IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID);
	CHECK(devid_of(&info, pair_edu[0]) == dev_id);
	CHECK(devid_of(&info, pair_edu[1]) == IOMMUFD_PCI_DEVID_OWNED);
	CHECK(devid_of(&info, e1000) == IOMMUFD_PCI_DEVID_NOT_OWNED);
	CHECK_ERRNO(hot_reset(&e, 0, 0), EINVAL);

	/* The e1000 to iommufd-pci too: the group is the caller's. */
	CHECK_OK(rebind(e1000, "iommufd-pci"));
	CHECK_OK(hot_reset_info(&e, &info, sizeof(info)));
	CHECK(info.hdr.flags == (IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID |
				 IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID_OWNED));
	CHECK(devid_of(&info, e1000) == IOMMUFD_PCI_DEVID_OWNED);
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0, &bar0, 4));
	e.regs[EDU_LIVENESS / 4] = 0x5a5a5a5a;
	CHECK_OK(hot_reset(&e, 0, 0));
	/* The device works after, its config space restored. */
	CHECK(e.regs[EDU_ID / 4] == 0x010000ed);
	CHECK_OK(iommufd_pci_config_read(e.dev, PCI_BASE_ADDRESS_0,
					 &bar0_after, 4));
	CHECK(bar0_after == bar0);
	CHECK_OK(hw_config_read(pair_edu[0], PCI_COMMAND, &cmd, 2));
	CHECK(cmd & PCI_COMMAND_MEMORY);
	edu_close(&e);
	close(fd);
	CHECK_OK(rebind(e1000, "e1000"));
}

/* ---------------------------------------------------- ioctl behaviour */

TEST(second_bind_refused)
{
	__u32 dev_id;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_ERRNO(from_lib(iommufd_pci_bind(e.dev, fd, &dev_id)), EINVAL);
	edu_close(&e);
	close(fd);
}

/* No device features: ENOTTY, after VFIO's checks of the request. */
TEST(device_features_answered_as_vfio)
{
	struct vfio_device_feature f = { .argsz = sizeof(f) };
	__u32 dev_id;
	struct edu e;
	int fd;

	if (!lone_edu[0])
		SKIP("no edu device");
	CHECK_OK(edu_open(&e, lone_edu));
	f.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
		  VFIO_DEVICE_FEATURE_MIGRATION;
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), EINVAL);
	edu_close(&e);
	CHECK_OK(edu_bind_new(&e, &fd, &dev_id));
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), ENOTTY);
	f.flags = VFIO_DEVICE_FEATURE_GET | 3;	/* LOW_POWER_ENTRY */
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), ENOTTY);
	f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | 1;
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), EINVAL);
	f.flags = (1u << 20) | 1;
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), EINVAL);
	f.argsz = 4;
	f.flags = VFIO_DEVICE_FEATURE_PROBE | 1;
	CHECK_ERRNO(ioctl(devfd(&e), VFIO_DEVICE_FEATURE, &f), EINVAL);
	edu_close(&e);
	close(fd);
}

/* The numbers and layouts this driver shares with <linux/vfio.h>. */
TEST(uapi_matches_vfio_cdev)
{
	CHECK(IOMMUFD_PCI_GET_HOT_RESET_INFO ==
	      VFIO_DEVICE_GET_PCI_HOT_RESET_INFO);
	CHECK(IOMMUFD_PCI_HOT_RESET == VFIO_DEVICE_PCI_HOT_RESET);
	CHECK(IOMMUFD_PCI_DEVICE_FEATURE == VFIO_DEVICE_FEATURE);
	CHECK(sizeof(struct iommufd_pci_hot_reset_info) ==
	      sizeof(struct vfio_pci_hot_reset_info));
	CHECK(sizeof(struct iommufd_pci_dependent_device) ==
	      sizeof(struct vfio_pci_dependent_device));
	CHECK(sizeof(struct iommufd_pci_hot_reset) ==
	      sizeof(struct vfio_pci_hot_reset));
	CHECK(sizeof(struct iommufd_pci_info_cap_header) ==
	      sizeof(struct vfio_info_cap_header));
	CHECK(IOMMUFD_PCI_REGION_CAPS == VFIO_REGION_INFO_FLAG_CAPS);
	CHECK(IOMMUFD_PCI_REGION_CAP_MSIX_MAPPABLE ==
	      VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	CHECK(IOMMUFD_PCI_FEATURE_MASK == VFIO_DEVICE_FEATURE_MASK &&
	      IOMMUFD_PCI_FEATURE_GET == VFIO_DEVICE_FEATURE_GET &&
	      IOMMUFD_PCI_FEATURE_SET == VFIO_DEVICE_FEATURE_SET &&
	      IOMMUFD_PCI_FEATURE_PROBE == VFIO_DEVICE_FEATURE_PROBE);
	CHECK((int)IOMMUFD_PCI_ERR_IRQ_INDEX == (int)VFIO_PCI_ERR_IRQ_INDEX &&
	      (int)IOMMUFD_PCI_REQ_IRQ_INDEX == (int)VFIO_PCI_REQ_IRQ_INDEX);
	CHECK((int)IOMMUFD_PCI_ROM_REGION == (int)VFIO_PCI_ROM_REGION_INDEX &&
	      (int)IOMMUFD_PCI_VGA_REGION == (int)VFIO_PCI_VGA_REGION_INDEX);
}

int main(void)
{
	find_devices();
	return tap_run();
}
