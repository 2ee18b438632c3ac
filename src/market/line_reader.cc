#include "market/line_reader.h"

#include <cstring>

namespace sinyal::market {
namespace {
constexpr size_t kChunk = 64 * 1024;
}

LineReader::LineReader(std::istream& in, size_t max_line_bytes)
    : in_(in), max_line_(max_line_bytes < 1 ? 1 : max_line_bytes) {
  buf_.resize(max_line_ + kChunk + 2);
}

bool LineReader::Fill() {
  if (eof_) return false;
  // Compact: move the unread tail to the front.
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t room = buf_.size() - end_;
  if (room == 0) return false;
  in_.read(buf_.data() + end_, static_cast<std::streamsize>(room));
  std::streamsize got = in_.gcount();
  if (got <= 0) {
    eof_ = true;
    if (in_.bad()) status_ = Status::DataLoss("read error on input stream");
    return false;
  }
  end_ += static_cast<size_t>(got);
  if (in_.eof()) eof_ = true;
  return true;
}

bool LineReader::Next(std::string_view* line) {
  if (!status_.ok()) return false;
  size_t scan_from = begin_;
  for (;;) {
    const char* start = buf_.data() + scan_from;
    const void* nl = std::memchr(start, '\n', end_ - scan_from);
    if (nl != nullptr) {
      size_t pos = static_cast<const char*>(nl) - buf_.data();
      size_t len = pos - begin_;
      if (len > 0 && buf_[pos - 1] == '\r') --len;
      if (len > max_line_) break;
      *line = std::string_view(buf_.data() + begin_, len);
      bytes_consumed_ += static_cast<int64_t>(pos + 1 - begin_);
      begin_ = pos + 1;
      ++line_no_;
      return true;
    }
    if (end_ - begin_ > max_line_ + 1) break;  // +1 for a possible '\r'
    size_t scanned = end_ - begin_;
    if (!Fill()) {
      if (!status_.ok()) return false;
      if (end_ == begin_) return false;  // clean end of input
      size_t len = end_ - begin_;
      if (buf_[end_ - 1] == '\r') --len;
      if (len > max_line_) break;
      *line = std::string_view(buf_.data() + begin_, len);
      bytes_consumed_ += static_cast<int64_t>(end_ - begin_);
      begin_ = end_;
      ++line_no_;
      return true;
    }
    scan_from = begin_ + scanned;
  }
  status_ = Status::InvalidArgument("line " + std::to_string(line_no_ + 1) + " is longer than " +
                                        std::to_string(max_line_) +
                                        " bytes (max_line_bytes); is this a CSV file?",
                                    "line " + std::to_string(line_no_ + 1));
  return false;
}

}  // namespace sinyal::market
