// Config choices as enums with their words: each enum has one table of {word, value} pairs (the
// YAML spelling), which the config layer reads and writes through and messages print from, so
// code compares enum values, never strings.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ofa {

template <class E>
struct EnumWord {
  const char* word;
  E value;
};

/// A view of one enum's table.
template <class E>
struct EnumWords {
  const EnumWord<E>* table = nullptr;
  size_t n = 0;

  template <size_t N>
  constexpr EnumWords(const EnumWord<E> (&t)[N]) : table(t), n(N) {}  // NOLINT: implicit on purpose
  /// The word of `value` ("?" for a value the table lacks: a bug).
  const char* word(E value) const {
    for (size_t i = 0; i < n; ++i)
      if (table[i].value == value) return table[i].word;
    return "?";
  }
  /// The value of `word`; false when the table has no such word.
  bool value(const std::string& word, E& out) const {
    for (size_t i = 0; i < n; ++i)
      if (word == table[i].word) {
        out = table[i].value;
        return true;
      }
    return false;
  }
  std::vector<std::string> words() const {
    std::vector<std::string> w;
    for (size_t i = 0; i < n; ++i) w.emplace_back(table[i].word);
    return w;
  }
};

}  // namespace ofa
