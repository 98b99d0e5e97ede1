#include "file_read.h"

#include <stdlib.h>

/* First buffer of attn_read_rest; it doubles from here. */
#define ATTN_READ_CHUNK ((size_t)1 << 20)

attn_status attn_read_exact(FILE *f, void *dst, size_t n)
{
    if (n == 0 || fread(dst, 1, n, f) == n)
        return ATTN_OK;
    return ferror(f) ? ATTN_ERR_IO : ATTN_ERR_BAD_FILE;
}

attn_status attn_read_rest(FILE *f, size_t limit, unsigned char **data,
                           size_t *size)
{
    size_t cap = limit < ATTN_READ_CHUNK ? limit : ATTN_READ_CHUNK, got = 0;
    /* Never malloc(0), which may return NULL. */
    unsigned char *buf = malloc(cap > 0 ? cap : 1);
    if (buf == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    for (;;) {
        got += fread(buf + got, 1, cap - got, f);
        if (got < cap || cap == limit)
            break;
        size_t next = cap > (limit - 1) / 2 ? limit : cap * 2;
        unsigned char *grown = realloc(buf, next);
        if (grown == NULL) {
            free(buf);
            return ATTN_ERR_OUT_OF_MEMORY;
        }
        buf = grown;
        cap = next;
    }
    if (ferror(f)) {
        free(buf);
        return ATTN_ERR_IO;
    }
    *data = buf;
    *size = got;
    return ATTN_OK;
}
