// The server side of RFC 6455 framing (protocol/ws_codec.hpp): client frames are built by hand
// here, masked as a browser masks them.

#include <catch2/catch.hpp>

#include <string>

#include "protocol/close_code.hpp"
#include "protocol/ws_codec.hpp"

using namespace parley;
using kind = ws_event::kind;

namespace {

/// A client frame: masked with a fixed key, FIN as given.
std::string client_frame(uint8_t opcode, const std::string& payload, bool fin = true,
                         bool masked = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  auto mask_bit = static_cast<uint8_t>(masked ? 0x80 : 0);
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() <= 0xFFFF) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i)
      f += static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (masked)
    f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

/// Feeds `bytes` to `r` and returns the first event that is not need_more (or need_more).
ws_event read_one(ws_reader& r, const std::string& bytes, size_t* consumed = nullptr) {
  size_t pos = 0;
  while (true) {
    size_t used = 0;
    auto e = r.next(bytes.data() + pos, bytes.size() - pos, used);
    pos += used;
    if (e.what != kind::need_more || used == 0) {
      if (consumed)
        *consumed = pos;
      return e;
    }
  }
}

} // namespace

TEST_CASE("ws_reader: a masked text frame is one text event, byte by byte too", "[ws]") {
  ws_reader r{1024};
  auto frame = client_frame(0x1, R"({"type":"ping"})");
  size_t used = 0;
  auto e = read_one(r, frame, &used);
  CHECK(e.what == kind::text);
  CHECK(e.payload == R"({"type":"ping"})");
  CHECK(used == frame.size());
  // Every prefix is incomplete and consumes nothing.
  ws_reader partial{1024};
  for (size_t n = 0; n < frame.size(); ++n) {
    size_t u = 99;
    CHECK(partial.next(frame.data(), n, u).what == kind::need_more);
    CHECK(u == 0);
  }
}

TEST_CASE("ws_reader: 16-bit and 64-bit lengths", "[ws]") {
  ws_reader r{100000};
  std::string medium(300, 'm'), large(70000, 'l');
  CHECK(read_one(r, client_frame(0x1, medium)).payload == medium);
  CHECK(read_one(r, client_frame(0x1, large)).payload == large);
}

TEST_CASE("ws_reader: fragments are reassembled with control frames in between", "[ws]") {
  ws_reader r{1024};
  auto bytes = client_frame(0x1, "hel", false) + client_frame(0x9, "p1")
               + client_frame(0x0, "lo ", false) + client_frame(0xA, "")
               + client_frame(0x0, "world");
  size_t pos = 0;
  std::vector<ws_event> events;
  while (pos < bytes.size()) {
    size_t used = 0;
    auto e = r.next(bytes.data() + pos, bytes.size() - pos, used);
    REQUIRE(used > 0);
    pos += used;
    if (e.what != kind::need_more)
      events.push_back(e);
  }
  REQUIRE(events.size() == 3);
  CHECK(events[0].what == kind::ping);
  CHECK(events[0].payload == "p1");
  CHECK(events[1].what == kind::pong);
  CHECK(events[2].what == kind::text);
  CHECK(events[2].payload == "hello world");
}

TEST_CASE("ws_reader: close frames carry the client's code and reason", "[ws]") {
  ws_reader r{1024};
  auto e = read_one(r, client_frame(0x8, std::string("\x03\xe8", 2) + "bye"));
  CHECK(e.what == kind::close);
  CHECK(e.code == 1000);
  CHECK(e.payload == "bye");
  ws_reader empty{1024};
  CHECK(read_one(empty, client_frame(0x8, "")).code == close_code::no_status);
}

TEST_CASE("ws_reader: violations fail with the close code the RFC asks for", "[ws]") {
  auto fails_with = [](const std::string& bytes, uint16_t code, size_t limit = 1024) {
    ws_reader r{limit};
    auto e = read_one(r, bytes);
    INFO("expected " << code << ", got kind " << static_cast<int>(e.what) << " " << e.code);
    CHECK(e.what == kind::fail);
    CHECK(e.code == code);
    CHECK_FALSE(e.payload.empty());
    // Nothing is parsed after a failure.
    size_t used = 0;
    CHECK(r.next(bytes.data(), bytes.size(), used).what == kind::need_more);
  };
  fails_with(client_frame(0x1, "hi", true, false), close_code::protocol_error); // unmasked
  fails_with(std::string(1, '\xC1') + client_frame(0x1, "hi").substr(1),
             close_code::protocol_error);                                  // RSV1
  fails_with(client_frame(0x3, "x"), close_code::protocol_error);         // reserved opcode
  fails_with(client_frame(0xB, "x"), close_code::protocol_error);         // reserved control
  fails_with(client_frame(0x9, "x", false), close_code::protocol_error);  // fragmented ping
  fails_with(client_frame(0x9, std::string(126, 'p')), close_code::protocol_error); // long ping
  fails_with(client_frame(0x0, "x"), close_code::protocol_error); // continuation, no message
  fails_with(client_frame(0x1, "a", false) + client_frame(0x1, "b"),
             close_code::protocol_error);                          // a new message inside one
  fails_with(client_frame(0x2, "\x01\x02"), close_code::unsupported);       // binary
  fails_with(client_frame(0x1, "\xff\xfe"), close_code::bad_payload);       // not UTF-8
  fails_with(client_frame(0x8, "\x03"), close_code::protocol_error);        // 1-byte close
  fails_with(client_frame(0x8, std::string("\x03\xed", 2)), close_code::protocol_error); // 1005
  fails_with(client_frame(0x1, std::string(2000, 'x')), close_code::too_big);
  fails_with(client_frame(0x1, std::string(600, 'x'), false)
               + client_frame(0x0, std::string(600, 'x')),
             close_code::too_big); // the reassembled message counts
}

TEST_CASE("ws_reader: a message over the limit fails from its header, before its bytes arrive",
          "[ws]") {
  ws_reader r{64 * 1024};
  std::string header = client_frame(0x1, std::string(100000, 'x')).substr(0, 14);
  size_t used = 0;
  auto e = r.next(header.data(), header.size(), used);
  CHECK(e.what == kind::fail);
  CHECK(e.code == close_code::too_big);
}

TEST_CASE("server frames: header sizes and the close payload", "[ws]") {
  std::array<char, 10> h{};
  CHECK(ws_frame_header(ws_opcode::text, 125, h) == 2);
  CHECK(static_cast<uint8_t>(h[0]) == 0x81);
  CHECK(static_cast<uint8_t>(h[1]) == 125);
  CHECK(ws_frame_header(ws_opcode::text, 126, h) == 4);
  CHECK(static_cast<uint8_t>(h[1]) == 126);
  CHECK(ws_frame_header(ws_opcode::text, 70000, h) == 10);
  CHECK(static_cast<uint8_t>(h[1]) == 127);
  CHECK(ws_frame(ws_opcode::pong, "ab") == std::string("\x8a\x02" "ab", 4));
  auto close = ws_close_payload(1009, std::string(200, 'r'));
  CHECK(close.size() == 125);
  CHECK(close.substr(0, 2) == std::string("\x03\xf1", 2));
  // A reason is not cut inside a UTF-8 sequence.
  auto utf8 = ws_close_payload(1000, std::string(122, 'a') + "\xc3\xa9\xc3\xa9");
  CHECK(valid_utf8(utf8.substr(2)));
  CHECK(utf8.size() == 2 + 122); // the first é does not fit whole
}

TEST_CASE("the accept key of RFC 6455's example", "[ws]") {
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("valid_utf8 accepts UTF-8 and refuses overlongs, surrogates and truncation", "[ws]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));     // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xe2\x82"));         // truncated
  CHECK_FALSE(valid_utf8("\x80"));             // stray continuation
}
