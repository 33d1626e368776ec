// What lets the viewer wait for window-system events instead of polling SDL every millisecond:
//  - sdlEventFd(windowId): the file descriptor of the X11 connection SDL reads its events from
//    (through SDL_GetWindowWMInfo and libX11's XConnectionNumber, both looked up in the libraries
//    already loaded, as sdl_grab.cc does), or -1 for another video driver (Wayland) or no window;
//  - FdWatch(fd, callback): calls `callback` on the JS thread whenever `fd` is readable (a libuv
//    poll handle on the calling thread's event loop; level-triggered, so the callback must drain
//    what is pending — SDL_PollEvent does — or it is called again on the next turn). close() stops
//    it; the fd is never read, written or closed here.
#pragma once
#include <napi.h>
#include <uv.h>

namespace glasspane {

Napi::Value SdlEventFd(const Napi::CallbackInfo& info);

class FdWatch : public Napi::ObjectWrap<FdWatch> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit FdWatch(const Napi::CallbackInfo& info);  // (fd, callback)
  ~FdWatch() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Stop();
  static void OnReadable(uv_poll_t* handle, int status, int events);

  Napi::Env env_;
  Napi::FunctionReference callback_;
  uv_poll_t* handle_ = nullptr;  // freed by uv_close's callback
};

}  // namespace glasspane
