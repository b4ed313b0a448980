// End-to-end: herald-control's /dashboard in Debian's headless Chromium against the real
// binaries. It must refuse a wrong key, sign in with a reader key, show the test's node, and
// show the delivery count rising while the test publishes. Screenshot: $HERALD_ARTIFACTS.
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
  cluster = await Cluster.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function openDashboard() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${cluster.controlHttpBase}/dashboard`);
  return { page, errors };
}

async function signIn(page, key) {
  await page.fill("#key", key);
  await page.click("#sign-in");
}

describe("dashboard", () => {
  test("refuses a wrong key and stays signed out", async () => {
    const { page, errors } = await openDashboard();
    await signIn(page, "hk_this_key_does_not_exist_0000000000");
    await waitFor("the refusal", async () =>
      (await page.locator("#login-error").innerText()).includes("401"));
    assert.equal(await page.locator("#dashboard").isHidden(), true);
    assert.equal(await page.locator("#status").getAttribute("data-state"), "signed-out");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("with a reader key shows the nodes and a rising delivery count", async () => {
    const created = await cluster.ctl("keys", "create", "--role", "reader", "--name", "dashboard");
    const reader = created.trim().split("\n").pop();
    assert.match(reader, /^hk_/);

    // A subscriber for the deliveries: the node's demo page, subscribed to the demo channels.
    const demo = await openDemoPage(browser, cluster, "demo:prices,demo:transfers");

    const { page, errors } = await openDashboard();
    await signIn(page, reader);
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15000 });
    await waitFor("the node in the table", async () =>
      (await page.locator("#nodes").innerText()).includes(`127.0.0.1:${cluster.wsPort}`));
    assert.match(await page.locator("#nodes").innerText(), /healthy/);
    assert.match(await page.locator("#t-nodes").innerText(), /^1 \/ 1$/);

    const delivered = () => page.evaluate(() => window.heraldDashboard.delivered);
    const before = await delivered();
    // Published in the background while the page polls (node counters arrive with heartbeats).
    const feed = cluster.ctl("demo-feed", "--count", "60", "--rate", "20");
    await waitFor("deliveries rising on the page", async () => (await delivered()) >= before + 20, {
      timeoutMs: 30000,
    });
    await feed;
    await waitFor("every delivery counted", async () => (await delivered()) >= before + 60, {
      timeoutMs: 30000,
    });
    const shown = Number((await page.locator("#t-delivered").innerText()).replace(/\D/g, ""));
    assert.ok(shown >= before + 60, `the tile shows ${shown}`);
    // The chart has points with a non-zero rate; the channel and a latency were seen.
    const seen = await page.evaluate(() => ({
      rates: window.heraldDashboard.rates.filter((r) => r.dps > 0).length,
      latency: window.heraldDashboard.latency.filter((r) => r.p99 !== null).length,
    }));
    assert.ok(seen.rates >= 1, "a non-zero deliveries/s point");
    assert.ok(seen.latency >= 1, "a publish-to-write latency point");
    await waitFor("the channel in the top list", async () =>
      (await page.locator("#channels").innerText()).includes("demo:prices"), { timeoutMs: 15000 });
    await page.screenshot({ path: path.join(ARTIFACTS, "dashboard.png"), fullPage: true });
    assert.deepEqual(errors, []);

    // Signing out forgets the key.
    await page.click("#logout");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("herald.key")), null);
    await page.close();
    await demo.close();
  });
});
