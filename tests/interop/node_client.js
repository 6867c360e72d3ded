#!/usr/bin/env node
// node_client.js - interoperability with the Node `ws` client (version pinned in package.json).
//
// Starts examples/echo.php and checks echoes of text and binary messages of several sizes,
// ping/pong and the closing handshake; then starts examples/chat.php and checks that two
// clients see each other's messages, the sender included.
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

// Opens a client; messages are queued so none is lost between awaits.
function connect(WebSocket, uri) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(uri);
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
	finish();
}

if (require.main === module) {
	main().catch((e) => {
		report('run', `aborted: ${e && e.message || e}`);
		finish();
	});
}
