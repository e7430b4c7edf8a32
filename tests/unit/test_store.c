/*
 * test_store.c - the SQLite store: schema, subscribers, streamed import,
 * data_version across connections, bindings through the writer thread and
 * a real loop (group commit), expiry in each().
 */
#include <errno.h>
#include <pthread.h>
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
#include "store/store.h"
#include "tmpdb.h"


static struct store *open_db(void)
{
	struct store *s = NULL;
	char err[256] = "";
	assert_int_equal(store_open(&s, db_url, err, sizeof(err)), 0);
	return s;
}

static void make_user(struct store_user *u, const char *user, const char *domain)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->user, sizeof(u->user), "%s", user);
	snprintf(u->domain, sizeof(u->domain), "%s", domain);
	snprintf(u->ha1_md5, sizeof(u->ha1_md5), "%032x", 1);
	snprintf(u->ha1_sha256, sizeof(u->ha1_sha256), "%064x", 2);
	snprintf(u->ha1_sha512_256, sizeof(u->ha1_sha512_256), "%064x", 3);
}

static void test_bad_url(void **state)
{
	struct store *s = NULL;
	char err[256] = "";
	(void)state;
	assert_int_equal(store_open(&s, "mysql://x", err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "unsupported database URL"));
	assert_null(s);
}

static void count_cb(const struct store_user *u, void *arg)
{
	(void)u;
	(*(int *)arg)++;
}

static void test_users(void **state)
{
	struct store_user u, got;
	int n = 0;
	(void)state;
	struct store *s = open_db();
	make_user(&u, "100", "example.com");
	assert_int_equal(store_user_put(s, &u, false), 0);
	assert_int_equal(store_user_put(s, &u, false), EEXIST);
	assert_int_equal(store_user_put(s, &u, true), 0);
	make_user(&u, "101", "example.com");
	assert_int_equal(store_user_put(s, &u, false), 0);
	assert_int_equal(store_user_count(s), 2);
	assert_int_equal(store_user_get(s, "100", "example.com", &got), 0);
	assert_string_equal(got.ha1_md5, u.ha1_md5);
	assert_int_equal(store_user_get(s, "102", "example.com", &got), ENOENT);
	assert_int_equal(store_user_each(s, count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_user_del(s, "101", "example.com"), 0);
	assert_int_equal(store_user_del(s, "101", "example.com"), ENOENT);
	store_close(s);
	/* reopen keeps data */
	s = open_db();
	assert_int_equal(store_user_count(s), 1);
	assert_int_equal(store_user_get(s, "100", "example.com", &got), 0);
	store_close(s);
}

static void test_import(void **state)
{
	struct store_user users[3];
	(void)state;
	struct store *s = open_db();
	make_user(&users[0], "a", "example.com");
	make_user(&users[1], "b", "example.com");
	make_user(&users[2], "a", "example.com");
	assert_int_equal(store_user_import(s, users, 3), EEXIST);
	assert_int_equal(store_user_count(s), 0);
	assert_int_equal(store_user_import(s, users, 2), 0);
	assert_int_equal(store_user_count(s), 2);
	/* existing users are replaced */
	assert_int_equal(store_user_import(s, users, 2), 0);
	assert_int_equal(store_user_count(s), 2);
	store_close(s);
}

static void test_data_version(void **state)
{
	struct store_user u;
	(void)state;
	struct store *a = open_db(), *b = open_db();
	uint64_t v = store_data_version(a);
	make_user(&u, "200", "example.com");
	assert_int_equal(store_user_put(b, &u, false), 0);
	assert_true(store_data_version(a) != v);
	store_close(a);
	store_close(b);
}

/* users_rev moves with every subscriber change of any connection, and
 * not with binding writes. */
static void test_users_rev(void **state)
{
	struct store_user u;
	struct loop *loop;
	struct store_binding b;
	(void)state;
	struct store *a = open_db(), *b2 = open_db();
	uint64_t v0 = store_users_rev(a);
	make_user(&u, "300", "example.com");
	assert_int_equal(store_user_put(b2, &u, false), 0);
	uint64_t v1 = store_users_rev(a);
	assert_true(v1 > v0);
	assert_int_equal(store_user_put(b2, &u, true), 0);
	uint64_t v2 = store_users_rev(a);
	assert_true(v2 > v1);
	assert_int_equal(store_user_del(b2, "300", "example.com"), 0);
	uint64_t v3 = store_users_rev(a);
	assert_true(v3 > v2);
	assert_int_equal(store_users_rev(a), v3);

	/* a binding write is not a subscriber change */
	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(store_attach(b2, loop), 0);
	memset(&b, 0, sizeof(b));
	snprintf(b.aor, sizeof(b.aor), "300@example.com");
	snprintf(b.contact, sizeof(b.contact), "sip:300@192.0.2.1");
	b.expires_at = 4000000000;
	assert_int_equal(store_binding_put(b2, &b, NULL, NULL), 0);
	store_close(b2);
	assert_int_equal(store_users_rev(a), v3);
	store_close(a);
	loop_free(loop);
}

struct done_count {
	struct loop *loop;
	int done, want, errors;
};

static void on_done(int err, void *arg)
{
	struct done_count *d = arg;
	if (err)
		d->errors++;
	if (++d->done == d->want)
		loop_stop(d->loop);
}

static void binding_cb(const struct store_binding *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
}

static void make_binding(struct store_binding *b, const char *aor, int i, int64_t expires_at)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->aor, sizeof(b->aor), "%s", aor);
	snprintf(b->contact, sizeof(b->contact), "sip:%d@192.0.2.1:5060", i);
	b->q = 1000;
	b->expires_at = expires_at;
	snprintf(b->source, sizeof(b->source), "udp:192.0.2.1:5060");
}

static void test_bindings(void **state)
{
	struct loop *loop;
	struct store_binding b;
	struct done_count d = { 0 };
	int n = 0;
	(void)state;
	struct store *s = open_db();
	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(store_attach(s, loop), 0);
	d.loop = loop;
	d.want = 1000 + 3;
	for (int i = 0; i < 1000; i++) {
		make_binding(&b, i % 2 ? "odd@example.com" : "even@example.com", i, 4000000000);
		assert_int_equal(store_binding_put(s, &b, on_done, &d), 0);
	}
	/* filled in place and queued without a copy; an invalid one is refused and freed */
	struct store_binding *own = store_binding_new();
	assert_non_null(own);
	make_binding(own, "own@example.com", 7, 4000000000);
	assert_int_equal(store_binding_queue(s, own, on_done, &d), 0);
	own = store_binding_new();
	assert_non_null(own);
	make_binding(own, "", 8, 4000000000);
	assert_int_equal(store_binding_queue(s, own, on_done, &d), EINVAL);
	assert_int_equal(store_binding_del(s, "odd@example.com", "sip:1@192.0.2.1:5060", on_done, &d), 0);
	assert_int_equal(store_binding_del_aor(s, "even@example.com", on_done, &d), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(d.done, d.want);
	assert_int_equal(d.errors, 0);
	assert_int_equal(store_binding_each(s, 0, binding_cb, &n), 0);
	assert_int_equal(n, 500); /* 499 odd ones left, and own@ */
	store_close(s);
	loop_free(loop);

	/* on disk; each() drops the expired ones */
	s = open_db();
	n = 0;
	assert_int_equal(store_binding_each(s, 4000000000, binding_cb, &n), 0);
	assert_int_equal(n, 0);
	store_close(s);
}

/* ---- a loop reuses the ops of delivered writes ------------------------ */

struct reuse {
	struct store *s;
	struct done_count d;
	struct store_binding *first, *again;
};

static void on_first(int err, void *arg)
{
	on_done(err, &((struct reuse *)arg)->d);
}

/* Delivered after the first: the first op went back to this thread's block
 * list, and the next binding made on the loop's thread is that op again. */
static void on_second(int err, void *arg)
{
	struct reuse *r = arg;

	on_done(err, &r->d);
	r->again = store_binding_new();
	assert_non_null(r->again);
	make_binding(r->again, "again@example.com", 3, 4000000000);
	assert_int_equal(store_binding_queue(r->s, r->again, on_done, &r->d), 0);
}

static void test_op_reuse(void **state)
{
	struct reuse r = { 0 };
	struct loop *loop;
	size_t n = 0;
	(void)state;

	r.s = open_db();
	assert_int_equal(loop_alloc(&loop), 0);
	assert_int_equal(store_attach(r.s, loop), 0);
	r.d.loop = loop;
	r.d.want = 3;
	r.first = store_binding_new();
	assert_non_null(r.first);
	make_binding(r.first, "first@example.com", 1, 4000000000);
	struct store_binding *second = store_binding_new();
	assert_non_null(second);
	make_binding(second, "second@example.com", 2, 4000000000);
	assert_int_equal(store_binding_queue(r.s, r.first, on_first, &r), 0);
	assert_int_equal(store_binding_queue(r.s, second, on_second, &r), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(r.d.done, 3);
	assert_int_equal(r.d.errors, 0);
	assert_ptr_equal(r.again, r.first);
	assert_int_equal(store_binding_each(r.s, 0, binding_cb, &n), 0);
	assert_int_equal(n, 3);
	store_close(r.s);
	loop_free(loop);
}

/* ---- two loops: each gets its own completions ------------------------- */

#define SIDE_PUTS 200

struct side {
	struct done_count d; /* d.loop: the side's loop */
	struct store *s;
	pthread_t thread;
	const char *aor;
	int wrong_thread;
};

static void side_done(int err, void *arg)
{
	struct side *sd = arg;

	if (!pthread_equal(pthread_self(), sd->thread))
		sd->wrong_thread++;
	on_done(err, &sd->d);
}

/* Runs on the side's loop (a deferred call): loop_current() is its loop. */
static void side_queue(void *arg)
{
	struct side *sd = arg;
	struct store_binding b;

	for (int i = 0; i < SIDE_PUTS; i++) {
		make_binding(&b, sd->aor, i, 4000000000);
		if (store_binding_put(sd->s, &b, side_done, sd) != 0)
			sd->d.errors++;
	}
}

static void *side_main(void *arg)
{
	struct side *sd = arg;
	sd->thread = pthread_self();
	(void)loop_run(sd->d.loop);
	return NULL;
}

/* Two loops on two threads share one store (one writer): every write's
 * done() runs on the thread of the loop that queued it. */
static void test_two_loops(void **state)
{
	struct side a = { .d.want = SIDE_PUTS, .aor = "a@example.com" },
		    b = { .d.want = SIDE_PUTS, .aor = "b@example.com" };
	pthread_t th;
	int n = 0;
	(void)state;
	struct store *s = open_db();

	a.s = b.s = s;
	assert_int_equal(loop_alloc(&a.d.loop), 0);
	assert_int_equal(loop_alloc(&b.d.loop), 0);
	assert_int_equal(store_attach(s, a.d.loop), 0);
	assert_int_equal(store_attach(s, b.d.loop), 0);
	assert_int_equal(store_attach(s, b.d.loop), EINVAL); /* once per loop */
	assert_int_equal(loop_defer(a.d.loop, side_queue, &a), 0);
	assert_int_equal(loop_defer(b.d.loop, side_queue, &b), 0);
	a.thread = pthread_self();
	assert_int_equal(pthread_create(&th, NULL, side_main, &b), 0);
	assert_int_equal(loop_run(a.d.loop), 0);
	pthread_join(th, NULL);
	assert_int_equal(a.d.done, SIDE_PUTS);
	assert_int_equal(b.d.done, SIDE_PUTS);
	assert_int_equal(a.d.errors + b.d.errors, 0);
	assert_int_equal(a.wrong_thread + b.wrong_thread, 0);
	assert_int_equal(store_binding_each(s, 0, binding_cb, &n), 0);
	assert_int_equal(n, 2 * SIDE_PUTS);
	store_close(s);
	loop_free(a.d.loop);
	loop_free(b.d.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_url, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_users, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_import, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_data_version, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_users_rev, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_bindings, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_op_reuse, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_two_loops, db_setup, db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
