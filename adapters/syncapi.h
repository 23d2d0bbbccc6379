/*
 * syncapi: the Trakt-style /scrobble and /sync API that Trakt and SIMKL
 * share (MDBList speaks it too): id objects, request bodies for one
 * operation or a batch of them, the per-operation verdict on a reply
 * (SYNC.md 4.3, 4.5) and small URL/JSON helpers. Pure. Internal to
 * adapters/: only adapters/<provider>.c include it.
 */
#ifndef WR_SYNCAPI_H
#define WR_SYNCAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "adapter.h"
#include "item.h"
#include "util.h"

#define SYNCAPI_USER_AGENT "watchrelay/0.1.0"

/* What differs between the providers that speak this API. */
struct syncapi_dialect {
    const char *name;  /* "trakt": config and CLI name */
    const char *label; /* "Trakt": in reasons */
    /* Ids the provider takes, in the order bodies list them. */
    const enum item_id *ids;
    size_t n_ids;
    /* Per item type: 1u << ITEM_ID_* accepted in that type's "ids". A slug
     * is only written when no other id of the object is usable (a slug of
     * another service would match the wrong title). */
    unsigned id_mask[ITEM_TYPE_MAX];
    bool ms_times;            /* "2025-03-02T20:47:10.000Z" (Trakt) */
    bool pause_on_412;        /* SIMKL: 412 client_id_failed */
    int64_t gateway_retry_ms; /* 502-504 without Retry-After */
};

/* Strings that must never reach a reason (NULL entries are skipped). */
struct syncapi_secrets {
    const char *v[4];
};

/* Extra per-item fields of a /sync body. */
enum {
    SYNCAPI_WATCHED_AT = 1u << 0,     /* "watched_at" (history add) */
    SYNCAPI_RATING = 1u << 1,         /* "rating", "rated_at" */
    SYNCAPI_TO_PLANTOWATCH = 1u << 2, /* SIMKL add-to-list "to" */
};

/* A time as the provider writes it. */
void syncapi_time(const struct syncapi_dialect *d, int64_t t,
                  char buf[WR_TIME_BUF]);

/* The "ids" object for an object of type t, or NULL when none of ids is
 * one the provider takes. Owned (json_object_put). */
struct json_object *syncapi_ids(const struct syncapi_dialect *d,
                                enum item_type t, const struct item_ids *ids);
/* Whether a season/episode goes under its show (show ids the provider
 * takes and the numbers known) rather than by its own ids. */
bool syncapi_grouped(const struct syncapi_dialect *d, const struct item *it);
/* 0 if the provider can identify the item; -1 with why otherwise. */
int syncapi_identify(const struct syncapi_dialect *d, const struct item *it,
                     char *why, size_t whylen);

/* Body of /scrobble/{start,pause,stop} for op (a movie or an episode).
 * Owned. */
struct json_object *syncapi_scrobble_body(const struct syncapi_dialect *d,
                                          const struct op *op);
/*
 * Body of a /sync write for ops[0..n) (skip[i] true = left out; skip may be
 * NULL): movies[], shows[] (episodes and seasons grouped under their show,
 * seasons[].episodes[]), seasons[], episodes[]; extras says which per-item
 * fields to add. Owned.
 */
struct json_object *syncapi_sync_body(const struct syncapi_dialect *d,
                                      const struct op *const *ops, size_t n,
                                      const bool *skip, unsigned extras);
/* Serialize o into req's body (o is borrowed). */
void syncapi_set_body(struct http_request *req, struct json_object *o);
/* Append s percent-encoded for a query value. */
void syncapi_url_encode(struct buf *b, const char *s);

bool syncapi_is_remove(enum op_kind k);
bool syncapi_is_scrobble(enum op_kind k);

/*
 * Judge resp for ops[0..n) (SYNC.md 4.3), filling results[n]. skip as in
 * syncapi_sync_body (the caller sets the verdict of skipped operations).
 * can_refresh: a 401 asks for a token refresh; else it pauses the target
 * with "auth_failed". A 2xx /sync reply is attributed per item: not_found
 * entries are matched to the operations by any shared id (or show + season
 * + episode) and become permanent (done on removes); when the counts the
 * provider reports cannot account for the rest, they are done with reason
 * "unconfirmed: ..." (SYNC.md 4.5).
 */
void syncapi_classify(const struct syncapi_dialect *d,
                      const struct syncapi_secrets *sec, bool can_refresh,
                      const struct op *const *ops, size_t n, const bool *skip,
                      const struct http_response *resp,
                      struct adapter_result *results);

/* A provider's verdict on one operation before sending: 0, or -1 with why
 * (then the operation is a permanent failure). */
typedef int (*syncapi_check_cb)(const struct op *op, char *why, size_t whylen);

/*
 * Check ops[0..n) for one request: all of one kind, n > 1 only for a kind
 * in batch_kinds. Returns skip[n] (owned): true for the operations check
 * refuses, which are left out of the request; NULL with err when the batch
 * is malformed or no operation can be sent (err is then the first reason).
 */
bool *syncapi_prepare(const struct op *const *ops, size_t n,
                      unsigned batch_kinds, syncapi_check_cb check, char *err,
                      size_t errlen);
/* syncapi_classify for the operations check accepts; the others get
 * PERMANENT with check's reason (build left them out). */
void syncapi_classify_ops(const struct syncapi_dialect *d,
                          const struct syncapi_secrets *sec, bool can_refresh,
                          syncapi_check_cb check, const struct op *const *ops,
                          size_t n, const struct http_response *resp,
                          struct adapter_result *results);

/* Whether a provider "ids" object shares an id with ids. */
bool syncapi_ids_match(struct json_object *jids, const struct item_ids *ids);
/* "Arrival (2016) [movie:tmdb:329865]", escaped, for reasons. */
void syncapi_describe(const struct op *op, char *out, size_t outlen);
/* A short, escaped, secret-free message from an error reply. */
void syncapi_reply_message(const struct syncapi_secrets *sec,
                           const struct http_response *resp, char *out,
                           size_t outlen);
/* Whether a token from a provider is safe in a header line (visible
 * ASCII, no spaces, at most 4 KiB). */
bool syncapi_token_ok(const char *s);
/* s without trailing slashes, or def when s is unset. Owned. */
char *syncapi_url_dup(const char *s, const char *def);
/* A copy of s, or NULL when s is unset or empty. Owned. */
char *syncapi_opt_dup(const char *s);
/* Retry-After in milliseconds, or -1 when absent or not seconds. */
int64_t syncapi_retry_after_ms(const struct http_response *resp);

/* ---- reads (index, activities, delta) --------------------------------- */

/* Reads ask for pages of this many rows where the provider pages. */
#define SYNCAPI_PAGE_LIMIT 1000

/* "history read", "watchlist read", ... for errors. */
const char *syncapi_read_what(enum adapter_feature f);
/* A blank row: item_init, progress and position -1, the rest zero. */
void syncapi_entry_init(struct adapter_entry *e);
/* Append e to p's rows (e is taken: its item moves into the page). */
void syncapi_page_push(struct adapter_page *p, struct adapter_entry *e);
/*
 * Add the ids of a provider "ids" object (names in any case; values as
 * numbers or strings) to ids. Unknown names and our own local ids (plex,
 * jellyfin, emby, guid) are ignored.
 */
void syncapi_ids_read(struct item_ids *ids, struct json_object *jids);
/*
 * The item of a Trakt-style row: "type" (movie, show, season, episode;
 * else guessed from the keys present) with its "movie", "show", "season"
 * or "episode" object ({title, year, ids}; episodes {season, number, title,
 * ids}; seasons {number, ids}), seasons and episodes with their "show"
 * (show_title, show_year, show_ids). it is initialized here. 0, or -1 when
 * the row holds no item of a known type.
 */
int syncapi_row_item(struct json_object *row, struct item *it);
/* The media object {title, year, ids} as an item of type t (initialized
 * here). */
void syncapi_media_item(struct json_object *media, enum item_type t,
                        struct item *it);
/*
 * The time at o[key] (ISO 8601) in epoch seconds; 0 when missing, null,
 * unreadable, or SIMKL's "1970-01-01T00:00:01Z" placeholder for "no date"
 * (SYNC.md 6.2).
 */
int64_t syncapi_row_time(struct json_object *o, const char *key);
/* Raise *max to o[bucket][key]'s time (activities; null counts as 0). */
void syncapi_time_max(struct json_object *o, const char *bucket,
                      const char *key, int64_t *max);
/* The rating at o[key] (a whole number, or a string of one): 0 with *out
 * in 1-10, -1 when missing or out of range (SYNC.md 7). */
int syncapi_row_rating(struct json_object *o, const char *key, int *out);
/*
 * 0 when resp is 2xx; else -1 with err saying what failed and why
 * ("Trakt history read: unauthorized (http 401): ..."): what is borrowed,
 * e.g. "history read".
 */
int syncapi_read_status(const struct syncapi_dialect *d,
                        const struct syncapi_secrets *sec,
                        const struct http_response *resp, const char *what,
                        char *err, size_t errlen);
/* resp's body as JSON (owned), or NULL with err ("malformed JSON"). */
struct json_object *syncapi_read_json(const struct syncapi_dialect *d,
                                      const struct http_response *resp,
                                      const char *what, char *err,
                                      size_t errlen);
/* Whether a body is JSON null (SIMKL's empty all-items for old apps). */
bool syncapi_body_is_null(const struct http_response *resp);

#endif
