{
  "variables": {
    "core_sources": ["<!@(node -p \"['core', 'wsgi'].flatMap(d => require('fs').readdirSync('csrc/' + d).filter(f => f.endsWith('.cc')).map(f => 'csrc/' + d + '/' + f)).join(' ')\")"],
    "python_include": ["<!@(node scripts/gyp_python.cjs include)"],
    "python_defines": ["<!@(node scripts/gyp_python.cjs defines)"],
    "python_libs": ["<!@(node scripts/gyp_python.cjs libs)"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-fvisibility=hidden", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "cflags!": ["-fno-exceptions"],
    "include_dirs": ["csrc"],
    "libraries": ["-lpthread", "-ldl"]
  },
  "targets": [
    {
      "target_name": "pyhost",
      "include_dirs": ["<@(python_include)", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["<@(python_defines)", "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "libraries": ["<@(python_libs)"],
      "sources": ["<@(core_sources)", "<!@(node -p \"require('fs').readdirSync('csrc/node').filter(f => f.endsWith('.cc')).map(f => 'csrc/node/' + f).join(' ')\")"]
    },
    {
      "target_name": "pyhost-daemon",
      "type": "executable",
      "include_dirs": ["<@(python_include)"],
      "defines": ["<@(python_defines)"],
      "libraries": ["<@(python_libs)"],
      "sources": ["<@(core_sources)", "<!@(node -p \"require('fs').readdirSync('csrc/daemon').filter(f => f.endsWith('.cc')).map(f => 'csrc/daemon/' + f).join(' ')\")"]
    },
    {
      "target_name": "pyhost_front",
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "sources": ["csrc/front/daemon_link.cc", "csrc/front/request_channel.cc", "csrc/front/daemon_socket.cc", "csrc/front/front_addon.cc", "csrc/node/port.cc", "csrc/node/js_call.cc", "csrc/daemon/protocol.cc"]
    }
  ]
}
