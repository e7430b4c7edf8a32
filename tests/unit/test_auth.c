/*
 * test_auth.c - Digest checks of requests: the challenge, good and bad
 * credentials, stale nonces, nonce-count replay, RFC 2069 responses, and
 * rspauth in Authentication-Info. Credentials are computed here with the
 * digest functions, from a nonce taken out of a real challenge.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "core/auth.h"
#include "core/digest.h"
#include "sip/msg.h"

#define REALM "example.com"
#define T0 1000000u /* seconds */

/* One subscriber: alice / secret. */
static int lookup(struct view user, struct view realm, enum digest_alg alg,
		  char ha1[DIGEST_HEX_MAX], void *arg)
{
	(void)arg;
	if (!view_eq_lit(user, "alice") || !view_eq_lit(realm, REALM))
		return ENOENT;
	digest_ha1(alg, user, realm, VIEW_LIT("secret"), ha1);
	return 0;
}

static struct auth *new_auth(bool allow_no_qop)
{
	struct auth_config cfg = { .nonce_lifetime_s = 300, .allow_no_qop = allow_no_qop };
	struct auth *a;
	assert_int_equal(auth_alloc(&a, &cfg, lookup, NULL), 0);
	return a;
}

/* The nonce of the first challenge line. */
static void challenge_nonce(struct auth *a, uint64_t now, char nonce[DIGEST_NONCE_MAX])
{
	struct buf b;
	buf_init(&b);
	assert_int_equal(auth_challenge(a, false, VIEW_LIT(REALM), false, now, &b), 0);
	const char *p = strstr(b.data, "nonce=\"");
	assert_non_null(p);
	p += 7;
	const char *e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < DIGEST_NONCE_MAX);
	memcpy(nonce, p, (size_t)(e - p));
	nonce[e - p] = '\0';
	buf_fini(&b);
}

struct creds {
	const char *user, *realm, *password, *alg, *nonce, *nc, *qop;
	const char *uri; /* digest-uri; NULL: the Request-URI, sip:REALM */
};

/* A REGISTER carrying the credentials; text lives in b. */
static void build(struct buf *b, const struct creds *c, struct sip_msg *m)
{
	enum digest_alg alg;
	char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
	struct sip_error err;
	size_t used;

	assert_true(digest_alg_from_view(view_from_cstr(c->alg), &alg));
	digest_ha1(alg, view_from_cstr(c->user), view_from_cstr(c->realm), view_from_cstr(c->password),
		   ha1);
	struct digest_input in = {
		.alg = alg, .ha1 = view_from_cstr(ha1), .method = VIEW_LIT("REGISTER"),
		.uri = view_from_cstr(c->uri ? c->uri : "sip:" REALM), .nonce = view_from_cstr(c->nonce),
		.nc = view_from_cstr(c->qop ? c->nc : ""),
		.cnonce = c->qop ? VIEW_LIT("cn1") : VIEW_LIT(""),
		.qop = view_from_cstr(c->qop ? c->qop : ""),
	};
	digest_response(&in, resp);
	buf_init(b);
	assert_int_equal(buf_printf(b,
				    "REGISTER sip:" REALM " SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n"
				    "From: <sip:%s@" REALM ">;tag=1\r\nTo: <sip:%s@" REALM ">\r\n"
				    "Call-ID: auth-1\r\nCSeq: 1 REGISTER\r\n"
				    "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
				    "uri=\"%s\", response=\"%s\", algorithm=%s%s%s%s%s\r\n"
				    "Content-Length: 0\r\n\r\n",
				    c->user, c->user, c->user, c->realm, c->nonce,
				    c->uri ? c->uri : "sip:" REALM, resp, c->alg,
				    c->qop ? ", qop=" : "", c->qop ? c->qop : "",
				    c->qop ? ", cnonce=\"cn1\", nc=" : "", c->qop ? c->nc : ""),
			 0);
	assert_int_equal(sip_msg_decode(m, b->data, b->len, SIP_FRAMING_DGRAM, &used, &err), 0);
}

static enum auth_verdict check(struct auth *a, const struct creds *c, uint64_t now,
			       struct auth_result *r)
{
	struct buf b;
	struct sip_msg m;
	build(&b, c, &m);
	auth_check(a, &m, SIP_HDR_AUTHORIZATION, VIEW_LIT(REALM), now, r);
	sip_msg_fini(&m);
	buf_fini(&b);
	return r->verdict;
}

static void test_table(void **state)
{
	struct auth *a = new_auth(false);
	struct auth_result r;
	char nonce[DIGEST_NONCE_MAX];
	(void)state;

	challenge_nonce(a, T0, nonce);
	static const struct {
		const char *user, *realm, *password, *alg;
		enum auth_verdict verdict;
		const char *why;
	} rows[] = {
		{ "alice", REALM, "secret", "MD5", AUTH_OK, NULL },
		{ "alice", REALM, "secret", "SHA-256", AUTH_OK, NULL },
		{ "alice", REALM, "wrong", "MD5", AUTH_CHALLENGE, "wrong password" },
		{ "bob", REALM, "secret", "MD5", AUTH_CHALLENGE, "unknown user" },
		{ "alice", "other.org", "secret", "MD5", AUTH_CHALLENGE, "wrong realm" },
		/* right, but not offered by default */
		{ "alice", REALM, "secret", "SHA-512-256", AUTH_CHALLENGE, "unsupported algorithm" },
	};
	char nc[9];
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* a fresh nc each time, so replay protection stays out of the way */
		snprintf(nc, sizeof(nc), "%08zx", i + 1);
		struct creds c = { rows[i].user, rows[i].realm, rows[i].password, rows[i].alg, nonce,
				   nc, "auth", NULL };
		enum auth_verdict v = check(a, &c, T0 + 1, &r);
		if (v != rows[i].verdict)
			fail_msg("row %zu: verdict %d (%s), expected %d", i, v, r.why ? r.why : "",
				 rows[i].verdict);
		if (rows[i].why)
			assert_string_equal(r.why, rows[i].why);
	}
	auth_free(a);
}

static void test_rspauth(void **state)
{
	struct auth *a = new_auth(false);
	struct auth_result r;
	char nonce[DIGEST_NONCE_MAX], ha1[DIGEST_HEX_MAX], want[DIGEST_HEX_MAX], line[256];
	(void)state;

	challenge_nonce(a, T0, nonce);
	struct creds c = { "alice", REALM, "secret", "MD5", nonce, "00000001", "auth", NULL };
	assert_int_equal(check(a, &c, T0, &r), AUTH_OK);
	digest_ha1(DIGEST_MD5, VIEW_LIT("alice"), VIEW_LIT(REALM), VIEW_LIT("secret"), ha1);
	struct digest_input in = { .alg = DIGEST_MD5, .ha1 = view_from_cstr(ha1),
				   .uri = VIEW_LIT("sip:" REALM), .nonce = view_from_cstr(nonce),
				   .nc = VIEW_LIT("00000001"), .cnonce = VIEW_LIT("cn1"),
				   .qop = VIEW_LIT("auth") };
	digest_rspauth(&in, want);
	snprintf(line, sizeof(line),
		 "Authentication-Info: qop=auth, rspauth=\"%s\", cnonce=\"cn1\", nc=00000001\r\n",
		 want);
	assert_string_equal(r.info, line);
	auth_free(a);
}

static void test_replay_and_stale(void **state)
{
	struct auth *a = new_auth(false);
	struct auth_result r;
	char nonce[DIGEST_NONCE_MAX];
	(void)state;

	challenge_nonce(a, T0, nonce);
	struct creds c = { "alice", REALM, "secret", "MD5", nonce, "00000002", "auth", NULL };
	assert_int_equal(check(a, &c, T0, &r), AUTH_OK);
	assert_int_equal(check(a, &c, T0, &r), AUTH_CHALLENGE); /* same nc again */
	assert_string_equal(r.why, "nonce-count replayed");
	c.nc = "00000001";
	assert_int_equal(check(a, &c, T0, &r), AUTH_CHALLENGE); /* lower */
	c.nc = "00000003";
	assert_int_equal(check(a, &c, T0, &r), AUTH_OK); /* higher */
	/* past the lifetime: right password → stale, wrong password → challenge */
	c.nc = "00000004";
	assert_int_equal(check(a, &c, T0 + 301, &r), AUTH_STALE);
	c.password = "wrong";
	c.nc = "00000005";
	assert_int_equal(check(a, &c, T0 + 301, &r), AUTH_CHALLENGE);
	/* a nonce sipd never made */
	c.password = "secret";
	c.nonce = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	assert_int_equal(check(a, &c, T0, &r), AUTH_CHALLENGE);
	assert_string_equal(r.why, "bad nonce");
	auth_free(a);
}

static void test_no_qop(void **state)
{
	struct auth_result r;
	char nonce[DIGEST_NONCE_MAX];
	(void)state;

	for (int allow = 0; allow <= 1; allow++) {
		struct auth *a = new_auth(allow != 0);
		challenge_nonce(a, T0, nonce);
		struct creds c = { "alice", REALM, "secret", "MD5", nonce, NULL, NULL, NULL };
		assert_int_equal(check(a, &c, T0, &r), allow ? AUTH_OK : AUTH_CHALLENGE);
		auth_free(a);
	}
}

static void test_no_credentials_and_bad(void **state)
{
	static const char *const texts[] = {
		"REGISTER sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKb\r\n"
		"From: <sip:alice@" REALM ">;tag=1\r\nTo: <sip:alice@" REALM ">\r\nCall-ID: x\r\n"
		"CSeq: 1 REGISTER\r\n\r\n",
		"REGISTER sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKb\r\n"
		"From: <sip:alice@" REALM ">;tag=1\r\nTo: <sip:alice@" REALM ">\r\nCall-ID: x\r\n"
		"CSeq: 1 REGISTER\r\nAuthorization: Digest username=\"alice\", realm=\"" REALM "\"\r\n\r\n",
	};
	static const enum auth_verdict want[] = { AUTH_CHALLENGE, AUTH_BAD_REQUEST };
	struct auth *a = new_auth(false);
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		struct sip_msg m;
		struct sip_error err;
		struct auth_result r;
		size_t used;
		assert_int_equal(sip_msg_decode(&m, texts[i], strlen(texts[i]), SIP_FRAMING_DGRAM,
						&used, &err),
				 0);
		auth_check(a, &m, SIP_HDR_AUTHORIZATION, VIEW_LIT(REALM), T0, &r);
		assert_int_equal(r.verdict, want[i]);
		sip_msg_fini(&m);
	}
	auth_free(a);
}

/* A REGISTER of alice's with a right MD5 response for this cnonce (any
 * bytes, NUL included); text lives in b. */
static void build_cnonce(struct buf *b, const char *nonce, struct view cnonce, struct sip_msg *m)
{
	char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
	struct sip_error err;
	size_t used;

	digest_ha1(DIGEST_MD5, VIEW_LIT("alice"), VIEW_LIT(REALM), VIEW_LIT("secret"), ha1);
	struct digest_input in = {
		.alg = DIGEST_MD5, .ha1 = view_from_cstr(ha1), .method = VIEW_LIT("REGISTER"),
		.uri = VIEW_LIT("sip:" REALM), .nonce = view_from_cstr(nonce),
		.nc = VIEW_LIT("00000001"), .cnonce = cnonce, .qop = VIEW_LIT("auth"),
	};
	digest_response(&in, resp);
	buf_init(b);
	assert_int_equal(buf_printf(b,
				    "REGISTER sip:" REALM " SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc\r\n"
				    "From: <sip:alice@" REALM ">;tag=1\r\nTo: <sip:alice@" REALM ">\r\n"
				    "Call-ID: auth-c\r\nCSeq: 1 REGISTER\r\n"
				    "Authorization: Digest username=\"alice\", realm=\"" REALM "\", "
				    "nonce=\"%s\", uri=\"sip:" REALM "\", response=\"%s\", qop=auth, "
				    "nc=00000001, cnonce=\"",
				    nonce, resp),
			 0);
	assert_int_equal(buf_append_view(b, cnonce), 0);
	assert_int_equal(buf_append_cstr(b, "\"\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(sip_msg_decode(m, b->data, b->len, SIP_FRAMING_DGRAM, &used, &err), 0);
}

/* The cnonce goes back in Authentication-Info: one with a control
 * character (a NUL cut the line short: found by fuzz_auth) is a 400. */
static void test_cnonce_echo(void **state)
{
	static const struct {
		struct view cnonce;
		enum auth_verdict verdict;
	} rows[] = {
		{ { "c\0d", 3 }, AUTH_BAD_REQUEST },
		{ { "a\r\n b", 5 }, AUTH_BAD_REQUEST }, /* folded: kept in the value by the parser */
		{ { "a\x7f", 2 }, AUTH_BAD_REQUEST },
		{ { "a\tb", 3 }, AUTH_OK },
		{ { "caf\xc3\xa9 \\\"x", 9 }, AUTH_OK }, /* UTF-8, a space, an escaped quote */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct auth *a = new_auth(false);
		char nonce[DIGEST_NONCE_MAX], want[512];
		struct auth_result r;
		struct sip_msg m;
		struct buf b;

		challenge_nonce(a, T0, nonce);
		build_cnonce(&b, nonce, rows[i].cnonce, &m);
		auth_check(a, &m, SIP_HDR_AUTHORIZATION, VIEW_LIT(REALM), T0, &r);
		if (r.verdict != rows[i].verdict)
			fail_msg("row %zu: verdict %d (%s), expected %d", i, r.verdict, r.why,
				 rows[i].verdict);
		if (r.verdict == AUTH_OK) {
			snprintf(want, sizeof(want), "cnonce=\"%.*s\", nc=00000001\r\n",
				 (int)rows[i].cnonce.len, rows[i].cnonce.p);
			assert_non_null(strstr(r.info, want));
		}
		sip_msg_fini(&m);
		buf_fini(&b);
		auth_free(a);
	}
}

static void test_challenge_format(void **state)
{
	struct auth *a = new_auth(false);
	struct buf b1, b2;
	(void)state;

	buf_init(&b1);
	buf_init(&b2);
	assert_int_equal(auth_challenge(a, false, VIEW_LIT(REALM), false, T0, &b1), 0);
	assert_int_equal(auth_challenge(a, true, VIEW_LIT(REALM), true, T0, &b2), 0);
	/* two lines, SHA-256 first, then MD5 */
	const char *sha = strstr(b1.data, "algorithm=SHA-256");
	const char *md5 = strstr(b1.data, "algorithm=MD5");
	assert_non_null(sha);
	assert_non_null(md5);
	assert_true(sha < md5);
	assert_memory_equal(b1.data, "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"", 49);
	assert_non_null(strstr(b1.data, "qop=\"auth\""));
	assert_null(strstr(b1.data, "stale"));
	assert_memory_equal(b2.data, "Proxy-Authenticate: Digest ", 27);
	assert_non_null(strstr(b2.data, "stale=true"));
	/* at the same second, two challenges still carry different nonces */
	char n1[DIGEST_NONCE_MAX], n2[DIGEST_NONCE_MAX];
	challenge_nonce(a, T0, n1);
	challenge_nonce(a, T0, n2);
	assert_string_not_equal(n1, n2);
	buf_fini(&b1);
	buf_fini(&b2);
	auth_free(a);
}

/* auth_config.algorithms: only what is offered is challenged and taken. */
static void test_algorithms(void **state)
{
	struct auth_config cfg = { .nonce_lifetime_s = 300,
				   .algorithms = { DIGEST_MD5 },
				   .algorithm_count = 1 };
	struct auth *a;
	struct auth_result r;
	struct buf b;
	char nonce[DIGEST_NONCE_MAX];
	(void)state;

	assert_int_equal(auth_alloc(&a, &cfg, lookup, NULL), 0);
	buf_init(&b);
	assert_int_equal(auth_challenge(a, false, VIEW_LIT(REALM), false, T0, &b), 0);
	assert_non_null(strstr(b.data, "algorithm=MD5"));
	assert_null(strstr(b.data, "SHA-256"));
	assert_null(strstr(strstr(b.data, "\r\n") + 2, "WWW-Authenticate")); /* one line */
	buf_fini(&b);
	challenge_nonce(a, T0, nonce);
	struct creds md5 = { "alice", REALM, "secret", "MD5", nonce, "00000001", "auth", NULL };
	struct creds sha = { "alice", REALM, "secret", "SHA-256", nonce, "00000002", "auth", NULL };
	assert_int_equal(check(a, &md5, T0 + 1, &r), AUTH_OK);
	assert_int_equal(check(a, &sha, T0 + 1, &r), AUTH_CHALLENGE);
	assert_string_equal(r.why, "unsupported algorithm");
	auth_free(a);

	/* SHA-512-256 when configured, in the order given */
	cfg.algorithms[0] = DIGEST_SHA512_256;
	cfg.algorithms[1] = DIGEST_MD5;
	cfg.algorithm_count = 2;
	assert_int_equal(auth_alloc(&a, &cfg, lookup, NULL), 0);
	buf_init(&b);
	assert_int_equal(auth_challenge(a, true, VIEW_LIT(REALM), false, T0, &b), 0);
	const char *first = strstr(b.data, "algorithm=SHA-512-256");
	const char *second = strstr(b.data, "algorithm=MD5");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	buf_fini(&b);
	challenge_nonce(a, T0, nonce);
	struct creds s512 = { "alice", REALM, "secret", "SHA-512-256", nonce, "00000001", "auth", NULL };
	assert_int_equal(check(a, &s512, T0 + 1, &r), AUTH_OK);
	auth_free(a);
}

static bool is_self(const struct sip_uri *uri, void *arg)
{
	(void)arg;
	return view_eq_lit(uri->host, "192.0.2.10");
}

/* The digest-uri must designate the request's resource (RFC 7616 §3.4.6). */
static void test_digest_uri(void **state)
{
	static const struct {
		const char *uri;
		enum auth_verdict verdict;
	} rows[] = {
		{ "sip:" REALM, AUTH_OK },
		{ "sip:EXAMPLE.com", AUTH_OK },               /* the realm, any case */
		{ "sip:" REALM ";transport=tcp", AUTH_OK },   /* parameters may differ */
		{ "sip:" REALM ":5060", AUTH_OK },
		{ "sip:alice@" REALM, AUTH_BAD_REQUEST },     /* a user the R-URI lacks */
		{ "sip:other.org", AUTH_BAD_REQUEST },
		{ "tel:+15551234", AUTH_BAD_REQUEST },
		{ "not a uri", AUTH_BAD_REQUEST },
		{ "sip:192.0.2.10:5060", AUTH_BAD_REQUEST }, /* an address: not without self_uri */
	};
	struct auth *a = new_auth(false);
	struct auth_result r;
	char nonce[DIGEST_NONCE_MAX], nc[9];
	(void)state;

	challenge_nonce(a, T0, nonce);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(nc, sizeof(nc), "%08zx", i + 1);
		struct creds c = { "alice", REALM, "secret", "MD5", nonce, nc, "auth", rows[i].uri };
		enum auth_verdict v = check(a, &c, T0 + 1, &r);
		if (v != rows[i].verdict)
			fail_msg("uri %s: verdict %d (%s), expected %d", rows[i].uri, v,
				 r.why ? r.why : "", rows[i].verdict);
	}
	auth_free(a);

	/* the server's own address, told by self_uri */
	struct auth_config cfg = { .nonce_lifetime_s = 300, .self_uri = is_self };
	assert_int_equal(auth_alloc(&a, &cfg, lookup, NULL), 0);
	challenge_nonce(a, T0, nonce);
	struct creds own = { "alice", REALM, "secret", "MD5", nonce, "00000001", "auth",
			     "sip:192.0.2.10:5060" };
	assert_int_equal(check(a, &own, T0 + 1, &r), AUTH_OK);
	struct creds other = { "alice", REALM, "secret", "MD5", nonce, "00000002", "auth",
			       "sip:192.0.2.11:5060" };
	assert_int_equal(check(a, &other, T0 + 1, &r), AUTH_BAD_REQUEST);
	auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_rspauth),
		cmocka_unit_test(test_replay_and_stale),
		cmocka_unit_test(test_no_qop),
		cmocka_unit_test(test_no_credentials_and_bad),
		cmocka_unit_test(test_cnonce_echo),
		cmocka_unit_test(test_challenge_format),
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_digest_uri),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
