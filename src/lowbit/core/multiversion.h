// Runtime dispatch for plain scalar loops: LOWBIT_MULTIVERSION compiles a function
// once for baseline x86-64, once for AVX2 and once for AVX-512, and the loader picks
// the best one the CPU has (GCC's target_clones, an ifunc). The source stays the
// scalar specification; vectorising it changes no result, because lowbit builds with
// -ffp-contract=off and without -ffast-math, so no operation is fused or reordered.
// Elsewhere (other compilers, other architectures) it is a no-op.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define LOWBIT_MULTIVERSION __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define LOWBIT_MULTIVERSION
#endif
