{
  "targets": [
    {
      "target_name": "masq_tun",
      "sources": ["native/tun.cc", "native/tun_steering.cc", "native/napi-shared.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "masq_udp",
      "sources": ["native/udp.cc", "native/udp-set.cc", "native/udp-shared.cc", "native/napi-shared.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
