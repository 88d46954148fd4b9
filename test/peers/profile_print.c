/* Test peer for `prog profile`'s text output (test/profile.test.ts): bpftool's plain printout
 * (prog.c, profile_print_readings_plain) with its printf formats and its arithmetic, the ratio in
 * single precision (`const float ratio_mul`) and the multiplexing share in double, fed readings on
 * stdin instead of from the profiler's maps. Written for bee-ts from bpftool's formats.
 *
 * Input, one case per line: RUN_CNT then seven triples COUNTER ENABLED RUNNING SELECTED (one per
 * metric of bpftool's table, in its order; SELECTED 0 or 1). Each case's printout is followed by
 * a line "--". */
#include <stdio.h>
#include <stdbool.h>

struct metric {
	const char *name;
	int ratio_metric; /* 0: none, else 1 + the index divided by */
	const char *ratio_desc;
	float ratio_mul;
	unsigned long long counter, enabled, running;
	bool selected;
};

static struct metric metrics[] = {
	{ "cycles", 0, "", 0 },
	{ "instructions", 1, "insns per cycle", 1.0 },
	{ "l1d_loads", 0, "", 0 },
	{ "llc_misses", 2, "LLC misses per million insns", 1e6 },
	{ "itlb_misses", 2, "itlb misses per million insns", 1e6 },
	{ "dtlb_misses", 2, "dtlb misses per million insns", 1e6 },
	{ "cpu_clock", 0, "", 0 },
};
#define N (sizeof(metrics) / sizeof(metrics[0]))

int main(void)
{
	unsigned long long run_cnt;

	while (scanf("%llu", &run_cnt) == 1) {
		for (unsigned m = 0; m < N; m++) {
			int sel;

			if (scanf("%llu %llu %llu %d", &metrics[m].counter, &metrics[m].enabled, &metrics[m].running, &sel) != 4)
				return 1;
			metrics[m].selected = sel;
		}
		printf("\n%18llu %-20s\n", run_cnt, "run_cnt");
		for (unsigned m = 0; m < N; m++) {
			struct metric *v = &metrics[m];
			int r;

			if (!v->selected)
				continue;
			printf("%18llu %-20s", v->counter, v->name);
			r = v->ratio_metric - 1;
			if (r >= 0 && metrics[r].selected && metrics[r].counter > 0)
				printf("# %8.2f %-30s", v->counter * v->ratio_mul / metrics[r].counter, v->ratio_desc);
			else
				printf("%-41s", "");
			if (v->enabled > v->running)
				printf("(%4.2f%%)", v->running * 100.0 / v->enabled);
			printf("\n");
		}
		printf("--\n");
	}
	return 0;
}
