#include "signals/tools/report_model.h"

#include <cstdio>

namespace sinyal::signals {
int RunModelSections(const ReportModelOptions& o, const std::string& section) {
  std::fprintf(stderr, "model sections not yet written\n");
  return 0;
}
}  // namespace sinyal::signals
