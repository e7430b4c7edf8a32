/*
 * random.c - getrandom(2) with its two quirks handled: a call may return
 * fewer bytes than asked (above 256 bytes, or on a signal) and may fail
 * with EINTR. Both are retried until every byte is filled.
 */
#include "base/random.h"

#include <errno.h>
#include <sys/random.h>

int random_bytes(void *out, size_t len)
{
	unsigned char *p = out;

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
