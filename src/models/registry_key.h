// The rules both model registries (FileModelRegistry, DbModelRegistry) and the retraining audit
// log share, kept once: which names a key may use, the files a stored version holds and its
// content hash (so a model's hash does not depend on where it is stored).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "models/ensemble.h"

namespace sinyal::models {

// A symbol or timeframe usable in a key (and as a directory name): 1-32 of [A-Za-z0-9_.-], not
// "." or "..".
[[nodiscard]] bool SafeKeyName(const std::string& s);

// OK, or InvalidArgument naming the field ("tenant", "symbol" or "timeframe"). The string form
// checks a stored record's fields (ModelRecord, audit rows); the typed form a key from a caller.
[[nodiscard]] Status CheckRegistryKey(TenantId tenant, const std::string& symbol,
                                      const std::string& timeframe);
[[nodiscard]] Status CheckRegistryKey(TenantId tenant, const market::SeriesKey& series);

// The text a key's timeframe is stored under (directory names, rows, ModelRecord::timeframe) and
// named by in messages: its canonical name, "H1". Every stored model and row holds this form.
[[nodiscard]] std::string KeyTimeframe(market::Timeframe timeframe);
// "EURUSD H1": how messages name a key.
[[nodiscard]] std::string KeyText(const market::SeriesKey& series);

// The files of a stored version, in hashing order: member_<i>.ubj..., members.json,
// calibration.json, schema.json.
[[nodiscard]] std::vector<std::string> BundleFileNames(size_t members);

// The files of a stored version as (name, bytes), in that order: the members' UBJ, their
// parameters, the calibrator and the schema.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> BundleFiles(
    const Ensemble& ensemble);

// The ensemble back from its stored files (as BundleFiles wrote them, hashes already checked).
// DataLoss naming `version` when the metadata is unreadable or the members do not load.
[[nodiscard]] Result<Ensemble> EnsembleFromBundle(
    const std::vector<std::pair<std::string, std::string>>& files, int64_t version);

// SHA-256 (hex) over each file's name, NUL, length (8 bytes, little-endian) and bytes, in order.
[[nodiscard]] std::string BundleHash(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace sinyal::models
