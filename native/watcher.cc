#include "watcher.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <chrono>

#include "addon_state.h"
#include "region.h"
#include "timing.h"

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

}  // namespace

void StopWatchersAtTeardown(AddonState& state) {
  auto copy = state.watchers;
  for (Watcher* w : copy) w->Stop();
}

Napi::Function Watcher::Init(Napi::Env env) {
  return DefineClass(env, "Watcher",
                     {
                         InstanceMethod<&Watcher::Wait>("wait"),
                         InstanceMethod<&Watcher::WaitSync>("waitSync"),
                         InstanceMethod<&Watcher::Cancel>("cancel"),
                         InstanceMethod<&Watcher::Close>("close"),
                         InstanceAccessor<&Watcher::GetBusy>("busy"),
                     });
}

// new Watcher(region, { spinUs, minSleepUs, maxSleepUs, idleSleepUs, idleAfterMs })
Watcher::Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watcher>(info), state_(&StateOf(info.Env())) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Watcher needs a Region");
  Region* region = Napi::ObjectWrap<Region>::Unwrap(info[0].As<Napi::Object>());
  mapping_ = region->GetMapping(env);
  if (info.Length() > 1 && info[1].IsObject()) {
    auto o = info[1].As<Napi::Object>();
    spinUs_ = OptU32(o, "spinUs", spinUs_);
    minSleepUs_ = std::max<uint32_t>(1, OptU32(o, "minSleepUs", minSleepUs_));
    maxSleepUs_ = std::max(minSleepUs_, OptU32(o, "maxSleepUs", maxSleepUs_));
    idleSleepUs_ = std::max(maxSleepUs_, OptU32(o, "idleSleepUs", idleSleepUs_));
    idleAfterMs_ = OptU32(o, "idleAfterMs", idleAfterMs_);
    fineSleepUs_ = std::max<uint32_t>(1, OptU32(o, "fineSleepUs", fineSleepUs_));
    coarseSleepUs_ = std::max(fineSleepUs_, OptU32(o, "coarseSleepUs", coarseSleepUs_));
    if (o.Has("realtime")) realtime_ = o.Get("realtime").ToBoolean();
    if (o.Has("spinBeforeExpected")) spinFine_ = o.Get("spinBeforeExpected").ToBoolean();
  }
  tsfn_ = Tsfn::New(env, "glasspane.watcher", 0, 1, this);
  tsfn_.Unref(env);  // only an outstanding wait keeps the process alive
  lastChangeNs_ = NowNs();
  thread_ = std::thread([this] { Run(); });
  state_->watchers.insert(this);
}

Watcher::~Watcher() { Stop(); }

void Watcher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    cancel_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  tsfn_.Release();
  state_->watchers.erase(this);
}

// (words, timeoutMs) of wait()/waitSync(): up to 4 (offset, expected) pairs inside the region.
Watcher::Arm Watcher::ParseArm(Napi::Env env, const Napi::Value& wordsV, const Napi::Value& timeoutV) {
  if (!wordsV.IsArray() || !timeoutV.IsNumber()) throw Napi::TypeError::New(env, "words must be an array and timeoutMs a number");
  auto words = wordsV.As<Napi::Array>();
  uint32_t n = words.Length();
  if (n == 0 || n % 2 != 0 || n / 2 > kMaxWords)
    throw Napi::RangeError::New(env, "words must hold 1 to 4 (offset, expected) pairs");
  Arm a;
  a.count = static_cast<int>(n / 2);
  for (int i = 0; i < a.count; ++i) {
    double off = words.Get(2 * i).As<Napi::Number>().DoubleValue();
    if (!(off >= 0) || off + 4 > static_cast<double>(mapping_->length) || static_cast<size_t>(off) % 4 != 0)
      throw Napi::RangeError::New(env, "watched offset " + std::to_string(off) + " is outside the region or unaligned");
    a.offset[i] = static_cast<size_t>(off);
    a.expected[i] = static_cast<uint32_t>(words.Get(2 * i + 1).As<Napi::Number>().Int64Value());
  }
  double t = timeoutV.As<Napi::Number>().DoubleValue();
  a.timeoutMs = t < 0 ? 0 : (t > 3600000 ? 3600000 : static_cast<uint32_t>(t));
  return a;
}

// waitSync([offset, expected, ...], timeoutMs) -> [index, value]: the same wait, on the calling
// thread, which it blocks. For a thread that exists only to consume (the relay worker): no
// thread hand-off and no event-loop wake between the change and the caller.
Napi::Value Watcher::WaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (stopped_) throw Napi::Error::New(env, "watcher is closed");
  if (busy_) throw Napi::Error::New(env, "watcher already has a wait outstanding");
  Arm a = ParseArm(env, info[0], info[1]);
  cancel_ = false;
  Result r{-3, 0};
  if (mapping_->Acquire()) {
    r = Poll(a);
    mapping_->Release();
  }
  Learn(r);
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
  Arm a = ParseArm(env, info[0], info[1]);
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  busy_ = true;
  tsfn_.Ref(env);
  {
    std::lock_guard<std::mutex> lk(mu_);
    arm_ = a;
    armed_ = true;
    cancel_ = false;
  }
  cv_.notify_one();
  return env.Undefined();
}

Napi::Value Watcher::Cancel(const Napi::CallbackInfo& info) {
  cancel_ = true;
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
    cb.Call({Napi::Number::New(env, -3), Napi::Number::New(env, 0)});
  }
  return env.Undefined();
}

Napi::Value Watcher::GetBusy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

Watcher::Result Watcher::Poll(const Arm& a) {
  const uint8_t* base = mapping_->base;
  auto check = [&](Result& r) {
    for (int i = 0; i < a.count; ++i) {
      uint32_t v = __atomic_load_n(reinterpret_cast<const uint32_t*>(base + a.offset[i]), __ATOMIC_ACQUIRE);
      if (v != a.expected[i]) {
        r = {i, v};
        return true;
      }
    }
    return false;
  };
  Result r{-1, 0};
  const int64_t start = NowNs();
  const int64_t deadline = start + static_cast<int64_t>(a.timeoutMs) * 1000000;
  const int64_t spinEnd = start + static_cast<int64_t>(spinUs_) * 1000;
  while (NowNs() < spinEnd) {
    if (check(r)) return r;
    if (cancel_) return {-2, 0};
    for (int i = 0; i < 16; ++i) _mm_pause();
  }
  uint32_t sleepUs = minSleepUs_;
  int64_t spinUntilNs = 0;  // end of the spin window before an expected change (0: not started)
  for (;;) {
    if (check(r)) return r;
    if (cancel_) return {-2, 0};
    int64_t now = NowNs();
    if (now >= deadline) return {-1, 0};
    int64_t leftUs = (deadline - now) / 1000 + 1;
    // A steady producer: sleep coarsely until shortly before word 0 is due to change, then spin
    // (a woken sleeper can wait a scheduler tick for its CPU; a spinner sees the post within a
    // microsecond). The spin lasts at most two guard windows — a late producer gets fine sleeps —
    // so it costs about guard / period of a core (~6 % at 144 fps).
    const int64_t period = periodNs_.load();
    const int64_t since = now - lastWord0Ns_.load();
    if (period > 0 && since < period * 2) {
      const int64_t guard = std::max<int64_t>(150000, period / 16);
      const int64_t untilFine = period - guard - since;
      if (untilFine > 0) {
        uint32_t us = static_cast<uint32_t>(std::min<int64_t>(untilFine / 1000, coarseSleepUs_));
        SleepMicros(static_cast<uint32_t>(std::min<int64_t>(std::max<uint32_t>(us, fineSleepUs_), leftUs)));
        continue;
      }
      if (spinUntilNs == 0) spinUntilNs = now + 2 * guard;
      if (spinFine_ && now < spinUntilNs) {
        for (int i = 0; i < 64; ++i) _mm_pause();
        continue;
      }
      SleepMicros(static_cast<uint32_t>(std::min<int64_t>(fineSleepUs_, leftUs)));
      continue;
    }
    bool idle = now - lastChangeNs_.load() > static_cast<int64_t>(idleAfterMs_) * 1000000;
    uint32_t cap = idle ? idleSleepUs_ : maxSleepUs_;
    SleepMicros(static_cast<uint32_t>(std::min<int64_t>(sleepUs, leftUs)));
    sleepUs = std::min(sleepUs * 2, cap);
  }
}

void Watcher::Run() {
  if (realtime_) {
    // Allowed for root or with CAP_SYS_NICE / an RLIMIT_RTPRIO; otherwise silently stays normal.
    sched_param sp{};
    sp.sched_priority = 1;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  }
  for (;;) {
    Arm a;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || armed_; });
      if (stop_) return;
      a = arm_;
      armed_ = false;
    }
    Result* r = new Result{-3, 0};
    if (mapping_->Acquire()) {
      *r = Poll(a);
      mapping_->Release();
    }
    Learn(*r);
    if (tsfn_.NonBlockingCall(r) != napi_ok) delete r;
  }
}

// After a wait: remember when something last changed, and learn the producer's period from word 0
// (exponential average; gaps over 1 s reset it).
void Watcher::Learn(const Result& r) {
  if (r.index < 0) return;
  const int64_t now = NowNs();
  lastChangeNs_ = now;
  if (r.index != 0) return;
  const int64_t last = lastWord0Ns_.exchange(now);
  const int64_t interval = now - last;
  if (last != 0 && interval > 0 && interval < 1000000000) {
    const int64_t p = periodNs_.load();
    periodNs_ = p == 0 ? interval : (p * 7 + interval) / 8;
  } else {
    periodNs_ = 0;
  }
}

void Watcher::Deliver(Napi::Env env, Napi::Function, Watcher* self, Result* r) {
  Result res = *r;
  delete r;
  if (env == nullptr || self->stopped_) return;
  self->busy_ = false;
  self->tsfn_.Unref(env);
  Napi::FunctionReference cb = std::move(self->callback_);
  cb.Call({Napi::Number::New(env, res.index), Napi::Number::New(env, res.value)});
}

}  // namespace glasspane
