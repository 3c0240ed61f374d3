package seeds

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestMergeAsksConcurrently: the first backend answers only once the
// second has been asked, which a Merge that asks one after another would
// never do (it would wait for the first until the context's deadline).
// The answer keeps the backends' order, de-duplicated, and names the
// failing backend in the error.
func TestMergeAsksConcurrently(t *testing.T) {
	asked := make(chan struct{})
	first := Func(func(ctx context.Context) ([]string, error) {
		select {
		case <-asked:
			return []string{"10.0.0.1:7946", "10.0.0.2:7946"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	second := Func(func(context.Context) ([]string, error) {
		close(asked)
		return []string{"10.0.0.2:7946", "10.0.0.3:7946"}, nil
	})
	failing := Func(func(context.Context) ([]string, error) { return nil, errors.New("boom") })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := Merge(first, second, failing).Discover(ctx)
	want := []string{"10.0.0.1:7946", "10.0.0.2:7946", "10.0.0.3:7946"}
	if !slices.Equal(got, want) {
		t.Errorf("Discover = %v, want %v", got, want)
	}
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v, ctx.Err() = %v: want only the failing backend's error", err, ctx.Err())
	}
	if want := name(failing) + ": boom"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}
