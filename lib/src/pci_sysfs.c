// SPDX-License-Identifier: GPL-2.0
/*
 * Binding a PCI device to the iommufd-pci kernel driver through sysfs:
 * driver_override names the driver, the current driver lets go of the
 * device, drivers_probe makes the PCI core match it again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DRIVER_NAME "iommufd-pci"
#define SYSFS_PCI "/sys/bus/pci"

/* Write @s to the sysfs attribute @path: 0 or -errno. */
static int sysfs_write(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	close(fd);
	return rc;
}

/*
 * The name of the driver @bdf is bound to in @name ("" when none).
 * 0 or -errno.
 */
static int current_driver(const char *bdf, char *name, size_t size)
{
	char path[128], target[256];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return -errno;
		name[0] = '\0';
		return 0;
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(name, size, "%s", base ? base + 1 : target);
	return 0;
}

static int write_override(const char *bdf, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver_override",
		 bdf);
	return sysfs_write(path, s);
}

/* Is the driver_override of @bdf our driver? */
static int override_is_ours(const char *bdf)
{
	char path[128], buf[64] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver_override",
		 bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return !strcmp(buf, DRIVER_NAME);
}

/* The canonical BDF of an existing device, or -EINVAL / -ENODEV. */
static int existing_device(const char *bdf, char canon[BDF_MAX])
{
	char path[128];

	if (libiommufd__bdf_canon(bdf, canon))
		return -EINVAL;
	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s", canon);
	return access(path, F_OK) ? -ENODEV : 0;
}

LIBIOMMUFD_API int iommufd_pci_driver_bind(const char *bdf)
{
	char canon[BDF_MAX], driver[256], path[128];
	int saved_errno = errno;
	int rc, probe_rc;

	rc = existing_device(bdf, canon);
	if (rc)
		return lib_err(-rc);
	rc = current_driver(canon, driver, sizeof(driver));
	if (rc)
		return lib_err(-rc);
	if (!strcmp(driver, DRIVER_NAME))
		return lib_return(0, saved_errno);
	if (access(SYSFS_PCI "/drivers/" DRIVER_NAME, F_OK))
		return lib_err(ENOENT);

	rc = write_override(canon, DRIVER_NAME);
	if (rc)
		return lib_err(-rc);
	if (driver[0]) {
		snprintf(path, sizeof(path),
			 SYSFS_PCI "/devices/%s/driver/unbind", canon);
		rc = sysfs_write(path, canon);
		if (rc) {
			write_override(canon, "\n");
			return lib_err(-rc);
		}
	}
	probe_rc = sysfs_write(SYSFS_PCI "/drivers_probe", canon);

	rc = current_driver(canon, driver, sizeof(driver));
	if (!rc && !strcmp(driver, DRIVER_NAME))
		return lib_return(0, saved_errno);
	/* Not taken: drop the override and let the usual driver have it back. */
	write_override(canon, "\n");
	sysfs_write(SYSFS_PCI "/drivers_probe", canon);
	return lib_err(probe_rc ? -probe_rc : EIO);
}

LIBIOMMUFD_API int iommufd_pci_driver_unbind(const char *bdf)
{
	char canon[BDF_MAX], driver[256];
	int saved_errno = errno;
	int rc;

	rc = existing_device(bdf, canon);
	if (rc)
		return lib_err(-rc);
	rc = current_driver(canon, driver, sizeof(driver));
	if (rc)
		return lib_err(-rc);
	if (!strcmp(driver, DRIVER_NAME)) {
		rc = sysfs_write(SYSFS_PCI "/drivers/" DRIVER_NAME "/unbind",
				 canon);
		if (rc)
			return lib_err(-rc);
	}
	if (override_is_ours(canon)) {
		rc = write_override(canon, "\n");
		if (rc)
			return lib_err(-rc);
	}
	return lib_return(0, saved_errno);
}
