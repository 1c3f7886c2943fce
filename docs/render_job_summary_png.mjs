// Render one job summary (Markdown) to HTML the way GitHub shows it (GitHub's Markdown CSS,
// Mermaid pictures drawn by mermaid.js); then screenshot it with headless Chromium:
//   npm install marked@14 mermaid@11 github-markdown-css@5   (in a tools folder; run this from there)
//   node render_job_summary_png.mjs SUMMARY.md OUT.html "migrations summary"
//   chromium --headless --no-sandbox --hide-scrollbars --window-size=1030,900 \
//     --virtual-time-budget=8000 --screenshot=OUT.png file://$PWD/OUT.html
// The PNGs in docs/ were made this way from docs/job-summary-example.md (Chromium 150, Debian 12).
import { marked } from "marked";
import fs from "fs";
const [src, out, title] = process.argv.slice(2);
let md = fs.readFileSync(src, "utf8");
const renderer = new marked.Renderer();
const origCode = renderer.code.bind(renderer);
renderer.code = (token) => token.lang === "mermaid" ? `<pre class="mermaid">${token.text}</pre>` : origCode(token);
const body = marked.parse(md, { gfm: true, renderer });
const css = fs.readFileSync("node_modules/github-markdown-css/github-markdown-light.css", "utf8");
const js = fs.readFileSync("node_modules/mermaid/dist/mermaid.min.js", "utf8");
const html = `<!doctype html><html><head><meta charset="utf-8"><style>${css}
body{background:#f6f8fa;margin:0;padding:24px;font-family:-apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif}
.panel{background:#fff;border:1px solid #d1d9e0;border-radius:6px;max-width:980px}
.panel h4{margin:0;padding:14px 24px;border-bottom:1px solid #d1d9e0;font-size:14px;color:#1f2328}
.markdown-body{padding:24px 32px;font-size:14px}
pre.mermaid{background:#fff;text-align:center}
</style></head><body><div class="panel"><h4>${title}</h4><article class="markdown-body">${body}</article></div>
<script>${js}</script><script>mermaid.initialize({startOnLoad:false, theme:"default"}); mermaid.run().then(()=>{document.title="done"});</script>
</body></html>`;
fs.writeFileSync(out, html);
