/*
 * siphash.h - SipHash-2-4 and SipHash-1-3, keyed 64-bit hashes (Aumasson
 * and Bernstein, "SipHash: a fast short-input PRF", 2012; 1-3 is the
 * variant with one compression and three finalisation rounds).
 *
 * SipHash-1-3 hashes the hash tables whose keys come off the wire (branch,
 * Call-ID, AOR): with a random key drawn at start-up, a peer cannot choose
 * keys that collide. Its output is never shown. It is what general-purpose
 * hash tables with untrusted keys use (CPython's str hash, Rust's HashMap,
 * the Linux kernel's hsiphash), about 40 % fewer rounds than 2-4 for the
 * 20-40-byte keys here. SipHash-2-4, the PRF of the paper, makes values
 * that do go out (tags, branch suffixes). Neither is a MAC for anything
 * long-lived here nor a replacement for a cryptographic digest.
 *
 * The key is two 64-bit words; the paper's 16-byte key k maps to
 * k0 = k[0..7] and k1 = k[8..15], each read little-endian.
 */
#ifndef SIPD_BASE_SIPHASH_H
#define SIPD_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

uint64_t siphash24(const struct siphash_key *key, const void *data,
		   size_t len);
/*
 * The hash of the input with ASCII A-Z mapped to a-z, without copying it:
 * equal to siphash24 of the lowercased bytes. For case-insensitive keys
 * such as host names. Bytes >= 0x80 are hashed unchanged.
 */
uint64_t siphash24_nocase(const struct siphash_key *key, const void *data,
			  size_t len);
uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len);
uint64_t siphash13_nocase(const struct siphash_key *key, const void *data, size_t len);

#endif
