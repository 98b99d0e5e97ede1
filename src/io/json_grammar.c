/*
 * A JSON grammar check that allocates nothing. jansson 2.14 does not report
 * its allocation failures while parsing: it leaves the error unset or
 * reports "invalid token" / "string or '}' expected". This check, as strict
 * as jansson's grammar (no control characters in strings, valid escapes
 * and surrogate pairs, JSON numbers, nothing but whitespace after the
 * value, the same depth limit), tells a malformed header from a failed
 * allocation. Counting the values on the way, it also tells beforehand
 * how large a tree jansson would build.
 */
#include "io/json_grammar.h"

#include <string.h>

typedef struct jscan {
    const unsigned char *p, *end;
    size_t left; /* values and keys still allowed */
} jscan;

/* One more value or key; 0 past the limit. */
static int js_count(jscan *s)
{
    if (s->left == 0)
        return 0;
    --s->left;
    return 1;
}

static void js_ws(jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        ++s->p;
}

static int js_hex4(jscan *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; ++i, ++s->p) {
        if (s->p >= s->end)
            return 0;
        const unsigned c = *s->p;
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

static int js_string(jscan *s)
{
    ++s->p; /* '"' */
    while (s->p < s->end) {
        const unsigned c = *s->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return 0;
        const unsigned e = *s->p++;
        if (e == 'u') {
            unsigned v, w;
            if (!js_hex4(s, &v))
                return 0;
            if (v >= 0xDC00 && v <= 0xDFFF)
                return 0;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return 0;
                s->p += 2;
                if (!js_hex4(s, &w) || w < 0xDC00 || w > 0xDFFF)
                    return 0;
            }
        } else if (!strchr("\"\\/bfnrt", (int)e) || e == 0) {
            return 0;
        }
    }
    return 0;
}

static int js_digits(jscan *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        ++s->p;
    return s->p > start;
}

static int js_number(jscan *s)
{
    if (*s->p == '-')
        ++s->p;
    if (s->p < s->end && *s->p == '0')
        ++s->p;
    else if (!js_digits(s))
        return 0;
    if (s->p < s->end && *s->p == '.') {
        ++s->p;
        if (!js_digits(s))
            return 0;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        ++s->p;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            ++s->p;
        if (!js_digits(s))
            return 0;
    }
    return 1;
}

static int js_literal(jscan *s, const char *word)
{
    const size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

static int js_value(jscan *s, int depth)
{
    js_ws(s);
    if (s->p >= s->end || depth > 2048 || /* jansson's JSON_PARSER_MAX_DEPTH */
        !js_count(s))
        return 0;
    const unsigned c = *s->p;
    if (c == '{' || c == '[') {
        const unsigned close = c == '{' ? '}' : ']';
        ++s->p;
        js_ws(s);
        if (s->p < s->end && *s->p == close) {
            ++s->p;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                js_ws(s);
                if (s->p >= s->end || *s->p != '"' || !js_count(s) ||
                    !js_string(s))
                    return 0;
                js_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                    return 0;
            }
            if (!js_value(s, depth + 1))
                return 0;
            js_ws(s);
            if (s->p >= s->end)
                return 0;
            const unsigned d = *s->p++;
            if (d == close)
                return 1;
            if (d != ',')
                return 0;
        }
    }
    if (c == '"')
        return js_string(s);
    if (c == '-' || (c >= '0' && c <= '9'))
        return js_number(s);
    return js_literal(s, "true") || js_literal(s, "false") || js_literal(s, "null");
}

int attni_json_grammar_ok(const char *json, size_t bytes, size_t max_values)
{
    jscan s = {(const unsigned char *)json, (const unsigned char *)json + bytes,
               max_values};
    if (!js_value(&s, 1))
        return 0;
    js_ws(&s);
    return s.p == s.end;
}

