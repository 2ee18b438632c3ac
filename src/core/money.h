// Money in Indonesian rupiah: whole rupiah as int64 (IDR has no minor unit in practice;
// Midtrans takes integer gross_amount). Never a double.
#pragma once

#include <cstdint>
#include <string>

namespace sinyal {

struct Idr {
  int64_t rupiah = 0;
  friend constexpr auto operator<=>(Idr, Idr) = default;
  friend constexpr Idr operator+(Idr a, Idr b) { return {a.rupiah + b.rupiah}; }
  friend constexpr Idr operator-(Idr a, Idr b) { return {a.rupiah - b.rupiah}; }
  friend constexpr Idr operator*(Idr a, int64_t n) { return {a.rupiah * n}; }
};

// "Rp 1.250.000" (Indonesian grouping).
std::string FormatIdr(Idr amount);

}  // namespace sinyal
