// Opens the node's /demo page and waits until it is live: connected, and every channel's
// subscribe confirmed (a publication before that is not the page's to receive).
import { waitFor } from "./cluster.mjs";

// `extra`: {query: more of the page's query ("transports=sse"), initScript: run before the
// page's own scripts (e.g. to break WebSocket as a proxy would)}.
export async function openDemoPage(browser, cluster, channels, pageOptions = {}, extra = {}) {
  const page = await browser.newPage(pageOptions);
  page.on("pageerror", (e) => console.error("page error:", e));
  if (extra.initScript) await page.addInitScript(extra.initScript);
  const query = extra.query ? `&${extra.query}` : "";
  await page.goto(`${cluster.httpBase}/demo?channels=${encodeURIComponent(channels)}${query}`);
  await page.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
  const wanted = channels.split(",").length;
  await waitFor(`the demo page's subscribe to ${channels} confirmed`, () =>
    page.evaluate((n) => window.heraldDemo.subscribed.size === n, wanted),
  );
  return page;
}
