#include "core/money.h"

namespace sinyal {

std::string FormatIdr(Idr amount) {
  bool negative = amount.rupiah < 0;
  uint64_t v = negative ? static_cast<uint64_t>(-(amount.rupiah + 1)) + 1
                        : static_cast<uint64_t>(amount.rupiah);
  std::string digits = std::to_string(v);
  std::string grouped;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count > 0 && count % 3 == 0) grouped.insert(grouped.begin(), '.');
    grouped.insert(grouped.begin(), *it);
    ++count;
  }
  return std::string(negative ? "-Rp " : "Rp ") + grouped;
}

}  // namespace sinyal
