// SPDX-License-Identifier: GPL-2.0
/* The fd-wide commands (close, destroy, options) and the device queries. */
#include <unistd.h>

#include "internal.h"

LIBIOMMUFD_API void iommufd_close(int fd)
{
	int saved_errno = errno;

	if (fd >= 0)
		close(fd);
	errno = saved_errno;
}

LIBIOMMUFD_API int iommufd_destroy(int fd, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return lib_ioctl(fd, IOMMU_DESTROY, &cmd);
}

LIBIOMMUFD_API int iommufd_option_get(int fd, uint32_t option,
				      uint32_t object_id, uint64_t *val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option,
		.op = IOMMU_OPTION_OP_GET,
		.object_id = object_id,
	};
	int rc;

	rc = lib_ioctl(fd, IOMMU_OPTION, &cmd);
	if (!rc && val)
		*val = cmd.val64;
	return rc;
}

LIBIOMMUFD_API int iommufd_option_set(int fd, uint32_t option,
				      uint32_t object_id, uint64_t val)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option,
		.op = IOMMU_OPTION_OP_SET,
		.object_id = object_id,
		.val64 = val,
	};

	return lib_ioctl(fd, IOMMU_OPTION, &cmd);
}

LIBIOMMUFD_API int iommufd_hwpt_alloc(int fd, uint32_t dev_id, uint32_t pt_id,
				      uint32_t flags, uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};
	int rc;

	if (!hwpt_id)
		return lib_err(EINVAL);
	rc = lib_ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!rc)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

LIBIOMMUFD_API int iommufd_get_hw_info(int fd, uint32_t dev_id, void *data,
				       uint32_t *data_len, uint32_t *type,
				       uint64_t *caps)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = data_len ? *data_len : 0,
		.data_uptr = U64_PTR(data),
	};
	int rc;

	if (!data && cmd.data_len)
		return lib_err(EINVAL);
	rc = lib_ioctl(fd, IOMMU_GET_HW_INFO, &cmd);
	if (rc)
		return rc;
	if (data_len)
		*data_len = cmd.data_len;
	if (type)
		*type = cmd.out_data_type;
	if (caps)
		*caps = cmd.out_capabilities;
	return 0;
}
