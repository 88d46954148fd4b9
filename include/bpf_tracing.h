/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Argument access for kprobes/uprobes/raw tracepoints, and the BPF_KPROBE / BPF_KRETPROBE /
 * BPF_PROG wrappers that name the arguments. Needs struct pt_regs from vmlinux.h. */
#ifndef __BEE_BPF_TRACING_H
#define __BEE_BPF_TRACING_H

#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#if defined(__x86_64__)
#define __TARGET_ARCH_x86
#elif defined(__aarch64__)
#define __TARGET_ARCH_arm64
#else
/* clang -target bpf defines neither: default to the most common host. */
#define __TARGET_ARCH_x86
#endif
#endif

#if defined(__TARGET_ARCH_x86)
#define __PT_PARM1_REG di
#define __PT_PARM2_REG si
#define __PT_PARM3_REG dx
#define __PT_PARM4_REG cx
#define __PT_PARM5_REG r8
#define __PT_PARM6_REG r9
/* syscall wrappers pass the 4th argument in r10 */
#define __PT_PARM4_SYSCALL_REG r10
#define __PT_RET_REG sp
#define __PT_FP_REG bp
#define __PT_RC_REG ax
#define __PT_SP_REG sp
#define __PT_IP_REG ip
#define __PT_REGS_CAST(x) (x)
#elif defined(__TARGET_ARCH_arm64)
/* arm64's struct pt_regs keeps the general registers in an array. */
#define __PT_PARM1_REG regs[0]
#define __PT_PARM2_REG regs[1]
#define __PT_PARM3_REG regs[2]
#define __PT_PARM4_REG regs[3]
#define __PT_PARM5_REG regs[4]
#define __PT_PARM6_REG regs[5]
#define __PT_PARM4_SYSCALL_REG regs[3]
#define __PT_RET_REG regs[30]
#define __PT_FP_REG regs[29]
#define __PT_RC_REG regs[0]
#define __PT_SP_REG sp
#define __PT_IP_REG pc
#define __PT_REGS_CAST(x) ((const struct user_pt_regs *)(x))
#endif

#define PT_REGS_PARM1(x) (__PT_REGS_CAST(x)->__PT_PARM1_REG)
#define PT_REGS_PARM2(x) (__PT_REGS_CAST(x)->__PT_PARM2_REG)
#define PT_REGS_PARM3(x) (__PT_REGS_CAST(x)->__PT_PARM3_REG)
#define PT_REGS_PARM4(x) (__PT_REGS_CAST(x)->__PT_PARM4_REG)
#define PT_REGS_PARM5(x) (__PT_REGS_CAST(x)->__PT_PARM5_REG)
#define PT_REGS_PARM6(x) (__PT_REGS_CAST(x)->__PT_PARM6_REG)
#define PT_REGS_RC(x) (__PT_REGS_CAST(x)->__PT_RC_REG)
#define PT_REGS_SP(x) (__PT_REGS_CAST(x)->__PT_SP_REG)
#define PT_REGS_IP(x) (__PT_REGS_CAST(x)->__PT_IP_REG)
#define PT_REGS_FP(x) (__PT_REGS_CAST(x)->__PT_FP_REG)

#define __bt_cat(a, b) __bt_cat2(a, b)
#define __bt_cat2(a, b) a##b
#define __bt_nth(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define __bt_narg(...) __bt_nth(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* kprobe/uprobe arguments from registers, cast to each declared parameter's type. */
#define __bt_kargs0() ctx
#define __bt_kargs1(x) __bt_kargs0(), (void *)PT_REGS_PARM1(ctx)
#define __bt_kargs2(x, args...) __bt_kargs1(args), (void *)PT_REGS_PARM2(ctx)
#define __bt_kargs3(x, args...) __bt_kargs2(args), (void *)PT_REGS_PARM3(ctx)
#define __bt_kargs4(x, args...) __bt_kargs3(args), (void *)PT_REGS_PARM4(ctx)
#define __bt_kargs5(x, args...) __bt_kargs4(args), (void *)PT_REGS_PARM5(ctx)
#define __bt_kargs6(x, args...) __bt_kargs5(args), (void *)PT_REGS_PARM6(ctx)
#define __bt_kargs(args...) __bt_cat(__bt_kargs, __bt_narg(args))(args)

/* The shape every wrapper below shares: `name` is the real program taking `ctx`; the body the
 * author writes becomes ____name, called with `argsmacro(args)` cast from the context. */
#define __bt_wrap(name, ctx_t, argsmacro, args...)                         \
	name(ctx_t ctx);                                                   \
	static __always_inline typeof(name(0)) ____##name(ctx_t ctx, ##args); \
	typeof(name(0)) name(ctx_t ctx)                                    \
	{                                                                  \
		_Pragma("GCC diagnostic push")                             \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")     \
		return ____##name(argsmacro(args));                        \
		_Pragma("GCC diagnostic pop")                              \
	}                                                                  \
	static __always_inline typeof(name(0)) ____##name(ctx_t ctx, ##args)

/* int BPF_KPROBE(name, struct sock *sk, int flags) { ... } */
#define BPF_KPROBE(name, args...) __bt_wrap(name, struct pt_regs *, __bt_kargs, ##args)

/* int BPF_KRETPROBE(name, int ret) { ... }: the optional argument is the return value. */
#define __bt_rargs0() ctx
#define __bt_rargs1(x) ctx, (void *)PT_REGS_RC(ctx)
#define __bt_rargs(args...) __bt_cat(__bt_rargs, __bt_narg(args))(args)
#define BPF_KRETPROBE(name, args...) __bt_wrap(name, struct pt_regs *, __bt_rargs, ##args)

#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)

/* tp_btf / raw_tp / fentry: arguments are an array of u64 in ctx. */
#define __bt_pargs0() ctx
#define __bt_pargs1(x) __bt_pargs0(), (void *)ctx[0]
#define __bt_pargs2(x, args...) __bt_pargs1(args), (void *)ctx[1]
#define __bt_pargs3(x, args...) __bt_pargs2(args), (void *)ctx[2]
#define __bt_pargs4(x, args...) __bt_pargs3(args), (void *)ctx[3]
#define __bt_pargs5(x, args...) __bt_pargs4(args), (void *)ctx[4]
#define __bt_pargs6(x, args...) __bt_pargs5(args), (void *)ctx[5]
#define __bt_pargs(args...) __bt_cat(__bt_pargs, __bt_narg(args))(args)
#define BPF_PROG(name, args...) __bt_wrap(name, unsigned long long *, __bt_pargs, ##args)

#endif
