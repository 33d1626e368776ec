{
  "targets": [
    {
      "target_name": "glasspane",
      "sources": [
        "native/addon.cc",
        "native/mapping.cc",
        "native/region.cc",
        "native/fast_copy.cc",
        "native/fault_guard.cc",
        "native/watcher.cc",
        "native/watch_engine.cc",
        "native/sdl_grab.cc",
        "native/sdl_present.cc",
        "native/sdl_api.cc",
        "native/sdl_input.cc",
        "native/sdl_events.cc",
        "native/kvm.cc"
      ],
      "libraries": ["-ldl"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-fexceptions"],
      "conditions": [
        ["OS!='linux'", { "sources!": [] }]
      ]
    }
  ],
  "conditions": [
    # The X11 capture of `glasspane capture` (native/x11_*): its own addon, built only where the
    # xcb development files are installed, so the core addon never depends on them.
    ["OS=='linux' and '<!(pkg-config --exists xcb xcb-shm xcb-damage xcb-xfixes xcb-xinput 2>/dev/null && echo yes || echo no)'=='yes'", {
      "targets": [
        {
          "target_name": "glasspane_x11",
          "sources": ["native/x11_addon.cc", "native/x11_capture.cc", "native/x11_events.cc", "native/x11_requests.cc"],
          "libraries": ["<!@(pkg-config --libs xcb xcb-shm xcb-damage xcb-xfixes xcb-xinput)"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions"],
          "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fexceptions"]
        }
      ]
    }]
  ]
}
