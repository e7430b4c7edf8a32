/*
 * config.c - defaults, the INI file and the command line (config.h).
 *
 * One table, keys[], names every setting: its section and key, how its
 * value is parsed, its range, its default as text and one sentence of help.
 * Defaults are applied by parsing that text, so the default the help prints
 * is the default the server runs with. The file loader, --set and the named
 * flags (-l, --db, ...) all end in key_apply().
 *
 * Layers: defaults, then the file, then the flags. struct layer remembers
 * which keys a layer has given: its first entry for a list key replaces the
 * list below it, and in a file a second value for a single key is an error.
 *
 * Not here: binding, resolving, opening the database, setting the log level
 * (the caller does each with the result).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/view.h"
#include "sip/uri.h"

#ifndef SIPD_VERSION
#define SIPD_VERSION "0.0.0"
#endif

#define MS_PER_S UINT64_C(1000)
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)

#define HELP_WIDTH 78         /* columns the help text is wrapped to */
#define HELP_INDENT 6         /* columns before a key's description */
#define ERR_MAX 512           /* bytes of one error line, before the "sipd: " prefix */
#define VALUE_SHOWN_MAX 100   /* bytes of a bad value quoted in a message */
#define RANGE_MAX 96          /* "from 1s to 24h in whole seconds", with room to spare */
#define SECTIONS_TEXT_MAX 128 /* "[server], [timers], ...": every section, with room */

/* ---- the key table ---------------------------------------------------- */

enum key_type {
	KEY_LISTEN,    /* appends to listen[] */
	KEY_DOMAIN,    /* appends to domains[] */
	KEY_DB,
	KEY_HTTP,
	KEY_LOG_LEVEL,
	KEY_COUNT,     /* a uint32_t field; min..max */
	KEY_DURATION,  /* a uint32_t field in ms; min..max ms */
	KEY_SECONDS,   /* KEY_DURATION, but whole seconds only (1500ms is refused) */
	KEY_BOOL,      /* a bool field: true/false, yes/no, on/off, 1/0 */
	KEY_ALGORITHMS, /* auth_algorithms: digest algorithm names, comma-separated */
	KEY_REDIRECT,   /* proxy_redirect: none, all, or domains, comma-separated */
};

struct key_def {
	struct config_key_info info;
	enum key_type type;
	size_t offset;     /* of the uint32_t field (KEY_COUNT, KEY_DURATION,
	                      KEY_SECONDS) or the bool field (KEY_BOOL) */
	uint32_t min, max; /* inclusive (KEY_COUNT, KEY_DURATION, KEY_SECONDS) */
};

#define FIELD(name) offsetof(struct config, name)

static const char *const sections[] = { "server", "timers", "limits", "registrar", "auth",
					  "proxy" };

static const struct key_def keys[] = {
	{ { "server", "listen", "PROTO:ADDR:PORT",
	    "udp:0.0.0.0:5060 tcp:0.0.0.0:5060 udp:[::]:5060 tcp:[::]:5060",
	    "Where to listen, one socket per entry: PROTO is udp, tcp, tls, ws or wss; ADDR an "
	    "IP literal, IPv6 in brackets, 0.0.0.0 or [::] for every address (host names are "
	    "not resolved); PORT 0 picks a free port. Repeatable. IPv6 sockets are IPv6-only, "
	    "so IPv4 and IPv6 each need their own entry.",
	    true },
	  KEY_LISTEN, 0, 0, 0 },
	{ { "server", "domain", "NAME", "",
	    "A domain sipd serves, a host name or an IP literal. Repeatable; the first is the "
	    "default domain and the digest realm. With no domain, the machine's host name is "
	    "used (localhost when it is not a valid one).",
	    true },
	  KEY_DOMAIN, 0, 0, 0 },
	{ { "server", "db", "URL", "sqlite:sipd.db",
	    "The database: sqlite:PATH (relative to the working directory) or "
	    "postgresql://...",
	    false },
	  KEY_DB, 0, 0, 0 },
	{ { "server", "http", "ADDR:PORT|off", "127.0.0.1:8080",
	    "Admin API and web console: an IP literal (IPv6 in brackets) and a port, 0 for a "
	    "free one; off disables it.",
	    false },
	  KEY_HTTP, 0, 0, 0 },
	{ { "server", "log_level", "LEVEL", "info", "error, warn, info or debug.", false },
	  KEY_LOG_LEVEL, 0, 0, 0 },
	{ { "server", "workers", "N", "1",
	    "Worker threads, each with its own event loop and SO_REUSEPORT sockets.", false },
	  KEY_COUNT, FIELD(workers), 1, 16 },
	{ { "timers", "t1", "DURATION", "500ms",
	    "RFC 3261 T1, the round-trip time estimate: UDP retransmissions start at t1 and a "
	    "transaction gives up after 64*t1.",
	    false },
	  KEY_DURATION, FIELD(t1_ms), 1, 10 * MS_PER_S },
	{ { "timers", "t2", "DURATION", "4s",
	    "RFC 3261 T2, the longest retransmit interval for non-INVITE requests and INVITE "
	    "responses; at least t1.",
	    false },
	  KEY_DURATION, FIELD(t2_ms), 1, 60 * MS_PER_S },
	{ { "timers", "t4", "DURATION", "5s",
	    "RFC 3261 T4, the longest a message stays in the network: how long a finished UDP "
	    "transaction lingers to absorb retransmissions.",
	    false },
	  KEY_DURATION, FIELD(t4_ms), 1, 60 * MS_PER_S },
	{ { "timers", "c", "DURATION", "3m",
	    "RFC 3261 timer C: a forwarded INVITE that has rung this long without a final "
	    "answer is cancelled (408 when no branch answers). Restarted by each provisional "
	    "response.",
	    false },
	  KEY_DURATION, FIELD(timer_c_ms), 1000, 1 * MS_PER_H },
	{ { "limits", "max_message_size", "BYTES", "65535",
	    "Largest SIP message accepted, start line to end of body.", false },
	  KEY_COUNT, FIELD(max_message_size), 1024, 65535 },
	{ { "limits", "max_connections", "N", "4096",
	    "Most stream connections (TCP, TLS, WebSocket) open at once.", false },
	  KEY_COUNT, FIELD(max_connections), 1, 1048576 },
	{ { "limits", "max_connections_per_ip", "N", "64",
	    "Most stream connections from or to one IP address.", false },
	  KEY_COUNT, FIELD(max_connections_per_ip), 1, 1048576 },
	{ { "limits", "tcp_idle_timeout", "DURATION", "2m",
	    "Close a stream connection that has carried nothing for this long.", false },
	  KEY_DURATION, FIELD(tcp_idle_timeout_ms), 1, 24 * MS_PER_H },
	{ { "limits", "tcp_message_timeout", "DURATION", "32s",
	    "Time allowed to receive one whole message on a stream once its first byte "
	    "arrived; a slower sender is disconnected.",
	    false },
	  KEY_DURATION, FIELD(tcp_message_timeout_ms), 1, 1 * MS_PER_H },
	{ { "registrar", "min_expires", "DURATION", "1m",
	    "Shortest registration accepted: a REGISTER asking for less gets 423 Interval Too "
	    "Brief with a Min-Expires of this. At most max_expires.",
	    false },
	  KEY_SECONDS, FIELD(min_expires_ms), 1 * MS_PER_S, 24 * MS_PER_H },
	{ { "registrar", "max_expires", "DURATION", "1h",
	    "Longest registration granted: a longer one is lowered to this, and the 200 OK says "
	    "the time granted.",
	    false },
	  KEY_SECONDS, FIELD(max_expires_ms), 1 * MS_PER_S, 24 * MS_PER_H },
	{ { "registrar", "default_expires", "DURATION", "1h",
	    "Granted when a REGISTER names no expiry; the registrar keeps it between "
	    "min_expires and max_expires, so it is not checked against them.",
	    false },
	  KEY_SECONDS, FIELD(default_expires_ms), 1 * MS_PER_S, 24 * MS_PER_H },
	{ { "registrar", "max_bindings", "N", "10",
	    "Most contacts one address-of-record may have registered at once; a REGISTER that "
	    "would add one more is refused with 403.",
	    false },
	  KEY_COUNT, FIELD(max_bindings), 1, 1000 },
	{ { "auth", "nonce_lifetime", "DURATION", "5m",
	    "How long the nonce of a challenge stays valid; credentials on an older nonce get a "
	    "fresh challenge with stale=true.",
	    false },
	  KEY_SECONDS, FIELD(nonce_lifetime_ms), 1 * MS_PER_S, 24 * MS_PER_H },
	{ { "auth", "allow_no_qop", "true|false", "false",
	    "Accept RFC 2069 digest responses without qop, as some older phones send. Off by "
	    "default: with no nonce-count, such a response can be replayed until its nonce is "
	    "stale.",
	    false },
	  KEY_BOOL, FIELD(allow_no_qop), 0, 0 },
	{ { "auth", "algorithms", "ALG,...", "SHA-256,MD5",
	    "Digest algorithms offered, one challenge line each, in this order: SHA-256, MD5, "
	    "SHA-512-256, comma-separated; credentials in any other are refused. Some clients "
	    "(sipsak, SIPp) read only the first challenge and need MD5 alone.",
	    false },
	  KEY_ALGORITHMS, 0, 0, 0 },
	{ { "proxy", "record_route", "true|false", "true",
	    "Add a Record-Route to dialog-creating requests (INVITE, SUBSCRIBE, REFER), so that "
	    "ACK, BYE and re-INVITEs come through sipd.",
	    false },
	  KEY_BOOL, FIELD(record_route), 0, 0 },
	{ { "proxy", "foreign_callers", "true|false", "true",
	    "Accept requests from other domains to sipd's users without a challenge (a call "
	    "from outside); off: only sipd's own, authenticated users may call them.",
	    false },
	  KEY_BOOL, FIELD(foreign_callers), 0, 0 },
	{ { "proxy", "redirect", "none|all|DOMAIN,...", "none",
	    "Redirect instead of proxying: answer requests to the users of these served "
	    "domains (all: every domain) with 302 and their registered contacts.",
	    false },
	  KEY_REDIRECT, 0, 0, 0 },
};

#define KEY_TOTAL (sizeof(keys) / sizeof(keys[0]))
#define SECTION_TOTAL (sizeof(sections) / sizeof(sections[0]))

size_t config_key_count(void)
{
	return KEY_TOTAL;
}

const struct config_key_info *config_key(size_t index)
{
	return index < KEY_TOTAL ? &keys[index].info : NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < SECTION_TOTAL; i++)
		if (strcmp(sections[i], section) == 0)
			return true;
	return false;
}

/* Index into keys[], or -1. */
static int key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < KEY_TOTAL; i++)
		if (strcmp(keys[i].info.section, section) == 0 && strcmp(keys[i].info.name, name) == 0)
			return (int)i;
	return -1;
}

static uint32_t *key_field(struct config *c, const struct key_def *key)
{
	return (uint32_t *)(void *)((char *)c + key->offset);
}

static uint32_t key_value(const struct config *c, const struct key_def *key)
{
	return *(const uint32_t *)(const void *)((const char *)c + key->offset);
}

static bool *key_flag(struct config *c, const struct key_def *key)
{
	return (bool *)(void *)((char *)c + key->offset);
}

static bool key_flag_value(const struct config *c, const struct key_def *key)
{
	return *(const bool *)(const void *)((const char *)c + key->offset);
}

/* "[server], [timers], ...": every section, for messages. */
static void sections_text(char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < SECTION_TOTAL && used < size; i++) {
		int n = snprintf(out + used, size - used, "%s[%s]", i ? ", " : "", sections[i]);
		if (n < 0 || (size_t)n >= size - used)
			break; /* cut: used stays below size */
		used += (size_t)n;
	}
}

/* ---- values ----------------------------------------------------------- */

static const char *const proto_names[] = { "udp", "tcp", "tls", "ws", "wss" };

const char *config_proto_name(enum config_proto proto)
{
	return (unsigned)proto < sizeof(proto_names) / sizeof(proto_names[0]) ? proto_names[proto]
									       : "?";
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static char to_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Strips whitespace at both ends, in place. */
static char *trim(char *s)
{
	size_t len;

	while (is_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_space(s[len - 1]))
		s[--len] = '\0';
	return s;
}

int config_duration_parse(const char *text, uint64_t *ms)
{
	uint64_t value = 0, unit;
	const char *p = text;

	if (!is_digit(*p))
		return EINVAL;
	for (; is_digit(*p); p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return EINVAL;
		value = value * 10 + digit;
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = MS_PER_S;
	else if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0)
		unit = MS_PER_M;
	else if (strcmp(p, "h") == 0)
		unit = MS_PER_H;
	else
		return EINVAL;
	if (value > UINT64_MAX / unit)
		return EINVAL;
	*ms = value * unit;
	return 0;
}

void config_duration_format(uint64_t ms, char *out, size_t size)
{
	if (ms == 0)
		snprintf(out, size, "0s");
	else if (ms % MS_PER_H == 0)
		snprintf(out, size, "%" PRIu64 "h", ms / MS_PER_H);
	else if (ms % MS_PER_M == 0)
		snprintf(out, size, "%" PRIu64 "m", ms / MS_PER_M);
	else if (ms % MS_PER_S == 0)
		snprintf(out, size, "%" PRIu64 "s", ms / MS_PER_S);
	else
		snprintf(out, size, "%" PRIu64 "ms", ms);
}

/*
 * "ADDR:PORT" with ADDR an IPv4 literal or a bracketed IPv6 literal. On
 * success fills ss, len and norm ("192.0.2.1:5060", "[2001:db8::1]:0") and
 * returns NULL; else returns why, for the caller's message.
 */
static const char *addr_port_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
				   char *norm, size_t norm_size)
{
	uint8_t bytes[16];
	char ip[INET6_ADDRSTRLEN];
	const char *port_text;
	uint64_t port;
	bool v6;

	if (text[0] == '\0')
		return "the address is missing (0.0.0.0 or [::] for every address)";
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close)
			return "an IPv6 address needs its closing ']'";
		if (!sip_ipv6_parse(view_make(text + 1, (size_t)(close - text - 1)), bytes))
			return "bad IPv6 address";
		if (close[1] == '\0')
			return "the port is missing";
		if (close[1] != ':')
			return "expected ':' and a port after ']'";
		port_text = close + 2;
		v6 = true;
	} else {
		const char *colon = strchr(text, ':');
		struct view addr;

		if (!colon)
			return "the port is missing";
		if (strchr(colon + 1, ':'))
			return "an IPv6 address goes in brackets, as in [::1]:5060";
		addr = view_make(text, (size_t)(colon - text));
		if (addr.len == 0)
			return "the address is missing (0.0.0.0 or [::] for every address)";
		if (!sip_ipv4_parse(addr, bytes)) {
			if (sip_hostname_valid(addr))
				return "host names are not resolved; give an IP literal";
			return "the address must be an IPv4 literal or an IPv6 literal in brackets "
			       "(0.0.0.0 or [::] for every address)";
		}
		port_text = colon + 1;
		v6 = false;
	}
	if (!view_to_u64(view_from_cstr(port_text), 65535, &port))
		return "the port must be a number from 0 to 65535";

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, bytes, 16);
		*len = sizeof(*in6);
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(norm, norm_size, "[%s]:%u", ip, (unsigned)port);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, bytes, 4);
		*len = sizeof(*in);
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(norm, norm_size, "%s:%u", ip, (unsigned)port);
	}
	return NULL;
}

/* config_listen_parse without the message: NULL or why. */
static const char *listen_parse(const char *text, struct config_listen *out)
{
	struct config_listen l;
	const char *colon = strchr(text, ':');
	size_t proto_len;
	char rest[64]; /* "[" INET6_ADDRSTRLEN "]:65535" */
	const char *why;
	int proto = -1;

	if (!colon)
		return "expected PROTO:ADDR:PORT";
	proto_len = (size_t)(colon - text);
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (view_eq_cstr_nocase(view_make(text, proto_len), proto_names[i]))
			proto = (int)i;
	if (proto < 0)
		return "the protocol must be udp, tcp, tls, ws or wss";
	memset(&l, 0, sizeof(l));
	l.proto = (enum config_proto)proto;
	why = addr_port_parse(colon + 1, &l.addr, &l.addr_len, rest, sizeof(rest));
	if (why)
		return why;
	snprintf(l.text, sizeof(l.text), "%s:%s", proto_names[proto], rest);
	*out = l;
	return NULL;
}

int config_listen_parse(const char *text, struct config_listen *out, char *errbuf, size_t errlen)
{
	const char *why = listen_parse(text, out);

	if (why) {
		snprintf(errbuf, errlen, "bad listen '%s' (%s)", text, why);
		return EINVAL;
	}
	return 0;
}

static bool listen_same(const struct config_listen *a, const struct config_listen *b)
{
	return a->proto == b->proto && a->addr_len == b->addr_len &&
	       memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

static uint16_t listen_port(const struct config_listen *l)
{
	if (l->addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&l->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)&l->addr)->sin_port);
}

/*
 * NULL when url is a database URL, else why. The URL is kept as given, so
 * it must be one config_write can write and a file read back the same:
 * no control characters (a line end would start another line, and a file
 * value is trimmed of white space) and no space at its end (--db 'x ').
 */
static const char *db_problem(const char *url)
{
	static const char *const prefixes[] = { "sqlite:", "postgresql://", "postgres://" };
	size_t len = strlen(url);
	bool known = false;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(url, prefixes[i], n) == 0 && url[n] != '\0')
			known = true;
	}
	if (!known)
		return "sqlite:PATH or postgresql://...";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];
		if (ch < 0x20 || ch == 0x7f)
			return "no control characters in the URL";
	}
	if (url[len - 1] == ' ')
		return "no space at the end of the URL";
	return NULL;
}

/* "from 1ms to 10s" / "from 1 to 64" / "from 1s to 24h in whole seconds",
 * for help and errors. */
static void range_text(const struct key_def *key, char *out, size_t size)
{
	char lo[24], hi[24]; /* 20 digits, "ms", NUL */

	if (key->type == KEY_DURATION || key->type == KEY_SECONDS) {
		config_duration_format(key->min, lo, sizeof(lo));
		config_duration_format(key->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%" PRIu32, key->min);
		snprintf(hi, sizeof(hi), "%" PRIu32, key->max);
	}
	snprintf(out, size, "from %s to %s%s", lo, hi,
		 key->type == KEY_SECONDS ? " in whole seconds" : "");
}

/* true/false, yes/no, on/off, 1/0, any case. */
static bool bool_parse(const char *text, bool *out)
{
	static const struct {
		const char *text;
		bool value;
	} words[] = {
		{ "true", true },   { "yes", true }, { "on", true },   { "1", true },
		{ "false", false }, { "no", false }, { "off", false }, { "0", false },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (view_eq_cstr_nocase(view_from_cstr(text), words[i].text)) {
			*out = words[i].value;
			return true;
		}
	}
	return false;
}

static int bad_value(const char *value, const char *label, const char *why, char *errbuf,
		     size_t errlen)
{
	size_t len = strlen(value);

	/* A long value is cut, so that the reason still fits on the line. */
	snprintf(errbuf, errlen, "bad value '%.*s%s' for %s (%s)",
		 (int)(len > VALUE_SHOWN_MAX ? VALUE_SHOWN_MAX : len), value,
		 len > VALUE_SHOWN_MAX ? "..." : "", label, why);
	return EINVAL;
}

static void list_clear(struct config *c, const struct key_def *key)
{
	if (key->type == KEY_LISTEN) {
		c->listen_count = 0;
		c->listen_is_default = false;
	} else if (key->type == KEY_DOMAIN) {
		c->domain_count = 0;
	}
}

/* "none", "all", or "Example.com, b.org" → "example.com,b.org"; NULL or why. */
static const char *redirect_parse(const char *value, char *out, size_t size)
{
	char norm[CONFIG_REDIRECT_MAX] = "";
	const char *p = value;
	size_t used = 0;

	if (view_eq_cstr_nocase(view_trim(view_from_cstr(value)), "none") ||
	    view_eq_cstr_nocase(view_trim(view_from_cstr(value)), "all")) {
		snprintf(out, size, "%s",
			 view_eq_cstr_nocase(view_trim(view_from_cstr(value)), "all") ? "all" : "none");
		return NULL;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		struct view word = view_trim(view_make(p, len));
		enum sip_host_type type;

		if (word.len == 0 || !sip_host_classify(word, &type))
			return "none, all, or served domains, comma-separated";
		if (used + word.len + 2 > sizeof(norm))
			return "too long";
		if (used)
			norm[used++] = ',';
		for (size_t i = 0; i < word.len; i++)
			norm[used++] = to_lower(word.p[i]);
		norm[used] = '\0';
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	snprintf(out, size, "%s", norm);
	return NULL;
}

/* "sha-256, md5" → "SHA-256,MD5" in out; NULL, or why it is refused. */
static const char *algorithms_parse(const char *value, char *out, size_t size)
{
	static const char *const names[] = { "SHA-256", "MD5", "SHA-512-256" };
	bool seen[3] = { false, false, false };
	char norm[CONFIG_ALGORITHMS_MAX] = "";
	const char *p = value;

	for (;;) {
		size_t len = strcspn(p, ",");
		struct view word = view_trim(view_make(p, len));
		int found = -1;

		for (int i = 0; i < 3; i++)
			if (view_eq_cstr_nocase(word, names[i]))
				found = i;
		if (found < 0)
			return "SHA-256, MD5 or SHA-512-256, comma-separated";
		if (seen[found])
			return "an algorithm is named twice";
		seen[found] = true;
		if (norm[0])
			strcat(norm, ",");
		strcat(norm, names[found]);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	snprintf(out, size, "%s", norm);
	return NULL;
}

/*
 * Parses value into c's field for key. label names the setting in a message:
 * "timers.t1", or the flag ("--listen") that gave the value.
 */
static int key_apply(struct config *c, const struct key_def *key, const char *value,
		     const char *label, char *errbuf, size_t errlen)
{
	char why[192];
	uint64_t number;
	enum log_level level;
	bool flag;

	switch (key->type) {
	case KEY_LISTEN: {
		struct config_listen l;
		const char *reason = listen_parse(value, &l);

		if (reason)
			return bad_value(value, label, reason, errbuf, errlen);
		for (unsigned i = 0; i < c->listen_count; i++) {
			if (listen_same(&c->listen[i], &l) && listen_port(&l) != 0) {
				snprintf(errbuf, errlen, "listener '%s' given twice", l.text);
				return EINVAL;
			}
		}
		if (c->listen_count == CONFIG_MAX_LISTEN) {
			snprintf(errbuf, errlen, "too many listeners (at most %d)", CONFIG_MAX_LISTEN);
			return EINVAL;
		}
		c->listen[c->listen_count++] = l;
		c->listen_is_default = false;
		return 0;
	}
	case KEY_DOMAIN: {
		size_t len = strlen(value);
		enum sip_host_type type;
		char *slot;

		if (len >= CONFIG_DOMAIN_MAX || !sip_host_classify(view_make(value, len), &type))
			return bad_value(value, label, "a host name or an IP literal", errbuf,
					 errlen);
		for (unsigned i = 0; i < c->domain_count; i++) {
			if (view_eq_cstr_nocase(view_make(value, len), c->domains[i])) {
				snprintf(errbuf, errlen, "domain '%s' given twice", value);
				return EINVAL;
			}
		}
		if (c->domain_count == CONFIG_MAX_DOMAINS) {
			snprintf(errbuf, errlen, "too many domains (at most %d)", CONFIG_MAX_DOMAINS);
			return EINVAL;
		}
		slot = c->domains[c->domain_count++];
		for (size_t i = 0; i <= len; i++)
			slot[i] = to_lower(value[i]);
		return 0;
	}
	case KEY_DB: {
		const char *reason = strlen(value) >= sizeof(c->db) ?
					     "sqlite:PATH or postgresql://..." :
					     db_problem(value);
		if (reason)
			return bad_value(value, label, reason, errbuf, errlen);
		snprintf(c->db, sizeof(c->db), "%s", value);
		return 0;
	}
	case KEY_HTTP: {
		struct sockaddr_storage ss;
		socklen_t len;
		char norm[CONFIG_HTTP_MAX];
		const char *reason;

		if (strcmp(value, "off") == 0) {
			snprintf(c->http, sizeof(c->http), "off");
			c->http_enabled = false;
			memset(&c->http_addr, 0, sizeof(c->http_addr));
			c->http_addr_len = 0;
			return 0;
		}
		reason = addr_port_parse(value, &ss, &len, norm, sizeof(norm));
		if (reason) {
			snprintf(why, sizeof(why), "ADDR:PORT or off; %s", reason);
			return bad_value(value, label, why, errbuf, errlen);
		}
		snprintf(c->http, sizeof(c->http), "%s", norm);
		c->http_enabled = true;
		c->http_addr = ss;
		c->http_addr_len = len;
		return 0;
	}
	case KEY_LOG_LEVEL:
		if (!log_level_parse(value, &level))
			return bad_value(value, label, "error, warn, info or debug", errbuf, errlen);
		c->log_level = level;
		return 0;
	case KEY_COUNT:
		if (!view_to_u64(view_from_cstr(value), key->max, &number) || number < key->min) {
			char range[RANGE_MAX];
			range_text(key, range, sizeof(range));
			snprintf(why, sizeof(why), "a whole number %s", range);
			return bad_value(value, label, why, errbuf, errlen);
		}
		*key_field(c, key) = (uint32_t)number;
		return 0;
	case KEY_DURATION:
		if (config_duration_parse(value, &number) != 0 || number < key->min ||
		    number > key->max) {
			char range[RANGE_MAX];
			range_text(key, range, sizeof(range));
			snprintf(why, sizeof(why),
				 "a duration %s, such as 500ms or 2s; a bare number means seconds",
				 range);
			return bad_value(value, label, why, errbuf, errlen);
		}
		*key_field(c, key) = (uint32_t)number;
		return 0;
	case KEY_SECONDS:
		/* The registrar and auth count in seconds (Expires, Min-Expires,
		 * nonce ages), so 1500ms is refused rather than silently cut to 1s. */
		if (config_duration_parse(value, &number) != 0 || number < key->min ||
		    number > key->max || number % MS_PER_S != 0) {
			char range[RANGE_MAX];
			range_text(key, range, sizeof(range));
			snprintf(why, sizeof(why),
				 "a duration %s, such as 90s or 1h; a bare number means seconds",
				 range);
			return bad_value(value, label, why, errbuf, errlen);
		}
		*key_field(c, key) = (uint32_t)number;
		return 0;
	case KEY_BOOL:
		if (!bool_parse(value, &flag))
			return bad_value(value, label, "true or false", errbuf, errlen);
		*key_flag(c, key) = flag;
		return 0;
	case KEY_REDIRECT: {
		const char *reason = redirect_parse(value, c->proxy_redirect,
						    sizeof(c->proxy_redirect));
		if (reason)
			return bad_value(value, label, reason, errbuf, errlen);
		return 0;
	}
	case KEY_ALGORITHMS: {
		const char *reason = algorithms_parse(value, c->auth_algorithms,
						      sizeof(c->auth_algorithms));
		if (reason)
			return bad_value(value, label, reason, errbuf, errlen);
		return 0;
	}
	}
	snprintf(errbuf, errlen, "internal error: key type %d", (int)key->type);
	return EINVAL;
}

static void key_label(const struct key_def *key, char *out, size_t size)
{
	snprintf(out, size, "%s.%s", key->info.section, key->info.name);
}

/* ---- layers ----------------------------------------------------------- */

struct layer {
	bool strict;             /* a file: a single key given twice is an error */
	unsigned seen[KEY_TOTAL]; /* line where the layer first gave the key, 0 = not yet */
};

static int layer_apply(struct config *c, struct layer *layer, size_t index, const char *value,
		       const char *label, unsigned line, char *errbuf, size_t errlen)
{
	const struct key_def *key = &keys[index];

	if (layer->seen[index] == 0) {
		if (key->info.repeatable)
			list_clear(c, key);
		layer->seen[index] = line;
	} else if (layer->strict && !key->info.repeatable) {
		snprintf(errbuf, errlen, "%s.%s given twice (first on line %u)", key->info.section,
			 key->info.name, layer->seen[index]);
		return EINVAL;
	}
	return key_apply(c, key, value, label, errbuf, errlen);
}

/* ---- public setters --------------------------------------------------- */

void config_defaults(struct config *c)
{
	char errbuf[ERR_MAX];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < KEY_TOTAL; i++) {
		const struct key_def *key = &keys[i];
		char text[256], label[64];
		char *save = NULL;

		snprintf(text, sizeof(text), "%s", key->info.default_text);
		key_label(key, label, sizeof(label));
		/* The defaults are constants; tests/unit/test_config.c proves they parse. */
		for (char *word = strtok_r(text, " ", &save); word; word = strtok_r(NULL, " ", &save))
			(void)key_apply(c, key, word, label, errbuf, sizeof(errbuf));
	}
	c->listen_is_default = true;
}

int config_set(struct config *c, const char *section, const char *key, const char *value,
	       char *errbuf, size_t errlen)
{
	char label[64];
	int index;

	if (!section_known(section)) {
		snprintf(errbuf, errlen, "unknown section [%s]", section);
		return EINVAL;
	}
	index = key_find(section, key);
	if (index < 0) {
		snprintf(errbuf, errlen, "unknown key '%s' in [%s]", key, section);
		return EINVAL;
	}
	key_label(&keys[index], label, sizeof(label));
	return key_apply(c, &keys[index], value, label, errbuf, errlen);
}

int config_validate(const struct config *c, char *errbuf, size_t errlen)
{
	if (c->t2_ms < c->t1_ms) {
		char t1[32], t2[32];
		config_duration_format(c->t1_ms, t1, sizeof(t1));
		config_duration_format(c->t2_ms, t2, sizeof(t2));
		snprintf(errbuf, errlen, "timers.t2 (%s) must not be less than timers.t1 (%s)", t2,
			 t1);
		return EINVAL;
	}
	if (c->min_expires_ms > c->max_expires_ms) {
		char min[32], max[32];
		config_duration_format(c->min_expires_ms, min, sizeof(min));
		config_duration_format(c->max_expires_ms, max, sizeof(max));
		snprintf(errbuf, errlen,
			 "registrar.min_expires (%s) must not be more than "
			 "registrar.max_expires (%s)",
			 min, max);
		return EINVAL;
	}
	return 0;
}

const char *config_default_domain(const struct config *c, char *buf, size_t size)
{
	char host[CONFIG_DOMAIN_MAX];
	enum sip_host_type type;
	size_t len;

	if (size == 0)
		return buf;
	if (c->domain_count > 0) {
		snprintf(buf, size, "%s", c->domains[0]);
		return buf;
	}
	/* A name too long for host may come back cut and without its NUL (POSIX)
	 * or as ENAMETOOLONG (glibc); either way the terminator is forced. */
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	len = strlen(host);
	for (size_t i = 0; i < len; i++)
		host[i] = to_lower(host[i]);
	if (len == 0 || len >= size || !sip_host_classify(view_make(host, len), &type))
		snprintf(buf, size, "localhost");
	else
		memcpy(buf, host, len + 1);
	return buf;
}

/* ---- the file --------------------------------------------------------- */

/* "(it belongs in [server])" when exactly one section has the key, else
 * the list of sections. */
static void section_hint(const char *name, char *out, size_t size)
{
	const char *found = NULL;
	unsigned count = 0;
	char list[SECTIONS_TEXT_MAX];

	for (size_t i = 0; i < KEY_TOTAL; i++) {
		if (strcmp(keys[i].info.name, name) == 0) {
			found = keys[i].info.section;
			count++;
		}
	}
	if (count == 1) {
		snprintf(out, size, " (it belongs in [%s])", found);
	} else {
		sections_text(list, sizeof(list));
		snprintf(out, size, " (sections: %s)", list);
	}
}

/* One line, already trimmed and not blank or a comment. */
static int file_line(struct config *c, struct layer *layer, char *s, const char **section,
		     unsigned line, char *msg, size_t msglen)
{
	char *eq, *name, *value, label[64], list[SECTIONS_TEXT_MAX];
	int index;

	if (s[0] == '[') {
		size_t len = strlen(s);
		char *inner;

		if (s[len - 1] != ']') {
			snprintf(msg, msglen, "expected '[section]'");
			return EINVAL;
		}
		s[len - 1] = '\0';
		inner = trim(s + 1);
		for (size_t i = 0; i < SECTION_TOTAL; i++) {
			if (strcmp(inner, sections[i]) == 0) {
				*section = sections[i];
				return 0;
			}
		}
		sections_text(list, sizeof(list));
		snprintf(msg, msglen, "unknown section [%s] (sections: %s)", inner, list);
		return EINVAL;
	}
	eq = strchr(s, '=');
	if (!eq) {
		snprintf(msg, msglen, "expected 'key = value' or '[section]'");
		return EINVAL;
	}
	*eq = '\0';
	name = trim(s);
	value = trim(eq + 1);
	if (name[0] == '\0') {
		snprintf(msg, msglen, "missing key before '='");
		return EINVAL;
	}
	if (!*section) {
		char hint[SECTIONS_TEXT_MAX + 16]; /* " (sections: " LIST ")" */
		section_hint(name, hint, sizeof(hint));
		snprintf(msg, msglen, "key '%s' outside any section%s", name, hint);
		return EINVAL;
	}
	index = key_find(*section, name);
	if (index < 0) {
		snprintf(msg, msglen, "unknown key '%s' in [%s]", name, *section);
		return EINVAL;
	}
	key_label(&keys[index], label, sizeof(label));
	return layer_apply(c, layer, (size_t)index, value, label, line, msg, msglen);
}

int config_load_stream(struct config *c, FILE *f, const char *name, char *errbuf,
		       size_t errlen)
{
	static struct layer empty_layer;
	struct layer layer = empty_layer;
	const char *section = NULL;
	char *text = NULL, msg[ERR_MAX];
	size_t cap = 0;
	ssize_t n;
	unsigned line = 0;
	int rc = 0;

	layer.strict = true;
	while ((n = getline(&text, &cap, f)) != -1) {
		char *s = text;

		line++;
		if (memchr(text, '\0', (size_t)n)) {
			snprintf(errbuf, errlen, "%s:%u: NUL byte in the line", name, line);
			rc = EINVAL;
			goto out;
		}
		if (line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
			s += 3; /* a UTF-8 byte order mark, as some editors write */
		s = trim(s);
		if (s[0] == '\0' || s[0] == '#' || s[0] == ';')
			continue;
		rc = file_line(c, &layer, s, &section, line, msg, sizeof(msg));
		if (rc != 0) {
			snprintf(errbuf, errlen, "%s:%u: %s", name, line, msg);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = errno ? errno : EIO;
		snprintf(errbuf, errlen, "cannot read config '%s': %s", name, strerror(rc));
	}
out:
	free(text);
	return rc;
}

int config_load_file(struct config *c, const char *path, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		rc = errno;
		snprintf(errbuf, errlen, "cannot read config '%s': %s", path, strerror(rc));
		return rc;
	}
	rc = config_load_stream(c, f, path, errbuf, errlen);
	fclose(f);
	return rc;
}

/* ---- the command line ------------------------------------------------- */

enum {
	OPT_DB = 256,
	OPT_HTTP,
	OPT_LOG_LEVEL,
	OPT_SET,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "domain", required_argument, NULL, 'd' },
	{ "db", required_argument, NULL, OPT_DB },
	{ "http", required_argument, NULL, OPT_HTTP },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "set", required_argument, NULL, OPT_SET },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The leading ':' makes a missing value return ':' rather than '?'. */
static const char short_options[] = ":c:l:d:hV";

struct flag {
	int opt;
	const char *arg;
};

static int usage_error(FILE *err, const char *what, const char *arg)
{
	fprintf(err, "sipd: %s '%s' (try 'sipd --help')\n", what, arg);
	return CONFIG_USAGE_ERROR;
}

/*
 * The option getopt_long just refused. An unknown short option may sit in a
 * cluster ("-xV") that optind has not moved past, so it is named by optopt;
 * anything else ("--bogus", "--help=x", "-l" with no value) is the argument
 * before optind.
 */
static void refused_option(char **argv, int argc, char *out, size_t size)
{
	if (optopt > 0 && optopt < 256 && !strchr(&short_options[1], optopt))
		snprintf(out, size, "-%c", optopt);
	else if (optind >= 1 && optind <= argc)
		snprintf(out, size, "%s", argv[optind - 1]);
	else
		snprintf(out, size, "?");
}

/* A flag's key and value; --set is split in place of a copy in buf. */
static int flag_key(const struct flag *flag, char *buf, size_t bufsize, int *index,
		    const char **value, const char **label, char *errbuf, size_t errlen)
{
	char *dot, *eq, *section, *name;

	switch (flag->opt) {
	case 'l':
		*index = key_find("server", "listen");
		*label = "--listen";
		break;
	case 'd':
		*index = key_find("server", "domain");
		*label = "--domain";
		break;
	case OPT_DB:
		*index = key_find("server", "db");
		*label = "--db";
		break;
	case OPT_HTTP:
		*index = key_find("server", "http");
		*label = "--http";
		break;
	case OPT_LOG_LEVEL:
		*index = key_find("server", "log_level");
		*label = "--log-level";
		break;
	default: /* OPT_SET */
		if (strlen(flag->arg) >= bufsize) {
			snprintf(errbuf, errlen, "--set value too long (%zu bytes at most)",
				 bufsize - 1);
			return EINVAL;
		}
		snprintf(buf, bufsize, "%s", flag->arg);
		eq = strchr(buf, '=');
		dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
		if (!eq || !dot) {
			snprintf(errbuf, errlen, "bad --set '%s' (expected SECTION.KEY=VALUE)",
				 flag->arg);
			return EINVAL;
		}
		*dot = '\0';
		*eq = '\0';
		section = trim(buf);
		name = trim(dot + 1);
		if (!section_known(section)) {
			snprintf(errbuf, errlen, "unknown section [%s] in --set '%s'", section,
				 flag->arg);
			return EINVAL;
		}
		*index = key_find(section, name);
		if (*index < 0) {
			snprintf(errbuf, errlen, "unknown key '%s' in [%s] in --set '%s'", name,
				 section, flag->arg);
			return EINVAL;
		}
		*value = trim(eq + 1);
		*label = "";
		return 0;
	}
	*value = flag->arg;
	return 0;
}

static int apply_flags(struct config *c, const struct flag *flags, size_t count, FILE *err)
{
	static struct layer empty_layer;
	struct layer layer = empty_layer;
	char errbuf[ERR_MAX];

	for (size_t i = 0; i < count; i++) {
		char buf[1024], key_text[64];
		const char *value, *label;
		int index;

		if (flag_key(&flags[i], buf, sizeof(buf), &index, &value, &label, errbuf,
			     sizeof(errbuf)) != 0)
			goto fail;
		if (label[0] == '\0') {
			key_label(&keys[index], key_text, sizeof(key_text));
			label = key_text;
		}
		if (layer_apply(c, &layer, (size_t)index, value, label, 1, errbuf,
				sizeof(errbuf)) != 0)
			goto fail;
	}
	return CONFIG_OK;
fail:
	fprintf(err, "sipd: %s\n", errbuf);
	return CONFIG_USAGE_ERROR;
}

int config_from_args(struct config *c, int argc, char **argv, FILE *out, FILE *err)
{
	struct flag *flags;
	size_t flag_count = 0;
	const char *config_path = NULL;
	char errbuf[ERR_MAX], option[64];
	int opt, rc = CONFIG_OK;

	flags = calloc((size_t)(argc > 0 ? argc : 1), sizeof(*flags));
	if (!flags) {
		fprintf(err, "sipd: out of memory\n");
		return CONFIG_USAGE_ERROR;
	}
	optind = 0; /* glibc: start over, as if never called */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			config_print_help(out);
			rc = CONFIG_EXIT_0;
			goto out;
		case 'V':
			fprintf(out, "sipd %s\n", SIPD_VERSION);
			rc = CONFIG_EXIT_0;
			goto out;
		case 'c':
			if (config_path) {
				fprintf(err, "sipd: --config given twice\n");
				rc = CONFIG_USAGE_ERROR;
				goto out;
			}
			config_path = optarg;
			break;
		case 'l':
		case 'd':
		case OPT_DB:
		case OPT_HTTP:
		case OPT_LOG_LEVEL:
		case OPT_SET:
			flags[flag_count++] = (struct flag){ opt, optarg };
			break;
		case ':':
			refused_option(argv, argc, option, sizeof(option));
			rc = usage_error(err, "missing value for", option);
			goto out;
		default:
			refused_option(argv, argc, option, sizeof(option));
			rc = usage_error(err, "unknown option", option);
			goto out;
		}
	}
	if (optind < argc) {
		rc = usage_error(err, "unexpected argument", argv[optind]);
		goto out;
	}

	config_defaults(c);
	if (config_path && config_load_file(c, config_path, errbuf, sizeof(errbuf)) != 0) {
		fprintf(err, "sipd: %s\n", errbuf);
		rc = CONFIG_USAGE_ERROR;
		goto out;
	}
	rc = apply_flags(c, flags, flag_count, err);
	if (rc != CONFIG_OK)
		goto out;
	if (config_validate(c, errbuf, sizeof(errbuf)) != 0) {
		fprintf(err, "sipd: %s\n", errbuf);
		rc = CONFIG_USAGE_ERROR;
	}
out:
	free(flags);
	return rc;
}

/* ---- help and output -------------------------------------------------- */

static const char help_head[] =
	"usage: sipd [options]\n"
	"       sipd user add|del|list|import ...   manage users ('sipd user --help')\n"
	"       sipd reg list                       print the current registrations\n"
	"\n"
	"SIP registrar, location service, digest authentication server and proxy.\n"
	"\n"
	"options:\n"
	"  -c, --config FILE            INI file (keys below); flags win over it\n"
	"  -l, --listen PROTO:ADDR:PORT server.listen; repeatable; replaces the file's\n"
	"                               listeners; IPv6 in brackets; port 0 picks a\n"
	"                               free port\n"
	"  -d, --domain NAME            server.domain; repeatable; replaces the file's\n"
	"                               domains; the first is the default domain\n"
	"      --db URL                 server.db: sqlite:PATH or postgresql://...\n"
	"      --http ADDR:PORT|off     server.http: admin API and web console\n"
	"      --log-level LEVEL        server.log_level: error, warn, info, debug\n"
	"      --set SECTION.KEY=VALUE  any key below; repeatable\n"
	"  -h, --help                   print this help and exit\n"
	"  -V, --version                print the version and exit\n"
	"\n"
	"configuration keys: \"KEY = VALUE\" lines under [SECTION] in the file, or\n"
	"--set SECTION.KEY=VALUE. A duration is a whole number with ms, s, m or h\n"
	"(a bare number means seconds). A switch is true or false (yes/no, on/off\n"
	"and 1/0 work too).\n";

/* Writes text word-wrapped to HELP_WIDTH, each line indented by indent. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
	int column = 0;

	while (*text) {
		size_t word = strcspn(text, " ");

		if (column > indent && column + 1 + (int)word > HELP_WIDTH) {
			fputc('\n', out);
			column = 0;
		}
		if (column == 0) {
			fprintf(out, "%*s", indent, "");
			column = indent;
		} else {
			fputc(' ', out);
			column++;
		}
		fwrite(text, 1, word, out);
		column += (int)word;
		text += word;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

void config_print_help(FILE *out)
{
	fputs(help_head, out);
	for (size_t i = 0; i < KEY_TOTAL; i++) {
		const struct key_def *key = &keys[i];
		char text[1024], range[RANGE_MAX] = "";

		if (i == 0 || strcmp(key->info.section, keys[i - 1].info.section) != 0)
			fprintf(out, "\n  [%s]\n", key->info.section);
		fprintf(out, "  %s.%s = %s\n", key->info.section, key->info.name, key->info.metavar);
		if (key->type == KEY_COUNT || key->type == KEY_DURATION ||
		    key->type == KEY_SECONDS) {
			range_text(key, range + 1, sizeof(range) - 1);
			range[0] = ' ';
		}
		snprintf(text, sizeof(text), "%s%s%s%s Default: %s.", key->info.help,
			 range[0] ? " Range" : "", range, range[0] ? "." : "",
			 key->info.default_text[0] ? key->info.default_text : "none");
		print_wrapped(out, text, HELP_INDENT);
	}
}

void config_write(const struct config *c, FILE *out)
{
	for (size_t i = 0; i < KEY_TOTAL; i++) {
		const struct key_def *key = &keys[i];
		char text[32];

		if (i == 0 || strcmp(key->info.section, keys[i - 1].info.section) != 0)
			fprintf(out, "%s[%s]\n", i == 0 ? "" : "\n", key->info.section);
		switch (key->type) {
		case KEY_LISTEN:
			for (unsigned j = 0; j < c->listen_count; j++)
				fprintf(out, "listen = %s\n", c->listen[j].text);
			break;
		case KEY_DOMAIN:
			for (unsigned j = 0; j < c->domain_count; j++)
				fprintf(out, "domain = %s\n", c->domains[j]);
			break;
		case KEY_DB:
			fprintf(out, "db = %s\n", c->db);
			break;
		case KEY_HTTP:
			fprintf(out, "http = %s\n", c->http);
			break;
		case KEY_LOG_LEVEL:
			fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
			break;
		case KEY_COUNT:
			fprintf(out, "%s = %" PRIu32 "\n", key->info.name, key_value(c, key));
			break;
		case KEY_DURATION:
		case KEY_SECONDS:
			config_duration_format(key_value(c, key), text, sizeof(text));
			fprintf(out, "%s = %s\n", key->info.name, text);
			break;
		case KEY_BOOL:
			fprintf(out, "%s = %s\n", key->info.name,
				key_flag_value(c, key) ? "true" : "false");
			break;
		case KEY_ALGORITHMS:
			fprintf(out, "%s = %s\n", key->info.name, c->auth_algorithms);
			break;
		case KEY_REDIRECT:
			fprintf(out, "%s = %s\n", key->info.name, c->proxy_redirect);
			break;
		}
	}
}
