#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "protocol/ids.hpp"
#include "protocol/message.hpp"

namespace parley::storage {

/// What happened to one row of an appended batch.
enum class append_status : uint8_t {
  stored,    // the row is durable
  duplicate, // (workspace, user, client_msg_id) was already stored: `original` holds that row
  seq_taken, // (workspace, channel, seq) already exists: a second writer was fenced
};

/// The outcome of one appended row.
struct append_outcome {
  append_status status = append_status::stored;
  chat_message original; // set for `duplicate`
};

/// The durable, ordered message log of the channels on one storage shard.
/// Implementations are blocking and single-threaded: call them from a detached actor or pool.
class message_log {
public:
  virtual ~message_log() = default;

  /// Stores a batch in ONE transaction (group commit); one outcome per row, in batch order.
  /// An error means no row of the batch is durable. Every row must have the same
  /// `commit_group`: a log refuses a batch spanning groups, which it cannot commit at once.
  virtual caf::expected<std::vector<append_outcome>>
  append(const std::vector<chat_message>& batch) = 0;

  /// Rows of different groups live in different databases (storage shards) and commit in
  /// separate transactions; a single database has one group.
  virtual size_t commit_group(const chat_message&) const { return 0; }

  /// Returns the stored message sent by `user` with `client_msg_id`, if any (the dedup key).
  virtual caf::expected<std::optional<chat_message>>
  find_sent(workspace_id workspace, user_id user, const std::string& client_msg_id) = 0;

  /// Returns the highest stored seq of a channel, 0 if it has no message.
  virtual caf::expected<uint64_t> latest_seq(workspace_id workspace, channel_id channel) = 0;

  /// Returns up to `limit` messages with seq > after_seq, ascending.
  virtual caf::expected<std::vector<chat_message>>
  read_after(workspace_id workspace, channel_id channel, uint64_t after_seq, uint32_t limit) = 0;
};

} // namespace parley::storage
