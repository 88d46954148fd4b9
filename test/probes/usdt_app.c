/* A program with USDT probes for the loader tests (built by the test with gcc; needs
 * systemtap-sdt-dev's <sys/sdt.h>). beets:tock is guarded by a semaphore. */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

__attribute__((section(".probes"))) unsigned short beets_tick_semaphore;
__attribute__((section(".probes"))) unsigned short beets_tock_semaphore;
static long data[4] = {10, 20, 30, 40};

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	for (int i = 0; i < n; i++) {
		long neg = -5 - i;
		STAP_PROBE4(beets, tick, i, neg, data[i % 4], 42);
		if (beets_tock_semaphore)
			STAP_PROBE1(beets, tock, i * 100);
	}
	printf("semaphore %u\n", beets_tock_semaphore);
	return 0;
}
