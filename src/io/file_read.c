/* POSIX: open, fstat, pread. */
#define _POSIX_C_SOURCE 200809L

#include "io/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes per pread: Linux moves at most about 2 GiB per call anyway. */
#define ATTN_READ_MAX ((size_t)1 << 30)
/* Largest off_t (32 or 64 bits, signed). */
#define ATTN_OFF_MAX \
    (sizeof(off_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX)

attn_status attni_file_open_read(const char *path, int *fd, uint64_t *size)
{
    const int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return ATTN_ERR_IO;
    struct stat st;
    int e = 0;
    if (fstat(f, &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = EISDIR;
    else if (!S_ISREG(st.st_mode) || st.st_size < 0)
        e = EINVAL;
    if (e != 0) {
        close(f);
        errno = e;
        return ATTN_ERR_IO;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return ATTN_OK;
}

attn_status attni_file_read_at(int fd, void *dst, size_t n, uint64_t offset)
{
    unsigned char *p = dst;
    while (n > 0) {
        /* The ranges lie within a size fstat gave, so this never
         * triggers; it keeps the cast below defined. */
        if (n > ATTN_OFF_MAX || offset > ATTN_OFF_MAX - n)
            return ATTN_ERR_BAD_FILE;
        const size_t want = n < ATTN_READ_MAX ? n : ATTN_READ_MAX;
        const ssize_t got = pread(fd, p, want, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ATTN_ERR_IO;
        if (got == 0)
            return ATTN_ERR_BAD_FILE;
        p += got;
        n -= (size_t)got;
        offset += (uint64_t)got;
    }
    return ATTN_OK;
}

void attni_file_close(int fd)
{
    const int e = errno;
    close(fd);
    errno = e;
}
