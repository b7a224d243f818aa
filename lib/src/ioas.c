// SPDX-License-Identifier: GPL-2.0
/* I/O address spaces: alloc, map, unmap, copy, IOVA ranges. */
#include <stdlib.h>

#include "internal.h"

LIBIOMMUFD_API int iommufd_ioas_alloc(int fd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int rc;

	if (!ioas_id)
		return lib_err(EINVAL);
	rc = lib_ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);
	if (!rc)
		*ioas_id = cmd.out_ioas_id;
	return rc;
}

LIBIOMMUFD_API int iommufd_ioas_map(int fd, uint32_t ioas, void *va,
				    uint64_t len, uint64_t *iova,
				    uint32_t flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas,
		.user_va = U64_PTR(va),
		.length = len,
	};
	int rc;

	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		if (!iova)
			return lib_err(EINVAL);
		cmd.iova = *iova;
	}
	rc = lib_ioctl(fd, IOMMU_IOAS_MAP, &cmd);
	if (!rc && iova)
		*iova = cmd.iova;
	return rc;
}

LIBIOMMUFD_API int iommufd_ioas_unmap(int fd, uint32_t ioas, uint64_t iova,
				      uint64_t len, uint64_t *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};
	int rc;

	rc = lib_ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
	if (!rc && unmapped)
		*unmapped = cmd.length;
	return rc;
}

LIBIOMMUFD_API int iommufd_ioas_unmap_all(int fd, uint32_t ioas,
					  uint64_t *unmapped)
{
	/* The uAPI's "everything": IOVA 0, length U64_MAX. */
	return iommufd_ioas_unmap(fd, ioas, 0, UINT64_MAX, unmapped);
}

LIBIOMMUFD_API int iommufd_ioas_copy(int fd, uint32_t dst_ioas,
				     uint64_t *dst_iova, uint32_t src_ioas,
				     uint64_t src_iova, uint64_t len,
				     uint32_t flags)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst_ioas,
		.src_ioas_id = src_ioas,
		.length = len,
		.src_iova = src_iova,
	};
	int rc;

	if (!dst_iova)
		return lib_err(EINVAL);
	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		cmd.dst_iova = *dst_iova;
	rc = lib_ioctl(fd, IOMMU_IOAS_COPY, &cmd);
	if (!rc)
		*dst_iova = cmd.dst_iova;
	return rc;
}

LIBIOMMUFD_API int iommufd_ioas_iova_ranges(int fd, uint32_t ioas,
					    struct iommu_iova_range **ranges,
					    uint32_t *count,
					    uint64_t *alignment)
{
	/*
	 * Ask with room for a few ranges; on EMSGSIZE the kernel has told
	 * how many there are, so grow to that and ask again.  The ranges
	 * can change between two calls (a device attached meanwhile), hence
	 * the loop, bounded in case something keeps changing them.
	 */
	uint32_t cap = 8;
	int saved_errno = errno;
	int tries;

	if (!ranges || !count)
		return lib_err(EINVAL);
	for (tries = 0; tries < 16; tries++) {
		struct iommu_ioas_iova_ranges cmd = {
			.size = sizeof(cmd),
			.ioas_id = ioas,
			.num_iovas = cap,
		};
		struct iommu_iova_range *r;
		int rc;

		r = calloc(cap, sizeof(*r));
		if (!r)
			return lib_err(ENOMEM);
		cmd.allowed_iovas = U64_PTR(r);
		rc = lib_ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
		if (!rc) {
			*ranges = r;
			*count = cmd.num_iovas;
			if (alignment)
				*alignment = cmd.out_iova_alignment;
			return lib_return(0, saved_errno);
		}
		free(r);
		if (rc != -EMSGSIZE || cmd.num_iovas <= cap)
			return lib_err(-rc);
		cap = cmd.num_iovas;
	}
	return lib_err(EAGAIN);
}

LIBIOMMUFD_API int iommufd_ioas_allow_iovas(int fd, uint32_t ioas,
					    const struct iommu_iova_range *r,
					    uint32_t n)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.num_iovas = n,
		.allowed_iovas = U64_PTR(r),
	};

	if (n && !r)
		return lib_err(EINVAL);
	return lib_ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}
