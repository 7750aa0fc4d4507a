{
  "targets": [
    {
      "target_name": "lorkd_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/matmul.cc", "src/reduce.cc", "src/elementwise.cc", "src/broadcast.cc", "src/reduce-general.cc", "src/groupnorm.cc"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-lgomp"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
