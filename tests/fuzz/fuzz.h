/* fuzz.h - what every libFuzzer target here shares: the entry point's prototype (the targets
 * build with -Wmissing-prototypes) and REQUIRE, an invariant check that aborts so libFuzzer
 * records the input as a crash. */
#ifndef WS_FUZZ_H
#define WS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                           \
		if (!(cond))                                                                               \
			abort();                                                                               \
	} while (0)

#endif
