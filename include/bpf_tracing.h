/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "bpf_tracing.h": the same as <bpf/bpf_tracing.h>, except that with no
 * -D__TARGET_ARCH_<arch> and a plain -target bpf it reads x86 registers, as bee-ts's first
 * headers did (libbpf's header makes that a compile error; bee-ts build always sets the arch). */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_s390) && !defined(__TARGET_ARCH_arm) && \
	!defined(__TARGET_ARCH_arm64) && !defined(__TARGET_ARCH_mips) && !defined(__TARGET_ARCH_powerpc) && \
	!defined(__TARGET_ARCH_sparc) && !defined(__TARGET_ARCH_riscv) && !defined(__TARGET_ARCH_arc) && \
	!defined(__TARGET_ARCH_loongarch) && !defined(__x86_64__) && !defined(__aarch64__)
#define __TARGET_ARCH_x86
#endif
#include "bpf/bpf_tracing.h"
