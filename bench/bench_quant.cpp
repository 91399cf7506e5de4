// Quantization throughput (weights/s) for every format × method in the registry:
//   llm_like/FMT/METHOD/threads:T   a 4096×4096 synthetic LLM-like matrix (llm_like.h)
//   stories260K/FMT/METHOD/threads:T  the 2-D tensors of stories260K whose rows fit FMT's block
//   row4096/FMT/rtn                  one 4096-float row held in L1, filled with
//                                    0.1 + 2 cos(i) as llama.cpp's test-quantize-perf does,
//                                    so its figures can be set beside ours
//   memcpy/...                       copying the same bytes, the machine-speed reference
// Every quantization benchmark also times a memcpy of its own input bytes with the same
// threads just before it runs and reports `memcpys` = quantize time / memcpy time, a
// figure that survives the noise of a shared machine.
//
//   build/bench_quant [--benchmark_filter=REGEX]
//   build/bench_quant --write_llm_like=PATH   writes the synthetic matrix as an F32 GGUF
//                                             file (for `lowbit qerror PATH`) and exits
// stories260K is read from $LOWBIT_SHARED/models/stories260K/stories260K.bin
// (LOWBIT_SHARED defaults to ../shared).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "llm_like.h"
#include "lowbit/core/parallel.h"
#include "lowbit/eval/qerror.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/load.h"
#include "lowbit/quant/method_table.h"

namespace {

using namespace lowbit;

// A matrix of floats to quantize.
struct Matrix {
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
};

// Weights per quantizer call: runs of whole rows up to this many.
constexpr int64_t kJobElements = int64_t{1} << 16;

// The rows of a workload that fit one format, in runs of rows, with where each run's
// codes go.
struct RowJobs {
  std::vector<const float*> src;
  std::vector<std::byte*> dst;
  std::vector<int64_t> n;
  int64_t weights = 0;
  std::vector<std::byte> out;  // every run's codes
  std::vector<float> copy;     // the memcpy reference's destination
};

RowJobs row_jobs(const std::vector<Matrix>& matrices, DType type) {
  RowJobs jobs;
  uint64_t bytes = 0;
  for (const auto& m : matrices)
    if (not_applicable_reason(type, m.cols).empty()) bytes += uint64_t(m.rows) * *row_bytes(type, uint64_t(m.cols));
  jobs.out.resize(size_t(bytes));
  uint64_t at = 0;
  for (const auto& m : matrices) {
    if (!not_applicable_reason(type, m.cols).empty()) continue;
    // Runs of rows of up to kJobElements weights, each quantized in one call, as `lowbit
    // quantize` hands each thread its rows (whole blocks per row, so the same bytes as
    // row by row).
    const int64_t per_job = std::max<int64_t>(1, kJobElements / m.cols);
    for (int64_t r = 0; r < m.rows; r += per_job) {
      const int64_t nr = std::min(per_job, m.rows - r);
      jobs.src.push_back(m.data + r * m.cols);
      jobs.dst.push_back(jobs.out.data() + at);
      jobs.n.push_back(nr * m.cols);
      at += uint64_t(nr) * *row_bytes(type, uint64_t(m.cols));
    }
    jobs.weights += m.rows * m.cols;
  }
  jobs.copy.resize(size_t(jobs.weights));
  return jobs;
}

// Copies every run's floats, runs split across threads as the quantizer's are.
void copy_rows(RowJobs& jobs, int threads) {
  std::vector<int64_t> offset(jobs.src.size() + 1, 0);
  for (size_t k = 0; k < jobs.src.size(); ++k) offset[k + 1] = offset[k] + jobs.n[k];
  parallel_for(int64_t(jobs.src.size()), threads, [&](int64_t a, int64_t b) {
    for (int64_t k = a; k < b; ++k)
      std::memcpy(jobs.copy.data() + offset[size_t(k)], jobs.src[size_t(k)], size_t(jobs.n[size_t(k)]) * sizeof(float));
  });
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best of five: the reference should reflect the machine, not a descheduled moment.
double memcpy_seconds(RowJobs& jobs, int threads) {
  double best = 1e30;
  for (int k = 0; k < 5; ++k) {
    const auto start = std::chrono::steady_clock::now();
    copy_rows(jobs, threads);
    benchmark::ClobberMemory();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

void quantize_rows(const RowJobs& jobs, QuantizeFn quantize, int threads) {
  const QuantOptions options;
  parallel_for(int64_t(jobs.src.size()), threads, [&](int64_t a, int64_t b) {
    for (int64_t k = a; k < b; ++k) quantize(jobs.src[size_t(k)], jobs.dst[size_t(k)], jobs.n[size_t(k)], options);
  });
}

void run_quantize(benchmark::State& state, const std::vector<Matrix>& matrices, QuantChoice choice, int threads) {
  RowJobs jobs = row_jobs(matrices, choice.type);
  const QuantizeFn quantize = methods(choice.type).quantizer(choice.method);
  const double reference = memcpy_seconds(jobs, threads);
  double total = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    quantize_rows(jobs, quantize, threads);
    benchmark::ClobberMemory();
    total += seconds_since(start);
  }
  state.SetItemsProcessed(state.iterations() * jobs.weights);
  state.counters["memcpys"] = total / double(state.iterations()) / reference;
  state.counters["weights"] = double(jobs.weights);
}

void run_memcpy(benchmark::State& state, const std::vector<Matrix>& matrices, int threads) {
  RowJobs jobs = row_jobs(matrices, DType::F32);
  for (auto _ : state) {
    copy_rows(jobs, threads);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * jobs.weights);
  state.SetBytesProcessed(state.iterations() * jobs.weights * int64_t(sizeof(float)));
}

// test-quantize-perf's setting: one 4096-float row, quantized over and over from L1.
void run_row(benchmark::State& state, QuantChoice choice) {
  constexpr int64_t kRow = 4096;
  std::vector<float> x(kRow);
  for (int64_t i = 0; i < kRow; ++i) x[size_t(i)] = 0.1f + 2.0f * std::cos(float(i));
  std::vector<std::byte> out(size_t(*row_bytes(choice.type, kRow)));
  const QuantizeFn quantize = methods(choice.type).quantizer(choice.method);
  const QuantOptions options;
  for (auto _ : state) {
    quantize(x.data(), out.data(), kRow, options);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kRow);
  state.SetBytesProcessed(state.iterations() * kRow * int64_t(sizeof(float)));  // float32 throughput
}

const std::vector<float>& llm_like() {
  static const std::vector<float> w = bench::llm_like_matrix();
  return w;
}

std::string shared_dir() {
  const char* env = std::getenv("LOWBIT_SHARED");
  return env && *env ? env : "../shared";
}

// stories260K's weight matrices in float (it is stored as F32; decoded anyway).
struct Stories {
  std::vector<std::vector<float>> buffers;
  std::vector<Matrix> matrices;
};

Stories load_stories(const std::string& path) {
  Stories s;
  const Model m = load_model(path);
  for (const auto& t : m.tensors) {
    if (t.shape.size() < 2) continue;
    auto& buf = s.buffers.emplace_back(size_t(t.numel()));
    traits(t.type).to_float(t.data.data(), buf.data(), t.numel());
  }
  size_t k = 0;
  for (const auto& t : m.tensors)
    if (t.shape.size() >= 2) s.matrices.push_back({s.buffers[k++].data(), t.numel() / t.cols(), t.cols()});
  return s;
}

void write_llm_like(const std::string& path) {
  const bench::LlmLikeSpec spec;
  const auto& w = llm_like();
  std::vector<gguf::KeyValue> metadata = {
      {"general.name", gguf::Value::string("lowbit llm_like 4096x4096 (bench/llm_like.h)")}};
  gguf::TensorInfo info{
      "llm_like.weight", {uint64_t(spec.cols), uint64_t(spec.rows)}, DType::F32, 0, uint64_t(w.size() * sizeof(float))};
  gguf::Writer out(path, metadata, {info});
  out.write_data(std::as_bytes(std::span(w)));
  out.finish();
}

std::string choice_name(QuantChoice c) {
  return std::string(traits(c.type).name) + "/" + std::string(method_name(c.method));
}

void register_all() {
  const int all = resolve_threads(0);
  std::vector<int> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);
  const std::vector<Matrix> synthetic = {{llm_like().data(), bench::LlmLikeSpec{}.rows, bench::LlmLikeSpec{}.cols}};

  static Stories stories;
  const std::string stories_path = shared_dir() + "/models/stories260K/stories260K.bin";
  if (std::filesystem::exists(stories_path))
    stories = load_stories(stories_path);
  else
    std::fprintf(stderr, "bench_quant: %s not found (set LOWBIT_SHARED); skipping stories260K\n", stories_path.c_str());

  for (int t : thread_counts) {
    const std::string suffix = "/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(("memcpy/llm_like" + suffix).c_str(), run_memcpy, synthetic, t)->UseRealTime();
    if (!stories.matrices.empty())
      benchmark::RegisterBenchmark(("memcpy/stories260K" + suffix).c_str(), run_memcpy, stories.matrices, t)
          ->UseRealTime();
  }
  for (const QuantChoice c : default_choices())
    for (int t : thread_counts)
      benchmark::RegisterBenchmark(("llm_like/" + choice_name(c) + "/threads:" + std::to_string(t)).c_str(),
                                   run_quantize, synthetic, c, t)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  for (const QuantChoice c : default_choices()) {
    bool fits = false;
    for (const auto& m : stories.matrices) fits = fits || not_applicable_reason(c.type, m.cols).empty();
    if (!fits) continue;  // e.g. K-quants: stories260K's rows (64, 172) are shorter than 256
    for (int t : thread_counts)
      benchmark::RegisterBenchmark(("stories260K/" + choice_name(c) + "/threads:" + std::to_string(t)).c_str(),
                                   run_quantize, stories.matrices, c, t)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  }
  for (const QuantChoice c : default_choices())
    if (c.method == Method::Rtn)
      benchmark::RegisterBenchmark(("row4096/" + choice_name(c)).c_str(), run_row, c)->Unit(benchmark::kNanosecond);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string write_flag = "--write_llm_like=";
  for (int k = 1; k < argc; ++k)
    if (std::strncmp(argv[k], write_flag.c_str(), write_flag.size()) == 0) {
      try {
        write_llm_like(argv[k] + write_flag.size());
        return 0;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_quant: %s\n", e.what());
        return 1;
      }
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
