/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "bpf_helpers.h" (bee's and older bee-ts probes): the same as <bpf/bpf_helpers.h>. */
#include "bpf/bpf_helpers.h"

#ifndef __BEE_BPF_HELPERS_H
#define __BEE_BPF_HELPERS_H
/* Kept for probes written against bee-ts's first headers. */
#define bpf_for_each_index(i, n) for (int i = 0; i < (n); i++)
#endif
