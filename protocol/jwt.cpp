#include "protocol/jwt.hpp"

#include <array>
#include <limits>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "protocol/json_parse.hpp"

namespace parley {

namespace {

constexpr char b64url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
    out += b64url_alphabet[v & 63];
  }
  // RFC 7515 section 2: base64url without padding.
  if (in.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
  } else if (in.size() - i == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
  }
  return out;
}

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/// Strict unpadded base64url: only the URL alphabet, no '=', and zero unused trailing bits, so
/// every byte string has exactly one accepted encoding.
std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64url_value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  static const unsigned char empty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&empty) : key.data();
  const unsigned char* data_ptr =
    data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), md.data(),
           &len)
      == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

/// The JSON integer in `j` if it fits int64 (`exp` is a NumericDate in whole seconds here).
std::optional<int64_t> as_int64(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(v);
    return std::nullopt;
  }
  if (j.is_number_integer())
    return j.get<int64_t>();
  return std::nullopt;
}

/// now > exp + leeway, without overflowing on extreme values.
bool is_expired(int64_t now, int64_t exp, int64_t leeway) {
  if (leeway < 0)
    leeway = 0;
  if (exp > std::numeric_limits<int64_t>::max() - leeway)
    return false;
  return now > exp + leeway;
}

std::variant<jwt_claims, jwt_error> verify(std::string_view token, std::string_view secret,
                                           int64_t now_s, int64_t leeway_s) {
  auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos)
    return jwt_error::malformed;
  auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return jwt_error::malformed;
  auto header_b64 = token.substr(0, dot1);
  auto payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  auto signature_b64 = token.substr(dot2 + 1);

  auto header_text = base64url_decode(header_b64);
  if (!header_text)
    return jwt_error::malformed;
  auto header = parse_json_limited(*header_text);
  if (!header || !header->is_object())
    return jwt_error::malformed;
  // RFC 8725 section 3.1: trust only the one algorithm we issue; "none" and others are refused.
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256")
    return jwt_error::bad_alg;

  auto signature = base64url_decode(signature_b64);
  if (!signature)
    return jwt_error::malformed;
  auto expected = hmac_sha256(secret, token.substr(0, dot2));
  if (expected.empty() || !constant_time_equal(*signature, expected))
    return jwt_error::bad_signature;

  // The payload is trusted only from here on: it carries a valid signature.
  auto payload_text = base64url_decode(payload_b64);
  if (!payload_text)
    return jwt_error::malformed;
  auto payload = parse_json_limited(*payload_text);
  if (!payload || !payload->is_object())
    return jwt_error::malformed;

  jwt_claims claims;
  auto exp_it = payload->find("exp");
  if (exp_it == payload->end())
    return jwt_error::missing_exp;
  auto exp = as_int64(*exp_it);
  if (!exp)
    return jwt_error::missing_exp;
  claims.exp = *exp;
  if (is_expired(now_s, claims.exp, leeway_s))
    return jwt_error::expired;

  auto sub_it = payload->find("sub");
  auto wid_it = payload->find("wid");
  if (sub_it == payload->end() || !sub_it->is_string() || wid_it == payload->end()
      || !wid_it->is_string())
    return jwt_error::bad_claims;
  auto user = user_id::parse(sub_it->get_ref<const std::string&>());
  auto workspace = workspace_id::parse(wid_it->get_ref<const std::string&>());
  if (!user || !workspace)
    return jwt_error::bad_claims;
  claims.user = *user;
  claims.workspace = *workspace;
  return claims;
}

} // namespace

std::string_view to_string(jwt_error e) {
  switch (e) {
    case jwt_error::malformed:
      return "malformed";
    case jwt_error::bad_alg:
      return "bad_alg";
    case jwt_error::bad_signature:
      return "bad_signature";
    case jwt_error::missing_exp:
      return "missing_exp";
    case jwt_error::expired:
      return "expired";
    case jwt_error::bad_claims:
      return "bad_claims";
  }
  return "malformed";
}

std::string jwt_sign(const jwt_claims& claims, std::string_view secret) {
  nlohmann::ordered_json payload = nlohmann::ordered_json::object();
  payload["sub"] = claims.user.str();
  payload["wid"] = claims.workspace.str();
  payload["exp"] = claims.exp;
  std::string signing_input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  signing_input += '.';
  signing_input += base64url_encode(payload.dump());
  auto mac = hmac_sha256(secret, signing_input);
  if (mac.empty())
    throw std::runtime_error("jwt_sign: HMAC-SHA256 failed");
  return signing_input + '.' + base64url_encode(mac);
}

std::variant<jwt_claims, jwt_error> jwt_verify(std::string_view token, std::string_view secret,
                                               int64_t now_s, int64_t leeway_s) {
  try {
    return verify(token, secret, now_s, leeway_s);
  } catch (...) {
    // Tokens are untrusted input: nothing escapes as an exception (bad_alloc included).
    return jwt_error::malformed;
  }
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Only the length may leak; the bytes are compared in time independent of their content.
  if (a.size() != b.size())
    return false;
  if (a.empty())
    return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_hex(size_t bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string raw(bytes, '\0');
  if (bytes > 0
      && RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    // Without a working CSPRNG no secret or session id can be trusted: fail loudly.
    throw std::runtime_error("random_hex: RAND_bytes failed");
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace parley
