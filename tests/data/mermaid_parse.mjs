// Parse Mermaid files with mermaid.js itself (what GitHub renders with). Run from a folder whose
// node_modules holds mermaid@11 and jsdom@25:  node mermaid_parse.mjs FILE...
// Exit 1 when a file does not parse.
import { JSDOM } from "jsdom";
import fs from "fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window; globalThis.document = dom.window.document;
const mermaid = (await import("mermaid")).default;
mermaid.initialize({ startOnLoad: false });
let bad = 0;
for (const f of process.argv.slice(2)) {
  const text = fs.readFileSync(f, "utf8");
  try { await mermaid.parse(text); console.log("ok", f); }
  catch (e) { bad++; console.log("FAIL", f, String(e.message || e).split("\n").slice(0,4).join(" | ")); }
}
process.exit(bad ? 1 : 0);
