// sinyal: one binary, many sub-commands. Only this module reads the environment and files.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "app/config.h"
#include "app/market_cli.h"
#include "app/models_cli.h"
#include "app/serve.h"
#include "app/trading.h"
#include "core/log.h"

using sinyal::Status;
using sinyal::app::Config;

namespace {

// Loads defaults < file < env < flags. `flags` maps dotted keys to values given on the command line.
Status LoadConfig(const std::string& config_path, const std::map<std::string, std::string>& flags,
                  Config& config) {
  auto env = sinyal::app::ProcessEnvironment();
  std::string path = config_path;
  if (path.empty() && env.count("SINYAL_CONFIG")) path = env["SINYAL_CONFIG"];
  if (!path.empty()) SINYAL_RETURN_IF_ERROR(sinyal::app::ApplyTomlFile(path, config));
  SINYAL_RETURN_IF_ERROR(sinyal::app::ApplyEnv(env, config));
  for (const auto& [key, value] : flags) {
    if (value.empty()) continue;
    Status s = sinyal::app::SetKey(key, value, config);
    if (!s.ok()) return Status::InvalidArgument(s.message(), "--" + key.substr(key.find('.') + 1));
  }
  return sinyal::app::Finalize(config);
}

}  // namespace

int main(int argc, char** argv) {
  sinyal::app::SetOpenMpDefaults(argv);  // may re-exec so that OpenMP sees OMP_WAIT_POLICY
  CLI::App app{"Sinyal: probabilistic trading signals, sold by subscription"};
  app.require_subcommand(1);
  std::string config_path;
  app.add_option("-c,--config", config_path, "TOML configuration file (or SINYAL_CONFIG)");

  std::map<std::string, std::string> flags;
  auto add_common = [&flags](CLI::App* cmd) {
    cmd->add_option("--database", flags["database.url"],
                    "sqlite://path.db or postgresql://user:pw@host/db");
    cmd->add_option("--log-level", flags["log.level"], "trace|debug|info|warn|error|critical|off");
    cmd->add_option("--data-dir", flags["server.data_dir"],
                    "directory for the SQLite file and generated secrets");
  };

  CLI::App* serve = app.add_subcommand("serve", "run the HTTP API, dashboard and docs");
  add_common(serve);
  serve->add_option("--host", flags["server.host"], "listen address (default 127.0.0.1)");
  serve->add_option("--port", flags["server.port"], "listen port (default 8080)");
  serve->add_option("--threads", flags["server.io_threads"], "I/O threads (default 2)");
  serve->add_option("--redis", flags["redis.url"], "redis://host:port for shared rate limits");
  serve->add_option(
      "--telegram-api-url", flags["telegram.api_url"],
      "Telegram Bot API base URL (default https://api.telegram.org; the FAKE server's in tests)");

  CLI::App* sandbox = app.add_subcommand(
      "midtrans-sandbox", "run the local Midtrans sandbox alone (SIMULATED: no money moves)");
  sinyal::app::SandboxArgs sandbox_args;
  sandbox->add_option("--host", sandbox_args.host, "listen address (default 127.0.0.1)");
  sandbox->add_option("--port", sandbox_args.port, "listen port (default 8090)");
  sandbox->add_option("--server-key", sandbox_args.server_key, "the server key clients must use")
      ->required();
  sandbox->add_option("--notification-url", sandbox_args.notification_url,
                      "where to send notifications");
  sandbox->add_option("--retry-scale-permille", sandbox_args.retry_scale_permille,
                      "Midtrans's retry delays x this / 1000 (default 1000)");

  CLI::App* migrate = app.add_subcommand("migrate", "apply pending database migrations");
  add_common(migrate);

  CLI::App* admin = app.add_subcommand("admin", "platform administration");
  admin->require_subcommand(1);
  CLI::App* create_operator = admin->add_subcommand(
      "create-operator", "create a platform operator; password read from stdin");
  add_common(create_operator);
  std::string op_email;
  create_operator->add_option("--email", op_email, "operator email")->required();

  CLI::App* ingest = app.add_subcommand("ingest", "import a CSV bar file into a platform series");
  add_common(ingest);
  sinyal::app::IngestArgs ingest_args;
  ingest->add_option("--file", ingest_args.file, "CSV file (MT5 export, MT5 rates or generic)")
      ->required();
  ingest->add_option("--symbol", ingest_args.symbol, "symbol, e.g. EURUSD")->required();
  ingest->add_option("--timeframe", ingest_args.timeframe, "M1, M5, M15, M30, H1, H4 or D1")
      ->required();
  ingest->add_option("--layout", ingest_args.layout, "auto|mt5|mt5-rates|generic (default auto)");
  ingest->add_option("--timezone", ingest_args.timezone,
                     "time zone of the file's times: UTC, NY+7, EET, +03:00 ... (default UTC)");
  ingest->add_option("--date-format", ingest_args.date_format,
                     "auto|ymd|mdy|dmy|unix|unix-ms (default auto)");
  ingest->add_option("--on-bad-row", ingest_args.on_bad_row,
                     "reject (default: nothing written) or skip (with a report)");
  ingest->add_option("--on-overlap", ingest_args.on_overlap,
                     "reject (default), keep or overwrite bars that differ from stored ones");

  CLI::App* replay =
      app.add_subcommand("replay", "play an M1 bar or tick file into a running server's live feed");
  sinyal::app::ReplayArgs replay_args;
  replay->add_option("--file", replay_args.file, "M1 bar CSV (or tick CSV with --kind ticks)")
      ->required();
  replay->add_option("--symbol", replay_args.symbol, "symbol, e.g. EURUSD")->required();
  replay->add_option("--kind", replay_args.kind, "bars (default) or ticks");
  replay->add_option("--layout", replay_args.layout, "bar file layout (default auto)");
  replay->add_option("--timezone", replay_args.timezone,
                     "time zone of the file's times (default UTC)");
  replay->add_option("--speed", replay_args.speed,
                     "1 = real time, 60 = a minute per second (default), 0 = as fast as possible");
  replay->add_option("--url", replay_args.url, "server base URL (default http://127.0.0.1:8080)");
  replay->add_option("--key", replay_args.key, "operator access token")->required();
  replay->add_option("--batch", replay_args.batch, "events per request (default 1000, max 10000)");

  auto model_commands = sinyal::app::AddModelCommands(app, *admin, add_common);
  sinyal::app::BacktestArgs backtest_args;
  CLI::App* backtest = sinyal::app::AddBacktestCommand(app, backtest_args, add_common);

  app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Config config;
  std::string level = flags["log.level"].empty() ? "info" : flags["log.level"];
  Status loaded = LoadConfig(config_path, flags, config);
  if (!loaded.ok()) {
    std::cerr << "sinyal: configuration error: " << loaded.ToString() << "\n";
    return 2;
  }
  if (!sinyal::ConfigureJsonLogging(config.log.level)) {
    std::cerr << "sinyal: bad log level\n";
    return 2;
  }

  if (app.got_subcommand("version")) {
    std::cout << "sinyal 0.1.0\n";
    return 0;
  }
  if (serve->parsed()) return sinyal::app::RunServe(config);
  if (sandbox->parsed()) return sinyal::app::RunMidtransSandbox(sandbox_args);
  if (ingest->parsed()) return sinyal::app::RunIngest(config, ingest_args);
  if (replay->parsed()) return sinyal::app::RunReplay(replay_args);
  if (migrate->parsed()) return sinyal::app::RunMigrate(config);
  if (auto rc = sinyal::app::RunModelCommand(*model_commands, config)) return *rc;
  if (backtest->parsed()) return sinyal::app::RunBacktestCommand(config, backtest_args);
  if (create_operator->parsed()) {
    std::string password;
    if (isatty(STDIN_FILENO)) std::cerr << "password for " << op_email << ": " << std::flush;
    std::getline(std::cin, password);
    return sinyal::app::RunCreateOperator(config, op_email, password);
  }
  return 2;
}
