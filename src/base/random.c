/*
 * random.c - getrandom(2) with its two quirks handled: a call may return
 * fewer bytes than asked (above 256 bytes, or on a signal) and may fail
 * with EINTR. Both are retried until every byte is filled.
 *
 * Small requests (a nonce's salt, a tag) are served from a per-thread pool
 * of RANDOM_POOL_SIZE bytes filled by one getrandom call, so a challenge
 * costs no system call most of the time. Bytes handed out are wiped from
 * the pool, and a forked child starts with an empty pool (pthread_atfork),
 * so no two callers, nor parent and child, ever get the same bytes.
 */
#include "base/random.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

/* One getrandom call's worth: the kernel never returns short below 256. */
#define RANDOM_POOL_SIZE 256u
/* Larger requests (keys) go to the kernel directly. */
#define RANDOM_POOL_MAX_TAKE 32u

struct random_pool {
	unsigned char bytes[RANDOM_POOL_SIZE];
	size_t avail; /* unused bytes: bytes[0 .. avail) */
};

static _Thread_local struct random_pool pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
	explicit_bzero(pool.bytes, sizeof(pool.bytes));
	pool.avail = 0;
}

static void atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, pool_forget);
}

static int kernel_bytes(unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int random_bytes(void *out, size_t len)
{
	if (len > RANDOM_POOL_MAX_TAKE)
		return kernel_bytes(out, len);
	if (pool.avail < len) {
		int err;

		(void)pthread_once(&atfork_once, atfork_register);
		err = kernel_bytes(pool.bytes, sizeof(pool.bytes));
		if (err)
			return err;
		pool.avail = sizeof(pool.bytes);
	}
	pool.avail -= len;
	memcpy(out, pool.bytes + pool.avail, len);
	explicit_bzero(pool.bytes + pool.avail, len);
	return 0;
}

int random_u64(uint64_t *out)
{
	uint64_t v;
	int err;

	err = random_bytes(&v, sizeof(v));
	if (err)
		return err;
	*out = v;
	return 0;
}
