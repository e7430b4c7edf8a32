/*
 * config.h - sipd's settings: built-in defaults, an INI file, command-line
 * flags (DESIGN.md §5).
 *
 * Every setting is one key of one table in config.c; the help text
 * (config_print_help), the sample sipd.conf and docs/configuration.md list
 * the same keys with the same defaults, and a unit test holds them to it.
 *
 * Layers, lowest first: defaults, the file given with -c, the flags. A flag
 * wins over the file wherever it appears on the command line (-l before -c
 * still wins). The repeatable keys (server.listen, server.domain) are lists:
 * the first entry a layer gives replaces the list of the layer below, later
 * entries of the same layer add to it.
 *
 * The file:
 *
 *	# comment (also ';'), only at the start of a line
 *	[server]
 *	listen = udp:0.0.0.0:5060
 *	listen = tcp:[::]:5060
 *	[timers]
 *	t1 = 500ms
 *
 * Sections [server], [timers], [limits], [registrar], [auth]; names are
 * lower case and case sensitive; a value runs from after '=' to the end of
 * the line, whitespace trimmed at both ends, no quotes and no trailing
 * comments. A section may appear more than once. A non-repeatable key given
 * twice in one file is an error (it is most likely an edit that missed the
 * other line); on the command line the last one wins.
 *
 * Values: durations are a whole number with a unit, ms, s, m or h ("500ms",
 * "2s", "1m"); a bare number means seconds. The registrar's and auth's
 * durations are whole seconds (they go on the wire as seconds), so "1500ms"
 * is refused there. Counts and sizes are plain decimal integers. Switches
 * are true or false (yes/no, on/off and 1/0 too, any case); config_write
 * prints true or false. Listen addresses are IP literals, never host names.
 *
 * Nothing here logs, binds or resolves; errors come back as one line of
 * text for the caller to print.
 */
#ifndef SIPD_APP_CONFIG_H
#define SIPD_APP_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/log.h"

/* Same order as enum tp_proto. */
enum config_proto {
	CONFIG_UDP,
	CONFIG_TCP,
	CONFIG_TLS,
	CONFIG_WS,
	CONFIG_WSS,
};

/* "PROTO:[ADDR]:PORT" at its longest ("wss:[" + 45 + "]:65535"), and more. */
#define CONFIG_LISTEN_TEXT_MAX 80

struct config_listen {
	enum config_proto proto;
	struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set; 0 = any free port */
	socklen_t addr_len;
	char text[CONFIG_LISTEN_TEXT_MAX]; /* normalized: "udp:[::1]:5060", "tcp:0.0.0.0:0" */
};

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_DOMAINS 16
#define CONFIG_DOMAIN_MAX 256 /* bytes, with the NUL */
#define CONFIG_DB_MAX 512     /* bytes, with the NUL */
#define CONFIG_HTTP_MAX 128   /* bytes, with the NUL */
#define CONFIG_ALGORITHMS_MAX 32 /* "SHA-256,MD5,SHA-512-256" and a NUL */
#define CONFIG_REDIRECT_MAX 1024   /* proxy.redirect, normalized */

struct config {
	/*
	 * Default: udp and tcp on 0.0.0.0:5060 and on [::]:5060. The IPv6
	 * sockets are IPv6-only (the transport sets IPV6_V6ONLY), not
	 * dual-stack: an IPv4 peer then always shows as a plain IPv4 address
	 * (Via received=, logs, limits per IP), never as ::ffff:a.b.c.d.
	 * listen_is_default tells the caller the list is that default, so it
	 * may skip the IPv6 pair on a host without IPv6 instead of failing.
	 */
	struct config_listen listen[CONFIG_MAX_LISTEN];
	unsigned listen_count;
	bool listen_is_default;

	/* Lower case, each a host name or an IP literal; first = default
	 * domain and digest realm. Default: none; config_default_domain then
	 * gives the host name. */
	char domains[CONFIG_MAX_DOMAINS][CONFIG_DOMAIN_MAX];
	unsigned domain_count;

	char db[CONFIG_DB_MAX]; /* "sqlite:PATH" or "postgresql://..."; default "sqlite:sipd.db" */

	/* Admin API and web console. http is the normalized text
	 * ("127.0.0.1:8080", "[::1]:0", "off"); http_addr is set when
	 * http_enabled. Default 127.0.0.1:8080. */
	char http[CONFIG_HTTP_MAX];
	bool http_enabled;
	struct sockaddr_storage http_addr;
	socklen_t http_addr_len;

	enum log_level log_level; /* default LOG_INFO; the caller applies it */
	uint32_t workers;         /* worker threads (event loops), 1..16; default 1 */

	/* RFC 3261 §17 timers, ms. t2 >= t1 (config_validate). */
	uint32_t t1_ms; /* default 500, 1 ms..10 s */
	uint32_t t2_ms; /* default 4000, 1 ms..60 s */
	uint32_t t4_ms; /* default 5000, 1 ms..60 s */
	uint32_t timer_c_ms; /* RFC 3261 timer C; default 3 min, 1 s..1 h */

	/* Limits (the transport's struct transport_config). */
	uint32_t max_message_size;       /* bytes, 1024..65535; default 65535 */
	uint32_t max_connections;        /* streams in all; default 4096 */
	uint32_t max_connections_per_ip; /* streams per IP address; default 64 */
	uint32_t tcp_idle_timeout_ms;    /* close a silent connection; default 120 s */
	uint32_t tcp_message_timeout_ms; /* to receive one whole message once its
	                                    first byte arrived; default 32 s */

	/* Registrar (RFC 3261 §10.3). The durations are ms, always whole
	 * seconds (config refuses "1500ms"), 1 s..24 h. min_expires_ms <=
	 * max_expires_ms (config_validate); default_expires_ms is not checked
	 * against them: the registrar clamps it into that range. */
	uint32_t min_expires_ms;     /* shorter asks get 423 + Min-Expires; default 60 s */
	uint32_t max_expires_ms;     /* longer asks are lowered to this; default 1 h */
	uint32_t default_expires_ms; /* when the REGISTER names no expiry; default 1 h */
	uint32_t max_bindings;       /* contacts per address-of-record, 1..1000; one
	                                more is refused with 403; default 10 */

	/* Digest authentication (RFC 3261 §22, RFC 7616; core/auth.h). */
	uint32_t nonce_lifetime_ms; /* ms, whole seconds, 1 s..24 h; after it a
	                               nonce is stale; default 5 min */
	bool allow_no_qop;          /* accept RFC 2069 responses (no qop); default false */
	/* Digest algorithms offered, in order, normalized: "SHA-256,MD5"
	 * (the default), each of SHA-256, MD5, SHA-512-256 at most once. */
	char auth_algorithms[CONFIG_ALGORITHMS_MAX];

	/* [proxy] */
	bool record_route;    /* Record-Route dialog-creating requests; default true */
	bool foreign_callers; /* other domains may call our users unchallenged; default true */
	/* "none" (default), "all", or served domains "a.org,b.org": redirect
	 * (302) instead of proxying for these. */
	char proxy_redirect[CONFIG_REDIRECT_MAX];
};

/* What config_from_args returns; CONFIG_USAGE_ERROR is also the exit code. */
enum {
	CONFIG_OK = 0,          /* run */
	CONFIG_EXIT_0 = 1,      /* --help or --version was printed; exit 0 */
	CONFIG_USAGE_ERROR = 2, /* one line "sipd: ..." written to err; exit 2 */
};

/* Every field to its default. */
void config_defaults(struct config *c);

/*
 * Fills c from scratch: defaults, then the -c file, then the other flags,
 * then config_validate. Uses getopt_long (resets optind; GNU permutation, so
 * flags may follow a stray argument, which is still an error). --help and
 * --version write to out; any error writes one line, "sipd: ...", to err.
 * Returns CONFIG_OK, CONFIG_EXIT_0 or CONFIG_USAGE_ERROR; c is meaningful
 * only after CONFIG_OK.
 */
int config_from_args(struct config *c, int argc, char **argv, FILE *out, FILE *err);

/*
 * Applies the INI file at path over c (as one layer: its first listen or
 * domain replaces c's list). Does not call config_validate. Returns 0, EINVAL
 * for bad contents, or the errno of a failed read; errbuf then holds one line
 * without the "sipd: " prefix: "sipd.conf:12: unknown key 'lisen' in
 * [server]", "cannot read config 'x.conf': No such file or directory".
 */
int config_load_file(struct config *c, const char *path, char *errbuf, size_t errlen);

/*
 * config_load_file on an open stream, read to its end and not closed (the
 * file opened by config_load_file, a string through fmemopen). name stands
 * for the file in messages: "NAME:12: ...". Same returns.
 */
int config_load_stream(struct config *c, FILE *f, const char *name, char *errbuf,
		       size_t errlen);

/*
 * Applies one key, as a file line or --set would; the repeatable keys add
 * one entry (callers that replace a list clear it first). Returns 0 or
 * EINVAL with errbuf set: "unknown key 'lisen' in [server]", "bad value
 * 'abc' for timers.t1 (a duration from 1ms to 10s, such as 500ms or 2s; a
 * bare number means seconds)".
 */
int config_set(struct config *c, const char *section, const char *key, const char *value,
	       char *errbuf, size_t errlen);

/* Checks that hold between keys (t2 >= t1, min_expires <= max_expires).
 * 0 or EINVAL with errbuf set. */
int config_validate(const struct config *c, char *errbuf, size_t errlen);

/*
 * "PROTO:ADDR:PORT": proto udp, tcp, tls, ws or wss (any case); ADDR an IPv4
 * literal or an IPv6 literal in brackets (0.0.0.0 and [::] mean every
 * address; host names are refused, not resolved); PORT 0..65535, required,
 * 0 picks a free port. 0 or EINVAL with errbuf set; *out written on success.
 */
int config_listen_parse(const char *text, struct config_listen *out, char *errbuf, size_t errlen);

/* "500ms", "2s", "1m", "3h", "7" (seconds) → ms. 0 or EINVAL (garbage,
 * sign, fraction, space, unknown unit, overflow of 64 bits). */
int config_duration_parse(const char *text, uint64_t *ms);
/* The shortest exact form: 120000 → "2m", 1500 → "1500ms", 0 → "0s". */
void config_duration_format(uint64_t ms, char *out, size_t size);

const char *config_proto_name(enum config_proto proto); /* "udp", ... */

/*
 * The default domain, which is also the digest realm: c->domains[0] when
 * server.domain gave any; otherwise this machine's host name (gethostname),
 * lower case, when it is a valid host name or IP literal (sip_host_classify)
 * that fits in buf; else "localhost". The server and the user CLI both call
 * this, so with no domain configured they agree on the realm that stored
 * passwords are hashed with. Written to buf (CONFIG_DOMAIN_MAX bytes hold
 * any answer; a smaller buf cuts it) and returned.
 */
const char *config_default_domain(const struct config *c, char *buf, size_t size);

/* Usage: every flag, then every key with its default. */
void config_print_help(FILE *out);

/* c as an INI file that config_load_file reads back to the same values. */
void config_write(const struct config *c, FILE *out);

/* The key table, for help, docs and tests: config_key(0) to
 * config_key(config_key_count() - 1), sections in file order. */
struct config_key_info {
	const char *section;      /* "server" */
	const char *name;         /* "listen" */
	const char *metavar;      /* "PROTO:ADDR:PORT" */
	const char *default_text; /* as a file would spell it; repeatable keys:
	                             entries separated by one space; "" = none */
	const char *help;         /* one sentence */
	bool repeatable;
};
size_t config_key_count(void);
const struct config_key_info *config_key(size_t index); /* NULL past the end */

#endif
