package main

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The pip profile against a local package index (run_registry_pip_local.txtar):
// this machine cannot reach PyPI, so the test serves a minimal PEP 503
// simple index with one tiny wheel over HTTPS on loopback, under the
// names pip itself uses for PyPI's index and files, and fence pins those
// names to 127.0.0.1 with --resolve.

// tinyWheel is the one distribution of the local index.
const (
	tinyProject = "fence-tiny"
	tinyWheel   = "fence_tiny-0.1.0-py3-none-any.whl"
)

// cmdPyIndex starts the local index for the rest of the script: `pyindex`.
// It asks the host's /usr/bin/python3 for pip's index and file hosts, the
// way pip finds them, and sets $PYPI_INDEX and $PYPI_FILES (the names),
// $PYPI_PORT (the loopback port both are served on) and writes ca.pem (the
// test CA that signed the server's certificate) to the working directory,
// for pip's --cert. Without pip in /usr/bin/python3 the script is skipped,
// unless CI is set (.ci/setup installs python3-pip).
func cmdPyIndex(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: pyindex")
	}
	out, err := exec.Command("/usr/bin/python3", "-c",
		"from pip._internal.models.index import PyPI; print(PyPI.simple_url); print(PyPI.file_storage_domain)").Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			ts.Fatalf("/usr/bin/python3 has no pip (.ci/setup installs python3-pip): %v", err)
		}
		ts.Value(scriptT{}).(testscript.T).Skip("/usr/bin/python3 has no pip")
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 {
		ts.Fatalf("pip's PyPI hosts: unexpected %q", out)
	}
	u, err := url.Parse(lines[0])
	if err != nil || u.Hostname() == "" {
		ts.Fatalf("pip's index URL %q: %v", lines[0], err)
	}
	index, files := u.Hostname(), lines[1]

	wheel := buildTinyWheel(ts)
	sum := sha256.Sum256(wheel)
	var port int
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != net.JoinHostPort(index, strconv.Itoa(port)) {
			http.Error(w, "not the index host: "+r.Host, http.StatusNotFound)
			return
		}
		switch strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/simple/"), "/") {
		case "":
			fmt.Fprintf(w, "<!DOCTYPE html><html><body><a href=\"/simple/%s/\">%s</a></body></html>\n", tinyProject, tinyProject)
		case tinyProject:
			fmt.Fprintf(w, "<!DOCTYPE html><html><body><a href=\"https://%s/packages/%s#sha256=%s\">%s</a></body></html>\n",
				net.JoinHostPort(files, strconv.Itoa(port)), tinyWheel, hex.EncodeToString(sum[:]), tinyWheel)
		default:
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("/packages/"+tinyWheel, func(w http.ResponseWriter, r *http.Request) {
		if r.Host != net.JoinHostPort(files, strconv.Itoa(port)) {
			http.Error(w, "not the files host: "+r.Host, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		// Cacheable, as PyPI's files are, so pip keeps it in ~/.cache/pip.
		w.Header().Set("Cache-Control", "max-age=365000000, immutable, public")
		w.Write(wheel)
	})
	srv := httptest.NewUnstartedServer(mux)
	caPEM, cert := testCertificate(ts, index, files)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	ts.Defer(srv.Close)
	port = srv.Listener.Addr().(*net.TCPAddr).Port
	ts.Check(os.WriteFile(ts.MkAbs("ca.pem"), caPEM, 0o644))
	ts.Setenv("PYPI_INDEX", index)
	ts.Setenv("PYPI_FILES", files)
	ts.Setenv("PYPI_PORT", strconv.Itoa(port))
}

// buildTinyWheel returns a valid pure-Python wheel: one module,
// fence_tiny, whose VALUE a script can print.
func buildTinyWheel(ts *testscript.TestScript) []byte {
	files := []struct{ name, body string }{
		{"fence_tiny/__init__.py", "VALUE = \"tiny wheel imported\"\n"},
		{"fence_tiny-0.1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: " + tinyProject + "\nVersion: 0.1.0\n"},
		{"fence_tiny-0.1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: fence-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		ts.Check(err)
		_, err = w.Write([]byte(f.body))
		ts.Check(err)
		h := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(h[:]), len(f.body))
	}
	record.WriteString("fence_tiny-0.1.0.dist-info/RECORD,,\n")
	w, err := zw.Create("fence_tiny-0.1.0.dist-info/RECORD")
	ts.Check(err)
	_, err = w.Write([]byte(record.String()))
	ts.Check(err)
	ts.Check(zw.Close())
	return buf.Bytes()
}

// testCertificate makes a throwaway CA and a server certificate it signs
// for names; it returns the CA in PEM and the server's key pair.
func testCertificate(ts *testscript.TestScript, names ...string) ([]byte, tls.Certificate) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fence test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ts.Check(err)
	ca, err := x509.ParseCertificate(caDER)
	ts.Check(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	ts.Check(err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
