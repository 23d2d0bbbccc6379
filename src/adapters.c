#include <stdlib.h>
#include <string.h>

#include "adapter.h"

const struct adapter_ops *const adapter_table[] = {
    &adapter_trakt,    &adapter_simkl, &adapter_local, &adapter_plex,
    &adapter_jellyfin, &adapter_emby,  NULL,
};

static const char *const outcome_names[ADAPTER_OUTCOME_MAX] = {
    [ADAPTER_DONE] = "done",       [ADAPTER_RETRY] = "retry",
    [ADAPTER_RATE] = "rate",       [ADAPTER_PERMANENT] = "permanent",
    [ADAPTER_REFRESH] = "refresh", [ADAPTER_PAUSE] = "pause",
};

const char *
adapter_outcome_name(enum adapter_outcome o)
{
    return o < ADAPTER_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

const struct adapter_ops *
adapter_find(const char *name)
{
    for (size_t i = 0; adapter_table[i] != NULL; i++)
        if (strcmp(adapter_table[i]->name, name) == 0)
            return adapter_table[i];
    return NULL;
}

void
adapter_tokens_release(struct adapter_tokens *t)
{
    if (t == NULL)
        return;
    if (t->access_token) {
        explicit_bzero(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    if (t->refresh_token) {
        explicit_bzero(t->refresh_token, strlen(t->refresh_token));
        free(t->refresh_token);
    }
    memset(t, 0, sizeof(*t));
}

void
adapter_auth_release(struct adapter_auth *a)
{
    if (a == NULL)
        return;
    free(a->device_code);
    free(a->user_code);
    free(a->verification_url);
    adapter_tokens_release(&a->tokens);
    memset(a, 0, sizeof(*a));
}

void
adapter_page_release(struct adapter_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        item_release(&p->rows[i].item);
        free(p->rows[i].list);
    }
    free(p->rows);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

static const char *const feature_names[ADAPTER_FEATURE_MAX] = {
    [ADAPTER_WATCHLIST] = "watchlist", [ADAPTER_HISTORY] = "history",
    [ADAPTER_RATINGS] = "ratings",     [ADAPTER_PROGRESS] = "progress",
    [ADAPTER_PLAYLISTS] = "playlists",
};

const char *
adapter_feature_name(enum adapter_feature f)
{
    return f < ADAPTER_FEATURE_MAX ? feature_names[f] : "unknown";
}

int
adapter_feature_from_name(const char *name)
{
    for (int i = 0; i < ADAPTER_FEATURE_MAX; i++)
        if (strcmp(feature_names[i], name) == 0)
            return i;
    return -1;
}
