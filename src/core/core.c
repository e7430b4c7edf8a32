/*
 * core.c - request handling as a server (RFC 3261 §8.2, §16.3, §11).
 *
 * Order of checks, each answered with its own status and reason:
 *   1. Max-Forwards 0 → 483 (an OPTIONS to sipd itself is answered instead,
 *      RFC 3261 §16.3 step 3 allows it; pings often use Max-Forwards 0)
 *   2. Request-URI scheme other than sip/sips → 416
 *   3. unknown method → 501 with Allow
 *   4. Require / Proxy-Require with an option sipd lacks → 420 with
 *      Unsupported (never for ACK and CANCEL, RFC 3261 §8.2.2.3)
 *   5. OPTIONS to sipd → 200 with Allow, Accept, Supported (§11.2)
 *   6. anything else → 501, saying what is not there yet
 * A header that fails to decode when read is answered 400 with its name.
 *
 * "To sipd itself" here means a Request-URI without a user part: sipd has
 * no users and no domains yet.
 */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/random.h"
#include "base/siphash.h"
#include "sip/msg.h"

#define CORE_ACCEPT "application/sdp"
#define CORE_TAG_LEN 16
#define CORE_EXTRA_MAX 1024

struct core {
	struct siphash_key tag_key; /* random: To tags cannot be guessed */
	uint64_t tag_counter;
};

int core_alloc(struct core **out)
{
	struct core *core = calloc(1, sizeof(*core));
	if (!core)
		return ENOMEM;
	int rc = random_bytes(&core->tag_key, sizeof(core->tag_key));
	if (rc != 0) {
		free(core);
		return rc;
	}
	*out = core;
	return 0;
}

void core_free(struct core *core)
{
	free(core);
}

static void new_tag(struct core *core, char tag[CORE_TAG_LEN + 1])
{
	uint64_t counter = ++core->tag_counter;
	uint64_t h = siphash24(&core->tag_key, &counter, sizeof(counter));
	snprintf(tag, CORE_TAG_LEN + 1, "%016llx", (unsigned long long)h);
}

static void reply(struct core *core, struct txn *st, unsigned status, const char *reason,
		  const char *extra)
{
	char tag[CORE_TAG_LEN + 1];
	struct tp_packet *pkt = txn_request(st);

	new_tag(core, tag);
	int rc = txn_server_reply_simple(st, status, reason, view_from_cstr(extra ? extra : ""),
					 view_make(tag, CORE_TAG_LEN));
	if (rc != 0)
		log_warn("cannot answer %.*s (Call-ID %.*s): %s", (int)pkt->msg.method.len,
			 pkt->msg.method.p, (int)pkt->msg.call_id.len, pkt->msg.call_id.p, strerror(rc));
}

static bool to_self(const struct sip_msg *m)
{
	return (m->ruri.scheme == SIP_URI_SIP || m->ruri.scheme == SIP_URI_SIPS) &&
	       m->ruri.user.p == NULL;
}

/* The option tags sipd implements; none yet. */
static bool option_supported(struct view tag)
{
	(void)tag;
	return false;
}

/* 0 when every required option is supported; else the Unsupported line in
 * extra, or a decode error in err. */
static int check_require(struct sip_msg *m, char *extra, size_t size, struct sip_error *err)
{
	static const enum sip_hdr_id ids[] = { SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE };
	size_t used = 0;
	bool missing = false;

	for (size_t k = 0; k < 2; k++) {
		const struct view *tags;
		size_t n;
		int rc = sip_msg_tokens(m, ids[k], &tags, &n, err);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (option_supported(tags[i]))
				continue;
			int w = snprintf(extra + used, size - used, "%s%.*s", missing ? ", " : "Unsupported: ",
					 (int)tags[i].len, tags[i].p);
			if (w < 0 || (size_t)w >= size - used)
				return EMSGSIZE;
			used += (size_t)w;
			missing = true;
		}
	}
	if (!missing)
		return 0;
	if (used + 3 > size)
		return EMSGSIZE;
	memcpy(extra + used, "\r\n", 3);
	return ENOTSUP;
}

static void on_request(struct txn *st, struct tp_packet *pkt, void *arg)
{
	struct core *core = arg;
	struct sip_msg *m = &pkt->msg;
	struct sip_error err = { 400, "Bad Request" };
	char extra[CORE_EXTRA_MAX];
	bool self = to_self(m);

	if (m->has_max_forwards && m->max_forwards == 0 &&
	    !(m->method_id == SIP_METHOD_OPTIONS && self)) {
		reply(core, st, 483, NULL, NULL);
		return;
	}
	if (m->ruri.scheme != SIP_URI_SIP && m->ruri.scheme != SIP_URI_SIPS) {
		reply(core, st, 416, NULL, NULL);
		return;
	}
	if (m->method_id == SIP_METHOD_UNKNOWN) {
		reply(core, st, 501, NULL, "Allow: " CORE_ALLOW "\r\n");
		return;
	}
	if (m->method_id != SIP_METHOD_CANCEL) {
		int rc = check_require(m, extra, sizeof(extra), &err);
		if (rc == ENOTSUP) {
			reply(core, st, 420, NULL, extra);
			return;
		}
		if (rc != 0) {
			reply(core, st, 400, rc == EBADMSG ? err.reason : "Bad Require header", NULL);
			return;
		}
	}
	if (m->method_id == SIP_METHOD_OPTIONS && self) {
		reply(core, st, 200, NULL,
		      "Allow: " CORE_ALLOW "\r\nAccept: " CORE_ACCEPT "\r\nSupported: \r\n");
		return;
	}
	if (m->method_id == SIP_METHOD_REGISTER)
		reply(core, st, 501, "Registrar Not Implemented Yet", NULL);
	else
		reply(core, st, 501, "Proxy Not Implemented Yet", NULL);
}

static void on_ack(struct tp_packet *pkt, void *arg)
{
	(void)pkt;
	(void)arg;
	/* an ACK for a 2xx: sipd sends no 2xx to INVITE yet */
}

static void on_cancel(struct txn *cancel_st, struct txn *invite_st, struct tp_packet *pkt,
		      void *arg)
{
	struct core *core = arg;
	(void)pkt;

	if (!invite_st) {
		reply(core, cancel_st, 481, NULL, NULL);
		return;
	}
	reply(core, cancel_st, 200, NULL, NULL);
	if (txn_state(invite_st) == TXN_PROCEEDING)
		reply(core, invite_st, 487, NULL, NULL);
}

static void on_stray_response(struct tp_packet *pkt, void *arg)
{
	(void)pkt;
	(void)arg;
	/* nothing to forward to yet */
}

void core_txn_handlers(struct core *core, struct txn_handlers *h)
{
	memset(h, 0, sizeof(*h));
	h->request = on_request;
	h->ack = on_ack;
	h->cancel = on_cancel;
	h->stray_response = on_stray_response;
	h->arg = core;
}
