/*
 * digest.h - the arithmetic of HTTP/SIP Digest (RFC 3261 §22.4, RFC 7616,
 * RFC 8760) and sipd's stateless nonces. Pure: no I/O, no state.
 *
 * Hashes come from OpenSSL's libcrypto (MD5, SHA-256, SHA-512/256). Every
 * hex string is lower case. Secrets (HA1, keys) are compared only with
 * digest_hex_equal(), in constant time.
 *
 * Nonce: base64url without padding (RFC 4648 §5) of 32 bytes:
 *   issued_s (8 bytes, big-endian) || salt (8 random bytes) ||
 *   first 16 bytes of HMAC-SHA256(key, issued_s || salt || realm)
 * = 43 characters. sipd verifies it without storing it, nobody can forge
 * one without the key, its age is known, and the salt makes every
 * challenge's nonce fresh even within one second.
 */
#ifndef SIPD_CORE_DIGEST_H
#define SIPD_CORE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/view.h"

enum digest_alg {
	DIGEST_MD5,
	DIGEST_SHA256,
	DIGEST_SHA512_256,
	DIGEST_ALG_COUNT
};

#define DIGEST_HEX_MAX 65   /* 64 hex digits and a NUL */
#define DIGEST_NONCE_MAX 48 /* base64url of 32 bytes is 43 characters; NUL */
#define DIGEST_NONCE_SALT_LEN 8
#define DIGEST_NONCE_MAC_LEN 16
#define DIGEST_NONCE_RAW_LEN (8 + DIGEST_NONCE_SALT_LEN + DIGEST_NONCE_MAC_LEN)
/* A nonce issued more than this far in the future (clock step) is BAD. */
#define DIGEST_NONCE_FUTURE_S 5
#define DIGEST_KEY_LEN 32

/* "MD5", "SHA-256", "SHA-512-256" (the RFC 8760 tokens). */
const char *digest_alg_name(enum digest_alg alg);
/* Case-insensitive; an absent algorithm (NULL p) means MD5. */
bool digest_alg_from_view(struct view name, enum digest_alg *alg);
/* Hex digits of the algorithm's output: 32 or 64. */
size_t digest_hex_len(enum digest_alg alg);

/* HA1 = H(user ":" realm ":" password). */
void digest_ha1(enum digest_alg alg, struct view user, struct view realm, struct view password,
		char out[DIGEST_HEX_MAX]);

struct digest_input {
	enum digest_alg alg;
	struct view ha1;    /* hex */
	struct view method; /* request method; empty for rspauth */
	struct view uri;    /* digest-uri as the client sent it */
	struct view nonce;
	struct view nc;     /* 8 hex digits, as sent */
	struct view cnonce;
	struct view qop;    /* "auth", or empty for RFC 2069 style */
};

/* request-digest (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1). qop=auth-int is not
 * supported by sipd (it is never offered). */
void digest_response(const struct digest_input *in, char out[DIGEST_HEX_MAX]);
/* response-auth of Authentication-Info: the same with an empty method. */
void digest_rspauth(const struct digest_input *in, char out[DIGEST_HEX_MAX]);

/* Constant-time comparison of two hex strings (case-insensitive); false
 * when the lengths differ. */
bool digest_hex_equal(struct view a, struct view b);

#define DIGEST_HMAC_STATE_SIZE 128 /* room for libcrypto's SHA256_CTX */

struct digest_nonce_key {
	uint8_t key[DIGEST_KEY_LEN];
	/* HMAC-SHA256 states after the key's inner and outer pad blocks
	 * (RFC 2104), set by digest_nonce_key_init; opaque outside digest.c. */
	_Alignas(8) unsigned char inner[DIGEST_HMAC_STATE_SIZE];
	_Alignas(8) unsigned char outer[DIGEST_HMAC_STATE_SIZE];
};

/* A fresh random key (process start). Returns 0 or errno. */
int digest_nonce_key_init(struct digest_nonce_key *key);
/* The key of these bytes (tests). Returns 0 or ENOMEM (libcrypto failed). */
int digest_nonce_key_set(struct digest_nonce_key *key, const uint8_t bytes[DIGEST_KEY_LEN]);
/*
 * A dialog token (proxy.c puts it in its Record-Route URI): the first
 * DIGEST_TOKEN_MAC_LEN bytes of HMAC-SHA256(key, parts), in lower-case hex
 * and a NUL. Each part is preceded by its length (4 bytes, big-endian), so
 * no two lists of parts hash the same input. Returns false when libcrypto
 * fails (out is then "").
 */
#define DIGEST_TOKEN_MAC_LEN 12
#define DIGEST_TOKEN_HEX_LEN (2 * DIGEST_TOKEN_MAC_LEN)
bool digest_token(const struct digest_nonce_key *key, const struct view *parts, size_t count,
		  char out[DIGEST_TOKEN_HEX_LEN + 1]);
/* A fresh nonce (random salt) for realm: 0, or the errno of getrandom. */
int digest_nonce_make(const struct digest_nonce_key *key, uint64_t issued_s, struct view realm,
		      char out[DIGEST_NONCE_MAX]);

enum digest_nonce_check {
	DIGEST_NONCE_OK,
	DIGEST_NONCE_STALE, /* genuine, older than lifetime_s */
	DIGEST_NONCE_BAD,   /* not ours, or for another realm, or from the future */
};
/* *issued_s is written for OK and STALE. STALE: now_s - issued > lifetime. */
enum digest_nonce_check digest_nonce_verify(const struct digest_nonce_key *key, struct view nonce,
					    struct view realm, uint64_t now_s, uint32_t lifetime_s,
					    uint64_t *issued_s);

/* Random opaque/password material: len characters from [A-Za-z0-9]
 * (rejection sampling, no modulo bias) and a NUL, so out holds len + 1.
 * 0 or the errno of getrandom. */
int digest_random_text(char *out, size_t len);

/* base64url without padding (RFC 4648 §5). encode writes
 * DIGEST_BASE64URL_LEN(len) characters and a NUL; returns the characters. */
#define DIGEST_BASE64URL_LEN(n) (((n) * 4 + 2) / 3)
size_t digest_base64url_encode(const uint8_t *in, size_t len, char *out);
/* Strict: only the alphabet, no padding, unused trailing bits zero (so each
 * byte string has exactly one encoding). 0, EBADMSG, or EMSGSIZE when the
 * result would exceed cap; *out_len written only on success. */
int digest_base64url_decode(struct view in, uint8_t *out, size_t cap, size_t *out_len);

#endif
