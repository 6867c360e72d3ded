#!/usr/bin/env node
// wss.js - the Node `ws` and headless Chromium clients of the TLS suite. tests/tls/tls.py starts
// the servers and runs this once per case:
//
//   node wss.js echo URL CA_FILE      Node ws (trusting CA_FILE): text and binary messages of
//                                     0 B to 8 MiB, each echoed intact
//   node wss.js chat URL CA_FILE N    N Node ws clients: each one's message reaches all N
//   node wss.js page-echo URL         a Chromium page opens URL: text and binary echo intact;
//                                     prints ws.extensions
//   node wss.js page-chat URL         two Chromium pages load the chat page (examples/chat.html)
//                                     from the https:// URL and see each other's messages
//
// Chromium runs headless with --ignore-certificate-errors (the certificate is the suite's own).
// Prints one line, `ok [DETAIL]` or `FAIL WHY`, and exits 0 or 1. Ends itself after
// WSS_TIMEOUT_MS (default 60000) and on SIGTERM, closing the browser first.
// ws and playwright-core come from tests/interop/node_modules (found from this tree or, for the
// scratch copy of tests/sanitize/run.sh, a tree above it).
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

function interopModule(name) {
	for (let dir = path.resolve(__dirname, '..', '..'); ; dir = path.dirname(dir)) {
		const candidate = path.join(dir, 'tests', 'interop', 'node_modules', name);
		if (fs.existsSync(candidate)) return require(candidate);
		if (path.dirname(dir) === dir) {
			throw new Error(`no tests/interop/node_modules/${name} (run npm ci in tests/interop)`);
		}
	}
}

let browser = null;
let done = false;

async function end(line) {
	if (done) return;
	done = true;
	if (browser) await browser.close().catch(() => {});
	console.log(line.replace(/\s+/g, ' '));
	process.exit(line.startsWith('ok') ? 0 : 1);
}

function describe(data) {
	const buf = Buffer.from(data);
	return `${typeof data === 'string' ? 'text' : 'binary'} of ${buf.length} bytes`;
}

// Resolves with the next message of a ws client ({data, isBinary}), or rejects when it closes.
function nextMessage(ws) {
	return new Promise((resolve, reject) => {
		const onMessage = (data, isBinary) => { ws.off('close', onClose); resolve({ data, isBinary }); };
		const onClose = (code) => { ws.off('message', onMessage); reject(new Error(`closed with ${code}`)); };
		ws.once('message', onMessage);
		ws.once('close', onClose);
	});
}

function openWs(url, caFile) {
	const WebSocket = interopModule('ws');
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { ca: fs.readFileSync(caFile), maxPayload: 64 * 1024 * 1024 });
		ws.once('open', () => resolve(ws));
		ws.once('error', reject);
		ws.once('unexpected-response', (req, res) => reject(new Error(`handshake answered HTTP ${res.statusCode}`)));
	});
}

async function nodeEcho(url, caFile) {
	const ws = await openWs(url, caFile);
	const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20, 8 << 20];
	for (const n of sizes) {
		for (const data of ['0123456789abcdef'.repeat(n / 16 + 1).slice(0, n), crypto.randomBytes(n)]) {
			const binary = typeof data !== 'string';
			ws.send(data, { binary });
			const got = await nextMessage(ws);
			if (got.isBinary !== binary || !Buffer.from(got.data).equals(Buffer.from(data))) {
				throw new Error(`sent ${describe(data)}, got ${got.isBinary ? 'binary' : 'text'} of ${got.data.length} bytes`);
			}
		}
	}
	ws.close(1000);
	return `${sizes.length * 2} messages, TLS ${ws._socket.getProtocol()}`;
}

async function nodeChat(url, caFile, n) {
	const clients = await Promise.all(Array.from({ length: n }, () => openWs(url, caFile)));
	const sent = clients.map((_, i) => `node ${i}: ${crypto.randomBytes(6).toString('hex')} \u00e9\u20ac`);
	const received = clients.map((ws) => {
		const got = [];
		return new Promise((resolve, reject) => {
			ws.on('message', (data) => {
				got.push(data.toString());
				if (got.length === n) resolve(got);
			});
			ws.once('close', (code) => reject(new Error(`a client was closed with ${code} after ${got.length} messages`)));
		});
	});
	clients.forEach((ws, i) => ws.send(sent[i]));
	const all = await Promise.all(received);
	const want = [...sent].sort().join('\n');
	all.forEach((got, i) => {
		if ([...got].sort().join('\n') !== want) {
			throw new Error(`client ${i} got ${JSON.stringify(got)}, expected ${JSON.stringify(sent)}`);
		}
	});
	clients.forEach((ws) => ws.close(1000));
	return `${n} clients`;
}

async function launch() {
	const { chromium } = interopModule('playwright-core');
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--ignore-certificate-errors', '--disable-quic',
			'--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		timeout: 30000,
	});
	return browser;
}

// Runs in the page: opens url, echoes text and binary messages one at a time.
async function pageEcho(url) {
	const ws = new WebSocket(url);
	ws.binaryType = 'arraybuffer';
	const inbox = [];
	let wake = null;
	let closed = null;
	ws.onmessage = (e) => { inbox.push(e.data); if (wake) wake(); };
	ws.onclose = (e) => { closed = e.code; if (wake) wake(); };
	const opened = await new Promise((resolve) => {
		ws.onopen = () => resolve(true);
		ws.onerror = () => resolve(false);
	});
	if (!opened) return { error: 'the WebSocket did not open' };
	const next = async () => {
		while (!inbox.length && closed === null) await new Promise((resolve) => { wake = resolve; });
		return inbox.length ? inbox.shift() : null;
	};
	const text = 'h\u00e9llo w\u00f6rld \u20ac \u{1F600} '.repeat(4000);
	const bytes = new Uint8Array(300000).map((_, i) => (i * 7919) % 251);
	for (const m of [text, bytes, '', new Uint8Array(0), 'x', text.slice(0, 125)]) {
		ws.send(m);
		const back = await next();
		if (back === null) return { error: `closed with ${closed}`, extensions: ws.extensions };
		const same = typeof m === 'string' ? back === m : back instanceof ArrayBuffer &&
			back.byteLength === m.length && new Uint8Array(back).every((x, i) => x === m[i]);
		if (!same) {
			const kind = typeof m === 'string' ? 'text' : 'binary';
			return { error: `${kind} of ${m.length} did not come back intact`, extensions: ws.extensions };
		}
	}
	ws.close(1000);
	return { error: null, extensions: ws.extensions };
}

async function chromiumEcho(url) {
	const page = await (await (await launch()).newContext()).newPage();
	const r = await page.evaluate(pageEcho, url);
	if (r.error) throw new Error(`${r.error} (extensions ${JSON.stringify(r.extensions)})`);
	return r.extensions;
}

async function chromiumChat(url) {
	await launch();
	const pages = [];
	for (const who of ['alice', 'bob']) {
		const page = await (await browser.newContext()).newPage();
		const resp = await page.goto(url, { timeout: 15000 });
		if (!resp || resp.status() !== 200) throw new Error(`${who}: GET ${url} answered ${resp && resp.status()}`);
		await page.locator('#status', { hasText: /^connected$/ }).waitFor({ timeout: 15000 }).catch(async () => {
			throw new Error(`${who}: #status is ${JSON.stringify(await page.locator('#status').textContent())}`);
		});
		await page.fill('#name', who);
		pages.push([who, page]);
	}
	for (const [who, page] of pages) {
		const text = `hello over wss from ${who} ${crypto.randomBytes(4).toString('hex')}`;
		await page.fill('#msg', text);
		await page.click('#send');
		for (const [other, p] of pages) {
			await p.locator('#log li', { hasText: text }).first().waitFor({ timeout: 10000 })
				.catch(() => { throw new Error(`page ${other} does not show ${JSON.stringify(text)} sent by ${who}`); });
		}
	}
	return 'two pages';
}

async function main() {
	const [mode, url, arg, n] = process.argv.slice(2);
	setTimeout(() => end(`FAIL timed out after ${Number(process.env.WSS_TIMEOUT_MS || 60000) / 1000} s`),
		Number(process.env.WSS_TIMEOUT_MS || 60000));
	process.on('SIGTERM', () => end('FAIL stopped by SIGTERM'));
	const modes = {
		echo: () => nodeEcho(url, arg),
		chat: () => nodeChat(url, arg, Number(n || 3)),
		'page-echo': () => chromiumEcho(url),
		'page-chat': () => chromiumChat(url),
	};
	if (!modes[mode] || !url) return end(`FAIL usage: wss.js ${Object.keys(modes).join('|')} URL [CA_FILE [N]]`);
	const detail = await modes[mode]();
	return end(`ok ${detail}`);
}

main().catch((e) => end(`FAIL ${e && e.message || e}`));
