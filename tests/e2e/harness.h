// End-to-end test harness: starts the real `sinyal` binary as a child process on a free loopback
// port with its own data directory, and talks to it over real HTTP with libcurl.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/testing/test_util.h"

namespace sinyal::e2e {

struct HttpResult {
  long status = 0;  // 0 when the request failed at the transport level
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // transport error text
  nlohmann::json Json() const;                 // parsed body (discarded value if not JSON)
  std::string Header(const std::string& lower) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::string base_url);
  ~HttpClient();
  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::vector<std::string>& headers = {});
  HttpResult Get(const std::string& path, const std::vector<std::string>& headers = {}) {
    return Request("GET", path, "", headers);
  }
  HttpResult PostJson(const std::string& path, const nlohmann::json& body,
                      std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    return Request("POST", path, body.dump(), headers);
  }

 private:
  std::string base_;
  void* curl_;
};

// Path of the sinyal binary: $SINYAL_BIN, else <build>/bin/sinyal.
std::string SinyalBinary();
// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// A random suffix for unique names/emails across runs sharing a database.
std::string UniqueSuffix();
// A 12-character symbol starting with `prefix`, unique to this run (PostgreSQL runs share a schema).
std::string UniqueSymbol(const std::string& prefix);
// "Authorization: Bearer <token>" header line.
inline std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token; }

// A running `sinyal serve`. The destructor SIGKILLs it if still running.
class ServerProcess {
 public:
  struct Options {
    std::string database_url;  // empty: SQLite in a temp dir
    std::vector<std::string> extra_args;
    std::map<std::string, std::string> env;
    int port = 0;  // 0: a free port picked at Start; else this one (a restart on the same port)
  };
  explicit ServerProcess(Options options);
  ~ServerProcess();

  // Starts and waits until /readyz answers 200 (up to ~20 s). Returns false with a reason.
  bool Start(std::string* why);
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends a signal; Wait returns the exit status (or -1 on timeout).
  void Signal(int sig);
  int Wait(int timeout_ms);
  std::string Log() const;  // stdout+stderr of the child so far
  // The server's --data-dir (SQLite file and generated secrets live here).
  std::string data_dir() const { return (dir_.path() / "var").string(); }

 private:
  Options options_;
  testing::TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Runs the sinyal binary with `args`, feeding `stdin_text`; returns the exit code and fills
// `output` with stdout+stderr.
int RunCli(const std::vector<std::string>& args, const std::string& stdin_text,
           std::string* output);

// Creates a tenant + owner through the API; returns the register response JSON.
nlohmann::json RegisterTenant(HttpClient& client, const std::string& tenant,
                              std::string* email_out = nullptr,
                              const std::string& password = "correct horse battery");

// ---- Operators and platform data through the CLI (what an operator does before serving) ----
inline constexpr const char* kOperatorPassword = "operator passphrase 1";

// `sinyal admin create-operator` for a new unique operator on `database_url` (it may run while a
// server uses the database). Returns the operator's email; on failure sets *error to the CLI's
// output and returns "".
std::string CreateOperator(const std::string& database_url, const std::string& data_dir,
                           std::string* error);

// POST /api/v1/operator/login; the access token, or "" with *error set to the response.
std::string OperatorLogin(HttpClient& client, const std::string& email, std::string* error);

// The first `lines` lines (header included) of a data/sample file (the repo's real bars), written to `path`.
void WriteDataSlice(const std::string& file, int lines, const std::string& path);

// `sinyal ingest` of the first 6,000 bars of EURUSD_H1 as platform series `symbol`, then
// `sinyal train --platform --activate` of one default model per horizon (each horizon has its own
// active model) with `trees` trees. "" on success, else the failing command's output.
std::string IngestAndTrainPlatformModel(const std::string& database_url,
                                        const std::string& work_dir, const std::string& symbol,
                                        int trees, const std::vector<int>& horizons);

// ---- One fixture for SQLite and PostgreSQL ---------------------------------------------------
// The parameter names the backend: "sqlite" (a fresh file in the test's temp dir) or
// "postgresql" (the shared test database: skipped without SINYAL_TEST_PG_URL, a failure under CI).
//   class FooE2E : public BackendE2E {};
//   TEST_P(FooE2E, Works) { StartServer(); ... client().Get(...) ... }
//   SINYAL_E2E_BACKENDS(FooE2E);
class BackendE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;

  const std::string& url() const { return url_; }
  const testing::TempDir& dir() const { return dir_; }
  // Starts `sinyal serve` on url() (fails the test if it doesn't start); client() talks to it.
  void StartServer(std::map<std::string, std::string> env = {},
                   std::vector<std::string> extra_args = {});
  ServerProcess& server() { return *server_; }
  HttpClient& client() { return *client_; }
  // An operator (created through the CLI) signed in on the running server: its access token.
  const std::string& OperatorToken();

  // A new tenant with an owner and an API key (default scopes), on `plan` ("free": unchanged).
  struct Tenant {
    int64_t id = 0;
    std::string token;  // the owner's access token
    std::string key;    // the API key
  };
  Tenant NewTenant(const std::string& name, const std::string& plan = "free");
  // Operator: moves the tenant to `plan` / changes plan `name` (PATCH body).
  void SetPlan(int64_t tenant, const std::string& plan);
  void PatchPlan(const std::string& name, const nlohmann::json& changes);

 private:
  testing::TempDir dir_;
  std::string url_, op_token_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

#define SINYAL_E2E_BACKENDS(Suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::Values("sqlite", "postgresql"), \
                           [](const auto& info) { return info.param; })

}  // namespace sinyal::e2e
