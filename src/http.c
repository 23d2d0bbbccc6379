#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const method_names[HTTP_METHOD_MAX] = {
    [HTTP_GET] = "GET",
    [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT",
    [HTTP_DELETE] = "DELETE",
};

const char *
http_method_name(enum http_method m)
{
    return m < HTTP_METHOD_MAX ? method_names[m] : "GET";
}

void
http_request_init(struct http_request *r)
{
    memset(r, 0, sizeof(*r));
}

void
http_request_release(struct http_request *r)
{
    if (r == NULL)
        return;
    free(r->url);
    for (size_t i = 0; i < r->n_headers; i++) {
        /* Authorization lines carry secrets. */
        explicit_bzero(r->headers[i], strlen(r->headers[i]));
        free(r->headers[i]);
    }
    free(r->headers);
    if (r->body != NULL) {
        explicit_bzero(r->body, r->body_len);
        free(r->body);
    }
    http_request_init(r);
}

void
http_request_header(struct http_request *r, const char *fmt, ...)
{
    va_list ap;
    char *line;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    line = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof(char *));
    r->headers[r->n_headers++] = line;
}

void
http_request_set_body(struct http_request *r, char *body, size_t len)
{
    free(r->body);
    r->body = body;
    r->body_len = len;
}

void
http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof(*r));
}

void
http_response_release(struct http_response *r)
{
    if (r == NULL)
        return;
    free(r->error);
    free(r->body);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    http_response_init(r);
}

const char *
http_response_header(const struct http_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (str_ieq(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}
