//go:build privileged

package ovn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a leaf certificate and its key as PEM files.
func (ca *testCA) issue(t *testing.T, cn, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Written to a new file and renamed, as a Secret volume update does.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sslServer runs ovsdb-server on db with a pssl: remote on port, certificates from dir/server.*.
func sslServer(t *testing.T, dir, db string, port int) *lab.Proc {
	t.Helper()
	p, err := lab.StartProc("ovsdb-ssl", "", dir, nil, "ovsdb-server", "--no-chdir",
		"--pidfile="+filepath.Join(dir, "ssl.pid"), "--unixctl="+filepath.Join(dir, "ssl.ctl"),
		"--remote=punix:"+filepath.Join(dir, "nb.sock"),
		fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port),
		"--private-key="+filepath.Join(dir, "server.key"), "--certificate="+filepath.Join(dir, "server.crt"),
		"--ca-cert="+filepath.Join(dir, "server-ca.crt"), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(context.Background(), 10*time.Second, "ovsdb-server listening on "+fmt.Sprint(port), func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("ovsdb-server exited: %s", p.LogTail(10))
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSConnectionToOVN(t *testing.T) {
	requireOVSDB(t)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "obgp-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "nb.db")
	if _, err := lab.Run(ctx, "", nil, "ovsdb-tool", "create", db, "/usr/share/ovn/ovn-nb.ovsschema"); err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, "ovn-test-ca-1")
	writeFile(t, filepath.Join(dir, "server-ca.crt"), ca.pem)
	writeFile(t, filepath.Join(dir, "ca.crt"), ca.pem)
	ca.issue(t, "ovsdb-server", filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	ca.issue(t, "ovn-bgp-agent", filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	port := freePort(t)
	server := sslServer(t, dir, db, port)
	t.Cleanup(func() { server.Stop(5 * time.Second) })

	files := config.TLS{PrivateKey: filepath.Join(dir, "client.key"), Certificate: filepath.Join(dir, "client.crt"), CACert: filepath.Join(dir, "ca.crt")}
	r := remote{conn: fmt.Sprintf("ssl:127.0.0.1:%d", port), tls: files}
	nbctl := func(args ...string) {
		t.Helper()
		if _, err := lab.Run(ctx, "", nil, append([]string{"ovn-nbctl", "--db=unix:" + filepath.Join(dir, "nb.sock")}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := dialNB(dialCtx, r, &events{db: "NB", trigger: func(string) {}}, log)
	if err != nil {
		t.Fatalf("connect over TLS: %v", err)
	}
	defer c.Close()
	nbctl("ls-add", "over-tls")
	waitSwitch(t, c, "over-tls")

	// A CA that did not sign the server's certificate is refused, with a message saying so.
	other := newCA(t, "someone-else")
	writeFile(t, filepath.Join(dir, "other-ca.crt"), other.pem)
	bad := remote{conn: r.conn, tls: config.TLS{PrivateKey: files.PrivateKey, Certificate: files.Certificate, CACert: filepath.Join(dir, "other-ca.crt")}}
	shortCtx, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if c2, err := dialOnce(shortCtx, bad); err == nil {
		c2.Close()
		t.Error("a client trusting another CA connected")
	} else if !strings.Contains(err.Error(), "not signed by the CA") {
		t.Errorf("want an error naming the CA mismatch, got %v", err)
	}

	// Rotate everything in place to a new CA and restart the server: the running client
	// reconnects with the new files, without being restarted.
	server.Stop(5 * time.Second)
	ca2 := newCA(t, "ovn-test-ca-2")
	writeFile(t, filepath.Join(dir, "server-ca.crt"), ca2.pem)
	ca2.issue(t, "ovsdb-server", filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	ca2.issue(t, "ovn-bgp-agent", files.Certificate, files.PrivateKey)
	writeFile(t, files.CACert, ca2.pem)
	server = sslServer(t, dir, db, port)
	nbctl("ls-add", "after-rotation")
	waitSwitch(t, c, "after-rotation")
}

// dialOnce connects once, without retrying, for the negative case.
func dialOnce(ctx context.Context, r remote) (client.Client, error) {
	m, err := model.NewClientDBModel("OVN_Northbound", map[string]model.Model{nbdb.LogicalSwitchTable: &nbdb.LogicalSwitch{}})
	if err != nil {
		return nil, err
	}
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(r.conn), client.WithTLSConfig(tlsConfig(r.tls)))
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func waitSwitch(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := lab.Poll(context.Background(), 30*time.Second, "switch "+name+" in the TLS client's cache", func() (bool, error) {
		var ls []nbdb.LogicalSwitch
		// Bounded: a disconnected client's List waits for the reconnect.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.List(ctx, &ls); err != nil {
			return false, err
		}
		for _, s := range ls {
			if s.Name == name {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// An ssl: remote without TLS files (an SB remote from the local OVS, say) uses upstream's
// default paths, and a missing default file is an error that names it.
func TestSSLWithoutFilesUsesUpstreamDefaults(t *testing.T) {
	if _, err := os.Stat(config.UpstreamCertificate); err == nil {
		t.Skipf("%s exists on this machine", config.UpstreamCertificate)
	}
	_, err := tlsConfig(config.TLS{}.ForSSL()).GetClientCertificate(nil)
	if err == nil || !strings.Contains(err.Error(), config.UpstreamCertificate) || !strings.Contains(err.Error(), config.UpstreamPrivateKey) {
		t.Errorf("want an error naming upstream's default files, got %v", err)
	}
}
