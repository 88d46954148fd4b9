/* libbpf peer for bench/ringbuf.mjs: consumes the same pinned ring buffer with
 * ring_buffer__consume / ring_buffer__poll and prints one JSON line.
 *   rb_libbpf consume <ring pin> <prog pin> <size>   one process for all rounds: per line "<cycles>" on
 *     stdin, <cycles> times fill the ring via BPF_PROG_TEST_RUN and time draining it, then print one
 *     JSON line with the records, the drain CPU (CLOCK_PROCESS_CPUTIME_ID) and wall seconds summed
 *     over the cycles and the producer's drops; exits at end of input (<size> sets how many records
 *     fill the ring: for mixed sizes pass one at least their mean). bee-ts times the same cycles
 *     in its process, so the two sides are measured alike and alternated per round.
 *   rb_libbpf stream  <ring pin> <seconds> <poll|sleep>        count records while another process produces:
 *     prints "ready" once it reads the ring, stops at SIGUSR1 (the producer is done) or after <seconds>;
 *     reports its CPU time (getrusage) for the consumer's CPU per record
 * Build: gcc -O2 -o rb_libbpf rb_libbpf.c -lbpf   (libbpf-dev; a test peer, not a bee-ts dependency) */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct prod_req {
	uint32_t n;
	uint32_t mode;
	uint64_t sample_every;
	uint64_t seq;
	uint64_t produced;
	uint64_t dropped;
};

static uint64_t count;
static volatile uint32_t sink;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	/* Touch the payload like the JS consumer does (fold the first word into a sum by XOR). */
	sink ^= *(uint32_t *)data;
	count++;
	return 0;
}

static double clock_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: rb_libbpf consume|stream ...\n");
		return 2;
	}
	int ring = bpf_obj_get(argv[2]);
	if (ring < 0) {
		perror("bpf_obj_get ring");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(ring, on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	if (strcmp(argv[1], "consume") == 0) {
		int prog = bpf_obj_get(argv[3]);
		if (prog < 0) {
			perror("bpf_obj_get prog");
			return 1;
		}
		int size = atoi(argv[4]);
		uint32_t per = (64u << 20) / ((size + 8 + 7) & ~7u);
		char line[64];
		while (fgets(line, sizeof(line), stdin)) {
			int cycles = atoi(line);
			double cpu = 0, wall = 0;
			uint64_t records = 0, dropped = 0;
			for (int c = 0; c < cycles; c++) {
				struct prod_req req = { .n = per, .mode = 1 };
				LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &req, .ctx_size_in = sizeof(req));
				if (bpf_prog_test_run_opts(prog, &opts)) {
					perror("test run");
					return 1;
				}
				count = 0;
				double c0 = cpu_now();
				double t0 = now();
				ring_buffer__consume(rb);
				wall += now() - t0;
				cpu += cpu_now() - c0;
				records += count;
				dropped += req.dropped;
			}
			printf("{\"records\":%llu,\"cpu\":%.9f,\"seconds\":%.9f,\"drops\":%llu}\n", (unsigned long long)records, cpu, wall,
			       (unsigned long long)dropped);
			fflush(stdout);
		}
		return 0;
	}
	double seconds = atof(argv[3]);
	int sleep_mode = argc > 4 && strcmp(argv[4], "sleep") == 0;
	/* The producer is a Node process whose start-up can take longer than its run on a loaded
	 * host: a fixed window here could close before it produced anything (0 records seen). */
	signal(SIGUSR1, on_stop);
	double t0 = now(), end = t0 + seconds;
	count = 0;
	printf("ready\n");
	fflush(stdout);
	while (!stop && now() < end) {
		if (sleep_mode) {
			ring_buffer__consume(rb);
			usleep(1000);
		} else {
			ring_buffer__poll(rb, 100);
		}
	}
	ring_buffer__consume(rb);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"records\":%llu,\"seconds\":%.6f,\"cpu\":%.6f}\n", (unsigned long long)count, now() - t0, cpu);
	return 0;
}
