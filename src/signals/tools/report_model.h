// The model-based sections of sinyal_signals_report (conformal coverage, the worked signal).
#pragma once
#include <string>

namespace sinyal::signals {
struct ReportModelOptions {
  std::string data_dir;
  std::string symbol = "EURUSD";
  int horizon = 1;
  int trees = 150;
};
// section: "conformal", "signal" or "all". Returns a process exit code.
int RunModelSections(const ReportModelOptions& o, const std::string& section);
}  // namespace sinyal::signals
