// Small cryptographic helpers of accounts/ over libsodium and OpenSSL. Internal to the module
// (and its tests); other modules use AccountService.
//
// Thread safety: every function is thread-safe. REQUIRES: InitCrypto() succeeded once before
// any other function (AccountService's constructor calls it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sinyal::accounts::crypto {

// Initializes libsodium (idempotent, thread-safe). False if the library can't be used.
bool InitCrypto();

// base64url without padding (RFC 4648 §5), as JWT (RFC 7515) uses.
std::string Base64UrlEncode(std::string_view bytes);
// Strict inverse of Base64UrlEncode: rejects padding, whitespace, characters outside the
// alphabet and non-canonical trailing bits. nullopt on any of these.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// `n` bytes from the OS CSPRNG (libsodium randombytes_buf).
std::string RandomBytes(size_t n);

// Lower-case hex SHA-256 of `data` (64 characters).
std::string Sha256Hex(std::string_view data);

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

// Constant-time equality (different lengths compare unequal, leaking only the length).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// argon2id, libsodium INTERACTIVE limits (t=2, 64 MiB). Output
// "$argon2id$v=19$m=65536,t=2,p=1$...". Internal error only when memory can't be allocated.
[[nodiscard]] Result<std::string> HashPassword(std::string_view password);
// True iff `password` matches `hash` (a crypto_pwhash_str string). Malformed hash: false.
bool VerifyPassword(std::string_view hash, std::string_view password);

}  // namespace sinyal::accounts::crypto
