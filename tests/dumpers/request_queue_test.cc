// The pairing of requests with their answers, as the pg and mysql decoders share it: records
// leave in the order the client sent the requests, each once it is done.
#include "dumpers/request_queue.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tcpdp;

namespace {

struct Names : RecordSink {
  std::vector<std::string> written;
  void write(const Record& r) override { written.emplace_back(r.find("name")->s); }
};

struct State {
  int answers = 0;
};
using Queue = RequestQueue<State>;

Queue::Request& request(Queue& q, const char* name) {
  Queue::Request& r = q.push();
  r.rec.add("name", name);
  return r;
}

void flush(Queue& q) {
  q.flush([](const Queue::Request&) {});
}

}  // namespace

TEST_CASE("an answer to a later request waits for the earlier ones; then all leave in order") {
  Names sink;
  Queue q(sink, 100);
  Queue::Request& first = request(q, "first");
  Queue::Request& second = request(q, "second");
  second.done = true;  // answered first (say, a request the server answers at once)
  flush(q);
  CHECK(sink.written.empty());
  CHECK(q.waiting() == &first);
  first.done = true;
  flush(q);
  CHECK(sink.written == std::vector<std::string>{"first", "second"});
  CHECK(q.waiting() == nullptr);
}

TEST_CASE("a record that answers nothing leaves after every request queued before it") {
  Names sink;
  Queue q(sink, 100);
  Queue::Request& query = request(q, "query");
  Record notice;
  notice.add("name", "notice");
  q.push_done(std::move(notice));
  flush(q);
  CHECK(sink.written.empty());
  query.done = true;
  flush(q);
  CHECK(sink.written == std::vector<std::string>{"query", "notice"});
}

TEST_CASE("past the bound, the oldest request still waiting is written as it is") {
  Names sink;
  Queue q(sink, 3);
  request(q, "a");
  request(q, "b");
  request(q, "c");
  request(q, "d");  // a gives way: it is done, unanswered
  flush(q);
  CHECK(sink.written == std::vector<std::string>{"a"});
  for (Queue::Request& r : q) r.done = true;
  flush(q);
  CHECK(sink.written == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("slots are reused: a request comes back with its state reset and its record empty") {
  Names sink;
  Queue q(sink, 100);
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {  // many times the ring's first size, one request at a time
    Queue::Request& r = q.push();
    CHECK(r.answers == 0);
    CHECK(r.rec.empty());
    CHECK_FALSE(r.done);
    r.answers = i + 1;
    r.rec.add("name", std::to_string(i));
    expected.push_back(std::to_string(i));
    if (i % 3 == 2) {  // three at a time in flight, answered together
      for (Queue::Request& pending : q) pending.done = true;
      flush(q);
    }
  }
  for (Queue::Request& pending : q) pending.done = true;
  flush(q);
  CHECK(sink.written == expected);
}

TEST_CASE("requests keep their address while the ring grows under them") {
  Names sink;
  Queue q(sink, 1000);
  Queue::Request& first = request(q, "first");
  for (int i = 0; i < 100; ++i) request(q, "more");
  CHECK(q.waiting() == &first);
  first.rec.add("still", true);  // writing through the old reference is safe
  for (Queue::Request& r : q) r.done = true;
  flush(q);
  CHECK(sink.written.size() == 101);
  CHECK(sink.written.front() == "first");
}
