// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-kvm: lets KVM's VFIO pseudo device (KVM_DEV_TYPE_VFIO) accept
 * iommufd-pci's device files, so that QEMU with KVM can pass a device
 * through /dev/iommu.
 *
 * KVM_DEV_VFIO_FILE_ADD checks the file it is given by calling functions
 * of the kernel's vfio module that it finds by name with symbol_get():
 * vfio_file_is_group() (6.1) or vfio_file_is_valid() (6.6 on), then
 * vfio_file_enforced_coherent() and vfio_file_set_kvm().  Without that
 * module loaded every file is refused with EINVAL, and QEMU stops.  This
 * module exports functions of those names that answer for iommufd-pci's
 * files (and refuse every other file), for machines that use /dev/iommu
 * instead of the kernel's vfio.
 *
 * Both cannot be loaded at once: the kernel refuses a module exporting a
 * symbol another one already exports.  Loading this module while vfio is
 * loaded fails ("exports duplicate symbol ... (owned by vfio)"), and
 * loading vfio (vfio-pci, ...) while this one is loaded fails the same
 * way, until it is unloaded.  It is never loaded automatically.
 *
 * KVM calls these with a reference on @file, and only between
 * symbol_get() and symbol_put(), which keep this module loaded meanwhile.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/vfio.h>

#include "compat.h"
#include "iommufd_pci_kapi.h"

#if COMPAT_KVM_VFIO_FILE_IS_VALID
/**
 * vfio_file_is_valid() - is @file a VFIO file, for KVM?
 * @file: the file given to KVM_DEV_VFIO_FILE_ADD
 *
 * Return: true for an iommufd-pci device file, false for any other.
 */
bool vfio_file_is_valid(struct file *file)
{
	return iommufd_pci_file_is_device(file);
}
EXPORT_SYMBOL_GPL(vfio_file_is_valid);
#else
/**
 * vfio_file_is_group() - is @file a VFIO file, for KVM?
 * @file: the file given to KVM_DEV_VFIO_GROUP_ADD
 *
 * 6.1's KVM takes only VFIO group files; an iommufd-pci device file stands
 * in for one (KVM only keeps a reference to it and asks the two functions
 * below).
 *
 * Return: true for an iommufd-pci device file, false for any other.
 */
bool vfio_file_is_group(struct file *file)
{
	return iommufd_pci_file_is_device(file);
}
EXPORT_SYMBOL_GPL(vfio_file_is_group);
#endif

/**
 * vfio_file_enforced_coherent() - does @file's device DMA snoop the caches?
 * @file: a file KVM accepted
 *
 * KVM honours the guest's cache flushes (WBINVD) and memory types when a
 * device may do non-coherent DMA, i.e. when this is false.
 *
 * Return: true when the device's IOMMU enforces cache coherency.
 */
bool vfio_file_enforced_coherent(struct file *file)
{
	return iommufd_pci_file_enforced_coherent(file);
}
EXPORT_SYMBOL_GPL(vfio_file_enforced_coherent);

/**
 * vfio_file_set_kvm() - the VM @file's device is assigned to, or NULL
 * @file: a file KVM accepted
 * @kvm: the VM, or NULL when KVM lets go of @file
 *
 * Ignored: the kernel's vfio keeps the VM only for the drivers that use
 * it (mediated devices such as GVT-g, s390's AP and zPCI); vfio-pci, which
 * iommufd-pci stands in for, never does.  Keeping it would mean holding a
 * reference to the VM for nothing.
 */
void vfio_file_set_kvm(struct file *file, struct kvm *kvm)
{
}
EXPORT_SYMBOL_GPL(vfio_file_set_kvm);

static int __init iommufd_kvm_init(void)
{
	pr_info("iommufd_kvm: KVM's VFIO device now accepts iommufd-pci device files; the kernel's vfio cannot load until this module is unloaded\n");
	return 0;
}

static void __exit iommufd_kvm_exit(void)
{
}

module_init(iommufd_kvm_init);
module_exit(iommufd_kvm_exit);

MODULE_DESCRIPTION("iommufd-kvm: KVM's VFIO device accepts iommufd-pci device files");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IOMMUFD);
