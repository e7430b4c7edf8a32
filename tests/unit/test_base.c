/*
 * test_base.c - unit tests for src/base: view, text, buf, obj, mem,
 * siphash, hashmap, log, random.
 *
 * Table-driven where the cases are data; a failing row names itself in the
 * message. Leaks are caught by running under ASan (LeakSanitizer). The
 * SipHash vectors are the reference outputs for key 00..0f and messages
 * 00, 00 01, ..., 00..3e; besides the paper's published values they were
 * cross-checked against an independent implementation (OpenSSL's SIPHASH
 * MAC with an 8-byte output).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include "base/buf.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/obj.h"
#include "base/random.h"
#include "base/siphash.h"
#include "base/text.h"
#include "base/view.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ view */

static void test_view_eq(void **state)
{
	/* automatic, so VIEW_LIT compound literals may initialise it */
	const struct {
		struct view a, b;
		bool eq, eq_nocase;
	} cases[] = {
		{ VIEW_LIT(""), VIEW_LIT(""), true, true },
		{ VIEW_LIT("INVITE"), VIEW_LIT("INVITE"), true, true },
		{ VIEW_LIT("INVITE"), VIEW_LIT("invite"), false, true },
		{ VIEW_LIT("Via"), VIEW_LIT("VIA"), false, true },
		{ VIEW_LIT("Via"), VIEW_LIT("Vi"), false, false },
		{ VIEW_LIT("Vi"), VIEW_LIT("Via"), false, false },
		{ VIEW_LIT("a"), VIEW_LIT(""), false, false },
		/* '@' and '[' sit next to A-Z, '`' and '{' next to a-z */
		{ VIEW_LIT("@"), VIEW_LIT("`"), false, false },
		{ VIEW_LIT("["), VIEW_LIT("{"), false, false },
		/* no case folding outside ASCII */
		{ VIEW_LIT("\xc3\x89"), VIEW_LIT("\xc3\xa9"), false, false },
		/* an embedded NUL is compared like any byte */
		{ VIEW_LIT("x\0y"), VIEW_LIT("x\0Y"), false, true },
		{ VIEW_LIT("x\0y"), VIEW_LIT("x\0z"), false, false },
		/* a prefix up to len only */
		{ view_make("abc", 2), VIEW_LIT("ab"), true, true },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct view a = cases[i].a, b = cases[i].b;

		if (view_eq(a, b) != cases[i].eq)
			fail_msg("row %zu: view_eq(\"%.*s\", \"%.*s\") != %d",
				 i, (int)a.len, a.p, (int)b.len, b.p,
				 cases[i].eq);
		if (view_eq_nocase(a, b) != cases[i].eq_nocase)
			fail_msg("row %zu: view_eq_nocase(\"%.*s\", \"%.*s\") "
				 "!= %d", i, (int)a.len, a.p, (int)b.len, b.p,
				 cases[i].eq_nocase);
		if (view_eq_nocase(b, a) != cases[i].eq_nocase)
			fail_msg("row %zu: view_eq_nocase not symmetric", i);
	}

	assert_true(view_eq_cstr(VIEW_LIT("REGISTER"), "REGISTER"));
	assert_false(view_eq_cstr(VIEW_LIT("REGISTER"), "register"));
	assert_true(view_eq_cstr_nocase(VIEW_LIT("REGISTER"), "register"));
	/* an empty view equals an absent one; only view_is_null tells */
	assert_true(view_eq(VIEW_NULL, VIEW_LIT("")));
	assert_true(view_is_null(view_from_cstr(NULL)));
	assert_false(view_is_null(view_from_cstr("")));
	assert_int_equal(view_from_cstr("abc").len, 3);
}

/* view_lower's table: A-Z lowered, every other byte itself; and the
 * literal comparisons (memcmp of a constant length) agree with view_eq. */
static void test_view_lower(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		unsigned want = c >= 'A' && c <= 'Z' ? c + 32 : c;
		if (view_lower((unsigned char)c) != want)
			fail_msg("byte 0x%02x lowered to 0x%02x", c, view_lower((unsigned char)c));
	}
	assert_true(view_eq_lit(VIEW_LIT("branch"), "branch"));
	assert_false(view_eq_lit(VIEW_LIT("Branch"), "branch"));
	assert_false(view_eq_lit(VIEW_LIT("branc"), "branch"));
	assert_false(view_eq_lit(VIEW_LIT("branchx"), "branch"));
	assert_true(view_eq_lit(VIEW_LIT(""), ""));
	assert_false(view_eq_lit(VIEW_NULL, "x"));
	assert_true(view_eq_lit(VIEW_NULL, ""));
	assert_true(view_eq_lit_nocase(VIEW_LIT("BrAnCh"), "branch"));
	assert_false(view_eq_lit_nocase(VIEW_LIT("br@nch"), "br`nch"));
}

static void test_view_trim(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "   ", "" },
		{ "\r\n", "" },
		{ "abc", "abc" },
		{ " abc ", "abc" },
		{ "\tabc\t", "abc" },
		{ "abc\r\n", "abc" },
		{ "\r\n abc", "abc" },
		/* folded LWS: CRLF followed by whitespace */
		{ " \r\n\t a b \r\n ", "a b" },
		{ "a \r\n b", "a \r\n b" },
		/* other control characters are not whitespace */
		{ "\vabc\f", "\vabc\f" },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct view in = view_from_cstr(cases[i].in);
		struct view out = view_trim(in);

		if (!view_eq_cstr(out, cases[i].out))
			fail_msg("row %zu: trim gave \"%.*s\", want \"%s\"", i,
				 (int)out.len, out.p, cases[i].out);
		/* the result points into the input */
		if (out.len > 0 &&
		    (out.p < in.p || out.p + out.len > in.p + in.len))
			fail_msg("row %zu: trim result outside the input", i);
	}
}

static void test_view_to_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t max;
		bool ok;
		uint64_t value;
	} cases[] = {
		{ "", UINT64_MAX, false, 0 },
		{ "0", UINT64_MAX, true, 0 },
		{ "00000", UINT64_MAX, true, 0 },
		{ "007", UINT64_MAX, true, 7 },
		{ "1234567890", UINT64_MAX, true, 1234567890 },
		{ "18446744073709551615", UINT64_MAX, true, UINT64_MAX },
		{ "018446744073709551615", UINT64_MAX, true, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, false, 0 },
		{ "18446744073709551620", UINT64_MAX, false, 0 },
		{ "99999999999999999999", UINT64_MAX, false, 0 },
		{ "184467440737095516150", UINT64_MAX, false, 0 },
		{ "70", 70, true, 70 },
		{ "71", 70, false, 0 },
		{ "100", 70, false, 0 },
		{ "0", 0, true, 0 },
		/* a single digit above a small max */
		{ "1", 0, false, 0 },
		{ "9", 5, false, 0 },
		{ "07", 5, false, 0 },
		{ "5", 5, true, 5 },
		{ "-1", UINT64_MAX, false, 0 },
		{ "+1", UINT64_MAX, false, 0 },
		{ " 1", UINT64_MAX, false, 0 },
		{ "1 ", UINT64_MAX, false, 0 },
		{ "12a", UINT64_MAX, false, 0 },
		{ "0x10", UINT64_MAX, false, 0 },
		{ "1.5", UINT64_MAX, false, 0 },
		{ "/", UINT64_MAX, false, 0 }, /* '0' - 1 */
		{ ":", UINT64_MAX, false, 0 }, /* '9' + 1 */
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint64_t out = 0xdeadbeef;
		bool ok = view_to_u64(view_from_cstr(cases[i].in),
				      cases[i].max, &out);

		if (ok != cases[i].ok)
			fail_msg("row %zu: view_to_u64(\"%s\", max %llu) "
				 "returned %d (value %llu), want %d",
				 i, cases[i].in,
				 (unsigned long long)cases[i].max, ok,
				 (unsigned long long)out, cases[i].ok);
		if (ok && out != cases[i].value)
			fail_msg("row %zu: value %llu, want %llu", i,
				 (unsigned long long)out,
				 (unsigned long long)cases[i].value);
		if (!ok && out != 0xdeadbeef)
			fail_msg("row %zu: out written on failure", i);
	}
	/* the view is not NUL-terminated: digits after len are not read */
	uint64_t v;
	assert_true(view_to_u64(view_make("123456", 3), UINT64_MAX, &v));
	assert_int_equal(v, 123);
}

/* ------------------------------------------------------------------- buf */

static void test_buf_growth(void **state)
{
	struct buf b;
	size_t reallocs = 0;
	size_t last_cap = 0;
	(void)state;

	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* an empty buffer still gives a present, empty view */
	assert_false(view_is_null(buf_view(&b)));
	assert_int_equal(buf_view(&b).len, 0);

	for (size_t i = 0; i < 100000; i++) {
		char c = (char)('a' + i % 26);

		assert_int_equal(buf_append(&b, &c, 1), 0);
		assert_true(b.len < b.cap);
		assert_int_equal(b.data[b.len], '\0');
		if (b.cap != last_cap) {
			reallocs++;
			/* geometric: each growth at least doubles */
			if (last_cap)
				assert_true(b.cap >= 2 * last_cap);
			last_cap = b.cap;
		}
	}
	assert_int_equal(b.len, 100000);
	assert_true(reallocs <= 12); /* 64 << 11 > 100000 */
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);

	/* reset keeps the storage */
	size_t cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "");

	/* reserve: room for extra bytes plus the NUL */
	assert_int_equal(buf_reserve(&b, cap), 0);
	assert_true(b.cap >= cap + 1);

	/* overflow is refused and changes nothing */
	assert_int_equal(buf_append_cstr(&b, "abc"), 0);
	cap = b.cap;
	assert_int_equal(buf_reserve(&b, SIZE_MAX), EMSGSIZE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 3), EMSGSIZE);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 2), EMSGSIZE);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "abc");

	buf_fini(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_fini(&b); /* twice is harmless */
}

static void test_buf_append(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_null(b.data); /* nothing to append allocates nothing */
	assert_int_equal(buf_append_cstr(&b, "SIP/2.0 "), 0);
	assert_int_equal(buf_append_view(&b, VIEW_LIT("200")), 0);
	assert_int_equal(buf_append_view(&b, VIEW_NULL), 0);
	assert_int_equal(buf_append(&b, " OK\0junk", 3), 0);
	assert_true(view_eq_cstr(buf_view(&b), "SIP/2.0 200 OK"));
	assert_string_equal(b.data, "SIP/2.0 200 OK");

	/* embedded NUL bytes are data */
	assert_int_equal(buf_append(&b, "\0z", 2), 0);
	assert_int_equal(b.len, 16);
	assert_memory_equal(b.data + 14, "\0z\0", 3);

	/* appending a piece of itself, across reallocations */
	buf_reset(&b);
	assert_int_equal(buf_append_cstr(&b, "ab"), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(buf_append(&b, b.data, b.len), 0);
	assert_int_equal(b.len, 2u << 12);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], i % 2 ? 'b' : 'a');

	/* strings to a NULL, grown once; an empty one adds nothing */
	buf_fini(&b);
	assert_int_equal(buf_append_strs(&b, "P-Associated-URI: <sip:", "alice@example.com", "",
					 ">\r\n", NULL), 0);
	assert_string_equal(b.data, "P-Associated-URI: <sip:alice@example.com>\r\n");
	assert_int_equal(b.cap, BUF_MIN_CAP); /* one allocation: 43 bytes and the NUL fit */
	assert_int_equal(buf_append_strs(&b, NULL), 0);
	assert_int_equal(b.len, 43);

	/* pieces in order, grown once to hold them all */
	char big[300];
	memset(big, 'x', sizeof(big));
	struct iovec iov[] = { { "INVITE ", 7 }, { big, sizeof(big) }, { NULL, 0 }, { "\r\n", 2 } };
	buf_fini(&b);
	assert_int_equal(buf_append_iov(&b, iov, ARRAY_LEN(iov)), 0);
	assert_int_equal(b.len, 7 + 300 + 2);
	/* one allocation of what is needed, rounded up to its block (mem.h) */
	assert_int_equal(b.cap, mem_block_size(7 + 300 + 2 + 1));
	assert_int_equal(b.cap, 384);
	assert_memory_equal(b.data, "INVITE xx", 9);
	assert_memory_equal(b.data + b.len - 3, "x\r\n", 4);
	/* a total that overflows leaves the buffer as it was */
	struct iovec huge[] = { { big, SIZE_MAX }, { big, 2 } };
	assert_int_equal(buf_append_iov(&b, huge, 2), EMSGSIZE);
	assert_int_equal(b.len, 309);
	buf_fini(&b);
}

static void test_buf_printf(void **state)
{
	static const struct {
		const char *prefix; /* already in the buffer */
		int number;
		const char *word;
		const char *want;
	} cases[] = {
		{ "", 0, "", "0:" },
		{ "", 486, "Busy Here", "486:Busy Here" },
		{ "SIP/2.0 ", 200, "OK", "SIP/2.0 200:OK" },
		{ "x", -1, "y", "x-1:y" },
	};
	struct buf b;
	(void)state;

	buf_init(&b);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		buf_reset(&b);
		assert_int_equal(buf_append_cstr(&b, cases[i].prefix), 0);
		assert_int_equal(buf_printf(&b, "%d:%s", cases[i].number,
					    cases[i].word), 0);
		if (!view_eq_cstr(buf_view(&b), cases[i].want))
			fail_msg("row %zu: \"%s\", want \"%s\"", i,
				 b.data ? b.data : "", cases[i].want);
	}

	/* output larger than the spare room: the slow path */
	buf_reset(&b);
	assert_int_equal(buf_append_cstr(&b, "<"), 0);
	assert_int_equal(buf_printf(&b, "%0*d>", 5000, 7), 0);
	assert_int_equal(b.len, 5002);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[4999], '0');
	assert_int_equal(b.data[5000], '7');
	assert_int_equal(b.data[5001], '>');
	assert_int_equal(b.data[5002], '\0');

	/* printf into a buffer that was never allocated */
	buf_fini(&b);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%u", 42u), 0);
	assert_string_equal(b.data, "42");
	buf_fini(&b);
}

/*
 * A conversion that fails: a wide character with no narrow form in the "C"
 * locale makes vsnprintf return -1 (EILSEQ). The buffer must be unchanged,
 * terminator included, even though vsnprintf wrote into the spare room.
 */
/* ------------------------------------------------------------------ text */

static void test_u64_format(void **state)
{
	static const uint64_t values[] = { 0, 7, 10, 65535, 4294967296ULL, UINT64_MAX };
	char got[VIEW_U64_DIGITS + 1], want[32];
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		size_t n = view_u64_format(values[i], got);
		got[n] = '\0';
		snprintf(want, sizeof(want), "%llu", (unsigned long long)values[i]);
		assert_string_equal(got, want);
	}
	/* and back */
	uint64_t back = 0;
	size_t n = view_u64_format(UINT64_MAX, got);
	assert_int_equal(n, VIEW_U64_DIGITS);
	assert_true(view_to_u64(view_make(got, n), UINT64_MAX, &back));
	assert_true(back == UINT64_MAX);
}

static void test_text(void **state)
{
	char out[24], want[64];
	struct text t;
	(void)state;

	text_init(&t, out, sizeof(out));
	assert_string_equal(out, "");
	text_cstr(&t, "SIP/2.0/");
	text_view(&t, VIEW_LIT("UDP x"));
	text_u64(&t, 5060);
	text_hex(&t, 0xbeefULL, 0);
	assert_string_equal(out, "SIP/2.0/UDP x5060beef");
	assert_int_equal(t.len, strlen(out));
	assert_int_equal(text_status(&t), 0);
	/* does not fit: dropped whole, the rest kept, and remembered */
	text_cstr(&t, "toolong");
	assert_string_equal(out, "SIP/2.0/UDP x5060beef");
	assert_int_equal(text_status(&t), EMSGSIZE);
	/* exactly full: 23 characters and the NUL */
	text_init(&t, out, sizeof(out));
	text_cstr(&t, "12345678901234567890123");
	assert_int_equal(text_status(&t), 0);
	assert_int_equal(t.len, 23);
	text_add(&t, "", 0);
	assert_int_equal(text_status(&t), 0);
	/* hex as printf writes it, padded or not */
	static const uint64_t hexes[] = { 0, 0xa, 0x123456789abcdefULL, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_LEN(hexes); i++) {
		text_init(&t, out, sizeof(out));
		text_hex(&t, hexes[i], 16);
		snprintf(want, sizeof(want), "%016llx", (unsigned long long)hexes[i]);
		assert_string_equal(out, want);
		text_init(&t, out, sizeof(out));
		text_hex(&t, hexes[i], 0);
		snprintf(want, sizeof(want), "%llx", (unsigned long long)hexes[i]);
		assert_string_equal(out, want);
	}
	/* a zero-sized array takes nothing */
	text_init(&t, out, 0);
	text_cstr(&t, "x");
	assert_int_equal(text_status(&t), EMSGSIZE);
}

static void test_buf_printf_error(void **state)
{
	static const wchar_t bad[] = { L'a', (wchar_t)0x20ac, 0 };
	struct buf b;
	(void)state;

	buf_init(&b);
	assert_int_equal(buf_append_cstr(&b, "keep"), 0);
	assert_int_equal(buf_printf(&b, "%ls", bad), EINVAL);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	buf_fini(&b);
}

/* buf_truncate keeps the terminating NUL (the invariant of buf.h) and
 * never grows a buffer. */
static void test_buf_truncate(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b);
	buf_truncate(&b, 0); /* nothing allocated: nothing to do */
	assert_null(b.data);
	buf_truncate(&b, 5);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_cstr(&b, "Via: a  "), 0);
	buf_truncate(&b, 6);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "Via: a");
	buf_truncate(&b, 100); /* past the end: unchanged */
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "Via: a");
	buf_truncate(&b, 0);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_fini(&b);
}

/* ------------------------------------------------------------------- obj */

struct counted {
	int destroyed; /* how often the destructor ran on this object */
	char payload[13];
};

static int destroy_calls;
static void *destroyed_ptr;

static void counted_destroy(void *arg)
{
	struct counted *c = arg;

	c->destroyed++;
	destroy_calls++;
	destroyed_ptr = arg;
	/* the memory is still valid while the destructor runs */
	assert_int_equal(c->payload[0], 'p');
}

static void test_obj_refcount(void **state)
{
	struct counted *c;
	(void)state;

	destroy_calls = 0;
	destroyed_ptr = NULL;
	c = obj_alloc(sizeof(*c), counted_destroy);
	assert_non_null(c);
	assert_int_equal((uintptr_t)c % alignof(max_align_t), 0);
	assert_int_equal(obj_refcount(c), 1);
	assert_int_equal(c->destroyed, 0);
	for (size_t i = 0; i < sizeof(c->payload); i++)
		assert_int_equal(c->payload[i], 0); /* zeroed */
	c->payload[0] = 'p';

	assert_ptr_equal(obj_ref(c), c);
	assert_ptr_equal(obj_ref(c), c);
	assert_int_equal(obj_refcount(c), 3);
	assert_null(obj_unref(c));
	assert_null(obj_unref(c));
	assert_int_equal(obj_refcount(c), 1);
	assert_int_equal(destroy_calls, 0);

	void *p = c;
	c = obj_unref(c);
	assert_null(c);
	assert_int_equal(destroy_calls, 1);
	assert_ptr_equal(destroyed_ptr, p);

	/* NULL-safe */
	assert_null(obj_ref(NULL));
	assert_null(obj_unref(NULL));
	assert_int_equal(obj_refcount(NULL), 0);
	assert_int_equal(destroy_calls, 1);
}

static void test_obj_alloc_edges(void **state)
{
	unsigned char *p;
	(void)state;

	/* no destructor, zero size */
	p = obj_alloc(0, NULL);
	assert_non_null(p);
	assert_int_equal(obj_refcount(p), 1);
	p = obj_unref(p);

	/* every size keeps max_align_t alignment */
	for (size_t size = 1; size < 100; size += 7) {
		p = obj_alloc(size, NULL);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 0xa5, size); /* ASan checks the bounds */
		p = obj_unref(p);
	}

	/* a size whose header would overflow */
	assert_null(obj_alloc(SIZE_MAX, NULL));
}

#define OBJ_THREADS 4
#define OBJ_THREAD_ROUNDS 100000

static void *obj_thread(void *arg)
{
	for (int i = 0; i < OBJ_THREAD_ROUNDS; i++) {
		obj_ref(arg);
		obj_unref(arg);
	}
	obj_unref(arg); /* the reference main took for this thread */
	return NULL;
}

/* Drops arg's reference; returns how many blocks this thread then caches. */
static void *obj_thread_unref(void *arg)
{
	obj_unref(arg);
	return (void *)(uintptr_t)mem_cached_blocks();
}

/* The count is atomic: concurrent ref/unref loses no update. */
static void test_obj_threads(void **state)
{
	pthread_t threads[OBJ_THREADS];
	struct counted *c;
	(void)state;

	destroy_calls = 0;
	c = obj_alloc(sizeof(*c), counted_destroy);
	assert_non_null(c);
	c->payload[0] = 'p';
	for (int i = 0; i < OBJ_THREADS; i++) {
		obj_ref(c);
		assert_int_equal(pthread_create(&threads[i], NULL, obj_thread,
						c), 0);
	}
	for (int i = 0; i < OBJ_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(obj_refcount(c), 1);
	assert_int_equal(destroy_calls, 0);
	c = obj_unref(c);
	assert_int_equal(destroy_calls, 1);
}

/* zalloc is calloc without calloc's bypass of the thread cache: zeroed,
 * and an overflowing product is refused rather than wrapped. */
static void test_zalloc(void **state)
{
	(void)state;
	for (size_t size = 1; size <= 4096; size *= 4) {
		/* dirty a block of this size first, so a reuse would show */
		unsigned char *d = malloc(size);
		assert_non_null(d);
		memset(d, 0xee, size);
		free(d);
		unsigned char *p = zalloc(size);
		assert_non_null(p);
		for (size_t i = 0; i < size; i++)
			assert_int_equal(p[i], 0);
		free(p);
	}
	uint32_t *a = zalloc_array(100, sizeof(uint32_t));
	assert_non_null(a);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(a[i], 0);
	free(a);
	assert_null(zalloc_array(SIZE_MAX / 2 + 1, 2));
	assert_null(zalloc_array(SIZE_MAX, SIZE_MAX));
}

/* Which sizes are blocks, and that a put of anything else frees. */
static void test_mem_blocks(void **state)
{
	static const struct {
		size_t size, block;
	} rows[] = {
		{ 0, 0 }, { 1, 0 }, { MEM_BLOCK_MIN, 0 }, { MEM_BLOCK_MIN + 1, 384 },
		{ 384, 384 }, { 385, 512 }, { 512, 512 }, { 513, 640 }, { 700, 768 },
		{ 800, 896 }, { 897, 1024 }, { 1024, 1024 }, { 1025, 2048 }, { 2048, 2048 }, { 2049, 4096 }, { 4096, 4096 }, { 4097, 8192 },
		{ MEM_BLOCK_MAX, MEM_BLOCK_MAX }, { MEM_BLOCK_MAX + 1, 0 }, { SIZE_MAX, 0 },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		if (mem_block_size(rows[i].size) != rows[i].block)
			fail_msg("row %zu: size %zu", i, rows[i].size);
	}
	assert_null(mem_block_get(100));  /* not a block size */
	assert_null(mem_block_get(20000));

	mem_cache_flush();
	size_t base = mem_cached_blocks();
	assert_int_equal(base, 0);
	mem_block_put(NULL, 2048);
	char *p = malloc(3000); /* malloc memory of a size that is no block */
	assert_non_null(p);
	mem_block_put(p, 3000);
	assert_int_equal(mem_cached_blocks(), base);
	p = mem_block_get(3000);
	assert_non_null(p);
	memset(p, 1, 4096); /* the whole block size is usable */
	base = mem_cached_blocks(); /* the get may have taken a cached one */
	mem_block_put(p, 4096);
	assert_int_equal(mem_cached_blocks(), base + 1);
	assert_ptr_equal(mem_block_get(2500), p);
	p = realloc(p, 20000); /* a block is malloc memory */
	assert_non_null(p);
	free(p);
	assert_int_equal(mem_cached_blocks(), base);

	/* mem_zalloc: zeroed, a block when the size has one */
	char *z = mem_zalloc(600);
	assert_non_null(z);
	for (size_t i = 0; i < 600; i++)
		assert_int_equal(z[i], 0);
	memset(z, 3, 640);
	base = mem_cached_blocks();
	mem_free(z, 600);
	assert_int_equal(mem_cached_blocks(), base + 1);
	char *z2 = mem_zalloc(520); /* the same class: the same block, zeroed */
	assert_ptr_equal(z2, z);
	for (size_t i = 0; i < 520; i++)
		assert_int_equal(z2[i], 0);
	mem_free(z2, 520);
	z = mem_zalloc(100); /* no block: zalloc, and free */
	assert_non_null(z);
	assert_int_equal(z[99], 0);
	mem_free(z, 100);
	mem_free(NULL, 600);
	assert_int_equal(mem_cached_blocks(), base + 1);
}

/* obj_alloc_room: the whole block after the header for a block size,
 * the size itself otherwise, and all of it writable. */
static void test_obj_alloc_room(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 200, 300, 600, 1500, 2000, 3000, 5000, 8000,
					20000 };
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		size_t size = sizes[i], room = obj_alloc_room(size);
		assert_true(room >= size);
		if (size <= 200 || size > MEM_BLOCK_MAX)
			assert_int_equal(room, size); /* malloc'd: nothing extra */
		char *p = obj_alloc_uninit(size, NULL);
		assert_non_null(p);
		memset(p, 7, room); /* ASan: every byte of the room is the object's */
		obj_unref(p);
	}
	assert_true(obj_alloc_room(300) > 300 && obj_alloc_room(300) < 384);
	assert_true(obj_alloc_room(600) > 600 && obj_alloc_room(600) < 640);
	assert_true(obj_alloc_room(1500) > 1500 && obj_alloc_room(1500) < 2048);
	assert_int_equal(obj_alloc_room(1500), obj_alloc_room(2000));
	assert_true(obj_alloc_room(3000) > 4000 && obj_alloc_room(3000) < 4096);
	assert_int_equal(obj_alloc_room(SIZE_MAX), SIZE_MAX);
}

static unsigned big_destroy_calls;

static void big_destroy(void *obj)
{
	(void)obj;
	big_destroy_calls++;
}

/* Uninitialised objects over 1 KB come from the thread's block cache: a
 * freed block is the next one handed out in its class, the cache holds at
 * most MEM_CACHE_DEPTH per class, and small or huge objects bypass it. */
static void test_obj_block_cache(void **state)
{
	enum { N = MEM_CACHE_DEPTH + 5 };
	unsigned char *objs[N];
	(void)state;

	mem_cache_flush();
	size_t base = mem_cached_blocks();
	assert_int_equal(base, 0);

	/* small and large objects never enter the cache */
	unsigned char *p = obj_alloc_uninit(100, NULL);
	assert_non_null(p);
	p = obj_unref(p);
	p = obj_alloc_uninit(100000, NULL);
	assert_non_null(p);
	memset(p, 0x5a, 100000);
	p = obj_unref(p);
	assert_int_equal(mem_cached_blocks(), base);

	/* a zeroed one is a block too, and comes back from the cache zeroed */
	p = obj_alloc(3000, NULL);
	assert_non_null(p);
	memset(p, 0x77, 3000);
	unsigned char *zeroed = p;
	p = obj_unref(p);
	assert_int_equal(mem_cached_blocks(), base + 1);
	p = obj_alloc(2500, NULL);
	assert_ptr_equal(p, zeroed);
	for (size_t i = 0; i < 2500; i++)
		assert_int_equal(p[i], 0);
	p = obj_unref(p);
	mem_cache_flush();
	base = mem_cached_blocks();
	assert_int_equal(base, 0);

	/* a freed block comes back for the next object of its class */
	big_destroy_calls = 0;
	p = obj_alloc_uninit(1500, big_destroy);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
	memset(p, 0xa5, 1500);
	unsigned char *first = p;
	base = mem_cached_blocks(); /* the alloc may have taken a cached one */
	p = obj_unref(p);
	assert_int_equal(big_destroy_calls, 1);
	assert_int_equal(mem_cached_blocks(), base + 1);
	p = obj_alloc_uninit(1900, big_destroy);
	assert_ptr_equal(p, first);
	assert_int_equal(mem_cached_blocks(), base);
	assert_int_equal(obj_refcount(p), 1);
	memset(p, 0x5a, 1900); /* the whole size is usable */
	p = obj_unref(p);
	assert_int_equal(big_destroy_calls, 2);

	/* another class does not take it */
	p = obj_alloc_uninit(3000, NULL);
	assert_ptr_not_equal(p, first);
	p = obj_unref(p);
	assert_int_equal(mem_cached_blocks(), base + 2);

	/* bounded: freeing more than the depth keeps only the depth */
	for (int i = 0; i < N; i++) {
		objs[i] = obj_alloc_uninit(5000, NULL);
		assert_non_null(objs[i]);
		memset(objs[i], i, 5000);
	}
	for (int i = 0; i < N; i++)
		objs[i] = obj_unref(objs[i]);
	assert_int_equal(mem_cached_blocks(), base + 2 + MEM_CACHE_DEPTH);
}

static void *cache_thread(void *arg)
{
	(void)arg;
	void *p[8];
	for (int i = 0; i < 8; i++) {
		p[i] = obj_alloc_uninit(1200 + 900 * (size_t)i, NULL);
		if (!p[i])
			return (void *)1;
	}
	for (int i = 0; i < 8; i++)
		obj_unref(p[i]);
	return mem_cached_blocks() == 8 ? NULL : (void *)1;
}

/* An object made on one thread and released on another goes to the
 * releasing thread's cache; a thread's cache goes when the thread ends. */
static void test_obj_block_cache_threads(void **state)
{
	pthread_t t;
	void *ret = (void *)1;
	(void)state;

	size_t drained = mem_blocks_drained();
	assert_int_equal(pthread_create(&t, NULL, cache_thread, NULL), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	assert_int_equal(mem_blocks_drained(), drained + 8); /* freed as it ended */

	void *p = obj_alloc_uninit(2500, NULL);
	assert_non_null(p);
	size_t base = mem_cached_blocks();
	assert_int_equal(pthread_create(&t, NULL, obj_thread_unref, p), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((uintptr_t)ret, 1);
	assert_int_equal(mem_cached_blocks(), base); /* not this thread's */
}

/* --------------------------------------------------------------- siphash */

/* Key 00 01 .. 0f, as the paper's k0/k1 words. */
static const struct siphash_key paper_key = {
	.k0 = 0x0706050403020100ULL,
	.k1 = 0x0f0e0d0c0b0a0908ULL,
};

/* SipHash-2-4 of the message 00 01 .. (len - 1), for len 0..63. */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
	0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
	0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
	0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
	0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
	0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
	0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
	0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
	0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
	0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
	0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
	0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
	0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
	0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
	0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
	0x958a324ceb064572ULL,
};

/* SipHash-1-3 of the same messages under the same key, low 32 bits: the
 * vectors of the Linux kernel's hsiphash self-test on 64-bit machines
 * (there hsiphash is SipHash-1-3 truncated to 32 bits). */
static const uint32_t sip13_low32_vectors[64] = {
	0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7,
	0x9bb11140, 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7,
	0xc0f95d34, 0x2a519956, 0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040,
	0x2b45f844, 0xa320872e, 0xdae6c123, 0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35,
	0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc, 0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e,
	0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392, 0x99e41531, 0x3f1ad944,
	0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd, 0xdf074c46,
	0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
	0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0,
	0xb7bbb3a8,
};

static void test_siphash13_vectors(void **state)
{
	uint8_t msg[64], shifted[65];
	(void)state;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	memcpy(shifted + 1, msg, sizeof(msg) - 1);
	for (size_t len = 0; len < ARRAY_LEN(sip13_low32_vectors); len++) {
		uint64_t h = siphash13(&paper_key, msg, len);

		if ((uint32_t)h != sip13_low32_vectors[len])
			fail_msg("len %zu: low 32 bits 0x%08x, want 0x%08x", len, (unsigned)(uint32_t)h,
				 (unsigned)sip13_low32_vectors[len]);
		if (siphash13_nocase(&paper_key, msg, len) != h)
			fail_msg("len %zu: nocase differs without letters", len);
		if (h == siphash24(&paper_key, msg, len))
			fail_msg("len %zu: 1-3 equals 2-4", len);
	}
	assert_int_equal(siphash13(&paper_key, NULL, 0), siphash13(&paper_key, msg, 0));
	assert_int_equal(siphash13(&paper_key, shifted + 1, 63), siphash13(&paper_key, msg, 63));
	assert_int_equal(siphash13_nocase(&paper_key, "Call-ID@HOST", 12),
			 siphash13(&paper_key, "call-id@host", 12));
	struct siphash_key other = paper_key;
	other.k0 ^= 1;
	assert_true(siphash13(&other, msg, 15) != siphash13(&paper_key, msg, 15));
}

static void test_siphash_vectors(void **state)
{
	uint8_t msg[64];
	(void)state;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (size_t len = 0; len < ARRAY_LEN(sip_vectors); len++) {
		uint64_t h = siphash24(&paper_key, msg, len);

		if (h != sip_vectors[len])
			fail_msg("len %zu: 0x%016llx, want 0x%016llx", len,
				 (unsigned long long)h,
				 (unsigned long long)sip_vectors[len]);
		/* bytes 00..3e hold no A-Z (41..5a): nocase agrees */
		if (siphash24_nocase(&paper_key, msg, len) != h)
			fail_msg("len %zu: nocase differs without letters",
				 len);
	}
	/* the empty message may come as NULL */
	assert_int_equal(siphash24(&paper_key, NULL, 0), sip_vectors[0]);
	assert_int_equal(siphash24_nocase(&paper_key, NULL, 0),
			 sip_vectors[0]);
	/* another key gives another hash */
	struct siphash_key other = paper_key;
	other.k1 ^= 1;
	assert_true(siphash24(&other, msg, 15) != sip_vectors[15]);
	/* unaligned input */
	uint8_t shifted[65];
	memcpy(shifted + 1, msg, 63);
	assert_int_equal(siphash24(&paper_key, shifted + 1, 63),
			 sip_vectors[63]);
}

static void lower_ascii(uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (uint8_t)(s[i] + 32);
	}
}

static void test_siphash_nocase(void **state)
{
	static const char *const cases[] = {
		"",
		"A",
		"Example.COM",
		"sip:Alice@Atlanta.EXAMPLE.com;transport=TCP",
		/* neighbours of the letter ranges stay as they are */
		"@[`{AZaz",
		"\xc3\x89T\xc3\x89", /* UTF-8: only the ASCII T folds */
		("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		 "abcdefghijklmnopqrstuvwxyz"),
	};
	uint8_t lowered[256];
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = strlen(cases[i]);

		memcpy(lowered, cases[i], len);
		lower_ascii(lowered, len);
		if (siphash24_nocase(&paper_key, cases[i], len) !=
		    siphash24(&paper_key, lowered, len))
			fail_msg("row %zu: nocase(\"%s\") != hash(lowered)", i,
				 cases[i]);
	}
	/* the fold is real: hashes of strings with capitals differ */
	assert_true(siphash24_nocase(&paper_key, "ABC", 3) !=
		    siphash24(&paper_key, "ABC", 3));
	assert_true(siphash24_nocase(&paper_key, "@", 1) !=
		    siphash24_nocase(&paper_key, "`", 1));

	/* every length up to 200, every byte value, fixed pseudo-random data */
	uint8_t raw[200];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(raw); i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = (uint8_t)(x >> 16);
	}
	for (size_t len = 0; len <= sizeof(raw); len++) {
		memcpy(lowered, raw, len);
		lower_ascii(lowered, len);
		assert_int_equal(siphash24_nocase(&paper_key, raw, len),
				 siphash24(&paper_key, lowered, len));
	}
}

/* --------------------------------------------------------------- hashmap */

struct item {
	struct hmap_node node;
	uint64_t key;
	unsigned seen; /* iteration visits */
	bool linked;
};

static bool item_match(const struct hmap_node *node, const void *arg)
{
	const struct item *it = HMAP_ENTRY(node, const struct item, node);

	return it->key == *(const uint64_t *)arg;
}

static uint64_t item_hash(const struct hmap *m, uint64_t key)
{
	return hmap_hash(m, &key, sizeof(key));
}

static struct item *item_find(struct hmap *m, uint64_t key)
{
	struct hmap_node *n = hmap_find(m, item_hash(m, key), item_match, &key);

	return n ? HMAP_ENTRY(n, struct item, node) : NULL;
}

/*
 * Checks every link of m against hashmap.c's encoding: bit 0 says whether
 * the target has a successor, bit 1 that bits 48-63 hold the top 16 bits
 * of the target's hash (always, for heap and stack addresses here).
 */
static void hmap_check_links(const struct hmap *m)
{
	const uintptr_t *tables[] = { m->table, m->old_table };
	const size_t sizes[] = { m->mask + 1, m->old_table ? m->old_mask + 1 : 0 };

	for (size_t t = 0; t < 2; t++) {
		for (size_t b = 0; b < sizes[t]; b++) {
			for (uintptr_t link = tables[t][b]; link; ) {
				const struct hmap_node *node = (const struct hmap_node *)(link &
					(((uintptr_t)1 << 48) - 1) & ~(uintptr_t)3);

				if ((link & 2) == 0 || (link >> 48) != (node->hash >> 48))
					fail_msg("bucket %zu: link %#jx not tagged with hash %#jx", b,
						 (uintmax_t)link, (uintmax_t)node->hash);
				if (((link & 1) != 0) != (node->next != 0))
					fail_msg("bucket %zu: link %#jx says more=%d, next %#jx", b,
						 (uintmax_t)link, (int)(link & 1),
						 (uintmax_t)node->next);
				link = node->next;
			}
		}
	}
}

/*
 * A search reads no node whose tag differs from the hash searched when
 * nothing follows it: such nodes live on a page made unreadable, so a read
 * would crash the test.
 */
static void test_hmap_tags(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	struct hmap m;
	struct item *x, y = { 0 }, z = { 0 };
	uint64_t key = 99;
	(void)state;

	char *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	assert_true(mem != MAP_FAILED);
	x = (struct item *)(void *)mem;
	*x = (struct item){ .key = 1 };
	y.key = 2;
	z.key = 3;
	assert_int_equal(hmap_init(&m, 8), 0);
	m.grow_at = SIZE_MAX; /* no rehash: only searches walk the chain */
	hmap_insert(&m, &x->node, 5 | (uint64_t)0x1111 << 48);
	hmap_insert(&m, &y.node, 5 | (uint64_t)0x2222 << 48); /* chain: y, x */
	hmap_check_links(&m);
	assert_int_equal(mprotect(mem, (size_t)page, PROT_NONE), 0);

	/* y is read (x follows it), x is not */
	assert_null(hmap_find(&m, 5 | (uint64_t)0x3333 << 48, item_match, &key));
	/* y found by its tag, x never reached */
	key = 2;
	assert_ptr_equal(hmap_find(&m, 5 | (uint64_t)0x2222 << 48, item_match, &key), &y.node);
	/* removing the head reads only the head */
	hmap_remove(&m, &y.node);
	key = 99;
	assert_null(hmap_find(&m, 5 | (uint64_t)0x3333 << 48, item_match, &key));
	hmap_insert(&m, &z.node, 5 | (uint64_t)0x4444 << 48); /* chain: z, x */
	assert_null(hmap_find(&m, 5 | (uint64_t)0x5555 << 48, item_match, &key));

	/* x removed from behind z: z's link loses its "more" flag */
	assert_int_equal(mprotect(mem, (size_t)page, PROT_READ | PROT_WRITE), 0);
	hmap_check_links(&m);
	hmap_remove(&m, &x->node);
	hmap_check_links(&m);
	assert_int_equal(m.table[5] & 1, 0);
	assert_int_equal(mprotect(mem, (size_t)page, PROT_NONE), 0);
	key = 3;
	assert_ptr_equal(hmap_find(&m, 5 | (uint64_t)0x4444 << 48, item_match, &key), &z.node);
	hmap_fini(&m);
	assert_int_equal(munmap(mem, (size_t)page), 0);
}

static void test_hmap_init(void **state)
{
	static const struct {
		size_t ask, buckets;
	} cases[] = {
		{ 0, HMAP_MIN_BUCKETS },
		{ 1, HMAP_MIN_BUCKETS },
		{ HMAP_MIN_BUCKETS, HMAP_MIN_BUCKETS },
		{ HMAP_MIN_BUCKETS + 1, 2 * HMAP_MIN_BUCKETS },
		{ 1000, 1024 },
		{ 1024, 1024 },
	};
	struct hmap m, m2;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		assert_int_equal(hmap_init(&m, cases[i].ask), 0);
		if (hmap_bucket_count(&m) != cases[i].buckets)
			fail_msg("row %zu: %zu buckets for %zu, want %zu", i,
				 hmap_bucket_count(&m), cases[i].ask,
				 cases[i].buckets);
		assert_int_equal(hmap_count(&m), 0);
		assert_false(hmap_is_rehashing(&m));
		hmap_fini(&m);
	}

	/* a table too large for memory is refused before allocating */
	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(hmap_init(&m, SIZE_MAX), ENOMEM);
	assert_int_equal(m.count, (size_t)0x5a5a5a5a5a5a5a5aULL);

	/* each map draws its own key (equal only with chance 2^-128) */
	assert_int_equal(hmap_init(&m, 0), 0);
	assert_int_equal(hmap_init(&m2, 0), 0);
	assert_true(m.key.k0 != m2.key.k0 || m.key.k1 != m2.key.k1);
	assert_int_equal(hmap_hash(&m, "abc", 3), siphash13(&m.key, "abc", 3));
	assert_true(hmap_hash(&m, "abc", 3) != hmap_hash(&m2, "abc", 3));
	assert_int_equal(hmap_hash_nocase(&m, "Example.COM", 11),
			 hmap_hash(&m, "example.com", 11));
	assert_true(hmap_hash(&m, "Example.COM", 11) !=
		    hmap_hash(&m, "example.com", 11));
	hmap_fini(&m);
	hmap_fini(&m2);
}

#define BIG_COUNT 100000

/*
 * 100000 nodes through every growth from 8 buckets: each insert is followed
 * by finds of old and new keys, many of them while a rehash is in progress;
 * then everything is found, and removed in an order unrelated to insertion.
 */
static void test_hmap_big(void **state)
{
	struct hmap m;
	struct item *items;
	size_t finds_while_rehashing = 0;
	size_t growths = 0;
	bool full_check_done = false;
	(void)state;

	items = calloc(BIG_COUNT, sizeof(*items));
	assert_non_null(items);
	assert_int_equal(hmap_init(&m, 0), 0);

	for (size_t i = 0; i < BIG_COUNT; i++) {
		size_t buckets = hmap_bucket_count(&m);

		items[i].key = i * 7919 + 1;
		hmap_insert(&m, &items[i].node, item_hash(&m, items[i].key));
		assert_int_equal(hmap_count(&m), i + 1);
		if (hmap_bucket_count(&m) != buckets) {
			growths++;
			assert_int_equal(hmap_bucket_count(&m), 2 * buckets);
		}
		bool rehashing = hmap_is_rehashing(&m);

		/* the new node, the first, the previous, a pseudo-random one */
		size_t probes[] = { i, 0, i ? i - 1 : 0,
				    (i * 40503) % (i + 1) };
		for (size_t k = 0; k < ARRAY_LEN(probes); k++) {
			struct item *got = item_find(&m, items[probes[k]].key);

			if (got != &items[probes[k]])
				fail_msg("after insert %zu: key of item %zu "
					 "not found", i, probes[k]);
		}
		if (rehashing)
			finds_while_rehashing += ARRAY_LEN(probes);
		/* a key never inserted is not found */
		assert_null(item_find(&m, 0));

		/* once, in a large rehash: every node is reachable */
		if (rehashing && !full_check_done && buckets >= 16384) {
			full_check_done = true;
			hmap_check_links(&m);
			for (size_t j = 0; j <= i; j++) {
				if (hmap_is_rehashing(&m))
					finds_while_rehashing++;
				if (item_find(&m, items[j].key) != &items[j])
					fail_msg("mid-rehash after %zu: "
						 "item %zu lost", i, j);
			}
		}
	}
	hmap_check_links(&m);
	/* 8 -> 131072 buckets */
	assert_int_equal(growths, 14);
	assert_true(full_check_done);
	assert_true(finds_while_rehashing > 10000);
	assert_true(hmap_count(&m) <= hmap_bucket_count(&m));

	for (size_t i = 0; i < BIG_COUNT; i++)
		assert_ptr_equal(item_find(&m, items[i].key), &items[i]);

	/* remove odd indexes, then even ones from the top down */
	size_t left = BIG_COUNT;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t n = 0; n < BIG_COUNT; n++) {
			size_t i = pass == 0 ? n : BIG_COUNT - 1 - n;

			if (i % 2 != (pass == 0 ? 1u : 0u))
				continue;
			hmap_remove(&m, &items[i].node);
			left--;
			assert_int_equal(hmap_count(&m), left);
			assert_null(item_find(&m, items[i].key));
			/* a neighbour still there is still found */
			size_t keep = pass == 0 ? i - 1 : 0;
			if (left > 0)
				assert_ptr_equal(item_find(&m, items[keep].key),
						 &items[keep]);
		}
	}
	assert_int_equal(hmap_count(&m), 0);
	hmap_check_links(&m);

	/* the map stays usable after emptying */
	hmap_insert(&m, &items[5].node, item_hash(&m, items[5].key));
	assert_ptr_equal(item_find(&m, items[5].key), &items[5]);
	hmap_fini(&m);
	free(items);
}

/*
 * Equal hashes are told apart only by the match callback; hashes that share
 * a bucket but differ are told apart by the stored hash.
 */
static void test_hmap_collisions(void **state)
{
	struct hmap m;
	struct item items[64];
	(void)state;

	memset(items, 0, sizeof(items));
	assert_int_equal(hmap_init(&m, 8), 0);
	for (size_t i = 0; i < 32; i++) {
		/* one full hash for all */
		items[i].key = i;
		hmap_insert(&m, &items[i].node, 42);
	}
	for (size_t i = 32; i < 64; i++) {
		/* same low bits (same bucket at any size here), other hash */
		items[i].key = i;
		hmap_insert(&m, &items[i].node, 42 | ((uint64_t)i << 40));
	}
	assert_int_equal(hmap_count(&m), 64);

	for (uint64_t k = 0; k < 64; k++) {
		uint64_t hash = k < 32 ? 42 : 42 | (k << 40);
		struct hmap_node *n = hmap_find(&m, hash, item_match, &k);

		assert_non_null(n);
		assert_int_equal(HMAP_ENTRY(n, struct item, node)->key, k);
		/* the right key under another hash is not found */
		uint64_t wrong = k < 32 ? 43 : 42;
		assert_null(hmap_find(&m, wrong, item_match, &k));
	}

	/* remove from the middle, head and tail of the shared chain */
	uint64_t gone[] = { 0, 15, 31, 40 };
	for (size_t i = 0; i < ARRAY_LEN(gone); i++) {
		hmap_remove(&m, &items[gone[i]].node);
		hmap_check_links(&m);
	}
	assert_int_equal(hmap_count(&m), 60);
	for (uint64_t k = 0; k < 64; k++) {
		uint64_t hash = k < 32 ? 42 : 42 | (k << 40);
		bool removed = k == 0 || k == 15 || k == 31 || k == 40;
		struct hmap_node *n = hmap_find(&m, hash, item_match, &k);

		if (removed)
			assert_null(n);
		else
			assert_ptr_equal(n, &items[k].node);
	}
	hmap_fini(&m);
}

/*
 * A map that cannot grow (as after failed allocations, or at the largest
 * size) keeps working at any load: simulated by moving the growth point
 * out of reach.
 */
static void test_hmap_no_growth(void **state)
{
	enum { N = 2000 };
	struct hmap m;
	struct hmap_iter it;
	struct item *items = calloc(N, sizeof(*items));
	size_t visits = 0;
	(void)state;

	assert_non_null(items);
	assert_int_equal(hmap_init(&m, 0), 0);
	m.grow_at = SIZE_MAX;
	for (size_t i = 0; i < N; i++) {
		items[i].key = i;
		hmap_insert(&m, &items[i].node, item_hash(&m, i));
	}
	assert_int_equal(hmap_bucket_count(&m), HMAP_MIN_BUCKETS);
	assert_false(hmap_is_rehashing(&m));
	assert_int_equal(hmap_count(&m), N);
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(item_find(&m, i), &items[i]);
	hmap_iter_init(&it, &m);
	while (hmap_iter_next(&it))
		visits++;
	assert_int_equal(visits, N);
	for (size_t i = 0; i < N; i += 2)
		hmap_remove(&m, &items[i].node);
	for (size_t i = 0; i < N; i++)
		assert_ptr_equal(item_find(&m, i), i % 2 ? &items[i] : NULL);
	hmap_fini(&m);
	free(items);
}

/* Inserts items until the map has just started a rehash. */
static size_t fill_until_rehashing(struct hmap *m, struct item *items,
				   size_t max)
{
	size_t i;

	for (i = 0; i < max; i++) {
		items[i].key = i;
		items[i].seen = 0;
		items[i].linked = true;
		hmap_insert(m, &items[i].node, item_hash(m, i));
		if (hmap_is_rehashing(m) && i > 1000)
			return i + 1;
	}
	return i;
}

static void test_hmap_iter(void **state)
{
	enum { MAX = 5000 };
	struct hmap m;
	struct hmap_iter it;
	struct hmap_node *n;
	struct item *items = calloc(MAX, sizeof(*items));
	size_t count, visits = 0;
	(void)state;

	assert_non_null(items);

	/* an empty map */
	assert_int_equal(hmap_init(&m, 0), 0);
	hmap_iter_init(&it, &m);
	assert_null(hmap_iter_next(&it));
	assert_null(hmap_iter_next(&it));

	/* a rehash in progress when the iteration starts */
	count = fill_until_rehashing(&m, items, MAX);
	assert_true(hmap_is_rehashing(&m));
	hmap_iter_init(&it, &m);
	while ((n = hmap_iter_next(&it)) != NULL) {
		struct item *item = HMAP_ENTRY(n, struct item, node);

		assert_true(item >= items && item < items + count);
		item->seen++;
		visits++;
		/* finds are allowed during iteration */
		assert_ptr_equal(item_find(&m, item->key), item);
	}
	assert_null(hmap_iter_next(&it)); /* stays at the end */
	assert_int_equal(visits, count);
	assert_int_equal(visits, hmap_count(&m));
	for (size_t i = 0; i < count; i++) {
		if (items[i].seen != 1)
			fail_msg("item %zu visited %u times", i, items[i].seen);
	}
	hmap_fini(&m);
	free(items);
}

/* Removing (and scribbling over) the node just returned is safe. */
static void test_hmap_iter_remove(void **state)
{
	enum { MAX = 5000 };
	struct hmap m;
	struct hmap_iter it;
	struct hmap_node *n;
	struct item *items = calloc(MAX, sizeof(*items));
	size_t count, removed = 0;
	(void)state;

	assert_non_null(items);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(hmap_init(&m, 0), 0);
		count = fill_until_rehashing(&m, items, MAX);
		assert_true(hmap_is_rehashing(&m));
		removed = 0;

		/* round 0 removes every third node, round 1 all of them */
		hmap_iter_init(&it, &m);
		while ((n = hmap_iter_next(&it)) != NULL) {
			struct item *item = HMAP_ENTRY(n, struct item, node);

			item->seen++;
			if (round == 1 || item->key % 3 == 0) {
				hmap_remove(&m, n);
				/* as a freed node would look */
				memset(n, 0xdb, sizeof(*n));
				item->linked = false;
				removed++;
			}
		}
		for (size_t i = 0; i < count; i++) {
			if (items[i].seen != 1)
				fail_msg("round %d: item %zu visited %u times",
					 round, i, items[i].seen);
			struct item *got = item_find(&m, i);
			assert_ptr_equal(got,
					 items[i].linked ? &items[i] : NULL);
		}
		assert_int_equal(hmap_count(&m), count - removed);
		hmap_check_links(&m);
		if (round == 1)
			assert_int_equal(hmap_count(&m), 0);

		/* a second pass sees exactly the survivors */
		size_t visits = 0;
		hmap_iter_init(&it, &m);
		while ((n = hmap_iter_next(&it)) != NULL) {
			assert_true(HMAP_ENTRY(n, struct item, node)->linked);
			visits++;
		}
		assert_int_equal(visits, count - removed);
		hmap_fini(&m);
	}
	free(items);
}

/* ------------------------------------------------------------------- log */

struct capture {
	int calls;
	enum log_level level;
	char line[2 * LOG_LINE_MAX];
};

static void capture_sink(enum log_level level, const char *line, void *arg)
{
	struct capture *cap = arg;

	cap->calls++;
	cap->level = level;
	snprintf(cap->line, sizeof(cap->line), "%s", line);
}

static int log_setup(void **state)
{
	(void)state;
	log_set_level(LOG_INFO);
	log_set_sink(NULL, NULL);
	return 0;
}

static void test_log_level_parse(void **state)
{
	static const struct {
		const char *name;
		bool ok;
		enum log_level level;
	} cases[] = {
		{ "error", true, LOG_ERROR },
		{ "warn", true, LOG_WARN },
		{ "info", true, LOG_INFO },
		{ "debug", true, LOG_DEBUG },
		{ "DEBUG", true, LOG_DEBUG },
		{ "Warn", true, LOG_WARN },
		{ "", false, LOG_ERROR },
		{ "warning", false, LOG_ERROR },
		{ "err", false, LOG_ERROR },
		{ "errors", false, LOG_ERROR },
		{ "info ", false, LOG_ERROR },
		{ "3", false, LOG_ERROR },
		{ NULL, false, LOG_ERROR },
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		enum log_level out = (enum log_level)77;
		bool ok = log_level_parse(cases[i].name, &out);

		if (ok != cases[i].ok)
			fail_msg("row %zu: parse(\"%s\") = %d", i,
				 cases[i].name ? cases[i].name : "(null)", ok);
		if (ok && out != cases[i].level)
			fail_msg("row %zu: level %d, want %d", i, (int)out,
				 (int)cases[i].level);
		if (!ok && (int)out != 77)
			fail_msg("row %zu: out written on failure", i);
	}
	/* names round-trip */
	for (int l = LOG_ERROR; l <= LOG_DEBUG; l++) {
		enum log_level out;

		assert_true(log_level_parse(log_level_name((enum log_level)l),
					    &out));
		assert_int_equal(out, l);
	}
	assert_string_equal(log_level_name((enum log_level)99), "?");

	log_set_level(LOG_DEBUG);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	log_set_level(LOG_ERROR);
	assert_int_equal(log_get_level(), LOG_ERROR);
	assert_true(log_level_enabled(LOG_ERROR));
	assert_false(log_level_enabled(LOG_WARN));
}

static int side_effect(int *n)
{
	return ++*n;
}

static void test_log_sink(void **state)
{
	struct capture cap = { 0 };
	int evaluated = 0;
	(void)state;

	log_set_sink(capture_sink, &cap);
	log_set_level(LOG_INFO);

	log_info("hello %d %s", 42, "world");
	assert_int_equal(cap.calls, 1);
	assert_int_equal(cap.level, LOG_INFO);
	assert_string_equal(cap.line, "hello 42 world");

	log_error("e");
	assert_int_equal(cap.calls, 2);
	assert_int_equal(cap.level, LOG_ERROR);
	log_warn("w");
	assert_int_equal(cap.calls, 3);
	assert_int_equal(cap.level, LOG_WARN);

	/* a disabled level neither formats, evaluates nor calls the sink */
	log_debug("%d", side_effect(&evaluated));
	assert_int_equal(evaluated, 0);
	assert_int_equal(cap.calls, 3);
	log_msg(LOG_DEBUG, "direct %d", 1);
	assert_int_equal(cap.calls, 3);

	log_set_level(LOG_DEBUG);
	log_debug("%d", side_effect(&evaluated));
	assert_int_equal(evaluated, 1);
	assert_int_equal(cap.calls, 4);
	assert_string_equal(cap.line, "1");

	log_set_level(LOG_ERROR);
	log_warn("w");
	log_info("i");
	assert_int_equal(cap.calls, 4);
	log_error("only errors");
	assert_int_equal(cap.calls, 5);
	assert_string_equal(cap.line, "only errors");

	log_set_sink(NULL, NULL);
	log_set_level(LOG_INFO);
}

static void test_log_escape(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a\r\nb", "a\\r\\nb" },
		{ "tab\tkept", "tab\tkept" },
		{ "esc\x1b[2J", "esc\\x1b[2J" },
		{ "del\x7f", "del\\x7f" },
		{ "\x01", "\\x01" },
		{ "utf8 \xc3\xa9", "utf8 \xc3\xa9" },
	};
	struct capture cap = { 0 };
	(void)state;

	log_set_sink(capture_sink, &cap);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		log_warn("%s", cases[i].text);
		if (strcmp(cap.line, cases[i].want) != 0)
			fail_msg("row %zu: \"%s\", want \"%s\"", i, cap.line,
				 cases[i].want);
	}

	/* long text is cut to LOG_LINE_MAX and marked */
	char *big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_warn("%s", big);
	size_t len = strlen(cap.line);
	assert_true(len < LOG_LINE_MAX);
	assert_true(len > LOG_LINE_MAX - 10);
	assert_string_equal(cap.line + len - 3, "...");

	/* escaping that does not fit is cut, never split mid-escape */
	memset(big, '\n', 4999);
	log_warn("%s", big);
	len = strlen(cap.line);
	assert_true(len < LOG_LINE_MAX);
	assert_string_equal(cap.line + len - 3, "...");
	assert_int_equal((len - 3) % 2, 0);
	for (size_t i = 0; i + 3 < len; i += 2)
		assert_memory_equal(cap.line + i, "\\n", 2);
	free(big);
	log_set_sink(NULL, NULL);
}

static bool is_digit_at(const char *s, const char *positions)
{
	for (; *positions; positions++) {
		char c = s[*positions - 'a'];
		if (c < '0' || c > '9')
			return false;
	}
	return true;
}

/* Without a sink a line goes to stderr: timestamp, level word, text. */
static void test_log_stderr(void **state)
{
	FILE *tmp = tmpfile();
	char line[256] = { 0 };
	int saved;
	(void)state;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	log_set_sink(NULL, NULL);
	log_warn("from %s:%d\r\n", "192.0.2.1", 5060);
	log_debug("not shown");
	log_error("second");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);

	rewind(tmp);
	/* 2024-05-01T12:34:56.789Z WARN  from 192.0.2.1:5060\r\n */
	assert_non_null(fgets(line, sizeof(line), tmp));
	assert_int_equal(strlen(line), 24 + 7 + 23 + 1);
	/* digit offsets as letters: a=0, b=1, ... */
	assert_true(is_digit_at(line, "abcdfgijlmoprsuvw"));
	assert_int_equal(line[4], '-');
	assert_int_equal(line[7], '-');
	assert_int_equal(line[10], 'T');
	assert_int_equal(line[13], ':');
	assert_int_equal(line[16], ':');
	assert_int_equal(line[19], '.');
	assert_int_equal(line[23], 'Z');
	assert_string_equal(line + 24, " WARN  from 192.0.2.1:5060\\r\\n\n");
	assert_non_null(fgets(line, sizeof(line), tmp));
	assert_string_equal(line + 24, " ERROR second\n");
	assert_null(fgets(line, sizeof(line), tmp));
	fclose(tmp);
}

static void test_log_ratelimit(void **state)
{
	static const struct {
		uint64_t now_ms;
		bool allow;
		unsigned suppressed; /* counter after the call */
	} steps[] = {
		/* burst 3 per 1000 ms window, from a zeroed struct */
		{ 0, true, 0 },
		{ 1, true, 0 },
		{ 2, true, 0 },
		{ 3, false, 1 },
		{ 500, false, 2 },
		{ 999, false, 3 },
		/* a new window at 1000 ms; the count carries over */
		{ 1000, true, 3 },
		{ 1001, true, 3 },
		{ 1001, true, 3 },
		{ 1002, false, 4 },
		/* a quiet gap: the window starts at the next message */
		{ 5000, true, 4 },
		{ 5999, true, 4 },
		{ 5999, true, 4 },
		{ 5999, false, 5 },
		{ 6000, true, 5 },
		/* the clock going back starts a new window too */
		{ 100, true, 5 },
	};
	struct log_ratelimit rl = { 0 };
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		bool allow = log_ratelimit_allow(&rl, steps[i].now_ms, 3, 1000);

		if (allow != steps[i].allow)
			fail_msg("step %zu (t=%llu): allow %d, want %d", i,
				 (unsigned long long)steps[i].now_ms, allow,
				 steps[i].allow);
		if (rl.suppressed != steps[i].suppressed)
			fail_msg("step %zu: suppressed %u, want %u", i,
				 rl.suppressed, steps[i].suppressed);
	}
	assert_int_equal(log_ratelimit_take_suppressed(&rl), 5);
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(log_ratelimit_take_suppressed(&rl), 0);

	/* burst 0 refuses everything and counts it */
	struct log_ratelimit none = { 0 };
	for (int i = 0; i < 10; i++)
		assert_false(log_ratelimit_allow(&none, (uint64_t)i * 5000, 0,
						 1000));
	assert_int_equal(log_ratelimit_take_suppressed(&none), 10);

	/* the suppressed counter saturates */
	struct log_ratelimit full = { .suppressed = UINT_MAX - 1 };
	full.window_start_ms = 10;
	full.count = 1;
	assert_false(log_ratelimit_allow(&full, 11, 1, 1000));
	assert_false(log_ratelimit_allow(&full, 12, 1, 1000));
	assert_int_equal(full.suppressed, UINT_MAX);
}

/* ---------------------------------------------------------------- random */

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

static void test_random(void **state)
{
	enum { BIG = 1 << 20 };
	unsigned char a[64] = { 0 }, b[64] = { 0 };
	unsigned char *big;
	uint64_t x = 0, y = 0;
	(void)state;

	assert_int_equal(random_bytes(a, 0), 0);
	assert_true(all_zero(a, sizeof(a)));
	assert_int_equal(random_bytes(a, sizeof(a)), 0);
	assert_int_equal(random_bytes(b, sizeof(b)), 0);
	/* 512 random bits: all zero or equal only with chance 2^-512 */
	assert_false(all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, sizeof(a));

	/* above 256 bytes getrandom may return short: the loop fills all */
	big = calloc(1, BIG);
	assert_non_null(big);
	assert_int_equal(random_bytes(big, BIG), 0);
	assert_false(all_zero(big + BIG - 64, 64));
	assert_false(all_zero(big + BIG / 2, 64));
	free(big);

	assert_int_equal(random_u64(&x), 0);
	assert_int_equal(random_u64(&y), 0);
	assert_true(x != y);
}

/* Small draws come from a per-thread pool: across several refills no
 * 16-byte draw repeats (each byte is handed out once). */
static void test_random_pool_draws_differ(void **state)
{
	enum { DRAWS = 100, LEN = 16 };
	static unsigned char d[DRAWS][LEN];
	(void)state;

	for (unsigned i = 0; i < DRAWS; i++) {
		assert_int_equal(random_bytes(d[i], LEN), 0);
		assert_false(all_zero(d[i], LEN));
	}
	for (unsigned i = 0; i < DRAWS; i++) {
		for (unsigned j = i + 1; j < DRAWS; j++)
			assert_memory_not_equal(d[i], d[j], LEN);
	}
}

/* A forked child must not reuse the bytes left in its parent's pool. */
static void test_random_pool_fork(void **state)
{
	unsigned char first[8], mine[16], child[16] = { 0 };
	int fds[2], status;
	pid_t pid;
	(void)state;

	assert_int_equal(random_bytes(first, sizeof(first)), 0); /* pool filled */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char c[16];
		if (random_bytes(c, sizeof(c)) != 0 || write(fds[1], c, sizeof(c)) != sizeof(c))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(random_bytes(mine, sizeof(mine)), 0);
	assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_memory_not_equal(mine, child, sizeof(mine));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_eq),
		cmocka_unit_test(test_view_lower),
		cmocka_unit_test(test_view_trim),
		cmocka_unit_test(test_view_to_u64),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_u64_format),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_printf_error),
		cmocka_unit_test(test_buf_truncate),
		cmocka_unit_test(test_obj_refcount),
		cmocka_unit_test(test_obj_alloc_edges),
		cmocka_unit_test(test_obj_threads),
		cmocka_unit_test(test_obj_block_cache),
		cmocka_unit_test(test_zalloc),
		cmocka_unit_test(test_mem_blocks),
		cmocka_unit_test(test_obj_alloc_room),
		cmocka_unit_test(test_obj_block_cache_threads),
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_siphash13_vectors),
		cmocka_unit_test(test_siphash_nocase),
		cmocka_unit_test(test_hmap_init),
		cmocka_unit_test(test_hmap_tags),
		cmocka_unit_test(test_hmap_big),
		cmocka_unit_test(test_hmap_collisions),
		cmocka_unit_test(test_hmap_no_growth),
		cmocka_unit_test(test_hmap_iter),
		cmocka_unit_test(test_hmap_iter_remove),
		cmocka_unit_test_setup(test_log_level_parse, log_setup),
		cmocka_unit_test_setup(test_log_sink, log_setup),
		cmocka_unit_test_setup(test_log_escape, log_setup),
		cmocka_unit_test_setup(test_log_stderr, log_setup),
		cmocka_unit_test(test_log_ratelimit),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_random_pool_draws_differ),
		cmocka_unit_test(test_random_pool_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
