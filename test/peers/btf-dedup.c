/* Peer for test/btf-dedup-libbpf.test.ts: libbpf's btf__dedup over the .BTF of the given objects,
 * appended in order into one empty BTF with btf__add_btf; the raw result is written to argv[1]. */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct btf *all = btf__new_empty();
	const void *raw;
	__u32 sz;
	FILE *f;

	if (argc < 3 || !all)
		return 2;
	for (int i = 2; i < argc; i++) {
		struct btf *b = btf__parse_elf(argv[i], NULL);

		if (!b || btf__add_btf(all, b) < 0)
			return 2;
		btf__free(b);
	}
	if (btf__dedup(all, NULL))
		return 3;
	raw = btf__raw_data(all, &sz);
	f = fopen(argv[1], "wb");
	if (!f || fwrite(raw, 1, sz, f) != sz || fclose(f))
		return 4;
	return 0;
}
