/*
 * mediabrowser: the REST dialect Jellyfin and Emby share (PROVIDERS.md B6;
 * both descend from Media Browser, hence the name and the mb_ prefix).
 * Library reads for delta sync and reconcile (every movie and episode with
 * the user's data, a page of 500 at a time, and the rows whose user data
 * changed since a watermark), one-item writes (played, favourite, numeric
 * rating) and their verdicts. Pure: no I/O, no globals. Internal to
 * adapters/: only adapters/jellyfin.c and adapters/emby.c include it.
 *
 * The watchlist is the user's Favorites (neither server has one). Ratings
 * are UserData.Rating, 0-10 float, read round half up from tenths (SYNC.md
 * 7) and written as "N.0"; 0 is "unrated" in our scale, so a clear writes
 * {"Rating":0}. Show ids are not looked up: an episode row carries its own
 * ids (SYNC.md 1.3), which is what matching needs.
 */
#ifndef WR_MEDIABROWSER_H
#define WR_MEDIABROWSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "item.h"

#define MB_PAGE      500 /* items per read page (SYNC.md 8) */
#define MB_OVERLAP_S 300 /* delta reads start this long before since */

#define MB_KINDS                                          \
    (OP_BIT(OP_HISTORY_ADD) | OP_BIT(OP_HISTORY_REMOVE) | \
     OP_BIT(OP_RATING_SET) | OP_BIT(OP_RATING_CLEAR) |    \
     OP_BIT(OP_WATCHLIST_ADD) | OP_BIT(OP_WATCHLIST_REMOVE))
#define MB_FEATURES                                                \
    (ADAPTER_BIT(ADAPTER_HISTORY) | ADAPTER_BIT(ADAPTER_RATINGS) | \
     ADAPTER_BIT(ADAPTER_WATCHLIST))

enum mb_flavor { MB_JELLYFIN, MB_EMBY };

/* What differs between the two servers. */
struct mb_dialect {
    enum mb_flavor flavor;
    const char *name;  /* "jellyfin": the config and CLI name */
    const char *label; /* "Jellyfin": in messages */
    enum item_id local_id;
};

/*
 * The context of an adapter speaking dialect d (borrowed, static) from its
 * config (borrowed): base_url, api_key (or token) and user_id are required.
 * Owned (mb_free), or NULL with err naming the config key.
 */
void *mb_init(const struct mb_dialect *d, const struct provider_conf *conf,
              char *err, size_t errlen);
void mb_free(void *ctx);

/* adapter_ops.build/classify: one operation per request. */
int mb_build(void *ctx, const struct op *const *ops, size_t n,
             struct http_request *req, char *err, size_t errlen);
void mb_classify(void *ctx, const struct op *const *ops, size_t n,
                 const struct http_response *resp,
                 struct adapter_result *results);

/* adapter_ops reads (history, ratings, watchlist). Cursors are
 * "start=<StartIndex>". */
int mb_build_index(void *ctx, enum adapter_feature f, const char *cursor,
                   struct http_request *req, char *err, size_t errlen);
int mb_parse_index(void *ctx, enum adapter_feature f,
                   const struct http_response *resp, struct adapter_page *out,
                   char *err, size_t errlen);
int mb_build_delta(void *ctx, enum adapter_feature f, int64_t since,
                   const char *cursor, struct http_request *req, char *err,
                   size_t errlen);
int mb_parse_delta(void *ctx, enum adapter_feature f,
                   const struct http_response *resp, struct adapter_page *out,
                   char *err, size_t errlen);

/* A UserData.Rating as a canonical rating: 1-10, or 0 when unrated (0,
 * negative, not a number). */
int mb_rating_canonical(double native);

/*
 * Parse an HTTP date in the RFC 7231 IMF-fixdate form, "Wed, 25 Nov 2026
 * 22:00:00 GMT" (surrounding blanks allowed). 0 with *out in epoch seconds,
 * or -1.
 */
int mb_http_date(const char *s, int64_t *out);

#endif
