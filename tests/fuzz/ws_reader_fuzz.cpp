// libFuzzer target: the WebSocket frame reader (protocol/ws_codec.hpp) must never crash, hang
// or read past its input, whatever the bytes and however they are split; a failure always
// names a close code, and a text event is always valid UTF-8 within the message limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "protocol/ws_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  // The first byte chooses how the rest arrives: in steps of 1 … 256 bytes.
  size_t step = static_cast<size_t>(data[0]) + 1;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  size_t total = size - 1;
  constexpr size_t limit = 4096;
  parley::ws_reader reader{limit};
  size_t available = 0;
  size_t pos = 0;
  while (available < total) {
    available = std::min(total, available + step);
    while (true) {
      size_t used = 0;
      auto e = reader.next(bytes + pos, available - pos, used);
      if (used > available - pos)
        __builtin_trap();
      pos += used;
      if (e.what == parley::ws_event::kind::fail && (e.code < 1000 || e.payload.empty()))
        __builtin_trap();
      if (e.what == parley::ws_event::kind::text
          && (e.payload.size() > limit || !parley::valid_utf8(e.payload)))
        __builtin_trap();
      if (e.what == parley::ws_event::kind::fail || e.what == parley::ws_event::kind::close)
        return 0;
      if (e.what == parley::ws_event::kind::need_more && used == 0)
        break;
    }
  }
  return 0;
}
