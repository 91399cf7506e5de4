#include "lowbit/quant/closer_lanes.h"

#include "lowbit/quant/closer_lanes_kernels.h"

namespace lowbit::quant::detail {

void closer_sums_lanes(const float* xt, int n, int qmax, const float* cand_d, const float* cand_m,
                       double* err_candidate, double* err_reference, float* res_candidate, float* res_reference,
                       int* flags) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16)
    return closer_sums_avx512(xt, n, qmax, cand_d, cand_m, err_candidate, err_reference, res_candidate, res_reference,
                              flags);
  if (lanes::kernel_width() == 8)
    return closer_sums_avx2(xt, n, qmax, cand_d, cand_m, err_candidate, err_reference, res_candidate, res_reference,
                            flags);
#endif
  closer_sums<4>(xt, n, qmax, cand_d, cand_m, err_candidate, err_reference, res_candidate, res_reference, flags);
}

}  // namespace lowbit::quant::detail
