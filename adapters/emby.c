/* Placeholder until the emby adapter lands: registered, takes nothing. */
#include "adapter.h"

const struct adapter_ops adapter_emby = {
    .name = "emby",
};
