// marl_rec — Snapshot<T>: the current immutable version of an object, shared by readers while
// a writer prepares the next one. Readers hold a version as long as they need it; publishing a
// new one never waits for them, and they never wait for a version to be built.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "marl_rec/core/error.hpp"

namespace marl_rec {

/// The published version of a T. `get()` hands out the current version (a shared pointer to
/// const: nobody changes it again); `publish()` replaces it. Both are thread-safe and hold a
/// mutex only to copy or swap one pointer (no reader waits while a writer builds a version, and
/// no writer waits while readers use one). The previous version lives on until its last reader
/// drops it; `publish` returns it, so a writer can keep it and free it on its own thread rather
/// than in whichever reader lets go last (see ServingAgent).
template <class T>
class Snapshot {
 public:
  /// Starts with `first` (not null).
  explicit Snapshot(std::shared_ptr<const T> first) : current_(std::move(first)) {
    detail::require(current_ != nullptr, "Snapshot: the first version is null");
  }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  /// The current version.
  std::shared_ptr<const T> get() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  /// The current version and its number (1 for the first, +1 per publish), read together.
  std::pair<std::shared_ptr<const T>, std::uint64_t> get_versioned() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return {current_, version_};
  }
  /// Makes `next` (not null) the current version; returns the one it replaces.
  std::shared_ptr<const T> publish(std::shared_ptr<const T> next) {
    detail::require(next != nullptr, "Snapshot::publish: the new version is null");
    const std::lock_guard<std::mutex> lock(mutex_);
    ++version_;
    return std::exchange(current_, std::move(next));
  }
  /// The current version's number.
  std::uint64_t version() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return version_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
  std::uint64_t version_ = 1;
};

}  // namespace marl_rec
