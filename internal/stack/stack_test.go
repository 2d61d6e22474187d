package stack

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteStateIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	want := Endpoints{CaptureURL: "http://127.0.0.1:1", Token: "phc_secret", ClickHouseUser: "u", ClickHousePassword: "pw",
		PostgresDSN: "postgres://app:pw@127.0.0.1:2/db"}
	// A stack.json left world-readable by an older version must not stay so.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile+".tmp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := WriteState(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %o, want 600: it holds the token and passwords", path, st.Mode().Perm())
	}
	fresh := filepath.Join(t.TempDir(), "new", "state")
	if _, err := WriteState(fresh, want); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir %s: mode %v, %v; want 700", fresh, st.Mode().Perm(), err)
	}
	got, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClickHouseUser != want.ClickHouseUser || got.ClickHousePassword != want.ClickHousePassword || got.Token != want.Token {
		t.Errorf("ReadState = %+v, want %+v", got, want)
	}
}
