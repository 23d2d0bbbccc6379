/*
 * authstore: OAuth tokens that change at run time, one file per provider
 * under <state_dir>/auth/ (mode 0600), written atomically and fsynced before
 * a new token is used (Trakt refresh tokens are single-use).
 */
#ifndef WR_AUTHSTORE_H
#define WR_AUTHSTORE_H

#include <stddef.h>

#include "adapter.h"

/* 0 with *out filled (release with adapter_tokens_release), 1 when there
 * is no saved file, -1 with err when it cannot be read. */
int authstore_load(const char *state_dir, const char *provider,
                   struct adapter_tokens *out, char *err, size_t errlen);
int authstore_save(const char *state_dir, const char *provider,
                   const struct adapter_tokens *t, char *err, size_t errlen);

#endif
