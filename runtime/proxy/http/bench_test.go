package httpproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
)

// bulkServer serves /n bytes for /n, with a Content-Length, or chunked
// under /chunked/n.
func bulkServer(b *testing.B) *httptest.Server {
	chunk := make([]byte, 32<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		var err error
		if s, ok := strings.CutPrefix(r.URL.Path, "/chunked/"); ok {
			n, err = strconv.Atoi(s)
		} else {
			n, err = strconv.Atoi(r.URL.Path[1:])
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchGet fetches path from the bulk server through the proxy b.N times
// on one kept-alive client connection.
func benchGet(b *testing.B, path string, size int) {
	e := proxytest.New(b, proxytest.Table(b, []string{"net allowed.fence.test"}, nil), nil)
	srv := bulkServer(b)
	u := fmt.Sprintf("http://allowed.fence.test:%d%s", proxytest.Port(srv.Listener.Addr()), path)
	c := e.Client()
	tr := c.Transport.(*http.Transport)
	tr.DisableKeepAlives = false
	tr.DisableCompression = true
	b.Cleanup(tr.CloseIdleConnections)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := c.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(size) || resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d, %d bytes, %v", u, resp.StatusCode, n, err)
		}
	}
}

// BenchmarkPlainSmall is the cost of one small plain request: decision,
// upstream round trip, answer.
func BenchmarkPlainSmall(b *testing.B) { benchGet(b, "/100", 100) }

// BenchmarkPlainBulk and BenchmarkPlainBulkChunked are the throughput of
// a 64 MiB body through the proxy.
func BenchmarkPlainBulk(b *testing.B) { benchGet(b, "/67108864", 64<<20) }

func BenchmarkPlainBulkChunked(b *testing.B) { benchGet(b, "/chunked/67108864", 64<<20) }
