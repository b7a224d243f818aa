/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel API of /dev/iommu for device drivers (symbol namespace
 * IOMMUFD): a driver that gives its device to userspace binds it to the
 * iommufd the user names, attaches it where the user says, and unbinds it
 * when the user is done.
 */
#ifndef IOMMUFD_KAPI_H
#define IOMMUFD_KAPI_H

#include <linux/types.h>

struct device;
struct iommufd_ctx;
struct iommufd_device;

struct iommufd_ctx *iommufd_ctx_from_fd(int fd);
void iommufd_ctx_get(struct iommufd_ctx *ictx);
void iommufd_ctx_put(struct iommufd_ctx *ictx);

struct iommufd_device *iommufd_device_bind_dev(struct iommufd_ctx *ictx,
					       struct device *dev, u32 *id);
void iommufd_device_unbind(struct iommufd_device *idev);
int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id);
int iommufd_device_replace(struct iommufd_device *idev, u32 *pt_id);
void iommufd_device_detach(struct iommufd_device *idev);
/* Pins an attach to an IOAS needs, taken before the caller's locks. */
struct iommufd_attach_pins;
struct iommufd_attach_pins *iommufd_attach_pin(struct iommufd_ctx *ictx,
					       u32 pt_id);
void iommufd_attach_unpin(struct iommufd_attach_pins *pins);
bool iommufd_device_enforces_cc(struct device *dev);

#endif
