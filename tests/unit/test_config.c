/*
 * test_config.c - sipd's configuration (src/app/config.c): defaults, the
 * command line, the INI file, flags over the file in any order, every key
 * through --set, listen addresses, durations, and that the help text, the
 * sample sipd.conf and docs/configuration.md name every key with its
 * default. All tables.
 *
 * The test keeps its own list of keys (all_keys[]) and reads each field
 * itself (field_text), so a key missing from config.c's table, or a key
 * that parses into the wrong field, fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef SIPD_VERSION
#define SIPD_VERSION "0.0.0"
#endif

#define MAX_ARGS 40
#define TEXT_MAX 4096

/* Every key, as the test knows them. */
static const char *const all_keys[] = {
	"server.listen",
	"server.domain",
	"server.db",
	"server.http",
	"server.log_level",
	"server.workers",
	"timers.t1",
	"timers.t2",
	"timers.t4",
	"limits.max_message_size",
	"limits.max_connections",
	"limits.max_connections_per_ip",
	"limits.tcp_idle_timeout",
	"limits.tcp_message_timeout",
	"registrar.min_expires",
	"registrar.max_expires",
	"registrar.default_expires",
	"registrar.max_bindings",
	"auth.nonce_lifetime",
	"auth.allow_no_qop",
	"auth.algorithms",
	"timers.c",
	"proxy.record_route",
	"proxy.foreign_callers",
	"proxy.redirect",
};
#define ALL_KEYS (sizeof(all_keys) / sizeof(all_keys[0]))

/* ---- helpers ---------------------------------------------------------- */

/* A key's value as text: lists joined by one space, durations in ms,
 * switches "true" or "false". */
static void field_text(const struct config *c, const char *key, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	if (strcmp(key, "server.listen") == 0) {
		for (unsigned i = 0; i < c->listen_count; i++)
			used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "",
						 c->listen[i].text);
	} else if (strcmp(key, "server.domain") == 0) {
		for (unsigned i = 0; i < c->domain_count; i++)
			used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "",
						 c->domains[i]);
	} else if (strcmp(key, "server.db") == 0) {
		snprintf(out, size, "%s", c->db);
	} else if (strcmp(key, "server.http") == 0) {
		snprintf(out, size, "%s", c->http);
	} else if (strcmp(key, "server.log_level") == 0) {
		snprintf(out, size, "%s", log_level_name(c->log_level));
	} else if (strcmp(key, "server.workers") == 0) {
		snprintf(out, size, "%u", c->workers);
	} else if (strcmp(key, "timers.t1") == 0) {
		snprintf(out, size, "%u", c->t1_ms);
	} else if (strcmp(key, "timers.t2") == 0) {
		snprintf(out, size, "%u", c->t2_ms);
	} else if (strcmp(key, "timers.t4") == 0) {
		snprintf(out, size, "%u", c->t4_ms);
	} else if (strcmp(key, "limits.max_message_size") == 0) {
		snprintf(out, size, "%u", c->max_message_size);
	} else if (strcmp(key, "limits.max_connections") == 0) {
		snprintf(out, size, "%u", c->max_connections);
	} else if (strcmp(key, "limits.max_connections_per_ip") == 0) {
		snprintf(out, size, "%u", c->max_connections_per_ip);
	} else if (strcmp(key, "limits.tcp_idle_timeout") == 0) {
		snprintf(out, size, "%u", c->tcp_idle_timeout_ms);
	} else if (strcmp(key, "limits.tcp_message_timeout") == 0) {
		snprintf(out, size, "%u", c->tcp_message_timeout_ms);
	} else if (strcmp(key, "registrar.min_expires") == 0) {
		snprintf(out, size, "%u", c->min_expires_ms);
	} else if (strcmp(key, "registrar.max_expires") == 0) {
		snprintf(out, size, "%u", c->max_expires_ms);
	} else if (strcmp(key, "registrar.default_expires") == 0) {
		snprintf(out, size, "%u", c->default_expires_ms);
	} else if (strcmp(key, "registrar.max_bindings") == 0) {
		snprintf(out, size, "%u", c->max_bindings);
	} else if (strcmp(key, "auth.nonce_lifetime") == 0) {
		snprintf(out, size, "%u", c->nonce_lifetime_ms);
	} else if (strcmp(key, "auth.allow_no_qop") == 0) {
		snprintf(out, size, "%s", c->allow_no_qop ? "true" : "false");
	} else if (strcmp(key, "auth.algorithms") == 0) {
		snprintf(out, size, "%s", c->auth_algorithms);
	} else if (strcmp(key, "timers.c") == 0) {
		snprintf(out, size, "%u", c->timer_c_ms);
	} else if (strcmp(key, "proxy.record_route") == 0) {
		snprintf(out, size, "%s", c->record_route ? "true" : "false");
	} else if (strcmp(key, "proxy.foreign_callers") == 0) {
		snprintf(out, size, "%s", c->foreign_callers ? "true" : "false");
	} else if (strcmp(key, "proxy.redirect") == 0) {
		snprintf(out, size, "%s", c->proxy_redirect);
	} else {
		fail_msg("test has no field for key '%s'", key);
	}
}

/* Each "section.key=value" in expect[] (NULL-terminated) against c. */
static void check_fields(const char *name, const struct config *c, const char *const *expect)
{
	for (; *expect; expect++) {
		char key[64], got[TEXT_MAX];
		const char *eq = strchr(*expect, '=');

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - *expect), *expect);
		field_text(c, key, got, sizeof(got));
		if (strcmp(got, eq + 1) != 0)
			fail_msg("case %s: %s is '%s', expected '%s'", name, key, got, eq + 1);
	}
}

struct run {
	int rc;
	char out[TEXT_MAX * 4];
	char err[TEXT_MAX];
};

/* config_from_args on "sipd" + args (NULL-terminated), capturing out and err. */
static void run_args(struct config *c, const char *const *args, struct run *r)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	char *out_text = NULL, *err_text = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *out = open_memstream(&out_text, &out_len);
	FILE *err = open_memstream(&err_text, &err_len);

	assert_non_null(out);
	assert_non_null(err);
	argv[argc++] = strdup("sipd");
	for (; args && *args; args++) {
		assert_true(argc < MAX_ARGS);
		argv[argc++] = strdup(*args);
	}
	argv[argc] = NULL;
	r->rc = config_from_args(c, argc, argv, out, err);
	fclose(out);
	fclose(err);
	snprintf(r->out, sizeof(r->out), "%s", out_text);
	snprintf(r->err, sizeof(r->err), "%s", err_text);
	free(out_text);
	free(err_text);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
}

/* A usage error is exactly one line, "sipd: ...\n". */
static void check_one_line(const char *name, const char *err)
{
	size_t len = strlen(err);

	if (strncmp(err, "sipd: ", 6) != 0 || len == 0 || err[len - 1] != '\n' ||
	    strchr(err, '\n') != err + len - 1)
		fail_msg("case %s: error is not one 'sipd: ' line: '%s'", name, err);
}

static void check_run(const char *name, const struct run *r, int rc, const char *err_part)
{
	if (r->rc != rc)
		fail_msg("case %s: rc %d, expected %d (err '%s')", name, r->rc, rc, r->err);
	if (rc == CONFIG_USAGE_ERROR) {
		check_one_line(name, r->err);
		if (err_part && !strstr(r->err, err_part))
			fail_msg("case %s: error '%s' lacks '%s'", name, r->err, err_part);
		if (r->out[0])
			fail_msg("case %s: wrote to out on error: '%s'", name, r->out);
	} else if (r->err[0]) {
		fail_msg("case %s: unexpected error output '%s'", name, r->err);
	}
}

static void write_file(char *path, size_t size, const char *contents, size_t len)
{
	int fd;

	snprintf(path, size, "/tmp/sipd-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static char *read_whole_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long len;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	text[len] = '\0';
	fclose(f);
	return text;
}

static void config_text(const struct config *c, char *out, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_write(c, f);
	fclose(f);
	snprintf(out, size, "%s", text);
	free(text);
}

/* ---- defaults --------------------------------------------------------- */

static const char *const default_fields[] = {
	"server.listen=udp:0.0.0.0:5060 tcp:0.0.0.0:5060 udp:[::]:5060 tcp:[::]:5060",
	"server.domain=",
	"server.db=sqlite:sipd.db",
	"server.http=127.0.0.1:8080",
	"server.log_level=info",
	"server.workers=1",
	"timers.t1=500",
	"timers.t2=4000",
	"timers.t4=5000",
	"limits.max_message_size=65535",
	"limits.max_connections=4096",
	"limits.max_connections_per_ip=64",
	"limits.tcp_idle_timeout=120000",
	"limits.tcp_message_timeout=32000",
	"registrar.min_expires=60000",
	"registrar.max_expires=3600000",
	"registrar.default_expires=3600000",
	"registrar.max_bindings=10",
	"auth.nonce_lifetime=300000",
	"auth.allow_no_qop=false",
	"auth.algorithms=SHA-256,MD5",
	"timers.c=180000",
	"proxy.record_route=true",
	"proxy.foreign_callers=true",
	"proxy.redirect=none",
	NULL,
};

static void test_defaults(void **state)
{
	struct config c;
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;

	(void)state;
	memset(&c, 0xA5, sizeof(c));
	config_defaults(&c);
	check_fields("defaults", &c, default_fields);
	assert_true(c.listen_is_default);
	assert_int_equal(c.listen[0].proto, CONFIG_UDP);
	assert_int_equal(c.listen[1].proto, CONFIG_TCP);
	in = (const struct sockaddr_in *)(const void *)&c.listen[0].addr;
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 5060);
	assert_int_equal(in->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(c.listen[0].addr_len, sizeof(struct sockaddr_in));
	in6 = (const struct sockaddr_in6 *)(const void *)&c.listen[2].addr;
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 5060);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
	assert_int_equal(c.listen[2].addr_len, sizeof(struct sockaddr_in6));
	assert_true(c.http_enabled);
	in = (const struct sockaddr_in *)(const void *)&c.http_addr;
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 8080);
	assert_int_equal(in->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(c.log_level, LOG_INFO);

	/* No arguments at all: the defaults, valid. */
	struct run r;
	run_args(&c, NULL, &r);
	check_run("no args", &r, CONFIG_OK, NULL);
	check_fields("no args", &c, default_fields);
	assert_true(c.listen_is_default);
}

/* Every default in config.c's table parses: setting it changes nothing. */
static void test_table_defaults_parse(void **state)
{
	struct config want, c;
	char a[TEXT_MAX], b[TEXT_MAX], err[512];

	(void)state;
	config_defaults(&want);
	config_text(&want, a, sizeof(a));
	config_defaults(&c);
	c.listen_count = 0;
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char text[512], *save = NULL;

		snprintf(text, sizeof(text), "%s", k->default_text);
		for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			if (config_set(&c, k->section, k->name, w, err, sizeof(err)) != 0)
				fail_msg("default of %s.%s does not parse: %s", k->section, k->name,
					 err);
		}
	}
	config_text(&c, b, sizeof(b));
	assert_string_equal(a, b);
	assert_null(config_key(config_key_count()));

	/* A duration's default is spelled as config_write prints it, so the
	 * sample file, the docs and a written file show the same text. */
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char name[64], ms[32], text[32];

		if (strcmp(k->metavar, "DURATION") != 0)
			continue;
		snprintf(name, sizeof(name), "%s.%s", k->section, k->name);
		field_text(&want, name, ms, sizeof(ms));
		config_duration_format(strtoull(ms, NULL, 10), text, sizeof(text));
		if (strcmp(text, k->default_text) != 0)
			fail_msg("default of %s is '%s'; config_write prints '%s'", name,
				 k->default_text, text);
	}
}

/* The library's table and the test's list name the same keys. */
static void test_key_table(void **state)
{
	(void)state;
	assert_int_equal(config_key_count(), ALL_KEYS);
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char name[64];
		bool found = false;

		snprintf(name, sizeof(name), "%s.%s", k->section, k->name);
		for (size_t j = 0; j < ALL_KEYS; j++)
			found = found || strcmp(all_keys[j], name) == 0;
		if (!found)
			fail_msg("key %s is not in the test's list", name);
		assert_true(k->metavar && k->metavar[0]);
		assert_true(k->help && k->help[0]);
		assert_int_equal(k->repeatable,
				 strcmp(name, "server.listen") == 0 ||
					 strcmp(name, "server.domain") == 0);
	}
}

/* ---- listen ----------------------------------------------------------- */

struct listen_case {
	const char *in;
	const char *text;     /* normalized, or NULL when it must fail */
	enum config_proto proto;
	int family;
	unsigned port;
	const char *why;      /* part of the error when it fails */
};

#define LISTEN_OK(in, text, proto, family, port) { in, text, proto, family, port, NULL }
#define LISTEN_BAD(in, why) { in, NULL, CONFIG_UDP, 0, 0, why }

static const struct listen_case listen_cases[] = {
	LISTEN_OK("udp:127.0.0.1:5060", "udp:127.0.0.1:5060", CONFIG_UDP, AF_INET, 5060),
	LISTEN_OK("tcp:[::1]:0", "tcp:[::1]:0", CONFIG_TCP, AF_INET6, 0),
	LISTEN_OK("tls:0.0.0.0:5061", "tls:0.0.0.0:5061", CONFIG_TLS, AF_INET, 5061),
	LISTEN_OK("ws:[::]:8080", "ws:[::]:8080", CONFIG_WS, AF_INET6, 8080),
	LISTEN_OK("wss:192.0.2.1:65535", "wss:192.0.2.1:65535", CONFIG_WSS, AF_INET, 65535),
	/* The protocol in any case, written back lower case. */
	LISTEN_OK("UDP:192.0.2.1:5060", "udp:192.0.2.1:5060", CONFIG_UDP, AF_INET, 5060),
	LISTEN_OK("Tcp:192.0.2.1:5060", "tcp:192.0.2.1:5060", CONFIG_TCP, AF_INET, 5060),
	/* IPv6 in its canonical form. */
	LISTEN_OK("udp:[2001:DB8:0:0:0:0:0:1]:5060", "udp:[2001:db8::1]:5060", CONFIG_UDP,
		  AF_INET6, 5060),
	LISTEN_OK("tcp:[::ffff:192.0.2.1]:5060", "tcp:[::ffff:192.0.2.1]:5060", CONFIG_TCP,
		  AF_INET6, 5060),
	/* Lenient: leading zeros (decimal, not octal) in an octet and the port. */
	LISTEN_OK("udp:010.0.0.1:05060", "udp:10.0.0.1:5060", CONFIG_UDP, AF_INET, 5060),
	LISTEN_BAD("udp:[::1]", "the port is missing"),
	LISTEN_BAD("udp:1.2.3.4", "the port is missing"),
	LISTEN_BAD("sctp:1.2.3.4:5", "the protocol must be udp, tcp, tls, ws or wss"),
	LISTEN_BAD(":1.2.3.4:5", "the protocol must be"),
	LISTEN_BAD("udp:1.2.3.4:70000", "the port must be a number from 0 to 65535"),
	LISTEN_BAD("udp:1.2.3.4:65536", "the port must be"),
	LISTEN_BAD("udp:1.2.3.4:", "the port must be"),
	LISTEN_BAD("udp:1.2.3.4:-1", "the port must be"),
	LISTEN_BAD("udp:1.2.3.4:+5", "the port must be"),
	LISTEN_BAD("udp:1.2.3.4:5060x", "the port must be"),
	LISTEN_BAD("udp:1.2.3.4:5060 ", "the port must be"),
	LISTEN_BAD("udp:host:5060", "host names are not resolved"),
	LISTEN_BAD("udp:localhost:5060", "host names are not resolved"),
	LISTEN_BAD("udp:::1:5060", "an IPv6 address goes in brackets"),
	LISTEN_BAD("udp:2001:db8::1:5060", "an IPv6 address goes in brackets"),
	LISTEN_BAD("udp:*:5060", "IPv4 literal or an IPv6 literal in brackets"),
	LISTEN_BAD("udp:256.1.1.1:5060", "IPv4 literal or an IPv6 literal in brackets"),
	LISTEN_BAD("udp::5060", "the address is missing"),
	LISTEN_BAD("udp:[::1:5060", "closing ']'"),
	LISTEN_BAD("udp:[::1]5060", "expected ':' and a port after ']'"),
	LISTEN_BAD("udp:[1.2.3.4]:5060", "bad IPv6 address"),
	LISTEN_BAD("udp:[fe80::1%eth0]:5060", "bad IPv6 address"),
	LISTEN_BAD("udp:[]:5060", "bad IPv6 address"),
	LISTEN_BAD("", "expected PROTO:ADDR:PORT"),
	LISTEN_BAD("udp", "expected PROTO:ADDR:PORT"),
	LISTEN_BAD("udp:", "the address is missing"),
};

static void test_listen_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
		const struct listen_case *t = &listen_cases[i];
		struct config_listen l, sentinel;
		char err[512] = "";
		int rc;

		memset(&l, 0x5A, sizeof(l));
		memcpy(&sentinel, &l, sizeof(l));
		rc = config_listen_parse(t->in, &l, err, sizeof(err));
		if (!t->text) {
			if (rc != EINVAL)
				fail_msg("'%s' parsed as '%s'", t->in, l.text);
			if (!strstr(err, t->why))
				fail_msg("'%s': error '%s' lacks '%s'", t->in, err, t->why);
			if (strncmp(err, "bad listen '", 12) != 0)
				fail_msg("'%s': error '%s' does not name the value", t->in, err);
			if (memcmp(&l, &sentinel, sizeof(l)) != 0)
				fail_msg("'%s': out written on failure", t->in);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' refused: %s", t->in, err);
		if (strcmp(l.text, t->text) != 0)
			fail_msg("'%s' normalized to '%s', expected '%s'", t->in, l.text, t->text);
		assert_int_equal(l.proto, t->proto);
		assert_int_equal(l.addr.ss_family, t->family);
		if (t->family == AF_INET) {
			const struct sockaddr_in *in = (const void *)&l.addr;
			assert_int_equal(l.addr_len, sizeof(*in));
			assert_int_equal(ntohs(in->sin_port), t->port);
		} else {
			const struct sockaddr_in6 *in6 = (const void *)&l.addr;
			assert_int_equal(l.addr_len, sizeof(*in6));
			assert_int_equal(ntohs(in6->sin6_port), t->port);
		}
		/* The normalized text parses to the same thing. */
		struct config_listen again;
		assert_int_equal(config_listen_parse(l.text, &again, err, sizeof(err)), 0);
		assert_string_equal(again.text, l.text);
		assert_memory_equal(&again.addr, &l.addr, l.addr_len);
	}
}

static void test_listen_addresses(void **state)
{
	struct config_listen l;
	char err[256];
	const struct sockaddr_in *in = (const void *)&l.addr;
	const struct sockaddr_in6 *in6 = (const void *)&l.addr;
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	(void)state;
	assert_int_equal(config_listen_parse("udp:192.0.2.7:5070", &l, err, sizeof(err)), 0);
	assert_int_equal(in->sin_addr.s_addr, htonl(0xC0000207));
	assert_int_equal(config_listen_parse("tcp:[2001:db8::1]:5071", &l, err, sizeof(err)), 0);
	assert_memory_equal(&in6->sin6_addr, v6, 16);
	assert_int_equal(ntohs(in6->sin6_port), 5071);
	assert_string_equal(config_proto_name(CONFIG_WSS), "wss");
	assert_string_equal(config_proto_name(CONFIG_UDP), "udp");
}

/* ---- durations -------------------------------------------------------- */

struct duration_case {
	const char *in;
	int rc;
	uint64_t ms;
};

static const struct duration_case duration_cases[] = {
	{ "500ms", 0, 500 },
	{ "2s", 0, 2000 },
	{ "1m", 0, 60000 },
	{ "1h", 0, 3600000 },
	{ "7", 0, 7000 }, /* a bare number means seconds */
	{ "0", 0, 0 },
	{ "0ms", 0, 0 },
	{ "007s", 0, 7000 },
	{ "18446744073709551615ms", 0, UINT64_MAX },
	{ "18446744073709551616ms", EINVAL, 0 }, /* 2^64 */
	{ "18446744073709552s", EINVAL, 0 },     /* overflows in the multiplication */
	{ "5124095576030432h", EINVAL, 0 },
	{ "99999999999999999999999", EINVAL, 0 },
	{ "", EINVAL, 0 },
	{ "ms", EINVAL, 0 },
	{ "s", EINVAL, 0 },
	{ "-1", EINVAL, 0 },
	{ "-1s", EINVAL, 0 },
	{ "+1s", EINVAL, 0 },
	{ "1.5s", EINVAL, 0 },
	{ "1 s", EINVAL, 0 },
	{ " 1s", EINVAL, 0 },
	{ "1s ", EINVAL, 0 },
	{ "1S", EINVAL, 0 },
	{ "1MS", EINVAL, 0 },
	{ "1sec", EINVAL, 0 },
	{ "1d", EINVAL, 0 },
	{ "1ms5", EINVAL, 0 },
	{ "1s1", EINVAL, 0 },
	{ "abc", EINVAL, 0 },
	{ "0x10", EINVAL, 0 },
};

static void test_durations(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
		const struct duration_case *t = &duration_cases[i];
		uint64_t ms = 12345;
		int rc = config_duration_parse(t->in, &ms);

		if (rc != t->rc)
			fail_msg("'%s': rc %d, expected %d", t->in, rc, t->rc);
		if (rc == 0 && ms != t->ms)
			fail_msg("'%s': %llu ms, expected %llu", t->in, (unsigned long long)ms,
				 (unsigned long long)t->ms);
		if (rc != 0 && ms != 12345)
			fail_msg("'%s': out written on failure", t->in);
	}
}

static void test_duration_format(void **state)
{
	static const struct {
		uint64_t ms;
		const char *text;
	} cases[] = {
		{ 0, "0s" },           { 1, "1ms" },         { 500, "500ms" },
		{ 1000, "1s" },        { 1500, "1500ms" },   { 60000, "1m" },
		{ 90000, "90s" },      { 120000, "2m" },     { 3600000, "1h" },
		{ 5400000, "90m" },    { 86400000, "24h" },  { 3600001, "3600001ms" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[32];
		uint64_t back;

		config_duration_format(cases[i].ms, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
		assert_int_equal(config_duration_parse(text, &back), 0);
		assert_int_equal(back, cases[i].ms);
	}
}

/* ---- the command line ------------------------------------------------- */

struct flags_case {
	const char *name;
	const char *args[MAX_ARGS];
	int rc;
	const char *err;          /* part of the error line, when rc is a usage error */
	const char *out;          /* exact out text, when not NULL */
	const char *fields[8];    /* "section.key=value" to check after CONFIG_OK */
};

static const struct flags_case flags_cases[] = {
	{ .name = "listen short", .args = { "-l", "udp:127.0.0.1:0" }, .rc = CONFIG_OK,
	  .fields = { "server.listen=udp:127.0.0.1:0" } },
	{ .name = "listen attached", .args = { "-ludp:127.0.0.1:7" }, .rc = CONFIG_OK,
	  .fields = { "server.listen=udp:127.0.0.1:7" } },
	{ .name = "listen twice", .args = { "-l", "udp:127.0.0.1:0", "--listen", "tcp:[::1]:5070" },
	  .rc = CONFIG_OK, .fields = { "server.listen=udp:127.0.0.1:0 tcp:[::1]:5070" } },
	{ .name = "listen =", .args = { "--listen=tcp:[::1]:5070" }, .rc = CONFIG_OK,
	  .fields = { "server.listen=tcp:[::1]:5070" } },
	{ .name = "listen and --set listen are one layer",
	  .args = { "--set", "server.listen=tcp:127.0.0.1:0", "-l", "udp:127.0.0.1:0" },
	  .rc = CONFIG_OK, .fields = { "server.listen=tcp:127.0.0.1:0 udp:127.0.0.1:0" } },
	{ .name = "port 0 twice is two listeners",
	  .args = { "-l", "udp:127.0.0.1:0", "-l", "udp:127.0.0.1:0" }, .rc = CONFIG_OK,
	  .fields = { "server.listen=udp:127.0.0.1:0 udp:127.0.0.1:0" } },
	{ .name = "same listener twice", .args = { "-l", "udp:1.2.3.4:5", "-l", "UDP:1.2.3.4:5" },
	  .rc = CONFIG_USAGE_ERROR, .err = "sipd: listener 'udp:1.2.3.4:5' given twice\n" },
	{ .name = "udp and tcp on one port",
	  .args = { "-l", "udp:1.2.3.4:5", "-l", "tcp:1.2.3.4:5" }, .rc = CONFIG_OK,
	  .fields = { "server.listen=udp:1.2.3.4:5 tcp:1.2.3.4:5" } },
	{ .name = "bad listen", .args = { "-l", "udp:host:5060" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'udp:host:5060' for --listen (host names are not resolved; "
		 "give an IP literal)\n" },
	{ .name = "domains",
	  .args = { "-d", "Example.COM", "--domain", "b.example", "-d", "192.0.2.1" },
	  .rc = CONFIG_OK, .fields = { "server.domain=example.com b.example 192.0.2.1" } },
	{ .name = "domain twice", .args = { "-d", "a.example", "-d", "A.example" },
	  .rc = CONFIG_USAGE_ERROR, .err = "sipd: domain 'A.example' given twice\n" },
	{ .name = "bad domain", .args = { "-d", "a b" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'a b' for --domain (a host name or an IP literal)\n" },
	{ .name = "db sqlite", .args = { "--db", "sqlite:/tmp/x.db" }, .rc = CONFIG_OK,
	  .fields = { "server.db=sqlite:/tmp/x.db" } },
	{ .name = "db postgresql", .args = { "--db=postgresql://sipd@db.example/sipd" },
	  .rc = CONFIG_OK, .fields = { "server.db=postgresql://sipd@db.example/sipd" } },
	{ .name = "db last wins", .args = { "--db", "sqlite:a", "--db", "sqlite:b" },
	  .rc = CONFIG_OK, .fields = { "server.db=sqlite:b" } },
	{ .name = "db unknown", .args = { "--db", "mysql://x" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'mysql://x' for --db (sqlite:PATH or postgresql://...)\n" },
	{ .name = "db empty path", .args = { "--db", "sqlite:" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "for --db" },
	/* The URL is kept as given: config_write must be able to write it
	 * and a file read it back the same (found by fuzz_config). */
	{ .name = "db control character", .args = { "--db", "sqlite:x.db\f" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'sqlite:x.db\f' for --db (no control characters in the URL)\n" },
	{ .name = "db tab", .args = { "--db", "sqlite:a\tb" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(no control characters in the URL)" },
	{ .name = "db trailing space", .args = { "--db", "sqlite:x.db " },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'sqlite:x.db ' for --db (no space at the end of the URL)\n" },
	{ .name = "db inner space", .args = { "--db", "sqlite:my db" }, .rc = CONFIG_OK,
	  .fields = { "server.db=sqlite:my db" } },
	{ .name = "http off", .args = { "--http", "off" }, .rc = CONFIG_OK,
	  .fields = { "server.http=off" } },
	{ .name = "http v6", .args = { "--http", "[::1]:0" }, .rc = CONFIG_OK,
	  .fields = { "server.http=[::1]:0" } },
	{ .name = "http host", .args = { "--http", "localhost:80" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'localhost:80' for --http (ADDR:PORT or off; host names are "
		 "not resolved; give an IP literal)\n" },
	{ .name = "http no port", .args = { "--http", "127.0.0.1" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "the port is missing" },
	{ .name = "log level", .args = { "--log-level", "debug" }, .rc = CONFIG_OK,
	  .fields = { "server.log_level=debug" } },
	{ .name = "log level case", .args = { "--log-level=WARN" }, .rc = CONFIG_OK,
	  .fields = { "server.log_level=warn" } },
	{ .name = "log level bad", .args = { "--log-level", "loud" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'loud' for --log-level (error, warn, info or debug)\n" },
	{ .name = "set t1", .args = { "--set", "timers.t1=50ms" }, .rc = CONFIG_OK,
	  .fields = { "timers.t1=50" } },
	{ .name = "set last wins", .args = { "--set", "timers.t1=50ms", "--set=timers.t1=60ms" },
	  .rc = CONFIG_OK, .fields = { "timers.t1=60" } },
	{ .name = "set trims", .args = { "--set", " timers . t1 = 50ms " }, .rc = CONFIG_OK,
	  .fields = { "timers.t1=50" } },
	{ .name = "set no =", .args = { "--set", "timers.t1" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad --set 'timers.t1' (expected SECTION.KEY=VALUE)\n" },
	{ .name = "set no section", .args = { "--set", "t1=5ms" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "(expected SECTION.KEY=VALUE)" },
	{ .name = "set dot in value only", .args = { "--set", "t1=5.0" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "(expected SECTION.KEY=VALUE)" },
	{ .name = "set unknown section", .args = { "--set", "timer.t1=5ms" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown section [timer] in --set 'timer.t1=5ms'\n" },
	{ .name = "set unknown key", .args = { "--set", "timers.t3=5ms" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown key 't3' in [timers] in --set 'timers.t3=5ms'\n" },
	{ .name = "set bad duration", .args = { "--set", "timers.t1=abc" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'abc' for timers.t1 (a duration from 1ms to 10s, such as "
		 "500ms or 2s; a bare number means seconds)\n" },
	{ .name = "set t1 in seconds", .args = { "--set", "timers.t1=500" },
	  .rc = CONFIG_USAGE_ERROR, .err = "bad value '500' for timers.t1" },
	{ .name = "set t1 zero", .args = { "--set", "timers.t1=0ms" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "bad value '0ms' for timers.t1" },
	{ .name = "t2 below t1", .args = { "--set", "timers.t2=100ms" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: timers.t2 (100ms) must not be less than timers.t1 (500ms)\n" },
	{ .name = "t2 below t1, both given",
	  .args = { "--set", "timers.t2=100ms", "--set", "timers.t1=50ms" }, .rc = CONFIG_OK,
	  .fields = { "timers.t1=50", "timers.t2=100" } },
	{ .name = "t2 equal t1", .args = { "--set", "timers.t2=1s", "--set", "timers.t1=1000ms" },
	  .rc = CONFIG_OK, .fields = { "timers.t1=1000", "timers.t2=1000" } },
	{ .name = "workers 0", .args = { "--set", "server.workers=0" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value '0' for server.workers (a whole number from 1 to 16)\n" },
	{ .name = "workers 17", .args = { "--set", "server.workers=17" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "(a whole number from 1 to 16)" },
	{ .name = "workers 16", .args = { "--set", "server.workers=16" }, .rc = CONFIG_OK,
	  .fields = { "server.workers=16" } },
	{ .name = "workers -1", .args = { "--set", "server.workers=-1" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "server.workers" },
	{ .name = "message size low", .args = { "--set", "limits.max_message_size=1023" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(a whole number from 1024 to 65535)" },
	{ .name = "message size high", .args = { "--set", "limits.max_message_size=65536" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(a whole number from 1024 to 65535)" },
	{ .name = "message size min", .args = { "--set", "limits.max_message_size=1024" },
	  .rc = CONFIG_OK, .fields = { "limits.max_message_size=1024" } },
	{ .name = "idle timeout max", .args = { "--set", "limits.tcp_idle_timeout=24h" },
	  .rc = CONFIG_OK, .fields = { "limits.tcp_idle_timeout=86400000" } },
	{ .name = "idle timeout over", .args = { "--set", "limits.tcp_idle_timeout=1441m" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(a duration from 1ms to 24h," },
	{ .name = "min_expires 1s", .args = { "--set", "registrar.min_expires=1s" },
	  .rc = CONFIG_OK, .fields = { "registrar.min_expires=1000" } },
	{ .name = "min_expires bare seconds", .args = { "--set", "registrar.min_expires=120" },
	  .rc = CONFIG_OK, .fields = { "registrar.min_expires=120000" } },
	{ .name = "min_expires 1000ms is whole",
	  .args = { "--set", "registrar.min_expires=1000ms" }, .rc = CONFIG_OK,
	  .fields = { "registrar.min_expires=1000" } },
	/* Sent as seconds on the wire: refused, not rounded. */
	{ .name = "min_expires 1500ms", .args = { "--set", "registrar.min_expires=1500ms" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value '1500ms' for registrar.min_expires (a duration from 1s to 24h "
		 "in whole seconds, such as 90s or 1h; a bare number means seconds)\n" },
	{ .name = "min_expires 999ms", .args = { "--set", "registrar.min_expires=999ms" },
	  .rc = CONFIG_USAGE_ERROR, .err = "in whole seconds" },
	{ .name = "min_expires 0", .args = { "--set", "registrar.min_expires=0" },
	  .rc = CONFIG_USAGE_ERROR, .err = "bad value '0' for registrar.min_expires" },
	{ .name = "max_expires over 24h", .args = { "--set", "registrar.max_expires=25h" },
	  .rc = CONFIG_USAGE_ERROR, .err = "bad value '25h' for registrar.max_expires" },
	{ .name = "default_expires 2500ms", .args = { "--set", "registrar.default_expires=2500ms" },
	  .rc = CONFIG_USAGE_ERROR, .err = "in whole seconds" },
	{ .name = "nonce_lifetime 1500ms", .args = { "--set", "auth.nonce_lifetime=1500ms" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value '1500ms' for auth.nonce_lifetime (a duration from 1s to 24h in "
		 "whole seconds, such as 90s or 1h; a bare number means seconds)\n" },
	{ .name = "nonce_lifetime 24h", .args = { "--set", "auth.nonce_lifetime=24h" },
	  .rc = CONFIG_OK, .fields = { "auth.nonce_lifetime=86400000" } },
	{ .name = "min_expires over max_expires", .args = { "--set", "registrar.min_expires=2h" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: registrar.min_expires (2h) must not be more than registrar.max_expires "
		 "(1h)\n" },
	{ .name = "max_expires under min_expires", .args = { "--set", "registrar.max_expires=30s" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: registrar.min_expires (1m) must not be more than registrar.max_expires "
		 "(30s)\n" },
	{ .name = "min_expires equal max_expires",
	  .args = { "--set", "registrar.min_expires=1h", "--set", "registrar.max_expires=60m" },
	  .rc = CONFIG_OK,
	  .fields = { "registrar.min_expires=3600000", "registrar.max_expires=3600000" } },
	{ .name = "min_expires over max_expires, both given",
	  .args = { "--set", "registrar.min_expires=2h", "--set", "registrar.max_expires=3h" },
	  .rc = CONFIG_OK,
	  .fields = { "registrar.min_expires=7200000", "registrar.max_expires=10800000" } },
	/* The registrar clamps default_expires; it is not validated. */
	{ .name = "default_expires below min_expires",
	  .args = { "--set", "registrar.default_expires=10s" }, .rc = CONFIG_OK,
	  .fields = { "registrar.default_expires=10000", "registrar.min_expires=60000" } },
	{ .name = "default_expires above max_expires",
	  .args = { "--set", "registrar.default_expires=24h" }, .rc = CONFIG_OK,
	  .fields = { "registrar.default_expires=86400000", "registrar.max_expires=3600000" } },
	{ .name = "max_bindings 0", .args = { "--set", "registrar.max_bindings=0" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value '0' for registrar.max_bindings (a whole number from 1 to "
		 "1000)\n" },
	{ .name = "max_bindings 1001", .args = { "--set", "registrar.max_bindings=1001" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(a whole number from 1 to 1000)" },
	{ .name = "max_bindings 1000", .args = { "--set", "registrar.max_bindings=1000" },
	  .rc = CONFIG_OK, .fields = { "registrar.max_bindings=1000" } },
	{ .name = "allow_no_qop", .args = { "--set", "auth.allow_no_qop=yes" }, .rc = CONFIG_OK,
	  .fields = { "auth.allow_no_qop=true" } },
	{ .name = "allow_no_qop maybe", .args = { "--set", "auth.allow_no_qop=maybe" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'maybe' for auth.allow_no_qop (true or false)\n" },
	{ .name = "redirect all", .args = { "--set", "proxy.redirect=ALL" }, .rc = CONFIG_OK,
	  .fields = { "proxy.redirect=all" } },
	{ .name = "redirect domains", .args = { "--set", "proxy.redirect=Example.com, b.org" },
	  .rc = CONFIG_OK, .fields = { "proxy.redirect=example.com,b.org" } },
	{ .name = "redirect bad", .args = { "--set", "proxy.redirect=a b" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'a b' for proxy.redirect (none, all, or served domains, "
		 "comma-separated)\n" },
	{ .name = "timer c 500ms", .args = { "--set", "timers.c=500ms" },
	  .rc = CONFIG_USAGE_ERROR, .err = "(a duration from 1s to 1h" },
	{ .name = "algorithms md5", .args = { "--set", "auth.algorithms=md5" }, .rc = CONFIG_OK,
	  .fields = { "auth.algorithms=MD5" } },
	{ .name = "algorithms three", .args = { "--set", "auth.algorithms= sha-512-256 , MD5,SHA-256" },
	  .rc = CONFIG_OK, .fields = { "auth.algorithms=SHA-512-256,MD5,SHA-256" } },
	{ .name = "algorithms twice", .args = { "--set", "auth.algorithms=MD5,md5" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'MD5,md5' for auth.algorithms (an algorithm is named twice)\n" },
	{ .name = "algorithms unknown", .args = { "--set", "auth.algorithms=SHA-1" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: bad value 'SHA-1' for auth.algorithms (SHA-256, MD5 or SHA-512-256, "
		 "comma-separated)\n" },
	{ .name = "algorithms empty item", .args = { "--set", "auth.algorithms=MD5," },
	  .rc = CONFIG_USAGE_ERROR, .err = "(SHA-256, MD5 or SHA-512-256, comma-separated)" },
	{ .name = "help", .args = { "-h" }, .rc = CONFIG_EXIT_0 },
	{ .name = "help long", .args = { "--help" }, .rc = CONFIG_EXIT_0 },
	{ .name = "help wins over what follows", .args = { "-h", "--bogus" }, .rc = CONFIG_EXIT_0 },
	{ .name = "version", .args = { "-V" }, .rc = CONFIG_EXIT_0,
	  .out = "sipd " SIPD_VERSION "\n" },
	{ .name = "version long", .args = { "--version" }, .rc = CONFIG_EXIT_0,
	  .out = "sipd " SIPD_VERSION "\n" },
	{ .name = "unknown long", .args = { "--bogus" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown option '--bogus' (try 'sipd --help')\n" },
	{ .name = "unknown long with value", .args = { "--bogus=1" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown option '--bogus=1' (try 'sipd --help')\n" },
	{ .name = "unknown short", .args = { "-x" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown option '-x' (try 'sipd --help')\n" },
	{ .name = "unknown short in a cluster", .args = { "--db", "sqlite:a", "-xV" },
	  .rc = CONFIG_USAGE_ERROR, .err = "sipd: unknown option '-x' (try 'sipd --help')\n" },
	{ .name = "ambiguous", .args = { "--d", "x" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown option '--d' (try 'sipd --help')\n" },
	{ .name = "value for a switch", .args = { "--help=x" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unknown option '--help=x' (try 'sipd --help')\n" },
	{ .name = "missing value short", .args = { "-l" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: missing value for '-l' (try 'sipd --help')\n" },
	{ .name = "missing value long", .args = { "--listen" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: missing value for '--listen' (try 'sipd --help')\n" },
	{ .name = "missing value set", .args = { "-l", "udp:1.2.3.4:5", "--set" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: missing value for '--set' (try 'sipd --help')\n" },
	{ .name = "stray", .args = { "stray" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unexpected argument 'stray' (try 'sipd --help')\n" },
	{ .name = "stray after flags", .args = { "-l", "udp:1.2.3.4:5", "stray" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unexpected argument 'stray' (try 'sipd --help')\n" },
	{ .name = "stray before flags", .args = { "stray", "-l", "udp:1.2.3.4:5" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unexpected argument 'stray' (try 'sipd --help')\n" },
	{ .name = "after --", .args = { "--", "-l" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: unexpected argument '-l' (try 'sipd --help')\n" },
	{ .name = "missing file", .args = { "-c", "/nonexistent/sipd.conf" },
	  .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: cannot read config '/nonexistent/sipd.conf': No such file or directory\n" },
	{ .name = "a directory", .args = { "--config", "/" }, .rc = CONFIG_USAGE_ERROR,
	  .err = "sipd: cannot read config '/': Is a directory\n" },
	{ .name = "config twice", .args = { "-c", "a.conf", "-c", "b.conf" },
	  .rc = CONFIG_USAGE_ERROR, .err = "sipd: --config given twice\n" },
};

static void test_flags(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(flags_cases) / sizeof(flags_cases[0]); i++) {
		const struct flags_case *t = &flags_cases[i];
		struct config c;
		struct run r;

		run_args(&c, t->args, &r);
		check_run(t->name, &r, t->rc, t->err);
		if (t->rc == CONFIG_USAGE_ERROR && t->err && t->err[strlen(t->err) - 1] == '\n' &&
		    strcmp(r.err, t->err) != 0)
			fail_msg("case %s: error '%s', expected '%s'", t->name, r.err, t->err);
		if (t->out && strcmp(r.out, t->out) != 0)
			fail_msg("case %s: out '%s', expected '%s'", t->name, r.out, t->out);
		if (t->rc == CONFIG_EXIT_0 && !t->out && !strstr(r.out, "usage: sipd"))
			fail_msg("case %s: no usage in '%s'", t->name, r.out);
		if (t->rc == CONFIG_OK) {
			if (r.out[0])
				fail_msg("case %s: wrote '%s'", t->name, r.out);
			check_fields(t->name, &c, t->fields);
		}
	}
}

/* One non-default value for every key, through --set. */
static const struct {
	const char *arg;
	const char *field; /* "section.key=value" as field_text shows it */
} set_cases[] = {
	{ "server.listen=tcp:127.0.0.1:0", "server.listen=tcp:127.0.0.1:0" },
	{ "server.domain=Sip.Example", "server.domain=sip.example" },
	{ "server.db=sqlite:/tmp/t.db", "server.db=sqlite:/tmp/t.db" },
	{ "server.http=off", "server.http=off" },
	{ "server.log_level=warn", "server.log_level=warn" },
	{ "server.workers=8", "server.workers=8" },
	{ "timers.t1=50ms", "timers.t1=50" },
	{ "timers.t2=6s", "timers.t2=6000" },
	{ "timers.t4=2s", "timers.t4=2000" },
	{ "limits.max_message_size=2048", "limits.max_message_size=2048" },
	{ "limits.max_connections=100", "limits.max_connections=100" },
	{ "limits.max_connections_per_ip=5", "limits.max_connections_per_ip=5" },
	{ "limits.tcp_idle_timeout=30s", "limits.tcp_idle_timeout=30000" },
	{ "limits.tcp_message_timeout=1m", "limits.tcp_message_timeout=60000" },
	{ "registrar.min_expires=30s", "registrar.min_expires=30000" },
	{ "registrar.max_expires=2h", "registrar.max_expires=7200000" },
	{ "registrar.default_expires=10m", "registrar.default_expires=600000" },
	{ "registrar.max_bindings=3", "registrar.max_bindings=3" },
	{ "auth.nonce_lifetime=30s", "auth.nonce_lifetime=30000" },
	{ "auth.allow_no_qop=true", "auth.allow_no_qop=true" },
	{ "auth.algorithms=MD5", "auth.algorithms=MD5" },
	{ "timers.c=10s", "timers.c=10000" },
	{ "proxy.record_route=false", "proxy.record_route=false" },
	{ "proxy.foreign_callers=off", "proxy.foreign_callers=false" },
	{ "proxy.redirect=all", "proxy.redirect=all" },
};

static void test_set_every_key(void **state)
{
	struct config defaults;

	(void)state;
	config_defaults(&defaults);
	for (size_t k = 0; k < ALL_KEYS; k++) {
		size_t len = strlen(all_keys[k]);
		bool found = false;

		for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
			const char *args[] = { "--set", set_cases[i].arg, NULL };
			const char *fields[] = { set_cases[i].field, NULL };
			char before[TEXT_MAX];
			struct config c;
			struct run r;

			if (strncmp(set_cases[i].arg, all_keys[k], len) != 0 ||
			    set_cases[i].arg[len] != '=')
				continue;
			found = true;
			run_args(&c, args, &r);
			check_run(set_cases[i].arg, &r, CONFIG_OK, NULL);
			check_fields(set_cases[i].arg, &c, fields);
			field_text(&defaults, all_keys[k], before, sizeof(before));
			if (strcmp(before, strchr(set_cases[i].field, '=') + 1) == 0)
				fail_msg("%s: the case sets the default", all_keys[k]);
		}
		if (!found)
			fail_msg("no --set case for %s", all_keys[k]);
	}
}

static void test_http_addr(void **state)
{
	static const char *const v6[] = { "--http", "[::1]:9000", NULL };
	static const char *const off[] = { "--http", "off", NULL };
	struct config c;
	struct run r;
	const struct sockaddr_in6 *in6 = (const void *)&c.http_addr;

	(void)state;
	run_args(&c, v6, &r);
	check_run("http v6", &r, CONFIG_OK, NULL);
	assert_true(c.http_enabled);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 9000);
	assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	assert_int_equal(c.http_addr_len, sizeof(*in6));
	run_args(&c, off, &r);
	check_run("http off", &r, CONFIG_OK, NULL);
	assert_false(c.http_enabled);
	assert_int_equal(c.http_addr_len, 0);
}

/* A switch: every spelling in any case, through config_set and --set. */
static void test_bool_values(void **state)
{
	static const struct {
		const char *in;
		int rc;
		bool value;
	} cases[] = {
		{ "true", 0, true },     { "false", 0, false }, { "yes", 0, true },
		{ "no", 0, false },      { "on", 0, true },     { "off", 0, false },
		{ "1", 0, true },        { "0", 0, false },     { "TRUE", 0, true },
		{ "False", 0, false },   { "Yes", 0, true },    { "NO", 0, false },
		{ "On", 0, true },       { "OFF", 0, false },
		{ "maybe", EINVAL, false }, { "", EINVAL, false },   { "tru", EINVAL, false },
		{ "truee", EINVAL, false }, { "2", EINVAL, false },  { "01", EINVAL, false },
		{ "y", EINVAL, false },     { "enabled", EINVAL, false },
		{ " yes", EINVAL, false }, /* config_set gets trimmed values */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[256] = "", want[256];
		int rc;

		config_defaults(&c);
		c.allow_no_qop = !cases[i].value;
		rc = config_set(&c, "auth", "allow_no_qop", cases[i].in, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, expected %d (%s)", cases[i].in, rc, cases[i].rc, err);
		if (rc != 0) {
			snprintf(want, sizeof(want),
				 "bad value '%s' for auth.allow_no_qop (true or false)", cases[i].in);
			assert_string_equal(err, want);
			assert_int_equal(c.allow_no_qop, !cases[i].value); /* untouched */
			continue;
		}
		if (c.allow_no_qop != cases[i].value)
			fail_msg("'%s' gave %d", cases[i].in, c.allow_no_qop);

		/* The same through --set, and config_write prints true or false. */
		char arg[64], text[TEXT_MAX];
		const char *args[] = { "--set", arg, NULL };
		struct run r;
		snprintf(arg, sizeof(arg), "auth.allow_no_qop=%s", cases[i].in);
		run_args(&c, args, &r);
		check_run(arg, &r, CONFIG_OK, NULL);
		assert_int_equal(c.allow_no_qop, cases[i].value);
		config_text(&c, text, sizeof(text));
		assert_non_null(strstr(text, cases[i].value ? "\nallow_no_qop = true\n"
							    : "\nallow_no_qop = false\n"));
	}
}

/* The lists hold CONFIG_MAX_LISTEN and CONFIG_MAX_DOMAINS, not one more. */
static void test_list_limits(void **state)
{
	struct config c;
	char err[256], text[64];

	(void)state;
	config_defaults(&c);
	c.listen_count = 0;
	for (unsigned i = 0; i < CONFIG_MAX_LISTEN; i++) {
		snprintf(text, sizeof(text), "udp:127.0.0.1:%u", 6000 + i);
		assert_int_equal(config_set(&c, "server", "listen", text, err, sizeof(err)), 0);
	}
	assert_int_equal(c.listen_count, CONFIG_MAX_LISTEN);
	assert_false(c.listen_is_default);
	assert_int_equal(config_set(&c, "server", "listen", "udp:127.0.0.1:7000", err, sizeof(err)),
			 EINVAL);
	assert_string_equal(err, "too many listeners (at most 16)");
	assert_int_equal(c.listen_count, CONFIG_MAX_LISTEN);

	for (unsigned i = 0; i < CONFIG_MAX_DOMAINS; i++) {
		snprintf(text, sizeof(text), "d%u.example", i);
		assert_int_equal(config_set(&c, "server", "domain", text, err, sizeof(err)), 0);
	}
	assert_int_equal(config_set(&c, "server", "domain", "x.example", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "too many domains (at most 16)");

	/* A domain of 255 bytes fits; 256 does not. */
	char name[300];
	config_defaults(&c);
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < sizeof(name); i += 64)
		name[i] = '.';
	name[255] = '\0';
	assert_int_equal(config_set(&c, "server", "domain", name, err, sizeof(err)), 0);
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(config_set(&c, "server", "domain", name, err, sizeof(err)), EINVAL);
}

static void test_config_set_errors(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "serve", "db", "sqlite:x", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "unknown section [serve]");
	assert_int_equal(config_set(&c, "server", "t1", "1s", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "unknown key 't1' in [server]");
	assert_int_equal(config_set(&c, "server", "DB", "sqlite:x", err, sizeof(err)), EINVAL);
	assert_int_equal(config_set(&c, "timers", "t1", "1m", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "bad value '1m' for timers.t1 (a duration from 1ms to 10s, such "
				 "as 500ms or 2s; a bare number means seconds)");
	assert_int_equal(c.t1_ms, 500);
	/* config_set appends to a list; the layers clear it. */
	assert_int_equal(config_set(&c, "server", "listen", "udp:127.0.0.1:1", err, sizeof(err)), 0);
	assert_int_equal(c.listen_count, 5);
	assert_false(c.listen_is_default);
	/* A --set longer than any value is refused, not cut. */
	char *long_set = malloc(2100);
	assert_non_null(long_set);
	memset(long_set, 'a', 2099);
	long_set[2099] = '\0';
	memcpy(long_set, "server.db=sqlite:", 17);
	const char *args[] = { "--set", long_set, NULL };
	struct run r;
	run_args(&c, args, &r);
	check_run("long --set", &r, CONFIG_USAGE_ERROR, "--set value too long");
	long_set[1000] = '\0';
	run_args(&c, args, &r);
	check_run("long db", &r, CONFIG_USAGE_ERROR, "for server.db (sqlite:PATH");
	free(long_set);
	/* A short errbuf is cut, never overrun. */
	char tiny[8];
	assert_int_equal(config_set(&c, "timers", "t1", "abc", tiny, sizeof(tiny)), EINVAL);
	assert_string_equal(tiny, "bad val");
}

/* ---- the file --------------------------------------------------------- */

struct file_case {
	const char *name;
	const char *text;
	size_t len;
	int rc;
	const char *err; /* part of the message after the path */
	const char *fields[8];
};

#define FILE_OK(name, text, ...) { name, text, sizeof(text) - 1, CONFIG_OK, NULL, { __VA_ARGS__ } }
#define FILE_BAD(name, text, err) { name, text, sizeof(text) - 1, CONFIG_USAGE_ERROR, err, { NULL } }

static const struct file_case file_cases[] = {
	FILE_OK("empty", "", "server.listen=udp:0.0.0.0:5060 tcp:0.0.0.0:5060 udp:[::]:5060 "
			     "tcp:[::]:5060", "timers.t1=500"),
	FILE_OK("comments", "# a comment\n; another\n\n   \n\t# indented\n[server]\n# x = y\n",
		"server.workers=1"),
	FILE_OK("listen replaces the defaults", "[server]\nlisten = udp:127.0.0.1:5070\n",
		"server.listen=udp:127.0.0.1:5070"),
	FILE_OK("listen repeats",
		"[server]\nlisten = udp:127.0.0.1:5070\nlisten=tcp:[::1]:5070\n",
		"server.listen=udp:127.0.0.1:5070 tcp:[::1]:5070"),
	FILE_OK("domains", "[server]\ndomain = Example.com\ndomain = [::1]\n",
		"server.domain=example.com [::1]"),
	FILE_OK("every server key",
		"[server]\ndb = postgresql://sipd@db/sipd\nhttp = [::1]:8081\nlog_level = error\n"
		"workers = 4\n",
		"server.db=postgresql://sipd@db/sipd", "server.http=[::1]:8081",
		"server.log_level=error", "server.workers=4"),
	FILE_OK("timers", "[timers]\nt1 = 250ms\nt2 = 2s\nt4 = 1m\n", "timers.t1=250",
		"timers.t2=2000", "timers.t4=60000"),
	FILE_OK("limits",
		"[limits]\nmax_message_size = 4096\nmax_connections = 10\n"
		"max_connections_per_ip = 2\ntcp_idle_timeout = 1h\ntcp_message_timeout = 5\n",
		"limits.max_message_size=4096", "limits.max_connections=10",
		"limits.max_connections_per_ip=2", "limits.tcp_idle_timeout=3600000",
		"limits.tcp_message_timeout=5000"),
	FILE_OK("registrar",
		"[registrar]\nmin_expires = 30\nmax_expires = 2h\ndefault_expires = 15m\n"
		"max_bindings = 1\n",
		"registrar.min_expires=30000", "registrar.max_expires=7200000",
		"registrar.default_expires=900000", "registrar.max_bindings=1"),
	FILE_OK("auth", "[auth]\nnonce_lifetime = 1m\nallow_no_qop = on\n",
		"auth.nonce_lifetime=60000", "auth.allow_no_qop=true"),
	FILE_OK("CRLF", "[server]\r\nworkers = 4\r\n", "server.workers=4"),
	FILE_OK("no final newline", "[server]\nworkers = 3", "server.workers=3"),
	FILE_OK("byte order mark", "\xEF\xBB\xBF[server]\nworkers = 2\n", "server.workers=2"),
	FILE_OK("spaces", "  [ timers ]  \n  t1   =   250ms  \n\tt2\t=\t3s\t\n", "timers.t1=250",
		"timers.t2=3000"),
	FILE_OK("section twice", "[server]\nworkers = 2\n[timers]\nt1 = 1s\n[server]\ndb = sqlite:x\n",
		"server.workers=2", "timers.t1=1000", "server.db=sqlite:x"),
	FILE_OK("value with = and #", "[server]\ndb = postgresql://h/db?sslmode=require#x\n",
		"server.db=postgresql://h/db?sslmode=require#x"),
	FILE_BAD("unknown key", "[server]\nlisen = udp:1.2.3.4:5\n",
		 ":2: unknown key 'lisen' in [server]\n"),
	FILE_BAD("key in the wrong section", "[timers]\nworkers = 2\n",
		 ":2: unknown key 'workers' in [timers]\n"),
	FILE_BAD("bad duration", "[timers]\n\n# c\nt1 = abc\n",
		 ":4: bad value 'abc' for timers.t1 (a duration from 1ms to 10s, such as 500ms or "
		 "2s; a bare number means seconds)\n"),
	FILE_BAD("a bare number is seconds", "[timers]\nt1 = 500\n",
		 ":2: bad value '500' for timers.t1"),
	FILE_BAD("no trailing comments", "[timers]\nt1 = 500ms # default\n",
		 ":2: bad value '500ms # default' for timers.t1"),
	FILE_BAD("outside any section", "workers = 2\n",
		 ":1: key 'workers' outside any section (it belongs in [server])\n"),
	FILE_BAD("outside, unknown key", "bogus = 2\n",
		 ":1: key 'bogus' outside any section (sections: [server], [timers], [limits], "
		 "[registrar], [auth], [proxy])\n"),
	FILE_BAD("unknown section", "[server]\n[foo]\n",
		 ":2: unknown section [foo] (sections: [server], [timers], [limits], [registrar], "
		 "[auth], [proxy])\n"),
	FILE_BAD("outside, a registrar key", "max_bindings = 2\n",
		 ":1: key 'max_bindings' outside any section (it belongs in [registrar])\n"),
	FILE_BAD("whole seconds", "[auth]\nnonce_lifetime = 2500ms\n",
		 ":2: bad value '2500ms' for auth.nonce_lifetime (a duration from 1s to 24h in "
		 "whole seconds, such as 90s or 1h; a bare number means seconds)\n"),
	FILE_BAD("bad switch", "[auth]\nallow_no_qop = maybe\n",
		 ":2: bad value 'maybe' for auth.allow_no_qop (true or false)\n"),
	FILE_BAD("min_expires over max_expires", "[registrar]\nmin_expires = 2m\nmax_expires = 1m\n",
		 "sipd: registrar.min_expires (2m) must not be more than registrar.max_expires "
		 "(1m)\n"),
	FILE_BAD("sections are lower case", "[Server]\n", ":1: unknown section [Server]"),
	FILE_BAD("keys are lower case", "[server]\nWorkers = 2\n",
		 ":2: unknown key 'Workers' in [server]"),
	FILE_BAD("unclosed section", "[server\n", ":1: expected '[section]'\n"),
	FILE_BAD("text after section", "[server] x\n", ":1: expected '[section]'\n"),
	FILE_BAD("no =", "[server]\njust words\n", ":2: expected 'key = value' or '[section]'\n"),
	FILE_BAD("no key", "[server]\n = x\n", ":2: missing key before '='\n"),
	FILE_BAD("empty value", "[server]\nworkers =\n",
		 ":2: bad value '' for server.workers (a whole number from 1 to 16)\n"),
	FILE_BAD("duplicate", "[server]\nworkers = 2\nworkers = 3\n",
		 ":3: server.workers given twice (first on line 2)\n"),
	FILE_BAD("duplicate across sections", "[server]\nworkers = 2\n[timers]\n[server]\nworkers = 2\n",
		 ":5: server.workers given twice (first on line 2)\n"),
	FILE_BAD("duplicate listener", "[server]\nlisten = udp:0.0.0.0:5060\nlisten = udp:0.0.0.0:5060\n",
		 ":3: listener 'udp:0.0.0.0:5060' given twice\n"),
	FILE_BAD("bad listen", "[server]\nlisten = udp:[::1]\n",
		 ":2: bad value 'udp:[::1]' for server.listen (the port is missing)\n"),
	FILE_BAD("t2 below t1", "[timers]\nt2 = 100ms\n",
		 "sipd: timers.t2 (100ms) must not be less than timers.t1 (500ms)\n"),
	FILE_BAD("NUL byte", "[server]\nwor\0kers = 1\n", ":2: NUL byte in the line\n"),
};

static void test_file(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *t = &file_cases[i];
		char path[64];
		const char *args[] = { "-c", path, NULL };
		struct config c;
		struct run r;

		write_file(path, sizeof(path), t->text, t->len);
		run_args(&c, args, &r);
		unlink(path);
		check_run(t->name, &r, t->rc, t->err);
		if (t->rc == CONFIG_OK) {
			check_fields(t->name, &c, t->fields);
			continue;
		}
		if (t->err[0] == ':') {
			/* A message about a line: "sipd: PATH:LINE: ...". */
			char want[512];
			snprintf(want, sizeof(want), "sipd: %s%s", path, t->err);
			if (t->err[strlen(t->err) - 1] == '\n' ? strcmp(r.err, want) != 0
							      : strncmp(r.err, want, strlen(want)) != 0)
				fail_msg("case %s: error '%s', expected '%s'", t->name, r.err, want);
		}
	}
}

static void test_load_file_direct(void **state)
{
	struct config c;
	char err[512], path[64];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, "/nonexistent/x.conf", err, sizeof(err)), ENOENT);
	assert_string_equal(err, "cannot read config '/nonexistent/x.conf': No such file or directory");

	/* A file is one layer over what c holds: its listen replaces c's list. */
	write_file(path, sizeof(path), "[server]\nlisten = tcp:127.0.0.1:0\n", strlen("[server]\nlisten = tcp:127.0.0.1:0\n"));
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.listen_count, 1);
	assert_false(c.listen_is_default);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.listen_count, 1);
	unlink(path);

	/* Errors inside: EINVAL, the good lines before it applied. */
	write_file(path, sizeof(path), "[server]\nworkers = 9\nbad\n", strlen("[server]\nworkers = 9\nbad\n"));
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, ":3: expected 'key = value'"));
	unlink(path);

	/* No validation here: the flags may still fix t2 < t1. */
	write_file(path, sizeof(path), "[timers]\nt2 = 100ms\n", strlen("[timers]\nt2 = 100ms\n"));
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), EINVAL);
	unlink(path);
}

/* config_load_stream: the same loader on a FILE* (here a string), its
 * name in the messages; the stream is left open. */
static void test_load_stream(void **state)
{
	static const char good[] = "\xEF\xBB\xBF[server]\nworkers = 4\n; comment\n"
				   "[timers]\nt1 = 2s\n";
	static const char bad[] = "[server]\nworkers = 4\nworkers = 5\n";
	struct config c;
	char err[512];
	FILE *f;

	(void)state;
	config_defaults(&c);
	f = fmemopen((void *)good, strlen(good), "r");
	assert_non_null(f);
	assert_int_equal(config_load_stream(&c, f, "mem.conf", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.t1_ms, 2000);
	assert_int_equal(fgetc(f), EOF); /* read to its end, still open */
	fclose(f);

	config_defaults(&c);
	f = fmemopen((void *)bad, strlen(bad), "r");
	assert_non_null(f);
	assert_int_equal(config_load_stream(&c, f, "mem.conf", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "mem.conf:3: server.workers given twice (first on line 2)");
	fclose(f);

	/* A NUL byte: only a stream with a length can carry one. */
	config_defaults(&c);
	f = fmemopen((void *)"[server]\nworkers\0 = 2\n", 22, "r");
	assert_non_null(f);
	assert_int_equal(config_load_stream(&c, f, "nul.conf", err, sizeof(err)), EINVAL);
	assert_string_equal(err, "nul.conf:2: NUL byte in the line");
	fclose(f);
}

/* ---- flags over the file ---------------------------------------------- */

static const char override_file[] =
	"[server]\n"
	"listen = udp:127.0.0.1:5070\n"
	"listen = tcp:127.0.0.1:5070\n"
	"domain = file.example\n"
	"db = sqlite:file.db\n"
	"http = off\n"
	"log_level = debug\n"
	"workers = 2\n"
	"[timers]\n"
	"t1 = 1s\n"
	"t2 = 8s\n"
	"[limits]\n"
	"max_connections = 77\n";

static void test_flags_override_file(void **state)
{
	char path[64];
	struct {
		const char *name;
		const char *args[16];
		const char *fields[10];
	} cases[] = {
		{ "file alone", { "-c", path },
		  { "server.listen=udp:127.0.0.1:5070 tcp:127.0.0.1:5070",
		    "server.domain=file.example", "server.db=sqlite:file.db", "server.http=off",
		    "server.log_level=debug", "server.workers=2", "timers.t1=1000",
		    "timers.t2=8000", "limits.max_connections=77" } },
		{ "flags after -c", { "-c", path, "-l", "udp:[::1]:0", "--db", "sqlite:flag.db" },
		  { "server.listen=udp:[::1]:0", "server.db=sqlite:flag.db",
		    "server.domain=file.example", "server.workers=2" } },
		{ "flags before -c",
		  { "-l", "udp:[::1]:0", "-d", "flag.example", "--http", "127.0.0.1:0",
		    "--log-level", "warn", "--set", "timers.t1=50ms", "--config", path },
		  { "server.listen=udp:[::1]:0", "server.domain=flag.example",
		    "server.http=127.0.0.1:0", "server.log_level=warn", "timers.t1=50",
		    "timers.t2=8000", "server.db=sqlite:file.db", "limits.max_connections=77" } },
		{ "set replaces a list", { "--set", "server.domain=a.example", "-c", path,
					   "--set", "server.domain=b.example" },
		  { "server.domain=a.example b.example",
		    "server.listen=udp:127.0.0.1:5070 tcp:127.0.0.1:5070" } },
		{ "set over file", { "--set", "server.workers=3", "-c", path,
				     "--set", "limits.max_connections=5" },
		  { "server.workers=3", "limits.max_connections=5" } },
		/* Validated after the flags: the file's t2 (8s) against the flag's t1. */
		{ "t1 up to the file's t2", { "--set", "timers.t1=8s", "-c", path },
		  { "timers.t1=8000", "timers.t2=8000" } },
	};

	(void)state;
	write_file(path, sizeof(path), override_file, sizeof(override_file) - 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		struct run r;

		run_args(&c, cases[i].args, &r);
		check_run(cases[i].name, &r, CONFIG_OK, NULL);
		check_fields(cases[i].name, &c, cases[i].fields);
	}

	/* A flag can make the file's values inconsistent, and that is found. */
	const char *bad[] = { "--set", "timers.t1=9s", "-c", path, NULL };
	struct config c;
	struct run r;
	run_args(&c, bad, &r);
	check_run("t1 over the file's t2", &r, CONFIG_USAGE_ERROR,
		  "sipd: timers.t2 (8s) must not be less than timers.t1 (9s)\n");
	/* File errors are reported even when a flag sets the same key. */
	unlink(path);
	write_file(path, sizeof(path), "[timers]\nt1 = x\n", strlen("[timers]\nt1 = x\n"));
	const char *fixed[] = { "--set", "timers.t1=1s", "-c", path, NULL };
	run_args(&c, fixed, &r);
	check_run("file error under a flag", &r, CONFIG_USAGE_ERROR, ":2: bad value 'x'");
	unlink(path);
}

/* ---- round trip ------------------------------------------------------- */

static void test_write_round_trip(void **state)
{
	static const char *const args[] = {
		"-l", "udp:127.0.0.1:0", "-l", "wss:[2001:db8::1]:443", "-d", "a.example",
		"-d", "b.example", "--db", "postgresql://x/y", "--http", "off",
		"--log-level", "error", "--set", "server.workers=3", "--set", "timers.t1=1500ms",
		"--set", "timers.t2=45s", "--set", "timers.t4=1m",
		"--set", "limits.tcp_idle_timeout=1h", "--set", "limits.max_message_size=9999",
		"--set", "registrar.min_expires=90", "--set", "registrar.max_expires=2h",
		"--set", "registrar.default_expires=30m", "--set", "registrar.max_bindings=5",
		"--set", "auth.nonce_lifetime=45s", "--set", "auth.allow_no_qop=YES",
		NULL,
	};
	struct config c, back;
	struct run r;
	char a[TEXT_MAX], b[TEXT_MAX], path[64], err[512];

	(void)state;
	run_args(&c, args, &r);
	check_run("round trip", &r, CONFIG_OK, NULL);
	config_text(&c, a, sizeof(a));
	write_file(path, sizeof(path), a, strlen(a));
	config_defaults(&back);
	assert_int_equal(config_load_file(&back, path, err, sizeof(err)), 0);
	unlink(path);
	config_text(&back, b, sizeof(b));
	assert_string_equal(a, b);
	for (size_t k = 0; k < ALL_KEYS; k++) {
		char x[TEXT_MAX], y[TEXT_MAX];
		field_text(&c, all_keys[k], x, sizeof(x));
		field_text(&back, all_keys[k], y, sizeof(y));
		assert_string_equal(x, y);
	}
	assert_non_null(strstr(a, "t1 = 1500ms\n"));
	assert_non_null(strstr(a, "t2 = 45s\n"));
	assert_non_null(strstr(a, "tcp_idle_timeout = 1h\n"));
	assert_non_null(strstr(a, "\n[registrar]\nmin_expires = 90s\nmax_expires = 2h\n"
				  "default_expires = 30m\nmax_bindings = 5\n"));
	assert_non_null(strstr(a, "\n[auth]\nnonce_lifetime = 45s\nallow_no_qop = true\n"));
	assert_int_equal(back.min_expires_ms, 90000);
	assert_int_equal(back.max_expires_ms, 7200000);
	assert_int_equal(back.default_expires_ms, 1800000);
	assert_int_equal(back.max_bindings, 5);
	assert_int_equal(back.nonce_lifetime_ms, 45000);
	assert_true(back.allow_no_qop);

	/* The defaults round-trip too. */
	config_defaults(&c);
	config_text(&c, a, sizeof(a));
	write_file(path, sizeof(path), a, strlen(a));
	config_defaults(&back);
	assert_int_equal(config_load_file(&back, path, err, sizeof(err)), 0);
	unlink(path);
	config_text(&back, b, sizeof(b));
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\nmin_expires = 1m\n"));
	assert_non_null(strstr(a, "\nallow_no_qop = false\n"));
}

/* ---- the default domain ----------------------------------------------- */

static void test_default_domain(void **state)
{
	struct config c;
	char buf[CONFIG_DOMAIN_MAX], again[CONFIG_DOMAIN_MAX], host[CONFIG_DOMAIN_MAX] = "";
	char err[256];

	(void)state;
	/* With domains: the first, as stored (lower case). */
	config_defaults(&c);
	assert_int_equal(config_set(&c, "server", "domain", "Sip.Example.COM", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "server", "domain", "b.example", err, sizeof(err)), 0);
	assert_ptr_equal(config_default_domain(&c, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "sip.example.com");

	/* Without: the host name in lower case, or localhost; the same each time. */
	config_defaults(&c);
	assert_ptr_equal(config_default_domain(&c, buf, sizeof(buf)), buf);
	assert_true(buf[0] != '\0');
	for (const char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			fail_msg("default domain '%s' is not lower case", buf);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (strcmp(buf, host) != 0 && strcmp(buf, "localhost") != 0)
		fail_msg("default domain '%s' is neither the host name '%s' nor localhost", buf,
			 host);
	config_default_domain(&c, again, sizeof(again));
	assert_string_equal(buf, again);
	/* The answer is a domain server.domain accepts. */
	assert_int_equal(config_set(&c, "server", "domain", buf, err, sizeof(err)), 0);
}

/* ---- help, sample file, docs ------------------------------------------ */

static void test_help(void **state)
{
	static const char *const flags[] = {
		"-c, --config", "-l, --listen", "-d, --domain", "--db", "--http", "--log-level",
		"--set", "-h, --help", "-V, --version",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	config_print_help(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(text, flags[i]))
			fail_msg("help lacks %s", flags[i]);
	for (size_t k = 0; k < ALL_KEYS; k++) {
		char want[80];
		snprintf(want, sizeof(want), "  %s = ", all_keys[k]);
		if (!strstr(text, want))
			fail_msg("help lacks %s", all_keys[k]);
	}
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char want[512];
		/* Help wraps at spaces, so look for each word of the default. */
		snprintf(want, sizeof(want), "%s", k->default_text);
		char *save = NULL;
		for (char *w = strtok_r(want, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (!strstr(text, w))
				fail_msg("help lacks the default %s of %s.%s", w, k->section, k->name);
	}
	assert_non_null(strstr(text, "Default: 500ms."));
	assert_non_null(strstr(text, "Range from 1ms to 10s."));
	assert_non_null(strstr(text, "Range from 1 to 16."));
	assert_non_null(strstr(text, "  auth.allow_no_qop = true|false\n"));
	assert_non_null(strstr(text, "Default: false."));

	/* Lines fit a terminal. */
	for (char *line = text, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		if (end - line > 80)
			fail_msg("help line too long: %.*s", (int)(end - line), line);
	}
	/* Wrapping may split a sentence: compare with each run of spaces and
	 * newlines made one space. */
	char *to = text;
	for (const char *from = text; *from; from++) {
		if (*from == ' ' || *from == '\n') {
			if (to != text && to[-1] == ' ')
				continue;
			*to++ = ' ';
		} else {
			*to++ = *from;
		}
	}
	*to = '\0';
	assert_non_null(strstr(text, "Range from 1s to 24h in whole seconds. Default: 1m."));
	free(text);
}

/* Does text hold a line that is exactly line (after trailing spaces)? */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		const char *after = p + len;
		if (p != text && p[-1] != '\n')
			continue;
		while (*after == ' ')
			after++;
		if (*after == '\n' || *after == '\0')
			return true;
	}
	return false;
}

static void test_sample_file(void **state)
{
	const char *path = SIPD_SOURCE_ROOT "/sipd.conf";
	const char *args[] = { "-c", path, NULL };
	char *text = read_whole_file(path);
	struct config c, defaults;
	struct run r;
	char a[TEXT_MAX], b[TEXT_MAX];

	(void)state;
	/* Everything in it is commented out: loading it gives the defaults. */
	run_args(&c, args, &r);
	check_run("sample", &r, CONFIG_OK, NULL);
	config_defaults(&defaults);
	config_text(&c, a, sizeof(a));
	config_text(&defaults, b, sizeof(b));
	assert_string_equal(a, b);
	/* Each section, and each key as "# key = default". */
	assert_true(has_line(text, "[server]"));
	assert_true(has_line(text, "[timers]"));
	assert_true(has_line(text, "[limits]"));
	assert_true(has_line(text, "[registrar]"));
	assert_true(has_line(text, "[auth]"));
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char words[512], line[600], *save = NULL;

		snprintf(words, sizeof(words), "%s", k->default_text);
		if (!words[0]) {
			snprintf(line, sizeof(line), "# %s = ", k->name);
			if (!strstr(text, line))
				fail_msg("sipd.conf lacks '%s'", line);
			continue;
		}
		for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			snprintf(line, sizeof(line), "# %s = %s", k->name, w);
			if (!has_line(text, line))
				fail_msg("sipd.conf lacks the line '%s'", line);
		}
	}
	free(text);
}

static void test_docs(void **state)
{
	char *text = read_whole_file(SIPD_SOURCE_ROOT "/docs/configuration.md");

	(void)state;
	for (size_t i = 0; i < config_key_count(); i++) {
		const struct config_key_info *k = config_key(i);
		char want[600];

		snprintf(want, sizeof(want), "`%s.%s`", k->section, k->name);
		if (!strstr(text, want))
			fail_msg("docs/configuration.md lacks %s", want);
		if (k->default_text[0] && !k->repeatable) {
			snprintf(want, sizeof(want), "`%s`", k->default_text);
			if (!strstr(text, want))
				fail_msg("docs/configuration.md lacks the default %s of %s.%s", want,
					 k->section, k->name);
		}
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table_defaults_parse),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_set_every_key),
		cmocka_unit_test(test_http_addr),
		cmocka_unit_test(test_bool_values),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_config_set_errors),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_load_file_direct),
		cmocka_unit_test(test_load_stream),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_default_domain),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_sample_file),
		cmocka_unit_test(test_docs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
