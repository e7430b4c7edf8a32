/*
 * users.h - the subscribers, in memory: user@domain -> HA1 per algorithm.
 *
 * The registrar and the proxy check credentials against this table, never
 * against the database, so the loop does not wait on the disk. It is
 * loaded from the store at start and reloaded whole when the store's
 * subscriber revision (store_users_rev) moves: the CLI adds or deletes a
 * user while the server runs and the server sees it within a poll
 * interval. A reload builds a new table and swaps it in, so a failed
 * reload leaves the old one working.
 *
 * Keys: the user part as given (case-sensitive, RFC 3261 §19.1.4) and the
 * domain in lower case. HA1s are kept as bytes, not hex.
 *
 * Shared by every worker loop: each call takes the table's mutex (a lookup
 * is a hash and a compare; a reload builds the new table outside it).
 */
#ifndef SIPD_CORE_USERS_H
#define SIPD_CORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/view.h"
#include "core/digest.h"
#include "store/store.h"

struct users;

int users_alloc(struct users **out);
void users_free(struct users *users);

/* Replace the contents with every subscriber of store. 0, ENOMEM or EIO;
 * on error the table is unchanged. */
int users_load(struct users *users, struct store *store);
/* Add or replace one (tests, and the first-start users). */
int users_put(struct users *users, const struct store_user *user);

/* The HA1 of user@domain for alg, in lower-case hex: 0 or ENOENT. */
int users_ha1(const struct users *users, struct view user, struct view domain,
	      enum digest_alg alg, char ha1[DIGEST_HEX_MAX]);
bool users_exists(const struct users *users, struct view user, struct view domain);
size_t users_count(const struct users *users);

#endif
