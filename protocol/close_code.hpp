#pragma once

#include <cstdint>

namespace parley {

/// WebSocket close codes Parley sends (RFC 6455 section 7.4.1, plus 4001 for an expired
/// token; docs/protocol.md "Close codes").
namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;      // 30 s of silence
constexpr uint16_t protocol_error = 1002;  // a frame that breaks RFC 6455
constexpr uint16_t unsupported = 1003;     // binary frame
constexpr uint16_t no_status = 1005;       // a close frame without a code (never sent)
constexpr uint16_t bad_payload = 1007;     // invalid UTF-8
constexpr uint16_t policy = 1008;          // no hello within 10 s
constexpr uint16_t too_big = 1009;         // message over 64 KiB
constexpr uint16_t internal = 1011;
constexpr uint16_t try_later = 1013;       // control frames over 4 MiB queued
constexpr uint16_t token_expired = 4001;
} // namespace close_code

} // namespace parley
