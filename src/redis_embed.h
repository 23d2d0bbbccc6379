/*
 * redis_embed: the private redis-server of `"redis": "embedded"`. It runs on
 * a unix socket under the state dir with AOF on and noeviction, dies with
 * the daemon (PR_SET_PDEATHSIG), and is stopped cleanly on exit.
 */
#ifndef WR_REDIS_EMBED_H
#define WR_REDIS_EMBED_H

#include <stddef.h>

struct redis_embed;

/*
 * Start redis-server (or $WR_REDIS_SERVER) for state_dir and wait until its
 * socket accepts connections. If a server from an earlier run already
 * answers on the socket it is used as is. NULL with err on failure. Owned.
 */
struct redis_embed *redis_embed_start(const char *state_dir, char *err,
                                      size_t errlen);
/* "unix:/abs/path/redis.sock". Borrowed. */
const char *redis_embed_url(const struct redis_embed *re);
/* Stop the server if we started it (SIGTERM, wait, SIGKILL) and free. */
void redis_embed_stop(struct redis_embed *re);

#endif
