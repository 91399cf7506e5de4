// Hugging Face safetensors files (github.com/huggingface/safetensors):
//
//   u64 LE  N            header length
//   N bytes              UTF-8 JSON object, optionally padded with trailing spaces:
//                          {"<name>": {"dtype": "F32", "shape": [2, 3],
//                                      "data_offsets": [begin, end]}, ...,
//                           "__metadata__": {"<key>": "<string value>"}}
//   the rest             data buffer; offsets are relative to its first byte
//
// Following the reference implementation, the header is capped at 100 MB, the tensors
// must tile the data buffer exactly (no overlaps, no holes, no trailing bytes), and a
// tensor's byte length must equal its element count times its element size. Unknown
// keys inside a tensor entry are ignored, as the reference implementation does.
//
// Large checkpoints are split into shards listed by `model.safetensors.index.json`:
//   {"metadata": {...}, "weight_map": {"<tensor>": "model-00001-of-00002.safetensors"}}
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/mapped_file.h"
#include "lowbit/formats/dtype.h"

namespace lowbit {

// Headers larger than this are refused before they are parsed.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafetensorsTensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;       // outermost first, as in PyTorch
  std::span<const std::byte> data;  // exactly the tensor's bytes
};

// The DType for a safetensors dtype string ("F32", "BF16", "F8_E4M3"...; case matters),
// and back. nullopt for dtypes lowbit has no type for, and for lowbit types that
// safetensors cannot store (the ggml block quantizations).
std::optional<DType> safetensors_dtype(std::string_view name);
std::optional<std::string_view> safetensors_dtype_name(DType type);

class SafetensorsFile {
 public:
  // Maps the file; the tensors view the mapping, which this object keeps alive.
  static SafetensorsFile open(const std::string& path);
  // Parses bytes held by the caller, which must outlive the returned object and every
  // span taken from it. Errors name `name_for_errors` as the file.
  static SafetensorsFile parse(std::span<const std::byte> bytes, const std::string& name_for_errors);

  const std::string& path() const { return path_; }
  // In data-buffer order, which is file order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // File offset of the data buffer (8 + header length).
  uint64_t data_offset() const { return data_offset_; }
  // The mapping the tensors view; null for parse().
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }

 private:
  std::string path_;
  std::vector<SafetensorsTensor> tensors_;
  std::vector<size_t> by_name_;  // indices into tensors_, sorted by name, for find()
  std::map<std::string, std::string> metadata_;
  uint64_t data_offset_ = 0;
  std::shared_ptr<const MappedFile> mapping_;
};

// A checkpoint that may be split into shards: either one .safetensors file or a
// `*.safetensors.index.json` whose shards sit in the same directory.
class SafetensorsCheckpoint {
 public:
  // Dispatches on the name: a path ending in ".json" is read as a shard index.
  static SafetensorsCheckpoint open(const std::string& path);
  // Opens every shard the index names and checks that each tensor of its weight_map
  // is in the shard it names. Shard names must be plain file names (no directories).
  static SafetensorsCheckpoint open_index(const std::string& index_path);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // Every tensor of every shard: shards in name order, each in file order. A name that
  // appears in two shards is a FormatError.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // A single file's __metadata__, or the index's "metadata" (non-string values, such
  // as total_size, in their JSON spelling).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  void collect_tensors();
  std::string path_;
  std::vector<SafetensorsFile> shards_;
  std::vector<SafetensorsTensor> tensors_;
  std::vector<size_t> by_name_;  // indices into tensors_, sorted by name, for find()
  std::map<std::string, std::string> metadata_;
};

// Writes a safetensors file through AtomicFile (nothing appears at `path` unless the
// whole file was written), laid out as the Python library lays it out: tensors sorted
// by dtype (widest alignment first) and then by name, which keeps every tensor aligned
// to its element size; a compact JSON header holding "__metadata__" (omitted when
// empty, keys sorted) and then the tensors in data order, each as dtype, shape,
// data_offsets; the header padded with spaces to a multiple of 8 bytes. With at most
// one metadata key the file is byte-identical to safetensors.numpy.save_file's.
// Throws FormatError for a tensor whose data size does not match its shape, a dtype
// safetensors cannot store, or a repeated or reserved name; IoError if writing fails.
void write_safetensors(const std::string& path, std::span<const SafetensorsTensor> tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lowbit
