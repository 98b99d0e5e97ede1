/* Reading a whole stream with the two ways it can end early told apart:
 * an I/O error (ATTN_ERR_IO) or a file that is simply too short
 * (ATTN_ERR_BAD_FILE). */
#ifndef ATTN_SRC_FILE_READ_H
#define ATTN_SRC_FILE_READ_H

#include <stddef.h>
#include <stdio.h>

#include <attention/status.h>

/* Exactly n bytes into dst. */
attn_status attn_read_exact(FILE *f, void *dst /* (n) */, size_t n);

/*
 * The rest of the stream, but at most limit bytes, into a new malloc'd
 * buffer (*data, never NULL on ATTN_OK; free it). The buffer grows with
 * what is actually read, so a hostile length in a header cannot make us
 * allocate more than the file holds. May return ATTN_ERR_IO or
 * ATTN_ERR_OUT_OF_MEMORY.
 */
attn_status attn_read_rest(FILE *f, size_t limit, unsigned char **data,
                           size_t *size);

#endif /* ATTN_SRC_FILE_READ_H */
