#!/usr/bin/env node
// chromium.js - the chat page (examples/chat.html served by examples/chat.php) in headless
// Chromium, driven by playwright-core (version pinned in package.json).
//
// Two browser contexts (two users with their own localStorage) open http://127.0.0.1:PORT/;
// a message typed in one must appear in both, HTML in messages must stay text, and the page
// must reconnect after the server restarts. Saves a screenshot of page B to /tmp/chat.png on success.
// Env: WS_PHP as for tests/conformance/conformance.py; CHROMIUM (default /usr/bin/chromium).
// Prints `ok   <case>` / `FAIL <case>: <why>` per case, then `N passed, N failed`; exit 1 on failure.
'use strict';

const { startServer, runCase, report, guard, finish, results } = require('./node_client.js');

const SCREENSHOT = '/tmp/chat.png';
const WAIT_MS = 5000;

async function waitConnected(page, who, timeout = WAIT_MS) {
	try {
		await page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout });
	} catch (e) {
		const text = await page.locator('#status').textContent().catch(() => '?');
		throw new Error(`page ${who}: #status is ${JSON.stringify(text)}, not "connected", after ${timeout / 1000} s`);
	}
}

async function expectShown(pages, text) {
	for (const [who, page] of pages) {
		try {
			await page.locator('#log li', { hasText: text }).first().waitFor({ timeout: WAIT_MS });
		} catch (e) {
			const items = await page.locator('#log li').allTextContents().catch(() => []);
			throw new Error(`page ${who} does not show ${JSON.stringify(text)}; #log has ${JSON.stringify(items.slice(-5))}`);
		}
	}
}

async function main() {
	guard();
	const { chromium } = require('playwright-core');
	let server = await startServer('examples/chat.php');
	const url = `http://127.0.0.1:${server.port}/`;
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		timeout: 30000,
	});
	try {
		const pages = [];
		const errors = [];
		for (const who of ['A', 'B']) {
			const context = await browser.newContext({ viewport: { width: 760, height: 560 } });
			const page = await context.newPage();
			page.on('pageerror', (e) => errors.push(`page ${who}: ${e.message}`));
			pages.push([who, page]);
		}
		const [[, a], [, b]] = pages;

		await runCase('page: GET / serves the chat page and it connects', async () => {
			for (const [who, page] of pages) {
				const resp = await page.goto(url, { timeout: WAIT_MS });
				if (!resp || resp.status() !== 200) throw new Error(`page ${who}: GET / answered ${resp && resp.status()}`);
				await waitConnected(page, who);
			}
		});
		await runCase('page: a message sent in A with the button shows in A and B', async () => {
			await a.fill('#name', 'alice');
			await a.fill('#msg', 'hello from A');
			await a.click('#send');
			await expectShown(pages, 'hello from A');
			const who = await a.locator('#log li', { hasText: 'hello from A' }).first().locator('.who').textContent();
			if (who !== 'alice') throw new Error(`sender shown as ${JSON.stringify(who)}, not "alice"`);
		});
		await runCase('page: a message sent in B with Enter shows in A and B', async () => {
			await b.fill('#name', 'bob');
			await b.fill('#msg', 'hi from B \u00e9\u20ac\u{1F600}');
			await b.press('#msg', 'Enter');
			await expectShown(pages, 'hi from B \u00e9\u20ac\u{1F600}');
			const left = await b.inputValue('#msg');
			if (left !== '') throw new Error(`#msg not cleared after sending: ${JSON.stringify(left)}`);
		});
		await runCase('page: HTML in a message is shown as text', async () => {
			const evil = '<img src=x onerror="window.__injected=1"><b>bold</b>';
			await a.fill('#msg', evil);
			await a.click('#send');
			await expectShown(pages, evil);
			for (const [who, page] of pages) {
				const bad = await page.evaluate(() => document.querySelectorAll('#log img, #log b').length + (window.__injected ? 100 : 0));
				if (bad) throw new Error(`page ${who}: message HTML was interpreted (${bad})`);
			}
		});
		await runCase('page: name is kept in localStorage across reloads', async () => {
			await a.reload({ timeout: WAIT_MS });
			const name = await a.inputValue('#name');
			if (name !== 'alice') throw new Error(`#name after reload is ${JSON.stringify(name)}`);
			await waitConnected(a, 'A');
		});
		await runCase('page: reconnects after the server restarts', async () => {
			const port = server.port;
			await server.stop();
			for (const [who, page] of pages) {
				await page.locator('#status', { hasText: /^(?!connected$)/ }).waitFor({ timeout: WAIT_MS })
					.catch(() => { throw new Error(`page ${who} still says connected after the server stopped`); });
			}
			server = await startServer('examples/chat.php', port);
			for (const [who, page] of pages) await waitConnected(page, who, 15000);
			await a.fill('#msg', 'back again');
			await a.press('#msg', 'Enter');
			await expectShown(pages, 'back again');
		}, 30000);
		if (errors.length) report('page: no script errors', errors.join('; '));
		else report('page: no script errors');
		if (!results.failed) await b.screenshot({ path: SCREENSHOT });
	} finally {
		await browser.close().catch(() => {});
		await server.stop();
	}
	finish();
}

main().catch((e) => {
	report('run', `aborted: ${e && e.message || e}`);
	finish();
});
