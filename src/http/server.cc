// The only translation unit that includes RESTinio (it is slow to compile).
#include "http/server.h"

#include <atomic>
#include <thread>

#include <restinio/all.hpp>

#include "core/log.h"
#include "http/problem.h"

namespace sinyal::http {
namespace {

using Router = restinio::router::express_router_t<>;
struct Traits : public restinio::default_traits_t {
  using request_handler_t = Router;
};

std::string ToStd(restinio::string_view_t s) { return std::string(s.data(), s.size()); }

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

}  // namespace

struct Server::Impl {
  Pipeline& pipeline;
  ServerOptions options;
  std::unique_ptr<asio::thread_pool> blocking_pool;
  restinio::running_server_handle_t<Traits> server;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};
  std::once_flag stop_once;

  Impl(Pipeline& p, ServerOptions o) : pipeline(p), options(std::move(o)) {}

  Request Convert(const restinio::request_handle_t& req) {
    Request r;
    const auto& h = req->header();
    r.method = ToStd(h.method().c_str());
    auto raw_path = h.path();
    auto path_unescaped = restinio::utils::try_unescape_percent_encoding<
        restinio::utils::restinio_default_unescape_traits>(raw_path);
    r.path = path_unescaped ? *path_unescaped : ToStd(raw_path);
    auto query = restinio::try_parse_query<restinio::parse_query_traits::javascript_compatible>(h.query());
    if (query) {
      for (const auto& [k, v] : *query) r.query.emplace(ToStd(k), ToStd(v));
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
    if (!resp.content_type.empty()) builder.append_header(restinio::http_field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) builder.append_header(k, v);
    builder.append_header(restinio::http_field::cache_control, "no-store");
    if (close) builder.connection_close();
    builder.set_body(resp.body);
    builder.done([this](const asio::error_code&) { in_flight.fetch_sub(1); });
  }

  restinio::request_handling_status_t Dispatch(int index, const restinio::request_handle_t& req,
                                               std::map<std::string, std::string, std::less<>> params) {
    in_flight.fetch_add(1);
    if (draining.load()) {
      Response resp = ProblemResponse(503, "shutting-down", "the server is shutting down; retry", "", "");
      resp.headers.emplace_back("retry-after", "1");
      Respond(req, resp, /*close=*/true);
      return restinio::request_accepted();
    }
    auto run = [this, index, req, params = std::move(params)]() mutable {
      Request r = Convert(req);
      r.params = std::move(params);
      Response resp;
      if (r.query.count("__malformed_query__")) {
        resp = ProblemResponse(400, "malformed-query", "the query string is not valid percent-encoding",
                               "query", "");
      } else {
        resp = pipeline.Handle(index, r);
      }
      Respond(req, resp, draining.load());
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
    if (route.method == "GET") method = restinio::http_method_get();
    else if (route.method == "POST") method = restinio::http_method_post();
    else if (route.method == "PUT") method = restinio::http_method_put();
    else if (route.method == "PATCH") method = restinio::http_method_patch();
    else if (route.method == "DELETE") method = restinio::http_method_delete();
    else return Status::Internal("unsupported method " + route.method);
    auto names = ParamNames(route.pattern);
    Impl* impl = impl_.get();
    int index = static_cast<int>(i);
    router->add_handler(method, route.pattern,
                        [impl, index, names](auto req, auto params) {
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
        restinio::own_io_context(),
        restinio::server_settings_t<Traits>{}
            .address(impl_->options.host)
            .port(impl_->options.port)
            .request_handler(std::move(router))
            .incoming_http_msg_limits(
                restinio::incoming_http_msg_limits_t{}.max_body_size(impl_->options.hard_body_limit))
            .read_next_http_message_timelimit(std::chrono::seconds(60))
            .handle_request_timeout(std::chrono::seconds(60))
            .max_pipelined_requests(16),
        impl_->options.io_threads);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" +
                               std::to_string(impl_->options.port) + ": " + e.what());
  }
  LogEvent(spdlog::level::info, "http_listening",
           {{"host", impl_->options.host}, {"port", impl_->options.port}, {"io_threads", impl_->options.io_threads}});
  return Status::Ok();
}

void Server::Drain(std::chrono::milliseconds grace) {
  impl_->draining.store(true);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  LogEvent(spdlog::level::info, "http_drained", {{"in_flight_left", impl_->in_flight.load()}});
}

void Server::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->draining.store(true);
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
