/*
 * test_uri.c - SIP, SIPS, tel and other URIs: decoding (RFC 3261 §19.1 and
 * §25.1, RFC 3966, RFC 5118, the URIs of RFC 4475), every prefix of every
 * case against ASan and guard pages, parameter lookup, unescaping, and the
 * RFC 3261 §19.1.4 / RFC 3966 §4 equality rules. All tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sip/uri.h"

/* ---- decode table ---------------------------------------------------- */

struct decode_case {
	const char *in;
	size_t len; /* sizeof the literal - 1, so inputs may hold NUL bytes */
	int err;
	const char *reason; /* when err */
	enum sip_uri_scheme scheme;
	/* Expected views: NULL means a NULL p (absent), else the exact text. */
	const char *user;
	const char *password;
	const char *host;
	enum sip_host_type host_type;
	int port; /* -1: no port */
	const char *params;
	const char *headers;
	const char *opaque;
};

#define SIP_OK(s, sch, u, pw, h, ht, port, pa, hd) \
	{ s, sizeof(s) - 1, 0, NULL, sch, u, pw, h, ht, port, pa, hd, NULL }
#define URI_OK(s, u, pw, h, ht, port, pa, hd) SIP_OK(s, SIP_URI_SIP, u, pw, h, ht, port, pa, hd)
#define TEL_OK(s, number, pa) \
	{ s, sizeof(s) - 1, 0, NULL, SIP_URI_TEL, number, NULL, NULL, SIP_HOST_NONE, -1, pa, NULL, NULL }
#define OTHER_OK(s, op) \
	{ s, sizeof(s) - 1, 0, NULL, SIP_URI_OTHER, NULL, NULL, NULL, SIP_HOST_NONE, -1, "", NULL, op }
#define BAD(s, why) { s, sizeof(s) - 1, EBADMSG, why, SIP_URI_SIP, NULL, NULL, NULL, SIP_HOST_NONE, -1, NULL, NULL, NULL }

#define NAME SIP_HOST_NAME
#define IPV4 SIP_HOST_IPV4
#define IPV6 SIP_HOST_IPV6

static const struct decode_case decode_cases[] = {
	/* RFC 3261 §19.1.3 examples. */
	URI_OK("sip:alice@atlanta.com", "alice", NULL, "atlanta.com", NAME, -1, "", NULL),
	URI_OK("sip:alice:secretword@atlanta.com;transport=tcp", "alice", "secretword", "atlanta.com",
	       NAME, -1, ";transport=tcp", NULL),
	SIP_OK("sips:alice@atlanta.com?subject=project%20x&priority=urgent", SIP_URI_SIPS, "alice",
	       NULL, "atlanta.com", NAME, -1, "", "subject=project%20x&priority=urgent"),
	URI_OK("sip:+1-212-555-1212:1234@gateway.com;user=phone", "+1-212-555-1212", "1234",
	       "gateway.com", NAME, -1, ";user=phone", NULL),
	SIP_OK("sips:1212@gateway.com", SIP_URI_SIPS, "1212", NULL, "gateway.com", NAME, -1, "", NULL),
	URI_OK("sip:alice@192.0.2.4", "alice", NULL, "192.0.2.4", IPV4, -1, "", NULL),
	URI_OK("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", NULL, NULL, "atlanta.com",
	       NAME, -1, ";method=REGISTER", "to=alice%40atlanta.com"),
	URI_OK("sip:alice;day=tuesday@atlanta.com", "alice;day=tuesday", NULL, "atlanta.com", NAME, -1,
	       "", NULL),
	/* Scheme is case-insensitive and kept as written. */
	URI_OK("SIP:ALICE@AtLanTa.CoM;Transport=udp", "ALICE", NULL, "AtLanTa.CoM", NAME, -1,
	       ";Transport=udp", NULL),
	SIP_OK("SiPs:bob@biloxi.com:5061", SIP_URI_SIPS, "bob", NULL, "biloxi.com", NAME, 5061, "",
	       NULL),
	URI_OK("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", NULL, NULL,
	       "biloxi.com", NAME, -1, ";transport=tcp;method=REGISTER", "to=sip:bob%40biloxi.com"),
	/* RFC 4475 semiuri: ';' before the '@' belongs to the user. */
	URI_OK("sip:user;par=u%40example.net@example.com", "user;par=u%40example.net", NULL,
	       "example.com", NAME, -1, "", NULL),
	/* RFC 4475 intmeth: every user and password character the grammar allows. */
	URI_OK("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
	       "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
	       "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", "example.com", NAME, -1, "", NULL),
	URI_OK("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
	       "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", NULL, "example.com", NAME, -1, "",
	       NULL),
	/* RFC 4475 esc01, escruri, escnull, esc02 contacts: escapes stay as on the wire. */
	URI_OK("sip:sips%3Auser%40example.com@example.net", "sips%3Auser%40example.com", NULL,
	       "example.net", NAME, -1, "", NULL),
	URI_OK("sip:user@example.com?Route=%3Csip:example.com%3E", "user", NULL, "example.com", NAME,
	       -1, "", "Route=%3Csip:example.com%3E"),
	URI_OK("sip:null-%00-null@example.com", "null-%00-null", NULL, "example.com", NAME, -1, "",
	       NULL),
	URI_OK("sip:%00%00@host5.example.com", "%00%00", NULL, "host5.example.com", NAME, -1, "", NULL),
	URI_OK("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", "cal%6Cer", NULL,
	       "host5.example.net", NAME, -1, ";%6C%72;n%61me=v%61lue%25%34%31", NULL),
	URI_OK("sip:I%20have%20spaces@example.net", "I%20have%20spaces", NULL, "example.net", NAME, -1,
	       "", NULL),
	URI_OK("sip:user@host;a=%00", "user", NULL, "host", NAME, -1, ";a=%00", NULL),
	/* RFC 4475 wsinv, unknown and valueless parameters, long parameters. */
	URI_OK("sip:vivekg@chair-dnrc.example.com;unknownparam", "vivekg", NULL,
	       "chair-dnrc.example.com", NAME, -1, ";unknownparam", NULL),
	URI_OK("sip:services.example.com;lr;unknownwith=value;unknown-no-value", NULL, NULL,
	       "services.example.com", NAME, -1, ";lr;unknownwith=value;unknown-no-value", NULL),
	URI_OK("sip:user@example.com:6000;unknownparam1=verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongvalue;ParameterNameWithNoValue",
	       "user", NULL, "example.com", NAME, 6000,
	       ";unknownparam1=verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongvalue;ParameterNameWithNoValue",
	       NULL),
	URI_OK("sip:127.0.0.1:5080", NULL, NULL, "127.0.0.1", IPV4, 5080, "", NULL),
	URI_OK("sip:user@host:0", "user", NULL, "host", NAME, 0, "", NULL),
	URI_OK("sip:user@host:65535;lr", "user", NULL, "host", NAME, 65535, ";lr", NULL),
	URI_OK("sip:user:@host", "user", "", "host", NAME, -1, "", NULL),
	URI_OK("sip:a@b", "a", NULL, "b", NAME, -1, "", NULL),
	URI_OK("sip:x@a-1.b2.c?h=&i=%41", "x", NULL, "a-1.b2.c", NAME, -1, "", "h=&i=%41"),
	/* Leniency: a fully qualified name with its trailing dot. */
	URI_OK("sip:example.com.", NULL, NULL, "example.com.", NAME, -1, "", NULL),
	/* Leniency: '_' in host names (SRV-style names are seen in the wild). */
	URI_OK("sip:_sip._udp.example.com", NULL, NULL, "_sip._udp.example.com", NAME, -1, "", NULL),
	/* Leniency: IPv4 octets with leading zeros (RFC 3261 has 1*3DIGIT). */
	URI_OK("sip:01.002.3.4", NULL, NULL, "01.002.3.4", IPV4, -1, "", NULL),
	/* RFC 5118 §4.1 and §4.9: brackets, port outside them. */
	URI_OK("sip:[2001:db8::10]", NULL, NULL, "[2001:db8::10]", IPV6, -1, "", NULL),
	URI_OK("sip:[2001:db8::10]:5070", NULL, NULL, "[2001:db8::10]", IPV6, 5070, "", NULL),
	/* RFC 5118 §4.9: a ":5070" inside the brackets is part of the address. */
	URI_OK("sip:[2001:db8::10:5070]", NULL, NULL, "[2001:db8::10:5070]", IPV6, -1, "", NULL),
	/* RFC 5118 §4.3: three colons, allowed by RFC 3261's ABNF; accepted. */
	URI_OK("sip:user@[2001:db8:::192.0.2.1]", "user", NULL, "[2001:db8:::192.0.2.1]", IPV6, -1, "",
	       NULL),
	URI_OK("sip:user@[2001:db8::192.0.2.1]", "user", NULL, "[2001:db8::192.0.2.1]", IPV6, -1, "",
	       NULL),
	/* RFC 5118 §4.6 (IPv4-mapped) and other header forms. */
	URI_OK("sip:ted@[::ffff:192.0.2.2]", "ted", NULL, "[::ffff:192.0.2.2]", IPV6, -1, "", NULL),
	URI_OK("sip:caller@[2001:db8::9:1]", "caller", NULL, "[2001:db8::9:1]", IPV6, -1, "", NULL),
	URI_OK("sip:[::1];transport=tcp", NULL, NULL, "[::1]", IPV6, -1, ";transport=tcp", NULL),
	URI_OK("sip:[::]", NULL, NULL, "[::]", IPV6, -1, "", NULL),
	URI_OK("sip:[1:2:3:4:5:6:7:8]", NULL, NULL, "[1:2:3:4:5:6:7:8]", IPV6, -1, "", NULL),
	URI_OK("sip:[1:2:3:4:5:6:7::]", NULL, NULL, "[1:2:3:4:5:6:7::]", IPV6, -1, "", NULL),
	URI_OK("sip:[1:2:3:4:5:6:1.2.3.4]:1", NULL, NULL, "[1:2:3:4:5:6:1.2.3.4]", IPV6, 1, "", NULL),
	URI_OK("sip:[FE80::aBcD]", NULL, NULL, "[FE80::aBcD]", IPV6, -1, "", NULL),
	URI_OK("sip:[:::1.2.3.4]", NULL, NULL, "[:::1.2.3.4]", IPV6, -1, "", NULL),
	/* tel (RFC 3966): the number goes into user. */
	TEL_OK("tel:+1-201-555-0123", "+1-201-555-0123", ""),
	TEL_OK("TEL:+1(201)555.0123;ext=12-34;isub=a%20b/c", "+1(201)555.0123",
	       ";ext=12-34;isub=a%20b/c"),
	TEL_OK("tel:+1-201-555-0123;phone-context=example.com", "+1-201-555-0123",
	       ";phone-context=example.com"),
	TEL_OK("tel:7042;phone-context=example.com", "7042", ";phone-context=example.com"),
	TEL_OK("tel:863-1234;phone-context=+1-914-555", "863-1234", ";phone-context=+1-914-555"),
	TEL_OK("tel:*21;foo=b%61r;flag;phone-context=+1", "*21", ";foo=b%61r;flag;phone-context=+1"),
	/* Any other scheme is opaque. */
	OTHER_OK("http://www.example.com", "//www.example.com"),
	OTHER_OK("name:John_Smith", "John_Smith"),
	OTHER_OK("soap.beep://192.0.2.103:3002", "//192.0.2.103:3002"),
	OTHER_OK("nobodyKnowsThisScheme:totallyopaquecontent", "totallyopaquecontent"),
	OTHER_OK("isbn:0-395-36341-1", "0-395-36341-1"),
	OTHER_OK("urn:service:sos", "service:sos"),
	OTHER_OK("mailto:a%20b@example.com", "a%20b@example.com"),

	/* Scheme. */
	BAD("", "Bad URI scheme"),
	BAD("sip", "Bad URI scheme"),
	BAD(":alice@host", "Bad URI scheme"),
	BAD("1sip:host", "Bad URI scheme"),
	BAD(" sip:alice@host", "Bad URI scheme"),
	BAD("sip :alice@host", "Bad URI scheme"),
	BAD("s_p:host", "Bad URI scheme"),
	BAD("<sip:alice@host>", "Bad URI scheme"),
	/* Host. */
	BAD("sip:", "Bad URI host"),
	BAD("sip:alice@", "Bad URI host"),
	BAD("sip:alice@;lr", "Bad URI host"),
	BAD("sip:alice@:5060", "Bad URI host"),
	BAD("sip:alice@host ", "Bad URI host"),
	BAD("sip:alice@ho st", "Bad URI host"),
	BAD("sip:alice@ho\0st", "Bad URI host"),
	BAD("sip:a@b@c", "Bad URI host"),
	BAD("sip:-example.com", "Bad URI host"),
	BAD("sip:example-.com", "Bad URI host"),
	BAD("sip:a..b", "Bad URI host"),
	BAD("sip:.com", "Bad URI host"),
	BAD("sip:example.com..", "Bad URI host"),
	BAD("sip:example.4com", "Bad URI host"),
	BAD("sip:192.0.2.256", "Bad URI host"),
	BAD("sip:1.2.3", "Bad URI host"),
	BAD("sip:1.2.3.4.5", "Bad URI host"),
	BAD("sip:1234.1.1.1", "Bad URI host"),
	/* RFC 5118 §4.2: an IPv6 address needs its brackets. */
	BAD("sip:2001:db8::10", "Bad URI host"),
	BAD("sip:[2001:db8::10", "Bad URI host"),
	BAD("sip:[2001:db8::10]x", "Bad URI host"),
	BAD("sip:[]", "Bad URI host"),
	BAD("sip:[1::2::3]", "Bad URI host"),
	BAD("sip:[12345::1]", "Bad URI host"),
	BAD("sip:[1:2:3:4:5:6:7:8:9]", "Bad URI host"),
	BAD("sip:[1:2:3:4:5:6:7:8::]", "Bad URI host"),
	BAD("sip:[::1:2:3:4:5:6:7:8]", "Bad URI host"),
	BAD("sip:[1:2:3:4:5:6:7]", "Bad URI host"),
	BAD("sip:[1:2:3:4:5:6:7:1.2.3.4]", "Bad URI host"),
	BAD("sip:[::1.2.3.256]", "Bad URI host"),
	BAD("sip:[1.2.3.4::1]", "Bad URI host"),
	BAD("sip:[1:::2]", "Bad URI host"),
	BAD("sip:[1:::2:1.2.3.4]", "Bad URI host"),
	BAD("sip:[1:::]", "Bad URI host"),
	BAD("sip:[1::2:::1.2.3.4]", "Bad URI host"),
	BAD("sip:[:1::2]", "Bad URI host"),
	BAD("sip:[1::2:]", "Bad URI host"),
	BAD("sip:[g::1]", "Bad URI host"),
	BAD("sip:[::1]]", "Bad URI host"),
	BAD("sip:[::1", "Bad URI host"),
	/* Port. */
	BAD("sip:alice@host:", "Bad URI port"),
	BAD("sip:alice@host:;lr", "Bad URI port"),
	BAD("sip:alice@host:65536", "Bad URI port"),
	BAD("sip:alice@host:abc", "Bad URI port"),
	BAD("sip:alice@host:-1", "Bad URI port"),
	BAD("sip:alice@host:+1", "Bad URI port"),
	BAD("sip:alice@host:99999999999999999999999", "Bad URI port"),
	BAD("sip:alice@host:5060:5061", "Bad URI port"),
	BAD("sip:alice@host:50 60", "Bad URI port"),
	BAD("sip:[2001:db8::10]:", "Bad URI port"),
	/* User and password. */
	BAD("sip:@host", "Bad URI user"),
	BAD("sip::pw@host", "Bad URI user"),
	BAD("sip:alice @host", "Bad URI user"),
	BAD("sip:a\0b@host", "Bad URI user"),
	BAD("sip:a<b@host", "Bad URI user"),
	BAD("sip:a:b:c@host", "Bad URI password"),
	BAD("sip:a:b;c@host", "Bad URI password"),
	/* Escapes: exactly '%' HEX HEX. */
	BAD("sip:%4@host", "Bad URI escape"),
	BAD("sip:a%GZ@host", "Bad URI escape"),
	BAD("sip:a%@host", "Bad URI escape"),
	BAD("sip:alice:p%zz@host", "Bad URI escape"),
	BAD("sip:alice@host;a=%4", "Bad URI escape"),
	BAD("sip:alice@host;%g1", "Bad URI escape"),
	BAD("sip:alice@host?a=%", "Bad URI escape"),
	BAD("sip:alice@host?%4=1", "Bad URI escape"),
	/* Parameters: pname and pvalue are 1*paramchar. */
	BAD("sip:alice@host;", "Bad URI parameter"),
	BAD("sip:alice@host;;lr", "Bad URI parameter"),
	BAD("sip:alice@host;a=", "Bad URI parameter"),
	BAD("sip:alice@host;=b", "Bad URI parameter"),
	BAD("sip:alice@host;a=b c", "Bad URI parameter"),
	BAD("sip:alice@host;a=<b>", "Bad URI parameter"),
	BAD("sip:alice@host;a=b=c", "Bad URI parameter"),
	BAD("sip:alice@host;a\0=b", "Bad URI parameter"),
	/* Headers: hname "=" hvalue joined by '&'. */
	BAD("sip:alice@host?", "Bad URI header"),
	BAD("sip:alice@host?a", "Bad URI header"),
	BAD("sip:alice@host?=b", "Bad URI header"),
	BAD("sip:alice@host?a=b&", "Bad URI header"),
	BAD("sip:alice@host?&a=b", "Bad URI header"),
	BAD("sip:alice@host?a=b&&c=d", "Bad URI header"),
	BAD("sip:alice@host?a=b c", "Bad URI header"),
	BAD("sip:alice@host?a=b;c", "Bad URI header"),
	/* tel. */
	BAD("tel:", "Bad tel number"),
	BAD("tel:+", "Bad tel number"),
	BAD("tel:+-", "Bad tel number"),
	BAD("tel:+1-201-abc", "Bad tel number"),
	BAD("tel:+12 34", "Bad tel number"),
	BAD("tel:1234", "Bad tel number"),
	BAD("tel:;phone-context=+1", "Bad tel number"),
	BAD("tel:+1234;ext=", "Bad URI parameter"),
	/* each tel parameter at most once (found by fuzzing: equality needs it) */
	BAD("tel:+1;a=1;a=2", "Bad URI parameter"),
	BAD("tel:+1;isub=1;ISUB=1", "Bad URI parameter"),
	BAD("tel:+1234;ext=12a", "Bad URI parameter"),
	BAD("tel:+1234;isub", "Bad URI parameter"),
	BAD("tel:+1234;=x", "Bad URI parameter"),
	BAD("tel:+1234;a_b=x", "Bad URI parameter"),
	BAD("tel:+1234;a b", "Bad URI parameter"),
	BAD("tel:+1234;a=%zz", "Bad URI parameter"),
	BAD("tel:+1234;", "Bad URI parameter"),
	BAD("tel:1234;phone-context=", "Bad URI parameter"),
	BAD("tel:1234;phone-context=-bad-", "Bad URI parameter"),
	BAD("tel:+1234?a=b", "Bad tel number"),
	/* Other schemes. */
	BAD("http:", "Bad URI"),
	BAD("urn:a b", "Bad URI"),
	BAD("urn:a\tb", "Bad URI"),
	BAD("urn:a\0", "Bad URI"),
	BAD("urn:\x7f", "Bad URI"),
	BAD("urn:%zz", "Bad URI escape"),
};

static void expect_view(const struct decode_case *c, const char *field, struct view got,
			const char *want)
{
	if (want == NULL) {
		if (got.p != NULL)
			fail_msg("%s: %s is \"%.*s\", want absent", c->in, field, (int)got.len, got.p);
		return;
	}
	if (got.p == NULL)
		fail_msg("%s: %s absent, want \"%s\"", c->in, field, want);
	if (got.len != strlen(want) || memcmp(got.p, want, got.len) != 0)
		fail_msg("%s: %s is \"%.*s\", want \"%s\"", c->in, field, (int)got.len, got.p, want);
}

static void check_decoded(const struct decode_case *c, const struct sip_uri *u, struct view in)
{
	if (u->scheme != c->scheme)
		fail_msg("%s: scheme %d, want %d", c->in, (int)u->scheme, (int)c->scheme);
	assert_ptr_equal(u->raw.p, in.p);
	assert_int_equal(u->raw.len, in.len);
	assert_ptr_equal(u->scheme_v.p, in.p);
	assert_true(u->scheme_v.len < in.len);
	assert_int_equal(in.p[u->scheme_v.len], ':');
	expect_view(c, "user", u->user, c->user);
	expect_view(c, "password", u->password, c->password);
	expect_view(c, "host", u->host, c->host);
	expect_view(c, "params", u->params, c->params);
	expect_view(c, "headers", u->headers, c->headers);
	expect_view(c, "opaque", u->opaque, c->opaque);
	if (u->host_type != c->host_type)
		fail_msg("%s: host type %d, want %d", c->in, (int)u->host_type, (int)c->host_type);
	if (u->has_port != (c->port >= 0) || (u->has_port && u->port != c->port))
		fail_msg("%s: port %d/%d, want %d", c->in, (int)u->has_port, (int)u->port, c->port);
	/* Any URI equals itself. */
	assert_true(sip_uri_equal(u, u));
}

static void test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		/* An exact-size heap copy: ASan flags any read past the end. */
		char *copy = malloc(c->len ? c->len : 1);
		struct sip_uri u, before;
		const char *reason = "untouched";
		int err;

		assert_non_null(copy);
		memcpy(copy, c->in, c->len);
		memset(&u, 0xa5, sizeof(u));
		before = u;
		err = sip_uri_decode(&u, view_make(copy, c->len), &reason);
		if (err != c->err)
			fail_msg("%s: error %d (%s), want %d", c->in, err, reason, c->err);
		if (c->err) {
			if (strcmp(reason, c->reason) != 0)
				fail_msg("%s: reason \"%s\", want \"%s\"", c->in, reason, c->reason);
			/* *uri is written only on success. */
			assert_memory_equal(&u, &before, sizeof(u));
		} else {
			assert_string_equal(reason, "untouched");
			check_decoded(c, &u, view_make(copy, c->len));
		}
		free(copy);
	}
}

/* ---- every prefix, heap and guard pages ----------------------------------- */

/*
 * Three pages, the outer two PROT_NONE: bytes put at the start of the middle
 * page catch reads before the input, at its end reads past it.
 */
struct fence {
	char *base;
	size_t page;
};

static void fence_init(struct fence *g)
{
	long page = sysconf(_SC_PAGESIZE);

	assert_true(page > 0);
	g->page = (size_t)page;
	g->base = mmap(NULL, 3 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->base != MAP_FAILED);
	assert_int_equal(mprotect(g->base, g->page, PROT_NONE), 0);
	assert_int_equal(mprotect(g->base + 2 * g->page, g->page, PROT_NONE), 0);
}

static void fence_fini(struct fence *g)
{
	assert_int_equal(munmap(g->base, 3 * g->page), 0);
}

/*
 * Decode in, and when it decodes, use every reader on the result: it must
 * equal itself and the reference decode (if any) of the same bytes.
 */
static int decode_and_read(struct view in, const struct sip_uri *reference)
{
	struct sip_uri u;
	struct view value;
	const char *reason = NULL;
	char out[512];
	int err = sip_uri_decode(&u, in, &reason);

	if (err) {
		assert_int_equal(err, EBADMSG);
		assert_non_null(reason);
		return err;
	}
	assert_true(sip_uri_equal(&u, &u));
	if (reference) {
		assert_true(sip_uri_equal(&u, reference));
		assert_true(sip_uri_equal(reference, &u));
	}
	(void)sip_uri_param(&u, "transport", &value);
	(void)sip_uri_param(&u, "lr", &value);
	/* The decoder checked every escape, so unescaping cannot fail. */
	assert_true(sip_unescape(u.user, out, sizeof(out)) >= 0);
	assert_true(sip_unescape(u.password, out, sizeof(out)) >= 0);
	assert_true(sip_unescape(u.params, out, sizeof(out)) >= 0);
	assert_true(sip_unescape(u.headers, out, sizeof(out)) >= 0);
	return 0;
}

/* IPv4address with its bytes: every length from 7 to 15, leading zeros
 * (a leniency), and what is one character off. */
static void test_ipv4_parse(void **state)
{
	static const struct {
		const char *text;
		bool ok;
		uint8_t bytes[4];
	} rows[] = {
		{ "0.0.0.0", true, { 0, 0, 0, 0 } },
		{ "127.0.0.1", true, { 127, 0, 0, 1 } },
		{ "255.255.255.255", true, { 255, 255, 255, 255 } },
		{ "000.000.000.000", true, { 0, 0, 0, 0 } },
		{ "1.2.3.04", true, { 1, 2, 3, 4 } },
		{ "10.200.30.249", true, { 10, 200, 30, 249 } },
		{ "", false, { 0 } },
		{ "1.2.3", false, { 0 } },
		{ "1.2.3.", false, { 0 } },
		{ "1.2.3.4.", false, { 0 } },
		{ ".1.2.3.4", false, { 0 } },
		{ "1..2.3.4", false, { 0 } },
		{ "1.2.3.-4", false, { 0 } },
		{ "1.2.3.4a", false, { 0 } },
		{ "a.2.3.4", false, { 0 } },
		{ "256.0.0.1", false, { 0 } },
		{ "1.2.3.256", false, { 0 } },
		{ "0000.0.0.0", false, { 0 } },
		{ "1.2.3.0004", false, { 0 } },
		{ "1.2.3.4.5", false, { 0 } },
		{ "1.2.3.4 ", false, { 0 } },
		{ "1,2.3.4", false, { 0 } },
		{ "255.255.255.2555", false, { 0 } },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t out[4] = { 9, 9, 9, 9 };
		bool ok = sip_ipv4_parse(view_from_cstr(rows[i].text), out);
		if (ok != rows[i].ok)
			fail_msg("\"%s\": %s", rows[i].text, ok ? "accepted" : "refused");
		if (ok && memcmp(out, rows[i].bytes, 4) != 0)
			fail_msg("\"%s\": bytes %u.%u.%u.%u", rows[i].text, out[0], out[1], out[2], out[3]);
		if (!ok && memcmp(out, "\x09\x09\x09\x09", 4) != 0)
			fail_msg("\"%s\": refused but written", rows[i].text);
	}
	/* a view is not read past its end */
	assert_true(sip_ipv4_parse(view_make("1.2.3.45", 7), NULL));
	assert_false(sip_ipv4_parse(view_make("1.2.3.4", 6), NULL));
}

/* Host names at the end of a guarded page: an empty last label ("a..")
 * is refused without a byte past the name read. */
static void test_hostname_table(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} rows[] = {
		{ "a", true },	      { "a.", true },	  { "example.com", true },
		{ "example.com.", true }, { "_sip._udp.example.com", true },
		{ "a-b.c", true },    { "", false },	  { ".", false },
		{ "..", false },      { "a..", false },	  { "ab..", false },
		{ "a.b..", false },   { "a-..", false },  { "a.-", false },
		{ "a.b-", false },    { "-a.b", false },  { "a..b", false },
		{ "a.1", false },     { "1.2.3.4", false },
	};
	struct fence g;
	(void)state;

	fence_init(&g);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].text);
		char *p = g.base + 2 * g.page - n;
		memcpy(p, rows[i].text, n);
		bool ok = sip_hostname_valid(view_make(p, n));
		if (ok != rows[i].ok)
			fail_msg("\"%s\": %s", rows[i].text, ok ? "accepted" : "refused");
	}
	fence_fini(&g);
}

static void test_decode_prefixes(void **state)
{
	struct fence g;

	(void)state;
	fence_init(&g);
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		assert_true(c->len < g.page);
		for (size_t len = 0; len <= c->len; len++) {
			char *heap = malloc(len ? len : 1);
			char *front = g.base + g.page;
			char *back = g.base + 2 * g.page - len;
			struct sip_uri ref;
			const char *reason;
			int err;

			assert_non_null(heap);
			memcpy(heap, c->in, len);
			memcpy(front, c->in, len);
			memcpy(back, c->in, len);
			err = sip_uri_decode(&ref, view_make(heap, len), &reason);
			assert_int_equal(decode_and_read(view_make(heap, len), err ? NULL : &ref), err);
			assert_int_equal(decode_and_read(view_make(front, len), err ? NULL : &ref), err);
			assert_int_equal(decode_and_read(view_make(back, len), err ? NULL : &ref), err);
			if (len == c->len)
				assert_int_equal(err, c->err);
			free(heap);
		}
	}
	fence_fini(&g);
}

/* ---- equality ---------------------------------------------------------------- */

struct equal_case {
	const char *a;
	const char *b;
	bool equal;
};

static const struct equal_case equal_cases[] = {
	/* RFC 3261 §19.1.4: equivalent. */
	{ "sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;security=on", true },
	{ "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on", true },
	{ "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
	  "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com", true },
	{ "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	  "sip:alice@atlanta.com?priority=urgent&subject=project%20x", true },
	/* RFC 3261 §19.1.4: not equivalent. */
	{ "SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", false },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", false },
	{ "sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", false },
	{ "sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", false },
	/* Scheme: sip never equals sips; the scheme's case does not matter. */
	{ "sip:alice@atlanta.com", "sips:alice@atlanta.com", false },
	{ "sips:alice@atlanta.com", "SIPS:alice@atlanta.com", true },
	/* RFC 4475 escnull: %00 is a character like any other. */
	{ "sip:null-%00-null@example.com", "sip:null-%00%00-null@example.com", false },
	{ "sip:%00@host5.example.com", "sip:%00%00@host5.example.com", false },
	{ "sip:null-%00-null@example.com", "sip:null-%00-null@example.com", true },
	{ "sip:null-%00-null@example.com", "sip:null--null@example.com", false },
	/* User and password: case-sensitive, after unescaping. */
	{ "sip:alice@a.com", "sip:Alice@a.com", false },
	{ "sip:%41lice@a.com", "sip:alice@a.com", false },
	{ "sip:%6c@a.com", "sip:%6C@a.com", true },
	{ "sip:a%2Db@h.com", "sip:a-b@h.com", true },
	{ "sip:alice:pw@a.com", "sip:alice:PW@a.com", false },
	{ "sip:alice:%70w@a.com", "sip:alice:pw@a.com", true },
	{ "sip:alice:pw@a.com", "sip:alice@a.com", false },
	{ "sip:alice:@a.com", "sip:alice@a.com", false },
	{ "sip:a.com", "sip:alice@a.com", false },
	/* A reserved character escaped differs from the plain one. */
	{ "sip:a%3Bb@h.com", "sip:a;b@h.com", false },
	{ "sip:a%3bb@h.com", "sip:a%3Bb@h.com", true },
	/* Hosts: names case-insensitive, addresses by value, never a name = an address. */
	{ "sip:[2001:db8::1]", "sip:[2001:DB8:0:0::1]", true },
	{ "sip:[2001:db8::192.0.2.1]", "sip:[2001:db8:::192.0.2.1]", true },
	{ "sip:[2001:db8::192.0.2.1]", "sip:[2001:db8::c000:201]", true },
	{ "sip:[2001:db8::1]", "sip:[2001:db8::2]", false },
	{ "sip:[1::]", "sip:[::1]", false },
	{ "sip:[::ffff:192.0.2.2]", "sip:192.0.2.2", false },
	{ "sip:192.0.2.4", "sip:192.000.002.004", true },
	{ "sip:192.0.2.4", "sip:192.0.2.5", false },
	{ "sip:a@example.com", "sip:a@example.org", false },
	/* Ports. */
	{ "sip:bob@biloxi.com:5060", "sip:bob@biloxi.com:05060", true },
	{ "sip:bob@biloxi.com:5060", "sip:bob@biloxi.com:5061", false },
	/* user, ttl, method, maddr, transport: in both or in neither. */
	{ "sip:+1@b.com;user=phone", "sip:+1@b.com", false },
	{ "sip:a@b.com;ttl=1", "sip:a@b.com", false },
	{ "sip:a@b.com;method=INVITE", "sip:a@b.com", false },
	{ "sip:a@b.com;maddr=239.255.255.1", "sip:a@b.com", false },
	{ "sip:a@b.com;maddr=239.255.255.1", "sip:a@b.com;MADDR=239.255.255.1", true },
	{ "sip:a@b.com;method=register", "sip:a@b.com;method=REGISTER", true },
	{ "sip:a@b.com;ttl=1;lr", "sip:a@b.com;lr;ttl=2", false },
	/* Other parameters: names unescaped and case-insensitive; present in both must match. */
	{ "sip:h.com;%6Cr=on", "sip:h.com;LR=on", true },
	{ "sip:h.com;lr", "sip:h.com;lr=on", false },
	{ "sip:h.com;foo=%62ar", "sip:h.com;foo=BAR", true },
	{ "sip:h.com;foo=1;foo=2", "sip:h.com;foo=1", true },
	{ "sip:h.com;foo=1;foo=2", "sip:h.com;foo=2", false },
	/* Headers: all must be in both; names case-insensitive, values not. */
	{ "sip:a@h.com?Subject=x", "sip:a@h.com?subject=x", true },
	{ "sip:a@h.com?subject=x", "sip:a@h.com?subject=X", false },
	{ "sip:a@h.com?a=%62", "sip:a@h.com?a=b", true },
	{ "sip:a@h.com?a=1&b=2", "sip:a@h.com?a=1", false },
	{ "sip:a@h.com?a=1&b=2", "sip:a@h.com?b=2&a=1", true },
	{ "sip:a@h.com?a=", "sip:a@h.com?a=x", false },
	/* tel (RFC 3966 §4). */
	{ "tel:+1-201-555-0123", "tel:+12015550123", true },
	{ "tel:+1(201)555.0123", "tel:+12015550123", true },
	{ "tel:+12015550123", "tel:+12015550124", false },
	{ "tel:+12015550123", "tel:12015550123;phone-context=+1", false },
	{ "tel:7042;phone-context=example.com", "tel:7042;PHONE-CONTEXT=EXAMPLE.com", true },
	{ "tel:7042;phone-context=example.com", "tel:7042;phone-context=exam-ple.com", false },
	{ "tel:863-1234;phone-context=+1-914-555", "tel:8631234;phone-context=+1914555", true },
	{ "tel:+1234;ext=1-2", "tel:+1234;ext=12", true },
	{ "tel:+1234;foo=bar", "tel:+1234", false },
	{ "tel:+1234;a=1;b=2", "tel:+1234;b=2;a=1", true },
	{ "tel:+1234;a=x", "tel:+1234;a=%58", true },
	{ "tel:+1234;a", "tel:+1234;a=1", false },
	{ "tel:abc;phone-context=+1", "tel:ABC;phone-context=+1", true },
	{ "tel:+1234", "sip:+1234@h.com", false },
	/* Other schemes: text, scheme case-insensitive. */
	{ "http://www.example.com", "HTTP://www.example.com", true },
	{ "http://www.example.com", "http://www.example.com/", false },
	{ "http://www.example.com", "http://WWW.example.com", false },
	{ "urn:a", "isbn:a", false },
	{ "urn:a", "sip:a", false },
};

static void decode_ok(const char *s, struct sip_uri *u)
{
	const char *reason = NULL;
	int err = sip_uri_decode(u, view_from_cstr(s), &reason);

	if (err)
		fail_msg("%s: does not decode: %s", s, reason);
}

static void test_equal_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(equal_cases) / sizeof(equal_cases[0]); i++) {
		const struct equal_case *c = &equal_cases[i];
		struct sip_uri a, b;

		decode_ok(c->a, &a);
		decode_ok(c->b, &b);
		if (sip_uri_equal(&a, &b) != c->equal)
			fail_msg("%s vs %s: want %s", c->a, c->b, c->equal ? "equal" : "different");
		if (sip_uri_equal(&b, &a) != c->equal)
			fail_msg("%s vs %s: want %s", c->b, c->a, c->equal ? "equal" : "different");
		assert_true(sip_uri_equal(&a, &a));
		assert_true(sip_uri_equal(&b, &b));
		/* the quick test never rules out an equal pair */
		if (c->equal && (!sip_uri_may_equal(a.raw, &b) || !sip_uri_may_equal(b.raw, &a)))
			fail_msg("%s vs %s: sip_uri_may_equal says no to equal URIs", c->a, c->b);
		assert_true(sip_uri_may_equal(a.raw, &a));
	}
}

/* What the quick test rules out without decoding, and what it leaves. */
static void test_may_equal(void **state)
{
	static const struct {
		const char *text, *uri;
		bool may;
	} cases[] = {
		{ "sip:alice@a.com", "sip:bob@a.com", false },
		{ "sip:alice@a.com", "sip:Alice@a.com", false },
		{ "sip:a.com", "sip:alice@a.com", false },
		{ "sip:alice@a.com", "sip:a.com", false },
		{ "sips:alice@a.com", "sip:alice@a.com", false },
		{ "SIP:alice@b.com", "sip:alice@a.com", true }, /* same user: decoding tells */
		{ "sip:%61lice@a.com", "sip:alice@a.com", true },
		{ "sip:alice:pw@a.com", "sip:alice:other@a.com", true },
		{ "sip:a;b@h.com", "sip:c@h.com", true }, /* ';' before '@': not told here */
		{ "tel:+1234", "sip:+1234@h.com", true },
		{ "sip:+1234@h.com", "tel:+1234", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sip_uri u;
		decode_ok(cases[i].uri, &u);
		if (sip_uri_may_equal(view_from_cstr(cases[i].text), &u) != cases[i].may)
			fail_msg("%s vs %s: want %s", cases[i].text, cases[i].uri,
				 cases[i].may ? "maybe" : "different");
	}
}

/* ---- parameter lookup --------------------------------------------------------- */

struct param_case {
	const char *uri;
	const char *name;
	bool found;
	const char *value; /* NULL: no "=value" */
};

static const struct param_case param_cases[] = {
	{ "sip:alice@atlanta.com;transport=TCP", "transport", true, "TCP" },
	{ "sip:alice@atlanta.com;transport=TCP", "TRANSPORT", true, "TCP" },
	{ "sip:alice@atlanta.com;Transport=TCP", "transport", true, "TCP" },
	{ "sip:h.com;lr;foo=bar", "lr", true, NULL },
	{ "sip:h.com;lr;foo=bar", "foo", true, "bar" },
	{ "sip:h.com;lr;foo=bar", "fo", false, NULL },
	{ "sip:h.com;lr;foo=bar", "foobar", false, NULL },
	{ "sip:h.com;lr;foo=bar", "l", false, NULL },
	{ "sip:h.com;a=1;a=2", "a", true, "1" },
	{ "sip:h.com", "lr", false, NULL },
	/* Escaped names match their unescaped form; values stay escaped. */
	{ "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", "lr", true, NULL },
	{ "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", "name", true,
	  "v%61lue%25%34%31" },
	/* The ';' of a user part is not a parameter. */
	{ "sip:user;par=u%40example.net@example.com", "par", false, NULL },
	{ "sip:user;par=u%40example.net@example.com;x=1", "x", true, "1" },
	/* Headers are not parameters. */
	{ "sip:h.com?lr=1", "lr", false, NULL },
	{ "tel:7042;phone-context=example.com", "phone-context", true, "example.com" },
	{ "tel:+1234;isub=5", "ISUB", true, "5" },
	{ "urn:a;b=c", "b", false, NULL },
};

static void test_param_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
		const struct param_case *c = &param_cases[i];
		struct sip_uri u;
		struct view value = view_make("untouched", 9);
		bool found;

		decode_ok(c->uri, &u);
		found = sip_uri_param(&u, c->name, &value);
		if (found != c->found)
			fail_msg("%s: %s %s, want %s", c->uri, c->name, found ? "found" : "missing",
				 c->found ? "found" : "missing");
		if (!found) {
			assert_true(view_eq_cstr(value, "untouched"));
		} else if (c->value == NULL) {
			if (value.p != NULL)
				fail_msg("%s: %s has a value, want none", c->uri, c->name);
		} else if (!view_eq_cstr(value, c->value)) {
			fail_msg("%s: %s=\"%.*s\", want \"%s\"", c->uri, c->name, (int)value.len,
				 value.p ? value.p : "", c->value);
		}
	}
}

/* ---- unescape ------------------------------------------------------------------ */

struct unescape_case {
	const char *in;
	size_t in_len;
	size_t out_size;
	long want; /* bytes written, or -1 */
	const char *out;
};

#define UNESC(s, size, want, out) { s, sizeof(s) - 1, size, want, out }

static const struct unescape_case unescape_cases[] = {
	UNESC("", 8, 0, ""),
	UNESC("abc", 8, 3, "abc"),
	UNESC("abc", 3, 3, "abc"),
	UNESC("abc", 2, -1, NULL),
	UNESC("%61%62c", 8, 3, "abc"),
	UNESC("%41%4a%4A", 8, 3, "AJJ"),
	UNESC("null-%00-null", 16, 11, "null-\0-null"),
	UNESC("%00%00", 2, 2, "\0\0"),
	UNESC("%25%34%31", 8, 3, "%41"),
	UNESC("a\0b", 8, 3, "a\0b"),
	UNESC("%4", 8, -1, NULL),
	UNESC("%GZ", 8, -1, NULL),
	UNESC("%", 8, -1, NULL),
	UNESC("ab%", 8, -1, NULL),
	UNESC("%%41", 8, -1, NULL),
	UNESC("%20%20", 1, -1, NULL),
};

static void test_unescape_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(unescape_cases) / sizeof(unescape_cases[0]); i++) {
		const struct unescape_case *c = &unescape_cases[i];
		char *in = malloc(c->in_len ? c->in_len : 1);
		char *out = malloc(c->out_size ? c->out_size : 1);
		long n;

		assert_non_null(in);
		assert_non_null(out);
		memcpy(in, c->in, c->in_len);
		n = sip_unescape(view_make(in, c->in_len), out, c->out_size);
		if (n != c->want)
			fail_msg("\"%s\" into %zu: %ld, want %ld", c->in, c->out_size, n, c->want);
		if (n > 0)
			assert_memory_equal(out, c->out, (size_t)n);
		free(out);
		free(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_prefixes),
		cmocka_unit_test(test_ipv4_parse),
		cmocka_unit_test(test_hostname_table),
		cmocka_unit_test(test_equal_table),
		cmocka_unit_test(test_may_equal),
		cmocka_unit_test(test_param_table),
		cmocka_unit_test(test_unescape_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
