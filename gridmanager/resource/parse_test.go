package resource

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseStatusAll(t *testing.T) {
	t.Parallel()
	tuple := []string{"i-1", "running", "tok", "key", "Client.UserInitiatedShutdown", "dns", "sfr-1", "annex"}
	nulls := []string{"i-2", "pending", "NULL", "null", "NULL", "", "NULL", "NULL"}
	for _, tc := range []struct {
		name    string
		res     []string
		want    []Instance
		wantErr string
	}{
		{"none", []string{"0"}, []Instance{}, ""},
		{"one", append([]string{"0"}, tuple...), []Instance{{"i-1", "running", "tok", "key", "Client.UserInitiatedShutdown", "dns", "sfr-1", "annex"}}, ""},
		{"nulls", append(append([]string{"0"}, tuple...), nulls...), []Instance{
			{"i-1", "running", "tok", "key", "Client.UserInitiatedShutdown", "dns", "sfr-1", "annex"},
			{ID: "i-2", State: "pending"}}, ""},
		{"seven", append([]string{"0"}, tuple[:7]...), nil, "7 values is not a whole number of 8-tuples"},
		{"nine", append(append([]string{"0"}, tuple...), "x"), nil, "9 values"},
		{"one value", []string{"0", "i-1"}, nil, "1 values"},
		{"no id", append([]string{"0"}, append([]string{"NULL"}, tuple[1:]...)...), nil, "tuple 1"},
		{"no state", append(append([]string{"0"}, tuple...), "i-3", "NULL", "", "", "", "", "", ""), nil, "tuple 2"},
		{"failure", []string{"1", "E_CURL_IO", "refused"}, nil, "EC2_VM_STATUS_ALL failed: E_CURL_IO: refused"},
		{"bare failure", []string{"1"}, nil, "failed"},
		{"failure with extra", []string{"1", "a", "b", "c"}, nil, "malformed failure"},
		{"bad status", []string{"2", "x"}, nil, `status "2"`},
		{"empty", nil, nil, "empty result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusAll(tc.res)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	var ce *CallError
	if _, err := parseStatusAll([]string{"1", "E_HTTP_RESPONSE_NOT_200 (401)", "AuthFailure"}); !errors.As(err, &ce) || ce.Code != "E_HTTP_RESPONSE_NOT_200 (401)" {
		t.Errorf("failure is not a CallError: %v", err)
	}
}

func TestParseStatusAllSpot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		res     []string
		want    []SpotRequest
		wantErr string
	}{
		{"none", []string{"0"}, []SpotRequest{}, ""},
		{"two", []string{"0", "sir-1", "open", "", "NULL", "pending-evaluation", "sir-2", "active", "tok", "i-9", "fulfilled"},
			[]SpotRequest{{ID: "sir-1", State: "open", StatusCode: "pending-evaluation"}, {"sir-2", "active", "tok", "i-9", "fulfilled"}}, ""},
		{"four", []string{"0", "sir-1", "open", "", "NULL"}, nil, "4 values is not a whole number of 5-tuples"},
		{"no id", []string{"0", "NULL", "open", "", "NULL", "x"}, nil, "tuple 1"},
		{"failure", []string{"1", "E_CURL_IO", "x"}, nil, "E_CURL_IO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusAllSpot(tc.res)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseServerType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		res  []string
		want string
		ok   bool
	}{
		{[]string{"0", "Amazon"}, "Amazon", true},
		{[]string{"0"}, "", false},
		{[]string{"0", "NULL"}, "", false},
		{[]string{"0", "a", "b"}, "", false},
		{[]string{"1", "E_CURL_IO", "x"}, "", false},
	} {
		got, err := parseServerType(tc.res)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseServerType(%q) = %q, %v", tc.res, got, err)
		}
	}
}

// FuzzParseStatusAll: any result line parses or errs, never panics; what parses accounts
// for every value.
func FuzzParseStatusAll(f *testing.F) {
	f.Add("0 i-1 running tok key NULL dns NULL NULL")
	f.Add("0 i-1 running")
	f.Add("1 E_CURL_IO refused")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		res := strings.Split(line, " ")
		if line == "" {
			res = nil
		}
		insts, err := parseStatusAll(res)
		if err == nil && (len(insts)*statusAllTuple != len(res)-1 || res[0] != "0") {
			t.Fatalf("%q parsed into %d instances", line, len(insts))
		}
		for _, in := range insts {
			if in.ID == "" || in.State == "" || strings.EqualFold(in.ID, "NULL") {
				t.Fatalf("%q: instance %+v", line, in)
			}
		}
		sp, err := parseStatusAllSpot(res)
		if err == nil && len(sp)*statusAllSpotTuple != len(res)-1 {
			t.Fatalf("%q parsed into %d spot requests", line, len(sp))
		}
		parseServerType(res)
	})
}

// BenchmarkParseStatusAll100k: one pass over 100,000 instances.
func BenchmarkParseStatusAll100k(b *testing.B) {
	const n = 100_000
	res := make([]string, 1, 1+n*statusAllTuple)
	res[0] = "0"
	for i := range n {
		res = append(res, fmt.Sprintf("i-%08x", i), "running", fmt.Sprintf("tok-%d", i), "NULL", "NULL",
			fmt.Sprintf("ec2-%d.example", i), "NULL", "NULL")
	}
	b.ReportAllocs()
	for b.Loop() {
		insts, err := parseStatusAll(res)
		if err != nil || len(insts) != n {
			b.Fatal(len(insts), err)
		}
	}
}
