// End-to-end: the /demo page and /herald.js in Debian's headless Chromium against the real
// herald-control and herald-node. Screenshots go to $HERALD_ARTIFACTS (default ./artifacts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { launchChromium } from "./support/browser.mjs";
import { Cluster, waitFor } from "./support/cluster.mjs";
import { openDemoPage } from "./support/demo_page.mjs";

const ARTIFACTS = process.env.HERALD_ARTIFACTS || path.resolve("artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

const JWT_SECRET = "browser-test-hs256-secret-0123456789abcdef";

function hs256Token(claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const head = b64({ alg: "HS256", typ: "JWT", kid: "browser" });
  const body = b64(claims);
  const sig = createHmac("sha256", JWT_SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

let browser;
let cluster;

before(async () => {
  cluster = await Cluster.start({
    auth: {
      allow_anonymous: true,
      keys: [{ kid: "browser", algorithm: "HS256", secret: JWT_SECRET }],
    },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

function openDemo(channels) {
  return openDemoPage(browser, cluster, channels, { viewport: { width: 1280, height: 800 } });
}

const received = (page) => page.evaluate(() => window.heraldDemo.received);

/** Offsets per channel must run without a hole or a repeat. */
function assertContiguous(messages) {
  const byChannel = new Map();
  for (const m of messages) {
    if (!byChannel.has(m.channel)) byChannel.set(m.channel, []);
    byChannel.get(m.channel).push(m.offset);
  }
  for (const [channel, offsets] of byChannel) {
    for (let i = 1; i < offsets.length; i++) {
      assert.equal(offsets[i], offsets[i - 1] + 1, `${channel}: offsets ${offsets.join(",")}`);
    }
  }
  return byChannel;
}

describe("demo page", () => {
  test("loads, connects and shows published messages live", async () => {
    const page = await openDemo("demo:prices,demo:transfers");
    assert.match(await page.locator("#session").innerText(), /node .* client /);
    await cluster.ctl("demo-feed", "--count", "10", "--rate", "50");
    await waitFor("10 messages on the page", async () => (await received(page)).length >= 10);
    const messages = await received(page);
    assert.equal(messages.length, 10);
    const byChannel = assertContiguous(messages);
    assert.deepEqual([...byChannel.keys()].sort(), ["demo:prices", "demo:transfers"]);
    assert.equal(await page.locator("#count").innerText(), "10");
    assert.equal(await page.locator("#messages tr").count(), 10);
    assert.match(await page.locator("#messages tr").first().innerText(), /demo:(prices|transfers)/);
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-live.png"), fullPage: true });
    await page.close();
  });

  test("survives a node restart without losing a message (recovery from history)", async () => {
    const page = await openDemo("demo:prices,demo:transfers");
    await cluster.ctl("demo-feed", "--count", "6", "--rate", "50");
    await waitFor("6 live messages", async () => (await received(page)).length >= 6);

    await cluster.stopNode();
    await page.waitForSelector('#status:not([data-state="connected"])', { timeout: 15000 });
    // Published while the page has no node: only history can bring these back.
    await cluster.ctl("demo-feed", "--count", "8", "--rate", "50");
    await cluster.startNode();

    await waitFor("14 messages after the restart", async () => (await received(page)).length >= 14, {
      timeoutMs: 30000,
    });
    await cluster.ctl("demo-feed", "--count", "2", "--rate", "50");
    await waitFor("16 messages", async () => (await received(page)).length >= 16);
    const messages = await received(page);
    assert.equal(messages.length, 16, "no duplicates");
    assertContiguous(messages);
    const state = await page.evaluate(() => ({
      gaps: window.heraldDemo.gaps.length,
      missed: window.heraldDemo.recovered.reduce((n, r) => n + r.missed, 0),
      reconnects: window.heraldDemo.client.reconnects,
    }));
    assert.equal(state.gaps, 0);
    assert.equal(state.missed, 8, "the 8 published during the outage came from history");
    assert.ok(state.reconnects >= 1);
    assert.equal(await page.locator("#recovered").innerText(), "8");
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-after-restart.png"), fullPage: true });
    await page.close();
  });

  test("shows the gap when the history does not reach back", async () => {
    await cluster.ctl("namespaces", "create", "tiny", "--history-size", "3", "--history-ttl", "600");
    const page = await openDemo("tiny:feed");
    for (let i = 1; i <= 2; i++) await cluster.ctl("publish", "tiny:feed", `{"n":${i}}`);
    await waitFor("2 messages", async () => (await received(page)).length >= 2);

    await cluster.stopNode();
    await page.waitForSelector('#status:not([data-state="connected"])', { timeout: 15000 });
    for (let i = 3; i <= 12; i++) await cluster.ctl("publish", "tiny:feed", `{"n":${i}}`);
    await cluster.startNode();

    await waitFor("the gap on the page", async () => (await page.locator("#gaps").innerText()) === "1", {
      timeoutMs: 30000,
    });
    const gap = await page.evaluate(() => window.heraldDemo.gaps[0]);
    assert.equal(gap.channel, "tiny:feed");
    assert.equal(gap.fromOffset, 3);
    assert.equal(gap.toOffset, 12);
    assert.equal(gap.reason, "not_in_history");
    assert.match(await page.locator("#log").innerText(), /GAP on tiny:feed: offsets 3–12 lost/);
    // Live messages continue after the gap.
    await cluster.ctl("publish", "tiny:feed", '{"n":13}');
    await waitFor("offset 13", async () => (await received(page)).some((m) => m.offset === 13));
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-gap.png"), fullPage: true });
    await page.close();
  });
});

describe("publishing from the demo page", () => {
  test("a message sent from the page arrives with its sender; a refusal is shown", async () => {
    await cluster.ctl("namespaces", "create", "talk", "--client-publish", "--history-size", "10");
    await cluster.ctl("namespaces", "create", "quiet");
    const page = await openDemo("talk:room");
    await page.fill("#pub-channel", "talk:room");
    await page.fill("#pub-text", "hello from chromium");
    await page.click("#send");
    await waitFor("the page's own message", async () =>
      (await received(page)).some((m) => m.data && m.data.text === "hello from chromium"));
    const [mine] = (await received(page)).filter((m) => m.channel === "talk:room");
    assert.equal(mine.offset, 1);
    assert.ok(mine.publisher && typeof mine.publisher.client === "string", "the sender is named");
    await waitFor("the reply in the log", async () =>
      /published to talk:room at offset 1/.test(await page.locator("#log").innerText()));
    assert.match(await page.locator("#messages tr").first().innerText(), /anonymous client/);

    await page.fill("#pub-channel", "quiet:room");
    await page.fill("#pub-text", "not here");
    await page.click("#send");
    await waitFor("the refusal in the log", async () =>
      /publish to quiet:room refused: permission_denied/.test(await page.locator("#log").innerText()));
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-publish.png"), fullPage: true });
    await page.close();
  });
});

describe("herald.js in the browser", () => {
  test("connects with a token, refreshes it before expiry, and answers ping", async () => {
    const page = await browser.newPage();
    await page.goto(`${cluster.httpBase}/demo?autoconnect=0`);
    const now = Math.floor(Date.now() / 1000);
    // exp 40 s ahead with a 38 s margin: the client must fetch and send a new token after ~2 s.
    const tokens = [hs256Token({ sub: "alice", exp: now + 40 }), hs256Token({ sub: "alice", exp: now + 3600 })];
    const result = await page.evaluate(async ({ url, tokens }) => {
      const { HeraldClient } = await import("/herald.js");
      let calls = 0;
      const client = new HeraldClient(url, {
        getToken: () => tokens[Math.min(calls++, tokens.length - 1)],
        tokenRefreshMarginS: 38,
      });
      const events = [];
      client.on("disconnected", (e) => events.push(e));
      const connected = new Promise((resolve) => client.on("connected", resolve));
      client.connect();
      const session = await connected;
      const deadline = Date.now() + 15000;
      while (calls < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // The refresh is answered by a reply; a ping afterwards proves the connection lives on.
      const rtt = await client.ping();
      client.close();
      return { user: session.user, calls, rtt, disconnects: events.filter((e) => e.willReconnect).length };
    }, { url: cluster.wsUrl, tokens });
    assert.equal(result.user, "alice");
    assert.equal(result.calls, 2, "getToken called for the connect and once for the refresh");
    assert.equal(typeof result.rtt, "number");
    assert.equal(result.disconnects, 0);
    await page.close();
  });

  test("reports a refused subscription and keeps the others", async () => {
    await cluster.ctl("namespaces", "create", "members", "--rule", "authenticated");
    const page = await browser.newPage();
    await page.goto(`${cluster.httpBase}/demo?autoconnect=0`);
    const errors = await page.evaluate(async (url) => {
      const { HeraldClient } = await import("/herald.js");
      const client = new HeraldClient(url);
      window.t = { client, errors: [], got: [] };
      client.connect();
      await new Promise((resolve) => client.on("connected", resolve));
      client.subscribe("members:vip", () => {}, { onError: (e) => window.t.errors.push(e) });
      await new Promise((r) => setTimeout(r, 0)); // a separate frame: refusals are per frame
      client.subscribe("demo:prices", (m) => window.t.got.push(m.offset));
      const deadline = Date.now() + 10000;
      while (window.t.errors.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await client.ping(); // the subscribe frames before it are answered by now
      return window.t.errors;
    }, cluster.wsUrl);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "permission_denied");
    assert.equal(errors[0].channel, "members:vip");
    await cluster.ctl("publish", "demo:prices", '{"price":1}');
    await waitFor("the other channel's message", () => page.evaluate(() => window.t.got.length === 1));
    await page.close();
  });
});
