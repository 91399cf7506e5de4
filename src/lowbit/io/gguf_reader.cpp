// GGUF parsing. Every count read from the file is checked against the bytes that
// remain before anything is allocated for it, so a hostile file claiming 2^63 tensors
// or a 2^40-byte string fails at once with the offending field and offset.
#include <algorithm>
#include <unordered_set>

#include "lowbit/core/byte_reader.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"

namespace lowbit::gguf {
namespace {

constexpr int kMaxArrayDepth = 8;

// Smallest possible encoding of one value of type t (used to bound counts).
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::STRING:
      return 8;
    case ValueType::ARRAY:
      return 12;
  }
  return 1;
}

bool known_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& name) : r_(bytes, name) {}

  void parse(File& f) {
    const auto magic = r_.take_string(4, "magic");
    if (magic == "LBIT")
      f.container = Container::Lbit;
    else if (magic != "GGUF")
      r_.fail_at(0, "magic", "not a GGUF or LBIT file (expected \"GGUF\" or \"LBIT\")");
    f.version = r_.read<uint32_t>("version");
    if (f.container == Container::Lbit && f.version != 3)
      r_.fail_at(4, "version", "LBIT files use GGUF version 3's layout, got " + std::to_string(f.version));
    if (f.version != 2 && f.version != 3)
      r_.fail_at(4, "version", "unsupported GGUF version " + std::to_string(f.version) + " (lowbit reads 2 and 3)");
    const uint64_t n_tensors = r_.read<uint64_t>("tensor_count");
    const uint64_t n_kv = r_.read<uint64_t>("metadata_kv_count");
    // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor
    // info at least 8 + 4 + 4 + 8.
    if (n_kv > r_.remaining() / 13)
      r_.fail_at(16, "metadata_kv_count", "count " + std::to_string(n_kv) + " cannot fit in the file");
    if (n_tensors > r_.remaining() / 24)
      r_.fail_at(8, "tensor_count", "count " + std::to_string(n_tensors) + " cannot fit in the file");

    std::unordered_set<std::string> keys;
    f.metadata.reserve(n_kv);
    for (uint64_t k = 0; k < n_kv; ++k) {
      const uint64_t at = r_.offset();
      KeyValue kv;
      kv.key = read_string("metadata[" + std::to_string(k) + "].key");
      if (!keys.insert(kv.key).second) r_.fail_at(at, "metadata key \"" + kv.key + "\"", "duplicate key");
      const std::string field = "metadata \"" + kv.key + "\"";
      const uint64_t type_at = r_.offset();
      const uint32_t type = r_.read<uint32_t>(field + ".type");
      if (!known_type(type)) r_.fail_at(type_at, field + ".type", "unknown value type " + std::to_string(type));
      kv.value = read_value(static_cast<ValueType>(type), field, 0);
      f.metadata.push_back(std::move(kv));
    }

    f.alignment = kDefaultAlignment;
    if (const Value* a = f.find("general.alignment")) {
      if (a->type != ValueType::UINT32 || a->u == 0 || (a->u & (a->u - 1)) != 0)
        r_.fail("general.alignment", "must be a u32 power of two, got " + a->to_display());
      f.alignment = static_cast<uint32_t>(a->u);
    }
    if (f.container == Container::Lbit) check_lbit_version(f);

    std::unordered_set<std::string> names;
    f.tensors.reserve(n_tensors);
    for (uint64_t k = 0; k < n_tensors; ++k) f.tensors.push_back(read_tensor_info(k, names, f.container));

    uint64_t header_end = r_.offset();
    f.data_offset = align_up(header_end, f.alignment, "data section");
    check_tensor_data(f);
  }

 private:
  void check_lbit_version(const File& f) const {
    const std::string field(kLbitVersionKey);
    const Value* v = f.find(kLbitVersionKey);
    if (v == nullptr) r_.fail(field, "missing: every LBIT file names its container version");
    if (v->type != ValueType::UINT32 || v->u != kLbitVersion)
      r_.fail(field, "unsupported LBIT container version " + v->to_display() + " (lowbit reads u32 " +
                         std::to_string(kLbitVersion) + ")");
  }

  std::string read_string(const std::string& field) {
    const uint64_t n = r_.read<uint64_t>(field + ".length");
    if (n > r_.remaining())
      r_.fail(field,
              "string length " + std::to_string(n) + " exceeds the " + std::to_string(r_.remaining()) + " bytes left");
    return std::string(r_.take_string(n, field));
  }

  Value read_value(ValueType type, const std::string& field, int depth) {
    Value v;
    v.type = type;
    switch (type) {
      case ValueType::UINT8:
        v.u = r_.read<uint8_t>(field);
        break;
      case ValueType::UINT16:
        v.u = r_.read<uint16_t>(field);
        break;
      case ValueType::UINT32:
        v.u = r_.read<uint32_t>(field);
        break;
      case ValueType::UINT64:
        v.u = r_.read<uint64_t>(field);
        break;
      case ValueType::INT8:
        v.i = r_.read<int8_t>(field);
        break;
      case ValueType::INT16:
        v.i = r_.read<int16_t>(field);
        break;
      case ValueType::INT32:
        v.i = r_.read<int32_t>(field);
        break;
      case ValueType::INT64:
        v.i = r_.read<int64_t>(field);
        break;
      case ValueType::FLOAT32:
        v.f = r_.read<float>(field);
        break;
      case ValueType::FLOAT64:
        v.f = r_.read<double>(field);
        break;
      case ValueType::BOOL: {
        const uint64_t at = r_.offset();
        const uint8_t b = r_.read<uint8_t>(field);
        if (b > 1) r_.fail_at(at, field, "bool must be 0 or 1, got " + std::to_string(b));
        v.b = b != 0;
        break;
      }
      case ValueType::STRING:
        v.str = read_string(field);
        break;
      case ValueType::ARRAY: {
        if (depth >= kMaxArrayDepth) r_.fail(field, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
        const uint64_t type_at = r_.offset();
        const uint32_t elem = r_.read<uint32_t>(field + ".array_type");
        if (!known_type(elem)) r_.fail_at(type_at, field + ".array_type", "unknown value type " + std::to_string(elem));
        v.elem_type = static_cast<ValueType>(elem);
        const uint64_t count_at = r_.offset();
        const uint64_t n = r_.read<uint64_t>(field + ".array_count");
        if (n > r_.remaining() / min_encoded_size(v.elem_type))
          r_.fail_at(
              count_at, field + ".array_count",
              "count " + std::to_string(n) + " cannot fit in the " + std::to_string(r_.remaining()) + " bytes left");
        v.items.reserve(n);
        for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(v.elem_type, field, depth + 1));
        break;
      }
    }
    return v;
  }

  TensorInfo read_tensor_info(uint64_t k, std::unordered_set<std::string>& names, Container container) {
    TensorInfo t;
    const uint64_t at = r_.offset();
    t.name = read_string("tensor_info[" + std::to_string(k) + "].name");
    const std::string field = "tensor \"" + t.name + "\"";
    if (!names.insert(t.name).second) r_.fail_at(at, field, "duplicate tensor name");
    const uint64_t dims_at = r_.offset();
    const uint32_t n_dims = r_.read<uint32_t>(field + ".n_dims");
    if (n_dims > kMaxDims) r_.fail_at(dims_at, field + ".n_dims", std::to_string(n_dims) + " dimensions (at most 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r_.read<uint64_t>(field + ".ne");
      if (ne > uint64_t(INT64_MAX) || !checked_mul(numel, ne, &numel) || numel > uint64_t(INT64_MAX))
        r_.fail_at(dims_at, field + ".ne", "shape product overflows");
      t.ne.push_back(ne);
    }
    const uint64_t type_at = r_.offset();
    const uint32_t type = r_.read<uint32_t>(field + ".type");
    const TypeTraits* tt = find_type(type);
    // Types ggml lacks are valid only in LBIT files, where no ggml reader will look.
    if (container == Container::Lbit && tt == nullptr)
      r_.fail_at(type_at, field + ".type", "unknown lowbit type " + std::to_string(type));
    if (container == Container::Gguf && (tt == nullptr || !tt->in_ggml))
      r_.fail_at(type_at, field + ".type",
                 "unknown ggml type " + std::to_string(type) +
                     (tt ? " (" + std::string(tt->name) + " is a lowbit type, valid only in LBIT files)" : ""));
    t.type = tt->type;
    if (!t.ne.empty() && t.ne[0] % uint64_t(tt->block_size) != 0)
      r_.fail_at(dims_at, field + ".ne[0]",
                 std::to_string(t.ne[0]) + " is not a multiple of " + std::string(tt->name) + "'s block size " +
                     std::to_string(tt->block_size));
    const auto nbytes = row_bytes(t.type, numel);
    if (!nbytes) r_.fail_at(dims_at, field + ".ne", "tensor size overflows");
    t.nbytes = *nbytes;
    t.offset = r_.read<uint64_t>(field + ".offset");
    return t;
  }

  uint64_t align_up(uint64_t x, uint64_t a, const std::string& field) const {
    uint64_t y;
    if (!checked_add(x, a - 1, &y)) r_.fail(field, "offset overflows");
    return y / a * a;
  }

  void check_tensor_data(const File& f) const {
    const uint64_t size = r_.size();
    if (!f.tensors.empty() && f.data_offset > size)
      r_.fail_at(size, "data section",
                 "starts at " + std::to_string(f.data_offset) + ", past the end of the file (" + std::to_string(size) +
                     " bytes)");
    const uint64_t data_size = f.data_offset <= size ? size - f.data_offset : 0;
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : f.tensors) {
      const std::string field = "tensor \"" + t.name + "\".offset";
      if (t.offset % f.alignment != 0)
        r_.fail_at(f.data_offset, field,
                   std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(f.alignment));
      if (t.offset > data_size || t.nbytes > data_size - t.offset)
        r_.fail_at(f.data_offset, field,
                   "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                       ") runs past the end of the data section (" + std::to_string(data_size) + " bytes)");
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
      const TensorInfo& prev = *by_offset[k - 1];
      if (by_offset[k]->offset < prev.offset + prev.nbytes)
        r_.fail_at(f.data_offset + by_offset[k]->offset, "tensor \"" + by_offset[k]->name + "\".offset",
                   "overlaps tensor \"" + prev.name + "\"");
    }
  }

  ByteReader r_;
};

}  // namespace

File File::parse(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  File f;
  f.path_ = name_for_errors;
  f.bytes_ = bytes;
  Parser(bytes, name_for_errors).parse(f);
  return f;
}

File File::open(const std::string& path) {
  auto mapping = MappedFile::open(path);
  File f = parse(mapping->bytes(), path);
  f.mapping_ = std::move(mapping);
  return f;
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : metadata)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

std::span<const std::byte> File::data(const TensorInfo& t) const {
  return bytes_.subspan(data_offset + t.offset, t.nbytes);
}

}  // namespace lowbit::gguf
