// extract_snippets — turns every ```cpp block of the given Markdown files into one C++ file that
// the test suite compiles, so that no snippet in the docs can drift from the API.
//
//   marl_rec_extract_snippets OUT.cpp FILE.md...
//
// The conventions (docs/README.md "Code in the docs"):
// - a block is a function body, compiled inside `void snippet(<context>)`; its context is the text
//   of a `<!-- snippet-context: ... -->` comment right before it (blank lines allowed between);
// - a block after `<!-- snippet: file -->` is a whole file (types, functions, main); its
//   `#include` lines are hoisted to the top, the rest goes into a namespace of its own;
// - the text of a `<!-- snippet-prelude: ... -->` comment goes before either kind, at namespace
//   scope (e.g. a type an earlier snippet of the page defined);
// - every snippet gets a namespace of its own and a #line directive, so that a compiler error
//   names the Markdown file and line.
// Malformed input (an unterminated block, an unknown snippet directive, a context on a file
// snippet) is an error naming the file and line: a typo must not silently skip a snippet.
#include <cstdio>
#include <cctype>
#include <exception>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Snippet {
  std::string file;        // the Markdown file
  std::size_t line = 0;    // line of the first code line (1-based)
  bool whole_file = false;
  std::string context;     // function parameters (function snippets)
  std::string prelude;     // namespace-scope code before the block (file snippets)
  std::vector<std::string> code;
};

[[noreturn]] void fail(const std::string& file, std::size_t line, const std::string& what) {
  throw std::runtime_error(file + ":" + std::to_string(line) + ": " + what);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The directives waiting for the next code block.
struct Pending {
  bool whole_file = false;
  std::string context, prelude;
  std::size_t line = 0;  // where the first of them was, for error messages
  bool any() const { return whole_file || !context.empty() || !prelude.empty(); }
};

// Applies one `<!-- ... -->` comment's text to `pending` if it is a snippet directive.
void directive(const std::string& body, const std::string& file, std::size_t line, Pending& pending) {
  const std::string text = trim(body);
  if (!starts_with(text, "snippet")) return;  // an ordinary HTML comment
  if (!pending.any()) pending.line = line;
  if (text == "snippet: file") {
    pending.whole_file = true;
  } else if (starts_with(text, "snippet-context:")) {
    pending.context = trim(text.substr(16));
  } else if (starts_with(text, "snippet-prelude:")) {
    pending.prelude = trim(text.substr(16));
  } else {
    fail(file, line, "unknown snippet directive '" + text +
                         "' (known: 'snippet: file', 'snippet-context: ...', 'snippet-prelude: ...')");
  }
}

std::vector<Snippet> extract(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file + ": cannot open");
  std::vector<Snippet> out;
  Pending pending;
  std::string raw;
  std::size_t number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const std::string line = trim(raw);
    if (starts_with(line, "<!--")) {
      // A comment, maybe over several lines.
      std::string body = line.substr(4);
      const std::size_t first = number;
      while (body.find("-->") == std::string::npos) {
        if (!std::getline(in, raw)) fail(file, first, "unterminated HTML comment");
        ++number;
        body += "\n" + raw;
      }
      const std::size_t end = body.find("-->");
      if (!trim(body.substr(end + 3)).empty()) fail(file, number, "text after '-->' on the same line");
      directive(body.substr(0, end), file, first, pending);
      continue;
    }
    if (starts_with(line, "```")) {
      const std::string language = trim(line.substr(3));
      const std::size_t indent = raw.find('`');
      const std::size_t open = number;
      std::vector<std::string> code;
      bool closed = false;
      while (std::getline(in, raw)) {
        ++number;
        if (trim(raw) == "```") {
          closed = true;
          break;
        }
        // A block inside a list item is indented; its code is not.
        code.push_back(raw.substr(std::min(indent, raw.find_first_not_of(' ') == std::string::npos
                                                         ? raw.size()
                                                         : raw.find_first_not_of(' '))));
      }
      if (!closed) fail(file, open, "unterminated ``` block");
      std::string lower;
      for (const char c : language) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (language != "cpp" && language != "c++" &&
          (lower.rfind("cpp", 0) == 0 || lower.rfind("c++", 0) == 0 || lower == "cxx" || lower == "cc")) {
        // ```C++, ```cpp {.attrs}, ```cxx: C++ the extractor would skip. Say so rather than skip.
        fail(file, open, "a C++ block must open with ```cpp, not ```" + language);
      }
      if (language == "cpp" || language == "c++") {
        if (pending.whole_file && !pending.context.empty()) {
          fail(file, pending.line, "a file snippet takes a snippet-prelude, not a snippet-context");
        }
        out.push_back({file, open + 1, pending.whole_file, pending.context, pending.prelude, std::move(code)});
      } else if (pending.any()) {
        fail(file, pending.line, "snippet directive before a ```" + language + " block (only ```cpp is compiled)");
      }
      pending = {};
      continue;
    }
    if (!line.empty() && pending.any()) {
      fail(file, pending.line, "snippet directive not followed by a ```cpp block");
    }
  }
  if (pending.any()) fail(file, pending.line, "snippet directive at the end of the file");
  return out;
}

// A C string literal of `s` for #line.
std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: marl_rec_extract_snippets OUT.cpp FILE.md...\n";
    return 2;
  }
  std::vector<Snippet> snippets;
  for (int i = 2; i < argc; ++i) {
    auto more = extract(argv[i]);
    for (auto& s : more) snippets.push_back(std::move(s));
  }
  std::set<std::string> includes{"#include <marl_rec/marl_rec.hpp>"};
  for (const Snippet& s : snippets) {
    if (!s.whole_file) continue;
    for (const std::string& line : s.code) {
      if (starts_with(trim(line), "#include")) includes.insert(trim(line));
    }
  }
  std::ostringstream cpp;
  cpp << "// Generated by marl_rec_extract_snippets from the docs: do not edit.\n";
  for (const std::string& inc : includes) cpp << inc << "\n";
  cpp << "namespace mr = marl_rec;\n";
  for (std::size_t n = 0; n < snippets.size(); ++n) {
    const Snippet& s = snippets[n];
    cpp << "\nnamespace doc_snippet_" << n << " {\n";
    if (s.whole_file) {
      if (!s.prelude.empty()) cpp << s.prelude << "\n";
      cpp << "#line " << s.line << " " << quoted(s.file) << "\n";
      for (const std::string& line : s.code) cpp << (starts_with(trim(line), "#include") ? "" : line) << "\n";
    } else {
      if (!s.prelude.empty()) cpp << s.prelude << "\n";
      cpp << "[[maybe_unused]] void snippet(" << s.context << ") {\n";
      cpp << "#line " << s.line << " " << quoted(s.file) << "\n";
      for (const std::string& line : s.code) cpp << line << "\n";
      cpp << "}\n";
    }
    cpp << "}  // namespace doc_snippet_" << n << "\n";
  }
  // Write only when something changed: the object is rebuilt only then.
  const std::string text = cpp.str();
  std::string old;
  if (std::ifstream prev{argv[1]}) {
    std::ostringstream all;
    all << prev.rdbuf();
    old = all.str();
  }
  if (old != text) {
    std::ofstream out(argv[1]);
    out << text;
    if (!out) throw std::runtime_error(std::string(argv[1]) + ": cannot write");
  }
  std::printf("%zu C++ snippets from %d Markdown files\n", snippets.size(), argc - 2);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "marl_rec_extract_snippets: " << e.what() << "\n";
  return 1;
}
