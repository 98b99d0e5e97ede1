/* The file a path names once its symbolic links are followed, and the
 * directory it lives in: what a save must replace, and where. */
#ifndef ATTN_SRC_FILE_PATH_H
#define ATTN_SRC_FILE_PATH_H

#include <stddef.h>

#include <attention/status.h>

/* Links followed before giving up with ELOOP, as Linux's own limit. */
#define ATTN_PATH_MAX_LINKS 40

/*
 * path with its last component's symbolic links followed, link after link,
 * into a new malloc'd string (*resolved; free it). A link whose target
 * does not exist resolves to that target (writing through the link would
 * create it). Directory components are left to the kernel. Returns
 * ATTN_ERR_IO with errno set (ELOOP past ATTN_PATH_MAX_LINKS links, or
 * lstat's or readlink's error) or ATTN_ERR_OUT_OF_MEMORY.
 */
attn_status attni_path_resolve(const char *path, char **resolved);

/* Length of path's directory part, its final '/' included: 0 for a bare
 * name (the current directory). */
size_t attni_path_dir_length(const char *path);

#endif /* ATTN_SRC_FILE_PATH_H */
