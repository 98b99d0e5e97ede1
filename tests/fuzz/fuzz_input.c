#include "fuzz_input.h"

void fi_init(fuzz_input *in, const uint8_t *data, size_t size)
{
    in->data = data;
    in->size = size;
    in->pos = 0;
}

uint8_t fi_u8(fuzz_input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

uint16_t fi_u16(fuzz_input *in)
{
    uint16_t lo = fi_u8(in);
    return (uint16_t)(lo | (uint16_t)fi_u8(in) << 8);
}

uint64_t fi_u64(fuzz_input *in)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
        x |= (uint64_t)fi_u8(in) << (8 * i);
    return x;
}

int64_t fi_range(fuzz_input *in, int64_t lo, int64_t hi)
{
    const uint64_t span = (uint64_t)(hi - lo) + 1;
    const uint64_t x = span > 256 ? fi_u16(in) : fi_u8(in);
    return lo + (int64_t)(x % span);
}

size_t fi_left(const fuzz_input *in)
{
    return in->size - in->pos;
}

uint64_t fr_next(fuzz_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

float fr_value(fuzz_rng *r, float bound)
{
    const uint64_t steps = (uint64_t)(bound * 64.0f);
    const int64_t k = (int64_t)(fr_next(r) % (2 * steps + 1)) - (int64_t)steps;
    return (float)k / 64.0f;
}

int fr_chance(fuzz_rng *r, unsigned p256)
{
    return (fr_next(r) & 0xFF) < p256;
}
