// Storing a quantizer's parameters as a format holds them (fp16 for the legacy affine
// formats, IQ4_NL and the ternary ones), so the search sees the values that decode.
#pragma once

namespace lowbit::quant {

// How a format stores a scale or offset: returns the value that will decode.
using StoreFn = float (*)(float);

float stored_as_fp16(float v);  // fp16 round trip (Inf above 65504, like the format)

// v[i] = store(v[i]) for count values (nothing for a null store): for stored_as_fp16,
// eight per conversion where the CPU has F16C, with the same results.
void keep_all(StoreFn store, float* v, int count);

}  // namespace lowbit::quant
