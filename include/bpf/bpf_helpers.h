/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* bee-ts's <bpf/bpf_helpers.h>: written for bee-ts, source-compatible with libbpf 1.7's header of
 * the same name (the same public macros, inlines and semantics), so probes written for libbpf
 * build unchanged. Include vmlinux.h (or <linux/types.h>) first: the helper prototypes use __u64
 * and friends. */
#ifndef __BPF_HELPERS__
#define __BPF_HELPERS__

#include "bpf_helper_defs.h"

/* BTF-defined map attributes: each is encoded in the type of a member and read back from BTF. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name

#ifndef likely
#define likely(x) (__builtin_expect(!!(x), 1))
#endif
#ifndef unlikely
#define unlikely(x) (__builtin_expect(!!(x), 0))
#endif

/* Put a program, map, license or extern in an ELF section (the loader reads meaning from the
 * name). Clang warns about `used` on extern declarations: silenced, so SEC() works on externs. */
#if __GNUC__ && !__clang__
#define SEC(name) __attribute__((section(name), used))
#else
#define SEC(name)                                                   \
	_Pragma("GCC diagnostic push")                              \
	_Pragma("GCC diagnostic ignored \"-Wignored-attributes\"")  \
	__attribute__((section(name), used))                        \
	_Pragma("GCC diagnostic pop")
#endif

/* <linux/stddef.h> has its own __always_inline; ours wins. */
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
/* A global subprogram the verifier checks as if static (with its caller's context). */
#define __hidden __attribute__((visibility("hidden")))

/* What vmlinux.h users cannot get from system headers. */
#ifndef NULL
#define NULL ((void *)0)
#endif
#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif

/* offsetof through a null pointer, not __builtin_offsetof, so CO-RE relocates the offset. */
#undef offsetof
#define offsetof(type, member) ((unsigned long)&((type *)0)->member)
#undef container_of
#define container_of(ptr, type, member)                            \
	({                                                         \
		void *__mptr = (void *)(ptr);                      \
		((type *)(__mptr - offsetof(type, member)));       \
	})

/* Compiler barriers: everything, or just one variable (forces its value to be materialized). */
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

/* Fails the build if the compiler cannot prove the call unreachable (BPF has no trap insn). */
#ifndef __bpf_unreachable
#define __bpf_unreachable() __builtin_trap()
#endif

/* A tail call whose map slot is a compile-time constant, emitted so the JIT can patch it directly. */
#if (defined(__clang__) && __clang_major__ >= 8) || (!defined(__clang__) && __GNUC__ > 12)
#if defined(__bpf__)
static __always_inline void bpf_tail_call_static(void *ctx, const void *map, const __u32 slot)
{
	if (!__builtin_constant_p(slot))
		__bpf_unreachable();
	/* r1-r3 are set right before the call (never shared between paths); r0-r5 are clobbered
	 * as by any helper call. */
	asm volatile("r1 = %[ctx]\n\t"
		     "r2 = %[map]\n\t"
		     "r3 = %[slot]\n\t"
		     "call 12"
		     :: [ctx]"r"(ctx), [map]"r"(map), [slot]"i"(slot)
		     : "r0", "r1", "r2", "r3", "r4", "r5");
}
#endif
#endif

/* __uint(pinning, LIBBPF_PIN_BY_NAME) */
enum libbpf_pin_type {
	LIBBPF_PIN_NONE,
	LIBBPF_PIN_BY_NAME,
};

/* Values of tristate CONFIG_ externs (extern enum libbpf_tristate CONFIG_X __kconfig). */
enum libbpf_tristate {
	TRI_NO = 0,
	TRI_YES = 1,
	TRI_MODULE = 2,
};

#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
#define __uptr __attribute__((btf_type_tag("uptr")))
/* libbpf before 1.2 spelled referenced kptrs __kptr_ref (kernels 6.1/6.2 read that tag). */
#ifndef __kptr_ref
#define __kptr_ref __attribute__((btf_type_tag("kptr_ref")))
#endif

/* True when a __weak __ksym resolved on this kernel; a build error if sym is not weak. */
#if defined(__clang__)
#define bpf_ksym_exists(sym) ({                                                          \
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
	!!sym;                                                                             \
})
#elif __GNUC__ > 8
#define bpf_ksym_exists(sym) ({                                                                 \
	_Static_assert(__builtin_has_attribute(*sym, __weak__), #sym " should be marked as __weak"); \
	!!sym;                                                                                    \
})
#else
#define bpf_ksym_exists(sym) !!sym
#endif

/* Argument tags for global subprograms (the verifier reads them from BTF decl tags). */
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#define __arg_nonnull __attribute((btf_decl_tag("arg:nonnull")))
#define __arg_nullable __attribute((btf_decl_tag("arg:nullable")))
#define __arg_trusted __attribute((btf_decl_tag("arg:trusted")))
#define __arg_untrusted __attribute((btf_decl_tag("arg:untrusted")))
#define __arg_arena __attribute((btf_decl_tag("arg:arena")))

/* Variadic-macro plumbing shared with bpf_tracing.h and usdt.bpf.h: ___bpf_narg(args) counts 0..12
 * arguments, ___bpf_apply(fn, n) pastes the count onto a name. */
#ifndef ___bpf_concat
#define ___bpf_concat(a, b) a ## b
#endif
#ifndef ___bpf_apply
#define ___bpf_apply(fn, n) ___bpf_concat(fn, n)
#endif
#ifndef ___bpf_nth
#define ___bpf_nth(_, _1, _2, _3, _4, _5, _6, _7, _8, _9, _a, _b, _c, N, ...) N
#endif
#ifndef ___bpf_narg
#define ___bpf_narg(...) ___bpf_nth(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#endif

/* ___bpf_fill(arr, a, b, ...): arr[0] = a; arr[1] = b; ... */
#define ___bpf_fill0(arr, p, x) do {} while (0)
#define ___bpf_fill1(arr, p, x) arr[p] = x
#define ___bpf_fill2(arr, p, x, args...) arr[p] = x; ___bpf_fill1(arr, p + 1, args)
#define ___bpf_fill3(arr, p, x, args...) arr[p] = x; ___bpf_fill2(arr, p + 1, args)
#define ___bpf_fill4(arr, p, x, args...) arr[p] = x; ___bpf_fill3(arr, p + 1, args)
#define ___bpf_fill5(arr, p, x, args...) arr[p] = x; ___bpf_fill4(arr, p + 1, args)
#define ___bpf_fill6(arr, p, x, args...) arr[p] = x; ___bpf_fill5(arr, p + 1, args)
#define ___bpf_fill7(arr, p, x, args...) arr[p] = x; ___bpf_fill6(arr, p + 1, args)
#define ___bpf_fill8(arr, p, x, args...) arr[p] = x; ___bpf_fill7(arr, p + 1, args)
#define ___bpf_fill9(arr, p, x, args...) arr[p] = x; ___bpf_fill8(arr, p + 1, args)
#define ___bpf_fill10(arr, p, x, args...) arr[p] = x; ___bpf_fill9(arr, p + 1, args)
#define ___bpf_fill11(arr, p, x, args...) arr[p] = x; ___bpf_fill10(arr, p + 1, args)
#define ___bpf_fill12(arr, p, x, args...) arr[p] = x; ___bpf_fill11(arr, p + 1, args)
#define ___bpf_fill(arr, args...) ___bpf_apply(___bpf_fill, ___bpf_narg(args))(arr, 0, args)

/* The printf-style helpers take their arguments as an array of u64: these build it. The format
 * lives in .rodata; -Wint-conversion is off so pointers can be passed as values. */
#define ___bpf_pack_args(call, args...)                              \
	unsigned long long ___param[___bpf_narg(args)];              \
	_Pragma("GCC diagnostic push")                               \
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")       \
	___bpf_fill(___param, args);                                 \
	_Pragma("GCC diagnostic pop")                                \
	call

#define BPF_SEQ_PRINTF(seq, fmt, args...) ({                                                 \
	static const char ___fmt[] = fmt;                                                    \
	___bpf_pack_args(bpf_seq_printf(seq, ___fmt, sizeof(___fmt), ___param, sizeof(___param)), args); \
})

#define BPF_SNPRINTF(out, out_size, fmt, args...) ({                                         \
	static const char ___fmt[] = fmt;                                                    \
	___bpf_pack_args(bpf_snprintf(out, out_size, ___fmt, ___param, sizeof(___param)), args); \
})

/* bpf_printk's format is static const (in .rodata) unless the program cannot use global data. */
#ifdef BPF_NO_GLOBAL_DATA
#define BPF_PRINTK_FMT_MOD
#else
#define BPF_PRINTK_FMT_MOD static const
#endif

#define __bpf_printk(fmt, ...) ({                                    \
	BPF_PRINTK_FMT_MOD char ____fmt[] = fmt;                     \
	bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);   \
})

#define __bpf_vprintk(fmt, args...) ({                                                     \
	static const char ___fmt[] = fmt;                                                  \
	___bpf_pack_args(bpf_trace_vprintk(___fmt, sizeof(___fmt), ___param, sizeof(___param)), args); \
})

/* bpf_stream_vprintk is a kfunc (6.17+): its prototype comes from vmlinux.h. */
#define bpf_stream_printk(stream_id, fmt, args...) ({                                       \
	static const char ___fmt[] = fmt;                                                   \
	___bpf_pack_args(bpf_stream_vprintk(stream_id, ___fmt, ___param, sizeof(___param)), args); \
})

/* Up to 3 arguments fit bpf_trace_printk; more need bpf_trace_vprintk (5.16+). */
#define ___bpf_pick_printk(...)                                                             \
	___bpf_nth(_, ##__VA_ARGS__, __bpf_vprintk, __bpf_vprintk, __bpf_vprintk, __bpf_vprintk, \
		   __bpf_vprintk, __bpf_vprintk, __bpf_vprintk, __bpf_vprintk, __bpf_vprintk,     \
		   __bpf_printk, __bpf_printk, __bpf_printk, __bpf_printk)

/* bpf_printk("fmt", args...): a line in /sys/kernel/tracing/trace_pipe. */
#define bpf_printk(fmt, args...) ___bpf_pick_printk(args)(fmt, ##args)

/* Open-coded numeric iterator (kfuncs, 6.4+). */
struct bpf_iter_num;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __weak __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __weak __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __weak __ksym;

/* The iterator state lives in the for() header, destroyed by a cleanup attribute when the loop
 * ends; ___p exists only to call _new once. Taking the destructor's address makes clang emit
 * its BTF (cleanup() alone does not). */
#define ___bpf_iter_open(type, it, new_call)                                                      \
	struct bpf_iter_##type it __attribute__((aligned(8), cleanup(bpf_iter_##type##_destroy))), \
		*___p __attribute__((unused)) = (new_call, (void)bpf_iter_##type##_destroy, (void *)0)

#ifndef bpf_for_each
/* bpf_for_each(type, cur, args...): cur = each element of iterator bpf_iter_<type>. */
#define bpf_for_each(type, cur, args...) \
	for (___bpf_iter_open(type, ___it, bpf_iter_##type##_new(&___it, ##args)); \
	     (((cur) = bpf_iter_##type##_next(&___it)));)
#endif

#ifndef bpf_for
/* bpf_for(i, start, end): i = start .. end-1, with the range proven to the verifier. start and
 * end must not change during the loop (they are evaluated more than once). */
#define bpf_for(i, start, end)                                                         \
	for (___bpf_iter_open(num, ___it, bpf_iter_num_new(&___it, (start), (end)));   \
	     ({                                                                        \
		     int *___t = bpf_iter_num_next(&___it);                            \
		     (___t && ((i) = *___t, (i) >= (start) && (i) < (end)));           \
	     });)
#endif

#ifndef bpf_repeat
/* bpf_repeat(N): run the body N times. */
#define bpf_repeat(N) \
	for (___bpf_iter_open(num, ___it, bpf_iter_num_new(&___it, 0, (N))); bpf_iter_num_next(&___it);)
#endif

#endif /* __BPF_HELPERS__ */
