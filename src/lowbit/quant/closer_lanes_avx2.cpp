// closer_lanes_kernels.h at 8 lanes. CMakeLists.txt compiles every *_avx2.cpp with
// -mavx2 (x86-64 GCC only; elsewhere this file is empty).
#include "lowbit/quant/closer_lanes_kernels.h"

#if LOWBIT_LANES_X86
LOWBIT_CLOSER_LANES_KERNELS(avx2, 8)
#endif
