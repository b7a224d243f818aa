// SPDX-License-Identifier: GPL-2.0
/*
 * The per-fd object table.  Every object lives in ctx->objects under a
 * small id (never 0) and has two counts:
 *
 * - users: long-term references.  One belongs to the table; a HWPT holds
 *   its IOAS, a device its HWPT, a driver its bound device.  An object is
 *   destroyed only when the table's is the last: IOMMU_DESTROY of a used
 *   object is EBUSY.
 * - shortterm_users: references that will be dropped soon without
 *   anyone's help -- ioctls in flight (iommufd_get_object() takes one of
 *   each kind).  One belongs to the table.  Removing an object drops the
 *   table's and waits on iommufd_destroy_wait for the others to go, so
 *   that a driver unbinding its device knows no ioctl still uses it.
 *
 * Objects are published (iommufd_object_finalize()) only when fully set
 * up; one that never was goes with iommufd_object_abort_and_destroy().
 * Each type's destroy is in iommufd_object_ops.
 */
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "iommufd_private.h"

/* Woken whenever an object's short-term users drop to zero. */
static DECLARE_WAIT_QUEUE_HEAD(iommufd_destroy_wait);

struct iommufd_object_ops {
	void (*destroy)(struct iommufd_object *obj);
};

static const struct iommufd_object_ops iommufd_object_ops[] = {
	[IOMMUFD_OBJ_IOAS] = { .destroy = iommufd_ioas_destroy },
	[IOMMUFD_OBJ_HWPT] = { .destroy = iommufd_hwpt_destroy },
	[IOMMUFD_OBJ_DEVICE] = { .destroy = iommufd_device_destroy },
#ifdef IOMMUFD_TEST_BUILD
	[IOMMUFD_OBJ_SELFTEST] = { .destroy = iommufd_selftest_destroy },
#endif
};
static_assert(ARRAY_SIZE(iommufd_object_ops) == IOMMUFD_OBJ_MAX);

/**
 * iommufd_object_alloc_elm() - allocate an object and reserve its id
 * @ictx: the iommufd
 * @size: the size of the containing structure
 * @type: the object type
 *
 * Use through iommufd_object_alloc().  The id stays invisible to lookups
 * until iommufd_object_finalize().  The object starts with one user and
 * one short-term user.
 *
 * Context: process; no lock (the object table locks itself).
 *
 * Return: the zeroed object, or ERR_PTR(): -ENOMEM, or -EBUSY when no id
 * is left.
 */
struct iommufd_object *iommufd_object_alloc_elm(struct iommufd_ctx *ictx,
						size_t size,
						enum iommufd_object_type type)
{
	struct iommufd_object *obj;
	int rc;

	obj = iommufd_kzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!obj)
		return ERR_PTR(-ENOMEM);
	obj->type = type;
	refcount_set(&obj->users, 1);
	refcount_set(&obj->shortterm_users, 1);
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

/**
 * iommufd_object_finalize() - publish a fully set up object
 * @ictx: its iommufd
 * @obj: the object, from iommufd_object_alloc()
 *
 * From here lookups find it by its id.
 */
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

/**
 * iommufd_object_abort() - undo iommufd_object_alloc() of an object that
 *	was never published and holds nothing
 * @ictx: its iommufd
 * @obj: the object
 */
void iommufd_object_abort(struct iommufd_ctx *ictx, struct iommufd_object *obj)
{
	void *old;

	old = xa_erase(&ictx->objects, obj->id);
	WARN_ON(old);
	iommufd_object_free(obj);
}

/**
 * iommufd_object_abort_and_destroy() - undo a never published object that
 *	was set up: its type's destroy releases what it holds
 * @ictx: its iommufd
 * @obj: the object
 */
void iommufd_object_abort_and_destroy(struct iommufd_ctx *ictx,
				      struct iommufd_object *obj)
{
	iommufd_object_ops[obj->type].destroy(obj);
	iommufd_object_abort(ictx, obj);
}

/**
 * iommufd_get_object() - look an object up for an ioctl
 * @ictx: its iommufd
 * @id: its id
 * @type: its type, or IOMMUFD_OBJ_ANY
 *
 * Return: the object, with a short-term reference (iommufd_put_object()),
 * or ERR_PTR(-ENOENT) when there is none of that type or it is going.
 */
struct iommufd_object *iommufd_get_object(struct iommufd_ctx *ictx, u32 id,
					  enum iommufd_object_type type)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (!obj || (type != IOMMUFD_OBJ_ANY && obj->type != type) ||
	    !iommufd_lock_obj(obj))
		obj = ERR_PTR(-ENOENT);
	xa_unlock(&ictx->objects);
	return obj;
}

/**
 * iommufd_put_object() - drop an iommufd_get_object() reference
 * @obj: the object
 */
void iommufd_put_object(struct iommufd_object *obj)
{
	/* Users first: a remover that saw no short-term user sees 1 user. */
	refcount_dec(&obj->users);
	if (refcount_dec_and_test(&obj->shortterm_users))
		wake_up_all(&iommufd_destroy_wait);
}

/*
 * Drop the table's short-term reference on @obj and wait, a minute at
 * most (an ioctl can be held up in a user page fault), for those of
 * ioctls in flight.  -EBUSY (the table's reference back) on time-out.
 */
static int iommufd_object_dec_wait_shortterm(struct iommufd_object *obj)
{
	if (refcount_dec_and_test(&obj->shortterm_users))
		return 0;
	if (wait_event_timeout(iommufd_destroy_wait,
			       !refcount_read(&obj->shortterm_users),
			       60 * HZ))
		return 0;
	pr_crit("iommufd: object %u still in use by an ioctl after 60 s\n",
		obj->id);
	refcount_inc(&obj->shortterm_users);
	return -EBUSY;
}

/**
 * iommufd_object_remove() - take an object out of the table and destroy it
 * @ictx: its iommufd
 * @to_destroy: the object when the caller holds a long-term reference on
 *	it (dropped here in any case), or NULL
 * @id: its id
 * @flags: IOMMUFD_REMOVE_WAIT_SHORTTERM to first wait for ioctls in flight
 *	(a driver unbinding its device)
 *
 * Only an object whose one other long-term user is the table goes; its
 * destroy runs once no ioctl uses it any more.
 *
 * Return: 0; -ENOENT when @id is no object; -EBUSY when it has other
 * users (it stays; the caller's reference is gone all the same).
 */
int iommufd_object_remove(struct iommufd_ctx *ictx,
			  struct iommufd_object *to_destroy, u32 id,
			  unsigned int flags)
{
	bool waited = false;
	struct iommufd_object *obj;
	int rc;

	if (flags & IOMMUFD_REMOVE_WAIT_SHORTTERM) {
		rc = iommufd_object_dec_wait_shortterm(to_destroy);
		if (rc) {
			/* Left for close: something holds it far too long. */
			refcount_dec(&to_destroy->users);
			return rc;
		}
		waited = true;
	}

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (to_destroy) {
		refcount_dec(&to_destroy->users);
		if (WARN_ON(obj != to_destroy)) {
			rc = -ENOENT;
			goto err_unlock;
		}
	} else if (!obj) {
		rc = -ENOENT;
		goto err_unlock;
	}
	if (!refcount_dec_if_one(&obj->users)) {
		rc = -EBUSY;
		goto err_unlock;
	}
	__xa_erase(&ictx->objects, id);
	iommufd_vfio_compat_forget(ictx, obj);
	xa_unlock(&ictx->objects);

	/* No new user can come: wait for those racing their put. */
	if (!waited && WARN_ON(iommufd_object_dec_wait_shortterm(obj)))
		return -EBUSY;
	iommufd_object_ops[obj->type].destroy(obj);
	iommufd_object_free(obj);
	return 0;

err_unlock:
	/* Give back what the wait took: @obj may not be @to_destroy here. */
	if (waited)
		refcount_set(&to_destroy->shortterm_users, 1);
	xa_unlock(&ictx->objects);
	return rc;
}

/**
 * iommufd_object_destroy_all() - fd release: destroy every object
 * @ictx: the iommufd, which no ioctl can reach any more
 *
 * Users go first (a device before its HWPT, a HWPT before its IOAS), so
 * sweep until nothing is left; each sweep removes at least the objects
 * nobody else uses.
 */
void iommufd_object_destroy_all(struct iommufd_ctx *ictx)
{
	struct iommufd_object *obj;
	unsigned long index;
	bool progress;

	do {
		progress = false;
		xa_for_each(&ictx->objects, index, obj) {
			if (iommufd_object_remove(ictx, NULL, index, 0) == 0)
				progress = true;
		}
	} while (progress);
	/* Anything left is a reference leak inside the module. */
	WARN_ON(!xa_empty(&ictx->objects));
}
