// Inputs and helpers shared by the block-format tests (test_formats_legacy.cpp,
// test_formats_ternary.cpp).
//
// The known-good hashes in those tests came from running ggml's own quantizers
// (ggml-org/ggml, ggml-quants.c, built outside this repository) and gguf-py's numpy
// dequantizers on exactly the floats oracle_inputs() returns. Those floats are built
// from integers, powers of two and float literals only -- no libm -- so every
// platform regenerates them bit for bit; kOracleInputsHash pins that down.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "lowbit/formats/registry.h"

namespace lowbit::test {

inline constexpr int kOracleRowLength = 256;  // one TQ block, eight 32-element blocks
inline constexpr int kOracleRows = 16;
// FNV-1a of the bytes of oracle_inputs(), as fed to the oracle.
inline constexpr uint64_t kOracleInputsHash = 0xe302984baba24571ull;

// FNV-1a, 64-bit.
inline uint64_t fnv1a64(const void* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// A 32-bit LCG (Numerical Recipes constants): fully specified, unlike std's distributions.
struct Lcg {
  uint32_t state;
  uint32_t next() {
    state = state * 1664525u + 1013904223u;
    return state;
  }
  // Sum of four 12-bit uniforms, centred: a bell-shaped integer in [-8190, 8190]
  // (standard deviation ~2365), scaled by 2^-11 so it is exact in float.
  float bell() {
    int sum = 0;
    for (int k = 0; k < 4; ++k) sum += int(next() >> 20);
    return float(sum - 8190) * 0x1.0p-11f;
  }
};

// Sixteen 256-element rows: six bell-shaped rows at different magnitudes with
// outliers, then adversarial rows (zeros, constants, a 1e4 outlier, denormals,
// +-65504, alternating signs, exact grids and rounding ties).
inline std::vector<float> oracle_inputs() {
  std::vector<float> v(size_t(kOracleRows) * kOracleRowLength, 0.0f);
  auto row = [&](int r) { return std::span<float>(v).subspan(size_t(r) * kOracleRowLength, kOracleRowLength); };

  const int exponents[6] = {0, -4, 3, -10, 8, -1};
  for (int r = 0; r < 6; ++r) {
    Lcg rng{uint32_t(12345 + r)};
    for (int i = 0; i < kOracleRowLength; ++i) {
      float x = std::ldexp(rng.bell(), exponents[r]);
      if ((i * 37 + r) % 101 == 0) x *= 20.0f;
      row(r)[i] = x;
    }
  }
  // Row 6 stays all zeros. Row 7: a different constant in each 32-element block.
  const float constants[8] = {0.75f, -3.0f, 0.001f, 65504.0f, -65504.0f, 7.0f, -0.1f, 1.0f};
  for (int i = 0; i < kOracleRowLength; ++i) row(7)[i] = constants[i / 32];
  // Row 8: small values and one 1e4 outlier.
  {
    Lcg rng{777};
    for (int i = 0; i < kOracleRowLength; ++i) row(8)[i] = rng.bell() * 0x1.0p-8f;
    row(8)[77] = 1e4f;
  }
  // Row 9: per block, denormals, tiny normals around IQ4_NL's 1e-15 cut-off, and
  // denormal scales whose inverse does or does not overflow.
  for (int i = 0; i < kOracleRowLength; ++i) {
    const int j = i % 32;
    float x = 0.0f;
    switch (i / 32) {
      case 0:
        x = 1e-40f * float(j % 5 - 2);
        break;
      case 1:
        x = 1e-40f;
        break;
      case 2:
        x = 5e-39f * float(j % 7 - 3);
        break;
      case 3:
        x = 2e-15f * float(j % 9 - 4);
        break;
      case 4:
        x = 5e-16f * float(j % 3);
        break;
      case 5:
        x = j % 2 == 0 ? 1e-40f : (j == 5 ? 1.0f : 0.0f);
        break;
      case 6:
        x = j % 2 == 0 ? 1.17549435e-38f : -1.17549435e-38f;
        break;
      default:
        x = 3e-39f * float(j - 16);
        break;
    }
    row(9)[i] = x;
  }
  // Rows 10 and 11: a whole 256-block of denormals, so that 1/max overflows (10)
  // or stays finite (11) for the ternary formats too.
  for (int i = 0; i < kOracleRowLength; ++i) row(10)[i] = 1e-40f * float(i % 5 - 2);
  for (int i = 0; i < kOracleRowLength; ++i) row(11)[i] = 5e-39f * float(i % 3 - 1);
  // Row 12: +-65504 (the largest fp16) in several arrangements.
  {
    Lcg rng{4242};
    for (int i = 0; i < kOracleRowLength; ++i) {
      const int j = i % 32;
      const float sign = j % 2 == 0 ? 1.0f : -1.0f;
      float x = 0.0f;
      switch (i / 32) {
        case 0:
          x = 65504.0f * sign;
          break;
        case 1:
          x = j == 0 ? 65504.0f : rng.bell();
          break;
        case 2:
          x = j == 0 ? -65504.0f : (j == 1 ? 65504.0f : rng.bell());
          break;
        case 3:
          x = 65504.0f;
          break;
        case 4:
          x = float(j - 16) * 2047.0f;
          break;
        case 5:
          x = j == 31 ? -65504.0f : 1.0f;
          break;
        case 6:
          x = j % 3 == 0 ? 0.0f : 65504.0f * sign;
          break;
        default:
          x = 60000.0f * sign;
          break;
      }
      row(12)[i] = x;
    }
  }
  // Row 13: alternating signs.
  for (int i = 0; i < kOracleRowLength; ++i) row(13)[i] = (i % 2 == 0 ? 1.0f : -1.0f) * (1.0f + 0.25f * float(i % 3));
  // Row 14: exact grids and halves that put every rounding step on a tie.
  for (int i = 0; i < kOracleRowLength; ++i) {
    const int j = i % 32;
    float x = 0.0f;
    switch (i / 32) {
      case 0:
        x = float(j - 16);
        break;
      case 1:
        x = float(j % 16 - 8);
        break;
      case 2:
        x = float(j % 16 - 8) + 0.5f;
        break;
      case 3:
        x = float(j) * 0.5f;
        break;
      case 4:
        x = j % 2 == 0 ? 2.0f : 1.0f;
        break;
      case 5:
        x = j == 0 ? 1.0f : 0.5f * float(j % 3 - 1);
        break;
      case 6:
        x = j == 0 ? 127.0f : float(j - 16) + 0.5f;
        break;
      default:
        x = j == 0 ? -127.0f : float(j - 16) + 0.5f;
        break;
    }
    row(14)[i] = x;
  }
  // Row 15: equal magnitudes of both signs (the first one must win) and values at
  // exactly half the block maximum (a ternary rounding tie).
  for (int i = 0; i < kOracleRowLength; ++i) {
    const int j = i % 32;
    const float lead = (i / 32) % 2 == 0 ? -2.0f : 2.0f;
    const float pattern[4] = {-0.5f, 1.0f, -1.0f, 1.5f};
    row(15)[i] = j == 0 ? lead : (j == 9 ? -lead : pattern[i % 4]);
  }
  return v;
}

// Approximately N(0, 1) floats (Box-Muller on the standard mt19937, whose sequence
// the C++ standard fixes); used for error bounds only, never for exact bytes.
inline std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  auto uniform = [&] { return (double(gen()) + 0.5) / 4294967296.0; };
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(uniform()));
    const double angle = 6.283185307179586 * uniform();
    v[i] = float(radius * std::cos(angle));
    if (i + 1 < n) v[i + 1] = float(radius * std::sin(angle));
  }
  return v;
}

// sqrt(sum (x - y)^2 / sum x^2).
inline double relative_rms_error(std::span<const float> x, std::span<const float> y) {
  double err = 0.0;
  double ref = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
    ref += double(x[i]) * double(x[i]);
  }
  return std::sqrt(err / ref);
}

// Bytes and decoded values of x after one trip through format t's registry entry.
struct RoundTrip {
  std::vector<std::byte> bytes;
  std::vector<float> values;
};

inline RoundTrip round_trip(DType t, std::span<const float> x) {
  const TypeTraits& tt = traits(t);
  RoundTrip r;
  r.bytes.resize(row_bytes(t, x.size()).value());
  r.values.resize(x.size());
  tt.from_float(x.data(), r.bytes.data(), int64_t(x.size()));
  tt.to_float(r.bytes.data(), r.values.data(), int64_t(x.size()));
  return r;
}

// Named 256-element rows that stress scale selection; all finite and within
// +-65504 so that every format's fp16 scale stays finite.
struct NamedRow {
  std::string name;
  std::vector<float> values;
};

inline std::vector<NamedRow> adversarial_rows() {
  std::vector<NamedRow> rows;
  auto add = [&](std::string name, auto value_at) {
    std::vector<float> v(kOracleRowLength);
    for (int i = 0; i < kOracleRowLength; ++i) v[size_t(i)] = value_at(i);
    rows.push_back({std::move(name), std::move(v)});
  };
  const float constants[] = {0.75f, -3.0f, 1e-3f, 7.0f, 65504.0f, -65504.0f};
  for (float c : constants) add("constant " + std::to_string(c), [c](int) { return c; });
  Lcg rng{99};
  std::vector<float> small(kOracleRowLength);
  for (float& s : small) s = rng.bell() * 0x1.0p-7f;
  add("outlier 1e4 at 77", [&](int i) { return i == 77 ? 1e4f : small[size_t(i)]; });
  add("outlier -1e4 at 200", [&](int i) { return i == 200 ? -1e4f : small[size_t(i)]; });
  add("alternating +-65504", [](int i) { return i % 2 == 0 ? 65504.0f : -65504.0f; });
  add("65504 among small", [&](int i) { return i % 32 == 3 ? 65504.0f : small[size_t(i)]; });
  add("alternating signs", [](int i) { return (i % 2 == 0 ? 1.0f : -1.0f) * float(1 + i % 7); });
  add("ramp", [](int i) { return float(i - 128) * 0.125f; });
  add("denormals mixed into normals", [](int i) { return i % 16 == 0 ? 1.0f : 1e-40f * float(i % 3); });
  return rows;
}

// Rows whose every block maximum is far below the smallest fp16 number, so every
// format stores a zero scale and must decode exact zeros.
inline std::vector<NamedRow> vanishing_rows() {
  std::vector<NamedRow> rows;
  auto add = [&](std::string name, float unit, int period) {
    std::vector<float> v(kOracleRowLength);
    for (int i = 0; i < kOracleRowLength; ++i) v[size_t(i)] = unit * float(i % period - period / 2);
    rows.push_back({std::move(name), std::move(v)});
  };
  add("zeros", 0.0f, 1);
  add("denormals 1e-40", 1e-40f, 5);
  add("denormals 5e-39", 5e-39f, 3);
  add("smallest normal floats", 1.17549435e-38f, 3);
  add("1e-30", 1e-30f, 7);
  return rows;
}

inline std::string hex64(uint64_t h) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace lowbit::test
