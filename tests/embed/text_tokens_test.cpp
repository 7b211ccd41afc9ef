#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/embed/text_tokens.hpp"
#include "support/errors.hpp"

namespace embed = marl_rec::embed;
using marl_rec::test::error_of;
using Words = std::vector<std::string>;

TEST_CASE("fnv1a64: the published FNV-1a test vectors, mix64 is a bijection that moves every bit") {
  // From the FNV reference (isthe.com/chongo/tech/comp/fnv): pinned so a change is caught.
  static_assert(embed::fnv1a64("") == 0xCBF29CE484222325ull);
  static_assert(embed::fnv1a64("a") == 0xAF63DC4C8601EC8Cull);
  static_assert(embed::fnv1a64("foobar") == 0x85944171F73967E8ull);
  // Hashing in two pieces is hashing the whole.
  CHECK(embed::fnv1a64("bar", embed::fnv1a64("foo")) == embed::fnv1a64("foobar"));
  // MurmurHash3's fmix64 of 1 (pinned), and of 0.
  CHECK(embed::mix64(0) == 0);
  CHECK(embed::mix64(1) == 0xB456BCFC34C2CB2Cull);
  CHECK(embed::mix64(2) != embed::mix64(1));
}

TEST_CASE("decode_utf8: one- to four-byte sequences") {
  const auto one = embed::decode_utf8("A", 0);
  CHECK(one.code_point == U'A');
  CHECK(one.length == 1);
  CHECK(one.error == nullptr);
  const auto e_acute = embed::decode_utf8("\xC3\xA9", 0);
  CHECK(e_acute.code_point == U'\u00E9');
  CHECK(e_acute.length == 2);
  const auto euro = embed::decode_utf8("x\xE2\x82\xAC", 1);
  CHECK(euro.code_point == U'\u20AC');
  CHECK(euro.length == 3);
  const auto emoji = embed::decode_utf8("\xF0\x9F\x98\x80", 0);
  CHECK(emoji.code_point == U'\U0001F600');
  CHECK(emoji.length == 4);
  const auto top = embed::decode_utf8("\xF4\x8F\xBF\xBF", 0);
  CHECK(top.code_point == U'\U0010FFFF');
  CHECK(top.error == nullptr);
}

TEST_CASE("decode_utf8 / is_valid_utf8: every kind of invalid sequence is named") {
  const auto problem = [](std::string_view s) {
    const char* e = embed::decode_utf8(s, 0).error;
    return std::string(e == nullptr ? "valid" : e);
  };
  CHECK(problem("\x80") == "a continuation byte with no lead byte");
  CHECK(problem("\xC0\xAF") == "an overlong encoding");
  CHECK(problem("\xE0\x80\xAF") == "an overlong encoding");
  CHECK(problem("\xF0\x80\x80\xAF") == "an overlong encoding");
  CHECK(problem("\xED\xA0\x80") == "a UTF-16 surrogate");
  CHECK(problem("\xF4\x90\x80\x80") == "a code point above U+10FFFF");
  CHECK(problem("\xF5\x80\x80\x80") == "a byte that never occurs in UTF-8");
  CHECK(problem("\xFF") == "a byte that never occurs in UTF-8");
  CHECK(problem("\xC3") == "a truncated sequence");
  CHECK(problem("\xE2\x82") == "a truncated sequence");
  CHECK(problem("\xC3(") == "a truncated sequence");
  CHECK(embed::is_valid_utf8(""));
  CHECK(embed::is_valid_utf8("plain ASCII, caf\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC"));
  CHECK_FALSE(embed::is_valid_utf8("caf\xC3"));
  CHECK_FALSE(embed::is_valid_utf8("\xED\xBF\xBF"));
}

TEST_CASE("split_words: ASCII case folding, punctuation splits, other scripts kept as written") {
  CHECK(embed::split_words("Hello, World!") == Words{"hello", "world"});
  CHECK(embed::split_words("C++/Qt real-time x86_64 don't") ==
        Words{"c", "qt", "real", "time", "x86", "64", "don", "t"});
  CHECK(embed::split_words("  MiXeD\tCase\r\nLINES  ") == Words{"mixed", "case", "lines"});
  // Non-ASCII letters are word characters and are not case-folded.
  CHECK(embed::split_words("\xC3\x89"
                           "COLE na\xC3\xAFve") == Words{"\xC3\x89"
                                                         "cole",
                                                         "na\xC3\xAFve"});
  CHECK(embed::split_words("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") ==
        Words{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"});
  // Unicode punctuation and spaces separate: curly quotes, em dash, no-break space, ideographic
  // full stop, the byte order mark, fullwidth comma.
  CHECK(embed::split_words("\xE2\x80\x9Cquoted\xE2\x80\x9D a\xE2\x80\x94"
                           "b c\xC2\xA0"
                           "d") == Words{"quoted", "a", "b", "c", "d"});
  CHECK(embed::split_words("\xEF\xBB\xBFstart\xE3\x80\x82"
                           "end\xEF\xBC\x8Cmore") == Words{"start", "end", "more"});
  // Letters and numbers of Latin-1 stay inside words: micro sign, superscript two, ordinal.
  CHECK(embed::split_words("5\xC2\xB5m x\xC2\xB2 1\xC2\xBA") ==
        Words{"5\xC2\xB5m", "x\xC2\xB2", "1\xC2\xBA"});
  CHECK(embed::split_words("").empty());
  CHECK(embed::split_words(" \t\n").empty());
  CHECK(embed::split_words("!?.,;:--()").empty());
}

TEST_CASE("is_separator: spot checks of the documented ranges") {
  CHECK(embed::is_separator(U' '));
  CHECK(embed::is_separator(U'_'));
  CHECK_FALSE(embed::is_separator(U'z'));
  CHECK_FALSE(embed::is_separator(U'7'));
  CHECK(embed::is_separator(U'\u0085'));        // C1 next line
  CHECK(embed::is_separator(U'\u00A9'));        // ©
  CHECK_FALSE(embed::is_separator(U'\u00BD'));  // ½
  CHECK(embed::is_separator(U'\u00D7'));        // ×
  CHECK_FALSE(embed::is_separator(U'\u00E9'));  // é
  CHECK(embed::is_separator(U'\u2026'));        // …
  CHECK(embed::is_separator(U'\u3001'));        // 、
  CHECK_FALSE(embed::is_separator(U'\u3042'));  // あ
  CHECK(embed::is_separator(U'\uFF01'));        // ！
  CHECK_FALSE(embed::is_separator(U'\uFF21'));  // Ａ (fullwidth letter)
}

TEST_CASE("for_each_word: words longer than the stack buffer, and the word count") {
  const std::string long_word(300, 'Q');
  const std::string text = "a " + long_word + " b " + std::string(129, 'x');
  Words got;
  const std::size_t n =
      embed::for_each_word(text, "test", [&](std::string_view w) { got.emplace_back(w); });
  CHECK(n == 4);
  REQUIRE(got.size() == 4);
  CHECK(got[0] == "a");
  CHECK(got[1] == std::string(300, 'q'));
  CHECK(got[2] == "b");
  CHECK(got[3] == std::string(129, 'x'));
  // A multi-byte character that crosses the 128-byte boundary of the stack buffer.
  const std::string crossing = std::string(127, 'y') + "\xE2\x82\xAC" + "z";
  CHECK(embed::split_words(crossing) == Words{crossing});
}

TEST_CASE(
    "for_each_word: invalid UTF-8 throws, naming the caller, the problem, the byte and the text") {
  CHECK(error_of([] { embed::split_words("ok \xFF", "my_embedder"); }) ==
        "my_embedder: text is not valid UTF-8 (a byte that never occurs in UTF-8 at byte 3): 'ok "
        "\\xFF'");
  CHECK(error_of([] { embed::split_words("caf\xC3", "e"); }) ==
        "e: text is not valid UTF-8 (a truncated sequence at byte 3): 'caf\\xC3'");
  CHECK(error_of([] { embed::split_words("\xED\xA0\x80 x", "e"); }) ==
        "e: text is not valid UTF-8 (a UTF-16 surrogate at byte 0): '\\xED\\xA0\\x80 x'");
}

TEST_CASE("quote_for_message: short quotes, cut on a character boundary, control bytes escaped") {
  CHECK(embed::quote_for_message("abc") == "'abc'");
  CHECK(embed::quote_for_message("tab\there") == "'tab\\x09here'");
  CHECK(embed::quote_for_message(std::string(50, 'x'), 10) == "'xxxxxxxxxx'...");
  // 9 ASCII bytes then é (2 bytes): a cut at 10 would split é, so the quote stops before it.
  CHECK(embed::quote_for_message("123456789\xC3\xA9zz", 10) == "'123456789'...");
}

TEST_CASE(
    "require_words: empty and whitespace-only texts are told apart from texts without words") {
  CHECK(error_of([] { embed::require_words("e", "", 0); }) ==
        "e: text is empty or only whitespace: ''");
  CHECK(error_of([] { embed::require_words("e", " \n\t", 0); }) ==
        "e: text is empty or only whitespace: ' \\x0A\\x09'");
  CHECK(error_of([] { embed::require_words("e", "?!", 0); }) ==
        "e: text has no words (only punctuation or symbols): '?!'");
  CHECK(error_of([] { embed::require_words("e", "ok", 1); }) == "no error");
  CHECK(embed::is_blank(" \t\r\n\f\v"));
  CHECK_FALSE(embed::is_blank(" x "));
}

TEST_CASE("corpus_error: names the corpus index and drops a repeated prefix") {
  CHECK(std::string(embed::detail::corpus_error("fit", 3, "fit: text is empty").what()) ==
        "fit: corpus[3]: text is empty");
  CHECK(std::string(embed::detail::corpus_error("fit", 0, "other: it failed").what()) ==
        "fit: corpus[0]: other: it failed");
}
