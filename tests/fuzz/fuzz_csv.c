/*
 * fuzz_csv.c - libFuzzer harness for the rows of `sipd user import`, and
 * the user names and passwords of `sipd user add` (src/app/csv.h).
 *
 * The input is an import file: it is cut into lines as getline() cuts
 * them (each with its '\n', the last one perhaps without), and each line,
 * copied into a buffer of exactly its length, goes through
 * csv_row_decode() with its line number, as `user import` reads it. The
 * whole input is also given to csv_name_parse() and csv_password_problem()
 * as `user add` would take it from argv. Nothing is hashed or stored: no
 * database is opened.
 *
 * Properties, per row:
 *   - the verdict is one of enum csv_row; a bad row's message is one
 *     non-empty line of printable ASCII;
 *   - the message never shows the password: the same line with every
 *     printable password byte changed (to another printable byte that is
 *     not a space) gets the same verdict and the same message;
 *   - an accepted row has a user of 1 to CSV_USER_MAX bytes, a lower-case
 *     domain, and a password of 1 to CSV_PASSWORD_MAX printable bytes that
 *     lies inside the line; "sip:USER@DOMAIN" decodes as a SIP URI with
 *     that user and host (a stored user must be one a REGISTER can name);
 *   - round trip: "USER@DOMAIN,PASSWORD\n" decodes to the same row.
 * A broken property calls abort() so libFuzzer records the input.
 *
 * The input is copied into a malloc'd buffer of exactly its size: an
 * over-read by one byte is an ASan report. Built with replay.c instead of
 * libFuzzer, the same function replays the corpus as a test.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "app/csv.h"
#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DOMAIN "example.com" /* the default domain: a USER without @DOMAIN */
#define FUZZ_WHY_MAX 1024         /* as cli.c's message buffer */
#define FUZZ_URI_MAX (4 + CSV_USER_MAX + 1 + STORE_DOMAIN_MAX)

struct row {
	enum csv_row kind;
	struct store_user u;
	struct view password;
	char why[FUZZ_WHY_MAX];
};

#define check(ok, what) fuzz_check((ok), "fuzz_csv", (what))
#define xmalloc fuzz_xmalloc

/* One non-empty line of printable ASCII. */
static bool one_line(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void row_decode(const char *line, size_t n, unsigned long line_number, struct row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = csv_row_decode(line, n, line_number, FUZZ_DOMAIN, &r->u, &r->password, r->why,
				 sizeof(r->why));
	check(r->kind == CSV_ROW_SKIP || r->kind == CSV_ROW_OK || r->kind == CSV_ROW_BAD,
	      "verdict outside enum csv_row");
	if (r->kind == CSV_ROW_BAD)
		check(one_line(r->why), "message is not one line of printable ASCII");
}

/* "sip:USER@DOMAIN" decodes with that user and host. */
static void check_uri(const struct store_user *u)
{
	char text[FUZZ_URI_MAX];
	struct sip_uri uri;
	const char *reason;
	int len = snprintf(text, sizeof(text), "sip:%s@%s", u->user, u->domain);

	check(len > 0 && (size_t)len < sizeof(text), "user and domain longer than their limits");
	check(sip_uri_decode(&uri, view_make(text, (size_t)len), &reason) == 0,
	      "sip:USER@DOMAIN does not decode");
	check(view_eq(uri.user, view_from_cstr(u->user)), "the URI's user is not the user");
	check(view_eq(uri.host, view_from_cstr(u->domain)), "the URI's host is not the domain");
}

/* What an accepted row must look like. */
static void check_ok(const struct row *r, const char *line, size_t n)
{
	size_t user_len = strnlen(r->u.user, sizeof(r->u.user));
	size_t domain_len = strnlen(r->u.domain, sizeof(r->u.domain));

	check(user_len > 0 && user_len <= CSV_USER_MAX, "user length");
	check(domain_len > 0 && domain_len < sizeof(r->u.domain), "domain length");
	for (size_t i = 0; i < domain_len; i++)
		check(r->u.domain[i] < 'A' || r->u.domain[i] > 'Z', "domain not lower case");
	check(r->password.p >= line && r->password.p + r->password.len <= line + n,
	      "password outside the line");
	check(r->password.len > 0 && r->password.len <= CSV_PASSWORD_MAX, "password length");
	check(csv_password_problem(r->password) == NULL, "accepted password has a problem");
	check(memchr(r->password.p, '\n', r->password.len) == NULL &&
		      memchr(r->password.p, '\r', r->password.len) == NULL,
	      "password holds a line end");
	check_uri(&r->u);
}

/* The accepted row printed again decodes to the same row. */
static void check_round_trip(const struct row *r)
{
	size_t user_len = strlen(r->u.user), domain_len = strlen(r->u.domain);
	size_t len = user_len + 1 + domain_len + 1 + r->password.len + 1;
	char *line = xmalloc(len);
	struct row *again = xmalloc(sizeof(*again));

	memcpy(line, r->u.user, user_len);
	line[user_len] = '@';
	memcpy(line + user_len + 1, r->u.domain, domain_len);
	line[user_len + 1 + domain_len] = ',';
	memcpy(line + user_len + domain_len + 2, r->password.p, r->password.len);
	line[len - 1] = '\n';
	row_decode(line, len, 2, again);
	check(again->kind == CSV_ROW_OK, "printed row is not accepted");
	check(strcmp(again->u.user, r->u.user) == 0, "round trip: user");
	check(strcmp(again->u.domain, r->u.domain) == 0, "round trip: domain");
	check(view_eq(again->password, r->password), "round trip: password");
	free(again);
	free(line);
}

/* Each printable byte after the first comma (the password) changed to
 * another printable byte that is not a space; the verdict and message
 * must not change. */
static void check_password_hidden(const char *line, size_t n, unsigned long line_number,
				  const struct row *r)
{
	const char *comma = memchr(line, ',', n);
	char *masked;
	struct row *again;

	if (comma == NULL)
		return;
	masked = xmalloc(n);
	again = xmalloc(sizeof(*again));
	memcpy(masked, line, n);
	for (size_t i = (size_t)(comma - line) + 1; i < n; i++) {
		unsigned char ch = (unsigned char)masked[i];
		if (ch > 0x20 && ch < 0x7f)
			masked[i] = ch == 'x' ? 'y' : 'x';
	}
	row_decode(masked, n, line_number, again);
	check(again->kind == r->kind, "the verdict depends on the password's letters");
	if (r->kind == CSV_ROW_BAD)
		check(strcmp(again->why, r->why) == 0, "the message shows the password");
	free(again);
	free(masked);
}

static void one_row(const char *input, size_t n, unsigned long line_number)
{
	char *line = xmalloc(n);
	struct row *r = xmalloc(sizeof(*r));

	memcpy(line, input, n);
	row_decode(line, n, line_number, r);
	if (r->kind == CSV_ROW_OK) {
		check_ok(r, line, n);
		check_round_trip(r);
	}
	check_password_hidden(line, n, line_number, r);
	free(r);
	free(line);
}

/* The whole input as `user add` takes its operand and --password. */
static void as_arguments(const char *buf, size_t size)
{
	struct store_user u;
	char why[FUZZ_WHY_MAX];
	struct view text = view_make(buf, size);

	memset(&u, 0, sizeof(u));
	if (csv_name_parse(text, FUZZ_DOMAIN, &u, why, sizeof(why)))
		check_uri(&u);
	else
		check(one_line(why), "name message is not one line of printable ASCII");
	(void)csv_password_problem(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size);
	unsigned long line_number = 0;
	size_t at = 0;

	memcpy(buf, data, size);
	while (at < size) {
		const char *nl = memchr(buf + at, '\n', size - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : size - at;

		one_row(buf + at, n, ++line_number);
		at += n;
	}
	as_arguments(buf, size);
	free(buf);
	return 0;
}
