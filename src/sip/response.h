/*
 * response.h - build a response to a received request (RFC 3261 §8.2.6.2,
 * §16.7 for the proxy's own answers, §18.2.1 and RFC 3581 for the Via).
 */
#ifndef SIPD_SIP_RESPONSE_H
#define SIPD_SIP_RESPONSE_H

#include "base/buf.h"
#include "sip/msg.h"

struct sip_response_spec {
	unsigned status;      /* 100..699 */
	const char *reason;   /* reason phrase; NULL = the standard one */
	struct view via_params; /* appended to the top Via: ";received=...;rport=..." */
	struct view to_tag;   /* added to To when the request's To has no tag */
	struct view extra;    /* more header lines, each ending in CRLF */
	struct view body;     /* with its Content-Type among the extra lines */
};

/*
 * Append the response to out: status line; every Via of the request in
 * order, the top one with via_params appended (and its bare ";rport"
 * dropped when via_params carries "rport="); From; To (tagged as said);
 * Call-ID; CSeq; the extra lines; Content-Length; the body.
 * Returns 0, ENOMEM, or EINVAL (status out of range or req a response).
 */
int sip_response_print(struct buf *out, const struct sip_msg *req,
		       const struct sip_response_spec *spec);

/*
 * Best-effort answer to a request that failed to decode (err from
 * sip_msg_decode): the header lines that were split are copied raw (Via,
 * From, To, Call-ID, CSeq), so the client can match it if those were
 * intact. Returns ENOENT when no answer should be sent: the start line is a
 * status line or an ACK, or no Via header was found.
 */
int sip_response_print_malformed(struct buf *out, const struct sip_msg *partial,
				 const struct sip_response_spec *spec);

/* The standard reason phrase of a status code ("Not Found"), or "Unknown". */
const char *sip_reason_phrase(unsigned status);

#endif
