// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/iommu: the misc device, its file operations and the ioctl
 * dispatch table.  Every command is _IO(';', nr) with a size-prefixed
 * structure; the table knows each command's structure size and the
 * minimum size a caller may pass.  Numbers below IOMMUFD_CMD_BASE go to
 * the VFIO container ioctls (vfio_compat.c).
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"

#ifdef IOMMUFD_TEST_BUILD
bool iommufd_selftest;
module_param_named(selftest, iommufd_selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "Enable IOMMU_TEST_CMD and the mock IOMMU (tests only)");
#endif

static const struct file_operations iommufd_fops;

/**
 * iommufd_ctx_get() - keep an iommufd alive
 * @ictx: the iommufd, held already by the caller (a bound device, ...)
 *
 * Users outside the fd (accesses, devices, a driver between its lock and
 * iommufd_attach_pin()) keep its file alive; iommufd_ctx_put() drops it.
 */
void iommufd_ctx_get(struct iommufd_ctx *ictx)
{
	get_file(ictx->file);
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_get, IOMMUFD);

/**
 * iommufd_ctx_put() - drop what iommufd_ctx_get() (or iommufd_ctx_from_fd())
 *	took
 * @ictx: the iommufd
 *
 * The last put of a closed iommufd releases it, and every object in it.
 */
void iommufd_ctx_put(struct iommufd_ctx *ictx)
{
	fput(ictx->file);
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_put, IOMMUFD);

/**
 * iommufd_ctx_from_fd - the iommufd behind a file descriptor number
 * @fd: a descriptor of /dev/iommu in the current process
 *
 * Returns the context with a reference on its file (drop it with
 * iommufd_ctx_put()), or ERR_PTR(-EBADF) if @fd is not an iommufd.
 */
struct iommufd_ctx *iommufd_ctx_from_fd(int fd)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &iommufd_fops) {
		fput(file);
		return ERR_PTR(-EBADF);
	}
	return file->private_data;
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_fd, IOMMUFD);

static int iommufd_fops_open(struct inode *inode, struct file *filp)
{
	struct iommufd_ctx *ictx;

	ictx = iommufd_kzalloc(sizeof(*ictx), GFP_KERNEL_ACCOUNT);
	if (!ictx)
		return -ENOMEM;
	xa_init_flags(&ictx->objects, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	mutex_init(&ictx->change_lock);
	ictx->account_mode = IOPT_ACCOUNT_USER;
	ictx->file = filp;
	filp->private_data = ictx;
	iommufd_inspect_add(ictx);
	return 0;
}

static int iommufd_fops_release(struct inode *inode, struct file *filp)
{
	struct iommufd_ctx *ictx = filp->private_data;

	iommufd_inspect_del(ictx);
	iommufd_object_destroy_all(ictx);
	xa_destroy(&ictx->objects);
	mutex_destroy(&ictx->change_lock);
	kfree(ictx);
	return 0;
}

/**
 * iommufd_ucmd_respond() - copy a command's result back to the user
 * @ucmd: the command, with its kernel copy
 * @cmd_len: the bytes of the command the kernel knows
 *
 * Copies at most the size the user gave.
 *
 * Context: process; copy_to_user() may fault and wait as long as the
 * user makes it, so the caller holds no lock, and no reference to a
 * device (its unbind waits for those).
 *
 * Return: 0, or -EFAULT (the caller must then undo the command).
 */
int iommufd_ucmd_respond(struct iommufd_ucmd *ucmd, size_t cmd_len)
{
	/* A failed copy-out must undo what the command did: test it too. */
	if (iommufd_should_fail())
		return -EFAULT;
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

/**
 * iommufd_ucmd_respond_u64() - copy back one u64 field of a command
 * @ucmd: the command
 * @offset: the field's byte offset in the command (within min_size)
 * @val: its value
 *
 * For hot commands that change one field: put_user() costs a fraction of
 * copying the whole command out.
 *
 * Context: as iommufd_ucmd_respond().
 *
 * Return: 0, or -EFAULT.
 */
int iommufd_ucmd_respond_u64(struct iommufd_ucmd *ucmd, size_t offset,
			     u64 val)
{
	if (iommufd_should_fail())
		return -EFAULT;
	if (WARN_ON_ONCE(ucmd->user_size < offset + sizeof(val)))
		return -EFAULT;
	if (put_user(val, (u64 __user *)(ucmd->ubuffer + offset)))
		return -EFAULT;
	return 0;
}

static int iommufd_destroy(struct iommufd_ucmd *ucmd)
{
	struct iommu_destroy *cmd = ucmd->cmd;

	return iommufd_object_remove(ucmd->ictx, NULL, cmd->id, 0);
}

/* A command this module knows but does not implement yet. */
static int iommufd_not_implemented(struct iommufd_ucmd *ucmd)
{
	return -EOPNOTSUPP;
}

#ifdef IOMMUFD_TEST_BUILD
static int iommufd_test_cmd(struct iommufd_ucmd *ucmd)
{
	if (!iommufd_selftest)
		return -ENOTTY;
	return iommufd_test(ucmd);
}
#endif

union iommufd_ucmd_buffer {
	struct iommu_destroy destroy;
	struct iommu_ioas_alloc ioas_alloc;
	struct iommu_ioas_allow_iovas allow_iovas;
	struct iommu_ioas_copy ioas_copy;
	struct iommu_ioas_iova_ranges iova_ranges;
	struct iommu_ioas_map map;
	struct iommu_ioas_unmap unmap;
	struct iommu_option option;
	struct iommu_vfio_ioas vfio_ioas;
	struct iommu_hwpt_alloc hwpt;
	struct iommu_hw_info info;
	struct iommu_hwpt_set_dirty_tracking set_dirty;
	struct iommu_hwpt_get_dirty_bitmap get_dirty;
	struct iommu_hwpt_invalidate invalidate;
	struct iommu_fault_alloc fault;
	struct iommu_ioas_map_file map_file;
	struct iommu_viommu_alloc viommu;
	struct iommu_vdevice_alloc vdevice;
	struct iommu_ioas_change_process change_process;
	struct iommu_veventq_alloc veventq;
	struct iommu_hw_queue_alloc hw_queue;
	struct iommu_test_cmd test;
};

struct iommufd_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	int (*execute)(struct iommufd_ucmd *ucmd);
};

#define IOCTL_OP(_ioctl, _fn, _struct, _last)                           \
	[_IOC_NR(_ioctl) - IOMMUFD_CMD_BASE] = {                        \
		.size = sizeof(_struct) +                               \
			BUILD_BUG_ON_ZERO(sizeof(union iommufd_ucmd_buffer) < \
					  sizeof(_struct)),             \
		.min_size = offsetofend(_struct, _last),                \
		.ioctl_num = _ioctl,                                    \
		.execute = _fn,                                         \
	}

static const struct iommufd_ioctl_op iommufd_ioctl_ops[] = {
	IOCTL_OP(IOMMU_DESTROY, iommufd_destroy, struct iommu_destroy, id),
	IOCTL_OP(IOMMU_IOAS_ALLOC, iommufd_ioas_alloc_ioctl,
		 struct iommu_ioas_alloc, out_ioas_id),
	IOCTL_OP(IOMMU_IOAS_ALLOW_IOVAS, iommufd_ioas_allow_iovas,
		 struct iommu_ioas_allow_iovas, allowed_iovas),
	IOCTL_OP(IOMMU_IOAS_COPY, iommufd_ioas_copy, struct iommu_ioas_copy,
		 src_iova),
	IOCTL_OP(IOMMU_IOAS_IOVA_RANGES, iommufd_ioas_iova_ranges,
		 struct iommu_ioas_iova_ranges, out_iova_alignment),
	IOCTL_OP(IOMMU_IOAS_MAP, iommufd_ioas_map, struct iommu_ioas_map, iova),
	IOCTL_OP(IOMMU_IOAS_UNMAP, iommufd_ioas_unmap, struct iommu_ioas_unmap,
		 length),
	IOCTL_OP(IOMMU_OPTION, iommufd_option, struct iommu_option, val64),
	IOCTL_OP(IOMMU_VFIO_IOAS, iommufd_vfio_ioas,
		 struct iommu_vfio_ioas, __reserved),
	IOCTL_OP(IOMMU_HWPT_ALLOC, iommufd_hwpt_alloc_ioctl,
		 struct iommu_hwpt_alloc, __reserved),
	IOCTL_OP(IOMMU_GET_HW_INFO, iommufd_get_hw_info, struct iommu_hw_info,
		 __reserved),
	IOCTL_OP(IOMMU_HWPT_SET_DIRTY_TRACKING, iommufd_hwpt_set_dirty_tracking,
		 struct iommu_hwpt_set_dirty_tracking, __reserved),
	IOCTL_OP(IOMMU_HWPT_GET_DIRTY_BITMAP, iommufd_hwpt_get_dirty_bitmap,
		 struct iommu_hwpt_get_dirty_bitmap, data),
	IOCTL_OP(IOMMU_HWPT_INVALIDATE, iommufd_hwpt_invalidate,
		 struct iommu_hwpt_invalidate, __reserved),
	IOCTL_OP(IOMMU_FAULT_QUEUE_ALLOC, iommufd_not_implemented,
		 struct iommu_fault_alloc, out_fault_fd),
	IOCTL_OP(IOMMU_IOAS_MAP_FILE, iommufd_ioas_map_file,
		 struct iommu_ioas_map_file, iova),
	IOCTL_OP(IOMMU_VIOMMU_ALLOC, iommufd_viommu_alloc,
		 struct iommu_viommu_alloc, out_viommu_id),
	IOCTL_OP(IOMMU_VDEVICE_ALLOC, iommufd_vdevice_alloc,
		 struct iommu_vdevice_alloc, virt_id),
	IOCTL_OP(IOMMU_IOAS_CHANGE_PROCESS, iommufd_ioas_change_process,
		 struct iommu_ioas_change_process, __reserved),
	IOCTL_OP(IOMMU_VEVENTQ_ALLOC, iommufd_veventq_alloc,
		 struct iommu_veventq_alloc, out_veventq_fd),
	IOCTL_OP(IOMMU_HW_QUEUE_ALLOC, iommufd_hw_queue_alloc,
		 struct iommu_hw_queue_alloc, length),
#ifdef IOMMUFD_TEST_BUILD
	IOCTL_OP(IOMMU_TEST_CMD, iommufd_test_cmd, struct iommu_test_cmd, last),
#endif
};

static long iommufd_fops_ioctl(struct file *filp, unsigned int cmd,
			       unsigned long arg)
{
	unsigned int nr = _IOC_NR(cmd);
	const struct iommufd_ioctl_op *op;
	union iommufd_ucmd_buffer buf;
	struct iommufd_ucmd ucmd = {
		.ictx = filp->private_data,
		.ubuffer = (void __user *)arg,
		.cmd = &buf,
	};
	int rc;

	/* VFIO's container ioctls: type ';' too, numbers below the base. */
	if (nr < IOMMUFD_CMD_BASE)
		return iommufd_vfio_ioctl(ucmd.ictx, cmd, arg);
	if (nr - IOMMUFD_CMD_BASE >= ARRAY_SIZE(iommufd_ioctl_ops))
		return -ENOTTY;
	op = &iommufd_ioctl_ops[nr - IOMMUFD_CMD_BASE];
	if (!op->execute || op->ioctl_num != cmd)
		return -ENOTTY;

	if (get_user(ucmd.user_size, (u32 __user *)ucmd.ubuffer))
		return -EFAULT;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	rc = copy_struct_from_user(ucmd.cmd, op->size, ucmd.ubuffer,
				   ucmd.user_size);
	if (rc)
		return rc;
	return op->execute(&ucmd);
}

static const struct file_operations iommufd_fops = {
	.owner = THIS_MODULE,
	.open = iommufd_fops_open,
	.release = iommufd_fops_release,
	.unlocked_ioctl = iommufd_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice iommufd_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "iommu",
	.fops = &iommufd_fops,
	.nodename = "iommu",
	.mode = 0660,
};

static int __init iommufd_init(void)
{
	int rc;

	rc = iommufd_stats_init();
	if (rc)
		return rc;
	rc = misc_register(&iommufd_misc);
	if (rc)
		goto err_stats;
#ifdef IOMMUFD_TEST_BUILD
	if (iommufd_selftest)
		pr_info("iommufd: IOMMU_TEST_CMD and the mock IOMMU are enabled\n");
#endif
	return 0;

err_stats:
	iommufd_stats_exit();
	return rc;
}

static void __exit iommufd_exit(void)
{
	misc_deregister(&iommufd_misc);
	iommufd_stats_exit();
}

module_init(iommufd_init);
module_exit(iommufd_exit);

MODULE_DESCRIPTION("/dev/iommu: user API for IOMMU address spaces (Linux 6.1)");
MODULE_LICENSE("GPL");
