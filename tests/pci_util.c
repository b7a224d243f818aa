// SPDX-License-Identifier: GPL-2.0
/*
 * The PCI test programs' shared helpers: finding the test VM's devices,
 * sysfs, the edu device (open, bind, map, DMA), the kernel log and
 * interrupts.  See pci_util.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pci_util.h"

char lone_edu[32], pair_edu[2][32], e1000[32], e1000e[32];

/* ------------------------------------------------------------ sysfs */

int sysfs_read(const char *bdf, const char *attr, char *buf, size_t n)
{
	char path[256];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = 0;
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = 0;
	return 0;
}

int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

unsigned long sysfs_hex(const char *bdf, const char *attr)
{
	char buf[32];

	if (sysfs_read(bdf, attr, buf, sizeof(buf)))
		return 0;
	return strtoul(buf, NULL, 16);
}

int group_of(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	return atoi(strrchr(link, '/') + 1);
}

/* The driver bound to @bdf, or "" when none. */
void driver_of(const char *bdf, char *out, size_t n)
{
	char path[256], link[256];
	ssize_t len;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	len = readlink(path, link, sizeof(link) - 1);
	out[0] = 0;
	if (len < 0)
		return;
	link[len] = 0;
	snprintf(out, n, "%s", strrchr(link, '/') + 1);
}

/*
 * Unbind @bdf from its driver and probe it again for @driver; "" leaves
 * it driverless (an override naming no driver).  For the e1000: the edus
 * go to iommufd-pci with iommufd_pci_driver_bind(), but libiommufd has
 * nothing to hand a device to another driver or to none.
 */
int rebind(const char *bdf, const char *driver)
{
	char path[256], cur[64];

	driver_of(bdf, cur, sizeof(cur));
	if (cur[0]) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", cur);
		if (sysfs_write(path, bdf))
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (sysfs_write(path, driver[0] ? driver : "none"))
		return -1;
	sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	driver_of(bdf, cur, sizeof(cur));
	return strcmp(cur, driver) ? -1 : 0;
}

void find_devices(void)
{
	int groups[8], ngroups = 0, npair = 0, i;
	char found[8][32];
	struct dirent *de;
	DIR *dir;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (sysfs_hex(de->d_name, "vendor") == 0x8086 &&
		    sysfs_hex(de->d_name, "device") == 0x100e)
			snprintf(e1000, sizeof(e1000), "%.31s", de->d_name);
		if (sysfs_hex(de->d_name, "vendor") == 0x8086 &&
		    sysfs_hex(de->d_name, "device") == 0x10d3)
			snprintf(e1000e, sizeof(e1000e), "%.31s", de->d_name);
		if (sysfs_hex(de->d_name, "vendor") != EDU_VENDOR ||
		    sysfs_hex(de->d_name, "device") != EDU_DEVICE ||
		    ngroups == 8)
			continue;
		snprintf(found[ngroups], 32, "%.31s", de->d_name);
		groups[ngroups++] = group_of(de->d_name);
	}
	closedir(dir);
	for (i = 0; i < ngroups; i++) {
		int j, shared = 0;

		for (j = 0; j < ngroups; j++)
			shared |= j != i && groups[j] == groups[i];
		if (!shared)
			snprintf(lone_edu, sizeof(lone_edu), "%s", found[i]);
		else if (npair < 2)
			snprintf(pair_edu[npair++], 32, "%s", found[i]);
	}
	if (npair < 2)
		pair_edu[0][0] = 0;
}

/* -------------------------------------------------------- the device */


/* Give @bdf to the iommufd-pci driver and open its device file. */
int edu_open(struct edu *e, const char *bdf)
{
	memset(e, 0, sizeof(*e));
	if (from_lib(iommufd_pci_driver_bind(bdf)))
		return -1;
	return from_lib(iommufd_pci_open(bdf, &e->dev));
}

void edu_close(struct edu *e)
{
	if (e->regs)
		iommufd_pci_munmap_bar(e->dev, (void *)e->regs, e->regs_len);
	iommufd_pci_close(e->dev);
	e->regs = NULL;
	e->dev = NULL;
}

/* A new iommufd in *@fd and the lone edu opened and bound to it. */
int edu_bind_new(struct edu *e, int *fd, __u32 *dev_id)
{
	*fd = dev_iommu_open();
	if (*fd < 0 || edu_open(e, lone_edu))
		return -1;
	return from_lib(iommufd_pci_bind(e->dev, *fd, dev_id));
}

/* Bind done: map BAR0 and let the device master the bus. */
int edu_enable(struct edu *e)
{
	void *regs;
	__u16 cmd;

	if (from_lib(iommufd_pci_mmap_bar(e->dev, IOMMUFD_PCI_BAR0_REGION,
					  &regs, &e->regs_len)))
		return -1;
	e->regs = regs;
	if (from_lib(iommufd_pci_config_read(e->dev, PCI_COMMAND, &cmd, 2)))
		return -1;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return from_lib(iommufd_pci_config_write(e->dev, PCI_COMMAND, &cmd, 2));
}

void reg64(struct edu *e, unsigned int off, uint64_t val)
{
	*(volatile uint64_t *)((volatile char *)e->regs + off) = val;
}

/* One DMA; returns 0 when the device reports it done. */
int edu_dma(struct edu *e, uint64_t src, uint64_t dst, uint64_t len,
		   bool to_ram)
{
	int i;

	reg64(e, EDU_DMA_SRC, src);
	reg64(e, EDU_DMA_DST, dst);
	reg64(e, EDU_DMA_CNT, len);
	e->regs[EDU_DMA_CMD / 4] = EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0);
	for (i = 0; i < 500; i++) {
		if (!(e->regs[EDU_DMA_CMD / 4] & EDU_CMD_START))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Put @len bytes of @data into the device's buffer, via RAM at @iova. */
int edu_load(struct edu *e, uint64_t iova, uint64_t len)
{
	return edu_dma(e, iova, EDU_BUFFER, len, false);
}

int edu_store(struct edu *e, uint64_t iova, uint64_t len)
{
	return edu_dma(e, EDU_BUFFER, iova, len, true);
}

/* ----------------------------------------------------- the kernel log */

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Did the kernel log a line containing both @a and @b since kmsg_open? */
bool kmsg_saw(int fd, const char *a, const char *b)
{
	char rec[1024];
	bool seen = false;
	ssize_t n;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0) {
		rec[n] = 0;
		if (strstr(rec, a) && (!b || strstr(rec, b)))
			seen = true;
	}
	return seen;
}

/*
 * Did the IOMMU report a fault for @bdf?  VT-d logs "DMAR: ... Request
 * device [00:03.0] fault"; QEMU's AMD-Vi model raises no event the 6.1
 * driver logs, so there only the memory checks speak.
 */
bool fault_logged(int kmsg, const char *bdf)
{
	int i;

	if (access("/sys/class/iommu/dmar0", F_OK)) {
		tap_diag("no VT-d: not checking the kernel log for the fault");
		return true;
	}
	/*
	 * The fault interrupt's handler logs it, maybe after the DMA that
	 * faulted was reported done: give a loaded machine 2 s.
	 */
	for (i = 0; i < 200; i++) {
		if (kmsg_saw(kmsg, "DMAR", bdf + 5))
			return true;
		usleep(10000);
	}
	return false;
}

void *dma_buffer(void)
{
	return buf_alloc(EDU_BUFFER_SIZE);
}

/* ------------------------------------------------------- interrupts */

/* Wait up to @ms for @efd; returns its count (0: nothing came). */
uint64_t eventfd_wait(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, ms) == 1 && read(efd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

/* Does /proc/interrupts list one of our handlers for @bdf? */
bool irq_listed(const char *bdf)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/interrupts", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "iommufd-pci") && strstr(line, bdf))
			found = true;
	if (f)
		fclose(f);
	return found;
}

/* The offset of @bdf's capability @id in config space; 0: none. */
int find_cap(struct edu *e, uint8_t id)
{
	uint8_t pos, hdr[2];
	int n = 0;

	if (iommufd_pci_config_read(e->dev, PCI_CAP_LIST, &pos, 1))
		return 0;
	while (pos && n++ < 48) {
		if (iommufd_pci_config_read(e->dev, pos, hdr, 2))
			return 0;
		if (hdr[0] == id)
			return pos;
		pos = hdr[1];
	}
	return 0;
}

/*
 * A bound, bus-mastering edu for the interrupt tests, attached to a new
 * IOAS (returned in *@ioas when asked).
 */
int irq_setup(struct edu *e, int *fd, __u32 *ioas)
{
	__u32 dev_id, id, pt;

	if (edu_bind_new(e, fd, &dev_id) || edu_enable(e) ||
	    from_lib(ioas_alloc(*fd, &id)))
		return -1;
	if (ioas)
		*ioas = id;
	pt = id;
	return from_lib(iommufd_pci_attach(e->dev, &pt));
}

/* irq_setup(), then eventfd *@efd signalled by vector 0 of @index. */
int irq_listen(struct edu *e, int *fd, uint32_t index, int *efd)
{
	if (irq_setup(e, fd, NULL))
		return -1;
	*efd = eventfd(0, EFD_CLOEXEC);
	if (*efd < 0)
		return -1;
	return from_lib(iommufd_pci_irq_set_eventfds(e->dev, index, 0, 1, efd));
}

int hw_config_read(const char *bdf, int pos, void *buf, size_t n)
{
	char path[256];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = pread(fd, buf, n, pos);
	close(fd);
	return got == (ssize_t)n ? 0 : -1;
}
