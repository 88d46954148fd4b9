/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "bpf_endian.h": the same as <bpf/bpf_endian.h>. */
#include "bpf/bpf_endian.h"
