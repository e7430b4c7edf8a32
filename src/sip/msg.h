/*
 * msg.h - the SIP message model: split, eager decode, lazy accessors.
 *
 * sip_msg_decode() splits a message that lies in a caller-owned buffer into
 * its start line and header lines (name id + value span), then decodes what
 * every message needs at once: the top Via, CSeq, Call-ID, From, To,
 * Max-Forwards and Content-Length. Everything else is decoded on first
 * access through the sip_msg_*() accessors below and cached in the message.
 *
 * Zero-copy: every view points into the caller's buffer, which must outlive
 * the message. Pure: no I/O, no globals, no logging. The only allocations are
 * the lazy caches, released by sip_msg_fini().
 *
 * Framing (RFC 3261 §7.5, §18.3): on a stream, a message is complete once its
 * empty line and Content-Length body bytes have arrived (EAGAIN before); on a
 * datagram the datagram is the message, a body shorter than Content-Length
 * is malformed and octets past it are ignored. CRLFs before the start line
 * are skipped. Bare LF line ends are tolerated (some archives and tools use
 * them); folded header lines are kept inside the value view, so code that
 * reads values treats CR and LF as white space.
 */
#ifndef SIPD_SIP_MSG_H
#define SIPD_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/view.h"
#include "sip/uri.h"
#include "sip_hdr_table.h"

/* Limits. Each has a test and a clear rejection. */
#define SIP_MAX_MESSAGE 65535u /* bytes, start line to end of body (413) */
#define SIP_MAX_HEADERS 128u   /* header lines (400 "Too many headers") */
#define SIP_MAX_LIST 64u       /* values of one list kind, e.g. Via or Contact (400) */

enum sip_framing {
	SIP_FRAMING_DGRAM,  /* UDP: one datagram, one message */
	SIP_FRAMING_STREAM, /* TCP, TLS: framed by Content-Length */
};

enum sip_method {
	SIP_METHOD_UNKNOWN = 0,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_INFO,
	SIP_METHOD_INVITE,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_PRACK,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_REFER,
	SIP_METHOD_REGISTER,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_UPDATE,
};

/* Why a message was refused: the status and reason phrase to answer with
 * (when answering is possible: never to a response or an ACK). */
struct sip_error {
	int status;         /* 400, 413, 501 or 505 */
	const char *reason; /* static string, e.g. "Bad CSeq header" */
};

struct sip_hdr {
	struct view name;  /* as on the wire */
	struct view value; /* LWS-trimmed; may hold folds (CRLF + SP/HT) */
	uint32_t line_len; /* bytes from name.p through the line end (with folds) */
	uint16_t id;       /* enum sip_hdr_id */
	int16_t next;      /* index of the next header with this id, -1 at the end */
};

/* One ";name[=value]" of a parameter list. A value in quotes keeps them. */
struct sip_param {
	struct view name;
	struct view value; /* NULL p when there is no '=' */
};

struct sip_via {
	struct view raw;           /* the whole via-parm */
	struct view proto_name;    /* "SIP" */
	struct view proto_version; /* "2.0" */
	struct view transport;     /* "UDP", "TCP", "TLS", "WS", or any token */
	struct view host;          /* sent-by host; IPv6 with its brackets */
	enum sip_host_type host_type;
	bool has_port;
	uint16_t port;
	struct view params;   /* from the first ';', or empty */
	struct view branch;   /* NULL p if absent */
	struct view received; /* NULL p if absent; IPv6 with or without brackets */
	struct view maddr;    /* NULL p if absent */
	bool has_rport;
	bool rport_has_value;
	uint16_t rport;
	bool has_ttl;
	uint8_t ttl;
	uint8_t rport_count;  /* rport parameters seen (saturates at 255) */
	struct view rport_name; /* the first one's name as in raw */
};

/* A name-addr or addr-spec with its header parameters: From, To, Contact,
 * Route, Record-Route, Path, Service-Route, P-Associated-URI. */
struct sip_addr {
	struct view raw;     /* the whole value element */
	struct view display; /* display name as written (quotes kept), NULL p if none */
	bool bracketed;      /* the URI was inside '<' '>' */
	struct view uri_raw;
	struct sip_uri uri;
	struct view params; /* header parameters from the first ';', or empty */
	struct view tag;    /* the tag parameter, NULL p if absent */
};

struct sip_contact {
	bool star; /* "Contact: *"; addr is not set then */
	struct sip_addr addr;
	bool has_expires;
	uint32_t expires; /* seconds; values above 2^32-1 saturate (RFC 3261 §20.19) */
	bool has_q;
	uint16_t q; /* q-value times 1000: "0.5" is 500 */
	struct view instance; /* +sip.instance value (quotes kept), NULL p if absent */
	bool has_reg_id;
	uint32_t reg_id;
};

struct sip_cseq {
	uint32_t number;
	struct view method;
	enum sip_method method_id;
};

/* One credential or challenge (RFC 3261 §20.7, §20.27, §20.28, §20.44;
 * RFC 7616). Quoted values are given without their quotes, with any
 * backslash escapes still in place. Unknown parameters are only in params. */
struct sip_auth {
	struct view scheme; /* "Digest" or any other token */
	bool digest;        /* scheme is Digest (case-insensitive) */
	struct view params; /* the raw parameter list */
	struct view username, realm, nonce, uri, response, algorithm, cnonce, opaque;
	struct view qop, nc, stale, domain, userhash, auts;
};

enum sip_cache_kind {
	SIP_CACHE_VIA,
	SIP_CACHE_CONTACT,
	SIP_CACHE_ROUTE,
	SIP_CACHE_RECORD_ROUTE,
	SIP_CACHE_PATH,
	SIP_CACHE_SERVICE_ROUTE,
	SIP_CACHE_P_ASSOCIATED_URI,
	SIP_CACHE_AUTHORIZATION,
	SIP_CACHE_PROXY_AUTHORIZATION,
	SIP_CACHE_WWW_AUTHENTICATE,
	SIP_CACHE_PROXY_AUTHENTICATE,
	SIP_CACHE_REQUIRE,
	SIP_CACHE_PROXY_REQUIRE,
	SIP_CACHE_SUPPORTED,
	SIP_CACHE_UNSUPPORTED,
	SIP_CACHE_ALLOW,
	SIP_CACHE__COUNT
};

/* A lazily decoded list; state 0 = not yet, 1 = decoded, 2 = malformed. */
struct sip_cache {
	void *items; /* owned; malloc'd array of the kind's struct */
	uint16_t count;
	uint8_t state;
	const char *reason; /* when malformed */
};

/* A lazily decoded delta-seconds header. */
struct sip_seconds {
	bool done;
	int rc; /* 0, ENOENT or EBADMSG */
	uint32_t value;
};

struct sip_msg {
	const char *buf; /* borrowed: the message, first start-line byte ... */
	size_t len;      /* ... to the end of its body */

	bool is_request;
	struct view start_line; /* without its line end */
	/* request */
	struct view method;
	enum sip_method method_id;
	struct view ruri_raw;
	struct sip_uri ruri;
	/* response */
	unsigned status;
	struct view reason;

	/* The header lines, [0, hdr_count); storage of hdr_cap lines given by
	 * the caller (sip_msg_decode_in) or allocated by sip_msg_decode. */
	struct sip_hdr *hdrs;
	uint16_t hdr_count;
	uint16_t hdr_cap;
	bool hdrs_owned; /* allocated by sip_msg_decode: sip_msg_fini frees it */
	int16_t first[SIP_HDR__COUNT]; /* index of the first header per id, -1 */
	uint32_t headers_end;          /* offset of the empty line ending the headers */

	struct view body;

	/* eager */
	struct sip_via via; /* top Via */
	struct sip_cseq cseq;
	struct view call_id;
	struct sip_addr from; /* in a response, split only: see sip_addr_split */
	struct sip_addr to;
	bool has_max_forwards;
	uint32_t max_forwards;
	bool has_content_length;
	uint32_t content_length;

	/* lazy */
	struct sip_cache cache[SIP_CACHE__COUNT];
	struct sip_seconds expires;     /* Expires */
	struct sip_seconds min_expires; /* Min-Expires */
};

/*
 * Decode the message at the start of buf. Returns:
 *   0        msg is set; *consumed = bytes used (leading CRLFs, the message;
 *            on a datagram, the whole datagram)
 *   EAGAIN   stream only: more bytes needed
 *   EBADMSG  malformed; *err says how to answer
 *   EMSGSIZE over a limit (SIP_MAX_MESSAGE, SIP_MAX_HEADERS); *err as above
 * Whatever it returns, sip_msg_fini() may be called on msg afterwards.
 */
int sip_msg_decode(struct sip_msg *msg, const char *buf, size_t len,
		   enum sip_framing framing, size_t *consumed, struct sip_error *err);

/*
 * The same with the header lines in the caller's storage of cap entries
 * (so a message kept for long carries only the room it has, not
 * SIP_MAX_HEADERS). sip_msg_line_bound(buf, len) entries are always
 * enough; with fewer, a message with more lines fails with EMSGSIZE and
 * hdr_count == cap, and the caller may decode it again with more room
 * (the transport does, with sip_msg_decode). The storage must outlive the
 * message; sip_msg_fini does not free it. sip_msg_decode allocates the
 * bound itself, freed by sip_msg_fini: call sip_msg_fini before decoding
 * into the same struct again.
 */
int sip_msg_decode_in(struct sip_msg *msg, struct sip_hdr *storage, size_t cap, const char *buf,
		      size_t len, enum sip_framing framing, size_t *consumed,
		      struct sip_error *err);
/* Header lines buf can hold at most: its line ends + 1, and never more
 * than SIP_MAX_HEADERS + 1 (one over the limit, to report it). */
size_t sip_msg_line_bound(const char *buf, size_t len);

/* Release the lazy caches. The buffer is the caller's. */
void sip_msg_fini(struct sip_msg *msg);

/* First header with this id, or NULL. Walk on with sip_msg_hdr_next(). */
const struct sip_hdr *sip_msg_hdr_find(const struct sip_msg *msg, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *hdr);
/* Number of header lines with this id. */
unsigned sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id);

/*
 * Lazy, cached accessors. Each returns 0 with the decoded values (count 0
 * when the header is absent), ENOMEM, or EBADMSG with *err naming the
 * header. err may be NULL.
 */
int sip_msg_vias(struct sip_msg *msg, const struct sip_via **vias, size_t *count,
		 struct sip_error *err);
int sip_msg_contacts(struct sip_msg *msg, const struct sip_contact **contacts, size_t *count,
		     struct sip_error *err);
/* id: SIP_HDR_ROUTE, _RECORD_ROUTE, _PATH, _SERVICE_ROUTE or _P_ASSOCIATED_URI. */
int sip_msg_addrs(struct sip_msg *msg, enum sip_hdr_id id, const struct sip_addr **addrs,
		  size_t *count, struct sip_error *err);
/* id: SIP_HDR_AUTHORIZATION, _PROXY_AUTHORIZATION, _WWW_AUTHENTICATE or
 * _PROXY_AUTHENTICATE. */
int sip_msg_auths(struct sip_msg *msg, enum sip_hdr_id id, const struct sip_auth **auths,
		  size_t *count, struct sip_error *err);
/* id: SIP_HDR_REQUIRE, _PROXY_REQUIRE, _SUPPORTED, _UNSUPPORTED or _ALLOW. */
int sip_msg_tokens(struct sip_msg *msg, enum sip_hdr_id id, const struct view **tokens,
		   size_t *count, struct sip_error *err);
/* Expires / Min-Expires: 0, ENOENT when absent, EBADMSG. Saturates at 2^32-1. */
int sip_msg_expires(struct sip_msg *msg, uint32_t *seconds, struct sip_error *err);
int sip_msg_min_expires(struct sip_msg *msg, uint32_t *seconds, struct sip_error *err);
/* User-Agent value, NULL p when absent. */
struct view sip_msg_user_agent(const struct sip_msg *msg);

/* Decode every lazy header now; the first failure is returned. */
int sip_msg_decode_all(struct sip_msg *msg, struct sip_error *err);

/* Method name to id (case-sensitive, as RFC 3261 §7.1 says). */
enum sip_method sip_method_from_view(struct view name);

/*
 * Parameter lists (";a=b;c"). sip_param_next() reads one parameter from
 * *rest, which must start with optional LWS then ';', and advances *rest.
 * Returns 0, ENOENT at the end of the list, EBADMSG when malformed.
 */
int sip_param_next(struct view *rest, struct sip_param *param);
/* Find name (case-insensitive) in a list; true when present. */
bool sip_param_find(struct view params, const char *name, struct view *value);

/* Decode a single name-addr / addr-spec (with header params) from a value. */
int sip_addr_decode(struct sip_addr *addr, struct view in, const char **reason);
/* The same without decoding the URI: display name, uri_raw, parameters and
 * tag are set; of uri, only raw (the rest is zero). */
int sip_addr_split(struct sip_addr *addr, struct view in, const char **reason);
/* Decode one via-parm. */
int sip_via_decode(struct sip_via *via, struct view in, const char **reason);

#endif
