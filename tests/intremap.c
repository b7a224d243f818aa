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

static const char *find_edu(void)
{
	static char bdf[64];
	FILE *p = popen("for d in /sys/bus/pci/devices/*; do "
			"grep -q 0x11e8 $d/device 2>/dev/null && "
			"[ $(ls $d/iommu_group/devices | wc -l) = 1 ] && "
			"basename $d && break; done", "r");

	if (!p)
		return NULL;
	if (fscanf(p, "%63s", bdf) != 1)
		bdf[0] = 0;
	pclose(p);
	return bdf[0] ? bdf : NULL;
}

TEST(bind_refused_without_interrupt_remapping)
{
	struct iommufd_pci_dev *dev;
	const char *bdf = find_edu();
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
