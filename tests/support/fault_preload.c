/* fault_preload.c - a disk that hangs or fails, for servers under test:
 * loaded into mqbroker with LD_PRELOAD (tests only, never installed). When
 * $COMET_FAULT_DIR/msync-stall exists, msync() waits until it is removed
 * (at most 120 s); when $COMET_FAULT_DIR/msync-fail exists, msync() fails
 * with EIO. Otherwise msync() is the C library's. Runs on whichever thread
 * calls msync (the store's flush thread). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

int msync(void *addr, size_t len, int flags)
{
    static int (*real)(void *, size_t, int);
    if (!real)
        real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    const char *dir = getenv("COMET_FAULT_DIR");
    if (dir && *dir) {
        for (int i = 0; i < 120000 && exists(dir, "msync-stall"); i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (exists(dir, "msync-fail")) {
            errno = EIO;
            return -1;
        }
    }
    return real(addr, len, flags);
}
