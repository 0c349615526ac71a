#include "protocol/outbound_queue.hpp"

#include <algorithm>

namespace parley {

namespace {

void raise_to(std::map<channel_id, uint64_t>& m, channel_id channel, uint64_t seq) {
  auto [it, inserted] = m.emplace(channel, seq);
  if (!inserted)
    it->second = std::max(it->second, seq);
}

} // namespace

uint64_t outbound_queue::newest_seq(channel_id channel, channel_id incoming_channel,
                                    uint64_t incoming) const {
  uint64_t newest = channel == incoming_channel ? incoming : 0;
  for (auto& i : items_)
    if (i.droppable && i.channel == channel)
      newest = std::max(newest, i.seq);
  return newest;
}

outbound_queue::push_result outbound_queue::push_message(frame_ptr frame, channel_id channel,
                                                         uint64_t seq) {
  // A channel that already lost frames must announce the newest seq it has seen since.
  if (auto it = lost_.find(channel); it != lost_.end())
    it->second = std::max(it->second, seq);
  if (limits_.max_droppable == 0) {
    // Nothing droppable may wait at all: the new frame itself is the oldest to go.
    ++dropped_;
    raise_to(lost_, channel, seq);
    return push_result::dropped_oldest;
  }
  auto result = push_result::queued;
  if (droppable_count_ >= limits_.max_droppable) {
    // docs/protocol.md "Slow consumers": drop the oldest message.new; the client sees the gap
    // through the channel.cursor sent once the queue drains.
    auto oldest = std::find_if(items_.begin(), items_.end(),
                               [](const item& i) { return i.droppable; });
    if (oldest != items_.end()) {
      // The dropped frame's channel is not known from the frame bytes, so it is kept beside it.
      auto lost_channel = oldest->channel;
      raise_to(lost_, lost_channel, newest_seq(lost_channel, channel, seq));
      items_.erase(oldest);
      --droppable_count_;
      ++dropped_;
      result = push_result::dropped_oldest;
    }
  }
  items_.push_back(item{std::move(frame), true, channel, seq});
  ++droppable_count_;
  return result;
}

outbound_queue::push_result outbound_queue::push_control(frame_ptr frame) {
  size_t bytes = frame ? frame->size() : 0;
  // docs/protocol.md "Slow consumers": control frames are never dropped; too many of them close the
  // connection (1013) instead, so nothing is queued here.
  if (bytes > limits_.max_control_bytes || control_bytes_ > limits_.max_control_bytes - bytes)
    return push_result::overflow;
  control_bytes_ += bytes;
  items_.push_back(item{std::move(frame), false, channel_id{}, 0});
  return push_result::queued;
}

void outbound_queue::take_all(std::vector<frame_ptr>& out) {
  out.reserve(out.size() + items_.size() + lost_.size());
  for (auto& i : items_) {
    if (!i.droppable)
      control_bytes_ -= i.frame ? i.frame->size() : 0;
    out.push_back(std::move(i.frame));
  }
  items_.clear();
  droppable_count_ = 0;
  // The queue is empty now: reveal every gap with one cursor per channel that lost frames.
  for (const auto& [channel, seq] : lost_)
    out.push_back(share(encode_cursor(channel, seq)));
  lost_.clear();
}

std::vector<frame_ptr> outbound_queue::take_all() {
  std::vector<frame_ptr> out;
  take_all(out);
  return out;
}

} // namespace parley
