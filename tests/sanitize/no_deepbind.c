/* no_deepbind.c - an LD_PRELOAD shim for the asan suite (tests/sanitize/run.sh).
 * A PHP built without sanitizers loads extensions with dlopen(RTLD_DEEPBIND), and the ASan runtime
 * refuses that flag: a library bound "deep" would call libc's malloc and free instead of ASan's,
 * which then reports frees of memory it never handed out. This dlopen drops the flag and passes the
 * call on to the next dlopen (ASan's), so it must come before libasan in LD_PRELOAD; the suite sets
 * verify_asan_link_order=0 for that reason. Test tooling only: never part of the extension. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

void *dlopen(const char *file, int flags);

void *dlopen(const char *file, int flags)
{
	static void *(*next)(const char *, int);

	if (!next)
		*(void **)&next = dlsym(RTLD_NEXT, "dlopen");
	if (!next)
		return NULL;
	return next(file, flags & ~RTLD_DEEPBIND);
}
