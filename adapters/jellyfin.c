/*
 * jellyfin: the Jellyfin adapter (PROVIDERS.md B6), a dialect of
 * adapters/mediabrowser.c. Authenticates with the MediaBrowser
 * Authorization header (the legacy X-Emby-Token is off by default after
 * 10.11); item ids are ids.jellyfin (lower-case hex without dashes, SYNC.md
 * 1.2); writes use the 10.9+ routes (/UserPlayedItems, /UserFavoriteItems,
 * /UserItems/{id}/UserData) with ?userId=.
 */
#include "adapter.h"
#include "mediabrowser.h"

static const struct mb_dialect jellyfin_dialect = {
    .flavor = MB_JELLYFIN,
    .name = "jellyfin",
    .label = "Jellyfin",
    .local_id = ITEM_ID_JELLYFIN,
};

static void *
jellyfin_init(const struct provider_conf *conf,
              const struct adapter_tokens *saved, const char *state_dir,
              char *err, size_t errlen)
{
    (void)saved;
    (void)state_dir;
    return mb_init(&jellyfin_dialect, conf, err, errlen);
}

const struct adapter_ops adapter_jellyfin = {
    .name = "jellyfin",
    .kinds = MB_KINDS,
    .batch_kinds = 0,
    .max_batch = 1,
    .scrobble_api = false,
    .limits =
        {
            .write_interval_ms = 50,
            .write_inflight = 1,
        },
    .init = jellyfin_init,
    .free = mb_free,
    .build = mb_build,
    .classify = mb_classify,
    .features = MB_FEATURES,
    .delta_features = MB_FEATURES,
    .has_local_id = true,
    .local_id = ITEM_ID_JELLYFIN,
    .dated_history = true,
    .phantom_grace_s = 900,
    .build_index = mb_build_index,
    .parse_index = mb_parse_index,
    .build_delta = mb_build_delta,
    .parse_delta = mb_parse_delta,
};
