/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "bpf_core_read.h": the same as <bpf/bpf_core_read.h>. */
#include "bpf/bpf_core_read.h"

#ifndef __BEE_BPF_CORE_READ_H
#define __BEE_BPF_CORE_READ_H
/* Kept for probes written against bee-ts's first headers (libbpf has no such macro). */
#define bpf_core_field_signed(field...) __builtin_preserve_field_info(___bpf_field_ref(field), BPF_FIELD_SIGNED)
#endif
