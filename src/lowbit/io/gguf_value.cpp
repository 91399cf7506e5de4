#include <cstdio>

#include "lowbit/io/gguf.h"

namespace lowbit::gguf {

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
      return "u8";
    case ValueType::INT8:
      return "i8";
    case ValueType::UINT16:
      return "u16";
    case ValueType::INT16:
      return "i16";
    case ValueType::UINT32:
      return "u32";
    case ValueType::INT32:
      return "i32";
    case ValueType::FLOAT32:
      return "f32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "str";
    case ValueType::ARRAY:
      return "arr";
    case ValueType::UINT64:
      return "u64";
    case ValueType::INT64:
      return "i64";
    case ValueType::FLOAT64:
      return "f64";
  }
  return "?";
}

namespace {
bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}
bool is_float(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }
}  // namespace

std::optional<uint64_t> Value::as_uint() const {
  if (is_unsigned(type)) return u;
  if (is_signed(type) && i >= 0) return static_cast<uint64_t>(i);
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (is_signed(type)) return i;
  if (is_unsigned(type) && u <= uint64_t(INT64_MAX)) return static_cast<int64_t>(u);
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (is_float(type)) return f;
  if (is_unsigned(type)) return static_cast<double>(u);
  if (is_signed(type)) return static_cast<double>(i);
  return std::nullopt;
}

std::string Value::to_display(size_t max_items) const {
  if (is_unsigned(type)) return std::to_string(u);
  if (is_signed(type)) return std::to_string(i);
  if (is_float(type)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", f);
    return buf;
  }
  if (type == ValueType::BOOL) return b ? "true" : "false";
  if (type == ValueType::STRING) {
    std::string s = "\"";
    for (char c : str.substr(0, 120)) {
      if (c == '\n')
        s += "\\n";
      else if (static_cast<unsigned char>(c) < 0x20)
        s += '?';
      else
        s += c;
    }
    if (str.size() > 120) s += "...";
    return s + "\"";
  }
  std::string s(1, '[');  // built piecewise: GCC 12 warns falsely on "[" + std::string
  s += type_name(elem_type);
  s += " x ";
  s += std::to_string(items.size());
  s += ']';
  if (!items.empty()) {
    s += " {";
    for (size_t k = 0; k < items.size() && k < max_items; ++k) {
      if (k) s += ", ";
      s += items[k].to_display(max_items);
    }
    if (items.size() > max_items) s += ", ...";
    s += "}";
  }
  return s;
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

}  // namespace lowbit::gguf
