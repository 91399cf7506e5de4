// lowbit convert IN OUT.gguf: any supported model file to a GGUF llama.cpp runs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <unistd.h>

#include "lowbit/cli/commands.h"
#include "lowbit/core/error.h"
#include "lowbit/io/gguf_export.h"
#include "lowbit/io/load.h"

namespace lowbit::cli {
namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string type = "f32";
  std::string tokenizer;
};

void convert(const ConvertArgs& args) {
  const Model m = load_model(args.in, LoadOptions{args.tokenizer});
  GgufExportOptions options;
  options.weight_type = args.type == "f16" ? DType::F16 : args.type == "bf16" ? DType::BF16 : DType::F32;
  const bool tty = ::isatty(STDERR_FILENO);
  if (tty)
    options.on_tensor = [](size_t k, size_t n, const std::string& name) {
      std::fprintf(stderr, "\r[%zu/%zu] %-48s", k + 1, n, name.c_str());
    };
  for (const auto& w : m.warnings) std::fprintf(stderr, "lowbit: warning: %s\n", w.c_str());
  export_gguf(m, args.out, options);
  if (tty) std::fprintf(stderr, "\n");
  std::printf("wrote %s (%zu tensors, weights %s)\n", args.out.c_str(), m.tensors.size(), args.type.c_str());
}

}  // namespace

void add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a model to GGUF (F32, F16 or BF16 weights)");
  cmd->add_option("in", args->in, "GGUF, safetensors file/directory, or llama2.c checkpoint")->required();
  cmd->add_option("out", args->out, "Output .gguf path")->required();
  cmd->add_option("--type", args->type, "Weight type")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer, "llama2.c tokenizer .bin (llama2.c checkpoints only)");
  cmd->callback([args] { convert(*args); });
}

}  // namespace lowbit::cli
