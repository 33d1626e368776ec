#include "sdl_grab.h"

#include <dlfcn.h>

#include <cstdint>

namespace glasspane {

namespace {

// The few SDL2 entry points used, by their C ABI (SDL_bool is an int-sized enum).
using GetWindowFromId = void* (*)(uint32_t);
using SetGrab = void (*)(void*, int);
using GetGrab = int (*)(void*);

struct SdlGrabApi {
  GetWindowFromId getWindowFromId = nullptr;
  SetGrab setKeyboardGrab = nullptr;
  SetGrab setMouseGrab = nullptr;
  GetGrab getKeyboardGrab = nullptr;
  GetGrab getMouseGrab = nullptr;
  bool complete() const {
    return getWindowFromId && setKeyboardGrab && setMouseGrab && getKeyboardGrab && getMouseGrab;
  }
};

// Resolved on each call: cheap (a capture toggle), and correct if SDL is loaded after our addon.
bool FindSdl(SdlGrabApi* api) {
  void* lib = dlopen("libSDL2-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) return false;
  api->getWindowFromId = reinterpret_cast<GetWindowFromId>(dlsym(lib, "SDL_GetWindowFromID"));
  api->setKeyboardGrab = reinterpret_cast<SetGrab>(dlsym(lib, "SDL_SetWindowKeyboardGrab"));
  api->setMouseGrab = reinterpret_cast<SetGrab>(dlsym(lib, "SDL_SetWindowMouseGrab"));
  api->getKeyboardGrab = reinterpret_cast<GetGrab>(dlsym(lib, "SDL_GetWindowKeyboardGrab"));
  api->getMouseGrab = reinterpret_cast<GetGrab>(dlsym(lib, "SDL_GetWindowMouseGrab"));
  // The library stays loaded by its owner; drop the reference NOLOAD took.
  dlclose(lib);
  return api->complete();
}

using GetError = const char* (*)();
using ClearError = void (*)();
using InitSubSystem = int (*)(uint32_t);
using GetCurrentVideoDriver = const char* (*)();
constexpr uint32_t kInitVideo = 0x00000020u;  // SDL_INIT_VIDEO (SDL2's stable ABI)

// Runs `use(lib)` with the SDL2 that the binding loaded (RTLD_NOLOAD: nothing is loaded by us);
// null when SDL2 is not in the process. The reference NOLOAD took is dropped afterwards: the
// library stays loaded by its owner.
template <typename Use>
Napi::Value WithLoadedSdl(Napi::Env env, Use use) {
  void* lib = dlopen("libSDL2-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) return env.Null();
  Napi::Value out = use(lib);
  dlclose(lib);
  return out;
}

}  // namespace

Napi::Value SdlTakeError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return WithLoadedSdl(env, [&](void* lib) -> Napi::Value {
    auto get = reinterpret_cast<GetError>(dlsym(lib, "SDL_GetError"));
    auto clear = reinterpret_cast<ClearError>(dlsym(lib, "SDL_ClearError"));
    if (!get || !clear) return env.Null();
    const char* text = get();
    Napi::Value out = text && *text ? Napi::Value(Napi::String::New(env, text)) : env.Null();
    clear();
    return out;
  });
}

Napi::Value SdlWindowGrab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "sdlWindowGrab(windowId: number, keyboard: boolean, mouse: boolean)");
  }
  SdlGrabApi api;
  if (!FindSdl(&api)) return env.Null();
  void* window = api.getWindowFromId(info[0].As<Napi::Number>().Uint32Value());
  if (!window) return env.Null();
  // Mouse first: SDL applies the keyboard grab only to a window that has input focus, and on
  // X11 confines the pointer with the mouse grab.
  api.setMouseGrab(window, info[2].As<Napi::Boolean>().Value() ? 1 : 0);
  api.setKeyboardGrab(window, info[1].As<Napi::Boolean>().Value() ? 1 : 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("keyboard", Napi::Boolean::New(env, api.getKeyboardGrab(window) != 0));
  out.Set("mouse", Napi::Boolean::New(env, api.getMouseGrab(window) != 0));
  return out;
}

Napi::Value SdlStartVideo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return WithLoadedSdl(env, [&](void* lib) -> Napi::Value {
    auto init = reinterpret_cast<InitSubSystem>(dlsym(lib, "SDL_InitSubSystem"));
    auto current = reinterpret_cast<GetCurrentVideoDriver>(dlsym(lib, "SDL_GetCurrentVideoDriver"));
    if (!init || !current || init(kInitVideo) != 0) return env.Null();
    const char* name = current();
    return name ? Napi::Value(Napi::String::New(env, name)) : env.Null();
  });
}

}  // namespace glasspane
