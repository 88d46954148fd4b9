/* Stand-in for selftests' test_progs.h, just enough to compile prog_tests/core_reloc.c's case
 * table (its setup functions use CHECK and ASSERT_OK_PTR) outside the test_progs harness.
 * Written for bee-ts's libbpf-compatibility suite; used only at test time. */
#ifndef BEE_TS_TEST_PROGS_SHIM_H
#define BEE_TS_TEST_PROGS_SHIM_H
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* A failed check prints its tag; the value is the condition, as in test_progs. */
#define CHECK(cond, tag, ...) ({                                   \
	int __c = !!(cond);                                        \
	if (__c) { fprintf(stderr, "CHECK %s: ", tag); fprintf(stderr, __VA_ARGS__); } \
	(void)duration;                                            \
	__c; })

#define ASSERT_OK_PTR(p, name) ({                                  \
	const void *__p = (p);                                     \
	int __ok = __p && !libbpf_get_error(__p);                  \
	if (!__ok) fprintf(stderr, "ASSERT_OK_PTR %s failed\n", name); \
	__ok; })

/* Only the bpf_testmod cases call it; they are skipped (no bpf_testmod module here). */
static inline int trigger_module_test_read(int read_sz) { (void)read_sz; return -ENOSYS; }
#endif
