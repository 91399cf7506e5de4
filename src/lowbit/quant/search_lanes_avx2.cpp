// search_lanes_kernels.h at 8 lanes. CMakeLists.txt compiles every *_avx2.cpp with
// -mavx2 (x86-64 GCC only; elsewhere this file is empty).
#include "lowbit/quant/search_lanes_kernels.h"

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {

void affine_range_scan_avx2(const float* ut, int n, int qmax, const float* range, const double* su,
                        const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  scan<8>(ut, n, qmax, range, su, bottom, top, candidates, out);
}

void symmetric_scan_avx2(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates,
                     SymmetricScanResult* out) {
  symmetric_scan<8>(xt, n, qmin, qmax, ids, candidates, out);
}

}  // namespace lowbit::quant::detail
#endif
