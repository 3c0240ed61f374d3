package gencluster

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestFromEnvUnknownVariable: a GENCLUSTER_* variable FromEnv does not
// read is a typo to report, naming the closest variable it does read.
func TestFromEnvUnknownVariable(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"GENCLUSTER_SEED", EnvSeeds},
		{"GENCLUSTER_SECRETKEY", EnvSecretKey},
		{"GENCLUSTER_BIND_ADDR", EnvBindAddr},
		{"GENCLUSTER_refresh_interval", EnvRefreshInterval},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, "x")
			_, err := FromEnv()
			if err == nil {
				t.Fatalf("FromEnv accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "did you mean "+tc.want+"?") {
				t.Errorf("error %q does not name %s and suggest %s", err, tc.name, tc.want)
			}
		})
	}
}

// TestEnvVarsListsEveryConstant: every GENCLUSTER_* constant of the
// package is in envVars, which FromEnv accepts; a new variable left out of
// it would be refused as unknown.
func TestEnvVarsListsEveryConstant(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(x ast.Node) bool {
			gd, ok := x.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				return true
			}
			for _, sp := range gd.Specs {
				for _, v := range sp.(*ast.ValueSpec).Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					if s, _ := strconv.Unquote(lit.Value); strings.HasPrefix(s, "GENCLUSTER_") {
						n++
						if !slices.Contains(envVars, s) {
							t.Errorf("%s is not in envVars: FromEnv would refuse it", s)
						}
					}
				}
			}
			return false
		})
	}
	if n != len(envVars) || n < 11 {
		t.Errorf("found %d GENCLUSTER_* constants, envVars has %d", n, len(envVars))
	}
}
