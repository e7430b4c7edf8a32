/*
 * fuzz_uri.c - libFuzzer harness for the URI decoder and comparison
 * (src/sip/uri.h, RFC 3261 §19.1.4, RFC 3966 §4).
 *
 * Properties, each an abort() when broken:
 *   - a URI that decodes is equal to itself;
 *   - every view of a decoded URI lies inside the input;
 *   - equality is symmetric: the input is cut in two (at its first NUL
 *     byte, which is dropped, or else in the middle) and, when both halves
 *     decode, equal(a, b) == equal(b, a).
 * A corpus entry for the pair check holds "uri-a" NUL "uri-b".
 *
 * Every decode reads from a malloc'd buffer of exactly the bytes it is
 * given, so ASan sees a read one byte past the end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned fuzz_sink;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_uri: property broken: %s\n", what);
		abort();
	}
}

static void check_inside(struct view in, struct view v)
{
	unsigned sum = 0;

	if (v.p == NULL) {
		check(v.len == 0, "NULL view with a length");
		return;
	}
	check(v.p >= in.p && v.p + v.len <= in.p + in.len, "view outside the input");
	for (size_t i = 0; i < v.len; i++)
		sum += (unsigned char)v.p[i];
	fuzz_sink += sum;
}

/* Decode a private, exactly-sized copy of in; *copy must be freed. */
static bool decode(const uint8_t *p, size_t len, struct sip_uri *uri, char **copy)
{
	const char *reason = NULL;
	char unescaped[128];
	struct view value;

	*copy = malloc(len ? len : 1);
	if (*copy == NULL)
		abort();
	memcpy(*copy, p, len);
	struct view in = view_make(*copy, len);
	if (sip_uri_decode(uri, in, &reason) != 0) {
		check(reason != NULL, "no reason for a bad URI");
		return false;
	}
	check_inside(in, uri->raw);
	check_inside(in, uri->scheme_v);
	check_inside(in, uri->user);
	check_inside(in, uri->password);
	check_inside(in, uri->host);
	check_inside(in, uri->params);
	check_inside(in, uri->headers);
	check_inside(in, uri->opaque);
	(void)sip_uri_param(uri, "transport", &value);
	(void)sip_uri_param(uri, "user", &value);
	if (uri->user.p != NULL)
		(void)sip_unescape(uri->user, unescaped, sizeof(unescaped));
	check(sip_uri_equal(uri, uri), "URI not equal to itself");
	check(sip_uri_may_equal(uri->raw, uri), "sip_uri_may_equal rules out the URI itself");
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri whole, a, b;
	char *copy_whole, *copy_a, *copy_b;

	(void)decode(data, size, &whole, &copy_whole);
	free(copy_whole);

	const uint8_t *nul = memchr(data, 0, size);
	size_t a_len = nul ? (size_t)(nul - data) : size / 2;
	size_t b_off = nul ? a_len + 1 : a_len;
	bool a_ok = decode(data, a_len, &a, &copy_a);
	bool b_ok = decode(data + b_off, size - b_off, &b, &copy_b);
	if (a_ok && b_ok) {
		bool ab = sip_uri_equal(&a, &b);
		bool ba = sip_uri_equal(&b, &a);
		check(ab == ba, "sip_uri_equal is not symmetric");
		check(!ab || (sip_uri_may_equal(a.raw, &b) && sip_uri_may_equal(b.raw, &a)),
		      "sip_uri_may_equal rules out equal URIs");
		fuzz_sink += ab;
	}
	free(copy_a);
	free(copy_b);
	return 0;
}
