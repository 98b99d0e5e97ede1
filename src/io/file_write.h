/*
 * Replacing a file whole: the new contents go to a temporary file in the
 * target's directory, which is synced and renamed over the target only
 * once complete. Readers see the old file or the new one, never part of
 * one, and a failure before the rename leaves the target as it was and no
 * temporary behind.
 */
#ifndef ATTN_SRC_FILE_WRITE_H
#define ATTN_SRC_FILE_WRITE_H

#include <stddef.h>

#include <attention/status.h>

/* The temporary's name in the target's directory: mkstemp's random
 * suffix, so leftovers of interrupted saves never block a later one, and
 * a fixed short prefix, so the name fits NAME_MAX whatever the target's
 * name length. */
#define ATTN_FILE_TEMP_NAME ".attn-save.XXXXXX"

typedef struct attn_file_out {
    int fd;         /* the temporary, open for writing */
    char *target;   /* the path to replace, symbolic links followed */
    char *temp;     /* the temporary's path */
} attn_file_out;

/*
 * Creates the temporary for path. A symbolic link is followed to the file
 * it names (a dangling one to the file it would create), so the link stays
 * and its target is replaced. The temporary gets the target's permission
 * bits when the target exists, else the mode open(path, O_CREAT, 0666)
 * would give under the umask. Returns ATTN_ERR_IO (errno set) or
 * ATTN_ERR_OUT_OF_MEMORY; on success the caller must end with
 * attni_file_commit or attni_file_discard.
 */
attn_status attni_file_create(const char *path, attn_file_out *out);

/* All n bytes to the temporary; ATTN_ERR_IO (errno set) otherwise. */
attn_status attni_file_write(attn_file_out *out, const void *data, size_t n);

/*
 * fsync, close, rename over the target, then fsync the directory so the
 * rename itself is durable. That last sync is best effort: once the
 * rename is done the new file is in place, and reporting a failure then
 * would break the rule that a failed call changed nothing. Releases
 * everything; on failure (ATTN_ERR_IO, errno set) the temporary is
 * removed.
 */
attn_status attni_file_commit(attn_file_out *out);

/* Closes and removes the temporary, releases everything; errno is kept. */
void attni_file_discard(attn_file_out *out);

#endif /* ATTN_SRC_FILE_WRITE_H */
