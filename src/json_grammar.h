/* Is a buffer well-formed JSON? Without allocating (see json_grammar.c). */
#ifndef ATTN_SRC_JSON_GRAMMAR_H
#define ATTN_SRC_JSON_GRAMMAR_H

#include <stddef.h>

/* Nonzero when json[0 .. bytes) is one JSON value plus whitespace, by
 * jansson's grammar and depth limit (not its UTF-8 or number-range rules). */
int attn_json_grammar_ok(const char *json /* (bytes) */, size_t bytes);

#endif /* ATTN_SRC_JSON_GRAMMAR_H */
