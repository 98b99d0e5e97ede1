/* JSON fragments of the malformed-file table (test_safetensors.c), shared
 * with the fuzz seed generator (fuzz/make_corpus.c). */
#ifndef ATTN_TESTS_SAFETENSORS_JSON_H
#define ATTN_TESTS_SAFETENSORS_JSON_H

/* Entry of "a" / "b" with the given JSON fragments. */
#define ENTRY(name, dtype, shape, offsets)                                  \
    "\"" name "\":{\"dtype\":" dtype ",\"shape\":" shape                     \
    ",\"data_offsets\":" offsets "}"
#define A_OK ENTRY("a", "\"F32\"", "[2,3]", "[0,24]")
#define B_OK ENTRY("b", "\"F32\"", "[4]", "[24,40]")
#define VALID "{" A_OK "," B_OK "}"
/* "a" with another field, "b" as usual. */
#define WITH_A(dtype, shape, offsets) \
    "{" ENTRY("a", dtype, shape, offsets) "," B_OK "}"

#endif /* ATTN_TESTS_SAFETENSORS_JSON_H */
