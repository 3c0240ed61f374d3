package gencluster

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gencluster/gencluster/internal/keyproto"
)

// ParseKey reads a gossip key (16, 24 or 32 bytes) written as text, as
// GENCLUSTER_SECRET_KEY, GENCLUSTER_SECRET_KEY_FILE's file and
// examples/node's key API take it:
//
//	hex:<hex digits>         openssl rand -hex 32, prefixed with "hex:"
//	base64:<standard base64> openssl rand -base64 32, prefixed with "base64:"
//	<standard base64>        the base64 of a 16- or 32-byte key (24 or 44 characters)
//
// The unprefixed form is refused when it is ambiguous: 32 characters of
// base64 decode to a 24-byte key, but are as likely to be a 32-byte key
// written as is, and the two are different keys. Write base64: before
// the base64 of a 24-byte key. A key written as is (its characters are
// the key) is not a form ParseKey reads: encode it, with hex: or base64:.
//
// Surrounding white space is trimmed. Errors never contain the text.
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	enc, rest, prefixed := strings.Cut(text, ":")
	if !prefixed {
		return parseUnprefixedKey(text)
	}
	var (
		key []byte
		err error
	)
	switch enc {
	case "hex":
		if key, err = hex.DecodeString(rest); err != nil {
			return nil, errors.New("hex: not hexadecimal (value not shown)")
		}
	case "base64":
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			return nil, errors.New("base64: not standard base64 (value not shown)")
		}
	default:
		// The text before ':' is not shown: it may be part of a key
		// written as is.
		return nil, errors.New("unknown encoding prefix (value not shown): write hex:<hex digits> or base64:<standard base64>")
	}
	if err := keyproto.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("%s: %w", enc, err)
	}
	return key, nil
}

// encodeHint tells how to write a key whose characters are the key.
const encodeHint = "write the key encoded: hex:<hex digits> (openssl rand -hex 32) or base64:<standard base64> (openssl rand -base64 32)"

// parseUnprefixedKey reads the base64 form without a prefix, refusing the
// 32-character text that is also a 32-byte key, and hinting, for a text of
// a key's length that is not a key's base64, that it may be a raw key.
func parseUnprefixedKey(text string) ([]byte, error) {
	raw := len(text) == 16 || len(text) == 24 || len(text) == 32 // could be a key written as is
	key, err := base64.StdEncoding.DecodeString(text)
	switch {
	case err != nil && raw:
		return nil, fmt.Errorf("not standard base64 (value not shown); if its %d characters are the key itself, %s", len(text), encodeHint)
	case err != nil:
		return nil, fmt.Errorf("not standard base64 (value not shown); %s", encodeHint)
	case len(key) == 24:
		return nil, fmt.Errorf("ambiguous key (value not shown): its 32 characters could be a 32-byte key written as is, or the base64 of a 24-byte key; "+
			"if it is base64, write base64:<the same text>, else %s", encodeHint)
	}
	if err := keyproto.ValidateKey(key); err != nil {
		if raw {
			return nil, fmt.Errorf("read as base64, %w; if its %d characters are the key itself, %s", err, len(text), encodeHint)
		}
		return nil, fmt.Errorf("read as base64, %w", err)
	}
	return key, nil
}
