#pragma once

// The server side of RFC 6455 framing (docs/protocol.md "Connect and authenticate", "Limits"):
// a lean codec over the raw socket so a connection's queued frames leave in one gathered
// write (docs/architecture.md "Connection"). No extensions are negotiated, so the RSV bits
// are always zero. Pure code: no sockets, fuzzed by tests/fuzz/ws_reader_fuzz.cpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley {

/// WebSocket opcodes (RFC 6455 section 5.2).
enum class ws_opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// One thing read from a client: a whole text message, a control frame, or a violation that
/// ends the connection with `code` (and the reason to send with it).
struct ws_event {
  enum class kind { need_more, text, ping, pong, close, fail };
  kind what = kind::need_more;
  std::string payload; // text: the message; ping/pong: the payload; close/fail: the reason
  uint16_t code = 0;   // close: the client's code (1005 if it sent none); fail: ours to send
};

/// Reads client frames incrementally: masked, possibly fragmented text messages with control
/// frames in between. Refuses (kind::fail) unmasked frames, RSV bits, unknown opcodes,
/// fragmented or long control frames, binary messages (1003), messages over the limit
/// (1009, checked from the length header before buffering) and invalid UTF-8 (1007).
class ws_reader {
public:
  explicit ws_reader(size_t max_message_bytes) : max_message_(max_message_bytes) {}

  /// Parses at most one frame from `data` and sets `used` to the bytes it consumed (0 when
  /// the frame is not complete yet: call again with more). After a `fail` nothing more is
  /// parsed.
  ws_event next(const char* data, size_t size, size_t& used);

private:
  ws_event fail(uint16_t code, std::string reason);

  size_t max_message_;
  bool in_message_ = false; // a fragmented text message is being reassembled
  bool failed_ = false;
  std::string message_;
};

/// The header of one unmasked, final server frame with `payload_size` bytes: 2, 4 or 10 bytes
/// written to `out`, the count returned.
size_t ws_frame_header(ws_opcode op, size_t payload_size, std::array<char, 10>& out);

/// A whole server frame (header and payload), for control frames and tests.
std::string ws_frame(ws_opcode op, std::string_view payload);

/// The payload of a close frame: the code, big-endian, and the reason cut to fit 125 bytes.
std::string ws_close_payload(uint16_t code, std::string_view reason);

/// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key (RFC 6455 section 4.2.2).
std::string ws_accept_key(std::string_view client_key);

/// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text);

} // namespace parley
