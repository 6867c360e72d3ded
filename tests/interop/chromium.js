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
// Then permessage-deflate, which Chromium offers by default: against tests/compression/server.php
// (the default compression config, and one with context takeover and windows 10 and 9) and
// `examples/echo.php --compression`, a page's WebSocket reports the negotiated extension in
// ws.extensions (an answer the contract allows) and 1 MiB of text and of binary and 100 more
// messages echo intact.
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

const PMD = 'permessage-deflate';
const BASE = `${PMD}; server_no_context_takeover; client_no_context_takeover`;

// Runs in the page: opens url, sends 1 MiB of text and of binary (compressible, with repeats)
// and 100 smaller messages one at a time, checks each echo. Returns {extensions, error}.
async function pageDeflateEcho(url) {
	const ws = new WebSocket(url);
	ws.binaryType = 'arraybuffer';
	const queue = [];
	let waiter = null;
	let closed = null;
	ws.onmessage = (e) => {
		if (waiter) { const w = waiter; waiter = null; w(e.data); } else queue.push(e.data);
	};
	ws.onclose = (e) => {
		closed = e.code;
		if (waiter) { const w = waiter; waiter = null; w(null); }
	};
	try {
		await new Promise((resolve, reject) => {
			ws.onopen = resolve;
			ws.onerror = () => reject(new Error('WebSocket error before open'));
		});
	} catch (e) {
		return { extensions: null, error: e.message };
	}
	const next = () => (queue.length ? Promise.resolve(queue.shift())
		: closed !== null ? Promise.resolve(null) : new Promise((resolve) => { waiter = resolve; }));
	let seed = 7692;
	const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
	const words = ['permessage', 'deflate', 'window', 'context', 'h\u00e9llo', '\u20ac', '\u{1F600}', 'chromium'];
	const parts = [];
	for (let len = 0; len < 1048576;) {
		const w = words[rand(words.length)] + rand(1000) + ' ';
		parts.push(w);
		len += w.length;
	}
	const text = parts.join('').slice(0, 1048576);
	const bin = new Uint8Array(1048576);
	for (let i = 0; i < bin.length;) {
		const n = Math.min(8 + rand(i > 4096 ? 2000 : 300), bin.length - i);
		if (i > 4096 && rand(2)) {
			const from = i - n - rand(Math.min(i - n, 32768));
			bin.copyWithin(i, from, from + n);
		} else {
			for (let j = 0; j < n; j++) bin[i + j] = rand(256);
		}
		i += n;
	}
	const msgs = [text, bin, '', new Uint8Array(0)];
	for (let i = 0; i < 100; i++) {
		const n = [1, 50, 64, 200, 1000, 5000][i % 6];
		msgs.push(i % 2 ? text.slice(i * 97, i * 97 + n) : bin.slice(i * 89, i * 89 + n));
	}
	for (let i = 0; i < msgs.length; i++) {
		const m = msgs[i];
		ws.send(m);
		const back = await next();
		if (back === null) return { extensions: ws.extensions, error: `closed with ${closed} at message ${i}` };
		let same;
		if (typeof m === 'string') {
			same = back === m;
		} else {
			const b = back instanceof ArrayBuffer ? new Uint8Array(back) : null;
			same = b !== null && b.length === m.length && b.every((x, j) => x === m[j]);
		}
		if (!same) {
			const kind = typeof m === 'string' ? `text of ${m.length} chars` : `binary of ${m.length} bytes`;
			return { extensions: ws.extensions, error: `message ${i} (${kind}) did not come back intact` };
		}
	}
	const code = await new Promise((resolve) => { ws.onclose = (e) => resolve(e.code); ws.close(1000); });
	return { extensions: ws.extensions, error: code === 1000 ? null : `close code ${code}` };
}

async function compressionCases(browser) {
	const context = await browser.newContext();
	const page = await context.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	const servers = [
		['tests/compression/server.php', [JSON.stringify({ compression: true })], 'default config',
			[BASE, `${BASE}; client_max_window_bits=15`]],
		['tests/compression/server.php', [JSON.stringify({ compression: {
			server_context_takeover: true, client_context_takeover: true,
			server_max_window_bits: 10, client_max_window_bits: 9 } })],
		'context takeover, windows 10 and 9', [`${PMD}; server_max_window_bits=10; client_max_window_bits=9`]],
		['examples/echo.php', ['--compression'], 'examples/echo.php --compression',
			[BASE, `${BASE}; client_max_window_bits=15`]],
	];
	try {
		for (const [script, args, what, allowed] of servers) {
			let server;
			try {
				server = await startServer(script, 0, 15000, args);
			} catch (e) {
				report(`deflate: ${what}: the server starts`, e.message);
				continue;
			}
			await runCase(`deflate: ${what}: ws.extensions is permessage-deflate, 1 MiB text and binary and 102 more echo intact`, async () => {
				const r = await page.evaluate(pageDeflateEcho, `ws://127.0.0.1:${server.port}/`);
				if (!r.extensions || !r.extensions.startsWith(PMD) || !allowed.includes(r.extensions)) {
					throw new Error(`ws.extensions is ${JSON.stringify(r.extensions)}, expected one of ${JSON.stringify(allowed)}`);
				}
				if (r.error) throw new Error(r.error);
			}, 60000);
			await server.stop();
		}
		if (errors.length) report('deflate: no script errors', errors.join('; '));
		else report('deflate: no script errors');
	} finally {
		await context.close().catch(() => {});
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
		await workerCases(browser);
		await compressionCases(browser);
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
