// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-time guards: the uAPI layouts this module's code relies on are
 * upstream's (iommufd.h, the test command) and VFIO's (the device cdev's
 * structs in iommufd_pci.h).  A header edit that moves a field breaks the
 * build here instead of the ABI.  Nothing in this file runs.
 */
#include <linux/build_bug.h>
#include <linux/stddef.h>

#include "uapi/linux/iommufd.h"
#include "uapi/linux/iommufd_pci.h"
#ifdef IOMMUFD_TEST_BUILD
#include "uapi/linux/iommufd_test.h"
#endif

/* The command structs: the size each has since it was added. */
static_assert(sizeof(struct iommu_destroy) == 8);
static_assert(sizeof(struct iommu_ioas_alloc) == 12);
static_assert(sizeof(struct iommu_iova_range) == 16);
static_assert(sizeof(struct iommu_ioas_allow_iovas) == 24);
static_assert(sizeof(struct iommu_ioas_copy) == 40);
static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32);
static_assert(sizeof(struct iommu_ioas_map) == 40);
static_assert(sizeof(struct iommu_ioas_unmap) == 24);
static_assert(sizeof(struct iommu_option) == 24);
static_assert(sizeof(struct iommu_vfio_ioas) == 12);
static_assert(sizeof(struct iommu_hwpt_alloc) == 48);
static_assert(sizeof(struct iommu_hw_info) == 40);
static_assert(sizeof(struct iommu_hw_info_vtd) == 24);
static_assert(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16);
static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48);
static_assert(sizeof(struct iommu_hwpt_invalidate) == 32);
static_assert(sizeof(struct iommu_fault_alloc) == 16);
static_assert(sizeof(struct iommu_ioas_map_file) == 40);
static_assert(sizeof(struct iommu_viommu_alloc) == 40);
static_assert(sizeof(struct iommu_vdevice_alloc) == 24);
static_assert(sizeof(struct iommu_ioas_change_process) == 8);
static_assert(sizeof(struct iommu_veventq_alloc) == 32);
static_assert(sizeof(struct iommu_hw_queue_alloc) == 40);

/*
 * The minimum sizes the ioctl table accepts (offsetofend of the last
 * field of the first version): older binaries pass these.
 */
static_assert(offsetofend(struct iommu_hwpt_alloc, __reserved) == 24);
static_assert(offsetofend(struct iommu_hw_info, __reserved) == 32);
static_assert(offsetofend(struct iommu_viommu_alloc, out_viommu_id) == 24);
static_assert(offsetofend(struct iommu_veventq_alloc, out_veventq_fd) == 28);

#ifdef IOMMUFD_TEST_BUILD
/* The test command: 72 bytes, its union at 16, 68 the minimum. */
static_assert(sizeof(struct iommu_test_cmd) == 72);
static_assert(offsetof(struct iommu_test_cmd, add_reserved) == 16);
static_assert(offsetofend(struct iommu_test_cmd, last) == 68);
static_assert(offsetof(struct iommu_test_cmd, dmabuf_get.length) == 16);
static_assert(offsetof(struct iommu_test_cmd, dmabuf_get.open_flags) == 20);
static_assert(offsetof(struct iommu_test_cmd, dmabuf_revoke.dmabuf_fd) == 16);
static_assert(offsetof(struct iommu_test_cmd, dmabuf_revoke.revoked) == 20);
static_assert(IOMMU_TEST_OP_DMABUF_GET == 22 &&
	      IOMMU_TEST_OP_DMABUF_REVOKE == 23);
#endif

/* The VFIO device cdev's structs, as <linux/vfio.h> has them. */
static_assert(sizeof(struct iommufd_pci_bind) == 16);
static_assert(sizeof(struct iommufd_pci_attach) == 12);
static_assert(sizeof(struct iommufd_pci_detach) == 8);
static_assert(sizeof(struct iommufd_pci_device_info) == 24);
static_assert(sizeof(struct iommufd_pci_region_info) == 32);
static_assert(sizeof(struct iommufd_pci_info_cap_header) == 8);
static_assert(sizeof(struct iommufd_pci_dependent_device) == 8);
static_assert(sizeof(struct iommufd_pci_hot_reset_info) == 12);
static_assert(sizeof(struct iommufd_pci_hot_reset) == 12);
static_assert(sizeof(struct iommufd_pci_device_feature) == 8);
static_assert(sizeof(struct iommufd_pci_irq_info) == 16);
static_assert(sizeof(struct iommufd_pci_irq_set) == 20);
