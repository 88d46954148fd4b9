/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* bee-ts's <bpf/usdt.bpf.h>: USDT (user statically-defined tracing) support for BPF programs,
 * source-compatible with libbpf 1.7's header (BPF_USDT, bpf_usdt_arg_cnt, bpf_usdt_arg_size,
 * bpf_usdt_arg, bpf_usdt_cookie). The functions are static inline here (libbpf makes them
 * __weak __hidden globals): the same results, no global subprograms to verify.
 *
 * Write a probe handler with BPF_USDT and attach it with SEC("usdt/<binary>:<provider>:<name>")
 * (or SEC("usdt") and { target: "<binary>:<provider>:<name>" } at attach time):
 *
 *   SEC("usdt/./app:myapp:request")
 *   int BPF_USDT(on_request, int id, long size) { ... }
 *
 * The loader reads each probe's argument locations from the binary's .note.stapsdt and stores
 * them in __bpf_usdt_specs; the BPF cookie of each attachment is its spec id. Map names, struct
 * layouts and the spec-id cookie are the ones libbpf uses, so objects built against either
 * header load with either loader. Needs BPF cookies (Linux 5.15+).
 */
#ifndef __USDT_BPF_H__
#define __USDT_BPF_H__

#include "bpf_helpers.h"
#include "bpf_tracing.h"

#ifndef BPF_USDT_MAX_SPEC_CNT
#define BPF_USDT_MAX_SPEC_CNT 256
#endif
#ifndef BPF_USDT_MAX_IP_CNT
#define BPF_USDT_MAX_IP_CNT (4 * BPF_USDT_MAX_SPEC_CNT)
#endif
#define BPF_USDT_MAX_ARG_CNT 12

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef ESRCH
#define ESRCH 3
#endif
#ifndef EINVAL
#define EINVAL 22
#endif

enum __bpf_usdt_arg_type {
	BPF_USDT_ARG_CONST,
	BPF_USDT_ARG_REG,
	BPF_USDT_ARG_REG_DEREF,
};

struct __bpf_usdt_arg_spec {
	__u64 val_off;                     /* the constant, or the offset added before a dereference */
	enum __bpf_usdt_arg_type arg_type;
	short reg_off;                     /* offsetof(struct pt_regs, <register>) */
	bool arg_signed;
	char arg_bitshift;                 /* 64 - 8 * argument size: shift out the unused high bits */
};

struct __bpf_usdt_spec {
	struct __bpf_usdt_arg_spec args[BPF_USDT_MAX_ARG_CNT];
	__u64 usdt_cookie;
	short arg_cnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPF_USDT_MAX_SPEC_CNT);
	__type(key, int);
	__type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPF_USDT_MAX_IP_CNT);
	__type(key, long);
	__type(value, __u32);
} __bpf_usdt_ip_to_spec_id SEC(".maps") __weak;

extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig;

static __always_inline int __bpf_usdt_spec_id(struct pt_regs *ctx)
{
	if (!LINUX_HAS_BPF_COOKIE) {
		long ip = PT_REGS_IP(ctx);
		int *id = bpf_map_lookup_elem(&__bpf_usdt_ip_to_spec_id, &ip);
		return id ? *id : -ESRCH;
	}
	return bpf_get_attach_cookie(ctx);
}

/* Number of arguments the probe site has, or a negative error. */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec;
	int id = __bpf_usdt_spec_id(ctx);

	if (id < 0)
		return -ESRCH;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec)
		return -ESRCH;
	return spec->arg_cnt;
}

/* Size in bytes (1, 2, 4 or 8) of argument arg_num (from 0), or a negative error. */
static __always_inline int bpf_usdt_arg_size(struct pt_regs *ctx, __u64 arg_num)
{
	struct __bpf_usdt_spec *spec;
	int id = __bpf_usdt_spec_id(ctx);

	if (id < 0)
		return -ESRCH;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec)
		return -ESRCH;
	if (arg_num >= BPF_USDT_MAX_ARG_CNT)
		return -ENOENT;
	barrier_var(arg_num);
	if (arg_num >= (__u64)spec->arg_cnt)
		return -ENOENT;
	/* arg_bitshift is 64 - 8 * size */
	return (unsigned int)(64 - spec->args[arg_num].arg_bitshift) / 8;
}

/* Argument arg_num (from 0) of the probe site, widened to 64 bits with its sign; 0 or -errno. */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 arg_num, long *res)
{
	struct __bpf_usdt_spec *spec;
	struct __bpf_usdt_arg_spec *arg;
	unsigned long val;
	int id, err;

	*res = 0;
	id = __bpf_usdt_spec_id(ctx);
	if (id < 0)
		return -ESRCH;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec)
		return -ESRCH;
	if (arg_num >= BPF_USDT_MAX_ARG_CNT || arg_num >= (__u64)spec->arg_cnt)
		return -ENOENT;
	arg = &spec->args[arg_num];
	switch (arg->arg_type) {
	case BPF_USDT_ARG_CONST:
		val = arg->val_off;
		break;
	case BPF_USDT_ARG_REG:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		break;
	case BPF_USDT_ARG_REG_DEREF:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		err = bpf_probe_read_user(&val, sizeof(val), (void *)val + arg->val_off);
		if (err)
			return err;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		val >>= arg->arg_bitshift;
#endif
		break;
	default:
		return -EINVAL;
	}
	val <<= arg->arg_bitshift;
	if (arg->arg_signed)
		val = ((long)val) >> arg->arg_bitshift;
	else
		val = val >> arg->arg_bitshift;
	*res = val;
	return 0;
}

/* The cookie given at attach time ({ cookie }), for telling attachments apart. */
static __always_inline long bpf_usdt_cookie(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec;
	int id = __bpf_usdt_spec_id(ctx);

	if (id < 0)
		return 0;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec)
		return 0;
	return spec->usdt_cookie;
}

/* BPF_USDT(name, args...): a handler whose typed arguments are the probe's arguments. */
#define ___bpf_usdt_args0() ctx
#define ___bpf_usdt_args1(x) ___bpf_usdt_args0(), ({ long _x; bpf_usdt_arg(ctx, 0, &_x); _x; })
#define ___bpf_usdt_args2(x, args...) ___bpf_usdt_args1(args), ({ long _x; bpf_usdt_arg(ctx, 1, &_x); _x; })
#define ___bpf_usdt_args3(x, args...) ___bpf_usdt_args2(args), ({ long _x; bpf_usdt_arg(ctx, 2, &_x); _x; })
#define ___bpf_usdt_args4(x, args...) ___bpf_usdt_args3(args), ({ long _x; bpf_usdt_arg(ctx, 3, &_x); _x; })
#define ___bpf_usdt_args5(x, args...) ___bpf_usdt_args4(args), ({ long _x; bpf_usdt_arg(ctx, 4, &_x); _x; })
#define ___bpf_usdt_args6(x, args...) ___bpf_usdt_args5(args), ({ long _x; bpf_usdt_arg(ctx, 5, &_x); _x; })
#define ___bpf_usdt_args7(x, args...) ___bpf_usdt_args6(args), ({ long _x; bpf_usdt_arg(ctx, 6, &_x); _x; })
#define ___bpf_usdt_args8(x, args...) ___bpf_usdt_args7(args), ({ long _x; bpf_usdt_arg(ctx, 7, &_x); _x; })
#define ___bpf_usdt_args9(x, args...) ___bpf_usdt_args8(args), ({ long _x; bpf_usdt_arg(ctx, 8, &_x); _x; })
#define ___bpf_usdt_args10(x, args...) ___bpf_usdt_args9(args), ({ long _x; bpf_usdt_arg(ctx, 9, &_x); _x; })
#define ___bpf_usdt_args11(x, args...) ___bpf_usdt_args10(args), ({ long _x; bpf_usdt_arg(ctx, 10, &_x); _x; })
#define ___bpf_usdt_args12(x, args...) ___bpf_usdt_args11(args), ({ long _x; bpf_usdt_arg(ctx, 11, &_x); _x; })
#define ___bpf_usdt_args(args...) ___bpf_apply(___bpf_usdt_args, ___bpf_narg(args))(args)

#define BPF_USDT(name, args...) ___bpf_wrapper(name, struct pt_regs *ctx, ___bpf_usdt_args(args), ##args)

#endif /* __USDT_BPF_H__ */
