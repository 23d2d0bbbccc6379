/*
 * null_server: the baseline for the ingest benchmark. An evhttp server on
 * 127.0.0.1:PORT, set up like src/server (4 MiB body cap, header cap, 50 s
 * timeout, GET and POST only, lingering close), that answers every request
 * with 200 {"ok":true} and does no other work. The benchmark divides the
 * daemon's throughput by this server's.
 *
 *   null_server PORT        (0 picks a free port)
 *
 * Prints "ready port=N" on stdout once listening; exits 0 on SIGTERM/SIGINT.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#define NULL_MAX_BODY    (4 * 1024 * 1024)
#define NULL_MAX_HEADERS (64 * 1024)
#define NULL_TIMEOUT_S   50

static const char null_reply[] = "{\"ok\":true}";

static void
null_request_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = NULL;

    (void)arg;
    /* The body is already complete in the input buffer; leave it there. */
    out = evbuffer_new();
    if (out == NULL ||
        evbuffer_add_reference(out, null_reply, sizeof(null_reply) - 1, NULL,
                               NULL) != 0 ||
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "application/json") != 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        goto done;
    }
    evhttp_send_reply(req, HTTP_OK, "OK", out);
done:
    if (out != NULL)
        evbuffer_free(out);
}

static void
null_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static int
null_parse_port(const char *s, int *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

static int
null_bound_port(struct evhttp_bound_socket *h)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(&sin, 0, sizeof(sin));
    if (getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sin,
                    &len) != 0)
        return -1;
    return ntohs(sin.sin_port);
}

int
main(int argc, char **argv)
{
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct evhttp_bound_socket *bound = NULL;
    struct event *sig_term = NULL;
    struct event *sig_int = NULL;
    int port = 0;
    int rc = 1;

    if (argc != 2 || null_parse_port(argv[1], &port) != 0) {
        fprintf(stderr, "usage: null_server PORT (0..65535)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (base == NULL)
        goto done;
    http = evhttp_new(base);
    if (http == NULL)
        goto done;
    evhttp_set_max_body_size(http, NULL_MAX_BODY);
    evhttp_set_max_headers_size(http, NULL_MAX_HEADERS);
    evhttp_set_timeout(http, NULL_TIMEOUT_S);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    if (evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE) != 0)
        goto done;
    evhttp_set_gencb(http, null_request_cb, NULL);

    bound =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (bound == NULL) {
        fprintf(stderr, "null_server: cannot listen on 127.0.0.1:%d\n", port);
        goto done;
    }
    port = null_bound_port(bound);
    if (port < 0)
        goto done;

    sig_term = evsignal_new(base, SIGTERM, null_signal_cb, base);
    sig_int = evsignal_new(base, SIGINT, null_signal_cb, base);
    if (sig_term == NULL || sig_int == NULL || event_add(sig_term, NULL) != 0 ||
        event_add(sig_int, NULL) != 0)
        goto done;

    printf("ready port=%d\n", port);
    fflush(stdout);
    if (event_base_dispatch(base) < 0)
        goto done;
    rc = 0;
done:
    if (sig_int != NULL)
        event_free(sig_int);
    if (sig_term != NULL)
        event_free(sig_term);
    if (http != NULL)
        evhttp_free(http);
    if (base != NULL)
        event_base_free(base);
    return rc;
}
