/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Force-included by `bee-ts build` (-include) before the probe's own code. Probes written for bee
 * call memcpy/memset/memmove/memcmp without declaring them: clang 13 accepted that with a warning,
 * clang 16 rejects it. BPF has no C library, so these always have to become the compiler's
 * builtins (inlined loads and stores); here they are spelled that way. A probe that defines its
 * own versions can #undef them first. */
#ifndef __BEE_BUILD_COMPAT_H
#define __BEE_BUILD_COMPAT_H
#ifndef memcpy
#define memcpy __builtin_memcpy
#endif
#ifndef memset
#define memset __builtin_memset
#endif
#ifndef memmove
#define memmove __builtin_memmove
#endif
#ifndef memcmp
#define memcmp __builtin_memcmp
#endif
#endif
