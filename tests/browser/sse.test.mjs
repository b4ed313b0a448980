// The Server-Sent Events fallback end to end in Debian's headless Chromium against the real
// herald-control and herald-node: Chromium's own EventSource on GET /sse resuming across a
// node restart by itself (Last-Event-ID), and herald.js falling back to SSE on a page whose
// WebSockets cannot open, publishing over POST and recovering a restart exactly once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { launchChromium } from "./support/browser.mjs";
import { Cluster, waitFor } from "./support/cluster.mjs";
import { openDemoPage } from "./support/demo_page.mjs";

const ARTIFACTS = process.env.HERALD_ARTIFACTS || path.resolve("artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

let browser;
let cluster;

before(async () => {
  cluster = await Cluster.start({ auth: { allow_anonymous: true } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

// Per channel, offsets run without a hole or a repeat.
function assertContiguous(offsets, first, last) {
  assert.deepEqual(offsets, Array.from({ length: last - first + 1 }, (_, i) => first + i));
}

describe("Server-Sent Events", () => {
  test("Chromium's EventSource streams /sse and resumes a node restart by itself", async () => {
    await cluster.ctl("namespaces", "create", "es", "--history-size", "100", "--history-ttl", "600");
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.error("page error:", e));
    await page.goto(`${cluster.httpBase}/demo?autoconnect=0`);
    await page.evaluate(() => {
      window.sse = { frames: [], ids: [], opens: 0 };
      const es = new EventSource("/sse?subscribe=es:feed");
      es.onopen = () => window.sse.opens++;
      es.onmessage = (ev) => {
        window.sse.frames.push(JSON.parse(ev.data));
        window.sse.ids.push(ev.lastEventId);
      };
    });
    const frames = () => page.evaluate(() => window.sse.frames);
    const offsets = async () => (await frames()).filter((f) => f.type === "message").map((f) => f.offset);
    await waitFor("connected", async () => (await frames()).some((f) => f.type === "connected"));
    for (let i = 1; i <= 3; i++) await cluster.ctl("publish", "es:feed", `{"n":${i}}`);
    await waitFor("3 messages", async () => (await offsets()).length === 3);
    const ids = await page.evaluate(() => window.sse.ids);
    assert.match(ids[ids.length - 1], /^,3:[0-9a-zA-Z]+$/, "the id carries es:feed's position");

    await cluster.stopNode();
    await waitFor("the close event", async () => (await frames()).some((f) => f.type === "close" && f.code === 1012));
    // Published while the node is down: only history can bring these back.
    for (let i = 4; i <= 7; i++) await cluster.ctl("publish", "es:feed", `{"n":${i}}`);
    await cluster.startNode();
    await waitFor("the 4 missed ones, recovered", async () => (await offsets()).length === 7, { timeoutMs: 30000 });
    const recovery = (await frames()).find((f) => f.type === "recovery");
    assert.equal(recovery?.recovered, true, JSON.stringify(recovery));
    assert.equal(recovery.missed, 4);
    await cluster.ctl("publish", "es:feed", '{"n":8}');
    await waitFor("the live one", async () => (await offsets()).length === 8);
    assertContiguous(await offsets(), 1, 8);
    assert.ok((await page.evaluate(() => window.sse.opens)) >= 2, "EventSource reconnected");
    await page.close();
  });

  test("herald.js falls back to SSE where WebSockets cannot open, and loses nothing", async () => {
    await cluster.ctl("namespaces", "create", "fb", "--client-publish", "--history-size", "100",
      "--history-ttl", "600");
    // A proxy that breaks WebSockets: every one fails before it opens.
    const breakWebSocket = () => {
      window.WebSocket = class {
        constructor() {
          setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: "" }), 10);
        }
        close() {}
      };
    };
    const page = await openDemoPage(browser, cluster, "fb:a,fb:b", {}, { initScript: breakWebSocket });
    assert.equal(await page.evaluate(() => window.heraldDemo.transport), "sse");
    assert.match(await page.locator("#session").innerText(), /sse$/);
    const received = () => page.evaluate(() => window.heraldDemo.received);
    const publishAll = async (from, to) => {
      for (let i = from; i <= to; i++) await cluster.ctl("publish", i % 2 ? "fb:a" : "fb:b", `{"n":${i}}`);
    };
    await publishAll(1, 6);
    await waitFor("6 live messages", async () => (await received()).length === 6);

    // Publish from the page: a POST, answered with its offset.
    await page.fill("#pub-channel", "fb:a");
    await page.fill("#pub-text", "sent over POST");
    await page.click("#send");
    await waitFor("the page's own message", async () =>
      (await received()).some((m) => m.data && m.data.text === "sent over POST"));
    await waitFor("the reply in the log", async () =>
      /published to fb:a at offset 4/.test(await page.locator("#log").innerText()));

    await cluster.stopNode();
    await page.waitForSelector('#status:not([data-state="connected"])', { timeout: 15000 });
    await publishAll(7, 14); // while the page has no node
    await cluster.startNode();
    await waitFor("15 messages after the restart", async () => (await received()).length === 15, {
      timeoutMs: 30000,
    });
    await publishAll(15, 16);
    await waitFor("17 messages", async () => (await received()).length === 17);
    const messages = await received();
    assert.equal(messages.length, 17, "no duplicates");
    for (const channel of ["fb:a", "fb:b"]) {
      const offsets = messages.filter((m) => m.channel === channel).map((m) => m.offset);
      assertContiguous(offsets, 1, offsets.length);
    }
    const state = await page.evaluate(() => ({
      gaps: window.heraldDemo.gaps.length,
      missed: window.heraldDemo.recovered.reduce((n, r) => n + r.missed, 0),
      transport: window.heraldDemo.transport,
    }));
    assert.equal(state.gaps, 0);
    assert.equal(state.missed, 8, "the 8 published during the outage came from history");
    assert.equal(state.transport, "sse");
    await page.screenshot({ path: path.join(ARTIFACTS, "sse-fallback.png"), fullPage: true });
    await page.close();
  });
});
