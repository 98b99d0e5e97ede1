/*
 * Reading a weights file by byte range: opened without blocking, regular
 * files only, and the two ways a read can end early told apart: an I/O
 * error (ATTN_ERR_IO) or a file shorter than it should be
 * (ATTN_ERR_BAD_FILE).
 */
#ifndef ATTN_SRC_FILE_READ_H
#define ATTN_SRC_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include <attention/status.h>

/*
 * Opens path read-only into *fd and gives its size. O_NONBLOCK, so that
 * opening a FIFO without a writer returns at once; anything but a regular
 * file (a directory, FIFO, socket or device: nothing whose size is known
 * up front) is then refused with ATTN_ERR_IO, errno EISDIR for a
 * directory, else EINVAL. Other failures are ATTN_ERR_IO with open's or
 * fstat's errno. On ATTN_OK close *fd with attni_file_close.
 */
attn_status attni_file_open_read(const char *path, int *fd, uint64_t *size);

/* Exactly n bytes at offset into dst: ATTN_ERR_BAD_FILE when the file ends
 * first (it shrank since it was measured), ATTN_ERR_IO (errno set) when a
 * read fails. */
attn_status attni_file_read_at(int fd, void *dst /* (n) */, size_t n,
                              uint64_t offset);

/* Closes fd, keeping errno as the failure before it left it. */
void attni_file_close(int fd);

#endif /* ATTN_SRC_FILE_READ_H */
