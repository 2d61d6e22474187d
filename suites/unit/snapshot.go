package unit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"gopkg.in/yaml.v3"
)

// snapshotCompare is the outcome of comparing one value with its snapshot.
type snapshotCompare struct {
	passed          bool
	index           uint
	cached, current string
}

// snapshotCache holds one suite's __snapshot__/<suite>.snap file, in
// helm-unittest's format: test name -> 1-based match index -> YAML text.
type snapshotCache struct {
	mu       sync.Mutex
	file     string
	updating bool
	cached   map[string]map[uint]string
	current  map[string]map[uint]string
	inserted int
	changed  int
	compared int
}

// snapshotPath is where helm-unittest keeps a suite's snapshots.
func snapshotPath(suiteFile string) string {
	return filepath.Join(filepath.Dir(suiteFile), "__snapshot__", filepath.Base(suiteFile)+".snap")
}

// openSnapshots reads a suite's snapshot file if it exists.
func openSnapshots(suiteFile string, updating bool) (*snapshotCache, error) {
	s := &snapshotCache{file: snapshotPath(suiteFile), updating: updating, cached: map[string]map[uint]string{}, current: map[string]map[uint]string{}}
	data, err := os.ReadFile(s.file)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", s.file, err)
	}
	if err := yaml.Unmarshal(data, &s.cached); err != nil {
		return nil, fmt.Errorf("parse snapshot %s: %w (delete it and run with -u to recreate)", s.file, err)
	}
	if s.cached == nil {
		s.cached = map[string]map[uint]string{}
	}
	return s, nil
}

// compare checks v against the snapshot for (test, idx) and records it.
func (s *snapshotCache) compare(test string, idx uint, v any) snapshotCompare {
	cur := toYAML(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compared++
	cached, ok := s.cached[test][idx]
	r := snapshotCompare{index: idx, cached: cached, current: cur, passed: true}
	save := cur
	switch {
	case !ok:
		s.inserted++
	case cached != cur:
		s.changed++
		if !s.updating {
			r.passed = false
			save = cached
		}
	}
	if s.current[test] == nil {
		s.current[test] = map[uint]string{}
	}
	s.current[test][idx] = save
	return r
}

// failed counts snapshots that did not match (none when updating).
func (s *snapshotCache) failed() int {
	if s.updating {
		return 0
	}
	return s.changed
}

// vanished counts cached snapshots no test asked for this time.
func (s *snapshotCache) vanished() int {
	n := 0
	for test, byIdx := range s.cached {
		for idx := range byIdx {
			if _, ok := s.current[test][idx]; !ok {
				n++
			}
		}
	}
	return n
}

// store writes the file when snapshots were added, updated or vanished.
func (s *snapshotCache) store() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inserted == 0 && s.vanished() == 0 && !(s.updating && s.changed > 0) {
		return nil
	}
	if len(s.current) == 0 {
		if err := os.Remove(s.file); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove stale snapshot %s: %w", s.file, err)
		}
		return nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s.current); err != nil {
		return fmt.Errorf("encode snapshot %s: %w", s.file, err)
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o755); err != nil {
		return fmt.Errorf("create snapshot dir for %s: %w", s.file, err)
	}
	if err := os.WriteFile(s.file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write snapshot %s: %w", s.file, err)
	}
	return nil
}
