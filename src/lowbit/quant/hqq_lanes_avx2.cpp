// hqq_lanes_kernels.h at 8 lanes. CMakeLists.txt compiles every *_avx2.cpp with
// -mavx2 (x86-64 GCC only; elsewhere this file is empty).
#include "lowbit/quant/hqq_lanes_kernels.h"

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {

void hqq_stream_avx2(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                 float* best_m) {
  stream<8>(x, n, qmax, jobs, count, s, best_m);
}

void lp_sums_avx2(const float* rt, int n, float p, double* sums) { lp_sums<8>(rt, n, p, sums); }

}  // namespace lowbit::quant::detail
#endif
