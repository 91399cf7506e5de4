// lowbit qerror IN: how much each format and method loses on a model's weight matrices.
// Prints a table as tensors finish; --csv and --json write the same figures to files.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "lowbit/cli/commands.h"
#include "lowbit/core/atomic_file.h"
#include "lowbit/core/parallel.h"
#include "lowbit/eval/qerror.h"
#include "lowbit/io/load.h"

namespace lowbit::cli {
namespace {

struct QErrorArgs {
  std::string in;
  std::vector<std::string> types, methods;
  std::string tensor;
  std::string csv, json;
  std::string tokenizer;
  int threads = 0;
};

std::string type_name(DType t) { return std::string(traits(t).name); }
std::string method_string(Method m) { return std::string(method_name(m)); }

std::vector<DType> parse_types(const std::vector<std::string>& names) {
  std::vector<DType> out;
  for (const auto& name : names) {
    const TypeTraits* t = find_type(name);
    if (t == nullptr || t->to_float == nullptr || select_choices(std::span(&t->type, 1), {}).empty()) {
      std::string known;
      for (const auto& tt : all_types())
        if (tt.to_float && !select_choices(std::span(&tt.type, 1), {}).empty()) (known += ' ') += tt.name;
      throw CLI::ValidationError("--type", "unknown or unsupported type \"" + name + "\"; supported:" + known);
    }
    out.push_back(t->type);
  }
  return out;
}

std::vector<Method> parse_methods(const std::vector<std::string>& names) {
  std::vector<Method> out;
  for (const auto& name : names) {
    const auto m = find_method(name);
    if (!m) throw CLI::ValidationError("--method", "unknown method \"" + name + "\" (rtn, hqq, search, absmean)");
    out.push_back(*m);
  }
  return out;
}

// Explicitly named formats that lack an explicitly named method get a note, so a
// missing row in the table is never a surprise.
void note_missing_pairs(const std::vector<DType>& types, const std::vector<Method>& methods,
                        const std::vector<QuantChoice>& choices) {
  for (DType t : types)
    for (Method m : methods)
      if (std::find(choices.begin(), choices.end(), QuantChoice{t, m}) == choices.end())
        std::fprintf(stderr, "lowbit: note: %s has no %s quantizer (yet); skipped\n", type_name(t).c_str(),
                     method_string(m).c_str());
}

std::string fixed(double v, const char* fmt) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

constexpr const char* kRowFormat = "%-32s %-10s %-7s %-8s %9s %10s %10s %8s\n";

void print_header() {
  std::printf(kRowFormat, "tensor", "shape", "format", "method", "rel L2", "max abs", "lp", "SNR dB");
}

void print_result(const std::string& label, const std::string& shape, const QuantChoice& c, const ChoiceResult& r,
                  double p) {
  if (!r.not_applicable.empty()) {
    std::printf("%-32s %-10s %-7s %-8s n/a (%s)\n", label.c_str(), shape.c_str(), type_name(c.type).c_str(),
                method_string(c.method).c_str(), r.not_applicable.c_str());
    return;
  }
  std::printf(kRowFormat, label.c_str(), shape.c_str(), type_name(c.type).c_str(), method_string(c.method).c_str(),
              fixed(relative_l2(r.sums), "%.5f").c_str(), fixed(r.sums.max_abs_err, "%.4g").c_str(),
              fixed(lp_error(r.sums, p), "%.4g").c_str(), fixed(snr_db(r.sums), "%.2f").c_str());
}

void print_totals(const QErrorReport& report, double p) {
  std::printf(
      "\ntotals over %zu weight tensors (%llu weights); a format's total covers the tensors its "
      "block fits\n",
      report.tensors.size(), (unsigned long long)report.weights);
  std::printf("%-7s %-8s %6s %8s %11s %9s %10s %10s %8s\n", "format", "method", "bpw", "tensors", "weights", "rel L2",
              "max abs", "lp", "SNR dB");
  for (size_t c = 0; c < report.choices.size(); ++c) {
    const QuantChoice& q = report.choices[c];
    const ErrorSums& s = report.totals[c];
    const std::string covered =
        std::to_string(report.tensors_measured[c]) + "/" + std::to_string(report.tensors.size());
    if (report.tensors_measured[c] == 0) {
      std::printf("%-7s %-8s %6.3f %8s %11s n/a (no tensor fits)\n", type_name(q.type).c_str(),
                  method_string(q.method).c_str(), traits(q.type).bits_per_weight(), covered.c_str(), "0");
      continue;
    }
    std::printf("%-7s %-8s %6.3f %8s %11llu %9s %10s %10s %8s\n", type_name(q.type).c_str(),
                method_string(q.method).c_str(), traits(q.type).bits_per_weight(), covered.c_str(),
                (unsigned long long)s.count, fixed(relative_l2(s), "%.5f").c_str(),
                fixed(s.max_abs_err, "%.4g").c_str(), fixed(lp_error(s, p), "%.4g").c_str(),
                fixed(snr_db(s), "%.2f").c_str());
  }
  if (report.tensors_skipped)
    std::printf("(%zu tensors not measured: 1-D tensors such as norms, or names not matching --tensor)\n",
                report.tensors_skipped);
}

// RFC 4180: quote a field that holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) (out += ch) += ch == '"' ? "\"" : "";
  return out + "\"";
}

std::string csv_number(double v) { return fixed(v, "%.9g"); }

std::string csv_row(const std::string& tensor, const std::string& shape, const std::string& source,
                    const QuantChoice& c, const ChoiceResult& r, double p) {
  std::string row = csv_field(tensor) + "," + shape + "," + source + "," + type_name(c.type) + "," +
                    method_string(c.method) + "," + csv_number(traits(c.type).bits_per_weight()) + ",";
  if (!r.not_applicable.empty()) return row + ",,,,," + csv_field("n/a (" + r.not_applicable + ")") + "\n";
  return row + std::to_string(r.sums.count) + "," + csv_number(relative_l2(r.sums)) + "," +
         csv_number(r.sums.max_abs_err) + "," + csv_number(lp_error(r.sums, p)) + "," + csv_number(snr_db(r.sums)) +
         ",\n";
}

std::string to_csv(const QErrorReport& report, double p) {
  std::string out =
      "tensor,shape,source_type,format,method,bits_per_weight,weights,rel_l2,max_abs_err,lp_err,snr_db,note\n";
  for (const auto& t : report.tensors)
    for (size_t c = 0; c < report.choices.size(); ++c)
      out += csv_row(t.name, shape_string(t.shape, true), type_name(t.source_type), report.choices[c], t.results[c], p);
  for (size_t c = 0; c < report.choices.size(); ++c) {
    ChoiceResult total{report.totals[c], report.tensors_measured[c] ? "" : "no tensor fits"};
    out += csv_row("TOTAL", "", "", report.choices[c], total, p);
  }
  return out;
}

// JSON has no infinity: an exact reconstruction's SNR is written as null.
nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json json_result(const QuantChoice& c, const ChoiceResult& r, double p) {
  nlohmann::json j = {{"format", type_name(c.type)}, {"method", method_string(c.method)}};
  if (!r.not_applicable.empty()) {
    j["not_applicable"] = r.not_applicable;
    return j;
  }
  j["weights"] = r.sums.count;
  j["rel_l2"] = json_number(relative_l2(r.sums));
  j["max_abs_err"] = json_number(r.sums.max_abs_err);
  j["lp_err"] = json_number(lp_error(r.sums, p));
  j["snr_db"] = json_number(snr_db(r.sums));
  return j;
}

nlohmann::json to_json(const std::string& file, const QErrorReport& report, double p) {
  nlohmann::json j;
  j["file"] = file;
  j["lp_norm"] = p;
  j["choices"] = nlohmann::json::array();
  for (const auto& c : report.choices)
    j["choices"].push_back({{"format", type_name(c.type)},
                            {"method", method_string(c.method)},
                            {"bits_per_weight", traits(c.type).bits_per_weight()}});
  j["tensors"] = nlohmann::json::array();
  for (const auto& t : report.tensors) {
    nlohmann::json results = nlohmann::json::array();
    for (size_t c = 0; c < report.choices.size(); ++c)
      results.push_back(json_result(report.choices[c], t.results[c], p));
    j["tensors"].push_back({{"name", t.name},
                            {"shape", t.shape},
                            {"source_type", type_name(t.source_type)},
                            {"results", std::move(results)}});
  }
  j["totals"] = nlohmann::json::array();
  for (size_t c = 0; c < report.choices.size(); ++c) {
    ChoiceResult total{report.totals[c], report.tensors_measured[c] ? "" : "no tensor fits"};
    nlohmann::json row = json_result(report.choices[c], total, p);
    row["tensors"] = report.tensors_measured[c];
    j["totals"].push_back(std::move(row));
  }
  j["tensors_skipped"] = report.tensors_skipped;
  return j;
}

void write_text(std::optional<AtomicFile>& out, const std::string& text) {
  if (!out) return;
  out->write(text.data(), text.size());
  out->commit();
}

void qerror(const QErrorArgs& args) {
  const auto types = parse_types(args.types);
  const auto methods = parse_methods(args.methods);
  QErrorRequest request;
  request.choices = select_choices(types, methods);
  if (request.choices.empty())
    throw CLI::ValidationError("--method", "none of the requested formats implements the requested methods");
  if (!types.empty() && !methods.empty()) note_missing_pairs(types, methods, request.choices);
  if (!args.tensor.empty()) {
    try {
      request.tensor_filter = std::regex(args.tensor);
    } catch (const std::regex_error& e) {
      throw CLI::ValidationError("--tensor", "bad regex \"" + args.tensor + "\": " + e.what());
    }
  }
  request.threads = args.threads;
  // Opened before the (possibly long) measurement, so a bad output path fails at once.
  std::optional<AtomicFile> csv, json;
  if (!args.csv.empty()) csv.emplace(args.csv);
  if (!args.json.empty()) json.emplace(args.json);

  const Model model = load_model(args.in, LoadOptions{args.tokenizer});
  for (const auto& w : model.warnings) std::fprintf(stderr, "lowbit: warning: %s\n", w.c_str());
  std::printf("%s: %zu format/method pairs, lp with p = %g, %d threads\n\n", args.in.c_str(), request.choices.size(),
              request.p, resolve_threads(request.threads));
  print_header();
  const auto start = std::chrono::steady_clock::now();
  const QErrorReport report = measure_model(model, request, [&](const TensorErrors& t) {
    const std::string shape = shape_string(t.shape, true);
    for (size_t c = 0; c < request.choices.size(); ++c)
      print_result(t.name, shape, request.choices[c], t.results[c], request.p);
    std::fflush(stdout);
  });
  print_totals(report, request.p);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("(%.2f s)\n", secs);
  if (csv) write_text(csv, to_csv(report, request.p));
  if (json) write_text(json, to_json(args.in, report, request.p).dump(2) + "\n");
}

}  // namespace

void add_qerror(CLI::App& app) {
  auto a = std::make_shared<QErrorArgs>();
  CLI::App* cmd = app.add_subcommand("qerror", "Measure each format's and method's error on a model's weight matrices");
  cmd->add_option("in", a->in, "GGUF file, safetensors file/directory, or llama2.c checkpoint")->required();
  // One value per occurrence (repeat the flag or use commas), so a following IN is
  // never taken for a format name.
  cmd->add_option("--type", a->types, "Formats to measure (repeatable or comma-separated; default: every block format)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--method", a->methods, "Methods: rtn, hqq, search, absmean (default: every one a format has)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--tensor", a->tensor, "Only tensors whose name matches this regex");
  cmd->add_option("--csv", a->csv, "Also write the figures as CSV to this file");
  cmd->add_option("--json", a->json, "Also write the figures as JSON to this file");
  cmd->add_option("--threads", a->threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer .bin (llama2.c checkpoints only)");
  cmd->callback([a] { qerror(*a); });
}

}  // namespace lowbit::cli
