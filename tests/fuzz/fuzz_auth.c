/*
 * fuzz_auth.c - libFuzzer harness for digest authentication (src/core/
 * auth.h, digest.h): credentials as a client sends them, decoded by the
 * SIP parser (sip_msg_decode, sip_msg_auths) and checked by auth_check.
 *
 * Per input, from scratch (so that no input depends on the ones before,
 * and ASan's leak check sees what one leaves behind), four struct auth for
 * realm "example.com": one offering only MD5, one only SHA-256, one only
 * SHA-512-256, and the default (SHA-256 then MD5) with allow_no_qop. Their
 * lookup knows one user, alice, with the HA1s digest_ha1 gives for her
 * password; a URI naming 192.0.2.10 (no user) names this server. The clock
 * stands still at FUZZ_NOW_S.
 *
 * For each struct auth, the input is
 *   1. the Authorization value of a fixed REGISTER, and the Proxy-
 *      Authorization value of a fixed INVITE;
 *   2. a whole message, decoded as a datagram; a request is checked with
 *      both headers.
 * The fuzzer cannot forge a nonce (HMAC under a random key), so three
 * words are replaced first, to reach the checks behind the nonce:
 * "$nonce" by a fresh nonce of that struct auth (auth_challenge now),
 * "$stale" by a genuine one older than its lifetime, and, once the message
 * decodes, "$response" by the right response for alice's password and the
 * credential's own fields (the first Digest credential for the realm,
 * as auth_check picks it).
 * Then, once per input, a client's credentials made by the harness (a
 * nonce from auth_challenge, a cnonce from the input's bytes) must be
 * accepted, and the same request sent again refused as a replay.
 *
 * Properties: no crash; a verdict is one of enum auth_verdict with a
 * reason; a user given lies in the message; the lookup is asked only for
 * the configured realm. AUTH_OK only for alice, and only when the input
 * used a nonce and a response the harness made (nobody else can), with an
 * Authentication-Info line that adds exactly one header line to a response
 * (no line break sneaks in from the echoed cnonce); AUTH_STALE only for
 * the stale nonce with the right response.
 * A broken property calls abort() so libFuzzer records the input. With
 * FUZZ_AUTH_TRACE set in the environment, each verdict is printed to
 * stderr (to write and check seeds).
 *
 * The input is copied into a malloc'd buffer of exactly its size, and so
 * is every message built from it: an over-read by one byte is an ASan
 * report. Built with replay.c instead of libFuzzer, the same function
 * replays the corpus as a test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "base/buf.h"
#include "core/auth.h"
#include "core/digest.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REALM "example.com"
#define FUZZ_USER "alice"
#define FUZZ_PASSWORD "wonderland-7"
#define FUZZ_SELF_HOST "192.0.2.10"
#define FUZZ_NOW_S UINT64_C(1700000000) /* the fake clock */
#define FUZZ_LIFETIME_S 300u
#define FUZZ_AUTHS 4
#define FUZZ_CNONCE_BYTES 16 /* input bytes (as hex) in the harness's cnonce */
#define FUZZ_CRED_MAX 1024   /* the harness's own credentials line */

#define WORD_NONCE "$nonce"
#define WORD_STALE "$stale"
#define WORD_RESPONSE "$response"

static const char register_head[] =
	"REGISTER sip:" FUZZ_REALM " SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bK-fuzz-reg\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:" FUZZ_USER "@" FUZZ_REALM ">;tag=fa1\r\n"
	"To: <sip:" FUZZ_USER "@" FUZZ_REALM ">\r\n"
	"Call-ID: fuzz-auth-reg\r\n"
	"CSeq: 1 REGISTER\r\n"
	"Contact: <sip:" FUZZ_USER "@192.0.2.100:5060>\r\n"
	"Authorization: ";
static const char invite_head[] =
	"INVITE sip:bob@" FUZZ_REALM " SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bK-fuzz-inv\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:" FUZZ_USER "@" FUZZ_REALM ">;tag=fa2\r\n"
	"To: <sip:bob@" FUZZ_REALM ">\r\n"
	"Call-ID: fuzz-auth-inv\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:" FUZZ_USER "@192.0.2.100:5060>\r\n"
	"Proxy-Authorization: ";
static const char msg_tail[] = "\r\nContent-Length: 0\r\n\r\n";
/* A response around an Authentication-Info line: 6 header lines and it. */
static const char response_head[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 192.0.2.100:5060;branch=z9hG4bK-fuzz-reg\r\n"
	"From: <sip:" FUZZ_USER "@" FUZZ_REALM ">;tag=fa1\r\n"
	"To: <sip:" FUZZ_USER "@" FUZZ_REALM ">;tag=fb1\r\n"
	"Call-ID: fuzz-auth-reg\r\n"
	"CSeq: 1 REGISTER\r\n";
static const char response_tail[] = "Content-Length: 0\r\n\r\n";
#define FUZZ_RESPONSE_HEADERS 7u

static struct auth *auths[FUZZ_AUTHS];
static char ha1s[DIGEST_ALG_COUNT][DIGEST_HEX_MAX];
static const uint64_t now_s = FUZZ_NOW_S;
/* The message being checked, for the lookup's check of the user. */
static const struct sip_msg *checking;

/* What the input asked the harness to make. */
struct made {
	bool nonce;    /* "$nonce" or "$stale" was replaced */
	bool stale;    /* "$stale" was replaced */
	bool response; /* "$response" was replaced */
};

#define check(ok, what) fuzz_check((ok), "fuzz_auth", (what))
#define xmalloc fuzz_xmalloc

static bool inside(const struct sip_msg *msg, struct view v)
{
	return v.p >= msg->buf && v.p + v.len <= msg->buf + msg->len;
}

static int lookup(struct view user, struct view realm, enum digest_alg alg,
		  char ha1[DIGEST_HEX_MAX], void *arg)
{
	(void)arg;
	check(view_eq(realm, VIEW_LIT(FUZZ_REALM)), "lookup for another realm");
	check(checking != NULL && inside(checking, user), "lookup user outside the message");
	check((unsigned)alg < DIGEST_ALG_COUNT, "lookup algorithm outside enum digest_alg");
	if (!view_eq(user, VIEW_LIT(FUZZ_USER)))
		return ENOENT;
	memcpy(ha1, ha1s[alg], DIGEST_HEX_MAX);
	return 0;
}

static bool self_uri(const struct sip_uri *uri, void *arg)
{
	(void)arg;
	return view_eq(uri->host, VIEW_LIT(FUZZ_SELF_HOST)) && (!uri->has_port || uri->port == 5060);
}

/* The four struct auth, and (once) alice's HA1s. */
static void auths_alloc(void)
{
	static const enum digest_alg single[] = { DIGEST_MD5, DIGEST_SHA256, DIGEST_SHA512_256 };

	if (ha1s[0][0] == '\0') {
		for (unsigned alg = 0; alg < DIGEST_ALG_COUNT; alg++)
			digest_ha1((enum digest_alg)alg, VIEW_LIT(FUZZ_USER), VIEW_LIT(FUZZ_REALM),
				   VIEW_LIT(FUZZ_PASSWORD), ha1s[alg]);
	}
	for (unsigned i = 0; i < FUZZ_AUTHS; i++) {
		struct auth_config cfg = { .nonce_lifetime_s = FUZZ_LIFETIME_S, .self_uri = self_uri };
		if (i < sizeof(single) / sizeof(single[0])) {
			cfg.algorithms[0] = single[i];
			cfg.algorithm_count = 1;
		} else {
			cfg.allow_no_qop = true; /* count 0: SHA-256, MD5 */
		}
		if (auth_alloc(&auths[i], &cfg, lookup, NULL) != 0)
			abort();
	}
}

static void auths_free(void)
{
	for (unsigned i = 0; i < FUZZ_AUTHS; i++) {
		auth_free(auths[i]);
		auths[i] = NULL;
	}
}

/* in with every word replaced by with, in an exact-size buffer. */
static char *replace_all(const char *in, size_t len, const char *word, const char *with,
			 size_t *out_len)
{
	size_t word_len = strlen(word), with_len = strlen(with), count = 0;

	for (const char *p = in; (p = memmem(p, len - (size_t)(p - in), word, word_len)) != NULL;
	     p += word_len)
		count++;
	size_t total = len - count * word_len + count * with_len;
	char *out = xmalloc(total), *o = out;
	const char *p = in, *hit;
	while ((hit = memmem(p, len - (size_t)(p - in), word, word_len)) != NULL) {
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, with, with_len);
		o += with_len;
		p = hit + word_len;
	}
	memcpy(o, p, len - (size_t)(p - in));
	*out_len = total;
	return out;
}

/* Replace word in *text (exact size, owned) when it is there. */
static bool replace(char **text, size_t *len, const char *word, const char *with)
{
	size_t new_len;
	char *out;

	if (memmem(*text, *len, word, strlen(word)) == NULL)
		return false;
	out = replace_all(*text, *len, word, with, &new_len);
	free(*text);
	*text = out;
	*len = new_len;
	return true;
}

/* The nonce of a challenge of auth issued at issued_s, into out. */
static void nonce_make(struct auth *auth, uint64_t issued_s, char out[DIGEST_NONCE_MAX])
{
	struct buf b;
	const char *start, *end;

	buf_init(&b);
	if (auth_challenge(auth, false, VIEW_LIT(FUZZ_REALM), false, issued_s, &b) != 0)
		abort();
	start = strstr(b.data, "nonce=\"");
	check(start != NULL, "challenge without a nonce");
	start += strlen("nonce=\"");
	end = strchr(start, '"');
	check(end != NULL && (size_t)(end - start) < DIGEST_NONCE_MAX, "challenge nonce length");
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	buf_fini(&b);
}

/* The first Digest credential for the realm in hdr, as auth_check picks
 * it; NULL when none. */
static const struct sip_auth *cred_find(struct sip_msg *msg, enum sip_hdr_id hdr)
{
	const struct sip_auth *auths_found;
	size_t count;

	if (sip_msg_auths(msg, hdr, &auths_found, &count, NULL) != 0)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (auths_found[i].digest && auths_found[i].realm.p != NULL &&
		    view_eq(auths_found[i].realm, VIEW_LIT(FUZZ_REALM)))
			return &auths_found[i];
	return NULL;
}

/* The response alice's client would send for cred in msg; false when the
 * credential names no algorithm we know. */
static bool response_make(const struct sip_msg *msg, const struct sip_auth *cred,
			  char out[DIGEST_HEX_MAX])
{
	enum digest_alg alg;
	bool qop = cred->qop.p != NULL;

	if (!digest_alg_from_view(cred->algorithm, &alg))
		return false;
	struct digest_input in = {
		.alg = alg,
		.ha1 = view_from_cstr(ha1s[alg]),
		.method = msg->method,
		.uri = cred->uri,
		.nonce = cred->nonce,
		.nc = qop ? cred->nc : VIEW_NULL,
		.cnonce = qop ? cred->cnonce : VIEW_NULL,
		.qop = qop ? VIEW_LIT("auth") : VIEW_NULL,
	};
	digest_response(&in, out);
	return true;
}

/* Decode text (exact size, owned by the caller) as a datagram. */
static bool decode(struct sip_msg *msg, const char *text, size_t len)
{
	size_t consumed = 0;
	struct sip_error err;

	if (sip_msg_decode(msg, text, len, SIP_FRAMING_DGRAM, &consumed, &err) == 0)
		return true;
	sip_msg_fini(msg);
	return false;
}

/* The Authentication-Info line in a response: exactly one more header. */
static void check_info(const char *info)
{
	size_t head = strlen(response_head), line = strlen(info), tail = strlen(response_tail);
	size_t len = head + line + tail;
	char *text = xmalloc(len);
	struct sip_msg *msg = xmalloc(sizeof(*msg));

	check(line > 2 && strncmp(info, "Authentication-Info: ", 21) == 0 &&
		      strcmp(info + line - 2, "\r\n") == 0,
	      "Authentication-Info is not one header line");
	memcpy(text, response_head, head);
	memcpy(text + head, info, line);
	memcpy(text + head + line, response_tail, tail);
	check(decode(msg, text, len), "response with Authentication-Info does not decode");
	check(msg->hdr_count == FUZZ_RESPONSE_HEADERS &&
		      sip_msg_hdr_count(msg, SIP_HDR_AUTHENTICATION_INFO) == 1,
	      "Authentication-Info adds other header lines");
	sip_msg_fini(msg);
	free(msg);
	free(text);
}

/* With FUZZ_AUTH_TRACE set in the environment, each verdict goes to
 * stderr (to write and check seeds). */
static void trace(const struct auth_result *r)
{
	static const char *const names[] = { "OK", "CHALLENGE", "STALE", "BAD_REQUEST" };
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_AUTH_TRACE") != NULL;
	if (on)
		fprintf(stderr, "fuzz_auth: %s (%s) user '%.*s'\n", names[r->verdict], r->why,
			(int)r->user.len, r->user.p ? r->user.p : "");
}

static void check_result(const struct sip_msg *msg, const struct auth_result *r,
			 const struct made *made)
{
	check((unsigned)r->verdict <= AUTH_BAD_REQUEST, "verdict outside enum auth_verdict");
	check(r->why != NULL && r->why[0] != '\0', "verdict without a reason");
	check((unsigned)r->alg < DIGEST_ALG_COUNT, "algorithm outside enum digest_alg");
	check(view_is_null(r->user) || inside(msg, r->user), "user outside the message");
	trace(r);
	if (r->verdict == AUTH_OK) {
		check(made->nonce && made->response, "accepted a nonce or response nobody made");
		check(view_eq(r->user, VIEW_LIT(FUZZ_USER)), "accepted someone who is not alice");
		check(strnlen(r->info, AUTH_INFO_MAX) < AUTH_INFO_MAX, "info not terminated");
		check_info(r->info);
	}
	if (r->verdict == AUTH_STALE)
		check(made->stale && made->response, "stale without the stale nonce and response");
}

/* auth_check on msg for hdr; with "$response" in text, first the text
 * again with the right response in its place. */
static void check_msg(struct auth *auth, struct sip_msg *msg, char *text, size_t len,
		      enum sip_hdr_id hdr, struct made made)
{
	const struct sip_auth *cred;
	char response[DIGEST_HEX_MAX];
	struct auth_result *r = xmalloc(sizeof(*r));

	if (memmem(text, len, WORD_RESPONSE, strlen(WORD_RESPONSE)) != NULL &&
	    (cred = cred_find(msg, hdr)) != NULL && response_make(msg, cred, response)) {
		char *again = replace_all(text, len, WORD_RESPONSE, response, &len);
		sip_msg_fini(msg);
		made.response = true;
		if (decode(msg, again, len))
			check_msg(auth, msg, again, len, hdr, made);
		free(again);
		free(r);
		return;
	}
	if (!msg->is_request) { /* auth_check is only ever asked about requests */
		sip_msg_fini(msg);
		free(r);
		return;
	}
	checking = msg;
	auth_check(auth, msg, hdr, VIEW_LIT(FUZZ_REALM), now_s, r);
	checking = NULL;
	check_result(msg, r, &made);
	sip_msg_fini(msg);
	free(r);
}

/* head, value, msg_tail, in an exact-size buffer. */
static char *wrap(const char *head, const char *value, size_t value_len, size_t *len)
{
	size_t head_len = strlen(head), tail_len = strlen(msg_tail);
	char *text = xmalloc(head_len + value_len + tail_len);

	memcpy(text, head, head_len);
	memcpy(text + head_len, value, value_len);
	memcpy(text + head_len + value_len, msg_tail, tail_len);
	*len = head_len + value_len + tail_len;
	return text;
}

/* value as the header value of a template request. */
static void check_template(struct auth *auth, const char *head, enum sip_hdr_id hdr,
			   const char *value, size_t value_len, struct made made)
{
	struct sip_msg *msg = xmalloc(sizeof(*msg));
	size_t len;
	char *text = wrap(head, value, value_len, &len);

	if (decode(msg, text, len))
		check_msg(auth, msg, text, len, hdr, made);
	free(text);
	free(msg);
}

/* text as a whole message, checked with both headers. */
static void check_whole(struct auth *auth, const char *text, size_t len, struct made made)
{
	static const enum sip_hdr_id hdrs[] = { SIP_HDR_AUTHORIZATION,
						SIP_HDR_PROXY_AUTHORIZATION };
	struct sip_msg *msg = xmalloc(sizeof(*msg));
	char *copy = xmalloc(len);

	memcpy(copy, text, len);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		if (decode(msg, copy, len))
			check_msg(auth, msg, copy, len, hdrs[i], made);
	}
	free(copy);
	free(msg);
}

/* Steps 1 and 2 for one struct auth: the words replaced, then the
 * templates and the whole message. */
static void check_auth(struct auth *auth, const char *input, size_t size)
{
	char nonce[DIGEST_NONCE_MAX], stale[DIGEST_NONCE_MAX];
	struct made made = { false, false, false };
	char *text = xmalloc(size);
	size_t len = size;

	memcpy(text, input, size);
	if (memchr(text, '$', len) != NULL) {
		nonce_make(auth, now_s, nonce);
		nonce_make(auth, now_s - FUZZ_LIFETIME_S - 1, stale);
		made.nonce = replace(&text, &len, WORD_NONCE, nonce);
		made.stale = replace(&text, &len, WORD_STALE, stale);
		made.nonce = made.nonce || made.stale;
	}
	check_template(auth, register_head, SIP_HDR_AUTHORIZATION, text, len, made);
	check_template(auth, invite_head, SIP_HDR_PROXY_AUTHORIZATION, text, len, made);
	check_whole(auth, text, len, made);
	free(text);
}

/* "c" and the hex of the input's first FUZZ_CNONCE_BYTES bytes. */
#define FUZZ_CNONCE_MAX (2 * FUZZ_CNONCE_BYTES + 2)
static void cnonce_make(const char *input, size_t size, char out[FUZZ_CNONCE_MAX])
{
	static const char digits[] = "0123456789abcdef";
	size_t n = size < FUZZ_CNONCE_BYTES ? size : FUZZ_CNONCE_BYTES;

	out[0] = 'c'; /* never empty */
	for (size_t i = 0; i < n; i++) {
		out[1 + 2 * i] = digits[(unsigned char)input[i] >> 4];
		out[2 + 2 * i] = digits[(unsigned char)input[i] & 0x0f];
	}
	out[1 + 2 * n] = '\0';
}

/* The harness as alice's client: credentials for a fresh nonce of
 * auths[which], with a cnonce of the input's first bytes, accepted once,
 * then refused as a replay. */
static void check_client(const char *input, size_t size)
{
	unsigned which = size > 0 ? (unsigned char)input[0] % FUZZ_AUTHS : 0;
	enum digest_alg alg = which < DIGEST_ALG_COUNT ? (enum digest_alg)which : DIGEST_SHA256;
	char nonce[DIGEST_NONCE_MAX], cnonce[FUZZ_CNONCE_MAX], response[DIGEST_HEX_MAX];
	char value[FUZZ_CRED_MAX];
	size_t len;

	cnonce_make(input, size, cnonce);
	nonce_make(auths[which], now_s, nonce);
	struct digest_input in = {
		.alg = alg, .ha1 = view_from_cstr(ha1s[alg]), .method = VIEW_LIT("REGISTER"),
		.uri = VIEW_LIT("sip:" FUZZ_REALM), .nonce = view_from_cstr(nonce),
		.nc = VIEW_LIT("00000001"), .cnonce = view_from_cstr(cnonce), .qop = VIEW_LIT("auth"),
	};
	digest_response(&in, response);
	int w = snprintf(value, sizeof(value),
			 "Digest username=\"" FUZZ_USER "\", realm=\"" FUZZ_REALM "\", "
			 "nonce=\"%s\", uri=\"sip:" FUZZ_REALM "\", response=\"%s\", "
			 "algorithm=%s, cnonce=\"%s\", qop=auth, nc=00000001",
			 nonce, response, digest_alg_name(alg), cnonce);
	check(w > 0 && (size_t)w < sizeof(value), "client credentials too long");
	char *text = wrap(register_head, value, (size_t)w, &len);
	struct sip_msg *msg = xmalloc(sizeof(*msg));
	struct auth_result *r = xmalloc(sizeof(*r));
	for (int round = 0; round < 2; round++) {
		check(decode(msg, text, len), "client request does not decode");
		checking = msg;
		auth_check(auths[which], msg, SIP_HDR_AUTHORIZATION, VIEW_LIT(FUZZ_REALM), now_s, r);
		checking = NULL;
		check(r->verdict == (round == 0 ? AUTH_OK : AUTH_CHALLENGE),
		      round == 0 ? "right credentials refused" : "replayed credentials accepted");
		sip_msg_fini(msg);
	}
	free(r);
	free(msg);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = xmalloc(size);

	auths_alloc();
	memcpy(input, data, size);
	for (unsigned i = 0; i < FUZZ_AUTHS; i++)
		check_auth(auths[i], input, size);
	check_client(input, size);
	auths_free();
	free(input);
	return 0;
}
