/*
 * http_parse.c - the incremental HTTP/1.1 request parser of http_parse.h.
 *
 * A state machine over single bytes: each state is the part of the request
 * the next byte belongs to, so a request may arrive split anywhere and the
 * parser picks up where the last piece ended. Invariants: p->head counts
 * every byte of the head consumed so far and never exceeds HTTP_HEAD_MAX;
 * p->len is the length of the part being collected in the current state
 * (method, target, version); once p->state is S_ERROR, p->len holds the
 * status and every call returns its negation.
 */
#include <string.h>
#include <strings.h>

#include "http_parse.h"

enum {
    S_START,      /* before the request line: CRLFs are skipped */
    S_START_LF,   /* a CR before the request line: LF must follow */
    S_METHOD,     /* in the method token */
    S_TARGET,     /* in the request target */
    S_VERSION,    /* in "HTTP/1.1" */
    S_LINE_LF,    /* the CR ending a line (request line or field): LF must follow */
    S_FIELD,      /* at the start of a field line, or the CRLF ending the head */
    S_NAME,       /* in a field name */
    S_OWS,        /* after the colon: optional whitespace */
    S_VALUE,      /* in a field value */
    S_HEAD_LF,    /* the CR of the empty line: LF ends the head */
    S_BODY,       /* in the Content-Length body */
    S_DONE,       /* the request is complete */
    S_ERROR       /* malformed: p->len is the status */
};

/* tchar of RFC 9110 5.6.2: the characters of tokens (methods, field names). */
static int is_tchar(unsigned char c)
{
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB: what a field value may hold (RFC 9110 5.5). */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

static ssize_t fail(struct http_parser *p, int status)
{
    p->state = S_ERROR;
    p->len = (size_t)status;
    return -status;
}

void http_parser_init(struct http_parser *p)
{
    memset(p, 0, offsetof(struct http_parser, req));
    p->state = S_START;
    p->req.method[0] = p->req.target[0] = '\0';
    p->req.target_len = 0;
    p->req.minor = 0;
    p->req.keep_alive = 0;
    p->req.content_length = 0;
    p->req.fields = 0;
    p->req.expect_continue = 0;
}

/* Does the comma-separated token list `v` (length n) hold `tok`? */
static int has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* A field line has ended: takes what the server needs from it. */
static int field_end(struct http_parser *p)
{
    const char *v = p->value;
    size_t n = p->value_end;
    if (++p->req.fields > HTTP_FIELDS_MAX)
        return 431;
    if (p->name_len > sizeof p->name)
        return 0; /* longer than any name below */
    if (p->name_len == 14 && !memcmp(p->name, "content-length", 14)) {
        long long cl = 0;
        if (p->value_long || n == 0)
            return 400;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 400;
            if (cl > HTTP_BODY_MAX)
                return 413; /* stop before it can overflow */
            cl = cl * 10 + (v[i] - '0');
        }
        if (p->lengths++ && cl != p->req.content_length)
            return 400;
        p->req.content_length = cl;
    } else if (p->name_len == 17 && !memcmp(p->name, "transfer-encoding", 17)) {
        p->chunked = 1;
    } else if (p->name_len == 4 && !memcmp(p->name, "host", 4)) {
        p->hosts++;
    } else if (p->name_len == 10 && !memcmp(p->name, "connection", 10)) {
        p->conn_close |= has_token(v, n, "close");
        p->conn_keep |= has_token(v, n, "keep-alive");
    } else if (p->name_len == 6 && !memcmp(p->name, "expect", 6)) {
        /* RFC 9110 10.1.1: 100-continue is the only expectation defined */
        if (n == 12 && !strncasecmp(v, "100-continue", 12) && !p->value_long)
            p->expect_continue = 1;
        else
            p->expect_other = 1;
    }
    return 0;
}

/* The empty line has ended the head: checks the request as a whole. */
static int head_end(struct http_parser *p)
{
    if (p->chunked)
        return p->lengths ? 400 : 501;
    if (p->req.minor >= 1 && p->hosts != 1)
        return 400;
    if (p->hosts > 1)
        return 400;
    if (p->req.content_length > HTTP_BODY_MAX)
        return 413;
    if (p->expect_other)
        return 417;
    /* HTTP/1.0 clients do not wait for a 100 (RFC 9110 10.1.1) */
    p->req.expect_continue = p->expect_continue && p->req.minor >= 1 &&
                             p->req.content_length > 0;
    p->req.keep_alive = p->req.minor >= 1 ? !p->conn_close : p->conn_keep && !p->conn_close;
    p->body_left = p->req.content_length;
    return 0;
}

/* "HTTP/" DIGIT "." DIGIT, major 1. */
static int version_end(struct http_parser *p)
{
    const char *v = p->version;
    if (p->len != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    p->req.minor = v[7] - '0';
    return 0;
}

ssize_t http_parse(struct http_parser *p, const char *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t i = 0;
    int st;

    if (p->state == S_ERROR)
        return -(ssize_t)p->len;
    for (; i < len && p->state != S_DONE; i++) {
        unsigned char c = b[i];
        if (p->state == S_BODY) {
            size_t n = len - i;
            if ((long long)n > p->body_left)
                n = (size_t)p->body_left;
            p->body_left -= (long long)n;
            i += n - 1;
            if (p->body_left == 0)
                p->state = S_DONE;
            continue;
        }
        if (++p->head > HTTP_HEAD_MAX)
            return fail(p, 431);
        switch (p->state) {
        case S_START:
            if (c == '\r') {
                p->state = S_START_LF;
                break;
            }
            p->state = S_METHOD;
            __attribute__((fallthrough)); /* the first byte of the method */
        case S_METHOD:
            if (c == ' ') {
                if (p->len == 0)
                    return fail(p, 400);
                p->req.method[p->len] = '\0';
                p->len = 0;
                p->state = S_TARGET;
            } else if (!is_tchar(c)) {
                return fail(p, 400);
            } else if (p->len == HTTP_METHOD_MAX) {
                return fail(p, 501);
            } else {
                p->req.method[p->len++] = (char)c;
            }
            break;
        case S_START_LF:
            if (c != '\n')
                return fail(p, 400);
            p->state = S_START;
            break;
        case S_TARGET:
            if (c == ' ') {
                if (p->len == 0)
                    return fail(p, 400);
                p->req.target[p->len] = '\0';
                p->req.target_len = p->len;
                p->len = 0;
                p->state = S_VERSION;
            } else if (c <= ' ' || c >= 0x7f) {
                return fail(p, 400); /* CTL, obs-text, or a missing version */
            } else if (p->len == HTTP_TARGET_MAX) {
                return fail(p, 414);
            } else {
                p->req.target[p->len++] = (char)c;
            }
            break;
        case S_VERSION:
            if (c == '\r') {
                if ((st = version_end(p)) != 0)
                    return fail(p, st);
                p->state = S_LINE_LF;
            } else if (p->len == sizeof p->version) {
                return fail(p, 400);
            } else {
                p->version[p->len++] = (char)c;
            }
            break;
        case S_LINE_LF:
            if (c != '\n')
                return fail(p, 400);
            p->state = S_FIELD;
            break;
        case S_FIELD:
            if (c == '\r') {
                p->state = S_HEAD_LF;
                break;
            }
            if (!is_tchar(c))
                return fail(p, 400); /* obs-fold, whitespace, a bare LF, ... */
            p->name_len = p->value_len = p->value_end = 0;
            p->value_long = 0;
            p->state = S_NAME;
            __attribute__((fallthrough)); /* the first byte of the name */
        case S_NAME:
            if (c == ':') {
                if (p->name_len == 0)
                    return fail(p, 400);
                p->state = S_OWS;
            } else if (!is_tchar(c)) {
                return fail(p, 400); /* whitespace before the colon, ... */
            } else {
                if (p->name_len < sizeof p->name)
                    p->name[p->name_len] = (char)(c | ((c >= 'A' && c <= 'Z') ? 0x20 : 0));
                p->name_len += p->name_len <= sizeof p->name; /* saturates past it */
            }
            break;
        case S_OWS:
            if (c == ' ' || c == '\t')
                break;
            p->state = S_VALUE;
            __attribute__((fallthrough)); /* the first byte of the value */
        case S_VALUE:
            if (c == '\r') {
                if ((st = field_end(p)) != 0)
                    return fail(p, st);
                p->state = S_LINE_LF;
            } else if (!is_value_char(c)) {
                return fail(p, 400); /* a bare LF, NUL, another CTL */
            } else if (p->value_len == sizeof p->value) {
                p->value_long = 1;
            } else {
                p->value[p->value_len++] = (char)c;
                if (c != ' ' && c != '\t')
                    p->value_end = p->value_len;
            }
            break;
        case S_HEAD_LF:
            if (c != '\n')
                return fail(p, 400);
            if ((st = head_end(p)) != 0)
                return fail(p, st);
            p->state = p->body_left ? S_BODY : S_DONE;
            break;
        }
    }
    if (p->state == S_DONE)
        p->done = 1;
    return (ssize_t)i;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
