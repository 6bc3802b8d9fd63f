/*
 * Preloaded into a process (LD_PRELOAD) by package syncdelay: every fsync
 * and fdatasync of the process waits BINLOG_REPLAY_SYNC_DELAY_NS
 * nanoseconds, then syncs. Calls waiting at the same time wait side by
 * side, as requests to a network-attached disk do.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static long long delay_ns;
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

__attribute__((constructor)) static void syncdelay_init(void)
{
	const char *s = getenv("BINLOG_REPLAY_SYNC_DELAY_NS");
	delay_ns = s ? atoll(s) : 0;
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

static void syncdelay_wait(void)
{
	int saved = errno;
	struct timespec ts = { delay_ns / 1000000000LL, delay_ns % 1000000000LL };
	while (delay_ns > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
	errno = saved;
}

int fsync(int fd)
{
	syncdelay_wait();
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	syncdelay_wait();
	return real_fdatasync(fd);
}
