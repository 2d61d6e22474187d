package capture

import (
	"errors"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
)

// errBudgetSpent fails a body read that would take the in-flight byte budget, or its
// client's share of it, past the limit; capture answers 503 overloaded.
var errBudgetSpent = errors.New("capture: in-flight body byte budget spent")

// budget is capture's in-flight byte budget, charged by the body bytes actually read
// (a request that declared 20 MB and sent one byte holds one byte), with a cap per
// client address on bytes and on requests so one client cannot take all of it.
type budget struct {
	mu                 sync.Mutex
	total, clientBytes int64
	clientReqs         int
	used               int64
	clients            map[string]*clientUse
}

// clientUse is one client address's share of the budget.
type clientUse struct {
	bytes int64
	reqs  int
}

func newBudget(total, clientBytes int64, clientReqs int) *budget {
	return &budget{total: total, clientBytes: clientBytes, clientReqs: clientReqs, clients: map[string]*clientUse{}}
}

// enter counts a request of client in; false when client has clientReqs already.
func (b *budget) enter(client string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.clients[client]
	if c == nil {
		c = &clientUse{}
		b.clients[client] = c
	}
	if c.reqs >= b.clientReqs {
		return false
	}
	c.reqs++
	return true
}

// charge adds n bytes read by a request of client; false (nothing charged) when
// that would pass the total or client's cap.
func (b *budget) charge(client string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.clients[client]
	if b.used+n > b.total || c.bytes+n > b.clientBytes {
		return false
	}
	b.used += n
	c.bytes += n
	return true
}

// leave ends a request of client that was charged n bytes.
func (b *budget) leave(client string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.clients[client]
	b.used -= n
	c.bytes -= n
	if c.reqs--; c.reqs == 0 {
		delete(b.clients, client)
	}
}

// chargedBody charges what is read through it to its client's budget and counts it.
type chargedBody struct {
	r      io.ReadCloser
	budget *budget
	client string
	n      atomic.Int64 // wire bytes read and charged
	extra  atomic.Int64 // charged for the decoded body beyond n (see chargeDecoded)
}

func (c *chargedBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if !c.budget.charge(c.client, int64(n)) {
			return 0, errBudgetSpent
		}
		c.n.Add(int64(n))
	}
	return n, err
}

func (c *chargedBody) Close() error { return c.r.Close() }

// chargeDecoded charges the budget for a body that decoded (gunzip, base64,
// lz-string) to n bytes of JSON: what it holds beyond the wire bytes already
// charged, so a small gzip body that inflates to 20 MB counts as 20 MB. n is
// at most the route's limit, so one request alone always fits the budget. It
// answers 503 overloaded when the charge does not fit.
func (c *chargedBody) chargeDecoded(n int) *apiError {
	extra := int64(n) - c.n.Load()
	if extra <= 0 {
		return nil
	}
	if !c.budget.charge(c.client, extra) {
		return unavailable("overloaded", "the request's body decodes to %d bytes, more than capture may hold at once now (or for this client); retry shortly", n)
	}
	c.extra.Add(extra)
	return nil
}

// charged is everything the request holds of the budget.
func (c *chargedBody) charged() int64 { return c.n.Load() + c.extra.Load() }

// fairnessKey is the client a request counts against for per-client caps: its
// address, or for IPv6 its /64, which one subscriber holds whole and could
// otherwise rotate through to escape the caps.
func fairnessKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
