// marl_rec — saving to and loading from files: a save replaces the file atomically (a temporary
// file in the same directory, fsync, rename, fsync of the directory), so the path always holds
// either the old or the new whole file, whatever moment the process dies at.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <ostream>
#include <streambuf>
#include <string>
#include <type_traits>
#include <utility>

#include "marl_rec/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#define MARL_REC_POSIX_FILES 1
#else
#define MARL_REC_POSIX_FILES 0
#endif

namespace marl_rec::io {

namespace detail {

inline std::string errno_text(int error) { return std::strerror(error); }

#if MARL_REC_POSIX_FILES
/// An output stream buffer over a file descriptor: every byte reaches write(2), with partial
/// writes and EINTR retried; the first failure is kept (errno) and makes the stream fail.
class FdOutBuf : public std::streambuf {
 public:
  explicit FdOutBuf(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof buffer_); }
  int error() const noexcept { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large pieces go straight to the file (a model's body is written in one piece).
    if (n >= static_cast<std::streamsize>(sizeof buffer_)) {
      if (!drain() || !write_all(s, static_cast<std::size_t>(n))) return 0;
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const auto n = static_cast<std::size_t>(pptr() - pbase());
    if (n > 0 && !write_all(pbase(), n)) return false;
    setp(buffer_, buffer_ + sizeof buffer_);
    return true;
  }
  bool write_all(const char* p, std::size_t n) {
    if (error_ != 0) return false;
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  int fd_;
  int error_ = 0;
  char buffer_[1 << 16];
};

/// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  /// Closes the descriptor held (if any) and holds `fd` instead.
  void reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  /// Closes now, returning close(2)'s errno (0 on success).
  int close() noexcept {
    const int fd = std::exchange(fd_, -1);
    return fd >= 0 && ::close(fd) != 0 ? errno : 0;
  }

 private:
  int fd_;
};

inline bool fsync_retrying(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}
#endif

/// A name for the temporary file beside `path`, unique within this process and (through the
/// pid) among processes: `<name>.tmp-<pid>-<n>`.
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
#if MARL_REC_POSIX_FILES
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  std::filesystem::path t = path;
  t += ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter.fetch_add(1));
  return t;
}

}  // namespace detail

/// Writes what `write(std::ostream&)` writes to `path`, replacing it atomically: the bytes go to
/// a new temporary file beside it (`<path>.tmp-<pid>-<n>`), which is flushed to disk (fsync) and
/// renamed over `path`; then the directory is flushed, so the rename survives a power cut.
/// Readers of `path` see the old file or the new one, never a mixture; a process killed at any
/// moment leaves the old or the new file (and possibly a stray temporary, which no load reads).
/// On any error the temporary is removed, `path` is untouched, and an Error names the path and
/// the system's reason. Concurrent saves to one path are safe (the last rename wins).
template <class Write>
void write_file_atomically(const std::filesystem::path& path, Write&& write) {
  std::filesystem::path temporary = detail::temporary_beside(path);
  const auto fail = [&](const std::string& what) -> void {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw Error("saving '" + path.string() + "': " + what);
  };
#if MARL_REC_POSIX_FILES
  // Exclusive creation; a name left by a crashed process of the same pid (a restarted container
  // often gets the same one) is skipped, not reused.
  detail::Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  for (int attempt = 0; fd.get() < 0 && errno == EEXIST && attempt < 1000; ++attempt) {
    temporary = detail::temporary_beside(path);
    fd.reset(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  }
  if (fd.get() < 0) {
    throw Error("saving '" + path.string() + "': cannot create '" + temporary.string() +
                "': " + detail::errno_text(errno));
  }
  {
    detail::FdOutBuf buffer(fd.get());
    std::ostream out(&buffer);
    try {
      std::forward<Write>(write)(out);
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw;
    }
    out.flush();
    if (!out || buffer.error() != 0) {
      fail("cannot write '" + temporary.string() + "': " +
           detail::errno_text(buffer.error() != 0 ? buffer.error() : EIO));
    }
  }
  if (!detail::fsync_retrying(fd.get())) fail("fsync failed: " + detail::errno_text(errno));
  if (const int e = fd.close(); e != 0) fail("close failed: " + detail::errno_text(e));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    fail("cannot rename '" + temporary.string() + "' over it: " + detail::errno_text(errno));
  }
  // The rename is in the directory: flush it too. A failure here cannot undo the rename; the new
  // file is in place (it may not survive a power cut), so report it.
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  detail::Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || !detail::fsync_retrying(dir_fd.get())) {
    throw Error("saving '" + path.string() + "': the file was replaced, but flushing its directory failed: " +
                detail::errno_text(errno));
  }
#else
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("saving '" + path.string() + "': cannot create '" + temporary.string() + "'");
    try {
      std::forward<Write>(write)(out);
    } catch (const std::exception& e) {
      out.close();
      fail(e.what());
    }
    out.flush();
    if (!out) {
      out.close();
      fail("cannot write '" + temporary.string() + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) fail("cannot rename '" + temporary.string() + "' over it: " + ec.message());
#endif
}

/// Saves `object` (anything with `save(std::ostream&) const`) to `path` atomically (see
/// write_file_atomically).
template <class T>
void save_file(const std::filesystem::path& path, const T& object) {
  write_file_atomically(path, [&](std::ostream& out) { object.save(out); });
}

namespace detail {
/// The length of the format-2 stream at the start of `in` (header + body + checksum), read from
/// its header, or 0 when it is not one (format 1, or too short: load reports those). Rewinds.
inline std::uint64_t stream_length(std::istream& in) {
  unsigned char h[8 + 4 + 8];
  std::uint64_t total = 0;
  in.read(reinterpret_cast<char*>(h), sizeof h);
  // (A stream with another byte-order mark is left to load, which names the problem.)
  if (in.gcount() == static_cast<std::streamsize>(sizeof h) && std::memcmp(h, "MRECMDL2", 8) == 0 &&
      h[8] == 0x0D && h[9] == 0x0C && h[10] == 0x0B && h[11] == 0x0A) {
    std::uint64_t type = 0;
    for (int i = 0; i < 8; ++i) type |= std::uint64_t{h[12 + i]} << (8 * i);
    if (type <= 256) {
      in.seekg(static_cast<std::streamoff>(sizeof h + type + 8));
      unsigned char b[8];
      in.read(reinterpret_cast<char*>(b), 8);
      if (in.gcount() == 8) {
        std::uint64_t body = 0;
        for (int i = 0; i < 8; ++i) body |= std::uint64_t{b[i]} << (8 * i);
        const std::uint64_t head = sizeof h + type + 16;
        if (body <= std::numeric_limits<std::uint64_t>::max() - head - 4) total = head + body + 4;
      }
    }
  }
  in.clear();
  in.seekg(0);
  return total;
}
}  // namespace detail

/// Loads `object` from the file at `path` (`object.load(in, extra...)`), which must hold exactly
/// one stream. As `load` itself, a failed load leaves the object unchanged, and so does a file
/// with bytes after its stream: a format-2 file is checked against the length its header gives
/// before anything is read into the object; a format-1 file (whose header gives no length) is
/// loaded into a copy first when T can be copied. Errors name the path.
template <class T, class... Extra>
void load_file(const std::filesystem::path& path, T& object, Extra&&... extra) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("loading '" + path.string() + "': cannot open it: " + detail::errno_text(errno));
  // The size of the file opened (not of whatever is at `path` now: a save may replace it).
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0);
  if (end < 0 || !in) throw Error("loading '" + path.string() + "': cannot read its size");
  const auto size = static_cast<std::uint64_t>(end);
  const std::uint64_t length = detail::stream_length(in);
  if (length != 0 && length < size) {
    throw Error("loading '" + path.string() + "': the file has " + std::to_string(size) +
                " bytes, its stream " + std::to_string(length) + " (bytes after the stream)");
  }
  const auto trailing = [&] {
    if (in.peek() != std::ifstream::traits_type::eof()) {
      throw Error("loading '" + path.string() + "': the file has bytes after its stream");
    }
  };
  try {
    if constexpr (std::is_copy_constructible_v<T> && std::is_move_assignable_v<T>) {
      if (length == 0) {  // format 1: load a copy, check the end, then commit
        T copy = object;
        copy.load(in, std::forward<Extra>(extra)...);
        trailing();
        object = std::move(copy);
        return;
      }
    }
    object.load(in, std::forward<Extra>(extra)...);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.starts_with("loading '" + path.string() + "'")) throw;
    throw Error("loading '" + path.string() + "': " + what);
  }
  // Reached for format 2 (checked above) and for a format-1 object that cannot be copied (then
  // checked after the load, which has committed).
  trailing();
}

}  // namespace marl_rec::io
