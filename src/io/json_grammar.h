/* Is a buffer well-formed JSON? Without allocating (see json_grammar.c). */
#ifndef ATTN_SRC_JSON_GRAMMAR_H
#define ATTN_SRC_JSON_GRAMMAR_H

#include <stddef.h>

/* Nonzero when json[0 .. bytes) is one JSON value plus whitespace, by
 * jansson's grammar and depth limit (not its UTF-8 or number-range rules),
 * holding at most max_values values and object keys (each a node of
 * jansson's tree; SIZE_MAX for no limit). */
int attni_json_grammar_ok(const char *json /* (bytes) */, size_t bytes,
                         size_t max_values);

#endif /* ATTN_SRC_JSON_GRAMMAR_H */
