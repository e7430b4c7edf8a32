/*
 * fuzz_core.c - libFuzzer harness for the whole request path: datagrams
 * through the transport's UDP receive path, the transaction layer (src/txn)
 * and the core (src/core: registrar, digest authentication, location
 * service, proxy), with the clock run forward so that retransmissions and
 * timeouts happen. Nothing touches the network: the transport has
 * listeners without sockets and a send hook (transport.h, "Without
 * sockets"); the core has no store.
 *
 * Per input, from scratch: an event loop (its timer wheel is the fake
 * clock: only this harness advances it), a transport with UDP and TCP
 * listeners at 192.0.2.10:5060 and [2001:db8::10]:5060, a transaction
 * layer, and a core for example.com with users 100 and 101 (passwords
 * below) and two bindings of 101: UDP at 192.0.2.101:5062 (q 1) and TCP at
 * 192.0.2.102:5064 (q 0.5). The users and bindings go in through core_int.h
 * (core->users, core->loc), as a core with a store would load them. Then
 * each record of the input is delivered, the clock is run on until no
 * transaction is left (at most FZ_END_MAX_MS: beyond timer C and every
 * RFC 3261 timer, many times over), and everything is freed: ASan's leak
 * check sees whatever an input left behind.
 *
 * Input: records. A record starts at the input's first byte or at a line
 * that starts with "%%"; that line is the record's head (its words below)
 * and the bytes up to the next such line are its payload. An input that
 * does not start with "%%" is one record with an empty head, so any SIP
 * message is an input. Words of a head:
 *   from=X     the source: a 192.0.2.100:5060 (100's phone, the default),
 *              b 192.0.2.101:5062 (101's UDP binding), c 198.51.100.7:5070
 *              (another domain), d [2001:db8::7]:5060, e 192.0.2.102:5064
 *   wait=MS    run the clock MS ms forward first
 *   dup        deliver the datagram twice (a retransmission)
 *   reply=NNN  answer, as its receiver, a request sipd sent (the newest;
 *              nth=K the K-th before it, K < FZ_REQUESTS): status NNN, its
 *              Via, From, To (with a tag), Call-ID and CSeq, then the payload
 *              (further header lines, the empty line, a body; "Content-
 *              Length: 0" and the empty line when the payload is empty)
 *   auth=USER  add credentials of USER (100, 101; others get a wrong
 *              password) answering the last challenge sipd sent: the
 *              Authorization or Proxy-Authorization line goes after the
 *              payload's first line, for its method and Request-URI
 *   route      add Route lines after the first line: the Record-Route
 *              values of the last request sipd sent that had any, in order
 *              (the callee's route set); route=rev reversed (the caller's)
 * In the first record's head only, the configuration: redirect (proxy.
 * redirect = all), foreign (proxy.foreign_callers), norr (no Record-Route),
 * noqop (allow_no_qop), md5 (offer MD5 only).
 * A send to port 9 fails with ECONNREFUSED, for the paths of failed sends.
 *
 * Properties (abort, so libFuzzer records the input): every message sipd
 * sends decodes as a datagram, but for the best-effort answer to a
 * malformed request and what grew over a limit on the way (EMSGSIZE); an
 * ACK (one that starts with "ACK ") gets no response, malformed or not,
 * while it goes in; no transaction is left after
 * FZ_END_MAX_MS of silence. Built with replay.c instead of libFuzzer,
 * the same function replays the corpus as a test. With FUZZ_CORE_TRACE
 * set in the environment, every datagram delivered and every message sent
 * is printed to stderr (to write and check seeds).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/timer.h"
#include "core/core.h"
#include "core/core_int.h" /* core->users, core->loc of a core without a store */
#include "core/digest.h"
#include "core/location.h"
#include "core/users.h"
#include "sip/msg.h"
#include "transport/transport.h"
#include "txn/txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_DOMAIN "example.com"
#define FZ_MAX_RECORDS 64u
#define FZ_MAX_SENDS 4096u     /* per input; later sends are not looked at */
#define FZ_REQUESTS 4u         /* requests sipd sent, kept for reply= */
#define FZ_WAIT_MAX_MS 600000u /* one wait= at most */
/* After the last record the clock runs in steps until no transaction is
 * left; one still alive an hour later never ends. (Two q groups that each
 * ring until timer C, 180 s, then ignore the CANCEL for 64*T1 take about
 * nine minutes.) */
#define FZ_END_STEP_MS 10000u
#define FZ_END_MAX_MS 3600000u
#define FZ_ROUTES_MAX 8u       /* Route lines route= adds */
#define FZ_BINDING_S 3600      /* seconds the bindings of 101 last */
#define FZ_REFUSED_PORT 9u     /* sends there fail */

struct fz_peer {
	char name;
	const char *ip;
	uint16_t port;
};

static const struct fz_peer fz_peers[] = {
	{ 'a', "192.0.2.100", 5060 },  /* 100's phone */
	{ 'b', "192.0.2.101", 5062 },  /* 101's UDP binding */
	{ 'c', "198.51.100.7", 5070 }, /* another domain */
	{ 'd', "2001:db8::7", 5060 },  /* another domain, IPv6 */
	{ 'e', "192.0.2.102", 5064 },  /* 101's TCP binding */
};

struct fz_user {
	const char *user;
	const char *password;
};

static const struct fz_user fz_users[] = {
	{ "100", "secret-100" },
	{ "101", "secret-101" },
};

/* A message sipd sent, kept: an owned copy of its bytes. */
struct fz_sent {
	char *bytes;
	size_t len;
	struct tp_dest dest;
};

struct fz_record {
	struct view head;    /* the words, without "%%" and the line end */
	struct view payload;
};

struct fz {
	struct loop *loop;
	struct transport *tp;
	struct txn_layer *txn;
	struct core *core;
	struct timer_wheel *wheel; /* the loop's: the fake clock */
	uint64_t start_ms;         /* wheel time at the start */
	int64_t start_s;           /* wall clock at the start */
	struct tp_addr local4, local6;
	uint64_t malformed_before; /* the transport's count before this datagram */
	bool delivering_ack;       /* the datagram going in is an ACK */
	unsigned sends;
	struct fz_sent requests[FZ_REQUESTS]; /* newest first */
	struct fz_sent challenge;             /* the last 401 or 407 */
	struct fz_sent routed;                /* the last request with a Record-Route */
	uint32_t nc;                          /* nonce-count of auth= */
};

static bool fz_trace; /* FUZZ_CORE_TRACE */

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_core: property broken: %s\n", what);
		abort();
	}
}

static void addr_set(struct tp_addr *a, const char *ip, uint16_t port)
{
	check(tp_addr_from_text(a, view_from_cstr(ip), port) == 0, "address");
}

/* ---- the head of a record ------------------------------------------------ */

static bool head_has(struct view head, const char *word)
{
	return head.len > 0 && memmem(head.p, head.len, word, strlen(word)) != NULL;
}

/* The text after key ("reply=") up to a space or the end. */
static bool head_value(struct view head, const char *key, struct view *value)
{
	size_t n = strlen(key);
	const char *p = head.len > 0 ? memmem(head.p, head.len, key, n) : NULL;

	if (!p)
		return false;
	p += n;
	const char *end = head.p + head.len, *q = p;
	while (q < end && *q != ' ' && *q != '\t' && *q != '\r')
		q++;
	*value = view_make(p, (size_t)(q - p));
	return true;
}

static uint64_t head_number(struct view head, const char *key, uint64_t max)
{
	struct view v;
	uint64_t n = 0;

	if (!head_value(head, key, &v))
		return 0;
	for (size_t i = 0; i < v.len && v.p[i] >= '0' && v.p[i] <= '9' && n <= max; i++)
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	return n > max ? max : n;
}

/* ---- records ----------------------------------------------------------- */

static bool at_mark(const char *p, const char *end)
{
	return end - p >= 2 && p[0] == '%' && p[1] == '%';
}

/* The next "%%" at the start of a line after p, or end. */
static const char *next_mark(const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return end;
		if (at_mark(nl + 1, end))
			return nl + 1;
		p = nl + 1;
	}
	return end;
}

static size_t records_split(const char *p, size_t size, struct fz_record *out)
{
	const char *end = p + size;
	size_t n = 0;

	while (p < end && n < FZ_MAX_RECORDS) {
		struct fz_record *r = &out[n++];
		r->head = VIEW_NULL;
		if (at_mark(p, end)) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *head_end = nl ? nl : end;
			r->head = view_make(p + 2, (size_t)(head_end - p - 2));
			p = nl ? nl + 1 : end;
		}
		const char *q = at_mark(p, end) ? p : next_mark(p, end);
		r->payload = view_make(p, (size_t)(q - p));
		p = q;
	}
	return n;
}

/* ---- what sipd sends --------------------------------------------------- */

static void sent_keep(struct fz_sent *slot, const char *bytes, size_t len,
		      const struct tp_dest *dest)
{
	free(slot->bytes);
	slot->bytes = malloc(len ? len : 1);
	check(slot->bytes != NULL, "out of memory");
	memcpy(slot->bytes, bytes, len);
	slot->len = len;
	slot->dest = *dest;
	slot->dest.conn = NULL; /* not kept: a reference the harness does not hold */
}

static void sent_clear(struct fz_sent *slot)
{
	free(slot->bytes);
	memset(slot, 0, sizeof(*slot));
}

/* Decode a kept message into *m (sip_msg_fini it); false when it does not
 * decode (or nothing is kept). */
static bool sent_decode(const struct fz_sent *slot, struct sip_msg *m)
{
	struct sip_error err;
	size_t used;

	if (!slot->bytes)
		return false;
	if (sip_msg_decode(m, slot->bytes, slot->len, SIP_FRAMING_DGRAM, &used, &err) == 0)
		return true;
	sip_msg_fini(m);
	return false;
}

/* Remember what later records may answer or reuse. */
static void sent_remember(struct fz *fz, const struct sip_msg *m, const char *bytes, size_t len,
			  const struct tp_dest *dest)
{
	if (m->is_request) {
		struct fz_sent oldest = fz->requests[FZ_REQUESTS - 1];
		memmove(&fz->requests[1], &fz->requests[0],
			(FZ_REQUESTS - 1) * sizeof(fz->requests[0]));
		fz->requests[0] = oldest; /* its bytes are replaced below */
		sent_keep(&fz->requests[0], bytes, len, dest);
		if (sip_msg_hdr_find(m, SIP_HDR_RECORD_ROUTE))
			sent_keep(&fz->routed, bytes, len, dest);
	} else if (m->status == 401 || m->status == 407) {
		sent_keep(&fz->challenge, bytes, len, dest);
	}
}

/* Everything sipd sends: the properties, then remember it. */
static void sent_check(struct fz *fz, const struct tp_dest *dest, const char *bytes, size_t len)
{
	struct sip_msg *m = malloc(sizeof(*m));
	struct sip_error err = { 0, NULL };
	size_t used;

	check(m != NULL, "out of memory");
	if (fz_trace) {
		char to[TP_HOSTPORT_MAX];
		tp_addr_hostport(&dest->addr, to, sizeof(to));
		fprintf(stderr, "<<< at %llu ms sent to %s %s:\n%.*s\n",
			(unsigned long long)(fz->wheel->now_ms - fz->start_ms), tp_proto_name(dest->proto),
			to, (int)len, bytes);
	}
	int rc = sip_msg_decode(m, bytes, len, SIP_FRAMING_DGRAM, &used, &err);
	bool malformed_answer = transport_stats(fz->tp)->malformed != fz->malformed_before;
	if (rc != 0) {
		if (!malformed_answer && rc != EMSGSIZE) {
			fprintf(stderr, "fuzz_core: sipd sent (%d %s):\n%.*s\n", err.status,
				err.reason ? err.reason : "", (int)len, bytes);
			check(0, "a message sipd sent does not decode");
		}
	} else {
		check(m->is_request || !fz->delivering_ack, "sipd answered an ACK");
		sent_remember(fz, m, bytes, len, dest);
	}
	sip_msg_fini(m);
	free(m);
}

/* The transport's send hook: every message sipd sends comes here. */
static int on_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
		   void *arg)
{
	struct fz *fz = arg;
	size_t len = 0;

	if (++fz->sends > FZ_MAX_SENDS)
		return 0;
	for (size_t i = 0; i < iov_count; i++)
		len += iov[i].iov_len;
	char *bytes = malloc(len ? len : 1); /* exact size: ASan sees an over-read */
	check(bytes != NULL, "out of memory");
	len = 0;
	for (size_t i = 0; i < iov_count; i++) {
		memcpy(bytes + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	sent_check(fz, dest, bytes, len);
	free(bytes);
	return tp_addr_port(&dest->addr) == FZ_REFUSED_PORT ? ECONNREFUSED : 0;
}

/* The transaction layer sends through the transport, as server.c does. */
static int txn_send(const struct tp_dest *dest, const struct iovec *iov, size_t iov_count,
		    void *arg)
{
	struct fz *fz = arg;
	return tp_send(fz->tp, dest, iov, iov_count);
}

static void on_packet(struct tp_packet *pkt, void *arg)
{
	struct fz *fz = arg;
	txn_layer_receive(fz->txn, pkt);
}

/* ---- the clock ---------------------------------------------------------- */

static void clock_advance(struct fz *fz, uint64_t ms)
{
	fz->malformed_before = transport_stats(fz->tp)->malformed;
	timer_wheel_advance(fz->wheel, fz->wheel->now_ms + ms);
}

/* The location service's wall clock, moved with the fake one. */
static int64_t fake_wall_clock(void *arg)
{
	const struct fz *fz = arg;
	return fz->start_s + (int64_t)((fz->wheel->now_ms - fz->start_ms) / 1000u);
}

/* ---- set-up and tear-down ---------------------------------------------- */

static void subscribers_put(struct fz *fz)
{
	for (size_t i = 0; i < sizeof(fz_users) / sizeof(fz_users[0]); i++) {
		struct view user = view_from_cstr(fz_users[i].user);
		struct view password = view_from_cstr(fz_users[i].password);
		struct store_user u;

		memset(&u, 0, sizeof(u));
		snprintf(u.user, sizeof(u.user), "%s", fz_users[i].user);
		snprintf(u.domain, sizeof(u.domain), "%s", FZ_DOMAIN);
		digest_ha1(DIGEST_MD5, user, VIEW_LIT(FZ_DOMAIN), password, u.ha1_md5);
		digest_ha1(DIGEST_SHA256, user, VIEW_LIT(FZ_DOMAIN), password, u.ha1_sha256);
		digest_ha1(DIGEST_SHA512_256, user, VIEW_LIT(FZ_DOMAIN), password,
			   u.ha1_sha512_256);
		check(users_put(fz->core->users, &u) == 0, "users_put");
	}
}

static void binding_put(struct fz *fz, const char *contact, enum tp_proto proto, const char *ip,
			uint16_t port, uint16_t q)
{
	struct loc_binding_spec spec = {
		.contact = view_from_cstr(contact),
		.path = VIEW_LIT(""),
		.instance = VIEW_LIT(""),
		.q = q,
		.expires_at = fz->start_s + FZ_BINDING_S,
		.call_id = view_from_cstr(contact), /* unique per binding */
		.cseq = 1,
		.proto = proto,
	};

	addr_set(&spec.source, ip, port);
	location_lock(fz->core->loc);
	int rc = location_put(fz->core->loc, VIEW_LIT("101@" FZ_DOMAIN), &spec, fz->start_s, NULL);
	location_unlock(fz->core->loc);
	check(rc == 0, "location_put");
}

static void listeners_add(struct fz *fz)
{
	static const enum tp_proto protos[] = { TP_UDP, TP_TCP };

	addr_set(&fz->local4, "192.0.2.10", 5060);
	addr_set(&fz->local6, "2001:db8::10", 5060);
	for (size_t i = 0; i < 2; i++) {
		check(transport_listen_unbound(fz->tp, protos[i], &fz->local4) == 0, "listen");
		check(transport_listen_unbound(fz->tp, protos[i], &fz->local6) == 0, "listen");
		check(core_add_listener(fz->core, protos[i], &fz->local4) == 0, "core_add_listener");
		check(core_add_listener(fz->core, protos[i], &fz->local6) == 0, "core_add_listener");
	}
}

static void config_from_head(struct view head, struct core_config *c)
{
	memset(c, 0, sizeof(*c));
	c->domains[0] = FZ_DOMAIN;
	c->domain_count = 1;
	c->record_route = !head_has(head, "norr");
	c->foreign_callers = head_has(head, "foreign");
	c->redirect_all = head_has(head, "redirect");
	c->allow_no_qop = head_has(head, "noqop");
	c->log_transactions = true;
	if (head_has(head, "md5")) {
		c->algorithms[0] = DIGEST_MD5;
		c->algorithm_count = 1;
	}
}

static void fz_setup(struct fz *fz, struct view head)
{
	struct transport_config tcfg = {
		.max_message_size = SIP_MAX_MESSAGE,
		.max_connections = 16,
		.max_connections_per_ip = 4,
		.tcp_idle_timeout_ms = 120000,
		.tcp_message_timeout_ms = 10000,
		.allow = CORE_ALLOW,
	};
	struct core_config ccfg;
	struct txn_handlers handlers;

	memset(fz, 0, sizeof(*fz));
	config_from_head(head, &ccfg);
	check(loop_alloc(&fz->loop) == 0, "loop_alloc");
	fz->wheel = loop_timers(fz->loop);
	fz->start_ms = fz->wheel->now_ms;
	fz->start_s = (int64_t)time(NULL);
	check(transport_alloc(&fz->tp, fz->loop, &tcfg, on_packet, fz) == 0, "transport_alloc");
	transport_set_send_hook(fz->tp, on_send, fz);
	check(core_alloc(&fz->core, &ccfg, fz->loop, NULL) == 0, "core_alloc");
	core_txn_handlers(fz->core, &handlers);
	check(txn_layer_alloc(&fz->txn, fz->wheel, NULL, txn_send, fz, &handlers) == 0,
	      "txn_layer_alloc");
	core_attach(fz->core, fz->tp, fz->txn);
	listeners_add(fz);
	location_set_clock(fz->core->loc, fake_wall_clock, fz);
	subscribers_put(fz);
	binding_put(fz, "sip:101@192.0.2.101:5062", TP_UDP, "192.0.2.101", 5062, 1000);
	binding_put(fz, "sip:101@192.0.2.102:5064;transport=tcp", TP_TCP, "192.0.2.102", 5064, 500);
}

/* In the order of server.c: transactions hold packets, the core holds
 * transactions, the transport outlives both. */
static void fz_teardown(struct fz *fz)
{
	txn_layer_free(fz->txn);
	core_free(fz->core);
	transport_free(fz->tp);
	loop_free(fz->loop);
	for (size_t i = 0; i < FZ_REQUESTS; i++)
		sent_clear(&fz->requests[i]);
	sent_clear(&fz->challenge);
	sent_clear(&fz->routed);
}

/* ---- building what a record delivers ------------------------------------- */

static void append(struct buf *b, const void *p, size_t n)
{
	check(buf_append(b, p, n) == 0, "out of memory");
}

static void append_line(struct buf *b, const char *name, struct view value)
{
	append(b, name, strlen(name));
	append(b, value.p, value.len);
	append(b, "\r\n", 2);
}

/* Route lines from the Record-Route of the last request routed through. */
static void routes_add(struct fz *fz, bool reverse, struct buf *out)
{
	struct sip_msg m;
	struct view values[FZ_ROUTES_MAX];
	size_t n = 0;

	if (!sent_decode(&fz->routed, &m))
		return;
	for (const struct sip_hdr *h = sip_msg_hdr_find(&m, SIP_HDR_RECORD_ROUTE);
	     h != NULL && n < FZ_ROUTES_MAX; h = sip_msg_hdr_next(&m, h))
		values[n++] = h->value;
	for (size_t i = 0; i < n; i++)
		append_line(out, "Route: ", values[reverse ? n - 1 - i : i]);
	sip_msg_fini(&m);
}

static const char *password_of(struct view user)
{
	for (size_t i = 0; i < sizeof(fz_users) / sizeof(fz_users[0]); i++)
		if (view_eq_cstr(user, fz_users[i].user))
			return fz_users[i].password;
	return "wrong";
}

/* The method and Request-URI of a request line. */
static bool request_line_split(struct view line, struct view *method, struct view *uri)
{
	const char *sp = memchr(line.p, ' ', line.len);
	if (!sp)
		return false;
	*method = view_make(line.p, (size_t)(sp - line.p));
	const char *start = sp + 1, *end = line.p + line.len, *q = start;
	while (q < end && *q != ' ' && *q != '\r' && *q != '\n')
		q++;
	*uri = view_make(start, (size_t)(q - start));
	return true;
}

/* The credential line answering challenge a for user's request line. */
static void credentials_add(struct fz *fz, const struct sip_auth *a, bool proxy, struct view user,
			    struct view line, struct buf *out)
{
	char ha1[DIGEST_HEX_MAX], response[DIGEST_HEX_MAX], nc[9];
	struct view method, uri;
	enum digest_alg alg;

	if (!a->digest || !digest_alg_from_view(a->algorithm, &alg) ||
	    !request_line_split(line, &method, &uri))
		return;
	digest_ha1(alg, user, a->realm, view_from_cstr(password_of(user)), ha1);
	snprintf(nc, sizeof(nc), "%08x", ++fz->nc);
	struct digest_input in = {
		.alg = alg, .ha1 = view_from_cstr(ha1), .method = method, .uri = uri,
		.nonce = a->nonce, .nc = view_from_cstr(nc), .cnonce = VIEW_LIT("fuzzcnonce"),
		.qop = a->qop.p ? VIEW_LIT("auth") : VIEW_LIT(""),
	};
	digest_response(&in, response);
	check(buf_printf(out,
			 "%s: Digest username=\"%.*s\", realm=\"%.*s\", nonce=\"%.*s\", "
			 "uri=\"%.*s\", response=\"%s\", algorithm=%s, opaque=\"%.*s\"",
			 proxy ? "Proxy-Authorization" : "Authorization", (int)user.len, user.p,
			 (int)a->realm.len, a->realm.p, (int)a->nonce.len, a->nonce.p, (int)uri.len,
			 uri.p, response, digest_alg_name(alg), (int)a->opaque.len,
			 a->opaque.p ? a->opaque.p : "") == 0,
	      "out of memory");
	if (a->qop.p)
		check(buf_printf(out, ", qop=auth, nc=%s, cnonce=\"fuzzcnonce\"", nc) == 0,
		      "out of memory");
	append(out, "\r\n", 2);
}

/* auth=USER: credentials for the last challenge (its first line). */
static void auth_add(struct fz *fz, struct view user, struct view line, struct buf *out)
{
	struct sip_msg m;
	const struct sip_auth *auths;
	size_t n;
	struct sip_error err;

	if (!sent_decode(&fz->challenge, &m))
		return;
	bool proxy = m.status == 407;
	if (sip_msg_auths(&m, proxy ? SIP_HDR_PROXY_AUTHENTICATE : SIP_HDR_WWW_AUTHENTICATE, &auths,
			  &n, &err) == 0 &&
	    n > 0)
		credentials_add(fz, &auths[0], proxy, user, line, out);
	sip_msg_fini(&m);
}

/* The payload, with the lines the head asks for after its first line. */
static void request_build(struct fz *fz, const struct fz_record *r, struct buf *out)
{
	struct view p = r->payload, user;
	const char *nl = p.len > 0 ? memchr(p.p, '\n', p.len) : NULL;
	size_t split = nl ? (size_t)(nl - p.p) + 1 : p.len;

	append(out, p.p, split);
	if (head_has(r->head, "route"))
		routes_add(fz, head_has(r->head, "route=rev"), out);
	if (head_value(r->head, "auth=", &user))
		auth_add(fz, user, view_make(p.p, split), out);
	append(out, p.p + split, p.len - split);
}

static void peer_of(struct view head, struct tp_addr *src)
{
	struct view name;
	const struct fz_peer *peer = &fz_peers[0];

	if (head_value(head, "from=", &name) && name.len > 0) {
		for (size_t i = 0; i < sizeof(fz_peers) / sizeof(fz_peers[0]); i++)
			if (fz_peers[i].name == name.p[0])
				peer = &fz_peers[i];
	}
	addr_set(src, peer->ip, peer->port);
}

/* reply=NNN: a response to a request sipd sent, from where it went. */
static bool reply_build(struct fz *fz, const struct fz_record *r, struct view code,
			struct buf *out, struct tp_addr *src)
{
	const struct fz_sent *req = &fz->requests[head_number(r->head, "nth=", FZ_REQUESTS - 1)];
	struct sip_msg m;

	if (!sent_decode(req, &m))
		return false;
	check(buf_printf(out, "SIP/2.0 %.*s Fuzz\r\n", (int)code.len, code.p) == 0, "out of memory");
	for (const struct sip_hdr *h = sip_msg_hdr_find(&m, SIP_HDR_VIA); h != NULL;
	     h = sip_msg_hdr_next(&m, h))
		append_line(out, "Via: ", h->value);
	append_line(out, "From: ", sip_msg_hdr_find(&m, SIP_HDR_FROM)->value);
	append(out, "To: ", 4);
	append(out, sip_msg_hdr_find(&m, SIP_HDR_TO)->value.p,
	       sip_msg_hdr_find(&m, SIP_HDR_TO)->value.len);
	if (view_is_null(m.to.tag))
		append(out, ";tag=callee-fz", 14);
	append(out, "\r\n", 2);
	append_line(out, "Call-ID: ", m.call_id);
	append_line(out, "CSeq: ", sip_msg_hdr_find(&m, SIP_HDR_CSEQ)->value);
	if (r->payload.len > 0)
		append(out, r->payload.p, r->payload.len);
	else
		append(out, "Content-Length: 0\r\n\r\n", 21);
	*src = req->dest.addr;
	sip_msg_fini(&m);
	return true;
}

/* ---- running an input ------------------------------------------------- */

static void deliver(struct fz *fz, const struct tp_addr *src, const struct buf *msg)
{
	const struct tp_addr *local = src->u.sa.sa_family == AF_INET6 ? &fz->local6 : &fz->local4;
	char *copy = malloc(msg->len ? msg->len : 1); /* exact size */

	check(copy != NULL, "out of memory");
	if (msg->len > 0)
		memcpy(copy, msg->data, msg->len);
	fz->malformed_before = transport_stats(fz->tp)->malformed;
	fz->delivering_ack = msg->len >= 4 && memcmp(msg->data, "ACK ", 4) == 0;
	if (fz_trace) {
		char from[TP_HOSTPORT_MAX];
		tp_addr_hostport(src, from, sizeof(from));
		fprintf(stderr, ">>> at %llu ms from %s:\n%.*s\n",
			(unsigned long long)(fz->wheel->now_ms - fz->start_ms), from, (int)msg->len,
			msg->data ? msg->data : "");
	}
	check(transport_receive_datagram(fz->tp, local, src, copy, msg->len) == 0,
	      "transport_receive_datagram");
	fz->delivering_ack = false;
	free(copy);
}

static void record_run(struct fz *fz, const struct fz_record *r)
{
	struct tp_addr src;
	struct view code;
	struct buf msg;
	bool ok = true;

	buf_init(&msg);
	clock_advance(fz, head_number(r->head, "wait=", FZ_WAIT_MAX_MS));
	if (head_value(r->head, "reply=", &code)) {
		ok = reply_build(fz, r, code, &msg, &src);
	} else {
		peer_of(r->head, &src);
		request_build(fz, r, &msg);
	}
	if (ok) {
		deliver(fz, &src, &msg);
		if (head_has(r->head, "dup"))
			deliver(fz, &src, &msg);
	}
	buf_fini(&msg);
}

static void log_discard(enum log_level level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_record records[FZ_MAX_RECORDS];
	static struct fz fz;
	char *input = malloc(size ? size : 1); /* exact size */

	check(input != NULL, "out of memory");
	memcpy(input, data, size);
	/* every log line is formatted (its arguments are peer data), none
	 * written */
	fz_trace = getenv("FUZZ_CORE_TRACE") != NULL;
	log_set_sink(fz_trace ? NULL : log_discard, NULL);
	log_set_level(LOG_DEBUG);
	size_t n = records_split(input, size, records);
	fz_setup(&fz, n > 0 ? records[0].head : VIEW_NULL);
	for (size_t i = 0; i < n; i++)
		record_run(&fz, &records[i]);
	for (uint64_t t = 0; t < FZ_END_MAX_MS && txn_layer_count(fz.txn) > 0; t += FZ_END_STEP_MS)
		clock_advance(&fz, FZ_END_STEP_MS);
	check(txn_layer_count(fz.txn) == 0, "a transaction outlived an hour of silence");
	fz_teardown(&fz);
	free(input);
	return 0;
}
