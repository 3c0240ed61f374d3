package gencluster

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestFromEnvSecretKeyAndLabel(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	c := configFromEnv(t, map[string]string{
		EnvSecretKey: " " + base64.StdEncoding.EncodeToString(key) + "\n",
		EnvLabel:     "prod-api",
	})
	if c.label != "prod-api" {
		t.Errorf("label = %q", c.label)
	}
	if !bytes.Equal(primaryKey(c), key) || len(c.keys) != 1 || c.pendingKeys != nil {
		t.Errorf("keyring not set from %s", EnvSecretKey)
	}
}

func TestFromEnvSecretKeyErrorsHideTheValue(t *testing.T) {
	for _, tc := range []struct{ val, want string }{
		{"c2VjcmV0IQ==", "7 bytes"},      // "secret!": decodes, wrong length
		{"secret-not-base64!", "base64"}, // not base64
		{base64.StdEncoding.EncodeToString(make([]byte, 31)), "31 bytes"},
	} {
		_, err := fromVars(map[string]string{EnvSecretKey: tc.val})
		if err == nil {
			t.Errorf("%q: no error", tc.val)
			continue
		}
		if !strings.Contains(err.Error(), EnvSecretKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not name the variable and %q", tc.val, err, tc.want)
		}
		if strings.Contains(err.Error(), tc.val) || strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the secret", err)
		}
	}
	_, err := fromVars(map[string]string{EnvLabel: strings.Repeat("x", 300)})
	if err == nil || !strings.Contains(err.Error(), EnvLabel) {
		t.Errorf("long label: %v", err)
	}
}
