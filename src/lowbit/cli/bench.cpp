// lowbit bench -m MODEL: llama-bench's pp/tg figures plus memory and bandwidth.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/session.h"
#include "lowbit/core/thread_pool.h"
#include "lowbit/eval/bench.h"
#include "lowbit/formats/registry.h"

namespace lowbit::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::vector<int64_t> n_prompt{128}, n_gen{64};  // as llama-bench: lists, 0 = skip
  int repetitions = 3, threads = 0;
  SessionOptions engine;  // --kv-type, --no-repack
  bool json = false;
};

struct TestResult {
  std::string name;  // "pp128", "tg64"
  int64_t tokens;
  Rate rate;
};

double mib(size_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

void run_bench(const BenchArgs& args) {
  int64_t longest = 1, longest_prompt = 1;
  for (int64_t n : args.n_prompt) longest_prompt = std::max(longest_prompt, n);
  for (int64_t n : args.n_gen) longest = std::max(longest, n);
  longest = std::max(longest, longest_prompt);
  // Random tokens: no vocabulary needed.
  auto s = open_session(args.model, {.ctx = longest + 1,
                                     .threads = args.threads,
                                     .batch = longest_prompt,
                                     .with_tokenizer = false,
                                     .kv_type = args.engine.kv_type,
                                     .repack = args.engine.repack});
  Llama& llama = *s->llama;
  size_t weight_bytes = 0;
  for (const auto& t : s->model.tensors) weight_bytes += t.data.size();

  std::vector<TestResult> tests;
  for (int64_t n : args.n_prompt)
    if (n > 0) tests.push_back({"pp" + std::to_string(n), n, bench_prompt(llama, n, args.repetitions)});
  for (int64_t n : args.n_gen)
    if (n > 0) tests.push_back({"tg" + std::to_string(n), n, bench_generation(llama, n, args.repetitions)});
  const size_t peak = peak_resident_bytes();
  const auto gemv = bench_gemv(llama, llama.pool(), args.repetitions);
  const double read_bw = read_bandwidth(llama.pool(), size_t(1) << 30, args.repetitions);

  if (args.json) {
    nlohmann::json j = {{"model", args.model},
                        {"threads", llama.pool().size()},
                        {"tests", nlohmann::json::array()},
                        {"peak_resident_bytes", peak},
                        {"weight_bytes", weight_bytes},
                        {"repacked_bytes", llama.repacked_bytes()},
                        {"kv_cache_bytes", llama.kv_cache_bytes()},
                        {"activation_bytes", llama.activation_bytes()},
                        {"read_bandwidth_bytes_per_second", read_bw}};
    for (const auto& t : tests)
      j["tests"].push_back(
          {{"name", t.name}, {"tokens", t.tokens}, {"tokens_per_second", t.rate.mean}, {"stddev", t.rate.stddev}});
    for (const auto& g : gemv)
      j["gemv"].push_back({{"type", traits(g.type).name},
                           {"tensors", g.tensors},
                           {"bytes", g.bytes},
                           {"bytes_per_second", g.bytes_per_second}});
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("| model | threads | test | t/s |\n|---|---:|---:|---:|\n");
  for (const auto& t : tests)
    std::printf("| %s | %d | %s | %.2f ± %.2f |\n", args.model.c_str(), llama.pool().size(), t.name.c_str(),
                t.rate.mean, t.rate.stddev);
  std::printf(
      "\nmemory: peak resident %.1f MiB = weights %.1f MiB (%.1f MiB of them repacked, the rest mapped) + "
      "KV cache %.1f MiB + activations %.1f MiB + rest\n",
      mib(peak), mib(weight_bytes), mib(llama.repacked_bytes()), mib(llama.kv_cache_bytes()),
      mib(llama.activation_bytes()));
  std::printf("memory read bandwidth (%d threads): %.2f GB/s\n\n", llama.pool().size(), read_bw / 1e9);
  std::printf("| format | matrices | MiB | GEMV GB/s | of read bandwidth |\n|---|---:|---:|---:|---:|\n");
  for (const auto& g : gemv)
    std::printf("| %s | %zu | %.1f | %.2f | %.0f%% |\n", std::string(traits(g.type).name).c_str(), g.tensors,
                mib(g.bytes), g.bytes_per_second / 1e9, 100 * g.bytes_per_second / read_bw);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "prompt and generation speed, memory, GEMV bandwidth (like llama-bench)");
  cmd->add_option("-m,--model", args->model, "model file")->required();
  cmd->add_option("-p,--n-prompt", args->n_prompt, "prompt tokens (pp tests), a list as 128,512; 0 = skip")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", args->n_gen, "generated tokens (tg tests), a list as 64,128; 0 = skip")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", args->repetitions, "repetitions of each test")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  add_engine_options(cmd, args->engine);
  cmd->add_flag("--json", args->json, "print the figures as JSON");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace lowbit::cli
