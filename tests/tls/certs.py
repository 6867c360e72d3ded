"""certs.py - the certificates of the TLS suite, made with the openssl CLI into a directory:

  ca.pem, ca.key               a private CA
  server.pem, server.key       signed by the CA, for localhost, 127.0.0.1 and ::1 (serial 1001)
  server2.pem, server2.key     signed by the CA, CN rotated.localhost (serial 1002): the renewed
                               certificate of the rotation test
  server-both.pem              server.pem followed by server.key (one file for cert and key)
  inter.pem, inter.key         an intermediate CA signed by the CA
  leaf.pem, leaf.key           a server certificate signed by the intermediate (serial 3001);
                               leaf-chain.pem is leaf.pem followed by inter.pem
  server-enc.key               server.key encrypted (AES-256) with PASSPHRASE
  client.pem, client.key       a client certificate signed by the CA
  stranger.pem, stranger.key   a self-signed client certificate the CA never signed
  other.key                    a key that matches no certificate
  garbage.pem                  random bytes, no PEM block
  self/cert.pem, self/key.pem  self-signed, written by examples/tls-cert.sh
All keys are P-256 (ECDSA). Valid for two days: each run makes its own.
"""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PASSPHRASE = "correct horse battery staple"

EXTENSIONS = """\
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

NEW_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make(d):
    """Writes every file listed above into directory `d`; raises RuntimeError if openssl fails."""

    def openssl(*args):
        p = subprocess.run(["openssl"] + list(args), cwd=d, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (" ".join(args[:2]),
                                                          p.stderr.decode(errors="replace")[-400:]))

    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write(EXTENSIONS)
    openssl("req", "-x509", *NEW_EC_KEY, "-days", "2", "-subj", "/CN=ext-websocket test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key", "-out", "ca.pem")
    for name, cn, serial, kind, ca in (("server", "localhost", 1001, "server", "ca"),
                                       ("server2", "rotated.localhost", 1002, "server", "ca"),
                                       ("client", "test client", 2001, "client", "ca"),
                                       ("inter", "ext-websocket test intermediate", 100, "inter", "ca"),
                                       ("leaf", "localhost", 3001, "server", "inter")):
        openssl("req", "-new", *NEW_EC_KEY, "-subj", "/CN=" + cn, "-keyout", name + ".key",
                "-out", name + ".csr")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-set_serial", str(serial), "-days", "2", "-extfile", "ext.cnf", "-extensions",
                kind, "-out", name + ".pem")
    openssl("req", "-x509", *NEW_EC_KEY, "-days", "2", "-subj", "/CN=stranger",
            "-addext", "extendedKeyUsage=clientAuth", "-keyout", "stranger.key", "-out", "stranger.pem")
    openssl("pkey", "-in", "server.key", "-aes-256-cbc", "-passout", "pass:" + PASSPHRASE,
            "-out", "server-enc.key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key")
    for out, parts in (("server-both.pem", ("server.pem", "server.key")),
                       ("leaf-chain.pem", ("leaf.pem", "inter.pem"))):
        with open(os.path.join(d, out), "wb") as f:
            for part in parts:
                with open(os.path.join(d, part), "rb") as g:
                    f.write(g.read())
    with open(os.path.join(d, "garbage.pem"), "wb") as f:
        f.write(b"this is not a certificate\n" + os.urandom(600))
    p = subprocess.run(["sh", os.path.join(ROOT, "examples", "tls-cert.sh"), os.path.join(d, "self")],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if p.returncode != 0 or not os.path.exists(os.path.join(d, "self", "cert.pem")):
        raise RuntimeError("examples/tls-cert.sh failed: %s" % p.stderr.decode(errors="replace")[-400:])
