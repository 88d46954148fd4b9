/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CO-RE (compile once, run everywhere) accessors for bee-ts probes. Each macro expands to clang
 * builtins that record a relocation in .BTF.ext; the bee-ts loader resolves it against the
 * running kernel's BTF at load time. */
#ifndef __BEE_BPF_CORE_READ_H
#define __BEE_BPF_CORE_READ_H

/* Relocation kinds, as numbered by clang and the kernel (enum bpf_core_relo_kind). */
enum bpf_field_info_kind {
	BPF_FIELD_BYTE_OFFSET = 0,
	BPF_FIELD_BYTE_SIZE = 1,
	BPF_FIELD_EXISTS = 2,
	BPF_FIELD_SIGNED = 3,
	BPF_FIELD_LSHIFT_U64 = 4,
	BPF_FIELD_RSHIFT_U64 = 5,
};
enum bpf_type_id_kind {
	BPF_TYPE_ID_LOCAL = 0,
	BPF_TYPE_ID_TARGET = 1,
};
enum bpf_type_info_kind {
	BPF_TYPE_EXISTS = 0,
	BPF_TYPE_SIZE = 1,
	BPF_TYPE_MATCHES = 2,
};
enum bpf_enum_value_kind {
	BPF_ENUMVAL_EXISTS = 0,
	BPF_ENUMVAL_VALUE = 1,
};

#define bpf_core_field_exists(field) __builtin_preserve_field_info(field, BPF_FIELD_EXISTS)
#define bpf_core_field_size(field) __builtin_preserve_field_info(field, BPF_FIELD_BYTE_SIZE)
#define bpf_core_field_offset(field) __builtin_preserve_field_info(field, BPF_FIELD_BYTE_OFFSET)
#define bpf_core_field_signed(field) __builtin_preserve_field_info(field, BPF_FIELD_SIGNED)
#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_TARGET)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_EXISTS)
#define bpf_core_type_matches(type) __builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_MATCHES)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_SIZE)
#define bpf_core_enum_value_exists(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_VALUE)

/* Read `sz` bytes of kernel memory at a relocatable address. */
/* (void *) drops qualifiers: reading a volatile kernel field into a local is fine. */
#define bpf_core_read(dst, sz, src) \
	bpf_probe_read_kernel((void *)(dst), sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user(dst, sz, src) \
	bpf_probe_read_user((void *)(dst), sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src) \
	bpf_probe_read_kernel_str((void *)(dst), sz, (const void *)__builtin_preserve_access_index(src))

/* Read a bitfield (or any integer field) whose position and size come from the target kernel. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __bee_bitfield_dst(v, sz) ((void *)&(v))
#else
#define __bee_bitfield_dst(v, sz) ((void *)&(v) + 8 - (sz))
#endif
#define BPF_CORE_READ_BITFIELD_PROBED(s, field) ({                                   \
	unsigned long long __v = 0;                                                   \
	unsigned int __sz = __builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_SIZE); \
	bpf_probe_read_kernel(__bee_bitfield_dst(__v, __sz), __sz,                    \
		(const void *)(s) + __builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_OFFSET)); \
	__v <<= __builtin_preserve_field_info((s)->field, BPF_FIELD_LSHIFT_U64);      \
	__builtin_preserve_field_info((s)->field, BPF_FIELD_SIGNED)                   \
		? (unsigned long long)((long long)__v >> __builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64)) \
		: __v >> __builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64); \
})

/* Count macro arguments (1..9) and paste the count onto a name. */
#define __bee_cat(a, b) __bee_cat2(a, b)
#define __bee_cat2(a, b) a##b
#define __bee_nth(_1, _2, _3, _4, _5, _6, _7, _8, _9, N, ...) N
#define __bee_narg(...) __bee_nth(__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* One hop of a pointer chase: read member `f` of the struct that `p` points to into a fresh local. */
#define __bee_hop(out, p, f) typeof((p)->f) out; bpf_core_read(&out, sizeof(out), &(p)->f)

#define __bee_core_read1(s, a) ({ __bee_hop(__r1, s, a); __r1; })
#define __bee_core_read2(s, a, b) ({ __bee_hop(__r1, s, a); __bee_hop(__r2, __r1, b); __r2; })
#define __bee_core_read3(s, a, b, c) ({ __bee_hop(__r1, s, a); __bee_hop(__r2, __r1, b); \
	__bee_hop(__r3, __r2, c); __r3; })
#define __bee_core_read4(s, a, b, c, d) ({ __bee_hop(__r1, s, a); __bee_hop(__r2, __r1, b); \
	__bee_hop(__r3, __r2, c); __bee_hop(__r4, __r3, d); __r4; })
#define __bee_core_read5(s, a, b, c, d, e) ({ __bee_hop(__r1, s, a); __bee_hop(__r2, __r1, b); \
	__bee_hop(__r3, __r2, c); __bee_hop(__r4, __r3, d); __bee_hop(__r5, __r4, e); __r5; })
#define __bee_core_read6(s, a, b, c, d, e, f) ({ __bee_hop(__r1, s, a); __bee_hop(__r2, __r1, b); \
	__bee_hop(__r3, __r2, c); __bee_hop(__r4, __r3, d); __bee_hop(__r5, __r4, e); \
	__bee_hop(__r6, __r5, f); __r6; })

/* BPF_CORE_READ(task, real_parent, tgid): task->real_parent->tgid, each hop a relocatable read. */
#define BPF_CORE_READ(src, ...) __bee_cat(__bee_core_read, __bee_narg(__VA_ARGS__))(src, __VA_ARGS__)

/* BPF_CORE_READ_INTO(&dst, src, a, b): the same chase, storing the last hop into *dst. */
#define BPF_CORE_READ_INTO(dst, src, ...) ({ *(dst) = BPF_CORE_READ(src, __VA_ARGS__); 0; })

/* Read a string member at the end of a chase of at most one hop. */
#define BPF_CORE_READ_STR_INTO(dst, src, a) bpf_core_read_str(dst, sizeof(*(dst)), &(src)->a)

#endif
