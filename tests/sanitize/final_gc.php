<?php
/* tests/sanitize/final_gc.php - auto_prepend_file of the asan and valgrind suites.
 *
 * At the end of a request a debug build of PHP destroys the global scope and then collects
 * cycles (shutdown_executor(): `#if ZEND_DEBUG gc_collect_cycles()`); the release build these
 * suites use does not, so on the system allocator (USE_ZEND_ALLOC=0) every object still in a
 * cycle at exit, such as a server whose handler closure uses the server, would be reported as
 * leaked. The last shutdown function does what the debug build does: it releases the globals,
 * newest first, and collects cycles. A reference the extension leaks is not part of a cycle and
 * a cycle its get_gc handler hides is not collected, so both are still reported. */

register_shutdown_function(function (): void {
    /* Registered from a shutdown function, so it runs after the script's own ones. */
    register_shutdown_function(function (): void {
        foreach (array_reverse(array_keys($GLOBALS)) as $name) {
            unset($GLOBALS[$name]);
        }
        gc_collect_cycles();
    });
});
