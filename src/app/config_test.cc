#include "app/config.h"

#include "core/testing/test_util.h"

namespace sinyal::app {
namespace {

TEST(ConfigTest, LayersFileThenEnvThenFlags) {
  Config c;
  ASSERT_OK(ApplyToml("[server]\nport = 9000\nhost = \"0.0.0.0\"\n[log]\naccess_log = false\n", "t.toml", c));
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_FALSE(c.log.access_log);
  ASSERT_OK(ApplyEnv({{"SINYAL_SERVER_PORT", "9100"}, {"SINYAL_DATA_DIR", "ignored"}}, c));
  EXPECT_EQ(c.server.port, 9100);
  ASSERT_OK(SetKey("server.port", "9200", c));
  EXPECT_EQ(c.server.port, 9200);
  ASSERT_OK(Finalize(c));
  EXPECT_EQ(c.database.url, "sqlite://var/sinyal.db");
}

TEST(ConfigTest, RejectsUnknownKeysWrongTypesAndRanges) {
  Config c;
  Status unknown = ApplyToml("[server]\nprot = 1\n", "t.toml", c);
  EXPECT_EQ(unknown.field(), "server.prot");
  EXPECT_EQ(ApplyToml("[nope]\nx = 1\n", "t.toml", c).field(), "nope.x");
  EXPECT_EQ(ApplyToml("[server]\nport = \"80\"\n", "t.toml", c).field(), "server.port");
  EXPECT_EQ(ApplyToml("[server]\nport = 70000\n", "t.toml", c).field(), "server.port");
  Status syntax = ApplyToml("[server\nport = 1\n", "t.toml", c);
  EXPECT_EQ(syntax.field(), "line 1");
  EXPECT_EQ(ApplyEnv({{"SINYAL_SERVER_PORT", "eighty"}}, c).field(), "SINYAL_SERVER_PORT");
  c.database.url = "mysql://x";
  EXPECT_EQ(Finalize(c).field(), "database.url");
  Config d;
  d.auth.jwt_secret = "short";
  EXPECT_EQ(Finalize(d).field(), "auth.jwt_secret");
}

TEST(ConfigTest, RedisUrlIsCheckedWithoutEchoingThePassword) {
  for (const char* bad : {"localhost:6379", "redis://u:hunter2@h:port", "rediss://h:6379", "redis://h/x"}) {
    Config c;
    c.redis.url = bad;
    Status s = Finalize(c);
    EXPECT_EQ(s.field(), "redis.url") << bad;
    EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  }
  Config ok;
  ok.redis.url = "redis://:pw@127.0.0.1:6380/1";
  EXPECT_OK(Finalize(ok));
}

}  // namespace
}  // namespace sinyal::app
