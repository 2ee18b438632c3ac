// sinyal-fake-telegram: the FAKE (simulated) Telegram Bot API server as its own process, for the
// dashboard's browser tests and manual runs. It is not Telegram: nothing leaves this machine.
//
//   build/bin/sinyal-fake-telegram --port 18600 [--host 127.0.0.1] [--token 123456:FAKE-telegram-token]
//                                  [--bot-username sinyal_fake_bot]
//
// Then start Sinyal against it:
//   SINYAL_TELEGRAM_BOT_TOKEN=123456:FAKE-telegram-token \
//   build/bin/sinyal serve --telegram-api-url http://127.0.0.1:18600
// and drive it through the control API (docs/telegram.md "The FAKE Bot API server"), e.g.
//   curl -s -X POST localhost:18600/fake/updates -d '{"from_id":42,"text":"/start <token>"}'
//   curl -s localhost:18600/fake/sent?chat_id=42
// It prints one line "FAKE Telegram Bot API listening on http://HOST:PORT" once ready, and stops
// on SIGTERM or SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "notify/testing/fake_bot_api.h"

int main(int argc, char** argv) {
  CLI::App app{"FAKE Telegram Bot API server (simulated; for tests, not Telegram)"};
  sinyal::notify::testing::FakeBotApi::Options options;
  int port = 0;
  app.add_option("--host", options.host, "listen address (default 127.0.0.1)");
  app.add_option("--port", port, "listen port (default: a free port, printed)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--token", options.token,
                 "the bot token it accepts (default 123456:FAKE-telegram-token)");
  app.add_option("--bot-username", options.bot_username,
                 "getMe username (default sinyal_fake_bot)");
  CLI11_PARSE(app, argc, argv);
  options.port = static_cast<uint16_t>(port);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto fake = sinyal::notify::testing::FakeBotApi::Start(options);
  if (!fake.ok()) {
    std::fprintf(stderr, "sinyal-fake-telegram: %s\n", fake.error().ToString().c_str());
    return 1;
  }
  std::printf("FAKE Telegram Bot API listening on %s (token %s, bot @%s)\n",
              (*fake)->base_url().c_str(), options.token.c_str(), options.bot_username.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  (*fake)->Stop();
  return 0;
}
