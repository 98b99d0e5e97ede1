/* The growable buffer behind the SVG output. */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_append(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n >= b->cap - b->len || b->cap == 0) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len <= n) {
            if (cap > (size_t)-1 / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
    } else if ((size_t)n < sizeof small) {
        sbuf_append(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big == NULL) {
            b->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sbuf_append(b, big, (size_t)n);
        free(big);
    }
}

void sbuf_xml(sbuf *b, const char *s)
{
    for (; *s; ++s) {
        const unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': sbuf_append(b, "&amp;", 5); break;
        case '<': sbuf_append(b, "&lt;", 4); break;
        case '>': sbuf_append(b, "&gt;", 4); break;
        case '"': sbuf_append(b, "&quot;", 6); break;
        default:
            if (c >= 0x20 || c == '\t')     /* XML 1.0 forbids the rest */
                sbuf_append(b, s, 1);
        }
    }
}

void sbuf_free(sbuf *b)
{
    free(b->p);
    *b = (sbuf){0};
}
