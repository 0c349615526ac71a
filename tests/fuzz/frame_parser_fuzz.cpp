// libFuzzer target: the WebSocket frame parser must never crash, hang or throw, and every
// refusal must render as an error frame.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocol/client_frame.hpp"
#include "protocol/server_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = parley::parse_client_frame(text);
  if (auto err = std::get_if<parley::frame_error>(&result)) {
    auto frame = parley::encode_error(*err);
    if (frame.empty())
      __builtin_trap();
  } else if (auto ping = std::get_if<parley::ping_frame>(&std::get<parley::client_frame>(result))) {
    (void) parley::encode_pong(ping->ts_json);
  }
  return 0;
}
