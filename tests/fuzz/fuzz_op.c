/*
 * fuzz_op: target-operation decoding (what an applier reads back from
 * <prefix>out:<target>). Bytes are parsed as JSON and decoded with
 * op_from_json. Anything accepted is written back with op_to_json and
 * decoded again: the second decode must succeed and give the same JSON text
 * (to_json(from_json(x)) is a fixed point), and the decoded fields must be
 * in the ranges struct op promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "op.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ranges(const struct op *op)
{
    if (op->kind >= OP_KIND_MAX || strlen(op->id) != 32 || op->key == NULL)
        abort();
    if (op->progress != -1 && !(op->progress >= 0 && op->progress <= 100))
        abort();
    if (op->rating != 0 && (op->rating < 1 || op->rating > 10))
        abort();
    if (op->generation < 0 || op->attempts < 0 || op->position_ms < -1 ||
        op->duration_ms < -1)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *in = NULL, *out1 = NULL, *in2 = NULL, *out2 = NULL;
    struct op op, op2;
    char err[256] = "";
    char *s1 = NULL;
    size_t len1;

    if (size > 1 << 20)
        return 0;
    op_init(&op2);
    in = jsonu_parse((const char *)data, size, JSONU_DEPTH, err, sizeof(err));
    if (in == NULL)
        return 0;
    if (op_from_json(&op, in, err, sizeof(err)) != 0) {
        if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
            abort(); /* a refusal says why */
        goto done;
    }
    check_ranges(&op);
    out1 = op_to_json(&op);
    s1 = xstrdup(jsonu_str(out1, &len1));
    in2 = jsonu_parse(s1, len1, JSONU_DEPTH, err, sizeof(err));
    if (in2 == NULL)
        abort(); /* we wrote JSON we cannot read */
    if (op_from_json(&op2, in2, err, sizeof(err)) != 0)
        abort(); /* we wrote an operation we reject */
    check_ranges(&op2);
    if (strcmp(op.id, op2.id) != 0 || op.kind != op2.kind)
        abort();
    out2 = op_to_json(&op2);
    if (strcmp(s1, jsonu_str(out2, NULL)) != 0)
        abort(); /* the round trip is not stable */
done:
    json_object_put(out2);
    json_object_put(in2);
    free(s1);
    json_object_put(out1);
    op_release(&op2);
    op_release(&op);
    json_object_put(in);
    return 0;
}
