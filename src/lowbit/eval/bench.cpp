#include "lowbit/eval/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/matmul.h"
#include "lowbit/kernels/weight_matrix.h"
#include "lowbit/engine/llama.h"

namespace lowbit {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Rate summarize(const std::vector<double>& rates) {
  Rate r;
  for (double x : rates) r.mean += x;
  r.mean /= double(rates.size());
  for (double x : rates) r.stddev += (x - r.mean) * (x - r.mean);
  r.stddev = rates.size() > 1 ? std::sqrt(r.stddev / double(rates.size() - 1)) : 0.0;
  return r;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(0, int32_t(vocab - 1));
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = pick(rng);
  return t;
}

size_t status_field(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return size_t(std::stoull(line.substr(std::strlen(key)))) * 1024;
  return 0;
}

}  // namespace

Rate bench_prompt(Llama& model, int64_t tokens, int repetitions) {
  const auto input = random_tokens(tokens, model.config().vocab_size);
  std::vector<double> rates;
  for (int r = 0; r < repetitions; ++r) {
    model.reset();
    const auto t0 = Clock::now();
    model.forward(input, false);
    rates.push_back(double(tokens) / seconds_since(t0));
  }
  return summarize(rates);
}

Rate bench_generation(Llama& model, int64_t tokens, int repetitions) {
  const auto input = random_tokens(tokens, model.config().vocab_size);
  std::vector<double> rates;
  for (int r = 0; r < repetitions; ++r) {
    model.reset();
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < tokens; ++i) model.forward({&input[size_t(i)], 1}, false);
    rates.push_back(double(tokens) / seconds_since(t0));
  }
  return summarize(rates);
}

double read_bandwidth(ThreadPool& pool, size_t bytes, int repetitions) {
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[n]);
  pool.run(int64_t(n), [&](int64_t b, int64_t e) {  // first touch by the reading thread
    for (int64_t i = b; i < e; ++i) buffer[size_t(i)] = uint64_t(i);
  });
  double best = 0;
  std::vector<uint64_t> sums(size_t(pool.size()));
  for (int r = 0; r < repetitions; ++r) {
    const auto t0 = Clock::now();
    pool.run_on_all([&](int t, int count) {
      uint64_t s = 0;
      for (size_t i = n * size_t(t) / size_t(count); i < n * size_t(t + 1) / size_t(count); ++i) s += buffer[i];
      sums[size_t(t)] = s;
    });
    best = std::max(best, double(bytes) / seconds_since(t0));
  }
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  if (total == 1) std::fprintf(stderr, " ");  // keeps the sums observable
  return best;
}

std::vector<GemvBandwidth> bench_gemv(const Llama& model, ThreadPool& pool, int repetitions) {
  std::map<DType, std::vector<const WeightMatrix*>> groups;
  for (const WeightMatrix* w : model.matrices()) groups[w->tensor().type].push_back(w);
  std::vector<GemvBandwidth> out;
  std::vector<float> x, y;
  for (const auto& group : groups) {
    const std::vector<const WeightMatrix*>& matrices = group.second;  // a plain name: lambdas capture it
    GemvBandwidth g{group.first, matrices.size(), 0, 0};
    for (const WeightMatrix* w : matrices) g.bytes += w->tensor().data.size();
    auto pass = [&] {
      for (const WeightMatrix* w : matrices) {
        x.assign(size_t(w->cols()), 0.5f);
        y.resize(size_t(w->rows()));
        matmul(*w, x, 1, y, &pool);
      }
    };
    pass();  // warm up: page the weights in
    for (int r = 0; r < repetitions; ++r) {
      const auto t0 = Clock::now();
      pass();
      g.bytes_per_second = std::max(g.bytes_per_second, double(g.bytes) / seconds_since(t0));
    }
    out.push_back(g);
  }
  return out;
}

size_t resident_bytes() { return status_field("VmRSS:"); }
size_t peak_resident_bytes() { return status_field("VmHWM:"); }

}  // namespace lowbit
