#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <set>
#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/jwt.hpp"

using namespace parley;

namespace {

constexpr int64_t now = 1700000000;
const std::string secret = "test-secret";

// Independent base64url and HMAC for crafting tokens the library would never mint.
std::string b64url(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += a[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    out += a[(acc << (6 - bits)) & 63];
  return out;
}

std::string b64url_decode(const std::string& in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string mac(const EVP_MD* md, const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

/// A token with arbitrary header and payload JSON, signed with HS256 unless told otherwise.
std::string craft(const std::string& header, const std::string& payload,
                  const std::string& key = secret, const EVP_MD* md = EVP_sha256()) {
  auto input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(mac(md, key, input));
}

const std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string payload(const std::string& sub, const std::string& wid, int64_t exp) {
  return R"({"sub":")" + sub + R"(","wid":")" + wid + R"(","exp":)" + std::to_string(exp) + "}";
}

jwt_error error_of(const std::string& token, int64_t at = now, int64_t leeway = jwt_leeway_s) {
  INFO("token: " << token);
  auto r = jwt_verify(token, secret, at, leeway);
  REQUIRE(std::holds_alternative<jwt_error>(r));
  return std::get<jwt_error>(r);
}

jwt_claims claims_of(const std::string& token, int64_t at = now, int64_t leeway = jwt_leeway_s) {
  INFO("token: " << token);
  auto r = jwt_verify(token, secret, at, leeway);
  if (auto* e = std::get_if<jwt_error>(&r))
    FAIL("unexpected jwt error " << to_string(*e));
  return std::get<jwt_claims>(r);
}

std::string sign_default() {
  return jwt_sign(jwt_claims{user_id{7}, workspace_id{1}, now + 3600}, secret);
}

} // namespace

TEST_CASE("jwt round-trips sub, wid and exp", "[protocol][jwt]") {
  auto c = claims_of(sign_default());
  CHECK(c.user == user_id{7});
  CHECK(c.workspace == workspace_id{1});
  CHECK(c.exp == now + 3600);
}

TEST_CASE("jwt_sign emits an HS256 header and unpadded base64url parts", "[protocol][jwt]") {
  auto token = sign_default();
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 + 1);
  REQUIRE(d2 != std::string::npos);
  CHECK(token.find('.', d2 + 1) == std::string::npos);
  CHECK(token.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        == std::string::npos);
  CHECK(b64url_decode(token.substr(0, d1)) == hs256);
  CHECK(b64url_decode(token.substr(d1 + 1, d2 - d1 - 1))
        == R"({"sub":"U7","wid":"W1","exp":1700003600})");
  CHECK(token.size() - d2 - 1 == 43); // 32 bytes of HMAC-SHA256
}

TEST_CASE("jwt_sign matches an independently computed HS256 signature", "[protocol][jwt]") {
  CHECK(sign_default() == craft(hs256, R"({"sub":"U7","wid":"W1","exp":1700003600})"));
}

TEST_CASE("jwt verifies the signature of the published jwt.io HS256 example", "[protocol][jwt]") {
  // The widely published HS256 example: valid signature, but no exp.
  const std::string token =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  auto ok_key = jwt_verify(token, "your-256-bit-secret", now);
  REQUIRE(std::holds_alternative<jwt_error>(ok_key));
  CHECK(std::get<jwt_error>(ok_key) == jwt_error::missing_exp);
  auto wrong_key = jwt_verify(token, "another-secret", now);
  REQUIRE(std::holds_alternative<jwt_error>(wrong_key));
  CHECK(std::get<jwt_error>(wrong_key) == jwt_error::bad_signature);
}

TEST_CASE("jwt with the wrong secret is bad_signature", "[protocol][jwt]") {
  auto token = jwt_sign(jwt_claims{user_id{7}, workspace_id{1}, now + 60}, "other-secret");
  CHECK(error_of(token) == jwt_error::bad_signature);
  auto empty_key = jwt_sign(jwt_claims{user_id{7}, workspace_id{1}, now + 60}, "");
  CHECK(error_of(empty_key) == jwt_error::bad_signature);
  auto r = jwt_verify(empty_key, "", now);
  CHECK(std::holds_alternative<jwt_claims>(r));
}

TEST_CASE("jwt with alg none is bad_alg", "[protocol][jwt]") {
  auto body = b64url(payload("U7", "W1", now + 60));
  CHECK(error_of(b64url(R"({"alg":"none","typ":"JWT"})") + "." + body + ".") == jwt_error::bad_alg);
  CHECK(error_of(b64url(R"({"alg":"none"})") + "." + body + "." + b64url("x"))
        == jwt_error::bad_alg);
  CHECK(error_of(craft(R"({"alg":"none"})", payload("U7", "W1", now + 60))) == jwt_error::bad_alg);
}

TEST_CASE("jwt with any alg other than HS256 is bad_alg", "[protocol][jwt]") {
  auto body = payload("U7", "W1", now + 60);
  CHECK(error_of(craft(R"({"alg":"HS512","typ":"JWT"})", body, secret, EVP_sha512()))
        == jwt_error::bad_alg);
  CHECK(error_of(craft(R"({"alg":"HS384"})", body, secret, EVP_sha384())) == jwt_error::bad_alg);
  for (const char* header : {R"({"alg":"hs256"})", R"({"alg":"HS256 "})", R"({"alg":"RS256"})",
                             R"({"alg":""})", R"({"alg":null})", R"({"alg":256})",
                             R"({"alg":["HS256"]})", R"({"typ":"JWT"})", R"({})"}) {
    INFO(header);
    CHECK(error_of(craft(header, body)) == jwt_error::bad_alg);
  }
}

TEST_CASE("jwt expired beyond the leeway is expired", "[protocol][jwt]") {
  auto token = craft(hs256, payload("U7", "W1", now - 31));
  CHECK(error_of(token) == jwt_error::expired);
  CHECK(error_of(craft(hs256, payload("U7", "W1", 0))) == jwt_error::expired);
  CHECK(error_of(craft(hs256, payload("U7", "W1", -5))) == jwt_error::expired);
}

TEST_CASE("jwt expired within the leeway is accepted", "[protocol][jwt]") {
  CHECK(claims_of(craft(hs256, payload("U7", "W1", now - 30))).exp == now - 30);
  CHECK(claims_of(craft(hs256, payload("U7", "W1", now - 1))).exp == now - 1);
  CHECK(claims_of(craft(hs256, payload("U7", "W1", now))).exp == now);
}

TEST_CASE("jwt honours a custom leeway", "[protocol][jwt]") {
  auto token = craft(hs256, payload("U7", "W1", now));
  CHECK(claims_of(token, now, 0).exp == now);
  CHECK(error_of(token, now + 1, 0) == jwt_error::expired);
  CHECK(claims_of(token, now + 300, 300).exp == now);
  CHECK(error_of(token, now + 301, 300) == jwt_error::expired);
}

TEST_CASE("jwt with an exp near the int64 limit does not overflow", "[protocol][jwt]") {
  auto max = std::numeric_limits<int64_t>::max();
  CHECK(claims_of(craft(hs256, payload("U7", "W1", max))).exp == max);
  CHECK(claims_of(craft(hs256, payload("U7", "W1", max - 10))).exp == max - 10);
  CHECK(error_of(craft(hs256, payload("U7", "W1", std::numeric_limits<int64_t>::min())))
        == jwt_error::expired);
}

TEST_CASE("jwt without an integer exp is missing_exp", "[protocol][jwt]") {
  for (const char* exp : {"", R"(,"exp":null)", R"(,"exp":"1700003600")", R"(,"exp":1700003600.5)",
                          R"(,"exp":1.7e9)", R"(,"exp":true)", R"(,"exp":[1700003600])",
                          R"(,"exp":{})", R"(,"exp":18446744073709551615)",
                          R"(,"exp":99999999999999999999)"}) {
    INFO(exp);
    CHECK(error_of(craft(hs256, std::string(R"({"sub":"U7","wid":"W1")") + exp + "}"))
          == jwt_error::missing_exp);
  }
}

TEST_CASE("jwt with a non-canonical sub or wid is bad_claims", "[protocol][jwt]") {
  auto exp = std::to_string(now + 60);
  for (std::string sub : {R"("7")", R"("U07")", R"("U0")", R"("W1")", R"("u7")", R"("")",
                          R"("U9223372036854775808")", "7", "null", R"(["U7"])"}) {
    INFO("sub " << sub);
    CHECK(error_of(craft(hs256, R"({"sub":)" + sub + R"(,"wid":"W1","exp":)" + exp + "}"))
          == jwt_error::bad_claims);
  }
  for (std::string wid : {R"("1")", R"("W01")", R"("W0")", R"("U1")", R"("w1")", "1", "null"}) {
    INFO("wid " << wid);
    CHECK(error_of(craft(hs256, R"({"sub":"U7","wid":)" + wid + R"(,"exp":)" + exp + "}"))
          == jwt_error::bad_claims);
  }
  CHECK(error_of(craft(hs256, R"({"wid":"W1","exp":)" + exp + "}")) == jwt_error::bad_claims);
  CHECK(error_of(craft(hs256, R"({"sub":"U7","exp":)" + exp + "}")) == jwt_error::bad_claims);
}

TEST_CASE("jwt with a tampered payload is bad_signature", "[protocol][jwt]") {
  auto token = sign_default();
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 + 1);
  auto forged = token.substr(0, d1 + 1) + b64url(payload("U1", "W1", now + 3600))
                + token.substr(d2);
  CHECK(error_of(forged) == jwt_error::bad_signature);
  auto longer_exp = token.substr(0, d1 + 1) + b64url(payload("U7", "W1", now + 999999))
                    + token.substr(d2);
  CHECK(error_of(longer_exp) == jwt_error::bad_signature);
}

TEST_CASE("jwt with a tampered header or signature is refused", "[protocol][jwt]") {
  auto token = sign_default();
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 + 1);
  // Same alg, different header bytes: the signature covers the header too.
  auto other_header = b64url(R"({"typ":"JWT","alg":"HS256"})") + token.substr(d1);
  CHECK(error_of(other_header) == jwt_error::bad_signature);
  auto sig = token.substr(d2 + 1);
  auto flipped = sig;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  CHECK(error_of(token.substr(0, d2 + 1) + flipped) == jwt_error::bad_signature);
  auto truncated = error_of(token.substr(0, d2 + 1) + sig.substr(0, 42));
  CHECK((truncated == jwt_error::bad_signature || truncated == jwt_error::malformed));
  CHECK(error_of(token.substr(0, d2 + 1) + sig.substr(0, 40)) == jwt_error::bad_signature);
  CHECK(error_of(token.substr(0, d2 + 1)) == jwt_error::bad_signature);
  // A second encoding of the same signature bytes (non-zero trailing bits) is not accepted.
  auto last = sig.back();
  auto alias = sig.substr(0, 42) + static_cast<char>(last == 'A' ? 'B' : last + 1);
  CHECK(
    std::holds_alternative<jwt_error>(jwt_verify(token.substr(0, d2 + 1) + alias, secret, now)));
}

TEST_CASE("garbage tokens are malformed", "[protocol][jwt]") {
  auto token = sign_default();
  for (std::string t : {std::string(""), std::string("abc"), std::string("a.b"),
                        std::string("a.b.c.d"), std::string(".."), std::string("..."),
                        std::string("!!!.@@@.###"), token + ".", "." + token, token + ".x",
                        std::string("Bearer ") + token, token + "=", token + " ",
                        std::string(10000, '.'), std::string(100000, 'A')}) {
    INFO("token: " << t.substr(0, 100));
    auto r = jwt_verify(t, secret, now);
    REQUIRE(std::holds_alternative<jwt_error>(r));
    CHECK(std::get<jwt_error>(r) == jwt_error::malformed);
  }
}

TEST_CASE("jwt whose header is not a JSON object is malformed", "[protocol][jwt]") {
  auto body = payload("U7", "W1", now + 60);
  for (const char* header : {"not json", "[]", R"("HS256")", "42", "", R"({"alg":"HS256")",
                             "{\"alg\":\"HS256\",\"x\":\"\xff\"}"}) {
    INFO(header);
    CHECK(error_of(craft(header, body)) == jwt_error::malformed);
  }
  std::string deep = R"({"alg":"HS256","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(error_of(craft(deep, body)) == jwt_error::malformed);
}

TEST_CASE("jwt with a validly signed payload that is not an object is malformed",
          "[protocol][jwt]") {
  for (const char* body : {"not json", "[]", "42", "", R"({"sub":"U7")"}) {
    INFO(body);
    CHECK(error_of(craft(hs256, body)) == jwt_error::malformed);
  }
}

TEST_CASE("jwt with padding or standard base64 characters is malformed", "[protocol][jwt]") {
  auto token = sign_default();
  auto d1 = token.find('.');
  CHECK(error_of(token.substr(0, d1) + "=" + token.substr(d1)) == jwt_error::malformed);
  auto plus = token;
  plus[2] = '+';
  CHECK(error_of(plus) == jwt_error::malformed);
  auto slash = token;
  slash[2] = '/';
  CHECK(error_of(slash) == jwt_error::malformed);
}

TEST_CASE("jwt_verify never throws on random input", "[protocol][jwt]") {
  std::mt19937 rng(7);
  auto token = sign_default();
  for (int i = 0; i < 5000; ++i) {
    std::string t = token;
    for (int k = 0; k < 3; ++k) {
      auto pos = rng() % t.size();
      t[pos] = static_cast<char>(rng() % 256);
    }
    std::variant<jwt_claims, jwt_error> r;
    REQUIRE_NOTHROW(r = jwt_verify(t, secret, now));
    // Three random byte changes must never yield a valid token.
    CHECK((std::holds_alternative<jwt_error>(r) || t == token));
  }
}

TEST_CASE("jwt errors have names", "[protocol][jwt]") {
  CHECK(to_string(jwt_error::malformed) == "malformed");
  CHECK(to_string(jwt_error::bad_alg) == "bad_alg");
  CHECK(to_string(jwt_error::bad_signature) == "bad_signature");
  CHECK(to_string(jwt_error::missing_exp) == "missing_exp");
  CHECK(to_string(jwt_error::expired) == "expired");
  CHECK(to_string(jwt_error::bad_claims) == "bad_claims");
}

TEST_CASE("constant_time_equal compares content and length", "[protocol][jwt]") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("admin-token", "admin-token"));
  CHECK_FALSE(constant_time_equal("admin-token", "admin-tokeN"));
  CHECK_FALSE(constant_time_equal("admin-token", "admin-token2"));
  CHECK_FALSE(constant_time_equal("admin-token", ""));
  CHECK_FALSE(constant_time_equal("", "x"));
  using namespace std::string_literals;
  CHECK_FALSE(constant_time_equal("a\0b"s, "a\0c"s));
}

TEST_CASE("random_hex returns fresh lower-case hex of twice the bytes", "[protocol][jwt]") {
  CHECK(random_hex(0).empty());
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto h = random_hex(16);
    CHECK(h.size() == 32);
    CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(h);
  }
  CHECK(seen.size() == 50);
  CHECK(random_hex(1).size() == 2);
}
