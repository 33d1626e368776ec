// Asking /dev/kvm whether KVM works: open it and call KVM_GET_API_VERSION, the first thing QEMU
// does. This is the real test for `accel = "kvm"`: /proc/cpuinfo hides vmx/svm in a nested guest
// whose /dev/kvm works, and shows them on a host whose firmware disabled virtualisation.
#pragma once

#include <napi.h>

namespace glasspane {

// kvmApiVersion(path) -> the API version the device reports (12 for every KVM since 2.6.22).
// Throws an Error with code (ENOENT, EACCES, ENODEV, ENOTTY, ...), errno, syscall ("open" or
// "ioctl") and path when it cannot be opened read-write or does not answer the ioctl.
Napi::Value KvmApiVersion(const Napi::CallbackInfo& info);

}  // namespace glasspane
