/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "usdt.bpf.h": the same as <bpf/usdt.bpf.h> (x86 registers by default, as "bpf_tracing.h"). */
#include "bpf_tracing.h"
#include "bpf/usdt.bpf.h"
