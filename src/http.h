/*
 * http: the plain data an adapter describes a request with and reads a reply
 * from. fetch.c turns a request into a transfer; nothing here does I/O.
 */
#ifndef WR_HTTP_H
#define WR_HTTP_H

#include <stddef.h>

enum http_method {
    HTTP_GET,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_METHOD_MAX
};

/* Rate-limit class of a request (SYNC.md 4.4). */
enum http_class { HTTP_CLASS_READ, HTTP_CLASS_WRITE, HTTP_CLASS_MAX };

struct http_request {
    enum http_method method;
    enum http_class rate_class;
    char *url;      /* owned: absolute URL */
    char **headers; /* owned: "Name: value" lines */
    size_t n_headers;
    char *body; /* owned; may be NULL */
    size_t body_len;
};

struct http_header {
    char *name;  /* owned */
    char *value; /* owned */
};

struct http_response {
    long status; /* 0 when the transfer failed */
    char *error; /* owned: transport error (timeout, refused...) */
    char *body;  /* owned, NUL-terminated */
    size_t body_len;
    struct http_header *headers; /* owned */
    size_t n_headers;
    double elapsed_s;
};

const char *http_method_name(enum http_method m);

void http_request_init(struct http_request *r);
void http_request_release(struct http_request *r);
/* Append a header line (printf-style). */
void http_request_header(struct http_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Take a body (owned, len bytes). */
void http_request_set_body(struct http_request *r, char *body, size_t len);

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);
/* The first header of that name (any case), or NULL. Borrowed. */
const char *http_response_header(const struct http_response *r,
                                 const char *name);

#endif
