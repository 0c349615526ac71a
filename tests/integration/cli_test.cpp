// The `parley` CLI against a real node: token, channel create, send, tail and its errors.

#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "tests/support/help_text.hpp"

#include "protocol/jwt.hpp"
#include "tests/integration/node_process.hpp"

using namespace parley::test;

TEST_CASE("the parley CLI mints tokens, creates channels, sends and tails",
          "[integration][cli]") {
  auto tok = run_cli("PARLEY_JWT_SECRET=" + test_jwt_secret,
                     "token --user U7 --workspace W1 --ttl 30m");
  REQUIRE(tok.status == 0);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto verified = parley::jwt_verify(tok.out, test_jwt_secret, now);
  REQUIRE(std::holds_alternative<parley::jwt_claims>(verified));
  auto claims = std::get<parley::jwt_claims>(verified);
  CHECK(claims.user.str() == "U7");
  CHECK(claims.workspace.str() == "W1");
  CHECK(claims.exp >= now + 1790);
  CHECK(claims.exp <= now + 1810);

  node_process node;
  auto admin = "PARLEY_ADMIN_TOKEN=" + test_admin_token;
  auto node_flag = " --node " + node.base_url();
  auto created =
    run_cli(admin, "channel create" + node_flag + " --workspace W1 --name general --members U7,U8");
  INFO(created.out);
  REQUIRE(created.status == 0);
  auto channel = created.out;
  REQUIRE(parley::channel_id::parse(channel));

  auto added = run_cli(admin, "channel add-members" + node_flag + " --channel " + channel +
                                  " --users U9");
  INFO(added.out);
  REQUIRE(added.status == 0);

  auto sent = run_cli("", "send" + node_flag + " --token " + tok.out + " --channel " + channel +
                              " --text 'hello there' --client-msg-id cli-1");
  INFO(sent.out);
  REQUIRE(sent.status == 0);
  CHECK(sent.out.rfind(channel + " seq 1 ts ", 0) == 0);

  auto u9 = node_process::token("U9");
  auto tail = run_cli("", "tail" + node_flag + " --token " + u9 + " --workspace W1 --channel " +
                              channel + " --count 1");
  INFO(tail.out);
  REQUIRE(tail.status == 0);
  CHECK(tail.out == "[1] U7: hello there");

  // Errors: one line on stderr, non-zero exit, with the server's code.
  auto outsider = node_process::token("U5");
  auto refused = run_cli("", "send" + node_flag + " --token " + outsider + " --channel " +
                                 channel + " --text nope");
  CHECK(refused.status != 0);
  CHECK(refused.out.rfind("parley: ", 0) == 0);
  CHECK(refused.out.find("not_in_channel") != std::string::npos);
  CHECK(refused.out.find('\n') == std::string::npos);

  auto bad_id = run_cli("", "send" + node_flag + " --token x --channel C01 --text hi");
  CHECK(bad_id.status != 0);
  CHECK(bad_id.out.rfind("parley: ", 0) == 0);

  auto unreachable = run_cli("", "send --node http://127.0.0.1:1 --token x --channel C1 --text hi");
  CHECK(unreachable.status != 0);
  CHECK(unreachable.out.rfind("parley: ", 0) == 0);

  auto unknown = run_cli("", "frobnicate");
  CHECK(unknown.status != 0);
  CHECK(unknown.out.rfind("parley: ", 0) == 0);

  auto help = run_cli("", "--help");
  CHECK(help.status == 0);
  CHECK(help.out.find("usage: parley") != std::string::npos);
}

TEST_CASE("parley --help describes every flag; a bad flag is one line naming it",
          "[integration][cli]") {
  auto help = run_cli("", "help");
  REQUIRE(help.status == 0);
  for (auto synopsis : {"parley token --user U7 --workspace W1 [--ttl TTL] [--secret S]",
                        "parley send --token JWT --channel C1 --text TEXT [--client-msg-id ID]",
                        "parley channel create", "parley channel add-members", "parley tail",
                        "parley inspect"})
    CHECK(help.out.find(synopsis) != std::string::npos);
  // Every flag line has a description beside it.
  auto flags = parley::test::described_options(help.out);
  CHECK(flags >= 20); // 28 today: the lines above were found

  const std::vector<std::pair<std::string, std::string>> bad = {
    {"token --user U7", "parley: 'token' needs --workspace"},
    {"token --user X7 --workspace W1", "parley: bad --user 'X7' (expected U<number>, e.g. U1)"},
    {"token --user U7 --workspace W1 --ttl 5x",
     "parley: bad --ttl '5x' (expected e.g. 1h, 30m, 3600s)"},
    {"token --user U7 --workspace W1 --node http://127.0.0.1:1",
     "parley: unknown flag --node for 'token' (see parley help)"},
    {"tail --token T --workspace W1 --channel C1 --count=-1",
     "parley: bad --count '-1' (expected a non-negative integer)"},
    {"channel create --workspace W1 --name g --members U1,x",
     "parley: bad --members 'U1,x' (expected user ids like U1,U2)"},
    {"send --token T --chan C1 --text hi",
     "parley: unknown flag --chan for 'send' (see parley help)"},
    {"send --token T --channel C1 --text hi stray",
     "parley: unexpected argument 'stray' for 'send' (see parley help)"},
  };
  for (auto& [args, message] : bad) {
    auto r = run_cli("PARLEY_JWT_SECRET=s", args);
    INFO(args);
    CHECK(r.status == 1);
    CHECK(r.out == message);
  }
}
