/* fuzz_config: config_parse over arbitrary bytes. Relative *_file paths
 * resolve under a directory that does not exist. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *cfg;
    char *errors = NULL;

    if (size > 1 << 20)
        return 0;
    cfg = config_parse((const char *)data, size, "/nonexistent-fuzz-dir",
                       &errors);
    if ((cfg == NULL) == (errors == NULL))
        abort(); /* exactly one of a config and errors */
    config_free(cfg);
    free(errors);
    return 0;
}
