#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

namespace glasspane {

namespace {

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " " + path + ": " + strerror(err));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("path", Napi::String::New(env, path));
  throw e;
}

}  // namespace

Napi::Value KvmApiVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "kvmApiVersion(path: string)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // Read-write, as QEMU opens it: a device readable only would pass a read-only open.
  // O_NONBLOCK: a FIFO placed there must not hang the check.
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) ThrowErrno(env, errno, "open", path);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  close(fd);
  if (version < 0) ThrowErrno(env, err, "ioctl", path);
  return Napi::Number::New(env, version);
}

}  // namespace glasspane
