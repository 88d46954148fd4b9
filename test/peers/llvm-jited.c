/*
 * Test peer for `bee-ts prog dump jited` (compiled at test time, never shipped): what bpftool
 * 7.1's `prog dump jited` prints when bpftool is built with LLVM (Debian's is built without a
 * disassembler), written here from bpftool's prog.c / jit_disasm.c logic and calling the same
 * libraries: libbpf 1.1 (prog info, BTF, bpf_prog_linfo) and LLVM 16's C disassembler API with
 * bpftool's options (LLVMCreateDisasm, a symbol callback that only sets InOut_None, the offset in
 * the function as the PC). Function prototypes are left out (bpftool's own BTF printer, which
 * bee-ts's `prog dump xlated` tests already compare).
 *
 *   llvm-jited prog plain|linum|opcodes ID...   programs, bpftool's text layout; each after a
 *                                               line `=== ID`
 *   llvm-jited raw TRIPLE FILE LEN...            FILE as functions of LEN bytes, with opcodes
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <llvm-c/Disassembler.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

static const char *lookup(void *info, uint64_t value, uint64_t *type, uint64_t pc, const char **name)
{
	*type = LLVMDisassembler_ReferenceType_InOut_None;
	return NULL;
}

struct ksym { unsigned long long addr; char name[256]; };
static struct ksym *syms;
static size_t nsyms;

static void load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512];
	if (!f) return;
	while (fgets(line, sizeof line, f)) {
		struct ksym s;
		if (sscanf(line, "%llx %*c %255s", &s.addr, s.name) != 2 || !s.addr) continue;
		if (!(nsyms & 4095)) syms = realloc(syms, (nsyms + 4096) * sizeof *syms);
		syms[nsyms++] = s;
	}
	fclose(f);
}

static const char *ksym_name(unsigned long long addr)
{
	for (size_t i = 0; i < nsyms; i++)
		if (syms[i].addr == addr) return syms[i].name;
	return NULL;
}

static void print_linfo(const struct btf *btf, const struct bpf_line_info *l, int linum)
{
	const char *line = btf__name_by_offset(btf, l->line_off);
	if (!line) return;
	while (isspace((unsigned char)*line)) line++;
	if (linum) {
		const char *file = btf__name_by_offset(btf, l->file_name_off);
		printf("; %s [file:%s line_num:%u line_col:%u]\n", line, file ? file : "",
		       BPF_LINE_INFO_LINE_NUM(l->line_col), BPF_LINE_INFO_LINE_COL(l->line_col));
	} else
		printf("; %s\n", line);
}

static void disasm(const char *triple, unsigned char *img, size_t len, int opcodes, const struct btf *btf,
		   const struct bpf_prog_linfo *linfo, unsigned long long ksym, unsigned idx, int linum)
{
	/* aarch64: every ISA extension, as bpftool does since it disassembles LSE atomics. */
	LLVMDisasmContextRef ctx = strncmp(triple, "aarch64", 7) ? LLVMCreateDisasm(triple, NULL, 0, NULL, lookup)
							: LLVMCreateDisasmCPUFeatures(triple, "", "+all", NULL, 0, NULL, lookup);
	unsigned nr_skip = 0;
	size_t pc = 0, count;
	do {
		char buf[256] = "";
		if (linfo) {
			const struct bpf_line_info *l = bpf_prog_linfo__lfind_addr_func(linfo, ksym + pc, idx, nr_skip);
			if (l) {
				nr_skip++;
				print_linfo(btf, l, linum);
			}
		}
		printf("%4zx:", pc);
		count = LLVMDisasmInstruction(ctx, img + pc, len - pc, pc, buf, sizeof buf);
		printf("%s", count ? buf : "\t(bad)");
		if (opcodes) {
			printf("\n\t");
			for (size_t i = 0; i < count; i++) printf("%02x ", img[pc + i]);
		}
		printf("\n");
		pc += count;
	} while (count > 0 && pc < len);
	LLVMDisasmDispose(ctx);
}

#define P(x) ((__u64)(uintptr_t)(x))

static int dump(int id, int linum, int opcodes)
{
	int fd = bpf_prog_get_fd_by_id(id);
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof info;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen)) return 1;
	struct bpf_prog_info full = {};
	full.jited_prog_len = info.jited_prog_len;
	full.jited_prog_insns = P(calloc(1, info.jited_prog_len + 1));
	full.nr_jited_ksyms = info.nr_jited_ksyms;
	full.jited_ksyms = P(calloc(info.nr_jited_ksyms + 1, 8));
	full.nr_jited_func_lens = info.nr_jited_func_lens;
	full.jited_func_lens = P(calloc(info.nr_jited_func_lens + 1, 4));
	full.nr_func_info = info.nr_func_info;
	full.func_info_rec_size = info.func_info_rec_size;
	full.func_info = P(calloc(info.nr_func_info + 1, info.func_info_rec_size));
	full.nr_line_info = info.nr_line_info;
	full.line_info_rec_size = info.line_info_rec_size;
	full.line_info = P(calloc(info.nr_line_info + 1, info.line_info_rec_size));
	full.nr_jited_line_info = info.nr_jited_line_info;
	full.jited_line_info_rec_size = info.jited_line_info_rec_size;
	full.jited_line_info = P(calloc(info.nr_jited_line_info + 1, info.jited_line_info_rec_size));
	ilen = sizeof full;
	if (bpf_obj_get_info_by_fd(fd, &full, &ilen)) return 1;
	close(fd);
	struct btf *btf = full.btf_id ? btf__load_from_kernel_by_id(full.btf_id) : NULL;
	struct bpf_prog_linfo *linfo = full.nr_line_info ? bpf_prog_linfo__new(&full) : NULL;
	unsigned char *img = (unsigned char *)(uintptr_t)full.jited_prog_insns;
	const char *triple = "x86_64-pc-linux-gnu";
	if (!full.nr_jited_func_lens) {
		disasm(triple, img, full.jited_prog_len, opcodes, btf, NULL, 0, 0, 0);
		return 0;
	}
	__u64 *ksyms = (__u64 *)(uintptr_t)full.jited_ksyms;
	__u32 *lens = (__u32 *)(uintptr_t)full.jited_func_lens;
	for (__u32 i = 0; i < full.nr_jited_func_lens; i++) {
		const char *name = full.nr_jited_ksyms ? ksym_name(ksyms[i]) : "unknown";
		if (name) printf("%s:\n", name);
		else printf("0x%016llx:\n", (unsigned long long)ksyms[i]);
		disasm(triple, img, lens[i], opcodes, btf, linfo, ksyms[i], i, linum);
		img += lens[i];
		printf("\n");
	}
	bpf_prog_linfo__free(linfo);
	btf__free(btf);
	return 0;
}

int main(int argc, char **argv)
{
	LLVMInitializeAllTargetInfos();
	LLVMInitializeAllTargetMCs();
	LLVMInitializeAllDisassemblers();
	if (argc >= 4 && !strcmp(argv[1], "raw")) {
		FILE *f = fopen(argv[3], "rb");
		static unsigned char img[1 << 24];
		size_t n = f ? fread(img, 1, sizeof img, f) : 0, off = 0;
		if (!f) return 1;
		fclose(f);
		for (int a = 4; a < argc; a++) {
			size_t len = strtoul(argv[a], NULL, 10);
			if (off + len > n) return 1;
			disasm(argv[2], img + off, len, 1, NULL, NULL, 0, 0, 0);
			printf("\n");
			off += len;
		}
		return 0;
	}
	if (argc < 4 || strcmp(argv[1], "prog")) return 2;
	int linum = !strcmp(argv[2], "linum"), opcodes = !strcmp(argv[2], "opcodes");
	load_kallsyms();
	for (int a = 3; a < argc; a++) {
		printf("=== %s\n", argv[a]);
		if (dump(atoi(argv[a]), linum, opcodes)) return 1;
	}
	fflush(stdout);
	return 0;
}
