#include "actors/delivery_actor.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <vector>

#include "caf/all.hpp"

#include "actors/metrics.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"

namespace jobwire {

namespace {

using self_ptr = delivery_actor::stateful_pointer<delivery_state>;

void schedule(self_ptr self, const std::string& id, parked_connection& c) {
  auto& st = self->state;
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  auto delay = next_delay(st.settings.backoff, c.attempts, unit(st.rng));
  c.generation = ++st.next_generation;
  self->delayed_send(self, delay, retry_atom::value, id, c.generation);
}

/// Gives up on every frame of `c`: counted each, and logged once for the
/// connection with the seqs of each job (a slow consumer's backlog is tens
/// of thousands of frames: a line each flooded the log). The client can
/// still fetch them from the store with `resume`.
void fail_all(const std::string& id, parked_connection& c,
              std::string_view reason) {
  if (c.frames.empty())
    return;
  metrics::global().delivery_failures += c.frames.size();
  // Per job, in the order first seen: the first and last seq.
  std::vector<std::tuple<std::string_view, uint64_t, uint64_t>> jobs;
  for (auto& p : c.frames) {
    auto& f = *p.frame;
    if (f.job_id.empty())
      continue; // a reply, not an event
    auto i = std::find_if(jobs.begin(), jobs.end(), [&](auto& j) {
      return std::get<0>(j) == f.job_id;
    });
    if (i == jobs.end())
      jobs.emplace_back(f.job_id, f.seq, f.seq);
    else
      std::get<2>(*i) = std::max(std::get<2>(*i), f.seq);
  }
  constexpr size_t named = 8;
  std::string seqs;
  for (size_t k = 0; k < jobs.size() && k < named; ++k) {
    auto& [job, first, last] = jobs[k];
    if (!seqs.empty())
      seqs += ", ";
    seqs += std::string{job} + " " + std::to_string(first);
    if (last != first)
      seqs += ".." + std::to_string(last);
  }
  if (jobs.size() > named)
    seqs += ", and " + std::to_string(jobs.size() - named) + " jobs more";
  log::warn("delivery failed", {{"connection_id", id},
                                {"frames", std::to_string(c.frames.size())},
                                {"seqs", seqs},
                                {"attempts", std::to_string(c.attempts)},
                                {"reason", reason}});
  c.frames.clear();
}

/// Replaces the newest parked frame of the same job, if it is a
/// progress_update, with `frame`; true when it did.
bool coalesce(parked_connection& c, const frame_ptr& frame, uint64_t n) {
  for (auto i = c.frames.rbegin(); i != c.frames.rend(); ++i) {
    if (i->frame->job_id != frame->job_id)
      continue;
    // Only the job's newest frame may go: anything older would jump ahead
    // of a stage_complete queued after it.
    if (!i->frame->coalescable)
      return false;
    c.bytes = c.bytes - i->frame->text.size() + frame->text.size();
    *i = parked_frame{frame, i->coalesced + 1, n};
    ++metrics::global().coalesced_events;
    return true;
  }
  return false;
}

void retry(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto it = st.parked.find(id);
  if (it == st.parked.end())
    return;
  auto& c = it->second;
  auto sink = c.sink.lock();
  if (!sink) {
    fail_all(id, c, "connection closed; resumable from the store");
    st.parked.erase(it);
    return;
  }
  if (sink->closing()) {
    fail_all(id, c, "connection closing; resumable from the store");
    st.parked.erase(it);
    return;
  }
  ++metrics::global().delivery_retries;
  uint64_t passed = 0;
  auto& s = st.settings;
  while (!c.frames.empty()
         && has_room(*sink, 1, c.frames.front().frame->text.size(),
                     s.max_queue_bytes, s.max_queue_frames)) {
    auto p = std::move(c.frames.front());
    c.frames.pop_front();
    c.bytes -= p.frame->text.size();
    passed = std::max(passed, p.n);
    if (p.coalesced > 0) {
      auto copy = *p.frame;
      copy.text = add_coalesced(p.frame->text, p.coalesced);
      sink->send(std::make_shared<const frame>(std::move(copy)));
    } else {
      sink->send(std::move(p.frame));
    }
  }
  if (passed > 0)
    self->send(c.owner, sent_atom::value, passed);
  if (c.frames.empty()) {
    st.parked.erase(it);
    return;
  }
  if (self->clock().now() - c.behind_since >= s.slow_consumer) {
    ++metrics::global().slow_consumer_closes;
    log::warn("slow consumer; closing", {{"connection_id", id}});
    sink->close(1013, "slow consumer");
    fail_all(id, c, "slow consumer");
    st.parked.erase(it);
    return;
  }
  ++c.attempts;
  schedule(self, id, c);
}

} // namespace

bool has_room(const frame_sink& sink, size_t frames, size_t bytes,
              size_t max_bytes, size_t max_frames) {
  auto queued = sink.queued_frames();
  return (queued == 0 && frames == 1)
         || (queued + frames <= max_frames
             && sink.queued_bytes() + bytes <= max_bytes);
}

delivery_actor::behavior_type
delivery_impl(delivery_actor::stateful_pointer<delivery_state> self,
              delivery_settings settings) {
  self->state.settings = settings;
  self->state.rng.seed(static_cast<std::minstd_rand::result_type>(
    settings.seed));
  return {
    [self](park_atom, const connection_actor& owner, const std::string& id,
           const sink_ref& sink, const frame_ptr& frame, uint64_t n) {
      auto& st = self->state;
      auto [it, added] = st.parked.try_emplace(id);
      auto& c = it->second;
      if (added) {
        c.owner = owner;
        c.sink = sink;
        c.behind_since = self->clock().now();
      }
      if (!(frame->coalescable && coalesce(c, frame, n))) {
        c.frames.push_back({frame, 0, n});
        c.bytes += frame->text.size();
      }
      if (c.bytes > st.settings.max_parked_bytes) {
        ++metrics::global().slow_consumer_closes;
        log::warn("slow consumer; parked frames over the limit; closing",
                  {{"connection_id", id}});
        if (auto s = c.sink.lock())
          s->close(1013, "slow consumer");
        fail_all(id, c, "slow consumer");
        st.parked.erase(it);
        return;
      }
      if (added)
        schedule(self, id, c);
    },
    [self](retry_atom, const std::string& id, uint64_t generation) {
      auto it = self->state.parked.find(id);
      if (it == self->state.parked.end()
          || it->second.generation != generation)
        return; // stale: timers cannot be cancelled in CAF 0.17
      retry(self, id);
    },
  };
}

} // namespace jobwire
