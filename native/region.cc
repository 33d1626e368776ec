#include "region.h"

#include <string.h>

#include <cmath>
#include <set>

#include "fast_copy.h"

namespace glasspane {

namespace {

// Regions still open, closed at environment teardown so no mapping outlives the process' JS.
std::set<Region*>& OpenRegions() {
  static std::set<Region*> regions;
  return regions;
}

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

uint32_t ToU32(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) ThrowType(env, "value must be a number");
  return static_cast<uint32_t>(v.As<Napi::Number>().Int64Value());
}

uint64_t ToU64(Napi::Env env, const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  ThrowType(env, "value must be a bigint");
}

// A byte range inside a typed array or ArrayBuffer given from JS.
struct JsBytes {
  uint8_t* data;
  size_t length;
  Napi::Object holder;
};

JsBytes ToBytes(Napi::Env env, const Napi::Value& v, const char* what) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    return {static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset(), ta.ByteLength(), v.As<Napi::Object>()};
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

class CopyWorker : public Napi::AsyncWorker {
 public:
  CopyWorker(Napi::Env env, MappingRef m, bool out, uint8_t* jsPtr, size_t regionOff, size_t len, int64_t wpOff,
             uint32_t timeoutMs, size_t step, Napi::Object holder)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        mapping_(std::move(m)),
        out_(out),
        jsPtr_(jsPtr),
        regionOff_(regionOff),
        len_(len),
        wpOff_(wpOff),
        timeoutMs_(timeoutMs),
        step_(step) {
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
      result_ = CopyFollowingWp(jsPtr_, base + regionOff_, len_, wp, timeoutMs_);
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
  size_t result_ = 0;
  Napi::ObjectReference holder_;
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
                         InstanceMethod<&Region::Close>("close"),
                         InstanceMethod<&Region::Load32>("load32"),
                         InstanceMethod<&Region::Store32>("store32"),
                         InstanceMethod<&Region::Cas32>("cas32"),
                         InstanceMethod<&Region::Add32>("add32"),
                         InstanceMethod<&Region::And32>("and32"),
                         InstanceMethod<&Region::Or32>("or32"),
                         InstanceMethod<&Region::Xchg32>("xchg32"),
                         InstanceMethod<&Region::Load64>("load64"),
                         InstanceMethod<&Region::Store64>("store64"),
                         InstanceMethod<&Region::Cas64>("cas64"),
                         InstanceMethod<&Region::Add64>("add64"),
                         InstanceMethod<&Region::And64>("and64"),
                         InstanceMethod<&Region::Or64>("or64"),
                         InstanceMethod<&Region::Xchg64>("xchg64"),
                         InstanceMethod<&Region::CopyOut>("copyOut"),
                         InstanceMethod<&Region::CopyOutAsync>("copyOutAsync"),
                         InstanceMethod<&Region::WriteIn>("writeIn"),
                         InstanceMethod<&Region::WriteInAsync>("writeInAsync"),
                     });
}

// new Region(path, { create?: boolean, size?: number, readOnly?: boolean })
Region::Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
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
  OpenRegions().insert(this);
}

Region::~Region() {
  OpenRegions().erase(this);
  // Collected without close(): the mapping goes when its last holder (maybe the buffer) goes.
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
  OpenRegions().erase(this);
}

void Region::CloseForExit() { CloseNow(false); }

void CloseAllRegionsAtExit() {
  auto copy = OpenRegions();
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

uint8_t* Region::CheckedPtr(Napi::Env env, const Napi::Value& offV, size_t width, size_t align) {
  if (closed_) throw Napi::Error::New(env, "region is closed");
  size_t off = ToSize(env, offV, "offset");
  CheckSpan(env, off, width, mapping_->length, "atomic access");
  if (off % align != 0) ThrowRange(env, "offset " + std::to_string(off) + " is not " + std::to_string(align) + "-byte aligned");
  return mapping_->base + off;
}

#define P32(i) reinterpret_cast<uint32_t*>(CheckedPtr(env, info[i], 4, 4))
#define P64(i) reinterpret_cast<uint64_t*>(CheckedPtr(env, info[i], 8, 8))
#define N32(x) Napi::Number::New(env, static_cast<double>(x))
#define N64(x) Napi::BigInt::New(env, static_cast<uint64_t>(x))

Napi::Value Region::Load32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  return N32(__atomic_load_n(P32(0), __ATOMIC_ACQUIRE));
}
Napi::Value Region::Store32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  __atomic_store_n(p, ToU32(env, info[1]), __ATOMIC_RELEASE);
  return env.Undefined();
}
// cas32(off, expected, desired) -> the value found (== expected when the swap happened)
Napi::Value Region::Cas32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  uint32_t expected = ToU32(env, info[1]);
  __atomic_compare_exchange_n(p, &expected, ToU32(env, info[2]), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  return N32(expected);
}
Napi::Value Region::Add32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  return N32(__atomic_fetch_add(p, ToU32(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::And32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  return N32(__atomic_fetch_and(p, ToU32(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::Or32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  return N32(__atomic_fetch_or(p, ToU32(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::Xchg32(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint32_t* p = P32(0);
  return N32(__atomic_exchange_n(p, ToU32(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::Load64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  return N64(__atomic_load_n(P64(0), __ATOMIC_ACQUIRE));
}
Napi::Value Region::Store64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  __atomic_store_n(p, ToU64(env, info[1]), __ATOMIC_RELEASE);
  return env.Undefined();
}
Napi::Value Region::Cas64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  uint64_t expected = ToU64(env, info[1]);
  __atomic_compare_exchange_n(p, &expected, ToU64(env, info[2]), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  return N64(expected);
}
Napi::Value Region::Add64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  return N64(__atomic_fetch_add(p, ToU64(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::And64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  return N64(__atomic_fetch_and(p, ToU64(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::Or64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  return N64(__atomic_fetch_or(p, ToU64(env, info[1]), __ATOMIC_ACQ_REL));
}
Napi::Value Region::Xchg64(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  uint64_t* p = P64(0);
  return N64(__atomic_exchange_n(p, ToU64(env, info[1]), __ATOMIC_ACQ_REL));
}

namespace {
struct CopyArgs {
  size_t regionOff, len;
  JsBytes js;
  size_t jsOff;
  int64_t wpOff;
  uint32_t timeoutMs;
  size_t step;
};

// copyOut(srcOffset, length, dest, destOffset, wpOffset, timeoutMs)
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
  size_t n = CopyFollowingWp(a.js.data + a.jsOff, mapping_->base + a.regionOff, a.len, wp, a.timeoutMs);
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Region::CopyOutAsync(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (closed_) throw Napi::Error::New(env, "region is closed");
  CopyArgs a = ParseCopy(env, info, true, mapping_->length);
  auto* w = new CopyWorker(env, mapping_, true, a.js.data + a.jsOff, a.regionOff, a.len, a.wpOff, a.timeoutMs, 0,
                           a.js.holder);
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
