package godiscover

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fakeCloud answers, on 127.0.0.1 only, for the cloud API hosts that
// go-discover's providers call without an endpoint setting (Azure's ARM
// and login hosts, Google's compute API). It is an HTTPS proxy
// (HTTPS_PROXY points at it) that never dials out: a CONNECT to an
// allowed host is answered by its own TLS server, with a certificate of a
// test CA that SSL_CERT_FILE makes the only trusted one; a CONNECT to any
// other host is refused and recorded, and the test that caused it fails.
// The AWS provider has an endpoint setting and the GCE token URL comes
// from the credentials file: those point straight at httptest servers on
// 127.0.0.1.
type fakeCloud struct {
	proxy *http.Server
	inner *http.Server
	conns chan net.Conn
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey

	mu       sync.Mutex
	handlers map[string]http.Handler // by host
	refused  []string
	certs    map[string]*tls.Certificate
}

func startFakeCloud(dir string) (*fakeCloud, error) {
	c := &fakeCloud{conns: make(chan net.Conn), handlers: map[string]http.Handler{}, certs: map[string]*tls.Certificate{}}
	if err := c.makeCA(dir); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.proxy = &http.Server{Handler: http.HandlerFunc(c.connect), ReadHeaderTimeout: 5 * time.Second}
	go c.proxy.Serve(ln)
	c.inner = &http.Server{
		Handler:           http.HandlerFunc(c.serve),
		TLSConfig:         &tls.Config{GetCertificate: c.cert, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go c.inner.ServeTLS(&chanListener{c: c.conns, addr: ln.Addr()}, "", "")
	os.Setenv("HTTPS_PROXY", "http://"+ln.Addr().String())
	os.Setenv("HTTP_PROXY", "http://"+ln.Addr().String())
	os.Setenv("NO_PROXY", "")
	return c, nil
}

// makeCA makes the test CA and makes it the process's only trusted root.
func (c *fakeCloud) makeCA(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "godiscover test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if c.ca, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	c.caKey = key
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	os.Setenv("SSL_CERT_FILE", path)
	os.Setenv("SSL_CERT_DIR", dir)
	return nil
}

// cert issues a certificate for the SNI name.
func (c *fakeCloud) cert(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert := c.certs[hello.ServerName]; cert != nil {
		return cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hello.ServerName},
		DNSNames:  []string{hello.ServerName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		return nil, err
	}
	cert := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	c.certs[hello.ServerName] = cert
	return cert, nil
}

// connect is the proxy: CONNECT to an allowed host:443 goes to the inner
// TLS server; everything else is refused.
func (c *fakeCloud) connect(w http.ResponseWriter, r *http.Request) {
	host, port, _ := net.SplitHostPort(r.Host)
	allowed := r.Method == http.MethodConnect && port == "443"
	if allowed {
		c.mu.Lock()
		allowed = c.handlers[host] != nil
		c.mu.Unlock()
	}
	if !allowed {
		c.mu.Lock()
		c.refused = append(c.refused, r.Method+" "+r.Host+r.URL.Path)
		c.mu.Unlock()
		http.Error(w, "the test proxy does not go out", http.StatusForbidden)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	c.conns <- &bufConn{Conn: conn, r: buf.Reader}
}

// serve routes a request the inner server received by its host.
func (c *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	c.mu.Lock()
	h := c.handlers[host]
	c.mu.Unlock()
	if h == nil {
		http.Error(w, "no handler for "+host, http.StatusNotFound)
		return
	}
	h.ServeHTTP(w, r)
}

// handle serves host with h until the returned function is called, which
// also returns the requests the proxy refused meanwhile.
func (c *fakeCloud) handle(hosts map[string]http.Handler) (done func() []string) {
	c.mu.Lock()
	c.refused = nil
	for host, h := range hosts {
		c.handlers[host] = h
	}
	c.mu.Unlock()
	return func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		for host := range hosts {
			delete(c.handlers, host)
		}
		return c.refused
	}
}

func (c *fakeCloud) close() {
	c.proxy.Close()
	c.inner.Close()
}

// chanListener hands the proxy's hijacked connections to the inner server.
type chanListener struct {
	c    chan net.Conn
	addr net.Addr
	once sync.Once
	done chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	l.once.Do(func() { l.done = make(chan struct{}) })
	select {
	case conn := <-l.c:
		return conn, nil
	case <-l.done:
		return nil, errors.New("closed")
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { l.done = make(chan struct{}) })
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// bufConn reads first what the proxy's reader buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
