#include "market/bar.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace sinyal::market {
namespace {

// Shortest text that reads back as the same double, so two close values never print alike.
std::string Num(double v) {
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? p : buf);
}

Status CheckPrice(double v, const char* field) {
  if (std::isnan(v)) return Status::InvalidArgument(std::string(field) + " is NaN", field);
  if (!std::isfinite(v)) return Status::InvalidArgument(std::string(field) + " is infinite", field);
  if (v <= 0) {
    return Status::InvalidArgument(std::string(field) + " " + Num(v) + " is not a positive price",
                                   field);
  }
  return Status::Ok();
}

}  // namespace

Result<Bar> Bar::Create(UnixNanos time, double open, double high, double low, double close,
                        double volume, int32_t spread, double real_volume) {
  SINYAL_RETURN_IF_ERROR(CheckPrice(open, "open"));
  SINYAL_RETURN_IF_ERROR(CheckPrice(high, "high"));
  SINYAL_RETURN_IF_ERROR(CheckPrice(low, "low"));
  SINYAL_RETURN_IF_ERROR(CheckPrice(close, "close"));
  if (high < low) {
    return Status::InvalidArgument("high " + Num(high) + " is below low " + Num(low), "high");
  }
  if (high < std::max(open, close)) {
    return Status::InvalidArgument("high " + Num(high) + " is below " +
                                       (open > close ? "open " + Num(open) : "close " + Num(close)),
                                   "high");
  }
  if (low > std::min(open, close)) {
    return Status::InvalidArgument("low " + Num(low) + " is above " +
                                       (open < close ? "open " + Num(open) : "close " + Num(close)),
                                   "low");
  }
  if (!std::isfinite(volume) || volume < 0) {
    return Status::InvalidArgument("volume " + Num(volume) + " must be finite and >= 0", "volume");
  }
  if (!std::isfinite(real_volume) || real_volume < 0) {
    return Status::InvalidArgument("real volume " + Num(real_volume) + " must be finite and >= 0",
                                   "real_volume");
  }
  if (spread < 0) {
    return Status::InvalidArgument("spread " + std::to_string(spread) + " must be >= 0", "spread");
  }
  Bar b;
  b.time_ = time;
  b.open_ = open;
  b.high_ = high;
  b.low_ = low;
  b.close_ = close;
  b.volume_ = volume;
  b.real_volume_ = real_volume;
  b.spread_ = spread;
  return b;
}

void BarBuilder::Start(UnixNanos time, double price, double volume) {
  b_ = Bar();
  b_.time_ = time;
  b_.open_ = b_.high_ = b_.low_ = b_.close_ = price;
  b_.volume_ = volume;
}

void BarBuilder::Add(double price, double volume) {
  if (price > b_.high_) b_.high_ = price;
  if (price < b_.low_) b_.low_ = price;
  b_.close_ = price;
  b_.volume_ += volume;
}

void BarBuilder::StartFrom(UnixNanos bucket, const Bar& finer) {
  b_ = finer;
  b_.time_ = bucket;
}

void BarBuilder::Merge(const Bar& finer) {
  if (finer.high_ > b_.high_) b_.high_ = finer.high_;
  if (finer.low_ < b_.low_) b_.low_ = finer.low_;
  b_.close_ = finer.close_;
  b_.volume_ += finer.volume_;
  b_.real_volume_ += finer.real_volume_;
  b_.spread_ = std::min(b_.spread_, finer.spread_);
}

Result<Bar> BarBuilder::Build() const {
  return Bar::Create(b_.time_, b_.open_, b_.high_, b_.low_, b_.close_, b_.volume_, b_.spread_,
                     b_.real_volume_);
}

}  // namespace sinyal::market
