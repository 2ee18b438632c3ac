// A minimal blocking WebSocket client (RFC 6455) for e2e tests: handshake, masked client frames,
// unfragmented server frames. Header-only; used by market_e2e_test and stream_e2e_test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sinyal::e2e {

class WsClient {
 public:
  WsClient() = default;
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;
  ~WsClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects and sends the upgrade request with `headers` (full lines without CRLF, e.g.
  // "X-API-Key: ..."); returns the status line + headers of the answer (and a problem body if
  // the server refused the upgrade). Reads wait up to `timeout_seconds`.
  std::string Connect(int port, const std::string& path, const std::vector<std::string>& headers,
                      int timeout_seconds = 30) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return "connect failed";
    SetTimeout(timeout_seconds);
    std::string req = "GET " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    req += "\r\n";
    SendAll(req);
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) head += c;
    if (head.find("Content-Length:") != std::string::npos ||
        head.find("content-length:") != std::string::npos) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) head.append(buf, n);
    }
    return head;
  }

  void SetTimeout(int seconds) {
    timeval tv{seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void SendFrame(uint8_t opcode, const std::string& payload, bool fin = true) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | opcode);
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (payload.size() < 126) {
      f += static_cast<char>(0x80 | payload.size());
    } else if (payload.size() < 65536) {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int i = 7; i >= 0; --i)
        f += static_cast<char>((uint64_t(payload.size()) >> (8 * i)) & 0xff);
    }
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    SendAll(f);
  }
  void SendText(const std::string& text) { SendFrame(0x1, text); }

  // Reads one server frame; false on timeout/EOF.
  bool ReadFrame(uint8_t* opcode, std::string* payload) {
    uint8_t h[2];
    if (!RecvAll(h, 2)) return false;
    *opcode = h[0] & 0x0f;
    uint64_t len = h[1] & 0x7f;
    if (len == 126) {
      uint8_t e[2];
      if (!RecvAll(e, 2)) return false;
      len = (e[0] << 8) | e[1];
    } else if (len == 127) {
      uint8_t e[8];
      if (!RecvAll(e, 8)) return false;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | e[i];
    }
    payload->assign(len, '\0');
    return len == 0 || RecvAll(reinterpret_cast<uint8_t*>(payload->data()), len);
  }

  int fd() const { return fd_; }

  // The close code of a close frame's payload (0 when absent).
  static int CloseCode(const std::string& payload) {
    if (payload.size() < 2) return 0;
    return (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
  }

 private:
  void SendAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += n;
    }
  }
  bool RecvAll(uint8_t* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t k = ::recv(fd_, p + got, n - got, 0);
      if (k <= 0) return false;
      got += k;
    }
    return true;
  }
  int fd_ = -1;
};

}  // namespace sinyal::e2e
