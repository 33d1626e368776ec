// Helpers the X11 capture's files share (native/x11_capture.cc, x11_requests.cc): errors with a
// `code` for src/native.ts, X errors in words, owned xcb replies, and XWork, a round trip on the
// libuv pool that settles a promise.
#pragma once
#include <napi.h>
#include <xcb/xcb.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "x11_capture.h"

namespace glasspane {
namespace x11 {

// An Error whose `code` says which kind of failure it is (src/native-x11.ts maps them).
inline Napi::Error CodedError(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

inline std::string DescribeXError(const xcb_generic_error_t* e) {
  static const char* kNames[] = {"Success", "BadRequest", "BadValue", "BadWindow", "BadPixmap", "BadAtom",
                                 "BadCursor", "BadFont", "BadMatch", "BadDrawable", "BadAccess", "BadAlloc",
                                 "BadColor", "BadGC", "BadIDChoice", "BadName", "BadLength", "BadImplementation"};
  std::string name = e->error_code < sizeof(kNames) / sizeof(kNames[0]) ? kNames[e->error_code] : "error " + std::to_string(e->error_code);
  return name + " (request " + std::to_string(e->major_code) + "." + std::to_string(e->minor_code) + ")";
}

// A round trip on the libuv pool: `work` runs there (it may throw std::runtime_error, which
// rejects the promise with code X11_REQUEST), `done` turns its result into JS on the main thread.
class XWork : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  // The capture's JS object is the receiver: it stays alive (not collected) until the work is done.
  XWork(const Napi::Object& receiver, X11Capture* cap, Work work, Done done)
      : Napi::AsyncWorker(receiver.Env(), "glasspane.x11"), keepAlive_(Napi::Persistent(receiver)), cap_(cap), work_(std::move(work)), done_(std::move(done)), deferred_(Napi::Promise::Deferred::New(receiver.Env())) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    X11Capture::Busy busy(cap_);
    if (!busy.ok) {
      failure_ = "the X11 capture is closed";
      closed_ = true;
      return;
    }
    try {
      work_();
    } catch (const std::exception& e) {
      failure_ = e.what();
    }
    cap_->Poke();
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!failure_.empty()) {
      deferred_.Reject(CodedError(env, closed_ ? "X11_CLOSED" : "X11_REQUEST", failure_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

 private:
  Napi::ObjectReference keepAlive_;
  X11Capture* cap_;
  Work work_;
  Done done_;
  Napi::Promise::Deferred deferred_;
  std::string failure_;
  bool closed_ = false;
};

template <typename Reply>
std::unique_ptr<Reply, decltype(&free)> Owned(Reply* r) {
  return std::unique_ptr<Reply, decltype(&free)>(r, &free);
}

// Throws std::runtime_error naming `what` when a reply is missing (error or connection lost).
template <typename Reply>
std::unique_ptr<Reply, decltype(&free)> Need(Reply* r, xcb_generic_error_t* err, const char* what) {
  if (!r) {
    std::string msg = std::string(what) + " failed: " + (err ? DescribeXError(err) : "the connection to the X server was lost");
    free(err);
    throw std::runtime_error(msg);
  }
  return Owned(r);
}


}  // namespace x11
}  // namespace glasspane
