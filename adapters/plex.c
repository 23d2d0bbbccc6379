/* Placeholder until the plex adapter lands: registered, takes nothing. */
#include "adapter.h"

const struct adapter_ops adapter_plex = {
    .name = "plex",
};
