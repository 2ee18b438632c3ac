// Wiring of the running application: builds every object in dependency order from a Config
// and passes references down (STYLE.md §9). Nothing else in Sinyal reads files or environment.
#pragma once

#include <string>

#include "app/config.h"
#include "core/status.h"

namespace sinyal::app {

// Runs `sinyal serve` until SIGTERM/SIGINT, then drains and shuts down cleanly.
// Returns the process exit code.
int RunServe(Config config);

// `sinyal midtrans-sandbox`: the local Midtrans sandbox (SIMULATED) on its own, under
// /sandbox/midtrans, until SIGTERM/SIGINT. For a gateway that outlives a `serve` (crash tests)
// or several servers; point serve at it with midtrans.snap_base_url / core_base_url and
// midtrans.server_key.
struct SandboxArgs {
  std::string host = "127.0.0.1";
  int port = 8090;
  std::string server_key;        // required
  std::string notification_url;  // where notifications go
  int64_t retry_scale_permille = 1000;
};
int RunMidtransSandbox(const SandboxArgs& args);

// `sinyal migrate`: applies pending migrations and prints the schema version.
int RunMigrate(Config config);

// `sinyal admin create-operator`: reads the password from `password` (already read by main).
int RunCreateOperator(Config config, const std::string& email, const std::string& password);

// Resolves auth.jwt_secret: the configured one, else <data_dir>/jwt_secret (created with 48
// random bytes, mode 0600, when missing).
[[nodiscard]] Status ResolveJwtSecret(Config& config);

}  // namespace sinyal::app
