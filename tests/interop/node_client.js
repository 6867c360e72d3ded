#!/usr/bin/env node
// node_client.js - interoperability with the Node `ws` client (version pinned in package.json).
//
// Starts examples/echo.php and checks echoes of text and binary messages of several sizes,
// ping/pong and the closing handshake; then starts examples/chat.php and checks that two
// clients see each other's messages, the sender included. Then permessage-deflate: ws with
// `perMessageDeflate: true` and with option variants (windows, context takeover asked or
// refused, threshold 0 so that ws compresses everything) against tests/compression/server.php
// configured to match, and against `examples/echo.php --compression`: the answer is one the
// contract allows, ws enables the extension, 1 MiB text and binary and 100 more messages echo
// intact, and a compressible 1 MiB comes back in far fewer bytes than 1 MiB.
// Env: WS_PHP as for tests/conformance/conformance.py.
// Prints `ok   <case>` / `FAIL <case>: <why>` per case, then `N passed, N failed`; exit 1 on failure.
// Also exports the server and reporting helpers that chromium.js uses.
'use strict';

const { spawn } = require('child_process');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '..', '..');
const CASE_TIMEOUT_MS = 10000;
const OVERALL_TIMEOUT_MS = 120000;
const SIZES = [0, 125, 126, 65535, 65536, 1048576];

// Splits WS_PHP like a shell would for simple cases: blanks separate words, quotes group.
function splitCommand(s) {
	const words = [];
	const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
	let m;
	while ((m = re.exec(s)) !== null) words.push(m[1] ?? m[2] ?? m[3]);
	return words;
}

function phpCommand() {
	if (process.env.WS_PHP) return splitCommand(process.env.WS_PHP);
	return ['php', '-d', 'extension=' + path.join(ROOT, 'modules', 'websocket.so')];
}

const servers = new Set(); // every server started; killed on exit, whatever happens

// Starts `$WS_PHP <script> --host 127.0.0.1 --port <port, default 0> [extraArgs...]` in its own process
// group and resolves with {port, stop()} once it printed `listening on ws://127.0.0.1:PORT/`.
function startServer(script, port = 0, readyMs = 15000, extraArgs = []) {
	const cmd = phpCommand();
	const child = spawn(cmd[0], [...cmd.slice(1), script, '--host', '127.0.0.1', '--port', String(port), ...extraArgs], {
		cwd: ROOT,
		detached: true,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	servers.add(child);
	let stderr = '';
	child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
	const exited = new Promise((resolve) => {
		child.on('exit', (code, sig) => resolve(sig ? -osSignal(sig) : code));
		child.on('error', () => resolve(null)); // could not be started at all
	});
	const stop = async (sig = 'SIGTERM', graceMs = 5000) => {
		if (child.exitCode === null && child.signalCode === null) {
			try { process.kill(-child.pid, sig); } catch (e) { /* already gone */ }
			await Promise.race([exited, sleep(graceMs)]);
		}
		try { process.kill(-child.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
		const rc = await exited;
		servers.delete(child);
		return rc;
	};
	return new Promise((resolve, reject) => {
		let out = '';
		const fail = (why) => {
			clearTimeout(timer);
			stop('SIGKILL').then(() => reject(new Error(
				`server did not become ready (${why}); stdout ${JSON.stringify(out)}; stderr ${JSON.stringify(stderr.slice(-600))}`)));
		};
		const timer = setTimeout(() => fail('timeout'), readyMs);
		const onExit = (code, sig) => fail(`exit ${sig || code}`);
		child.on('error', (e) => fail(e.message));
		child.on('exit', onExit);
		const onData = (d) => {
			out += d;
			const nl = out.indexOf('\n');
			if (nl < 0) return;
			child.stdout.off('data', onData);
			child.stdout.on('data', () => {}); // keep draining so the server never blocks
			child.off('exit', onExit);
			clearTimeout(timer);
			const m = /^listening on ws:\/\/127\.0\.0\.1:(\d+)\/$/.exec(out.slice(0, nl).trim());
			if (!m) return fail('unexpected first line');
			resolve({ port: Number(m[1]), stop, stderr: () => stderr, child });
		};
		child.stdout.setEncoding('utf8');
		child.stdout.on('data', onData);
	});
}

function osSignal(name) {
	return require('os').constants.signals[name] || 0;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function killAllServers() {
	for (const child of servers) {
		try { process.kill(-child.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
	}
}

const results = { passed: 0, failed: 0 };

function report(name, why) {
	if (why === undefined) {
		results.passed++;
		console.log(`ok   ${name}`);
	} else {
		results.failed++;
		console.log(`FAIL ${name}: ${String(why).replace(/\s+/g, ' ')}`);
	}
}

async function runCase(name, fn, timeoutMs = CASE_TIMEOUT_MS) {
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
	});
	try {
		await Promise.race([fn(), timeout]);
		report(name);
	} catch (e) {
		report(name, e && e.message ? e.message : e);
	} finally {
		clearTimeout(timer);
	}
}

// Installs the overall timeout and signal handlers; `finish()` prints the summary and exits.
function guard(overallMs = OVERALL_TIMEOUT_MS) {
	process.on('exit', killAllServers);
	const abort = (why) => {
		report('run', `aborted: ${why}`);
		finish();
	};
	setTimeout(() => abort(`overall timeout of ${overallMs / 1000} s`), overallMs).unref();
	process.on('SIGINT', () => abort('SIGINT'));
	process.on('SIGTERM', () => abort('SIGTERM'));
	process.on('unhandledRejection', (e) => abort(`unhandled rejection: ${e && e.stack || e}`));
}

function finish() {
	console.log(`${results.passed} passed, ${results.failed} failed`);
	killAllServers();
	process.exit(results.failed ? 1 : 0);
}

module.exports = { startServer, runCase, report, guard, finish, sleep, results, ROOT };

// ---- the ws cases ----------------------------------------------------------------------------

function show(data, isBinary) {
	const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
	const head = isBinary ? buf.subarray(0, 20).toString('hex') : JSON.stringify(buf.subarray(0, 40).toString());
	return `${isBinary ? 'binary' : 'text'} (${buf.length} bytes: ${head}${buf.length > 40 ? '...' : ''})`;
}

// Opens a client (`options` go to the ws constructor); messages are queued so none is lost
// between awaits; ws.upgradeHeaders holds the headers of the 101.
function connect(WebSocket, uri, options = undefined) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(uri, options);
		ws.once('upgrade', (res) => { ws.upgradeHeaders = res.headers; });
		ws.queue = [];
		ws.waiters = [];
		ws.on('message', (data, isBinary) => {
			const msg = { data, isBinary };
			if (ws.waiters.length) ws.waiters.shift()(msg);
			else ws.queue.push(msg);
		});
		ws.once('open', () => resolve(ws));
		ws.once('error', reject);
		ws.once('unexpected-response', (req, res) => reject(new Error(`handshake answered HTTP ${res.statusCode}`)));
		ws.once('close', (code, reason) => {
			ws.closed = { code, reason: reason.toString() };
			for (const w of ws.waiters.splice(0)) w(null);
		});
	});
}

function nextMessage(ws) {
	if (ws.queue.length) return Promise.resolve(ws.queue.shift());
	if (ws.closed) return Promise.resolve(null);
	return new Promise((resolve) => ws.waiters.push(resolve));
}

async function expectMessage(ws, who, data, isBinary) {
	const got = await nextMessage(ws);
	if (got === null) throw new Error(`${who}: connection closed (${ws.closed.code}) instead of ${show(data, isBinary)}`);
	const same = got.isBinary === isBinary && Buffer.compare(got.data, Buffer.from(data)) === 0;
	if (!same) throw new Error(`${who}: expected ${show(data, isBinary)}, got ${show(got.data, got.isBinary)}`);
}

async function closeAndWait(ws, code, reason) {
	if (ws.closed) return ws.closed;
	const done = new Promise((resolve) => ws.once('close', (c, r) => resolve({ code: c, reason: r.toString() })));
	ws.close(code, reason);
	return done;
}

// ---- permessage-deflate ----------------------------------------------------------------------

const PMD = 'permessage-deflate';
const BASE = `${PMD}; server_no_context_takeover; client_no_context_takeover`;
const COMPRESSION_SERVER = 'tests/compression/server.php';

// 1 MiB of text and of binary (compressible, repeats near and far), then 100 smaller messages.
function deflateMessages() {
	let seed = 7692;
	const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
	const words = ['permessage', 'deflate', 'window', 'context', 'takeover', 'h\u00e9llo', '\u20ac', '\u{1F600}'];
	const parts = [];
	let len = 0;
	while (len < 1048576) {
		const w = words[rand(words.length)] + rand(1000) + ' ';
		parts.push(w);
		len += Buffer.byteLength(w);
	}
	const text = Buffer.from(parts.join('')).subarray(0, 1048576).toString().replace(/\uFFFD/g, ' ');
	const bin = Buffer.alloc(1048576);
	for (let i = 0; i < bin.length;) {
		if (i > 4096 && rand(2)) {
			// a copy of earlier bytes, from up to 32 KiB back
			const n = Math.min(8 + rand(2000), bin.length - i);
			const back = n + rand(Math.min(i - n, 32768));
			bin.copy(bin, i, i - back, i - back + n);
			i += n;
		} else {
			const n = Math.min(8 + rand(300), bin.length - i);
			crypto.randomFillSync(bin, i, n);
			i += n;
		}
	}
	const out = [[text, false, true], [bin, true], ['', false], [Buffer.alloc(0), true]];
	for (let i = 0; i < 100; i++) {
		const n = [1, 50, 64, 200, 1000, 5000][i % 6];
		out.push(i % 2 ? [text.slice(i * 97, i * 97 + n), false] : [bin.subarray(i * 89, i * 89 + n), true]);
	}
	return out;
}

async function deflateCase(WebSocket, uri, options, allowed, messages) {
	const ws = await connect(WebSocket, uri, options);
	try {
		const got = ws.upgradeHeaders['sec-websocket-extensions'];
		if (!allowed.includes(got)) {
			throw new Error(`the server answered ${JSON.stringify(got)}, expected one of ${JSON.stringify(allowed)}`);
		}
		if (ws.extensions !== PMD) throw new Error(`ws.extensions is ${JSON.stringify(ws.extensions)}`);
		for (const [data, binary, big] of messages) {
			const before = ws._socket.bytesRead;
			ws.send(data, { binary });
			await expectMessage(ws, 'echo', data, binary);
			const wire = ws._socket.bytesRead - before;
			if (big && wire > Buffer.byteLength(data) / 2) {
				throw new Error(`the echo of ${Buffer.byteLength(data)} bytes of text took ${wire} bytes on the wire: not compressed`);
			}
		}
		const { code } = await closeAndWait(ws, 1000);
		if (code !== 1000) throw new Error(`close code ${code}`);
	} finally {
		ws.terminate();
	}
}

async function compressionCases(WebSocket) {
	const messages = deflateMessages();
	const takeover = { server_context_takeover: true, client_context_takeover: true };
	const variants = [
		[true, 'perMessageDeflate: true', true,
			[BASE, `${BASE}; client_max_window_bits=15`]],
		[true, 'windows 10 and 9 asked, threshold 0', { serverMaxWindowBits: 10, clientMaxWindowBits: 9, threshold: 0 },
			[`${BASE}; server_max_window_bits=10`, `${BASE}; server_max_window_bits=10; client_max_window_bits=9`]],
		[takeover, '{ serverNoContextTakeover: false, clientNoContextTakeover: false }, server with context takeover',
			{ serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 },
			[PMD, `${PMD}; client_max_window_bits=15`]],
		[takeover, '{ serverNoContextTakeover: true, clientNoContextTakeover: true }, server with context takeover',
			{ serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
			[`${PMD}; server_no_context_takeover`, `${PMD}; server_no_context_takeover; client_no_context_takeover`,
				`${PMD}; server_no_context_takeover; client_max_window_bits=15`,
				`${PMD}; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15`]],
		[{ server_max_window_bits: 11, client_max_window_bits: 10, level: 9 }, 'server windows 11 and 10 by config',
			{ threshold: 0 }, [`${BASE}; server_max_window_bits=11; client_max_window_bits=10`]],
	];
	for (const [config, what, options, allowed] of variants) {
		let server;
		try {
			server = await startServer(COMPRESSION_SERVER, 0, 15000, [JSON.stringify({ compression: config })]);
		} catch (e) {
			report(`deflate: ${what}: the server starts`, e.message);
			continue;
		}
		const uri = `ws://127.0.0.1:${server.port}/`;
		await runCase(`deflate: ${what}: negotiated, 1 MiB text and binary and 102 more echo intact`,
			() => deflateCase(WebSocket, uri, { perMessageDeflate: options }, allowed, messages), 30000);
		await server.stop();
	}
	let server;
	try {
		server = await startServer('examples/echo.php', 0, 15000, ['--compression']);
	} catch (e) {
		report('deflate: examples/echo.php --compression: the server starts', e.message);
		return;
	}
	await runCase('deflate: examples/echo.php --compression: negotiated, 1 MiB text and binary and 102 more echo intact',
		() => deflateCase(WebSocket, `ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true },
			[BASE, `${BASE}; client_max_window_bits=15`], messages), 30000);
	await server.stop();
}

async function main() {
	guard();
	const WebSocket = require('ws');
	let server = await startServer('examples/echo.php');
	let uri = `ws://127.0.0.1:${server.port}/`;
	for (const [binary, kind] of [[false, 'text'], [true, 'binary']]) {
		for (const n of SIZES) {
			await runCase(`echo: ${kind} of ${n} bytes`, async () => {
				const ws = await connect(WebSocket, uri);
				const data = binary ? crypto.randomBytes(n) : 'abcdefghij'.repeat(n / 10 + 1).slice(0, n);
				ws.send(data, { binary });
				await expectMessage(ws, 'echo', data, binary);
				await closeAndWait(ws, 1000);
			});
		}
	}
	await runCase('ping: ws ping() gets a pong with the same payload', async () => {
		const ws = await connect(WebSocket, uri);
		const pong = new Promise((resolve) => ws.once('pong', resolve));
		ws.ping(Buffer.from('are you there'));
		const got = await pong;
		if (got.toString() !== 'are you there') throw new Error(`pong payload ${JSON.stringify(got.toString())}`);
		await closeAndWait(ws, 1000);
	});
	await runCase('close: close(1000) is reported as 1000', async () => {
		const ws = await connect(WebSocket, uri);
		const { code, reason } = await closeAndWait(ws, 1000, 'done');
		if (code !== 1000) throw new Error(`close code ${code} reason ${JSON.stringify(reason)}`);
	});
	await server.stop();

	server = await startServer('examples/chat.php');
	uri = `ws://127.0.0.1:${server.port}/`;
	await runCase("chat: two clients see each other's messages, sender included", async () => {
		const a = await connect(WebSocket, uri);
		const b = await connect(WebSocket, uri);
		try {
			for (const [sender, text] of [[a, `alice: hello from A ${process.pid}`], [b, 'bob: hi from B \u00e9\u20ac\u{1F600}']]) {
				sender.send(text);
				await expectMessage(a, 'client A', text, false);
				await expectMessage(b, 'client B', text, false);
			}
		} finally {
			await Promise.all([closeAndWait(a, 1000), closeAndWait(b, 1000)]);
		}
	});
	await server.stop();
	await compressionCases(WebSocket);
	finish();
}

if (require.main === module) {
	main().catch((e) => {
		report('run', `aborted: ${e && e.message || e}`);
		finish();
	});
}
