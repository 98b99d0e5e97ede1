/* POSIX: lstat, readlink. */
#define _POSIX_C_SOURCE 200809L

#include "io/file_path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan/layout.h"

size_t attni_path_dir_length(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? (size_t)(slash - path) + 1 : 0;
}

/* A new string: n bytes of a, then b. */
static char *join(const char *a, size_t n, const char *b)
{
    const size_t nb = strlen(b);
    size_t bytes;
    if (!attni_add_size(n, nb, &bytes) || !attni_add_size(bytes, 1, &bytes))
        return NULL;
    char *s = malloc(bytes);
    if (s != NULL) {
        memcpy(s, a, n);
        memcpy(s + n, b, nb + 1);
    }
    return s;
}

/* The link's text, NUL-terminated, in a new string. size_hint is lstat's
 * st_size, which some file systems leave at 0: the buffer grows until the
 * text fits. */
static attn_status read_link(const char *link, size_t size_hint, char **text)
{
    size_t cap = size_hint + 1 > 64 ? size_hint + 1 : 64;
    for (;;) {
        char *buf = malloc(cap);
        if (buf == NULL)
            return ATTN_ERR_OUT_OF_MEMORY;
        const ssize_t n = readlink(link, buf, cap);
        if (n < 0) {
            const int e = errno;
            free(buf);
            errno = e;
            return ATTN_ERR_IO;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            *text = buf;
            return ATTN_OK;
        }
        free(buf);
        if (cap > SIZE_MAX / 2)
            return ATTN_ERR_OUT_OF_MEMORY;
        cap *= 2;
    }
}

/* Where the link at cur points: its text, relative to cur's directory
 * unless it is absolute. */
static attn_status follow(const char *cur, size_t size_hint, char **next)
{
    char *text = NULL;
    attn_status s = read_link(cur, size_hint, &text);
    if (s != ATTN_OK)
        return s;
    *next = text[0] == '/' ? join("", 0, text)
                           : join(cur, attni_path_dir_length(cur), text);
    free(text);
    return *next != NULL ? ATTN_OK : ATTN_ERR_OUT_OF_MEMORY;
}

attn_status attni_path_resolve(const char *path, char **resolved)
{
    char *cur = join("", 0, path);
    if (cur == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    for (int links = 0;; ++links) {
        struct stat st;
        const int missing = lstat(cur, &st) != 0;
        attn_status s = ATTN_ERR_IO;
        char *next = NULL;
        /* Not there, or not a link: that is the file to write. */
        if (missing && errno == ENOENT)
            s = ATTN_OK;
        else if (!missing && !S_ISLNK(st.st_mode))
            s = ATTN_OK;
        if (s == ATTN_OK) {
            *resolved = cur;
            return ATTN_OK;
        }
        if (!missing && links < ATTN_PATH_MAX_LINKS)
            s = follow(cur, (size_t)st.st_size, &next);
        else if (!missing)
            errno = ELOOP;
        const int e = errno;
        free(cur);
        errno = e;
        if (s != ATTN_OK)
            return s;
        cur = next;
    }
}
