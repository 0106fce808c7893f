/* Pushes to each component's 授权事件接收URL (spec §6), off the request
 * threads: changes queue a push job in the store (pl_push_enqueue, inside
 * the transaction that made the change) and one pusher thread delivers the
 * jobs over HTTP with libcurl.
 *
 * A delivery seals the event's XML with the component's current
 * EncodingAESKey (wx_msgcrypt_encrypt + wx_msgcrypt_build_push, spec §7.6),
 * with the wall clock as the URL timestamp and a fresh 10-digit nonce per
 * attempt, and POSTs it as text/xml with a 5 s timeout. Only HTTP 200 with
 * the body "success" (surrounding whitespace ignored) counts as delivered.
 * Authorization events get 3 attempts (the retries after retry_ms and
 * 2 * retry_ms; default 5 s and 10 s), tickets one (the next comes
 * ticket_interval later). Every attempt writes a row of the delivery log.
 *
 * Job states: pending -> delivered | failed | dropped (the drop_pushes
 * fault); suppressed (an `unauthorized` push under the suppress switch:
 * recorded, never sent).
 *
 * Tickets: each round, every component with ticket pushes on whose last
 * ticket is ticket_interval seconds old (emulator clock) gets a new ticket
 * and its push; a component's first ticket is issued on the first round
 * after its registration. Advancing the clock by hours issues one ticket,
 * not one per missed interval. */
#ifndef BINDERY_PLATFORM_PUSHER_H
#define BINDERY_PLATFORM_PUSHER_H

#include <jansson.h>

#include "platform/platform.h"

/* Milliseconds a delivery may take, connect included. */
#define PL_PUSH_TIMEOUT_MS 5000
/* The receiver's answer is read up to this many bytes. */
#define PL_PUSH_MAX_REPLY 4096
/* Milliseconds the pusher sleeps when there is nothing to do (it is woken
 * earlier by new work). */
#define PL_PUSHER_IDLE_MS 250
/* Jobs delivered per round. */
#define PL_PUSHER_BATCH 16

struct pl_pusher;

/* Starts the pusher thread (initialising libcurl, whose global state is
 * reference-counted). */
int pl_pusher_start(struct platform *pl, struct pl_pusher **ret_pusher);
/* Stops the thread (waiting for a delivery in flight), frees p and releases
 * libcurl. NULL is accepted. */
void pl_pusher_stop(struct pl_pusher *p);

/* One round in the calling thread: due tickets, then up to PL_PUSHER_BATCH
 * due jobs. For tests; ret_attempts (may be NULL) gets the deliveries
 * attempted. */
int pl_pusher_round(struct platform *pl, int *ret_attempts);

/* Issues a ticket now for component_appid, or for every component with
 * ticket pushes when it is NULL, and queues the pushes. *ret_tickets (may be
 * NULL) gets a new array of {"component_appid", "ticket"}. BE_NOT_FOUND for
 * an unknown component. */
int pl_push_ticket_now(struct platform *pl, const char *component_appid, json_t **ret_tickets);

#endif
