#include "market/instrument.h"

#include <cmath>
#include <functional>

namespace sinyal::market {

Status ValidateSymbol(std::string_view symbol) {
  if (symbol.size() < 3 || symbol.size() > 12) {
    return Status::InvalidArgument("symbol must be 3 to 12 characters of A-Z and 0-9, got " +
                                       std::to_string(symbol.size()) + " characters",
                                   "symbol");
  }
  for (size_t i = 0; i < symbol.size(); ++i) {
    char c = symbol[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) {
      return Status::InvalidArgument("symbol may contain only A-Z and 0-9; character " +
                                         std::to_string(i + 1) + " is not allowed",
                                     "symbol");
    }
  }
  return Status::Ok();
}

Result<std::string> NormalizeSymbol(std::string_view text) {
  std::string s(text.substr(0, 64));
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  SINYAL_RETURN_IF_ERROR(ValidateSymbol(s));
  return s;
}

Instrument::Instrument(std::string symbol, int digits)
    : symbol_(std::move(symbol)), digits_(digits), point_(std::pow(10.0, -digits)) {}

Result<Instrument> Instrument::Create(std::string_view symbol, int digits) {
  SINYAL_RETURN_IF_ERROR(ValidateSymbol(symbol));
  if (digits < 0 || digits > 10) {
    return Status::InvalidArgument("digits must be within 0..10, got " + std::to_string(digits),
                                   "digits");
  }
  return Instrument(std::string(symbol), digits);
}

int64_t Instrument::ToPoints(double price) const {
  return static_cast<int64_t>(std::llround(price * std::pow(10.0, digits_)));
}

double Instrument::FromPoints(int64_t points) const {
  // One correctly rounded division: equals strtod of the decimal text of the quote.
  return static_cast<double>(points) / std::pow(10.0, digits_);
}

std::string SeriesKey::ToString() const {
  return symbol + ":" + std::string(TimeframeName(timeframe));
}

size_t SeriesKeyHash::operator()(const SeriesKey& k) const {
  return std::hash<std::string>()(k.symbol) * 31 + static_cast<size_t>(k.timeframe);
}

}  // namespace sinyal::market
