#include "lowbit/io/safetensors.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "lowbit/core/atomic_file.h"
#include "lowbit/core/byte_reader.h"
#include "lowbit/core/error.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

using json = nlohmann::json;

constexpr uint64_t kLengthFieldBytes = 8;

struct DTypeName {
  std::string_view name;
  DType type;
};

// safetensors' dtype spellings that lowbit has a DType for, in the order of the
// reference implementation's Dtype enum (increasing alignment), which its writer
// uses to lay out data.
constexpr std::array kDTypeNames = {
    DTypeName{"BOOL", DType::BOOL},       DTypeName{"U8", DType::U8},           DTypeName{"I8", DType::I8},
    DTypeName{"F8_E5M2", DType::F8_E5M2}, DTypeName{"F8_E4M3", DType::F8_E4M3}, DTypeName{"I16", DType::I16},
    DTypeName{"F16", DType::F16},         DTypeName{"BF16", DType::BF16},       DTypeName{"I32", DType::I32},
    DTypeName{"F32", DType::F32},         DTypeName{"F64", DType::F64},         DTypeName{"I64", DType::I64},
};

size_t dtype_rank(DType type) {
  for (size_t i = 0; i < kDTypeNames.size(); ++i)
    if (kDTypeNames[i].type == type) return i;
  return kDTypeNames.size();  // not storable; rejected before it matters
}

// Names come from the file, so messages quote at most a bounded prefix of them.
std::string quote_name(std::string_view name) {
  constexpr size_t kMaxShown = 200;
  if (name.size() <= kMaxShown) return "\"" + std::string(name) + "\"";
  return "\"" + std::string(name.substr(0, kMaxShown)) + "...\"";
}

std::string tensor_field(std::string_view tensor, std::string_view field) {
  return "tensor " + quote_name(tensor) + ": " + std::string(field);
}

// A JSON integer that is not negative (nlohmann keeps "-0" as a signed integer).
std::optional<uint64_t> as_u64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

std::string json_type(const json& v) { return v.type_name(); }

// A JSON scalar from the file, spelled as JSON and bounded like quote_name().
std::string shown(const json& v) {
  const std::string text = v.dump();
  return text.size() <= 40 ? text : text.substr(0, 40) + "...";
}

// A parser message, which quotes the token it stopped in (possibly megabytes long).
std::string bounded(std::string_view message) {
  constexpr size_t kMaxShown = 300;
  return message.size() <= kMaxShown ? std::string(message) : std::string(message.substr(0, kMaxShown)) + "...";
}

// Indices of `tensors` sorted by name, and lookups in them, so that checking a large
// weight_map against its shards stays O(n log n).
std::vector<size_t> name_index(const std::vector<SafetensorsTensor>& tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors[a].name < tensors[b].name; });
  return order;
}

const SafetensorsTensor* find_by_name(const std::vector<SafetensorsTensor>& tensors, const std::vector<size_t>& by_name,
                                      std::string_view name) {
  const auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                                   [&](size_t i, std::string_view n) { return tensors[i].name < n; });
  if (it == by_name.end() || tensors[*it].name != name) return nullptr;
  return &tensors[*it];
}

// Parses JSON text that starts at file offset `base`, turning every parser complaint
// into a FormatError at the offending byte. max_depth bounds nesting (0 = unbounded);
// a repeated top-level key is reported, since JSON objects would silently keep the
// last one.
json parse_json(std::string_view text, const std::string& file, std::string_view field, uint64_t base, int max_depth) {
  std::set<std::string> top_keys;
  std::string repeated;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (max_depth > 0 && opens && depth >= max_depth)
      throw FormatError(file, std::string(field), "JSON nests deeper than " + std::to_string(max_depth) + " levels",
                        base);
    if (event == json::parse_event_t::key && depth == 1 && repeated.empty() &&
        !top_keys.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), check);
  } catch (const json::parse_error& e) {
    throw FormatError(file, std::string(field), "invalid JSON: " + bounded(e.what()),
                      base + (e.byte > 0 ? e.byte - 1 : 0));
  } catch (const json::exception& e) {
    throw FormatError(file, std::string(field), "invalid JSON: " + bounded(e.what()), base);
  }
  if (!repeated.empty())
    throw FormatError(file, std::string(field), "key " + quote_name(repeated) + " appears twice", base);
  if (!doc.is_object())
    throw FormatError(file, std::string(field), "must be a JSON object, found " + json_type(doc), base);
  return doc;
}

std::map<std::string, std::string> read_string_map(const json& obj, const std::string& file, const std::string& field,
                                                   uint64_t offset) {
  if (!obj.is_object()) throw FormatError(file, field, "must be a JSON object, found " + json_type(obj), offset);
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : obj.items()) {
    if (!value.is_string())
      throw FormatError(file, field + "[" + quote_name(key) + "]", "must be a string, found " + json_type(value),
                        offset);
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// Where a tensor lives in the data buffer, before the buffer is sliced.
struct Extent {
  uint64_t begin, end;
  size_t index;
};

SafetensorsTensor read_entry(const std::string& file, const std::string& name, const json& entry,
                             uint64_t header_offset, Extent* extent) {
  if (!entry.is_object())
    throw FormatError(file, tensor_field(name, "entry"), "must be a JSON object, found " + json_type(entry),
                      header_offset);
  SafetensorsTensor t;
  t.name = name;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end()) throw FormatError(file, tensor_field(name, "dtype"), "is missing", header_offset);
  if (!dtype->is_string())
    throw FormatError(file, tensor_field(name, "dtype"), "must be a string, found " + json_type(*dtype), header_offset);
  const auto type = safetensors_dtype(dtype->get<std::string>());
  if (!type)
    throw FormatError(file, tensor_field(name, "dtype"),
                      "unknown or unsupported dtype " + quote_name(dtype->get<std::string>()), header_offset);
  t.type = *type;

  const auto shape = entry.find("shape");
  if (shape == entry.end()) throw FormatError(file, tensor_field(name, "shape"), "is missing", header_offset);
  if (!shape->is_array())
    throw FormatError(file, tensor_field(name, "shape"), "must be an array, found " + json_type(*shape), header_offset);
  uint64_t numel = 1;
  for (const json& dim : *shape) {
    const auto d = as_u64(dim);
    if (!d || *d > uint64_t(INT64_MAX))
      throw FormatError(file, tensor_field(name, "shape"), "dimension " + shown(dim) + " is not a non-negative integer",
                        header_offset);
    if (!checked_mul(numel, *d, &numel) || numel > uint64_t(INT64_MAX))
      throw FormatError(file, tensor_field(name, "shape"), "element count overflows 64 bits", header_offset);
    t.shape.push_back(static_cast<int64_t>(*d));
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end()) throw FormatError(file, tensor_field(name, "data_offsets"), "is missing", header_offset);
  if (!offsets->is_array() || offsets->size() != 2 || !as_u64((*offsets)[0]) || !as_u64((*offsets)[1]))
    throw FormatError(file, tensor_field(name, "data_offsets"), "must be [begin, end] with two non-negative integers",
                      header_offset);
  extent->begin = *as_u64((*offsets)[0]);
  extent->end = *as_u64((*offsets)[1]);
  if (extent->end < extent->begin)
    throw FormatError(file, tensor_field(name, "data_offsets"),
                      "end " + std::to_string(extent->end) + " is before begin " + std::to_string(extent->begin),
                      header_offset);
  uint64_t bytes = 0;
  if (!checked_mul(numel, traits(t.type).block_bytes, &bytes))
    throw FormatError(file, tensor_field(name, "shape"), "byte size overflows 64 bits", header_offset);
  if (extent->end - extent->begin != bytes)
    throw FormatError(file, tensor_field(name, "data_offsets"),
                      "span " + std::to_string(extent->end - extent->begin) + " bytes but the shape and dtype need " +
                          std::to_string(bytes),
                      header_offset);
  return t;
}

// The reference implementation's rule: sorted by offset, the tensors must cover the
// data buffer exactly, so no byte is shared or left unaccounted for.
void check_tiling(const std::string& file, std::vector<Extent>& extents, const std::vector<SafetensorsTensor>& tensors,
                  uint64_t data_offset, uint64_t data_size) {
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t covered = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const Extent& e : extents) {
    const SafetensorsTensor& t = tensors[e.index];
    if (e.end > data_size)
      throw FormatError(
          file, tensor_field(t.name, "data_offsets"),
          "end " + std::to_string(e.end) + " is past the data buffer (" + std::to_string(data_size) + " bytes)",
          data_offset + std::min(e.begin, data_size));
    if (e.begin < covered)
      throw FormatError(file, tensor_field(t.name, "data_offsets"), "overlaps tensor " + quote_name(previous->name),
                        data_offset + e.begin);
    if (e.begin > covered)
      throw FormatError(file, tensor_field(t.name, "data_offsets"),
                        "leaves a hole of " + std::to_string(e.begin - covered) + " bytes before it in the data buffer",
                        data_offset + covered);
    covered = e.end;
    previous = &t;
  }
  if (covered != data_size)
    throw FormatError(file, "data buffer", std::to_string(data_size - covered) + " trailing bytes belong to no tensor",
                      data_offset + covered);
}

}  // namespace

std::optional<DType> safetensors_dtype(std::string_view name) {
  for (const auto& d : kDTypeNames)
    if (d.name == name) return d.type;
  return std::nullopt;
}

std::optional<std::string_view> safetensors_dtype_name(DType type) {
  for (const auto& d : kDTypeNames)
    if (d.type == type) return d.name;
  return std::nullopt;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto mapping = MappedFile::open(path);
  SafetensorsFile f = parse(mapping->bytes(), path);
  f.mapping_ = std::move(mapping);
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  const std::string& file = name_for_errors;
  ByteReader reader(bytes, file);
  const auto header_size = reader.read<uint64_t>("header length");
  if (header_size > kSafetensorsMaxHeaderBytes)
    reader.fail_at(
        0, "header length",
        std::to_string(header_size) + " bytes exceeds the limit of " + std::to_string(kSafetensorsMaxHeaderBytes));
  if (header_size > reader.remaining())
    reader.fail_at(0, "header length",
                   "claims " + std::to_string(header_size) + " bytes but only " + std::to_string(reader.remaining()) +
                       " follow (file truncated?)");
  const std::string_view text = reader.take_string(header_size, "header");
  const json header = parse_json(text, file, "header", kLengthFieldBytes, 3);

  SafetensorsFile out;
  out.path_ = file;
  out.data_offset_ = reader.offset();
  const auto data = bytes.subspan(reader.offset());

  std::vector<Extent> extents;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      out.metadata_ = read_string_map(value, file, "__metadata__", kLengthFieldBytes);
      continue;
    }
    Extent extent{};
    extent.index = out.tensors_.size();
    out.tensors_.push_back(read_entry(file, key, value, kLengthFieldBytes, &extent));
    extents.push_back(extent);
  }
  check_tiling(file, extents, out.tensors_, out.data_offset_, data.size());

  // Slice the buffer and put the tensors in file order.
  std::vector<SafetensorsTensor> ordered;
  ordered.reserve(extents.size());
  for (const Extent& e : extents) {
    SafetensorsTensor& t = out.tensors_[e.index];
    t.data = data.subspan(e.begin, e.end - e.begin);
    ordered.push_back(std::move(t));
  }
  out.tensors_ = std::move(ordered);
  out.by_name_ = name_index(out.tensors_);
  return out;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  return find_by_name(tensors_, by_name_, name);
}

// ---- sharded checkpoints ----

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  if (path.ends_with(".json")) return open_index(path);
  SafetensorsCheckpoint c;
  c.path_ = path;
  c.shards_.push_back(SafetensorsFile::open(path));
  c.metadata_ = c.shards_.front().metadata();
  c.collect_tensors();
  return c;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open_index(const std::string& index_path) {
  const auto mapping = MappedFile::open(index_path);
  if (mapping->size() > kSafetensorsMaxHeaderBytes)
    throw FormatError(index_path, "file",
                      "is " + std::to_string(mapping->size()) + " bytes, larger than any shard index should be");
  const std::string_view text(reinterpret_cast<const char*>(mapping->data()), mapping->size());
  const json index = parse_json(text, index_path, "index", 0, 0);

  SafetensorsCheckpoint c;
  c.path_ = index_path;
  if (const auto meta = index.find("metadata"); meta != index.end() && !meta->is_null()) {
    if (!meta->is_object())
      throw FormatError(index_path, "metadata", "must be a JSON object, found " + json_type(*meta));
    for (const auto& [key, value] : meta->items())
      c.metadata_.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
  }

  const auto weight_map = index.find("weight_map");
  if (weight_map == index.end()) throw FormatError(index_path, "weight_map", "is missing");
  if (!weight_map->is_object())
    throw FormatError(index_path, "weight_map", "must be a JSON object, found " + json_type(*weight_map));
  if (weight_map->empty()) throw FormatError(index_path, "weight_map", "names no tensors");

  // Shards in name order; the first tensor naming each is what a missing shard's
  // error points at.
  const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();
  std::map<std::string, std::string> first_tensor_of_shard;
  for (const auto& [tensor, shard] : weight_map->items()) {
    const std::string field = "weight_map[" + quote_name(tensor) + "]";
    if (!shard.is_string())
      throw FormatError(index_path, field, "must be a file name string, found " + json_type(shard));
    const std::string name = shard.get<std::string>();
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      throw FormatError(index_path, field, quote_name(name) + " is not a plain file name in the index's directory");
    first_tensor_of_shard.emplace(name, tensor);
  }

  std::map<std::string, size_t> shard_number;
  for (const auto& [name, tensor] : first_tensor_of_shard) {
    const std::string shard_path = (dir / name).string();
    std::error_code ec;
    if (!std::filesystem::exists(shard_path, ec))
      throw FormatError(index_path, "weight_map[" + quote_name(tensor) + "]",
                        "names shard \"" + shard_path + "\", which does not exist");
    shard_number.emplace(name, c.shards_.size());
    c.shards_.push_back(SafetensorsFile::open(shard_path));
  }

  for (const auto& [tensor, shard] : weight_map->items()) {
    const SafetensorsFile& file = c.shards_[shard_number.at(shard.get<std::string>())];
    if (file.find(tensor) == nullptr)
      throw FormatError(index_path, "weight_map[" + quote_name(tensor) + "]",
                        "tensor is not in shard \"" + file.path() + "\"");
  }
  c.collect_tensors();
  return c;
}

void SafetensorsCheckpoint::collect_tensors() {
  std::map<std::string_view, const SafetensorsFile*> owner;
  for (const auto& shard : shards_) {
    for (const auto& t : shard.tensors()) {
      const auto [it, inserted] = owner.emplace(t.name, &shard);
      if (!inserted)
        throw FormatError(shard.path(), tensor_field(t.name, "name"),
                          "is also in shard \"" + it->second->path() + "\"");
      tensors_.push_back(t);
    }
  }
  by_name_ = name_index(tensors_);
}

const SafetensorsTensor* SafetensorsCheckpoint::find(std::string_view name) const {
  return find_by_name(tensors_, by_name_, name);
}

// ---- writer ----

void write_safetensors(const std::string& path, std::span<const SafetensorsTensor> tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Data layout as the Python library writes it: by dtype, widest alignment first,
  // then by name. With the header padded to 8 bytes, every tensor then starts at a
  // multiple of its element size.
  std::vector<const SafetensorsTensor*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
    const size_t ra = dtype_rank(a->type), rb = dtype_rank(b->type);
    return ra != rb ? ra > rb : a->name < b->name;
  });
  std::set<std::string_view> names;

  // The header in the Python library's key order: metadata first, then the tensors in
  // data order, each as dtype, shape, data_offsets. Appending entries as text keeps
  // this linear in the tensor count; dump() escapes names and rejects invalid UTF-8.
  std::string text = "{";
  uint64_t offset = 0;
  try {
    if (!metadata.empty()) text += "\"__metadata__\":" + json(metadata).dump();
    for (const SafetensorsTensor* tp : sorted) {
      const SafetensorsTensor& t = *tp;
      if (t.name == "__metadata__")
        throw FormatError(path, tensor_field(t.name, "name"), "is reserved for the metadata");
      if (!names.insert(t.name).second) throw FormatError(path, tensor_field(t.name, "name"), "is given twice");
      const auto dtype = safetensors_dtype_name(t.type);
      if (!dtype)
        throw FormatError(path, tensor_field(t.name, "dtype"),
                          "type " + std::string(traits(t.type).name) + " cannot be stored in safetensors");
      uint64_t bytes = traits(t.type).block_bytes;
      for (int64_t d : t.shape)
        if (d < 0 || !checked_mul(bytes, static_cast<uint64_t>(d), &bytes))
          throw FormatError(path, tensor_field(t.name, "shape"), "has a negative dimension or overflows");
      if (bytes != t.data.size())
        throw FormatError(
            path, tensor_field(t.name, "data"),
            "holds " + std::to_string(t.data.size()) + " bytes but the shape needs " + std::to_string(bytes));
      nlohmann::ordered_json entry = nlohmann::ordered_json::object();
      entry["dtype"] = std::string(*dtype);
      entry["shape"] = t.shape;
      entry["data_offsets"] = {offset, offset + bytes};
      if (text.size() > 1) text += ",";
      text += json(t.name).dump() + ":" + entry.dump();
      offset += bytes;
    }
  } catch (const json::exception& e) {
    throw FormatError(path, "header", std::string("cannot be written as JSON: ") + e.what());
  }
  text += "}";
  // Padding keeps the data buffer 8-byte aligned in the file, as the Python library does.
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFile out(path);
  const uint64_t header_size = text.size();
  out.write(&header_size, sizeof header_size);
  out.write(text.data(), text.size());
  for (const SafetensorsTensor* t : sorted) out.write(t->data);
  out.commit();
}

}  // namespace lowbit
