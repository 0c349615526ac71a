// The one mapping of actor errors to what a client is told (actors/errors.hpp), shared by the
// WebSocket connection and REST.

#include <catch2/catch.hpp>

#include <caf/sec.hpp>

#include "actors/errors.hpp"

using namespace parley;

TEST_CASE("a user is never told a channel does not exist; an admin is", "[actors][errors]") {
  auto missing = make_error(error_code::not_found);
  auto user = to_client_error(missing);
  CHECK(user.code == error_code::not_in_channel);
  CHECK(user.message == "not a member of this channel");
  CHECK(to_client_error(make_error(error_code::not_in_channel)).code
        == error_code::not_in_channel);
  auto admin = to_client_error(missing, asker::admin);
  CHECK(admin.code == error_code::not_found);
  CHECK(admin.message == "no such channel");
}

TEST_CASE("rate limits keep their code; everything else is unavailable", "[actors][errors]") {
  auto limited = to_client_error(make_error(error_code::rate_limited));
  CHECK(limited.code == error_code::rate_limited);
  CHECK(limited.message == "too many messages, slow down");
  // Timeouts and dead actors come as CAF errors, not protocol ones.
  auto timeout = to_client_error(caf::make_error(caf::sec::request_timeout));
  CHECK(timeout.code == error_code::unavailable);
  CHECK(timeout.message == "temporarily unavailable, retry later");
  // An admin call cannot be rate limited or refused for membership: unavailable.
  CHECK(to_client_error(make_error(error_code::rate_limited), asker::admin).code
        == error_code::unavailable);
  CHECK(to_client_error(make_error(error_code::unavailable)).code == error_code::unavailable);
}
