// Synthetic weight matrices shaped like a trained LLM's linear layers, for benchmarks
// and error tables that must not depend on a downloaded model:
//   - body: Gaussian with standard deviation `sigma` (0.02, a typical init/trained scale);
//   - tails: a fraction (1%) of entries drawn instead from a Student-t with ν = 4, scaled
//     by sigma, so blocks now and then hold a weight many sigmas out;
//   - outlier columns: a few input features (8 of 4096) are 10× larger in every row, like
//     the outlier channels LLM.int8() found, so every block touching one is stretched.
// Deterministic on every platform: a SplitMix64 stream and closed-form transforms (no
// <random> distributions, whose algorithms differ between standard libraries).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace lowbit::bench {

struct LlmLikeSpec {
  int64_t rows = 4096;
  int64_t cols = 4096;
  double sigma = 0.02;
  double tail_fraction = 0.01;  // share of entries drawn from the Student-t (ν = 4)
  int outlier_columns = 8;
  double outlier_scale = 10.0;
  uint64_t seed = 0x6c6f77626974ULL;  // "lowbit"
};

// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough for test data.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1): never 0, so its logarithm is finite.
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1p-53; }
  // Standard normal by Box-Muller (the cosine branch only: simpler, same distribution).
  double gaussian() {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    return r * std::cos(2.0 * 3.14159265358979323846 * uniform());
  }
  // Student-t with 4 degrees of freedom: z / sqrt(chi2_4 / 4), where a chi-square with
  // 4 degrees of freedom is twice a Gamma(2, 1), i.e. -2 ln(u1 u2).
  double student_t4() {
    const double chi2 = -2.0 * std::log(uniform() * uniform());
    return gaussian() / std::sqrt(chi2 / 4.0);
  }

 private:
  uint64_t state_;
};

// Row-major rows×cols floats.
inline std::vector<float> llm_like_matrix(const LlmLikeSpec& spec = {}) {
  SplitMix64 rng(spec.seed);
  std::vector<double> column_scale(size_t(spec.cols), 1.0);
  for (int k = 0; k < spec.outlier_columns && k < spec.cols; ++k) {
    int64_t c;
    do c = int64_t(rng.next() % uint64_t(spec.cols));
    while (column_scale[size_t(c)] != 1.0);
    column_scale[size_t(c)] = spec.outlier_scale;
  }
  std::vector<float> w(size_t(spec.rows * spec.cols));
  for (int64_t r = 0; r < spec.rows; ++r)
    for (int64_t c = 0; c < spec.cols; ++c) {
      const bool tail = rng.uniform() < spec.tail_fraction;
      const double x = tail ? rng.student_t4() : rng.gaussian();
      w[size_t(r * spec.cols + c)] = float(spec.sigma * column_scale[size_t(c)] * x);
    }
  return w;
}

}  // namespace lowbit::bench
