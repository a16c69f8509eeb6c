// Generates src/gen/ (TypeScript, protobuf-es) from the one schema in protocol/chat with
// Debian's protoc and the protoc-gen-es plugin from node_modules. Run by `npm run build`
// and `npm test`; src/gen/ is never edited or committed.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = join(root, "..", "protocol", "chat");
const out = join(root, "src", "gen");
const plugin = join(root, "node_modules", ".bin", "protoc-gen-es");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
try {
  execFileSync(
    process.env.PROTOC || "protoc",
    [
      `--plugin=protoc-gen-es=${plugin}`,
      `--es_out=${out}`,
      "--es_opt=target=ts",
      `-I${protoRoot}`,
      "natter/chat/v1/chat.proto",
    ],
    { stdio: "inherit" },
  );
} catch (e) {
  console.error(
    e.code === "ENOENT"
      ? "protoc not found: install Debian's protobuf-compiler (scripts/deps.sh build)"
      : `protoc failed: ${e.message}`,
  );
  process.exit(1);
}
