#include "protocol/ws_codec.hpp"

#include <algorithm>

#include <openssl/evp.h>

#include "protocol/close_code.hpp"

namespace parley {

namespace {

constexpr size_t max_control_payload = 125;

bool is_control(uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

/// Close codes a client may send (RFC 6455 section 7.4; 1012-1014 registered since).
bool valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
         || (code >= 3000 && code <= 4999);
}

uint64_t read_be(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

ws_event ws_reader::fail(uint16_t code, std::string reason) {
  failed_ = true;
  message_.clear();
  message_.shrink_to_fit();
  ws_event e;
  e.what = ws_event::kind::fail;
  e.code = code;
  e.payload = std::move(reason);
  return e;
}

ws_event ws_reader::next(const char* data, size_t size, size_t& used) {
  used = 0;
  if (failed_ || size < 2)
    return {};
  auto* p = reinterpret_cast<const unsigned char*>(data);
  bool fin = (p[0] & 0x80) != 0;
  uint8_t opcode = p[0] & 0x0F;
  if ((p[0] & 0x70) != 0)
    return fail(close_code::protocol_error, "reserved bits set");
  if ((p[1] & 0x80) == 0)
    return fail(close_code::protocol_error, "client frames must be masked");
  uint64_t len = p[1] & 0x7F;
  size_t header = 2;
  if (len == 126) {
    header = 4;
    if (size < header)
      return {};
    len = read_be(p + 2, 2);
  } else if (len == 127) {
    header = 10;
    if (size < header)
      return {};
    len = read_be(p + 2, 8);
    if (len >> 63)
      return fail(close_code::protocol_error, "frame length out of range");
  }
  if (is_control(opcode)) {
    if (!fin || len > max_control_payload)
      return fail(close_code::protocol_error, "control frames must be final and short");
    if (opcode != static_cast<uint8_t>(ws_opcode::close)
        && opcode != static_cast<uint8_t>(ws_opcode::ping)
        && opcode != static_cast<uint8_t>(ws_opcode::pong))
      return fail(close_code::protocol_error, "unknown opcode");
  } else if (opcode == static_cast<uint8_t>(ws_opcode::binary)) {
    return fail(close_code::unsupported, "binary frames are not supported");
  } else if (opcode == static_cast<uint8_t>(ws_opcode::text)) {
    if (in_message_)
      return fail(close_code::protocol_error, "a new message began inside a fragmented one");
  } else if (opcode == static_cast<uint8_t>(ws_opcode::continuation)) {
    if (!in_message_)
      return fail(close_code::protocol_error, "continuation without a message");
  } else {
    return fail(close_code::protocol_error, "unknown opcode");
  }
  // Refused from the header alone, before the bytes are buffered.
  if (!is_control(opcode) && len > max_message_ - std::min(max_message_, message_.size()))
    return fail(close_code::too_big, "message too big");
  header += 4; // the mask key
  if (size < header || size - header < len)
    return {};
  const unsigned char* mask = p + header - 4;
  const unsigned char* payload = p + header;
  used = header + static_cast<size_t>(len);

  std::string unmasked(static_cast<size_t>(len), '\0');
  for (size_t i = 0; i < len; ++i)
    unmasked[i] = static_cast<char>(payload[i] ^ mask[i % 4]);

  ws_event e;
  switch (static_cast<ws_opcode>(opcode)) {
    case ws_opcode::ping:
      e.what = ws_event::kind::ping;
      e.payload = std::move(unmasked);
      return e;
    case ws_opcode::pong:
      e.what = ws_event::kind::pong;
      e.payload = std::move(unmasked);
      return e;
    case ws_opcode::close:
      if (unmasked.size() == 1)
        return fail(close_code::protocol_error, "close frame with a one-byte payload");
      e.what = ws_event::kind::close;
      e.code = close_code::no_status;
      if (unmasked.size() >= 2) {
        auto* code = reinterpret_cast<const unsigned char*>(unmasked.data());
        e.code = static_cast<uint16_t>(read_be(code, 2));
        if (!valid_close_code(e.code))
          return fail(close_code::protocol_error, "invalid close code");
        e.payload = unmasked.substr(2);
        if (!valid_utf8(e.payload))
          return fail(close_code::bad_payload, "close reason is not UTF-8");
      }
      failed_ = true; // nothing after a close is read
      return e;
    default:
      break;
  }
  if (!fin) {
    in_message_ = true;
    message_ += unmasked;
    return e; // need_more, with bytes consumed
  }
  if (in_message_) {
    message_ += unmasked;
    unmasked.swap(message_);
    message_.clear();
    message_.shrink_to_fit(); // a large message's buffer is not kept
    in_message_ = false;
  }
  if (!valid_utf8(unmasked))
    return fail(close_code::bad_payload, "text is not UTF-8");
  e.what = ws_event::kind::text;
  e.payload = std::move(unmasked);
  return e;
}

size_t ws_frame_header(ws_opcode op, size_t payload_size, std::array<char, 10>& out) {
  out[0] = static_cast<char>(0x80 | static_cast<uint8_t>(op));
  if (payload_size < 126) {
    out[1] = static_cast<char>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<char>(payload_size >> 8);
    out[3] = static_cast<char>(payload_size & 0xFF);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<char>((static_cast<uint64_t>(payload_size) >> (56 - 8 * i)) & 0xFF);
  return 10;
}

std::string ws_frame(ws_opcode op, std::string_view payload) {
  std::array<char, 10> header{};
  auto n = ws_frame_header(op, payload.size(), header);
  std::string frame(header.data(), n);
  frame.append(payload);
  return frame;
}

std::string ws_close_payload(uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  reason = reason.substr(0, max_control_payload - 2);
  // Not cut inside a UTF-8 sequence.
  while (!reason.empty() && !valid_utf8(reason))
    reason.remove_suffix(1);
  payload.append(reason);
  return payload;
}

std::string ws_accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input.append(guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
  std::string out(4 * ((digest_len + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest,
                           static_cast<int>(digest_len));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool valid_utf8(std::string_view text) {
  auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += len;
  }
  return true;
}

} // namespace parley
