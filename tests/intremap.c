// SPDX-License-Identifier: GPL-2.0
/*
 * Without interrupt remapping a device could raise any interrupt with a
 * DMA write to the MSI window, whatever the IOMMU maps: binding must be
 * refused unless the administrator sets allow_unsafe_interrupts.  The
 * suite runs this in a VM whose VT-d has interrupt remapping off.
 */
#include <fcntl.h>
#include <stdlib.h>

#include <libiommufd.h>

#include "util.h"

#define PARAM "/sys/module/iommufd/parameters/allow_unsafe_interrupts"

static bool remapping_on(void)
{
	char line[256];
	bool on = false;
	FILE *f = fopen("/proc/interrupts", "r");

	while (f && fgets(line, sizeof(line), f))
		on |= strstr(line, "IR-") != NULL;
	if (f)
		fclose(f);
	return on;
}

static int set_param(const char *v)
{
	int fd = open(PARAM, O_WRONLY);
	int rc = (fd >= 0 && write(fd, v, 1) == 1) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

TEST(bind_refused_without_interrupt_remapping)
{
	struct iommufd_pci_dev *dev;
	const char *bdf = lone_edu_bdf(NULL);
	__u32 dev_id;
	int fd;

	if (remapping_on())
		SKIP("interrupt remapping is on here; the no-remapping VM runs this");
	if (!bdf)
		SKIP("no edu device");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(from_lib(iommufd_pci_driver_bind(bdf)));
	CHECK_OK(from_lib(iommufd_pci_open(bdf, &dev)));
	CHECK_ERRNO(from_lib(iommufd_pci_bind(dev, fd, &dev_id)), EPERM);

	/* The administrator's override. */
	CHECK_OK(set_param("1"));
	CHECK_OK(from_lib(iommufd_pci_bind(dev, fd, &dev_id)));
	CHECK_OK(from_lib(iommufd_pci_unbind(dev)));
	CHECK_OK(set_param("0"));
	CHECK_ERRNO(from_lib(iommufd_pci_bind(dev, fd, &dev_id)), EPERM);
	iommufd_pci_close(dev);
	close(fd);
}

int main(void)
{
	return tap_run();
}
