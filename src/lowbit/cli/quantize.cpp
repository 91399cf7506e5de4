// lowbit quantize IN OUT TYPE: a drop-in for llama-quantize's common use.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/progress.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/imatrix_file.h"
#include "lowbit/io/load.h"
#include "lowbit/pipeline/presets.h"
#include "lowbit/pipeline/quantize_model.h"

namespace lowbit::cli {
namespace {

struct QuantizeArgs {
  std::string in, out, type;
  std::string method;
  std::vector<std::string> tensor_types;
  std::string output_type, embedding_type;
  bool pure = false, allow_requantize = false, dry_run = false;
  int threads = 0;
  std::string nan = "error";
  std::string tokenizer;
  std::string imatrix;
  std::vector<std::string> include_weights, exclude_weights;
  float lp_norm = 0.7f;
};

DType parse_type(const std::string& name, const char* flag) {
  const TypeTraits* t = find_type(name);
  if (t == nullptr || t->from_float == nullptr) {
    std::string known;
    for (const auto& tt : all_types())
      if (tt.from_float) (known += ' ') += tt.name;
    throw CLI::ValidationError(flag, "unknown or unsupported type \"" + name + "\"; supported:" + known);
  }
  return t->type;
}

void print_plan(const std::vector<TensorPlan>& plans) {
  std::printf("  %-36s %-14s %-6s -> %-7s %-8s %s\n", "tensor", "shape", "from", "to", "method", "note");
  for (const auto& p : plans)
    std::printf("  %-36s %-14s %-6s -> %-7s %-8s %s\n", p.tensor->name.c_str(),
                shape_string(p.tensor->shape, true).c_str(), std::string(traits(p.tensor->type).name).c_str(),
                std::string(traits(p.type).name).c_str(), std::string(method_name(p.method)).c_str(), p.note.c_str());
}

void quantize(const QuantizeArgs& args) {
  QuantizeRequest req;
  // llama-quantize's names and numbers first (Q4_K is its alias of Q4_K_M), then the
  // formats only lowbit writes (A4G64 ...), which take no recipe.
  req.preset = find_preset(args.type);
  // The plan can be shown; writing such a file without importance weights is refused,
  // as llama-quantize refuses it.
  if (req.preset && req.preset->needs_imatrix && !args.dry_run && args.imatrix.empty())
    throw CLI::ValidationError("TYPE", std::string(req.preset->name) +
                                           " needs an importance matrix: pass --imatrix FILE (lowbit imatrix "
                                           "computes one; --dry-run shows the plan without)");
  req.type = req.preset ? req.preset->base : parse_type(args.type, "TYPE");
  if (!args.method.empty()) {
    auto m = find_method(args.method);
    if (!m) throw CLI::ValidationError("--method", "unknown method \"" + args.method + "\"");
    req.method = *m;
  }
  for (const auto& spec : args.tensor_types) {
    try {
      req.rules.push_back(parse_tensor_type_rule(spec));
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--tensor-type", e.what());
    }
  }
  if (!args.output_type.empty()) req.output_type = parse_type(args.output_type, "--output-tensor-type");
  if (!args.embedding_type.empty()) req.embedding_type = parse_type(args.embedding_type, "--token-embedding-type");
  req.pure = args.pure;
  req.allow_requantize = args.allow_requantize;
  req.threads = args.threads;
  req.nan = args.nan == "zero" ? NanPolicy::Zero : NanPolicy::Error;
  req.options.lp_norm = args.lp_norm;

  ImportanceMatrix imatrix;
  if (!args.imatrix.empty()) {
    if (!args.include_weights.empty() && !args.exclude_weights.empty())
      throw CLI::ValidationError("--include-weights", "cannot be combined with --exclude-weights");
    imatrix = read_imatrix(args.imatrix);
    req.imatrix = &imatrix;
    req.imatrix_file = args.imatrix;
    req.include_weights = args.include_weights;
    req.exclude_weights = args.exclude_weights;
    std::fprintf(stderr, "lowbit: importance matrix %s: %zu entries, %lld chunks\n", args.imatrix.c_str(),
                 imatrix.entries.size(), static_cast<long long>(imatrix.chunk_count));
  } else if (!args.include_weights.empty() || !args.exclude_weights.empty()) {
    throw CLI::ValidationError("--include-weights", "needs --imatrix");
  }
  const Model model = load_model(args.in, LoadOptions{args.tokenizer});
  for (const auto& w : model.warnings) std::fprintf(stderr, "lowbit: warning: %s\n", w.c_str());
  const auto plans = plan_quantization(model, req);
  const uint64_t size = planned_output_size(model, req, plans);
  uint64_t params = 0;
  for (const auto& p : plans) params += uint64_t(p.tensor->numel());
  const double bpw = params ? 8.0 * double(size) / double(params) : 0.0;

  if (args.dry_run) {
    print_plan(plans);
    std::printf("\noutput: %llu bytes (%.2f MiB), %.3f bits per weight over %llu weights (nothing written)\n",
                (unsigned long long)size, double(size) / (1 << 20), bpw, (unsigned long long)params);
    return;
  }
  for (const auto& p : plans)
    if (!p.note.empty() && p.tensor->shape.size() >= 2)
      std::fprintf(stderr, "lowbit: %s: %s\n", p.tensor->name.c_str(), p.note.c_str());
  ProgressBar bar;
  std::function<void(const QuantizeProgress&)> on_progress;
  if (bar.enabled())
    on_progress = [&bar](const QuantizeProgress& p) {
      std::string detail = std::to_string(p.tensor_index) + "/" + std::to_string(p.tensor_count) + " tensors  ";
      detail += p.plan ? p.plan->tensor->name : "done";
      bar.draw(p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0, detail, p.plan == nullptr);
    };
  const auto start = std::chrono::steady_clock::now();
  const QuantizeReport report = quantize_model(model, req, plans, args.out, on_progress);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report.nan_replaced)
    std::fprintf(stderr, "lowbit: warning: replaced %llu non-finite weights with 0\n",
                 (unsigned long long)report.nan_replaced);
  std::printf("wrote %s: %llu bytes (%.2f MiB), %.3f bits per weight, %.2f s\n", args.out.c_str(),
              (unsigned long long)size, double(size) / (1 << 20), bpw, secs);
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model into a GGUF file llama.cpp runs");
  cmd->add_option("in", a->in, "GGUF (F32/F16/BF16), safetensors file/directory, or llama2.c checkpoint")->required();
  cmd->add_option("out", a->out, "Output .gguf path")->required();
  cmd->add_option("type", a->type,
                  "llama-quantize's type (Q4_K_M, Q8_0, 15 ...; list below) or a lowbit format (A4G64)")
      ->required();
  cmd->footer("Types (llama-quantize's file types, with its per-tensor recipes):\n" + presets_help());
  cmd->add_option("--method", a->method, "rtn, hqq, search or absmean (default: each format's own)");
  cmd->add_option("--tensor-type", a->tensor_types, "REGEX=TYPE for tensors whose name matches (repeatable)");
  cmd->add_option("--output-tensor-type", a->output_type, "Type of output.weight");
  cmd->add_option("--token-embedding-type", a->embedding_type, "Type of token_embd.weight");
  cmd->add_flag("--pure", a->pure, "Every weight matrix gets TYPE's base type: no recipe, no output.weight upgrade");
  cmd->add_flag("--allow-requantize", a->allow_requantize, "Allow quantizing already-quantized tensors");
  cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--dry-run", a->dry_run, "Print each tensor's type and the exact output size; write nothing");
  cmd->add_option("--nan", a->nan, "Non-finite weights: error (default) or zero")
      ->check(CLI::IsMember({"error", "zero"}));
  cmd->add_option("--lp-norm", a->lp_norm, "p of HQQ's lp loss")->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer .bin (llama2.c checkpoints only)");
  cmd->add_option("--imatrix", a->imatrix,
                  "Importance matrix (llama.cpp's .dat or GGUF): weights each column's error, as llama-quantize");
  cmd->add_option("--include-weights", a->include_weights, "Use the imatrix only for tensors whose name contains this");
  cmd->add_option("--exclude-weights", a->exclude_weights,
                  "Do not use the imatrix for tensors whose name contains this");
  cmd->callback([a] { quantize(*a); });
}

}  // namespace lowbit::cli
