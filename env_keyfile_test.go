package gencluster

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func keyFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromEnvSecretKeyFile(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	// As a Kubernetes Secret created from a literal is mounted, and as
	// echo writes it: with a trailing newline.
	for _, content := range []string{base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(key) + "\n", base64.StdEncoding.EncodeToString(key) + "\r\n"} {
		c := configFromEnv(t, map[string]string{EnvSecretKeyFile: keyFile(t, content)})
		if !bytes.Equal(primaryKey(c), key) || len(c.keys) != 1 || c.pendingKeys != nil {
			t.Fatalf("%q: keyring not set from the file", content)
		}
	}
}

func TestFromEnvSecretKeyFileErrors(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{EnvSecretKeyFile: missing}, []string{EnvSecretKeyFile, missing, "no such file"}},
		{map[string]string{EnvSecretKeyFile: keyFile(t, "\n")}, []string{EnvSecretKeyFile, "empty"}},
		{map[string]string{EnvSecretKeyFile: keyFile(t, "not base64!")}, []string{EnvSecretKeyFile, "base64"}},
		{map[string]string{EnvSecretKeyFile: keyFile(t, base64.StdEncoding.EncodeToString(make([]byte, 20)))}, []string{EnvSecretKeyFile, "20 bytes"}},
		{map[string]string{EnvSecretKeyFile: keyFile(t, secret), EnvSecretKey: secret}, []string{EnvSecretKeyFile, EnvSecretKey, "both"}},
	} {
		_, err := fromVars(tc.env)
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tc.env, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "not base64!") {
			t.Errorf("error %q shows the key", err)
		}
	}
}

func TestFromEnvKeyMigration(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 16)
	c := configFromEnv(t, map[string]string{EnvSecretKey: base64.StdEncoding.EncodeToString(key), EnvKeyMigration: "true"})
	if len(c.pendingKeys) != 1 || !bytes.Equal(c.pendingKeys[0], key) || c.keys != nil {
		t.Fatal("GENCLUSTER_KEY_MIGRATION=true did not configure a migration")
	}
	for _, env := range []map[string]string{
		{EnvKeyMigration: "true"},
		{EnvKeyMigration: "soon", EnvSecretKey: base64.StdEncoding.EncodeToString(key)},
	} {
		if _, err := fromVars(env); err == nil || !strings.Contains(err.Error(), EnvKeyMigration) {
			t.Errorf("%v: %v, want an error naming %s", env, err, EnvKeyMigration)
		}
	}
}
