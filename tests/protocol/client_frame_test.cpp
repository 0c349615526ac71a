#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "protocol/client_frame.hpp"

using namespace parley;

namespace {

frame_error error_of(const std::string& text) {
  INFO("frame: " << text.substr(0, 200));
  auto r = parse_client_frame(text);
  REQUIRE(std::holds_alternative<frame_error>(r));
  auto e = std::get<frame_error>(r);
  CHECK_FALSE(e.message.empty());
  return e;
}

template <class T>
T frame_of(const std::string& text) {
  INFO("frame: " << text.substr(0, 200));
  auto r = parse_client_frame(text);
  if (auto* e = std::get_if<frame_error>(&r))
    FAIL("unexpected error " << to_string(e->code) << ": " << e->message);
  const auto& f = std::get<client_frame>(r);
  REQUIRE(std::holds_alternative<T>(f));
  return std::get<T>(f);
}

void require_bad_request(const std::string& text) {
  auto e = error_of(text);
  CHECK(e.code == error_code::bad_request);
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

std::string send_json(const std::string& channel, const std::string& text_json,
                      const std::string& id_json) {
  return R"({"type":"message.send","channel_id":)" + channel + R"(,"text":)" + text_json
         + R"(,"client_msg_id":)" + id_json + "}";
}

std::string json_str(const std::string& s) {
  return "\"" + s + "\"";
}

// Every JSON type but the ones a field accepts is a wrong type for it.
const char* const non_strings[] = {"null", "1", "1.5", "-1", "true", "false", "[]", "{}",
                                   R"(["C1"])", R"({"id":"C1"})"};
const char* const non_integers[] = {"null", "1.5", "1.0", "\"47\"", "true", "false",
                                    "[]", "{}", "[47]", "99999999999999999999"};

} // namespace

// --- framing -------------------------------------------------------------------------------

TEST_CASE("invalid JSON is a bad_request", "[protocol][frame]") {
  const char* inputs[] = {
    "",
    " ",
    "{",
    "}",
    "not json",
    R"({"type":"ping",})",
    R"({"type":"ping"} x)",
    R"({"type":"ping"}{"type":"ping"})",
    R"({"type":"ping" /* comment */})",
    R"({'type':'ping'})",
    R"({type:"ping"})",
    R"({"type":"ping","ts":NaN})",
    R"({"type":"ping","ts":Infinity})",
    R"({"type":"ping","ts":01})",
    R"({"type":"ping","ts":.5})",
    R"({"type":"ping","ts":0x10})",
    R"([1,2)",
    R"({"type":"ping","ts":"\x"})",
    R"({"type":"ping","ts":"\ud800"})",
    "{\"type\":\"ping\",\"ts\":\"a\nb\"}",
    "{\"type\":\"ping\",\"ts\":\"\xff\"}",
    "{\"type\":\"ping\",\"ts\":\"\xc3\"}",
    "{\"type\":\"ping\",\"ts\":\"\xed\xa0\x80\"}",
  };
  for (const char* text : inputs)
    require_bad_request(text);
}

TEST_CASE("a raw NUL byte anywhere in a frame is a bad_request", "[protocol][frame]") {
  using namespace std::string_literals;
  require_bad_request("{\"type\":\"ping\"}\0"s);
  require_bad_request("\0{\"type\":\"ping\"}"s);
  require_bad_request("{\"type\":\"ping\"}\0{\"type\":\"hello\"}"s);
  require_bad_request("{\"type\":\"ping\",\"ts\":\"a\0b\"}"s);
}

TEST_CASE("a JSON value that is not an object is a bad_request", "[protocol][frame]") {
  for (const char* text : {"[]", R"([{"type":"ping"}])", R"("ping")", "42", "-1", "1.5", "null",
                           "true", "false"}) {
    auto e = error_of(text);
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message == "frame must be a JSON object");
  }
}

TEST_CASE("nesting up to 32 levels is accepted", "[protocol][frame]") {
  // The frame object is level 1, so ts may hold 31 nested arrays.
  auto f =
    frame_of<ping_frame>(R"({"type":"ping","ts":)" + repeat("[", 31) + repeat("]", 31) + "}");
  CHECK(f.ts_json == repeat("[", 31) + repeat("]", 31));
  auto g = frame_of<ping_frame>(R"({"type":"ping","ts":)" + repeat(R"({"a":)", 30) + "[]"
                                + repeat("}", 30) + "}");
  CHECK(g.ts_json.size() > 100);
}

TEST_CASE("nesting deeper than 32 levels is a bad_request", "[protocol][frame]") {
  auto e = error_of(R"({"type":"ping","ts":)" + repeat("[", 32) + repeat("]", 32) + "}");
  CHECK(e.code == error_code::bad_request);
  CHECK(e.message.find("32") != std::string::npos);
  require_bad_request(R"({"type":"ping","ts":)" + repeat(R"({"a":)", 32) + "1" + repeat("}", 32)
                      + "}");
  require_bad_request(repeat("[", 33) + repeat("]", 33));
}

TEST_CASE("pathologically deep input is refused without crashing", "[protocol][frame]") {
  require_bad_request(repeat("[", 100000));
  require_bad_request(repeat("[", 100000) + repeat("]", 100000));
  require_bad_request(R"({"type":"ping","ts":)" + repeat(R"({"a":)", 50000) + "1"
                      + repeat("}", 50000) + "}");
}

TEST_CASE("numbers beyond a double are a bad_request", "[protocol][frame]") {
  require_bad_request(R"({"type":"ping","ts":1e400})");
  require_bad_request(R"({"type":"ping","ts":-1e400})");
  require_bad_request(R"({"type":"backfill","channel_id":"C1","after_seq":1e400})");
  require_bad_request(R"({"type":"backfill","channel_id":"C1","limit":1e400})");
  require_bad_request(R"({"type":"hello","last_seq_map":{"C1":1e400}})");
}

TEST_CASE("a frame without a string type is a bad_request", "[protocol][frame]") {
  require_bad_request("{}");
  require_bad_request(R"({"channel_id":"C1","text":"hi","client_msg_id":"a"})");
  for (const char* type : non_strings) {
    auto e = error_of(std::string(R"({"type":)") + type + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message == "type must be a string");
  }
  require_bad_request(R"({"Type":"ping"})");
}

TEST_CASE("an unknown frame type is a bad_request", "[protocol][frame]") {
  for (const char* type : {"", "Ping", "PING", "ping ", "message.sendx", "message", "send",
                           "hello_ack", "pong", "message.new", "message.ack", "error",
                           "presence", "presence.update", "backfill.more", "message.backfill"}) {
    auto e = error_of(std::string(R"({"type":")") + type + R"("})");
    CHECK(e.code == error_code::bad_request);
    CHECK_FALSE(e.ref_id);
    CHECK_FALSE(e.channel);
  }
}

TEST_CASE("unknown fields of a known frame are ignored", "[protocol][frame]") {
  auto f = frame_of<presence_get_frame>(R"({"type":"presence.get","channel_id":"C3","x":[1,{}]})");
  CHECK(f.channel == channel_id{3});
}

TEST_CASE("a duplicated key keeps its last value", "[protocol][frame]") {
  auto f = frame_of<presence_get_frame>(
    R"({"type":"presence.get","channel_id":"C1","channel_id":"C2"})");
  CHECK(f.channel == channel_id{2});
}

TEST_CASE("whitespace around and inside the frame is allowed", "[protocol][frame]") {
  auto f = frame_of<ping_frame>(" \r\n\t{ \"type\" : \"ping\" , \"ts\" : 5 }\n ");
  CHECK(f.ts_json == "5");
}

// --- hello ---------------------------------------------------------------------------------

TEST_CASE("hello keeps canonical entries of last_seq_map", "[protocol][frame][hello]") {
  auto f = frame_of<hello_frame>(R"({"type":"hello","last_seq_map":{"C1":47,"C9":0}})");
  REQUIRE(f.last_seq_map.size() == 2);
  std::map<channel_id, uint64_t> m(f.last_seq_map.begin(), f.last_seq_map.end());
  CHECK(m.at(channel_id{1}) == 47);
  CHECK(m.at(channel_id{9}) == 0);
}

TEST_CASE("hello without last_seq_map has an empty map", "[protocol][frame][hello]") {
  CHECK(frame_of<hello_frame>(R"({"type":"hello"})").last_seq_map.empty());
  CHECK(frame_of<hello_frame>(R"({"type":"hello","last_seq_map":{}})").last_seq_map.empty());
}

TEST_CASE("hello with a last_seq_map that is not an object is a bad_request",
          "[protocol][frame][hello]") {
  for (const char* v : {"null", "1", "\"C1\"", "true", "[]", R"([["C1",47]])", R"([{"C1":47}])"}) {
    auto e = error_of(std::string(R"({"type":"hello","last_seq_map":)") + v + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("last_seq_map") != std::string::npos);
    CHECK_FALSE(e.ref_id);
    CHECK_FALSE(e.channel);
  }
}

TEST_CASE("hello ignores entries with a bad key or value", "[protocol][frame][hello]") {
  auto f = frame_of<hello_frame>(R"({"type":"hello","last_seq_map":{
      "C042":1, "C0":1, "Cabc":1, "U1":1, "C":1, "c5":1, "":1, " C5":1,
      "C9223372036854775808":1, "C12345678901234567890":1,
      "C2":-1, "C3":1.5, "C4":"4", "C5":null, "C6":[], "C7":{}, "C8":true, "C10":3.0,
      "C11":18446744073709551615, "C12":99999999999999999999, "C13":-9223372036854775808,
      "C100":7, "C9223372036854775807":9223372036854775807}})");
  std::map<channel_id, uint64_t> m(f.last_seq_map.begin(), f.last_seq_map.end());
  CHECK(m.size() == 2);
  CHECK(m.at(channel_id{100}) == 7);
  CHECK(m.at(channel_id{9223372036854775807ull}) == 9223372036854775807ull);
}

// --- message.send --------------------------------------------------------------------------

TEST_CASE("message.send parses a valid frame", "[protocol][frame][send]") {
  auto f = frame_of<send_frame>(send_json(R"("C1")", R"("hi")", R"("m-1_A")"));
  CHECK(f.channel == channel_id{1});
  CHECK(f.text == "hi");
  CHECK(f.client_msg_id == "m-1_A");
}

TEST_CASE("message.send decodes JSON escapes in text", "[protocol][frame][send]") {
  auto f = frame_of<send_frame>(send_json(R"("C1")", R"("a\"b\\c\n\u00e9\ud83d\ude00")", R"("x")"));
  CHECK(f.text == "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("message.send with a missing or invalid channel_id is a bad_request",
          "[protocol][frame][send]") {
  std::vector<std::string> channels = {R"("C")",    R"("C042")", R"("Cabc")",
                                       R"("C0")",   R"("U1")",   R"("W1")",
                                       R"("c1")",   R"("")",     R"("C9223372036854775808")",
                                       R"("C12345678901234567890")"};
  for (const char* v : non_strings)
    channels.push_back(v);
  for (const auto& c : channels) {
    auto e = error_of(send_json(c, R"("hi")", R"("abc")"));
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("channel_id") != std::string::npos);
    CHECK(e.ref_id == std::optional<std::string>("abc"));
    CHECK_FALSE(e.channel);
  }
  auto e = error_of(R"({"type":"message.send","text":"hi","client_msg_id":"abc"})");
  CHECK(e.code == error_code::bad_request);
  CHECK(e.ref_id == std::optional<std::string>("abc"));
}

TEST_CASE("message.send with a text that is not a string is a bad_request",
          "[protocol][frame][send]") {
  for (const char* v : non_strings) {
    auto e = error_of(send_json(R"("C1")", v, R"("abc")"));
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message == "text must be a string");
    CHECK(e.ref_id == std::optional<std::string>("abc"));
    CHECK(e.channel == std::optional<channel_id>(channel_id{1}));
  }
  auto e = error_of(R"({"type":"message.send","channel_id":"C1","client_msg_id":"abc"})");
  CHECK(e.code == error_code::bad_request);
  CHECK(e.message == "text must be a string");
}

TEST_CASE("message.send with an empty text is a bad_request", "[protocol][frame][send]") {
  auto e = error_of(send_json(R"("C1")", R"("")", R"("abc")"));
  CHECK(e.code == error_code::bad_request);
  CHECK(e.message == "text must be 1 to 4000 bytes");
  CHECK(e.ref_id == std::optional<std::string>("abc"));
  CHECK(e.channel == std::optional<channel_id>(channel_id{1}));
}

TEST_CASE("message.send accepts text of exactly 4000 bytes", "[protocol][frame][send]") {
  auto ascii = repeat("a", 4000);
  CHECK(frame_of<send_frame>(send_json(R"("C1")", json_str(ascii), R"("a")")).text == ascii);
  auto two_byte = repeat("\xc3\xa9", 2000); // é
  CHECK(frame_of<send_frame>(send_json(R"("C1")", json_str(two_byte), R"("a")")).text == two_byte);
  auto mixed = repeat("\xe2\x82\xac", 1333) + "a"; // € is 3 bytes: 3999 + 1
  REQUIRE(mixed.size() == 4000);
  CHECK(frame_of<send_frame>(send_json(R"("C1")", json_str(mixed), R"("a")")).text == mixed);
  // Escapes count as the bytes they decode to, not as their source length.
  auto escaped =
    frame_of<send_frame>(send_json(R"("C1")", json_str(repeat("\\u00e9", 2000)), R"("a")"));
  CHECK(escaped.text == two_byte);
}

TEST_CASE("message.send over 4000 bytes is msg_too_long", "[protocol][frame][send]") {
  std::vector<std::string> texts = {
    repeat("a", 4001),
    repeat("\xe2\x82\xac", 1333) + "\xc3\xa9", // 3999 + 2 bytes
    repeat("\xf0\x9f\x98\x80", 1001),          // 1001 characters, 4004 bytes
    repeat("\xc3\xa9", 2001),
    repeat("a", 60000),
  };
  for (const auto& text : texts) {
    auto e = error_of(send_json(R"("C7")", json_str(text), R"("abc")"));
    CHECK(e.code == error_code::msg_too_long);
    CHECK(e.message == "text must be 1 to 4000 bytes");
    CHECK(e.ref_id == std::optional<std::string>("abc"));
    CHECK(e.channel == std::optional<channel_id>(channel_id{7}));
  }
  auto e = error_of(send_json(R"("C1")", json_str(repeat("\\u00e9", 2001)), R"("a")"));
  CHECK(e.code == error_code::msg_too_long);
}

TEST_CASE("message.send accepts a client_msg_id of 1 to 64 allowed characters",
          "[protocol][frame][send]") {
  for (std::string id : {std::string("a"), std::string("Z"), std::string("0"), std::string("_"),
                         std::string("-"), repeat("x", 64),
                         std::string("ABCXYZabcxyz0189_-")}) {
    CHECK(frame_of<send_frame>(send_json(R"("C1")", R"("hi")", json_str(id))).client_msg_id == id);
  }
}

TEST_CASE("message.send with a bad client_msg_id is a bad_request", "[protocol][frame][send]") {
  std::vector<std::string> ids = {
    json_str(""),       json_str(repeat("x", 65)), json_str(repeat("x", 1000)),
    json_str("a b"),    json_str("a.b"),           json_str("a/b"),
    json_str("a+b"),    json_str("a=b"),           json_str("a:b"),
    json_str("\xc3\xa9"), json_str("\\u0000"),     json_str("a\\nb"),
    json_str("\\u0041\\u0000"),                  json_str(" a"),
  };
  for (const char* v : non_strings)
    ids.push_back(v);
  for (const auto& id : ids) {
    auto e = error_of(send_json(R"("C1")", R"("hi")", id));
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("client_msg_id") != std::string::npos);
    CHECK_FALSE(e.ref_id);
    CHECK(e.channel == std::optional<channel_id>(channel_id{1}));
  }
  auto e = error_of(R"({"type":"message.send","channel_id":"C1","text":"hi"})");
  CHECK(e.code == error_code::bad_request);
  CHECK(e.message.find("client_msg_id") != std::string::npos);
}

TEST_CASE("message.send checks channel_id, then text, then client_msg_id",
          "[protocol][frame][send]") {
  // A bad channel wins over everything else.
  auto e1 = error_of(send_json(R"("C0")", json_str(repeat("a", 5000)), R"("bad id")"));
  CHECK(e1.code == error_code::bad_request);
  CHECK(e1.message.find("channel_id") != std::string::npos);
  // Text size wins over a bad client_msg_id.
  auto e2 = error_of(send_json(R"("C1")", json_str(repeat("a", 5000)), R"("bad id")"));
  CHECK(e2.code == error_code::msg_too_long);
  CHECK_FALSE(e2.ref_id);
  auto e3 = error_of(send_json(R"("C1")", R"("")", R"("bad id")"));
  CHECK(e3.code == error_code::bad_request);
  CHECK(e3.message.find("text") != std::string::npos);
}

// --- backfill ------------------------------------------------------------------------------

TEST_CASE("backfill parses channel, after_seq and limit", "[protocol][frame][backfill]") {
  auto f = frame_of<backfill_frame>(
    R"({"type":"backfill","channel_id":"C1","after_seq":47,"limit":20})");
  CHECK(f.channel == channel_id{1});
  CHECK(f.after_seq == 47);
  CHECK(f.limit == 20);
}

TEST_CASE("backfill defaults after_seq to 0 and limit to 100", "[protocol][frame][backfill]") {
  auto f = frame_of<backfill_frame>(R"({"type":"backfill","channel_id":"C5"})");
  CHECK(f.channel == channel_id{5});
  CHECK(f.after_seq == 0);
  CHECK(f.limit == 100);
}

TEST_CASE("backfill accepts after_seq from 0 to 2^63-1", "[protocol][frame][backfill]") {
  CHECK(frame_of<backfill_frame>(R"({"type":"backfill","channel_id":"C1","after_seq":0})")
          .after_seq
        == 0);
  CHECK(frame_of<backfill_frame>(
          R"({"type":"backfill","channel_id":"C1","after_seq":9223372036854775807})")
          .after_seq
        == 9223372036854775807ull);
  CHECK(frame_of<backfill_frame>(R"({"type":"backfill","channel_id":"C1","after_seq":-0})")
          .after_seq
        == 0);
}

TEST_CASE("backfill with a negative, huge or non-integer after_seq is a bad_request",
          "[protocol][frame][backfill]") {
  std::vector<std::string> values = {"-1", "-9223372036854775808", "9223372036854775808",
                                     "18446744073709551615"};
  for (const char* v : non_integers)
    values.push_back(v);
  for (const auto& v : values) {
    auto e = error_of(R"({"type":"backfill","channel_id":"C3","after_seq":)" + v + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("after_seq") != std::string::npos);
    CHECK(e.channel == std::optional<channel_id>(channel_id{3}));
    CHECK_FALSE(e.ref_id);
  }
}

TEST_CASE("backfill clamps limit to 1..100", "[protocol][frame][backfill]") {
  auto limit_of = [](const std::string& v) {
    return frame_of<backfill_frame>(R"({"type":"backfill","channel_id":"C1","limit":)" + v + "}")
      .limit;
  };
  CHECK(limit_of("0") == 1);
  CHECK(limit_of("-0") == 1);
  CHECK(limit_of("-5") == 1);
  CHECK(limit_of("-9223372036854775808") == 1);
  CHECK(limit_of("1") == 1);
  CHECK(limit_of("50") == 50);
  CHECK(limit_of("99") == 99);
  CHECK(limit_of("100") == 100);
  CHECK(limit_of("101") == 100);
  CHECK(limit_of("4294967297") == 100); // 2^32 + 1 must not wrap to 1
  CHECK(limit_of("9223372036854775807") == 100);
  CHECK(limit_of("18446744073709551615") == 100);
}

TEST_CASE("backfill with a non-integer limit is a bad_request", "[protocol][frame][backfill]") {
  for (const char* v : non_integers) {
    auto e = error_of(std::string(R"({"type":"backfill","channel_id":"C1","limit":)") + v + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("limit") != std::string::npos);
    CHECK(e.channel == std::optional<channel_id>(channel_id{1}));
  }
}

TEST_CASE("backfill with a missing or invalid channel_id is a bad_request",
          "[protocol][frame][backfill]") {
  require_bad_request(R"({"type":"backfill"})");
  require_bad_request(R"({"type":"backfill","after_seq":1})");
  std::vector<std::string> channels = {R"("C")", R"("C042")", R"("Cabc")", R"("C0")", R"("U1")",
                                       R"("C9223372036854775808")", R"("C12345678901234567890")"};
  for (const char* v : non_strings)
    channels.push_back(v);
  for (const auto& c : channels) {
    auto e = error_of(R"({"type":"backfill","channel_id":)" + c + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("channel_id") != std::string::npos);
    CHECK_FALSE(e.channel);
  }
}

// --- presence ------------------------------------------------------------------------------

TEST_CASE("presence.set accepts online and away", "[protocol][frame][presence]") {
  CHECK(frame_of<presence_set_frame>(R"({"type":"presence.set","status":"online"})").status
        == presence_status::online);
  CHECK(frame_of<presence_set_frame>(R"({"type":"presence.set","status":"away"})").status
        == presence_status::away);
}

TEST_CASE("presence.set with any other status is a bad_request", "[protocol][frame][presence]") {
  std::vector<std::string> values = {R"("offline")", R"("ONLINE")", R"("Away")", R"("")",
                                     R"("online ")", R"("busy")"};
  for (const char* v : non_strings)
    values.push_back(v);
  for (const auto& v : values) {
    auto e = error_of(R"({"type":"presence.set","status":)" + v + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("status") != std::string::npos);
  }
  require_bad_request(R"({"type":"presence.set"})");
}

TEST_CASE("presence.get parses its channel", "[protocol][frame][presence]") {
  CHECK(frame_of<presence_get_frame>(R"({"type":"presence.get","channel_id":"C12"})").channel
        == channel_id{12});
}

TEST_CASE("presence.get with a missing or invalid channel_id is a bad_request",
          "[protocol][frame][presence]") {
  require_bad_request(R"({"type":"presence.get"})");
  std::vector<std::string> channels = {R"("C")", R"("C042")", R"("Cabc")", R"("C0")", R"("U1")",
                                       R"("C9223372036854775808")"};
  for (const char* v : non_strings)
    channels.push_back(v);
  for (const auto& c : channels) {
    auto e = error_of(R"({"type":"presence.get","channel_id":)" + c + "}");
    CHECK(e.code == error_code::bad_request);
    CHECK(e.message.find("channel_id") != std::string::npos);
  }
}

// --- ping ----------------------------------------------------------------------------------

TEST_CASE("ping echoes any ts re-serialized", "[protocol][frame][ping]") {
  auto ts_of = [](const std::string& v) {
    return frame_of<ping_frame>(R"({"type":"ping","ts":)" + v + "}").ts_json;
  };
  CHECK(ts_of("123") == "123");
  CHECK(ts_of("-7") == "-7");
  CHECK(ts_of("1.5") == "1.5");
  CHECK(ts_of("18446744073709551615") == "18446744073709551615");
  CHECK(ts_of(R"("abc")") == R"("abc")");
  CHECK(ts_of(R"("\u00e9")") == "\"\xc3\xa9\"");
  CHECK(ts_of(R"("a\"b")") == R"("a\"b")");
  CHECK(ts_of("null") == "null");
  CHECK(ts_of("true") == "true");
  CHECK(ts_of(" [ 1 , 2 ] ") == "[1,2]");
  CHECK(ts_of(R"({"b":1,"a":[true,null]})") == R"({"a":[true,null],"b":1})");
}

TEST_CASE("ping with a ts beyond uint64 echoes it as a double", "[protocol][frame][ping]") {
  auto f = frame_of<ping_frame>(R"({"type":"ping","ts":99999999999999999999})");
  auto j = nlohmann::json::parse(f.ts_json);
  REQUIRE(j.is_number_float());
  CHECK(j.get<double>() == Approx(1e20));
}

TEST_CASE("ping without ts echoes null", "[protocol][frame][ping]") {
  CHECK(frame_of<ping_frame>(R"({"type":"ping"})").ts_json == "null");
}

// --- helpers and robustness ----------------------------------------------------------------

TEST_CASE("valid_client_msg_id accepts 1..64 of [A-Za-z0-9_-]", "[protocol][frame]") {
  CHECK(valid_client_msg_id("a"));
  CHECK(valid_client_msg_id(repeat("Z", 64)));
  CHECK(valid_client_msg_id("0123456789_-abcXYZ"));
  CHECK_FALSE(valid_client_msg_id(""));
  CHECK_FALSE(valid_client_msg_id(repeat("Z", 65)));
  for (int c = 0; c < 256; ++c) {
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                   || c == '_' || c == '-';
    std::string id(1, static_cast<char>(c));
    INFO("byte " << c);
    CHECK(valid_client_msg_id(id) == allowed);
  }
}

TEST_CASE("parse_client_frame never throws on mutated frames", "[protocol][frame]") {
  const std::string seeds[] = {
    R"({"type":"hello","last_seq_map":{"C1":47}})",
    R"({"type":"message.send","channel_id":"C1","text":"hi","client_msg_id":"m1"})",
    R"({"type":"backfill","channel_id":"C1","after_seq":47,"limit":100})",
    R"({"type":"presence.set","status":"online"})",
    R"({"type":"presence.get","channel_id":"C1"})",
    R"({"type":"ping","ts":123})",
  };
  std::mt19937 rng(12345);
  size_t frames = 0;
  size_t errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % 6];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(s.begin() + static_cast<long>(pos), static_cast<char>(rng() % 256));
          break;
        case 1:
          if (pos < s.size())
            s.erase(pos, 1);
          break;
        default:
          if (pos < s.size())
            s[pos] = static_cast<char>(rng() % 256);
      }
    }
    parse_result r;
    REQUIRE_NOTHROW(r = parse_client_frame(s));
    if (auto* e = std::get_if<frame_error>(&r)) {
      ++errors;
      REQUIRE_FALSE(e->message.empty());
    } else {
      ++frames;
    }
  }
  // The mutations must exercise both outcomes, or the test proves little.
  CHECK(frames > 100);
  CHECK(errors > 100);
}

TEST_CASE("the field validators shared with REST check one field each", "[protocol][fields]") {
  using nlohmann::json;
  auto code_of = [](const auto& result) {
    REQUIRE(std::holds_alternative<frame_error>(result));
    auto& e = std::get<frame_error>(result);
    CHECK_FALSE(e.message.empty());
    CHECK_FALSE(e.ref_id); // the caller adds its context
    return e.code;
  };
  CHECK(std::get<std::string>(text_field(json{{"text", "hi"}})) == "hi");
  CHECK(std::get<std::string>(text_field(json{{"text", std::string(4000, 'x')}})).size() == 4000);
  CHECK(code_of(text_field(json{{"text", std::string(4001, 'x')}})) == error_code::msg_too_long);
  CHECK(code_of(text_field(json{{"text", ""}})) == error_code::bad_request);
  CHECK(code_of(text_field(json{{"text", 5}})) == error_code::bad_request);
  CHECK(code_of(text_field(json::object())) == error_code::bad_request);

  CHECK(std::get<std::string>(client_msg_id_field(json{{"client_msg_id", "a-1_B"}})) == "a-1_B");
  auto too_long = std::string(max_client_msg_id + 1, 'a');
  CHECK(code_of(client_msg_id_field(json{{"client_msg_id", too_long}})) == error_code::bad_request);
  CHECK(code_of(client_msg_id_field(json{{"client_msg_id", "has space"}}))
        == error_code::bad_request);
  CHECK(code_of(client_msg_id_field(json{{"client_msg_id", 7}})) == error_code::bad_request);

  CHECK(std::get<channel_id>(channel_id_field(json{{"channel_id", "C42"}})) == channel_id{42});
  CHECK(code_of(channel_id_field(json{{"channel_id", "C042"}})) == error_code::bad_request);

  CHECK(std::get<uint64_t>(after_seq_field(json::object())) == 0);
  CHECK(std::get<uint64_t>(after_seq_field(json{{"after_seq", 9}})) == 9);
  CHECK(code_of(after_seq_field(json{{"after_seq", -1}})) == error_code::bad_request);
  CHECK(code_of(after_seq_field(json{{"after_seq", "9"}})) == error_code::bad_request);

  CHECK(std::get<uint32_t>(limit_field(json::object())) == max_backfill_limit);
  CHECK(std::get<uint32_t>(limit_field(json{{"limit", 0}})) == 1);
  CHECK(std::get<uint32_t>(limit_field(json{{"limit", 1000}})) == max_backfill_limit);
  CHECK(code_of(limit_field(json{{"limit", "ten"}})) == error_code::bad_request);
}

TEST_CASE("presence.subscribe and presence.unsubscribe take 1 to 100 distinct user ids",
          "[protocol][frame][presence]") {
  auto sub = frame_of<presence_watch_frame>(
    R"({"type":"presence.subscribe","user_ids":["U7","U2","U7"]})");
  CHECK(sub.subscribe);
  CHECK(sub.users == std::vector<user_id>{user_id{2}, user_id{7}}); // ascending, once each
  auto unsub =
    frame_of<presence_watch_frame>(R"({"type":"presence.unsubscribe","user_ids":["U3"]})");
  CHECK_FALSE(unsub.subscribe);
  CHECK(unsub.users == std::vector<user_id>{user_id{3}});

  std::string hundred = R"({"type":"presence.subscribe","user_ids":[)";
  for (int i = 1; i <= 100; ++i)
    hundred += (i > 1 ? ",\"U" : "\"U") + std::to_string(i) + "\"";
  CHECK(frame_of<presence_watch_frame>(hundred + "]}").users.size() == 100);
  require_bad_request(hundred + R"(,"U101"]})");

  for (auto type : {"presence.subscribe", "presence.unsubscribe"}) {
    auto head = std::string(R"({"type":")") + type + "\"";
    require_bad_request(head + "}");
    require_bad_request(head + R"(,"user_ids":[]})");
    require_bad_request(head + R"(,"user_ids":"U1"})");
    require_bad_request(head + R"(,"user_ids":["U1","C2"]})");
    require_bad_request(head + R"(,"user_ids":["U1",7]})");
    require_bad_request(head + R"(,"user_ids":["U0x"]})");
  }
}
