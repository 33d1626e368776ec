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
  ]
}
