/* test_loop_poll.c - test_loop.c against the poll() backend that non-Linux systems use. */
#include "unit.h"

#define WS_LOOP_FORCE_POLL 1
#include "../../src/loop.c"
#include "test_loop.c"
