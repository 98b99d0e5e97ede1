/* A growable byte buffer: the SVG document in memory and its text layer. */
#ifndef PLOT_SBUF_H
#define PLOT_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *p;        /* NUL-terminated when len > 0 */
    size_t len, cap;
    int failed;     /* an allocation failed; later appends do nothing */
} sbuf;

void sbuf_append(sbuf *b, const char *s, size_t n);
/* printf into the buffer. */
void sbuf_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s with &, <, >, " as XML entities and control bytes dropped. */
void sbuf_xml(sbuf *b, const char *s);
void sbuf_free(sbuf *b);

#endif /* PLOT_SBUF_H */
