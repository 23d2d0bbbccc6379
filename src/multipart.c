#include "multipart.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70
/* Header lines per part and bytes per (unfolded) header: generous caps. */
#define MULTIPART_MAX_HEADERS 64
#define MULTIPART_HEADER_MAX  4096

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool
ieq_n(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i], y = b[i];

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* The first occurrence of needle in hay[from, len) into *at: memmem
 * without _GNU_SOURCE. Binary-safe. */
static bool
find_bytes(const char *hay, size_t len, size_t from, const char *needle,
           size_t nlen, size_t *at)
{
    size_t i = from;

    if (nlen == 0 || from > len || len - from < nlen)
        return false;
    while (i + nlen <= len) {
        const char *q = memchr(hay + i, needle[0], len - nlen + 1 - i);

        if (q == NULL)
            return false;
        i = (size_t)(q - hay);
        if (memcmp(q, needle, nlen) == 0) {
            *at = i;
            return true;
        }
        i++;
    }
    return false;
}

static bool
is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * The decoded value of parameter `want` (any case) in a header value
 * ("type; a=b; c=\"d\""): owned, or NULL when absent (*found false).
 * Quoted strings may contain ';' and backslash escapes.
 */
static char *
header_param(const char *v, size_t len, const char *want, bool *found)
{
    size_t i = 0;

    *found = false;
    /* Skip the leading token (type); parameters follow the first ';'. */
    while (i < len && v[i] != ';')
        i++;
    while (i < len) {
        size_t ns, ne;
        struct buf val;
        bool match;

        i++; /* the ';' */
        while (i < len && is_ws(v[i]))
            i++;
        ns = i;
        while (i < len && v[i] != '=' && v[i] != ';')
            i++;
        ne = i;
        while (ne > ns && is_ws(v[ne - 1]))
            ne--;
        match = ieq_n(v + ns, ne - ns, want);
        if (i >= len || v[i] == ';')
            continue; /* a parameter without a value */
        i++;          /* the '=' */
        while (i < len && is_ws(v[i]))
            i++;
        buf_init(&val);
        if (i < len && v[i] == '"') {
            i++;
            while (i < len && v[i] != '"') {
                if (v[i] == '\\' && i + 1 < len)
                    i++;
                buf_append(&val, v + i, 1);
                i++;
            }
            if (i < len)
                i++; /* closing quote */
            while (i < len && v[i] != ';')
                i++;
        } else {
            size_t vs = i, ve;

            while (i < len && v[i] != ';')
                i++;
            ve = i;
            while (ve > vs && is_ws(v[ve - 1]))
                ve--;
            buf_append(&val, v + vs, ve - vs);
        }
        if (match && !*found) {
            *found = true;
            buf_append(&val, "", 0);
            return val.data;
        }
        buf_release(&val);
    }
    return NULL;
}

int
multipart_boundary(const char *content_type, char *out, size_t outlen)
{
    const char *s = content_type;
    size_t len, ts, te;
    char *b = NULL;
    bool found;
    int rc = -1;

    if (s == NULL || outlen == 0)
        return -1;
    len = strlen(s);
    ts = 0;
    while (ts < len && is_ws(s[ts]))
        ts++;
    te = ts;
    while (te < len && s[te] != ';')
        te++;
    while (te > ts && is_ws(s[te - 1]))
        te--;
    if (!ieq_n(s + ts, te - ts, "multipart/form-data"))
        return -1;
    b = header_param(s + ts, len - ts, "boundary", &found);
    if (b == NULL)
        return -1;
    len = strlen(b);
    if (len == 0 || len > MULTIPART_BOUNDARY_MAX || len + 1 > outlen)
        goto done;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];

        if (c < 0x20 || c >= 0x7f)
            goto done;
    }
    memcpy(out, b, len + 1);
    rc = 0;
done:
    free(b);
    return rc;
}

/*
 * After a delimiter at body[pos] ("--boundary" already matched, pos points
 * just past it): 1 = the close delimiter or the end of the body, 0 = another
 * part follows and *next is where its headers start, -1 = not a delimiter
 * (the boundary string merely occurs inside data).
 */
static int
after_delimiter(const char *body, size_t len, size_t pos, size_t *next)
{
    if (pos + 2 <= len && body[pos] == '-' && body[pos + 1] == '-')
        return 1;
    while (pos < len && is_ws(body[pos]))
        pos++;
    if (pos == len)
        return 1; /* the body ends after "--boundary": tolerated */
    if (body[pos] == '\r' && pos + 1 < len && body[pos + 1] == '\n')
        pos++;
    else if (body[pos] == '\r' && pos + 1 == len)
        return 1;
    if (body[pos] != '\n')
        return -1;
    if (pos + 1 == len)
        return 1; /* "--boundary" CRLF and nothing after: tolerated */
    *next = pos + 1;
    return 0;
}

static void
part_header(struct multipart_part *p, const char *line, size_t len)
{
    size_t colon = 0, vs;
    bool found;

    while (colon < len && line[colon] != ':')
        colon++;
    vs = colon + 1;
    while (vs < len && is_ws(line[vs]))
        vs++;
    while (len > vs && is_ws(line[len - 1]))
        len--;
    if (ieq_n(line, colon, "content-disposition")) {
        /* A repeated header replaces the earlier one. */
        free(p->name);
        free(p->filename);
        p->name = header_param(line + vs, len - vs, "name", &found);
        p->filename = header_param(line + vs, len - vs, "filename", &found);
    } else if (ieq_n(line, colon, "content-type")) {
        free(p->content_type);
        p->content_type = xstrndup(line + vs, len - vs);
    }
}

/* "Name:" with a non-empty token name. */
static bool
header_name_ok(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && line[i] != '\0' && is_tchar(line[i]))
        i++;
    return i > 0 && i < len && line[i] == ':';
}

/*
 * Parse the header block that starts at body[pos]; on success *data_start is
 * the first byte after the blank line.
 */
static int
part_headers(struct multipart_part *p, const char *body, size_t len, size_t pos,
             size_t *data_start, char *err, size_t errlen)
{
    struct buf hdr;
    int nlines = 0;
    int rc = -1;

    buf_init(&hdr);
    for (;;) {
        size_t ls = pos, le;

        while (pos < len && body[pos] != '\n')
            pos++;
        if (pos >= len) {
            snprintf(err, errlen,
                     "part headers are not followed by a "
                     "blank line");
            goto done;
        }
        le = pos;
        pos++; /* the LF */
        if (le > ls && body[le - 1] == '\r')
            le--;
        if (++nlines > MULTIPART_MAX_HEADERS) {
            snprintf(err, errlen, "too many part header lines");
            goto done;
        }
        if (le > ls && is_ws(body[ls]) && hdr.len > 0) {
            /* Obsolete line folding: continue the previous header. */
            if (hdr.len + (le - ls) > MULTIPART_HEADER_MAX) {
                snprintf(err, errlen, "part header too long");
                goto done;
            }
            buf_append(&hdr, body + ls, le - ls);
            continue;
        }
        if (hdr.len > 0) {
            part_header(p, hdr.data, hdr.len);
            hdr.len = 0;
            hdr.data[0] = '\0';
        }
        if (le == ls)
            break; /* the blank line */
        if (!header_name_ok(body + ls, le - ls)) {
            snprintf(err, errlen, "malformed part header line");
            goto done;
        }
        if (le - ls > MULTIPART_HEADER_MAX) {
            snprintf(err, errlen, "part header too long");
            goto done;
        }
        buf_append(&hdr, body + ls, le - ls);
    }
    *data_start = pos;
    rc = 0;
done:
    buf_release(&hdr);
    return rc;
}

int
multipart_parse(const char *body, size_t len, const char *boundary,
                struct multipart *m, char *err, size_t errlen)
{
    char *delim = NULL;
    size_t dlen, blen, pos = 0, next = 0, at = 0;
    int r;

    memset(m, 0, sizeof(*m));
    blen = boundary != NULL ? strlen(boundary) : 0;
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX) {
        snprintf(err, errlen, "invalid multipart boundary");
        return -1;
    }
    /* "\n--" + boundary; the first delimiter may also open the body. */
    dlen = blen + 3;
    delim = xmalloc(dlen + 1);
    memcpy(delim, "\n--", 3);
    memcpy(delim + 3, boundary, blen + 1);

    /* The first delimiter: skip the preamble. */
    for (;;) {
        size_t after;

        if (pos == 0 && len >= dlen - 1 &&
            memcmp(body, delim + 1, dlen - 1) == 0) {
            at = 0;
            after = dlen - 1;
        } else {
            if (!find_bytes(body, len, pos, delim, dlen, &at)) {
                snprintf(err, errlen, "multipart boundary not found in body");
                goto fail;
            }
            after = at + dlen;
        }
        r = after_delimiter(body, len, after, &next);
        if (r == 1)
            goto done; /* no parts at all */
        if (r == 0)
            break;
        pos = at + 1;
    }

    for (;;) {
        struct multipart_part *p;
        size_t data, end, search;
        bool last = false;

        if (m->n >= MULTIPART_MAX_PARTS) {
            snprintf(err, errlen, "more than %d multipart parts",
                     MULTIPART_MAX_PARTS);
            goto fail;
        }
        p = &m->parts[m->n++];
        if (part_headers(p, body, len, next, &data, err, errlen) != 0)
            goto fail;
        /* The part's data ends at the CRLF/LF before the next delimiter.
         * The blank line's LF counts as the delimiter's line start when
         * the data is empty. */
        search = data > 0 ? data - 1 : 0;
        for (;;) {
            if (!find_bytes(body, len, search, delim, dlen, &at)) {
                /* No closing delimiter: the part runs to the end. */
                end = len;
                if (end > data && body[end - 1] == '\n')
                    end--;
                if (end > data && body[end - 1] == '\r')
                    end--;
                last = true;
                break;
            }
            r = after_delimiter(body, len, at + dlen, &next);
            if (r >= 0) {
                end = at;
                if (end > data && body[end - 1] == '\r')
                    end--;
                last = r == 1;
                break;
            }
            search = at + 1;
        }
        if (end < data)
            end = data;
        p->data = body + data;
        p->len = end - data;
        if (last)
            break;
    }
done:
    free(delim);
    return 0;
fail:
    free(delim);
    multipart_release(m);
    return -1;
}

const struct multipart_part *
multipart_find(const struct multipart *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->parts[i].name != NULL && strcmp(m->parts[i].name, name) == 0)
            return &m->parts[i];
    return NULL;
}

void
multipart_release(struct multipart *m)
{
    for (size_t i = 0; i < m->n && i < MULTIPART_MAX_PARTS; i++) {
        free(m->parts[i].name);
        free(m->parts[i].filename);
        free(m->parts[i].content_type);
    }
    memset(m, 0, sizeof(*m));
}

static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* WHATWG form decoding: '+' is a space, %XX a byte, an invalid '%' is kept. */
static void
form_decode(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && hex_val(s[i + 1]) >= 0 &&
                   hex_val(s[i + 2]) >= 0) {
            c = (char)(hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]));
            i += 2;
        }
        buf_append(out, &c, 1);
    }
}

char *
form_urlencoded_get(const char *body, size_t len, const char *name,
                    size_t *out_len)
{
    size_t i = 0;

    while (i < len) {
        size_t ps = i, pe, eq;
        struct buf key;
        bool match;

        while (i < len && body[i] != '&')
            i++;
        pe = i;
        i++; /* the '&' */
        if (pe == ps)
            continue;
        eq = ps;
        while (eq < pe && body[eq] != '=')
            eq++;
        buf_init(&key);
        form_decode(&key, body + ps, eq - ps);
        match = key.len == strlen(name) && memcmp(key.data, name, key.len) == 0;
        buf_release(&key);
        if (match) {
            struct buf val;

            buf_init(&val);
            if (eq < pe)
                form_decode(&val, body + eq + 1, pe - eq - 1);
            if (val.data == NULL)
                buf_append(&val, "", 0);
            if (out_len != NULL)
                *out_len = val.len;
            return val.data;
        }
    }
    return NULL;
}
