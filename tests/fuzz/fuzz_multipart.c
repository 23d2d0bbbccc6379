/* fuzz_multipart: multipart_parse, multipart_boundary and
 * form_urlencoded_get over arbitrary bytes. The boundary is taken from the
 * body's first line when it starts with "--" (so raw fixture bodies are
 * useful seeds), else "b". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct multipart *m, const char *body, size_t len)
{
    if (m->n > MULTIPART_MAX_PARTS)
        abort();
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *p = &m->parts[i];

        if (p->data < body || p->len > len ||
            (size_t)(p->data - body) > len - p->len)
            abort(); /* part data outside the body */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char boundary[128] = "b", ct[256], out[80], err[256];
    struct multipart m;
    size_t e = 2;
    char *s, *v;
    size_t vlen;

    if (size > 1 << 20)
        return 0;
    if (size >= 3 && body[0] == '-' && body[1] == '-') {
        while (e < size && e < 72 && body[e] != '\r' && body[e] != '\n' &&
               body[e] != '\0')
            e++;
        if (e > 2) {
            memcpy(boundary, body + 2, e - 2);
            boundary[e - 2] = '\0';
        }
    }
    memcpy(ct, "multipart/form-data; boundary=", 30);
    memcpy(ct + 30, boundary, strlen(boundary) + 1);
    (void)multipart_boundary(ct, out, sizeof(out));

    if (multipart_parse(body, size, boundary, &m, err, sizeof(err)) == 0) {
        check(&m, body, size);
        (void)multipart_find(&m, "payload");
        (void)multipart_find(&m, "data");
        multipart_release(&m);
    } else if (m.n != 0) {
        abort(); /* a failed parse leaves nothing behind */
    }

    v = form_urlencoded_get(body, size, "data", &vlen);
    if (v != NULL && (vlen > size || v[vlen] != '\0'))
        abort();
    free(v);

    /* The whole input as a Content-Type value. */
    s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (multipart_boundary(s, out, sizeof(out)) == 0 &&
        (strlen(out) == 0 || strlen(out) > 70))
        abort();
    free(s);
    return 0;
}
