// Package lzstring implements the base64 form of lz-string, the LZW-style string
// compression that PostHog's JavaScript clients apply before sending events with
// `compression=lz64`. It matches lz-string 1.5's compressToBase64 and
// decompressFromBase64 bit for bit.
//
// lz-string works on UTF-16 code units, as JavaScript strings do; this package
// converts from and to UTF-8 Go strings at the edges.
package lzstring

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// alphabet is the base64 alphabet lz-string uses; '=' pads and decodes to 64.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

// ErrTooLarge is returned (wrapped) when the decompressed text would exceed the caller's limit.
var ErrTooLarge = errors.New("lzstring: decompressed data exceeds limit")

// ErrCorrupt is returned (wrapped) when the input is not valid lz-string base64.
var ErrCorrupt = errors.New("lzstring: corrupt input")

// reverse maps an alphabet byte to its 6-bit value plus one; zero means "not in the alphabet".
var reverse = func() (t [256]uint8) {
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = uint8(i + 1)
	}
	return t
}()

// DecompressFromBase64 undoes lz-string's compressToBase64. It fails with an
// error wrapping ErrTooLarge as soon as the output would pass maxBytes bytes of
// UTF-8 (maxBytes <= 0 means no limit), and with ErrCorrupt on malformed input.
// Like the JavaScript original it accepts missing padding and treats a space as
// '+', which form decoding produces from an unescaped plus sign.
func DecompressFromBase64(input string, maxBytes int64) (string, error) {
	if input == "" {
		return "", fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	vals := make([]uint8, len(input))
	for i := 0; i < len(input); i++ {
		c := input[i]
		if c == ' ' {
			c = '+'
		}
		v := reverse[c]
		if v == 0 {
			return "", fmt.Errorf("%w: byte %q at offset %d is not base64", ErrCorrupt, input[i], i)
		}
		vals[i] = v - 1
	}
	units, err := decompress(vals, maxBytes)
	if err != nil {
		return "", err
	}
	out := string(utf16.Decode(units))
	if maxBytes > 0 && int64(len(out)) > maxBytes {
		return "", fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(out), maxBytes)
	}
	return out, nil
}

// bitReader reads lz-string's little-endian-within-symbol bit stream, six bits
// per input character, most significant bit of each character first.
type bitReader struct {
	vals     []uint8
	index    int   // next character to load
	val      uint8 // current character's value
	position uint8 // mask of the next bit in val
}

func (r *bitReader) read(n int) int {
	bits := 0
	for i := 0; i < n; i++ {
		if r.val&r.position != 0 {
			bits |= 1 << i
		}
		r.position >>= 1
		if r.position == 0 {
			r.position = 32
			r.val = 0
			if r.index < len(r.vals) {
				r.val = r.vals[r.index]
			}
			r.index++
		}
	}
	return bits
}

// span is a dictionary entry: every entry is a substring of the output so far.
type span struct{ start, n int }

// decompress is lz-string's _decompress with resetValue 32. Dictionary entries
// are kept as spans of the output, so memory stays proportional to the output,
// which the limit bounds.
func decompress(vals []uint8, maxBytes int64) ([]uint16, error) {
	r := &bitReader{vals: vals, val: vals[0], position: 32, index: 1}
	// A UTF-16 unit is at least one UTF-8 byte, so maxBytes also bounds units.
	limit := int(^uint(0) >> 1)
	if maxBytes > 0 && maxBytes < int64(limit) {
		limit = int(maxBytes)
	}
	var out []uint16
	dict := make([]span, 3, 64) // codes 0, 1, 2 are control codes, never entries
	enlargeIn, numBits := 4, 3

	switch r.read(2) {
	case 0:
		out = append(out, uint16(r.read(8)))
	case 1:
		out = append(out, uint16(r.read(16)))
	case 2:
		return nil, fmt.Errorf("%w: stream holds no text", ErrCorrupt)
	default:
		return nil, fmt.Errorf("%w: bad first token", ErrCorrupt)
	}
	dict = append(dict, span{0, 1})
	w := span{0, 1}

	for {
		if r.index > len(vals) {
			return nil, fmt.Errorf("%w: stream ended without an end marker", ErrCorrupt)
		}
		c := r.read(numBits)
		var entry span
		switch c {
		case 0, 1:
			width := 8
			if c == 1 {
				width = 16
			}
			if len(out)+1 > limit {
				return nil, fmt.Errorf("%w: more than %d code units", ErrTooLarge, limit)
			}
			// A literal becomes a dictionary entry and is emitted at once.
			entry = span{len(out), 1}
			dict = append(dict, entry)
			out = append(out, uint16(r.read(width)))
			enlargeIn--
			if enlargeIn == 0 {
				enlargeIn = 1 << numBits
				numBits++
			}
		case 2:
			return out, nil
		default:
			switch {
			case c < len(dict):
				e := dict[c]
				if len(out)+e.n > limit {
					return nil, fmt.Errorf("%w: more than %d code units", ErrTooLarge, limit)
				}
				entry = span{len(out), e.n}
				out = append(out, out[e.start:e.start+e.n]...)
			case c == len(dict):
				if len(out)+w.n+1 > limit {
					return nil, fmt.Errorf("%w: more than %d code units", ErrTooLarge, limit)
				}
				entry = span{len(out), w.n + 1}
				out = append(out, out[w.start:w.start+w.n]...)
				out = append(out, out[w.start])
			default:
				return nil, fmt.Errorf("%w: code %d refers past the dictionary (%d entries)", ErrCorrupt, c, len(dict))
			}
		}
		// w followed by the first unit of entry is contiguous in out.
		dict = append(dict, span{w.start, w.n + 1})
		enlargeIn--
		w = entry
		if enlargeIn == 0 {
			enlargeIn = 1 << numBits
			numBits++
		}
	}
}

// CompressToBase64 compresses s as lz-string's compressToBase64 does.
func CompressToBase64(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	w := &bitWriter{out: &b}
	compress(utf16.Encode([]rune(s)), w)
	res := b.String()
	switch len(res) % 4 {
	case 1:
		return res + "==="
	case 2:
		return res + "=="
	case 3:
		return res + "="
	}
	return res
}

// bitWriter emits six bits per output character, the first bit written being
// the most significant.
type bitWriter struct {
	out      *strings.Builder
	val      int
	position int
}

func (w *bitWriter) bit(b int) {
	w.val = w.val<<1 | b
	if w.position == 5 {
		w.position = 0
		w.out.WriteByte(alphabet[w.val])
		w.val = 0
		return
	}
	w.position++
}

// write emits the n low bits of v, least significant first.
func (w *bitWriter) write(v, n int) {
	for i := 0; i < n; i++ {
		w.bit(v & 1)
		v >>= 1
	}
}

// flush pads the last character with zero bits.
func (w *bitWriter) flush() {
	for {
		w.val <<= 1
		if w.position == 5 {
			w.out.WriteByte(alphabet[w.val])
			return
		}
		w.position++
	}
}

// compress is lz-string's _compress with bitsPerChar 6. Dictionary keys are
// UTF-16 unit sequences stored two bytes per unit, so lone surrogates survive.
func compress(units []uint16, w *bitWriter) {
	dict := map[string]int{}
	fresh := map[string]bool{} // single units whose literal has not been emitted yet
	cur := ""
	enlargeIn, dictSize, numBits := 2, 3, 2

	grow := func() {
		enlargeIn--
		if enlargeIn == 0 {
			enlargeIn = 1 << numBits
			numBits++
		}
	}
	emit := func(s string) {
		if fresh[s] {
			u := int(s[0])<<8 | int(s[1])
			if u < 256 {
				w.write(0, numBits)
				w.write(u, 8)
			} else {
				w.write(1, numBits)
				w.write(u, 16)
			}
			grow()
			delete(fresh, s)
		} else {
			w.write(dict[s], numBits)
		}
		grow()
	}

	for _, u := range units {
		c := string([]byte{byte(u >> 8), byte(u)})
		if _, ok := dict[c]; !ok {
			dict[c] = dictSize
			dictSize++
			fresh[c] = true
		}
		wc := cur + c
		if _, ok := dict[wc]; ok {
			cur = wc
			continue
		}
		emit(cur)
		dict[wc] = dictSize
		dictSize++
		cur = c
	}
	if cur != "" {
		emit(cur)
	}
	w.write(2, numBits)
	w.flush()
}
