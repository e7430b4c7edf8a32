/*
 * uri.h - SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), and any other
 * absoluteURI kept opaque.
 *
 * Decoding is zero-copy: every field is a view into the input, with escapes
 * (%HH) left as they are on the wire. Comparison (RFC 3261 §19.1.4) unescapes
 * on the fly and never builds a C string, so %00 never truncates anything.
 * Pure: no I/O, no globals, no logging.
 */
#ifndef SIPD_SIP_URI_H
#define SIPD_SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/view.h"

enum sip_uri_scheme {
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
	SIP_URI_OTHER, /* any other absoluteURI: only scheme and opaque are set */
};

enum sip_host_type {
	SIP_HOST_NONE, /* tel: and other schemes */
	SIP_HOST_NAME,
	SIP_HOST_IPV4,
	SIP_HOST_IPV6, /* host view keeps the brackets: "[2001:db8::1]" */
};

struct sip_uri {
	enum sip_uri_scheme scheme;
	struct view raw;      /* the whole URI as given */
	struct view scheme_v; /* "sip", "SIPS", "tel", "isbn", ... */
	struct view user;     /* sip/sips: user part, escaped; tel: the number; NULL p if none */
	struct view password; /* NULL p if none */
	struct view host;     /* sip/sips only */
	enum sip_host_type host_type;
	bool has_port;
	uint16_t port;        /* valid when has_port */
	struct view params;   /* ";a=b;c" including the first ';', or empty */
	struct view headers;  /* "h=v&h2=v2" after '?', NULL p if none */
	struct view opaque;   /* SIP_URI_OTHER: everything after "scheme:" */
};

/*
 * Decode a URI from exactly the bytes of in (no surrounding whitespace or
 * angle brackets). Returns 0, or EBADMSG with *reason set to a short phrase
 * ("Bad URI host") fit for a 400 reason. *uri is written only on success.
 */
int sip_uri_decode(struct sip_uri *uri, struct view in, const char **reason);

/* RFC 3261 §19.1.4 equality. URIs of different schemes never compare equal;
 * two SIP_URI_OTHER URIs compare equal when their raw text is equal
 * (scheme case-insensitive). tel URIs compare by number (visual separators
 * ignored) and parameters. */
bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b);
/*
 * A quick test before decoding text to compare it with uri: false when the
 * SIP or SIPS URI text surely differs from uri (another scheme, or another
 * user part); true when it may be equal, or when that cannot be told
 * without decoding. text must be a URI that sip_uri_decode accepts.
 */
bool sip_uri_may_equal(struct view text, const struct sip_uri *uri);

/*
 * Find URI parameter name (case-insensitive) in params (";a=b;c=d").
 * Returns true when present; *value is set to its value, or to a view with
 * NULL p when the parameter has no "=value".
 */
bool sip_uri_param(const struct sip_uri *uri, const char *name, struct view *value);

/*
 * Unescape %HH sequences of in into out (at most out_size bytes). Returns the
 * number of bytes written, or -1 when an escape is malformed or out is too
 * small. The result may contain NUL bytes.
 */
long sip_unescape(struct view in, char *out, size_t out_size);

/*
 * The host grammar (host.c). Each matches the whole view; out, when not
 * NULL, receives the address bytes (4 or 16) in network order.
 */
bool sip_ipv4_parse(struct view v, uint8_t *out);
bool sip_ipv6_parse(struct view v, uint8_t *out);           /* without brackets */
bool sip_ipv6_reference_parse(struct view v, uint8_t *out); /* "[...]" */
bool sip_hostname_valid(struct view v);
/* hostname, IPv4address or IPv6reference; false when none. */
bool sip_host_classify(struct view host, enum sip_host_type *type);

#endif
