/// A bounded table for what a decoder remembers of a session (prepared statements, portals):
/// past its bound the entry used longest ago makes room, so a long-lived connection that keeps
/// preparing new statements still finds the ones it keeps executing.
#pragma once

#include <cstddef>
#include <list>
#include <unordered_map>
#include <utility>

namespace tcpdp {

/// Hash and Eq may be transparent (is_transparent), so that a table keyed by std::string is
/// searched with a std::string_view without making a string of it.
template <typename Key, typename Value, typename Hash = std::hash<Key>,
          typename Eq = std::equal_to<Key>>
class LruTable {
 public:
  explicit LruTable(size_t bound) : bound_(bound > 0 ? bound : 1) {}

  /// The entry, made the most recently used; nullptr when there is none.
  template <typename K>
  Value* find(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.end(), order_, it->second);
    return &it->second->second;
  }
  /// The entry for key, made the most recently used, to be filled in place (reusing its room);
  /// a new one is default-made, after the least recently used entry made room when the table is
  /// full.
  template <typename K>
  Value& remember(const K& key) {
    if (Value* v = find(key)) return *v;
    if (index_.size() >= bound_) {
      index_.erase(order_.front().first);
      order_.pop_front();
    }
    order_.emplace_back(Key(key), Value());
    index_.emplace(order_.back().first, std::prev(order_.end()));
    return order_.back().second;
  }
  template <typename K>
  void erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  void clear() {
    index_.clear();
    order_.clear();
  }
  size_t size() const { return index_.size(); }

 private:
  using Order = std::list<std::pair<Key, Value>>;
  size_t bound_;
  Order order_;  // least recently used first
  std::unordered_map<Key, typename Order::iterator, Hash, Eq> index_;
};

}  // namespace tcpdp
