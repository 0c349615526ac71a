#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "tools/bench/target_protocol.hpp"

using namespace parley::bench;

TEST_CASE("a payload carries its send time and message id back to the receiver",
          "[bench][target]") {
  auto p = make_payload("f3-42", 123456789012345, 64);
  CHECK(p.size() == 64);
  int64_t ns = 0;
  std::string_view id;
  REQUIRE(parse_payload(p, ns, id));
  CHECK(ns == 123456789012345);
  CHECK(id == "f3-42");
  // Unpadded payloads parse too.
  auto bare = make_payload("b1-7", 5, 0);
  REQUIRE(parse_payload(bare, ns, id));
  CHECK(ns == 5);
  CHECK(id == "b1-7");
}

TEST_CASE("foreign payloads are not mistaken for bench messages", "[bench][target]") {
  int64_t ns = 0;
  std::string_view id;
  CHECK_FALSE(parse_payload("hello", ns, id));
  CHECK_FALSE(parse_payload("t=12x;id=a;", ns, id));
  CHECK_FALSE(parse_payload("t=12;", ns, id));
  CHECK_FALSE(parse_payload("t=;id=a;", ns, id));
}

TEST_CASE("socketio clients follow the Engine.IO v4 open, connect and join steps",
          "[bench][target]") {
  target_protocol p(target_kind::socketio);
  CHECK(p.ws_path(1, "W1", "", 0) == "/socket.io/?EIO=4&transport=websocket");
  CHECK(p.first_frame("r1").empty());
  auto open = p.on_setup_frame(
    R"(0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})",
    "r1");
  CHECK(open.consumed);
  CHECK(open.reply == "40");
  CHECK_FALSE(open.ready);
  auto connected = p.on_setup_frame(R"(40{"sid":"b"})", "r1");
  CHECK(connected.reply == R"(420["join","r1"])");
  CHECK_FALSE(connected.ready);
  auto joined = p.on_setup_frame(R"(430[{"room":"r1"}])", "r1");
  CHECK(joined.ready);
  CHECK(joined.error.empty());
  auto refused = p.on_setup_frame(R"(430[{"error":"room must be a non-empty string"}])", "r1");
  CHECK_FALSE(refused.ready);
  CHECK_FALSE(refused.error.empty());
  CHECK_FALSE(p.on_setup_frame(R"(44{"message":"nope"})", "r1").error.empty());
  CHECK(p.is_server_ping("2"));
  CHECK(p.auto_reply() == "3");
  CHECK_FALSE(p.is_server_ping("42[\"msg\",{}]"));
  CHECK(p.keepalive().empty());
}

TEST_CASE("socketio sends are acked events and broadcasts carry the payload",
          "[bench][target]") {
  target_protocol p(target_kind::socketio);
  auto s1 = p.send_frame("r1", "f0-1", "t=9;id=f0-1;");
  auto s2 = p.send_frame("r1", "f1-1", "t=9;id=f1-1;");
  CHECK(s1 == R"(421["send",{"id":"f0-1","payload":"t=9;id=f0-1;","room":"r1"}])");
  CHECK(s2.substr(0, 3) == "422");  // every emit gets its own ack id
  auto msg = p.scan(R"(42["msg",{"room":"r1","payload":"t=77;id=f0-1;xx"}])");
  REQUIRE(msg);
  CHECK(msg->kind == frame_kind::message_new);
  CHECK(msg->send_ns == 77);
  CHECK(msg->client_msg_id == "f0-1");
  CHECK(msg->channel_id == "r1");
  auto ack = p.scan(R"(431[{"id":"f0-1"}])");
  REQUIRE(ack);
  CHECK(ack->kind == frame_kind::message_ack);
  CHECK(ack->client_msg_id == "f0-1");
  auto err = p.scan(R"(432[{"error":"send needs {room, payload}"}])");
  REQUIRE(err);
  CHECK(err->kind == frame_kind::error);
}

TEST_CASE("ws clients join with JSON and read acks and room messages", "[bench][target]") {
  target_protocol p(target_kind::ws);
  CHECK(nlohmann::json::parse(p.first_frame("r2"))
        == nlohmann::json{{"type", "join"}, {"room", "r2"}});
  CHECK(p.on_setup_frame(R"({"type":"joined","room":"r2"})", "r2").ready);
  CHECK_FALSE(p.on_setup_frame(R"({"type":"error","message":"x"})", "r2").error.empty());
  auto send = nlohmann::json::parse(p.send_frame("r2", "b0-3", "t=1;id=b0-3;"));
  CHECK(send
        == nlohmann::json{
          {"type", "send"}, {"room", "r2"}, {"payload", "t=1;id=b0-3;"}, {"id", "b0-3"}});
  auto msg = p.scan(R"({"type":"msg","room":"r2","payload":"t=55;id=b0-3;"})");
  REQUIRE(msg);
  CHECK(msg->kind == frame_kind::message_new);
  CHECK(msg->send_ns == 55);
  CHECK(msg->client_msg_id == "b0-3");
  auto ack = p.scan(R"({"type":"ack","id":"b0-3"})");
  REQUIRE(ack);
  CHECK(ack->kind == frame_kind::message_ack);
  CHECK(ack->client_msg_id == "b0-3");
  CHECK(p.scan(R"({"type":"error","message":"bad"})")->kind == frame_kind::error);
  CHECK_FALSE(p.scan("not json"));
}

TEST_CASE("parley message.new yields the embedded send time next to seq and id",
          "[bench][target]") {
  target_protocol p(target_kind::parley);
  CHECK(p.first_frame("C1") == R"({"type":"hello","last_seq_map":{}})");
  CHECK(
    p.on_setup_frame(R"({"type":"hello_ack","user_id":"U1","session_id":"s1","channels":{}})", "C1")
      .ready);
  CHECK_FALSE(p.on_setup_frame(R"({"type":"pong","ts":0})", "C1").consumed);
  auto f = p.scan(
    R"({"type":"message.new","channel_id":"C1","channel_seq":4,"user_id":"U1",)"
      R"("text":"t=99;id=f2-1;","ts":1,"client_msg_id":"f2-1"})");
  REQUIRE(f);
  CHECK(f->kind == frame_kind::message_new);
  CHECK(f->seq == 4);
  CHECK(f->send_ns == 99);
  CHECK(f->client_msg_id == "f2-1");
  auto send = nlohmann::json::parse(p.send_frame("C1", "f2-1", "t=99;id=f2-1;"));
  CHECK(send["type"] == "message.send");
  CHECK(send["channel_id"] == "C1");
  CHECK(send["client_msg_id"] == "f2-1");
  CHECK(!p.keepalive().empty());
}

TEST_CASE("targets parse by name only", "[bench][target]") {
  CHECK(parse_target("parley") == target_kind::parley);
  CHECK(parse_target("socketio") == target_kind::socketio);
  CHECK(parse_target("ws") == target_kind::ws);
  CHECK_FALSE(parse_target("socket.io"));
}
