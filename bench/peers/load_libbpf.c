// bench/load-inproc peer: open and load one BPF object through libbpf LOADS times in one process
// (the first load, then warm ones), closing it after each. Built by bench/load-inproc.mjs at bench
// time (gcc -O2 -lbpf) in a fresh private directory; a test peer, never a bee-ts dependency.
// Usage: load_libbpf OBJ LOADS
// Prints one line per load: cpu_ns wall_ns (process CPU clock, monotonic wall clock).
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level != LIBBPF_WARN) return 0;
  return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: load_libbpf OBJ LOADS\n"); return 2; }
  int loads = atoi(argv[2]);
  libbpf_set_print(quiet);
  for (int i = 0; i < loads; i++) {
    double c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj) { perror("bpf_object__open_file"); return 1; }
    int err = bpf_object__load(obj);
    if (err) { fprintf(stderr, "bpf_object__load: %d\n", err); return 1; }
    bpf_object__close(obj);
    double c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ns(CLOCK_MONOTONIC);
    printf("%.0f %.0f\n", c1 - c0, w1 - w0);
  }
  return 0;
}
