/*
 * core.h - the server's logic: one entry point per kind of event the
 * transaction layer reports (DESIGN.md §1).
 *
 * At this stage the core answers as a server what it can answer by itself
 * (RFC 3261 §8.2, §16.3): OPTIONS to sipd, and the refusals every request
 * may get (483, 416, 501, 420, 400). Registrar and proxy come next; until
 * then any other request gets a 501 that says so.
 */
#ifndef SIPD_CORE_CORE_H
#define SIPD_CORE_CORE_H

#include "txn/txn.h"

/* The methods sipd accepts (the Allow header). */
#define CORE_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, " \
		   "REFER, INFO, UPDATE, PRACK, PUBLISH"

struct core;

int core_alloc(struct core **core);
void core_free(struct core *core);

/* The handlers to give txn_layer_alloc; arg is the core. */
void core_txn_handlers(struct core *core, struct txn_handlers *h);

#endif
