package ovn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// tlsConfig returns the client TLS configuration for ssl: remotes. The key pair and the CA are
// read from their files at every handshake, not once: certificates renewed in place (cert-
// manager, a rotated Secret) are used from the next reconnect without restarting the agent.
//
// Like OVS's own SSL clients, it verifies that the server's certificate chains to the CA and
// does not check the host name: OVN deployments address their databases by IP and issue
// certificates per node, not per address.
func tlsConfig(t config.TLS) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(t.Certificate, t.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("load client certificate %s (key %s): %w", t.Certificate, t.PrivateKey, err)
			}
			return &cert, nil
		},
		// Verification happens in VerifyConnection, against the CA file as it is now.
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(t.CACert, cs.PeerCertificates)
		},
	}
}

func verifyChain(caFile string, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read CA certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("CA certificate %s holds no PEM certificate", caFile)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("server certificate %q is not signed by the CA in %s: %w", chain[0].Subject, caFile, err)
	}
	return nil
}
