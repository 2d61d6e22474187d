package local

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// keyPair is a PEM certificate and its PEM private key.
type keyPair struct {
	Cert, Key []byte
}

// pki is a throwaway certificate authority with the certificates one control plane
// uses, written under dir.
type pki struct {
	dir     string
	ca      keyPair
	caCert  *x509.Certificate
	caKey   *ecdsa.PrivateKey
	serving keyPair
	// admin, controllerManager and scheduler are client certificates; kubeletClient is
	// the API server's, for its calls to kubelets (user kubeletClientUser, bound to
	// system:kubelet-api-admin by a real node's set-up).
	admin, controllerManager, scheduler, kubeletClient keyPair
}

// File paths the components are given.
func (p *pki) caFile() string          { return filepath.Join(p.dir, "ca.crt") }
func (p *pki) caKeyFile() string       { return filepath.Join(p.dir, "ca.key") }
func (p *pki) servingCertFile() string { return filepath.Join(p.dir, "apiserver.crt") }
func (p *pki) servingKeyFile() string  { return filepath.Join(p.dir, "apiserver.key") }
func (p *pki) saKeyFile() string       { return filepath.Join(p.dir, "sa.key") }
func (p *pki) saPubFile() string       { return filepath.Join(p.dir, "sa.pub") }

// newPKI generates a CA, the API server's serving certificate (valid for loopback and
// the in-cluster names and serviceIP), client certificates and the service-account
// signing key, and writes the files the components read.
func newPKI(dir string, serviceIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki directory %s: %w", dir, err)
	}
	p := &pki{dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "shakedown-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	p.caCert, _ = x509.ParseCertificate(caDER)
	p.caKey = caKey
	if p.ca.Key, err = keyPEM(caKey); err != nil {
		return nil, err
	}
	p.ca.Cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	p.serving, err = p.issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, serviceIP},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dst    *keyPair
		cn, og string
	}{
		{&p.admin, "shakedown-admin", "system:masters"},
		{&p.controllerManager, "system:kube-controller-manager", ""},
		{&p.scheduler, "system:kube-scheduler", ""},
		{&p.kubeletClient, kubeletClientUser, ""},
	} {
		if *c.dst, err = p.issueClient(c.cn, c.og); err != nil {
			return nil, err
		}
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}
	saKeyPEM, err := keyPEM(saKey)
	if err != nil {
		return nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode service-account public key: %w", err)
	}
	files := map[string][]byte{
		p.caFile():                p.ca.Cert,
		p.caKeyFile():             p.ca.Key,
		p.servingCertFile():       p.serving.Cert,
		p.servingKeyFile():        p.serving.Key,
		p.saKeyFile():             saKeyPEM,
		p.saPubFile():             pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
		p.kubeletClientCertFile(): p.kubeletClient.Cert,
		p.kubeletClientKeyFile():  p.kubeletClient.Key,
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return p, nil
}

// issueClient signs a client certificate for user cn in group org ("" for none).
func (p *pki) issueClient(cn, org string) (keyPair, error) {
	subj := pkix.Name{CommonName: cn}
	if org != "" {
		subj.Organization = []string{org}
	}
	return p.issue(&x509.Certificate{Subject: subj, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

// issue signs tmpl (subject, names and usages filled by the caller) with the CA.
func (p *pki) issue(tmpl *x509.Certificate) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate key for %s: %w", tmpl.Subject.CommonName, err)
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyData, err := keyPEM(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: keyData}, nil
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// nodeCerts are the certificates of a real node and of the API server's calls to it.
type nodeCerts struct {
	// kubelet is the kubelet's client certificate (system:node:<name>, for the Node
	// authorizer); kubeletServing its serving certificate for the node's address.
	kubelet, kubeletServing keyPair
	// kubeProxy is kube-proxy's client (system:kube-proxy, bound to system:node-proxier
	// by default); coreDNS reads Services, EndpointSlices, pods and namespaces (bound by
	// the node's set-up).
	kubeProxy, coreDNS keyPair
}

// kubeletClientUser is the API server's user towards kubelets.
const kubeletClientUser = "kube-apiserver-kubelet-client"

// CoreDNS's user, bound to a ClusterRole that lets it read what it serves.
const coreDNSUser = "shakedown:coredns"

// kubeletClientCertFile and kubeletClientKeyFile are the API server's client
// certificate for kubelets, written by newPKI.
func (p *pki) kubeletClientCertFile() string {
	return filepath.Join(p.dir, "apiserver-kubelet-client.crt")
}
func (p *pki) kubeletClientKeyFile() string {
	return filepath.Join(p.dir, "apiserver-kubelet-client.key")
}

// issueNodeCerts signs the real node's certificates for node name nodeIP.
func (p *pki) issueNodeCerts(nodeIP string) (nodeCerts, error) {
	var nc nodeCerts
	var err error
	ip := net.ParseIP(nodeIP)
	if nc.kubeletServing, err = p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:node:" + nodeIP, Organization: []string{"system:nodes"}},
		IPAddresses: []net.IP{ip},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return nc, err
	}
	for _, c := range []struct {
		dst    *keyPair
		cn, og string
	}{
		{&nc.kubelet, "system:node:" + nodeIP, "system:nodes"},
		{&nc.kubeProxy, "system:kube-proxy", ""},
		{&nc.coreDNS, coreDNSUser, ""},
	} {
		if *c.dst, err = p.issueClient(c.cn, c.og); err != nil {
			return nc, err
		}
	}
	return nc, nil
}
