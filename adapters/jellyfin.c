/* Placeholder until the jellyfin adapter lands: registered, takes nothing. */
#include "adapter.h"

const struct adapter_ops adapter_jellyfin = {
    .name = "jellyfin",
};
