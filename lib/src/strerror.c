// SPDX-License-Identifier: GPL-2.0
/* Messages for the errors the library returns. */
#include <limits.h>
#include <string.h>

#include "internal.h"

/* What the common errors mean for /dev/iommu and iommufd-pci. */
static const struct {
	int err;
	const char *msg;
} iommufd_errors[] = {
	{ EOPNOTSUPP, "operation, flag or option not supported by this kernel/module (EOPNOTSUPP)" },
	{ ENOTTY, "unknown ioctl or not available: not an iommufd, module too old, or no reset method for the device (ENOTTY)" },
	{ E2BIG, "structure larger than the kernel knows, with non-zero trailing bytes (E2BIG)" },
	{ EMSGSIZE, "output array too small for the result (EMSGSIZE)" },
	{ EADDRINUSE, "IOVA range reserved or would narrow an allowed range (EADDRINUSE)" },
	{ EEXIST, "IOVA already mapped (EEXIST)" },
	{ ENOSPC, "no free IOVA space (ENOSPC)" },
	{ EBUSY, "object or device in use (EBUSY)" },
	{ ENOENT, "no such file, object id, or mapping at that IOVA (ENOENT)" },
	{ EOVERFLOW, "address range wraps around (EOVERFLOW)" },
	{ EINVAL, "invalid argument: bad value, size, alignment or state (EINVAL)" },
	{ ENOMEM, "out of memory, or over the locked-memory limit RLIMIT_MEMLOCK (ENOMEM)" },
	{ EFAULT, "bad user memory address (EFAULT)" },
	{ EBADF, "not a valid iommufd file descriptor (EBADF)" },
	{ ENODEV, "no such device, or the device was removed (ENODEV)" },
	{ EPERM, "operation not permitted: needs privilege (EPERM)" },
	{ EACCES, "permission denied (EACCES)" },
	{ EDEADLK, "could not unmap: an access keeps using the range (EDEADLK)" },
	{ EAGAIN, "the result kept changing, try again (EAGAIN)" },
	{ EIO, "I/O error: the device or driver failed (EIO)" },
};

LIBIOMMUFD_API const char *iommufd_strerror(int err)
{
	int saved_errno = errno;
	const char *msg;
	size_t i;

	if (err < 0 && err != INT_MIN)
		err = -err;
	if (err == 0)
		return "success";
	for (i = 0; i < sizeof(iommufd_errors) / sizeof(iommufd_errors[0]); i++)
		if (iommufd_errors[i].err == err)
			return iommufd_errors[i].msg;
	msg = strerror(err);
	errno = saved_errno;
	return msg;
}
