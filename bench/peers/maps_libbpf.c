// bench/maps peer: single-element hash map ops and a batch dump through libbpf, CPU time per op.
// Built by bench/maps.mjs at bench time (gcc -O2 -lbpf). Usage: maps_libbpf N ROUNDS
// Prints one line per round: update_ns lookup_ns delete_ns dump_ns per element in CPU time, then
// the same four in wall time.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static double wall_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 8;
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_maps", 4, 8, n, NULL);
  if (fd < 0) { perror("bpf_map_create"); return 1; }
  uint32_t *keys = calloc(n, 4);
  uint64_t *vals = calloc(n, 8);
  for (int r = 0; r < rounds; r++) {
    uint64_t v = 0, sum = 0;
    double t0 = cpu_ns(), w0 = wall_ns();
    for (uint32_t k = 0; k < (uint32_t)n; k++) { v = k * 3ull; if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) { perror("update"); return 1; } }
    double t1 = cpu_ns(), w1 = wall_ns();
    for (uint32_t k = 0; k < (uint32_t)n; k++) { if (bpf_map_lookup_elem(fd, &k, &v)) { perror("lookup"); return 1; } sum += v; }
    double t2 = cpu_ns(), w2 = wall_ns();
    uint32_t token = 0; uint32_t got_total = 0; int first = 1;
    for (;;) {
      uint32_t count = n - got_total;
      int e = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys + got_total, vals + got_total, &count, NULL);
      got_total += count; first = 0;
      if (e) { if (errno == ENOENT) break; perror("lookup_batch"); return 1; }
      if (got_total >= (uint32_t)n) break;
    }
    double t3 = cpu_ns(), w3 = wall_ns();
    for (uint32_t k = 0; k < (uint32_t)n; k++) { if (bpf_map_delete_elem(fd, &k)) { perror("delete"); return 1; } }
    double t4 = cpu_ns(), w4 = wall_ns();
    if (got_total != (uint32_t)n || sum == 1) { fprintf(stderr, "dumped %u of %d\n", got_total, n); return 1; }
    printf("%.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f\n", (t1 - t0) / n, (t2 - t1) / n, (t4 - t3) / n, (t3 - t2) / n,
           (w1 - w0) / n, (w2 - w1) / n, (w4 - w3) / n, (w3 - w2) / n);
    fflush(stdout);
  }
  close(fd);
  return 0;
}
