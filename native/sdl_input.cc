#include "sdl_input.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>

namespace glasspane {

namespace {

// SDL2's stable C ABI (SDL_events.h, SDL_keycode.h, SDL_touch.h of 2.0.x; unchanged since 2.0.0
// except KMOD_SCROLL, added in 2.0.18 and simply never set by older versions).
constexpr uint32_t kSdlMouseMotion = 0x400;
constexpr uint32_t kSdlTouchMouseId = 0xffffffffu;
constexpr int kKmodNum = 0x1000;
constexpr int kKmodCaps = 0x2000;
constexpr int kKmodScroll = 0x8000;

struct MouseMotionEvent {  // SDL_MouseMotionEvent, the start of the SDL_Event union for this type
  uint32_t type;
  uint32_t timestamp;
  uint32_t windowID;
  uint32_t which;
  uint32_t state;
  int32_t x;
  int32_t y;
  int32_t xrel;
  int32_t yrel;
};

using EventFilter = int (*)(void*, void*);
using AddEventWatch = void (*)(EventFilter, void*);
using DelEventWatch = void (*)(EventFilter, void*);
using SetRelativeMouseMode = int (*)(int);
using GetModState = int (*)();

// The watch may run on whichever thread pumps SDL's events (the JS thread with the binding):
// plain atomics, no allocation, no JS.
std::atomic<bool> g_adding{false};
std::atomic<int64_t> g_dx{0};
std::atomic<int64_t> g_dy{0};
std::atomic<int64_t> g_events{0};
bool g_watch_added = false;

int OnEvent(void*, void* event) {
  const auto* m = static_cast<const MouseMotionEvent*>(event);
  if (m->type == kSdlMouseMotion && m->which != kSdlTouchMouseId && g_adding.load(std::memory_order_relaxed)) {
    g_dx.fetch_add(m->xrel, std::memory_order_relaxed);
    g_dy.fetch_add(m->yrel, std::memory_order_relaxed);
    g_events.fetch_add(1, std::memory_order_relaxed);
  }
  return 1;  // a watch's return value is ignored; the event is queued either way
}

// Looks an SDL2 entry point up in the already-loaded library; null when SDL2 is not loaded.
void* SdlSymbol(const char* name) {
  void* lib = dlopen("libSDL2-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) return nullptr;
  void* sym = dlsym(lib, name);
  dlclose(lib);  // the library stays loaded by its owner
  return sym;
}

}  // namespace

Napi::Value SdlRelativeMouse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(env, "sdlRelativeMouse(on: boolean)");
  const bool on = info[0].As<Napi::Boolean>().Value();
  auto set = reinterpret_cast<SetRelativeMouseMode>(SdlSymbol("SDL_SetRelativeMouseMode"));
  auto add = reinterpret_cast<AddEventWatch>(SdlSymbol("SDL_AddEventWatch"));
  if (!set || !add) return env.Null();
  if (!on) {
    g_adding.store(false);
    return Napi::Boolean::New(env, set(0) == 0);
  }
  if (!g_watch_added) {
    add(OnEvent, nullptr);
    g_watch_added = true;
    // Removed when the environment that added it (the main thread's: SDL lives there) ends.
    env.AddCleanupHook([] { RemoveSdlMotionWatch(); });
  }
  const bool ok = set(1) == 0;
  g_dx.store(0);
  g_dy.store(0);
  g_events.store(0);
  g_adding.store(ok);
  return Napi::Boolean::New(env, ok);
}

Napi::Value SdlTakeMotion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(g_dx.exchange(0))));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(g_dy.exchange(0))));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(g_events.exchange(0))));
  return out;
}

Napi::Value SdlLockState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto get = reinterpret_cast<GetModState>(SdlSymbol("SDL_GetModState"));
  if (!get) return env.Null();
  const int mod = get();
  Napi::Object out = Napi::Object::New(env);
  out.Set("caps", Napi::Boolean::New(env, (mod & kKmodCaps) != 0));
  out.Set("num", Napi::Boolean::New(env, (mod & kKmodNum) != 0));
  out.Set("scroll", Napi::Boolean::New(env, (mod & kKmodScroll) != 0));
  return out;
}

void RemoveSdlMotionWatch() {
  g_adding.store(false);
  if (!g_watch_added) return;
  auto del = reinterpret_cast<DelEventWatch>(SdlSymbol("SDL_DelEventWatch"));
  if (del) del(OnEvent, nullptr);
  g_watch_added = false;
}

}  // namespace glasspane
