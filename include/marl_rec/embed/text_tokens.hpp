// marl_rec — the tokenisation every built-in text embedder shares: UTF-8 validation and decoding,
// splitting text into words, ASCII case folding, and a stable 64-bit hash (FNV-1a + a finaliser)
// whose values are the same on every platform, so that hashed features land in the same buckets
// everywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/error.hpp"

namespace marl_rec::embed {

// ---- hashing ---------------------------------------------------------------------------------

/// The FNV-1a 64-bit offset basis (the hash of the empty string).
inline constexpr std::uint64_t fnv1a64_basis = 0xCBF29CE484222325ull;
/// The FNV-1a 64-bit prime.
inline constexpr std::uint64_t fnv1a64_prime = 0x100000001B3ull;

/// Continues an FNV-1a 64-bit hash `h` over `bytes` (start from `fnv1a64_basis`, or from another
/// basis to get an independent family of hashes). Defined on bytes, so platform-independent.
constexpr std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t h = fnv1a64_basis) noexcept {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= fnv1a64_prime;
  }
  return h;
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit. FNV-1a alone mixes
/// its last bytes poorly into the high bits, and the embedders take buckets and signs from both
/// halves of the hash, so every feature hash goes through this before use.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

// ---- UTF-8 -------------------------------------------------------------------------------------

/// One decoded UTF-8 sequence: the code point and its length in bytes, or what is wrong with it.
struct Utf8Decoded {
  char32_t code_point{};
  std::size_t length{};
  /// nullptr when the sequence is valid, else a description ("a truncated sequence", ...).
  const char* error{};
};

/// Decodes the UTF-8 sequence starting at `text[pos]` (pos < text.size()), strictly (RFC 3629):
/// no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF, no stray continuation bytes.
constexpr Utf8Decoded decode_utf8(std::string_view text, std::size_t pos) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, nullptr};
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0Fu;
    if (lead == 0xE0) low = 0xA0;   // below: overlong
    if (lead == 0xED) high = 0x9F;  // above: a UTF-16 surrogate
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07u;
    if (lead == 0xF0) low = 0x90;   // below: overlong
    if (lead == 0xF4) high = 0x8F;  // above: beyond U+10FFFF
  } else if (lead == 0xC0 || lead == 0xC1) {
    return {0, 1, "an overlong encoding"};
  } else if (lead >= 0xF5) {
    return {0, 1, "a byte that never occurs in UTF-8"};
  } else {
    return {0, 1, "a continuation byte with no lead byte"};
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return {0, i, "a truncated sequence"};
    const unsigned char b = byte(pos + i);
    const unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xBF;
    if (b < lo || b > hi) {
      if (b < 0x80 || b > 0xBF) return {0, i, "a truncated sequence"};
      return {0, i,
              lead == 0xED   ? "a UTF-16 surrogate"
              : lead == 0xF4 ? "a code point above U+10FFFF"
                             : "an overlong encoding"};
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, length, nullptr};
}

/// True when `text` is valid UTF-8 (see decode_utf8).
constexpr bool is_valid_utf8(std::string_view text) noexcept {
  for (std::size_t pos = 0; pos < text.size();) {
    const Utf8Decoded d = decode_utf8(text, pos);
    if (d.error != nullptr) return false;
    pos += d.length;
  }
  return true;
}

/// True for the non-ASCII code points that separate words rather than belong to them: C1
/// controls, Latin-1 punctuation and symbols (U+00A0–U+00BF, except ª µ º ¹ ² ³ ¼ ½ ¾, which are
/// letters or numbers), × and ÷, General Punctuation (U+2000–U+206F: spaces, dashes, quotes,
/// bullets, zero-width characters), CJK Symbols and Punctuation (U+3000–U+303F), the byte order
/// mark / zero-width no-break space (U+FEFF) and the fullwidth forms of ASCII punctuation. Every
/// other non-ASCII code point is a word character: without Unicode tables, letters of every
/// script (and the rarer symbols) are kept inside words.
constexpr bool is_separator(char32_t cp) noexcept {
  if (cp < 0x80) {
    return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'));
  }
  if (cp < 0xA0) return true;
  if (cp <= 0xBF) {
    return !(cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
             (cp >= 0xBC && cp <= 0xBE));
  }
  if (cp == 0xD7 || cp == 0xF7) return true;
  if (cp >= 0x2000 && cp <= 0x206F) return true;
  if (cp >= 0x3000 && cp <= 0x303F) return true;
  if (cp == 0xFEFF) return true;
  // Fullwidth ! to /, : to @, [ to `, { to ･ (the fullwidth digits and letters are word
  // characters).
  return (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
         (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65);
}

/// `text` in single quotes for an error message: at most `max_bytes` bytes (cut on a character
/// boundary when the text is valid UTF-8, then "..."), control bytes — and every non-ASCII byte
/// when the text is not valid UTF-8 — written as \xNN.
inline std::string quote_for_message(std::string_view text, std::size_t max_bytes = 40) {
  const bool utf8 = is_valid_utf8(text);
  std::size_t n = text.size();
  if (n > max_bytes) {
    n = max_bytes;
    while (utf8 && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  constexpr char digits[] = "0123456789ABCDEF";
  std::string s = "'";
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7F || (b >= 0x80 && !utf8)) {
      s += "\\x";
      s += digits[b >> 4];
      s += digits[b & 0xF];
    } else {
      s += static_cast<char>(b);
    }
  }
  s += n < text.size() ? "'..." : "'";
  return s;
}

// ---- words -------------------------------------------------------------------------------------

namespace detail {

/// What an ASCII byte is to the tokeniser (bytes ≥ 0x80 start a multi-byte sequence).
enum class ByteClass : unsigned char { separator, word, upper, multibyte };

constexpr std::array<ByteClass, 256> make_byte_classes() noexcept {
  std::array<ByteClass, 256> t{};
  for (std::size_t b = 0; b < 256; ++b) {
    if (b >= 0x80) {
      t[b] = ByteClass::multibyte;
    } else if (b >= 'A' && b <= 'Z') {
      t[b] = ByteClass::upper;
    } else {
      t[b] = is_separator(static_cast<char32_t>(b)) ? ByteClass::separator : ByteClass::word;
    }
  }
  return t;
}

/// The class of every byte, looked up once per byte in the tokeniser's loop.
inline constexpr std::array<ByteClass, 256> byte_classes = make_byte_classes();

/// Bytes of a word kept on the stack; longer words move to the heap.
inline constexpr std::size_t inline_word_bytes = 128;

/// Throws Error "<who>: text is not valid UTF-8 (<problem> at byte N): '<quote>'".
[[noreturn]] inline void throw_invalid_utf8(std::string_view who, std::string_view text,
                                            std::size_t pos, const char* problem) {
  throw Error(std::string(who) + ": text is not valid UTF-8 (" + problem + " at byte " +
              std::to_string(pos) + "): " + quote_for_message(text));
}

/// The Error for corpus text `index` of a fitting function `who`, from the Error `what` the text
/// raised: "<who>: corpus[<index>]: <what without a leading "<who>: ">".
inline Error corpus_error(std::string_view who, std::size_t index, std::string_view what) {
  std::string message(who);
  message += ": corpus[";
  message += std::to_string(index);
  message += "]: ";
  if (what.size() > who.size() + 2 && what.substr(0, who.size()) == who &&
      what.substr(who.size(), 2) == ": ") {
    what.remove_prefix(who.size() + 2);
  }
  message += what;
  return Error(message);
}

}  // namespace detail

/// Splits `text` into words and calls `on_word(std::string_view word)` for each, in order. The
/// view is valid only during the call. Returns the number of words.
///
/// A word is a maximal run of ASCII letters, ASCII digits and non-ASCII code points that are not
/// separators (see is_separator); everything else — whitespace, ASCII punctuation and symbols,
/// controls — separates words, so "C++/Qt, real-time" gives "c", "qt", "real", "time". ASCII
/// letters are lower-cased; other scripts are kept as written (no Unicode case folding).
/// Throws marl_rec::Error naming `who` when `text` is not valid UTF-8; words are passed on only
/// as far as the text is valid, so a caller that must not act on invalid text validates first
/// (or, like the embedders, only accumulates into its own output until the call returns).
/// Words of up to 128 bytes are built on the stack: no allocation.
template <class OnWord>
std::size_t for_each_word(std::string_view text, std::string_view who, OnWord&& on_word) {
  std::array<char, detail::inline_word_bytes> small;
  std::string large;  // used only by words longer than `small`
  std::size_t length = 0;
  std::size_t words = 0;
  const auto put = [&](const char* bytes, std::size_t n) {
    if (length + n > small.size()) {
      if (large.empty()) large.assign(small.data(), length);
      large.resize(length);
      large.append(bytes, n);
    } else {
      for (std::size_t i = 0; i < n; ++i) small[length + i] = bytes[i];
    }
    length += n;
  };
  const auto finish = [&] {
    if (length == 0) return;
    on_word(length > small.size() ? std::string_view(large)
                                  : std::string_view(small.data(), length));
    ++words;
    length = 0;
    large.clear();
  };
  for (std::size_t pos = 0; pos < text.size();) {
    const auto b = static_cast<unsigned char>(text[pos]);
    switch (detail::byte_classes[b]) {
      case detail::ByteClass::word:
        put(&text[pos], 1);
        ++pos;
        break;
      case detail::ByteClass::upper: {
        const char lower = static_cast<char>(b + ('a' - 'A'));
        put(&lower, 1);
        ++pos;
        break;
      }
      case detail::ByteClass::separator:
        finish();
        ++pos;
        break;
      case detail::ByteClass::multibyte: {
        const Utf8Decoded d = decode_utf8(text, pos);
        if (d.error != nullptr) detail::throw_invalid_utf8(who, text, pos, d.error);
        if (is_separator(d.code_point)) {
          finish();
        } else {
          put(&text[pos], d.length);
        }
        pos += d.length;
        break;
      }
    }
  }
  finish();
  return words;
}

/// The words of `text` (see for_each_word), as strings. For tests and tools: the embedders use
/// for_each_word, which allocates nothing.
inline std::vector<std::string> split_words(std::string_view text,
                                            std::string_view who = "split_words") {
  std::vector<std::string> words;
  for_each_word(text, who, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

/// True when `text` holds only ASCII whitespace (or nothing): the case the embedders report as
/// "empty" rather than "no words".
constexpr bool is_blank(std::string_view text) noexcept {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

/// Throws Error "<who>: <problem>: '<quote>'" for a text an embedder cannot use: empty or only
/// whitespace, or with no words (only punctuation and symbols). `words` is what for_each_word
/// returned for it.
inline void require_words(std::string_view who, std::string_view text, std::size_t words) {
  if (words > 0) return;
  if (is_blank(text)) {
    throw Error(std::string(who) +
                ": text is empty or only whitespace: " + quote_for_message(text));
  }
  throw Error(std::string(who) +
              ": text has no words (only punctuation or symbols): " + quote_for_message(text));
}

}  // namespace marl_rec::embed
