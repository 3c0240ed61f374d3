package shard

import (
	"errors"
	"fmt"

	"github.com/gencluster/gencluster/membership"
)

// Option configures New.
type Option func(*config) error

// Filter reports whether a member may own keys. Filters see only members
// in StateAlive; a member owns keys when every filter given accepts it.
type Filter func(membership.Member) bool

type config struct {
	filters    []Filter
	weightMeta string // "" when members weigh the same
	zoneMeta   string // "" when replicas ignore zones
}

// WithFilter keeps only the members f accepts, e.g.
// WithFilter(MetaEquals("role", "worker")). Given several times, a member
// must pass every filter.
func WithFilter(f Filter) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("shard: WithFilter(nil)")
		}
		c.filters = append(c.filters, f)
		return nil
	}
}

// MetaEquals returns a Filter that accepts a member whose Meta[key] is
// value. A member without the key is refused (unless value is "" — an
// absent key reads as "", as in a Go map).
func MetaEquals(key, value string) Filter {
	return func(m membership.Member) bool { return m.Meta[key] == value }
}

// WithWeightMeta reads each member's weight from Meta[key]: a decimal
// number, finite and greater than 0 (e.g. "2" or "0.5"). A member of
// weight 2 owns, on average, twice the keys of a member of weight 1. A
// member that does not publish the key weighs 1, so that members started
// before the weights were published keep an ordinary share during a
// rollout; a value that does not parse, is not finite or is <= 0 makes New
// fail with an error that names the member and the value, rather than
// guess.
func WithWeightMeta(key string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("shard: WithWeightMeta: empty metadata key")
		}
		if c.weightMeta != "" && c.weightMeta != key {
			return fmt.Errorf("shard: WithWeightMeta given twice (%q and %q)", c.weightMeta, key)
		}
		c.weightMeta = key
		return nil
	}
}

// WithZoneMeta spreads the replicas of Owners over the zones named by
// Meta[key] (an availability zone, a rack, a host): Owners takes at most
// one member of each zone until every zone has one, then at most two of
// each, and so on. Members without the key share the zone "". Owner is
// not affected: the first of Owners is always Owner.
func WithZoneMeta(key string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("shard: WithZoneMeta: empty metadata key")
		}
		if c.zoneMeta != "" && c.zoneMeta != key {
			return fmt.Errorf("shard: WithZoneMeta given twice (%q and %q)", c.zoneMeta, key)
		}
		c.zoneMeta = key
		return nil
	}
}

// owns reports whether m may own keys: alive, and accepted by every
// filter. Alive is a positive test on purpose: a state added to
// membership later (a member draining before it leaves) is not
// StateAlive, so it owns nothing without a change here.
func (c *config) owns(m membership.Member) bool {
	if m.State != membership.StateAlive {
		return false
	}
	for _, f := range c.filters {
		if !f(m) {
			return false
		}
	}
	return true
}
