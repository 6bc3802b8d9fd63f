package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
)

// tlsFlags are the TLS flags of the connections to one server: a CA to
// verify it with, and optionally a client certificate.
type tlsFlags struct {
	prefix        string // "" for the target, "reference-" for the reference
	CA, Cert, Key string
}

// addFlags registers --<prefix>tls-ca, --<prefix>tls-cert and
// --<prefix>tls-key on fs; who names the server in the help text.
func (f *tlsFlags) addFlags(fs *flag.FlagSet, prefix, who string) {
	f.prefix = prefix
	fs.StringVar(&f.CA, prefix+"tls-ca", "", "connect to the "+who+" over TLS, verifying its certificate (and that it names the DSN's host) with the CA certificates in this PEM `FILE`; overrides tls= in the DSN")
	fs.StringVar(&f.Cert, prefix+"tls-cert", "", "client certificate PEM `FILE` to present to the "+who+" (with --"+prefix+"tls-key)")
	fs.StringVar(&f.Key, prefix+"tls-key", "", "private key PEM `FILE` of --"+prefix+"tls-cert")
}

// config returns the TLS configuration the flags ask for, or nil when none
// is given (the DSN's tls parameter then applies).
func (f *tlsFlags) config() (*tls.Config, error) {
	if f.CA == "" && f.Cert == "" && f.Key == "" {
		return nil, nil
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("--%stls-cert and --%stls-key go together", f.prefix, f.prefix)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("--%stls-ca: %w", f.prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--%stls-ca: no PEM certificate in %s", f.prefix, f.CA)
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("--%stls-cert, --%stls-key: %w", f.prefix, f.prefix, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
