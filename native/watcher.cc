#include "watcher.h"

#include <string>

#include "addon_state.h"
#include "region.h"

namespace glasspane {

namespace {

uint32_t OptU32(const Napi::Object& o, const char* key, uint32_t def) {
  if (!o.Has(key)) return def;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return def;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 1e7) throw Napi::RangeError::New(o.Env(), std::string(key) + " must be between 0 and 1e7");
  return static_cast<uint32_t>(d);
}

// A bell: an Int32Array of at least kBellWords words over a SharedArrayBuffer (which can never be
// detached or moved, so other threads may keep its address).
int32_t* BellOf(Napi::Env env, const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "bell must be an Int32Array over a SharedArrayBuffer");
  auto arr = v.As<Napi::Int32Array>();
  bool plain = false;
  napi_is_arraybuffer(env, arr.ArrayBuffer(), &plain);
  if (plain) throw Napi::TypeError::New(env, "bell must be an Int32Array over a SharedArrayBuffer, not an ArrayBuffer");
  if (arr.ElementLength() < static_cast<size_t>(kBellWords))
    throw Napi::RangeError::New(env, "bell must hold at least " + std::to_string(kBellWords) + " words");
  return arr.Data();
}

}  // namespace

void StopWatchersAtTeardown(AddonState& state) {
  auto copy = state.watchers;
  for (Watcher* w : copy) w->Stop();
}

Napi::Value RingBellJs(const Napi::CallbackInfo& info) {
  RingBell(BellOf(info.Env(), info[0]));
  return info.Env().Undefined();
}

Napi::Value HintBellJs(const Napi::CallbackInfo& info) {
  HintBell(BellOf(info.Env(), info[0]));
  return info.Env().Undefined();
}

Napi::Function Watcher::Init(Napi::Env env) {
  return DefineClass(env, "Watcher",
                     {
                         InstanceMethod<&Watcher::Wait>("wait"),
                         InstanceMethod<&Watcher::WaitSync>("waitSync"),
                         InstanceMethod<&Watcher::Cancel>("cancel"),
                         InstanceMethod<&Watcher::Hint>("hint"),
                         InstanceMethod<&Watcher::Close>("close"),
                         InstanceAccessor<&Watcher::GetBusy>("busy"),
                     });
}

// new Watcher(region, { spinUs, minSleepUs, maxSleepUs, idleSleepUs, idleAfterMs, deepIdleSleepUs,
//                       deepIdleAfterMs, fineSleepUs, coarseSleepUs, spinBeforeExpected, realtime, bell })
Watcher::Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info), state_(&StateOf(info.Env())) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Watcher needs a Region");
  Region* region = Napi::ObjectWrap<Region>::Unwrap(info[0].As<Napi::Object>());
  mapping_ = region->GetMapping(env);
  PollPolicy p;
  int32_t* bell = nullptr;
  if (info.Length() > 1 && info[1].IsObject()) {
    auto o = info[1].As<Napi::Object>();
    p.spinUs = OptU32(o, "spinUs", p.spinUs);
    p.minSleepUs = std::max<uint32_t>(1, OptU32(o, "minSleepUs", p.minSleepUs));
    p.maxSleepUs = std::max(p.minSleepUs, OptU32(o, "maxSleepUs", p.maxSleepUs));
    p.idleSleepUs = std::max(p.maxSleepUs, OptU32(o, "idleSleepUs", p.idleSleepUs));
    p.idleAfterMs = OptU32(o, "idleAfterMs", p.idleAfterMs);
    p.deepIdleSleepUs = std::max(p.idleSleepUs, OptU32(o, "deepIdleSleepUs", p.deepIdleSleepUs));
    p.deepIdleAfterMs = std::max(p.idleAfterMs, OptU32(o, "deepIdleAfterMs", p.deepIdleAfterMs));
    p.fineSleepUs = std::max<uint32_t>(1, OptU32(o, "fineSleepUs", p.fineSleepUs));
    p.coarseSleepUs = std::max(p.fineSleepUs, OptU32(o, "coarseSleepUs", p.coarseSleepUs));
    if (o.Has("realtime")) p.realtime = o.Get("realtime").ToBoolean();
    if (o.Has("spinBeforeExpected")) p.spinBeforeExpected = o.Get("spinBeforeExpected").ToBoolean();
    if (o.Has("pollOnCaller")) p.pollOnCaller = o.Get("pollOnCaller").ToBoolean();
    if (o.Has("bell") && !o.Get("bell").IsUndefined()) {
      bell = BellOf(env, o.Get("bell"));
      bellRef_ = Napi::Persistent(o.Get("bell").As<Napi::Object>());
    }
  }
  link_ = new Link{this};
  tsfn_ = Tsfn::New(env, "glasspane.watcher", 0, 1, link_, [](Napi::Env, void*, Link* link) { delete link; });
  tsfn_.Unref(env);  // only an outstanding wait keeps the process alive
  engine_ = std::make_unique<WatchEngine>(mapping_, p, bell, [this](WatchResult r) {
    auto* queued = new WatchResult(r);
    if (tsfn_.NonBlockingCall(queued) != napi_ok) delete queued;
  });
  state_->watchers.insert(this);
}

Watcher::~Watcher() { Stop(); }

void Watcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_->Stop();  // joined: nothing calls the tsfn after this
  // Results still queued are dropped (Deliver finds no owner); the link itself goes with the tsfn.
  link_->owner = nullptr;
  link_ = nullptr;
  tsfn_.Release();
  state_->watchers.erase(this);
}

// (words, timeoutMs) of wait()/waitSync(): up to 4 (offset, expected) pairs inside the region.
WatchArm Watcher::ParseArm(Napi::Env env, const Napi::Value& wordsV, const Napi::Value& timeoutV) {
  if (!wordsV.IsArray() || !timeoutV.IsNumber()) throw Napi::TypeError::New(env, "words must be an array and timeoutMs a number");
  auto words = wordsV.As<Napi::Array>();
  uint32_t n = words.Length();
  if (n == 0 || n % 2 != 0 || n / 2 > kWatchMaxWords)
    throw Napi::RangeError::New(env, "words must hold 1 to 4 (offset, expected) pairs");
  WatchArm a;
  a.count = static_cast<int>(n / 2);
  for (int i = 0; i < a.count; ++i) {
    Napi::Value offV = words.Get(2 * i), expV = words.Get(2 * i + 1);
    if (!offV.IsNumber() || !expV.IsNumber()) throw Napi::TypeError::New(env, "words must hold numbers");
    double off = offV.As<Napi::Number>().DoubleValue();
    if (!(off >= 0) || off + 4 > static_cast<double>(mapping_->length) || static_cast<size_t>(off) % 4 != 0)
      throw Napi::RangeError::New(env, "watched offset " + std::to_string(off) + " is outside the region or unaligned");
    a.offset[i] = static_cast<size_t>(off);
    a.expected[i] = static_cast<uint32_t>(expV.As<Napi::Number>().Int64Value());
  }
  double t = timeoutV.As<Napi::Number>().DoubleValue();
  a.timeoutMs = !(t > 0) ? 0 : (t > 3600000 ? 3600000 : static_cast<uint32_t>(t));
  return a;
}

// waitSync([offset, expected, ...], timeoutMs[, mailSeen]) -> [index, value]: the same wait, the
// calling thread blocked on a futex until the engine answers. With a bell and `mailSeen`, it also
// returns [WATCH_BELL, 0] as soon as the bell's mail count differs from mailSeen.
Napi::Value Watcher::WaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (stopped_) throw Napi::Error::New(env, "watcher is closed");
  if (busy_) throw Napi::Error::New(env, "watcher already has a wait outstanding");
  WatchArm a = ParseArm(env, info[0], info[1]);
  int64_t mailSeen = -1;
  if (info.Length() > 2 && info[2].IsNumber()) {
    double m = info[2].As<Napi::Number>().DoubleValue();
    if (!(m >= 0) || m > 4294967295.0) throw Napi::RangeError::New(env, "mailSeen must be a u32");
    mailSeen = static_cast<int64_t>(m);
  }
  WatchResult r = engine_->WaitSync(a, mailSeen);
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, r.index));
  out.Set(1u, Napi::Number::New(env, r.value));
  return out;
}

// wait([offset, expected, ...up to 4 pairs], timeoutMs, callback(index, value))
// index: which word changed (value = its new value); -1 timeout, -2 cancelled, -3 region closed.
Napi::Value Watcher::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (stopped_) throw Napi::Error::New(env, "watcher is closed");
  if (busy_) throw Napi::Error::New(env, "watcher already has a wait outstanding");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "wait(words: number[], timeoutMs: number, callback)");
  WatchArm a = ParseArm(env, info[0], info[1]);
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  busy_ = true;
  tsfn_.Ref(env);
  engine_->ArmAsync(a);
  return env.Undefined();
}

Napi::Value Watcher::Cancel(const Napi::CallbackInfo& info) {
  if (!stopped_) engine_->Cancel();
  return info.Env().Undefined();
}

Napi::Value Watcher::Hint(const Napi::CallbackInfo& info) {
  if (!stopped_) engine_->Hint();
  return info.Env().Undefined();
}

// close() during an armed wait settles that wait with WATCH_CLOSED (-3) before returning: a caller
// awaiting it must never be left hanging.
Napi::Value Watcher::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stop();
  if (busy_) {
    busy_ = false;
    Napi::FunctionReference cb = std::move(callback_);
    cb.Call({Napi::Number::New(env, kWatchClosed), Napi::Number::New(env, 0)});
  }
  return env.Undefined();
}

Napi::Value Watcher::GetBusy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

void Watcher::Deliver(Napi::Env env, Napi::Function, Link* link, WatchResult* r) {
  WatchResult res = *r;
  delete r;
  // env is null when the environment is going away; owner is null once the Watcher was collected.
  if (env == nullptr || link == nullptr || link->owner == nullptr) return;
  Watcher* self = link->owner;
  if (self->stopped_ || !self->busy_) return;
  self->busy_ = false;
  self->tsfn_.Unref(env);
  Napi::FunctionReference cb = std::move(self->callback_);
  cb.Call({Napi::Number::New(env, res.index), Napi::Number::New(env, res.value)});
}

}  // namespace glasspane
