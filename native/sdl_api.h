// The slice of SDL2 the presenter calls, looked up in the SDL library @kmamal/sdl already loaded
// (dlopen with RTLD_NOLOAD, then dlsym, as sdl_grab.cc does): nothing is linked or loaded by us,
// and in a process without SDL (headless) FindSdlApi() returns null. The types and numbers below
// are SDL2's stable ABI; sdl_api.cc holds them to the SDL headers where those are installed.
#pragma once

#include <cstdint>

namespace glasspane {

// The slice of SDL2's ABI the presenter uses (SDL >= 2.0.12; stable across SDL2 releases).
namespace sdl {
struct Rect {
  int x, y, w, h;
};
struct FRect {
  float x, y, w, h;
};
struct FPoint {
  float x, y;
};
constexpr int kFlipNone = 0;
struct RendererInfo {
  const char* name;
  uint32_t flags;
  uint32_t num_texture_formats;
  uint32_t texture_formats[16];
  int max_texture_width;
  int max_texture_height;
};
// SDL_DEFINE_PIXELFORMAT(PACKED32, order, 8888, bits, 4): byte order in memory on little endian.
constexpr uint32_t kXRGB8888 = 0x16161804;  // B G R x
constexpr uint32_t kARGB8888 = 0x16362004;  // B G R A
constexpr uint32_t kXBGR8888 = 0x16561804;  // R G B x
constexpr uint32_t kABGR8888 = 0x16762004;  // R G B A
constexpr uint32_t kRendererSoftware = 0x1;
constexpr int kTextureAccessStreaming = 1;
constexpr int kBlendNone = 0;
constexpr int kBlendBlend = 1;
constexpr int kBlendMod = 4;
}  // namespace sdl

struct SdlApi {
  void* (*GetWindowFromID)(uint32_t) = nullptr;
  void* (*GetRenderer)(void*) = nullptr;
  int (*GetRendererInfo)(void*, sdl::RendererInfo*) = nullptr;
  int (*GetRendererOutputSize)(void*, int*, int*) = nullptr;
  uint32_t (*GetWindowPixelFormat)(void*) = nullptr;
  void* (*CreateTexture)(void*, uint32_t, int, int, int) = nullptr;
  void (*DestroyTexture)(void*) = nullptr;
  int (*UpdateTexture)(void*, const sdl::Rect*, const void*, int) = nullptr;
  int (*LockTexture)(void*, const sdl::Rect*, void**, int*) = nullptr;
  void (*UnlockTexture)(void*) = nullptr;
  int (*SetTextureBlendMode)(void*, int) = nullptr;
  int (*SetTextureScaleMode)(void*, int) = nullptr;
  int (*SetRenderDrawColor)(void*, uint8_t, uint8_t, uint8_t, uint8_t) = nullptr;
  int (*GetRenderDrawBlendMode)(void*, int*) = nullptr;
  int (*SetRenderDrawBlendMode)(void*, int) = nullptr;
  int (*RenderFillRects)(void*, const sdl::Rect*, int) = nullptr;
  int (*RenderCopy)(void*, void*, const sdl::Rect*, const sdl::Rect*) = nullptr;
  int (*RenderCopyF)(void*, void*, const sdl::Rect*, const sdl::FRect*) = nullptr;
  int (*RenderCopyExF)(void*, void*, const sdl::Rect*, const sdl::FRect*, double, const sdl::FPoint*, int) = nullptr;
  void (*RenderPresent)(void*) = nullptr;
  const char* (*GetError)() = nullptr;
  void (*ClearError)() = nullptr;
  void* (*GL_GetCurrentWindow)() = nullptr;
  void* (*GL_GetCurrentContext)() = nullptr;
  void* (*GL_GetProcAddress)(const char*) = nullptr;
};

// The table, or null while SDL2 (>= 2.0.12, libSDL2-2.0.so.0) is not loaded. Resolved once
// found; any thread may ask (SDL's video calls themselves belong to the main thread).
const SdlApi* FindSdlApi();

}  // namespace glasspane
