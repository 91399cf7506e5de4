#include "lowbit/io/imatrix_file.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/core/atomic_file.h"
#include "lowbit/core/byte_reader.h"
#include "lowbit/core/error.h"
#include "lowbit/core/mapped_file.h"
#include "lowbit/io/gguf.h"

namespace lowbit {
namespace {

// Far above any tensor name and any row length, far below what would exhaust memory.
constexpr int32_t kMaxNameBytes = 4096;
constexpr int32_t kMaxColumns = 1 << 24;

constexpr std::string_view kInSum2 = ".in_sum2";
constexpr std::string_view kCounts = ".counts";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

float finite_float(ByteReader& r, std::string_view field) {
  const uint64_t at = r.offset();
  const float v = r.read<float>(field);
  if (!std::isfinite(v)) r.fail_at(at, field, "is " + std::to_string(v) + ", not a finite number");
  return v;
}

template <typename T>
void put(AtomicFile& out, T v) {
  out.write(&v, sizeof v);
}

void write_legacy(const std::string& path, const ImportanceMatrix& m) {
  int32_t entries = 0;
  for (const auto& [name, e] : m.entries) entries += e.count > 0 && e.calls > 0;
  AtomicFile out(path);
  put(out, entries);
  for (const auto& [name, e] : m.entries) {
    if (e.count <= 0 || e.calls <= 0) continue;
    put(out, static_cast<int32_t>(name.size()));
    out.write(name.data(), name.size());
    put(out, static_cast<int32_t>(e.calls));
    put(out, static_cast<int32_t>(e.sum2.size()));
    // llama-imatrix's (sum / count) * ncall, in float as it computes it; where the rows
    // are the calls (a matrix read from a legacy file) that is the sum itself, so a
    // .dat read and written again keeps its bytes.
    for (double s : e.sum2)
      put(out, e.count == e.calls
                   ? static_cast<float>(s)
                   : (static_cast<float>(s) / static_cast<float>(e.count)) * static_cast<float>(e.calls));
  }
  put(out, static_cast<int32_t>(m.chunk_count));
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.front();
  put(out, static_cast<int32_t>(dataset.size()));
  out.write(dataset.data(), dataset.size());
  out.commit();
}

void write_gguf(const std::string& path, const ImportanceMatrix& m) {
  using gguf::Value;
  std::vector<Value> datasets;
  for (const auto& d : m.datasets) datasets.push_back(Value::string(d));
  // llama-quantize prints the first dataset without checking there is one.
  if (datasets.empty()) datasets.push_back(Value::string("unknown"));
  const std::vector<gguf::KeyValue> metadata = {
      {"general.type", Value::string("imatrix")},
      {"imatrix.datasets", Value::array(gguf::ValueType::STRING, std::move(datasets))},
      {"imatrix.chunk_count", Value::uint32(static_cast<uint32_t>(m.chunk_count))},
      {"imatrix.chunk_size", Value::uint32(static_cast<uint32_t>(m.chunk_size))},
  };
  std::vector<gguf::TensorInfo> tensors;
  for (const auto& [name, e] : m.entries) {
    // As llama-imatrix writes one matrix (not an expert stack): {columns} and {1}.
    tensors.push_back(
        {.name = name + std::string(kInSum2), .ne = {e.sum2.size()}, .type = DType::F32, .nbytes = 4 * e.sum2.size()});
    tensors.push_back({.name = name + std::string(kCounts), .ne = {1}, .type = DType::F32, .nbytes = 4});
  }
  gguf::Writer writer(path, metadata, tensors);
  for (const auto& [name, e] : m.entries) {
    std::vector<float> sums(e.sum2.begin(), e.sum2.end());
    writer.write_data(std::as_bytes(std::span<const float>(sums)));
    const float count = static_cast<float>(e.count);
    writer.write_data(std::as_bytes(std::span<const float>(&count, 1)));
  }
  writer.finish();
}

// A tensor's values, copied out (the bytes need not be aligned for float).
std::vector<float> floats(const gguf::File& file, const gguf::TensorInfo& t, uint64_t n) {
  if (t.type != DType::F32 || t.numel() != n)
    throw FormatError(file.path(), "tensor \"" + t.name + "\"",
                      "must be F32 with " + std::to_string(n) + " values, not " + std::to_string(t.numel()));
  if (n == 0) throw FormatError(file.path(), "tensor \"" + t.name + "\"", "holds no values");
  std::vector<float> v(n);
  std::memcpy(v.data(), file.data(t).data(), n * sizeof(float));
  return v;
}

ImportanceMatrix read_gguf(const gguf::File& file) {
  const std::string& path = file.path();
  const gguf::Value* type = file.find("general.type");
  if (type == nullptr || type->as_string() == nullptr || *type->as_string() != "imatrix")
    throw FormatError(path, "general.type", "is not \"imatrix\": this GGUF file is not an importance matrix");
  ImportanceMatrix m;
  auto required_uint = [&](const char* key) -> int64_t {
    const gguf::Value* v = file.find(key);
    const auto u = v ? v->as_uint() : std::nullopt;
    if (!u || *u > uint64_t(std::numeric_limits<int32_t>::max()))
      throw FormatError(path, key, v ? "must be a non-negative integer" : "is missing (llama-quantize requires it)");
    return int64_t(*u);
  };
  m.chunk_count = required_uint("imatrix.chunk_count");
  m.chunk_size = required_uint("imatrix.chunk_size");
  const gguf::Value* datasets = file.find("imatrix.datasets");
  if (datasets == nullptr || datasets->type != gguf::ValueType::ARRAY || datasets->elem_type != gguf::ValueType::STRING)
    throw FormatError(path, "imatrix.datasets", "must be an array of strings (llama-quantize requires it)");
  for (const auto& d : datasets->items) m.datasets.push_back(d.str);

  for (const auto& t : file.tensors) {
    if (!ends_with(t.name, kInSum2)) continue;
    const std::string name = t.name.substr(0, t.name.size() - kInSum2.size());
    if (t.ne.size() < 1 || t.ne.size() > 2 || (t.ne.size() == 2 && t.ne[1] != 1))
      throw FormatError(path, "tensor \"" + t.name + "\"",
                        "holds several matrices (an expert stack); lowbit reads one matrix per entry");
    const gguf::TensorInfo* counts = nullptr;
    for (const auto& c : file.tensors)
      if (c.name == name + std::string(kCounts)) counts = &c;
    if (counts == nullptr) throw FormatError(path, "tensor \"" + t.name + "\"", "has no " + name + ".counts beside it");
    const float count = floats(file, *counts, 1)[0];
    // Whole, and small enough to be an int64 (2^53: every integer below it is a float's).
    if (!(count >= 0.0f && count <= 9007199254740992.0f) || count != std::floor(count))
      throw FormatError(path, "tensor \"" + counts->name + "\"",
                        "must be a whole number of rows, not " + std::to_string(count));
    const std::vector<float> sums = floats(file, t, t.ne[0]);
    ImatrixEntry e;
    e.sum2.resize(t.ne[0]);
    for (uint64_t j = 0; j < t.ne[0]; ++j) {
      if (!std::isfinite(sums[j]) || sums[j] < 0.0f)
        throw FormatError(path, "tensor \"" + t.name + "\"",
                          "value " + std::to_string(j) + " is " + std::to_string(sums[j]) + ", not a sum of squares");
      e.sum2[j] = sums[j];
    }
    e.count = int64_t(count);
    e.calls = m.chunk_count;
    m.entries[name] = std::move(e);
  }
  if (m.entries.empty()) throw FormatError(path, "tensors", "no <name>.in_sum2 tensor: the matrix is empty");
  return m;
}

}  // namespace

ImatrixFormat imatrix_format_for(const std::string& path) {
  return ends_with(path, ".dat") ? ImatrixFormat::Legacy : ImatrixFormat::Gguf;
}

ImportanceMatrix parse_legacy_imatrix(std::span<const std::byte> bytes, const std::string& name) {
  ByteReader r(bytes, name);
  ImportanceMatrix m;
  const int32_t n_entries = r.read<int32_t>("n_entries");
  if (n_entries < 1) r.fail("n_entries", "is " + std::to_string(n_entries) + ": no data in the file");
  for (int32_t i = 0; i < n_entries; ++i) {
    const std::string field = "entry " + std::to_string(i);
    const int32_t len = r.read<int32_t>(field + " name length");
    if (len < 1 || len > kMaxNameBytes)
      r.fail(field + " name length", "is " + std::to_string(len) + " (1.." + std::to_string(kMaxNameBytes) + ")");
    const std::string entry_name(r.take_string(uint64_t(len), field + " name"));
    const int32_t ncall = r.read<int32_t>(field + " ncall");
    if (ncall < 0) r.fail(field + " ncall", "is negative (" + std::to_string(ncall) + ")");
    const int32_t nval = r.read<int32_t>(field + " nval");
    if (nval < 1 || nval > kMaxColumns)
      r.fail(field + " nval", "is " + std::to_string(nval) + " (1.." + std::to_string(kMaxColumns) + ")");
    r.require(uint64_t(nval) * 4, field + " values");
    if (m.entries.count(entry_name)) r.fail(field + " name", "\"" + entry_name + "\" appears twice");
    ImatrixEntry& e = m.entries[entry_name];
    e.sum2.resize(size_t(nval));
    for (int32_t j = 0; j < nval; ++j) {
      const float v = finite_float(r, field + " values");
      if (v < 0.0f) r.fail(field + " values", "value " + std::to_string(j) + " is negative, not a sum of squares");
      e.sum2[size_t(j)] = v;
    }
    // llama-quantize divides by ncall: the values are sums over ncall "rows".
    e.count = ncall;
    e.calls = ncall;
  }
  if (r.remaining() > 0) {  // files since 2024 end with the chunk count and the dataset
    const int32_t chunks = r.read<int32_t>("chunk count");
    if (chunks < 0) r.fail("chunk count", "is negative (" + std::to_string(chunks) + ")");
    m.chunk_count = chunks;
    const int32_t len = r.read<int32_t>("dataset name length");
    if (len < 0 || len > kMaxNameBytes)
      r.fail("dataset name length", "is " + std::to_string(len) + " (0.." + std::to_string(kMaxNameBytes) + ")");
    const std::string dataset(r.take_string(uint64_t(len), "dataset name"));
    if (!dataset.empty()) m.datasets.push_back(dataset);
    if (r.remaining() > 0) r.fail("end of file", std::to_string(r.remaining()) + " bytes follow the dataset name");
  }
  return m;
}

ImportanceMatrix read_imatrix(const std::string& path) {
  const auto map = MappedFile::open(path);
  const auto bytes = map->bytes();
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf(gguf::File::open(path));
  return parse_legacy_imatrix(bytes, path);
}

ImportanceMatrix parse_imatrix(std::span<const std::byte> bytes, const std::string& name) {
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf(gguf::File::parse(bytes, name));
  return parse_legacy_imatrix(bytes, name);
}

void write_imatrix(const std::string& path, const ImportanceMatrix& matrix, ImatrixFormat format) {
  if (format == ImatrixFormat::Legacy)
    write_legacy(path, matrix);
  else
    write_gguf(path, matrix);
}

bool looks_like_imatrix(const std::string& path) {
  try {
    if (ends_with(path, ".dat")) return true;
    const auto map = MappedFile::open(path);
    if (map->size() < 4 || std::memcmp(map->data(), "GGUF", 4) != 0) return false;
    const gguf::File file = gguf::File::open(path);
    const gguf::Value* type = file.find("general.type");
    return type && type->as_string() && *type->as_string() == "imatrix";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace lowbit
