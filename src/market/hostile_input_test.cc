// The hostile-input table of issue 3: each bad input with the exact error it gets.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <streambuf>

#include "core/testing/test_util.h"
#include "market/csv_import.h"

namespace sinyal::market {
namespace {

constexpr const char* kHeader = "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\n";
constexpr const char* kRow1 = "2020.01.02,00:00:00,1.12118,1.12165,1.12073,1.12142,426,0,3\n";
constexpr const char* kRow2 = "2020.01.02,01:00:00,1.12142,1.12217,1.12142,1.12189,523,0,1\n";

struct HostileCase {
  const char* name;
  std::string input;
  const char* error;  // exact message; nullptr = must import
};

std::vector<HostileCase> Cases() {
  std::string h = kHeader, r1 = kRow1, r2 = kRow2;
  return {
      {"empty file", "", "empty file: no header and no rows"},
      {"only blank lines", "\n\r\n  \n", "empty file: no header and no rows"},
      {"header only", h, "header only: no data rows after line 1"},
      {"wrong columns", "DATE,TIME,OPEN,HI,LO,CLOSE,TICKVOL\n2020.01.02,00:00,1,1,1,1,1\n",
       "line 1: missing column 'high' (header: DATE, TIME, OPEN, HI, LO, CLOSE, TICKVOL)"},
      {"no time column", "OPEN,HIGH,LOW,CLOSE\n1,1,1,1\n",
       "line 1: missing column 'time' (or 'date' and 'time', or 'datetime') (header: OPEN, HIGH, "
       "LOW, CLOSE)"},
      {"duplicate column", "DATE,TIME,OPEN,HIGH,LOW,CLOSE,close\n",
       "line 1: duplicate column 'close' in the header"},
      {"missing field", h + "2020.01.02,00:00:00,1.1,1.2,1.0,1.1,1,0\n",
       "line 2: expected 9 fields as on the first line, found 8"},
      {"text in a number", h + "2020.01.02,00:00:00,1.1,abc,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': 'abc' is not a number"},
      {"number with trailing text", h + "2020.01.02,00:00:00,1.1,1.2x,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': '1.2x' is not a number"},
      {"decimal comma", h + "2020.01.02,00:00:00,1.1,1.2,1.0,\"1,1\",1,0,0\n",
       "line 2, column 'CLOSE': '1,1' is not a number"},
      {"text after a quoted number", h + "2020.01.02,00:00:00,1.1,\"1.2\"x,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': '\"1.2\"x' is not a number"},
      {"quoted number (accepted)",
       h + "2020.01.02,00:00:00,\"1.12118\",1.12165,1.12073,\"1.12142\",426,0,3\n", nullptr},
      {"empty price", h + "2020.01.02,00:00:00,1.1,,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': empty value"},
      {"NaN", h + "2020.01.02,00:00:00,1.1,1.2,1.0,NaN,1,0,0\n",
       "line 2, column 'CLOSE': NaN is not allowed"},
      {"infinity", h + "2020.01.02,00:00:00,1.1,inf,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': infinite value 'inf' is not allowed"},
      {"overflow", h + "2020.01.02,00:00:00,1.1,1e999,1.0,1.1,1,0,0\n",
       "line 2, column 'HIGH': '1e999' is out of range"},
      {"high < low", h + "2020.01.02,00:00:00,1.1,1.0,1.2,1.1,1,0,0\n",
       "line 2, column 'HIGH': high 1 is below low 1.2"},
      {"close above high", h + "2020.01.02,00:00:00,1.1,1.2,1.0,1.3,1,0,0\n",
       "line 2, column 'HIGH': high 1.2 is below close 1.3"},
      {"zero price", h + "2020.01.02,00:00:00,1.1,1.2,0,1.1,1,0,0\n",
       "line 2, column 'LOW': low 0 is not a positive price"},
      {"negative volume", h + "2020.01.02,00:00:00,1.1,1.2,1.0,1.1,-3,0,0\n",
       "line 2, column 'TICKVOL': volume -3 must be finite and >= 0"},
      {"fractional spread", h + "2020.01.02,00:00:00,1.1,1.2,1.0,1.1,1,0,1.5\n",
       "line 2, column 'SPREAD': spread must be a whole number of points >= 0"},
      {"bad date", h + "2020.13.02,00:00:00,1.1,1.2,1.0,1.1,1,0,0\n",
       "line 2, column 'DATE': invalid date/time '2020.13.02 00:00:00': date or time out of range"},
      {"bad time", h + "2020.01.02,0000,1.1,1.2,1.0,1.1,1,0,0\n",
       "line 2, column 'DATE': invalid date/time '2020.01.02 0000': expected HH:MM"},
      {"duplicated timestamps", h + r1 + r1,
       "line 3, column 'DATE': duplicate timestamp 2020-01-02T00:00:00Z (same as line 2)"},
      {"unsorted rows", h + r2 + r1,
       "line 3, column 'DATE': rows out of time order: 2020-01-02T00:00:00Z is before "
       "2020-01-02T01:00:00Z on line 2"},
      {"mixed separators in a row", h + r1 + "2020.01.02\t01:00:00\t1.1\t1.2\t1.0\t1.1\t1\t0\t0\n",
       "line 3: mixed separators: tab in a file separated by ','"},
      {"mixed separators in the header", "DATE,TIME;OPEN,HIGH,LOW,CLOSE,TICKVOL\n" + r1,
       "line 1: mixed separators: ',' and ';' on one line"},
      {"no separator", "hello world\n",
       "line 1: no column separator (',', tab or ';') found in 'hello world'"},
      {"binary garbage",
       std::string("\x7f"
                   "ELF\x02\x01\x01\0\0\0",
                   10) +
           "\n",
       "line 1: no column separator (',', tab or ';') found in "
       "'\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00'"},
      {"UTF-8 BOM (accepted)", "\xEF\xBB\xBF" + h + r1, nullptr},
      {"CRLF line ends (accepted)",
       "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\r\n" + r1.substr(0, r1.size() - 1) +
           "\r\n",
       nullptr},
      {"no final newline (accepted)", h + r1.substr(0, r1.size() - 1), nullptr},
      {"blank lines between rows (accepted)", h + r1 + "\n\n" + r2, nullptr},
  };
}

// Markdown cell: printable, '|' escaped, long input shortened.
std::string Cell(const std::string& s, size_t max = 70) {
  std::string out;
  for (char ch : s.substr(0, max)) {
    if (ch == '\n')
      out += "\\n";
    else if (ch == '\r')
      out += "\\r";
    else if (ch == '\t')
      out += "\\t";
    else if (ch == '|')
      out += "\\|";
    else if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(ch));
      out += buf;
    } else
      out.push_back(ch);
  }
  if (s.size() > max) out += "...";
  return out;
}

TEST(HostileInputTest, EachBadInputHasItsExactError) {
  // Set SINYAL_HOSTILE_TABLE_OUT=<file> to write this table as Markdown (docs/market-data.md).
  std::string table = "| input | tested result (exact) |\n|---|---|\n";
  for (const HostileCase& c : Cases()) {
    table += "| " + std::string(c.name) + " | " +
             (c.error ? "`" + Cell(c.error, 200) + "`" : std::string("accepted")) + " |\n";
  }
  table +=
      "| a 2 GB line (generated stream, not on disk) | `line 2 is longer than 4096 bytes "
      "(max_line_bytes); is this a CSV file?` after reading < 1 MiB, < 1 s |\n";
  if (const char* out = std::getenv("SINYAL_HOSTILE_TABLE_OUT")) std::ofstream(out) << table;
  for (const HostileCase& c : Cases()) {
    std::istringstream in(c.input);
    auto r = ImportBarsCsv(in, CsvImportOptions{});
    if (c.error == nullptr) {
      ASSERT_OK(r);
      EXPECT_GE(r->bars.size(), 1u) << c.name;
      EXPECT_EQ(r->bars[0].close(), 1.12142) << c.name;
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.name << " was accepted";
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(r.error().message(), c.error) << c.name;
    EXPECT_EQ(r.error().field().rfind("line ", 0), 0u) << c.name << ": field " << r.error().field();
  }
}

// Serves a header, then a single line of `line_bytes` 'x' characters, then "\n", without
// storing it: the 2 GB line is generated on the fly.
class HugeLineBuf : public std::streambuf {
 public:
  explicit HugeLineBuf(int64_t line_bytes) : remaining_(line_bytes) {
    std::memset(chunk_, 'x', sizeof chunk_);
    header_ = kHeader;
    setg(header_.data(), header_.data(), header_.data() + header_.size());
  }
  int64_t served() const { return served_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (remaining_ > 0) {
      int64_t n = std::min<int64_t>(remaining_, sizeof chunk_);
      remaining_ -= n;
      served_ += n;
      setg(chunk_, chunk_, chunk_ + n);
      return traits_type::to_int_type(*gptr());
    }
    if (!newline_done_) {
      newline_done_ = true;
      nl_ = '\n';
      setg(&nl_, &nl_, &nl_ + 1);
      return traits_type::to_int_type(nl_);
    }
    return traits_type::eof();
  }

 private:
  std::string header_;
  char chunk_[1 << 16];
  char nl_ = '\n';
  int64_t remaining_;
  int64_t served_ = 0;
  bool newline_done_ = false;
};

TEST(HostileInputTest, TwoGigabyteLineFailsFastWithoutReadingIt) {
  HugeLineBuf buf(int64_t{2} << 30);
  std::istream in(&buf);
  auto start = std::chrono::steady_clock::now();
  auto r = ImportBarsCsv(in, CsvImportOptions{});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "line 2 is longer than 4096 bytes (max_line_bytes); is this a CSV file?");
  EXPECT_EQ(r.error().field(), "line 2");
  EXPECT_LT(buf.served(), 1 << 20) << "read far more of the line than the limit";
  EXPECT_LT(secs, 1.0);
}

TEST(HostileInputTest, LongLineLimitIsConfigurable) {
  std::string h = kHeader;
  std::string row = "2020.01.02,00:00:00,1.1,1.2,1.0,1.1,1,0," + std::string(100, '0') + "\n";
  CsvImportOptions opt;
  opt.max_line_bytes = 64;
  std::istringstream in(h + row);
  auto r = ImportBarsCsv(in, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "line 2 is longer than 64 bytes (max_line_bytes); is this a CSV file?");
  opt.max_line_bytes = 4096;
  std::istringstream in2(h + row);
  EXPECT_OK(ImportBarsCsv(in2, opt));
}

TEST(HostileInputTest, SkipModeStillFailsOnFileLevelProblems) {
  CsvImportOptions opt;
  opt.on_bad_row = BadRowPolicy::kSkipRow;
  std::istringstream in{std::string(kHeader)};
  auto r = ImportBarsCsv(in, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "header only: no data rows after line 1");
  std::istringstream in2(std::string(kHeader) + "2020.01.02,00:00:00,1.1,x,1.0,1.1,1,0,0\n");
  auto r2 = ImportBarsCsv(in2, opt);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message(),
            "no valid rows: all 1 data rows were rejected; first: line 2, column 'HIGH': 'x' is "
            "not a number");
}

}  // namespace
}  // namespace sinyal::market

namespace sinyal::market {
namespace {

// Seeded mutations of a valid file: every outcome is either bars that satisfy the invariants or
// an InvalidArgument naming a line; never a crash, never a bar out of order.
TEST(HostileInputTest, RandomMutationsNeverCrashOrLeakBadBars) {
  std::string base = kHeader;
  for (int h = 0; h < 40; ++h) {
    char row[128];
    std::snprintf(row, sizeof row,
                  "2020.01.%02d,%02d:00:00,1.1%03d,1.12%03d,1.09%03d,1.11%03d,%d,0,%d\n",
                  2 + h / 24, h % 24, h, h, h, h, 100 + h, h % 5);
    base += row;
  }
  std::mt19937_64 rng(12345);
  const std::string alphabet = "0123456789.,;:\t\r\n -+eEnaNiIfF\"<>xZT/\xEF\xBB\xBF\x00";
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 8);
          break;
        case 2:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 3:
          s.insert(pos, s.substr(rng() % s.size(), rng() % 40));
          break;
      }
    }
    CsvImportOptions opt;
    opt.on_bad_row = iter % 2 ? BadRowPolicy::kSkipRow : BadRowPolicy::kRejectFile;
    std::istringstream in(s);
    auto r = ImportBarsCsv(in, opt);
    if (!r.ok()) {
      ++rejected;
      ASSERT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().ToString();
      ASSERT_EQ(r.error().field().rfind("line ", 0), 0u) << r.error().ToString();
      continue;
    }
    ++ok;
    for (size_t i = 0; i < r->bars.size(); ++i) {
      const Bar& b = r->bars[i];
      ASSERT_TRUE(b.high() >= b.low() && b.low() > 0 && std::isfinite(b.high()));
      if (i > 0) ASSERT_GT(b.time(), r->bars[i - 1].time());
    }
    ASSERT_EQ(r->report.bars + r->report.skipped_rows, r->report.data_rows);
  }
  EXPECT_GT(ok, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace sinyal::market
