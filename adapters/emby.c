/*
 * emby: the Emby adapter (PROVIDERS.md B6), a dialect of
 * adapters/mediabrowser.c. Authenticates with X-Emby-Token; item ids are
 * ids.emby (numeric strings, kept as given); reads and writes go through
 * /Users/{uid}/... (Items, PlayedItems with DatePlayed=yyyyMMddHHmmss,
 * FavoriteItems, Items/{id}/UserData).
 */
#include "adapter.h"
#include "mediabrowser.h"

static const struct mb_dialect emby_dialect = {
    .flavor = MB_EMBY,
    .name = "emby",
    .label = "Emby",
    .local_id = ITEM_ID_EMBY,
};

static void *
emby_init(const struct provider_conf *conf, const struct adapter_tokens *saved,
          const char *state_dir, char *err, size_t errlen)
{
    (void)saved;
    (void)state_dir;
    return mb_init(&emby_dialect, conf, err, errlen);
}

const struct adapter_ops adapter_emby = {
    .name = "emby",
    .kinds = MB_KINDS,
    .batch_kinds = 0,
    .max_batch = 1,
    .scrobble_api = false,
    .limits =
        {
            .write_interval_ms = 50,
            .write_inflight = 1,
        },
    .init = emby_init,
    .free = mb_free,
    .build = mb_build,
    .classify = mb_classify,
    .features = MB_FEATURES,
    .delta_features = MB_FEATURES,
    .has_local_id = true,
    .local_id = ITEM_ID_EMBY,
    .dated_history = true,
    .phantom_grace_s = 900,
    .build_index = mb_build_index,
    .parse_index = mb_parse_index,
    .build_delta = mb_build_delta,
    .parse_delta = mb_parse_delta,
};
