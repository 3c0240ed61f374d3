package gencluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// TestFromEnvKeyEncodings: a key is read as base64 or hex when its
// encoding is stated, the documented unprefixed base64 of a 16- or
// 32-byte key still works, and a value that reads both as a key of its
// own characters and as base64 of another key is refused with the fix.
func TestFromEnvKeyEncodings(t *testing.T) {
	k16, k24, k32 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 24), bytes.Repeat([]byte{3}, 32)
	for _, tc := range []struct {
		val  string
		want []byte
	}{
		{base64.StdEncoding.EncodeToString(k16), k16}, // openssl rand -base64 16
		{base64.StdEncoding.EncodeToString(k32), k32}, // openssl rand -base64 32
		{"base64:" + base64.StdEncoding.EncodeToString(k24), k24},
		{"base64:" + base64.StdEncoding.EncodeToString(k32), k32},
		{"hex:" + hex.EncodeToString(k16), k16}, // openssl rand -hex 16
		{"hex:" + strings.ToUpper(hex.EncodeToString(k32)), k32},
	} {
		for _, env := range []map[string]string{
			{EnvSecretKey: tc.val},
			{EnvSecretKeyFile: keyFile(t, tc.val+"\n")},
		} {
			c := configFromEnv(t, env)
			if !bytes.Equal(primaryKey(c), tc.want) {
				t.Errorf("%q: the key is not the %d bytes it encodes", tc.val, len(tc.want))
			}
		}
	}
}

func TestFromEnvAmbiguousKey(t *testing.T) {
	for _, val := range []string{
		"0123456789abcdef0123456789abcdef",                             // 32 characters: a raw AES-256 key, or base64 of 24 bytes
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 24)), // openssl rand -base64 24: the same shape
	} {
		for _, env := range []map[string]string{
			{EnvSecretKey: val},
			{EnvSecretKeyFile: keyFile(t, val)},
		} {
			_, err := fromVars(env)
			if err == nil {
				t.Errorf("%q accepted: it is ambiguous", val)
				continue
			}
			for _, w := range []string{"32 characters", "base64:", "hex:"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q: error %q does not mention %q", val, err, w)
				}
			}
			if strings.Contains(err.Error(), val) {
				t.Errorf("error %q shows the key", err)
			}
		}
	}
	for _, tc := range []struct{ val, want string }{
		{"hex:0123", "hex: key is 2 bytes"},
		{"hex:zz" + strings.Repeat("0", 30), "hex: not hexadecimal"},
		{"base64:!!!", "base64: not standard base64"},
		{"0123456789abcdef", "16 characters"}, // a raw 16-byte key: base64 of 12 bytes
		{"Hex:" + strings.Repeat("0", 32), "unknown encoding prefix"},
	} {
		_, err := fromVars(map[string]string{EnvSecretKey: tc.val})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.val, err, tc.want)
		}
	}
}
