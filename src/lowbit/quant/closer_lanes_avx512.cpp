// closer_lanes_kernels.h at 16 lanes. CMakeLists.txt compiles every *_avx512.cpp with
// -mavx512f -mavx512dq -mavx512bw -mavx512vl (x86-64 GCC only; elsewhere this file is empty).
#include "lowbit/quant/closer_lanes_kernels.h"

#if LOWBIT_LANES_X86
LOWBIT_CLOSER_LANES_KERNELS(avx512, 16)
#endif
