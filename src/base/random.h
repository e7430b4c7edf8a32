/*
 * random.h - bytes from the kernel's cryptographic random source.
 *
 * For keys, nonces, tags and branch ids. Blocks only until the kernel pool
 * is initialised at boot, never afterwards. No user-space generator: small
 * requests are served from a per-thread buffer of kernel bytes, each byte
 * handed out once (see random.c).
 */
#ifndef SIPD_BASE_RANDOM_H
#define SIPD_BASE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fills out with len random bytes; 0 or the errno of getrandom(2) (ENOSYS
 * on a kernel without it). Exception to the out-parameter rule: on failure
 * out may hold some random bytes and must not be used.
 */
int random_bytes(void *out, size_t len);
/* One random 64-bit value; *out written only on success. */
int random_u64(uint64_t *out);

#endif
