package discovery

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gencluster/gencluster/seeds"
)

// background is a backend that works in the background and has metrics.
type background struct{ prometheus.Collector }

func (background) Discover(context.Context) ([]string, error) { return nil, nil }
func (background) Start(context.Context, string) (func(), error) {
	return func() {}, nil
}

// badConfig fails Validate.
type badConfig struct{}

func (badConfig) Discover(context.Context) ([]string, error) { return nil, nil }
func (badConfig) Validate() error                            { return errors.New("bad port") }

// TestResolve: a Merge is expanded into its parts, each named once with
// its Runner and Collector found; a backend given alone is itself.
func TestResolve(t *testing.T) {
	bg := background{prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})}
	got := Resolve(
		seeds.Merge(seeds.Static("10.0.0.1:7946"), bg),
		seeds.Func(func(context.Context) ([]string, error) { return nil, nil }),
		badConfig{},
	)
	if len(got) != 4 {
		t.Fatalf("Resolve = %d backends, want 4: %+v", len(got), got)
	}
	wantNames := []string{"static+10.0.0.1:7946", "discovery.background", "func", "discovery.badConfig"}
	for i, w := range wantNames {
		if got[i].Name != w {
			t.Errorf("backend %d: Name = %q, want %q", i, got[i].Name, w)
		}
	}
	if got[0].Runner != nil || got[0].Collector != nil {
		t.Errorf("static: Runner %v, Collector %v, want neither", got[0].Runner, got[0].Collector)
	}
	if got[1].Runner == nil || got[1].Collector == nil {
		t.Errorf("background: Runner %v, Collector %v, want both", got[1].Runner, got[1].Collector)
	}
	if err := got[3].Validate(); err == nil || !strings.Contains(err.Error(), "bad port") {
		t.Errorf("badConfig: Validate = %v, want its error", err)
	}
	if err := got[2].Validate(); err != nil {
		t.Errorf("func: Validate = %v, want nil (nothing to check)", err)
	}
	if err := Resolve(seeds.Static("nope"))[0].Validate(); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("static+nope: Validate = %v, want an error naming it", err)
	}
}
