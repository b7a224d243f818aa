/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What iommufd_pci.ko exports to other modules (symbol namespace
 * IOMMUFD): recognising its device files, for iommufd_kvm.ko, which
 * answers KVM's VFIO pseudo device about them.
 */
#ifndef IOMMUFD_PCI_KAPI_H
#define IOMMUFD_PCI_KAPI_H

#include <linux/types.h>

struct file;

bool iommufd_pci_file_is_device(struct file *file);
bool iommufd_pci_file_enforced_coherent(struct file *file);

#endif
