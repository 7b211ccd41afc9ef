// marl_rec — a read-only memory map of a whole file (POSIX mmap), so that large tables (a .npy of
// a million embeddings) are used or copied straight from the page cache instead of being read
// through a stream.
#pragma once

#if !__has_include(<sys/mman.h>)
#error "marl_rec/io/mapped_file.hpp needs POSIX mmap (<sys/mman.h>)"
#endif

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include "marl_rec/core/error.hpp"

namespace marl_rec::io {

/// How a MappedFile will be read, passed to the kernel as a hint.
enum class MapAccess {
  /// No hint: pages are read in as they are touched (random access to a few rows).
  normal,
  /// The whole file will be read soon, front to back: the kernel maps every page at once
  /// (MAP_POPULATE where available), which saves one page fault per 4 KiB when a loader reads it
  /// all anyway.
  whole_file,
};

/// The bytes of a file, mapped read-only into memory for the lifetime of the object (move-only).
/// An empty file gives an empty map (size() == 0, data() == nullptr); nothing is mapped then.
///
/// The map is MAP_PRIVATE and read-only, but it is not a snapshot: if another process changes
/// the file while it is mapped, the changes may show through, and if the file is truncated,
/// touching the lost pages raises SIGBUS. Map only files that stay unchanged while mapped.
class MappedFile {
 public:
  /// An empty map.
  MappedFile() noexcept = default;

  /// Maps the whole of the regular file at `path`. Throws Error naming the path and the reason
  /// (the system's errno text) when it cannot be opened, is not a regular file, or cannot be
  /// mapped.
  explicit MappedFile(const std::string& path, MapAccess access = MapAccess::normal) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", errno);
    // The descriptor is not needed once the map exists (the map keeps the file alive).
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } const closer{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0) fail("cannot stat", errno);
    // A directory, a FIFO or a device has no fixed size to map.
    marl_rec::detail::require(S_ISREG(info.st_mode),
                              [&] { return path_ + ": cannot map: not a regular file"; });
    const auto bytes = static_cast<std::uint64_t>(info.st_size);
    marl_rec::detail::require(bytes <= std::numeric_limits<std::size_t>::max(), [&] {
      return path_ + ": cannot map: " + std::to_string(bytes) +
             " bytes do not fit the address space";
    });
    if (bytes == 0) return;  // mmap refuses a length of 0; an empty map needs no mapping
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    if (access == MapAccess::whole_file) flags |= MAP_POPULATE;
#endif
    void* p = ::mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) fail("cannot map", errno);
    data_ = static_cast<const std::byte*>(p);
    size_ = static_cast<std::size_t>(bytes);
    if (access == MapAccess::whole_file) {
      // Only a hint (read-ahead in large chunks): its failure changes nothing but speed.
      (void)::madvise(p, size_, MADV_SEQUENTIAL);
    }
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  ~MappedFile() { unmap(); }

  /// The first byte of the file (nullptr when the file is empty). Page-aligned.
  const std::byte* data() const noexcept { return data_; }
  /// The file's size in bytes.
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// All the bytes of the file.
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// The path the file was mapped from (empty for a default-constructed map).
  const std::string& path() const noexcept { return path_; }

 private:
  void unmap() noexcept {
    // munmap can only fail on arguments this class never passes.
    if (data_ != nullptr) (void)::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  [[noreturn]] void fail(const char* what, int error) const {
    throw Error(path_ + ": " + what + ": " + std::generic_category().message(error));
  }

  std::string path_{};
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace marl_rec::io
