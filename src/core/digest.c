/*
 * digest.c - Digest arithmetic (RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 8760)
 * and sipd's stateless nonces, on top of OpenSSL's libcrypto.
 *
 * What it does: H() over ':'-joined fields with MD5, SHA-256 or the FIPS
 * 180-4 SHA-512/256 (not truncated SHA-512: RFC 7616 §3.9.2 prints values
 * of the latter, see tests/unit/test_digest.c), lower-case hex; HMAC-SHA256
 * nonces (layout in digest.h); strict base64url; constant-time hex compare;
 * random [A-Za-z0-9] text. What it does not: qop=auth-int, *-sess, userhash
 * (sipd never offers them), any state or I/O besides getrandom.
 *
 * Failure policy: the hash functions return void (the contract in
 * digest.h). If libcrypto cannot allocate a context they write an empty
 * string, which never equals a real digest, so every check fails closed.
 *
 * Speed: MD5 and SHA-256 run on libcrypto's low-level functions (MD5_Init,
 * SHA256_Init, ...) with the context on the stack. They are deprecated in
 * OpenSSL 3 in favour of EVP, but EVP in 3.0 frees and allocates the
 * provider's context on every init and goes through two dispatch layers:
 * about 40 ns per hash in a tight loop and, in the running server, where
 * the code is cold, 6 % of a REGISTER's CPU for the 6 hashes it takes.
 * SHA-512/256 (rare) stays on EVP: the algorithm is fetched once per
 * process and each thread reuses one EVP_MD_CTX. HMAC-SHA256 (RFC 2104)
 * starts from the states after the key's inner and outer pad blocks, which
 * digest_nonce_key_init computes once: a nonce MAC hashes 2 blocks, not 4.
 */
/* Before any OpenSSL header: MD5_* and SHA256_*, see "Speed" above. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/digest.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "base/random.h"

#define ISSUED_LEN 8 /* bytes of the big-endian issue time in a nonce */

static const char *const alg_names[DIGEST_ALG_COUNT] = {
	[DIGEST_MD5] = "MD5",
	[DIGEST_SHA256] = "SHA-256",
	[DIGEST_SHA512_256] = "SHA-512-256",
};

const char *digest_alg_name(enum digest_alg alg)
{
	if ((unsigned)alg >= DIGEST_ALG_COUNT)
		return "?";
	return alg_names[alg];
}

bool digest_alg_from_view(struct view name, enum digest_alg *alg)
{
	if (name.p == NULL) {
		*alg = DIGEST_MD5;
		return true;
	}
	for (unsigned i = 0; i < DIGEST_ALG_COUNT; i++) {
		if (view_eq_cstr_nocase(name, alg_names[i])) {
			*alg = (enum digest_alg)i;
			return true;
		}
	}
	return false;
}

size_t digest_hex_len(enum digest_alg alg)
{
	return alg == DIGEST_MD5 ? 32 : 64;
}

/* SHA-512/256, the one algorithm on EVP (MD5 and SHA-256 are not, see
 * "Speed"): fetched from its provider once per process. */
static EVP_MD *sha512_256;
static pthread_once_t sha512_256_once = PTHREAD_ONCE_INIT;

static void sha512_256_fetch(void)
{
	sha512_256 = EVP_MD_fetch(NULL, "SHA2-512/256", NULL);
}

/* This thread's digest context, reset by each EVP_DigestInit_ex2. */
static EVP_MD_CTX *thread_ctx(void)
{
	static _Thread_local EVP_MD_CTX *ctx;
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	return ctx;
}

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* One running hash of any of the algorithms. */
struct hash {
	enum digest_alg alg;
	union {
		MD5_CTX md5;
		SHA256_CTX sha256;
		EVP_MD_CTX *evp; /* this thread's, for the others */
	} u;
};

static bool hash_init(struct hash *h, enum digest_alg alg)
{
	h->alg = alg;
	switch (alg) {
	case DIGEST_MD5:
		return MD5_Init(&h->u.md5) == 1;
	case DIGEST_SHA256:
		return SHA256_Init(&h->u.sha256) == 1;
	case DIGEST_SHA512_256:
		pthread_once(&sha512_256_once, sha512_256_fetch);
		h->u.evp = thread_ctx();
		return sha512_256 != NULL && h->u.evp != NULL &&
		       EVP_DigestInit_ex2(h->u.evp, sha512_256, NULL) == 1;
	default:
		return false;
	}
}

static bool hash_update(struct hash *h, const void *p, size_t len)
{
	switch (h->alg) {
	case DIGEST_MD5:
		return MD5_Update(&h->u.md5, p, len) == 1;
	case DIGEST_SHA256:
		return SHA256_Update(&h->u.sha256, p, len) == 1;
	default:
		return EVP_DigestUpdate(h->u.evp, p, len) == 1;
	}
}

/* Writes the digest to out (EVP_MAX_MD_SIZE bytes of room) and its length
 * to out_len; wipes the hash state. */
static bool hash_final(struct hash *h, unsigned char *out, unsigned *out_len)
{
	bool ok;
	switch (h->alg) {
	case DIGEST_MD5:
		ok = MD5_Final(out, &h->u.md5) == 1;
		*out_len = MD5_DIGEST_LENGTH;
		break;
	case DIGEST_SHA256:
		ok = SHA256_Final(out, &h->u.sha256) == 1;
		*out_len = SHA256_DIGEST_LENGTH;
		break;
	default:
		return EVP_DigestFinal_ex(h->u.evp, out, out_len) == 1;
	}
	OPENSSL_cleanse(&h->u, sizeof(h->u));
	return ok;
}

/* H(parts[0] ":" parts[1] ":" ... ) in hex; "" when libcrypto fails. */
static void hash_joined(enum digest_alg alg, const struct view *parts, size_t count,
			char out[DIGEST_HEX_MAX])
{
	unsigned char md_out[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	struct hash h;
	bool ok = hash_init(&h, alg); /* false for an unknown alg */

	for (size_t i = 0; ok && i < count; i++) {
		if (i > 0 && !hash_update(&h, ":", 1))
			ok = false;
		else if (parts[i].len > 0 && !hash_update(&h, parts[i].p, parts[i].len))
			ok = false;
	}
	if (ok && !hash_final(&h, md_out, &md_len))
		ok = false;
	if (!ok || 2 * (size_t)md_len >= DIGEST_HEX_MAX) {
		out[0] = '\0';
		return;
	}
	to_hex(md_out, md_len, out);
	OPENSSL_cleanse(md_out, sizeof(md_out));
}

void digest_ha1(enum digest_alg alg, struct view user, struct view realm, struct view password,
		char out[DIGEST_HEX_MAX])
{
	const struct view parts[] = { user, realm, password };

	hash_joined(alg, parts, 3, out);
}

void digest_response(const struct digest_input *in, char out[DIGEST_HEX_MAX])
{
	char ha2[DIGEST_HEX_MAX];
	const struct view a2[] = { in->method, in->uri };

	hash_joined(in->alg, a2, 2, ha2);
	if (ha2[0] == '\0') {
		out[0] = '\0';
		return;
	}
	struct view ha2_view = view_from_cstr(ha2);
	if (in->qop.len > 0) {
		const struct view kd[] = { in->ha1, in->nonce, in->nc, in->cnonce, in->qop, ha2_view };
		hash_joined(in->alg, kd, 6, out);
	} else {
		const struct view kd[] = { in->ha1, in->nonce, ha2_view };
		hash_joined(in->alg, kd, 3, out);
	}
}

void digest_rspauth(const struct digest_input *in, char out[DIGEST_HEX_MAX])
{
	struct digest_input copy = *in;

	copy.method = VIEW_LIT("");
	digest_response(&copy, out);
}

bool digest_hex_equal(struct view a, struct view b)
{
	if (a.len != b.len)
		return false;
	unsigned diff = 0;
	for (size_t i = 0; i < a.len; i++) {
		unsigned x = (unsigned char)a.p[i];
		unsigned y = (unsigned char)b.p[i];
		/* Branch-free lower-casing of A-Z: 0x20 where upper, else 0. */
		x |= (unsigned)((x - 'A') < 26u) << 5;
		y |= (unsigned)((y - 'A') < 26u) << 5;
		diff |= x ^ y;
	}
	return diff == 0;
}

/* --- base64url ------------------------------------------------------------ */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t digest_base64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* 0-63, or -1 for a byte outside the alphabet. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int digest_base64url_decode(struct view in, uint8_t *out, size_t cap, size_t *out_len)
{
	if (in.len % 4 == 1)
		return EBADMSG; /* one character carries only 6 bits */
	size_t need = in.len / 4 * 3 + (in.len % 4 == 0 ? 0 : in.len % 4 - 1);
	if (need > cap)
		return EMSGSIZE;

	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < in.len; i++) {
		int v = b64_value((unsigned char)in.p[i]);
		if (v < 0)
			return EBADMSG;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return EBADMSG; /* non-canonical: leftover bits must be zero */
	*out_len = o;
	return 0;
}

/* --- nonces --------------------------------------------------------------- */

_Static_assert(sizeof(SHA256_CTX) <= DIGEST_HMAC_STATE_SIZE, "digest.h: HMAC state room");

/* SHA-256's state after one block of key XOR pad (RFC 2104), into state. */
static bool hmac_pad_state(const uint8_t *key, size_t key_len, uint8_t pad_byte,
			   unsigned char state[DIGEST_HMAC_STATE_SIZE])
{
	enum { BLOCK = 64 };
	uint8_t pad[BLOCK];
	SHA256_CTX c;

	memset(pad, pad_byte, BLOCK);
	for (size_t i = 0; i < key_len && i < BLOCK; i++)
		pad[i] ^= key[i];
	bool ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, pad, BLOCK) == 1;
	memcpy(state, &c, sizeof(c));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
	return ok;
}

int digest_nonce_key_set(struct digest_nonce_key *key, const uint8_t bytes[DIGEST_KEY_LEN])
{
	struct digest_nonce_key fresh;
	int err = 0;

	memcpy(fresh.key, bytes, sizeof(fresh.key));
	if (!hmac_pad_state(fresh.key, sizeof(fresh.key), 0x36, fresh.inner) ||
	    !hmac_pad_state(fresh.key, sizeof(fresh.key), 0x5c, fresh.outer))
		err = ENOMEM;
	if (err == 0)
		*key = fresh;
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return err;
}

int digest_nonce_key_init(struct digest_nonce_key *key)
{
	uint8_t bytes[DIGEST_KEY_LEN];
	int err = random_bytes(bytes, sizeof(bytes));

	if (err == 0)
		err = digest_nonce_key_set(key, bytes);
	OPENSSL_cleanse(bytes, sizeof(bytes));
	return err;
}

/* RFC 2104 with SHA-256: H((K ^ opad) || H((K ^ ipad) || m)), from the
 * pad states of the key. */
static bool hmac_sha256(const struct digest_nonce_key *key, const uint8_t *data, size_t len,
			uint8_t out[SHA256_DIGEST_LENGTH])
{
	uint8_t inner[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	memcpy(&c, key->inner, sizeof(c));
	bool ok = SHA256_Update(&c, data, len) == 1 && SHA256_Final(inner, &c) == 1;
	memcpy(&c, key->outer, sizeof(c));
	ok = ok && SHA256_Update(&c, inner, sizeof(inner)) == 1 && SHA256_Final(out, &c) == 1;
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&c, sizeof(c));
	return ok;
}

bool digest_token(const struct digest_nonce_key *key, const struct view *parts, size_t count,
		  char out[DIGEST_TOKEN_HEX_LEN + 1])
{
	uint8_t inner[SHA256_DIGEST_LENGTH], full[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	bool ok;

	_Static_assert(DIGEST_TOKEN_MAC_LEN <= SHA256_DIGEST_LENGTH, "token is a prefix");
	memcpy(&c, key->inner, sizeof(c));
	ok = true;
	for (size_t i = 0; ok && i < count; i++) {
		size_t len = parts[i].p ? parts[i].len : 0;
		uint8_t be[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
				  (uint8_t)len };
		ok = SHA256_Update(&c, be, sizeof(be)) == 1 &&
		     (len == 0 || SHA256_Update(&c, parts[i].p, len) == 1);
	}
	ok = ok && SHA256_Final(inner, &c) == 1;
	memcpy(&c, key->outer, sizeof(c));
	ok = ok && SHA256_Update(&c, inner, sizeof(inner)) == 1 && SHA256_Final(full, &c) == 1;
	if (ok)
		to_hex(full, DIGEST_TOKEN_MAC_LEN, out);
	else
		out[0] = '\0';
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(full, sizeof(full));
	OPENSSL_cleanse(&c, sizeof(c));
	return ok;
}

/* mac = first DIGEST_NONCE_MAC_LEN bytes of HMAC-SHA256(key, head || realm);
 * false when libcrypto fails. */
static bool nonce_mac(const struct digest_nonce_key *key, const uint8_t *head, size_t head_len,
		      struct view realm, uint8_t mac[DIGEST_NONCE_MAC_LEN])
{
	uint8_t msg[ISSUED_LEN + DIGEST_NONCE_SALT_LEN + 256];
	uint8_t full[SHA256_DIGEST_LENGTH];
	const uint8_t *data = msg;
	uint8_t *heap = NULL;
	size_t len = head_len + realm.len;

	/* Realms are short configuration strings; the heap path is for odd ones. */
	if (len > sizeof(msg)) {
		heap = OPENSSL_malloc(len);
		if (heap == NULL)
			return false;
		data = heap;
	}
	uint8_t *dst = heap != NULL ? heap : msg;
	memcpy(dst, head, head_len);
	if (realm.len > 0)
		memcpy(dst + head_len, realm.p, realm.len);

	_Static_assert(DIGEST_NONCE_MAC_LEN <= SHA256_DIGEST_LENGTH, "MAC is a prefix");
	bool ok = hmac_sha256(key, data, len, full);
	if (ok)
		memcpy(mac, full, DIGEST_NONCE_MAC_LEN);
	OPENSSL_free(heap);
	OPENSSL_cleanse(full, sizeof(full));
	return ok;
}

int digest_nonce_make(const struct digest_nonce_key *key, uint64_t issued_s, struct view realm,
		      char out[DIGEST_NONCE_MAX])
{
	uint8_t raw[DIGEST_NONCE_RAW_LEN];

	for (unsigned i = 0; i < ISSUED_LEN; i++)
		raw[i] = (uint8_t)(issued_s >> (8 * (ISSUED_LEN - 1 - i)));
	int err = random_bytes(raw + ISSUED_LEN, DIGEST_NONCE_SALT_LEN);
	if (err != 0)
		return err;
	if (!nonce_mac(key, raw, ISSUED_LEN + DIGEST_NONCE_SALT_LEN, realm,
		       raw + ISSUED_LEN + DIGEST_NONCE_SALT_LEN))
		return ENOMEM;
	digest_base64url_encode(raw, sizeof(raw), out);
	return 0;
}

enum digest_nonce_check digest_nonce_verify(const struct digest_nonce_key *key, struct view nonce,
					    struct view realm, uint64_t now_s, uint32_t lifetime_s,
					    uint64_t *issued_s)
{
	uint8_t raw[DIGEST_NONCE_RAW_LEN];
	uint8_t mac[DIGEST_NONCE_MAC_LEN];
	size_t raw_len = 0;

	if (nonce.p == NULL || nonce.len != DIGEST_BASE64URL_LEN(DIGEST_NONCE_RAW_LEN))
		return DIGEST_NONCE_BAD;
	if (digest_base64url_decode(nonce, raw, sizeof(raw), &raw_len) != 0 ||
	    raw_len != sizeof(raw))
		return DIGEST_NONCE_BAD;
	if (!nonce_mac(key, raw, ISSUED_LEN + DIGEST_NONCE_SALT_LEN, realm, mac))
		return DIGEST_NONCE_BAD;
	if (CRYPTO_memcmp(mac, raw + ISSUED_LEN + DIGEST_NONCE_SALT_LEN, sizeof(mac)) != 0)
		return DIGEST_NONCE_BAD;

	uint64_t issued = 0;
	for (unsigned i = 0; i < ISSUED_LEN; i++)
		issued = issued << 8 | raw[i];
	if (issued > now_s && issued - now_s > DIGEST_NONCE_FUTURE_S)
		return DIGEST_NONCE_BAD;
	*issued_s = issued;
	if (issued < now_s && now_s - issued > lifetime_s)
		return DIGEST_NONCE_STALE;
	return DIGEST_NONCE_OK;
}

/* --- random text ---------------------------------------------------------- */

static const char text_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
#define TEXT_ALPHABET_LEN (sizeof(text_alphabet) - 1)
/* Bytes at or above this are rejected: 248 = 4 * 62, so each kept byte
 * maps to each character exactly four times. */
#define TEXT_REJECT_AT (256 - 256 % TEXT_ALPHABET_LEN)

int digest_random_text(char *out, size_t len)
{
	uint8_t pool[64];
	size_t done = 0;

	while (done < len) {
		int err = random_bytes(pool, sizeof(pool));
		if (err != 0)
			return err;
		for (size_t i = 0; i < sizeof(pool) && done < len; i++) {
			if (pool[i] >= TEXT_REJECT_AT)
				continue;
			out[done++] = text_alphabet[pool[i] % TEXT_ALPHABET_LEN];
		}
	}
	out[len] = '\0';
	OPENSSL_cleanse(pool, sizeof(pool));
	return 0;
}
