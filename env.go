package gencluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gencluster/gencluster/seeds"
)

// The environment variables FromEnv reads. Each maps onto one option.
const (
	EnvName            = "GENCLUSTER_NAME"             // WithName
	EnvBindAddr        = "GENCLUSTER_BIND"             // WithBindAddr (a go-sockaddr template is allowed)
	EnvAdvertiseAddr   = "GENCLUSTER_ADVERTISE"        // WithAdvertiseAddr
	EnvSeeds           = "GENCLUSTER_SEEDS"            // WithSeedSpec (seeds.Parse syntax; see SeedRegistry for mdns+ and mcast+)
	EnvRefreshInterval = "GENCLUSTER_REFRESH_INTERVAL" // WithRefreshInterval (Go duration, or "infinity")
	EnvMeta            = "GENCLUSTER_META"             // WithMeta, as k=v,k=v
	EnvSecretKey       = "GENCLUSTER_SECRET_KEY"       // WithSecretKey, as ParseKey reads it: hex:..., base64:... or the base64 of 16 or 32 bytes (never echoed in errors)
	EnvSecretKeyFile   = "GENCLUSTER_SECRET_KEY_FILE"  // WithSecretKey, the key read from this file (a mounted Kubernetes Secret)
	EnvLabel           = "GENCLUSTER_LABEL"            // WithLabel
	EnvKeyMigration    = "GENCLUSTER_KEY_MIGRATION"    // true: the key is WithKeyringMigration's, not WithSecretKey's
	EnvSnapshot        = "GENCLUSTER_SNAPSHOT"         // WithSnapshot (a file path)
)

// FromEnv returns the options set by GENCLUSTER_* environment variables,
// so that a container is configured the way gen_cluster's sys.config
// configures a release, with no code change:
//
//	GENCLUSTER_NAME=api-1
//	GENCLUSTER_BIND={{ GetPrivateIP }}:7946
//	GENCLUSTER_ADVERTISE=10.0.0.5:7946
//	GENCLUSTER_SEEDS="dns+api-gossip.prod.svc.cluster.local:7946"
//	GENCLUSTER_REFRESH_INTERVAL=5s    (0 or "infinity" disables the refresh)
//	GENCLUSTER_META=zone=eu-1,version=1.4.2
//	GENCLUSTER_SECRET_KEY=$(head -c 32 /dev/urandom | base64)   (or hex:..., see ParseKey)
//	GENCLUSTER_SECRET_KEY_FILE=/etc/gossip/key   (instead of the above)
//	GENCLUSTER_LABEL=prod-api
//	GENCLUSTER_KEY_MIGRATION=true     (hold the key, gossip plaintext until KeyManager().Encrypt)
//	GENCLUSTER_SNAPSHOT=/var/lib/api/members.snap
//
// Unset or empty variables add no option, so the defaults (or options
// given before FromEnv's) apply; options after FromEnv's override them
// (except the key options: with a key variable set, a WithSecretKey,
// WithKeyring or WithKeyringMigration of the program's is an error, as
// any second key option is):
//
//	env, err := gencluster.FromEnv()
//	node, err := gencluster.Start(ctx, append(env, gencluster.WithLogger(l))...)
//
// GENCLUSTER_SEEDS is parsed with seeds.Default(), or with the Registry
// given with SeedRegistry: the mdns+ and mcast+ schemes need it.
//
// A malformed value is an error naming the variable and the value (never
// a key's), and so is a GENCLUSTER_* variable FromEnv does not read: a
// misspelt one (GENCLUSTER_SEED) would otherwise leave its setting at the
// default unnoticed, so the error names the closest variable it reads.
// Every error is reported at once, one a line.
func FromEnv(envOpts ...EnvOption) ([]Option, error) {
	vars := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return fromVars(vars, envOpts...)
}

// EnvOption configures how FromEnv reads the environment.
type EnvOption func(*envConfig) error

// envConfig is what the EnvOptions set.
type envConfig struct {
	seeds *seeds.Registry // parses GENCLUSTER_SEEDS; seeds.Default() unless SeedRegistry
}

// SeedRegistry makes FromEnv parse GENCLUSTER_SEEDS with r instead of
// seeds.Default(). Give it the Registry of a program that registered the
// backends that live in packages of their own (seeds/mdns, seeds/multicast)
// or schemes of its own, so that the environment can name them:
//
//	r := seeds.Default()
//	if err := mdns.Register(r); err != nil { ... }
//	env, err := gencluster.FromEnv(gencluster.SeedRegistry(r))
//
// Without it, a GENCLUSTER_SEEDS naming mdns+ or mcast+ is an error that
// says which package to import and register.
func SeedRegistry(r *seeds.Registry) EnvOption {
	return func(c *envConfig) error {
		if r == nil {
			return fmt.Errorf("SeedRegistry: nil Registry")
		}
		c.seeds = r
		return nil
	}
}

// fromVars is FromEnv reading vars instead of the environment.
func fromVars(vars map[string]string, envOpts ...EnvOption) ([]Option, error) {
	var (
		opts []Option
		errs = unknownVars(vars)
		ec   = envConfig{seeds: seeds.Default()}
	)
	for i, o := range envOpts {
		if o == nil {
			errs = append(errs, fmt.Errorf("EnvOption %d is nil", i))
			continue
		}
		if err := o(&ec); err != nil {
			errs = append(errs, err)
		}
	}
	get := func(key string) (string, bool) {
		v := strings.TrimSpace(vars[key])
		return v, v != ""
	}
	// check applies an option to a scratch config so that a bad value is
	// reported here, with the variable's name, not later by Start.
	add := func(key, val string, o Option) {
		var scratch config
		if err := o(&scratch); err != nil {
			errs = append(errs, inContext(fmt.Sprintf("%s=%q", key, val), err)...)
			return
		}
		opts = append(opts, o)
	}
	if v, ok := get(EnvName); ok {
		add(EnvName, v, WithName(v))
	}
	if v, ok := get(EnvBindAddr); ok {
		add(EnvBindAddr, v, WithBindAddr(v))
	}
	if v, ok := get(EnvAdvertiseAddr); ok {
		add(EnvAdvertiseAddr, v, WithAdvertiseAddr(v))
	}
	if v, ok := get(EnvSeeds); ok {
		add(EnvSeeds, v, withSeedSpec(ec.seeds, v))
	}
	if v, ok := get(EnvRefreshInterval); ok {
		d, err := parseInterval(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvRefreshInterval, v, err))
		} else {
			add(EnvRefreshInterval, v, WithRefreshInterval(d))
		}
	}
	if v, ok := get(EnvMeta); ok {
		m, err := parseMeta(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvMeta, v, err))
		} else {
			add(EnvMeta, v, WithMeta(m))
		}
	}
	if v, ok := get(EnvLabel); ok {
		add(EnvLabel, v, WithLabel(v))
	}
	if v, ok := get(EnvSnapshot); ok {
		add(EnvSnapshot, v, WithSnapshot(v))
	}
	if o, err := secretKeyFromEnv(get); err != nil {
		errs = append(errs, err)
	} else if o != nil {
		opts = append(opts, o)
	}
	if err := listErrors("gencluster: FromEnv: ", errs...); err != nil {
		return nil, err
	}
	return opts, nil
}

// parseInterval reads a Go duration, or "infinity" (gen_cluster's word
// for no refresh).
func parseInterval(s string) (time.Duration, error) {
	if s == "infinity" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 5s, or infinity")
	}
	return d, nil
}

// parseMeta reads k=v,k=v. Keys must be unique and non-empty; values may
// be empty but may not contain ','.
func parseMeta(s string) (map[string]string, error) {
	m := make(map[string]string)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %q: want key=value", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("key %q given twice", k)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m, nil
}

// secretKeyFromEnv reads GENCLUSTER_SECRET_KEY (see ParseKey), or the
// same text from the file GENCLUSTER_SECRET_KEY_FILE names, as a
// Kubernetes Secret is mounted (surrounding white space, such as a
// trailing newline, trimmed). With GENCLUSTER_KEY_MIGRATION=true the key
// is WithKeyringMigration's. Its errors name the variables and the file
// but never the value.
func secretKeyFromEnv(get func(string) (string, bool)) (Option, error) {
	v, ok := get(EnvSecretKey)
	path, fromFile := get(EnvSecretKeyFile)
	src := EnvSecretKey
	migrating := false
	if m, set := get(EnvKeyMigration); set {
		b, err := strconv.ParseBool(m)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: want true or false", EnvKeyMigration, m)
		}
		if b && !ok && !fromFile {
			return nil, fmt.Errorf("%s=%q needs the key: set %s or %s", EnvKeyMigration, m, EnvSecretKey, EnvSecretKeyFile)
		}
		migrating = b
	}
	switch {
	case ok && fromFile:
		return nil, fmt.Errorf("%s and %s are both set: give the key one way", EnvSecretKey, EnvSecretKeyFile)
	case fromFile:
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", EnvSecretKeyFile, path, err)
		}
		v = strings.TrimSpace(string(b)) // a trailing newline, as echo and editors leave
		src = fmt.Sprintf("%s=%q: the file", EnvSecretKeyFile, path)
		if v == "" {
			return nil, fmt.Errorf("%s is empty", src)
		}
	case !ok:
		return nil, nil
	}
	key, err := ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	o := WithSecretKey(key)
	if migrating {
		o = WithKeyringMigration(key)
	}
	if err := o(&config{}); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return o, nil
}
