// SPDX-License-Identifier: GPL-2.0
/*
 * The per-fd object table.  Every object lives in ctx->objects under a
 * small id (never 0).  Its users count holds one reference for the table
 * and one for each user (a HWPT uses its IOAS, a device its HWPT, an ioctl
 * in progress the object it works on).  An object is destroyed only when
 * the table's reference is the last.
 */
#include <linux/slab.h>

#include "iommufd_private.h"

struct iommufd_object *iommufd_object_alloc_elm(struct iommufd_ctx *ictx,
						size_t size,
						enum iommufd_object_type type)
{
	struct iommufd_object *obj;
	int rc;

	obj = iommufd_should_fail() ? NULL : kzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!obj)
		return ERR_PTR(-ENOMEM);
	obj->type = type;
	refcount_set(&obj->users, 1);
	/* XA_ZERO_ENTRY keeps the id reserved but invisible to lookups. */
	rc = xa_alloc(&ictx->objects, &obj->id, XA_ZERO_ENTRY, xa_limit_31b,
		      GFP_KERNEL_ACCOUNT);
	if (rc) {
		kfree(obj);
		return ERR_PTR(rc);
	}
	iommufd_stats_object(1);
	return obj;
}

void iommufd_object_finalize(struct iommufd_ctx *ictx,
			     struct iommufd_object *obj)
{
	void *old;

	old = xa_store(&ictx->objects, obj->id, obj, GFP_KERNEL);
	WARN_ON(old);
}

static void iommufd_object_free(struct iommufd_object *obj)
{
	kfree(obj);
	iommufd_stats_object(-1);
}

/* Undo an alloc whose object never became visible. */
void iommufd_object_abort(struct iommufd_ctx *ictx, struct iommufd_object *obj)
{
	void *old;

	old = xa_erase(&ictx->objects, obj->id);
	WARN_ON(old);
	iommufd_object_free(obj);
}

struct iommufd_object *iommufd_get_object(struct iommufd_ctx *ictx, u32 id,
					  enum iommufd_object_type type)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (!obj || (type != IOMMUFD_OBJ_ANY && obj->type != type) ||
	    !refcount_inc_not_zero(&obj->users))
		obj = ERR_PTR(-ENOENT);
	xa_unlock(&ictx->objects);
	return obj;
}

static void iommufd_object_destroy(struct iommufd_object *obj)
{
	switch (obj->type) {
	case IOMMUFD_OBJ_IOAS:
		iommufd_ioas_destroy(obj);
		break;
	case IOMMUFD_OBJ_HWPT:
		iommufd_hwpt_destroy(obj);
		break;
	case IOMMUFD_OBJ_DEVICE:
		iommufd_device_destroy(obj);
		break;
	case IOMMUFD_OBJ_SELFTEST:
		iommufd_selftest_destroy(obj);
		break;
	default:
		WARN_ON(1);
	}
	iommufd_object_free(obj);
}

/*
 * Take the object at @id (and, if @expect is set, only if it is @expect)
 * out of the table when the table holds the only reference, and destroy
 * it.  The caller must not hold a reference of its own.
 */
static int iommufd_object_take(struct iommufd_ctx *ictx, u32 id,
			       struct iommufd_object *expect)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (!obj || (expect && obj != expect)) {
		xa_unlock(&ictx->objects);
		return -ENOENT;
	}
	if (!refcount_dec_if_one(&obj->users)) {
		xa_unlock(&ictx->objects);
		return -EBUSY;
	}
	__xa_erase(&ictx->objects, id);
	xa_unlock(&ictx->objects);
	iommufd_object_destroy(obj);
	return 0;
}

int iommufd_object_remove(struct iommufd_ctx *ictx, struct iommufd_object *obj)
{
	return iommufd_object_take(ictx, obj->id, obj);
}

/*
 * Remove and destroy @obj, on which the caller holds a long-term reference
 * of its own, when that and the table's are its only references: both go
 * at once, so no IOMMU_DESTROY can take the object between dropping the
 * caller's reference and removing it.  -EBUSY while others use it.
 */
int iommufd_object_remove_held(struct iommufd_ctx *ictx,
			       struct iommufd_object *obj)
{
	xa_lock(&ictx->objects);
	if (WARN_ON(xa_load(&ictx->objects, obj->id) != obj)) {
		xa_unlock(&ictx->objects);
		return -ENOENT;
	}
	/* refcount_t has no "drop two if two": 2 -> 0 in one step. */
	if (atomic_cmpxchg(&obj->users.refs, 2, 0) != 2) {
		xa_unlock(&ictx->objects);
		return -EBUSY;
	}
	__xa_erase(&ictx->objects, obj->id);
	xa_unlock(&ictx->objects);
	iommufd_object_destroy(obj);
	return 0;
}

/* IOMMU_DESTROY: ENOENT for no such object, EBUSY while it is used. */
int iommufd_object_remove_id(struct iommufd_ctx *ictx, u32 id)
{
	return iommufd_object_take(ictx, id, NULL);
}

/*
 * fd release: destroy every object.  Users go first (a device before its
 * HWPT, a HWPT before its IOAS), so sweep until nothing is left; each
 * sweep removes at least the objects nobody else uses.
 */
void iommufd_object_destroy_all(struct iommufd_ctx *ictx)
{
	struct iommufd_object *obj;
	unsigned long index;
	bool progress;

	do {
		progress = false;
		xa_for_each(&ictx->objects, index, obj) {
			if (iommufd_object_remove(ictx, obj) == 0)
				progress = true;
		}
	} while (progress);
	/* Anything left is a reference leak inside the module. */
	WARN_ON(!xa_empty(&ictx->objects));
}
