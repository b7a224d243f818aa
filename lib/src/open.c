// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_open() lives alone in this file, so that in the static library
 * it is an archive member of its own: a program that defines its own
 * iommufd_open() can still link the rest of libiommufd.a.
 */
#include <fcntl.h>

#include "internal.h"

LIBIOMMUFD_API int iommufd_open(void)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}
