// The HTTP server: RESTinio on a small I/O thread pool, routes from a RouteTable, every request
// through the Pipeline. This header hides RESTinio entirely (pimpl).
//
// Graceful shutdown (Drain then Stop): Drain() stops accepting connections (new ones are
// refused), makes new requests on open connections answer 503 with "Connection: close" and
// /readyz fail, waits until every accepted request's response has been written (or the grace
// period ends), then Stop() closes the connections and joins the threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/pipeline.h"

namespace sinyal::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // Default: loopback only.
  uint16_t port = 8080;            // Default: 8080.
  size_t io_threads = 2;           // Default: 2 (one per core on the reference machine).
  size_t blocking_threads = 2;     // Default: 2; runs routes marked blocking (password hashing).
  // Accepts kept pending at once (RESTinio concurrent_accepts_count), each connection set up
  // apart from the accept. With one, a burst of new connections is accepted one per pass of the
  // I/O queue and the late ones wait seconds (docs/benchmarks.md, "Fairness under overload").
  // Default: 64. [1, 1024]
  size_t accept_concurrency = 64;
  // Bodies larger than this are cut off by the parser (connection closed, no response);
  // smaller bodies over the route's limit get a 413 problem. Default: 64 MiB.
  size_t hard_body_limit = 64u << 20;
};

class Server {
 public:
  Server(Pipeline& pipeline, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns once listening, or an error (e.g. port in use).
  Status Start();
  // Stops taking new work and waits up to `grace` for in-flight requests. Idempotent.
  void Drain(std::chrono::milliseconds grace);
  // Closes the listener and joins the threads. Idempotent; also called by the destructor.
  void Stop();
  bool draining() const;
  // Requests accepted whose response has not been fully written.
  int64_t in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::http
