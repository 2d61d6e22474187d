package procs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// systemUser returns credentials for the first of names that exists when running as
// root, so that server is not run as root; it returns nil when not running as root.
func systemUser(server string, names ...string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return nil, fmt.Errorf("%s: user %s has uid %q: %w", server, name, u.Uid, err)
		}
		gid, err := strconv.Atoi(u.Gid)
		if err != nil {
			return nil, fmt.Errorf("%s: user %s has gid %q: %w", server, name, u.Gid, err)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, fmt.Errorf("%s will not run as root and none of the users %v exists: install the Debian package (make deps), which creates its user, or run as a normal user", server, names)
}

// giveDir makes dir private (0700) to the user the server runs as (cred; nil keeps the
// current user).
func giveDir(dir string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", dir, cred.Uid, err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make %s private (0700): %w", dir, err)
	}
	return nil
}

// writePrivate writes data to path with mode 0600, owned by cred's user (nil keeps
// the current user).
func writePrivate(path string, data []byte, cred *syscall.Credential) error {
	_ = os.Remove(path) // a leftover file would keep its old mode
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", path, cred.Uid, err)
		}
	}
	return nil
}

// newPassword returns 32 random hex digits: safe in a DSN, XML and SQL literals
// without escaping.
func newPassword() (string, error) { return NewPassword() }

// NewPassword returns 32 random hex digits, safe in any SQL literal or config file.
func NewPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
