// Presenter: shows guest frames in an SDL window through the renderer the window already has
// (@kmamal/sdl makes it), with textures that live as long as that renderer does:
//  - one STREAMING texture for the frame, in a 32-bit format the renderer takes without
//    conversion; only the rectangles the caller names are uploaded (converted on the way from
//    the frame's BGRA/RGBA/BGR24/RGB24 bytes when the orders differ);
//  - a few small overlay textures (cursor, OSD, help) blended over the frame at present time,
//    so they move or change without touching the frame: each placed either in frame pixels
//    (scaled and rotated with the frame, cut at its edges: the guest cursor) or in window pixels
//    (1:1 at the window's resolution: the OSD, help and messages, readable at any guest size).
// The window's renderer is the binding's: it is destroyed and recreated when JS calls
// window.setVsync()/setAccelerated(), which destroys our textures with it. Every call therefore
// checks first that the renderer is still the one the textures were made on (its address and a
// marker we leave in its draw-blend-mode state, which a new renderer starts without) and, if not,
// forgets the textures and bumps `generation` so JS re-sends the frame and the overlays.
// SDL is reached through sdl_api.h (the library the binding loaded; nothing linked by us).
// JS main thread only (SDL video calls belong to the thread that pumps its
// events). Geometry is validated in TS; here only what could crash is re-checked.
#pragma once

#include <napi.h>

#include <array>
#include <cstdint>

#include "sdl_api.h"

namespace glasspane {


class Presenter : public Napi::ObjectWrap<Presenter> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Presenter(const Napi::CallbackInfo& info);  // (windowId)

  // Frame source layouts (must match FRAME_FORMATS in src/viewer/native-presenter.ts).
  enum SrcFormat { kSrcBgra = 0, kSrcRgba = 1, kSrcBgr24 = 2, kSrcRgb24 = 3 };
  static constexpr int kOverlaySlots = 8;
  static constexpr uint32_t kMaxRects = 1024;

 private:
  struct Texture {
    void* tex = nullptr;
    int width = 0;
    int height = 0;
    uint32_t format = 0;
    int scale = -1;  // SDL_ScaleMode last set
  };

  // check() -> generation (bumped whenever the textures were lost); throws if the window is gone.
  Napi::Value Check(const Napi::CallbackInfo& info);
  // setFrame(pixels, width, height, stride, srcFormat, rects: Int32Array [x,y,w,h]* | null) ->
  // bytes uploaded. null rects, or a texture that is new, uploads the whole frame.
  Napi::Value SetFrame(const Napi::CallbackInfo& info);
  // setOverlay(slot, pixels | null, width, height, stride, rgba: boolean): null removes it.
  Napi::Value SetOverlay(const Napi::CallbackInfo& info);
  // present(dx, dy, dw, dh, linear: boolean, overlays: Float64Array [slot, x, y, space]*,
  // quarterTurns = 0) -> false when there is no frame texture (nothing was drawn). (dx, dy, dw,
  // dh) is where the frame lands on screen after turning it clockwise by quarterTurns * 90°;
  // space 0 places an overlay in frame pixels, 1 in window pixels.
  Napi::Value Present(const Napi::CallbackInfo& info);
  // timings() -> [drawUs, presentUs] of the last present(): drawing into the back buffer (frame,
  // letterbox, overlays) and SDL_RenderPresent (for the software renderer: the window surface
  // put to the X server and synced). The bench's floor is made of these.
  Napi::Value Timings(const Napi::CallbackInfo& info);
  // info() -> { renderer, software, textureFormat, glRenderer, maxTextureWidth, maxTextureHeight }
  Napi::Value Info(const Napi::CallbackInfo& info);
  // close(): destroys the textures if their renderer is still alive. Safe to call twice.
  Napi::Value Close(const Napi::CallbackInfo& info);

  // Finds the window and its renderer; re-adopts a new renderer. Throws when the window is gone.
  void* Bind(Napi::Env env);
  void Forget();
  // Makes `t` a w x h streaming texture of `format` (re-created when any differs); true when new.
  bool Ensure(Napi::Env env, Texture& t, int w, int h, uint32_t format, int blend);
  void UploadRect(Napi::Env env, const uint8_t* src, size_t stride, int srcFormat, const sdl::Rect& r);
  [[noreturn]] void ThrowSdl(Napi::Env env, const char* what);

  uint32_t windowId_ = 0;
  void* renderer_ = nullptr;
  uint32_t generation_ = 0;
  bool closed_ = false;
  sdl::RendererInfo rinfo_{};
  uint32_t texFormat_ = sdl::kXRGB8888;
  Texture frame_;
  int frameSrcFormat_ = -1;
  std::array<Texture, kOverlaySlots> overlays_{};
  double lastDrawUs_ = 0;
  double lastPresentUs_ = 0;
};

}  // namespace glasspane
