package payflow

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSameOriginOfPortsPastUint64: a port of more digits than a uint64
// holds is compared as written, not as the port it would wrap to: it is
// not the origin of the scheme's port nor of one that differs by a
// leading zero, and is its own.
func TestSameOriginOfPortsPastUint64(t *testing.T) {
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		require.NoError(t, err)
		return u
	}
	huge := parse("http://platform.example:18446744073709551696/v1/login") // 2^64 + 80
	assert.False(t, sameOrigin(huge, parse("http://platform.example/v1/login")))
	assert.False(t, sameOrigin(huge, parse("http://platform.example:80/v1/login")))
	assert.False(t, sameOrigin(huge, parse("http://platform.example:018446744073709551696/")))
	assert.True(t, sameOrigin(huge, parse("http://PLATFORM.example:18446744073709551696/other")))
	assert.True(t, sameOrigin(parse("http://platform.example:0080/"), parse("http://platform.example/")), "leading zeros dropped")
}
