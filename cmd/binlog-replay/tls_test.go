package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/binlog-replay/binlog-replay/internal/replaytest"
	"github.com/binlog-replay/binlog-replay/internal/sandbox"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
}

// newTestCA makes a CA and writes its certificate to dir/name.pem.
func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca := &testCA{key: key}
	der, file := writeCert(t, dir, name, tmpl, tmpl, &key.PublicKey, key)
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	ca.file = file
	return ca
}

// issue makes a key and a certificate signed by ca, for a server at
// 127.0.0.1 or for a client, and writes them to dir/name.pem and
// dir/name-key.pem.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	_, certFile = writeCert(t, dir, name, tmpl, ca.cert, &key.PublicKey, ca.key)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// writeCert signs tmpl with parent's key and writes it to dir/name.pem.
func writeCert(t *testing.T, dir, name string, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, string) {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return der, file
}

// TestTLSTarget replays over TCP into a target whose replay account
// REQUIREs SSL, with the server's certificate (IP SAN 127.0.0.1) signed by a
// CA made for the test: with --tls-ca it succeeds over encrypted
// connections; with another CA it stops at once with a certificate error;
// without TLS the server refuses the account and the error says TLS may be
// required. verify connects the same way to either server (--tls-ca,
// --reference-tls-ca), and presents a client certificate to an account
// that REQUIREs X509.
func TestTLSTarget(t *testing.T) {
	dir := t.TempDir()
	ca, otherCA := newTestCA(t, dir, "ca"), newTestCA(t, dir, "other-ca")
	serverCert, serverKey := ca.issue(t, dir, "server", true)
	clientCert, clientKey := ca.issue(t, dir, "client", false)

	sc := replaytest.New(t, "ROW", func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, "CREATE DATABASE tl")
		if err == nil {
			_, err = db.ExecContext(ctx, "CREATE TABLE tl.t (id INT PRIMARY KEY, v VARCHAR(20))")
		}
		return err
	}, func(ctx context.Context, db *sql.DB) error {
		for i := 1; i <= 50; i++ {
			if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO tl.t VALUES (%d, 'v%d')", i, i)); err != nil {
				return err
			}
		}
		return nil
	})
	tgt := sandbox.ForTest(t, sandbox.Options{FromDatadir: sc.Base,
		Args: []string{"--ssl-ca=" + ca.file, "--ssl-cert=" + serverCert, "--ssl-key=" + serverKey}})
	db, err := tgt.Open(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verifyExec(t, db,
		"CREATE USER 'tls'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE SSL",
		"GRANT ALL PRIVILEGES ON *.* TO 'tls'@'127.0.0.1'",
		"CREATE USER 'x509'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE X509",
		"GRANT SELECT ON *.* TO 'x509'@'127.0.0.1'")
	t.Setenv("MYSQL_PWD", "pw")
	tlsDSN := fmt.Sprintf("tls@tcp(127.0.0.1:%d)/", tgt.Port)
	x509DSN := fmt.Sprintf("x509@tcp(127.0.0.1:%d)/", tgt.Port)

	replayRun := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		args = append(append([]string{"--progress", "none", "--workers", "2", "--start-position", sc.Start.String()}, args...), sc.Files...)
		code := runReplay(ctx, args, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	accepts := func() int {
		var name string
		var n int
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Ssl_finished_accepts'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// (c) Without TLS: refused, and the error says why that may be.
	code, out := replayRun("--target", tlsDSN)
	if code != 1 || !strings.Contains(out, "Access denied") || !strings.Contains(out, "--tls-ca") {
		t.Errorf("without TLS: exit %d, want 1 and an access-denied error mentioning --tls-ca:\n%s", code, out)
	}
	t.Logf("without TLS: %s", out)
	// (b) A server certificate signed by another CA: stops at once (no
	// reconnecting), naming the certificate problem.
	begin := time.Now()
	code, out = replayRun("--target", tlsDSN, "--tls-ca", otherCA.file)
	if code != 1 || !strings.Contains(out, "certificate signed by unknown authority") || time.Since(begin) > 20*time.Second {
		t.Errorf("another CA: exit %d after %s, want 1 at once and a certificate error:\n%s", code, time.Since(begin), out)
	}
	t.Logf("another CA: %s", out)
	// (a) With the CA: the replay runs over TLS and the target equals the source.
	before := accepts()
	if code, out := replayRun("--target", tlsDSN, "--tls-ca", ca.file); code != 0 {
		t.Fatalf("with --tls-ca: exit %d:\n%s", code, out)
	}
	if n := accepts() - before; n < 2 {
		t.Errorf("the server finished %d TLS handshakes during the replay, want at least one per worker", n)
	}
	replaytest.RequireEqual(t, db, sc.SourceDB, "tl")

	// verify: the password in the DSNs (MYSQL_PWD would apply to root too).
	t.Setenv("MYSQL_PWD", "")
	tlsDSN = strings.Replace(tlsDSN, "tls@", "tls:pw@", 1)
	x509DSN = strings.Replace(x509DSN, "x509@", "x509:pw@", 1)

	// A connection opened as the tool opens them is encrypted.
	var o verifyOptions
	o.Target, o.TLS.CA = tlsDSN, ca.file
	o.Reference, o.ChunkSize = tgt.DSN(""), 10
	if err := o.validate(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	vdb, err := openVerifyDB(t.Context(), "target", "--target", o.Target, o.targetTLS)
	if err != nil {
		t.Fatal(err)
	}
	var name, cipher string
	if err := vdb.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil || cipher == "" {
		t.Errorf("Ssl_cipher of the tool's connection: %q, %v; want a cipher", cipher, err)
	}
	vdb.Close()

	verifyRun := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := runVerify(t.Context(), append(args, "--tables", "tl.t"), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	src := sc.Source.DSN("")
	if code, out := verifyRun("--target", src, "--reference", tlsDSN, "--reference-tls-ca", ca.file); code != 0 {
		t.Errorf("verify with --reference-tls-ca: exit %d:\n%s", code, out)
	}
	if code, out := verifyRun("--target", x509DSN, "--tls-ca", ca.file, "--tls-cert", clientCert, "--tls-key", clientKey, "--reference", src); code != 0 {
		t.Errorf("verify with a client certificate: exit %d:\n%s", code, out)
	}
	if code, out := verifyRun("--target", x509DSN, "--tls-ca", ca.file, "--reference", src); code != 2 || !strings.Contains(out, "Access denied") {
		t.Errorf("verify without the client certificate an X509 account requires: exit %d, want 2 and access denied:\n%s", code, out)
	}
	if code, out := verifyRun("--target", x509DSN, "--tls-cert", clientCert, "--reference", src); code != 2 || !strings.Contains(out, "--tls-key") {
		t.Errorf("--tls-cert without --tls-key: exit %d, want 2:\n%s", code, out)
	}
	if code, out := verifyRun("--target", x509DSN, "--tls-ca", serverKey, "--reference", src); code != 2 || !strings.Contains(out, "no PEM certificate") {
		t.Errorf("--tls-ca naming a key file: exit %d, want 2:\n%s", code, out)
	}
}
