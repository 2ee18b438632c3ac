#include "e2e/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace sinyal::e2e {
namespace {

size_t WriteBody(char* ptr, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * n);
  return size * n;
}

size_t WriteHeader(char* ptr, size_t size, size_t n, void* user) {
  std::string line(ptr, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}

}  // namespace

nlohmann::json HttpResult::Json() const { return nlohmann::json::parse(body, nullptr, false); }

std::string HttpResult::Header(const std::string& lower) const {
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(std::string base_url)
    : base_(std::move(base_url)), curl_(curl_easy_init()) {}
HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult HttpClient::Request(const std::string& method, const std::string& path,
                               const std::string& body, const std::vector<std::string>& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  HttpResult result;
  std::string url = base_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  struct curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    result.error = curl_easy_strerror(rc);
    return result;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

std::string SinyalBinary() {
  if (const char* env = std::getenv("SINYAL_BIN"); env && *env) return env;
  return SINYAL_BINARY_DEFAULT;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string UniqueSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream s;
  s << std::hex << rng();
  return s.str();
}

std::string UniqueSymbol(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string s = prefix;
  while (s.size() < 12) s += "0123456789ABCDEF"[rng() % 16];
  return s;
}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ServerProcess::Start(std::string* why) {
  port_ = options_.port > 0 ? options_.port : FreePort();
  std::string log_path = (dir_.path() / "server.log").string();
  std::vector<std::string> args = {SinyalBinary(), "serve",
                                   "--port",       std::to_string(port_),
                                   "--data-dir",   (dir_.path() / "var").string()};
  if (!options_.database_url.empty()) {
    args.push_back("--database");
    args.push_back(options_.database_url);
  }
  for (const auto& a : options_.extra_args) args.push_back(a);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setenv("SINYAL_SERVER_DOCS_ASSETS_DIR", SINYAL_SOURCE_DIR "/web/node_modules/redoc/bundles",
             1);
    ::setenv("SINYAL_SERVER_WEB_DIR", SINYAL_SOURCE_DIR "/web/dist", 1);
    // Tests bring their own data: no first-run import and training (options_.env may turn it on).
    ::setenv("SINYAL_FIRST_RUN_ENABLED", "false", 1);
    for (const auto& [k, v] : options_.env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  HttpClient client(base_url());
  for (int i = 0; i < 400; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *why = "server exited during start-up: " + Log();
      return false;
    }
    if (client.Get("/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *why = "server did not become ready: " + Log();
  return false;
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServerProcess::Wait(int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string ServerProcess::Log() const {
  std::ifstream in(dir_.path() / "server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunCli(const std::vector<std::string>& args, const std::string& stdin_text,
           std::string* output) {
  testing::TempDir tmp;
  std::string in_path = (tmp.path() / "stdin").string(), out_path = (tmp.path() / "out").string();
  std::ofstream(in_path) << stdin_text;
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(in_path.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<std::string> all = {SinyalBinary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  *output = ss.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

nlohmann::json RegisterTenant(HttpClient& client, const std::string& tenant, std::string* email_out,
                              const std::string& password) {
  std::string email = "owner-" + UniqueSuffix() + "@" + tenant + ".example";
  if (email_out) *email_out = email;
  auto r = client.PostJson("/api/v1/auth/register",
                           {{"tenant_name", tenant}, {"email", email}, {"password", password}});
  EXPECT_EQ(r.status, 201) << r.body;
  return r.Json();
}

std::string CreateOperator(const std::string& database_url, const std::string& data_dir,
                           std::string* error) {
  const std::string email = "op-" + UniqueSuffix() + "@sinyal.example";
  std::string out;
  if (RunCli({"admin", "create-operator", "--email", email, "--database", database_url,
              "--data-dir", data_dir, "--log-level", "warn"},
             std::string(kOperatorPassword) + "\n", &out) != 0) {
    if (error) *error = out;
    return "";
  }
  return email;
}

std::string OperatorLogin(HttpClient& client, const std::string& email, std::string* error) {
  auto login = client.PostJson("/api/v1/operator/login",
                               {{"email", email}, {"password", kOperatorPassword}});
  if (login.status != 200) {
    if (error) *error = std::to_string(login.status) + " " + login.body;
    return "";
  }
  return login.Json()["access_token"];
}

void WriteDataSlice(const std::string& file, int lines, const std::string& path) {
  std::ifstream in(testing::SampleDataDir() / file);
  std::ofstream out(path);
  std::string line;
  for (int i = 0; i < lines && std::getline(in, line); ++i) out << line << "\n";
}

std::string IngestAndTrainPlatformModel(const std::string& database_url,
                                        const std::string& work_dir, const std::string& symbol,
                                        int trees, const std::vector<int>& horizons) {
  const std::string csv = work_dir + "/eurusd.csv", data_dir = work_dir + "/cli";
  WriteDataSlice("EURUSD_H1.csv", 6001, csv);
  std::string out;
  if (RunCli({"ingest", "--file", csv, "--symbol", symbol, "--timeframe", "H1", "--timezone",
              "NY+7", "--database", database_url, "--data-dir", data_dir, "--log-level", "warn"},
             "", &out) != 0) {
    return "ingest: " + out;
  }
  for (int horizon : horizons) {
    if (RunCli({"train", "--symbol", symbol, "--timeframe", "H1", "--platform", "--activate",
                "--trees", std::to_string(trees), "--horizon", std::to_string(horizon),
                "--database", database_url, "--data-dir", data_dir, "--log-level", "warn"},
               "", &out) != 0) {
      return "train (horizon " + std::to_string(horizon) + "): " + out;
    }
  }
  return "";
}

void BackendE2E::SetUp() {
  if (GetParam() == "postgresql") {
    SINYAL_REQUIRE_POSTGRES();
    url_ = testing::PostgresTestUrl();
  } else {
    url_ = "sqlite://" + (dir_.path() / "e2e.db").string();
  }
}

void BackendE2E::StartServer(std::map<std::string, std::string> env,
                             std::vector<std::string> extra_args) {
  ServerProcess::Options options;
  options.database_url = url_;
  options.env = std::move(env);
  options.extra_args = std::move(extra_args);
  server_ = std::make_unique<ServerProcess>(options);
  std::string why;
  ASSERT_TRUE(server_->Start(&why)) << why;
  client_ = std::make_unique<HttpClient>(server_->base_url());
}

const std::string& BackendE2E::OperatorToken() {
  if (op_token_.empty()) {
    std::string error;
    const std::string email = CreateOperator(url_, (dir_.path() / "operator-cli").string(), &error);
    EXPECT_FALSE(email.empty()) << error;
    op_token_ = OperatorLogin(*client_, email, &error);
    EXPECT_FALSE(op_token_.empty()) << error;
  }
  return op_token_;
}

BackendE2E::Tenant BackendE2E::NewTenant(const std::string& name, const std::string& plan) {
  Tenant t;
  nlohmann::json reg = RegisterTenant(*client_, name);
  t.id = reg["user"]["tenant"]["id"];
  t.token = reg["access_token"];
  auto key = client_->PostJson("/api/v1/api-keys", {{"name", "e2e"}}, {Bearer(t.token)});
  EXPECT_EQ(key.status, 201) << key.body;
  t.key = key.Json().value("key", "");
  if (plan != "free") SetPlan(t.id, plan);
  return t;
}

void BackendE2E::SetPlan(int64_t tenant, const std::string& plan) {
  auto r = client_->Request("PUT", "/api/v1/operator/tenants/" + std::to_string(tenant) + "/plan",
                            nlohmann::json{{"plan", plan}}.dump(),
                            {Bearer(OperatorToken()), "Content-Type: application/json"});
  EXPECT_EQ(r.status, 200) << r.body;
}

void BackendE2E::PatchPlan(const std::string& name, const nlohmann::json& changes) {
  auto r = client_->Request("PATCH", "/api/v1/operator/plans/" + name, changes.dump(),
                            {Bearer(OperatorToken()), "Content-Type: application/json"});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace sinyal::e2e
