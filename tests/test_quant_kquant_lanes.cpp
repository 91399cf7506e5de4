// The K-quant search's lane kernels (quant/kquant_lanes.h) against one-at-a-time
// code, bit for bit, at every lane width the CPU has, on random and adversarial
// sub-blocks: code_sums_lanes against code_sums_reference; the affine and symmetric
// fits, the grid steps and the two model scores against plain loops written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/quant/kquant_lanes.h"
#include "lowbit/simd/lanes.h"

namespace lowbit::kquant::detail {
namespace {

struct Rng {
  uint64_t s;
  float uniform() {  // [-1, 1)
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return float(s >> 40) * 0x1p-23f - 1.0f;
  }
};

// subs sub-blocks of n weights, transposed as the kernels take them, with zeros, a
// constant, an outlier, denormals and fp16 extremes among them.
std::vector<float> transposed_blocks(int n, int subs, uint64_t seed) {
  Rng rng{seed};
  std::vector<float> xt(size_t(n) * size_t(subs));
  for (int j = 0; j < subs; ++j)
    for (int i = 0; i < n; ++i) {
      float v = std::ldexp(rng.uniform(), j % 5 - 3);
      switch (j % 6) {
        case 1:
          v = 0.0f;
          break;
        case 2:
          v = -0.25f;
          break;
        case 3:
          if (i == j % n) v = 300.0f;
          break;
        case 4:
          v *= 1e-39f;
          break;
        case 5:
          if (i == 0) v = 65504.0f;
          break;
        default:
          break;
      }
      xt[size_t(i) * size_t(subs) + size_t(j)] = v;
    }
  return xt;
}

template <class Check>
void for_each_width(Check check) {
  for (int width : {4, 8, 16}) {
    if (width > quant::lanes::native_width()) continue;
    quant::lanes::width_override() = width;
    SCOPED_TRACE("lane width " + std::to_string(width));
    check();
  }
  quant::lanes::width_override() = 0;
}

uint32_t bits(float v) { return std::bit_cast<uint32_t>(v); }

TEST(KquantLanes, CodeSumsMatchTheReference) {
  for_each_width([] {
    for (int n : {16, 32})
      for (int subs : {8, 16})
        for (bool with_error : {false, true}) {
          const std::vector<float> xt = transposed_blocks(n, subs, uint64_t(n * 100 + subs));
          Rng rng{uint64_t(7 + subs)};
          float inv[16], O[16], S[16];
          for (int j = 0; j < subs; ++j) {  // steps on the sub-block's scale, so codes spread
            float amax = 0;
            for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(xt[size_t(i) * size_t(subs) + size_t(j)]));
            S[j] = j % 7 == 6 ? 0.0f : amax / 3.5f * (1.0f + 0.2f * rng.uniform());
            inv[j] = S[j] != 0.0f ? 1.0f / S[j] : 0.0f;
            O[j] = j % 3 == 0 ? 0.0f : std::fabs(rng.uniform()) * S[j];
          }
          inv[subs - 1] = INFINITY;  // a NaN or infinite product: clamped
          LaneSums got;
          code_sums_lanes(xt.data(), n, subs, inv, O, with_error ? S : nullptr, -4.0f, 3.0f, &got);
          for (int j = 0; j < subs; ++j) {
            std::vector<float> x(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) x[size_t(i)] = xt[size_t(i) * size_t(subs) + size_t(j)];
            float c, c2, cx, e2 = 0;
            code_sums_reference(x.data(), n, inv[j], O[j], with_error ? &S[j] : nullptr, -4.0f, 3.0f, &c, &c2, &cx,
                                &e2);
            SCOPED_TRACE("n " + std::to_string(n) + " subs " + std::to_string(subs) + " sub-block " +
                         std::to_string(j));
            ASSERT_EQ(bits(got.c[j]), bits(c));
            ASSERT_EQ(bits(got.c2[j]), bits(c2));
            ASSERT_EQ(bits(got.cx[j]), bits(cx));
            if (with_error) {
              ASSERT_EQ(bits(got.e2[j]), bits(e2));
            }
          }
        }
  });
}

TEST(KquantLanes, ModelScoresMatchPlainLoops) {
  Rng rng{99};
  constexpr int subs = 16;
  float S[subs], c[subs], c2[subs], wanted[subs], dO[subs], O[subs], w[subs];
  for (int j = 0; j < subs; ++j) {
    S[j] = std::fabs(rng.uniform()) * 0.01f;
    c[j] = std::fabs(rng.uniform()) * 40.0f;
    c2[j] = c[j] * 3.0f;
    wanted[j] = S[j] * (1.0f + 0.1f * rng.uniform());
    dO[j] = rng.uniform() * 0.001f;
    O[j] = std::fabs(rng.uniform()) * 0.05f;
    w[j] = 16.0f - std::fabs(rng.uniform());
  }
  const StepModel model{S, c, c2, wanted, dO, subs, 1, 15, 0.125f};
  for_each_width([&] {
    for (int count : {1, 5, 16, 17, 40}) {
      std::vector<float> d(static_cast<size_t>(count)), got(static_cast<size_t>(count));
      for (int a = 0; a < count; ++a) d[size_t(a)] = a == 3 ? 0.0f : 0.0008f * float(a + 1);
      score_steps_lanes(model, d.data(), count, got.data());
      for (int a = 0; a < count; ++a) {
        const float inv_d = d[size_t(a)] != 0.0f ? 1.0f / d[size_t(a)] : 0.0f;
        float want = model.base;
        for (int j = 0; j < subs; ++j) {
          const int sc = nearest_int(std::min(15.0f, std::max(1.0f, wanted[j] * inv_d)));
          const float dS = d[size_t(a)] * float(sc) - S[j];
          want += c2[j] * dS * dS - 2.0f * c[j] * dS * dO[j];
        }
        ASSERT_EQ(bits(got[size_t(a)]), bits(want)) << "step candidate " << a << " of " << count;
      }
      score_mins_lanes(O, w, subs, 15, d.data() + 1, count - 1, got.data());  // d[0] skipped: any order
      for (int a = 0; a + 1 < count; ++a) {
        const float dmin = d[size_t(a) + 1];
        if (dmin == 0.0f) continue;  // the mins' candidates are never 0
        float want = 0;
        for (int j = 0; j < subs; ++j) {
          const float dOj = dmin * float(nearest_int(std::min(15.0f, std::max(0.0f, O[j] / dmin)))) - O[j];
          want += w[j] * dOj * dOj;
        }
        ASSERT_EQ(bits(got[size_t(a)]), bits(want)) << "min candidate " << a << " of " << count - 1;
      }
    }
  });
}

// fit_affine_lanes' spec for one sub-block x[0..n), in the kernel's float and double
// operations.
AffineFits affine_fit_one(const float* x, int n, int nmax, float t_lo, float t_hi, int count) {
  float xmin = x[0], xmax = x[0], sum_x = 0, sum_x2 = 0;
  for (int i = 0; i < n; ++i) {
    xmin = x[i] < xmin ? x[i] : xmin;
    xmax = x[i] > xmax ? x[i] : xmax;
    sum_x += x[i];
    sum_x2 += x[i] * x[i];
  }
  xmin = xmin < 0.0f ? xmin : 0.0f;
  AffineFits f{};
  f.range[0] = xmax - xmin;
  f.offset[0] = -xmin;
  f.sum_x[0] = sum_x;
  f.err[0] = INFINITY;
  const double nd = n, sx = sum_x, sx2 = sum_x2;
  for (int k = 0; k < count; ++k) {
    const float iscale = spread(t_lo, t_hi, k, count) / f.range[0];
    float c = 0, c2 = 0, cx = 0;
    for (int i = 0; i < n; ++i) {
      const float q = float(nearest_int(std::min(float(nmax), std::max(0.0f, (x[i] + f.offset[0]) * iscale))));
      c += q;
      c2 += q * q;
      cx += q * x[i];
    }
    const double dc = c, dc2 = c2, dcx = cx;
    const double D = nd * dc2 - dc * dc;
    double S = (nd * dcx - dc * sx) / D, O = (dc * dcx - dc2 * sx) / D;
    if (O < 0) {
      S = dcx / dc2;
      O = 0;
    }
    const double err = S * S * dc2 + nd * O * O + sx2 - 2.0 * S * O * dc - 2.0 * S * dcx + 2.0 * O * sx;
    if (D > 0 && S > 0 && err < f.err[0]) {
      f.err[0] = err;
      f.S[0] = S;
      f.O[0] = O;
      f.c[0] = dc;
      f.c2[0] = dc2;
    }
  }
  return f;
}

TEST(KquantLanes, AffineFitsMatchOneSubBlockAtATime) {
  for_each_width([] {
    for (int n : {16, 32})
      for (int subs : {8, 16}) {
        const std::vector<float> xt = transposed_blocks(n, subs, uint64_t(n + subs));
        AffineFits got{};
        fit_affine_lanes(xt.data(), n, subs, 3, 1.5f, 3.5f, 20, &got);
        int fitted = 0;
        for (int j = 0; j < subs; ++j) {
          std::vector<float> x(static_cast<size_t>(n));
          for (int i = 0; i < n; ++i) x[size_t(i)] = xt[size_t(i) * size_t(subs) + size_t(j)];
          const AffineFits want = affine_fit_one(x.data(), n, 3, 1.5f, 3.5f, 20);
          SCOPED_TRACE("n " + std::to_string(n) + " subs " + std::to_string(subs) + " sub-block " + std::to_string(j));
          ASSERT_EQ(bits(got.range[j]), bits(want.range[0]));
          ASSERT_EQ(bits(got.offset[j]), bits(want.offset[0]));
          ASSERT_EQ(bits(got.sum_x[j]), bits(want.sum_x[0]));
          ASSERT_EQ(std::bit_cast<uint64_t>(got.err[j]), std::bit_cast<uint64_t>(want.err[0]));
          if (!std::isfinite(want.err[0])) continue;
          ++fitted;
          ASSERT_EQ(std::bit_cast<uint64_t>(got.S[j]), std::bit_cast<uint64_t>(want.S[0]));
          ASSERT_EQ(std::bit_cast<uint64_t>(got.O[j]), std::bit_cast<uint64_t>(want.O[0]));
          ASSERT_EQ(std::bit_cast<uint64_t>(got.c[j]), std::bit_cast<uint64_t>(want.c[0]));
          ASSERT_EQ(std::bit_cast<uint64_t>(got.c2[j]), std::bit_cast<uint64_t>(want.c2[0]));
        }
        EXPECT_GT(fitted, subs / 3);
      }
  });
}

TEST(KquantLanes, SymmetricFitsMatchOneSubBlockAtATime) {
  // The spec: each candidate's sums by code_sums_reference, the comparison in double.
  for_each_width([] {
    for (int n : {16, 32})
      for (int subs : {8, 16}) {
        const std::vector<float> xt = transposed_blocks(n, subs, uint64_t(3 * n + subs));
        float max[16];
        for (int j = 0; j < subs; ++j) {
          max[j] = 0;
          for (int i = 0; i < n; ++i) {
            const float v = xt[size_t(i) * size_t(subs) + size_t(j)];
            if (std::fabs(v) > std::fabs(max[j])) max[j] = v;
          }
        }
        const float ts[7] = {-4.5f, -4.0f, -3.6f, -3.2f, 2.5f, 3.0f, 3.4f};
        SymmetricFits got;
        fit_symmetric_lanes(xt.data(), n, subs, max, ts, 7, -4.0f, 3.0f, &got);
        for (int j = 0; j < subs; ++j) {
          if (max[j] == 0.0f) continue;  // the caller leaves these out
          std::vector<float> x(static_cast<size_t>(n));
          for (int i = 0; i < n; ++i) x[size_t(i)] = xt[size_t(i) * size_t(subs) + size_t(j)];
          double best_cx = 0, best_c2 = 0;
          float want_S = 0, want_c = 0, want_c2 = 0;
          for (float t : ts) {
            float c, c2, cx;
            code_sums_reference(x.data(), n, t / max[j], 0.0f, nullptr, -4.0f, 3.0f, &c, &c2, &cx, nullptr);
            if (!(c2 > 0)) continue;
            if (best_c2 == 0 || double(cx) * cx * best_c2 > best_cx * best_cx * c2) {
              best_cx = cx;
              best_c2 = c2;
              want_S = cx / c2;
              want_c = c;
              want_c2 = c2;
            }
          }
          SCOPED_TRACE("n " + std::to_string(n) + " subs " + std::to_string(subs) + " sub-block " + std::to_string(j));
          ASSERT_EQ(got.found[j], best_c2 != 0);
          ASSERT_EQ(bits(got.S[j]), bits(want_S));
          ASSERT_EQ(bits(got.c[j]), bits(want_c));
          ASSERT_EQ(bits(got.c2[j]), bits(want_c2));
        }
      }
  });
}

TEST(KquantLanes, GridStepsMatchOneSubBlockAtATime) {
  // The spec, per sub-block: the steps in order, each judged by code_sums_reference.
  static constexpr int kSteps[6][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}};
  for_each_width([] {
    for (int n : {16, 32})
      for (int subs : {8, 16})
        for (int steps : {2, 6}) {
          const std::vector<float> xt = transposed_blocks(n, subs, uint64_t(5 * n + subs + steps));
          const float d = 0.004f, dmin = steps == 6 ? 0.003f : 0.0f;
          const StepGrid grid{1, 15, steps == 6 ? 15 : 0, steps, 2, 0.0f, 3.0f};
          int sc[16], m[16];
          float err[16];
          for (int j = 0; j < subs; ++j) {
            sc[j] = 1 + (j * 7) % 15;  // 1 and 15, the ends of the grid, among them
            m[j] = steps == 6 ? (j * 3) % 16 : 0;
            err[j] = j % 5 == 4 ? 0.0f : 1e30f;  // some cannot improve at all
          }
          int want_sc[16], want_m[16];
          float want_err[16];
          for (int j = 0; j < subs; ++j) {
            std::vector<float> x(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) x[size_t(i)] = xt[size_t(i) * size_t(subs) + size_t(j)];
            int bs = sc[j], bm = m[j];
            float be = err[j];
            for (int pass = 0; pass < 2; ++pass) {
              bool moved = false;
              for (int k = 0; k < steps; ++k) {
                const int s2 = bs + kSteps[k][0], m2 = bm + kSteps[k][1];
                if (s2 < 1 || s2 > 15 || m2 < 0 || m2 > grid.min_max) continue;
                const float S = d * float(s2), O = dmin * float(m2);
                float c, c2, cx, e2;
                code_sums_reference(x.data(), n, S != 0.0f ? 1.0f / S : 0.0f, O, &S, 0.0f, 3.0f, &c, &c2, &cx, &e2);
                if (e2 < be) {
                  be = e2;
                  bs = s2;
                  bm = m2;
                  moved = true;
                }
              }
              if (!moved) break;
            }
            want_sc[j] = bs;
            want_m[j] = bm;
            want_err[j] = be;
          }
          refine_steps_lanes(xt.data(), n, subs, d, dmin, grid, sc, m, err);
          int changed = 0;
          for (int j = 0; j < subs; ++j) {
            SCOPED_TRACE("n " + std::to_string(n) + " subs " + std::to_string(subs) + " steps " +
                         std::to_string(steps) + " sub-block " + std::to_string(j));
            ASSERT_EQ(sc[j], want_sc[j]);
            ASSERT_EQ(m[j], want_m[j]);
            ASSERT_EQ(bits(err[j]), bits(want_err[j]));
            changed += err[j] != 1e30f && err[j] != 0.0f;
          }
          EXPECT_GT(changed, 0);
        }
  });
}

TEST(KquantLanes, RejectsShapesItCannotHold) {
  float v[16] = {};
  LaneSums sums;
  EXPECT_THROW(code_sums_lanes(v, 24, 8, v, v, nullptr, 0.0f, 3.0f, &sums), std::invalid_argument);
  EXPECT_THROW(code_sums_lanes(v, 16, 4, v, v, nullptr, 0.0f, 3.0f, &sums), std::invalid_argument);
}

}  // namespace
}  // namespace lowbit::kquant::detail
