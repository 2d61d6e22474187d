package integration

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// ControlPlaneMemory is what one local control plane with the chart
// installed needs, with headroom.
const ControlPlaneMemory = 1536 << 20

// reserveMemory is left for everything else on the machine.
const reserveMemory = 2 << 30

// parallelVersions is how many control planes fit in the available memory,
// between 1 and want.
func parallelVersions(want int) int {
	avail := memAvailable()
	n := want
	if avail > 0 {
		n = int((avail - reserveMemory) / ControlPlaneMemory)
	}
	return max(1, min(n, want))
}

// memAvailable is MemAvailable from /proc/meminfo in bytes, 0 when unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
