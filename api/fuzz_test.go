package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// FuzzParseJobID: a job id either parses to a cluster >= 1 (and a proc >= 0 when
// given) that prints back to the same text, or is refused; it never panics.
func FuzzParseJobID(f *testing.F) {
	for _, s := range []string{"12", "12.0", "1.999", "0", "-1", "1.", ".1", "1.2.3", "a", "", "9223372036854775807.1", "01.02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, p, err := parseJobID(s)
		if err != nil {
			return
		}
		if c < 1 || p < -1 {
			t.Fatalf("%q parsed to %d.%d", s, c, p)
		}
		back := fmt.Sprint(c)
		if p >= 0 {
			back = fmt.Sprintf("%d.%d", c, p)
		}
		if c2, p2, err := parseJobID(back); err != nil || c2 != c || p2 != p {
			t.Fatalf("%q -> %q does not parse back: %d.%d %v", s, back, c2, p2, err)
		}
	})
}

// FuzzAppendJSONString: the streamed query reply's string encoding decodes to what
// encoding/json's own encoding decodes to, for any bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\\", "\x00\x7f", "ü", "\xff\xfe", "\u2028", "x\ny"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b, _ := json.Marshal(s)
		json.Unmarshal(b, &want)
		if got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	})
}

// FuzzFastJSON: whatever the fast decoders accept, encoding/json accepts too and decodes
// to the same value; and appendSubmitRequest's output decodes back to its request.
func FuzzFastJSON(f *testing.F) {
	f.Add([]byte(`{"submit_key":"k","expect_cluster":3,"clusters":[["A = \"x\"\n","B = 1"],[]]}`))
	f.Add([]byte(`{"ads":["ClusterId = 1\nProcId = 0\n","x\\ty"]}`))
	f.Add([]byte(` { "clusters" : [ ] , "expect_cluster" : -0 } `))
	f.Add([]byte(`{"submit_key":"k","expect_cluster":3,"clusters":[["ProcId = 0\n",""]],"common":["A = 1\n"]}`))
	f.Add([]byte(`{"clusters":[],"common":[]}`))
	f.Add([]byte(`{"submit_key":"\u00e9","expect_cluster":01}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, ok := fastSubmitRequest(b); ok {
			var want SubmitRequest
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("fast accepted %q, encoding/json: %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: fast %#v, encoding/json %#v", b, got, want)
			}
			// And the encoder: what it writes decodes to the request.
			var back SubmitRequest
			enc := appendSubmitRequest(nil, &got)
			if len(got.Common) == 0 {
				got.Common = nil // omitempty, as encoding/json writes it
			}
			if err := json.Unmarshal(enc, &back); err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("appendSubmitRequest(%#v) = %s, decodes to %#v, %v", got, enc, back, err)
			}
		}
		if got, ok := fastQueryResponse(b); ok {
			var want QueryResponse
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("fast accepted %q, encoding/json: %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: fast %#v, encoding/json %#v", b, got, want)
			}
		}
	})
}
