package bridge

import (
	"testing"
	"time"
)

func TestTimesRoundTrip(t *testing.T) {
	at := time.Unix(1796456133, 703630123)
	in := Times{{TimeInit, at}, {TimeReady, at.Add(1500 * time.Microsecond)}, {"", at}}
	out := DecodeTimes(in.Encode())
	if len(out) != len(in) {
		t.Fatalf("decoded %d stamps, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Name != in[i].Name || !out[i].At.Equal(in[i].At) {
			t.Errorf("stamp %d: got %v, want %v", i, out[i], in[i])
		}
	}
	if got, ok := out.At(TimeReady); !ok || got.Sub(at) != 1500*time.Microsecond {
		t.Errorf("At(ready) = %v, %v", got, ok)
	}
}

// The sandbox may send anything: a cut or garbled payload yields the
// stamps before the fault, and never panics.
func TestDecodeTimesMalformed(t *testing.T) {
	good := Times{{TimeInit, time.Unix(1, 2)}}.Encode()
	for _, b := range [][]byte{nil, {200}, {3, 'a'}, append(append([]byte{}, good...), 5, 'x', 'y')} {
		got := DecodeTimes(b)
		if len(b) > len(good) && len(got) != 1 {
			t.Errorf("DecodeTimes(%q) = %v, want the one good stamp", b, got)
		}
		if len(b) <= 2 && len(got) != 0 {
			t.Errorf("DecodeTimes(%q) = %v, want none", b, got)
		}
	}
	long := Times{{string(make([]byte, 300)), time.Unix(3, 0)}}
	if got := DecodeTimes(long.Encode()); len(got) != 1 || len(got[0].Name) != 255 {
		t.Errorf("a 300-byte name: got %d stamps", len(got))
	}
}
