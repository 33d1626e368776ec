#include "sdl_present.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>

#include "timing.h"

namespace glasspane {

namespace {

// The renderer state we leave as a marker: the draw blend mode. A renderer starts with NONE;
// neither the binding nor we draw primitives with it (the letterbox fill switches to NONE and
// back), so MOD there means "the renderer our textures were made on".
constexpr int kMarkerBlendMode = sdl::kBlendMod;
constexpr int kMaxOverlayDim = 4096;

const SdlApi& Api() { return *FindSdlApi(); }  // the constructor refused to exist without it

bool IsBgrOrder(uint32_t f) { return f == sdl::kXRGB8888 || f == sdl::kARGB8888; }

const char* FormatName(uint32_t f) {
  switch (f) {
    case sdl::kXRGB8888: return "XRGB8888";
    case sdl::kARGB8888: return "ARGB8888";
    case sdl::kXBGR8888: return "XBGR8888";
    case sdl::kABGR8888: return "ABGR8888";
    default: return "unknown";
  }
}

// One row of `n` pixels from the frame's layout into a 32-bit texel row. `swap` exchanges the
// first and third byte (BGR <-> RGB); 24-bit sources get an opaque fourth byte.
void ConvertRow(const uint8_t* s, uint8_t* d, int n, int srcBpp, bool swap) {
  if (srcBpp == 4 && !swap) {
    std::memcpy(d, s, static_cast<size_t>(n) * 4);
  } else if (srcBpp == 4) {
    for (int i = 0; i < n; i++, s += 4, d += 4) {
      uint32_t v;
      std::memcpy(&v, s, 4);
      v = (v & 0xff00ff00u) | ((v >> 16) & 0xffu) | ((v & 0xffu) << 16);
      std::memcpy(d, &v, 4);
    }
  } else if (!swap) {
    for (int i = 0; i < n; i++, s += 3, d += 4) {
      uint32_t v = uint32_t(s[0]) | (uint32_t(s[1]) << 8) | (uint32_t(s[2]) << 16) | 0xff000000u;
      std::memcpy(d, &v, 4);
    }
  } else {
    for (int i = 0; i < n; i++, s += 3, d += 4) {
      uint32_t v = uint32_t(s[2]) | (uint32_t(s[1]) << 8) | (uint32_t(s[0]) << 16) | 0xff000000u;
      std::memcpy(d, &v, 4);
    }
  }
}

int Int(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

}  // namespace

Napi::Function Presenter::Init(Napi::Env env) {
  return DefineClass(env, "Presenter",
                     {
                         InstanceMethod<&Presenter::Check>("check"),
                         InstanceMethod<&Presenter::SetFrame>("setFrame"),
                         InstanceMethod<&Presenter::SetOverlay>("setOverlay"),
                         InstanceMethod<&Presenter::Present>("present"),
                         InstanceMethod<&Presenter::Info>("info"),
                         InstanceMethod<&Presenter::Timings>("timings"),
                         InstanceMethod<&Presenter::Close>("close"),
                     });
}

Presenter::Presenter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Presenter>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "new Presenter(windowId: number)");
  if (!FindSdlApi()) {
    throw Napi::Error::New(env, "SDL2 (>= 2.0.12, libSDL2-2.0.so.0) is not loaded in this process: open the window with @kmamal/sdl first");
  }
  windowId_ = info[0].As<Napi::Number>().Uint32Value();
  Bind(env);
}

void Presenter::ThrowSdl(Napi::Env env, const char* what) {
  std::string msg = std::string(what) + " failed: " + Api().GetError();
  Api().ClearError();
  throw Napi::Error::New(env, msg);
}

// The textures went with their renderer (or are about to be dropped): forget, never destroy.
void Presenter::Forget() {
  frame_ = Texture{};
  frameSrcFormat_ = -1;
  for (auto& o : overlays_) o = Texture{};
}

void* Presenter::Bind(Napi::Env env) {
  if (closed_) throw Napi::Error::New(env, "the presenter is closed");
  const SdlApi& a = Api();
  void* window = a.GetWindowFromID(windowId_);
  if (!window) {
    Forget();
    renderer_ = nullptr;
    a.ClearError();
    throw Napi::Error::New(env, "the window " + std::to_string(windowId_) + " is gone (destroyed)");
  }
  void* r = a.GetRenderer(window);
  if (!r) {
    Forget();
    renderer_ = nullptr;
    ThrowSdl(env, "SDL_GetRenderer");
  }
  int mode = -1;
  if (r == renderer_ && a.GetRenderDrawBlendMode(r, &mode) == 0 && mode == kMarkerBlendMode) return window;
  // A renderer we have not seen (the first, or one the binding made after destroying ours).
  Forget();
  renderer_ = nullptr;
  if (a.GetRendererInfo(r, &rinfo_) != 0) ThrowSdl(env, "SDL_GetRendererInfo");
  if (a.SetRenderDrawBlendMode(r, kMarkerBlendMode) != 0) ThrowSdl(env, "SDL_SetRenderDrawBlendMode");
  a.SetRenderDrawColor(r, 0, 0, 0, 255);
  // A texture format the renderer shows without converting. The software renderer blits into
  // the window surface: its own format makes that blit a memcpy (an alpha channel there is
  // dropped for the matching x format, so a frame's alpha byte can never make the window
  // translucent). GPU renderers list what they take natively.
  bool software = (rinfo_.flags & sdl::kRendererSoftware) || std::strcmp(rinfo_.name ? rinfo_.name : "", "software") == 0;
  uint32_t chosen = 0;
  if (software) {
    uint32_t wf = a.GetWindowPixelFormat(window);
    chosen = (wf == sdl::kXBGR8888 || wf == sdl::kABGR8888) ? sdl::kXBGR8888 : sdl::kXRGB8888;
  } else {
    for (uint32_t want : {sdl::kXRGB8888, sdl::kXBGR8888, sdl::kARGB8888, sdl::kABGR8888}) {
      for (uint32_t i = 0; i < std::min<uint32_t>(rinfo_.num_texture_formats, 16) && !chosen; i++) {
        if (rinfo_.texture_formats[i] == want) chosen = want;
      }
      if (chosen) break;
    }
    if (!chosen) {
      throw Napi::Error::New(env, std::string("the renderer ") + (rinfo_.name ? rinfo_.name : "?") + " takes no 32-bit RGB texture format");
    }
  }
  texFormat_ = chosen;
  renderer_ = r;
  generation_++;
  return window;
}

bool Presenter::Ensure(Napi::Env env, Texture& t, int w, int h, uint32_t format, int blend) {
  if (t.tex && t.width == w && t.height == h && t.format == format) return false;
  const SdlApi& a = Api();
  if (t.tex) a.DestroyTexture(t.tex);
  t = Texture{};
  void* tex = a.CreateTexture(renderer_, format, sdl::kTextureAccessStreaming, w, h);
  if (!tex) ThrowSdl(env, "SDL_CreateTexture");
  a.SetTextureBlendMode(tex, blend);
  t = Texture{tex, w, h, format, -1};
  return true;
}

Napi::Value Presenter::Check(const Napi::CallbackInfo& info) {
  Bind(info.Env());
  return Napi::Number::New(info.Env(), generation_);
}

void Presenter::UploadRect(Napi::Env env, const uint8_t* src, size_t stride, int srcFormat, const sdl::Rect& r) {
  const SdlApi& a = Api();
  const int srcBpp = (srcFormat == kSrcBgr24 || srcFormat == kSrcRgb24) ? 3 : 4;
  const bool srcBgr = srcFormat == kSrcBgra || srcFormat == kSrcBgr24;
  const bool swap = srcBgr != IsBgrOrder(texFormat_);
  const uint8_t* first = src + static_cast<size_t>(r.y) * stride + static_cast<size_t>(r.x) * srcBpp;
  if (srcBpp == 4 && !swap) {
    if (a.UpdateTexture(frame_.tex, &r, first, static_cast<int>(stride)) != 0) ThrowSdl(env, "SDL_UpdateTexture");
    return;
  }
  void* pixels = nullptr;
  int pitch = 0;
  if (a.LockTexture(frame_.tex, &r, &pixels, &pitch) != 0) ThrowSdl(env, "SDL_LockTexture");
  auto* d = static_cast<uint8_t*>(pixels);
  for (int y = 0; y < r.h; y++) {
    ConvertRow(first + static_cast<size_t>(y) * stride, d + static_cast<size_t>(y) * static_cast<size_t>(pitch), r.w, srcBpp, swap);
  }
  a.UnlockTexture(frame_.tex);
}

Napi::Value Presenter::SetFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber()) {
    throw Napi::TypeError::New(env, "setFrame(pixels: Uint8Array, width, height, stride, srcFormat, rects: Int32Array | null)");
  }
  Bind(env);
  auto px = info[0].As<Napi::Uint8Array>();
  const int w = Int(info[1]), h = Int(info[2]), stride = Int(info[3]), fmt = Int(info[4]);
  if (fmt < kSrcBgra || fmt > kSrcRgb24) throw Napi::RangeError::New(env, "setFrame: unknown source format " + std::to_string(fmt));
  const int bpp = fmt >= kSrcBgr24 ? 3 : 4;
  const int maxW = rinfo_.max_texture_width > 0 ? rinfo_.max_texture_width : 16384;
  const int maxH = rinfo_.max_texture_height > 0 ? rinfo_.max_texture_height : 16384;
  if (w < 1 || h < 1 || w > maxW || h > maxH) {
    throw Napi::RangeError::New(env, "setFrame: " + std::to_string(w) + "x" + std::to_string(h) + " is outside 1x1.." + std::to_string(maxW) + "x" + std::to_string(maxH));
  }
  if (stride < w * bpp || static_cast<size_t>(stride) * (h - 1) + static_cast<size_t>(w) * bpp > px.ByteLength()) {
    throw Napi::RangeError::New(env, "setFrame: " + std::to_string(px.ByteLength()) + " bytes do not hold " + std::to_string(w) + "x" + std::to_string(h) + " pixels with stride " + std::to_string(stride));
  }
  bool full = info[5].IsNull() || info[5].IsUndefined();
  // A new texture holds nothing yet, whatever the caller says changed.
  if (Ensure(env, frame_, w, h, texFormat_, sdl::kBlendNone)) full = true;
  if (frameSrcFormat_ != fmt) full = true;
  frameSrcFormat_ = fmt;
  const uint8_t* src = px.Data();
  double bytes = 0;
  if (full) {
    UploadRect(env, src, stride, fmt, sdl::Rect{0, 0, w, h});
    return Napi::Number::New(env, double(w) * h * bpp);
  }
  if (!info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "setFrame: rects must be an Int32Array of x, y, width, height or null");
  }
  auto rects = info[5].As<Napi::Int32Array>();
  const size_t n = rects.ElementLength() / 4;
  if (rects.ElementLength() % 4 != 0 || n > kMaxRects) throw Napi::RangeError::New(env, "setFrame: rects must hold groups of 4, at most " + std::to_string(kMaxRects));
  for (size_t i = 0; i < n; i++) {
    sdl::Rect r{rects[i * 4], rects[i * 4 + 1], rects[i * 4 + 2], rects[i * 4 + 3]};
    if (r.x < 0 || r.y < 0 || r.w < 1 || r.h < 1 || r.x > w - r.w || r.y > h - r.h) {
      throw Napi::RangeError::New(env, "setFrame: rectangle " + std::to_string(i) + " is outside the " + std::to_string(w) + "x" + std::to_string(h) + " frame");
    }
  }
  for (size_t i = 0; i < n; i++) {
    sdl::Rect r{rects[i * 4], rects[i * 4 + 1], rects[i * 4 + 2], rects[i * 4 + 3]};
    UploadRect(env, src, stride, fmt, r);
    bytes += double(r.w) * r.h * bpp;
  }
  return Napi::Number::New(env, bytes);
}

Napi::Value Presenter::SetOverlay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setOverlay(slot, pixels | null, width, height, stride, rgba)");
  Bind(env);
  const SdlApi& a = Api();
  const int slot = Int(info[0]);
  if (slot < 0 || slot >= kOverlaySlots) throw Napi::RangeError::New(env, "setOverlay: slot " + std::to_string(slot) + " (0.." + std::to_string(kOverlaySlots - 1) + ")");
  Texture& t = overlays_[slot];
  if (info[1].IsNull() || info[1].IsUndefined()) {
    if (t.tex) a.DestroyTexture(t.tex);
    t = Texture{};
    return env.Undefined();
  }
  if (!info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber()) {
    throw Napi::TypeError::New(env, "setOverlay(slot, pixels: Uint8Array, width, height, stride, rgba)");
  }
  auto px = info[1].As<Napi::Uint8Array>();
  const int w = Int(info[2]), h = Int(info[3]), stride = Int(info[4]);
  const uint32_t fmt = info[5].ToBoolean().Value() ? sdl::kABGR8888 : sdl::kARGB8888;
  if (w < 1 || h < 1 || w > kMaxOverlayDim || h > kMaxOverlayDim || stride < w * 4 ||
      static_cast<size_t>(stride) * (h - 1) + static_cast<size_t>(w) * 4 > px.ByteLength()) {
    throw Napi::RangeError::New(env, "setOverlay: " + std::to_string(px.ByteLength()) + " bytes do not hold a " + std::to_string(w) + "x" + std::to_string(h) + " image with stride " + std::to_string(stride));
  }
  Ensure(env, t, w, h, fmt, sdl::kBlendBlend);
  if (a.UpdateTexture(t.tex, nullptr, px.Data(), stride) != 0) ThrowSdl(env, "SDL_UpdateTexture");
  return env.Undefined();
}

Napi::Value Presenter::Present(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[5].IsTypedArray() ||
      info[5].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "present(dx, dy, dw, dh, linear, overlays: Float64Array)");
  }
  Bind(env);
  if (!frame_.tex) return Napi::Boolean::New(env, false);
  const int64_t drawStart = NowNs();
  const SdlApi& a = Api();
  const sdl::Rect dst{Int(info[0]), Int(info[1]), Int(info[2]), Int(info[3])};
  const int scale = info[4].ToBoolean().Value() ? 1 : 0;
  int ow = 0, oh = 0;
  if (a.GetRendererOutputSize(renderer_, &ow, &oh) != 0) ThrowSdl(env, "SDL_GetRendererOutputSize");
  // Black where the frame does not go (letterbox/pillarbox) instead of clearing the whole
  // window first: the frame's area is written once.
  const int x0 = std::clamp(dst.x, 0, ow), x1 = std::clamp(dst.x + std::max(dst.w, 0), 0, ow);
  const int y0 = std::clamp(dst.y, 0, oh), y1 = std::clamp(dst.y + std::max(dst.h, 0), 0, oh);
  sdl::Rect bars[4];
  int nb = 0;
  if (y0 > 0) bars[nb++] = {0, 0, ow, y0};
  if (y1 < oh) bars[nb++] = {0, y1, ow, oh - y1};
  if (x0 > 0 && y1 > y0) bars[nb++] = {0, y0, x0, y1 - y0};
  if (x1 < ow && y1 > y0) bars[nb++] = {x1, y0, ow - x1, y1 - y0};
  if (nb) {
    a.SetRenderDrawBlendMode(renderer_, sdl::kBlendNone);
    a.SetRenderDrawColor(renderer_, 0, 0, 0, 255);
    int rc = a.RenderFillRects(renderer_, bars, nb);
    a.SetRenderDrawBlendMode(renderer_, kMarkerBlendMode);
    if (rc != 0) ThrowSdl(env, "SDL_RenderFillRects");
  }
  const int turns = info.Length() > 6 && info[6].IsNumber() ? (Int(info[6]) & 3) : 0;
  const double angle = 90.0 * turns;
  // The frame unturned: its on-screen box (dst) with width and height swapped for odd turns,
  // around the same centre. SDL turns a copy clockwise about its destination's centre.
  const double cx = dst.x + dst.w / 2.0, cy = dst.y + dst.h / 2.0;
  const double uw = (turns & 1) ? dst.h : dst.w, uh = (turns & 1) ? dst.w : dst.h;
  const sdl::FRect frameTo{float(cx - uw / 2), float(cy - uh / 2), float(uw), float(uh)};
  const bool frameShown = dst.w > 0 && dst.h > 0;
  if (frameShown) {
    if (frame_.scale != scale) {
      a.SetTextureScaleMode(frame_.tex, scale);
      frame_.scale = scale;
    }
    // Unturned frames keep the integer path (pixel-exact at 1:1).
    const int rc = turns == 0 ? a.RenderCopy(renderer_, frame_.tex, nullptr, &dst) : a.RenderCopyExF(renderer_, frame_.tex, nullptr, &frameTo, angle, nullptr, sdl::kFlipNone);
    if (rc != 0) ThrowSdl(env, "SDL_RenderCopy");
  }
  auto list = info[5].As<Napi::Float64Array>();
  const double sx = uw / frame_.width, sy = uh / frame_.height;
  for (size_t i = 0; i + 3 < list.ElementLength(); i += 4) {
    const double slotD = list[i];
    if (!(slotD >= 0 && slotD < kOverlaySlots)) continue;
    Texture& t = overlays_[static_cast<int>(slotD)];
    const double ox = list[i + 1], oy = list[i + 2];
    if (!t.tex || !(ox > -1e7 && ox < 1e7 && oy > -1e7 && oy < 1e7)) continue;
    const int ix = static_cast<int>(ox), iy = static_cast<int>(oy);
    if (list[i + 3] == 1) {
      // Window pixels, 1:1: never scaled, cut by the window's edges (SDL clips the copy).
      if (t.scale != 0) {
        a.SetTextureScaleMode(t.tex, 0);
        t.scale = 0;
      }
      const sdl::Rect to{ix, iy, t.width, t.height};
      if (a.RenderCopy(renderer_, t.tex, nullptr, &to) != 0) ThrowSdl(env, "SDL_RenderCopy");
      continue;
    }
    if (!frameShown) continue;
    // Frame pixels: scaled and turned with the frame, cut at its edges.
    const int cx0 = std::max(ix, 0), cy0 = std::max(iy, 0);
    const int cx1 = std::min(ix + t.width, frame_.width), cy1 = std::min(iy + t.height, frame_.height);
    if (cx1 <= cx0 || cy1 <= cy0) continue;
    if (t.scale != scale) {
      a.SetTextureScaleMode(t.tex, scale);
      t.scale = scale;
    }
    const sdl::Rect src{cx0 - ix, cy0 - iy, cx1 - cx0, cy1 - cy0};
    const double w = (cx1 - cx0) * sx, h = (cy1 - cy0) * sy;
    if (turns == 0) {
      const sdl::FRect to{float(dst.x + cx0 * sx), float(dst.y + cy0 * sy), float(w), float(h)};
      if (a.RenderCopyF(renderer_, t.tex, &src, &to) != 0) ThrowSdl(env, "SDL_RenderCopyF");
      continue;
    }
    // Its centre, relative to the frame's, turned clockwise (y down: (x, y) -> (-y, x)) per turn.
    double px = frameTo.x + cx0 * sx + w / 2 - cx, py = frameTo.y + cy0 * sy + h / 2 - cy;
    for (int k = 0; k < turns; k++) {
      const double t0 = px;
      px = -py;
      py = t0;
    }
    const sdl::FRect to{float(cx + px - w / 2), float(cy + py - h / 2), float(w), float(h)};
    if (a.RenderCopyExF(renderer_, t.tex, &src, &to, angle, nullptr, sdl::kFlipNone) != 0) ThrowSdl(env, "SDL_RenderCopyExF");
  }
  const int64_t presentStart = NowNs();
  a.RenderPresent(renderer_);
  lastDrawUs_ = (presentStart - drawStart) / 1e3;
  lastPresentUs_ = (NowNs() - presentStart) / 1e3;
  return Napi::Boolean::New(env, true);
}

Napi::Value Presenter::Timings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, lastDrawUs_));
  out.Set(1u, Napi::Number::New(env, lastPresentUs_));
  return out;
}

Napi::Value Presenter::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* window = Bind(env);
  const SdlApi& a = Api();
  Napi::Object out = Napi::Object::New(env);
  const char* name = rinfo_.name ? rinfo_.name : "";
  out.Set("renderer", Napi::String::New(env, name));
  out.Set("software", Napi::Boolean::New(env, (rinfo_.flags & sdl::kRendererSoftware) || std::strcmp(name, "software") == 0));
  out.Set("textureFormat", Napi::String::New(env, FormatName(texFormat_)));
  out.Set("maxTextureWidth", Napi::Number::New(env, rinfo_.max_texture_width));
  out.Set("maxTextureHeight", Napi::Number::New(env, rinfo_.max_texture_height));
  out.Set("generation", Napi::Number::New(env, generation_));
  // Which OpenGL implementation draws (a software one such as llvmpipe costs more than SDL's own
  // software renderer): asked of the renderer's context, current on this thread since SDL made it.
  Napi::Value gl = env.Null();
  if (std::strncmp(name, "opengl", 6) == 0 && a.GL_GetCurrentContext() && a.GL_GetCurrentWindow() == window) {
    using GetString = const unsigned char* (*)(unsigned int);
    auto getString = reinterpret_cast<GetString>(a.GL_GetProcAddress("glGetString"));
    const unsigned char* s = getString ? getString(0x1F01 /* GL_RENDERER */) : nullptr;
    if (s) gl = Napi::String::New(env, reinterpret_cast<const char*>(s));
  }
  out.Set("glRenderer", gl);
  return out;
}

Napi::Value Presenter::Close(const Napi::CallbackInfo& info) {
  if (closed_) return info.Env().Undefined();
  const SdlApi& a = Api();
  void* window = a.GetWindowFromID(windowId_);
  void* r = window ? a.GetRenderer(window) : nullptr;
  int mode = -1;
  if (r && r == renderer_ && a.GetRenderDrawBlendMode(r, &mode) == 0 && mode == kMarkerBlendMode) {
    if (frame_.tex) a.DestroyTexture(frame_.tex);
    for (auto& o : overlays_) {
      if (o.tex) a.DestroyTexture(o.tex);
    }
    a.SetRenderDrawBlendMode(r, sdl::kBlendNone);
  }
  a.ClearError();
  Forget();
  renderer_ = nullptr;
  closed_ = true;
  return info.Env().Undefined();
}

}  // namespace glasspane
