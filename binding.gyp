{
  # One build of this file makes one part (scripts/build.js and scripts/prebuild.js choose it with
  # PYHOST_BUILD_PART), so each build leaves exactly one addon in build/Release:
  #   python   pyhost.node and pyhost-daemon, for the Python of PYHOST_PYTHON_INFO (one per minor)
  #   front    pyhost_front.node (no Python)
  #   preload  pyhost_preload.node (no Python): puts a libpython in the global symbol scope
  "variables": {
    "pyhost_part": "<!(node scripts/gyp_python.cjs part)",
    "core_sources": ["<!@(node -p \"['python', 'wsgi', 'http'].flatMap(d => require('fs').readdirSync('csrc/' + d).filter(f => f.endsWith('.cc')).map(f => 'csrc/' + d + '/' + f)).join(' ')\")"],
    "python_include": ["<!@(node scripts/gyp_python.cjs include)"],
    "python_libs": ["<!@(node scripts/gyp_python.cjs libs)"],
    "napi_defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-fvisibility=hidden", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "cflags!": ["-fno-exceptions"],
    "include_dirs": ["csrc"],
    "libraries": ["-lpthread", "-ldl"]
  },
  "targets": [],
  "conditions": [
    ["pyhost_part == 'python'", {
      "targets": [
        {
          # The core and the WSGI gateway, compiled once for both the addon and the daemon.
          "target_name": "pyhost_core",
          "type": "static_library",
          # Hidden: llhttp's symbols must bind inside the addon, not to the llhttp (another
          # version) that the node executable exports.
          "cflags": ["-fPIC", "-fvisibility=hidden"],
          # The native HTTP front (csrc/http) parses with llhttp, compiled in from its C sources.
          "include_dirs": ["<@(python_include)", "<(SHARED_INTERMEDIATE_DIR)", "<!@(node scripts/gyp_llhttp.cjs include)"],
          "direct_dependent_settings": {"include_dirs": ["<!@(node scripts/gyp_llhttp.cjs include)"]},
          "sources": ["<@(core_sources)", "csrc/http/llhttp_api.c", "csrc/http/llhttp_http.c", "csrc/http/llhttp_parser.c"],
          "actions": [
            {
              # python/*.py that the core runs, compiled in as raw strings (embedded_python.h).
              "action_name": "embed_python",
              "inputs": ["scripts/embed-python.cjs", "<!@(node scripts/embed-python.cjs --list)"],
              "outputs": ["<(SHARED_INTERMEDIATE_DIR)/pyhost/embedded_python.h"],
              "action": ["node", "scripts/embed-python.cjs", "<(SHARED_INTERMEDIATE_DIR)/pyhost/embedded_python.h"]
            }
          ]
        },
        {
          # Links no libpython: its Python symbols resolve, when Node loads it, from the
          # libpython that ts/native/libpython.ts put in the global scope first. So one build
          # serves every shared CPython of its minor version, wherever that lives.
          "target_name": "pyhost",
          "dependencies": ["pyhost_core"],
          "include_dirs": ["<@(python_include)", "<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["<@(napi_defines)"],
          "sources": ["<!@(node -p \"['addon', 'napi'].flatMap(d => require('fs').readdirSync('csrc/' + d).filter(f => f.endsWith('.cc')).map(f => 'csrc/' + d + '/' + f)).join(' ')\")"]
        },
        {
          # Needs libpython3.X.so.1.0 by its soname and carries no run path: the supervisor
          # points the loader at the selected Python's library (ts/native/daemon-binary.ts).
          "target_name": "pyhost-daemon",
          "type": "executable",
          "dependencies": ["pyhost_core"],
          "include_dirs": ["<@(python_include)"],
          "libraries": ["<@(python_libs)"],
          "sources": ["<!@(node -p \"['daemon', 'wire'].flatMap(d => require('fs').readdirSync('csrc/' + d).filter(f => f.endsWith('.cc')).map(f => 'csrc/' + d + '/' + f)).join(' ')\")"]
        }
      ]
    }],
    ["pyhost_part == 'front'", {
      "targets": [
        {
          "target_name": "pyhost_front",
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["<@(napi_defines)"],
          "sources": ["csrc/front/daemon_link.cc", "csrc/front/request_channel.cc", "csrc/front/daemon_socket.cc", "csrc/front/front_addon.cc", "csrc/napi/port.cc", "csrc/napi/js_call.cc", "csrc/wire/protocol.cc", "csrc/http/listen_socket.cc", "csrc/http/allocator_tuning.cc", "csrc/napi/listen_binding.cc"]
        }
      ]
    }],
    ["pyhost_part == 'preload'", {
      "targets": [
        {
          "target_name": "pyhost_preload",
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["<@(napi_defines)"],
          "sources": ["csrc/preload/preload_addon.cc"]
        }
      ]
    }]
  ]
}
