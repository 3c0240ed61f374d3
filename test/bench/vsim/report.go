package vsim

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Report is what TestVirtual writes (its -out flag) and benchplot reads.
type Report struct {
	When    time.Time         `json:"when"`
	Command string            `json:"command"`
	Flags   map[string]string `json:"flags"`
	CPUs    int               `json:"cpus"`
	Go      string            `json:"go"`
	Results []Result          `json:"results"`
}

// WriteReport writes rep to path as indented JSON.
func WriteReport(path string, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadReport reads a Report written by WriteReport.
func ReadReport(path string) (Report, error) {
	var rep Report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("vsim report %s: %w", path, err)
	}
	return rep, nil
}
