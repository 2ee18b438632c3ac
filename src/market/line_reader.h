// LineReader: reads a stream line by line with a hard per-line byte limit, never holding more
// than one buffer (64 KiB + the limit) in memory. A line longer than the limit is an error
// found after reading at most limit+64 KiB bytes of it, so a 2 GB line fails in microseconds.
// Strips a trailing "\r" (CRLF files). Internal to market/ (importers and replay sources).
//
// Thread safety: none; one reader per stream.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sinyal::market {

class LineReader {
 public:
  // REQUIRES: max_line_bytes >= 1. `in` must outlive the reader.
  LineReader(std::istream& in, size_t max_line_bytes);

  // Reads the next line into *line (valid until the next call) and returns true; returns false
  // at end of input. On a line over the limit or a stream failure returns false and sets
  // status() to the error (InvalidArgument "line N is longer than L bytes", or DataLoss).
  bool Next(std::string_view* line);
  // 1-based number of the line last returned by Next().
  int64_t line_number() const { return line_no_; }
  const Status& status() const { return status_; }
  // Bytes consumed so far (including line terminators).
  int64_t bytes_read() const { return bytes_consumed_; }

 private:
  bool Fill();
  std::istream& in_;
  size_t max_line_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_no_ = 0;
  int64_t bytes_consumed_ = 0;
  Status status_;
};

}  // namespace sinyal::market
