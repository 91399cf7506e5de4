#include "lowbit/model/imatrix.h"

#include <algorithm>
#include <stdexcept>

namespace lowbit {

std::vector<float> ImatrixEntry::mean_squares() const {
  std::vector<float> out;
  if (count <= 0) return out;
  out.reserve(sum2.size());
  // In float, as llama-quantize divides a legacy file's values by ncall.
  for (double s : sum2) out.push_back(static_cast<float>(s) / static_cast<float>(count));
  return out;
}

void ImportanceMatrix::add(const ImportanceMatrix& other) {
  for (const auto& [name, e] : other.entries) {
    ImatrixEntry& mine = entries[name];
    if (mine.sum2.empty()) mine.sum2.assign(e.sum2.size(), 0.0);
    if (mine.sum2.size() != e.sum2.size())
      throw std::invalid_argument("importance matrices disagree on \"" + name +
                                  "\": " + std::to_string(mine.sum2.size()) + " against " +
                                  std::to_string(e.sum2.size()) + " columns");
    for (size_t j = 0; j < e.sum2.size(); ++j) mine.sum2[j] += e.sum2[j];
    mine.count += e.count;
    mine.calls += e.calls;
  }
  for (const auto& d : other.datasets)
    if (std::find(datasets.begin(), datasets.end(), d) == datasets.end()) datasets.push_back(d);
  chunk_count += other.chunk_count;
  if (chunk_size == 0) chunk_size = other.chunk_size;
}

}  // namespace lowbit
