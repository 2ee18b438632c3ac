// Internal to billing/: the short names billing's SQL code reads columns with; the rule itself
// (both backends' integer, double and text columns) is store/soci_row.h.
#pragma once

#include <cstdint>
#include <string>

#include "store/soci_row.h"

namespace sinyal::billing::internal {

inline int64_t I64(const soci::row& row, size_t i) { return store::RowInt64(row, i); }
inline double F64(const soci::row& row, size_t i) { return store::RowDouble(row, i); }
inline std::string Str(const soci::row& row, size_t i) { return store::RowText(row, i); }

}  // namespace sinyal::billing::internal
