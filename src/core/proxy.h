/*
 * proxy.h - the stateful proxy of the core (RFC 3261 §16). See proxy.c.
 */
#ifndef SIPD_CORE_PROXY_H
#define SIPD_CORE_PROXY_H

#include <stdbool.h>

#include "transport/transport.h"
#include "txn/txn.h"

struct core;
struct proxy;

int proxy_alloc(struct proxy **out, struct core *core);
/* Drops every context without answering (shutdown). */
void proxy_free(struct proxy *p);

/* A request that is not for the registrar nor answered by the core. */
void proxy_request(struct proxy *p, struct txn *st, struct tp_packet *pkt);
/* The caller cancelled invite_st: false when sipd is not proxying it. */
bool proxy_cancel(struct proxy *p, struct txn *invite_st);
/* An ACK that matched no server transaction (the ACK for a 2xx). */
void proxy_ack(struct proxy *p, struct tp_packet *pkt);
/* A response that matched no client transaction. */
void proxy_stray_response(struct proxy *p, struct tp_packet *pkt);

#endif
