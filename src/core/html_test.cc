#include "core/html.h"

#include <gtest/gtest.h>

namespace sinyal {
namespace {

TEST(HtmlEscapeTest, ReplacesMarkupCharactersAndKeepsTheRest) {
  EXPECT_EQ(HtmlEscape("<b class=\"x\">Tom & Jerry's</b>"),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;");
  EXPECT_EQ(HtmlEscape("Rp 1.000.000 \xE2\x9C\x93"), "Rp 1.000.000 \xE2\x9C\x93");  // UTF-8 kept
  EXPECT_EQ(HtmlEscape(""), "");
}

}  // namespace
}  // namespace sinyal
