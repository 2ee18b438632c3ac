// Strong ids: a TenantId can't be passed where a UserId is expected.
#pragma once

#include <cstdint>
#include <functional>

namespace sinyal {

template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(int64_t v) : v_(v) {}
  constexpr int64_t value() const { return v_; }
  constexpr bool valid() const { return v_ > 0; }
  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  int64_t v_ = 0;
};

using TenantId = StrongId<struct TenantTag>;
using UserId = StrongId<struct UserTag>;
using ApiKeyId = StrongId<struct ApiKeyTag>;
using InstrumentId = StrongId<struct InstrumentTag>;
using ModelId = StrongId<struct ModelTag>;

}  // namespace sinyal

template <typename Tag>
struct std::hash<sinyal::StrongId<Tag>> {
  size_t operator()(sinyal::StrongId<Tag> id) const noexcept {
    return std::hash<int64_t>()(id.value());
  }
};
