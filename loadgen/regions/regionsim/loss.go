package regionsim

import (
	"math/rand/v2"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// lossToxicType names the loss toxic in toxiproxy's registry. Toxiproxy has no
// per-request loss (its toxicity is drawn once per connection, and a benchmark keeps
// its connections alive), so regionsim registers its own.
const lossToxicType = "shakedown_loss"

func init() {
	toxics.Register(lossToxicType, new(lossToxic))
}

// lossToxic drops each chunk with probability Probability and then closes the stream,
// which closes the connection: the request is lost and the client gets no reply.
type lossToxic struct {
	Probability float64 `json:"probability"`
}

func (t *lossToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if rand.Float64() < t.Probability {
				stub.Close()
				drain(stub)
				return
			}
			stub.Output <- c
		}
	}
}

// drain discards what the client still sends until its side ends, so that the
// proxy's reader is never left blocked on a closed stream.
func drain(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				return
			}
		}
	}
}
