// X11Capture: the X server side of `glasspane capture` (a separate addon, glasspane_x11.node, built
// only where the xcb development files are installed; see binding.gyp). It knows nothing about
// LGMP or KVMFR: it connects to a display, watches it (XDamage, XFixes cursor notifications,
// XInput 2 raw motion, the root window's size) on its own thread, and copies rectangles of the
// screen into shared memory through MIT-SHM — straight into a file the X server maps (the region),
// so the pixels are copied once, by the server, and never by this process.
//
// Threads: JS calls come from the main thread; the event thread waits on the connection and an
// eventfd (poll), drains events and wakes JS through a thread-safe function only when its set of
// pending changes goes from empty to non-empty (coalesced); the *Async calls run their round
// trips on the libuv pool. libxcb is thread-safe; a round trip on another thread may read events
// into xcb's queue, so each one pokes the eventfd afterwards for the event thread to drain them.
#pragma once
#include <napi.h>
#include <xcb/xcb.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace glasspane {

class X11Capture : public Napi::ObjectWrap<X11Capture> {
 public:
  // Bits of takeEvents().
  enum Pending : uint32_t { kDamage = 1, kCursor = 2, kPointer = 4, kScreen = 8, kError = 16, kGone = 32 };

  static Napi::Function Init(Napi::Env env);
  explicit X11Capture(const Napi::CallbackInfo& info);
  ~X11Capture() override;
  // Stops the thread, waits for round trips in flight, disconnects. Safe twice; at teardown too.
  void Shutdown();

  // Round trips in flight on the pool (close() waits for them).
  struct Busy {
    explicit Busy(X11Capture* c);
    ~Busy();
    X11Capture* self;
    bool ok;
  };

  xcb_connection_t* conn() const { return conn_; }
  xcb_window_t root() const { return root_; }
  xcb_gcontext_t gc() const { return gc_; }
  uint32_t damage() const { return damage_; }
  uint32_t region() const { return region_; }
  // Target buffer `i`: its pixmap (0: none), its byte offset in the segment, and the targets'
  // width and row pitch (full-width rows are read with ShmGetImage straight to their place).
  struct Target {
    uint32_t pixmap = 0, offset = 0, width = 0, pitch = 0, segment = 0;
  };
  Target TargetAt(size_t i);
  void Poke();
  void NoteError(const std::string& what);

 private:
  Napi::Value Screen(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value SetTargets(const Napi::CallbackInfo& info);
  Napi::Value TakeDamageAsync(const Napi::CallbackInfo& info);
  Napi::Value CopyAsync(const Napi::CallbackInfo& info);
  Napi::Value CursorAsync(const Napi::CallbackInfo& info);
  Napi::Value Warp(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env);
  void FreeTargets();
  void Run();
  void Handle(xcb_generic_event_t* ev);
  void Raise(uint32_t bits);
  static void Deliver(Napi::Env env, Napi::Function, X11Capture* self, void*);

  xcb_connection_t* conn_ = nullptr;
  xcb_screen_t* screen_ = nullptr;
  xcb_window_t root_ = 0;
  xcb_gcontext_t gc_ = 0;
  uint32_t damage_ = 0, region_ = 0, seg_ = 0;
  uint8_t damageEvent_ = 0, xfixesEvent_ = 0, xinputOpcode_ = 0;
  uint16_t shmMajor_ = 0, shmMinor_ = 0;
  bool sharedPixmaps_ = false;

  std::mutex mu_;  // pixmaps_, offsets_, targetWidth_, targetPitch_, errors_, pointer_
  std::vector<uint32_t> pixmaps_;
  std::vector<uint32_t> offsets_;
  uint32_t targetWidth_ = 0, targetPitch_ = 0;
  std::vector<std::string> errors_;
  // Where the pointer's hotspot is (root coordinates) and whether it is on this screen, as the
  // event thread last read it: after raw motion, after a warp, and on a poll that catches warps by
  // other clients (every 16 ms for half a second after a change, every 100 ms otherwise).
  struct Pointer {
    int x = 0, y = 0;
    bool onScreen = true;
    bool known = false;
  } pointer_;
  std::atomic<bool> queryPointer_{true};
  bool ReadPointer();
  std::atomic<uint32_t> pending_{0};
  std::atomic<int> busy_{0};
  std::atomic<bool> closing_{false};
  int wakeFd_ = -1;
  std::thread thread_;
  bool started_ = false;
  bool shut_ = false;

  using Tsfn = Napi::TypedThreadSafeFunction<X11Capture, void, &X11Capture::Deliver>;
  Tsfn tsfn_;
  Napi::FunctionReference onWake_;
};

// This environment's captures, closed at its teardown.
struct X11State {
  std::set<X11Capture*> captures;
};

}  // namespace glasspane
