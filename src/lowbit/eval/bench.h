// Speed and memory measurements for `lowbit bench`, in llama-bench's terms: prompt
// processing (pp: n tokens in one batch from an empty cache) and text generation (tg:
// n tokens one at a time), as tokens per second over repetitions; plus the machine's
// memory read bandwidth and each weight format's GEMV bandwidth against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/formats/dtype.h"

namespace lowbit {

class Llama;
class ThreadPool;
struct Model;

struct Rate {
  double mean = 0, stddev = 0;  // tokens (or bytes) per second
};

Rate bench_prompt(Llama& model, int64_t tokens, int repetitions);
Rate bench_generation(Llama& model, int64_t tokens, int repetitions);

// Bytes per second of a plain streaming read of `bytes` split over the pool's threads.
double read_bandwidth(ThreadPool& pool, size_t bytes, int repetitions);

struct GemvBandwidth {
  DType type;
  size_t tensors = 0;  // matrices of that format, all multiplied in one timed pass
  size_t bytes = 0;    // their packed size
  double bytes_per_second = 0;
};
// Per weight format among the model's matrices: one GEMV (matmul with one token)
// through every matrix of that format, as a decoded token does (repacked where the
// engine repacks), so the bytes exceed the caches.
std::vector<GemvBandwidth> bench_gemv(const Llama& model, ThreadPool& pool, int repetitions);

// Resident memory of this process: now and at its peak (VmRSS / VmHWM), in bytes.
size_t resident_bytes();
size_t peak_resident_bytes();

}  // namespace lowbit
