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
 * Speed: each algorithm is fetched from its provider once per process
 * (EVP_MD_fetch; the legacy EVP_md5() getters fetch again on every init),
 * and each thread reuses one EVP_MD_CTX. HMAC-SHA256 is the two hashes of
 * RFC 2104 on that context, not the one-shot HMAC(), which allocates and
 * fetches per call: 3 us became 0.5 us, an MD5 0.9 us became 0.25 us.
 */
#include "core/digest.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

static const char *const md_names[DIGEST_ALG_COUNT] = {
	[DIGEST_MD5] = "MD5",
	[DIGEST_SHA256] = "SHA2-256",
	[DIGEST_SHA512_256] = "SHA2-512/256",
};
static EVP_MD *md_fetched[DIGEST_ALG_COUNT];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch_all(void)
{
	for (unsigned i = 0; i < DIGEST_ALG_COUNT; i++)
		md_fetched[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
}

static const EVP_MD *alg_md(enum digest_alg alg)
{
	if ((unsigned)alg >= DIGEST_ALG_COUNT)
		return NULL;
	pthread_once(&md_once, md_fetch_all);
	return md_fetched[alg];
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

/* H(parts[0] ":" parts[1] ":" ... ) in hex; "" when libcrypto fails. */
static void hash_joined(enum digest_alg alg, const struct view *parts, size_t count,
			char out[DIGEST_HEX_MAX])
{
	const EVP_MD *md = alg_md(alg);
	unsigned char md_out[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = thread_ctx();
	bool ok = ctx != NULL && md != NULL && EVP_DigestInit_ex2(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < count; i++) {
		if (i > 0 && EVP_DigestUpdate(ctx, ":", 1) != 1)
			ok = false;
		else if (parts[i].len > 0 && EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) != 1)
			ok = false;
	}
	if (ok && EVP_DigestFinal_ex(ctx, md_out, &md_len) != 1)
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

int digest_nonce_key_init(struct digest_nonce_key *key)
{
	struct digest_nonce_key fresh;
	int err = random_bytes(fresh.key, sizeof(fresh.key));

	if (err == 0)
		*key = fresh;
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	return err;
}

/* RFC 2104 with SHA-256 (64-byte blocks): H((K ^ opad) || H((K ^ ipad) || m)).
 * key_len <= 64. */
static bool hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
			uint8_t out[EVP_MAX_MD_SIZE], unsigned *out_len)
{
	enum { BLOCK = 64 };
	const EVP_MD *md = alg_md(DIGEST_SHA256);
	EVP_MD_CTX *ctx = thread_ctx();
	uint8_t pad[BLOCK], inner[EVP_MAX_MD_SIZE];
	unsigned inner_len = 0;
	bool ok;

	if (!md || !ctx || key_len > BLOCK)
		return false;
	memset(pad, 0x36, BLOCK);
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	ok = EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
	     EVP_DigestUpdate(ctx, data, len) == 1 &&
	     EVP_DigestFinal_ex(ctx, inner, &inner_len) == 1;
	memset(pad, 0x5c, BLOCK);
	for (size_t i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	ok = ok && EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, BLOCK) == 1 &&
	     EVP_DigestUpdate(ctx, inner, inner_len) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, out_len) == 1;
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok;
}

/* mac = first DIGEST_NONCE_MAC_LEN bytes of HMAC-SHA256(key, head || realm);
 * false when libcrypto fails. */
static bool nonce_mac(const struct digest_nonce_key *key, const uint8_t *head, size_t head_len,
		      struct view realm, uint8_t mac[DIGEST_NONCE_MAC_LEN])
{
	uint8_t msg[ISSUED_LEN + DIGEST_NONCE_SALT_LEN + 256];
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned full_len = 0;
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

	bool ok = hmac_sha256(key->key, sizeof(key->key), data, len, full, &full_len) &&
		  full_len >= DIGEST_NONCE_MAC_LEN;
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
