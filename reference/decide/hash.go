package decide

import (
	"crypto/sha1" //nolint:gosec // PostHog's bucketing hash, not a security primitive
	"encoding/binary"
)

// longScale is PostHog's divisor: the largest 15-hex-digit number.
const longScale = float64(0xFFFFFFFFFFFFFFF)

// variantSalt is the salt PostHog appends when picking a multivariate variant.
const variantSalt = "variant"

// bucket returns PostHog's stable hash of "<key>.<distinctID><salt>" as a fraction in
// [0, 1]: the first 15 hex digits (60 bits) of its SHA-1, over 0xFFFFFFFFFFFFFFF.
func bucket(key, distinctID, salt string) float64 {
	buf := make([]byte, 0, 64)
	buf = append(buf, key...)
	buf = append(buf, '.')
	buf = append(buf, distinctID...)
	buf = append(buf, salt...)
	sum := sha1.Sum(buf) //nolint:gosec // see import
	return float64(binary.BigEndian.Uint64(sum[:8])>>4) / longScale
}
