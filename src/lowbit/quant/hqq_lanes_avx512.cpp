// hqq_lanes_kernels.h at 16 lanes. CMakeLists.txt compiles every *_avx512.cpp with
// -mavx512f -mavx512dq -mavx512bw -mavx512vl (x86-64 GCC only; elsewhere this file is empty).
#include "lowbit/quant/hqq_lanes_kernels.h"

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {

void hqq_stream_avx512(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                 float* best_m) {
  stream<16>(x, n, qmax, jobs, count, s, best_m);
}

void lp_sums_avx512(const float* rt, int n, float p, double* sums) { lp_sums<16>(rt, n, p, sums); }

}  // namespace lowbit::quant::detail
#endif
