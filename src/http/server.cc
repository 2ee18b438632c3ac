// The only translation unit that includes RESTinio's server (it is slow to compile); its URI
// helpers are also used by query_string.cc.
#include "http/server.h"

#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <restinio/all.hpp>
#include <thread>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <restinio/router/pcre2_regex_engine.hpp>
#include <restinio/websocket/websocket.hpp>

#include "core/log.h"
#include "http/problem.h"
#include "http/query_string.h"

namespace sinyal::http {
namespace {

// PCRE2 (JIT) instead of std::regex: the express router tries each route's regex in turn, and
// std::regex made routing the most expensive part of a request.
using Router = restinio::router::express_router_t<restinio::router::pcre2_regex_engine_t<>>;
struct Traits : public restinio::default_traits_t {
  using request_handler_t = Router;
};

std::string ToStd(restinio::string_view_t s) { return std::string(s.data(), s.size()); }

// True when the comma-separated Sec-WebSocket-Protocol list holds `name`.
bool OffersSubprotocol(std::string_view list, std::string_view name) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == name) return true;
    start = end + 1;
  }
  return false;
}

std::vector<std::string> ParamNames(const std::string& pattern) {
  std::vector<std::string> names;
  size_t i = 0;
  while ((i = pattern.find(':', i)) != std::string::npos) {
    size_t j = pattern.find('/', i);
    names.push_back(pattern.substr(i + 1, (j == std::string::npos ? pattern.size() : j) - i - 1));
    i = j == std::string::npos ? pattern.size() : j;
  }
  return names;
}

namespace rws = restinio::websocket::basic;

// One upgraded connection: our WebSocketConnection over RESTinio's ws handle.
class WsConnection final : public WebSocketConnection {
 public:
  WsConnection(std::shared_ptr<WebSocketHandler> handler) : handler_(std::move(handler)) {}

  void Attach(rws::ws_handle_t ws) {
    std::lock_guard<std::mutex> lock(mu_);
    ws_ = std::move(ws);
  }
  void SendText(std::string text) override { Send(rws::opcode_t::text_frame, std::move(text)); }
  void Close(uint16_t code, std::string reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || !ws_) return;
    closed_ = true;
    std::string payload = rws::status_code_to_bin(static_cast<rws::status_code_t>(code));
    payload += reason.substr(0, 120);  // control frames carry at most 125 bytes
    try {
      ws_->send_message(rws::final_frame, rws::opcode_t::connection_close_frame,
                        restinio::writable_item_t(std::move(payload)));
    } catch (const std::exception&) {
    }
    ws_.reset();
  }
  void Pong(std::string payload) { Send(rws::opcode_t::pong_frame, std::move(payload)); }
  // Marks the connection gone (peer closed it) and tells the handler once.
  void Ended() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      ws_.reset();
    }
    if (!ended_.exchange(true)) handler_->OnClose();
  }
  // Server shutdown: close (1001 going away) and end.
  void Shutdown() {
    Close(1001, "server shutting down");
    Ended();
  }
  WebSocketHandler& handler() { return *handler_; }

 private:
  void Send(rws::opcode_t op, std::string payload) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || !ws_) return;
    try {
      ws_->send_message(rws::final_frame, op, restinio::writable_item_t(std::move(payload)));
    } catch (const std::exception&) {
      closed_ = true;
    }
  }
  std::shared_ptr<WebSocketHandler> handler_;
  std::mutex mu_;
  rws::ws_handle_t ws_;  // GUARDED_BY(mu_)
  bool closed_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> ended_{false};
};

}  // namespace

struct Server::Impl {
  Pipeline& pipeline;
  ServerOptions options;
  std::unique_ptr<asio::thread_pool> blocking_pool;
  // RESTinio's I/O threads run this context; deferred responses are finished on it.
  asio::io_context io_context;
  restinio::running_server_handle_t<Traits> server;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};
  // The listening socket's descriptor (set by the post-bind hook), so Drain can stop accepting
  // from its own thread: shutdown(2) on a listening socket makes the kernel refuse new
  // connections and completes RESTinio's pending accept with an error (it then stops accepting);
  // the acceptor object itself is closed later by RESTinio on its own executor.
  std::atomic<int> listen_fd{-1};
  std::once_flag stop_once;
  std::mutex ws_mu;
  std::map<uint64_t, std::shared_ptr<WsConnection>> websockets;  // GUARDED_BY(ws_mu)
  uint64_t next_ws_id = 1;                                       // GUARDED_BY(ws_mu)

  // Switches the request's connection to WebSocket, handing messages to resp.websocket.
  void Upgrade(const restinio::request_handle_t& req, const Response& resp) {
    auto conn = std::make_shared<WsConnection>(resp.websocket);
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(ws_mu);
      id = next_ws_id++;
      websockets.emplace(id, conn);
    }
    auto forget = [this, id] {
      std::lock_guard<std::mutex> lock(ws_mu);
      websockets.erase(id);
    };
    try {
      // Delayed activation: nothing is read from the socket until the connection can send.
      // With immediate activation the other I/O thread could handle the first message before
      // Attach(), and its reply was silently dropped (a flaky e2e failure on PostgreSQL).
      // A browser cannot set Authorization on a WebSocket: the dashboard offers the subprotocols
      // "sinyal.v1" and "sinyal.bearer.<access token>" (read by Pipeline::Authenticate). The
      // answer must name one offered protocol or the browser drops the connection.
      std::string accept = restinio::utils::base64::encode(
          restinio::utils::sha1::to_string(restinio::utils::sha1::make_digest(
              req->header().get_field(restinio::http_field::sec_websocket_key) +
              "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
      restinio::http_header_fields_t fields;
      fields.set_field(restinio::http_field::sec_websocket_accept, std::move(accept));
      if (OffersSubprotocol(
              req->header().get_field_or(restinio::http_field::sec_websocket_protocol, ""),
              kDashboardSubprotocol)) {
        fields.set_field(restinio::http_field::sec_websocket_protocol,
                         std::string(kDashboardSubprotocol));
      }
      auto ws = rws::upgrade<Traits>(
          *req, rws::activation_t::delayed, std::move(fields),
          [conn, forget](rws::ws_handle_t, rws::message_handle_t m) {
            switch (m->opcode()) {
              case rws::opcode_t::text_frame:
                if (!m->is_final()) {
                  conn->Close(1003, "fragmented messages are not supported");
                } else if (m->payload().size() > conn->handler().MaxMessageBytes()) {
                  conn->Close(1009, "message too big");
                } else {
                  try {
                    conn->handler().OnText(*conn, m->payload());
                  } catch (const std::exception& e) {
                    LogEvent(spdlog::level::err, "websocket_handler_exception",
                             {{"what", e.what()}});
                    conn->Close(1011, "internal error");
                  }
                }
                break;
              case rws::opcode_t::ping_frame:
                conn->Pong(m->payload());
                break;
              case rws::opcode_t::pong_frame:
                break;
              case rws::opcode_t::connection_close_frame:
                conn->Ended();
                forget();
                break;
              default:  // binary, continuation
                conn->Close(1003, "only text messages are accepted");
                break;
            }
          });
      conn->Attach(ws);
      activate(*ws);  // restinio::websocket::basic::activate, found by ADL
    } catch (const std::exception& e) {
      LogEvent(spdlog::level::warn, "websocket_upgrade_failed", {{"what", e.what()}});
      conn->Ended();
      forget();
    }
    // The HTTP exchange is over; the connection now lives in `websockets`.
    in_flight.fetch_sub(1);
  }

  Impl(Pipeline& p, ServerOptions o) : pipeline(p), options(std::move(o)) {}

  Request Convert(const restinio::request_handle_t& req) {
    Request r;
    const auto& h = req->header();
    r.method = ToStd(h.method().c_str());
    const auto raw_path = h.path();
    r.path = DecodePath(std::string_view(raw_path.data(), raw_path.size()));
    const auto raw_query = h.query();
    auto query = ParseQueryString(std::string_view(raw_query.data(), raw_query.size()));
    if (query) {
      r.query = std::move(*query);
    } else {
      r.query.emplace("__malformed_query__", "1");
    }
    h.for_each_field([&r](const restinio::http_header_field_t& f) {
      std::string name = f.name();
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), f.value());
    });
    r.body = req->body();
    r.remote = req->remote_endpoint().address().to_string();
    return r;
  }

  void Respond(const restinio::request_handle_t& req, const Response& resp, bool close) {
    auto builder = req->create_response(restinio::http_status_line_t(
        restinio::http_status_code_t{static_cast<std::uint16_t>(resp.status)},
        std::string(ReasonPhrase(resp.status))));
    if (!resp.content_type.empty())
      builder.append_header(restinio::http_field::content_type, resp.content_type);
    bool has_cache_control = false;
    for (const auto& [k, v] : resp.headers) {
      builder.append_header(k, v);
      has_cache_control = has_cache_control || k == "cache-control";
    }
    // API answers are never cached; static files (StaticSite) set their own policy.
    if (!has_cache_control) builder.append_header(restinio::http_field::cache_control, "no-store");
    if (close) builder.connection_close();
    builder.set_body(resp.body);
    builder.done([this](const asio::error_code&) { in_flight.fetch_sub(1); });
  }

  restinio::request_handling_status_t Dispatch(
      int index, const restinio::request_handle_t& req,
      std::map<std::string, std::string, std::less<>> params) {
    in_flight.fetch_add(1);
    if (draining.load()) {
      Response resp =
          ProblemResponse(503, "shutting-down", "the server is shutting down; retry", "", "");
      resp.headers.emplace_back("retry-after", "1");
      Respond(req, resp, /*close=*/true);
      return restinio::request_accepted();
    }
    auto run = [this, index, req, params = std::move(params)]() mutable {
      Request r = Convert(req);
      r.params = std::move(params);
      if (r.query.count("__malformed_query__")) {
        Respond(req,
                ProblemResponse(400, "malformed-query",
                                "the query string is not valid percent-encoding", "query", ""),
                draining.load());
        return;
      }
      // Ordinary responses are sent from this thread; deferred ones from the I/O thread that
      // finishes them after their completion (RESTinio dispatches the write onto the
      // connection's own executor, so any thread may respond).
      pipeline.HandleAsync(
          index, std::move(r),
          [this, req](Response resp) {
            if (resp.websocket && resp.status == 101) {
              Upgrade(req, resp);
              return;
            }
            if (resp.websocket) resp.websocket.reset();
            Respond(req, resp, draining.load());
          },
          [this](std::function<void()> task) { asio::post(io_context, std::move(task)); });
    };
    bool blocking = index >= 0 && pipeline.routes().routes()[index].blocking;
    if (blocking) {
      asio::post(*blocking_pool, std::move(run));
    } else {
      run();
    }
    return restinio::request_accepted();
  }
};

Server::Server(Pipeline& pipeline, ServerOptions options)
    : impl_(std::make_unique<Impl>(pipeline, std::move(options))) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  auto router = std::make_unique<Router>();
  const auto& routes = impl_->pipeline.routes().routes();
  for (size_t i = 0; i < routes.size(); ++i) {
    const Route& route = routes[i];
    auto method = restinio::http_method_get();
    if (route.method == "GET")
      method = restinio::http_method_get();
    else if (route.method == "POST")
      method = restinio::http_method_post();
    else if (route.method == "PUT")
      method = restinio::http_method_put();
    else if (route.method == "PATCH")
      method = restinio::http_method_patch();
    else if (route.method == "DELETE")
      method = restinio::http_method_delete();
    else
      return Status::Internal("unsupported method " + route.method);
    auto names = ParamNames(route.pattern);
    Impl* impl = impl_.get();
    int index = static_cast<int>(i);
    router->add_handler(method, route.pattern, [impl, index, names](auto req, auto params) {
      std::map<std::string, std::string, std::less<>> p;
      for (const auto& n : names) p.emplace(n, ToStd(params[n]));
      return impl->Dispatch(index, req, std::move(p));
    });
  }
  Impl* impl = impl_.get();
  router->non_matched_request_handler([impl](auto req) { return impl->Dispatch(-1, req, {}); });

  impl_->blocking_pool = std::make_unique<asio::thread_pool>(impl_->options.blocking_threads);
  try {
    impl_->server = restinio::run_async<Traits>(
        restinio::external_io_context(impl_->io_context),
        restinio::server_settings_t<Traits>{}
            .address(impl_->options.host)
            .port(impl_->options.port)
            .request_handler(std::move(router))
            .acceptor_post_bind_hook([impl](asio::ip::tcp::acceptor& acceptor) {
              impl->listen_fd.store(static_cast<int>(acceptor.native_handle()));
            })
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}.max_body_size(
                impl_->options.hard_body_limit))
            .read_next_http_message_timelimit(std::chrono::seconds(60))
            .handle_request_timeout(std::chrono::seconds(60))
            .max_pipelined_requests(16)
            .concurrent_accepts_count(impl_->options.accept_concurrency)
            .separate_accept_and_create_connect(true),
        impl_->options.io_threads);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" +
                               std::to_string(impl_->options.port) + ": " + e.what());
  }
  LogEvent(spdlog::level::info, "http_listening",
           {{"host", impl_->options.host},
            {"port", impl_->options.port},
            {"io_threads", impl_->options.io_threads}});
  return Status::Ok();
}

void Server::Drain(std::chrono::milliseconds grace) {
  impl_->draining.store(true);
  // New connections are refused from now on; requests on connections already open get 503 with
  // "Connection: close". Without this, clients reconnecting at once after a 503 kept arriving
  // until Stop closed their connections mid-response.
  if (int fd = impl_->listen_fd.exchange(-1); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  LogEvent(spdlog::level::info, "http_drained", {{"in_flight_left", impl_->in_flight.load()}});
}

void Server::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->draining.store(true);
    impl_->listen_fd.store(-1);  // RESTinio closes the listener below; its number may be reused
    std::map<uint64_t, std::shared_ptr<WsConnection>> websockets;
    {
      std::lock_guard<std::mutex> lock(impl_->ws_mu);
      websockets.swap(impl_->websockets);
    }
    for (auto& [_, c] : websockets) c->Shutdown();
    websockets.clear();
    // Deferred responses still waiting (e.g. for a commit that never came back) are answered
    // 503 now rather than left hanging; give their writes a moment before the threads stop.
    if (size_t n = impl_->pipeline.CompletePending(
            Status::Unavailable("the server is shutting down; retry"))) {
      LogEvent(spdlog::level::warn, "deferred_responses_abandoned", {{"count", n}});
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (impl_->server && impl_->in_flight.load() > 0 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (impl_->server) {
      impl_->server->stop();
      impl_->server->wait();
      impl_->server.reset();
    }
    if (impl_->blocking_pool) {
      impl_->blocking_pool->join();
    }
  });
}

bool Server::draining() const { return impl_->draining.load(); }
int64_t Server::in_flight() const { return impl_->in_flight.load(); }

}  // namespace sinyal::http
