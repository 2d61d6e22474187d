package capture

import (
	"context"
	"strings"
)

// TokenValidator decides whether a project API token may send events.
// An error means the check itself failed (the request gets 503, not 401).
type TokenValidator interface {
	Valid(ctx context.Context, token string) (bool, error)
}

// TokenValidatorFunc adapts a function to TokenValidator.
type TokenValidatorFunc func(ctx context.Context, token string) (bool, error)

// Valid calls f.
func (f TokenValidatorFunc) Valid(ctx context.Context, token string) (bool, error) {
	return f(ctx, token)
}

// StaticTokens accepts exactly the tokens it holds.
type StaticTokens map[string]struct{}

// NewStaticTokens returns a StaticTokens holding tokens.
func NewStaticTokens(tokens ...string) StaticTokens {
	s := make(StaticTokens, len(tokens))
	for _, t := range tokens {
		s[t] = struct{}{}
	}
	return s
}

// Valid reports whether token is one of s.
func (s StaticTokens) Valid(_ context.Context, token string) (bool, error) {
	_, ok := s[token]
	return ok, nil
}

// AnyToken accepts every token that is not a personal API key (a local stack's setting).
type AnyToken struct{}

// Valid reports true for any token.
func (AnyToken) Valid(context.Context, string) (bool, error) { return true, nil }

// personalKeyPrefix starts PostHog personal API keys, which must never be used to capture.
const personalKeyPrefix = "phx_"

func isPersonalKey(token string) bool { return strings.HasPrefix(token, personalKeyPrefix) }
