/* libbpf peer for test/kernel/core-reloc-compat.test.ts: runs every case of the kernel's
 * prog_tests/core_reloc.c table (compiled in from the fetched source as core_reloc_cases.c)
 * through libbpf, the way the selftest's runner does, and prints one JSON line per case with the
 * table's own data (input, expected output, expected failure) and what libbpf produced. libbpf's
 * CO-RE debug lines ("relo #N: patched insn ...") are passed through as LOG lines.
 *   test_progs run                 the table's targets
 *   test_progs btfgen <dir>        targets minimized by bpftool gen min_core_btf: <dir>/<case>.btf
 * Build: gcc -I<shim dir> -I<build dir> -I<selftests> core_reloc_libbpf.c -lbpf (a test peer,
 * never a bee-ts dependency). Run with the build dir as cwd (the table names objects relatively). */
#define _GNU_SOURCE
#include "core_reloc_cases.c"
#include <stdarg.h>

static const char *cur_case = "";

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	(void)level;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n <= 0 || !strstr(line, "relo #"))
		return 0;
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	printf("LOG\t%s\t%s\n", cur_case, line);
	return 0;
}

static void hex(const char *key, const void *p, int n)
{
	const unsigned char *b = p;
	int i;

	printf(",\"%s\":\"", key);
	for (i = 0; b && i < n; i++)
		printf("%02x", b[i]);
	printf("\"");
}

static void str(const char *key, const char *s)
{
	if (s)
		printf(",\"%s\":\"%s\"", key, s);
	else
		printf(",\"%s\":null", key);
}

int main(int argc, char **argv)
{
	const size_t mmap_sz = roundup_page(sizeof(struct data));
	bool btfgen = argc > 2 && strcmp(argv[1], "btfgen") == 0;
	uint64_t my_pid_tgid = getpid() | ((uint64_t)syscall(SYS_gettid) << 32);
	size_t i;

	libbpf_set_print(print_fn);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < ARRAY_SIZE(test_cases); i++) {
		struct core_reloc_test_case tc = test_cases[i];
		const char *orig_btf = tc.btf_src_file;
		char btf_path[4096];
		char output_copy[512];
		struct bpf_object *obj = NULL;
		struct bpf_link *link = NULL;
		struct bpf_program *prog;
		struct bpf_map *map;
		struct data *data = NULL;
		const char *skip = NULL;
		int load = -1, got = 0;
		char out[256] = {0};
		bool dskip = false;

		cur_case = tc.case_name;
		if (tc.needs_testmod)
			skip = "needs the bpf_testmod kernel module, which is not built for this kernel";
		else if (btfgen && (!tc.btf_src_file || tc.run_btfgen_fails))
			skip = "the table marks no btfgen run for this case";
		if (!skip && btfgen) {
			snprintf(btf_path, sizeof(btf_path), "%s/%s.btf", argv[2], tc.case_name);
			tc.btf_src_file = btf_path;
		}
		/* setup() writes the expected output (type ids) through the const pointer, as in the
		 * selftest; give it a private copy. */
		if (tc.output && tc.output_len <= (int)sizeof(output_copy)) {
			memcpy(output_copy, tc.output, tc.output_len);
			tc.output = output_copy;
		}
		if (!skip && tc.setup && tc.setup(&tc))
			skip = "setup failed";
		if (!skip) {
			LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = tc.btf_src_file);
			obj = bpf_object__open_file(tc.bpf_obj_file, &opts);
			if (!obj) {
				load = 0;
				goto report;
			}
			prog = bpf_object__find_program_by_name(obj, tc.prog_name);
			if (!prog) {
				skip = "program not found";
				goto report;
			}
			load = bpf_object__load(obj) == 0;
			if (!load)
				goto report;
			map = bpf_object__find_map_by_name(obj, ".bss");
			data = map ? mmap(NULL, mmap_sz, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0) : MAP_FAILED;
			if (data == MAP_FAILED) {
				data = NULL;
				skip = ".bss not mappable";
				goto report;
			}
			memset(data, 0, sizeof(*data));
			if (tc.input_len)
				memcpy(data->in, tc.input, tc.input_len);
			data->my_pid_tgid = my_pid_tgid;
			link = bpf_program__attach_raw_tracepoint(prog, tc.raw_tp_name);
			if (!link) {
				skip = "attach failed";
				goto report;
			}
			usleep(1);
			dskip = data->skip;
			memcpy(out, data->out, sizeof(out));
			got = 1;
		}
report:
		printf("{\"case\":\"%s\"", tc.case_name);
		str("obj", tc.bpf_obj_file);
		str("btf", orig_btf);
		str("prog", tc.prog_name);
		str("tp", tc.raw_tp_name);
		printf(",\"fails\":%s,\"btfgenFails\":%s", tc.fails ? "true" : "false", tc.run_btfgen_fails ? "true" : "false");
		hex("input", tc.input, tc.input_len);
		hex("expected", tc.output, tc.output_len);
		str("skip", skip);
		printf(",\"load\":%s,\"progSkip\":%s", load < 0 ? "null" : load ? "true" : "false", dskip ? "true" : "false");
		hex("out", got ? out : NULL, tc.output_len);
		printf("}\n");
		if (data)
			munmap(data, mmap_sz);
		bpf_link__destroy(link);
		bpf_object__close(obj);
	}
	return 0;
}
