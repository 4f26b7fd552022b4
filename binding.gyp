{
  "variables": {
    "core_sources": ["<!@(node -p \"require('fs').readdirSync('csrc/core').concat(require('fs').readdirSync('csrc/wsgi').map(f => '../wsgi/' + f)).filter(f => f.endsWith('.cc')).map(f => 'csrc/core/' + f).join(' ')\")"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-fvisibility=hidden", "-Wall", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    "cflags!": ["-fno-exceptions"],
    "include_dirs": [
      "<!@(node scripts/gyp_python.cjs include)",
      "csrc"
    ],
    "defines": ["<!@(node scripts/gyp_python.cjs defines)"],
    "libraries": ["<!@(node scripts/gyp_python.cjs libs)", "-lpthread", "-ldl"]
  },
  "targets": [
    {
      "target_name": "pyhost",
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "sources": ["<@(core_sources)", "<!@(node -p \"require('fs').readdirSync('csrc/node').filter(f => f.endsWith('.cc')).map(f => 'csrc/node/' + f).join(' ')\")"]
    },
    {
      "target_name": "pyhost-daemon",
      "type": "executable",
      "sources": ["<@(core_sources)", "<!@(node -p \"require('fs').readdirSync('csrc/daemon').filter(f => f.endsWith('.cc')).map(f => 'csrc/daemon/' + f).join(' ')\")"]
    }
  ]
}
