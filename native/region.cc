#include "region.h"

#include <string.h>

#include <cmath>
#include <cstring>
#include <memory>

#include <v8.h>

#include "addon_state.h"
#include "fast_copy.h"

namespace glasspane {

namespace {

[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

size_t ToSize(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
    ThrowRange(env, std::string(what) + " must be a non-negative integer, got " + std::to_string(d));
  return static_cast<size_t>(d);
}

// Values stored into the region: a u32 must be an integer in 0..0xffffffff (a silent wrap of -1
// or 2^32 would write something nobody asked for), a u64 a bigint in 0..2^64-1.
uint32_t ToU32(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) ThrowType(env, "value must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0 || d != std::floor(d))
    ThrowRange(env, "value must be an integer in 0..0xffffffff, got " + std::to_string(d));
  return static_cast<uint32_t>(d);
}

uint64_t ToU64(Napi::Env env, const Napi::Value& v) {
  if (!v.IsBigInt()) ThrowType(env, "value must be a bigint");
  bool lossless = false;
  uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowRange(env, "value must be a bigint in 0..2^64-1");
  return u;
}

template <typename T>
T ToUnsigned(Napi::Env env, const Napi::Value& v) {
  if constexpr (sizeof(T) == 4) return ToU32(env, v);
  else return ToU64(env, v);
}

template <typename T>
Napi::Value FromUnsigned(Napi::Env env, T v) {
  if constexpr (sizeof(T) == 4) return Napi::Number::New(env, static_cast<double>(v));
  else return Napi::BigInt::New(env, static_cast<uint64_t>(v));
}

// A byte range inside a typed array or ArrayBuffer given from JS.
struct JsBytes {
  uint8_t* data;
  size_t length;
  Napi::Object holder;
};

// Typed arrays may sit on an ArrayBuffer or a SharedArrayBuffer (a worker's frame mailbox):
// napi_get_typedarray_info gives the data pointer for both.
JsBytes ToBytes(Napi::Env env, const Napi::Value& v, const char* what) {
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value ab;
    size_t byteOffset = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byteOffset) != napi_ok)
      ThrowType(env, std::string(what) + " is not a readable typed array");
    size_t elem = v.As<Napi::TypedArray>().ElementSize();
    return {static_cast<uint8_t*>(data), length * elem, v.As<Napi::Object>()};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength(), v.As<Napi::Object>()};
  }
  ThrowType(env, std::string(what) + " must be a TypedArray or ArrayBuffer");
}

void CheckSpan(Napi::Env env, size_t off, size_t len, size_t limit, const char* what) {
  if (off > limit || len > limit - off)
    ThrowRange(env, std::string(what) + ": offset " + std::to_string(off) + " + length " + std::to_string(len) +
                        " is outside 0.." + std::to_string(limit));
}

// The memory behind a JS buffer, held for as long as a copy on another thread writes or reads it.
// A Persistent reference keeps the JS object alive but not its memory: JS can detach the buffer
// (postMessage/structuredClone with transfer) and the new owner may be collected mid-copy. V8's
// BackingStore is what owns the bytes; holding it keeps them valid whatever JS does meanwhile
// (the copy then lands in memory nobody reads, never in freed memory). N-API has no handle on it,
// so this one place uses V8's API: a napi_value is a V8 Local (as node's own v8impl converts it);
// the addon is compiled against the headers of the Node that runs it.
std::shared_ptr<v8::BackingStore> BackingStoreOf(napi_value value) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(value), "napi_value is a V8 Local");
  std::memcpy(static_cast<void*>(&local), &value, sizeof value);
  if (local->IsArrayBufferView()) return local.As<v8::ArrayBufferView>()->Buffer()->GetBackingStore();
  if (local->IsArrayBuffer()) return local.As<v8::ArrayBuffer>()->GetBackingStore();
  if (local->IsSharedArrayBuffer()) return local.As<v8::SharedArrayBuffer>()->GetBackingStore();
  return nullptr;
}

class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, MappingRef m, bool out, uint8_t* jsPtr, size_t regionOff, size_t len, int64_t wpOff,
             uint32_t timeoutMs, size_t step, Napi::Object holder, int64_t abortOff = -1, uint32_t abortValue = 0)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        mapping_(std::move(m)),
        out_(out),
        jsPtr_(jsPtr),
        regionOff_(regionOff),
        len_(len),
        wpOff_(wpOff),
        timeoutMs_(timeoutMs),
        step_(step),
        abortOff_(abortOff),
        abortValue_(abortValue),
        memory_(BackingStoreOf(holder)) {
    holder_ = Napi::Persistent(holder);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (!mapping_->Acquire()) {
      SetError("region is closed");
      return;
    }
    uint8_t* base = mapping_->base;
    if (out_) {
      const uint32_t* wp = wpOff_ >= 0 ? reinterpret_cast<const uint32_t*>(base + wpOff_) : nullptr;
      CopyAbort abort;
      if (abortOff_ >= 0) abort = {reinterpret_cast<const uint32_t*>(base + abortOff_), abortValue_};
      result_ = CopyFollowingWp(jsPtr_, base + regionOff_, len_, wp, timeoutMs_, abort);
    } else {
      uint32_t* wp = wpOff_ >= 0 ? reinterpret_cast<uint32_t*>(base + wpOff_) : nullptr;
      WriteAdvancingWp(base + regionOff_, jsPtr_, len_, wp, step_);
      result_ = len_;
    }
    mapping_->Release();
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(result_))); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  MappingRef mapping_;
  bool out_;
  uint8_t* jsPtr_;
  size_t regionOff_, len_;
  int64_t wpOff_;
  uint32_t timeoutMs_;
  size_t step_;
  int64_t abortOff_;
  uint32_t abortValue_;
  size_t result_ = 0;
  Napi::ObjectReference holder_;
  std::shared_ptr<v8::BackingStore> memory_;  // the JS side's bytes stay allocated until we are done
};

}  // namespace

void ThrowSysError(Napi::Env env, const SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  const char* name = strerrorname_np(e.err);
  err.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  err.Set("errno", Napi::Number::New(env, -e.err));
  err.Set("syscall", Napi::String::New(env, e.syscall));
  err.Set("path", Napi::String::New(env, e.path));
  throw err;
}

Napi::Function Region::Init(Napi::Env env) {
  return DefineClass(env, "Region",
                     {
                         InstanceAccessor<&Region::GetBuffer>("buffer"),
                         InstanceAccessor<&Region::GetByteLength>("byteLength"),
                         InstanceAccessor<&Region::GetPath>("path"),
                         InstanceAccessor<&Region::GetKind>("kind"),
                         InstanceAccessor<&Region::GetClosed>("closed"),
                         InstanceAccessor<&Region::GetBroken>("broken"),
                         InstanceAccessor<&Region::GetFileId>("fileId"),
                         InstanceMethod<&Region::Close>("close"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kLoad>>("load32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kStore>>("store32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kCas>>("cas32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kAdd>>("add32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kAnd>>("and32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kOr>>("or32"),
                         InstanceMethod<&Region::Atomic<uint32_t, AtomicOp::kXchg>>("xchg32"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kLoad>>("load64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kStore>>("store64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kCas>>("cas64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kAdd>>("add64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kAnd>>("and64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kOr>>("or64"),
                         InstanceMethod<&Region::Atomic<uint64_t, AtomicOp::kXchg>>("xchg64"),
                         InstanceMethod<&Region::CopyOut>("copyOut"),
                         InstanceMethod<&Region::CopyOutAsync>("copyOutAsync"),
                         InstanceMethod<&Region::WriteIn>("writeIn"),
                         InstanceMethod<&Region::WriteInAsync>("writeInAsync"),
                     });
}

// new Region(path, { create?: boolean, size?: number, readOnly?: boolean })
Region::Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info), state_(&StateOf(info.Env())) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) ThrowType(env, "path must be a string");
  OpenOptions opts;
  if (info.Length() > 1 && info[1].IsObject()) {
    auto o = info[1].As<Napi::Object>();
    if (o.Has("create")) opts.create = o.Get("create").ToBoolean();
    if (o.Has("readOnly")) opts.readOnly = o.Get("readOnly").ToBoolean();
    if (o.Has("size") && !o.Get("size").IsUndefined()) opts.size = ToSize(env, o.Get("size"), "size");
  }
  try {
    mapping_ = OpenMapping(info[0].As<Napi::String>().Utf8Value(), opts);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
  }
  // The ArrayBuffer holds its own reference to the mapping: JS may keep the buffer after the
  // Region object is collected, and the memory must stay mapped until both are gone.
  auto* hint = new MappingRef(mapping_);
  auto ab = Napi::ArrayBuffer::New(
      env, mapping_->base, mapping_->length, [](Napi::Env, void*, MappingRef* h) { delete h; }, hint);
  buffer_ = Napi::Persistent(ab);
  state_->regions.insert(this);
}

Region::~Region() {
  // Collected without close(): the mapping goes when its last holder (maybe the buffer) goes.
  // A closed region already left the set (environment teardown closes every open one first).
  if (!closed_) state_->regions.erase(this);
}

MappingRef Region::GetMapping(Napi::Env env) {
  if (closed_) throw Napi::Error::New(env, "region is closed");
  return mapping_;
}

void Region::CloseNow(bool detach) {
  if (closed_) return;
  closed_ = true;
  if (detach && !buffer_.IsEmpty()) {
    Napi::ArrayBuffer ab = buffer_.Value();
    if (!ab.IsDetached()) ab.Detach();
  }
  buffer_.Reset();
  mapping_->Close();
  state_->regions.erase(this);
}

void Region::CloseForExit() { CloseNow(false); }

void CloseRegionsAtTeardown(AddonState& state) {
  auto copy = state.regions;
  for (Region* r : copy) r->CloseForExit();
}

Napi::Value Region::Close(const Napi::CallbackInfo& info) {
  CloseNow(true);
  return info.Env().Undefined();
}

Napi::Value Region::GetBuffer(const Napi::CallbackInfo& info) {
  if (closed_) throw Napi::Error::New(info.Env(), "region is closed");
  return buffer_.Value();
}
Napi::Value Region::GetByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? 0 : static_cast<double>(mapping_->length));
}
Napi::Value Region::GetPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), mapping_->path); }
Napi::Value Region::GetKind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), mapping_->kind); }
Napi::Value Region::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }
Napi::Value Region::GetBroken(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), mapping_->Broken()); }
Napi::Value Region::GetFileId(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(mapping_->dev) + ":" + std::to_string(mapping_->ino));
}

uint8_t* Region::CheckedPtr(Napi::Env env, const Napi::Value& offV, size_t width, size_t align) {
  if (closed_) throw Napi::Error::New(env, "region is closed");
  size_t off = ToSize(env, offV, "offset");
  CheckSpan(env, off, width, mapping_->length, "atomic access");
  if (off % align != 0) ThrowRange(env, "offset " + std::to_string(off) + " is not " + std::to_string(align) + "-byte aligned");
  return mapping_->base + off;
}

// One body for the 14 atomics: load/store take (offset[, value]); cas (offset, expected, desired)
// returns the value found (== expected when the swap happened); the rest return the old value.
template <typename T, AtomicOp op>
Napi::Value Region::Atomic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  T* p = reinterpret_cast<T*>(CheckedPtr(env, info[0], sizeof(T), sizeof(T)));
  if constexpr (op == AtomicOp::kLoad) {
    return FromUnsigned<T>(env, __atomic_load_n(p, __ATOMIC_ACQUIRE));
  } else if constexpr (op == AtomicOp::kStore) {
    __atomic_store_n(p, ToUnsigned<T>(env, info[1]), __ATOMIC_RELEASE);
    return env.Undefined();
  } else if constexpr (op == AtomicOp::kCas) {
    T expected = ToUnsigned<T>(env, info[1]);
    T desired = ToUnsigned<T>(env, info[2]);
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return FromUnsigned<T>(env, expected);
  } else {
    T v = ToUnsigned<T>(env, info[1]);
    T old;
    if constexpr (op == AtomicOp::kAdd) old = __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
    else if constexpr (op == AtomicOp::kAnd) old = __atomic_fetch_and(p, v, __ATOMIC_ACQ_REL);
    else if constexpr (op == AtomicOp::kOr) old = __atomic_fetch_or(p, v, __ATOMIC_ACQ_REL);
    else old = __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
    return FromUnsigned<T>(env, old);
  }
}

namespace {
struct CopyArgs {
  size_t regionOff, len;
  JsBytes js;
  size_t jsOff;
  int64_t wpOff;
  uint32_t timeoutMs;
  size_t step;
  int64_t abortOff;
  uint32_t abortValue;
};

// copyOut(srcOffset, length, dest, destOffset, wpOffset, timeoutMs[, abortOffset, abortValue])
// writeIn(src, srcOffset, dstOffset, length, wpOffset, step)
CopyArgs ParseCopy(Napi::Env env, const Napi::CallbackInfo& info, bool out, size_t regionLen) {
  CopyArgs a{};
  if (out) {
    a.regionOff = ToSize(env, info[0], "srcOffset");
    a.len = ToSize(env, info[1], "length");
    a.js = ToBytes(env, info[2], "dest");
    a.jsOff = ToSize(env, info[3], "destOffset");
    a.timeoutMs = info[5].IsNumber() ? static_cast<uint32_t>(ToSize(env, info[5], "timeoutMs")) : 10;
  } else {
    a.js = ToBytes(env, info[0], "src");
    a.jsOff = ToSize(env, info[1], "srcOffset");
    a.regionOff = ToSize(env, info[2], "dstOffset");
    a.len = ToSize(env, info[3], "length");
    a.step = info[5].IsNumber() ? ToSize(env, info[5], "step") : (1u << 20);
  }
  a.wpOff = -1;
  a.abortOff = -1;
  if (out && info.Length() > 7 && info[6].IsNumber() && info[6].As<Napi::Number>().DoubleValue() >= 0) {
    size_t ab = ToSize(env, info[6], "abortOffset");
    CheckSpan(env, ab, 4, regionLen, "abort word");
    if (ab % 4 != 0) ThrowRange(env, "abort word offset " + std::to_string(ab) + " is not 4-byte aligned");
    a.abortOff = static_cast<int64_t>(ab);
    a.abortValue = ToU32(env, info[7]);
  }
  if (info[4].IsNumber() && info[4].As<Napi::Number>().DoubleValue() >= 0) {
    size_t wp = ToSize(env, info[4], "wpOffset");
    CheckSpan(env, wp, 4, regionLen, "write pointer");
    if (wp % 4 != 0) ThrowRange(env, "write pointer offset " + std::to_string(wp) + " is not 4-byte aligned");
    a.wpOff = static_cast<int64_t>(wp);
  }
  CheckSpan(env, a.regionOff, a.len, regionLen, "region range");
  CheckSpan(env, a.jsOff, a.len, a.js.length, out ? "destination range" : "source range");
  if (a.len > 0xffffffffu && a.wpOff >= 0) ThrowRange(env, "a wp-tracked copy is limited to 4 GiB");
  return a;
}
}  // namespace

Napi::Value Region::CopyOut(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (closed_) throw Napi::Error::New(env, "region is closed");
  CopyArgs a = ParseCopy(env, info, true, mapping_->length);
  const uint32_t* wp = a.wpOff >= 0 ? reinterpret_cast<const uint32_t*>(mapping_->base + a.wpOff) : nullptr;
  CopyAbort abort;
  if (a.abortOff >= 0) abort = {reinterpret_cast<const uint32_t*>(mapping_->base + a.abortOff), a.abortValue};
  size_t n = CopyFollowingWp(a.js.data + a.jsOff, mapping_->base + a.regionOff, a.len, wp, a.timeoutMs, abort);
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Region::CopyOutAsync(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (closed_) throw Napi::Error::New(env, "region is closed");
  CopyArgs a = ParseCopy(env, info, true, mapping_->length);
  auto* w = new CopyWorker(env, mapping_, true, a.js.data + a.jsOff, a.regionOff, a.len, a.wpOff, a.timeoutMs, 0,
                           a.js.holder, a.abortOff, a.abortValue);
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value Region::WriteIn(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (closed_) throw Napi::Error::New(env, "region is closed");
  CopyArgs a = ParseCopy(env, info, false, mapping_->length);
  uint32_t* wp = a.wpOff >= 0 ? reinterpret_cast<uint32_t*>(mapping_->base + a.wpOff) : nullptr;
  WriteAdvancingWp(mapping_->base + a.regionOff, a.js.data + a.jsOff, a.len, wp, a.step);
  return env.Undefined();
}

Napi::Value Region::WriteInAsync(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (closed_) throw Napi::Error::New(env, "region is closed");
  CopyArgs a = ParseCopy(env, info, false, mapping_->length);
  auto* w = new CopyWorker(env, mapping_, false, a.js.data + a.jsOff, a.regionOff, a.len, a.wpOff, 0, a.step,
                           a.js.holder);
  auto p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace glasspane
