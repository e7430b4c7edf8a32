/*
 * auth.c - Digest authentication of requests (RFC 3261 §22.4, RFC 7616
 * §3.3-3.5, RFC 8760): challenge lines, credential checks, nonce-count
 * replay protection. Arithmetic and nonces are in digest.c.
 *
 * Check order (first failure wins): credentials present; one for our realm
 * (exact, case-sensitive comparison: realms are ours, the client copies
 * them); username, nonce, uri and response present; algorithm supported;
 * nonce genuine; qop "auth" with nc (8 hex digits) and cnonce, or no qop
 * when allowed; HA1 known; response right (a dummy comparison runs for an
 * unknown user so the time taken does not tell users apart); nonce fresh
 * (else AUTH_STALE); nc higher than any accepted before for this nonce.
 *
 * Deliberate choices:
 * - The digest-uri (RFC 7616 §3.4.6: it must designate the resource of
 *   the request, else 400) is accepted when it is the Request-URI byte for
 *   byte, or has the Request-URI's user and host (parameters and port may
 *   differ: phones write them differently), or names this server with no
 *   user: the realm (sip:example.com: SIPp 3.6 puts "sip:" + its -auth_uri
 *   there for every method) or its own address (sip:192.0.2.1:5060, SIPp's
 *   default). Anything else is a 400: credentials computed for another
 *   resource are not replayed here. It is hashed as sent.
 * - opaque is sent but not checked: it carries no security.
 * - Quoted values are used as received, backslash escapes included (the
 *   parser keeps them); users and realms with '"' or '\' do not work.
 * - Without qop (RFC 2069, only with allow_no_qop) there is no nc, so a
 *   nonce can be replayed until it is stale.
 * - The cnonce is echoed in Authentication-Info as received, so one with a
 *   control character other than HTAB is malformed (400): a NUL would cut
 *   that line short (the next header would run into it) and CR or LF
 *   would fold or break it (found by tests/fuzz/fuzz_auth.c).
 *
 * Replay table: nonce text -> highest nc accepted, filled only by
 * successful checks. Entries sit on a list in insertion order; those at the
 * head older than the lifetime are dropped on each insert, and beyond
 * AUTH_NC_TABLE_MAX entries the oldest is evicted. An evicted nonce must
 * not become replayable, so the newest issue time ever evicted is kept
 * (evicted_floor_s) and a nonce issued at or before it that is not in the
 * table is answered AUTH_STALE: the client simply retries with a new nonce.
 *
 * One struct auth is shared by the worker loops: the nonce-count table has
 * a mutex; everything else is read-only after auth_alloc.
 */
#include "core/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/hashmap.h"
#include "base/text.h"

#define AUTH_NC_TABLE_MAX 65536u  /* replay-table entries */
#define AUTH_NC_TABLE_BUCKETS AUTH_NC_TABLE_MAX /* the size it fills to; no growth */
#define AUTH_OPAQUE_LEN 24        /* characters of [A-Za-z0-9] */
#define AUTH_NC_LEN 8             /* nonce-count: exactly 8 hex digits */
#define AUTH_CNONCE_MAX 256       /* longest cnonce echoed in Authentication-Info */
#define AUTH_DEFAULT_LIFETIME_S 300

struct nc_entry {
	struct hmap_node node;         /* in auth->nc_table, keyed by nonce text */
	struct nc_entry *prev, *next;  /* auth->oldest .. newest, insertion order */
	uint64_t issued_s;             /* s; from the nonce */
	uint32_t nc;                   /* highest nonce-count accepted */
	size_t nonce_len;
	char nonce[DIGEST_NONCE_MAX];  /* owned copy of the nonce text */
};

struct auth {
	struct auth_config cfg;
	auth_ha1_h *lookup;
	void *arg;
	struct digest_nonce_key key;          /* secret; wiped by auth_free */
	char opaque[AUTH_OPAQUE_LEN + 1];     /* fixed per struct auth */
	pthread_mutex_t nc_lock;              /* the worker loops share the table */
	struct hmap nc_table;                 /* of struct nc_entry */
	struct nc_entry *oldest, *newest;     /* insertion-order list */
	uint64_t evicted_floor_s;             /* newest issue time evicted live */
	bool evicted_any;
};

int auth_alloc(struct auth **out, const struct auth_config *cfg, auth_ha1_h *lookup, void *arg)
{
	if (out == NULL || lookup == NULL)
		return EINVAL;
	struct auth *auth = calloc(1, sizeof(*auth));
	if (auth == NULL)
		return ENOMEM;
	int err = 0;
	if (cfg != NULL)
		auth->cfg = *cfg;
	if (auth->cfg.nonce_lifetime_s == 0)
		auth->cfg.nonce_lifetime_s = AUTH_DEFAULT_LIFETIME_S;
	if (auth->cfg.algorithm_count == 0 || auth->cfg.algorithm_count > DIGEST_ALG_COUNT) {
		auth->cfg.algorithms[0] = DIGEST_SHA256;
		auth->cfg.algorithms[1] = DIGEST_MD5;
		auth->cfg.algorithm_count = 2;
	}
	auth->lookup = lookup;
	auth->arg = arg;
	err = digest_nonce_key_init(&auth->key);
	if (err != 0)
		goto out;
	err = digest_random_text(auth->opaque, AUTH_OPAQUE_LEN);
	if (err != 0)
		goto out;
	pthread_mutex_init(&auth->nc_lock, NULL);
	err = hmap_init(&auth->nc_table, AUTH_NC_TABLE_BUCKETS);
	if (err != 0)
		goto out;
	*out = auth;
	return 0;
out:
	OPENSSL_cleanse(auth, sizeof(*auth));
	free(auth);
	return err;
}

static void entry_unlink(struct auth *auth, struct nc_entry *e)
{
	hmap_remove(&auth->nc_table, &e->node);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		auth->oldest = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		auth->newest = e->prev;
	free(e);
}

void auth_free(struct auth *auth)
{
	if (auth == NULL)
		return;
	while (auth->oldest != NULL)
		entry_unlink(auth, auth->oldest);
	hmap_fini(&auth->nc_table);
	pthread_mutex_destroy(&auth->nc_lock);
	OPENSSL_cleanse(auth, sizeof(*auth));
	free(auth);
}

static bool entry_match(const struct hmap_node *node, const void *arg)
{
	const struct nc_entry *e = HMAP_ENTRY(node, const struct nc_entry, node);
	const struct view *nonce = arg;

	return view_eq(view_make(e->nonce, e->nonce_len), *nonce);
}

static struct nc_entry *entry_find(struct auth *auth, struct view nonce)
{
	uint64_t hash = hmap_hash(&auth->nc_table, nonce.p, nonce.len);
	struct hmap_node *n = hmap_find(&auth->nc_table, hash, entry_match, &nonce);

	return n != NULL ? HMAP_ENTRY(n, struct nc_entry, node) : NULL;
}

/* Drop expired entries from the head, then the oldest beyond the bound. */
static void table_trim(struct auth *auth, uint64_t now_s)
{
	while (auth->oldest != NULL && auth->oldest->issued_s < now_s &&
	       now_s - auth->oldest->issued_s > auth->cfg.nonce_lifetime_s)
		entry_unlink(auth, auth->oldest);
	while (auth->oldest != NULL && hmap_count(&auth->nc_table) >= AUTH_NC_TABLE_MAX) {
		struct nc_entry *e = auth->oldest;
		if (!auth->evicted_any || e->issued_s > auth->evicted_floor_s)
			auth->evicted_floor_s = e->issued_s;
		auth->evicted_any = true;
		entry_unlink(auth, e);
	}
}

/* nc as 8 hex digits; false otherwise. */
static bool parse_nc(struct view nc, uint32_t *out)
{
	if (nc.p == NULL || nc.len != AUTH_NC_LEN)
		return false;
	uint32_t v = 0;
	for (size_t i = 0; i < nc.len; i++) {
		unsigned char c = view_lower((unsigned char)nc.p[i]);
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool present(struct view v)
{
	return v.p != NULL && v.len > 0;
}

/* A cnonce that can go back in Authentication-Info: 1 to AUTH_CNONCE_MAX
 * bytes, none a control character but HTAB (see the file comment). */
static bool cnonce_echoable(struct view cnonce)
{
	if (!present(cnonce) || cnonce.len > AUTH_CNONCE_MAX)
		return false;
	for (size_t i = 0; i < cnonce.len; i++) {
		unsigned char c = (unsigned char)cnonce.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void set_result(struct auth_result *out, enum auth_verdict verdict, const char *why)
{
	out->verdict = verdict;
	out->why = why;
}

/* Nonce-count check and record, after a verified response on a fresh
 * nonce. Returns the failure reason, or NULL when nc is accepted. */
static const char *nc_accept_locked(struct auth *auth, struct view nonce, uint64_t issued_s,
				    uint32_t nc, uint64_t now_s, enum auth_verdict *verdict)
{
	struct nc_entry *e = entry_find(auth, nonce);

	if (e != NULL) {
		if (nc <= e->nc) {
			*verdict = AUTH_CHALLENGE;
			return "nonce-count replayed";
		}
		e->nc = nc;
		return NULL;
	}
	if (auth->evicted_any && issued_s <= auth->evicted_floor_s) {
		*verdict = AUTH_STALE;
		return "nonce-count table full";
	}
	if (nc == 0) {
		*verdict = AUTH_CHALLENGE;
		return "nonce-count replayed";
	}
	table_trim(auth, now_s);
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		*verdict = AUTH_CHALLENGE;
		return "out of memory";
	}
	memcpy(e->nonce, nonce.p, nonce.len); /* verified: 43 characters */
	e->nonce_len = nonce.len;
	e->issued_s = issued_s;
	e->nc = nc;
	e->prev = auth->newest;
	if (auth->newest != NULL)
		auth->newest->next = e;
	else
		auth->oldest = e;
	auth->newest = e;
	hmap_insert(&auth->nc_table, &e->node, hmap_hash(&auth->nc_table, nonce.p, nonce.len));
	return NULL;
}

static const char *nc_accept(struct auth *auth, struct view nonce, uint64_t issued_s, uint32_t nc,
			     uint64_t now_s, enum auth_verdict *verdict)
{
	pthread_mutex_lock(&auth->nc_lock);
	const char *why = nc_accept_locked(auth, nonce, issued_s, nc, now_s, verdict);
	pthread_mutex_unlock(&auth->nc_lock);
	return why;
}

/* The digest-uri designates the request's resource (see the file comment). */
static bool uri_designates(const struct auth *auth, struct view digest_uri,
			   const struct sip_msg *req, struct view realm)
{
	struct sip_uri u;
	const char *reason;

	if (view_eq(digest_uri, req->ruri_raw))
		return true;
	if (sip_uri_decode(&u, digest_uri, &reason) != 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS))
		return false;
	bool no_user = view_is_null(u.user) || u.user.len == 0;
	if (no_user && (view_eq_nocase(u.host, realm) ||
			(auth->cfg.self_uri && auth->cfg.self_uri(&u, auth->cfg.self_arg))))
		return true;
	bool req_no_user = view_is_null(req->ruri.user) || req->ruri.user.len == 0;
	if (no_user != req_no_user || (!no_user && !view_eq(u.user, req->ruri.user)))
		return false;
	return view_eq_nocase(u.host, req->ruri.host);
}

static bool offered(const struct auth *auth, enum digest_alg alg)
{
	for (unsigned i = 0; i < auth->cfg.algorithm_count; i++)
		if (auth->cfg.algorithms[i] == alg)
			return true;
	return false;
}

void auth_check(struct auth *auth, struct sip_msg *req, enum sip_hdr_id hdr, struct view realm,
		uint64_t now_s, struct auth_result *out)
{
	const struct sip_auth *auths = NULL;
	size_t count = 0;
	char ha1[DIGEST_HEX_MAX] = "";
	char expected[DIGEST_HEX_MAX];
	const char *bad_header = hdr == SIP_HDR_PROXY_AUTHORIZATION ?
					 "Bad Proxy-Authorization header" :
					 "Bad Authorization header";

	memset(out, 0, sizeof(*out));
	out->user = VIEW_NULL;
	out->alg = DIGEST_MD5;

	int err = sip_msg_auths(req, hdr, &auths, &count, NULL);
	if (err == ENOMEM) {
		set_result(out, AUTH_CHALLENGE, "out of memory");
		return;
	}
	if (err != 0) {
		set_result(out, AUTH_BAD_REQUEST, bad_header);
		return;
	}

	const struct sip_auth *cred = NULL;
	bool any_digest = false;
	for (size_t i = 0; i < count && cred == NULL; i++) {
		if (!auths[i].digest)
			continue;
		any_digest = true;
		if (auths[i].realm.p != NULL && view_eq(auths[i].realm, realm))
			cred = &auths[i];
	}
	if (cred == NULL) {
		set_result(out, AUTH_CHALLENGE, any_digest ? "wrong realm" : "no credentials");
		return;
	}
	out->user = cred->username;
	if (!present(cred->username) || !present(cred->nonce) || !present(cred->uri) ||
	    !present(cred->response)) {
		set_result(out, AUTH_BAD_REQUEST, bad_header);
		return;
	}
	if (!uri_designates(auth, cred->uri, req, realm)) {
		set_result(out, AUTH_BAD_REQUEST, "Digest uri does not match the Request-URI");
		return;
	}
	enum digest_alg alg;
	if (!digest_alg_from_view(cred->algorithm, &alg) || !offered(auth, alg)) {
		set_result(out, AUTH_CHALLENGE, "unsupported algorithm");
		return;
	}
	out->alg = alg;

	uint64_t issued_s = 0;
	enum digest_nonce_check nonce_state = digest_nonce_verify(
		&auth->key, cred->nonce, realm, now_s, auth->cfg.nonce_lifetime_s, &issued_s);
	if (nonce_state == DIGEST_NONCE_BAD) {
		set_result(out, AUTH_CHALLENGE, "bad nonce");
		return;
	}

	uint32_t nc = 0;
	bool with_qop = cred->qop.p != NULL;
	if (with_qop) {
		if (!view_eq_lit_nocase(cred->qop, "auth")) {
			set_result(out, AUTH_CHALLENGE, "unsupported qop");
			return;
		}
		if (!parse_nc(cred->nc, &nc) || !cnonce_echoable(cred->cnonce)) {
			set_result(out, AUTH_BAD_REQUEST, bad_header);
			return;
		}
	} else if (!auth->cfg.allow_no_qop) {
		set_result(out, AUTH_CHALLENGE, "qop required");
		return;
	}

	err = auth->lookup(cred->username, realm, alg, ha1, auth->arg);
	bool known = err == 0;
	if (!known || strlen(ha1) != digest_hex_len(alg)) {
		/* Same work as for a real user: a fixed HA1 of the right length. */
		memset(ha1, '0', digest_hex_len(alg));
		ha1[digest_hex_len(alg)] = '\0';
	}

	struct digest_input in = {
		.alg = alg,
		.ha1 = view_make(ha1, digest_hex_len(alg)),
		.method = req->method,
		.uri = cred->uri,
		.nonce = cred->nonce,
		.nc = with_qop ? cred->nc : VIEW_NULL,
		.cnonce = with_qop ? cred->cnonce : VIEW_NULL,
		.qop = with_qop ? VIEW_LIT("auth") : VIEW_NULL,
	};
	digest_response(&in, expected);
	bool match = digest_hex_equal(view_from_cstr(expected), cred->response);
	if (!known) {
		set_result(out, AUTH_CHALLENGE,
			   err == ENOENT ? "unknown user" : "user lookup failed");
		goto out;
	}
	if (!match) {
		set_result(out, AUTH_CHALLENGE, "wrong password");
		goto out;
	}
	if (nonce_state == DIGEST_NONCE_STALE) {
		set_result(out, AUTH_STALE, "stale nonce");
		goto out;
	}
	if (with_qop) {
		enum auth_verdict verdict = AUTH_CHALLENGE;
		const char *why = nc_accept(auth, cred->nonce, issued_s, nc, now_s, &verdict);
		if (why != NULL) {
			set_result(out, verdict, why);
			goto out;
		}
	}

	char rspauth[DIGEST_HEX_MAX];
	digest_rspauth(&in, rspauth);
	struct text t;
	text_init(&t, out->info, sizeof(out->info));
	text_cstr(&t, with_qop ? "Authentication-Info: qop=auth, rspauth=\""
			       : "Authentication-Info: rspauth=\"");
	text_cstr(&t, rspauth);
	if (with_qop) {
		text_cstr(&t, "\", cnonce=\"");
		text_view(&t, cred->cnonce);
		text_cstr(&t, "\", nc=");
		text_view(&t, cred->nc);
		text_cstr(&t, "\r\n");
	} else {
		text_cstr(&t, "\"\r\n");
	}
	if (t.over)
		out->info[0] = '\0'; /* cannot happen: cnonce is bounded */
	set_result(out, AUTH_OK, "ok");
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(expected, sizeof(expected));
}

int auth_challenge(struct auth *auth, bool proxy, struct view realm, bool stale, uint64_t now_s,
		   struct buf *out)
{
	char nonce[DIGEST_NONCE_MAX];
	size_t orig_len = out->len;

	int err = digest_nonce_make(&auth->key, now_s, realm, nonce);
	if (err != 0)
		return err;
	for (unsigned i = 0; i < auth->cfg.algorithm_count; i++) {
		const char *parts[] = {
			proxy ? "Proxy-Authenticate: Digest realm=\"" : "WWW-Authenticate: Digest realm=\"",
			NULL, /* the realm */
			"\", nonce=\"", nonce, "\", opaque=\"", auth->opaque, "\", algorithm=",
			digest_alg_name(auth->cfg.algorithms[i]), ", qop=\"auth\"",
			stale ? ", stale=true\r\n" : "\r\n",
		};
		for (size_t k = 0; err == 0 && k < sizeof(parts) / sizeof(parts[0]); k++)
			err = parts[k] ? buf_append_cstr(out, parts[k]) : buf_append_view(out, realm);
		if (err != 0)
			goto out;
	}
	return 0;
out:
	/* Leave the buffer as it was: drop a first line already written. */
	buf_truncate(out, orig_len);
	return err;
}
