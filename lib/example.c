// SPDX-License-Identifier: GPL-2.0
/* The README's example, word for word after this comment; run by the suite. */
#include <stdio.h>
#include <stdlib.h>
#include <libiommufd.h>

int main(void)
{
	size_t len = 1 << 20;
	void *buf = aligned_alloc(4096, len);
	uint64_t iova = 1 << 24, unmapped = 0;	/* in: where to map; out: where it went */
	uint32_t ioas;
	int fd = iommufd_open();		/* every call returns >= 0 or -errno */
	int rc = fd < 0 ? fd : iommufd_ioas_alloc(fd, &ioas);

	if (!rc)
		rc = iommufd_ioas_map(fd, ioas, buf, len, &iova,
				      IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
	if (!rc)
		rc = iommufd_ioas_unmap(fd, ioas, iova, len, &unmapped);
	printf("%s, %llu bytes unmapped\n", iommufd_strerror(rc), (unsigned long long)unmapped);
	iommufd_close(fd);			/* frees the IOAS and anything still mapped */
	free(buf);
	return rc != 0;
}
