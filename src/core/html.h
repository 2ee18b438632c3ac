// Text placed inside HTML or SVG markup (reports, the simulated Midtrans payment page).
#pragma once

#include <string>
#include <string_view>

namespace sinyal {

// `s` with < > & " ' replaced by their character references, safe inside an element or a quoted
// attribute value.
[[nodiscard]] std::string HtmlEscape(std::string_view s);

}  // namespace sinyal
