#include "lowbit/quant/search_lanes.h"

#include "lowbit/quant/search_lanes_kernels.h"

namespace lowbit::quant::detail {

void range_start_lanes(const float* xt, int n, float* min, float* max, double* su, float* ut) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return range_start_avx512(xt, n, min, max, su, ut);
  if (lanes::kernel_width() == 8) return range_start_avx2(xt, n, min, max, su, ut);
#endif
  range_start<4>(xt, n, min, max, su, ut);
}

void affine_range_scan_lanes(const float* ut, int n, int qmax, const float* range, const double* su,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) {
    return affine_range_scan_avx512(ut, n, qmax, range, su, bottom, top, candidates, out);
  }
  if (lanes::kernel_width() == 8) return affine_range_scan_avx2(ut, n, qmax, range, su, bottom, top, candidates, out);
#endif
  scan<4>(ut, n, qmax, range, su, bottom, top, candidates, out);
}

void symmetric_scan_lanes(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates,
                          SymmetricScanResult* out) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return symmetric_scan_avx512(xt, n, qmin, qmax, ids, candidates, out);
  if (lanes::kernel_width() == 8) return symmetric_scan_avx2(xt, n, qmin, qmax, ids, candidates, out);
#endif
  symmetric_scan<4>(xt, n, qmin, qmax, ids, candidates, out);
}

void symmetric_pass_lanes(const float* xt, int n, float qmin, float qmax, const float* d, double* sqx, double* sqq,
                          double* err) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return symmetric_pass_avx512(xt, n, qmin, qmax, d, sqx, sqq, err);
  if (lanes::kernel_width() == 8) return symmetric_pass_avx2(xt, n, qmin, qmax, d, sqx, sqq, err);
#endif
  symmetric_pass<4>(xt, n, qmin, qmax, d, sqx, sqq, err);
}

void affine_step_lanes(const float* ut, int n, int qmax, const float* offset, const float* id, const float* d,
                       double* sq, double* sqq, double* squ, double* err) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return affine_step_avx512(ut, n, qmax, offset, id, d, sq, sqq, squ, err);
  if (lanes::kernel_width() == 8) return affine_step_avx2(ut, n, qmax, offset, id, d, sq, sqq, squ, err);
#endif
  affine_step<4>(ut, n, qmax, offset, id, d, sq, sqq, squ, err);
}

}  // namespace lowbit::quant::detail
