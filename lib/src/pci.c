// SPDX-License-Identifier: GPL-2.0
/*
 * PCI user devices: the VFIO device cdevs (/dev/vfio/devices/vfioN) of the
 * iommufd-pci driver, found from the PCI address through sysfs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

/* Regions sit at index << 40 in the file: off_t must be 64 bits. */
_Static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

struct iommufd_pci_dev {
	int fd;
	char bdf[BDF_MAX];
	uint64_t config_size;	/* bytes of configuration space */
	uint64_t config_offset;	/* its offset in the file */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse 1 to @max_digits hex digits at *s into *val, up to the character
 * @end; *s moves past @end.  -1 when malformed.
 */
static int parse_hex(const char **s, int max_digits, char end,
		     unsigned long *val)
{
	const char *p = *s;
	unsigned long v = 0;
	int n = 0;

	while (*p && *p != end) {
		int d = hexval(*p);

		if (d < 0 || ++n > max_digits)
			return -1;
		v = v * 16 + (unsigned long)d;
		p++;
	}
	if (!n || *p != end)
		return -1;
	*s = end ? p + 1 : p;
	*val = v;
	return 0;
}

int libiommufd__bdf_canon(const char *bdf, char out[BDF_MAX])
{
	unsigned long domain = 0, bus, slot, fn;
	const char *p;
	int colons = 0;

	if (!bdf)
		return -EINVAL;
	for (p = bdf; *p; p++)
		colons += *p == ':';
	p = bdf;
	if (colons == 2) {
		if (parse_hex(&p, 8, ':', &domain))
			return -EINVAL;
	} else if (colons != 1) {
		return -EINVAL;
	}
	if (parse_hex(&p, 2, ':', &bus) || parse_hex(&p, 2, '.', &slot) ||
	    parse_hex(&p, 1, '\0', &fn) || slot > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, BDF_MAX, "%04lx:%02lx:%02lx.%lx", domain, bus, slot, fn);
	return 0;
}

/* The name (vfioN) of @bdf's cdev and its device number: 0 or -errno. */
static int cdev_lookup(const char *bdf, char *name, size_t size, dev_t *devt)
{
	char path[128];
	unsigned int major, minor;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	int rc = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ENODEV : -errno;
	while ((d = readdir(dir))) {
		if (!strncmp(d->d_name, "vfio", 4) && d->d_name[4] &&
		    strlen(d->d_name) < size) {
			strcpy(name, d->d_name);
			rc = 0;
			break;
		}
	}
	closedir(dir);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev/%s/dev",
		 bdf, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%u:%u", &major, &minor) != 2)
		rc = -EIO;
	fclose(f);
	*devt = makedev(major, minor);
	return rc;
}

LIBIOMMUFD_API int iommufd_pci_cdev_path(const char *bdf, char *path,
					 size_t size)
{
	char canon[BDF_MAX], name[32];
	int saved_errno = errno;
	dev_t devt;
	int rc;

	if (!path || !size)
		return lib_err(EINVAL);
	rc = libiommufd__bdf_canon(bdf, canon);
	if (!rc)
		rc = cdev_lookup(canon, name, sizeof(name), &devt);
	if (rc)
		return lib_err(-rc);
	if ((size_t)snprintf(path, size, "/dev/vfio/devices/%s", name) >= size)
		return lib_err(ENAMETOOLONG);
	return lib_return(0, saved_errno);
}

/* Open @bdf's cdev, checking that the node is the device sysfs names. */
static int cdev_open(const char *bdf)
{
	char path[64], name[32];
	struct stat st;
	dev_t devt;
	int fd, rc;

	rc = cdev_lookup(bdf, name, sizeof(name), &devt);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != devt) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

LIBIOMMUFD_API int iommufd_pci_open(const char *bdf,
				    struct iommufd_pci_dev **out)
{
	struct iommufd_pci_region_info cfg = {
		.argsz = sizeof(cfg),
		.index = IOMMUFD_PCI_CONFIG_REGION,
	};
	struct iommufd_pci_dev *dev;
	int saved_errno = errno;
	int rc;

	if (!out)
		return lib_err(EINVAL);
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return lib_err(ENOMEM);
	rc = libiommufd__bdf_canon(bdf, dev->bdf);
	if (rc)
		goto err_free;
	dev->fd = cdev_open(dev->bdf);
	if (dev->fd < 0) {
		rc = dev->fd;
		goto err_free;
	}
	/* Where config space is and how large, for config_read/write. */
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_GET_REGION_INFO, &cfg);
	if (rc)
		goto err_close;
	dev->config_size = cfg.size;
	dev->config_offset = cfg.offset;
	*out = dev;
	return lib_return(0, saved_errno);

err_close:
	close(dev->fd);
err_free:
	free(dev);
	return lib_err(-rc);
}

LIBIOMMUFD_API void iommufd_pci_close(struct iommufd_pci_dev *dev)
{
	int saved_errno = errno;

	if (!dev)
		return;
	close(dev->fd);
	free(dev);
	errno = saved_errno;
}

LIBIOMMUFD_API int iommufd_pci_fd(const struct iommufd_pci_dev *dev)
{
	return dev ? dev->fd : lib_err(EINVAL);
}

LIBIOMMUFD_API int iommufd_pci_bind(struct iommufd_pci_dev *dev, int iommufd,
				    uint32_t *dev_id)
{
	struct iommufd_pci_bind cmd = {
		.argsz = sizeof(cmd),
		.iommufd = iommufd,
	};
	int rc;

	if (!dev)
		return lib_err(EINVAL);
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_BIND, &cmd);
	if (!rc && dev_id)
		*dev_id = cmd.out_devid;
	return rc;
}

LIBIOMMUFD_API int iommufd_pci_attach(struct iommufd_pci_dev *dev,
				      uint32_t *pt_id)
{
	struct iommufd_pci_attach cmd = { .argsz = sizeof(cmd) };
	int rc;

	if (!dev || !pt_id)
		return lib_err(EINVAL);
	cmd.pt_id = *pt_id;
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_ATTACH, &cmd);
	if (!rc)
		*pt_id = cmd.pt_id;
	return rc;
}

LIBIOMMUFD_API int iommufd_pci_detach(struct iommufd_pci_dev *dev)
{
	struct iommufd_pci_detach cmd = { .argsz = sizeof(cmd) };

	if (!dev)
		return lib_err(EINVAL);
	return lib_ioctl(dev->fd, IOMMUFD_PCI_DETACH, &cmd);
}

LIBIOMMUFD_API int iommufd_pci_unbind(struct iommufd_pci_dev *dev)
{
	if (!dev)
		return lib_err(EINVAL);
	return lib_ioctl(dev->fd, IOMMUFD_PCI_UNBIND, NULL);
}

LIBIOMMUFD_API int iommufd_pci_device_info(struct iommufd_pci_dev *dev,
					   uint32_t *flags,
					   uint32_t *num_regions,
					   uint32_t *num_irqs)
{
	struct iommufd_pci_device_info cmd = { .argsz = sizeof(cmd) };
	int rc;

	if (!dev)
		return lib_err(EINVAL);
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_GET_INFO, &cmd);
	if (rc)
		return rc;
	if (flags)
		*flags = cmd.flags;
	if (num_regions)
		*num_regions = cmd.num_regions;
	if (num_irqs)
		*num_irqs = cmd.num_irqs;
	return 0;
}

LIBIOMMUFD_API int iommufd_pci_region_info(struct iommufd_pci_dev *dev,
					   uint32_t index, uint64_t *size,
					   uint64_t *offset, uint32_t *flags)
{
	struct iommufd_pci_region_info cmd = {
		.argsz = sizeof(cmd),
		.index = index,
	};
	int rc;

	if (!dev)
		return lib_err(EINVAL);
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_GET_REGION_INFO, &cmd);
	if (rc)
		return rc;
	if (size)
		*size = cmd.size;
	if (offset)
		*offset = cmd.offset;
	if (flags)
		*flags = cmd.flags;
	return 0;
}

LIBIOMMUFD_API int iommufd_pci_mmap_bar(struct iommufd_pci_dev *dev,
					uint32_t bar, void **addr,
					size_t *len)
{
	uint64_t size, offset;
	uint32_t flags;
	void *p;
	int rc;

	if (!dev || !addr || !len || bar > IOMMUFD_PCI_BAR5_REGION)
		return lib_err(EINVAL);
	rc = iommufd_pci_region_info(dev, bar, &size, &offset, &flags);
	if (rc)
		return rc;
	if (!size || !(flags & IOMMUFD_PCI_REGION_MMAP) || size > SIZE_MAX)
		return lib_err(EINVAL);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd,
		 (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	*len = size;
	return 0;
}

LIBIOMMUFD_API int iommufd_pci_munmap_bar(struct iommufd_pci_dev *dev,
					  void *addr, size_t len)
{
	(void)dev;	/* for symmetry; the mapping outlives nothing in it */
	if (!addr || !len)
		return lib_err(EINVAL);
	return munmap(addr, len) ? -errno : 0;
}

/* pread/pwrite all of [offset, offset + len) of configuration space. */
static int config_rw(struct iommufd_pci_dev *dev, uint32_t offset, void *buf,
		     size_t len, int write)
{
	int saved_errno = errno;
	size_t done = 0;

	if (!dev || (!buf && len) || offset > dev->config_size ||
	    len > dev->config_size - offset)
		return lib_err(EINVAL);
	while (done < len) {
		off_t pos = (off_t)(dev->config_offset + offset + done);
		char *p = (char *)buf + done;
		ssize_t n;

		n = write ? pwrite(dev->fd, p, len - done, pos) :
			    pread(dev->fd, p, len - done, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)	/* the kernel found the end of config space */
			return lib_err(EIO);
		done += (size_t)n;
	}
	return lib_return(0, saved_errno);
}

LIBIOMMUFD_API int iommufd_pci_config_read(struct iommufd_pci_dev *dev,
					   uint32_t offset, void *buf,
					   size_t len)
{
	return config_rw(dev, offset, buf, len, 0);
}

LIBIOMMUFD_API int iommufd_pci_config_write(struct iommufd_pci_dev *dev,
					    uint32_t offset, const void *buf,
					    size_t len)
{
	/* config_rw() only reads from @buf when writing. */
	return config_rw(dev, offset, (void *)buf, len, 1);
}

LIBIOMMUFD_API int iommufd_pci_reset(struct iommufd_pci_dev *dev)
{
	if (!dev)
		return lib_err(EINVAL);
	return lib_ioctl(dev->fd, IOMMUFD_PCI_RESET, NULL);
}

/* ------------------------------------------------------------ interrupts */

LIBIOMMUFD_API int iommufd_pci_irq_info(struct iommufd_pci_dev *dev,
					uint32_t index, uint32_t *count,
					uint32_t *flags)
{
	struct iommufd_pci_irq_info cmd = {
		.argsz = sizeof(cmd),
		.index = index,
	};
	int rc;

	if (!dev)
		return lib_err(EINVAL);
	rc = lib_ioctl(dev->fd, IOMMUFD_PCI_GET_IRQ_INFO, &cmd);
	if (rc)
		return rc;
	if (count)
		*count = cmd.count;
	if (flags)
		*flags = cmd.flags;
	return 0;
}

LIBIOMMUFD_API int iommufd_pci_irq_set_eventfds(struct iommufd_pci_dev *dev,
						uint32_t index, uint32_t start,
						uint32_t count, const int *fds)
{
	struct iommufd_pci_irq_set *cmd;
	size_t size;
	int rc;

	if (!dev || !count || !fds)
		return lib_err(EINVAL);
	size = sizeof(*cmd) + count * sizeof(int32_t);
	cmd = calloc(1, size);
	if (!cmd)
		return lib_err(ENOMEM);
	cmd->argsz = size;
	cmd->flags = IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD |
		     IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER;
	cmd->index = index;
	cmd->start = start;
	cmd->count = count;
	memcpy(cmd->data, fds, count * sizeof(int32_t));
	/* Positive: MSI could have only that many vectors (see the header). */
	rc = ioctl(dev->fd, IOMMUFD_PCI_SET_IRQS, cmd);
	if (rc < 0)
		rc = -errno;
	free(cmd);
	return rc;
}

LIBIOMMUFD_API int iommufd_pci_irq_action(struct iommufd_pci_dev *dev,
					  uint32_t index, uint32_t start,
					  uint32_t count, uint32_t action)
{
	struct iommufd_pci_irq_set cmd = {
		.argsz = sizeof(cmd),
		.flags = IOMMUFD_PCI_IRQ_SET_DATA_NONE | action,
		.index = index,
		.start = start,
		.count = count,
	};

	if (!dev)
		return lib_err(EINVAL);
	return lib_ioctl(dev->fd, IOMMUFD_PCI_SET_IRQS, &cmd);
}

LIBIOMMUFD_API int iommufd_pci_irq_disable(struct iommufd_pci_dev *dev,
					   uint32_t index)
{
	return iommufd_pci_irq_action(dev, index, 0, 0,
				      IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER);
}
