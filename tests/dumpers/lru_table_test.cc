#include "dumpers/lru_table.h"

#include <doctest/doctest.h>

#include <string>

using tcpdp::LruTable;

TEST_CASE("past its bound the entry used longest ago makes room") {
  LruTable<int, std::string> t(2);
  t.remember(1) = "one";
  t.remember(2) = "two";
  REQUIRE(t.find(1));  // 1 is now the more recently used
  t.remember(3) = "three";
  CHECK(t.size() == 2);
  CHECK(t.find(2) == nullptr);
  CHECK(*t.find(1) == "one");
  CHECK(*t.find(3) == "three");
  // Remembering again is a use too: 1 stays, 3 goes.
  t.remember(1);
  t.remember(4) = "four";
  CHECK(t.find(3) == nullptr);
  CHECK(*t.find(1) == "one");
}

TEST_CASE("erase and clear; an entry erased leaves room without evicting another") {
  LruTable<int, int> t(2);
  t.remember(1) = 10;
  t.remember(2) = 20;
  t.erase(1);
  t.erase(7);  // not there: nothing happens
  t.remember(3) = 30;
  CHECK(t.size() == 2);
  CHECK(*t.find(2) == 20);
  CHECK(*t.find(3) == 30);
  t.clear();
  CHECK(t.size() == 0);
  CHECK(t.find(2) == nullptr);
}
