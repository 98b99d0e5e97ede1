/*
 * Header and library versions agree (linked against the static library,
 * so this also checks that ATTENTION_STATIC_DEFINE builds and links).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <attention/attention.h>

static void test_version_number(void **state)
{
    (void)state;
    assert_int_equal(attn_version_number(), ATTN_VERSION_NUMBER);
    assert_int_equal(ATTN_VERSION_NUMBER,
                     ATTN_VERSION_MAJOR * 10000 + ATTN_VERSION_MINOR * 100 +
                         ATTN_VERSION_PATCH);
    /* "A program can check that its major version equals MAJOR" */
    assert_int_equal(attn_version_number() / 10000, ATTN_VERSION_MAJOR);
    assert_in_range(ATTN_VERSION_MINOR, 0, 99);
    assert_in_range(ATTN_VERSION_PATCH, 0, 99);
}

static void test_version_string(void **state)
{
    (void)state;
    const char *s = attn_version_string();
    assert_non_null(s);
    assert_string_equal(s, ATTN_VERSION_STRING);
    /* static: the same storage every call */
    assert_ptr_equal(s, attn_version_string());
    char expect[64];
    snprintf(expect, sizeof expect, "%d.%d.%d", ATTN_VERSION_MAJOR,
             ATTN_VERSION_MINOR, ATTN_VERSION_PATCH);
    assert_string_equal(s, expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_number),
        cmocka_unit_test(test_version_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
