// Evaluation report of a walk-forward run: JSON (machine-readable, served by the API),
// Markdown (human-readable) and two SVG images written by hand: the reliability diagram
// (predicted vs observed frequency per bin, calibrated and uncalibrated, point area ~ count)
// and the coverage/accuracy curve (accuracy with 95% interval and coverage when abstaining
// below each confidence threshold, next to the majority-class baseline).
//
// Thread safety: pure functions; WriteEvaluationReport writes only under `dir`.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"
#include "models/walk_forward.h"

namespace sinyal::models {

struct EvaluationReport {
  std::string json;      // ToJson(result), pretty-printed
  std::string markdown;  // references the SVGs by their file names below
  std::string reliability_svg;
  std::string coverage_svg;
  std::string reliability_svg_name;  // "<basename>_reliability.svg"
  std::string coverage_svg_name;     // "<basename>_coverage.svg"
};

// Renders the report. `command` (may be empty) is printed as the reproducing command.
EvaluationReport RenderEvaluationReport(const WalkForwardResult& result,
                                        const std::string& basename, const std::string& command);

// Writes <basename>.json, <basename>.md and the two SVGs into `dir` (created if missing).
[[nodiscard]] Status WriteEvaluationReport(const EvaluationReport& report,
                                           const std::filesystem::path& dir,
                                           const std::string& basename);

std::string ReliabilitySvg(const ClassificationMetrics& calibrated,
                           const ClassificationMetrics& uncalibrated, const std::string& title);
std::string CoverageSvg(const ClassificationMetrics& model, double baseline_accuracy,
                        const std::string& title);

}  // namespace sinyal::models
