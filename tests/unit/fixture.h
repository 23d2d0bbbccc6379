/*
 * fixture: runs a handler over every case in tests/fixtures/<source>/ and
 * compares its output with the expected file beside each case.
 *
 * A case NAME is three files:
 *   NAME.body      the raw request body, byte for byte
 *   NAME.meta      {"content_type": "...", "user_agent": "...",
 *                   "now": "2025-03-02T20:47:30Z"}  (all optional; now
 *                   defaults to 2025-03-02T21:00:00Z)
 *   NAME.expected  {"events": [ <schema-v1 event>, ... ]}
 *               or {"ignored": "<substring of the reason>"}
 *               or {"error": "<substring of the message>"}
 */
#ifndef WR_TEST_FIXTURE_H
#define WR_TEST_FIXTURE_H

#include <stdbool.h>

#include "handler.h"

/* Run one case; prints a diff to stderr and returns false on mismatch. */
bool fixture_check(const struct handler_def *h, const char *dir,
                   const char *name);
/* Run every case in dir; returns the number of failures (0 if all pass) and
 * stores the number of cases in *count. */
int fixture_check_dir(const struct handler_def *h, const char *dir, int *count);
/* Print the JSON a case produces (to write or review an expected file). */
void fixture_dump(const struct handler_def *h, const char *dir,
                  const char *name);

#endif
