// GGUF, llama.cpp's model file (spec: ggml/docs/gguf.md). Versions 2 and 3 are read;
// version 3 is written. Layout: "GGUF", u32 version, u64 tensor count, u64 metadata
// count, the key-value pairs, the tensor infos (name, dims, ggml type, offset), zero
// padding to the alignment, then the tensor data, each tensor aligned.
//
// The same code reads and writes LBIT, lowbit's own container for tensor types ggml
// lacks (ids >= 1000, e.g. formats/affine_native.h): GGUF v3's exact layout with the
// magic "LBIT" and the key lowbit.container_version (u32 1). llama.cpp and gguf-py stop
// at the magic ("invalid magic") instead of misreading tensors of unknown types.
// Recommended extension: .lbit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/atomic_file.h"
#include "lowbit/core/mapped_file.h"
#include "lowbit/formats/dtype.h"

namespace lowbit::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
std::string_view type_name(ValueType t);

constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;  // GGML_MAX_DIMS

// Which magic a file carries ("GGUF" or "LBIT").
enum class Container : uint8_t { Gguf, Lbit };
constexpr std::string_view kLbitVersionKey = "lowbit.container_version";
constexpr uint32_t kLbitVersion = 1;

// One metadata value. Integers are held widened (u for unsigned, i for signed, f for
// floats) with `type` remembering the exact on-disk type, so a file written back is
// byte-identical. Arrays hold `items`, all of type `elem_type`; arrays may nest.
struct Value {
  ValueType type = ValueType::UINT32;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string str;
  ValueType elem_type = ValueType::UINT8;
  std::vector<Value> items;

  static Value uint32(uint32_t v) {
    Value x;
    x.type = ValueType::UINT32;
    x.u = v;
    return x;
  }
  static Value uint64(uint64_t v) {
    Value x;
    x.type = ValueType::UINT64;
    x.u = v;
    return x;
  }
  static Value int32(int32_t v) {
    Value x;
    x.type = ValueType::INT32;
    x.i = v;
    return x;
  }
  static Value float32(float v) {
    Value x;
    x.type = ValueType::FLOAT32;
    x.f = v;
    return x;
  }
  static Value boolean(bool v) {
    Value x;
    x.type = ValueType::BOOL;
    x.b = v;
    return x;
  }
  static Value string(std::string v) {
    Value x;
    x.type = ValueType::STRING;
    x.str = std::move(v);
    return x;
  }
  static Value array(ValueType elem, std::vector<Value> items) {
    Value x;
    x.type = ValueType::ARRAY;
    x.elem_type = elem;
    x.items = std::move(items);
    return x;
  }

  // Numeric reads that accept any integer/float on-disk type; nullopt if not numeric
  // or (for as_uint) negative.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  const std::string* as_string() const { return type == ValueType::STRING ? &str : nullptr; }
  std::string to_display(size_t max_items = 8) const;  // short human-readable form
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // GGUF order: ne[0] is the innermost (contiguous) dimension
  DType type = DType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
};

// A parsed GGUF file. Parsing checks every count, length, offset and shape product
// against the file size before use; tensor data is a view into the mapped file.
class File {
 public:
  static File open(const std::string& path);
  static File parse(std::span<const std::byte> bytes, const std::string& name_for_errors);

  Container container = Container::Gguf;  // LBIT files may hold non-ggml types
  uint32_t version = 3;
  uint32_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;  // absolute offset of the data section
  std::vector<KeyValue> metadata;
  std::vector<TensorInfo> tensors;

  const Value* find(std::string_view key) const;
  std::span<const std::byte> data(const TensorInfo& t) const;
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return bytes_.size(); }
  std::shared_ptr<const MappedFile> mapping() const { return mapping_; }

 private:
  std::string path_;
  std::span<const std::byte> bytes_;
  std::shared_ptr<const MappedFile> mapping_;
};

// Streams a GGUF file: the header (metadata + tensor infos with offsets computed from
// the sizes given) is written at construction, then each tensor's bytes in order
// through write_data (in as many chunks as convenient), then finish() pads, checks that
// every tensor got exactly its size and renames the temporary file into place.
// Nothing appears at `path` unless finish() succeeds.
//
// The writer owns lowbit.container_version: any copy in `metadata` is dropped, and an
// LBIT file gets the current version as its first key. A GGUF file refuses tensor
// types ggml lacks (FormatError), since no ggml reader could load them.
class Writer {
 public:
  // `tensors[i].offset` is ignored and recomputed; `alignment` comes from the
  // general.alignment key when present.
  Writer(const std::string& path, const std::vector<KeyValue>& metadata, std::vector<TensorInfo> tensors,
         Container container = Container::Gguf);
  void write_data(std::span<const std::byte> chunk);
  void finish();
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

 private:
  AtomicFile out_;
  std::vector<TensorInfo> tensors_;
  uint32_t alignment_;
  size_t current_ = 0;  // tensor being written
  uint64_t current_written_ = 0;
};

// Exact size in bytes of the header (including padding to the alignment) a Writer
// would produce; used for --dry-run size reports.
uint64_t header_size(const std::vector<KeyValue>& metadata, const std::vector<TensorInfo>& tensors,
                     Container container = Container::Gguf);

}  // namespace lowbit::gguf
