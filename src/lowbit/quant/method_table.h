// The method columns of the format table: for each format, which methods it has and
// which one runs when the user names none. Keyed by the same DType as formats/
// registry.h's rows; every format with an encoder has a row (tests check it).
#pragma once

#include <array>
#include <span>

#include "lowbit/formats/registry.h"
#include "lowbit/quant/method.h"

namespace lowbit {

struct MethodTraits {
  DType type;
  // Method used when the user names none (chosen per format; the reason stands beside
  // each row in method_table.cpp).
  Method default_method = Method::Rtn;
  // The quantizers per Method, indexed by the enum; nullptr where a method does not
  // apply to the format. The Rtn slot writes the reference's bytes.
  std::array<QuantizeFn, kMethodCount> quantize = {};

  QuantizeFn quantizer(Method m) const { return quantize[static_cast<size_t>(m)]; }
};

// The row of t: an empty one (no quantizers, Rtn default) for a format lowbit cannot
// encode.
const MethodTraits& methods(DType t);
std::span<const MethodTraits> all_methods();

}  // namespace lowbit
