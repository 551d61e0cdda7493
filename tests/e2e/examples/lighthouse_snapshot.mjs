// Lighthouse in snapshot mode on the page a running Chromium shows now (used by lighthouse_bench.rs).
//
//   node lighthouse_snapshot.mjs <node_modules> <devtools port> <url prefix> <report.json>
//
// Connects to the browser's DevTools port (the one chromedriver opened), audits the first page whose
// URL starts with <url prefix> as it is (accessibility and best practices, default mobile settings),
// writes the report as JSON and disconnects, leaving the browser and the page as they were.

import { pathToFileURL } from "node:url";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const [modules, port, prefix, out] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(modules, path)).href);
const puppeteer = (await load("puppeteer-core/lib/esm/puppeteer/puppeteer-core.js")).default;
const { snapshot } = await load("lighthouse/core/index.js");

const browser = await puppeteer.connect({
  browserURL: `http://127.0.0.1:${port}`,
  defaultViewport: null,
});
try {
  const pages = await browser.pages();
  const page = pages.find((p) => p.url().startsWith(prefix));
  if (!page) {
    throw new Error(`no page at ${prefix} (pages: ${pages.map((p) => p.url()).join(", ")})`);
  }
  const result = await snapshot(page, {
    flags: { onlyCategories: ["accessibility", "best-practices"], logLevel: "error" },
  });
  writeFileSync(out, JSON.stringify(result.lhr));
} finally {
  await browser.disconnect();
}
