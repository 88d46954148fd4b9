/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* #include "bpf_helper_defs.h": the same as <bpf/bpf_helper_defs.h>. */
#include "bpf/bpf_helper_defs.h"
