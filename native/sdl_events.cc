#include "sdl_events.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstring>

namespace glasspane {

namespace {

// SDL_SysWMinfo by SDL2's stable ABI: a version, the subsystem, then a union whose X11 member
// starts with the Display*. SDL_SYSWM_X11 is 2.
struct SysWmInfo {
  uint8_t major, minor, patch;
  int subsystem;
  union {
    struct {
      void* display;
      unsigned long window;
    } x11;
    uint8_t dummy[64];
  } info;
};
constexpr int kSysWmX11 = 2;

using GetWindowFromId = void* (*)(uint32_t);
using GetWindowWmInfo = int (*)(void*, SysWmInfo*);
using ConnectionNumber = int (*)(void*);

}  // namespace

Napi::Value SdlEventFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "sdlEventFd(windowId: number)");
  void* sdl = dlopen("libSDL2-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!sdl) return Napi::Number::New(env, -1);
  auto fromId = reinterpret_cast<GetWindowFromId>(dlsym(sdl, "SDL_GetWindowFromID"));
  auto wmInfo = reinterpret_cast<GetWindowWmInfo>(dlsym(sdl, "SDL_GetWindowWMInfo"));
  int fd = -1;
  void* window = fromId ? fromId(info[0].As<Napi::Number>().Uint32Value()) : nullptr;
  SysWmInfo wm;
  std::memset(&wm, 0, sizeof wm);
  wm.major = 2;
  wm.minor = 0;
  wm.patch = 16;
  if (window && wmInfo && wmInfo(window, &wm) && wm.subsystem == kSysWmX11 && wm.info.x11.display) {
    void* x11 = dlopen("libX11.so.6", RTLD_NOW | RTLD_NOLOAD);
    auto number = x11 ? reinterpret_cast<ConnectionNumber>(dlsym(x11, "XConnectionNumber")) : nullptr;
    if (number) fd = number(wm.info.x11.display);
    if (x11) dlclose(x11);  // drop the reference NOLOAD took; SDL's stays
  }
  dlclose(sdl);
  return Napi::Number::New(env, fd);
}

Napi::Function FdWatch::Init(Napi::Env env) {
  return DefineClass(env, "FdWatch", {InstanceMethod<&FdWatch::Close>("close")});
}

FdWatch::FdWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatch>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "new FdWatch(fd: number, callback: () => void)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd < 0) throw Napi::RangeError::New(env, "FdWatch: fd must be >= 0");
  callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw Napi::Error::New(env, "FdWatch: no event loop");
  handle_ = new uv_poll_t;
  if (int rc = uv_poll_init(loop, handle_, fd); rc != 0) {
    delete handle_;
    handle_ = nullptr;
    throw Napi::Error::New(env, std::string("FdWatch: uv_poll_init: ") + uv_strerror(rc));
  }
  handle_->data = this;
  uv_poll_start(handle_, UV_READABLE, OnReadable);
}

FdWatch::~FdWatch() { Stop(); }

void FdWatch::Stop() {
  if (!handle_) return;
  uv_poll_stop(handle_);
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  handle_ = nullptr;
}

Napi::Value FdWatch::Close(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

void FdWatch::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<FdWatch*>(handle->data);
  if (!self) return;
  if (status < 0) {
    self->Stop();  // the fd went bad (the display connection closed): nothing more to watch
    return;
  }
  Napi::HandleScope scope(self->env_);
  try {
    self->callback_.MakeCallback(self->env_.Global(), {});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(self->env_, e.Value());  // as an exception in any other callback
  }
}

}  // namespace glasspane
