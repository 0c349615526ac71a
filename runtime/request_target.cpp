#include "runtime/request_target.hpp"

namespace parley {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

} // namespace

request_target parse_target(std::string_view target) {
  request_target t;
  auto q = target.find('?');
  auto raw_path = target.substr(0, q);
  t.path = decode(raw_path, false);
  size_t pos = 0;
  while (pos < raw_path.size()) {
    auto next = raw_path.find('/', pos);
    if (next == std::string_view::npos)
      next = raw_path.size();
    if (next > pos)
      t.segments.push_back(decode(raw_path.substr(pos, next - pos), false));
    pos = next + 1;
  }
  if (q != std::string_view::npos) {
    auto query = target.substr(q + 1);
    size_t p = 0;
    while (p <= query.size()) {
      auto amp = query.find('&', p);
      if (amp == std::string_view::npos)
        amp = query.size();
      auto pair = query.substr(p, amp - p);
      if (!pair.empty()) {
        auto eq = pair.find('=');
        auto key = decode(pair.substr(0, eq), true);
        auto value =
          eq == std::string_view::npos ? std::string{} : decode(pair.substr(eq + 1), true);
        t.query.emplace(std::move(key), std::move(value)); // the first occurrence wins
      }
      p = amp + 1;
    }
  }
  return t;
}

std::string bearer_token(const boost::beast::http::request<boost::beast::http::string_body>& req) {
  auto h = req[boost::beast::http::field::authorization];
  constexpr std::string_view prefix = "Bearer ";
  if (h.size() <= prefix.size() || std::string_view(h.data(), prefix.size()) != prefix)
    return {};
  return std::string(h.substr(prefix.size()));
}

} // namespace parley
