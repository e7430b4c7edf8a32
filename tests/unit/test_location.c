/*
 * test_location.c - the location service: add, replace by URI equality,
 * remove, AORs that come and go, expiry on a hand-driven timer wheel (in
 * memory and in the store), and reload from the store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/loop.h"
#include "base/timer.h"
#include "core/location.h"
#include "core/users.h"
#include "store/store.h"
#include "tmpdb.h"

#define NOW 2000000000 /* s */


static struct loc_binding_spec spec(const char *contact, int64_t expires_at, uint32_t cseq)
{
	struct loc_binding_spec s = {
		.contact = view_from_cstr(contact),
		.path = VIEW_LIT(""),
		.instance = VIEW_LIT("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""),
		.reg_id = 1,
		.q = 500,
		.expires_at = expires_at,
		.call_id = VIEW_LIT("call-1"),
		.cseq = cseq,
		.proto = TP_UDP,
	};
	assert_int_equal(tp_addr_from_text(&s.source, VIEW_LIT("192.0.2.7"), 5062), 0);
	return s;
}

static struct sip_uri uri(const char *text)
{
	struct sip_uri u;
	const char *reason;
	assert_int_equal(sip_uri_decode(&u, view_from_cstr(text), &reason), 0);
	return u;
}

static void test_put_replace_remove(void **state)
{
	struct timer_wheel wheel;
	struct location *loc;
	struct loc_binding *b, *b2;
	(void)state;

	timer_wheel_init(&wheel, 0);
	assert_int_equal(location_alloc(&loc, &wheel, NULL), 0);
	assert_null(location_find(loc, VIEW_LIT("alice@example.com")));

	struct loc_binding_spec s = spec("sip:alice@192.0.2.7:5062", NOW + 600, 1);
	assert_int_equal(location_put(loc, VIEW_LIT("alice@example.com"), &s, NOW, &b), 0);
	struct loc_aor *aor = location_find(loc, VIEW_LIT("alice@example.com"));
	assert_non_null(aor);
	assert_int_equal(aor->count, 1);
	assert_string_equal(loc_contact(b), "sip:alice@192.0.2.7:5062");
	assert_string_equal(loc_call_id(b), "call-1");
	assert_string_equal(loc_path(b), "");
	assert_int_equal(b->q, 500);

	/* equal by RFC 3261 §19.1.4 (host case): replaced, not added */
	s = spec("sip:alice@192.0.2.7:5062;transport=udp", NOW + 900, 2);
	assert_int_equal(location_put(loc, VIEW_LIT("alice@example.com"), &s, NOW, &b2), 0);
	assert_int_equal(aor->count, 2); /* transport param differs: another URI */
	s = spec("SIP:alice@192.0.2.7:5062", NOW + 900, 3);
	assert_int_equal(location_put(loc, VIEW_LIT("alice@example.com"), &s, NOW, &b), 0);
	assert_int_equal(aor->count, 2);
	assert_int_equal(location_binding_count(loc), 2);
	assert_int_equal(b->cseq, 3);
	struct sip_uri u = uri("sip:alice@192.0.2.7:5062");
	assert_ptr_equal(location_binding_find(aor, &u), b);

	/* a bad contact is refused and changes nothing */
	s = spec("not a uri", NOW + 900, 4);
	assert_int_equal(location_put(loc, VIEW_LIT("alice@example.com"), &s, NOW, NULL), EINVAL);
	assert_int_equal(aor->count, 2);

	location_remove(loc, b);
	assert_int_equal(aor->count, 1);
	location_remove(loc, b2);
	assert_null(location_find(loc, VIEW_LIT("alice@example.com")));
	assert_int_equal(location_aor_count(loc), 0);
	location_free(loc);
	timer_wheel_fini(&wheel);
}

/* The sweep's clock: NOW plus the wheel's time. */
static int64_t fake_clock(void *arg)
{
	const struct timer_wheel *wheel = arg;
	return NOW + (int64_t)(wheel->now_ms / 1000);
}

static void test_expiry(void **state)
{
	struct timer_wheel wheel;
	struct location *loc;
	(void)state;

	timer_wheel_init(&wheel, 0);
	assert_int_equal(location_alloc(&loc, &wheel, NULL), 0);
	location_set_clock(loc, fake_clock, &wheel);
	struct loc_binding_spec s = spec("sip:a@192.0.2.1", NOW + 60, 1);
	assert_int_equal(location_put(loc, VIEW_LIT("a@example.com"), &s, NOW, NULL), 0);
	s = spec("sip:b@192.0.2.1", NOW + 120, 1);
	assert_int_equal(location_put(loc, VIEW_LIT("a@example.com"), &s, NOW, NULL), 0);
	/* a refresh moves the expiry */
	s = spec("sip:a@192.0.2.1", NOW + 3600, 2);
	assert_int_equal(location_put(loc, VIEW_LIT("a@example.com"), &s, NOW, NULL), 0);

	for (uint64_t ms = 1000; ms <= 119 * 1000; ms += 1000)
		timer_wheel_advance(&wheel, ms);
	assert_int_equal(location_binding_count(loc), 2);
	timer_wheel_advance(&wheel, 121 * 1000);
	assert_int_equal(location_binding_count(loc), 1);
	/* a long jump (a busy or suspended loop): every bucket is swept */
	timer_wheel_advance(&wheel, 9000 * 1000);
	assert_int_equal(location_binding_count(loc), 0);
	assert_null(location_find(loc, VIEW_LIT("a@example.com")));
	location_free(loc);
	timer_wheel_fini(&wheel);
}

struct wait {
	struct loop *loop;
	int left;
};

static void on_done(int err, void *arg)
{
	struct wait *w = arg;
	assert_int_equal(err, 0);
	if (--w->left == 0)
		loop_stop(w->loop);
}

static void count_cb(const struct store_binding *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
}

/* Bindings written to the store come back with every field; expiry
 * deletes the row. */
static void test_store_round_trip(void **state)
{
	struct loop *loop;
	struct store *st;
	struct location *loc, *loc2;
	struct loc_binding *b;
	struct store_binding sb;
	char err[256];
	(void)state;

	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(store_open(&st, db_url, err, sizeof(err)), 0);
	assert_int_equal(store_attach(st, loop), 0);
	assert_int_equal(location_alloc(&loc, loop_timers(loop), st), 0);
	int64_t now = NOW - 1000000000; /* any clock: the store keeps what is given */
	struct loc_binding_spec s = spec("sip:alice@[2001:db8::7]:5062", now + 3600, 7);
	s.path = VIEW_LIT("<sip:pcscf.example.net;lr>");
	s.proto = TP_TCP;
	assert_int_equal(tp_addr_from_text(&s.source, VIEW_LIT("2001:db8::7"), 40000), 0);
	assert_int_equal(location_put(loc, VIEW_LIT("alice@example.com"), &s, now, &b), 0);
	location_binding_to_store(b, "test", &sb);
	assert_string_equal(sb.source, "tcp:[2001:db8::7]:40000");
	struct wait w = { loop, 1 };
	assert_int_equal(store_binding_put(st, &sb, on_done, &w), 0);
	assert_int_equal(loop_run(loop), 0);

	assert_int_equal(location_alloc(&loc2, loop_timers(loop), st), 0);
	size_t n = 0;
	assert_int_equal(location_load(loc2, now, &n), 0);
	assert_int_equal(n, 1);
	struct loc_aor *aor = location_find(loc2, VIEW_LIT("alice@example.com"));
	assert_non_null(aor);
	struct loc_binding *r = aor->head;
	assert_string_equal(loc_contact(r), "sip:alice@[2001:db8::7]:5062");
	assert_string_equal(loc_path(r), "<sip:pcscf.example.net;lr>");
	assert_string_equal(loc_instance(r), loc_instance(b));
	assert_int_equal(r->reg_id, 1);
	assert_int_equal(r->q, 500);
	assert_int_equal(r->cseq, 7);
	assert_int_equal(r->expires_at, now + 3600);
	assert_int_equal(r->proto, TP_TCP);
	struct tp_addr ra, ba;
	loc_source(r, &ra);
	loc_source(b, &ba);
	assert_true(tp_addr_equal(&ra, &ba));
	assert_string_equal(sb.user_agent, "test");
	location_free(loc2);
	location_free(loc);

	/* expired at load time: not loaded, and gone from the store */
	assert_int_equal(location_alloc(&loc2, loop_timers(loop), st), 0);
	assert_int_equal(location_load(loc2, now + 3600, &n), 0);
	assert_int_equal(n, 0);
	int rows = 0;
	assert_int_equal(store_binding_each(st, 0, count_cb, &rows), 0);
	assert_int_equal(rows, 0);
	location_free(loc2);
	store_close(st);
	loop_free(loop);
}

/* The user cache: HA1 per algorithm back in hex, domain case-insensitive,
 * user case-sensitive, reload replaces the whole table. */
static void test_users(void **state)
{
	struct users *u;
	struct store *st;
	struct store_user su;
	char err[256], ha1[DIGEST_HEX_MAX];
	(void)state;

	assert_int_equal(users_alloc(&u), 0);
	memset(&su, 0, sizeof(su));
	snprintf(su.user, sizeof(su.user), "Alice");
	snprintf(su.domain, sizeof(su.domain), "example.com");
	digest_ha1(DIGEST_MD5, VIEW_LIT("Alice"), VIEW_LIT("example.com"), VIEW_LIT("pw"), su.ha1_md5);
	digest_ha1(DIGEST_SHA256, VIEW_LIT("Alice"), VIEW_LIT("example.com"), VIEW_LIT("pw"),
		   su.ha1_sha256);
	digest_ha1(DIGEST_SHA512_256, VIEW_LIT("Alice"), VIEW_LIT("example.com"), VIEW_LIT("pw"),
		   su.ha1_sha512_256);
	assert_int_equal(users_put(u, &su), 0);
	assert_int_equal(users_ha1(u, VIEW_LIT("Alice"), VIEW_LIT("EXAMPLE.com"), DIGEST_MD5, ha1), 0);
	assert_string_equal(ha1, su.ha1_md5);
	assert_int_equal(users_ha1(u, VIEW_LIT("Alice"), VIEW_LIT("example.com"), DIGEST_SHA256, ha1),
			 0);
	assert_string_equal(ha1, su.ha1_sha256);
	assert_int_equal(
		users_ha1(u, VIEW_LIT("Alice"), VIEW_LIT("example.com"), DIGEST_SHA512_256, ha1), 0);
	assert_string_equal(ha1, su.ha1_sha512_256);
	assert_int_equal(users_ha1(u, VIEW_LIT("alice"), VIEW_LIT("example.com"), DIGEST_MD5, ha1),
			 ENOENT);
	assert_false(users_exists(u, VIEW_LIT("Alice"), VIEW_LIT("example.org")));

	/* a malformed HA1 is refused */
	snprintf(su.ha1_md5, sizeof(su.ha1_md5), "xyz");
	assert_int_equal(users_put(u, &su), EINVAL);

	assert_int_equal(store_open(&st, db_url, err, sizeof(err)), 0);
	snprintf(su.user, sizeof(su.user), "bob");
	digest_ha1(DIGEST_MD5, VIEW_LIT("bob"), VIEW_LIT("example.com"), VIEW_LIT("pw"), su.ha1_md5);
	assert_int_equal(store_user_put(st, &su, false), 0);
	assert_int_equal(users_load(u, st), 0);
	assert_int_equal(users_count(u), 1);
	assert_true(users_exists(u, VIEW_LIT("bob"), VIEW_LIT("example.com")));
	assert_false(users_exists(u, VIEW_LIT("Alice"), VIEW_LIT("example.com")));
	store_close(st);
	users_free(u);
}

/* The source of a binding as text, and the address formatting under it
 * (tp_addr_ip_string, tp_addr_hostport). */
static void test_source_text(void **state)
{
	struct tp_addr a;
	char out[64];
	(void)state;

	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT("192.0.2.255"), 5060), 0);
	location_source_text(TP_UDP, &a, out, sizeof(out));
	assert_string_equal(out, "udp:192.0.2.255:5060");
	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT("0.0.0.0"), 0), 0);
	location_source_text(TP_TCP, &a, out, sizeof(out));
	assert_string_equal(out, "tcp:0.0.0.0:0");
	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT("[2001:db8::1]"), 65535), 0);
	location_source_text(TP_TLS, &a, out, sizeof(out));
	assert_string_equal(out, "tls:[2001:db8::1]:65535");
	tp_addr_ip_string(&a, out, sizeof(out));
	assert_string_equal(out, "2001:db8::1");
	tp_addr_hostport(&a, out, sizeof(out));
	assert_string_equal(out, "[2001:db8::1]:65535");
	tp_addr_hostport(&a, out, 6);
	assert_string_equal(out, "[2001");
	/* cut to the room there is, still a C string */
	assert_int_equal(tp_addr_from_text(&a, VIEW_LIT("10.20.30.40"), 5060), 0);
	location_source_text(TP_UDP, &a, out, 8);
	assert_string_equal(out, "udp:10.");
	tp_addr_hostport(&a, out, sizeof(out));
	assert_string_equal(out, "10.20.30.40:5060");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_replace_remove),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_source_text),
		cmocka_unit_test_setup_teardown(test_store_round_trip, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_users, db_setup, db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
