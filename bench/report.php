<?php
// report.php - turns what run.sh measured (bench/.run/results.tsv: scenario, server, status,
// note, the generator's RESULT line) and the machine description (bench/.run/env) into
// bench/RESULTS.md: a table per scenario, ratios of ext-websocket against each peer, and the
// targets of issue 6, each met or missed and by how much. Reports; asserts nothing.
//
//   php bench/report.php RESULTS_TSV ENV_FILE OUT_MD

if ($argc !== 4) {
    fwrite(STDERR, "usage: php report.php RESULTS_TSV ENV_FILE OUT_MD\n");
    exit(2);
}
[, $tsvFile, $envFile, $outFile] = $argv;

$env = [];
foreach (file($envFile, FILE_IGNORE_NEW_LINES) as $line) {
    [$k, $v] = explode('=', $line, 2) + [1 => ''];
    $env[$k] = $v;
}

/** @var array<string, array<string, array{status: string, note: string, r: array<string, string>}>> */
$rows = [];
foreach (file($tsvFile, FILE_IGNORE_NEW_LINES) as $line) {
    [$scenario, $label, $status, $note, $result] = explode("\t", $line, 5) + ['', '', '', '', ''];
    $r = [];
    foreach (explode(' ', $result) as $pair) {
        if (str_contains($pair, '=')) {
            [$k, $v] = explode('=', $pair, 2);
            $r[$k] = $v;
        }
    }
    $rows[$scenario][$label] = ['status' => $status, 'note' => $note, 'r' => $r];
}

$version = fn (string $k) => ($env[$k] ?? 'none') === 'none' ? '' : ' ' . $env[$k];
$names = [
    'ext' => 'ext-websocket',
    'c' => 'C core, no PHP',
    'select' => 'PHP stream_select',
    'node' => 'Node ws' . $version('ws'),
    'workerman' => 'Workerman' . $version('workerman'),
    'ratchet' => 'Ratchet' . $version('ratchet'),
    'ext-w1' => 'ext-websocket, workers => 1',
    'ext-w2' => 'ext-websocket, workers => 2, one core',
    'ext-w4' => 'ext-websocket, workers => 4',
    'ext-plain' => 'plain (ws://)',
    'ext-tls' => 'TLS (wss://)',
    'ext-deflate' => 'permessage-deflate',
    'ext-pmd-default' => 'compression => true (no context takeover)',
    'ext-pmd-kept' => 'context takeover both ways, idle_release => 0 (streams kept)',
    'ext-pmd-released' => 'context takeover both ways, idle_release => 1 (released when idle)',
    'ext-tls-deflate' => 'TLS + permessage-deflate',
];
$scenarios = [
    'echo' => ['Echo', '100 connections, 32 B text messages, 1 in flight per connection.', 'echo'],
    'pipelined' => ['Pipelined echo', '100 connections, 32 B text messages, 16 in flight per connection.', 'echo'],
    'large' => ['Large messages', '10 connections, 64 KiB binary messages, 1 in flight per connection.', 'echo'],
    'broadcast' => ['Broadcast', '1,000 receivers and one sender on a chat server that relays every message to every connection; 64 B text, 32 messages in flight. A message is complete when all 1,000 receivers have it.', 'broadcast'],
    'hold10k' => ['Idle connections: 10,000', 'Opened at 5,000/s, then held; the server\'s RSS is read before and while they are held.', 'hold'],
    'hold19k' => ['Idle connections: 19,000 on one process', 'As above; 19,000 is about the most one process may hold here (20,000 descriptors).', 'hold'],
    'hold76k' => ['Idle connections: 76,000 on four workers', '`workers => 4`, four generator processes of 19,000; RSS is the master\'s plus the workers\'.', 'hold'],
    'cost' => ['Cost of TLS and permessage-deflate', 'ext-websocket echo, 100 connections, 1 KiB of JSON-like text (the same keys, varying numbers), 16 in flight per connection, measured in the same run: plain, TLS 1.3 (`tls` with a self-signed P-256 certificate), `compression => true` (defaults: level 1, no context takeover) and both. The generator sends uncompressed frames (RFC 7692 allows it) and inflates and checks every reply, so compression costs the server deflate only.', 'cost'],
    'costhold' => ['Idle connections over TLS', '5,000 idle connections held on ext-websocket, plain and over TLS: what a TLS connection costs in server memory.', 'hold'],
    'deflatehold' => ['Idle compressed connections: 10,000', 'Each connection negotiated permessage-deflate and had one 256-byte compressed message echoed, then stays idle (`bench/idle_deflate.py`); the server\'s RSS is read before they connect and once they have been idle for 2 s (3 s for the last row). With context takeover a connection keeps a compressor and a decompressor; `idle_release` frees both once it is quiet, keeping only their history.', 'hold'],
    'bus' => ['Bus cost', 'The broadcast above with `workers => 2` against `workers => 1`, every process on the same core: what relaying through the master costs when no second core pays for it.', 'broadcast'],
];

function num(string|int|float|null $v, int $dec = 0): string
{
    return $v === null || $v === '' ? '' : number_format((float) $v, $dec, '.', ',');
}

function genMark(array $r): string
{
    return (isset($r['gen_cpu']) && (float) $r['gen_cpu'] >= 90 ? ' ‡' : '')
        . (isset($r['other_cpu']) && (float) $r['other_cpu'] >= 15 ? ' §' : '');
}

function range_(array $r, int $dec = 0): string
{
    return isset($r['lo']) && ($r['runs'] ?? '1') !== '1' ? num($r['lo'], $dec) . '–' . num($r['hi'], $dec) : '';
}

/** Which core set the pace of an echo run: the one at 90% or more (the generator first). */
function limitedBy(array $r): string
{
    $gen = (float) ($r['gen_cpu'] ?? 0);
    $srv = (float) ($r['srv_cpu'] ?? -1);
    if ($gen >= 90 && $srv >= 90) {
        return 'both cores';
    }
    if ($gen >= 90) {
        return 'loadgen CPU';
    }
    if ($srv >= 90) {
        return 'server CPU';
    }
    return 'neither core full';
}

function cpu(array $r, string $k): string
{
    return isset($r[$k]) && $r[$k] !== '-1' ? $r[$k] . '%' : '';
}

$md = [];
$md[] = '# ext-websocket benchmark results';
$md[] = '';
$repeat = (int) ($env['repeat'] ?? 1);
$md[] = 'Written by `' . ($env['command'] ?? 'sh bench/run.sh') . '` on ' . ($env['date'] ?? '?')
    . '. Each throughput figure is ' . ($repeat > 1 ? "the median of $repeat runs" : 'one run') . ' of '
    . ($env['duration'] ?? '?') . ' s after a warm-up of ' . ($env['warmup'] ?? '?')
    . ' s, each against a freshly started server' . ($repeat > 1 ? ' (the range is that of all runs)' : '')
    . '. Load average before the run: ' . ($env['load'] ?? '?') . '. What the figures mean: '
    . '[README.md](README.md).';
$md[] = '';
$md[] = '## Machine and versions';
$md[] = '';
$md[] = '| | |';
$md[] = '|---|---|';
$md[] = '| CPU | ' . ($env['cpu'] ?? '?') . ', ' . ($env['cores'] ?? '?') . ' cores; the server runs on CPU 0, the load generator on CPU 1 |';
$md[] = '| memory | ' . ($env['memory'] ?? '?') . '; at most ' . ($env['nofile'] ?? '?') . ' descriptors per process |';
$md[] = '| kernel | ' . ($env['kernel'] ?? '?') . ' |';
$md[] = '| ext-websocket | ' . ($env['ext'] ?? '?') . ' (' . ($env['commit'] ?? '?') . ') |';
$md[] = '| PHP | ' . ($env['php'] ?? '?') . '; event-loop extension for pure-PHP peers: ' . ($env['php_loop_ext'] ?? 'none') . ' |';
$md[] = '| Node | ' . ($env['node'] ?? '?') . ', ws ' . ($env['ws'] ?? 'none') . ' |';
$md[] = '| Workerman | ' . ($env['workerman'] ?? 'none') . ' |';
$md[] = '| Ratchet | ' . ($env['ratchet'] ?? 'none') . ' |';
$md[] = '| OpenSSL | ' . ($env['openssl'] ?? '?') . ' |';
$md[] = '| compiler | ' . ($env['cc'] ?? '?') . ' |';
$md[] = '';
$skipped = [];
foreach (['node', 'workerman', 'ratchet'] as $s) {
    if (($env["skip_$s"] ?? '') !== '') {
        $skipped[] = "- **{$names[$s]}** was not measured: " . $env["skip_$s"] . '.';
    }
}
if ($skipped) {
    array_push($md, ...$skipped);
    $md[] = '';
}

foreach ($scenarios as $key => [$title, $what, $kind]) {
    if (empty($rows[$key])) {
        continue;
    }
    $md[] = "## $title";
    $md[] = '';
    $md[] = $what;
    $md[] = '';
    if ($kind === 'cost') {
        $md[] = '| variant | round trips/s | × plain | range | MB/s each way | p50 µs | p99 µs | server CPU | server µs per round trip | loadgen CPU | limited by | replies compressed | errors |';
        $md[] = '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|';
    } elseif ($kind === 'echo') {
        $md[] = '| server | round trips/s | range | MB/s each way | p50 µs | p99 µs | max µs | server CPU | loadgen CPU | other CPU | errors |';
        $md[] = '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|';
    } elseif ($kind === 'broadcast') {
        $md[] = '| server | deliveries/s | range | messages/s | p50 µs | p99 µs | max µs | sender gets its own | complete | server CPU | loadgen CPU | other CPU | errors |';
        $md[] = '|---|--:|--:|--:|--:|--:|--:|---|---|--:|--:|--:|--:|';
    } else {
        $md[] = '| server | held | opened in | RSS before | RSS held | bytes per connection | errors |';
        $md[] = '|---|--:|--:|--:|--:|--:|--:|';
    }
    $notes = [];
    foreach ($rows[$key] as $label => $row) {
        $name = $names[$label] ?? $label;
        $r = $row['r'];
        if ($row['status'] === 'skip' || !$r) {
            $note = $row['note'] === 'not installed' ? 'not installed (see above)' : $row['note'];
            $md[] = "| $name | " . ($row['status'] === 'skip' ? 'skipped: ' : 'failed: ') . $note . ' |';
            continue;
        }
        $bad = $row['status'] === 'fail' ? ' **(failed)**' : '';
        if ($row['note'] !== '') {
            $notes[] = "- $name: " . $row['note'];
        }
        if ($kind === 'cost') {
            $plain = $rows[$key]['ext-plain'] ?? null;
            $x = $plain && $plain['status'] === 'ok' && (float) ($plain['r']['rtps'] ?? 0) > 0
                ? sprintf('%.2f×', (float) ($r['rtps'] ?? 0) / (float) $plain['r']['rtps']) : '';
            $total = (float) ($r['rtps'] ?? 0) * (float) ($r['secs'] ?? 0);
            $per = (float) ($r['rtps'] ?? 0) > 0 && (float) ($r['srv_cpu'] ?? -1) >= 0
                ? num((float) $r['srv_cpu'] / 100 / (float) $r['rtps'] * 1e6, 2) : '';
            $md[] = sprintf('| %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |', $name, $bad,
                num($r['rtps'] ?? null), genMark($r), $x, range_($r), num($r['mbps'] ?? null, 1),
                num($r['p50_us'] ?? null), num($r['p99_us'] ?? null), cpu($r, 'srv_cpu'), $per, cpu($r, 'gen_cpu'),
                limitedBy($r), ($r['deflate'] ?? '0') === '1' && $total > 0
                    ? sprintf('%.0f%%', min(100, 100 * (float) ($r['compressed'] ?? 0) / $total)) : '–',
                $r['errors'] ?? '');
        } elseif ($kind === 'echo') {
            $md[] = sprintf('| %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |', $name, $bad,
                num($r['rtps'] ?? null), genMark($r), range_($r), num($r['mbps'] ?? null, 1), num($r['p50_us'] ?? null),
                num($r['p99_us'] ?? null), num($r['max_us'] ?? null), cpu($r, 'srv_cpu'), cpu($r, 'gen_cpu'),
                cpu($r, 'other_cpu'), $r['errors'] ?? '');
        } elseif ($kind === 'broadcast') {
            $md[] = sprintf('| %s%s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |', $name, $bad,
                num($r['dps'] ?? null), genMark($r), range_($r), num($r['msgps'] ?? null), num($r['p50_us'] ?? null),
                num($r['p99_us'] ?? null), num($r['max_us'] ?? null), $r['sender'] ?? '',
                ($r['complete'] ?? '') === '1' ? 'yes' : 'no', cpu($r, 'srv_cpu'), cpu($r, 'gen_cpu'),
                cpu($r, 'other_cpu'), $r['errors'] ?? '');
        } else {
            $md[] = sprintf('| %s%s | %s | %s s | %s MB | %s MB | %s | %s |', $name, $bad,
                num($r['held'] ?? null), $r['open_s'] ?? '', num(($r['rss_before_kb'] ?? 0) / 1024, 1),
                num(($r['rss_after_kb'] ?? 0) / 1024, 1), num($r['bytes_per_conn'] ?? null), $r['errors'] ?? '');
        }
    }
    $md[] = '';
    if ($kind === 'cost') {
        $limits = [];
        foreach ($rows[$key] as $label => $row) {
            if ($row['status'] === 'ok' && $row['r']) {
                $limits[] = ($names[$label] ?? $label) . ' by ' . limitedBy($row['r'])
                    . ' (server ' . cpu($row['r'], 'srv_cpu') . ', loadgen ' . cpu($row['r'], 'gen_cpu') . ')';
            }
        }
        if ($limits) {
            $md[] = 'What limits each figure: ' . implode('; ', $limits) . '. Where the loadgen sets the pace '
                . '(it pays for TLS and for inflating too), the round trips/s and their ratio to plain say more about '
                . 'the generator than the server; server µs per round trip is then the fairer measure of the cost.';
            $md[] = '';
        }
    }
    if ($key === 'costhold') {
        $p = figure($rows, 'costhold', 'ext-plain', 'bytes_per_conn');
        $t = figure($rows, 'costhold', 'ext-tls', 'bytes_per_conn');
        if ($p !== null && $t !== null) {
            $md[] = sprintf('An idle TLS connection costs the server %s bytes more than a plain one (%s against %s).',
                num($t - $p), num($t), num($p));
            $md[] = '';
        }
    }
    if ($notes) {
        array_push($md, ...$notes);
        $md[] = '';
    }
}

/** The main figure of a measurement that completed, or null. */
function figure(array $rows, string $scenario, string $label, string $key): ?float
{
    $row = $rows[$scenario][$label] ?? null;
    if (!$row || $row['status'] !== 'ok' || !isset($row['r'][$key])) {
        return null;
    }
    return (float) $row['r'][$key];
}

/** Why the figures of these labels are not all there: the first problem found, or ''. */
function missing(array $rows, array $env, string $scenario, string ...$labels): string
{
    global $names;
    foreach ($labels as $label) {
        $name = $names[$label] ?? $label;
        $server = preg_replace('/-w\d$/', '', $label);
        $row = $rows[$scenario][$label] ?? null;
        if ((!$row || $row['note'] === 'not installed') && ($env["skip_$server"] ?? '') !== '') {
            return "$name was not installed: " . $env["skip_$server"];
        }
        if (!$row) {
            return "$name was not run in scenario $scenario";
        }
        if ($row['status'] !== 'ok') {
            return "$name " . ($row['status'] === 'skip' ? 'was skipped: ' : 'failed: ') . $row['note'];
        }
    }
    return '';
}

// Ratios: ext-websocket's main figure over each peer's (for memory, the peer's over ours).
$ratioLines = [];
$main = ['echo' => ['rtps', 'round trips/s'], 'pipelined' => ['rtps', 'round trips/s'],
    'large' => ['mbps', 'MB/s'], 'broadcast' => ['dps', 'deliveries/s'],
    'hold10k' => ['bytes_per_conn', 'bytes per connection'], 'hold19k' => ['bytes_per_conn', 'bytes per connection']];
foreach ($main as $scenario => [$key, $unit]) {
    $ext = figure($rows, $scenario, 'ext', $key);
    if ($ext === null || $ext <= 0) {
        continue;
    }
    $cells = [];
    foreach (['c', 'select', 'node', 'workerman', 'ratchet'] as $peer) {
        $p = figure($rows, $scenario, $peer, $key);
        if ($p === null || $p <= 0) {
            $cells[] = '–';
            continue;
        }
        $cells[] = sprintf('%.2f×', str_starts_with($key, 'bytes') ? $p / $ext : $ext / $p);
    }
    $ratioLines[] = sprintf('| %s (%s%s) | %s |', $scenarios[$scenario][0], $unit,
        str_starts_with($key, 'bytes') ? ', peer ÷ ext' : ', ext ÷ peer', implode(' | ', $cells));
}
if ($ratioLines) {
    $md[] = '## ext-websocket against each peer';
    $md[] = '';
    $md[] = 'Above 1 means ext-websocket does better (more per second, or less memory). The C core column is not a competitor: it is the same server without PHP.';
    $md[] = '';
    $md[] = '| scenario | C core | PHP stream_select | ' . $names['node'] . ' | ' . $names['workerman'] . ' | ' . $names['ratchet'] . ' |';
    $md[] = '|---|--:|--:|--:|--:|--:|';
    array_push($md, ...$ratioLines);
    $md[] = '';
}

// Targets (issue 6): reported, never asserted.
function atLeast(?float $got, float $want, string $what): array
{
    if ($got === null) {
        return [null, ''];
    }
    $by = $got / $want - 1;
    return [$got >= $want, sprintf('%s (target %s: %.0f%% %s)', $what, rtrim(rtrim(sprintf('%.2f', $want), '0'), '.') . '×',
        abs($by) * 100, $got >= $want ? 'above' : 'below')];
}

$targets = [];
$ratio = function (string $scenario, string $a, string $b, string $key) use ($rows): ?float {
    $x = figure($rows, $scenario, $a, $key);
    $y = figure($rows, $scenario, $b, $key);
    return $x === null || $y === null || $y <= 0 ? null : $x / $y;
};
foreach ([['pipelined', 'rtps', 8.0, 'Pipelined echo ≥ 8× Workerman'],
    ['large', 'mbps', 3.5, '64 KiB throughput ≥ 3.5× Workerman'],
    ['broadcast', 'dps', 20.0, 'Broadcast deliveries/s ≥ 20× Workerman']] as [$scn, $key, $want, $title]) {
    $got = $ratio($scn, 'ext', 'workerman', $key);
    [$met, $how] = atLeast($got, $want, sprintf('%.2f×', $got ?? 0));
    $targets[] = [$title, $met, $met === null
        ? 'not measured: ' . missing($rows, $env, $scn, 'ext', 'workerman')
        : $how];
}
foreach (['hold10k' => '10,000', 'hold19k' => '19,000'] as $scn => $n) {
    $b = figure($rows, $scn, 'ext', 'bytes_per_conn');
    $targets[] = ["≤ 1 KiB server memory per idle connection ($n held)", $b === null ? null : $b <= 1024,
        $b === null ? 'not measured: ' . missing($rows, $env, $scn, 'ext')
            : sprintf('%s bytes (target 1,024: %.0f%% %s)', num($b), abs($b / 1024 - 1) * 100, $b <= 1024 ? 'under' : 'over')];
}
foreach ([['hold19k', 'ext', 19000, '19,000 idle connections held by one worker'],
    ['hold76k', 'ext-w4', 76000, '76,000 idle connections held by four workers']] as [$scn, $label, $n, $title]) {
    $row = $rows[$scn][$label] ?? null;
    $held = isset($row['r']['held']) ? (int) $row['r']['held'] : null;
    $ok = $row && $row['status'] === 'ok' && $held === $n;
    $targets[] = [$title, $row && $row['r'] ? $ok : null, $row && $row['r']
        ? sprintf('%s of %s held, %s errors', num($held), num($n), $row['r']['errors'] ?? '?') . ($ok ? '' : '; ' . $row['note'])
        : 'not measured: ' . missing($rows, $env, $scn, $label)];
}
$got = $ratio('bus', 'ext-w2', 'ext-w1', 'dps');
[$met, $how] = atLeast($got, 0.8, sprintf('%.2f× workers => 1', $got ?? 0));
$targets[] = ['Broadcast with workers => 2 on one core ≥ 0.8× workers => 1', $met,
    $met === null ? 'not measured: ' . missing($rows, $env, 'bus', 'ext-w1', 'ext-w2') : $how];
$got = $ratio('pipelined', 'ext', 'c', 'rtps');
$slower = $got === null ? null : 1 - $got;
$targets[] = ['PHP binding ≤ 25% slower than pure C (pipelined echo)', $slower === null ? null : $slower <= 0.25,
    $slower === null ? 'not measured: ' . missing($rows, $env, 'pipelined', 'ext', 'c')
        : sprintf('%.0f%% %s than the C core (target: at most 25%% slower)', abs($slower) * 100, $slower >= 0 ? 'slower' : 'faster')];

// A target computed from a run marked ‡ or § says so: the comparison may be off.
$marks = [0 => ['pipelined', 'ext', 'workerman'], 1 => ['large', 'ext', 'workerman'], 2 => ['broadcast', 'ext', 'workerman'],
    7 => ['bus', 'ext-w1', 'ext-w2'], 8 => ['pipelined', 'ext', 'c']];
foreach ($marks as $i => [$scn, $a, $b]) {
    $m = implode(' ', array_unique(array_filter(explode(' ',
        genMark($rows[$scn][$a]['r'] ?? []) . genMark($rows[$scn][$b]['r'] ?? [])))));
    if ($targets[$i][1] !== null && $m !== '') {
        $targets[$i][2] .= " (from runs marked $m)";
    }
}

// Where the generator set ext-websocket's pace (‡), the ratio of the work each server does per
// second of its CPU says what the server itself would allow.
foreach ([0 => ['pipelined', 'rtps'], 1 => ['large', 'mbps'], 2 => ['broadcast', 'dps']] as $i => [$scn, $key]) {
    $ext = $rows[$scn]['ext']['r'] ?? [];
    $wm = $rows[$scn]['workerman']['r'] ?? [];
    if ($targets[$i][1] === null || !str_contains(genMark($ext), '‡')
        || (float) ($ext['srv_cpu'] ?? 0) <= 0 || (float) ($wm['srv_cpu'] ?? 0) <= 0) {
        continue;
    }
    $perCpu = ($ext[$key] / $ext['srv_cpu']) / ($wm[$key] / $wm['srv_cpu']);
    $targets[$i][2] .= sprintf('; per second of server CPU: %.2f× (ext-websocket used %s%% of its core, Workerman %s%%)',
        $perCpu, $ext['srv_cpu'], $wm['srv_cpu']);
}

$md[] = '## Targets';
$md[] = '';
$md[] = '| target | result | measured |';
$md[] = '|---|---|---|';
foreach ($targets as [$title, $met, $how]) {
    $md[] = "| $title | " . ($met === null ? 'not measured' : ($met ? 'met' : '**missed**')) . " | $how |";
}
$md[] = '';
$md[] = '‡ the load generator used 90% or more of its core: the server may be able to do more than shown. '
    . '§ other processes (or interrupts) used 15% of a core or more during the run: the figure may be low. '
    . 'Latencies are from a histogram with about 3% resolution. MB = 10^6 bytes of payload, counted once '
    . '(each byte also travels back). Server CPU covers the server process and its children.';
$md[] = '';

file_put_contents($outFile, implode("\n", $md));
