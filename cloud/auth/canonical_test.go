package auth

import (
	"reflect"
	"testing"
)

func TestEscape(t *testing.T) {
	cases := []struct {
		in, query, path string
	}{
		{"", "", ""},
		{"AZaz09-_.~", "AZaz09-_.~", "AZaz09-_.~"},
		{"a b+c", "a%20b%2Bc", "a%20b%2Bc"},
		{"/x/y", "%2Fx%2Fy", "/x/y"},
		{"%41", "%2541", "%2541"},
		{"é", "%C3%A9", "%C3%A9"},
		{"*'()!", "%2A%27%28%29%21", "%2A%27%28%29%21"},
		{"\x00\xff", "%00%FF", "%00%FF"},
	}
	for _, c := range cases {
		if got := escape(c.in, false); got != c.query {
			t.Errorf("escape(%q, false) = %q, want %q", c.in, got, c.query)
		}
		if got := escape(c.in, true); got != c.path {
			t.Errorf("escape(%q, true) = %q, want %q", c.in, got, c.path)
		}
	}
}

func TestRemoveDotSegments(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a/./b/../c", "/a/c"},
		{"//a//b", "/a/b"},
		{"/..", "/"},
		{"/a/..", "/"},
		{"/a/../", "/"},
		{"/services/Cloud", "/services/Cloud"},
	}
	for _, c := range cases {
		if got := removeDotSegments(c.in); got != c.want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestV4URIs(t *testing.T) {
	cases := []struct {
		raw  string
		want []string
	}{
		{"", []string{"/"}},
		{"/", []string{"/"}},
		{"/services/Cloud", []string{"/services/Cloud"}},
		// aws-sdk-go-v2 (double), botocore (same here), boto 2 (single), as sent.
		{"/a%20b", []string{"/a%2520b", "/a%20b"}},
		{"/a/./b", []string{"/a/./b", "/a/b"}},
		{"//x", []string{"//x", "/x"}},
	}
	for _, c := range cases {
		if got := v4URIs(c.raw); !reflect.DeepEqual(got, c.want) {
			t.Errorf("v4URIs(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestFoldSpaces(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"  a  ", "a"},
		{"a   b  c", "a b c"},
		{"\ta b\t", "a b"},
		{"a\t\tb", "a\t\tb"}, // only spaces fold, as aws-sdk-go-v2 does
	}
	for _, c := range cases {
		if got := foldSpaces(c.in); got != c.want {
			t.Errorf("foldSpaces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseQueryAndCanonicalQuery(t *testing.T) {
	cases := []struct {
		raw       string
		want      pairs
		canonical string
		wantErr   bool
	}{
		{raw: "", canonical: ""},
		{raw: "Action=DescribeRegions&Version=2016-11-15", want: pairs{{"Action", "DescribeRegions"}, {"Version", "2016-11-15"}},
			canonical: "Action=DescribeRegions&Version=2016-11-15"},
		{raw: "b=2&a=1&a=0", want: pairs{{"b", "2"}, {"a", "1"}, {"a", "0"}}, canonical: "a=0&a=1&b=2"},
		{raw: "x=a+b%20c&y", want: pairs{{"x", "a b c"}, {"y", ""}}, canonical: "x=a%20b%20c&y="},
		{raw: "k=v;w", want: pairs{{"k", "v;w"}}, canonical: "k=v%3Bw"},
		{raw: "&&k=%7E", want: pairs{{"k", "~"}}, canonical: "k=~"},
		// sorted after encoding: "a%2Fb" < "a-b" although '/' > '-'
		{raw: "p=a-b&p=a/b", want: pairs{{"p", "a-b"}, {"p", "a/b"}}, canonical: "p=a%2Fb&p=a-b"},
		{raw: "k=%zz", wantErr: true},
	}
	for _, c := range cases {
		got, err := parseQuery(c.raw)
		if (err != nil) != c.wantErr {
			t.Errorf("parseQuery(%q) error = %v, want error %v", c.raw, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseQuery(%q) = %q, want %q", c.raw, got, c.want)
		}
		if cq := canonicalQuery(got, ""); cq != c.canonical {
			t.Errorf("canonicalQuery(%q) = %q, want %q", c.raw, cq, c.canonical)
		}
	}
}

func TestV2Hosts(t *testing.T) {
	cases := []struct {
		host string
		want []string
	}{
		{"127.0.0.1:8773", []string{"127.0.0.1:8773", "127.0.0.1"}},
		{"EC2.Example.com", []string{"ec2.example.com", "ec2.example.com:80", "ec2.example.com:443"}},
		{"[::1]:8773", []string{"[::1]:8773", "[::1]"}},
	}
	for _, c := range cases {
		if got := v2Hosts(c.host); !reflect.DeepEqual(got, c.want) {
			t.Errorf("v2Hosts(%q) = %q, want %q", c.host, got, c.want)
		}
	}
}
