/*
 * multipart: a bounded multipart/form-data splitter (RFC 7578) shared by the
 * Plex and Emby handlers, plus application/x-www-form-urlencoded lookup.
 * No I/O; part data points into the caller's body.
 */
#ifndef WR_MULTIPART_H
#define WR_MULTIPART_H

#include <stddef.h>

#define MULTIPART_MAX_PARTS 32

struct multipart_part {
    char *name;         /* owned; from Content-Disposition; may be NULL */
    char *filename;     /* owned; may be NULL */
    char *content_type; /* owned; may be NULL when the part has none */
    const char *data;   /* borrowed: points into the body */
    size_t len;
};

struct multipart {
    struct multipart_part parts[MULTIPART_MAX_PARTS];
    size_t n;
};

/*
 * Extract the boundary parameter from a Content-Type header value
 * ("multipart/form-data; boundary=xyz" or boundary="xyz"). 0 on success,
 * -1 when the type is not multipart/form-data or has no usable boundary.
 */
int multipart_boundary(const char *content_type, char *out, size_t outlen);

/*
 * Split body into parts. Accepts CRLF or bare LF line ends, a preamble, a
 * missing final "--" (when the body ends after a part), and parts without
 * headers other than Content-Disposition. 0 on success (m filled; release
 * with multipart_release), -1 with a message in err.
 */
int multipart_parse(const char *body, size_t len, const char *boundary,
                    struct multipart *m, char *err, size_t errlen);
/* The first part with that form name, or NULL. Borrowed. */
const struct multipart_part *multipart_find(const struct multipart *m,
                                            const char *name);
void multipart_release(struct multipart *m);

/*
 * Look up field `name` in an application/x-www-form-urlencoded body and
 * percent/plus-decode it. Owned result (free) with its length, or NULL.
 */
char *form_urlencoded_get(const char *body, size_t len, const char *name,
                          size_t *out_len);

#endif
