#include "mapping.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "fault_guard.h"

namespace glasspane {

namespace {

// kvmfr kernel module ioctl (Looking Glass B7 module/kvmfr.h): _IO('u', 0x44) returns the size.
constexpr unsigned long kKvmfrDmabufGetSize = _IO('u', 0x44);

[[noreturn]] void ThrowSys(const char* syscall, const std::string& path, const std::string& extra = "") {
  int err = errno;
  std::string msg = std::string(strerror(err)) + ", " + syscall + " '" + path + "'";
  if (!extra.empty()) msg += ": " + extra;
  throw SysError{err, syscall, path, msg};
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool IsPciResource(const std::string& path) {
  return path.rfind("/sys/", 0) == 0 && path.find("/resource") != std::string::npos;
}

}  // namespace

bool Mapping::Acquire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_ || base == nullptr) return false;
  ++users_;
  return true;
}

void Mapping::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--users_ == 0 && closing_) UnmapLocked();
}

void Mapping::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closing_ = true;
  if (users_ == 0) UnmapLocked();
}

bool Mapping::IsClosing() {
  std::lock_guard<std::mutex> lock(mu_);
  return closing_;
}

bool Mapping::Broken() {
  std::lock_guard<std::mutex> lock(mu_);
  return guardSlot >= 0 ? GuardBroken(guardSlot) : wasBroken_;
}

void Mapping::UnmapLocked() {
  if (base == nullptr) return;
  wasBroken_ = GuardBroken(guardSlot);
  GuardUnregister(guardSlot);  // before munmap: the handler must never map over reused space
  guardSlot = -1;
  munmap(base, length);
  base = nullptr;
}

Mapping::~Mapping() {
  std::lock_guard<std::mutex> lock(mu_);
  UnmapLocked();
}

MappingRef OpenMapping(const std::string& path, const OpenOptions& opts) {
  Fd fd;
  int flags = (opts.readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (opts.create) flags |= O_CREAT;
  // 0660: owner and group (e.g. the kvm or libvirt-qemu group QEMU runs in) may map it.
  fd.fd = open(path.c_str(), flags, 0660);
  if (fd.fd < 0) ThrowSys("open", path);

  struct stat st;
  if (fstat(fd.fd, &st) != 0) ThrowSys("fstat", path);

  auto m = std::make_shared<Mapping>();
  m->path = path;
  size_t length = 0;
  if (S_ISCHR(st.st_mode)) {
    m->kind = "device";
    long sz = ioctl(fd.fd, kKvmfrDmabufGetSize, 0);
    if (sz > 0) {
      length = static_cast<size_t>(sz);
      if (opts.size != 0 && opts.size < length) length = opts.size;
    } else if (opts.size != 0) {
      length = opts.size;
    } else {
      ThrowSys("ioctl", path, "not a kvmfr device (KVMFR_DMABUF_GETSIZE failed); pass the size explicitly");
    }
  } else if (S_ISREG(st.st_mode)) {
    m->kind = IsPciResource(path) ? "pci-bar" : "file";
    length = static_cast<size_t>(st.st_size);
    if (opts.create && opts.size > length) {
      if (ftruncate(fd.fd, static_cast<off_t>(opts.size)) != 0) ThrowSys("ftruncate", path);
      length = opts.size;
    } else if (opts.size != 0) {
      if (opts.size > length) {
        errno = EINVAL;
        ThrowSys("mmap", path,
                 "file is " + std::to_string(length) + " bytes, smaller than the " + std::to_string(opts.size) +
                     " bytes asked for");
      }
      length = opts.size;
    }
  } else {
    errno = EINVAL;
    ThrowSys("open", path, "neither a regular file nor a character device");
  }
  if (length == 0) {
    errno = EINVAL;
    ThrowSys("mmap", path, "the region is empty (0 bytes)");
  }

  int prot = PROT_READ | (opts.readOnly ? 0 : PROT_WRITE);
  void* p = mmap(nullptr, length, prot, MAP_SHARED, fd.fd, 0);
  if (p == MAP_FAILED) ThrowSys("mmap", path);
  m->base = static_cast<uint8_t*>(p);
  m->length = length;
  m->dev = static_cast<uint64_t>(st.st_dev);
  m->ino = static_cast<uint64_t>(st.st_ino);
  // Only files can shrink under us; a device or BAR keeps its size while mapped.
  if (S_ISREG(st.st_mode)) m->guardSlot = GuardRegister(p, length);
  return m;
}

}  // namespace glasspane
