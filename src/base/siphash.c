/*
 * siphash.c - SipHash-c-d from the published algorithm: c compression
 * rounds per 8-byte word, d finalisation rounds, little-endian word loads
 * regardless of host byte order, and the message length (mod 256) in the
 * top byte of the last word. SipHash-2-4 and SipHash-1-3.
 *
 * Every variant shares one body; the round counts and the nocase flag are
 * constants at each call site, so the compiler specialises it.
 */
#include "base/siphash.h"

#include <stdbool.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

/* Lowercases the ASCII capitals among the eight bytes of w at once: a
 * byte gets 0x20 added exactly when it is in 'A'..'Z' (bytes >= 0x80, as in
 * UTF-8, are left alone). */
static inline uint64_t fold8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t low7 = w & (0x7f * ones);
	uint64_t ge_a = low7 + (0x80 - 'A') * ones; /* top bit: byte >= 'A' */
	uint64_t gt_z = low7 + (0x7f - 'Z') * ones; /* top bit: byte > 'Z' */
	uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones);

	return w | upper >> 2;
}

/* Little-endian load of n (<= 8) bytes, optionally lowercased. */
static inline uint64_t load_le(const uint8_t *p, size_t n, bool nocase)
{
	uint64_t w = 0;

	memcpy(&w, p, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w) >> (8 * (8 - n)) * (n > 0);
#endif
	return nocase ? fold8(w) : w;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m, unsigned c_rounds)
{
	s->v3 ^= m;
	for (unsigned r = 0; r < c_rounds; r++)
		sip_round(s);
	s->v0 ^= m;
}

static inline uint64_t sip_hash(const struct siphash_key *key, const void *data, size_t len,
				bool nocase, unsigned c_rounds, unsigned d_rounds)
{
	const uint8_t *p = data;
	size_t body = len - len % 8;
	uint64_t last = (uint64_t)len << 56;
	struct sip_state s = {
		/* "somepseudorandomlygeneratedbytes" */
		.v0 = key->k0 ^ 0x736f6d6570736575ULL,
		.v1 = key->k1 ^ 0x646f72616e646f6dULL,
		.v2 = key->k0 ^ 0x6c7967656e657261ULL,
		.v3 = key->k1 ^ 0x7465646279746573ULL,
	};

	for (size_t i = 0; i < body; i += 8)
		sip_compress(&s, load_le(p + i, 8, nocase), c_rounds);
	/* No pointer arithmetic when len is 0: data may then be NULL. */
	if (len > body)
		last |= load_le(p + body, len - body, nocase);
	sip_compress(&s, last, c_rounds);

	s.v2 ^= 0xff;
	for (unsigned r = 0; r < d_rounds; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t siphash24(const struct siphash_key *key, const void *data,
		   size_t len)
{
	return sip_hash(key, data, len, false, 2, 4);
}

uint64_t siphash24_nocase(const struct siphash_key *key, const void *data,
			  size_t len)
{
	return sip_hash(key, data, len, true, 2, 4);
}

uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len)
{
	return sip_hash(key, data, len, false, 1, 3);
}

uint64_t siphash13_nocase(const struct siphash_key *key, const void *data, size_t len)
{
	return sip_hash(key, data, len, true, 1, 3);
}
