// lowbit inspect FILE: what a model file holds, without reading its tensor data.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lowbit/cli/commands.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/imatrix_file.h"
#include "lowbit/io/load.h"

namespace lowbit::cli {
namespace {

struct InspectArgs {
  std::string path;
  std::string tokenizer;
  bool json = false;
  bool all_metadata = false;
};

std::vector<std::pair<std::string, std::string>> metadata_summary(const std::string& path, size_t max_items) {
  std::vector<std::pair<std::string, std::string>> out;
  if (detect_file_kind(path) != FileKind::Gguf) return out;
  const auto f = gguf::File::open(path);
  for (const auto& kv : f.metadata) {
    std::string type(gguf::type_name(kv.value.type));
    out.emplace_back(kv.key, type + " " + kv.value.to_display(max_items));
  }
  return out;
}

const char* format_name(SourceFormat f) {
  switch (f) {
    case SourceFormat::Gguf:
      return "gguf";
    case SourceFormat::Safetensors:
      return "safetensors";
    case SourceFormat::Llama2c:
      return "llama2.c";
  }
  return "?";
}

nlohmann::json config_json(const ModelConfig& c) {
  nlohmann::json j = {{"architecture", c.architecture},
                      {"hidden_size", c.hidden_size},
                      {"n_layers", c.n_layers},
                      {"n_heads", c.n_heads},
                      {"n_kv_heads", c.n_kv_heads},
                      {"head_dim", c.head_dim},
                      {"ffn_size", c.ffn_size},
                      {"vocab_size", c.vocab_size},
                      {"context_length", c.context_length},
                      {"rope_theta", c.rope_theta},
                      {"rms_norm_eps", c.rms_norm_eps},
                      {"tied_embeddings", c.tied_embeddings},
                      {"attention_bias", c.attention_bias},
                      {"qk_norm", c.qk_norm}};
  if (!c.rope_scaling.type.empty())
    j["rope_scaling"] = {{"type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"original_context_length", c.rope_scaling.original_context_length}};
  return j;
}

// An importance matrix: its matrices, chunks and datasets, and per matrix the columns
// whose inputs are largest (the ones its quantization will keep most exactly).
void inspect_imatrix(const InspectArgs& args) {
  const ImportanceMatrix m = read_imatrix(args.path);
  constexpr size_t kTop = 4;
  auto top_columns = [&](const ImatrixEntry& e) {
    const std::vector<float> w = e.mean_squares();
    std::vector<size_t> order(w.size());
    for (size_t j = 0; j < order.size(); ++j) order[j] = j;
    const size_t k = std::min(kTop, order.size());
    std::partial_sort(order.begin(), order.begin() + long(k), order.end(),
                      [&](size_t a, size_t b) { return w[a] > w[b]; });
    order.resize(k);
    return std::make_pair(order, w);
  };
  if (args.json) {
    nlohmann::json j = {{"file", args.path},          {"kind", "imatrix"},      {"chunk_count", m.chunk_count},
                        {"chunk_size", m.chunk_size}, {"datasets", m.datasets}, {"matrices", nlohmann::json::array()}};
    for (const auto& [name, e] : m.entries) {
      const auto [top, w] = top_columns(e);
      nlohmann::json cols = nlohmann::json::array();
      for (size_t c : top) cols.push_back({{"column", c}, {"mean_square", w[c]}});
      j["matrices"].push_back(
          {{"name", name}, {"columns", e.sum2.size()}, {"rows", e.count}, {"calls", e.calls}, {"largest", cols}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("file:      %s (importance matrix)\n", args.path.c_str());
  if (m.chunk_size > 0)
    std::printf("chunks:    %lld of %lld tokens\n", static_cast<long long>(m.chunk_count),
                static_cast<long long>(m.chunk_size));
  else  // the legacy format does not record the chunk size
    std::printf("chunks:    %lld\n", static_cast<long long>(m.chunk_count));
  for (const auto& d : m.datasets) std::printf("dataset:   %s\n", d.c_str());
  std::printf("matrices:  %zu\n\n  %-36s %8s %10s  %s\n", m.entries.size(), "tensor", "columns", "rows",
              "largest mean x^2 (column: value)");
  for (const auto& [name, e] : m.entries) {
    const auto [top, w] = top_columns(e);
    std::string largest;
    for (size_t c : top) {
      char item[48];
      std::snprintf(item, sizeof item, "%zu: %.4g  ", c, double(w[c]));
      largest += item;
    }
    std::printf("  %-36s %8zu %10lld  %s\n", name.c_str(), e.sum2.size(), static_cast<long long>(e.count),
                largest.c_str());
  }
}

void inspect(const InspectArgs& args) {
  if (looks_like_imatrix(args.path)) return inspect_imatrix(args);
  const Model m = load_model(args.path, LoadOptions{args.tokenizer});
  const auto metadata = metadata_summary(args.path, args.json ? 16 : 6);
  uint64_t total_bytes = 0, total_params = 0;
  for (const auto& t : m.tensors) {
    total_bytes += t.data.size();
    total_params += static_cast<uint64_t>(t.numel());
  }
  const double bpw = total_params ? 8.0 * double(total_bytes) / double(total_params) : 0.0;

  if (args.json) {
    nlohmann::json j;
    j["file"] = args.path;
    j["format"] = format_name(m.source_format);
    j["config"] = config_json(m.config);
    j["vocab"] = {{"model", m.vocab.model},
                  {"size", m.vocab.tokens.size()},
                  {"bos_id", m.vocab.bos_id},
                  {"eos_id", m.vocab.eos_id}};
    j["metadata"] = nlohmann::json::object();
    for (const auto& [k, v] : metadata) j["metadata"][k] = v;
    j["tensors"] = nlohmann::json::array();
    for (const auto& t : m.tensors)
      j["tensors"].push_back({{"name", t.name},
                              {"shape", t.shape},
                              {"type", traits(t.type).name},
                              {"bytes", t.data.size()},
                              {"bits_per_weight", traits(t.type).bits_per_weight()}});
    j["totals"] = {
        {"tensors", m.tensors.size()}, {"parameters", total_params}, {"bytes", total_bytes}, {"bits_per_weight", bpw}};
    j["warnings"] = m.warnings;
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }

  const ModelConfig& c = m.config;
  std::printf("file:          %s (%s)\n", args.path.c_str(), format_name(m.source_format));
  std::printf("architecture:  %s\n", c.architecture.c_str());
  std::printf("dimensions:    hidden %lld, layers %lld, heads %lld (kv %lld), head dim %lld, ffn %lld\n",
              (long long)c.hidden_size, (long long)c.n_layers, (long long)c.n_heads, (long long)c.n_kv_heads,
              (long long)c.head_dim, (long long)c.ffn_size);
  std::printf("vocab:         %lld (tokenizer %s, %zu tokens)\n", (long long)c.vocab_size,
              m.vocab.model.empty() ? "none" : m.vocab.model.c_str(), m.vocab.tokens.size());
  std::printf("context:       %lld, rope theta %g%s, rms eps %g, tied embeddings %s\n", (long long)c.context_length,
              c.rope_theta, c.rope_scaling.type.empty() ? "" : (", scaling " + c.rope_scaling.type).c_str(),
              c.rms_norm_eps, c.tied_embeddings ? "yes" : "no");
  if (!metadata.empty()) {
    std::printf("\nmetadata (%zu keys):\n", metadata.size());
    for (const auto& [k, v] : metadata) std::printf("  %-42s %s\n", k.c_str(), v.c_str());
  }
  std::printf("\n  %-36s %-18s %-8s %14s %7s\n", "tensor", "shape", "type", "bytes", "bpw");
  for (const auto& t : m.tensors)
    std::printf("  %-36s %-18s %-8s %14zu %7.3f\n", t.name.c_str(), shape_string(t.shape).c_str(),
                std::string(traits(t.type).name).c_str(), t.data.size(), traits(t.type).bits_per_weight());
  std::printf("\ntotal: %zu tensors, %llu parameters, %llu bytes (%.2f MiB), %.3f bits per weight\n", m.tensors.size(),
              (unsigned long long)total_params, (unsigned long long)total_bytes,
              double(total_bytes) / (1024.0 * 1024.0), bpw);
  for (const auto& w : m.warnings) std::printf("warning: %s\n", w.c_str());
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model file's architecture, metadata and tensors");
  cmd->add_option("file", args->path, "GGUF file, safetensors file/directory, or llama2.c checkpoint")->required();
  cmd->add_option("--tokenizer", args->tokenizer, "llama2.c tokenizer .bin (llama2.c checkpoints only)");
  cmd->add_flag("--json", args->json, "Machine-readable output");
  cmd->callback([args] { inspect(*args); });
}

}  // namespace lowbit::cli
