#include <catch2/catch.hpp>

#include <string>

#include "protocol/outbound_queue.hpp"

using namespace parley;

namespace {

frame_ptr msg(channel_id c, uint64_t seq) {
  return share("new " + c.str() + " " + std::to_string(seq));
}

frame_ptr ctrl(const std::string& s) {
  return share(s);
}

outbound_queue::push_result push(outbound_queue& q, uint64_t channel, uint64_t seq) {
  return q.push_message(msg(channel_id{channel}, seq), channel_id{channel}, seq);
}

std::vector<std::string> texts(const std::vector<frame_ptr>& frames) {
  std::vector<std::string> out;
  for (const auto& f : frames)
    out.push_back(f ? *f : std::string("<null>"));
  return out;
}

outbound_queue::limits small(size_t droppable, size_t control_bytes = 1024) {
  outbound_queue::limits lim;
  lim.max_droppable = droppable;
  lim.max_control_bytes = control_bytes;
  return lim;
}

} // namespace

TEST_CASE("outbound queue defaults to 100 messages and 4 MiB of control frames",
          "[protocol][outbound_queue]") {
  outbound_queue::limits lim;
  CHECK(lim.max_droppable == 100);
  CHECK(lim.max_control_bytes == 4u * 1024 * 1024);
}

TEST_CASE("outbound queue hands back frames in push order", "[protocol][outbound_queue]") {
  outbound_queue q;
  CHECK(q.empty());
  auto a = ctrl("ack");
  CHECK(q.push_control(a) == outbound_queue::push_result::queued);
  CHECK(push(q, 1, 1) == outbound_queue::push_result::queued);
  CHECK(q.push_control(ctrl("pong")) == outbound_queue::push_result::queued);
  CHECK(push(q, 2, 5) == outbound_queue::push_result::queued);
  CHECK(q.size() == 4);
  auto out = q.take_all();
  CHECK(texts(out) == std::vector<std::string>{"ack", "new C1 1", "pong", "new C2 5"});
  CHECK(out[0].get() == a.get()); // the shared encoding itself, not a copy
  CHECK(q.empty());
  CHECK(q.size() == 0);
  CHECK(q.take_all().empty());
  CHECK(q.dropped() == 0);
}

TEST_CASE("outbound queue drops the oldest message beyond its limit",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(3));
  CHECK(push(q, 1, 1) == outbound_queue::push_result::queued);
  CHECK(push(q, 1, 2) == outbound_queue::push_result::queued);
  CHECK(push(q, 1, 3) == outbound_queue::push_result::queued);
  CHECK(push(q, 1, 4) == outbound_queue::push_result::dropped_oldest);
  CHECK(q.size() == 3);
  CHECK(q.dropped() == 1);
  CHECK(push(q, 1, 5) == outbound_queue::push_result::dropped_oldest);
  CHECK(q.dropped() == 2);
  auto out = texts(q.take_all());
  CHECK(out == std::vector<std::string>{"new C1 3", "new C1 4", "new C1 5",
                                        encode_cursor(channel_id{1}, 5)});
}

TEST_CASE("outbound queue holds 100 messages by default and drops the 101st's oldest",
          "[protocol][outbound_queue]") {
  outbound_queue q;
  for (uint64_t s = 1; s <= 100; ++s)
    REQUIRE(push(q, 1, s) == outbound_queue::push_result::queued);
  CHECK(push(q, 1, 101) == outbound_queue::push_result::dropped_oldest);
  auto out = texts(q.take_all());
  REQUIRE(out.size() == 101);
  CHECK(out.front() == "new C1 2");
  CHECK(out[99] == "new C1 101");
  CHECK(out.back() == encode_cursor(channel_id{1}, 101));
}

TEST_CASE("outbound queue never drops control frames to make room", "[protocol][outbound_queue]") {
  outbound_queue q(small(2));
  q.push_control(ctrl("ack1"));
  push(q, 1, 1);
  q.push_control(ctrl("ack2"));
  push(q, 1, 2);
  CHECK(push(q, 1, 3) == outbound_queue::push_result::dropped_oldest);
  // Control frames do not count against the message limit either.
  for (int i = 0; i < 10; ++i)
    CHECK(q.push_control(ctrl("p")) == outbound_queue::push_result::queued);
  auto out = texts(q.take_all());
  REQUIRE(out.size() >= 4);
  CHECK(out[0] == "ack1");
  CHECK(out[1] == "ack2");
  CHECK(out[2] == "new C1 2");
  CHECK(out[3] == "new C1 3");
  CHECK(out.back() == encode_cursor(channel_id{1}, 3));
  CHECK(out.size() == 15);
}

TEST_CASE("outbound queue sends one cursor per channel that lost frames",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(2));
  push(q, 1, 10);
  push(q, 2, 20);
  push(q, 3, 30); // drops C1 10
  push(q, 3, 31); // drops C2 20
  CHECK(q.dropped() == 2);
  auto out = texts(q.take_all());
  CHECK(out == std::vector<std::string>{"new C3 30", "new C3 31", encode_cursor(channel_id{1}, 10),
                                        encode_cursor(channel_id{2}, 20)});
}

TEST_CASE(
  "outbound queue cursor carries the highest seq seen for the channel, including later frames",
  "[protocol][outbound_queue]") {
  outbound_queue q(small(2));
  push(q, 1, 1);
  push(q, 1, 2);
  push(q, 2, 7); // drops C1 1
  push(q, 1, 3); // drops C1 2
  push(q, 1, 4); // drops C2 7
  push(q, 1, 9);  // drops C1 3, seen later than the first drop
  auto out = texts(q.take_all());
  CHECK(out == std::vector<std::string>{"new C1 4", "new C1 9", encode_cursor(channel_id{1}, 9),
                                        encode_cursor(channel_id{2}, 7)});
}

TEST_CASE("outbound queue keeps the highest seq when seqs arrive out of order",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(1));
  push(q, 1, 8);
  push(q, 1, 5); // drops C1 8
  auto out = texts(q.take_all());
  CHECK(out.back() == encode_cursor(channel_id{1}, 8));
}

TEST_CASE("outbound queue sends the cursors only once", "[protocol][outbound_queue]") {
  outbound_queue q(small(1));
  push(q, 1, 1);
  push(q, 1, 2);
  REQUIRE(q.take_all().size() == 2);
  push(q, 1, 3);
  CHECK(texts(q.take_all()) == std::vector<std::string>{"new C1 3"});
  CHECK(q.take_all().empty());
  CHECK(q.dropped() == 1);
}

TEST_CASE("outbound queue cursor after a later drop reflects only what is new",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(1));
  push(q, 1, 100);
  q.take_all();
  push(q, 2, 1);
  push(q, 2, 2); // drops C2 1; C1 lost nothing this time
  auto out = texts(q.take_all());
  CHECK(out == std::vector<std::string>{"new C2 2", encode_cursor(channel_id{2}, 2)});
  CHECK(q.dropped() == 1);
}

TEST_CASE("outbound queue with no room for messages drops each one and still reports the gap",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(0));
  CHECK(push(q, 4, 1) == outbound_queue::push_result::dropped_oldest);
  CHECK(push(q, 4, 2) == outbound_queue::push_result::dropped_oldest);
  CHECK(q.empty());
  CHECK(q.dropped() == 2);
  CHECK(texts(q.take_all()) == std::vector<std::string>{encode_cursor(channel_id{4}, 2)});
}

TEST_CASE("outbound queue reports overflow when control frames exceed their byte limit",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(100, 10));
  CHECK(q.push_control(ctrl("123456")) == outbound_queue::push_result::queued);
  CHECK(q.push_control(ctrl("12345")) == outbound_queue::push_result::overflow);
  CHECK(q.size() == 1); // the refused frame is not queued
  CHECK(q.push_control(ctrl("1234")) == outbound_queue::push_result::queued); // exactly 10
  CHECK(q.push_control(ctrl("1")) == outbound_queue::push_result::overflow);
  CHECK(q.push_control(ctrl("")) == outbound_queue::push_result::queued);
  CHECK(texts(q.take_all()) == std::vector<std::string>{"123456", "1234", ""});
}

TEST_CASE("outbound queue frees control bytes once they are taken", "[protocol][outbound_queue]") {
  outbound_queue q(small(100, 10));
  CHECK(q.push_control(ctrl("1234567890")) == outbound_queue::push_result::queued);
  CHECK(q.push_control(ctrl("x")) == outbound_queue::push_result::overflow);
  q.take_all();
  CHECK(q.push_control(ctrl("1234567890")) == outbound_queue::push_result::queued);
}

TEST_CASE("outbound queue refuses a single control frame larger than the limit",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(100, 10));
  CHECK(q.push_control(ctrl(std::string(11, 'x'))) == outbound_queue::push_result::overflow);
  CHECK(q.empty());
}

TEST_CASE("outbound queue does not count messages against the control byte limit",
          "[protocol][outbound_queue]") {
  outbound_queue q(small(100, 10));
  for (uint64_t s = 1; s <= 50; ++s)
    REQUIRE(push(q, 1, s) == outbound_queue::push_result::queued);
  CHECK(q.push_control(ctrl("1234567890")) == outbound_queue::push_result::queued);
}
