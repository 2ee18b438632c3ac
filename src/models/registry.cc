#include "models/registry.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "models/registry_key.h"
#include "models/xgb.h"

namespace sinyal::models {

namespace fs = std::filesystem;

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

nlohmann::json ModelRecord::ToJson() const {
  return {{"tenant", tenant.value()},
          {"symbol", symbol},
          {"timeframe", timeframe},
          {"version", version},
          {"data_from_ns", data_from},
          {"data_to_ns", data_to},
          {"schema", schema.ToJson()},
          {"params", params},
          {"metrics", metrics},
          {"code_version", code_version},
          {"xgboost_version", xgboost_version},
          {"content_hash", content_hash},
          {"file_hashes", file_hashes},
          {"created_at_ns", created_at}};
}

Result<ModelRecord> ModelRecord::FromJson(const nlohmann::json& j) {
  ModelRecord r;
  try {
    r.tenant = TenantId(j.at("tenant").get<int64_t>());
    r.symbol = j.at("symbol").get<std::string>();
    r.timeframe = j.at("timeframe").get<std::string>();
    r.version = j.at("version").get<int64_t>();
    r.data_from = j.at("data_from_ns").get<int64_t>();
    r.data_to = j.at("data_to_ns").get<int64_t>();
    SINYAL_ASSIGN_OR_RETURN(r.schema, ModelSchema::FromJson(j.at("schema")));
    r.params = j.at("params");
    r.metrics = j.at("metrics");
    r.code_version = j.at("code_version").get<std::string>();
    r.xgboost_version = j.at("xgboost_version").get<std::string>();
    r.content_hash = j.at("content_hash").get<std::string>();
    r.file_hashes = j.at("file_hashes").get<std::vector<std::string>>();
    r.created_at = j.at("created_at_ns").get<int64_t>();
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("model record is unreadable: ") + e.what());
  }
  return r;
}

namespace {
std::string HorizonText(const market::SeriesKey& series, int horizon) {
  return KeyText(series) + " at horizon " + std::to_string(horizon);
}
}  // namespace

Result<Ensemble> ResolveActive(ModelRegistry& registry, TenantId tenant,
                               const market::SeriesKey& series, int horizon, bool* from_platform) {
  auto v = registry.ActiveVersion(tenant, series, horizon);
  if (v.ok()) {
    if (from_platform) *from_platform = false;
    return registry.Load(tenant, series, *v);
  }
  if (!v.error().IsNotFound()) return v.error();
  auto pv = registry.ActiveVersion(kPlatformTenant, series, horizon);
  if (!pv.ok()) {
    if (pv.error().IsNotFound()) {
      return Status::NotFound("no active model for " + HorizonText(series, horizon), "symbol");
    }
    return pv.error();
  }
  if (from_platform) *from_platform = true;
  return registry.Load(kPlatformTenant, series, *pv);
}

Result<std::vector<int>> ServedHorizons(ModelRegistry& registry, TenantId tenant,
                                        const market::SeriesKey& series) {
  SINYAL_ASSIGN_OR_RETURN(std::vector<int> out, registry.ActiveHorizons(tenant, series));
  if (tenant != kPlatformTenant) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<int> platform,
                            registry.ActiveHorizons(kPlatformTenant, series));
    out.insert(out.end(), platform.begin(), platform.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

bool SafeKeyName(const std::string& s) {
  return !s.empty() && s.size() <= 32 &&
         std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                     }) &&
         s != "." && s != "..";
}

Status CheckRegistryKey(TenantId tenant, const std::string& symbol, const std::string& timeframe) {
  if (tenant.value() < 0) return Status::InvalidArgument("bad tenant id", "tenant");
  if (!SafeKeyName(symbol)) {
    return Status::InvalidArgument("bad symbol '" + symbol.substr(0, 40) + "'", "symbol");
  }
  if (!SafeKeyName(timeframe)) {
    return Status::InvalidArgument("bad timeframe '" + timeframe.substr(0, 40) + "'", "timeframe");
  }
  return Status::Ok();
}

Status CheckRegistryKey(TenantId tenant, const market::SeriesKey& series) {
  return CheckRegistryKey(tenant, series.symbol, KeyTimeframe(series.timeframe));
}

std::string KeyTimeframe(market::Timeframe timeframe) {
  return std::string(market::TimeframeName(timeframe));
}

std::string KeyText(const market::SeriesKey& series) {
  return series.symbol + " " + KeyTimeframe(series.timeframe);
}

std::vector<std::string> BundleFileNames(size_t members) {
  std::vector<std::string> names;
  for (size_t i = 0; i < members; ++i) names.push_back("member_" + std::to_string(i) + ".ubj");
  names.push_back("members.json");
  names.push_back("calibration.json");
  names.push_back("schema.json");
  return names;
}

std::vector<std::pair<std::string, std::string>> BundleFiles(const Ensemble& ensemble) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& p : ensemble.member_params()) members.push_back(ToJson(p));
  std::vector<std::pair<std::string, std::string>> files;
  const auto names = BundleFileNames(ensemble.num_members());
  for (size_t i = 0; i < ensemble.num_members(); ++i) {
    files.emplace_back(names[i], ensemble.member_ubj()[i]);
  }
  files.emplace_back("members.json", members.dump());
  files.emplace_back("calibration.json", ensemble.calibrator().ToJson().dump());
  files.emplace_back("schema.json", ensemble.schema().ToJson().dump());
  return files;
}

Result<Ensemble> EnsembleFromBundle(const std::vector<std::pair<std::string, std::string>>& files,
                                    int64_t version) {
  const std::string v = std::to_string(version);
  if (files.size() < 4) return Status::DataLoss("model version " + v + " lists no members");
  const size_t nm = files.size() - 3;
  std::vector<std::string> ubj;
  for (size_t i = 0; i < nm; ++i) ubj.push_back(files[i].second);
  auto mj = nlohmann::json::parse(files[nm].second, nullptr, false);
  auto cj = nlohmann::json::parse(files[nm + 1].second, nullptr, false);
  auto sj = nlohmann::json::parse(files[nm + 2].second, nullptr, false);
  if (mj.is_discarded() || cj.is_discarded() || sj.is_discarded() || !mj.is_array()) {
    return Status::DataLoss("model metadata of version " + v + " is unreadable");
  }
  std::vector<MemberParams> params;
  for (const auto& m : mj) {
    auto p = MemberParamsFromJson(m);
    if (!p.ok()) return Status::DataLoss("model version " + v + ": " + p.error().message());
    params.push_back(std::move(p).value());
  }
  auto schema = ModelSchema::FromJson(sj);
  if (!schema.ok()) return Status::DataLoss("model version " + v + ": " + schema.error().message());
  auto ens = Ensemble::FromParts(std::move(schema).value(), std::move(params), ubj, cj);
  if (!ens.ok()) {
    return Status::DataLoss("model version " + v + " does not load: " + ens.error().message());
  }
  return ens;
}

std::string BundleHash(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string buf;
  for (const auto& [name, bytes] : files) {
    buf += name;
    buf.push_back('\0');
    const uint64_t len = bytes.size();
    for (int i = 0; i < 8; ++i) buf.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    buf += bytes;
  }
  return Sha256Hex(buf);
}

namespace {

Result<std::string> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + p.filename().string(), p.filename().string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

Status WriteFileAtomic(const fs::path& p, std::string_view bytes) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Unavailable("cannot write " + tmp.string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Status::Unavailable("short write to " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) return Status::Unavailable("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FileModelRegistry>> FileModelRegistry::Open(fs::path root,
                                                                   const Clock& clock) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) {
    return Status::InvalidArgument("model registry root is not a directory: " + root.string(),
                                   "models.root");
  }
  return std::unique_ptr<FileModelRegistry>(new FileModelRegistry(std::move(root), clock));
}

Result<fs::path> FileModelRegistry::KeyDir(TenantId tenant, const std::string& symbol,
                                           const std::string& timeframe) const {
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, symbol, timeframe));
  return root_ / ("t" + std::to_string(tenant.value())) / symbol / timeframe;
}

Result<fs::path> FileModelRegistry::KeyDir(TenantId tenant, const market::SeriesKey& series) const {
  return KeyDir(tenant, series.symbol, KeyTimeframe(series.timeframe));
}

fs::path FileModelRegistry::TEST_VersionDir(TenantId tenant, const market::SeriesKey& series,
                                            int64_t version) const {
  return KeyDir(tenant, series).value() / ("v" + std::to_string(version));
}

Result<ModelRecord> FileModelRegistry::Register(TenantId tenant, const Ensemble& ensemble,
                                                ModelRecord meta) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, meta.symbol, meta.timeframe));
  std::error_code ec;
  fs::create_directories(kdir, ec);
  if (ec) return Status::Unavailable("cannot create " + kdir.string() + ": " + ec.message());
  // Allocate the next version by atomic directory creation.
  int64_t next = 1;
  for (const auto& e : fs::directory_iterator(kdir)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 1 && n[0] == 'v') next = std::max<int64_t>(next, std::atoll(n.c_str() + 1) + 1);
  }
  fs::path vdir;
  for (;; ++next) {
    vdir = kdir / ("v" + std::to_string(next));
    if (fs::create_directory(vdir, ec)) break;
    if (ec) return Status::Unavailable("cannot create " + vdir.string() + ": " + ec.message());
  }
  const std::vector<std::pair<std::string, std::string>> files = BundleFiles(ensemble);

  ModelRecord r = std::move(meta);
  r.tenant = tenant;
  r.version = next;
  r.schema = ensemble.schema();
  r.xgboost_version = xgb::Version();
  r.created_at = clock_.Now();
  r.file_hashes.clear();
  for (const auto& [name, bytes] : files) {
    r.file_hashes.push_back(Sha256Hex(bytes));
    SINYAL_RETURN_IF_ERROR(WriteFileAtomic(vdir / name, bytes));
  }
  r.content_hash = BundleHash(files);
  // record.json last: a version without it is incomplete and invisible to List.
  SINYAL_RETURN_IF_ERROR(WriteFileAtomic(vdir / "record.json", r.ToJson().dump(2)));
  return r;
}

Result<ModelRecord> FileModelRegistry::ReadRecordLocked(const fs::path& vdir) {
  auto text = ReadFile(vdir / "record.json");
  if (!text.ok()) return text.error();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::DataLoss("record.json is corrupted in " + vdir.string());
  return ModelRecord::FromJson(j);
}

Result<std::vector<ModelRecord>> FileModelRegistry::List(TenantId tenant,
                                                         const market::SeriesKey& series) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  std::vector<ModelRecord> out;
  std::error_code ec;
  if (!fs::is_directory(kdir, ec)) return out;
  for (const auto& e : fs::directory_iterator(kdir)) {
    if (!e.is_directory() || !fs::exists(e.path() / "record.json")) continue;
    auto r = ReadRecordLocked(e.path());
    if (r.ok()) out.push_back(std::move(r).value());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  return out;
}

Result<ModelRecord> FileModelRegistry::GetRecord(TenantId tenant, const market::SeriesKey& series,
                                                 int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  const fs::path vdir = kdir / ("v" + std::to_string(version));
  if (version < 1 || !fs::exists(vdir / "record.json")) {
    return Status::NotFound(
        "no model version " + std::to_string(version) + " for " + KeyText(series), "version");
  }
  return ReadRecordLocked(vdir);
}

Result<Ensemble> FileModelRegistry::LoadLocked(TenantId tenant, const market::SeriesKey& series,
                                               int64_t version) {
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  const fs::path vdir = kdir / ("v" + std::to_string(version));
  if (version < 1 || !fs::exists(vdir / "record.json")) {
    return Status::NotFound(
        "no model version " + std::to_string(version) + " for " + KeyText(series), "version");
  }
  SINYAL_ASSIGN_OR_RETURN(ModelRecord rec, ReadRecordLocked(vdir));
  if (rec.tenant != tenant) return Status::DataLoss("record tenant does not match its directory");
  const auto names = BundleFileNames(rec.file_hashes.size() >= 3 ? rec.file_hashes.size() - 3 : 0);
  if (names.size() != rec.file_hashes.size() || names.size() < 4) {
    return Status::DataLoss("model record lists no members");
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < names.size(); ++i) {
    auto bytes = ReadFile(vdir / names[i]);
    if (!bytes.ok()) {
      return Status::DataLoss("model file " + names[i] + " of version " + std::to_string(version) +
                              " is missing");
    }
    const std::string h = Sha256Hex(*bytes);
    if (h != rec.file_hashes[i]) {
      return Status::DataLoss("model file " + names[i] + " of version " + std::to_string(version) +
                              " is corrupted: sha256 " + h.substr(0, 12) + "... != recorded " +
                              rec.file_hashes[i].substr(0, 12) + "...");
    }
    files.emplace_back(names[i], std::move(bytes).value());
  }
  if (BundleHash(files) != rec.content_hash) {
    return Status::DataLoss("content hash mismatch for version " + std::to_string(version));
  }
  return EnsembleFromBundle(files, version);
}

Result<Ensemble> FileModelRegistry::Load(TenantId tenant, const market::SeriesKey& series,
                                         int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadLocked(tenant, series, version);
}

namespace {
std::string ActiveFile(int horizon) { return "active_h" + std::to_string(horizon) + ".json"; }
}  // namespace

Result<nlohmann::json> FileModelRegistry::ReadActiveLocked(const fs::path& kdir, int horizon) {
  const fs::path p = kdir / ActiveFile(horizon);
  if (!fs::exists(p))
    return nlohmann::json{{"active", nullptr}, {"history", nlohmann::json::array()}};
  SINYAL_ASSIGN_OR_RETURN(std::string text, ReadFile(p));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("active") || !j.contains("history")) {
    return Status::DataLoss(ActiveFile(horizon) + " is corrupted in " + kdir.string());
  }
  return j;
}

Status FileModelRegistry::WriteActiveLocked(const fs::path& kdir, int horizon,
                                            const nlohmann::json& j) {
  return WriteFileAtomic(kdir / ActiveFile(horizon), j.dump());
}

Status FileModelRegistry::Activate(TenantId tenant, const market::SeriesKey& series,
                                   int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  // Verify first: a model that does not load never becomes active.
  SINYAL_ASSIGN_OR_RETURN(Ensemble ens, LoadLocked(tenant, series, version));
  const int horizon = ens.schema().horizon;
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json j, ReadActiveLocked(kdir, horizon));
  if (!j["active"].is_null()) {
    if (j["active"].get<int64_t>() == version) return Status::Ok();
    j["history"].push_back(j["active"]);
  }
  j["active"] = version;
  return WriteActiveLocked(kdir, horizon, j);
}

Result<int64_t> FileModelRegistry::ActiveVersion(TenantId tenant, const market::SeriesKey& series,
                                                 int horizon) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json j, ReadActiveLocked(kdir, horizon));
  if (j["active"].is_null()) {
    return Status::NotFound("no active model for " + HorizonText(series, horizon), "symbol");
  }
  return j["active"].get<int64_t>();
}

Result<std::vector<int>> FileModelRegistry::ActiveHorizons(TenantId tenant,
                                                           const market::SeriesKey& series) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  std::vector<int> out;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(kdir, ec)) {
    const std::string name = f.path().filename().string();
    int h = 0;
    if (std::sscanf(name.c_str(), "active_h%d.json", &h) != 1 || name != ActiveFile(h)) continue;
    SINYAL_ASSIGN_OR_RETURN(nlohmann::json j, ReadActiveLocked(kdir, h));
    if (!j["active"].is_null()) out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status FileModelRegistry::Rollback(TenantId tenant, const market::SeriesKey& series, int horizon) {
  std::lock_guard<std::mutex> lock(mu_);
  SINYAL_ASSIGN_OR_RETURN(fs::path kdir, KeyDir(tenant, series));
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json j, ReadActiveLocked(kdir, horizon));
  if (j["history"].empty()) {
    return Status::FailedPrecondition(
        "no earlier active version to roll back to for " + HorizonText(series, horizon), "version");
  }
  const int64_t prev = j["history"].back().get<int64_t>();
  SINYAL_RETURN_IF_ERROR(LoadLocked(tenant, series, prev).status());
  j["history"].erase(j["history"].end() - 1);
  j["active"] = prev;
  return WriteActiveLocked(kdir, horizon, j);
}

}  // namespace sinyal::models
