// The weighted search of the K-quants (quant/weighted_search.h): coordinate descent on a
// super-block's integers and super-scales under the weighted error, from ggml's weighted
// encoding. A sub-block's codes are always the nearest for its (scale, min), so every
// move is scored on what would decode.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lowbit/core/float_bits.h"
#include "lowbit/quant/kquant_methods.h"
#include "lowbit/quant/weighted_search_internal.h"

namespace lowbit::quant::detail {
namespace {

using kquant::KQuantCodec;
using kquant::kSuperBlock;
using kquant::SuperBlockParams;

constexpr int kRounds = 3;

// The nearest codes of sub-block x[0..n) for step S and offset O (x ≈ S*c - O) and
// their weighted error; S == 0 decodes to -O whatever the codes, which are then 0 or
// code_min.
double fit_codes(const KQuantCodec& c, const float* x, const float* w, int n, float S, float O, int8_t* codes) {
  double err = 0;
  const float inv = S != 0.0f ? 1.0f / S : 0.0f;
  const int zero = std::clamp(0, c.code_min, c.code_max);
  for (int i = 0; i < n; ++i) {
    int q = zero;
    if (inv != 0.0f) {
      const float v = std::nearbyint((x[i] + O) * inv);
      q = v != v ? c.code_min : static_cast<int>(std::clamp(v, float(c.code_min), float(c.code_max)));
    }
    codes[i] = static_cast<int8_t>(q);
    const double r = double(x[i]) - double(S * float(q) - O);
    err += double(w[i]) * r * r;
  }
  return std::isfinite(err) ? err : INFINITY;
}

struct Search {
  const KQuantCodec& c;
  const float* x;
  const float* w;
  int n, count;
  bool affine;
  SuperBlockParams p;
  double sub_error[kquant::kMaxSubBlocks];

  float D() const { return fp16_to_fp32(p.d); }
  float DM() const { return fp16_to_fp32(p.dmin); }

  // The step and offset sub-block j's integers give under super-scales (d, dmin),
  // computed as the dequantizers compute them.
  static float step(float d, int s) { return d * float(s); }

  // Sub-block j's best (scale, min) within `radius` grid steps of its own, and of the
  // integers nearest to its weighted least-squares step and offset, under (d, dmin);
  // writes them (and their codes) into q and returns its error.
  double best_integers(int j, float d, float dmin, int radius, SuperBlockParams& q) const {
    const float* xs = x + n * j;
    const float* ws = w + n * j;
    int8_t codes[32], trial[32];
    int s_best = q.scales[j], m_best = q.mins[j];
    double e_best = fit_codes(c, xs, ws, n, step(d, s_best), dmin * float(m_best), codes);
    auto try_pair = [&](int s, int m) {
      if (s < c.scale_min || s > c.scale_max || m < 0 || m > c.min_max) return;
      if (s == s_best && m == m_best) return;
      const double e = fit_codes(c, xs, ws, n, step(d, s), dmin * float(m), trial);
      if (e < e_best) {
        e_best = e;
        s_best = s;
        m_best = m;
        std::copy(trial, trial + n, codes);
      }
    };
    const int s0 = q.scales[j], m0 = q.mins[j];
    const int mr = affine ? radius : 0;
    for (int ds = -radius; ds <= radius; ++ds)
      for (int dm = -mr; dm <= mr; ++dm) try_pair(s0 + ds, m0 + dm);
    // The weighted least-squares step and offset for the current best codes.
    double sw = 0, sc = 0, scc = 0, sx = 0, scx = 0;
    for (int i = 0; i < n; ++i) {
      const double cv = codes[i];
      sw += ws[i];
      sc += ws[i] * cv;
      scc += ws[i] * cv * cv;
      sx += double(ws[i]) * xs[i];
      scx += double(ws[i]) * cv * xs[i];
    }
    double S = 0, O = 0;
    if (affine) {
      const double det = sw * scc - sc * sc;
      if (det > 0) {
        S = (sw * scx - sc * sx) / det;
        O = -(scc * sx - sc * scx) / det;  // x ≈ S c - O
      }
    } else if (scc > 0) {
      S = scx / scc;
    }
    if (d != 0.0f && std::isfinite(S)) {
      const double s_ls = std::nearbyint(S / d);
      const double m_ls = affine && dmin != 0.0f ? std::nearbyint(O / dmin) : m0;
      if (std::fabs(s_ls) < 1e6 && std::fabs(m_ls) < 1e6)
        for (int ds = -1; ds <= 1; ++ds)
          for (int dm = affine ? -1 : 0; dm <= (affine ? 1 : 0); ++dm) try_pair(int(s_ls) + ds, int(m_ls) + dm);
    }
    q.scales[j] = static_cast<int16_t>(s_best);
    q.mins[j] = static_cast<uint8_t>(m_best);
    std::copy(codes, codes + n, q.codes + n * j);
    return e_best;
  }

  double total() const {
    double t = 0;
    for (int j = 0; j < count; ++j) t += sub_error[j];
    return t;
  }

  // Every sub-block's integers, super-scales fixed.
  void integer_pass(int radius) {
    for (int j = 0; j < count; ++j) sub_error[j] = best_integers(j, D(), DM(), radius, p);
  }

  // The super-scales: the weighted least-squares pair for the current integers and codes,
  // and the fp16 neighbours of the current ones; each scored with every sub-block's
  // integers re-chosen (within one step); the best taken if it lowers the total.
  bool super_pass() {
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int j = 0; j < count; ++j)
      for (int i = n * j; i < n * (j + 1); ++i) {
        const double a = double(p.scales[j]) * p.codes[i], b = p.mins[j];
        saa += w[i] * a * a;
        sab += w[i] * a * b;
        sbb += w[i] * b * b;
        sax += double(w[i]) * a * x[i];
        sbx += double(w[i]) * b * x[i];
      }
    // x ≈ d a - dmin b.
    double d_ls = saa > 0 ? sax / saa : 0, dmin_ls = 0;
    if (affine) {
      const double det = saa * sbb - sab * sab;
      if (det > 0) {
        d_ls = (sax * sbb - sbx * sab) / det;
        dmin_ls = (sax * sab - sbx * saa) / det;
      }
    }
    uint16_t d_cands[4], dm_cands[3];
    int nd = 0, ndm = 0;
    auto push = [](uint16_t* out, int& k, uint16_t h) {
      const float v = fp16_to_fp32(h);
      if (!std::isfinite(v) || v == 0.0f) return;
      for (int i = 0; i < k; ++i)
        if (out[i] == h) return;
      out[k++] = h;
    };
    push(d_cands, nd, fp32_to_fp16(float(d_ls)));
    push(d_cands, nd, uint16_t(p.d + 1));
    push(d_cands, nd, uint16_t(p.d - 1));
    dm_cands[ndm++] = p.dmin;
    if (affine) {
      push(dm_cands, ndm, fp32_to_fp16(float(dmin_ls)));
      push(dm_cands, ndm, uint16_t(p.dmin + 1));
    }
    const double now = total();
    double best = now;
    SuperBlockParams best_p;
    double best_sub[kquant::kMaxSubBlocks];
    for (int a = 0; a < nd; ++a)
      for (int b = 0; b < ndm; ++b) {
        if (d_cands[a] == p.d && dm_cands[b] == p.dmin) continue;
        if ((fp16_to_fp32(d_cands[a]) < 0) != (D() < 0)) continue;
        SuperBlockParams q = p;
        q.d = d_cands[a];
        q.dmin = dm_cands[b];
        double sub[kquant::kMaxSubBlocks], t = 0;
        for (int j = 0; j < count && t < best; ++j) {
          sub[j] = best_integers(j, fp16_to_fp32(q.d), fp16_to_fp32(q.dmin), 1, q);
          t += sub[j];
        }
        if (t < best) {
          best = t;
          best_p = q;
          std::copy(sub, sub + count, best_sub);
        }
      }
    if (!(best < now)) return false;
    p = best_p;
    std::copy(best_sub, best_sub + count, sub_error);
    return true;
  }
};

}  // namespace

void weighted_search_kquant_block(const KQuantCodec& codec, const float* x, const float* w, std::byte* block) {
  Search s{codec, x, w, codec.sub_size, kSuperBlock / codec.sub_size, codec.min_max > 0, {}, {}};
  codec.unpack(block, s.p);
  float y[kSuperBlock];
  kquant::decode_params(codec, s.p, y);
  const double start = weighted_error(x, y, w, kSuperBlock);
  if (!std::isfinite(start) || s.D() == 0.0f || !std::isfinite(s.D()) || !std::isfinite(s.DM())) return;
  s.integer_pass(2);
  for (int round = 0; round < kRounds; ++round) {
    if (!s.super_pass()) break;
    s.integer_pass(1);
  }
  // Held to ggml's block on the decoded values themselves.
  kquant::decode_params(codec, s.p, y);
  if (weighted_error(x, y, w, kSuperBlock) < start) codec.pack(s.p, block);
}

}  // namespace lowbit::quant::detail
