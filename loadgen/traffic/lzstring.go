package traffic

import (
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

// lzAlphabet is the base64 alphabet lz-string's compressToBase64 writes.
const lzAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// lzCompressor is lz-string's compressToBase64 (1.5) with reusable state: the
// same output as reference/payload/lzstring.CompressToBase64 (the tests compare
// them) at about a tenth of its cost. The dictionary is a hash table from (code
// of the current phrase, next UTF-16 unit) to the code of the longer phrase, so a
// lookup costs a multiply and a probe instead of building a string; the table and
// the buffers are kept from call to call. Not safe for concurrent use.
type lzCompressor struct {
	// slots[:size] hold the dictionary's phrases of two units or more, by (code of
	// the phrase without its last unit, last unit): key<<24 | code, 0 when empty
	// (see lzKey). Eight bytes a slot keep the table in the cache.
	slots []uint64
	size  int
	used  int
	shift uint
	// The codes of single units below 256, valid where singleGen is sgen; other
	// single units are in the table under phrase code -1.
	single    [256]int32
	singleGen [256]uint32
	sgen      uint32
	// Single units whose literal is still to be written: below 256 where
	// freshGen is sgen, others in wideFresh.
	freshGen  [256]uint32
	wideFresh map[uint16]bool
	units     []uint16
	live      []uint64 // scratch of insert's growth
}

// lzMaxUnits bounds the inputs of the packed table (codes and phrase codes take
// 24 bits); longer inputs go to reference/payload/lzstring.
const lzMaxUnits = 1 << 22

// appendBase64 appends the lz-string base64 compression of s (UTF-8, taken as the
// UTF-16 units JavaScript would see) to dst.
func (z *lzCompressor) appendBase64(dst []byte, s []byte) []byte {
	if len(s) == 0 {
		return dst
	}
	if len(s) > lzMaxUnits {
		return append(dst, lzstring.CompressToBase64(string(s))...)
	}
	ascii := true
	for _, c := range s {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	start := len(dst)
	var out []byte
	if ascii { // a byte is a unit: no conversion
		out = lzCompress(z, dst, s)
	} else {
		z.units = appendUTF16(z.units[:0], s)
		out = lzCompress(z, dst, z.units)
	}
	for (len(out)-start)%4 != 0 {
		out = append(out, '=')
	}
	return out
}

// lzCompress is lz-string's _compress with six bits per character.
func lzCompress[U uint8 | uint16](z *lzCompressor, dst []byte, units []U) []byte {
	z.reset(len(units))
	w := lzBits{out: dst}
	var (
		phrase    int32 = -1 // code of the phrase so far; none yet
		unit      int32 = -1 // its unit when it is a single one
		enlargeIn       = 2
		dictN     int32 = 3
		numBits         = 2
	)
	for _, u := range units {
		c, ok := z.singleCode(uint16(u))
		if !ok {
			c = dictN
			z.setSingle(uint16(u), c)
			dictN++
		}
		if phrase < 0 {
			phrase, unit = c, int32(u)
			continue
		}
		if next, ok := z.lookup(phrase, uint16(u)); ok {
			phrase, unit = next, -1
			continue
		}
		z.emit(&w, phrase, unit, &enlargeIn, &numBits)
		z.insert(phrase, uint16(u), dictN)
		dictN++
		phrase, unit = c, int32(u)
	}
	if phrase >= 0 {
		z.emit(&w, phrase, unit, &enlargeIn, &numBits)
	}
	w.write(2, numBits)
	w.flush()
	return w.out
}

// emit writes the phrase of code (a single unit when unit >= 0): the unit itself
// the first time a single unit is written, its code otherwise. The code width
// grows as lz-string's does.
func (z *lzCompressor) emit(w *lzBits, code, unit int32, enlargeIn, numBits *int) {
	if unit >= 0 && z.takeFresh(uint16(unit)) {
		if unit < 256 {
			w.write(0, *numBits)
			w.write(uint32(unit), 8)
		} else {
			w.write(1, *numBits)
			w.write(uint32(unit), 16)
		}
		if *enlargeIn--; *enlargeIn == 0 {
			*enlargeIn = 1 << *numBits
			*numBits++
		}
	} else {
		w.write(uint32(code), *numBits)
	}
	if *enlargeIn--; *enlargeIn == 0 {
		*enlargeIn = 1 << *numBits
		*numBits++
	}
}

// appendUTF16 appends the UTF-16 units of s, as Go's []rune conversion and
// utf16.Encode make them (invalid UTF-8 becomes U+FFFD).
func appendUTF16(units []uint16, s []byte) []uint16 {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			units = append(units, uint16(c))
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			units = append(units, uint16(r1), uint16(r2))
			continue
		}
		units = append(units, uint16(r))
	}
	return units
}

// reset empties the dictionary for an input of n units.
func (z *lzCompressor) reset(n int) {
	z.sgen++
	if z.sgen == 0 { // wrapped: every stale entry would look current
		clear(z.singleGen[:])
		clear(z.freshGen[:])
		z.sgen = 1
	}
	// About one phrase per three units: start at half full, grow if need be.
	z.clear(max(1024, 1<<bits.Len(uint(n*2/3))))
	clear(z.wideFresh)
}

// clear empties the table and sizes it to size slots (a power of two).
func (z *lzCompressor) clear(size int) {
	if len(z.slots) < size {
		z.slots = make([]uint64, size)
	} else {
		clear(z.slots[:size])
	}
	z.size, z.used = size, 0
	z.shift = uint(64 - bits.Len(uint(size-1)))
}

func (z *lzCompressor) singleCode(u uint16) (int32, bool) {
	if u < 256 {
		return z.single[u], z.singleGen[u] == z.sgen
	}
	return z.lookup(-1, u)
}

// setSingle adds a single unit, whose literal is then still to be written.
func (z *lzCompressor) setSingle(u uint16, code int32) {
	if u < 256 {
		z.single[u], z.singleGen[u], z.freshGen[u] = code, z.sgen, z.sgen
		return
	}
	z.insert(-1, u, code)
	if z.wideFresh == nil {
		z.wideFresh = map[uint16]bool{}
	}
	z.wideFresh[u] = true
}

// takeFresh reports whether u's literal is still to be written, and marks it
// written.
func (z *lzCompressor) takeFresh(u uint16) bool {
	if u < 256 {
		fresh := z.freshGen[u] == z.sgen
		z.freshGen[u] = 0
		return fresh
	}
	fresh := z.wideFresh[u]
	delete(z.wideFresh, u)
	return fresh
}

func lzKey(phrase int32, u uint16) uint64 { return uint64(phrase+1)<<16 | uint64(u) }

func (z *lzCompressor) lookup(phrase int32, u uint16) (int32, bool) {
	k := lzKey(phrase, u)
	mask := z.size - 1
	for i := int((k * 0x9e3779b97f4a7c15) >> z.shift); ; i = (i + 1) & mask {
		s := z.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>24 == k {
			return int32(s & (1<<24 - 1)), true
		}
	}
}

// insert adds a phrase, doubling the table past half full.
func (z *lzCompressor) insert(phrase int32, u uint16, code int32) {
	if 2*(z.used+1) > z.size {
		z.live = z.live[:0]
		for _, s := range z.slots[:z.size] {
			if s != 0 {
				z.live = append(z.live, s)
			}
		}
		z.clear(2 * z.size)
		for _, s := range z.live {
			z.put(s>>24, int32(s&(1<<24-1)))
		}
	}
	z.put(lzKey(phrase, u), code)
}

func (z *lzCompressor) put(k uint64, code int32) {
	mask := z.size - 1
	i := int((k * 0x9e3779b97f4a7c15) >> z.shift)
	for z.slots[i] != 0 {
		i = (i + 1) & mask
	}
	z.slots[i] = k<<24 | uint64(code)
	z.used++
}

// lzBits writes lz-string's bit stream: each value least significant bit first,
// six bits per output character, the first bit written the character's most
// significant.
type lzBits struct {
	out []byte
	acc uint64
	n   int
}

func (w *lzBits) write(v uint32, n int) {
	w.acc = w.acc<<n | bits.Reverse64(uint64(v))>>(64-n)
	w.n += n
	for w.n >= 6 {
		w.n -= 6
		w.out = append(w.out, lzAlphabet[(w.acc>>w.n)&63])
	}
}

// flush pads the last character with zero bits (a whole zero character when
// none is pending, as lz-string does).
func (w *lzBits) flush() {
	w.out = append(w.out, lzAlphabet[(w.acc<<(6-w.n))&63])
	w.acc, w.n = 0, 0
}
