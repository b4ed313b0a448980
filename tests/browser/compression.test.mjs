// permessage-deflate with Debian's Chromium against a node started with --compression: the
// browser agrees no context takeover, compresses what it sends (the node inflates it), and
// herald.js on the demo page gets every large publication intact.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { launchChromium } from "./support/browser.mjs";
import { Cluster, waitFor } from "./support/cluster.mjs";
import { openDemoPage } from "./support/demo_page.mjs";

let browser;
let cluster;

before(async () => {
  cluster = await Cluster.start(undefined, {
    nodeArgs: ["--compression", "--compression-min-bytes", "64"],
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

function book(n) {
  const bids = [];
  for (let i = 0; i < 50; i++) bids.push({ price: 64000 + i + n, size: (i % 7) + 0.25 });
  return { symbol: "BTC-USD", seq: n, bids };
}

describe("compression", () => {
  test("Chromium agrees permessage-deflate and herald.js receives large publications intact",
    async () => {
      const page = await openDemoPage(browser, cluster, "demo:book");

      // A plain WebSocket from the same page: what Chromium agreed, and the reply to a
      // subscribe frame it sent compressed (the node inflated it).
      const seen = await page.evaluate(async (url) => {
        const ws = new WebSocket(url);
        const frames = [];
        ws.onmessage = (e) => frames.push(JSON.parse(e.data));
        await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
        const channels = Array.from({ length: 40 }, (_, i) => `demo:padding-${i}`);
        ws.send(JSON.stringify({ type: "subscribe", id: 7, channels }));
        const deadline = Date.now() + 10000;
        while (!frames.some((f) => f.id === 7) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        const extensions = ws.extensions;
        ws.close();
        return { extensions, reply: frames.find((f) => f.id === 7) || null };
      }, cluster.wsUrl);
      assert.equal(seen.extensions,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
      assert.equal(seen.reply?.type, "reply", JSON.stringify(seen.reply));

      for (let i = 1; i <= 5; i++) {
        await cluster.ctl("publish", "demo:book", JSON.stringify(book(i)));
      }
      await waitFor("5 books on the page", async () =>
        (await page.evaluate(() => window.heraldDemo.received)).length >= 5);
      const received = await page.evaluate(() => window.heraldDemo.received);
      assert.deepEqual(received.map((m) => m.data), [1, 2, 3, 4, 5].map(book));
      assert.deepEqual(received.map((m) => m.offset), [1, 2, 3, 4, 5]);

      // The plain WebSocket has closed; the demo page's connection remains.
      await waitFor("one compressed connection", async () =>
        (await (await fetch(`${cluster.httpBase}/stats`)).json()).compressed_connections === 1);
      await page.close();
    });
});
