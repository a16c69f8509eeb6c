// Builds dist/ for natter-server's http_dir: hashed names under assets/ (served with
// Cache-Control: immutable) and a precompressed X.gz next to every text file, which
// the server sends instead of X when the browser accepts gzip (static_files.cpp).
import { defineConfig, type Plugin } from "vite";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "natter-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((f) => {
          const p = join(dir, f);
          return statSync(p).isDirectory() ? walk(p) : [p];
        });
      for (const file of walk(outDir)) {
        if (!/\.(html|js|css|svg|json|txt|map)$/.test(file)) continue;
        const gz = gzipSync(readFileSync(file), { level: 9 });
        writeFileSync(`${file}.gz`, gz);
      }
    },
  };
}

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { target: "es2020", sourcemap: false, reportCompressedSize: true },
  plugins: [precompress()],
});
