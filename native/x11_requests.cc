// The X11 capture's round trips that run on the libuv pool (see x11_capture.h): the damage, the
// copies into the region and the cursor image.
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xfixes.h>

#include <cstring>

#include "x11_capture.h"
#include "x11_util.h"

namespace glasspane {

using namespace x11;

// takeDamageAsync() -> Promise<Int32Array>: the damage since the last call as x, y, w, h
// quadruples (the server's own banded, non-overlapping rectangles), and the damage cleared.
Napi::Value X11Capture::TakeDamageAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  auto rects = std::make_shared<std::vector<int32_t>>();
  auto* w = new XWork(
      info.This().As<Napi::Object>(), this,
      [this, rects] {
        xcb_damage_subtract(conn_, damage_, XCB_NONE, region_);
        xcb_generic_error_t* err = nullptr;
        auto r = Need(xcb_xfixes_fetch_region_reply(conn_, xcb_xfixes_fetch_region(conn_, region_), &err), err, "reading the damage");
        const xcb_rectangle_t* rs = xcb_xfixes_fetch_region_rectangles(r.get());
        int n = xcb_xfixes_fetch_region_rectangles_length(r.get());
        rects->reserve(static_cast<size_t>(n) * 4);
        for (int i = 0; i < n; ++i) {
          rects->push_back(rs[i].x);
          rects->push_back(rs[i].y);
          rects->push_back(rs[i].width);
          rects->push_back(rs[i].height);
        }
      },
      [rects](Napi::Env env) {
        auto out = Napi::Int32Array::New(env, rects->size());
        if (!rects->empty()) memcpy(out.Data(), rects->data(), rects->size() * sizeof(int32_t));
        return out;
      });
  w->Queue();
  return w->Promise();
}

// copyAsync(target, rects: Int32Array of x, y, w, h) -> Promise<void>: each rectangle of the
// screen (windows included) into the same place of target `target`; resolves once the server has
// done them all (the pixels are in the region then). A rectangle of whole rows is read with
// ShmGetImage straight to its place (its rows have the target's pitch), which costs the server
// about half what CopyArea into the shared pixmap does; any other with CopyArea. Rejects with the
// X error.
Napi::Value X11Capture::CopyAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!info[0].IsNumber() || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "copyAsync(target: number, rects: Int32Array)");
  Target t = TargetAt(info[0].As<Napi::Number>().Uint32Value());
  if (!t.pixmap) throw Napi::RangeError::New(env, "copyAsync: no such target (call setTargets first)");
  auto arr = info[1].As<Napi::Int32Array>();
  auto rects = std::make_shared<std::vector<int32_t>>(arr.Data(), arr.Data() + (arr.ElementLength() / 4) * 4);
  for (size_t i = 0; i < rects->size(); ++i) {
    int32_t v = (*rects)[i];
    if (v < 0 || v > 32767) throw Napi::RangeError::New(env, "copyAsync: rectangle values must be 0..32767");
  }
  auto* w = new XWork(
      info.This().As<Napi::Object>(), this,
      [this, t, rects] {
        std::vector<xcb_void_cookie_t> copies;
        std::vector<xcb_shm_get_image_cookie_t> rows;
        for (size_t i = 0; i + 3 < rects->size(); i += 4) {
          auto x = static_cast<int16_t>((*rects)[i]), y = static_cast<int16_t>((*rects)[i + 1]);
          auto cw = static_cast<uint16_t>((*rects)[i + 2]), ch = static_cast<uint16_t>((*rects)[i + 3]);
          if (!cw || !ch) continue;
          if (x == 0 && cw == t.width)
            rows.push_back(xcb_shm_get_image(conn_, root_, 0, y, cw, ch, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, t.segment, t.offset + static_cast<uint32_t>(y) * t.pitch));
          else
            copies.push_back(xcb_copy_area_checked(conn_, root_, t.pixmap, gc_, x, y, x, y, cw, ch));
        }
        std::string failure;
        for (auto& c : rows) {
          xcb_generic_error_t* err = nullptr;
          free(xcb_shm_get_image_reply(conn_, c, &err));
          if (err && failure.empty()) failure = "reading the screen into the region failed: " + DescribeXError(err);
          free(err);
        }
        // Checking the last copy is the round trip; the others are known by then.
        for (auto it = copies.rbegin(); it != copies.rend(); ++it) {
          if (xcb_generic_error_t* err = xcb_request_check(conn_, *it)) {
            if (failure.empty()) failure = "copying the screen into the region failed: " + DescribeXError(err);
            free(err);
          }
        }
        if (!failure.empty()) throw std::runtime_error(failure);
        if (rows.empty() && copies.empty()) {
          auto r = Owned(xcb_get_input_focus_reply(conn_, xcb_get_input_focus(conn_), nullptr));
          if (!r) throw std::runtime_error("the connection to the X server was lost");
        }
        if (xcb_connection_has_error(conn_)) throw std::runtime_error("the connection to the X server was lost");
      },
      [](Napi::Env env) { return env.Undefined(); });
  w->Queue();
  return w->Promise();
}

// cursorAsync() -> Promise<{ x, y, hotX, hotY, width, height, serial, pixels: Uint32Array }>:
// XFixes' current cursor image (x, y = the hotspot on the screen; pixels ARGB, premultiplied).
Napi::Value X11Capture::CursorAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  auto reply = std::make_shared<std::unique_ptr<xcb_xfixes_get_cursor_image_reply_t, decltype(&free)>>(nullptr, &free);
  auto* w = new XWork(
      info.This().As<Napi::Object>(), this,
      [this, reply] {
        xcb_generic_error_t* err = nullptr;
        *reply = Need(xcb_xfixes_get_cursor_image_reply(conn_, xcb_xfixes_get_cursor_image(conn_), &err), err, "reading the cursor image");
      },
      [reply](Napi::Env env) {
        const auto* r = reply->get();
        auto out = Napi::Object::New(env);
        out.Set("x", r->x);
        out.Set("y", r->y);
        out.Set("hotX", r->xhot);
        out.Set("hotY", r->yhot);
        out.Set("width", r->width);
        out.Set("height", r->height);
        out.Set("serial", r->cursor_serial);
        size_t n = static_cast<size_t>(xcb_xfixes_get_cursor_image_cursor_image_length(r));
        n = std::min(n, static_cast<size_t>(r->width) * r->height);
        auto px = Napi::Uint32Array::New(env, n);
        if (n) memcpy(px.Data(), xcb_xfixes_get_cursor_image_cursor_image(r), n * 4);
        out.Set("pixels", px);
        return out;
      });
  w->Queue();
  return w->Promise();
}

}  // namespace glasspane
