package godiscover

import (
	"fmt"
	"net/url"
	"strings"

	discover "github.com/hashicorp/go-discover"

	"github.com/gencluster/gencluster/seeds"
)

// Scheme is the spec scheme Register adds.
const Scheme = "discover"

// Register adds the "discover" scheme to r, a Registry the program built
// (seeds.Default() or seeds.NewRegistry()); nothing is registered
// globally. Its spec form is go-discover's configuration with '&' between
// the pairs, so that it is one word, and the gossip port as port=:
//
//	discover+provider=aws&region=eu-west-1&tag_key=cluster&tag_value=chat&port=7946
//	discover+provider=k8s&namespace=chat&label_selector=app%3Dchat&port=7946
//
// Values are percent-encoded where they hold white space, '%', '&', '=',
// '?' or '#' (label_selector's '=' is %3D); a '+' is a '+', as Azure's
// base64 secrets need. opts apply to every Discoverer the scheme builds.
//
// Secrets in a spec end up in the program's configuration; prefer each
// provider's environment variables or instance credentials (AWS_*
// variables and instance roles, GOOGLE_APPLICATION_CREDENTIALS, ARM_*).
func Register(r *seeds.Registry, opts ...Option) error {
	if r == nil {
		return fmt.Errorf("godiscover: Register: nil Registry")
	}
	return r.Register(Scheme, func(text string) (seeds.Discoverer, error) {
		return parseSpec(text, opts)
	})
}

// parseSpec reads "key=value&key=value&...&port=N".
func parseSpec(text string, opts []Option) (seeds.Discoverer, error) {
	cfg := discover.Config{}
	port := 0
	for i, kv := range strings.Split(text, "&") {
		rawKey, rawVal, ok := strings.Cut(kv, "=")
		if !ok || rawKey == "" {
			// Not quoted: a pair without its key may be a secret.
			return nil, fmt.Errorf("godiscover: pair %d of %d: want key=value", i+1, strings.Count(text, "&")+1)
		}
		key, err := url.PathUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("godiscover: key %q: %w", rawKey, err)
		}
		val, err := url.PathUnescape(rawVal)
		if err != nil {
			return nil, fmt.Errorf("godiscover: %s: %w", key, err)
		}
		if _, dup := cfg[key]; dup || (key == "port" && port != 0) {
			return nil, fmt.Errorf("godiscover: %s given twice", key)
		}
		if key == "port" {
			if port, err = seeds.ParsePort(val); err != nil {
				return nil, fmt.Errorf("godiscover: %w", err)
			}
			continue
		}
		cfg[key] = val
	}
	if port == 0 {
		return nil, fmt.Errorf("godiscover: no port= (the gossip port of the addresses the provider returns)")
	}
	return New(cfg.String(), port, opts...), nil
}

// secretKey reports whether a go-discover key holds a credential.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "token", "password", "passwd", "api_key", "access_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redact replaces the values of secret keys in a go-discover
// configuration (or one spec pair) for an error message.
func redact(config string) string {
	cfg, err := discover.Parse(config)
	if err != nil {
		// Unparsable: show the keys only.
		var keys []string
		for _, f := range strings.FieldsFunc(config, func(r rune) bool { return r == ' ' || r == '&' }) {
			k, _, _ := strings.Cut(f, "=")
			keys = append(keys, k+"=...")
		}
		return strings.Join(keys, " ")
	}
	for k := range cfg {
		if secretKey(k) {
			cfg[k] = "REDACTED"
		}
	}
	return cfg.String()
}
