// A shared memory mapping (mmap MAP_SHARED of a file, /dev/kvmfrN or a PCI BAR).
//
// Lifetime contract: the mapping is unmapped exactly once, when it has been released by
// everything that may still touch it: the owning Region (close() or GC), the ArrayBuffer lent to
// JS (its finalizer, or detach at close), and every in-flight asynchronous copy or watcher poll.
// A shared_ptr counts those holders, so a late copy on the thread pool can never touch unmapped
// memory, and JS code holding the ArrayBuffer after close() sees a detached buffer, not a
// dangling pointer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace glasspane {

struct Mapping {
  uint8_t* base = nullptr;
  size_t length = 0;
  std::string path;
  std::string kind;  // "file" | "device" | "pci-bar"
  // The file that was mapped (st_dev, st_ino): a path that now names another file means the
  // region was deleted and re-created, and the owner should re-open it.
  uint64_t dev = 0;
  uint64_t ino = 0;
  // Fault-guard slot (fault_guard.h); -1 when unguarded.
  int guardSlot = -1;

  // Off-thread users (async copies, watcher polls) hold the memory with Acquire()/Release().
  // Close() unmaps at once when nobody holds it, otherwise the last Release() does.
  bool Acquire();
  void Release();
  void Close();
  bool IsClosing();
  // True once a SIGBUS inside the mapping was survived (the file shrank under us): its pages now
  // read zeros and nothing written reaches the file.
  bool Broken();
  ~Mapping();

 private:
  void UnmapLocked();
  std::mutex mu_;
  int users_ = 0;
  bool closing_ = false;
  bool wasBroken_ = false;
};

using MappingRef = std::shared_ptr<Mapping>;

struct OpenOptions {
  bool create = false;  // create (or grow) a regular file to `size` bytes
  size_t size = 0;      // wanted size; 0 = take it from the file or device
  bool readOnly = false;
};

// Opens and maps `path`. Throws SysError on a failed syscall, std::invalid_argument on a
// request that cannot be satisfied (e.g. a zero-sized file).
MappingRef OpenMapping(const std::string& path, const OpenOptions& opts);

struct SysError {
  int err;
  std::string syscall;
  std::string path;
  std::string message;
};

}  // namespace glasspane
