//go:build realpeers

package realpeers

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// k8sBinDir is where build.sh puts etcd, kube-apiserver,
// kube-controller-manager, kwok and coredns.
func k8sBinDir() string {
	if d := os.Getenv("REALPEERS_BIN"); d != "" {
		return d
	}
	return "/var/cache/gencluster-realpeers/bin"
}

// k8sBinary returns the path of a binary build.sh made, failing the test
// with what to run when it is missing.
func k8sBinary(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(k8sBinDir(), name)
	if !k8sIsExec(p) {
		t.Fatalf("%s is missing from %s (or not executable): run test/realpeers/build.sh (or set REALPEERS_BIN)", name, k8sBinDir())
	}
	return p
}

func k8sIsExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// k8sFreePort returns a loopback TCP port that was free a moment ago.
func k8sFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func k8sRandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// k8sProc is one child process (etcd, kube-apiserver, ...), logging to a
// file in the test's directory.
type k8sProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has exited
	err  error         // its exit status, valid once done is closed
}

// k8sStart starts bin with args, logging to dir/name.log. The test's
// clean-up stops it (SIGTERM, then SIGKILL after 10s) and, when the test
// failed, prints the end of its log.
func k8sStart(t *testing.T, dir, name, bin string, env []string, args ...string) *k8sProc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, so that a Ctrl-C of go test reaches it only
	// through our clean-up, in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &k8sProc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- last lines of %s:\n%s", name, k8sTail(logPath, 40))
		}
	})
	return p
}

// exited returns an error when the process has exited, nil while it runs.
func (p *k8sProc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); its log ends:\n%s", p.name, p.err, k8sTail(p.log, 30))
	default:
		return nil
	}
}

// k8sTail returns the last n lines of a file.
func k8sTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// k8sPKI is the certificates and keys of one control plane, as files.
type k8sPKI struct {
	caPEM             []byte
	caFile            string
	certFile, keyFile string // kube-apiserver's serving certificate
	saKeyFile         string // signs and verifies service-account tokens
	clientPool        *x509.CertPool
}

// k8sWritePKI makes a CA, a serving certificate for 127.0.0.1 and
// localhost signed by it, and a service-account signing key, in dir.
func k8sWritePKI(t *testing.T, dir string) *k8sPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gencluster-realpeers-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &k8sPKI{
		caPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		caFile:    filepath.Join(dir, "ca.crt"),
		certFile:  filepath.Join(dir, "apiserver.crt"),
		keyFile:   filepath.Join(dir, "apiserver.key"),
		saKeyFile: filepath.Join(dir, "sa.key"),
	}
	k8sWriteFile(t, p.caFile, p.caPEM)
	k8sWriteFile(t, p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}))
	k8sWriteFile(t, p.keyFile, k8sECKeyPEM(t, srvKey))
	k8sWriteFile(t, p.saKeyFile, k8sECKeyPEM(t, saKey))
	p.clientPool = x509.NewCertPool()
	p.clientPool.AddCert(caCert)
	return p
}

func k8sECKeyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func k8sWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// httpClient returns a client that trusts only the test CA.
func (p *k8sPKI) httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: p.clientPool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// k8sKubeconfig writes a kubeconfig that reaches server with token.
func k8sKubeconfig(t *testing.T, path, server, caFile, token string) {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: realpeers\n  cluster:\n    server: %s\n    certificate-authority: %s\n", server, caFile)
	fmt.Fprintf(&b, "users:\n- name: u\n  user:\n    token: %s\n", strconv.Quote(token))
	b.WriteString("contexts:\n- name: realpeers\n  context:\n    cluster: realpeers\n    user: u\ncurrent-context: realpeers\n")
	k8sWriteFile(t, path, b.Bytes())
}

func k8sMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func k8sReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// k8sFigure prints one measured figure as a line "FIGURE name=value" on
// standard output (greppable in the CI log, -v or not), durations in
// seconds.
func k8sFigure(t *testing.T, name string, value any) {
	t.Helper()
	if d, ok := value.(time.Duration); ok {
		value = fmt.Sprintf("%.3fs", d.Seconds())
	}
	fmt.Printf("FIGURE %s=%v\n", name, value)
}
