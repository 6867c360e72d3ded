<?php
// tests/workers/app.php - the application code that tests/workers/server.php includes in
// onWorkerStart when no other file is given. The tests write their own copy (same shape,
// another version string, or code that does not compile) and reload the server to swap it.

function app_version(): string
{
    return 'default';
}
