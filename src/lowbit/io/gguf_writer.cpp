// GGUF writing, streamed: header first (offsets are known from the sizes alone), then
// tensor bytes as the caller produces them, then an atomic rename.
#include <cstring>

#include "lowbit/core/error.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"

namespace lowbit::gguf {
namespace {

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Serializes into a byte string; the same code measures the header for --dry-run.
class Encoder {
 public:
  template <typename T>
  void put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out += s;
  }
  void put_value(const Value& v) {
    switch (v.type) {
      case ValueType::UINT8:
        put(static_cast<uint8_t>(v.u));
        break;
      case ValueType::UINT16:
        put(static_cast<uint16_t>(v.u));
        break;
      case ValueType::UINT32:
        put(static_cast<uint32_t>(v.u));
        break;
      case ValueType::UINT64:
        put(v.u);
        break;
      case ValueType::INT8:
        put(static_cast<int8_t>(v.i));
        break;
      case ValueType::INT16:
        put(static_cast<int16_t>(v.i));
        break;
      case ValueType::INT32:
        put(static_cast<int32_t>(v.i));
        break;
      case ValueType::INT64:
        put(v.i);
        break;
      case ValueType::FLOAT32:
        put(static_cast<float>(v.f));
        break;
      case ValueType::FLOAT64:
        put(v.f);
        break;
      case ValueType::BOOL:
        put(static_cast<uint8_t>(v.b ? 1 : 0));
        break;
      case ValueType::STRING:
        put_string(v.str);
        break;
      case ValueType::ARRAY:
        put(static_cast<uint32_t>(v.elem_type));
        put<uint64_t>(v.items.size());
        for (const Value& item : v.items) {
          if (item.type != v.elem_type)
            throw std::invalid_argument("GGUF array items must all have the array's element type");
          put_value(item);
        }
        break;
    }
  }
  std::string out;
};

uint32_t alignment_of(const std::vector<KeyValue>& metadata) {
  for (const auto& kv : metadata)
    if (kv.key == "general.alignment") {
      if (kv.value.type != ValueType::UINT32 || kv.value.u == 0 || (kv.value.u & (kv.value.u - 1)))
        throw std::invalid_argument("general.alignment must be a u32 power of two");
      return static_cast<uint32_t>(kv.value.u);
    }
  return kDefaultAlignment;
}

// A GGUF file may only hold types a ggml reader knows.
void check_types_fit(const std::vector<TensorInfo>& tensors, Container container, const std::string& file) {
  if (container == Container::Lbit) return;
  for (const auto& t : tensors) {
    const TypeTraits* tt = find_type(static_cast<uint32_t>(t.type));
    if (tt != nullptr && tt->in_ggml) continue;
    const std::string type = tt ? std::string(tt->name) : "type " + std::to_string(static_cast<uint32_t>(t.type));
    throw FormatError(file, "tensor \"" + t.name + "\".type",
                      type + " is not a ggml type; write an LBIT file (.lbit) to store it");
  }
}

// Fills in offsets and returns the encoded header, padded to the alignment.
std::string encode_header(const std::vector<KeyValue>& metadata, std::vector<TensorInfo>& tensors, Container container,
                          const std::string& file) {
  check_types_fit(tensors, container, file);
  const uint32_t alignment = alignment_of(metadata);
  const bool lbit = container == Container::Lbit;
  uint64_t kv_count = lbit ? 1 : 0;
  for (const auto& kv : metadata) kv_count += kv.key != kLbitVersionKey;
  Encoder e;
  e.out += lbit ? "LBIT" : "GGUF";
  e.put<uint32_t>(3);
  e.put<uint64_t>(tensors.size());
  e.put<uint64_t>(kv_count);
  auto put_kv = [&e](const std::string& key, const Value& value) {
    e.put_string(key);
    e.put(static_cast<uint32_t>(value.type));
    e.put_value(value);
  };
  if (lbit) put_kv(std::string(kLbitVersionKey), Value::uint32(kLbitVersion));
  for (const auto& kv : metadata)
    if (kv.key != kLbitVersionKey) put_kv(kv.key, kv.value);
  uint64_t offset = 0;
  for (auto& t : tensors) {
    t.offset = offset;
    offset = align_up(offset + t.nbytes, alignment);
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) e.put(d);
    e.put(static_cast<uint32_t>(t.type));
    e.put(t.offset);
  }
  e.out.resize(align_up(e.out.size(), alignment), '\0');
  return std::move(e.out);
}

}  // namespace

uint64_t header_size(const std::vector<KeyValue>& metadata, const std::vector<TensorInfo>& tensors,
                     Container container) {
  std::vector<TensorInfo> copy = tensors;
  return encode_header(metadata, copy, container, "(planned output)").size();
}

Writer::Writer(const std::string& path, const std::vector<KeyValue>& metadata, std::vector<TensorInfo> tensors,
               Container container)
    : out_(path), tensors_(std::move(tensors)), alignment_(alignment_of(metadata)) {
  const std::string header = encode_header(metadata, tensors_, container, path);
  out_.write(header.data(), header.size());
}

void Writer::write_data(std::span<const std::byte> chunk) {
  while (!chunk.empty()) {
    if (current_ >= tensors_.size())
      throw std::logic_error(out_.path() + ": more tensor data written than the header declares");
    const TensorInfo& t = tensors_[current_];
    const uint64_t want = t.nbytes - current_written_;
    const uint64_t k = chunk.size() < want ? chunk.size() : want;
    out_.write(chunk.data(), k);
    chunk = chunk.subspan(k);
    current_written_ += k;
    if (current_written_ == t.nbytes) {
      out_.write_zeros(align_up(t.nbytes, alignment_) - t.nbytes);
      ++current_;
      current_written_ = 0;
    }
  }
  // Zero-sized tensors complete without data.
  while (current_ < tensors_.size() && tensors_[current_].nbytes == 0 && current_written_ == 0) ++current_;
}

void Writer::finish() {
  while (current_ < tensors_.size() && tensors_[current_].nbytes == 0) ++current_;
  if (current_ != tensors_.size())
    throw std::logic_error(out_.path() + ": tensor \"" + tensors_[current_].name + "\" was not given all its data");
  out_.commit();
}

}  // namespace lowbit::gguf
