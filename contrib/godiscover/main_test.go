package godiscover

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// cloud is the local stand-in for the cloud APIs, shared by the tests:
// set up before any HTTP or TLS use, because Go reads HTTPS_PROXY and
// SSL_CERT_FILE once per process.
var cloud *fakeCloud

// TestMain points every way out of the process at 127.0.0.1 (see
// fakeCloud), runs the tests, stops the servers and then fails when any
// goroutine is left.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "godiscover-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cloud, err = startFakeCloud(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake cloud:", err)
		os.Exit(1)
	}
	// No credentials, configuration or metadata server of the machine's
	// may be used: only what each test gives.
	for k, v := range map[string]string{
		"HOME":                           dir,
		"AWS_CONFIG_FILE":                filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE":    filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":      "true",
		"AWS_ACCESS_KEY_ID":              "",
		"AWS_SECRET_ACCESS_KEY":          "",
		"AWS_REGION":                     "",
		"GOOGLE_APPLICATION_CREDENTIALS": "",
		"AZURE_ENVIRONMENT":              "",
		"KUBECONFIG":                     filepath.Join(dir, "no-kubeconfig"),
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	cloud.close()
	os.RemoveAll(dir)
	if code == 0 {
		// opencensus (pulled in by Google's API client) starts a worker
		// in its package init that never stops: not the tests'.
		if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
