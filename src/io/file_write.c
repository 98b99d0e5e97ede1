/* mkostemp (O_CLOEXEC, so a concurrent fork + exec does not inherit the
 * temporary) is a GNU and BSD extension; the rest is POSIX. */
#define _GNU_SOURCE

#include "io/file_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file_path.h"
#include "plan/layout.h"

/* What mkstemp's 0600 becomes for a new file: 0666 less the umask. umask()
 * can only be read by setting it, which would race with every other thread
 * creating files; Linux (4.7+) shows it in /proc/self/status. Without that,
 * 0600: never wider than the caller asked for. */
static mode_t new_file_mode(void)
{
    char buf[4096];
    size_t got = 0;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0600;
    while (got < sizeof buf - 1) {
        const ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    const char *line = strstr(buf, "\nUmask:");
    if (line == NULL)
        return 0600;
    char *end;
    const unsigned long mask = strtoul(line + 7, &end, 8);
    if (end == line + 7 || mask > 0777)
        return 0600;
    return (mode_t)(0666 & ~mask);
}

/* An existing target's permission bits, or a new file's. */
static attn_status target_mode(const char *target, mode_t *mode)
{
    struct stat st;
    if (stat(target, &st) == 0) {
        *mode = st.st_mode & 0777;
        return ATTN_OK;
    }
    if (errno != ENOENT)
        return ATTN_ERR_IO;
    *mode = new_file_mode();
    return ATTN_OK;
}

static void release(attn_file_out *out)
{
    const int e = errno;
    free(out->target);
    free(out->temp);
    out->target = out->temp = NULL;
    out->fd = -1;
    errno = e;
}

attn_status attni_file_create(const char *path, attn_file_out *out)
{
    out->fd = -1;
    out->temp = NULL;
    attn_status s = attni_path_resolve(path, &out->target);
    if (s != ATTN_OK)
        return s;
    const size_t dir = attni_path_dir_length(out->target);
    size_t bytes;
    if (attni_add_size(dir, sizeof ATTN_FILE_TEMP_NAME, &bytes))
        out->temp = malloc(bytes);
    if (out->temp == NULL) {
        release(out);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    memcpy(out->temp, out->target, dir);
    memcpy(out->temp + dir, ATTN_FILE_TEMP_NAME, sizeof ATTN_FILE_TEMP_NAME);
    mode_t mode;
    s = target_mode(out->target, &mode);
    if (s == ATTN_OK) {
        /* Last, so that nothing above leaves a file to remove. */
        out->fd = mkostemp(out->temp, O_CLOEXEC);
        if (out->fd < 0)
            s = ATTN_ERR_IO;
        else if (fchmod(out->fd, mode) != 0)
            s = ATTN_ERR_IO;
    }
    if (s != ATTN_OK) {
        if (out->fd >= 0)
            attni_file_discard(out);
        else
            release(out);
    }
    return s;
}

attn_status attni_file_write(attn_file_out *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        const ssize_t w = write(out->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* write returns 0 only for n == 0; treat it as a full disk. */
            if (w == 0)
                errno = ENOSPC;
            return ATTN_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return ATTN_OK;
}

/* Makes the rename durable; best effort. The temporary's name is no
 * longer needed, and cut after its '/' it names the directory: no
 * allocation that could fail here. */
static void sync_directory(attn_file_out *out)
{
    const int e = errno;
    const size_t dir = attni_path_dir_length(out->temp);
    if (dir == 0)
        strcpy(out->temp, ".");
    else
        out->temp[dir] = '\0';
    const int fd = open(out->temp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    errno = e;
}

attn_status attni_file_commit(attn_file_out *out)
{
    /* The data must be on disk before the name points at them, or a crash
     * could leave the target empty. */
    if (fsync(out->fd) != 0) {
        attni_file_discard(out);
        return ATTN_ERR_IO;
    }
    const int fd = out->fd;
    out->fd = -1;
    if (close(fd) != 0 || rename(out->temp, out->target) != 0) {
        attni_file_discard(out);
        return ATTN_ERR_IO;
    }
    sync_directory(out);
    release(out);
    return ATTN_OK;
}

void attni_file_discard(attn_file_out *out)
{
    const int e = errno;
    if (out->fd >= 0)
        close(out->fd);
    if (out->temp != NULL)
        unlink(out->temp);
    errno = e;
    release(out);
}
