/*
 * auth.h - Digest authentication of requests (RFC 3261 §22, RFC 7616,
 * RFC 8760): challenges, credential checks, nonce-count replay protection.
 *
 * A challenge offers SHA-256 then MD5 (two header lines, in that order),
 * qop="auth", an opaque value and a stateless nonce (digest.h). Failures
 * that could tell a user apart (unknown user, wrong password, wrong realm)
 * all give the same verdict, AUTH_CHALLENGE, so the answer is the same 401
 * or 407 apart from its nonce; why says which it was, for the log only.
 *
 * Replay: for each nonce in use, the highest nonce-count accepted so far is
 * kept (until the nonce is stale); a request whose nc is not higher is
 * refused (AUTH_CHALLENGE, why "nonce-count replayed").
 * One struct auth is shared by the worker loops (the nonce-count table
 * has a mutex).
 */
#ifndef SIPD_CORE_AUTH_H
#define SIPD_CORE_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "core/digest.h"
#include "sip/msg.h"

#define AUTH_INFO_MAX 512

struct auth_config {
	uint32_t nonce_lifetime_s; /* default 300 */
	bool allow_no_qop;         /* accept RFC 2069 responses (no qop); default false */
	/* The algorithms offered, one challenge line each, in this order;
	 * credentials in any other are refused. Count 0 = SHA-256, MD5. */
	enum digest_alg algorithms[DIGEST_ALG_COUNT];
	unsigned algorithm_count;
	/* Whether a URI without a user names this server (its own address
	 * and port, or a served domain): such a digest-uri designates the
	 * request too. NULL: only the realm does. */
	bool (*self_uri)(const struct sip_uri *uri, void *arg);
	void *self_arg;
};

/* The HA1 of user@realm for alg: 0, or ENOENT when there is no such user. */
typedef int(auth_ha1_h)(struct view user, struct view realm, enum digest_alg alg,
			char ha1[DIGEST_HEX_MAX], void *arg);

struct auth;

int auth_alloc(struct auth **auth, const struct auth_config *cfg, auth_ha1_h *lookup, void *arg);
void auth_free(struct auth *auth);

enum auth_verdict {
	AUTH_OK,          /* info holds the Authentication-Info line */
	AUTH_CHALLENGE,   /* no or wrong credentials: 401/407 with a fresh challenge */
	AUTH_STALE,       /* right credentials on an expired nonce: challenge with stale=true */
	AUTH_BAD_REQUEST, /* credentials that do not parse: 400 (why = reason phrase) */
};

struct auth_result {
	enum auth_verdict verdict;
	struct view user;    /* the username given (NULL p when none), for logs and AOR checks */
	enum digest_alg alg;
	const char *why;     /* "no credentials", "unknown user", "wrong password", ... */
	char info[AUTH_INFO_MAX]; /* AUTH_OK: "Authentication-Info: ...\r\n" */
};

/*
 * Check req's credentials in header hdr (SIP_HDR_AUTHORIZATION or
 * SIP_HDR_PROXY_AUTHORIZATION) for realm at time now_s. Only the
 * credentials whose realm is the given one are considered.
 */
void auth_check(struct auth *auth, struct sip_msg *req, enum sip_hdr_id hdr, struct view realm,
		uint64_t now_s, struct auth_result *out);

/* Append the challenge lines (WWW-Authenticate, or Proxy-Authenticate when
 * proxy) for realm, one per algorithm offered (by default SHA-256 first
 * then MD5), with stale=true when asked.
 * Both lines carry the same fresh nonce (random salt, see digest.h).
 * Returns 0, ENOMEM, or the errno of getrandom; out is unchanged on error. */
int auth_challenge(struct auth *auth, bool proxy, struct view realm, bool stale, uint64_t now_s,
		   struct buf *out);

#endif
