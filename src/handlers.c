#include <string.h>

#include "handler.h"

const struct handler_def *const handler_table[] = {
    &handler_plex, &handler_jellyfin, &handler_emby, &handler_tautulli, NULL,
};

const struct handler_def *
handler_find(const char *name)
{
    for (size_t i = 0; handler_table[i] != NULL; i++)
        if (strcmp(handler_table[i]->name, name) == 0)
            return handler_table[i];
    return NULL;
}
