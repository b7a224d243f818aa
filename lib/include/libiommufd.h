/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libiommufd: a small C library over /dev/iommu (iommufd) and the
 * iommufd-pci user-device driver (/dev/iommufd-pci/<BDF>).
 *
 * Conventions, shared by every function:
 *
 *  - A function returns 0 on success or a negative errno value (-EINVAL,
 *    -ENOENT, ...) on failure; iommufd_open() and iommufd_pci_fd() return
 *    a file descriptor instead of 0.  iommufd_strerror() turns such a
 *    value into a readable message.
 *  - errno: after a failure errno equals the positive error (so perror()
 *    and "%m" work too); after a success errno is left as it was.
 *  - Results come back through pointer arguments.  An output pointer may
 *    be NULL when the caller does not want the value, unless its
 *    description says it is required; a required pointer that is NULL
 *    gives -EINVAL.  On failure the outputs are left untouched.
 *  - Every uAPI structure is zeroed and given its size before the ioctl.
 *  - The functions keep no global state and may be called from several
 *    threads at once (an iommufd_pci_dev handle is not locked: use one
 *    handle from one thread at a time).
 *
 * The constants and structures of the ABI (IOMMU_IOAS_MAP_FIXED_IOVA,
 * struct iommu_iova_range, IOMMU_OPTION_HUGE_PAGES, ...) come from
 * <linux/iommufd.h> and <linux/iommufd_pci.h>, included below.
 */
#ifndef LIBIOMMUFD_H
#define LIBIOMMUFD_H

#include <stddef.h>
#include <stdint.h>

#include <linux/iommufd.h>
#include <linux/iommufd_pci.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBIOMMUFD_VERSION_MAJOR 0
#define LIBIOMMUFD_VERSION_MINOR 1

/* The library is built with -fvisibility=hidden: only these are exported. */
#if defined(LIBIOMMUFD_BUILD) && defined(__GNUC__)
#define LIBIOMMUFD_API __attribute__((visibility("default")))
#else
#define LIBIOMMUFD_API
#endif

/* The usual permission of a mapping: devices may read and write it. */
#define IOMMUFD_MAP_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/* ------------------------------------------------------------ errors */

/*
 * A readable message for @err, an error returned by this library (the
 * sign does not matter: -EEXIST and EEXIST give the same text).  The
 * common iommufd errors get a message that says what they mean here, e.g.
 * "IOVA already mapped (EEXIST)"; others get strerror()'s text.  The
 * string is static: never free or modify it.
 */
LIBIOMMUFD_API const char *iommufd_strerror(int err);

/* ------------------------------------------------------ /dev/iommu */

/* Open /dev/iommu (read-write, close-on-exec): a file descriptor or -errno. */
LIBIOMMUFD_API int iommufd_open(void);

/* Close an iommufd: every object it holds is freed, every page unpinned. */
LIBIOMMUFD_API void iommufd_close(int fd);

/* IOMMU_DESTROY: free object @id (an IOAS, HWPT, ...).  -EBUSY while in use. */
LIBIOMMUFD_API int iommufd_destroy(int fd, uint32_t id);

/* IOMMU_OPTION get/set.  @object_id is 0 for per-fd options, else an IOAS. */
LIBIOMMUFD_API int iommufd_option_get(int fd, uint32_t option,
				      uint32_t object_id, uint64_t *val);
LIBIOMMUFD_API int iommufd_option_set(int fd, uint32_t option,
				      uint32_t object_id, uint64_t val);

/* ------------------------------------------------- I/O address spaces */

/* IOMMU_IOAS_ALLOC: a new, empty I/O address space; *ioas_id is required. */
LIBIOMMUFD_API int iommufd_ioas_alloc(int fd, uint32_t *ioas_id);

/*
 * IOMMU_IOAS_MAP: make @len bytes at @va visible to devices.  @flags is a
 * mix of IOMMU_IOAS_MAP_* (at least one of READABLE/WRITEABLE, see
 * IOMMUFD_MAP_RW).  With IOMMU_IOAS_MAP_FIXED_IOVA, *iova is the IOVA
 * wanted (required); otherwise the kernel picks one.  In both cases *iova
 * returns where the memory was mapped.
 */
LIBIOMMUFD_API int iommufd_ioas_map(int fd, uint32_t ioas, void *va,
				    uint64_t len, uint64_t *iova,
				    uint32_t flags);

/*
 * IOMMU_IOAS_UNMAP of every mapping inside [iova, iova + len); *unmapped
 * returns the number of bytes removed.  -ENOENT when nothing is mapped
 * there or a mapping is only partly inside the range.
 */
LIBIOMMUFD_API int iommufd_ioas_unmap(int fd, uint32_t ioas, uint64_t iova,
				      uint64_t len, uint64_t *unmapped);

/* Unmap everything in @ioas (succeeds with *unmapped 0 when it is empty). */
LIBIOMMUFD_API int iommufd_ioas_unmap_all(int fd, uint32_t ioas,
					  uint64_t *unmapped);

/*
 * IOMMU_IOAS_COPY: map in @dst_ioas the memory mapped at @src_iova of
 * @src_ioas, sharing its pinned pages.  @flags as for iommufd_ioas_map();
 * *dst_iova (required) is in with IOMMU_IOAS_MAP_FIXED_IOVA, always out.
 */
LIBIOMMUFD_API int iommufd_ioas_copy(int fd, uint32_t dst_ioas,
				     uint64_t *dst_iova, uint32_t src_ioas,
				     uint64_t src_iova, uint64_t len,
				     uint32_t flags);

/*
 * IOMMU_IOAS_IOVA_RANGES: the IOVA ranges where mappings may be placed
 * now.  *ranges (required) returns a malloc()ed array of *count (required)
 * ranges, which the caller releases with free() (also when *count is 0);
 * *alignment returns the alignment every IOVA and length must have.
 */
LIBIOMMUFD_API int iommufd_ioas_iova_ranges(int fd, uint32_t ioas,
					    struct iommu_iova_range **ranges,
					    uint32_t *count,
					    uint64_t *alignment);

/*
 * IOMMU_IOAS_ALLOW_IOVAS: restrict automatic IOVA allocation to the @n
 * ranges at @r and keep them usable (n = 0 removes the restriction).
 * -EADDRINUSE when a range is reserved already.
 */
LIBIOMMUFD_API int iommufd_ioas_allow_iovas(int fd, uint32_t ioas,
					    const struct iommu_iova_range *r,
					    uint32_t n);

/* --------------------------------------- page tables and IOMMU info */

/*
 * IOMMU_HWPT_ALLOC: a hardware page table for device @dev_id mirroring
 * the IOAS @pt_id; @flags IOMMU_HWPT_ALLOC_*.  *hwpt_id is required.
 */
LIBIOMMUFD_API int iommufd_hwpt_alloc(int fd, uint32_t dev_id, uint32_t pt_id,
				      uint32_t flags, uint32_t *hwpt_id);

/*
 * IOMMU_GET_HW_INFO about the IOMMU behind device @dev_id.  Up to
 * *data_len bytes of type-specific data are copied to @data (a larger
 * buffer is zero-filled) and *data_len returns the kernel's length;
 * @data and @data_len may both be NULL.  *type returns the data type
 * (IOMMU_HW_INFO_TYPE_*), *caps the IOMMU_HW_CAP_* bits.
 */
LIBIOMMUFD_API int iommufd_get_hw_info(int fd, uint32_t dev_id, void *data,
				       uint32_t *data_len, uint32_t *type,
				       uint64_t *caps);

/* ------------------------------------------------- PCI user devices */

/*
 * A device of the iommufd-pci driver: a VFIO device cdev,
 * /dev/vfio/devices/vfioN, which the library finds from the PCI address
 * (sysfs /sys/bus/pci/devices/<bdf>/vfio-dev/vfioN).
 */
struct iommufd_pci_dev;

/*
 * Bind the PCI device @bdf to the iommufd-pci kernel driver through sysfs
 * (driver_override, unbind of the current driver, drivers_probe); needs
 * root.  @bdf is "0000:00:03.0" or "00:03.0" (domain 0000).  0 when the
 * device's driver is iommufd-pci afterwards (also when it was already).
 * -ENODEV: no such device; -ENOENT: the iommufd-pci driver is not loaded;
 * -EIO: the driver did not take the device (its override is cleared
 * again and the device reprobed).
 */
LIBIOMMUFD_API int iommufd_pci_driver_bind(const char *bdf);

/*
 * The reverse: unbind @bdf from iommufd-pci if it is bound to it, and
 * clear a driver_override of "iommufd-pci".  The device is left without a
 * driver (write its BDF to /sys/bus/pci/drivers_probe to give it back to
 * its usual driver).
 */
LIBIOMMUFD_API int iommufd_pci_driver_unbind(const char *bdf);

/*
 * The path of @bdf's device cdev ("/dev/vfio/devices/vfio3") in @path
 * (@size bytes), for programs that open it themselves or pass it on (to
 * QEMU's -device vfio-pci,fd=).  -ENODEV when @bdf is not bound to
 * iommufd-pci; -ENAMETOOLONG when @size is too small.
 */
LIBIOMMUFD_API int iommufd_pci_cdev_path(const char *bdf, char *path,
					 size_t size);

/*
 * Open @bdf's device cdev (@bdf as above).  *out (required) returns a
 * handle to release with iommufd_pci_close().  -EBUSY when another file
 * has the device open; -ENODEV when @bdf is not bound to iommufd-pci.
 */
LIBIOMMUFD_API int iommufd_pci_open(const char *bdf,
				    struct iommufd_pci_dev **out);

/* Close the device; this unbinds it from its iommufd too.  NULL is a no-op. */
LIBIOMMUFD_API void iommufd_pci_close(struct iommufd_pci_dev *dev);

/* The device's file descriptor (for poll, or ioctls the library lacks). */
LIBIOMMUFD_API int iommufd_pci_fd(const struct iommufd_pci_dev *dev);

/*
 * Give the device to the iommufd @iommufd (the device's IOMMU group must
 * be free of kernel drivers, else -EBUSY): *dev_id returns its device id
 * there, for iommufd_hwpt_alloc() and iommufd_get_hw_info().
 */
LIBIOMMUFD_API int iommufd_pci_bind(struct iommufd_pci_dev *dev, int iommufd,
				    uint32_t *dev_id);

/*
 * Point the device's DMA at an IOAS or HWPT; *pt_id (required) is the
 * IOAS or HWPT id in, and returns the HWPT in use.  On an attached device
 * this replaces the attachment.
 */
LIBIOMMUFD_API int iommufd_pci_attach(struct iommufd_pci_dev *dev,
				      uint32_t *pt_id);

/* Back to blocked DMA. */
LIBIOMMUFD_API int iommufd_pci_detach(struct iommufd_pci_dev *dev);

/* End the binding, keeping the file open (MMIO mappings are revoked). */
LIBIOMMUFD_API int iommufd_pci_unbind(struct iommufd_pci_dev *dev);

/*
 * IOMMUFD_PCI_GET_INFO: *flags IOMMUFD_PCI_INFO_FLAG_*, the number of
 * regions and of interrupts.
 */
LIBIOMMUFD_API int iommufd_pci_device_info(struct iommufd_pci_dev *dev,
					   uint32_t *flags,
					   uint32_t *num_regions,
					   uint32_t *num_irqs);

/*
 * Region @index (IOMMUFD_PCI_BAR0_REGION..BAR5, IOMMUFD_PCI_CONFIG_REGION,
 * ...): its *size in bytes (0: absent), the file *offset where it is
 * mmap()ed or read, and *flags IOMMUFD_PCI_REGION_READ/WRITE/MMAP.
 */
LIBIOMMUFD_API int iommufd_pci_region_info(struct iommufd_pci_dev *dev,
					   uint32_t index, uint64_t *size,
					   uint64_t *offset, uint32_t *flags);

/*
 * mmap() the whole of BAR @bar (0-5), shared, read-write, uncached; only
 * after iommufd_pci_bind().  *addr and *len (both required) return the
 * mapping, to release with iommufd_pci_munmap_bar().  -EINVAL when the
 * BAR is absent, not memory, or too small to map.
 */
LIBIOMMUFD_API int iommufd_pci_mmap_bar(struct iommufd_pci_dev *dev,
					uint32_t bar, void **addr,
					size_t *len);
LIBIOMMUFD_API int iommufd_pci_munmap_bar(struct iommufd_pci_dev *dev,
					  void *addr, size_t len);

/*
 * Read or write @len bytes of configuration space from @offset (the
 * kernel uses aligned dword/word accesses where it can).  Reads work
 * before bind; writes need it.  -EINVAL when the range is outside the
 * configuration space.
 */
LIBIOMMUFD_API int iommufd_pci_config_read(struct iommufd_pci_dev *dev,
					   uint32_t offset, void *buf,
					   size_t len);
LIBIOMMUFD_API int iommufd_pci_config_write(struct iommufd_pci_dev *dev,
					    uint32_t offset, const void *buf,
					    size_t len);

/* Reset the PCI function (FLR or whatever the kernel can do); needs bind. */
LIBIOMMUFD_API int iommufd_pci_reset(struct iommufd_pci_dev *dev);

/*
 * Interrupts.  @index is IOMMUFD_PCI_INTX_IRQ_INDEX, _MSI_IRQ_INDEX or
 * _MSIX_IRQ_INDEX.
 * iommufd_pci_irq_info(): how many vectors the index has (0: none) and
 * its IOMMUFD_PCI_IRQ_INFO_* flags; works before bind.
 */
LIBIOMMUFD_API int iommufd_pci_irq_info(struct iommufd_pci_dev *dev,
					uint32_t index, uint32_t *count,
					uint32_t *flags);

/*
 * Signal eventfd @fds[i] (-1: none) when vector @start + i fires, for
 * @count vectors; enables the index (MSI or MSI-X with @start + @count
 * vectors; the device must master the bus for their messages to arrive).
 * Needs bind.
 * -EINVAL when another index is enabled, the range is too large or an fd
 * is not an eventfd; -EBADF when an fd is not open; a bad fd changes
 * nothing.  A positive return: the platform has only that many MSI or
 * MSI-X vectors for the device, nothing was enabled, ask again for that
 * many.
 */
LIBIOMMUFD_API int iommufd_pci_irq_set_eventfds(struct iommufd_pci_dev *dev,
						uint32_t index, uint32_t start,
						uint32_t count, const int *fds);

/*
 * SET_IRQS with no data: @action IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK or
 * _MASK (INTx, start 0, count 1: INTx is masked each time it fires and
 * must be unmasked once the device is serviced) or _TRIGGER (signal the
 * eventfds now, as if the vectors had fired).
 */
LIBIOMMUFD_API int iommufd_pci_irq_action(struct iommufd_pci_dev *dev,
					  uint32_t index, uint32_t start,
					  uint32_t count, uint32_t action);

/* Free the index's vectors and leave them off. */
LIBIOMMUFD_API int iommufd_pci_irq_disable(struct iommufd_pci_dev *dev,
					   uint32_t index);

#ifdef __cplusplus
}
#endif

#endif
