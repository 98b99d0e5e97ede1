/*
 * Parameter lists to and from safetensors files, the format PyTorch and
 * Hugging Face use for weights: an 8-byte little-endian header length n,
 * n bytes of JSON
 *
 *     {"in_proj_weight":{"dtype":"F32","shape":[24,8],"data_offsets":[0,768]},...}
 *
 * then the raw tensors, little-endian, at those byte offsets of the data
 * section. Only float32 ("F32") tensors are read and written.
 *
 * Status order: every call checks its pointers (ATTN_ERR_NULL_POINTER),
 * then the parameter list, before it opens or reads anything. A list is
 * valid when every entry has a non-empty UTF-8 name other than
 * "__metadata__", non-NULL data, 1 <= ndim <= ATTN_PARAM_MAX_DIMS and
 * positive dimensions, and no two names are equal (else
 * ATTN_ERR_BAD_ARGUMENT; ATTN_ERR_SIZE_OVERFLOW when a byte count
 * overflows size_t). params may be NULL when count is 0. grad is ignored.
 *
 * Threads: no global state; calls may run concurrently on distinct
 * parameter data. Any call may also return ATTN_ERR_OUT_OF_MEMORY.
 */
#ifndef ATTENTION_SAFETENSORS_H
#define ATTENTION_SAFETENSORS_H

#include <stddef.h>

#include <attention/export.h>
#include <attention/params.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes the listed parameters to path: tensors in list order, header
 * keys in the same order, compact JSON padded with spaces to a multiple of
 * 8 bytes (as the reference implementation writes it), no "__metadata__".
 *
 * The file is written under a temporary name in the target's directory,
 * ".attn-save.XXXXXX" (mkstemp's random suffix; the name fits NAME_MAX
 * whatever the length of path's), flushed to disk with fsync and renamed
 * over the target only once complete; the directory is then synced too
 * (best effort: by then the new file is in place). Readers see the old
 * file or the new one, never a part of one. On failure the temporary is
 * removed and the target is left as it was; only a process killed during
 * the save can leave a temporary behind, which never stops a later save
 * and may be deleted.
 *
 * When path is a symbolic link, the file it names (after every link in
 * turn, up to 40) is replaced and the link stays; a dangling link gets its
 * target created, as writing through the link would. An existing target
 * keeps its permission bits (not its owner, group, ACLs or extended
 * attributes, and other hard links to it keep the old contents); a new
 * file gets 0666 less the umask (read from /proc/self/status; where that
 * is unavailable, 0600).
 *
 * Returns ATTN_ERR_IO when the file cannot be created, written, synced or
 * renamed, with errno telling more: ENOENT for an empty path (as
 * open("") reports it), ELOOP for more than 40 links. ATTN_ERR_BAD_ARGUMENT
 * also when the header would exceed the format's 100,000,000-byte limit.
 */
ATTN_EXPORT attn_status attn_params_save(
    const attn_param *params,   /* (count) */
    size_t count,
    const char *path);

/*
 * Loads a safetensors file into the listed parameters, matched by name
 * like PyTorch's load_state_dict(strict=True). Nothing is written unless
 * every check below passes; on any error every parameter is untouched.
 *
 * Only what the list needs is read: the header's length is checked
 * against the file's size and the list's bound before the header is
 * read, the header against the list before any tensor is, and then only
 * the tensors (one buffer of the list's size, filled whole before the
 * first parameter is written). A file much larger than the list costs
 * neither memory nor time, and memory is bounded by the list: the data of
 * the list's size, plus a header of at most 16 MiB + 4 KiB per listed
 * tensor + 6 bytes per byte of the listed names (never more than
 * 100,000,000 bytes) with at most 65,536 + 64 per listed tensor JSON
 * values (object keys included). A file matching the list needs some 100
 * bytes and at most 14 values per tensor plus its names (JSON may escape
 * a byte to 6) and its "__metadata__", which may thus hold about 16 MiB
 * of text; whatever attn_params_save writes for a list loads back.
 *
 *   ATTN_ERR_IO              path cannot be opened, or reading fails
 *       (errno tells more); or path is not a regular file: a directory
 *       (errno EISDIR), a FIFO, socket or device (errno EINVAL). The open
 *       does not block, so a FIFO without a writer is refused at once.
 *   ATTN_ERR_BAD_FILE        the file is malformed: shorter than 8 bytes;
 *       a header length over 100,000,000 or past the end of the file; a
 *       header over the bounds above (its length, or the count of its
 *       values); a header that does not start with '{', holds a NUL byte,
 *       is not valid UTF-8 JSON, is not an object, repeats a key (at any
 *       depth), or has anything but whitespace after the object; an entry
 *       that is not an object with "dtype", "shape" (integers >= 0) and
 *       "data_offsets" (exactly two integers, begin <= end); a shape
 *       whose byte size overflows; end - begin != numel * 4; tensors that
 *       leave a hole or overlap in the data section (the whole section
 *       must be covered, as the spec requires); data ending before the
 *       last tensor or going on after it (judged from the file's size);
 *       a "__metadata__" entry that is not an object of strings; a file
 *       that shrinks while it is read. A dtype other than "F32" (F16,
 *       BF16, F64, I64, ...) is also ATTN_ERR_BAD_FILE: this library
 *       cannot read it whatever the parameters are.
 *   ATTN_ERR_PARAM_MISMATCH  the file is well-formed but a listed name is
 *       missing, the file holds a tensor that is not listed, or a shape
 *       (rank or any dimension) differs.
 *   ATTN_ERR_ALIASING        the data of two parameters overlap.
 *
 * The checks run in the order ALIASING, IO, BAD_FILE, PARAM_MISMATCH, so
 * a malformed file is ATTN_ERR_BAD_FILE even if it also lacks a name;
 * the one exception is that the tensors are read last, so a read error
 * (ATTN_ERR_IO) or a shrinking file (ATTN_ERR_BAD_FILE) in the data
 * section is seen only once the header matches the list.
 * Other keys inside an entry are ignored, as the reference does.
 */
ATTN_EXPORT attn_status attn_params_load(
    const attn_param *params,   /* (count) */
    size_t count,
    const char *path);

/*
 * attn_params_load from the size bytes at data (a file already in memory;
 * no alignment needed). Same checks, bounds and statuses, less the I/O
 * error; ATTN_ERR_ALIASING also when a parameter's data overlap the
 * buffer. Nothing is copied but the parameters.
 */
ATTN_EXPORT attn_status attn_params_load_buffer(
    const attn_param *params,   /* (count) */
    size_t count,
    const void *data,           /* (size) bytes */
    size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_SAFETENSORS_H */
