<?php
/* tests/tools/package_xml.php - keeps package.xml's file list equal to the tree.
 *
 *   php tests/tools/package_xml.php            rewrite the <contents> section of package.xml
 *   php tests/tools/package_xml.php --check    change nothing; exit 1 and say what is stale
 *   php tests/tools/package_xml.php --print    print the <contents> section that would be written
 *   php tests/tools/package_xml.php --sources  print the sources config.m4 compiles, one per line
 *
 * The package holds what building and testing need, and nothing else:
 *   src      config.m4, config.w32, websocket.stub.php, the top-level .c and .h files, and
 *            the .c and .h files under src/ (src/php/ included)
 *   doc      README.md, LICENSE, every file in examples/ but demo.sh
 *   test     the .phpt files one level under tests/ (server, connection, config, protocol,
 *            and any directory added beside them), every file in tests/inc/
 * Files come from git (tracked, plus untracked ones .gitignore does not exclude) when the tree
 * is a git checkout, else from the file system; build outputs (config.h, *.lo, ...) never match.
 *
 * --check also compares what else goes stale when files are added: config.w32 must compile the
 * same sources as config.m4, and package.xml's release version must equal PHP_WEBSOCKET_VERSION
 * in php_websocket.h. Only the <contents> section is ever rewritten; edit the rest by hand. */

const SRC = 'src';
const DOC = 'doc';
const TEST = 'test';

$root = dirname(__DIR__, 2);
$mode = $argv[1] ?? '--write';
if (!in_array($mode, ['--write', '--check', '--print', '--sources'], true)) {
    fwrite(STDERR, "usage: php tests/tools/package_xml.php [--check | --print | --sources]\n");
    exit(2);
}

/** Role of a path relative to the root, or null if the package does not carry it. */
function role_of(string $path): ?string
{
    $base = basename($path);
    if (!str_contains($path, '/')) {
        if ($base === 'config.m4' || $base === 'config.w32' || $base === 'websocket.stub.php') {
            return SRC;
        }
        if ($base === 'README.md' || $base === 'LICENSE') {
            return DOC;
        }
        // Top-level C sources and headers; configure writes config.h.
        if (preg_match('/\.[ch]$/', $base) && $base !== 'config.h') {
            return SRC;
        }
        return null;
    }
    if (preg_match('#^src/(.+/)?[^/]+\.[ch]$#', $path)) {
        return SRC;
    }
    // demo.sh builds from a checkout (it calls tests/deps.sh and tests/build.sh), not a package.
    if (preg_match('#^examples/[^/]+$#', $path) && $path !== 'examples/demo.sh') {
        return DOC;
    }
    if (preg_match('#^tests/inc/[^/]+$#', $path)) {
        return TEST;
    }
    if (preg_match('#^tests/[^/]+/[^/]+\.phpt$#', $path)) {
        return TEST;
    }
    return null;
}

/** Every file of the tree, relative to $root. */
function tree_files(string $root): array
{
    $out = [];
    $rc = 1;
    if (is_dir("$root/.git") || is_file("$root/.git")) {
        exec('git -C ' . escapeshellarg($root) . ' ls-files -z --cached --others --exclude-standard 2>/dev/null', $out, $rc);
    }
    if ($rc === 0) {
        $files = explode("\0", implode("\n", $out));
        // A tracked file deleted in the working tree is not shipped.
        return array_values(array_filter($files, fn($f) => $f !== '' && is_file("$root/$f")));
    }
    $files = [];
    $it = new RecursiveIteratorIterator(
        new RecursiveDirectoryIterator($root, FilesystemIterator::SKIP_DOTS)
    );
    foreach ($it as $f) {
        if ($f->isFile()) {
            $files[] = substr($f->getPathname(), strlen($root) + 1);
        }
    }
    return $files;
}

/** path => role, sorted by path. */
function package_files(string $root): array
{
    $files = [];
    foreach (tree_files($root) as $path) {
        // Objects built next to the sources (src/.libs/*.o) are not sources.
        if (preg_match('#(^|/)\.libs/#', $path)) {
            continue;
        }
        $role = role_of($path);
        if ($role !== null) {
            $files[$path] = $role;
        }
    }
    ksort($files, SORT_STRING);
    return $files;
}

function contents_xml(array $files): string
{
    $xml = "<contents>\n    <dir name=\"/\">\n";
    foreach ($files as $path => $role) {
        $xml .= sprintf("      <file name=\"%s\" role=\"%s\"/>\n", htmlspecialchars($path, ENT_XML1 | ENT_QUOTES), $role);
    }
    return $xml . "    </dir>\n  </contents>";
}

/** The file names listed in a <contents> section. */
function listed_files(string $xml): array
{
    preg_match_all('#<file\b[^>]*\bname="([^"]*)"#', $xml, $m);
    return array_map(fn($n) => htmlspecialchars_decode($n, ENT_XML1 | ENT_QUOTES), $m[1]);
}

/** Sources config.m4 compiles (the WEBSOCKET_*SOURCES="..." lists), as paths from the root. */
function m4_sources(string $m4): array
{
    preg_match_all('/\bWEBSOCKET_\w*SOURCES="([^"]*)"/', $m4, $m);
    $files = [];
    foreach ($m[1] as $list) {
        foreach (preg_split('/\s+/', trim($list)) as $f) {
            if ($f !== '' && $f[0] !== '$') {
                $files[] = $f;
            }
        }
    }
    sort($files);
    return array_values(array_unique($files));
}

/** Sources config.w32 compiles, as paths from the root: EXTENSION("websocket", "...") and the
 * WEBSOCKET_CORE_SOURCES (in src\) and WEBSOCKET_PHP_SOURCES (in src\php\) lists. */
function w32_sources(string $w32): array
{
    $files = [];
    if (preg_match('/\bEXTENSION\(\s*"websocket"\s*,\s*"([^"]*)"/', $w32, $m)) {
        array_push($files, ...preg_split('/\s+/', trim($m[1])));
    }
    $dirs = ['CORE' => 'src/', 'PHP' => 'src/php/'];
    preg_match_all('/\bWEBSOCKET_(CORE|PHP)_SOURCES\s*\+?=\s*"([^"]*)"/', $w32, $m, PREG_SET_ORDER);
    foreach ($m as [, $which, $list]) {
        foreach (preg_split('/\s+/', trim($list)) as $f) {
            if ($f !== '') {
                $files[] = $dirs[$which] . $f;
            }
        }
    }
    sort($files);
    return array_values(array_unique($files));
}

$m4 = m4_sources((string)@file_get_contents("$root/config.m4"));
if ($mode === '--sources') {
    echo $m4 ? implode("\n", $m4) . "\n" : '';
    exit($m4 ? 0 : 1);
}

$pkg = "$root/package.xml";
$xml = @file_get_contents($pkg);
if ($xml === false || !preg_match('#<contents>.*?</contents>#s', $xml, $old)) {
    fwrite(STDERR, "package_xml: $pkg is missing or has no <contents> section\n");
    exit(1);
}
$files = package_files($root);
$contents = contents_xml($files);

if ($mode === '--print') {
    echo "  $contents\n";
    exit(0);
}

if ($mode === '--write') {
    $new = str_replace($old[0], $contents, $xml);
    if ($new !== $xml) {
        file_put_contents($pkg, $new);
    }
    $n = array_count_values($files);
    printf("package.xml: %d files (%d src, %d doc, %d test)%s\n", count($files), $n[SRC] ?? 0,
        $n[DOC] ?? 0, $n[TEST] ?? 0, $new === $xml ? ', unchanged' : ', rewritten');
    exit(0);
}

// --check
$problems = [];
if ($old[0] !== $contents) {
    $listed = listed_files($old[0]);
    $wanted = array_keys($files);
    foreach (array_diff($wanted, $listed) as $f) {
        $problems[] = "package.xml does not list $f";
    }
    foreach (array_diff($listed, $wanted) as $f) {
        $problems[] = "package.xml lists $f, which is not in the tree";
    }
    if (!array_diff($wanted, $listed) && !array_diff($listed, $wanted)) {
        $problems[] = 'package.xml lists the right files, but not as this script writes them (roles or order)';
    }
    $problems[] = '  -> run: php tests/tools/package_xml.php';
}
$w32 = w32_sources((string)@file_get_contents("$root/config.w32"));
if (!$m4) {
    $problems[] = 'config.m4: no WEBSOCKET_*SOURCES="..." list found';
} elseif ($m4 !== $w32) {
    foreach (array_diff($m4, $w32) as $f) {
        $problems[] = "config.w32 does not compile $f (config.m4 does)";
    }
    foreach (array_diff($w32, $m4) as $f) {
        $problems[] = "config.w32 compiles $f (config.m4 does not)";
    }
}
foreach ($m4 as $f) {
    if (!isset($files[$f])) {
        $problems[] = "config.m4 compiles $f, which the package does not carry";
    }
}
preg_match('#<release>([^<]*)</release>#', $xml, $rel);
$h = (string)@file_get_contents("$root/php_websocket.h");
preg_match('/#define\s+PHP_WEBSOCKET_VERSION\s+"([^"]*)"/', $h, $ver);
if (($rel[1] ?? null) !== ($ver[1] ?? null)) {
    $problems[] = sprintf('package.xml release %s differs from PHP_WEBSOCKET_VERSION %s in php_websocket.h',
        $rel[1] ?? '(none)', $ver[1] ?? '(none)');
}
if ($problems) {
    echo implode("\n", $problems), "\n";
    exit(1);
}
printf("package.xml lists all %d files; config.w32 and config.m4 compile the same %d sources; version %s\n",
    count($files), count($m4), $ver[1]);
exit(0);
