// Reading the columns of a soci::row the same way on both backends: SQLite reports INTEGER and
// BIGINT columns as int or long long; PostgreSQL may return aggregates (COUNT, SUM) as numeric
// text or doubles. A NULL reads as 0 (numbers) or "" (text). The one place that knows this.
#pragma once

#include <cstdint>
#include <string>

#include "store/soci.h"

namespace sinyal::store {

inline int64_t RowInt64(const soci::row& row, size_t i) {
  if (row.get_indicator(i) == soci::i_null) return 0;
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_integer:
      return row.get<int>(i);
    case soci::dt_long_long:
      return row.get<long long>(i);
    case soci::dt_unsigned_long_long:
      return static_cast<int64_t>(row.get<unsigned long long>(i));
    case soci::dt_double:
      return static_cast<int64_t>(row.get<double>(i));
    default:
      return std::stoll(row.get<std::string>(i));
  }
}

inline double RowDouble(const soci::row& row, size_t i) {
  if (row.get_indicator(i) == soci::i_null) return 0;
  switch (row.get_properties(i).get_data_type()) {
    case soci::dt_integer:
      return row.get<int>(i);
    case soci::dt_long_long:
      return static_cast<double>(row.get<long long>(i));
    case soci::dt_unsigned_long_long:
      return static_cast<double>(row.get<unsigned long long>(i));
    case soci::dt_double:
      return row.get<double>(i);
    default:
      return std::stod(row.get<std::string>(i));
  }
}

inline std::string RowText(const soci::row& row, size_t i) {
  return row.get_indicator(i) == soci::i_null ? std::string() : row.get<std::string>(i);
}

}  // namespace sinyal::store
