#!/usr/bin/env node
// chromium.js - the chat page (examples/chat.html served by examples/chat.php) in headless
// Chromium, driven by playwright-core (version pinned in package.json).
//
// Two browser contexts (two users with their own localStorage) open http://127.0.0.1:PORT/;
// a message typed in one must appear in both, HTML in messages must stay text, and the page
// must reconnect after the server restarts. Saves a screenshot of page B to /tmp/chat.png on success.
// Then the same page against `examples/chat.php --workers 4`: pages are opened until two of them
// are served by different worker processes (which process holds each page's WebSocket is read
// from `ss -tnpi`), messages typed in either reach both, a reload (SIGUSR1) keeps every page
// connected and chatting on new worker processes, and SIGTERM stops everything with exit 0.
// Env: WS_PHP as for tests/conformance/conformance.py; CHROMIUM (default /usr/bin/chromium).
// Prints `ok   <case>` / `FAIL <case>: <why>` per case, then `N passed, N failed`; exit 1 on failure.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const { startServer, runCase, report, guard, finish, results, sleep } = require('./node_client.js');

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

// The server-side WebSocket connections on `port`: peer (browser) port -> pid of the process that
// holds the socket. Only established sockets that received bytes count (an upgrade request was
// read): the speculative preconnects of Chromium stay idle, plain HTTP requests are closed.
function wsOwners(port) {
	const out = execFileSync('ss', ['-tnpiH', 'state', 'established', `( sport = :${port} )`],
		{ encoding: 'utf8' });
	const owners = new Map();
	let current = null;
	for (const line of out.split('\n')) {
		const head = /^\S+\s+\S+\s+\S+:(\d+)\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/.exec(line);
		if (head) {
			current = { peer: Number(head[2]), pid: Number(head[3]) };
			continue;
		}
		if (/^\S/.test(line)) current = null; // a socket without a process
		const got = /bytes_received:(\d+)/.exec(line);
		if (current && got && Number(got[1]) > 0) owners.set(current.peer, current.pid);
	}
	return owners;
}

// Live child pids of `pid`.
function childrenOf(pid) {
	const out = new Set();
	let tasks = [];
	try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch (e) { return out; }
	for (const t of tasks) {
		try {
			for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/)) {
				if (c) out.add(Number(c));
			}
		} catch (e) { /* the task ended */ }
	}
	return out;
}

async function workerCases(browser) {
	const server = await startServer('examples/chat.php', 0, 15000, ['--workers', '4']);
	const url = `http://127.0.0.1:${server.port}/`;
	const master = server.child.pid;
	const opened = []; // [who, page, pid of the worker that holds its WebSocket]
	const contexts = [];
	const errors = [];
	try {
		await runCase('workers: --workers 4, pages are opened until two are on different workers', async () => {
			// The readiness line comes from worker 0; the others may still be starting.
			let workers = childrenOf(master);
			for (let t = 0; t < 100 && workers.size < 4; t++) {
				await sleep(20);
				workers = childrenOf(master);
			}
			if (workers.size !== 4) throw new Error(`the master has ${workers.size} children, expected 4`);
			let known = wsOwners(server.port);
			for (let i = 0; opened.length < 4 || new Set(opened.map((o) => o[2])).size < 2; i++) {
				if (i === 12) {
					throw new Error(`12 pages, all on the worker with pid ${opened[0][2]}`);
				}
				const who = `W${i}`;
				const context = await browser.newContext({ viewport: { width: 760, height: 560 } });
				contexts.push(context);
				const page = await context.newPage();
				page.on('pageerror', (e) => errors.push(`page ${who}: ${e.message}`));
				await page.goto(url, { timeout: WAIT_MS });
				await waitConnected(page, who);
				let fresh = [];
				for (let t = 0; t < 40 && !fresh.length; t++) {
					const now = wsOwners(server.port);
					fresh = [...now].filter(([peer]) => !known.has(peer));
					if (fresh.length) known = now;
					else await sleep(50);
				}
				if (fresh.length !== 1) {
					throw new Error(`page ${who}: ${fresh.length} new WebSocket connections on the server, expected 1`);
				}
				const pid = fresh[0][1];
				if (!workers.has(pid)) throw new Error(`page ${who} is served by pid ${pid}, not by a worker (${[...workers]})`);
				opened.push([who, page, pid]);
			}
		}, 60000);
		const pages = opened.map(([who, page]) => [who, page]);
		const x = opened[0];
		const y = opened.find((o) => o[2] !== x[2]);
		await runCase('workers: messages typed in pages on two different workers reach every page', async () => {
			if (!y) throw new Error('no two pages on different workers');
			for (const [who, page, pid] of [x, y]) {
				const text = `hello from ${who} on worker pid ${pid}`;
				await page.fill('#msg', text);
				await page.press('#msg', 'Enter');
				await expectShown(pages, text);
			}
		}, 30000);
		await runCase('workers: a reload (SIGUSR1) keeps every page connected, on new worker processes', async () => {
			if (!pages.length) throw new Error('no pages were opened');
			const before = childrenOf(master);
			process.kill(master, 'SIGUSR1');
			let now = before;
			for (let t = 0; t < 200; t++) {
				now = childrenOf(master);
				if (now.size === 4 && [...now].every((p) => !before.has(p))) break;
				await sleep(50);
			}
			if (now.size !== 4 || [...now].some((p) => before.has(p))) {
				throw new Error(`workers after the reload: ${[...now]}, before: ${[...before]}`);
			}
			for (const [who, page] of pages) {
				const lost = await page.locator('#log li.note', { hasText: 'Connection lost' }).count();
				if (lost) throw new Error(`page ${who} lost its connection during the reload`);
				await waitConnected(page, who, 1000);
			}
			const owners = new Set(wsOwners(server.port).values());
			if (![...owners].every((p) => now.has(p))) {
				throw new Error(`connections held by ${[...owners]}, the new workers are ${[...now]}`);
			}
			const [who, page] = pages[pages.length - 1];
			await page.fill('#msg', `after the reload, from ${who}`);
			await page.press('#msg', 'Enter');
			await expectShown(pages, `after the reload, from ${who}`);
		}, 30000);
		if (errors.length) report('workers: no script errors', errors.join('; '));
		else report('workers: no script errors');
	} finally {
		for (const context of contexts) await context.close().catch(() => {});
	}
	await runCase('workers: SIGTERM stops the master and its workers with exit status 0', async () => {
		const workers = childrenOf(master);
		const rc = await server.stop('SIGTERM', 8000);
		if (rc !== 0) throw new Error(`exit status ${rc}; stderr: ${server.stderr().slice(-300)}`);
		const left = [...workers].filter((p) => fs.existsSync(`/proc/${p}`) &&
			!/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8')));
		if (left.length) throw new Error(`workers still running: ${left}`);
	}, 15000);
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
		await workerCases(browser);
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
