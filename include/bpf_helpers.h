/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* bee-ts's own BPF program helpers header: section and map-definition macros, attributes, printk.
 * Source-compatible with the libbpf macros probe authors know (SEC, __uint, __type, __array, ...). */
#ifndef __BEE_BPF_HELPERS_H
#define __BEE_BPF_HELPERS_H

#include "bpf_helper_defs.h"

/* Place a program or map in an ELF section; the loader reads program types from these names. */
#define SEC(name) __attribute__((section(name), used))

/* BTF-defined map attributes: encoded in the *type* of each struct member, read back from BTF. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#define __hidden __attribute__((visibility("hidden")))
#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#define __arg_nonnull __attribute((btf_decl_tag("arg:nonnull")))

#define ___bpf_concat(a, b) a##b

#ifndef NULL
#define NULL ((void *)0)
#endif

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((void *)(ptr) - offsetof(type, member)))
#endif

/* Hint the verifier that a branch is unlikely/likely. */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Map update flags (uapi enum values; not always present in a vmlinux.h generated from BTF). */
#ifndef BPF_ANY
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2
#define BPF_F_LOCK 4
#endif

/* Pinning modes for BTF maps: __uint(pinning, LIBBPF_PIN_BY_NAME). */
enum libbpf_pin_type {
	LIBBPF_PIN_NONE,
	LIBBPF_PIN_BY_NAME,
};

/* bpf_printk("fmt", args...): the format string lives on the stack so no .rodata map is needed. */
#define bpf_printk(fmt, ...)                                              \
	({                                                                \
		char ____fmt[] = fmt;                                     \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); \
	})

/* Bounded loops the verifier understands (5.3+). */
#define bpf_for_each_index(i, n) for (int i = 0; i < (n); i++)

#endif
